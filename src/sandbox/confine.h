/* confine.h - the confinement of a job child, applied in one ordered
 * function, confine_apply(), right after the zygote forks it. */
#ifndef AEGIS_CONFINE_H
#define AEGIS_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto/job.h"

struct confine_config {
	const char *workdir; /* absolute path */
	bool workdir_writable;
	int fd_stdout, fd_stderr, fd_report; /* moved to 1, 2, 3 */
	bool hold;                           /* fd_hold is set: */
	int fd_hold;                         /* moved to JOB_FD_HOLD */
	char *cgroup_dirs[2];                /* join these (write our pid to cgroup.procs) */
	size_t ncgroups;
	/* rlimits */
	double cpu_time_s;
	long memory_mb; /* RLIMIT_DATA fallback when memory_rlimit */
	bool memory_rlimit;
	long max_file_bytes;
	long max_open_files;
	long max_pids; /* RLIMIT_NPROC fallback when pids_rlimit */
	bool pids_rlimit;
	/* namespaces */
	bool ns_net, ns_ipc, ns_mount, ns_pid, ns_user;
	/* credentials: the unprivileged uid and gid a job started by root runs
	 * as (ignored when the zygote is not root: it keeps its own) */
	uid_t job_uid;
	gid_t job_gid;
	/* Landlock */
	bool landlock;
	const char *const *ro_paths; /* NULL-terminated */
	/* seccomp */
	bool seccomp;
	bool allow_unix_sockets;
	bool allow_rwx_memory;
	/* environment: NULL-terminated KEY=VALUE list */
	char *const *env;
};

/* What was actually applied, for the result's "sandbox" field. */
struct confine_status {
	bool fds_moved;   /* report fd is JOB_FD_REPORT from here on */
	int landlock_abi; /* 0: not applied */
	bool seccomp;
	bool ns_user, ns_net, ns_ipc, ns_mount, ns_pid;
	bool cgroup;
	bool no_new_privs;
	long uid;       /* the uid the job runs as (on the host) */
	bool caps_none; /* no capability left in any set, bounding included */
};

/* Apply every step in order.  Returns 0, or -1 with a message in ERR; the
 * caller (a forked child) then reports and _exit()s. */
int confine_apply(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen);
/* Highest Landlock ABI this kernel offers (0: none). */
int confine_landlock_abi(void);
/* The seccomp filter's allowlist as text (for docs and tests). */
int confine_seccomp_export(bool allow_unix_sockets, bool allow_rwx_memory, int fd);
/* Name of syscall NR on the native architecture ("?" when unknown); the
 * string is the caller's. */
char *confine_syscall_name(int nr);

#endif
