/* cgroup.c - see cgroup.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/cgroup.h"
#include "common/util.h"

#define CG_SUBDIR "aegis-sandbox"

const char *cgroup_root(void)
{
	const char *r = getenv("AEGIS_CGROUP_ROOT");

	return r && *r ? r : "/sys/fs/cgroup";
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char *path = xasprintf("%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	free(path);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static long long read_ll(const char *dir, const char *file)
{
	char *path = xasprintf("%s/%s", dir, file), *buf = NULL;
	long long v = -1;

	if (util_read_file(path, 1 << 16, &buf, NULL) == 0)
		v = strtoll(buf, NULL, 10);
	free(buf);
	free(path);
	return v;
}

/* Value of "KEY N" in a flat-keyed file (memory.events, memory.oom_control). */
static long long read_keyed(const char *dir, const char *file, const char *key)
{
	char *path = xasprintf("%s/%s", dir, file), *buf = NULL;
	long long v = -1;
	size_t klen = strlen(key);

	if (util_read_file(path, 1 << 16, &buf, NULL) == 0) {
		for (char *line = buf; line && *line;) {
			char *nl = strchr(line, '\n');

			if (!strncmp(line, key, klen) && line[klen] == ' ') {
				v = strtoll(line + klen + 1, NULL, 10);
				break;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	free(buf);
	free(path);
	return v;
}

/* Open DIR and take an exclusive flock on it: the mark of a live owner.
 * Returns the fd or -1. */
static int lock_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

#define STALE_AGE_S 5

static bool dir_writable(const char *path)
{
	return access(path, W_OK) == 0;
}

static bool is_v2(void)
{
	char *p = xasprintf("%s/cgroup.controllers", cgroup_root());
	bool v2 = access(p, F_OK) == 0;

	free(p);
	return v2;
}

/* Make sure <base>/aegis-sandbox exists; v2 also enables the controllers
 * for its children.  Returns 0 or -errno. */
static int ensure_parent(const char *base, bool v2)
{
	char *dir = xasprintf("%s/%s", base, CG_SUBDIR);
	int rc = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		rc = -errno;
	if (rc == 0 && v2) {
		/* our parent must delegate memory and pids to us first */
		write_str(base, "cgroup.subtree_control", "+memory +pids");
		rc = write_str(dir, "cgroup.subtree_control", "+memory +pids");
	}
	free(dir);
	return rc;
}

enum cgroup_mode cgroup_detect(const char *mode_name)
{
	char *mem, *pids;
	bool ok;

	if (!mode_name || !strcmp(mode_name, "off"))
		return CGROUP_NONE;
	if (is_v2()) {
		if (!strcmp(mode_name, "v1"))
			return CGROUP_NONE;
		return dir_writable(cgroup_root()) ? CGROUP_V2 : CGROUP_NONE;
	}
	if (!strcmp(mode_name, "v2"))
		return CGROUP_NONE;
	mem = xasprintf("%s/memory", cgroup_root());
	pids = xasprintf("%s/pids", cgroup_root());
	ok = dir_writable(mem) && dir_writable(pids);
	free(mem);
	free(pids);
	return ok ? CGROUP_V1 : CGROUP_NONE;
}

int cgroup_create(struct cgroup *cg, enum cgroup_mode mode, long serial, long memory_mb, long max_pids)
{
	char val[64];
	int rc;

	memset(cg, 0, sizeof(*cg));
	cg->lock_fds[0] = cg->lock_fds[1] = -1;
	if (mode == CGROUP_NONE)
		return 0;
	snprintf(val, sizeof(val), "%lld", (long long)memory_mb * 1024 * 1024);
	if (mode == CGROUP_V2) {
		if ((rc = ensure_parent(cgroup_root(), true)) < 0)
			return rc;
		cg->dir = xasprintf("%s/%s/%ld-%ld", cgroup_root(), CG_SUBDIR, (long)getpid(), serial);
		if (mkdir(cg->dir, 0755) < 0) {
			rc = -errno;
			goto out_free;
		}
		cg->mode = CGROUP_V2;
		cg->lock_fds[0] = lock_dir(cg->dir);
		cg->has_memory = write_str(cg->dir, "memory.max", val) == 0;
		write_str(cg->dir, "memory.swap.max", "0");
		snprintf(val, sizeof(val), "%ld", max_pids);
		cg->has_pids = write_str(cg->dir, "pids.max", val) == 0;
		return 0;
	}
	/* v1: one directory per controller */
	{
		char *mbase = xasprintf("%s/memory", cgroup_root());
		char *pbase = xasprintf("%s/pids", cgroup_root());

		rc = ensure_parent(mbase, false);
		if (rc == 0)
			rc = ensure_parent(pbase, false);
		if (rc == 0) {
			cg->dir = xasprintf("%s/%s/%ld-%ld", mbase, CG_SUBDIR, (long)getpid(), serial);
			cg->pids_dir = xasprintf("%s/%s/%ld-%ld", pbase, CG_SUBDIR, (long)getpid(), serial);
		}
		free(mbase);
		free(pbase);
		if (rc < 0)
			return rc;
	}
	if (mkdir(cg->dir, 0755) < 0) {
		rc = -errno;
		goto out_free;
	}
	if (mkdir(cg->pids_dir, 0755) < 0) {
		rc = -errno;
		rmdir(cg->dir);
		goto out_free;
	}
	cg->mode = CGROUP_V1;
	cg->lock_fds[0] = lock_dir(cg->dir);
	cg->lock_fds[1] = lock_dir(cg->pids_dir);
	cg->has_memory = write_str(cg->dir, "memory.limit_in_bytes", val) == 0;
	/* no swap either, where the kernel accounts it */
	write_str(cg->dir, "memory.memsw.limit_in_bytes", val);
	/* let the OOM killer act (the default; stated for clarity) */
	write_str(cg->dir, "memory.oom_control", "0");
	snprintf(val, sizeof(val), "%ld", max_pids);
	cg->has_pids = write_str(cg->pids_dir, "pids.max", val) == 0;
	return 0;
out_free:
	free(cg->dir);
	free(cg->pids_dir);
	memset(cg, 0, sizeof(*cg));
	cg->lock_fds[0] = cg->lock_fds[1] = -1;
	return rc;
}

size_t cgroup_procs_files(const struct cgroup *cg, char *out[2])
{
	size_t n = 0;

	if (cg->mode == CGROUP_NONE)
		return 0;
	out[n++] = cg->dir;
	if (cg->mode == CGROUP_V1)
		out[n++] = cg->pids_dir;
	return n;
}

static void kill_procs_in(const char *dir)
{
	char *path = xasprintf("%s/cgroup.procs", dir), *buf = NULL;

	if (util_read_file(path, 1 << 20, &buf, NULL) == 0) {
		for (char *p = buf; *p;) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			p = end;
			while (*p == '\n')
				p++;
		}
	}
	free(buf);
	free(path);
}

void cgroup_kill(const struct cgroup *cg)
{
	if (cg->mode == CGROUP_V2) {
		if (write_str(cg->dir, "cgroup.kill", "1") < 0)
			kill_procs_in(cg->dir);
	} else if (cg->mode == CGROUP_V1) {
		kill_procs_in(cg->dir);
		kill_procs_in(cg->pids_dir);
	}
}

bool cgroup_oom_killed(const struct cgroup *cg)
{
	if (cg->mode == CGROUP_V2)
		return read_keyed(cg->dir, "memory.events", "oom_kill") > 0 ||
		       read_keyed(cg->dir, "memory.events", "oom") > 0;
	if (cg->mode == CGROUP_V1)
		return read_keyed(cg->dir, "memory.oom_control", "oom_kill") > 0;
	return false;
}

long long cgroup_peak_bytes(const struct cgroup *cg)
{
	if (cg->mode == CGROUP_V2)
		return read_ll(cg->dir, "memory.peak");
	if (cg->mode == CGROUP_V1)
		return read_ll(cg->dir, "memory.max_usage_in_bytes");
	return -1;
}

/* rmdir can fail with EBUSY for a moment after the last task was reaped. */
static void rmdir_retry(const char *dir)
{
	for (int i = 0; i < 200; i++) {
		struct timespec ts = {0, 5 * 1000 * 1000};

		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		kill_procs_in(dir);
		nanosleep(&ts, NULL);
	}
	warnx_("cannot remove cgroup %s: %s", dir, strerror(errno));
}

void cgroup_destroy(struct cgroup *cg)
{
	if (cg->mode != CGROUP_NONE) {
		if (cg->dir)
			rmdir_retry(cg->dir);
		if (cg->pids_dir)
			rmdir_retry(cg->pids_dir);
	}
	for (int i = 0; i < 2; i++)
		if (cg->lock_fds[i] >= 0)
			close(cg->lock_fds[i]);
	free(cg->dir);
	free(cg->pids_dir);
	memset(cg, 0, sizeof(*cg));
	cg->lock_fds[0] = cg->lock_fds[1] = -1;
}

static void reclaim_in(const char *base)
{
	char *dir = xasprintf("%s/%s", base, CG_SUBDIR);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		free(dir);
		return;
	}
	while ((de = readdir(d))) {
		char *sub;
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		/* a supervisor holds its job cgroups locked; a fresh one may not
		 * have taken the lock yet */
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && time(NULL) - st.st_mtime > STALE_AGE_S &&
		    (fd = lock_dir(sub)) >= 0) {
			kill_procs_in(sub);
			rmdir_retry(sub);
			close(fd);
		}
		free(sub);
	}
	closedir(d);
	free(dir);
}

void cgroup_reclaim_stale(void)
{
	if (is_v2()) {
		if (dir_writable(cgroup_root()))
			reclaim_in(cgroup_root());
		return;
	}
	{
		char *m = xasprintf("%s/memory", cgroup_root()), *p = xasprintf("%s/pids", cgroup_root());

		if (dir_writable(m))
			reclaim_in(m);
		if (dir_writable(p))
			reclaim_in(p);
		free(m);
		free(p);
	}
}
