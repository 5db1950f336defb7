/* confine.c - confinement of one job child.
 *
 * confine_apply() is the only entry point and lists every step in the order
 * it runs.  Each step is a small function returning 0 or -1 with a message.
 * The order matters:
 *
 *   1. session        setsid() and a parent-death SIGKILL, so the job is a
 *                     process group of its own and dies with the zygote
 *   2. fds            exactly stdin (/dev/null), stdout, stderr, report
 *   3. environment    the policy's KEY=VALUE list and nothing else
 *   4. workdir        chdir into the job's private directory
 *   5. rlimits        CPU, file size, open files, no core dumps, and the
 *                     memory / process fallbacks when no cgroup is usable
 *   6. cgroups        join the job's memory and pids cgroups (needs write
 *                     access to cgroupfs, so before Landlock)
 *   7. namespaces     user (only when unprivileged), net, ipc, mount (with
 *                     an empty /tmp and /dev/shm, and as root the read-only
 *                     roots exposed where a 0700 home hid them), pid
 *   8. credentials    the privilege step: as root, a uid and gid that own
 *                     nothing on the host (sandbox.uid/gid), no
 *                     supplementary groups, locked securebits; as anyone,
 *                     every capability set empty, the bounding set too
 *                     (a user namespace's creator holds all of them in it)
 *   9. no_new_privs   required for seccomp and Landlock as non-root, and
 *                     makes set-uid binaries useless anyway
 *  10. landlock       read-only Python/torch/pyhelpers, read-write workdir,
 *                     no TCP, scoped signals and abstract sockets
 *  11. seccomp        last: every step above needs syscalls the filter
 *                     forbids (unshare, mount, landlock_*, prctl, open on
 *                     cgroupfs, setresuid), and nothing after it may widen
 *                     it.
 *
 * Steps 6 and 7 need the privileges step 8 gives up: joining a cgroup
 * writes to cgroupfs, mounting the private /tmp needs CAP_SYS_ADMIN.
 *
 * The child is single-threaded here (the zygote never starts threads), so
 * unshare(CLONE_NEWUSER) and the filters apply to the whole process. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox/confine.h"
#include "common/util.h"

#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

/* ---- Landlock UAPI, defined here so older headers still build ---------- */
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)     /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)
#define LL_RULE_PATH_BENEATH 1

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n && err[n - 1] == ':')
		snprintf(err + n, errlen - n, " %s", strerror(saved));
	return -1;
}

/* 1 */
static int confine_session(char *err, size_t errlen)
{
	pid_t parent = getppid();

	if (setsid() < 0)
		return fail(err, errlen, "setsid:");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return fail(err, errlen, "PR_SET_PDEATHSIG:");
	if (getppid() != parent) /* the zygote died before we armed the signal */
		return fail(err, errlen, "the zygote exited during setup");
	return 0;
}

static int move_fd(int from, int to)
{
	if (from == to)
		return fcntl(to, F_SETFD, 0);
	return dup2(from, to) < 0 ? -1 : 0;
}

/* 2 */
static int confine_fds(const struct confine_config *c, char *err, size_t errlen)
{
	int fds[4] = {c->fd_stdout, c->fd_stderr, c->fd_report, c->hold ? c->fd_hold : -1};
	int devnull, last = c->hold ? JOB_FD_HOLD : JOB_FD_REPORT;

	/* first lift them out of the way of 0..4 */
	for (int i = 0; i < 4; i++) {
		if (fds[i] >= 0 && fds[i] <= JOB_FD_HOLD) {
			int n = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);

			if (n < 0)
				return fail(err, errlen, "dup:");
			fds[i] = n;
		}
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return fail(err, errlen, "open /dev/null:");
	if (move_fd(devnull, JOB_FD_STDIN) < 0 || move_fd(fds[0], JOB_FD_STDOUT) < 0 ||
	    move_fd(fds[1], JOB_FD_STDERR) < 0 || move_fd(fds[2], JOB_FD_REPORT) < 0 ||
	    (c->hold && move_fd(fds[3], JOB_FD_HOLD) < 0))
		return fail(err, errlen, "dup2:");
		/* these must stay close-on-exec free but nothing else survives */
#ifdef HAVE_CLOSE_RANGE
	if (close_range((unsigned)last + 1, ~0U, 0) < 0)
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);

		for (long fd = last + 1; fd < (max > 0 ? max : 65536); fd++)
			close((int)fd);
	}
	return 0;
}

/* 3 */
static int confine_environment(const struct confine_config *c, char *err, size_t errlen)
{
	if (clearenv() != 0)
		return fail(err, errlen, "clearenv failed");
	for (char *const *e = c->env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char *key;

		if (!eq)
			continue;
		key = xstrndup(*e, (size_t)(eq - *e));
		if (setenv(key, eq + 1, 1) < 0) {
			free(key);
			return fail(err, errlen, "setenv:");
		}
		free(key);
	}
	return 0;
}

/* 4 */
static int confine_workdir(const struct confine_config *c, char *err, size_t errlen)
{
	if (chdir(c->workdir) < 0)
		return fail(err, errlen, "chdir %s:", c->workdir);
	umask(077);
	return 0;
}

static int set_rlimit(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {soft, hard};

	return setrlimit(res, &rl);
}

/* VmData of this process in bytes (0 when unknown).  Reads /proc before
 * Landlock closes it. */
static unsigned long long vm_data_bytes(void)
{
	char *buf = NULL, *p;
	unsigned long long kb = 0;

	if (util_read_file("/proc/self/status", 1 << 16, &buf, NULL) == 0 && (p = strstr(buf, "\nVmData:")))
		kb = strtoull(p + 8, NULL, 10);
	free(buf);
	return kb * 1024;
}

/* 5 */
static int confine_rlimits(const struct confine_config *c, char *err, size_t errlen)
{
	rlim_t cpu = (rlim_t)(c->cpu_time_s + 0.999);

	/* soft: SIGXCPU; hard one second later: SIGKILL, whatever it ignores */
	if (set_rlimit(RLIMIT_CPU, cpu, cpu + 1) < 0)
		return fail(err, errlen, "RLIMIT_CPU:");
	if (set_rlimit(RLIMIT_FSIZE, (rlim_t)c->max_file_bytes, (rlim_t)c->max_file_bytes) < 0)
		return fail(err, errlen, "RLIMIT_FSIZE:");
	if (set_rlimit(RLIMIT_NOFILE, (rlim_t)c->max_open_files, (rlim_t)c->max_open_files) < 0)
		return fail(err, errlen, "RLIMIT_NOFILE:");
	if (set_rlimit(RLIMIT_CORE, 0, 0) < 0)
		return fail(err, errlen, "RLIMIT_CORE:");
	if (set_rlimit(RLIMIT_MEMLOCK, 0, 0) < 0)
		return fail(err, errlen, "RLIMIT_MEMLOCK:");
	/* no real-time scheduling, no raising its priority (with the privilege
	 * step these are the kernel's answer anyway; they also hold for a
	 * job whose zygote runs with CAP_SYS_NICE) */
	if (set_rlimit(RLIMIT_RTPRIO, 0, 0) < 0)
		return fail(err, errlen, "RLIMIT_RTPRIO:");
	if (set_rlimit(RLIMIT_RTTIME, 0, 0) < 0)
		return fail(err, errlen, "RLIMIT_RTTIME:");
	if (set_rlimit(RLIMIT_NICE, 0, 0) < 0)
		return fail(err, errlen, "RLIMIT_NICE:");
	/* RLIMIT_AS would also count torch's thread stacks and reserved-but-
	 * untouched mappings and break at realistic values; RLIMIT_DATA counts
	 * private writable memory, which is what a memory bomb grows. */
	if (c->memory_rlimit) {
		/* the zygote's data segment is inherited and already counts, so the
		 * job's budget is on top of it */
		rlim_t bytes = (rlim_t)c->memory_mb * 1024 * 1024 + (rlim_t)vm_data_bytes();

		if (set_rlimit(RLIMIT_DATA, bytes, bytes) < 0)
			return fail(err, errlen, "RLIMIT_DATA:");
	}
	if (c->pids_rlimit && getuid() != 0) {
		/* per user, so only a backstop; seccomp forbids fork anyway */
		if (set_rlimit(RLIMIT_NPROC, (rlim_t)c->max_pids + 64, (rlim_t)c->max_pids + 64) < 0)
			return fail(err, errlen, "RLIMIT_NPROC:");
	}
	return 0;
}

/* 6 */
static int confine_cgroups(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (size_t i = 0; i < c->ncgroups; i++) {
		char *path = xasprintf("%s/cgroup.procs", c->cgroup_dirs[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, pid, strlen(pid)) < 0) {
			int rc = fail(err, errlen, "joining cgroup %s:", path);

			if (fd >= 0)
				close(fd);
			free(path);
			return rc;
		}
		close(fd);
		free(path);
	}
	st->cgroup = c->ncgroups > 0;
	return 0;
}

static int write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -1;
	if (write(fd, text, strlen(text)) < 0)
		rc = -1;
	close(fd);
	return rc;
}

/* 7 */
/* The highest directory on PATH's way from / that UID (group GID, no
 * supplementary groups) cannot search, as a new string, or NULL when it
 * can reach PATH.  A Python under a home of mode 0700 (pyenv, conda) is
 * out of the job's reach that way. */
static char *closed_ancestor(const char *path, uid_t uid, gid_t gid)
{
	char *p = xstrdup(path);

	for (char *slash = p + 1;; slash++) {
		struct stat sb;
		char c = *slash;

		if (c != '/' && c != '\0')
			continue;
		*slash = '\0';
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    !(sb.st_mode & (sb.st_uid == uid ? S_IXUSR : sb.st_gid == gid ? S_IXGRP : S_IXOTH)))
			return p; /* cut at the closed directory */
		if (c == '\0')
			break;
		*slash = c;
	}
	free(p);
	return NULL;
}

/* Directory P with mode 0755 (whatever the umask) when it is missing; one
 * that exists is left as it is (it may be the host's).  0 or -1. */
static int make_dir(const char *p)
{
	if (mkdir(p, 0755) == 0)
		return chmod(p, 0755);
	return errno == EEXIST ? 0 : -1;
}

/* PATH's directories, made where missing (in the tmpfs expose_ro_roots
 * laid over a closed directory), then PATH itself: a directory, or an
 * empty file when FILE, as a mount point.  0 or -1. */
static int make_path(const char *path, bool file)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *slash = p + 1; *slash && rc == 0; slash++) {
		if (*slash != '/')
			continue;
		*slash = '\0';
		rc = make_dir(p);
		*slash = '/';
	}
	if (rc == 0 && !file)
		rc = make_dir(p);
	if (rc == 0 && file) {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		rc = fd < 0 ? -1 : close(fd);
	}
	free(p);
	return rc;
}

/* Make the read-only roots (the Python, torch and helper trees Landlock
 * will allow) reachable by the job's uid when one of their ancestors is
 * not (a Python under a 0700 home), without opening anything else there:
 * in this job's own mount namespace, each such root is cloned as a
 * detached mount (open_tree), the closed ancestor is covered by an empty
 * tmpfs of mode 0755, the root's path is made in it and the clone moved
 * back into place.  Everything else under the ancestor is gone from this
 * namespace.  Runs before the privilege step (it needs CAP_SYS_ADMIN). */
static int expose_ro_roots(const struct confine_config *c, char *err, size_t errlen)
{
	struct {
		const char *path;
		char *top;
		int tree;
		bool file;
	} ex[16];
	size_t n = 0;
	int rc = 0;

	for (const char *const *r = c->ro_paths; r && *r && n < sizeof(ex) / sizeof(ex[0]); r++) {
		struct stat sb;
		char *top;

		if (stat(*r, &sb) < 0)
			continue; /* not in this namespace (under the private /tmp): as before */
		top = closed_ancestor(*r, c->job_uid, c->job_gid);
		if (!top)
			continue;
		ex[n] = (typeof(ex[0])){.path = *r, .top = top, .file = !S_ISDIR(sb.st_mode)};
		ex[n].tree = (int)syscall(SYS_open_tree, AT_FDCWD, *r, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (ex[n++].tree < 0) {
			rc = fail(err, errlen, "open_tree(%s):", *r);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool covered = false;

		for (size_t j = 0; j < i; j++)
			covered = covered || !strcmp(ex[j].top, ex[i].top);
		if (!covered && mount("aegis-ro", ex[i].top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755") < 0) {
			rc = fail(err, errlen, "covering %s:", ex[i].top);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (make_path(ex[i].path, ex[i].file) < 0 ||
		    syscall(SYS_move_mount, ex[i].tree, "", AT_FDCWD, ex[i].path, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
			rc = fail(err, errlen, "placing %s:", ex[i].path);
			goto out;
		}
	}
out:
	for (size_t i = 0; i < n; i++) {
		if (ex[i].tree >= 0)
			close(ex[i].tree);
		free(ex[i].top);
	}
	return rc;
}

static int confine_namespaces(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	int flags = 0;
	uid_t uid = geteuid();
	gid_t gid = getegid();

	if (uid != 0 && c->ns_user) {
		char map[64];

		if (unshare(CLONE_NEWUSER) < 0)
			return fail(err, errlen, "unshare(CLONE_NEWUSER):");
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		if (write_proc("/proc/self/uid_map", map) < 0)
			return fail(err, errlen, "writing uid_map:");
		write_proc("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		if (write_proc("/proc/self/gid_map", map) < 0)
			return fail(err, errlen, "writing gid_map:");
		st->ns_user = true;
	}
	if (uid != 0 && !st->ns_user)
		return 0; /* unprivileged without a user namespace: nothing more */
	if (c->ns_net)
		flags |= CLONE_NEWNET;
	if (c->ns_ipc)
		flags |= CLONE_NEWIPC;
	if (c->ns_mount)
		flags |= CLONE_NEWNS;
	if (c->ns_pid)
		flags |= CLONE_NEWPID;
	if (flags && unshare(flags) < 0)
		return fail(err, errlen, "unshare(0x%x):", (unsigned)flags);
	st->ns_net = c->ns_net;
	st->ns_ipc = c->ns_ipc;
	st->ns_pid = c->ns_pid;
	if (c->ns_mount) {
		/* nothing we mount may propagate back to the host */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return fail(err, errlen, "making / private:");
		/* an empty /dev/shm and /tmp; our cwd (the workdir) stays reachable
		 * even when it lives under the /tmp we cover */
		if (mount("aegis-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=700") < 0 &&
		    errno != ENOENT)
			return fail(err, errlen, "mounting /dev/shm:");
		if (mount("aegis-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=700") < 0)
			return fail(err, errlen, "mounting /tmp:");
		if (uid == 0 && expose_ro_roots(c, err, errlen) < 0)
			return -1;
		st->ns_mount = true;
	}
	return 0;
}

static int caps_clear(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Whether no capability is left: effective, permitted, inheritable (and so
 * ambient), and with BOUNDING the bounding set as well. */
static bool caps_all_clear(bool bounding)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return false;
	for (int cap = 0; bounding && cap <= 63; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (r < 0)
			break; /* past the kernel's last capability */
		if (r > 0)
			return false;
	}
	return true;
}

/* 8 */
static int confine_credentials(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	bool root = geteuid() == 0;

	/* the bounding set first: dropping from it needs CAP_SETPCAP, which a
	 * root process (or a user namespace's creator) still has here */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && (root || st->ns_user))
			return fail(err, errlen, "dropping capability %d from the bounding set:", cap);
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (root) {
		if (c->job_uid == 0 || c->job_gid == 0)
			return fail(err, errlen, "sandbox.uid and sandbox.gid must not be 0");
		/* uid 0 is nothing special from here on, and nobody may change that */
		if (prctl(PR_SET_SECUREBITS,
			  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			      SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			      SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
			  0, 0, 0) < 0)
			return fail(err, errlen, "PR_SET_SECUREBITS:");
		if (setgroups(0, NULL) < 0)
			return fail(err, errlen, "setgroups:");
		if (setresgid(c->job_gid, c->job_gid, c->job_gid) < 0)
			return fail(err, errlen, "setresgid(%ld):", (long)c->job_gid);
		/* from uid 0 to another, the kernel clears the permitted and
		 * effective sets (SECBIT_KEEP_CAPS is off and locked) */
		if (setresuid(c->job_uid, c->job_uid, c->job_uid) < 0)
			return fail(err, errlen, "setresuid(%ld):", (long)c->job_uid);
		if (setuid(0) == 0)
			return fail(err, errlen, "uid 0 could be regained");
	}
	if (caps_clear() < 0)
		return fail(err, errlen, "capset:");
	if (!caps_all_clear(false))
		return fail(err, errlen, "a capability survived the privilege step");
	st->uid = (long)getuid();
	/* an unprivileged zygote without a user namespace cannot empty its
	 * bounding set; it matters only across execve, which seccomp denies */
	st->caps_none = caps_all_clear(true);
	return 0;
}

/* 9 */
static int confine_no_new_privs(struct confine_status *st, char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS:");
	st->no_new_privs = true;
	return 0;
}

int confine_landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

/* Rights that make sense on a file (not a directory) */
#define LL_FS_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

static int ll_add_path(int ruleset, int fd, uint64_t access, uint64_t handled)
{
	struct ll_path_beneath_attr pb = {access & handled, fd};
	struct stat st;

	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FS_FILE_RIGHTS;

	return (int)syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0);
}

/* 10 */
static int confine_landlock(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	int abi = confine_landlock_abi(), ruleset, wd;
	struct ll_ruleset_attr attr = {0};
	size_t attr_size;
	uint64_t ro = LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_EXECUTE;
	uint64_t rw = LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_WRITE_FILE | LL_FS_REMOVE_FILE | LL_FS_REMOVE_DIR |
		      LL_FS_MAKE_REG | LL_FS_MAKE_DIR | LL_FS_TRUNCATE;

	if (abi <= 0)
		return 0;                                   /* reported as not applied */
	attr.handled_access_fs = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1 rights */
	if (abi >= 2)
		attr.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	attr_size = sizeof(uint64_t);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP; /* no rule: none allowed */
		attr_size = 2 * sizeof(uint64_t);
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0)
		return fail(err, errlen, "landlock_create_ruleset:");
	for (const char *const *p = c->ro_paths; p && *p; p++) {
		int fd = open(*p, O_PATH | O_CLOEXEC);

		if (fd < 0)
			continue; /* a path this host does not have grants nothing */
		if (ll_add_path(ruleset, fd, ro, attr.handled_access_fs) < 0) {
			int rc = fail(err, errlen, "landlock_add_rule %s:", *p);

			close(fd);
			close(ruleset);
			return rc;
		}
		close(fd);
	}
	/* /dev/null stays usable for writing (Python opens it in some paths) */
	{
		int fd = open("/dev/null", O_PATH | O_CLOEXEC);

		if (fd >= 0) {
			ll_add_path(ruleset, fd, LL_FS_READ_FILE | LL_FS_WRITE_FILE, attr.handled_access_fs);
			close(fd);
		}
	}
	wd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wd < 0 || ll_add_path(ruleset, wd, c->workdir_writable ? rw : (LL_FS_READ_FILE | LL_FS_READ_DIR),
				  attr.handled_access_fs) < 0) {
		int rc = fail(err, errlen, "landlock rule for the work directory:");

		if (wd >= 0)
			close(wd);
		close(ruleset);
		return rc;
	}
	close(wd);
	if (syscall(__NR_landlock_restrict_self, ruleset, 0) < 0) {
		int rc = fail(err, errlen, "landlock_restrict_self:");

		close(ruleset);
		return rc;
	}
	close(ruleset);
	st->landlock_abi = abi;
	return 0;
}

/* ---- seccomp --------------------------------------------------------------
 *
 * Default action: SIGSYS (SCMP_ACT_TRAP).  Our handler writes the syscall
 * number to the report fd and ends the process, so a denied syscall shows up
 * by name in the verdict.  The candidate cannot replace the handler:
 * rt_sigaction(SIGSYS, ...) is itself denied.  A few syscalls that the
 * runtime merely probes get a quiet errno instead. */

/* clang-format off */
static const char *const seccomp_allow[] = {
	/* I/O on fds it already has or opens (Landlock decides which paths) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
	"pwritev2", "lseek", "openat", "open", "creat", "dup",
	"pipe", "pipe2", "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "eventfd2", "fsync", "fdatasync", "ftruncate", "truncate",
	"fallocate", "sendfile", "copy_file_range", "splice",
	/* metadata */
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"umask", "fadvise64",
	/* memory (mmap, mprotect and madvise are conditional, below) */
	"brk", "munmap", "mremap", "mincore", "msync", "munlock", "get_mempolicy", "membarrier",
	/* threads, futexes, scheduling (setting it: on itself only, below) */
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
	"sched_get_priority_max", "sched_get_priority_min", "nanosleep", "clock_nanosleep",
	"getpriority",
	/* identity and time */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
	"getresuid", "getresgid", "getpgrp", "getpgid", "getsid", "uname", "sysinfo", "getrusage",
	"times", "clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom", "getrlimit",
	"arch_prctl",
	/* signals (kill/tgkill/rt_sigaction are conditional, below) */
	"rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigpending", "rt_sigtimedwait",
	"rt_sigsuspend", "pause", "alarm", "setitimer", "getitimer", "restart_syscall",
	/* ending */
	"exit", "exit_group",
	NULL,
};

/* Refused with an errno, not reported: the runtime probes these. */
static const struct {
	const char *name;
	int err;
} seccomp_quiet[] = {
	{ "clone3", ENOSYS },  /* glibc then falls back to clone(), filtered below */
	{ "ioctl", ENOTTY },   /* except the few terminal queries allowed below */
	{ "prctl", EPERM },    /* except the harmless options allowed below */
	{ "sched_setattr", EPERM },
	{ "sched_getattr", EPERM },
	{ "memfd_create", EPERM },
	{ "mbind", EPERM },
	{ "set_mempolicy", EPERM },
	/* Landlock does not mediate modes and times: a file the job's uid owns
	 * outside the work directory (an unprivileged user's own venv) must
	 * keep its mode, owner and timestamps */
	{ "chmod", EPERM },
	{ "fchmod", EPERM },
	{ "fchmodat", EPERM },
	{ "fchmodat2", EPERM },
	{ "utime", EPERM },
	{ "utimes", EPERM },
	{ "utimensat", EPERM },
	{ "futimesat", EPERM },
	/* locked memory is nobody's to take (RLIMIT_MEMLOCK is 0 as well) */
	{ "mlock", EPERM },
	{ "mlock2", EPERM },
	{ "mlockall", EPERM },
	{ "madvise", EINVAL }, /* except the advice allowed below */
	{ NULL, 0 },
};

/* madvise advice a job may give about its own memory */
static const int madvise_ok[] = {
	MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, 8 /* FREE */,
	MADV_DONTFORK, MADV_DOFORK, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
	18 /* WIPEONFORK */, 19 /* KEEPONFORK */, 20 /* COLD */, 21 /* PAGEOUT */,
	22 /* POPULATE_READ */, 23 /* POPULATE_WRITE */,
};

/* clang-format on */

static void sigsys_handler(int sig, siginfo_t *si, void *uctx)
{
	char buf[96];
	int n;

	(void)sig;
	(void)uctx;
	n = snprintf(buf, sizeof(buf), "{\"seccomp\":{\"nr\":%d,\"arch\":%u}}\n", si->si_syscall, si->si_arch);
	if (n > 0)
		(void)!write(JOB_FD_REPORT, buf, (size_t)n);
	syscall(SYS_exit_group, CONFINE_EXIT_SECCOMP);
}

static int build_filter(scmp_filter_ctx *out, bool allow_unix, bool allow_rwx)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int rc = 0;
	pid_t self = getpid();

	if (!ctx)
		return -ENOMEM;
	/* a foreign architecture (i386 via int 0x80, x32) is killed outright */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) < 0)
		goto out;
	for (const char *const *n = seccomp_allow; *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0)
			goto out;
	}
	for (size_t i = 0; seccomp_quiet[i].name; i++) {
		int nr = seccomp_syscall_resolve_name(seccomp_quiet[i].name);

		if (nr == __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(seccomp_quiet[i].err), nr, 0)) < 0)
			goto out;
	}
#define ADD(action, name, ...)                                                                                         \
	do {                                                                                                           \
		if ((rc = seccomp_rule_add(ctx, action, SCMP_SYS(name), __VA_ARGS__)) < 0)                             \
			goto out;                                                                                      \
	} while (0)
	/* threads only: clone must carry CLONE_THREAD (fork, vfork: denied) */
	ADD(SCMP_ACT_ALLOW, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* signals to itself only (raise, abort, thread wakeups) */
	ADD(SCMP_ACT_ALLOW, kill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	ADD(SCMP_ACT_ALLOW, tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	ADD(SCMP_ACT_ALLOW, tkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	/* any handler but SIGSYS's */
	ADD(SCMP_ACT_ALLOW, rt_sigaction, 1, SCMP_A0(SCMP_CMP_NE, SIGSYS));
	/* Scheduling and priority of itself only (pid/who 0): never of the
	 * zygote, whose nice value every later job child would inherit, or of
	 * another job.  No real-time policy (SCHED_FIFO, SCHED_RR, DEADLINE):
	 * other, batch and idle, with or without SCHED_RESET_ON_FORK. */
	ADD(SCMP_ACT_ALLOW, setpriority, 2, SCMP_A0(SCMP_CMP_EQ, PRIO_PROCESS), SCMP_A1(SCMP_CMP_EQ, 0));
	ADD(SCMP_ACT_ALLOW, sched_setaffinity, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ADD(SCMP_ACT_ALLOW, sched_setparam, 1, SCMP_A0(SCMP_CMP_EQ, 0));
	ADD(SCMP_ACT_ALLOW, sched_setscheduler, 2, SCMP_A0(SCMP_CMP_EQ, 0),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)SCHED_RESET_ON_FORK & 0xffffffff, SCHED_OTHER));
	ADD(SCMP_ACT_ALLOW, sched_setscheduler, 2, SCMP_A0(SCMP_CMP_EQ, 0),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)SCHED_RESET_ON_FORK & 0xffffffff, SCHED_BATCH));
	ADD(SCMP_ACT_ALLOW, sched_setscheduler, 2, SCMP_A0(SCMP_CMP_EQ, 0),
	    SCMP_A1(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)SCHED_RESET_ON_FORK & 0xffffffff, SCHED_IDLE));
	/* madvise: advice about its own memory; not KSM merging (a side
	 * channel), not MADV_REMOVE, not the hardware-poisoning kind */
	for (size_t i = 0; i < sizeof(madvise_ok) / sizeof(madvise_ok[0]); i++)
		ADD(SCMP_ACT_ALLOW, madvise, 1, SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)madvise_ok[i]));
	/* reading limits, never raising them */
	ADD(SCMP_ACT_ALLOW, prlimit64, 1, SCMP_A2(SCMP_CMP_EQ, 0));
	/* no writable+executable memory, unless the policy allows JIT code */
	if (allow_rwx) {
		ADD(SCMP_ACT_ALLOW, mmap, 0);
		ADD(SCMP_ACT_ALLOW, mprotect, 0);
	} else {
		ADD(SCMP_ACT_ALLOW, mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, 0));
		ADD(SCMP_ACT_ALLOW, mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE));
		ADD(SCMP_ACT_ALLOW, mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC));
		ADD(SCMP_ACT_ALLOW, mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, 0));
		ADD(SCMP_ACT_ALLOW, mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE));
		ADD(SCMP_ACT_ALLOW, mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC));
	}
	/* The report channel (fd 3) is the job's word to the supervisor.  The
	 * candidate may write claims on it (they can only cost it), but not
	 * close it, replace it (dup2/dup3 onto it), make it non-blocking so
	 * that the audit hook's writes fail, or resize it: each of those is a
	 * denied call, named in the verdict.  Every other fd is the job's. */
	ADD(SCMP_ACT_ALLOW, close, 1, SCMP_A0(SCMP_CMP_NE, JOB_FD_REPORT));
	ADD(SCMP_ACT_ALLOW, dup2, 1, SCMP_A1(SCMP_CMP_NE, JOB_FD_REPORT));
	ADD(SCMP_ACT_ALLOW, dup3, 1, SCMP_A1(SCMP_CMP_NE, JOB_FD_REPORT));
	ADD(SCMP_ACT_ALLOW, fcntl, 1, SCMP_A0(SCMP_CMP_NE, JOB_FD_REPORT));
	ADD(SCMP_ACT_ALLOW, fcntl, 2, SCMP_A0(SCMP_CMP_EQ, JOB_FD_REPORT), SCMP_A1(SCMP_CMP_EQ, F_GETFD));
	ADD(SCMP_ACT_ALLOW, fcntl, 2, SCMP_A0(SCMP_CMP_EQ, JOB_FD_REPORT), SCMP_A1(SCMP_CMP_EQ, F_GETFL));
	/* close_range(first, last, flags) only where it cannot reach fd 3 */
	ADD(SCMP_ACT_ALLOW, close_range, 1, SCMP_A0(SCMP_CMP_GT, JOB_FD_REPORT));
	ADD(SCMP_ACT_ALLOW, close_range, 1, SCMP_A1(SCMP_CMP_LT, JOB_FD_REPORT));
	/* terminal queries (isatty) */
	ADD(SCMP_ACT_ALLOW, ioctl, 1, SCMP_A1(SCMP_CMP_EQ, 0x5401 /* TCGETS */));
	ADD(SCMP_ACT_ALLOW, ioctl, 1, SCMP_A1(SCMP_CMP_EQ, 0x541B /* FIONREAD */));
	ADD(SCMP_ACT_ALLOW, ioctl, 2, SCMP_A0(SCMP_CMP_NE, JOB_FD_REPORT), SCMP_A1(SCMP_CMP_EQ, 0x5421 /* FIONBIO */));
	ADD(SCMP_ACT_ALLOW, ioctl, 1, SCMP_A1(SCMP_CMP_EQ, 0x5451 /* FIOCLEX */));
	/* thread names and dumpable queries only */
	ADD(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	ADD(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
	ADD(SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_DUMPABLE));
	if (allow_unix)
		ADD(SCMP_ACT_ALLOW, socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
#undef ADD
	*out = ctx;
	return 0;
out:
	seccomp_release(ctx);
	return rc;
}

/* 11 */
static int confine_seccomp(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = NULL;
	struct sigaction sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return fail(err, errlen, "sigaction(SIGSYS):");
	{
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGSYS);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
	}
	rc = build_filter(&ctx, c->allow_unix_sockets, c->allow_rwx_memory);
	if (rc < 0) {
		errno = -rc;
		return fail(err, errlen, "building the seccomp filter:");
	}
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		return fail(err, errlen, "loading the seccomp filter:");
	}
	st->seccomp = true;
	return 0;
}

int confine_apply(const struct confine_config *c, struct confine_status *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	if (confine_session(err, errlen) < 0)
		return -1;
	if (confine_fds(c, err, errlen) < 0)
		return -1;
	st->fds_moved = true;
	if (confine_environment(c, err, errlen) < 0)
		return -1;
	if (confine_workdir(c, err, errlen) < 0)
		return -1;
	if (confine_rlimits(c, err, errlen) < 0)
		return -1;
	if (confine_cgroups(c, st, err, errlen) < 0)
		return -1;
	if (confine_namespaces(c, st, err, errlen) < 0)
		return -1;
	if (confine_credentials(c, st, err, errlen) < 0)
		return -1;
	if (confine_no_new_privs(st, err, errlen) < 0)
		return -1;
	if (c->landlock && confine_landlock(c, st, err, errlen) < 0)
		return -1;
	if (c->seccomp && confine_seccomp(c, st, err, errlen) < 0)
		return -1;
	return 0;
}

int confine_seccomp_export(bool allow_unix_sockets, bool allow_rwx_memory, int fd)
{
	scmp_filter_ctx ctx = NULL;
	int rc = build_filter(&ctx, allow_unix_sockets, allow_rwx_memory);

	if (rc < 0)
		return rc;
	rc = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	return rc;
}

char *confine_syscall_name(int nr)
{
	char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (!name)
		return xasprintf("syscall#%d", nr);
	return name;
}
