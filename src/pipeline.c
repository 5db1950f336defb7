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
#include <sys/random.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine.h"
#include "fixer.h"
#include "pipeline.h"
#include "sha256.h"
#include "util.h"

static void add_output(struct json *res, const char *key, const struct sbuf *sb, size_t dropped)
{
	struct sbuf tmp = SBUF_INIT;

	sbuf_add(&tmp, sbuf_str(sb), sb->len);
	if (dropped)
		sbuf_addf(&tmp, "\n[aegis-sandbox: %zu more bytes of %s dropped]\n", dropped, key);
	json_set(res, key, json_strn(tmp.buf ? tmp.buf : "", tmp.len));
	sbuf_release(&tmp);
}

static struct json *strv_json(const struct strv *sv)
{
	struct json *a = json_array();

	for (size_t i = 0; i < sv->n; i++)
		json_append(a, json_str(sv->v[i]));
	return a;
}

static struct json *python_section(const struct supervisor *s, const char *workdir)
{
	const struct policy *p = s->pol;
	struct json *py = json_object(), *st = json_object(), *ro = json_array();

	json_set(py, "allowed_imports", strv_json(&p->python.allowed_imports));
	json_set(py, "audit", json_bool(p->python.audit.enabled));
	json_set(py, "deny_events", strv_json(&p->python.audit.deny_events));
	json_set(st, "enabled", json_bool(p->python.static_check.enabled));
	json_set(st, "action", json_str(p->python.static_check.action));
	json_set(st, "banned_builtins", strv_json(&p->python.static_check.banned_builtins));
	json_set(st, "banned_attributes", strv_json(&p->python.static_check.banned_attributes));
	json_set(st, "allowed_dunders", strv_json(&p->python.static_check.allowed_dunders));
	json_set(st, "max_nesting", json_num((double)p->python.static_check.max_nesting));
	json_set(st, "max_ast_nodes", json_num((double)p->python.static_check.max_ast_nodes));
	json_set(py, "static", st);
	for (const char *const *r = supervise_ro_roots(s); *r; r++)
		json_append(ro, json_str(*r));
	json_set(py, "ro_roots", ro);
	json_set(py, "workdir", json_str(workdir));
	return py;
}

static struct json *validation_section(const struct policy *p)
{
	struct json *v = json_object(), *a = json_object(), *t = json_object(), *c = json_object();

	json_set(a, "max_parameters", json_num((double)p->validation.architecture.max_parameters));
	json_set(a, "max_buffers", json_num((double)p->validation.architecture.max_buffers));
	json_set(a, "max_layers", json_num((double)p->validation.architecture.max_layers));
	json_set(a, "max_depth", json_num((double)p->validation.architecture.max_depth));
	json_set(a, "max_memory_mb", json_num((double)p->validation.architecture.max_memory_mb));
	json_set(v, "architecture", a);
	json_set(t, "enabled", json_bool(p->validation.training.enabled));
	json_set(t, "steps", json_num((double)p->validation.training.steps));
	json_set(t, "learning_rate", json_num(p->validation.training.learning_rate));
	json_set(t, "batches", json_num((double)p->validation.training.batches));
	json_set(t, "min_loss_drop", json_num(p->validation.training.min_loss_drop));
	json_set(t, "explode_factor", json_num(p->validation.training.explode_factor));
	json_set(v, "training", t);
	json_set(c, "causality", json_bool(p->validation.checks.causality));
	json_set(c, "gradient_coverage", json_bool(p->validation.checks.gradient_coverage));
	json_set(c, "low_loss", json_bool(p->validation.checks.low_loss));
	json_set(c, "low_loss_fraction", json_num(p->validation.checks.low_loss_fraction));
	json_set(v, "checks", c);
	json_set(v, "export_failure", json_str(p->validation.export_failure));
	{
		struct json *r = json_object();

		json_set(r, "model",
			 p->validation.reference.model && *p->validation.reference.model ? json_str("reference.pt")
											 : json_null());
		json_set(r, "max_time_ratio", json_num(p->validation.reference.max_time_ratio));
		json_set(r, "max_memory_ratio", json_num(p->validation.reference.max_memory_ratio));
		json_set(v, "reference", r);
	}
	return v;
}

/* Copy SRC into DIR/NAME, a file for the job's uid; 0 or -errno. */
static int copy_into(const struct policy *pol, const char *src, const char *dir, const char *name)
{
	char *dst = xasprintf("%s/%s", dir, name);
	int rc = util_copy_file(src, dst, 1u << 30);

	if (rc == 0)
		rc = supervise_give(pol, dst);
	free(dst);
	return rc;
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
	if (!d || d->type != JSON_OBJECT)
		d = json_set(dst, key, json_object());
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
static void judge_build(struct supervisor *s, const struct candidate *cand, const struct job_outcome *bo,
			const struct report *br, const char *workdir, const char *artifact, struct json *res,
			bool *build_ok)
{
	const struct policy *pol = s->pol;
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

		if ((frame && memmem(l, len, "candidate.py", 12)) || (!frame && !keep_next && l[0] != ' ') ||
		    (keep_next && l[0] == ' ')) {
			sbuf_add(&sb, l, len);
			sbuf_addc(&sb, '\n');
		}
		keep_next = frame && memmem(l, len, "candidate.py", 12);
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
static void compute_fix(struct supervisor *s, const struct candidate *cand, const char *workdir, const char *code,
			size_t code_len, const struct json *error, int attempt, struct json *att, struct json *fixes,
			char **fixed, size_t *fixed_len)
{
	const struct policy *pol = s->pol;

	*fixed = NULL;
	if (pol->debug.builtin_fixers && error) {
		struct json *req = json_object();
		struct job_outcome fo;
		struct report fr;

		json_set(req, "phase", json_str("fix"));
		json_set(req, "source", json_str("candidate.py"));
		json_set(req, "error", json_dup(error));
		json_set(req, "allowed_imports", strv_json(&pol->python.allowed_imports));
		json_set(req, "rules", strv_json(&pol->debug.rules));
		json_set(req, "class", cand->class_name ? json_str(cand->class_name) : json_null());
		json_set(req, "vocab",
			 cand->input->kind == INPUT_TOKENS ? json_num((double)cand->input->vocab) : json_null());
		json_set(req, "environment", strv_json(&pol->sandbox.environment));
		supervise_job(s, req, workdir, false, &fo);
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

/* Put what a job in WORKDIR needs there: the code as candidate.py, and
 * the policy's reference model and the candidate's input file when there
 * are any.  0, or -1 with ERR. */
static int fill_workdir(const struct policy *pol, const struct candidate *cand, const char *workdir, const char *code,
			size_t code_len, char *err, size_t errlen)
{
	char *src = xasprintf("%s/candidate.py", workdir);
	int rc = util_write_file(src, code, code_len, 0600);

	if (rc == 0)
		rc = supervise_give(pol, src);
	free(src);
	if (rc == 0 && pol->validation.reference.model && *pol->validation.reference.model)
		rc = copy_into(pol, pol->validation.reference.model, workdir, "reference.pt");
	if (rc == 0 && input_copy_name(cand))
		rc = copy_into(pol, cand->input->path, workdir, input_copy_name(cand));
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

/* The build request for CAND in WORKDIR, exporting to ARTIFACT (the
 * caller's), and in *VREQ the matching validate request (the caller's). */
static struct json *build_request(const struct supervisor *s, const struct candidate *cand, const char *workdir,
				  const char *artifact, struct json **vreq)
{
	const struct policy *pol = s->pol;
	struct json *req = json_object();

	json_set(req, "phase", json_str(cand->static_only ? "static" : "build"));
	json_set(req, "source", json_str("candidate.py"));
	json_set(req, "class", cand->class_name ? json_str(cand->class_name) : json_null());
	json_set(req, "input", inputspec_to_json(cand->input, input_copy_name(cand)));
	json_set(req, "python", python_section(s, workdir));
	json_set(req, "validation", validation_section(pol));
	json_set(req, "threads", json_num((double)pol->sandbox.threads));
	json_set(req, "environment", strv_json(&pol->sandbox.environment));
	json_set(req, "jit_code", json_bool(pol->sandbox.allow_rwx_memory));
	json_set(req, "artifact", json_str(artifact));
	*vreq = json_dup(req);
	json_set(*vreq, "phase", json_str("validate"));
	return req;
}

struct json *pipeline_run(struct supervisor *s, struct candidate *cand)
{
	const struct policy *pol = s->pol;
	struct json *res = json_object(), *attempts = json_array(), *req = NULL, *timings = json_object();
	struct job_outcome bo = {0}, vo = {0};
	struct report br = {0}, vr = {0};
	char sha[65], err[512], digest[65];
	char *workdir = NULL, *artifact = NULL;
	int workdir_lock = -1;
	char *code = xstrndup(cand->code, cand->code_len);
	size_t code_len = cand->code_len;
	double t0 = util_now();
	enum verdict v;
	struct json *e = NULL, *vreq = NULL;
	bool build_ok = false, vheld = false;
	struct job_run vrun, br_run;
	bool br_pending = false; /* br_run started, not yet finished */

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

	/* the source itself: checked here, before any process sees it */
	if (cand->code_len == 0 || cand->code_len > (size_t)pol->limits.code_max_bytes ||
	    memchr(cand->code, '\0', cand->code_len) || !util_utf8_valid(cand->code, cand->code_len)) {
		const char *why = cand->code_len == 0 ? "the source is empty"
				  : cand->code_len > (size_t)pol->limits.code_max_bytes
				      ? "the source is larger than limits.code_max_bytes"
				  : memchr(cand->code, '\0', cand->code_len) ? "the source contains a NUL byte"
									     : "the source is not valid UTF-8";

		json_set(res, "final_code", json_str(""));
		set_failure(res, VERDICT_REJECTED, "static", verdict_error("SourceError", why, 0));
		goto out;
	}
	/* a spare build child, already forked and confined in its own work
	 * directory, waits for this candidate's request (serve and batch) */
	br_pending = supervise_take_spare(s, &br_run, &workdir, &workdir_lock);
	if (!br_pending)
		workdir = supervise_make_workdir(pol, !cand->keep_workdir, &workdir_lock, err, sizeof(err));
	if (!workdir || fill_workdir(pol, cand, workdir, cand->code, cand->code_len, err, sizeof(err)) < 0) {
		set_failure(res, VERDICT_ERROR, "build", verdict_error("SandboxError", err, 0));
		goto out;
	}
	artifact = new_artifact_name();
	req = build_request(s, cand, workdir, artifact, &vreq);

	/* ---- the debug loop: build, and on an exception fix and build again ---- */
	for (int attempt = 1;; attempt++) {
		struct json *att = json_object(), *fixes = json_array();
		bool again = false;

		json_set(att, "attempt", json_num(attempt));
		if (!br_pending)
			(void)supervise_job_start(s, req, workdir, true, false, &br_run);
		if (attempt == 1 && !cand->static_only) {
			/* The validate child is forked and confined now, while the
			 * build child runs, and held before it runs any Python: its
			 * fork, cgroup move and confinement cost no wall time.  It
			 * starts only once the build is judged good; otherwise it is
			 * cancelled.  It is a separate process from the start, with
			 * its own report pipe, so nothing changes for the verdict. */
			vheld = supervise_job_start(s, NULL, workdir, false, true, &vrun) == 0;
		}
		br_pending = false;
		supervise_job_finish(s, &br_run, req, &bo);
		bo.disk_full = supervise_workdir_full(pol, workdir);
		report_parse_job(&bo, &br);
		json_set(timings, "build_s", json_num(bo.wall_s));
		if (json_get(br.result, "timings"))
			json_set(timings, "build_steps", json_dup(json_get(br.result, "timings")));
		add_output(res, "stdout", &bo.out, bo.out_dropped);
		add_output(res, "stderr", &bo.err, bo.err_dropped);
		if (br.sandbox)
			json_set(res, "sandbox", json_dup(br.sandbox));
		json_set(res, "violations", json_dup(br.violations));
		json_set(res, "metrics", json_object());
		json_set(res, "checks", json_object());
		judge_build(s, cand, &bo, &br, workdir, artifact, res, &build_ok);
		json_set(att, "status", json_str(build_ok ? "ok" : json_get_str(res, "status")));
		json_set(att, "error", json_dup(json_get(res, "error")));
		json_set(att, "time", json_num(bo.wall_s));
		if (!build_ok && attempt < pol->debug.max_attempts && fixable(res)) {
			char *fixed = NULL, *fresh;
			size_t fixed_len = 0;
			int fresh_lock = -1;

			/* The failed attempt's directory is the candidate's: it may
			 * have rewritten candidate.py or planted an archive there.
			 * The fixer reads, and the next attempt runs in, a fresh
			 * directory holding the supervisor's copy of the code, and the
			 * next archive gets a fresh name. */
			if (vheld) {
				supervise_job_cancel(s, &vrun);
				vheld = false;
			}
			fresh = supervise_make_workdir(pol, !cand->keep_workdir, &fresh_lock, err, sizeof(err));
			if (!fresh || fill_workdir(pol, cand, fresh, code, code_len, err, sizeof(err)) < 0) {
				set_failure(res, VERDICT_ERROR, "build", verdict_error("SandboxError", err, 0));
				supervise_drop_workdir(fresh, fresh_lock, false);
				json_set(att, "fixes", fixes);
				json_append(attempts, att);
				break;
			}
			supervise_drop_workdir(workdir, workdir_lock, false);
			workdir = fresh;
			workdir_lock = fresh_lock;
			compute_fix(s, cand, workdir, code, code_len, json_get(res, "error"), attempt, att, fixes,
				    &fixed, &fixed_len);
			if (fixed) {
				char *src = xasprintf("%s/candidate.py", workdir);
				int rc = util_write_file(src, fixed, fixed_len, 0600);

				if (rc == 0)
					rc = supervise_give(pol, src);
				free(src);
				free(code);
				code = fixed;
				code_len = fixed_len;
				json_set(res, "final_code", json_strn(code, code_len));
				free(artifact);
				artifact = new_artifact_name();
				json_free(req);
				json_free(vreq);
				req = build_request(s, cand, workdir, artifact, &vreq);
				again = rc == 0;
			}
		}
		json_set(att, "fixes", fixes);
		json_append(attempts, att);
		if (!again)
			break;
		report_release(&br);
		job_outcome_release(&bo);
	}
	{
		/* No silent rewriting: how many fixes made the code that ran */
		size_t n = 0;

		for (size_t i = 0; i < attempts->count; i++) {
			const struct json *fx = json_get(attempts->items[i], "fixes");

			n += fx && fx->type == JSON_ARRAY ? fx->count : 0;
		}
		json_set(res, "fixed", json_bool(n > 0));
		json_set(res, "fixes_applied", json_num((double)n));
	}
	if (!build_ok)
		goto out;

	/* ---- validate: a fresh child that sees only the artifact ---- */
	{
		if (in_process_result(pol, br.result)) {
			/* The policy allowed validating a model that cannot be
			 * exported inside the build child, which is the candidate's
			 * own process: what it says is its claim.  Say so wherever
			 * the verdict is shown ("unverified"). */
			json_set(res, "integrity", json_str("unverified"));
			json_set(res, "integrity_note",
				 json_str("validated inside the candidate's own process "
					  "(validation.export_failure: in-process): the candidate could "
					  "have forged this result"));
			if (json_get_bool(br.result, "validated", false)) {
				set_failure(res, VERDICT_ACCEPTED, "validate", NULL);
			} else {
				const struct json *re = json_get(br.result, "error");

				set_failure(res, VERDICT_REJECTED, "validate",
					    re ? json_dup(re)
					       : verdict_error("ValidationError", "validation failed", 0));
			}
			goto out;
		}
	}
	if (vheld) {
		vheld = false;
		supervise_job_finish(s, &vrun, vreq, &vo);
	} else {
		supervise_job(s, vreq, workdir, false, &vo);
	}
	report_parse_job(&vo, &vr);
	json_set(timings, "validate_s", json_num(vo.wall_s));
	if (json_get(vr.result, "timings"))
		json_set(timings, "validate_steps", json_dup(json_get(vr.result, "timings")));
	json_set(res, "integrity", json_str("artifact"));
	if (vr.violations->count) {
		struct json *all = json_get(res, "violations");

		for (size_t i = 0; i < vr.violations->count; i++)
			json_append(all, json_dup(vr.violations->items[i]));
	}
	if (judge_job(pol, &vo, &vr, &v, &e)) {
		set_failure(res, v, "validate", e);
	} else if (!vr.result) {
		snprintf(err, sizeof(err), "the validate child ended without a result%s%s",
			 vr.harness_error ? ": " : "", vr.harness_error ? vr.harness_error : "");
		set_failure(res, VERDICT_ERROR, "validate", verdict_error("SandboxError", err, 0));
	} else {
		const struct json *re = json_get(vr.result, "error");
		bool ok = json_get_bool(vr.result, "ok", false);

		/* metrics and checks come from the validate child only */
		json_set(res, "metrics", json_object());
		json_set(res, "checks", json_object());
		merge_obj(res, "metrics", vr.result);
		merge_obj(res, "checks", vr.result);
		{
			/* the class name, the export method (trace | script) and the
			 * tracer's warnings are the build child's word: labels, never
			 * facts the verdict rests on */
			static const char *const labels[] = {"class", "export", "tracer_warnings"};

			for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
				const struct json *label = json_get(json_get(br.result, "metrics"), labels[i]);

				if (label && (label->type == JSON_STRING || label->type == JSON_ARRAY))
					json_set(json_get(res, "metrics"), labels[i], json_dup(label));
			}
		}
		if (vo.peak_bytes > 0)
			json_set(json_get(res, "metrics"), "peak_memory_mb",
				 json_num((double)vo.peak_bytes / 1048576.0));
		set_failure(res, ok ? VERDICT_ACCEPTED : VERDICT_REJECTED, "validate",
			    ok   ? NULL
			    : re ? json_dup(re)
				 : verdict_error("ValidationError", "validation failed", 0));
		if (vo.err.len && !ok)
			add_output(res, "validate_stderr", &vo.err, vo.err_dropped);
	}
	if (cand->collect_artifact && !strcmp(json_get_str(res, "status"), "accepted")) {
		char *art = xasprintf("%s/%s", workdir, artifact), *buf = NULL;
		size_t len = 0;

		if (util_read_file(art, (size_t)pol->limits.max_file_bytes, &buf, &len) == 0) {
			cand->artifact = buf;
			cand->artifact_len = len;
		}
		free(art);
	}
	if (cand->artifact_out && !strcmp(json_get_str(res, "status"), "accepted")) {
		char *art = xasprintf("%s/%s", workdir, artifact);
		int rc = move_out(art, cand->artifact_out, (size_t)pol->limits.max_file_bytes);

		if (rc == 0)
			json_set(res, "artifact", json_str(cand->artifact_out));
		else
			json_set(res, "artifact_error", json_str(strerror(-rc)));
		free(art);
	}
	if (cand->keep_workdir) {
		char *art = xasprintf("%s/%s", workdir, artifact);

		if (access(art, F_OK) == 0)
			json_set(res, "artifact", json_str(art));
		free(art);
	}
out:
	if (br_pending)
		supervise_job_cancel(s, &br_run); /* the spare was never used */
	if (vheld)
		supervise_job_cancel(s, &vrun); /* the build failed: it never runs */
	json_set(timings, "total_s", json_num(util_now() - t0));
	json_set(timings, "zygote_warm_s", json_num(s->warm_s));
	json_set(res, "timings", timings);
	json_set(res, "execution_time", json_num(util_now() - t0));
	if (workdir && cand->keep_workdir)
		json_set(res, "workdir", json_str(workdir));
	supervise_drop_workdir(workdir, workdir_lock, cand->keep_workdir);
	report_release(&br);
	report_release(&vr);
	job_outcome_release(&bo);
	job_outcome_release(&vo);
	json_free(req);
	json_free(vreq);
	free(code);
	free(artifact);
	return res;
}
