/* serve.c - batch and serve: a pool of supervisor workers, one zygote.
 *
 *   aegis-sandbox (front)         reads requests, dispatches, writes results;
 *     |                           reaps the zygote and restarts the pool
 *     +-- zygote                  shared: one torch import for everything
 *     +-- worker 1..N             a supervisor each (C only), one control
 *                                 channel to the zygote each; runs one
 *                                 candidate at a time with exactly the
 *                                 isolation of "run"
 *
 * front <-> worker: a stream socketpair carrying one JSON line per request
 * ({"seq": n, "request": {...}}) and one per result.  A malformed request
 * gets an error line and the server goes on; a zygote that dies is
 * restarted with a fresh pool of workers (the jobs it was running are
 * reported as errors). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/base.h"
#include "store/pool.h"
#include "policy/inputspec.h"
#include "pipeline/pipeline.h"
#include "cli/serve.h"
#include "pipeline/request.h"
#include "supervisor/supervise.h"
#include "common/util.h"

#define LINE_MAX_BYTES (64u << 20)

struct options {
	const char *db;
	bool request_approval;
	const struct policy *pol;
};

/* ---- the worker --------------------------------------------------------- */

static struct json *request_error(const struct json *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct json *serve_error_result(const struct json *req, const char *stage, const char *type, const char *message)
{
	struct json *res = json_object(), *e = json_object();

	json_set(res, "request_id", json_get(req, "id") ? json_dup(json_get(req, "id")) : json_null());
	json_set(res, "status", json_str("error"));
	json_set(res, "stage", json_str(stage));
	json_set(res, "success", json_bool(false));
	json_set(e, "type", json_str(type));
	json_set(e, "message", json_str(message));
	json_set(e, "line", json_null());
	json_set(res, "error", e);
	return res;
}

static struct json *request_error(const struct json *req, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return serve_error_result(req, "request", "RequestError", msg);
}

struct json *serve_run_request(struct supervisor *s, const struct policy *base, const struct json *req,
			       const char *stage_dir, struct request_run *rr)
{
	struct policy p;
	struct run_request r;
	struct inputspec spec = {0};
	struct candidate cand = {0};
	struct json *res = NULL;
	char err[512], *code = NULL;
	size_t code_len = 0;

	*rr = (struct request_run){0};
	if (request_parse(req, base, &r, err, sizeof(err)) < 0)
		return request_error(req, "%s", err);
	request_apply(&r, base, &p);
	if (inputspec_parse(r.input ? r.input : p.validation.input, &spec, err, sizeof(err)) < 0)
		return request_error(req, "%s", err);
	if (r.path) {
		int e = cli_read_source(r.path, (size_t)p.limits.code_max_bytes, &code, &code_len);

		if (e < 0) {
			inputspec_release(&spec);
			return request_error(req, "cannot read %s: %s", r.path, strerror(-e));
		}
	} else {
		code = xstrndup(r.code, r.code_len);
		code_len = r.code_len;
	}
	cand.code = code;
	cand.code_len = code_len;
	cand.class_name = r.class_name;
	cand.input = &spec;
	cand.arch_id = r.arch_id;
	cand.artifact_out = r.artifact_out;
	cand.dataset = r.has_dataset ? &r.dataset : NULL;
	cand.stage_dir = stage_dir;
	res = pipeline_run(s, &p, &cand);
	rr->used = p.limits;
	rr->code = code;
	rr->code_len = code_len;
	rr->parent = r.parent;
	rr->generation = r.generation;
	rr->want_approval = r.request_approval || p.approval.required;
	/* only the staged archive lives on in the candidate */
	rr->cand.staged = cand.staged;
	rr->cand.staged_len = cand.staged_len;
	memcpy(rr->cand.staged_sha256, cand.staged_sha256, sizeof(cand.staged_sha256));
	json_set(res, "request_id", json_get(req, "id") ? json_dup(json_get(req, "id")) : json_null());
	inputspec_release(&spec);
	return res;
}

void serve_request_release(struct request_run *rr)
{
	cli_drop_staged(&rr->cand);
	free(rr->code);
	*rr = (struct request_run){0};
}

/* One request, the same pipeline as "run", recorded in the pool unless it
 * says "record": false (a re-validation of a candidate recorded already).
 * The result is the caller's. */
static struct json *handle(struct supervisor *s, const struct options *o, const struct json *req,
			   struct policy_limits *used)
{
	bool record = o->db && json_get_bool(req, "record", true);
	char *stage_dir = record ? pool_stage_dir(o->db) : NULL;
	struct request_run rr;
	struct json *res = serve_run_request(s, o->pol, req, stage_dir, &rr);

	*used = rr.used;
	if (record && rr.code) {
		double t0 = util_now();

		cli_record_result(o->db, res, rr.code, rr.code_len, rr.parent, rr.generation,
				  o->request_approval || rr.want_approval, &rr.cand);
		/* after the row is written: the pool's copy has the times without it */
		if (json_get(res, "timings"))
			json_set(json_get(res, "timings"), "record_s", json_num(util_now() - t0));
	}
	serve_request_release(&rr);
	free(stage_dir);
	return res;
}

/* Read one '\n'-terminated line from FD into LINE (without the newline),
 * buffering what follows in PENDING.  Returns 1 for a line, 0 at EOF, -1
 * on error, and -2 once for a line longer than MAX: its bytes
 * are dropped up to its newline (a client that never sends one cannot
 * grow this process without bound). */
static int read_line(int fd, struct sbuf *pending, struct sbuf *line, size_t max)
{
	bool skipping = false;

	for (;;) {
		char *nl = pending->len ? memchr(pending->buf, '\n', pending->len) : NULL;
		char buf[65536];
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - pending->buf);

			sbuf_release(line);
			if (!skipping)
				sbuf_add(line, pending->buf, len);
			memmove(pending->buf, nl + 1, pending->len - len - 1);
			pending->len -= len + 1;
			pending->buf[pending->len] = '\0';
			return skipping ? -2 : 1;
		}
		if (pending->len > max) {
			skipping = true;
			pending->len = 0;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return skipping ? -2 : n == 0 ? 0 : -1;
		sbuf_add(pending, buf, (size_t)n);
	}
}

static void __attribute__((noreturn)) worker_main(struct supervisor *s, const struct options *o, int sock)
{
	struct sbuf pending = SBUF_INIT, line = SBUF_INIT;
	struct policy_limits used = o->pol->limits;

	signal(SIGINT, SIG_IGN);
	while (read_line(sock, &pending, &line, SIZE_MAX) == 1) {
		struct json *msg = json_parse(sbuf_str(&line), line.len, NULL, 0), *res, *out = json_object();
		struct sbuf sb = SBUF_INIT;
		double seq = -1;

		json_get_num(msg, "seq", &seq);
		res = handle(s, o, json_get(msg, "request"), &used);
		json_set(out, "seq", json_num(seq));
		json_set(out, "zygote_lost", json_bool(s->ctl < 0));
		json_set(out, "result", res);
		json_write(out, &sb, -1);
		sbuf_addc(&sb, '\n');
		if (util_write_all(sock, sb.buf, sb.len) < 0)
			break;
		sbuf_release(&sb);
		json_free(out);
		json_free(msg);
		{
			/* the next candidate's build child, made while we wait for
			 * it, with the limits of the one before (see supervise.c) */
			struct policy next = *o->pol;

			next.limits = used;
			supervise_make_spare(s, &next);
		}
	}
	supervise_stop(s);
	_exit(0);
}

/* ---- the front ------------------------------------------------------------ */

struct worker {
	pid_t pid;
	int sock;
	long seq; /* in flight, or -1 */
	struct sbuf pending;
};

struct front {
	const struct options *o;
	int njobs;
	struct worker *w;
	pid_t zygote;
	long expected; /* requests in a batch file, counted first; -1: unknown */
};

static void workers_stop(struct front *f)
{
	for (int i = 0; i < f->njobs; i++) {
		if (f->w[i].sock >= 0)
			close(f->w[i].sock);
		if (f->w[i].pid > 0)
			while (waitpid(f->w[i].pid, NULL, 0) < 0 && errno == EINTR)
				;
		sbuf_release(&f->w[i].pending);
		f->w[i] = (struct worker){0, -1, -1, SBUF_INIT};
	}
	if (f->zygote > 0)
		while (waitpid(f->zygote, NULL, 0) < 0 && errno == EINTR)
			;
	f->zygote = 0;
}

static int workers_start(struct front *f, char *err, size_t errlen)
{
	struct supervisor *sv = xcalloc((size_t)f->njobs, sizeof(*sv));
	pid_t front = getpid();
	int rc = -1;

	if (supervise_start_many(sv, (size_t)f->njobs, f->o->pol, cli_pyhelpers_dir(), err, errlen) < 0)
		goto out;
	f->zygote = sv[0].zygote;
	for (int i = 0; i < f->njobs; i++) {
		int pair[2];
		pid_t pid;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
			die("socketpair:");
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork:");
		if (pid == 0) {
			/* a worker dies with the front; the zygote then cleans up
			 * whatever job it was running */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != front) /* it died before the signal was armed */
				_exit(1);
			close(pair[0]);
			for (int k = 0; k < f->njobs; k++) {
				if (k != i && sv[k].ctl >= 0)
					close(sv[k].ctl);
				if (k < i && f->w[k].sock >= 0)
					close(f->w[k].sock);
			}
			sv[i].owns_zygote = false;
			worker_main(&sv[i], f->o, pair[1]);
		}
		close(pair[1]);
		f->w[i] = (struct worker){pid, pair[0], -1, SBUF_INIT};
	}
	/* the workers hold the channels now */
	for (int i = 0; i < f->njobs; i++) {
		close(sv[i].ctl);
		free(sv[i].pyhelpers_dir);
	}
	rc = 0;
out:
	free(sv);
	return rc;
}

#define REQUEST_FORMAT                                                                                                 \
	"One JSON request per line: {\"id\": any, \"code\": \"...\" | \"path\": \"model.py\",\n"                       \
	"\"input\": SPEC, \"class\": NAME, \"architecture_id\": ID, \"parent\": N,\n"                                  \
	"\"generation\": N, \"train\": bool, \"train_steps\": N, \"max_attempts\": N,\n"                               \
	"\"timeout\": S, \"memory_mb\": N (limits may only be lowered), \"artifact_out\": PATH,\n"                     \
	"\"request_approval\": bool, \"record\": bool (default true: with --db),\n"                                    \
	"\"dataset\": {\"inputs\": X.npy, \"targets\": Y.npy, \"epochs\": N, \"batch_size\": N,\n"                     \
	"\"learning_rate\": LR} (train the validated archive on it)}.  One result per line,\n"                         \
	"as 'run --json' plus \"request_id\".\n"

static const char batch_usage[] =
    "Usage: aegis-sandbox batch [OPTIONS] [FILE.jsonl|-]\n"
    "\n" REQUEST_FORMAT "Results keep the input's order unless --unordered.  A summary goes to stderr;\n"
    "exit 0 when every request was judged, 2 when one was malformed, 7 when the\n"
    "sandbox failed one (a candidate's verdict is in its result, not the exit code).\n"
    "\n"
    "  -p, --policy FILE|NAME policy file, or an installed policy by name\n"
    "      --jobs N           candidates at once (default: number of cores)\n"
    "      --unordered        results as they finish\n"
    "      --db PATH          record every candidate in this pool\n"
    "      --request-approval open an approval request for every accepted one\n"
    "  -h, --help             this help\n";

static const char serve_usage[] =
    "Usage: aegis-sandbox serve --stdio [OPTIONS]\n"
    "       aegis-sandbox serve --socket PATH [OPTIONS]\n"
    "\n" REQUEST_FORMAT "Results come as they finish.  --socket listens on a Unix socket (mode 0600);\n"
    "clients are served one after another, each with up to --jobs requests at once;\n"
    "SIGTERM finishes the jobs in flight, then stops.\n"
    "\n"
    "  -p, --policy FILE|NAME policy file, or an installed policy by name\n"
    "      --jobs N           candidates at once (default: number of cores)\n"
    "      --db PATH          record every candidate in this pool\n"
    "      --request-approval open an approval request for every accepted one\n"
    "      --stdio            requests on stdin, results on stdout\n"
    "      --socket PATH      requests from clients of this Unix socket\n"
    "  -h, --help             this help\n";

static bool busy_workers(const struct front *f)
{
	for (int i = 0; i < f->njobs; i++)
		if (f->w[i].seq >= 0)
			return true;
	return false;
}

/* TOTAL < 0: not known (a stream on standard input) */
static void progress(double t0, long done, long total, const long *counts)
{
	double el = util_now() - t0, rate = el > 0 ? done / el : 0;

	if (total >= 0)
		fprintf(stderr, "\r[%ld/%ld] %.2f/s ETA %.0fs ", done, total, rate,
			rate > 0 ? (total - done) / rate : 0);
	else
		fprintf(stderr, "\r[%ld/?] %.2f/s ", done, rate);
	fprintf(stderr, " accepted %ld  rejected %ld  violation %ld  other %ld ", counts[0], counts[1], counts[2],
		counts[3]);
}

/* The requests in a batch file (its non-empty lines), counted before the
 * first one runs so that progress knows the total; -1 for a pipe. */
static long count_requests(int fd)
{
	struct stat st;
	char buf[65536];
	long n = 0;
	bool blank = true;
	ssize_t r;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n') {
				n += !blank;
				blank = true;
			} else {
				blank = false;
			}
		}
	n += !blank;
	return lseek(fd, 0, SEEK_SET) == 0 && r == 0 ? n : -1;
}

/* Set by SIGTERM/SIGINT in socket mode: finish the jobs in flight, stop. */
static volatile sig_atomic_t stop_serving;

/* One stream of requests through the workers: what is in flight, what is
 * answered, what is written. */
struct stream {
	struct front f;
	int in_fd;
	struct sbuf in_pending, line;
	char **results; /* by request number: NULL pending, DONE written */
	long nreq, ndone, next_out;
	long *counts; /* accepted, rejected, violation, other */
};
#define DONE ((char *)-1)

/* Answer request number SEQ with the JSON value V (taken). */
static void answer(struct stream *st, long seq, struct json *v)
{
	struct sbuf out = SBUF_INIT;
	const char *status = json_get_str(v, "status");

	json_write(v ? v : json_null(), &out, -1);
	sbuf_addc(&out, '\n');
	st->results[seq] = sbuf_detach(&out, NULL);
	st->counts[status && !strcmp(status, "accepted")    ? 0
		   : status && !strcmp(status, "rejected")  ? 1
		   : status && !strcmp(status, "violation") ? 2
							    : 3]++;
	/* failures, not verdicts: a request that could not be run (malformed)
	 * and the sandbox's own errors */
	if (status && !strcmp(status, "error")) {
		const char *type = json_get_str(json_get(v, "error"), "type");

		st->counts[type && !strcmp(type, "RequestError") ? 5 : 4]++;
	}
	st->ndone++;
	json_free(v);
}

/* Read one client line and hand it to the idle worker IDLE (or answer a
 * malformed one here).  False at the end of the input. */
static bool take_request(struct stream *st, int idle)
{
	char err[1024];
	/* a client's line is bounded: one that never ends must not grow this
	 * process without limit */
	int r = read_line(st->in_fd, &st->in_pending, &st->line, LINE_MAX_BYTES);
	bool too_long = r == -2;
	struct json *req, *msg;
	struct sbuf sb = SBUF_INIT;

	if (too_long) {
		sbuf_release(&st->line);
		sbuf_adds(&st->line, "-");
		r = 1;
	}
	if (r == 0 && st->in_pending.len) { /* a last line without newline */
		sbuf_release(&st->line);
		sbuf_add(&st->line, st->in_pending.buf, st->in_pending.len);
		st->in_pending.len = 0;
		r = 1;
	}
	if (r <= 0)
		return false;
	if (!st->line.len)
		return true;
	req = too_long ? NULL : json_parse(sbuf_str(&st->line), st->line.len, err, sizeof(err));
	if (too_long)
		snprintf(err, sizeof(err), "a line longer than %u bytes", LINE_MAX_BYTES);
	st->results = xrealloc(st->results, (size_t)(st->nreq + 1) * sizeof(char *));
	st->results[st->nreq] = NULL;
	if (!req || req->type != JSON_OBJECT) {
		/* answered here; the workers never see it */
		answer(st, st->nreq,
		       request_error(NULL, "the request is not a JSON object (%s)", req ? "another JSON value" : err));
		json_free(req);
	} else {
		msg = json_object();
		json_set(msg, "seq", json_num((double)st->nreq));
		json_set(msg, "request", req);
		json_write(msg, &sb, -1);
		sbuf_addc(&sb, '\n');
		if (util_write_all(st->f.w[idle].sock, sb.buf, sb.len) == 0)
			st->f.w[idle].seq = st->nreq;
		json_free(msg);
		sbuf_release(&sb);
	}
	st->nreq++;
	return true;
}

/* Worker I has something: its result, or its death.  True when the pool
 * must be restarted (the worker or the zygote is gone). */
static bool collect(struct stream *st, int i)
{
	struct worker *w = &st->f.w[i];
	struct sbuf res = SBUF_INIT;
	bool restart = false;

	if (read_line(w->sock, &w->pending, &res, SIZE_MAX) == 1) {
		struct json *m = json_parse(sbuf_str(&res), res.len, NULL, 0);

		restart = json_get_bool(m, "zygote_lost", false);
		answer(st, w->seq, json_take(m, "result"));
		json_free(m);
	} else {
		/* the worker died: report its request, start afresh */
		struct json *bad = request_error(NULL, "the sandbox worker died while running this request");

		json_set(bad, "status", json_str("error"));
		answer(st, w->seq, bad);
		restart = true;
	}
	w->seq = -1;
	sbuf_release(&res);
	return restart;
}

/* Write what can be written: in order, or as it comes. */
static void flush_results(struct stream *st, FILE *sink, bool unordered)
{
	for (long k = unordered ? 0 : st->next_out; k < st->nreq; k++) {
		if (!st->results[k]) {
			if (!unordered)
				break;
			continue;
		}
		if (st->results[k] == DONE)
			continue;
		fputs(st->results[k], sink);
		free(st->results[k]);
		st->results[k] = DONE;
		if (!unordered)
			st->next_out = k + 1;
	}
	fflush(sink);
}

/* Run requests from IN_FD through the pool until it ends; results go to
 * SINK (in input order unless UNORDERED).  COUNTS gathers verdicts
 * (accepted, rejected, violation, other).  Returns 0, or the exit code of a
 * pool that could not be restarted. */
static int run_stream(struct front *f, int in_fd, FILE *sink, bool unordered, bool tty, long *counts, long *total)
{
	struct stream st = {.f = *f, .in_fd = in_fd, .counts = counts};
	struct pollfd *pfd = xcalloc((size_t)f->njobs + 1, sizeof(*pfd));
	int n = f->njobs, rc = 0;
	bool eof = false;
	double t0 = util_now();

	for (;;) {
		int idle = -1;
		bool busy = false, restart = false;
		char err[1024];

		for (int i = 0; i < n; i++) {
			pfd[i] = (struct pollfd){st.f.w[i].sock, POLLIN, 0};
			if (st.f.w[i].seq < 0 && idle < 0)
				idle = i;
			busy |= st.f.w[i].seq >= 0;
		}
		if (stop_serving)
			eof = true; /* take no more requests; finish what runs */
		if (eof && !busy)
			break;
		/* take a request only when a worker is free to run it */
		pfd[n] = (struct pollfd){(!eof && idle >= 0) ? in_fd : -1, POLLIN, 0};
		if (st.in_pending.len && memchr(st.in_pending.buf, '\n', st.in_pending.len) && idle >= 0)
			pfd[n].revents = POLLIN; /* a line is already buffered */
		/* wake up now and then to notice a dead zygote before the next request */
		else if (poll(pfd, (nfds_t)n + 1, 200) < 0 && errno != EINTR)
			die("poll:");
		if (!eof && idle >= 0 && (pfd[n].revents & (POLLIN | POLLHUP | POLLERR)))
			eof = !take_request(&st, idle);
		for (int i = 0; i < n; i++)
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && st.f.w[i].seq >= 0)
				restart |= collect(&st, i);
		flush_results(&st, sink, unordered);
		if (tty)
			progress(t0, st.ndone, eof ? st.nreq : f->expected >= st.nreq ? f->expected : -1, counts);
		if (st.f.zygote > 0 && waitpid(st.f.zygote, NULL, WNOHANG) == st.f.zygote) {
			st.f.zygote = 0; /* reaped: workers_stop must not wait for it */
			restart = true;
		}
		if (restart && !busy_workers(&st.f)) {
			/* a dead zygote is restarted with a fresh pool */
			workers_stop(&st.f);
			if (workers_start(&st.f, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: cannot restart: %s\n", aegis_progname, err);
				rc = AEGIS_EXIT_ERROR;
				break;
			}
		}
	}
	free(pfd);
	*f = st.f;
	*total += st.ndone;
	for (long k = 0; k < st.nreq; k++)
		if (st.results[k] != DONE)
			free(st.results[k]);
	free(st.results);
	sbuf_release(&st.in_pending);
	sbuf_release(&st.line);
	return rc;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_serving = 1;
}

/* serve --socket: a UNIX socket created 0600; clients are served one after
 * another, each with up to --jobs of its requests at once. */
static int serve_socket(struct front *f, const char *path, long *counts, long *total)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct sigaction act = {0};
	struct stat st;
	mode_t old_mask;
	int lfd, rc = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", aegis_progname, path);
		return AEGIS_EXIT_USAGE;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket of an earlier server */
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket:");
	old_mask = umask(0177);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0) {
		umask(old_mask);
		fprintf(stderr, "%s: cannot listen on %s: %s\n", aegis_progname, path, strerror(errno));
		close(lfd);
		return AEGIS_EXIT_ERROR;
	}
	umask(old_mask);
	chmod(path, 0600);
	act.sa_handler = on_stop; /* no SA_RESTART: accept() returns EINTR */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	while (!stop_serving) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		FILE *out;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			rc = AEGIS_EXIT_ERROR;
			break;
		}
		out = fdopen(dup(cfd), "w");
		if (out) {
			rc = run_stream(f, cfd, out, true, false, counts, total);
			fclose(out);
		}
		close(cfd);
		if (rc)
			break;
	}
	close(lfd);
	unlink(path);
	return rc;
}

int serve_main(int argc, char **argv, bool batch)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"jobs", required_argument, NULL, 'J'},
	    {"unordered", no_argument, NULL, 'u'},
	    {"db", required_argument, NULL, 'D'},
	    {"stdio", no_argument, NULL, 's'},
	    {"socket", required_argument, NULL, 'S'},
	    {"request-approval", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *file = NULL;
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	bool unordered = !batch, stdio = false;
	struct policy pol = {0};
	struct options o = {0};
	struct front f = {0};
	long ndone = 0, counts[6] = {0}; /* accepted rejected violation other; errors, malformed */
	int in_fd = 0, c, rc = 0;
	bool tty = batch && isatty(2);
	const char *socket_path = NULL;
	double t0 = util_now();
	char err[1024];

	optind = 0;
	while ((c = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'j':
			/* one meaning per short option across commands (issue 30) */
			return usage_error("%s: -j is --json in aegis-sandbox; the number of jobs is --jobs N", batch ? "batch" : "serve");
		case 'J':
			if (!util_parse_long(optarg, &jobs) || jobs < 1 || jobs > 256)
				return usage_error("--jobs: expected an integer in [1, 256], got '%s'", optarg);
			break;
		case 'u': unordered = true; break;
		case 'D': o.db = optarg; break;
		case 's': stdio = true; break;
		case 'S': socket_path = optarg; break;
		case 'R': o.request_approval = true; break;
		case 'h': fputs(batch ? batch_usage : serve_usage, stdout); return 0;
		default: return usage_error("bad option for '%s'", batch ? "batch" : "serve");
		}
	}
	if (batch) {
		if (argc - optind > 1)
			return usage_error("batch: expected at most one FILE");
		file = optind < argc ? argv[optind] : "-";
		if (strcmp(file, "-")) {
			in_fd = open(file, O_RDONLY | O_CLOEXEC);
			if (in_fd < 0)
				return usage_error("cannot read %s: %s", file, strerror(errno));
		}
	} else {
		if (stdio == !!socket_path)
			return usage_error("serve: give one of --stdio and --socket PATH");
		if (optind != argc)
			return usage_error("serve: unexpected argument '%s'", argv[optind]);
	}
	if (jobs < 1)
		jobs = 1;
	if (cli_load_policy(&pol, policy_path) < 0)
		return AEGIS_EXIT_USAGE;
	if (!o.db && pol.storage.db && *pol.storage.db)
		o.db = pol.storage.db;
	if (cli_check_db(o.db) != 0) {
		policy_release(&pol);
		return AEGIS_EXIT_USAGE;
	}
	o.pol = &pol;
	f.o = &o;
	f.njobs = (int)jobs;
	f.w = xcalloc((size_t)jobs, sizeof(*f.w));
	for (int i = 0; i < f.njobs; i++)
		f.w[i] = (struct worker){0, -1, -1, SBUF_INIT};
	if (workers_start(&f, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
		goto out;
	}
	if (stdio || batch) {
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		f.expected = batch ? count_requests(in_fd) : -1;
		rc = run_stream(&f, in_fd, stdout, unordered, tty, counts, &ndone);
	} else {
		rc = serve_socket(&f, socket_path, counts, &ndone);
	}
	if (tty)
		fputc('\n', stderr);
	if (batch) {
		double el = util_now() - t0;

		fprintf(stderr,
			"batch: %ld candidates in %.1f s (%.2f/s) with %d jobs\n"
			"  accepted   %6ld\n  rejected   %6ld\n  violation  %6ld\n  other      %6ld\n",
			ndone, el, el > 0 ? ndone / el : 0.0, f.njobs, counts[0], counts[1], counts[2], counts[3]);
		if (counts[4] || counts[5])
			fprintf(stderr, "  failed     %6ld  (%ld malformed request(s), %ld sandbox error(s))\n",
				counts[4] + counts[5], counts[5], counts[4]);
		/* every request judged: 0; a request that could not be run: 2,
		 * as for a usage error; the sandbox failing one: 7 */
		if (rc == 0)
			rc = counts[5] ? AEGIS_EXIT_USAGE : counts[4] ? AEGIS_EXIT_ERROR : 0;
	}
out:
	workers_stop(&f);
	free(f.w);
	if (in_fd > 0)
		close(in_fd);
	policy_release(&pol);
	return rc;
}
