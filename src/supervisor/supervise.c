/* supervise.c - the supervisor's side of the zygote and of one job.
 *
 * THEORY OF OPERATION (doc/architecture.md draws the whole picture)
 * ===================
 *
 *   aegis-sandbox (supervisor)   C only; does not link libpython.  Owns the
 *     |                          policy, timers, cgroups, work directories,
 *     |                          verdicts, the pool database.  Runs with the
 *     |                          caller's privileges (root or not).  In
 *     |                          batch and serve, a front process hands
 *     |                          requests to N forked workers, each a
 *     |                          supervisor with its own ctl channel to
 *     |                          one shared zygote (cli/serve.c).
 *     |
 *     |  ctl: SOCK_SEQPACKET pair, JSON messages + SCM_RIGHTS (proto/ctl.h)
 *     |
 *     +-- zygote                 aegis-zygote, forked and exec'd with the
 *     |     |                    ctl sockets and no environment; embeds
 *     |     |                    CPython (zygote/pyhost.c), imports torch
 *     |     |                    and the trusted pyhelpers once, stays
 *     |     |                    single-threaded, never runs candidate code,
 *     |     |                    never enters an OpenMP region.  SIGTERM
 *     |     |                    (its parent-death signal) and EOF on a ctl
 *     |     |                    mean "kill that supervisor's jobs, remove
 *     |     |                    their directories and cgroups"; when every
 *     |     |                    channel is closed it exits.
 *     |     |
 *     |     +-- job child        fork of the zygote, one per phase of one
 *     |                          candidate: build (runs the candidate),
 *     |                          validate (loads only the exported archive),
 *     |                          fix (reads the source as data).  Confined by
 *     |                          confine_apply() before it reads a byte of
 *     |                          candidate input; parent-death signal
 *     |                          SIGKILL.  A job may be *held*: forked and
 *     |                          confined ahead of need, it waits on fd 4
 *     |                          for its request before any Python runs (the
 *     |                          validate child beside the build child; a
 *     |                          spare build child in serve and batch).
 *     |
 *     +-- fixer command          the operator's program (debug.fixer_command),
 *                                run outside the sandbox with a timer, JSON
 *                                on stdin and stdout (supervisor/fixer.c).
 *
 * Per job, the supervisor creates three pipes (four for a held job) and
 * hands their child ends to the zygote with the job message; the child
 * keeps exactly the fds of proto/job.h: 0 /dev/null, 1 and 2 its output
 * (captured, capped, flood-killed), 3 its report (JSON lines, judged by
 * pipeline/verdict.c), and 4 a held job's request.  Each job has its own
 * report pipe, so the validate child reports on a channel the build child
 * never had: what the candidate wrote anywhere cannot reach the validate
 * report, and the verdict is built from that report plus what the
 * supervisor observed itself (exit status, the timer, the cgroup's OOM
 * counter, CPU time from wait4).
 *
 * The zygote forks the children, so it reaps them and forwards the wait
 * status and rusage over ctl.  The supervisor kills a job itself: SIGKILL
 * to the child's process group (the child called setsid) and to its cgroup.
 * Work directories and cgroups are named after the supervisor's pid and
 * locked while it lives, so a supervisor that starts after one was
 * SIGKILLed reclaims what is stale. */
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

#include "common/util.h"
#include "proto/ctl.h"
#include "proto/job.h"
#include "supervisor/supervise.h"
#include "supervisor/workdir.h"

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
		/* a signal the caller handles (a worker's SIGINT/SIGTERM: stop
		 * after this) must not fail the zygote's start; the deadline holds */
		double end = util_now() + timeout_ms / 1000.0;

		while ((rc = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
			timeout_ms = (int)((end - util_now()) * 1000.0);
			if (timeout_ms < 0)
				timeout_ms = 0;
		}
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return -errno;
	}
	buf = xmalloc(CTL_MSG_MAX);
	rc = ctl_recv(ctl, buf, CTL_MSG_MAX, &len, NULL, NULL);
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
 * anything else (a copy, a relocated install) the aegis-zygote beside the
 * running executable.  Whichever it is must speak our CTL_PROTOCOL, which
 * the ready message proves, so a stale program is refused, not trusted.
 * The supervisor never embeds Python itself: it does not link libpython.
 */
static char *zygote_program(void)
{
	char self[4096], *slash;
	ssize_t n;

	switch (util_exe_kind()) {
	case UTIL_EXE_BUILD: return xstrdup(AEGIS_BUILD_ZYGOTE);
	case UTIL_EXE_INSTALLED: return xstrdup(AEGIS_ZYGOTE_EXE);
	case UTIL_EXE_OTHER: break;
	}
	if (util_relocated_prefix())
		return xstrdup(util_relocate(AEGIS_ZYGOTE_EXE));
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup("aegis-zygote");
	self[n] = '\0';
	slash = strrchr(self, '/');
	return xasprintf("%.*s/aegis-zygote", slash ? (int)(slash - self) : 0, self);
}

/* In the forked child: exec the zygote program PROG with the control
 * sockets and nothing else of ours: no LD_*, PYTHON* or secret variable
 * reaches it.  The one exception is the sanitizers' options, read by their
 * runtime before main() in a --enable-sanitizers build (the tests rely on
 * them), and wiped with the rest by the zygote.  If exec fails, tell the
 * supervisor why on the first socket and exit. */
static void __attribute__((noreturn)) exec_zygote(const char *prog, const int *ctls, size_t n, const char *helpers)
{
	static const char *const keep[] = {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
	enum { NKEEP = sizeof(keep) / sizeof(keep[0]) };
	char *envp[NKEEP + 1] = {NULL};
	char **argv, (*fdarg)[16], msg[600];
	size_t ne = 0, i;
	int e;

	for (char **env = environ; env && *env && ne < NKEEP; env++)
		for (size_t k = 0; k < NKEEP; k++)
			if (!strncmp(*env, keep[k], strlen(keep[k])))
				envp[ne++] = *env;
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
	e = errno;
	snprintf(msg, sizeof(msg), "{\"op\":\"fatal\",\"error\":\"cannot run the zygote program %.400s: %s\"}", prog,
		 strerror(e));
	(void)ctl_send(ctls[0], msg, strlen(msg), NULL, 0);
	_exit(127);
}

int supervise_start_many(struct supervisor *sv, size_t n, const struct policy *pol, const char *pyhelpers_dir,
			 char *err, size_t errlen)
{
	int(*pairs)[2] = xcalloc(n, sizeof(*pairs));
	int *child_ends = xcalloc(n, sizeof(int));
	char *helpers, *prog = zygote_program();
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
	workdir_reclaim(pol);
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
		exec_zygote(prog, child_ends, n, helpers);
	}
	for (size_t i = 0; i < n; i++) {
		close(pairs[i][1]);
		sv[i].ctl = pairs[i][0];
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

		const char *proto = json_get_str(msg, "protocol");

		if (r < 0 || !op || strcmp(op, "ready") || !proto || strcmp(proto, CTL_PROTOCOL)) {
			const char *e = json_get_str(msg, "error");

			if (!e && op && !strcmp(op, "ready"))
				snprintf(err, errlen,
					 "the zygote program %s speaks protocol %s, this supervisor %s: install both "
					 "from one build",
					 prog, proto ? proto : "(none)", CTL_PROTOCOL);
			else
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
		if (json_get(msg, "runtime") && json_get(msg, "runtime")->type == JSON_OBJECT)
			sv[i].runtime = json_take(msg, "runtime");
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
	free(prog);
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

		(void)ctl_send(s->ctl, bye, sizeof(bye) - 1, NULL, 0);
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
	json_free(s->runtime);
	s->runtime = NULL;
	free(s->pyhelpers_dir);
	s->pyhelpers_dir = NULL;
}

const char *const *supervise_ro_roots(const struct supervisor *s)
{
	static const char *roots[8];

	roots[0] = AEGIS_PYTHON_STDLIB;
	roots[1] = AEGIS_PYTHON_DYNLOAD;
	roots[2] = util_relocate(AEGIS_TORCH_DIR);
	roots[3] = s->pyhelpers_dir;
	roots[4] = "/usr/lib"; /* shared libraries torch loads lazily */
	roots[5] = "/etc/ld.so.cache";
	roots[6] = NULL;
	return roots;
}

/* ---- one job --------------------------------------------------------------- */

/* The job object for the zygote (proto/job.h): the policy's confinement
 * keys, through the one codec, and what only this supervisor knows. */
static struct json *job_json(const struct supervisor *s, const struct policy *p, const char *workdir, bool writable,
			     const struct cgroup *cg)
{
	char *procs[2];
	struct job_facts f = {
	    .workdir = workdir,
	    .workdir_writable = writable,
	    .memory_rlimit = !cg->has_memory,
	    .pids_rlimit = !cg->has_pids,
	    .ro_paths = supervise_ro_roots(s),
	};

	f.ncgroups = cgroup_procs_files(cg, procs);
	for (size_t i = 0; i < f.ncgroups; i++)
		f.cgroups[i] = procs[i];
	return job_object(p, &f);
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

int supervise_job_start(struct supervisor *s, const struct policy *p, const struct json *request, const char *workdir,
			bool writable, bool hold, struct job_run *r)
{
	struct json *msg = NULL;
	struct sbuf sb = SBUF_INIT;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->pidfd = -1;
	r->out[0] = r->out[1] = r->err[0] = r->err[1] = -1;
	r->rep[0] = r->rep[1] = r->hold[0] = r->hold[1] = -1;
	r->pol = p;
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
	json_set(msg, "job", job_json(s, p, workdir, writable, &r->cg));
	json_write(msg, &sb, -1);
	{
		int fds[4] = {r->out[1], r->err[1], r->rep[1], r->hold[0]};
		int e = ctl_send(s->ctl, sb.buf, sb.len, fds, hold ? 4 : 3);

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

/* A held job's request on its start pipe: its length in decimal and a
 * newline, then the JSON (proto/job.h), so that bytes may follow it.
 * 0 or -1 with errno. */
static int send_request(int fd, const struct json *request)
{
	struct sbuf sb = SBUF_INIT, msg = SBUF_INIT;
	int rc;

	json_write(request, &msg, -1);
	sbuf_addf(&sb, "%zu\n", msg.len);
	sbuf_add(&sb, msg.buf, msg.len);
	rc = util_write_all(fd, sb.buf, sb.len);
	sbuf_release(&sb);
	sbuf_release(&msg);
	return rc < 0 ? -1 : 0;
}

int supervise_job_release(struct supervisor *s, struct job_run *r, const struct json *request)
{
	int fd;

	(void)s;
	if (r->hold[1] < 0) {
		errno = EINVAL;
		return -1;
	}
	if (send_request(r->hold[1], request) < 0)
		return -1;
	fd = r->hold[1];
	r->hold[1] = -1;
	close_pair(r->hold);
	r->released_at = util_now();
	return fd;
}

int supervise_job_finish(struct supervisor *s, struct job_run *r, const struct json *request, struct job_outcome *o)
{
	const struct policy *p = r->pol;
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
		(void)send_request(r->hold[1], request);
		close_pair(r->hold);
	}
	t0 = r->released_at > 0 ? r->released_at : util_now();
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
		if (open_rep && pfd[3].revents) {
			size_t had = o->report.len;

			open_rep = drain(r->rep[0], &o->report, REPORT_MAX, &o->report_dropped);
			if (r->on_report && o->report.len > had)
				r->on_report(r->on_report_arg, &o->report);
		}
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

int supervise_job(struct supervisor *s, const struct policy *pol, const struct json *request, const char *workdir,
		  bool writable, struct job_outcome *o)
{
	struct job_run r;

	(void)supervise_job_start(s, pol, request, workdir, writable, false, &r);
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
 * confinement are paid while nobody waits.  It is made with the policy of
 * the candidate before it and used only by a candidate whose policy gives
 * the same job_spare_key(): every key the zygote confines a child with.
 * What its Python does comes with the request, from the new candidate's
 * policy. */

/* Remove the spare's work directory and forget its key. */
static void spare_forget(struct supervisor *s)
{
	workdir_drop(s->spare_workdir, s->spare_lock, false);
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
	char err[256];

	if (s->have_spare || s->ctl < 0)
		return;
	s->spare_workdir = workdir_make(pol, true, &s->spare_lock, err, sizeof(err));
	if (!s->spare_workdir)
		return; /* the next candidate makes its own and says why */
	if (supervise_job_start(s, pol, NULL, s->spare_workdir, true, true, &s->spare) == 0) {
		s->spare.pol = NULL; /* POL was for its confinement; the taker brings its own */
		s->have_spare = true;
		s->spare_key = job_spare_key(pol);
	} else {
		free(s->spare.failure);
		s->spare.failure = NULL;
		spare_forget(s);
	}
}

bool supervise_take_spare(struct supervisor *s, const struct policy *pol, struct job_run *r, char **workdir,
			  int *lock_fd)
{
	char *key;
	bool same;

	if (!s->have_spare)
		return false;
	key = job_spare_key(pol);
	same = !strcmp(key, s->spare_key);
	free(key);
	if (!same) {
		drop_spare(s);
		return false;
	}
	*r = s->spare;
	r->pol = pol; /* its request, timers and limits are this candidate's */
	*workdir = s->spare_workdir;
	*lock_fd = s->spare_lock;
	s->spare_workdir = NULL; /* the caller's now */
	s->spare_lock = -1;
	spare_forget(s);
	return true;
}
