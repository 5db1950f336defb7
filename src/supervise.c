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
 *     +-- zygote                 fork of the supervisor; embeds CPython
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
 *                                signal is SIGKILL.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "supervise.h"
#include "util.h"
#include "zygote.h"

#define REPORT_MAX (16u << 20)
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

void supervise_stop(struct supervisor *s)
{
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

char *supervise_make_workdir(const struct policy *pol, int *lock_fd, char *err, size_t errlen)
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
	*lock_fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lock_fd < 0 || flock(*lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "cannot lock the work directory %s: %s", tmpl, strerror(errno));
		if (*lock_fd >= 0)
			close(*lock_fd);
		*lock_fd = -1;
		rmdir(tmpl);
		free(tmpl);
		return NULL;
	}
	return tmpl;
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
		/* only our own directories, never another user's */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
		    time(NULL) - st.st_mtime > 5) {
			fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
				util_rm_rf(path);
			if (fd >= 0)
				close(fd);
		}
		free(path);
	}
	closedir(d);
}

/* ---- one job --------------------------------------------------------------- */

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
	json_set(c, "cpu_time_s", json_num(p->limits.cpu_time_s));
	json_set(c, "memory_mb", json_num((double)p->limits.memory_mb));
	json_set(c, "memory_rlimit", json_bool(!cg->has_memory));
	json_set(c, "max_file_bytes", json_num((double)p->limits.max_file_bytes));
	json_set(c, "max_open_files", json_num((double)p->limits.max_open_files));
	json_set(c, "max_pids", json_num((double)p->limits.max_pids));
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

int supervise_job(struct supervisor *s, const struct json *request, const char *workdir, bool writable,
		  struct job_outcome *o)
{
	const struct policy *p = s->pol;
	int pout[2] = {-1, -1}, perr[2] = {-1, -1}, prep[2] = {-1, -1};
	int pidfd = -1, rc = -1;
	struct cgroup cg = {0};
	struct json *msg = NULL, *reply = NULL;
	struct sbuf sb = SBUF_INIT;
	double t0, deadline, drain_until = 0;
	long id;
	bool open_out = true, open_err = true, open_rep = true;
	size_t rep_dropped = 0;
	long long watch_peak = -1;

	memset(o, 0, sizeof(*o));
	o->peak_bytes = -1;
	if (s->ctl < 0) {
		o->failure = xstrdup("the zygote is not running");
		return -1;
	}
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0 || pipe2(prep, O_CLOEXEC) < 0) {
		o->failure = xasprintf("pipe: %s", strerror(errno));
		goto out_close;
	}
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	fcntl(perr[0], F_SETFL, O_NONBLOCK);
	fcntl(prep[0], F_SETFL, O_NONBLOCK);
	id = ++s->serial;
	/* on failure cg is left empty: rlimits and the RSS watch take over */
	(void)cgroup_create(&cg, s->cg_mode, id, p->limits.memory_mb, p->limits.max_pids);

	msg = json_object();
	json_set(msg, "op", json_str("job"));
	json_set(msg, "id", json_num((double)id));
	json_set(msg, "request", json_dup(request));
	json_set(msg, "confine", confine_json(s, workdir, writable, &cg));
	json_write(msg, &sb, -1);
	{
		int fds[3] = {pout[1], perr[1], prep[1]};
		int r = zygote_send(s->ctl, sb.buf, sb.len, fds, 3);

		if (r < 0) {
			o->failure = xasprintf("sending the job to the zygote: %s", strerror(-r));
			if (r == -EPIPE || r == -ECONNRESET) {
				/* the zygote is gone: say so to whoever restarts it */
				close(s->ctl);
				s->ctl = -1;
			}
			goto out_cgroup;
		}
	}
	close(pout[1]);
	close(perr[1]);
	close(prep[1]);
	pout[1] = perr[1] = prep[1] = -1;
	t0 = util_now();

	/* the zygote answers "started" (or "failed") before anything else */
	if (ctl_recv_json(s->ctl, 30 * 1000, &reply) < 0 || !json_get_str(reply, "op") ||
	    strcmp(json_get_str(reply, "op"), "started")) {
		const char *e = json_get_str(reply, "error");

		o->failure = xasprintf("the zygote could not start the job: %s", e ? e : "no answer");
		goto out_cgroup;
	}
	{
		double v = 0;

		json_get_num(reply, "pid", &v);
		o->pid = (pid_t)v;
	}
	pidfd = pidfd_open_(o->pid);
	deadline = t0 + p->limits.wall_timeout_s;

	for (;;) {
		struct pollfd pfd[4];
		int nfd = 0, timeout;
		double now = util_now();
		bool watch = !cg.has_memory && !o->exited;

		if (o->exited && (!open_out && !open_err && !open_rep))
			break;
		if (o->exited && now >= drain_until)
			break; /* something still holds a pipe open: stop waiting */
		if (!o->exited && !o->killed_wall && now >= deadline) {
			o->killed_wall = true;
			kill_job(o->pid, pidfd, &cg);
		}
		if (watch && !o->killed_memory) {
			long long priv = private_bytes(o->pid);

			if (priv > watch_peak)
				watch_peak = priv;
			if (priv > (long long)p->limits.memory_mb * 1024 * 1024) {
				o->killed_memory = true;
				kill_job(o->pid, pidfd, &cg);
			}
		}
		timeout = o->exited ? (int)((drain_until - now) * 1000) + 1 : (int)((deadline - now) * 1000) + 1;
		if (o->killed_wall && !o->exited)
			timeout = 100;
		if (watch && timeout > RSS_WATCH_MS)
			timeout = RSS_WATCH_MS;
		if (timeout < 0)
			timeout = 0;
		pfd[nfd++] = (struct pollfd){s->ctl, o->exited ? 0 : POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_out ? pout[0] : -1, POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_err ? perr[0] : -1, POLLIN, 0};
		pfd[nfd++] = (struct pollfd){open_rep ? prep[0] : -1, POLLIN, 0};
		if (poll(pfd, (nfds_t)nfd, timeout) < 0 && errno != EINTR) {
			o->failure = xasprintf("poll: %s", strerror(errno));
			kill_job(o->pid, pidfd, &cg);
			goto out_cgroup;
		}
		if (open_out && pfd[1].revents)
			open_out = drain(pout[0], &o->out, (size_t)p->limits.max_output_bytes, &o->out_dropped);
		if (open_err && pfd[2].revents)
			open_err = drain(perr[0], &o->err, (size_t)p->limits.max_output_bytes, &o->err_dropped);
		if (open_rep && pfd[3].revents)
			open_rep = drain(prep[0], &o->report, REPORT_MAX, &rep_dropped);
		if (!o->killed_flood && !o->exited &&
		    (o->out_dropped + o->err_dropped) / FLOOD_FACTOR > (size_t)p->limits.max_output_bytes) {
			o->killed_flood = true;
			kill_job(o->pid, pidfd, &cg);
		}
		if (!o->exited && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			struct json *m = NULL;
			int r = ctl_recv_json(s->ctl, 0, &m);
			const char *op = json_get_str(m, "op");
			double v;

			if (r == -EPIPE || r == -ECONNRESET) {
				o->failure = xstrdup("the zygote died");
				json_free(m);
				kill_job(o->pid, pidfd, &cg);
				close(s->ctl);
				s->ctl = -1;
				goto out_cgroup;
			}
			if (op && !strcmp(op, "exited") && json_get_num(m, "id", &v) && (long)v == id) {
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
	o->peak_bytes = cgroup_peak_bytes(&cg);
	if (o->peak_bytes < 0)
		o->peak_bytes = watch_peak; /* the RSS watch's highest sample */
	o->oom = cgroup_oom_killed(&cg);
	rc = 0;
out_cgroup:
	/* the job's process group may not outlive the job */
	if (o->pid > 0)
		kill(-o->pid, SIGKILL);
	cgroup_kill(&cg);
	cgroup_destroy(&cg);
out_close:
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 2; i++) {
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
		if (prep[i] >= 0)
			close(prep[i]);
	}
	json_free(reply);
	json_free(msg);
	sbuf_release(&sb);
	return rc;
}

void job_outcome_release(struct job_outcome *o)
{
	sbuf_release(&o->out);
	sbuf_release(&o->err);
	sbuf_release(&o->report);
	free(o->failure);
	memset(o, 0, sizeof(*o));
}
