/* zygote.c - see zygote.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/confine.h"
#include "common/json.h"
#include "zygote/pyhost.h"
#include "common/util.h"
#include "proto/ctl.h"
#include "proto/job.h"
#include "zygote/zygote.h"

/* ---- bookkeeping of live jobs, for cleanup ----------------------------- */

struct zjob {
	int ctl; /* the channel the job came from, and reports to */
	long id;
	pid_t pid;
	char *workdir; /* removed at cleanup */
	char *cgroups[2];
};

static struct zjob *jobs;
static int *ctls; /* one per supervisor worker; -1 once closed */
static size_t nctls;
static size_t njobs;

static void send_json(int ctl, struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	json_write(j, &sb, -1);
	(void)ctl_send(ctl, sb.buf, sb.len, NULL, 0);
	sbuf_release(&sb);
	json_free(j);
}

static void forget_job(size_t i)
{
	free(jobs[i].workdir);
	free(jobs[i].cgroups[0]);
	free(jobs[i].cgroups[1]);
	jobs[i] = jobs[--njobs];
}

/* Kill, reap and clean up every job that came from CTL (all jobs when CTL
 * is -1): its supervisor is gone, so nothing of it may be left behind. */
static void cleanup_jobs(int ctl)
{
	for (size_t i = 0; i < njobs; i++) {
		if (ctl >= 0 && jobs[i].ctl != ctl)
			continue;
		kill(-jobs[i].pid, SIGKILL);
		kill(jobs[i].pid, SIGKILL);
	}
	for (size_t i = 0; i < njobs;) {
		if (ctl >= 0 && jobs[i].ctl != ctl) {
			i++;
			continue;
		}
		while (waitpid(jobs[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
		for (int k = 0; k < 2; k++) {
			if (!jobs[i].cgroups[k])
				continue;
			for (int t = 0; t < 100 && rmdir(jobs[i].cgroups[k]) < 0 && errno == EBUSY; t++)
				usleep(5000);
		}
		if (jobs[i].workdir)
			util_remove_workdir(jobs[i].workdir);
		forget_job(i);
	}
}

static void __attribute__((noreturn)) cleanup_and_exit(void)
{
	cleanup_jobs(-1);
	_exit(0);
}

static void reap(void)
{
	for (;;) {
		struct rusage ru;
		int status;
		pid_t pid = wait4(-1, &status, WNOHANG, &ru);
		struct json *j;

		if (pid <= 0)
			return;
		for (size_t i = 0; i < njobs; i++) {
			if (jobs[i].pid != pid)
				continue;
			j = json_object();
			json_set(j, "op", json_str("exited"));
			json_set(j, "id", json_num((double)jobs[i].id));
			json_set(j, "pid", json_num(pid));
			json_set(j, "status", json_num(status));
			json_set(j, "cpu_s",
				 json_num((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
					  (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6));
			json_set(j, "maxrss_kb", json_num((double)ru.ru_maxrss));
			send_json(jobs[i].ctl, j);
			/* the supervisor owns the directories from here on */
			forget_job(i);
			break;
		}
	}
}

/* The confinement of one job: its policy (decoded by the one codec of
 * proto/job.h) and the supervisor's facts, in confine_apply()'s terms. */
static void confine_from_job(const struct job_config *j, struct confine_config *c)
{
	static char *const no_env[] = {NULL};
	const struct policy *p = &j->pol;

	c->workdir = j->facts.workdir;
	c->workdir_writable = j->facts.workdir_writable;
	for (size_t i = 0; i < j->facts.ncgroups; i++)
		c->cgroup_dirs[c->ncgroups++] = (char *)j->facts.cgroups[i];
	c->cpu_time_s = p->limits.cpu_time_s;
	c->memory_mb = p->limits.memory_mb;
	c->memory_rlimit = j->facts.memory_rlimit;
	c->max_file_bytes = p->limits.max_file_bytes;
	c->max_open_files = p->limits.max_open_files;
	c->max_pids = p->limits.max_pids;
	c->pids_rlimit = j->facts.pids_rlimit;
	c->ns_net = p->sandbox.namespaces.net;
	c->ns_ipc = p->sandbox.namespaces.ipc;
	c->ns_mount = p->sandbox.namespaces.mount;
	c->ns_pid = p->sandbox.namespaces.pid;
	c->ns_user = p->sandbox.namespaces.user;
	c->landlock = p->sandbox.landlock;
	c->ro_paths = j->facts.ro_paths;
	c->seccomp = p->sandbox.seccomp;
	c->allow_unix_sockets = p->sandbox.allow_unix_sockets;
	c->allow_rwx_memory = p->sandbox.allow_rwx_memory;
	c->job_uid = (uid_t)p->sandbox.uid;
	c->job_gid = (gid_t)p->sandbox.gid;
	/* NULL-terminated by strv_push */
	c->env = p->sandbox.environment.v ? p->sandbox.environment.v : no_env;
}

/*
 * Keep freed memory in the heap for reuse.  glibc's defaults hand every
 * block over 128 KiB to mmap and give it back to the kernel on free, and
 * a training step allocates and frees the same large tensors each time:
 * 100 steps of the benchmark's small transformer took ~45,000 page faults
 * (each one charged to the job's memory cgroup), 3% of the run.  With
 * blocks up to 32 MiB served from the heap and the heap trimmed only past
 * 64 MiB of free space at its top, the same run takes ~4,000.  Peak memory
 * is what the job touched at its peak either way; the limits still hold
 * (the heap is data, under the same cgroup and rlimits).
 */
static void tune_malloc(void)
{
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

/* The job child, after fork: confine, then run the phase.  Never returns. */
/* A held job's request from its start pipe (JOB_FD_HOLD): the length in
 * decimal and a newline, then that many bytes of JSON (supervise.c's
 * send_request).  The pipe is closed after it unless the request says
 * "artifact_bytes": then the archive follows on it, for the Python side to
 * read, and nothing is read past the request here.  0, or -1. */
static int read_held_request(char **out, size_t *out_len)
{
	size_t len = 0, got = 0;
	int digits = 0;
	char c, *buf;
	struct json *req;
	bool stream;

	for (;;) {
		ssize_t n = read(JOB_FD_HOLD, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			return -1;
		if (c == '\n' && digits > 0)
			break;
		if (c < '0' || c > '9' || ++digits > 9)
			return -1;
		len = len * 10 + (size_t)(c - '0');
	}
	if (len == 0 || len > CTL_MSG_MAX)
		return -1;
	buf = xmalloc(len + 1);
	while (got < len) {
		ssize_t n = read(JOB_FD_HOLD, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	buf[len] = '\0';
	req = json_parse(buf, len, NULL, 0);
	stream = req && json_get(req, "artifact_bytes") != NULL;
	json_free(req);
	if (!stream)
		close(JOB_FD_HOLD);
	*out = buf;
	*out_len = len;
	return 0;
}

static void __attribute__((noreturn))
job_child(const struct job_config *job, const struct json *req, const int *fds, size_t nfds)
{
	struct confine_config c = {0};
	struct confine_status st = {0};
	char err[1024];
	struct sbuf sb = SBUF_INIT;
	sigset_t all;
	int rc;

	/* undo the zygote's signal state: nothing blocked, defaults, no SIGPIPE */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* past RLIMIT_FSIZE a write fails with EFBIG instead of killing us */
	signal(SIGXFSZ, SIG_IGN);
	tune_malloc();

	c.fd_stdout = fds[0];
	c.fd_stderr = fds[1];
	c.fd_report = fds[2];
	c.hold = nfds == 4;
	c.fd_hold = c.hold ? fds[3] : -1;
	confine_from_job(job, &c);
	if (!req && !c.hold) {
		snprintf(err, sizeof(err), "malformed job request");
		rc = -1;
	} else {
		rc = confine_apply(&c, &st, err, sizeof(err));
	}
	if (rc < 0) {
		int fd = st.fds_moved ? JOB_FD_REPORT : c.fd_report;

		sbuf_adds(&sb, "{\"setup_error\":");
		json_write_string(&sb, err, strlen(err));
		sbuf_adds(&sb, "}\n");
		(void)util_write_all(fd, sb.buf, sb.len);
		_exit(CONFINE_EXIT_SETUP);
	}
	/* which layers hold, written before any candidate byte is read */
	sbuf_addf(&sb,
		  "{\"sandbox\":{\"seccomp\":%s,\"landlock_abi\":%d,\"no_new_privs\":%s,\"uid\":%ld,"
		  "\"capabilities\":%s,\"cgroup\":%s,"
		  "\"namespaces\":{\"user\":%s,\"net\":%s,\"ipc\":%s,\"mount\":%s,\"pid\":%s}}}\n",
		  st.seccomp ? "true" : "false", st.landlock_abi, st.no_new_privs ? "true" : "false", st.uid,
		  st.caps_none ? "\"none\"" : "\"none effective, bounding set kept\"", st.cgroup ? "true" : "false",
		  st.ns_user ? "true" : "false", st.ns_net ? "true" : "false", st.ns_ipc ? "true" : "false",
		  st.ns_mount ? "true" : "false", st.ns_pid ? "true" : "false");
	(void)util_write_all(JOB_FD_REPORT, sb.buf, sb.len);
	sbuf_release(&sb);
	if (c.hold) {
		/* A held job waits here, confined, for its request.  EOF with
		 * nothing read (the supervisor gave up on this child, or died)
		 * ends the child before it has run any Python. */
		char *buf;
		size_t len;

		if (read_held_request(&buf, &len) < 0)
			_exit(CONFINE_EXIT_SETUP);
		rc = pyhost_run_job(buf, len);
	} else {
		json_write(req, &sb, -1);
		rc = pyhost_run_job(sb.buf, sb.len);
	}
	_exit(rc);
}

/* ---- the zygote's own state, which every job child inherits ----------------
 *
 * Recorded once warm; checked (and put back) before every fork, so that
 * nothing a job managed to change in its parent reaches the next
 * candidate.  Job children cannot change any of it (the privilege step and
 * seccomp's "itself only" rules), so a difference is the sandbox's bug:
 * the job is refused when the state cannot be restored. */
static const int watched_rlimits[] = {RLIMIT_CPU,    RLIMIT_FSIZE,  RLIMIT_DATA,    RLIMIT_STACK,   RLIMIT_CORE,
				      RLIMIT_NOFILE, RLIMIT_AS,     RLIMIT_NPROC,   RLIMIT_MEMLOCK, RLIMIT_NICE,
				      RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_MSGQUEUE};
#define N_WATCHED (sizeof(watched_rlimits) / sizeof(watched_rlimits[0]))

static struct {
	bool recorded;
	int nice;
	int policy;
	struct rlimit rl[N_WATCHED];
	int cwd; /* an fd on the directory it started in */
	struct stat cwd_st;
} base;

static void record_state(void)
{
	errno = 0;
	base.nice = getpriority(PRIO_PROCESS, 0);
	base.policy = sched_getscheduler(0);
	for (size_t i = 0; i < N_WATCHED; i++)
		getrlimit(watched_rlimits[i], &base.rl[i]);
	base.cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	base.recorded = base.cwd >= 0 && fstat(base.cwd, &base.cwd_st) == 0;
}

/* 0 when the zygote's state is as recorded (again); else -1 with WHY. */
static int restore_state(char *why, size_t len)
{
	struct stat st;
	int nice;

	if (!base.recorded)
		return 0;
	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (nice != base.nice && setpriority(PRIO_PROCESS, 0, base.nice) < 0) {
		snprintf(why, len, "the zygote's nice value changed from %d to %d", base.nice, nice);
		return -1;
	}
	if (sched_getscheduler(0) != base.policy) {
		struct sched_param sp = {0};

		if (sched_setscheduler(0, base.policy, &sp) < 0) {
			snprintf(why, len, "the zygote's scheduling policy changed");
			return -1;
		}
	}
	for (size_t i = 0; i < N_WATCHED; i++) {
		struct rlimit rl;

		if (getrlimit(watched_rlimits[i], &rl) == 0 &&
		    (rl.rlim_cur != base.rl[i].rlim_cur || rl.rlim_max != base.rl[i].rlim_max) &&
		    setrlimit(watched_rlimits[i], &base.rl[i]) < 0) {
			snprintf(why, len, "the zygote's resource limit %d changed", watched_rlimits[i]);
			return -1;
		}
	}
	if (stat(".", &st) < 0 || st.st_dev != base.cwd_st.st_dev || st.st_ino != base.cwd_st.st_ino) {
		if (fchdir(base.cwd) < 0) {
			snprintf(why, len, "the zygote's working directory changed");
			return -1;
		}
	}
	return 0;
}

static void start_job(int ctl, struct json *msg, int *fds, size_t nfds)
{
	struct json *reply = json_object();
	double idd = -1;
	pid_t pid;
	struct job_config job = {0};

	json_get_num(msg, "id", &idd);
	json_set(reply, "id", json_num(idd));
	if (nfds != 3 && nfds != 4) {
		json_set(reply, "op", json_str("failed"));
		json_set(reply, "error", json_str("job message without its three (or four) fds"));
		goto out_send;
	}
	{
		char why[1024];

		if (job_object_parse(json_get(msg, "job"), &job, why, sizeof(why)) < 0 ||
		    restore_state(why, sizeof(why)) < 0) {
			json_set(reply, "op", json_str("failed"));
			json_set(reply, "error", json_str(why));
			goto out_send;
		}
	}
	fflush(NULL);
	pyhost_before_fork();
	pid = fork();
	if (pid == 0) {
		pyhost_after_fork_child();
		/* no job child holds any control channel */
		for (size_t i = 0; i < nctls; i++)
			if (ctls[i] >= 0)
				close(ctls[i]);
		job_child(&job, json_get(msg, "request"), fds, nfds);
	}
	pyhost_after_fork_parent();
	if (pid < 0) {
		json_set(reply, "op", json_str("failed"));
		json_set(reply, "error", json_str(strerror(errno)));
		goto out_send;
	}
	jobs = xrealloc(jobs, (njobs + 1) * sizeof(*jobs));
	memset(&jobs[njobs], 0, sizeof(*jobs));
	jobs[njobs].ctl = ctl;
	jobs[njobs].id = (long)idd;
	jobs[njobs].pid = pid;
	jobs[njobs].workdir = xstrdup(job.facts.workdir);
	for (size_t i = 0; i < job.facts.ncgroups; i++)
		jobs[njobs].cgroups[i] = xstrdup(job.facts.cgroups[i]);
	njobs++;
	json_set(reply, "op", json_str("started"));
	json_set(reply, "pid", json_num(pid));
out_send:
	job_config_release(&job);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	send_json(ctl, reply);
}

/* The supervisor's environment (API keys, tokens) was copied into our
 * memory by fork().  Job children are forked from us and native code in
 * them could read our memory image, so wipe the strings themselves, not
 * just the environ pointer, before the interpreter starts and copies them
 * into os.environ.  Job children get exactly the policy's environment. */
static void scrub_environment(void)
{
	for (char **e = environ; e && *e; e++)
		explicit_bzero(*e, strlen(*e));
	clearenv();
}

void zygote_main(const int *ctl_fds, size_t n, const char *pyhelpers_dir)
{
	char err[2048], runtime[512];
	sigset_t mask;
	int sfd, devnull;
	double t0 = util_now();
	char *buf;
	struct pollfd *pfd;

	/* die with the supervisor; SIGTERM is read from the signalfd below.
	 * A terminal's interrupt (SIGINT, SIGQUIT reach the whole foreground
	 * group) is the supervisor's to handle: a worker finishes the job in
	 * hand, run stops.  A zygote that left on it turned the job in flight
	 * into an error row, "the zygote died" (issue 30). */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	prctl(PR_SET_NAME, "aegis-zygote");
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	/* the zygote has no business with the terminal */
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		close(devnull);
	}
	if (sfd < 0 || n == 0)
		_exit(1);
	/* A supervisor that died before PR_SET_PDEATHSIG was armed has closed
	 * its ends of every control socket.  (Not "getppid() == 1": that is
	 * also a living supervisor running as PID 1 of a pid namespace.) */
	{
		size_t hung = 0;

		for (size_t i = 0; i < n; i++) {
			struct pollfd p = {ctl_fds[i], POLLIN, 0};

			if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
				hung++;
		}
		if (hung == n)
			_exit(1);
	}
	nctls = n;
	ctls = xcalloc(n, sizeof(int));
	memcpy(ctls, ctl_fds, n * sizeof(int));
	/* PYHELPERS_DIR may point into the environment we are about to wipe */
	pyhelpers_dir = xstrdup(pyhelpers_dir);
	scrub_environment();
	if (pyhost_init(pyhelpers_dir, err, sizeof(err)) < 0 ||
	    pyhost_warm(runtime, sizeof(runtime), err, sizeof(err)) < 0) {
		struct json *j = json_object();

		json_set(j, "op", json_str("fatal"));
		json_set(j, "error", json_str(err));
		for (size_t i = 0; i < n; i++)
			send_json(ctls[i], json_dup(j));
		json_free(j);
		_exit(1);
	}
	record_state();
	{
		struct json *j = json_object();

		json_set(j, "op", json_str("ready"));
		json_set(j, "protocol", json_str(CTL_PROTOCOL));
		json_set(j, "runtime", json_parse(runtime, strlen(runtime), NULL, 0));
		json_set(j, "threads", json_num(pyhost_thread_count()));
		json_set(j, "warm_s", json_num(util_now() - t0));
		for (size_t i = 0; i < n; i++)
			send_json(ctls[i], json_dup(j));
		json_free(j);
	}
	buf = xmalloc(CTL_MSG_MAX);
	pfd = xcalloc(n + 1, sizeof(*pfd));
	for (;;) {
		size_t open_ctls = 0;

		pfd[0] = (struct pollfd){sfd, POLLIN, 0};
		for (size_t i = 0; i < n; i++) {
			pfd[i + 1] = (struct pollfd){ctls[i], POLLIN, 0};
			open_ctls += ctls[i] >= 0;
		}
		if (!open_ctls)
			cleanup_and_exit();
		if (poll(pfd, (nfds_t)n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			cleanup_and_exit();
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGCHLD)
					cleanup_and_exit();
			}
			reap();
		}
		for (size_t c = 0; c < n; c++) {
			int ctl = ctls[c];

			if (ctl < 0 || !(pfd[c + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			{
				int fds[8];
				size_t nfds = 8, len;
				int rc = ctl_recv(ctl, buf, CTL_MSG_MAX, &len, fds, &nfds);
				struct json *msg;
				const char *op;

				if (rc == -EPIPE || rc == -ECONNRESET) {
					/* that supervisor is gone: its jobs go with it */
					cleanup_jobs(ctl);
					close(ctl);
					ctls[c] = -1;
					continue;
				}
				if (rc < 0)
					continue;
				msg = json_parse(buf, len, NULL, 0);
				op = json_get_str(msg, "op");
				if (op && !strcmp(op, "job")) {
					start_job(ctl, msg, fds, nfds);
				} else {
					for (size_t i = 0; i < nfds; i++)
						close(fds[i]);
					if (op && !strcmp(op, "exit")) {
						cleanup_jobs(ctl);
						close(ctl);
						ctls[c] = -1;
					}
				}
				json_free(msg);
			}
		}
	}
}
