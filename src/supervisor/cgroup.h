/* cgroup.h - per-job cgroups: memory and pids limits, peak usage, OOM
 * detection and whole-job kill, on cgroup v2 or v1.
 *
 * The supervisor creates one cgroup per job (v2: one directory under
 * <root>/aegis-sandbox/; v1: one directory in the memory and in the pids
 * hierarchy), the job child moves itself in before it runs anything, and
 * the supervisor removes it after the job is reaped.  Directories are named
 * "<supervisor pid>-<serial>" for people, but ownership is an flock() the
 * creating supervisor holds on each directory for the job's life: pids are
 * not unique across pid namespaces, locks are.  cgroup_reclaim_stale()
 * removes only directories nobody holds that are older than a few seconds. */
#ifndef AEGIS_CGROUP_H
#define AEGIS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

enum cgroup_mode { CGROUP_NONE, CGROUP_V1, CGROUP_V2 };

struct cgroup {
	enum cgroup_mode mode;
	char *dir;      /* v2: the job's directory; v1: memory hierarchy dir */
	char *pids_dir; /* v1 only */
	bool has_memory;
	bool has_pids;
	int lock_fds[2]; /* flock()ed directory fds, -1 when unused */
};

/* Detect what this host offers for MODE_NAME ("auto", "v1", "v2", "off").
 * Returns the usable mode (CGROUP_NONE when nothing is writable). */
enum cgroup_mode cgroup_detect(const char *mode_name);
/* Create a job cgroup with the given limits.  Returns 0 or a negative
 * errno; on failure CG is left with mode CGROUP_NONE. */
int cgroup_create(struct cgroup *cg, enum cgroup_mode mode, long serial, long memory_mb, long max_pids);
/* The files a job child writes its pid into (0, 1 or 2 of them); borrowed. */
size_t cgroup_procs_files(const struct cgroup *cg, char *out[2]);
/* SIGKILL every process in the cgroup (v2 cgroup.kill when present). */
void cgroup_kill(const struct cgroup *cg);
/* True when the kernel's OOM killer acted inside the cgroup. */
bool cgroup_oom_killed(const struct cgroup *cg);
/* Peak memory use in bytes, or -1 when unknown. */
long long cgroup_peak_bytes(const struct cgroup *cg);
/* Remove the cgroup directories (retrying while the last task exits) and
 * free CG's strings.  Accepts an empty CG. */
void cgroup_destroy(struct cgroup *cg);
/* Remove job cgroups left by supervisors that no longer run. */
void cgroup_reclaim_stale(void);
/* Root of the hierarchies (overridable for tests with AEGIS_CGROUP_ROOT). */
const char *cgroup_root(void);

#endif
