/* pipeline.c - see pipeline.h.
 *
 * The supervisor decides every verdict here, from two kinds of facts:
 * what it observed itself (exit status, timer, OOM counter, CPU time,
 * output volume) and the JSON lines a job child wrote to its own report
 * pipe.  The build child's report is the candidate's process talking, so it
 * can only ever make things worse for the candidate (an error, a violation);
 * "accepted" needs the validate child's report, from a process that never
 * ran candidate Python. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/diff.h"
#include "common/sha256.h"
#include "common/util.h"
#include "pipeline/pipeline.h"
#include "proto/job.h"
#include "supervisor/fixer.h"
#include "supervisor/workdir.h"

static void add_output(struct json *res, const char *key, const struct sbuf *sb, size_t dropped)
{
	struct sbuf tmp = SBUF_INIT;

	sbuf_add(&tmp, sbuf_str(sb), sb->len);
	if (dropped)
		sbuf_addf(&tmp, "\n[aegis-sandbox: %zu more bytes of %s dropped]\n", dropped, key);
	json_set(res, key, json_strn(tmp.buf ? tmp.buf : "", tmp.len));
	sbuf_release(&tmp);
}

/* Copy SRC into DIR/NAME, a file for the job's uid; 0 or -errno. */
static int copy_into(const struct policy *pol, const char *src, const char *dir, const char *name)
{
	char *dst = xasprintf("%s/%s", dir, name);
	int rc = util_copy_file(src, dst, 1u << 30);

	if (rc == 0)
		rc = workdir_give(pol, dst);
	free(dst);
	return rc;
}

/* The archive, copied and hashed by a thread while the validate child
 * runs: for the pool, into its staging directory (the SHA-256 of a 6.7 MB
 * archive takes about 25 ms and writing it to an ext4 disk about 17 ms,
 * which would otherwise come after the verdict, on every warm candidate's
 * wall time); and when the validate child was started early, on the
 * archive the build child announced while that child still runs, also
 * into the validate child's start pipe (SINK) and into a copy of the
 * supervisor's own whatever the caller asked for: the file is read once,
 * and the bytes validated are the bytes delivered.  It is read as a plain
 * file with one link (never a symlink, a FIFO or a hard link a candidate
 * planted), and never past the size it had when opened. */
struct archive_copy {
	pthread_t thread;
	bool started;
	char *src, *dst;
	int in, out, sink; /* -1 when closed */
	size_t max;
	size_t size;  /* at open: what is read, and announced to a sink */
	size_t len;   /* out: what was copied */
	bool no_hash; /* the copy is for delivery only, not for the pool */
	int rc;       /* 0 or -errno */
	char sha256[65];
};

static void archive_copy_close(struct archive_copy *a)
{
	if (a->in >= 0)
		close(a->in);
	if (a->sink >= 0)
		close(a->sink);
	if (a->out >= 0 && close(a->out) < 0 && a->rc == 0)
		a->rc = -errno;
	a->in = a->out = a->sink = -1;
	if (a->rc < 0 && a->dst)
		unlink(a->dst);
}

/* Into A->out, in the kernel (copy_file_range, else sendfile): at most
 * A->size bytes, fewer if the file shrank under us.  0 or -errno. */
static int archive_copy_bytes(struct archive_copy *a)
{
	while (a->len < a->size) {
		size_t left = a->size - a->len;
		ssize_t n = copy_file_range(a->in, NULL, a->out, NULL, left, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			n = sendfile(a->out, a->in, NULL, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* it shrank under us: what was there is copied */
		a->len += (size_t)n;
	}
	return 0;
}

/* The copy's bytes into the validate child's start pipe, from the copy
 * (which no job child can reach), in the kernel.  A child that is gone
 * ends it: its own verdict says why. */
static void archive_copy_stream(struct archive_copy *a)
{
	off_t off = 0;

	(void)fcntl(a->sink, F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; best effort */
	while ((size_t)off < a->len) {
		ssize_t n = sendfile(a->sink, a->out, &off, a->len - (size_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
	}
	close(a->sink);
	a->sink = -1;
}

/* The SHA-256 of the copy, read back (from the page cache). */
static int archive_copy_hash(struct archive_copy *a)
{
	struct sha256 h;
	unsigned char digest[32];
	char *buf = xmalloc(1 << 20);
	off_t off = 0;
	int rc = 0;

	sha256_init(&h);
	while ((size_t)off < a->len) {
		ssize_t n = pread(a->out, buf, 1 << 20, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		sha256_update(&h, buf, (size_t)n);
		off += n;
	}
	free(buf);
	sha256_final(&h, digest);
	for (int i = 0; i < 32; i++)
		snprintf(a->sha256 + 2 * i, 3, "%02x", digest[i]);
	return rc;
}

/* Read the file once, into the copy; then from the copy into the sink
 * (the validate child is waiting for it: first) and through the hash. */
static int archive_copy_run(struct archive_copy *a)
{
	a->rc = archive_copy_bytes(a);
	close(a->in);
	a->in = -1;
	if (a->sink >= 0 && a->rc == 0)
		archive_copy_stream(a);
	if (a->rc == 0 && !a->no_hash)
		a->rc = archive_copy_hash(a);
	archive_copy_close(a);
	return a->rc;
}

static void *archive_copy_main(void *arg)
{
	struct archive_copy *a = arg;

	a->rc = archive_copy_run(a);
	return NULL;
}

/* Open SRC and a new file in DIR (created as needed) to copy it to: 0, or
 * -errno (also in A->rc) with nothing left open. */
static int archive_copy_open(struct archive_copy *a, const char *src, const char *dir, size_t max)
{
	unsigned long long nonce = 0;
	struct stat st;

	(void)!getrandom(&nonce, sizeof(nonce), 0);
	*a = (struct archive_copy){.src = xstrdup(src), .max = max, .in = -1, .out = -1, .sink = -1};
	a->dst = xasprintf("%s/.incoming-%ld-%016llx", dir, (long)getpid(), nonce);
	a->in = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (a->in < 0 || fstat(a->in, &st) < 0) {
		a->rc = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || (size_t)st.st_size > max) {
		a->rc = S_ISREG(st.st_mode) && st.st_nlink == 1 ? -EFBIG : -EPERM;
	} else {
		a->size = (size_t)st.st_size;
		a->rc = util_mkdir_parents(a->dst); /* the pool may not exist yet */
		if (a->rc == 0) {
			a->out = open(a->dst, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (a->out < 0)
				a->rc = -errno;
		}
	}
	if (a->rc < 0) {
		free(a->dst); /* never created: nothing to unlink */
		a->dst = NULL;
		archive_copy_close(a);
	}
	return a->rc;
}

/* Copy what archive_copy_open opened, into SINK too (-1: none), in a
 * thread; the thread owns SINK and closes it. */
static void archive_copy_go(struct archive_copy *a, int sink)
{
	a->sink = sink;
	if (a->rc < 0) {
		if (sink >= 0)
			close(sink);
		a->sink = -1;
		return;
	}
	a->started = pthread_create(&a->thread, NULL, archive_copy_main, a) == 0;
	if (!a->started) /* no thread: copy it now */
		a->rc = archive_copy_run(a);
}

/* Start copying SRC to a new file in DIR. */
static void archive_copy_start(struct archive_copy *a, const char *src, const char *dir, size_t max)
{
	(void)archive_copy_open(a, src, dir, max);
	archive_copy_go(a, -1);
}

/* Wait for the copy; 0 when a->dst holds the archive, or -errno. */
static int archive_copy_join(struct archive_copy *a)
{
	if (a->started) {
		pthread_join(a->thread, NULL);
		a->started = false;
	}
	return a->src ? a->rc : -ENOENT;
}

/* Join, and remove the copy unless it was handed on (a->dst NULL). */
static void archive_copy_release(struct archive_copy *a)
{
	if (archive_copy_join(a) == 0 && a->dst)
		unlink(a->dst);
	free(a->src);
	free(a->dst);
	*a = (struct archive_copy){.in = -1, .out = -1, .sink = -1};
}

/* Move the archive SRC (written by a build child) to the caller's DST:
 * rename(2) when both are on one filesystem, which costs nothing, else a
 * copy.  SRC must be a plain file with one link, not a symlink or a hard
 * link a candidate made to something else.  0 or a negative errno. */
static int move_out(const char *src, const char *dst, size_t max)
{
	struct stat st;

	if (lstat(src, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		return -EPERM;
	if (rename(src, dst) == 0)
		return 0;
	return errno == EXDEV ? util_copy_file(src, dst, max) : -errno;
}

static void set_failure(struct json *res, enum verdict v, const char *stage, struct json *err)
{
	json_set(res, "status", json_str(verdict_name(v)));
	json_set(res, "stage", json_str(stage));
	json_set(res, "success", json_bool(v == VERDICT_ACCEPTED));
	json_set(res, "error", err ? err : json_null());
}

/* Merge every key of SRC's object KEY into DST's object KEY. */
static void merge_obj(struct json *dst, const char *key, const struct json *src)
{
	struct json *d = json_get(dst, key);
	const struct json *s = json_get(src, key);

	if (!s || s->type != JSON_OBJECT)
		return;
	if (!d || d->type != JSON_OBJECT || d->count == 0) {
		/* the usual case (the caller emptied it): one copy, linear in
		 * the size of SRC (whose keys the parser made unique); a
		 * json_set per key scanned the keys set so far, and 150,000
		 * metrics cost 40 s of the supervisor */
		json_set(dst, key, json_dup(s));
		return;
	}
	for (size_t i = 0; i < s->count; i++)
		json_set(d, s->keys[i], json_dup(s->items[i]));
}

/* Whether the build's RESULT claims the in-process validation that POL
 * allows for a model that cannot be exported: only then does the pipeline
 * read a verdict from the build child, and labels it "unverified". */
static bool in_process_result(const struct policy *pol, const struct json *result)
{
	const char *integ = json_get_str(result, "integrity");

	return integ && !strcmp(integ, "in-process") && !strcmp(pol->validation.export_failure, "in-process");
}

/* The verdict of one build attempt, into RES; *BUILD_OK when the build
 * child exported an archive and validation may follow. */
static void judge_build(const struct policy *pol, const struct candidate *cand, const struct job_outcome *bo,
			const struct report *br, const char *workdir, const char *artifact, struct json *res,
			bool *build_ok)
{
	const char *stage =
	    br->result && json_get_str(br->result, "stage") ? json_get_str(br->result, "stage") : "build";
	enum verdict v;
	struct json *e = NULL;
	char err[512];

	*build_ok = false;
	json_set(res, "error", json_null());
	if (judge_job(pol, bo, br, &v, &e)) {
		/* a static-rule violation is reported at stage static */
		const struct json *fv = br->violations->count ? br->violations->items[0] : NULL;
		const char *rule = json_get_str(fv, "rule");

		if (v == VERDICT_VIOLATION && rule && !strncmp(rule, "static", 6))
			stage = "static";
		set_failure(res, v, stage, e);
	} else if (!br->result) {
		snprintf(err, sizeof(err), "the build child ended (%s %d) without a result%s%s",
			 WIFEXITED(bo->wstatus) ? "exit" : "signal",
			 WIFEXITED(bo->wstatus) ? WEXITSTATUS(bo->wstatus) : WTERMSIG(bo->wstatus),
			 br->harness_error ? ": " : "", br->harness_error ? br->harness_error : "");
		set_failure(res, VERDICT_REJECTED, "build", verdict_error("NoResult", err, 0));
	} else if (!json_get_bool(br->result, "ok", false)) {
		const struct json *re = json_get(br->result, "error");

		set_failure(res, VERDICT_REJECTED, stage,
			    re ? json_dup(re) : verdict_error("BuildError", "the build failed", 0));
	} else if (cand->static_only) {
		set_failure(res, VERDICT_ACCEPTED, "static", NULL);
	} else {
		char *art = xasprintf("%s/%s", workdir, artifact);

		/* A success line is a claim: without the archive the supervisor
		 * named, there is nothing to validate.  The in-process fallback
		 * (validation.export_failure: in-process) is the supervisor's own
		 * policy, never the build child's word. */
		if (!in_process_result(pol, br->result) && access(art, F_OK) != 0)
			set_failure(res, VERDICT_REJECTED, "build",
				    verdict_error("NoArtifact",
						  "the build child reported success but left no "
						  "exported model (did the candidate forge its report?)",
						  0));
		else
			*build_ok = true;
		free(art);
	}
	if (br->result) {
		const struct json *w = json_get(br->result, "warnings");

		merge_obj(res, "metrics", br->result);
		merge_obj(res, "checks", br->result);
		/* static findings and imports outside the allowlist: what the
		 * code mentions, for the person; never a fact the verdict rests
		 * on (the build child's word, bounded like its violations) */
		if (w && w->type == JSON_ARRAY && w->count <= 50)
			json_set(res, "warnings", json_dup(w));
	}
}

/* Only a candidate that ran and raised is worth fixing: not a violation,
 * a timeout, a memory or a sandbox error. */
static bool fixable(const struct json *res)
{
	const char *status = json_get_str(res, "status");
	const char *type = json_get_str(json_get(res, "error"), "type");

	if (!status || strcmp(status, "rejected"))
		return false;
	return !type || (strcmp(type, "SourceError") && strcmp(type, "OutputFlood") && strcmp(type, "NoArtifact") &&
			 strcmp(type, "ArchiveMismatch"));
}

/* Keep the part of a traceback an LLM can use: the candidate's own frames
 * and the exception, not the harness's or torch's internals.  Caller's. */
static char *traceback_tail(const char *tb)
{
	struct sbuf sb = SBUF_INIT;
	bool keep_next = false;

	for (const char *l = tb; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		bool frame = len > 7 && !strncmp(l, "  File ", 7);

		bool ours = frame && memmem(l, len, JOB_SOURCE_NAME, strlen(JOB_SOURCE_NAME));

		if (ours || (!frame && !keep_next && l[0] != ' ') || (keep_next && l[0] == ' ')) {
			sbuf_add(&sb, l, len);
			sbuf_addc(&sb, '\n');
		}
		keep_next = ours;
		l = nl ? nl + 1 : NULL;
	}
	if (sb.len > 2000) {
		char *t = xstrdup(sb.buf + sb.len - 2000);

		sbuf_release(&sb);
		return t;
	}
	return sbuf_detach(&sb, NULL);
}

/* One round of fixing: the built-in fixers in a confined job child, then
 * (if they found nothing) the operator's fixer command.  *FIXED is the new
 * code (the caller's) or NULL.  What happened goes into ATT and FIXES. */
static void compute_fix(struct supervisor *s, const struct policy *pol, const struct candidate *cand,
			const char *workdir, const char *code, size_t code_len, const struct json *error, int attempt,
			struct json *att, struct json *fixes, char **fixed, size_t *fixed_len)
{
	*fixed = NULL;
	if (pol->debug.builtin_fixers && error) {
		struct json *req = job_request(pol, "fix");
		struct job_outcome fo;
		struct report fr;

		json_set(req, "error", json_dup(error));
		json_set(req, "class", cand->class_name ? json_str(cand->class_name) : json_null());
		json_set(req, "vocab",
			 cand->input->kind == INPUT_TOKENS ? json_num((double)cand->input->vocab) : json_null());
		supervise_job(s, pol, req, workdir, false, &fo);
		report_parse_job(&fo, &fr);
		if (fr.result && json_get_bool(fr.result, "ok", false)) {
			const struct json *c = json_get(fr.result, "code"), *fx = json_get(fr.result, "fixes");

			if (c && c->type == JSON_STRING && c->slen &&
			    (c->slen != code_len || memcmp(c->s, code, code_len))) {
				*fixed = xstrndup(c->s, c->slen);
				*fixed_len = c->slen;
				for (size_t i = 0; fx && fx->type == JSON_ARRAY && i < fx->count; i++)
					json_append(fixes, json_dup(fx->items[i]));
			}
		} else if (!fr.result) {
			json_set(att, "fixer_error",
				 json_str(fo.failure ? fo.failure : "the built-in fixers gave no result"));
		}
		report_release(&fr);
		job_outcome_release(&fo);
		json_free(req);
	}
	if (!*fixed && pol->debug.fixer_command.n) {
		struct json *in = json_object();
		struct fixer_outcome fo;
		char *tail = traceback_tail(json_get_str(error, "traceback") ? json_get_str(error, "traceback") : "");

		json_set(in, "code", json_strn(code, code_len));
		json_set(in, "error_type", json_str(json_get_str(error, "type") ? json_get_str(error, "type") : ""));
		json_set(in, "error_message",
			 json_str(json_get_str(error, "message") ? json_get_str(error, "message") : ""));
		json_set(in, "error_line", json_get(error, "line") ? json_dup(json_get(error, "line")) : json_null());
		json_set(in, "traceback", json_str(tail));
		json_set(in, "attempt", json_num(attempt));
		json_set(in, "architecture_id", json_str(cand->arch_id ? cand->arch_id : ""));
		free(tail);
		fixer_run(&pol->debug.fixer_command, in, pol->debug.fixer_timeout_s, (size_t)pol->limits.code_max_bytes,
			  &fo);
		json_set(att, "fixer_time", json_num(fo.time_s));
		if (fo.error) {
			json_set(att, "fixer_error", json_str(fo.error));
		} else if (fo.code && (fo.code_len != code_len || memcmp(fo.code, code, code_len))) {
			struct json *fx = json_object();

			json_set(fx, "rule", json_str("fixer_command"));
			json_set(fx, "line", json_null());
			json_set(fx, "description", json_str("code rewritten by the fixer command"));
			json_set(fx, "changes", json_dup(fo.changes));
			json_append(fixes, fx);
			*fixed = fo.code;
			*fixed_len = fo.code_len;
			fo.code = NULL;
		} else {
			json_set(att, "fixer_error", json_str("the fixer command returned the code unchanged"));
		}
		fixer_outcome_release(&fo);
		json_free(in);
	}
}

/* The name of the caller's input file inside the work directory, or NULL
 * when the input is not a file. */
static const char *input_copy_name(const struct candidate *cand)
{
	if (cand->input->kind != INPUT_FILE)
		return NULL;
	return !strcmp(cand->input->format, "pt") ? "input.pt" : "input.npy";
}

/* Write CODE as the work directory's candidate source, for the job's
 * uid.  0 or -errno. */
static int write_source(const struct policy *pol, const char *workdir, const char *code, size_t code_len)
{
	char *src = xasprintf("%s/" JOB_SOURCE_NAME, workdir);
	int rc = util_write_file(src, code, code_len, 0600);

	if (rc == 0)
		rc = workdir_give(pol, src);
	free(src);
	return rc;
}

/* The operator's files a job reads from its work directory, as (name in
 * the work directory, original) pairs into NAMES and SRCS (room for 4):
 * the build child's (the candidate's input file), or, with VALIDATE, the
 * validate child's (that, the policy's reference model and the training
 * data).  Returns how many. */
static size_t operator_files(const struct policy *pol, const struct candidate *cand, bool validate, const char **names,
			     const char **srcs)
{
	size_t n = 0;

	if (input_copy_name(cand)) {
		names[n] = input_copy_name(cand);
		srcs[n++] = cand->input->path;
	}
	if (validate && pol->validation.reference.model && *pol->validation.reference.model) {
		names[n] = "reference.pt";
		srcs[n++] = pol->validation.reference.model;
	}
	if (validate && cand->dataset) {
		names[n] = "train-inputs.npy";
		srcs[n++] = cand->dataset->inputs;
		names[n] = "train-targets.npy";
		srcs[n++] = cand->dataset->targets;
	}
	return n;
}

/* Put what a build job in WORKDIR needs there: the code as candidate.py
 * and the candidate's input file.  What only validation reads comes
 * later (place_validation_files).  0, or -1 with ERR. */
static int fill_workdir(const struct policy *pol, const struct candidate *cand, const char *workdir, const char *code,
			size_t code_len, char *err, size_t errlen)
{
	const char *names[4], *srcs[4];
	size_t n = operator_files(pol, cand, false, names, srcs);
	int rc = write_source(pol, workdir, code, code_len);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = copy_into(pol, srcs[i], workdir, names[i]);
	if (rc < 0) {
		snprintf(err, errlen, "preparing the work directory: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* A fresh, unpredictable archive name for one build attempt; the caller's.
 * Only the trusted harness is told it: a candidate that exits early with a
 * forged success report has not written the file the validate child will
 * look for, and nothing planted by an earlier attempt carries this name. */
static char *new_artifact_name(void)
{
	unsigned char rnd[8];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		die("getrandom:");
	return xasprintf("model-%02x%02x%02x%02x%02x%02x%02x%02x.pt", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
			 rnd[6], rnd[7]);
}

/* ---- one candidate ---------------------------------------------------------
 *
 * pipeline_run() is the sequence; each step below does one thing to the
 * run's state and says in the result what happened.  A step that ends the
 * run returns false. */

struct run {
	struct supervisor *s;
	const struct policy *pol;
	struct candidate *cand;
	struct json *res, *attempts, *timings; /* attempts and timings: in res */
	char *code;                            /* what the next build runs */
	size_t code_len;
	char *workdir;
	int workdir_lock;
	char *artifact;          /* this attempt's archive name */
	struct json *req, *vreq; /* build and validate requests */
	struct job_run br_run, vrun;
	bool br_pending; /* br_run started (a spare), not yet finished */
	bool vheld;      /* vrun forked and held, not yet finished */
	struct job_outcome bo, vo;
	struct report br, vr;
	struct archive_copy ac; /* the archive for the pool, copied beside validation */
	bool early;             /* vrun was started on the archive the build announced */
	size_t report_seen;     /* how much of the build's report on_build_report read */
	bool build_ok;
	double t0;
};

/* The requests for this attempt: the build child's, and the validate
 * child's for the archive it will write. */
static void make_requests(struct run *r)
{
	const struct candidate *cand = r->cand;
	struct json *ro = json_array(), *input = inputspec_to_json(cand->input, input_copy_name(cand));
	bool ref = r->pol->validation.reference.model && *r->pol->validation.reference.model;
	char *positions;

	for (const char *const *p = supervise_ro_roots(r->s); *p; p++)
		json_append(ro, json_str(*p));
	json_free(r->req);
	json_free(r->vreq);
	r->req = job_request(r->pol, cand->static_only ? "static" : "build");
	json_set(r->req, "class", cand->class_name ? json_str(cand->class_name) : json_null());
	json_set(r->req, "input", json_dup(input));
	json_set(r->req, "artifact", json_str(r->artifact));
	positions = xasprintf("%.*s.positions.pt", (int)(strlen(r->artifact) - 3), r->artifact);
	json_set(r->req, "positions_artifact", json_str(positions));
	json_set(r->req, "workdir", json_str(r->workdir));
	json_set(r->req, "ro_roots", ro);
	r->vreq = job_request(r->pol, "validate");
	json_set(r->vreq, "input", input);
	if (cand->dataset) {
		struct json *d = json_set(r->vreq, "dataset", json_object());

		json_set(d, "inputs", json_str("train-inputs.npy"));
		json_set(d, "targets", json_str("train-targets.npy"));
		json_set(d, "epochs", json_num((double)cand->dataset->epochs));
		json_set(d, "batch_size", json_num((double)cand->dataset->batch_size));
		json_set(d, "learning_rate", json_num(cand->dataset->learning_rate));
	}
	json_set(r->vreq, "artifact", json_str(r->artifact));
	json_set(r->vreq, "positions_artifact", json_str(positions));
	/* the code this attempt ran, as text: the validate child parses it
	 * (never runs it) for the classes it defines, which the archive's
	 * module tree must come from (the coherence check) */
	json_set(r->vreq, "source_text", json_strn(r->code, r->code_len));
	json_set(r->vreq, "class", cand->class_name ? json_str(cand->class_name) : json_null());
	free(positions);
	json_set(r->vreq, "reference", ref ? json_str("reference.pt") : json_null());
}

/* The result document every run starts from: an error until decided. */
static struct json *result_skeleton(const struct policy *pol, const struct candidate *cand, struct json *attempts)
{
	struct json *res = json_object();
	char sha[65], digest[65];

	sha256_hex(cand->code, cand->code_len, sha);
	policy_digest(pol, digest);
	json_set(res, "architecture_id", json_str(cand->arch_id ? cand->arch_id : ""));
	json_set(res, "status", json_str("error"));
	json_set(res, "stage", json_str("static"));
	json_set(res, "success", json_bool(false));
	json_set(res, "error", json_null());
	json_set(res, "violations", json_array());
	json_set(res, "warnings", json_array());
	json_set(res, "fixed", json_bool(false));
	json_set(res, "fixes_applied", json_num(0));
	json_set(res, "stdout", json_str(""));
	json_set(res, "stderr", json_str(""));
	json_set(res, "execution_time", json_num(0));
	json_set(res, "attempts", attempts);
	json_set(res, "metrics", json_object());
	json_set(res, "checks", json_object());
	json_set(res, "code_sha256", json_str(sha));
	json_set(res, "final_code", json_strn(cand->code, cand->code_len));
	json_set(res, "artifact", json_null());
	json_set(res, "policy_digest", json_str(digest));
	return res;
}

/* The source itself, checked here before any process sees it. */
static bool check_source(struct run *r)
{
	const struct candidate *c = r->cand;
	size_t max = (size_t)r->pol->limits.code_max_bytes;
	const char *why = c->code_len == 0                         ? "the source is empty"
			  : c->code_len > max                      ? "the source is larger than limits.code_max_bytes"
			  : memchr(c->code, '\0', c->code_len)     ? "the source contains a NUL byte"
			  : !util_utf8_valid(c->code, c->code_len) ? "the source is not valid UTF-8"
								   : NULL;

	if (!why)
		return true;
	json_set(r->res, "final_code", json_str(""));
	set_failure(r->res, VERDICT_REJECTED, "static", verdict_error("SourceError", why, 0));
	return false;
}

/* A work directory with the code in it: the spare's (serve and batch keep
 * a build child forked and confined there, waiting), else a new one. */
static bool prepare(struct run *r)
{
	char err[512];

	r->br_pending = supervise_take_spare(r->s, r->pol, &r->br_run, &r->workdir, &r->workdir_lock);
	if (!r->br_pending)
		r->workdir = workdir_make(r->pol, !r->cand->keep_workdir, &r->workdir_lock, err, sizeof(err));
	if (!r->workdir || fill_workdir(r->pol, r->cand, r->workdir, r->code, r->code_len, err, sizeof(err)) < 0) {
		set_failure(r->res, VERDICT_ERROR, "build", verdict_error("SandboxError", err, 0));
		return false;
	}
	r->artifact = new_artifact_name();
	make_requests(r);
	return true;
}

/* True when the validate child reads operator's files from the work
 * directory (then it starts after the build: see start_early). */
static bool has_operator_files(const struct run *r)
{
	const char *names[4], *srcs[4];

	return operator_files(r->pol, r->cand, true, names, srcs) > 0;
}

/* The build child is the candidate: whatever it left in the work directory
 * is its claim, under the operator's files' names too (the input file it
 * was given, or a reference model or training data it planted to flatter
 * itself).  The files the validate child reads are put there now, from
 * the originals, each after removing whatever the build child left under
 * its name (a file, a symlink, a tree); the reference model and the
 * training data were never in the build's work directory.  0, or -1 with
 * ERR. */
static int place_validation_files(struct run *r, char *err, size_t errlen)
{
	const char *names[4], *srcs[4];
	size_t n = operator_files(r->pol, r->cand, true, names, srcs);

	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", r->workdir, names[i]);
		int rc = util_rm_rf(path);

		free(path);
		if (rc < 0 && rc != -ENOENT) {
			snprintf(err, errlen, "removing what the build left as %s: %s", names[i], strerror(-rc));
			return -1;
		}
		rc = copy_into(r->pol, srcs[i], r->workdir, names[i]);
		if (rc < 0) {
			snprintf(err, errlen, "placing %s for validation: %s", names[i], strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* Where the copy of a validated archive goes: the pool's staging
 * directory, else beside the work directory (outside it: no job child
 * reaches it). */
static char *copy_dir(const struct run *r)
{
	const char *slash = strrchr(r->workdir, '/');

	if (r->cand->stage_dir)
		return xstrdup(r->cand->stage_dir);
	return slash && slash != r->workdir ? xstrndup(r->workdir, (size_t)(slash - r->workdir)) : xstrdup("/");
}

/* Whether the build left an every-position archive under this attempt's
 * name (the causality check of a last-position language model reads it). */
static bool has_positions(const struct run *r)
{
	char *p = xasprintf("%s/%.*s.positions.pt", r->workdir, (int)(strlen(r->artifact) - 3), r->artifact);
	bool yes = access(p, F_OK) == 0;

	free(p);
	return yes;
}

/* The build child announced its archive ({"archive": "ready"}, see the
 * build harness's Archive): start the held validate child on it now,
 * while the build child goes on comparing the archive with the model.
 * The supervisor opens the file once, checks it as archive_copy does, and
 * streams it into the validate child's start pipe and into a copy of its
 * own; the validate child reads nothing else of the work directory, so
 * the still running build child can change nothing it sees.  Candidates
 * with operator files (which the validate child reads from the work
 * directory) are validated after the build, as before.  Any failure here
 * only means no early start. */
static void start_early(struct run *r)
{
	char *art = xasprintf("%s/%s", r->workdir, r->artifact), *dir = copy_dir(r);
	struct json *req;
	int fd;

	if (archive_copy_open(&r->ac, art, dir, (size_t)r->pol->limits.max_file_bytes) < 0) {
		archive_copy_release(&r->ac);
		goto out;
	}
	req = json_dup(r->vreq);
	json_set(req, "artifact_bytes", json_num((double)r->ac.size));
	json_set(req, "positions_artifact", json_null());
	fd = supervise_job_release(r->s, &r->vrun, req);
	json_free(req);
	if (fd < 0) {
		/* the held child may have read part of a request: never reuse it */
		supervise_job_cancel(r->s, &r->vrun);
		r->vheld = false;
		archive_copy_close(&r->ac);
		archive_copy_release(&r->ac);
		goto out;
	}
	r->ac.no_hash = !r->cand->stage_dir;
	archive_copy_go(&r->ac, fd);
	r->early = true;
out:
	free(art);
	free(dir);
}

/* supervise_job_finish's report watch on a build child: the exact line
 * {"archive": "ready"}, once, on the first attempt, with the validate
 * child held and no operator files. */
static void on_build_report(void *arg, const struct sbuf *rep)
{
	static const char line[] = "{\"archive\": \"ready\"}\n";
	struct run *r = arg;

	while (!r->early && r->vheld && !has_operator_files(r) && r->report_seen < rep->len) {
		const char *p = rep->buf + r->report_seen;
		const char *nl = memchr(p, '\n', rep->len - r->report_seen);
		size_t n;

		if (!nl)
			return; /* the rest of the line is still to come */
		n = (size_t)(nl + 1 - p);
		r->report_seen += n;
		if (n == sizeof(line) - 1 && !memcmp(p, line, n))
			start_early(r);
	}
}

/* One build attempt, judged into the result. */
static void build_once(struct run *r, int attempt)
{
	if (!r->br_pending)
		(void)supervise_job_start(r->s, r->pol, r->req, r->workdir, true, false, &r->br_run);
	r->br_run.on_report = on_build_report;
	r->br_run.on_report_arg = r;
	r->report_seen = 0;
	if (attempt == 1 && !r->cand->static_only) {
		/* The validate child is forked and confined now, while the build
		 * child runs, and held before it runs any Python: its fork,
		 * cgroup move and confinement cost no wall time.  It starts only
		 * once the build is judged good; otherwise it is cancelled.  It is
		 * a separate process from the start, with its own report pipe, so
		 * nothing changes for the verdict. */
		r->vheld = supervise_job_start(r->s, r->pol, NULL, r->workdir, false, true, &r->vrun) == 0;
	}
	r->br_pending = false;
	supervise_job_finish(r->s, &r->br_run, r->req, &r->bo);
	r->bo.disk_full = workdir_full(r->pol, r->workdir);
	report_parse_job(&r->bo, &r->br);
	json_set(r->timings, "build_s", json_num(r->bo.wall_s));
	if (json_get(r->br.result, "timings"))
		json_set(r->timings, "build_steps", json_dup(json_get(r->br.result, "timings")));
	add_output(r->res, "stdout", &r->bo.out, r->bo.out_dropped);
	add_output(r->res, "stderr", &r->bo.err, r->bo.err_dropped);
	if (r->br.sandbox)
		json_set(r->res, "sandbox", json_dup(r->br.sandbox));
	json_set(r->res, "violations", json_dup(r->br.violations));
	json_set(r->res, "metrics", json_object());
	json_set(r->res, "checks", json_object());
	judge_build(r->pol, r->cand, &r->bo, &r->br, r->workdir, r->artifact, r->res, &r->build_ok);
}

/* After a failed attempt: fix the code for the next one.  The failed
 * attempt's directory is the candidate's: it may have rewritten the source
 * or planted an archive there.  The fixer reads, and the next attempt runs
 * in, a fresh directory holding the supervisor's copy of the code, and the
 * next archive gets a fresh name.  True when there is a next attempt. */
static bool fix_for_next(struct run *r, int attempt, struct json *att, struct json *fixes)
{
	char *fixed = NULL, *fresh, err[512];
	size_t fixed_len = 0;
	int fresh_lock = -1;

	if (r->vheld) {
		supervise_job_cancel(r->s, &r->vrun);
		r->vheld = false;
	}
	archive_copy_release(&r->ac); /* an early start's copy: that archive failed */
	r->early = false;
	fresh = workdir_make(r->pol, !r->cand->keep_workdir, &fresh_lock, err, sizeof(err));
	if (!fresh || fill_workdir(r->pol, r->cand, fresh, r->code, r->code_len, err, sizeof(err)) < 0) {
		set_failure(r->res, VERDICT_ERROR, "build", verdict_error("SandboxError", err, 0));
		workdir_drop(fresh, fresh_lock, false);
		return false;
	}
	workdir_drop(r->workdir, r->workdir_lock, false);
	r->workdir = fresh;
	r->workdir_lock = fresh_lock;
	compute_fix(r->s, r->pol, r->cand, r->workdir, r->code, r->code_len, json_get(r->res, "error"), attempt, att,
		    fixes, &fixed, &fixed_len);
	if (!fixed)
		return false;
	{
		/* what this attempt's fixes changed, whoever made them (the
		 * built-in fixers, or an operator's command): the reviewer's
		 * view of the debug loop */
		char na[32], nb[32], *d;

		snprintf(na, sizeof(na), "attempt-%d.py", attempt);
		snprintf(nb, sizeof(nb), "attempt-%d.py", attempt + 1);
		d = diff_unified(r->code, fixed, na, nb, 3);
		json_set(att, "diff", json_str(d));
		free(d);
	}
	free(r->code);
	r->code = fixed;
	r->code_len = fixed_len;
	json_set(r->res, "final_code", json_strn(r->code, r->code_len));
	free(r->artifact);
	r->artifact = new_artifact_name();
	make_requests(r);
	return write_source(r->pol, r->workdir, r->code, r->code_len) == 0;
}

/* The debug loop: build, and on an exception fix and build again.  Then
 * say how many fixes made the code that ran: no silent rewriting. */
static bool debug_loop(struct run *r)
{
	size_t nfixes = 0;

	for (int attempt = 1;; attempt++) {
		struct json *att = json_object(), *fixes = json_array();
		bool again = false;

		json_set(att, "attempt", json_num(attempt));
		build_once(r, attempt);
		json_set(att, "status", json_str(r->build_ok ? "ok" : json_get_str(r->res, "status")));
		json_set(att, "error", json_dup(json_get(r->res, "error")));
		json_set(att, "time", json_num(r->bo.wall_s));
		if (!r->build_ok && attempt < r->pol->debug.max_attempts && fixable(r->res))
			again = fix_for_next(r, attempt, att, fixes);
		nfixes += fixes->count;
		json_set(att, "fixes", fixes);
		json_append(r->attempts, att);
		if (!again)
			break;
		report_release(&r->br);
		job_outcome_release(&r->bo);
	}
	json_set(r->res, "fixed", json_bool(nfixes > 0));
	json_set(r->res, "fixes_applied", json_num((double)nfixes));
	return r->build_ok;
}

/* The policy allowed validating a model that cannot be exported inside
 * the build child, which is the candidate's own process: what it says is
 * its claim.  Say so wherever the verdict is shown ("unverified"). */
static void judge_in_process(struct run *r)
{
	json_set(r->res, "integrity", json_str("unverified"));
	json_set(r->res, "integrity_note",
		 json_str("validated inside the candidate's own process "
			  "(validation.export_failure: in-process): the candidate could "
			  "have forged this result"));
	if (json_get_bool(r->br.result, "validated", false)) {
		set_failure(r->res, VERDICT_ACCEPTED, "validate", NULL);
	} else {
		const struct json *re = json_get(r->br.result, "error");

		set_failure(r->res, VERDICT_REJECTED, "validate",
			    re ? json_dup(re) : verdict_error("ValidationError", "validation failed", 0));
	}
}

/* The verifier's digest of the archive in RES ("archive": {"verified":
 * true, "sha256": ...}), or NULL when it did not pass the verifier. */
static const char *archive_verified(const struct json *res)
{
	const struct json *a = json_get(res, "archive");
	const char *sha = a ? json_get_str(a, "sha256") : NULL;

	return a && json_get_bool(a, "verified", false) && sha256_is_hex(sha) ? sha : NULL;
}

/* Validate: a fresh child that sees only the archive, and the verdict
 * from its report alone. */
static void validate(struct run *r)
{
	struct json *res = r->res, *e = NULL;
	enum verdict v;
	char err[512];

	double saves = 0;

	if (r->early && (!(json_get_num(r->br.result, "archive_saves", &saves) && saves == 1) || has_positions(r))) {
		/* the archive announced is not the one the build exported in the
		 * end (the script fallback wrote it again), or the build also left
		 * an every-position archive, which the early start (on the
		 * announcement alone, a line anyone in the build child can write)
		 * went without: validate again, with everything the build left.
		 * An announcement is a hint; it never makes a check skipped. */
		supervise_job_cancel(r->s, &r->vrun);
		r->vheld = r->early = false;
		archive_copy_release(&r->ac);
	}
	if (!r->early) {
		if (place_validation_files(r, err, sizeof(err)) < 0) {
			set_failure(res, VERDICT_ERROR, "validate", verdict_error("SandboxError", err, 0));
			return;
		}
		if (r->cand->stage_dir) {
			char *art = xasprintf("%s/%s", r->workdir, r->artifact);

			archive_copy_start(&r->ac, art, r->cand->stage_dir, (size_t)r->pol->limits.max_file_bytes);
			free(art);
		}
	}
	json_set(r->timings, "validate_early", json_bool(r->early));
	if (r->vheld) {
		r->vheld = false;
		supervise_job_finish(r->s, &r->vrun, r->early ? NULL : r->vreq, &r->vo);
	} else {
		supervise_job(r->s, r->pol, r->vreq, r->workdir, false, &r->vo);
	}
	report_parse_job(&r->vo, &r->vr);
	json_set(r->timings, "validate_s", json_num(r->vo.wall_s));
	if (json_get(r->vr.result, "timings"))
		json_set(r->timings, "validate_steps", json_dup(json_get(r->vr.result, "timings")));
	json_set(res, "integrity", json_str("artifact"));
	for (size_t i = 0; i < r->vr.violations->count; i++)
		json_append(json_get(res, "violations"), json_dup(r->vr.violations->items[i]));
	if (judge_job(r->pol, &r->vo, &r->vr, &v, &e)) {
		set_failure(res, v, "validate", e);
	} else if (!r->vr.result) {
		snprintf(err, sizeof(err), "the validate child ended without a result%s%s",
			 r->vr.harness_error ? ": " : "", r->vr.harness_error ? r->vr.harness_error : "");
		set_failure(res, VERDICT_ERROR, "validate", verdict_error("SandboxError", err, 0));
	} else {
		/* the class name, the export method (trace | script) and the
		 * tracer's warnings are the build child's word: labels, never
		 * facts the verdict rests on */
		static const char *const labels[] = {"class", "export", "tracer_warnings", "positions", "torch_compile"};
		const struct json *re = json_get(r->vr.result, "error");
		bool ok = json_get_bool(r->vr.result, "ok", false);
		const struct json *va = json_get(r->vr.result, "archive");

		/* metrics and checks come from the validate child only */
		json_set(res, "metrics", json_object());
		json_set(res, "checks", json_object());
		merge_obj(res, "metrics", r->vr.result);
		merge_obj(res, "checks", r->vr.result);
		/* and what the verifier read of the archive: its digest, and
		 * whether it passed (the client and 'pool export' load or ship
		 * only bytes with that digest); never the build child's word */
		json_set(res, "archive", va && va->type == JSON_OBJECT ? json_dup(va) : json_null());
		if (ok && !archive_verified(res)) {
			set_failure(res, VERDICT_ERROR, "validate",
				    verdict_error("SandboxError", "the validate child accepted an archive it did not verify",
						  0));
			return;
		}
		for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
			const struct json *label = json_get(json_get(r->br.result, "metrics"), labels[i]);

			if (label && (label->type == JSON_STRING || label->type == JSON_ARRAY))
				json_set(json_get(res, "metrics"), labels[i], json_dup(label));
		}
		if (r->vo.peak_bytes > 0)
			json_set(json_get(res, "metrics"), "peak_memory_mb",
				 json_num((double)r->vo.peak_bytes / 1048576.0));
		set_failure(res, ok ? VERDICT_ACCEPTED : VERDICT_REJECTED, "validate",
			    ok   ? NULL
			    : re ? json_dup(re)
				 : verdict_error("ValidationError", "validation failed", 0));
		if (r->vo.err.len && !ok)
			add_output(res, "validate_stderr", &r->vo.err, r->vo.err_dropped);
	}
}

/* The accepted archive, where the caller asked for it. */
static void deliver_artifact(struct run *r)
{
	struct candidate *cand = r->cand;
	char *art = xasprintf("%s/%s", r->workdir, r->artifact);
	size_t max = (size_t)r->pol->limits.max_file_bytes;
	bool accepted = !strcmp(json_get_str(r->res, "status"), "accepted");
	const char *validated = NULL; /* an early start's copy: the bytes validated */
	bool copied = archive_copy_join(&r->ac) == 0;
	const char *vsha = archive_verified(r->res); /* the verifier's digest */

	if (r->early && accepted && !copied) {
		/* what was validated cannot be delivered: say so, deliver nothing */
		json_set(r->res, "artifact_error", json_str(strerror(-r->ac.rc)));
		accepted = false;
		set_failure(r->res, VERDICT_ERROR, "validate",
			    verdict_error("SandboxError", "the validated archive could not be kept", 0));
	}
	if (accepted && copied && !r->ac.no_hash && !(vsha && !strcmp(r->ac.sha256, vsha))) {
		/* the supervisor's own digest of what it keeps differs from
		 * the verifier's: what would be delivered is not what passed */
		accepted = false;
		set_failure(r->res, VERDICT_ERROR, "validate",
			    verdict_error("SandboxError", "the archive kept is not the archive the verifier read", 0));
	}
	if (r->early && accepted) {
		validated = r->ac.dst;
		if (cand->keep_workdir) {
			/* the work directory's file may have changed after it was
			 * read: it becomes the bytes validated (the build child is
			 * gone, and what it left under the name goes first) */
			(void)util_rm_rf(art);
			(void)util_copy_file(validated, art, max);
		}
	}
	if (accepted && cand->stage_dir && copied) {
		cand->staged = r->ac.dst;
		cand->staged_len = r->ac.len;
		memcpy(cand->staged_sha256, r->ac.sha256, sizeof(cand->staged_sha256));
		r->ac.dst = NULL;
	}
	if (accepted && cand->artifact_out) {
		int rc;

		if (validated && cand->staged) /* the pool keeps the staged copy */
			rc = util_copy_file(cand->staged, cand->artifact_out, max);
		else if (validated)
			rc = move_out(validated, cand->artifact_out, max);
		else
			rc = move_out(art, cand->artifact_out, max);
		if (rc == 0)
			json_set(r->res, "artifact", json_str(cand->artifact_out));
		else
			json_set(r->res, "artifact_error", json_str(strerror(-rc)));
	}
	archive_copy_release(&r->ac);
	if (cand->keep_workdir && access(art, F_OK) == 0)
		json_set(r->res, "artifact", json_str(art));
	free(art);
}

/* Cancel what never ran, record the times, and leave nothing behind. */
static struct json *finish(struct run *r)
{
	if (r->br_pending)
		supervise_job_cancel(r->s, &r->br_run); /* the spare was never used */
	if (r->vheld)
		supervise_job_cancel(r->s, &r->vrun); /* the build failed: it never runs */
	archive_copy_release(&r->ac);
	json_set(r->timings, "total_s", json_num(util_now() - r->t0));
	json_set(r->timings, "zygote_warm_s", json_num(r->s->warm_s));
	json_set(r->res, "execution_time", json_num(util_now() - r->t0));
	if (r->workdir && r->cand->keep_workdir)
		json_set(r->res, "workdir", json_str(r->workdir));
	workdir_drop(r->workdir, r->workdir_lock, r->cand->keep_workdir);
	report_release(&r->br);
	report_release(&r->vr);
	job_outcome_release(&r->bo);
	job_outcome_release(&r->vo);
	json_free(r->req);
	json_free(r->vreq);
	free(r->code);
	free(r->artifact);
	return r->res;
}

struct json *pipeline_run(struct supervisor *s, const struct policy *pol, struct candidate *cand)
{
	struct run r = {
	    .s = s,
	    .pol = pol,
	    .cand = cand,
	    .attempts = json_array(),
	    .timings = json_object(),
	    .code = xstrndup(cand->code, cand->code_len),
	    .code_len = cand->code_len,
	    .workdir_lock = -1,
	    .t0 = util_now(),
	};

	r.res = result_skeleton(pol, cand, r.attempts);
	json_set(r.res, "timings", r.timings);
	/* what the verdict was reached on: interpreter, torch, archive format */
	json_set(r.res, "runtime", s->runtime ? json_dup(s->runtime) : json_null());
	if (!check_source(&r) || !prepare(&r) || !debug_loop(&r))
		return finish(&r);
	if (in_process_result(pol, r.br.result))
		judge_in_process(&r);
	else
		validate(&r);
	deliver_artifact(&r);
	return finish(&r);
}
