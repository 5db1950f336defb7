/* supervise.c - the supervisor.
 *
 * THEORY OF OPERATION
 * ===================
 *
 *   aegis-sandbox (supervisor)   C only; never embeds Python.  Owns the
 *     |                          policy, timers, cgroups, work directories,
 *     |                          verdicts, the pool database.  Runs with the
 *     |                          caller's privileges (root or not).
 *     |
 *     |  ctl: SOCK_SEQPACKET pair, JSON messages + SCM_RIGHTS (zygote.h)
 *     |
 *     +-- zygote                 aegis-zygote, forked and exec'd with the
 *           |                    ctl sockets and no environment
 *           |                    (zygote-main.c; without that program the
 *           |                    forked child runs zygote_main() itself);
 *           |                    embeds CPython
 *           |                    (pyhost.c), imports torch and the trusted
 *           |                    pyhelpers once, stays single-threaded, never
 *           |                    runs candidate code, never enters an OpenMP
 *           |                    region.  Parent-death signal: SIGTERM, and
 *           |                    EOF on ctl, both mean "kill every job, remove
 *           |                    its directories and cgroups, exit".
 *           |
 *           +-- job child        fork of the zygote, one per phase of one
 *                                candidate: build (runs the candidate),
 *                                validate (loads only the exported TorchScript
 *                                archive), fix (reads the source as data).
 *                                Confined by confine_apply() before it reads a
 *                                byte of candidate input; its parent-death
 *                                signal is SIGKILL.  A job may be *held*:
 *                                forked and confined ahead of need, it
 *                                waits on fd 4 for its request before any
 *                                Python runs (the validate child beside
 *                                the build child; a spare build child for
 *                                the next candidate in serve and batch).
 *
 * Per job, the supervisor creates three pipes and hands their write ends to
 * the zygote with the job request; the zygote dups them to the child as
 *
 *   fd 0  /dev/null
 *   fd 1  stdout pipe  -> supervisor (captured, capped, flood-killed)
 *   fd 2  stderr pipe  -> supervisor
 *   fd 3  report pipe  -> supervisor: JSON lines (layers applied, violations,
 *                         denied syscalls, the phase's result)
 *
 * and nothing else.  Each job has its own report pipe, so the validate child
 * reports on a channel the build child never had: what the candidate wrote
 * anywhere cannot reach the validate report, and the verdict is built from
 * that report plus what the supervisor observed itself (exit status, the
 * timer, the cgroup's OOM counter, CPU time from wait4).
 *
 * The zygote forks the children, so it reaps them and forwards the wait
 * status and rusage over ctl.  The supervisor kills a job itself: SIGKILL
 * to the child's process group (the child called setsid) and to its cgroup.
 * Work directories and cgroups are named after the supervisor's pid, so a
 * supervisor that starts after one was SIGKILLed reclaims what is stale. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "supervise.h"
#include "util.h"
#include "zygote.h"

#define REPORT_MAX (16u << 20)
#define TMPFS_MAGIC_ 0x01021994
#define FLOOD_FACTOR 64
#define RSS_WATCH_MS 50

static int ctl_recv_json(int ctl, int timeout_ms, struct json **out)
{
	char *buf;
	size_t len;
	int rc;
	struct pollfd pfd = {ctl, POLLIN, 0};

	*out = NULL;
	if (timeout_ms >= 0) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return -errno;
	}
	buf = xmalloc(ZYGOTE_MSG_MAX);
	rc = zygote_recv(ctl, buf, ZYGOTE_MSG_MAX, &len, NULL, NULL);
	if (rc == 0) {
		*out = json_parse(buf, len, NULL, 0);
		if (!*out)
			rc = -EBADMSG;
	}
	free(buf);
	return rc;
}

int supervise_start(struct supervisor *s, const struct policy *pol, const char *pyhelpers_dir, char *err, size_t errlen)
{
	return supervise_start_many(s, 1, pol, pyhelpers_dir, err, errlen);
}

/*
 * The zygote program to exec: the build tree's for the build tree's
 * supervisor, the installed one for the installed supervisor, and for
 * anything else (a unit test linking the library) none, so that a stale
 * installed copy never talks to a newer supervisor.  NULL: run
 * zygote_main() in the forked child itself, which is the same code on the
 * (slower) shared libpython.
 */
static const char *zygote_program(void)
{
	const char *prog = NULL;

	switch (util_exe_kind()) {
	case UTIL_EXE_BUILD: prog = AEGIS_BUILD_ZYGOTE; break;
	case UTIL_EXE_INSTALLED: prog = AEGIS_ZYGOTE_EXE; break;
	case UTIL_EXE_OTHER: break;
	}
	return prog && access(prog, X_OK) == 0 ? prog : NULL;
}

/* In the forked child: exec the zygote program PROG with the control
 * sockets and nothing else of ours: no LD_*, PYTHON* or secret variable
 * reaches it.  The one exception is the sanitizers' options, read by their
 * runtime before main() in a --enable-sanitizers build (the tests rely on
 * them), and wiped with the rest by zygote_main().  Returns only if there
 * is no program or exec failed; the caller then runs the zygote in this
 * process, so the sockets are close-on-exec again by then. */
static void exec_zygote(const char *prog, const int *ctls, size_t n, const char *helpers)
{
	static const char *const keep[] = {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
	enum { NKEEP = sizeof(keep) / sizeof(keep[0]) };
	char *envp[NKEEP + 1] = {NULL};
	char **argv, (*fdarg)[16];
	size_t ne = 0, i;

	if (!prog)
		return;
	for (char **e = environ; e && *e && ne < NKEEP; e++)
		for (size_t k = 0; k < NKEEP; k++)
			if (!strncmp(*e, keep[k], strlen(keep[k])))
				envp[ne++] = *e;
	argv = xcalloc(n + 3, sizeof(char *));
	fdarg = xcalloc(n, sizeof(*fdarg));
	argv[0] = (char *)"aegis-zygote";
	argv[1] = (char *)helpers;
	for (i = 0; i < n; i++) {
		if (fcntl(ctls[i], F_SETFD, 0) < 0)
			break;
		snprintf(fdarg[i], sizeof(fdarg[i]), "%d", ctls[i]);
		argv[i + 2] = fdarg[i];
	}
	if (i == n)
		execve(prog, argv, envp);
	while (i-- > 0)
		(void)fcntl(ctls[i], F_SETFD, FD_CLOEXEC);
	free(fdarg);
	free(argv);
}

int supervise_start_many(struct supervisor *sv, size_t n, const struct policy *pol, const char *pyhelpers_dir,
			 char *err, size_t errlen)
{
	int(*pairs)[2] = xcalloc(n, sizeof(*pairs));
	int *child_ends = xcalloc(n, sizeof(int));
	char *helpers;
	pid_t pid;
	size_t made = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++) {
		memset(&sv[i], 0, sizeof(sv[i]));
		sv[i].spare_lock = -1;
		sv[i].ctl = -1;
	}
	/* canonical, so paths derived from it (module files, the audit hook's
	 * read-only roots) contain no ".." or symlinks */
	helpers = realpath(pyhelpers_dir, NULL);
	if (!helpers) {
		snprintf(err, errlen, "the Python helpers directory %s: %s", pyhelpers_dir, strerror(errno));
		goto out_free;
	}
	cgroup_reclaim_stale();
	supervise_reclaim_workdirs(pol);
	for (; made < n; made++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pairs[made]) < 0) {
			snprintf(err, errlen, "socketpair: %s", strerror(errno));
			goto out_close;
		}
		child_ends[made] = pairs[made][1];
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out_close;
	}
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			close(pairs[i][0]);
		exec_zygote(zygote_program(), child_ends, n, helpers);
		zygote_main(child_ends, n, helpers);
	}
	for (size_t i = 0; i < n; i++) {
		close(pairs[i][1]);
		sv[i].ctl = pairs[i][0];
		sv[i].pol = pol;
		sv[i].zygote = pid;
		sv[i].owns_zygote = i == 0;
		sv[i].pyhelpers_dir = xstrdup(helpers);
		sv[i].cg_mode = cgroup_detect(pol->sandbox.cgroups);
	}
	made = 0; /* the pairs belong to sv[] now */
	for (size_t i = 0; i < n; i++) {
		struct json *msg = NULL;
		int r = ctl_recv_json(sv[i].ctl, 120 * 1000, &msg);
		const char *op = json_get_str(msg, "op");
		double v;

		if (r < 0 || !op || strcmp(op, "ready")) {
			const char *e = json_get_str(msg, "error");

			snprintf(err, errlen, "the zygote did not start: %s",
				 e       ? e
				 : r < 0 ? strerror(-r)
					 : "unexpected message");
			json_free(msg);
			for (size_t k = n; k-- > 0;)
				supervise_stop(&sv[k]);
			goto out_free;
		}
		if (json_get_num(msg, "warm_s", &v))
			sv[i].warm_s = v;
		if (json_get_num(msg, "threads", &v))
			sv[i].zygote_threads = (int)v;
		json_free(msg);
	}
	rc = 0;
	goto out_free;
out_close:
	for (size_t i = 0; i < made; i++) {
		close(pairs[i][0]);
		close(pairs[i][1]);
	}
out_free:
	free(helpers);
	free(child_ends);
	free(pairs);
	return rc;
}

static void drop_spare(struct supervisor *s);

void supervise_stop(struct supervisor *s)
{
	drop_spare(s);
	if (s->ctl >= 0) {
		static const char bye[] = "{\"op\":\"exit\"}";

		(void)zygote_send(s->ctl, bye, sizeof(bye) - 1, NULL, 0);
		close(s->ctl);
		s->ctl = -1;
	}
	if (s->zygote > 0 && s->owns_zygote) {
		int status;

		/* it exits once every channel has closed */
		while (waitpid(s->zygote, &status, 0) < 0 && errno == EINTR)
			;
	}
	s->zygote = 0;
	while (s->nstash)
		json_free(s->stash[--s->nstash]);
	free(s->pyhelpers_dir);
	s->pyhelpers_dir = NULL;
}

const char *const *supervise_ro_roots(const struct supervisor *s)
{
	static const char *roots[8];

	roots[0] = AEGIS_PYTHON_STDLIB;
	roots[1] = AEGIS_PYTHON_DYNLOAD;
	roots[2] = AEGIS_TORCH_DIR;
	roots[3] = s->pyhelpers_dir;
	roots[4] = "/usr/lib"; /* shared libraries torch loads lazily */
	roots[5] = "/etc/ld.so.cache";
	roots[6] = NULL;
	return roots;
}

static const char *workdir_base(const struct policy *pol)
{
	const char *t;

	if (pol->sandbox.workdir_base && *pol->sandbox.workdir_base)
		return pol->sandbox.workdir_base;
	t = getenv("TMPDIR");
	return t && *t == '/' ? t : "/tmp";
}

bool supervise_job_owner(const struct policy *pol, uid_t *uid, gid_t *gid)
{
	if (geteuid() != 0)
		return false;
	*uid = (uid_t)pol->sandbox.uid;
	*gid = (gid_t)pol->sandbox.gid;
	return true;
}

int supervise_give(const struct policy *pol, const char *path)
{
	uid_t uid;
	gid_t gid;

	if (!supervise_job_owner(pol, &uid, &gid))
		return 0;
	return lchown(path, uid, gid) < 0 ? -errno : 0;
}

/* As root, the work directory is a tmpfs of limits.workdir_mb, owned by
 * the job's uid: the sum of everything a job writes is bounded (RLIMIT_FSIZE
 * bounds one file), its pages are charged to the job's memory cgroup
 * instead of being nobody's page cache, and unmounting it removes any tree
 * at once.  Where mounting is not allowed (a container without
 * CAP_SYS_ADMIN) the directory is only given to the job's uid. */
static void workdir_mount(const struct policy *pol, const char *path, bool tmpfs)
{
	uid_t uid;
	gid_t gid;
	char opts[160];

	if (!supervise_job_owner(pol, &uid, &gid))
		return;
	if (!tmpfs) {
		if (chown(path, uid, gid) < 0)
			warnx_("cannot give the work directory %s to uid %lu: %s", path, (unsigned long)uid,
			       strerror(errno));
		return;
	}
	snprintf(opts, sizeof(opts), "size=%ldm,nr_inodes=%ld,mode=0700,uid=%lu,gid=%lu", pol->limits.workdir_mb,
		 pol->limits.workdir_mb * 64 < 4096 ? 4096 : pol->limits.workdir_mb * 64, (unsigned long)uid,
		 (unsigned long)gid);
	if (mount("aegis-work", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) == 0)
		return;
	if (chown(path, uid, gid) < 0)
		warnx_("cannot give the work directory %s to uid %lu: %s", path, (unsigned long)uid, strerror(errno));
}

bool supervise_workdir_full(const struct policy *pol, const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return false;
	if (sf.f_type != TMPFS_MAGIC_) {
		/* not ours to bound while it runs (an unprivileged supervisor
		 * cannot mount): measured now, after the job */
		unsigned long long used;

		return util_du(path, &used) == 0 && used > (unsigned long long)pol->limits.workdir_mb << 20;
	}
	/* full: under 1% or 64 KiB of its blocks left, or no inode */
	return (unsigned long long)sf.f_bavail * (unsigned long long)sf.f_bsize <
		   ((unsigned long long)sf.f_blocks * sf.f_bsize / 100 > 65536
			? 65536
			: (unsigned long long)sf.f_blocks * sf.f_bsize / 100) ||
	       sf.f_ffree == 0;
}

char *supervise_make_workdir(const struct policy *pol, bool tmpfs, int *lock_fd, char *err, size_t errlen)
{
	char *tmpl = xasprintf("%s/aegis-%ld-XXXXXX", workdir_base(pol), (long)getpid());

	*lock_fd = -1;
	if (!mkdtemp(tmpl)) {
		snprintf(err, errlen, "cannot create a work directory under %s: %s", workdir_base(pol),
			 strerror(errno));
		free(tmpl);
		return NULL;
	}
	{
		/* canonical: the audit hook compares paths against it */
		char *canon = realpath(tmpl, NULL);

		if (canon) {
			free(tmpl);
			tmpl = canon;
		}
	}
	workdir_mount(pol, tmpl, tmpfs);
	/* locked after mounting: the lock is on what a reclaimer opens */
	*lock_fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "cannot lock the work directory %s: %s", tmpl, strerror(errno));
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
		util_remove_workdir(tmpl);
		free(tmpl);
		return NULL;
	}
	return tmpl;
}

void supervise_drop_workdir(char *path, int lock_fd, bool keep)
{
	if (path && !keep) {
		int rc = util_remove_workdir(path);

		if (rc < 0)
			warnx_("cannot remove the work directory %s: %s", path, strerror(-rc));
	}
	if (lock_fd >= 0)
		close(lock_fd);
	free(path);
}

/* Work directories are named after the supervisor's pid for people, but a
 * live owner is known by the flock() it holds: pids are not unique across
 * pid namespaces, locks are.  A directory younger than a few seconds may
 * be one whose owner has not taken the lock yet. */
void supervise_reclaim_workdirs(const struct policy *pol)
{
	const char *base = workdir_base(pol);
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		long pid;
		char *end, *path;
		struct stat st;
		int fd;

		if (strncmp(de->d_name, "aegis-", 6))
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		if (end == de->d_name + 6 || *end != '-' || pid <= 0 || strlen(end) != 7)
			continue;
		path = xasprintf("%s/%s", base, de->d_name);
		/* only our own directories (given to the job's uid when root),
		 * never another user's */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_uid == geteuid() || (geteuid() == 0 && st.st_uid == (uid_t)pol->sandbox.uid)) &&
		    time(NULL) - st.st_mtime > 5) {
			fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
				int rc = util_remove_workdir(path);

				if (rc < 0)
					warnx_("cannot remove the stale work directory %s: %s", path, strerror(-rc));
			}
			if (fd >= 0)
				close(fd);
		}
		free(path);
	}
	closedir(d);
}

/* ---- one job --------------------------------------------------------------- */

/* Set the limits a job child is confined with (its cgroup gets the same
 * memory and pids limits): everything in its confine message that two
 * candidates of one supervisor may differ in. */
static void set_limits(struct json *c, const struct policy *p)
{
	json_set(c, "cpu_time_s", json_num(p->limits.cpu_time_s));
	json_set(c, "memory_mb", json_num((double)p->limits.memory_mb));
	json_set(c, "max_file_bytes", json_num((double)p->limits.max_file_bytes));
	json_set(c, "max_open_files", json_num((double)p->limits.max_open_files));
	json_set(c, "max_pids", json_num((double)p->limits.max_pids));
	/* the credentials a job started by root runs with, and its work
	 * directory's size (a spare made under other ones is not used) */
	json_set(c, "uid", json_num((double)p->sandbox.uid));
	json_set(c, "gid", json_num((double)p->sandbox.gid));
	json_set(c, "workdir_mb", json_num((double)p->limits.workdir_mb));
}

/* The same, as a string to compare: a spare child made under one key
 * serves only a candidate with the same key. */
static char *limits_key(const struct policy *p)
{
	struct json *c = json_object();
	struct sbuf sb = SBUF_INIT;

	set_limits(c, p);
	json_write(c, &sb, -1);
	json_free(c);
	return sbuf_detach(&sb, NULL);
}

static struct json *confine_json(const struct supervisor *s, const char *workdir, bool writable,
				 const struct cgroup *cg)
{
	const struct policy *p = s->pol;
	struct json *c = json_object(), *ns = json_object(), *arr;
	char *procs[2];
	size_t n = cgroup_procs_files(cg, procs);

	json_set(c, "workdir", json_str(workdir));
	json_set(c, "workdir_writable", json_bool(writable));
	arr = json_set(c, "cgroups", json_array());
	for (size_t i = 0; i < n; i++)
		json_append(arr, json_str(procs[i]));
	set_limits(c, p);
	json_set(c, "memory_rlimit", json_bool(!cg->has_memory));
	json_set(c, "pids_rlimit", json_bool(!cg->has_pids));
	json_set(ns, "net", json_bool(p->sandbox.namespaces.net));
	json_set(ns, "ipc", json_bool(p->sandbox.namespaces.ipc));
	json_set(ns, "mount", json_bool(p->sandbox.namespaces.mount));
	json_set(ns, "pid", json_bool(p->sandbox.namespaces.pid));
	json_set(ns, "user", json_bool(p->sandbox.namespaces.user));
	json_set(c, "namespaces", ns);
	json_set(c, "landlock", json_bool(p->sandbox.landlock));
	arr = json_set(c, "ro_paths", json_array());
	for (const char *const *r = supervise_ro_roots(s); *r; r++)
		json_append(arr, json_str(*r));
	json_set(c, "seccomp", json_bool(p->sandbox.seccomp));
	json_set(c, "allow_unix_sockets", json_bool(p->sandbox.allow_unix_sockets));
	json_set(c, "allow_rwx_memory", json_bool(p->sandbox.allow_rwx_memory));
	arr = json_set(c, "env", json_array());
	for (size_t i = 0; i < p->sandbox.environment.n; i++)
		json_append(arr, json_str(p->sandbox.environment.v[i]));
	return c;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void kill_job(pid_t pid, int pidfd, const struct cgroup *cg)
{
#ifdef SYS_pidfd_send_signal
	if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	else
#endif
		kill(pid, SIGKILL);
	kill(-pid, SIGKILL); /* its process group, if it got that far */
	cgroup_kill(cg);
}

/* Private memory of PID in bytes (Private_Dirty + Private_Clean of
 * /proc/PID/smaps_rollup): what it allocated itself, not the zygote's
 * copy-on-write pages it merely shares.  -1 when unreadable. */
static long long private_bytes(pid_t pid)
{
	char path[64], *buf = NULL;
	long long total = -1;

	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	if (util_read_file(path, 1 << 16, &buf, NULL) == 0) {
		total = 0;
		for (char *l = buf; l && *l;) {
			if (!strncmp(l, "Private_Dirty:", 14) || !strncmp(l, "Private_Clean:", 14))
				total += strtoll(l + 14, NULL, 10) * 1024;
			l = strchr(l, '\n');
			if (l)
				l++;
		}
	}
	free(buf);
	return total;
}

/* Read what is available on FD into SB up to CAP; count the rest as
 * dropped.  Returns false at EOF/error. */
static bool drain(int fd, struct sbuf *sb, size_t cap, size_t *dropped)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		if (n == 0)
			return false;
		if (sb->len < cap) {
			size_t keep = (size_t)n < cap - sb->len ? (size_t)n : cap - sb->len;

			sbuf_add(sb, buf, keep);
			*dropped += (size_t)n - keep;
		} else {
			*dropped += (size_t)n;
		}
	}
}

/* Messages on ctl that belong to another job of this supervisor (a held
 * job's "exited" can arrive while another job runs) wait in s->stash. */
static void stash_put(struct supervisor *s, struct json *m)
{
	if (s->nstash == SUPERVISE_STASH) { /* only ever stale ones: drop the oldest */
		json_free(s->stash[0]);
		memmove(s->stash, s->stash + 1, (SUPERVISE_STASH - 1) * sizeof(*s->stash));
		s->nstash--;
	}
	s->stash[s->nstash++] = m;
}

static struct json *stash_take(struct supervisor *s, long id)
{
	for (size_t i = 0; i < s->nstash; i++) {
		double v;

		if (json_get_num(s->stash[i], "id", &v) && (long)v == id) {
			struct json *m = s->stash[i];

			memmove(s->stash + i, s->stash + i + 1, (s->nstash - i - 1) * sizeof(*s->stash));
			s->nstash--;
			return m;
		}
	}
	return NULL;
}

/* The next ctl message for job ID: from the stash, else from ctl (others
 * are stashed).  TIMEOUT_MS < 0 waits forever, 0 only takes what is there.
 * 0, or a negative errno (-ETIMEDOUT, -EPIPE when the zygote is gone). */
static int ctl_next(struct supervisor *s, long id, int timeout_ms, struct json **out)
{
	double until = util_now() + timeout_ms / 1000.0;

	*out = stash_take(s, id);
	while (!*out) {
		struct json *m = NULL;
		double left = until - util_now();
		int rc = ctl_recv_json(s->ctl, timeout_ms < 0 ? -1 : left > 0 ? (int)(left * 1000) : 0, &m);
		double v;

		if (rc < 0)
			return rc;
		if (json_get_num(m, "id", &v) && (long)v == id)
			*out = m;
		else
			stash_put(s, m);
	}
	return 0;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0) {
			close(p[i]);
			p[i] = -1;
		}
}

/* Undo what supervise_job_start set up: the job's process group and
 * cgroup may not outlive it. */
static void job_run_release(struct job_run *r)
{
	if (r->pid > 0)
		kill(-r->pid, SIGKILL);
	cgroup_kill(&r->cg);
	cgroup_destroy(&r->cg);
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->pidfd = -1;
	close_pair(r->out);
	close_pair(r->err);
	close_pair(r->rep);
	close_pair(r->hold);
}

/* The zygote answers "started" (or "failed") before anything else about
 * a job.  0, or -1 with R->failure. */
static int await_started(struct supervisor *s, struct job_run *r)
{
	struct json *reply = NULL;
	int rc = -1;

	if (!r->awaiting)
		return 0;
	r->awaiting = false;
	if (s->ctl < 0 || ctl_next(s, r->id, 30 * 1000, &reply) < 0 || !json_get_str(reply, "op") ||
	    strcmp(json_get_str(reply, "op"), "started")) {
		const char *e = json_get_str(reply, "error");

		r->failure = xasprintf("the zygote could not start the job: %s", e ? e : "no answer");
	} else {
		double v = 0;

		json_get_num(reply, "pid", &v);
		r->pid = (pid_t)v;
		r->pidfd = pidfd_open_(r->pid);
		rc = 0;
	}
	json_free(reply);
	return rc;
}

int supervise_job_start(struct supervisor *s, const struct json *request, const char *workdir, bool writable, bool hold,
			struct job_run *r)
{
	const struct policy *p = s->pol;
	struct json *msg = NULL;
	struct sbuf sb = SBUF_INIT;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->pidfd = -1;
	r->out[0] = r->out[1] = r->err[0] = r->err[1] = -1;
	r->rep[0] = r->rep[1] = r->hold[0] = r->hold[1] = -1;
	if (s->ctl < 0) {
		r->failure = xstrdup("the zygote is not running");
		return -1;
	}
	if (pipe2(r->out, O_CLOEXEC) < 0 || pipe2(r->err, O_CLOEXEC) < 0 || pipe2(r->rep, O_CLOEXEC) < 0 ||
	    (hold && pipe2(r->hold, O_CLOEXEC) < 0)) {
		r->failure = xasprintf("pipe: %s", strerror(errno));
		goto out;
	}
	fcntl(r->out[0], F_SETFL, O_NONBLOCK);
	fcntl(r->err[0], F_SETFL, O_NONBLOCK);
	fcntl(r->rep[0], F_SETFL, O_NONBLOCK);
	r->id = ++s->serial;
	/* on failure cg is left empty: rlimits and the RSS watch take over */
	(void)cgroup_create(&r->cg, s->cg_mode, r->id, p->limits.memory_mb, p->limits.max_pids);

	msg = json_object();
	json_set(msg, "op", json_str("job"));
	json_set(msg, "id", json_num((double)r->id));
	if (!hold) /* a held job's comes through its hold pipe */
		json_set(msg, "request", json_dup(request));
	json_set(msg, "confine", confine_json(s, workdir, writable, &r->cg));
	json_write(msg, &sb, -1);
	{
		int fds[4] = {r->out[1], r->err[1], r->rep[1], r->hold[0]};
		int e = zygote_send(s->ctl, sb.buf, sb.len, fds, hold ? 4 : 3);

		if (e < 0) {
			r->failure = xasprintf("sending the job to the zygote: %s", strerror(-e));
			if (e == -EPIPE || e == -ECONNRESET) {
				/* the zygote is gone: say so to whoever restarts it */
				close(s->ctl);
				s->ctl = -1;
			}
			goto out;
		}
	}
	/* the child holds the other ends now */
	close(r->out[1]);
	close(r->err[1]);
	close(r->rep[1]);
	r->out[1] = r->err[1] = r->rep[1] = -1;
	if (hold) {
		close(r->hold[0]);
		r->hold[0] = -1;
	}

	/* A held job's "started" is collected when it is finished or
	 * cancelled: the zygote forks it while this supervisor goes on. */
	r->awaiting = true;
	rc = hold ? 0 : await_started(s, r);
out:
	if (rc < 0)
		job_run_release(r);
	json_free(msg);
	sbuf_release(&sb);
	return rc;
}

void supervise_job_cancel(struct supervisor *s, struct job_run *r)
{
	(void)await_started(s, r);
	if (r->pid > 0) {
		struct json *m = NULL;

		kill_job(r->pid, r->pidfd, &r->cg);
		close_pair(r->hold);
		/* wait until the zygote has reaped it, so that its cgroup is
		 * empty and its "exited" does not linger in the stash */
		while (s->ctl >= 0 && ctl_next(s, r->id, 5000, &m) == 0) {
			bool done = json_get_str(m, "op") && !strcmp(json_get_str(m, "op"), "exited");

			json_free(m);
			if (done)
				break;
		}
	}
	job_run_release(r);
	free(r->failure);
	r->failure = NULL;
	r->pid = 0;
}

int supervise_job_finish(struct supervisor *s, struct job_run *r, const struct json *request, struct job_outcome *o)
{
	const struct policy *p = s->pol;
	double t0, deadline, drain_until = 0;
	bool open_out = true, open_err = true, open_rep = true;
	long long watch_peak = -1;
	int rc = -1;

	memset(o, 0, sizeof(*o));
	o->peak_bytes = -1;
	(void)await_started(s, r);
	if (r->failure) {
		o->failure = r->failure;
		r->failure = NULL;
		job_run_release(r);
		return -1;
	}
	o->pid = r->pid;
	if (r->hold[1] >= 0) {
		/* a held job starts now, with its request; if it already died,
		 * its exit is in the stash and the write fails with EPIPE */
		struct sbuf sb = SBUF_INIT;

		json_write(request, &sb, -1);
		(void)util_write_all(r->hold[1], sb.buf, sb.len);
		sbuf_release(&sb);
		close_pair(r->hold);
	}
	t0 = util_now();
	deadline = t0 + p->limits.wall_timeout_s;

	for (;;) {
		struct pollfd pfd[4];
		int nfd = 0, timeout;
		double now = util_now();
		bool watch = !r->cg.has_memory && !o->exited;
		struct json *m = NULL;

		if (o->exited && (!open_out && !open_err && !open_rep))
			break;
		if (o->exited && now >= drain_until)
			break; /* something still holds a pipe open: stop waiting */
		if (!o->exited && !o->killed_wall && now >= deadline) {
			o->killed_wall = true;
			kill_job(o->pid, r->pidfd, &r->cg);
		}
		if (watch && !o->killed_memory) {
			long long priv = private_bytes(o->pid);

			if (priv > watch_peak)
				watch_peak = priv;
			if (priv > (long long)p->limits.memory_mb * 1024 * 1024) {
				o->killed_memory = true;
				kill_job(o->pid, r->pidfd, &r->cg);
			}
		}
		timeout = o->exited ? (int)((drain_until - now) * 1000) + 1 : (int)((deadline - now) * 1000) + 1;
		if (o->killed_wall && !o->exited)
			timeout = 100;
		if (watch && timeout > RSS_WATCH_MS)
			timeout = RSS_WATCH_MS;
		if (timeout < 0)
			timeout = 0;
		if (!o->exited && (m = stash_take(s, r->id)) != NULL)
			timeout = 0; /* it reported while another job ran */
		pfd[nfd++] = (struct pollfd){s->ctl, o->exited ? 0 : POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_out ? r->out[0] : -1, POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_err ? r->err[0] : -1, POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_rep ? r->rep[0] : -1, POLLIN, 0};
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR) {
			o->failure = xasprintf("poll: %s", strerror(errno));
			kill_job(o->pid, r->pidfd, &r->cg);
			json_free(m);
			goto out;
		}
		if (open_out && pfd[1].revents)
			open_out = drain(r->out[0], &o->out, (size_t)p->limits.max_output_bytes, &o->out_dropped);
		if (open_err && pfd[2].revents)
			open_err = drain(r->err[0], &o->err, (size_t)p->limits.max_output_bytes, &o->err_dropped);
		if (open_rep && pfd[3].revents)
			open_rep = drain(r->rep[0], &o->report, REPORT_MAX, &o->report_dropped);
		if (!o->killed_flood && !o->exited &&
		    (o->out_dropped + o->err_dropped) / FLOOD_FACTOR > (size_t)p->limits.max_output_bytes) {
			o->killed_flood = true;
			kill_job(o->pid, r->pidfd, &r->cg);
		}
		if (!m && !o->exited && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			int e = ctl_next(s, r->id, 0, &m);

			if (e == -EPIPE || e == -ECONNRESET) {
				o->failure = xstrdup("the zygote died");
				kill_job(o->pid, r->pidfd, &r->cg);
				close(s->ctl);
				s->ctl = -1;
				goto out;
			}
		}
		if (m) {
			const char *op = json_get_str(m, "op");
			double v;

			if (op && !strcmp(op, "exited")) {
				o->exited = true;
				json_get_num(m, "status", &v);
				o->wstatus = (int)v;
				if (json_get_num(m, "cpu_s", &v))
					o->cpu_s = v;
				if (json_get_num(m, "maxrss_kb", &v))
					o->maxrss_kb = (long)v;
				o->wall_s = util_now() - t0;
				drain_until = util_now() + 0.5;
			}
			json_free(m);
		}
	}
	o->peak_bytes = cgroup_peak_bytes(&r->cg);
	if (o->peak_bytes < 0)
		o->peak_bytes = watch_peak; /* the RSS watch's highest sample */
	o->oom = cgroup_oom_killed(&r->cg);
	rc = 0;
out:
	job_run_release(r);
	return rc;
}

int supervise_job(struct supervisor *s, const struct json *request, const char *workdir, bool writable,
		  struct job_outcome *o)
{
	struct job_run r;

	(void)supervise_job_start(s, request, workdir, writable, false, &r);
	return supervise_job_finish(s, &r, NULL, o);
}

void job_outcome_release(struct job_outcome *o)
{
	sbuf_release(&o->out);
	sbuf_release(&o->err);
	sbuf_release(&o->report);
	free(o->failure);
	memset(o, 0, sizeof(*o));
}

/* ---- the spare build child ---------------------------------------------
 *
 * A long-lived supervisor (serve, batch) keeps one held build child ready
 * between candidates, in a work directory of its own: the fork, the move
 * into its cgroups (an RCU grace period on cgroup v1, ~11 ms) and the
 * confinement are paid while nobody waits.  It is made with the limits of
 * the candidate before it and used only by a candidate with the same
 * limits; everything else about a job child comes from the one policy a
 * supervisor runs with. */

/* Remove the spare's work directory and forget its key. */
static void spare_forget(struct supervisor *s)
{
	supervise_drop_workdir(s->spare_workdir, s->spare_lock, false);
	s->spare_workdir = NULL;
	s->spare_lock = -1;
	free(s->spare_key);
	s->spare_key = NULL;
	s->have_spare = false;
}

static void drop_spare(struct supervisor *s)
{
	if (!s->have_spare)
		return;
	supervise_job_cancel(s, &s->spare);
	spare_forget(s);
}

void supervise_make_spare(struct supervisor *s, const struct policy *pol)
{
	const struct policy *base = s->pol;
	char err[256];

	if (s->have_spare || s->ctl < 0)
		return;
	s->spare_workdir = supervise_make_workdir(pol, true, &s->spare_lock, err, sizeof(err));
	if (!s->spare_workdir)
		return; /* the next candidate makes its own and says why */
	s->pol = pol;
	if (supervise_job_start(s, NULL, s->spare_workdir, true, true, &s->spare) == 0) {
		s->have_spare = true;
		s->spare_key = limits_key(pol);
	} else {
		free(s->spare.failure);
		s->spare.failure = NULL;
		spare_forget(s);
	}
	s->pol = base;
}

bool supervise_take_spare(struct supervisor *s, struct job_run *r, char **workdir, int *lock_fd)
{
	char *key;
	bool same;

	if (!s->have_spare)
		return false;
	key = limits_key(s->pol);
	same = !strcmp(key, s->spare_key);
	free(key);
	if (!same) {
		drop_spare(s);
		return false;
	}
	*r = s->spare;
	*workdir = s->spare_workdir;
	*lock_fd = s->spare_lock;
	s->spare_workdir = NULL; /* the caller's now */
	s->spare_lock = -1;
	spare_forget(s);
	return true;
}
