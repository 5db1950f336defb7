/* poolcmd.c - the "pool" and "approvals" commands: the code pool and the
 * human approval gate, as a person or a script reads them. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/base.h"
#include "cli/poolcmd.h"
#include "cli/report.h"
#include "common/util.h"
#include "pipeline/verdict.h"
#include "policy/policy.h"
#include "store/db.h"
#include "store/gate.h"
#include "store/pool.h"

static const char pool_usage[] =
    "Usage: aegis-sandbox pool list [--status S] [--generation N] [--sha256 HEX]\n"
    "       aegis-sandbox pool show ID\n"
    "       aegis-sandbox pool top [--k 10] [--metric heldout_loss] [--loss KIND] [--desc]\n"
    "       aegis-sandbox pool lineage ID\n"
    "       aegis-sandbox pool export ID --out FILE|- [--force]\n"
    "       aegis-sandbox pool gc [--dry-run] [--min-age SECONDS]\n"
    "       aegis-sandbox pool report --html DIR [--since ID] [--metric NAME]\n"
    "       aegis-sandbox pool queue\n"
    "       aegis-sandbox pool path\n"
    "       aegis-sandbox pool annotate ID [--metrics JSON] [--generation N] [--arch-id ID]\n"
    "       aegis-sandbox pool grant --submitter ROLE --reviewer ROLE   (PostgreSQL)\n"
    "       aegis-sandbox approvals list [--state pending|approved|rejected]\n"
    "       aegis-sandbox approvals show ID\n"
    "       aegis-sandbox approvals request ID [--title T] [--description D] [--risk JSON]\n"
    "       aegis-sandbox approvals approve ID [--key FILE] [--comment TEXT]\n"
    "       aegis-sandbox approvals reject ID [--key FILE] --comment TEXT\n"
    "       aegis-sandbox approvals keygen --reviewer NAME [--key FILE] [--passphrase-file F]\n"
    "\n"
    "Common options: --db PATH (default: storage.db of --policy, else\n"
    "$XDG_DATA_HOME/aegis-sandbox/pool.db), --policy FILE, --json,\n"
    "--reviewers FILE (whose signatures count; default $AEGIS_REVIEWERS, else\n"
    "~/.config/aegis-sandbox/reviewers, else /etc/aegis-sandbox/reviewers).\n"
    "'top' ranks accepted candidates by a metric, ascending unless --desc: the\n"
    "caller's metric of that name ('annotate --metrics'), else the sandbox's.\n"
    "'approvals request' keeps the requester's title, description and risk\n"
    "assessment; the sandbox's own assessment is stored beside them.\n"
    "A decision is signed with the reviewer's key (--key, default\n"
    "$AEGIS_REVIEWER_KEY, else ~/.config/aegis-sandbox/reviewer.key; 'keygen'\n"
    "makes one, sealed with a passphrase typed at the terminal or read from\n"
    "--passphrase-file, and prints the line the reviewers file lists).  An approval\n"
    "counts only when a key of the reviewers file signed it over the archive's\n"
    "digest: every view shows any other as forged or untrusted.\n"
    "'export' writes the TorchScript archive only after such an approval,\n"
    "and only when its bytes still have the digest recorded with them.\n"
    "Archives live in DB-archives/ beside the database, named by SHA-256; 'gc'\n"
    "removes those of candidates without an approved or pending request.\n"
    "'report --html DIR' writes the pool as static pages (no server): a table\n"
    "of candidates to filter, sort, tick and compare, a page per candidate and\n"
    "per approval request, each metric over the generations, the lineage\n"
    "labelled with --metric, and the table as candidates.csv and .json.\n"
    "'grant' gives a PostgreSQL pool's gate database roles: the submitter\n"
    "(the search loop) may queue, record and request, only the reviewer may\n"
    "decide.\n";

static void print_rows(const struct json *rows)
{
	printf("%6s  %-9s %-9s %4s %6s %12s %12s %12s  %-9s %5s  %s\n", "id", "status", "stage", "gen", "parent",
	       "parameters", "heldout_loss", "final_loss", "approval", "fixes", "architecture");
	for (size_t i = 0; rows && i < rows->count; i++) {
		const struct json *r = rows->items[i];
		double id = 0, gen = 0, par = 0, params = -1, loss = NAN, held = NAN;

		json_get_num(r, "id", &id);
		json_get_num(r, "generation", &gen);
		json_get_num(r, "parameters", &params);
		json_get_num(r, "final_loss", &loss);
		json_get_num(r, "heldout_loss", &held);
		/* a verdict read from the build child (the in-process fallback)
		 * is marked wherever it is listed */
		printf("%6.0f  %-9s %-9s %4.0f ", id, cli_unverified(r) ? "accepted?" : T(json_get_str(r, "status")),
		       T(json_get_str(r, "stage")), gen);
		if (json_get_num(r, "parent_id", &par))
			printf("%6.0f ", par);
		else
			printf("%6s ", "-");
		if (params >= 0)
			printf("%12.0f ", params);
		else
			printf("%12s ", "-");
		if (isfinite(held))
			printf("%12.4g ", held);
		else
			printf("%12s ", "-");
		if (isfinite(loss))
			printf("%12.4g ", loss);
		else
			printf("%12s ", "-");
		{
			double nfix = 0;

			/* fixes: the code that ran is not the code submitted */
			json_get_num(r, "fixes_applied", &nfix);
			printf(" %-9s %5.0f  %s\n", json_get_str(r, "approval") ? T(json_get_str(r, "approval")) : "-",
			       nfix, T(json_get_str(r, "architecture_id")));
		}
	}
}

/* A terminal sparkline of the loss curve. */
static void print_sparkline(const struct json *curve)
{
	static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
					   "\u2585", "\u2586", "\u2587", "\u2588"};
	double lo = INFINITY, hi = -INFINITY;
	size_t n = curve ? curve->count : 0, step = n > 60 ? (n + 59) / 60 : 1;

	for (size_t i = 0; i < n; i++) {
		if (curve->items[i]->type != JSON_NUMBER)
			continue;
		lo = fmin(lo, curve->items[i]->n);
		hi = fmax(hi, curve->items[i]->n);
	}
	if (!n || !isfinite(lo))
		return;
	printf("  %-12s ", "loss curve");
	for (size_t i = 0; i < n; i += step) {
		double v = curve->items[i]->type == JSON_NUMBER ? curve->items[i]->n : hi;
		int k = hi > lo ? (int)((v - lo) / (hi - lo) * 7.999) : 0;

		fputs(bars[k < 0 ? 0 : k > 7 ? 7 : k], stdout);
	}
	printf("  %.4g -> %.4g\n", curve->items[0]->n, curve->items[n - 1]->n);
}

static const char *login_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *u = getenv("USER");

	return pw ? pw->pw_name : u && *u ? u : "unknown";
}

static bool parse_id(const char *s, long long *out)
{
	long v;

	if (!util_parse_long(s, &v) || v < 1)
		return false;
	*out = v;
	return true;
}

/* What a pool or approvals command was given. */
struct popts {
	bool approvals;
	const char *verb;
	long long id; /* the positional ID, for the verbs that take one */
	const char *status, *state, *metric, *out_path, *reviewer, *comment, *key, *submitter, *passphrase_file;
	const char *sha256, *arch_id, *title, *description, *loss;
	struct json *metrics, *risk; /* --metrics, --risk: parsed JSON objects */
	long generation, k;
	double min_age;
	const char *html_dir, *db; /* db: the database's path, as the pages name it */
	const char *reviewers;     /* --reviewers FILE */
	const struct gate_trust *trust;
	long long since;
	bool as_json, desc, force, dry_run;
};

/* One verb: fill *DOC (printed as JSON with --json) and print the human
 * view; return an exit code.  A NULL *DOC with 0 means ERR says why. */
typedef int verb_fn(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen);

static int do_list(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	*doc = pool_list(pool, o->status, o->generation, o->sha256, err, errlen);
	if (*doc && !o->as_json)
		print_rows(*doc);
	return 0;
}

static int do_top(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	*doc = pool_top(pool, o->k, o->metric, o->desc, o->loss, err, errlen);
	if (!*doc && !strncmp(err, "metric", 6))
		return usage_error("%s", err);
	if (*doc && !o->as_json)
		print_rows(*doc);
	return 0;
}

static int do_show(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	const struct json *m, *ch;
	struct json *lin;

	*doc = pool_get(pool, o->id, true, err, errlen);
	if (!*doc || o->as_json)
		return 0;
	m = json_get(*doc, "metrics");
	ch = json_get(*doc, "checks");
	print_rows(&(struct json){.type = JSON_ARRAY, .count = 1, .items = doc});
	printf("\n");
	{
		/* why not accepted, when it was not */
		const struct json *e = json_get(*doc, "error");
		double line = 0;

		if (e && e->type == JSON_OBJECT) {
			printf("  %-12s %s", "error", T(json_get_str(e, "type")));
			if (json_get_num(e, "line", &line) && line > 0)
				printf(" at line %.0f", line);
			printf(": %s\n", T(json_get_str(e, "message")));
		}
	}
	cli_print_archive(*doc, true);
	print_sparkline(json_get(m, "loss_curve"));
	for (size_t i = 0; ch && ch->type == JSON_OBJECT && i < ch->count; i++)
		printf("  %-12s %-7s %s: %s\n", i ? "" : "checks", T(json_get_str(ch->items[i], "status")),
		       T(ch->keys[i]), T(json_get_str(ch->items[i], "detail")));
	lin = pool_lineage(pool, o->id, err, errlen);
	if (lin) {
		const struct json *anc = json_get(lin, "ancestors"), *des = json_get(lin, "descendants");

		printf("  %-12s", "lineage");
		for (size_t i = 0; anc && i < anc->count; i++)
			printf(" %.0f ->", json_get(anc->items[i], "id")->n);
		printf(" [%lld]", o->id);
		if (des && des->count)
			printf(" -> %zu descendant(s)", des->count);
		printf("\n");
		json_free(lin);
	}
	{
		/* the debug loop's edits, then the code as submitted and as run */
		const struct json *att = json_get(*doc, "attempts");
		bool fixed = false;

		for (size_t i = 0; att && att->type == JSON_ARRAY && i < att->count; i++) {
			const char *d = json_get_str(att->items[i], "diff");

			if (d && *d) {
				printf("\nfixes after attempt %zu:\n%s", i + 1, TL(d));
				fixed = true;
			}
		}
		if (fixed)
			printf("\ncode as submitted:\n%s\ncode that ran:\n", TL(json_get_str(*doc, "code")));
		else
			printf("\n");
	}
	printf("%s", TL(json_get_str(*doc, "final_code")));
	return 0;
}

static int do_lineage(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	*doc = pool_lineage(pool, o->id, err, errlen);
	if (!*doc || o->as_json)
		return 0;
	printf("ancestors (root first):\n");
	print_rows(json_get(*doc, "ancestors"));
	printf("candidate:\n");
	print_rows(
	    &(struct json){.type = JSON_ARRAY, .count = 1, .items = (struct json *[]){json_get(*doc, "candidate")}});
	printf("descendants:\n");
	print_rows(json_get(*doc, "descendants"));
	return 0;
}

/* The exit code of a pool call that failed: what kind of failure it was
 * (refused by the gate 1, not found 8, a conflict 9, else an error 7). */
static int pool_exit(const struct pool *pool)
{
	switch (pool_last_error(pool)) {
	case POOL_ERR_REFUSED: return AEGIS_EXIT_REJECTED;
	case POOL_ERR_NOT_FOUND: return AEGIS_EXIT_NOT_FOUND;
	case POOL_ERR_CONFLICT: return AEGIS_EXIT_CONFLICT;
	default: return AEGIS_EXIT_ERROR;
	}
}

static int do_export(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	size_t len = 0;

	if (!o->out_path)
		return usage_error("pool export: --out FILE is required ('-' for standard output)");
	if (pool_export(pool, o->id, o->out_path, o->force, &len, err, errlen) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		/* an existing --out is the caller's mistake, not the pool's */
		return strstr(err, "exists: give --force") ? AEGIS_EXIT_USAGE : pool_exit(pool);
	}
	*doc = json_object();
	json_set(*doc, "candidate_id", json_num((double)o->id));
	json_set(*doc, "out", json_str(o->out_path));
	json_set(*doc, "bytes", json_num((double)len));
	if (!o->as_json && strcmp(o->out_path, "-"))
		printf("wrote candidate %lld's TorchScript archive to %s (%zu bytes)\n", o->id, o->out_path, len);
	return 0;
}

static void print_bytes(const char *label, double b)
{
	printf("%-28s %10.1f MiB\n", label, b / 1048576.0);
}

static int do_gc(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	double v = 0, before = 0, after = 0;

	*doc = pool_gc(pool, o->dry_run, o->min_age, err, errlen);
	if (!*doc || o->as_json)
		return 0;
	json_get_num(*doc, "pruned", &v);
	printf("%s%.0f archive(s) of candidates without an approved or pending request\n",
	       o->dry_run ? "would prune " : "pruned ", v);
	json_get_num(*doc, "pruned_bytes", &v);
	print_bytes("  their size", v);
	json_get_num(*doc, "moved_out_of_rows", &v);
	if (v > 0)
		printf("moved %.0f archive(s) out of database rows into files\n", v);
	json_get_num(*doc, "files_removed", &v);
	printf("%s%.0f file(s) no candidate names\n", o->dry_run ? "would remove " : "removed ", v);
	json_get_num(*doc, "archives_kept", &v);
	printf("kept %.0f archive file(s) in %s\n", v, T(json_get_str(*doc, "archives")));
	json_get_num(*doc, "archives_kept_bytes", &v);
	print_bytes("  their size", v);
	json_get_num(*doc, "db_bytes_before", &before);
	json_get_num(*doc, "db_bytes_after", &after);
	if (o->dry_run)
		print_bytes("database", before);
	else
		printf("%-28s %10.1f MiB -> %.1f MiB\n", "database", before / 1048576.0, after / 1048576.0);
	return 0;
}

static int do_report(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	double v = 0;

	if (!o->html_dir)
		return usage_error("pool report: --html DIR is required");
	*doc = report_html(pool, o->db, o->html_dir, o->since, o->metric, err, errlen);
	if (!*doc && strstr(err, "give a new directory"))
		return usage_error("%s", err);
	if (*doc && !o->as_json) {
		json_get_num(*doc, "candidates", &v);
		printf("wrote %.0f candidate page(s)", v);
		json_get_num(*doc, "approvals", &v);
		printf(" and %.0f approval page(s); open %s\n", v, T(json_get_str(*doc, "index")));
	}
	return 0;
}

static int do_queue(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	const struct json *e;
	double q = 0, r = 0, d = 0;

	*doc = pool_queue(pool, err, errlen);
	if (!*doc || o->as_json)
		return 0;
	json_get_num(*doc, "queued", &q);
	json_get_num(*doc, "running", &r);
	json_get_num(*doc, "done", &d);
	printf("queued %.0f, running %.0f, done %.0f\n", q, r, d);
	e = json_get(*doc, "entries");
	printf("%6s  %-8s %6s %9s %10s  %-32s %s\n", "id", "state", "claims", "candidate", "lease left", "worker",
	       "file");
	for (size_t i = 0; e && i < e->count; i++) {
		const struct json *x = e->items[i];
		double id = 0, cl = 0, cid = 0, left = 0;

		json_get_num(x, "id", &id);
		json_get_num(x, "claims", &cl);
		printf("%6.0f  %-8s %6.0f ", id, T(json_get_str(x, "state")), cl);
		if (json_get_num(x, "candidate_id", &cid))
			printf("%9.0f ", cid);
		else
			printf("%9s ", "-");
		if (json_get_num(x, "lease_left_s", &left))
			printf("%9.1fs ", left);
		else
			printf("%10s ", "-");
		printf(" %-32s %s\n", T(json_get_str(x, "lease_owner") ? json_get_str(x, "lease_owner") : "-"),
		       T(json_get_str(x, "name")));
	}
	return 0;
}

static int do_approvals_list(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	*doc = pool_approvals(pool, o->state, err, errlen);
	if (*doc && !o->as_json)
		printf("%6s  %-9s %-15s %-24s  %s\n", "id", "state", "candidate", "requested", "title");
	for (size_t i = 0; *doc && !o->as_json && i < (*doc)->count; i++) {
		const struct json *r = (*doc)->items[i];

		printf("%6.0f  %-9s %-15.0f %-24s  %s%s\n", json_get(r, "id")->n, T(json_get_str(r, "state")),
		       json_get(r, "candidate_id")->n, T(json_get_str(r, "requested_at")), T(json_get_str(r, "title")),
		       cli_unverified(r) ? "  [UNVERIFIED: validated in the candidate's own process]" : "");
	}
	return 0;
}

/* ID is a candidate: open a request for it (accepted ones only), with the
 * title, description and risk assessment every request gets. */
static int do_approvals_request(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	struct json *cand = pool_get(pool, o->id, false, err, errlen), *sandbox = NULL;
	char *title = NULL, *text = NULL;
	long long rid = -1;
	bool refused = false;

	if (cand && strcmp(json_get_str(cand, "status"), "accepted")) {
		snprintf(err, errlen, "candidate %lld is %s: only accepted candidates can be approved", o->id,
			 json_get_str(cand, "status"));
		refused = true;
	} else if (cand) {
		/* the requester's title, description and risk assessment as
		 * given; the sandbox's own assessment always beside them */
		cli_approval_of(cand, &title, &text, &sandbox);
		rid = pool_request_approval(pool, o->id, o->title ? o->title : title,
					    o->description ? o->description : text, o->risk ? o->risk : sandbox,
					    sandbox, err, errlen);
	}
	free(title);
	free(text);
	json_free(sandbox);
	json_free(cand);
	if (rid < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		return refused ? AEGIS_EXIT_REJECTED : pool_exit(pool);
	}
	*doc = pool_approval_get(pool, rid, err, errlen);
	if (*doc && !o->as_json)
		printf("approval request %lld opened for candidate %lld\n", rid, o->id);
	return 0;
}

/* The caller's labels for a candidate: its own metrics (what 'top' ranks
 * by first), generation, architecture id.  The verdict never changes. */
static int do_annotate(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	if (!o->metrics && o->generation < 0 && !o->arch_id)
		return usage_error("pool annotate: give --metrics JSON, --generation N or --arch-id ID");
	if (pool_annotate(pool, o->id, o->metrics, o->generation, o->arch_id, err, errlen) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		return pool_exit(pool);
	}
	*doc = pool_get(pool, o->id, false, err, errlen);
	if (*doc && !o->as_json)
		printf("candidate %lld annotated\n", o->id);
	return 0;
}

/* The first N lines of TEXT, each through TL() and indented; a line on
 * how many more there are. */
static void print_head(const char *text, int n, const char *more)
{
	int shown = 0, total = 0;

	for (const char *l = text ? text : ""; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (shown < n) {
			char *one = xstrndup(l, len);

			printf("  %s\n", TL(one));
			free(one);
			shown++;
		}
		total++;
		l = nl ? nl + 1 : l + len;
	}
	if (total > shown)
		printf("  ... %d more line(s)%s\n", total - shown, more);
}

/* A JSON value on one line, short: numbers, strings (through T()),
 * arrays and objects summarised. */
static void print_short(const struct json *v)
{
	if (!v || v->type == JSON_NULL)
		printf("-");
	else if (v->type == JSON_BOOL)
		printf("%s", v->b ? "yes" : "no");
	else if (v->type == JSON_NUMBER)
		printf("%.6g", v->n);
	else if (v->type == JSON_STRING)
		printf("%.*s%s", 100, T(v->s), strlen(T(v->s)) > 100 ? "..." : "");
	else if (v->type == JSON_ARRAY)
		printf("[%zu values]", v->count);
	else
		printf("{%zu keys}", v->count);
}

static void shell_word(const char *s)
{
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

/* One screen for a person deciding: what was asked, what the sandbox
 * measured, what changed, how to decide.  --json has everything. */
static int do_approvals_show(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	const struct json *c, *m, *ch, *sb, *risk, *sbr, *dec, *att;
	double cid = 0, pid = 0, v;
	size_t npass = 0;

	*doc = pool_approval_get(pool, o->id, err, errlen);
	if (!*doc || o->as_json)
		return 0;
	c = json_get(*doc, "candidate");
	m = json_get(c, "metrics");
	ch = json_get(c, "checks");
	sb = json_get(c, "sandbox");
	risk = json_get(*doc, "risk_assessment");
	sbr = json_get(*doc, "sandbox_assessment");
	dec = json_get(*doc, "decisions");
	json_get_num(*doc, "candidate_id", &cid);
	printf("approval request %lld: %s, candidate %.0f (%s), requested %s\n", o->id, T(json_get_str(*doc, "state")),
	       cid, T(json_get_str(*doc, "architecture_id")), T(json_get_str(*doc, "requested_at")));
	if (cli_unverified(*doc))
		printf("UNVERIFIED: this candidate was validated inside its own process "
		       "(validation.export_failure: in-process); it could have forged that result.\n");
	printf("  %s\n", T(json_get_str(*doc, "title")));
	print_head(json_get_str(*doc, "description"), 4, "");
	printf("\n%-11s %s at %s, integrity %s, torch %s, Python %s\n", "verdict", T(json_get_str(c, "status")),
	       T(json_get_str(c, "stage")), T(json_get_str(c, "integrity")), T(json_get_str(c, "torch")),
	       T(json_get_str(c, "python")));
	cli_print_archive(c, false);
	printf("%-11s", "metrics");
	if (json_get_num(m, "parameters", &v))
		printf(" %.0f parameters", v);
	if (json_get_num(m, "heldout_loss", &v))
		printf(", held-out loss %.4g", v);
	if (json_get_num(m, "final_loss", &v))
		printf(", final loss %.4g", v);
	if (json_get_str(m, "loss"))
		printf(" (%s)", T(json_get_str(m, "loss")));
	if (json_get_num(m, "training_steps", &v))
		printf(", %.0f steps", v);
	if (json_get_num(m, "estimated_training_memory_mb", &v))
		printf(", %.1f MiB to train", v);
	printf("\n");
	{
		const struct json *um = json_get(c, "user_metrics");

		if (um && um->type == JSON_OBJECT && um->count) {
			printf("%-11s", "caller's");
			for (size_t i = 0; i < um->count && i < 8; i++) {
				printf("%s%s ", i ? ", " : " ", T(um->keys[i]));
				print_short(um->items[i]);
			}
			printf("\n");
		}
	}
	print_sparkline(json_get(m, "loss_curve"));
	for (size_t i = 0; ch && ch->type == JSON_OBJECT && i < ch->count; i++)
		npass +=
		    !strcmp(json_get_str(ch->items[i], "status") ? json_get_str(ch->items[i], "status") : "", "pass");
	printf("%-11s %zu of %zu passed\n", "checks", npass, ch ? ch->count : 0);
	for (size_t i = 0; ch && ch->type == JSON_OBJECT && i < ch->count; i++)
		if (strcmp(json_get_str(ch->items[i], "status") ? json_get_str(ch->items[i], "status") : "", "pass"))
			printf("  %-8s %s: %.110s\n", T(json_get_str(ch->items[i], "status")), T(ch->keys[i]),
			       T(json_get_str(ch->items[i], "detail")));
	if (sb && sb->type == JSON_OBJECT) {
		const struct json *ns = json_get(sb, "namespaces");

		printf("%-11s seccomp %s, Landlock ABI %.0f, no_new_privs %s, uid %.0f, capabilities %s, cgroup %s, "
		       "namespaces:",
		       "sandbox", json_get_bool(sb, "seccomp", false) ? "on" : "OFF",
		       json_get(sb, "landlock_abi") ? json_get(sb, "landlock_abi")->n : 0,
		       json_get_bool(sb, "no_new_privs", false) ? "set" : "NOT SET",
		       json_get(sb, "uid") ? json_get(sb, "uid")->n : -1, T(json_get_str(sb, "capabilities")),
		       json_get_bool(sb, "cgroup", false) ? "on" : "OFF");
		for (size_t i = 0; ns && ns->type == JSON_OBJECT && i < ns->count; i++)
			if (ns->items[i]->type == JSON_BOOL && ns->items[i]->b)
				printf(" %s", T(ns->keys[i]));
		printf("\n");
	}
	att = json_get(c, "attempts");
	if (json_get_num(c, "fixes_applied", &v) && v > 0)
		printf("%-11s accepted after %.0f fix(es) by the debug loop in %zu attempts: the code that ran is not "
		       "the code submitted ('pool show %.0f' has both and the diffs)\n",
		       "code", v, att ? att->count : 0, cid);
	else
		printf("%-11s as submitted (no fix)\n", "code");
	if (risk && sbr && risk->type == JSON_OBJECT) {
		struct sbuf a = SBUF_INIT, b = SBUF_INIT;

		json_write(risk, &a, -1);
		json_write(sbr, &b, -1);
		if (a.len == b.len && !memcmp(sbuf_str(&a), sbuf_str(&b), a.len)) {
			printf("%-11s the sandbox's own assessment (above)\n", "risk");
		} else {
			printf("%-11s the requester's:\n", "risk");
			for (size_t i = 0; i < risk->count && i < 12; i++) {
				printf("  %-22s ", T(risk->keys[i]));
				print_short(risk->items[i]);
				printf("\n");
			}
			if (risk->count > 12)
				printf("  ... %zu more (--json)\n", risk->count - 12);
		}
		sbuf_release(&a);
		sbuf_release(&b);
	}
	printf("%-11s", "decisions");
	if (!dec || !dec->count)
		printf(" none yet\n");
	else
		printf("\n");
	for (size_t i = 0; dec && i < dec->count; i++) {
		const char *sg = json_get_str(dec->items[i], "signature");

		printf("  %s %s by %s: %s\n", T(json_get_str(dec->items[i], "decided_at")),
		       T(json_get_str(dec->items[i], "decision")), T(json_get_str(dec->items[i], "reviewer")),
		       T(json_get_str(dec->items[i], "comment")));
		if (!sg)
			continue;
		if (!strcmp(sg, "signed"))
			printf("    signed by %s (a key of the reviewers file), over archive %.16s...\n",
			       T(json_get_str(dec->items[i], "signed_by")), T(json_get_str(dec->items[i], "archive_sha256")));
		else
			printf("    %s: %s\n", !strcmp(sg, "untrusted") ? "UNTRUSTED" : !strcmp(sg, "unsigned") ? "UNSIGNED" : "FORGED",
			       !strcmp(sg, "untrusted") ? "signed by a key the reviewers file does not list"
			       : !strcmp(sg, "unsigned") ? "no reviewer's signature: written without a key (by SQL, or before signing)"
			       : "the signature does not match this decision (other fields, other archive bytes, or another name)");
	}
	if (!strcmp(json_get_str_or(*doc, "state", ""), "forged") || !strcmp(json_get_str_or(*doc, "state", ""), "untrusted"))
		printf("  the pool records this request as %s; no trusted reviewer signed it: export refuses it "
		       "(reviewers file: %s)\n",
		       T(json_get_str(*doc, "recorded_state")),
		       T(gate_trust_source(o->trust) ? gate_trust_source(o->trust) : "none"));
	if (json_get_num(c, "parent_id", &pid) && pid > 0) {
		const char *d = json_get_str(*doc, "diff_against_parent");

		printf("\nchanges against the parent, candidate %.0f:\n", pid);
		if (d && *d)
			print_head(d, 20, " (--json, or 'pool report --html DIR')");
		else
			printf("  none: the same code\n");
	} else {
		const char *code = json_get_str(c, "final_code");
		int lines = 0;

		for (const char *p = code ? code : ""; *p; p++)
			lines += *p == '\n';
		printf("\nnew code, no parent: %d line(s) ('pool show %.0f' prints it)\n", lines, cid);
	}
	if (!strcmp(json_get_str(*doc, "state") ? json_get_str(*doc, "state") : "", "pending")) {
		printf("\ndecide:  aegis-sandbox approvals approve %lld --db ", o->id);
		shell_word(o->db);
		printf(" --comment '...'\n         aegis-sandbox approvals reject %lld --db ", o->id);
		shell_word(o->db);
		printf(" --comment '...'\n");
	}
	return 0;
}

/* A passphrase: the first line of FILE when one is given, else asked on
 * the terminal without echo (twice when CONFIRM).  0 with it in BUF; 1
 * when there is neither a file nor a terminal; -1 with ERR. */
static int get_passphrase(const char *file, const char *prompt, bool confirm, char *buf, size_t len, char *err,
			  size_t errlen)
{
	struct termios old, quiet;
	char again[256];
	FILE *tty;

	if (file) {
		FILE *f = fopen(file, "re");

		if (!f || !fgets(buf, (int)len, f)) {
			snprintf(err, errlen, "--passphrase-file %s: %s", file, f ? "empty" : strerror(errno));
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
		return 0;
	}
	if (!(tty = fopen("/dev/tty", "r+e")))
		return 1;
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		char *dst = round ? again : buf;
		size_t dlen = round ? sizeof(again) : len;
		bool ok;

		fputs(round ? "again: " : prompt, tty);
		fflush(tty);
		tcgetattr(fileno(tty), &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		ok = fgets(dst, (int)dlen, tty) != NULL;
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
		if (!ok) {
			fclose(tty);
			snprintf(err, errlen, "no passphrase read");
			return -1;
		}
		dst[strcspn(dst, "\r\n")] = '\0';
	}
	fclose(tty);
	if (confirm && strcmp(buf, again)) {
		snprintf(err, errlen, "the two passphrases differ");
		return -1;
	}
	return 0;
}

/* The time a reviewer signs at: UTC, milliseconds. */
static void utc_now(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* approve or reject, signed with the reviewer's key: an approval needs
 * one (the gate is the key, not the command); a rejection is signed when
 * there is one. */
static int do_approvals_decide(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	bool approve = !strcmp(o->verb, "approve");
	const char *decision = approve ? "approved" : "rejected", *who;
	char kerr[512], when[40], sig[128];
	struct gate_key *key;
	struct json *req;
	int absent = 0, rc = AEGIS_EXIT_REJECTED;
	double cid = 0;

	if (!approve && (!o->comment || !*o->comment))
		return usage_error("approvals reject: --comment TEXT is required (say why)");
	{
		char pass[256];
		int sealed = 0, g = 0;

		key = gate_key_load(o->key, NULL, &absent, &sealed, kerr, sizeof(kerr));
		if (!key && sealed) {
			/* sealed: its passphrase, from the reviewer, not the loop */
			g = get_passphrase(o->passphrase_file, "passphrase of the reviewer key: ", false, pass,
					   sizeof(pass), kerr, sizeof(kerr));
			if (g == 0)
				key = gate_key_load(o->key, pass, &absent, &sealed, kerr, sizeof(kerr));
			else if (g == 1)
				snprintf(kerr + strlen(kerr), sizeof(kerr) - strlen(kerr),
					 ": run this at a terminal, or give --passphrase-file FILE");
			explicit_bzero(pass, sizeof(pass));
		}
	}
	if (!key && (approve || !absent)) {
		fprintf(stderr,
			"%s: approvals %s: %s\n%s", aegis_progname, o->verb, kerr,
			absent ? "  an approval is signed with a reviewer's key: create one with 'aegis-sandbox approvals "
				 "keygen --reviewer NAME' (as the reviewer, not as the search loop) and list the line it "
				 "prints in the reviewers file\n"
			       : "");
		return AEGIS_EXIT_USAGE;
	}
	who = key ? gate_key_name(key) : o->reviewer ? o->reviewer : login_name();
	if (key && o->reviewer && strcmp(o->reviewer, who)) {
		rc = usage_error("--reviewer %s: the key is %s's (a key signs only under its own name)", o->reviewer,
				 who);
		gate_key_free(key);
		return rc;
	}
	/* what is signed: this request, its candidate, the archive the pool
	 * holds for it now (pool_decide refuses if that changes meanwhile) */
	if (!(req = pool_approval_get(pool, o->id, err, errlen)))
		goto out_nodoc;
	json_get_num(req, "candidate_id", &cid);
	utc_now(when, sizeof(when));
	{
		struct gate_decision d = {.request_id = o->id,
					  .candidate_id = (long long)cid,
					  .archive_sha256 = json_get_str(req, "artifact_sha256"),
					  .decision = decision,
					  .reviewer = who,
					  .signed_at = when,
					  .comment = o->comment ? o->comment : ""};
		struct pool_signature ps = {d.archive_sha256, when, key ? gate_key_public(key) : NULL, sig};

		if (key && gate_sign(key, &d, sig, sizeof(sig), err, errlen) < 0)
			goto out_err;
		if (pool_decide(pool, o->id, decision, who, o->comment, key ? &ps : NULL, err, errlen) < 0)
			goto out_err;
	}
	*doc = pool_approval_get(pool, o->id, err, errlen);
	rc = 0;
	if (*doc && !o->as_json) {
		printf("request %lld %s by %s%s%s\n", o->id, decision, who, key ? ", signed with " : " (unsigned)",
		       key ? gate_key_public(key) : "");
		if (approve && strcmp(json_get_str(*doc, "state") ? json_get_str(*doc, "state") : "", "approved"))
			printf("note: the reviewers file (%s) does not list this key: the approval counts, and "
			       "the archive exports, once it does\n",
			       T(gate_trust_source(o->trust) ? gate_trust_source(o->trust) : "none"));
	}
	goto out;
out_err:
	fprintf(stderr, "%s: %s\n", aegis_progname, err);
	rc = pool_exit(pool);
	goto out;
out_nodoc:
	rc = 0; /* *doc NULL: the caller prints ERR */
out:
	json_free(req);
	gate_key_free(key);
	return rc;
}

/* A reviewer's key pair; no pool is opened. */
static int approvals_keygen(const struct popts *o)
{
	char err[512], line[256], *def = NULL;
	const char *path = o->key;

	if (!o->reviewer)
		return usage_error("approvals keygen: --reviewer NAME is required (the name decisions are signed under)");
	if (!path)
		path = def = gate_default_key_path();
	{
		/* sealed with a passphrase when one is given (a file, or typed
		 * at the terminal: empty leaves the key unsealed) */
		char pass[256] = "";
		int g = get_passphrase(o->passphrase_file, "passphrase to seal the key (empty: none): ", true, pass,
				       sizeof(pass), err, sizeof(err));
		int r = g < 0 ? -1 : gate_keygen(path, o->reviewer, g == 0 && *pass ? pass : NULL, line, sizeof(line),
						 err, sizeof(err));

		explicit_bzero(pass, sizeof(pass));
		if (r < 0) {
			fprintf(stderr, "%s: approvals keygen: %s\n", aegis_progname, err);
			free(def);
			return AEGIS_EXIT_USAGE;
		}
	}
	if (o->as_json) {
		struct json *doc = json_object();

		json_set(doc, "key", json_str(path));
		json_set(doc, "reviewer", json_str(o->reviewer));
		json_set(doc, "line", json_str(line));
		cli_print_json(doc);
		json_free(doc);
	} else {
		printf("secret key: %s (keep it where the search loop cannot read it)\n"
		       "public key: %s.pub\n"
		       "add this line to the reviewers file of whoever exports:\n%s\n",
		       path, path, line);
	}
	free(def);
	return 0;
}

static int do_grant(struct pool *pool, const struct popts *o, struct json **doc, char *err, size_t errlen)
{
	if (!o->submitter || !o->reviewer)
		return usage_error("pool grant: --submitter ROLE and --reviewer ROLE are required");
	if (pool_grant(pool, o->submitter, o->reviewer, err, errlen) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		return AEGIS_EXIT_USAGE;
	}
	*doc = json_object();
	json_set(*doc, "submitter", json_str(o->submitter));
	json_set(*doc, "reviewer", json_str(o->reviewer));
	if (!o->as_json)
		printf("%s may queue, record and request; %s may also decide; neither may change a decision\n",
		       o->submitter, o->reviewer);
	return 0;
}

static const struct verb {
	bool approvals;
	const char *name;
	bool needs_id;
	verb_fn *fn;
} verbs[] = {
    {false, "list", false, do_list},
    {false, "top", false, do_top},
    {false, "show", true, do_show},
    {false, "lineage", true, do_lineage},
    {false, "export", true, do_export},
    {false, "gc", false, do_gc},
    {false, "report", false, do_report},
    {false, "queue", false, do_queue},
    {false, "annotate", true, do_annotate},
    {false, "grant", false, do_grant},
    {false, "path", false, NULL},
    {true, "keygen", false, NULL},
    {true, "list", false, do_approvals_list},
    {true, "request", true, do_approvals_request},
    {true, "show", true, do_approvals_show},
    {true, "approve", true, do_approvals_decide},
    {true, "reject", true, do_approvals_decide},
};

/* Options after the verb, then its positional ID.  0 or an exit code. */
static int parse_options(int argc, char **argv, bool needs_id, struct popts *o, const char **db,
			 const char **policy_path)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'D'},
	    {"policy", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"status", required_argument, NULL, 's'},
	    {"state", required_argument, NULL, 'S'},
	    {"generation", required_argument, NULL, 'g'},
	    {"k", required_argument, NULL, 'k'},
	    {"metric", required_argument, NULL, 'm'},
	    {"desc", no_argument, NULL, 'd'},
	    {"out", required_argument, NULL, 'o'},
	    {"reviewer", required_argument, NULL, 'r'},
	    {"comment", required_argument, NULL, 'c'},
	    {"sha256", required_argument, NULL, 'H'},
	    {"metrics", required_argument, NULL, 'M'},
	    {"arch-id", required_argument, NULL, 'a'},
	    {"title", required_argument, NULL, 'T'},
	    {"description", required_argument, NULL, 'E'},
	    {"risk", required_argument, NULL, 'R'},
	    {"loss", required_argument, NULL, 'L'},
	    {"force", no_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"min-age", required_argument, NULL, 'A'},
	    {"html", required_argument, NULL, 'W'},
	    {"since", required_argument, NULL, 'i'},
	    {"key", required_argument, NULL, 'K'},
	    {"reviewers", required_argument, NULL, 'V'},
	    {"submitter", required_argument, NULL, 'U'},
	    {"passphrase-file", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd = o->approvals ? "approvals" : "pool";
	int c;

	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "j", opts, NULL)) != -1) {
		switch (c) {
		case 'D': *db = optarg; break;
		case 'p': *policy_path = optarg; break;
		case 'j': o->as_json = true; break;
		case 's': o->status = optarg; break;
		case 'S': o->state = optarg; break;
		case 'g':
			if (!util_parse_long(optarg, &o->generation) || o->generation < 0)
				return usage_error("--generation: expected an integer >= 0, got '%s'", optarg);
			break;
		case 'k':
			if (!util_parse_long(optarg, &o->k) || o->k < 1 || o->k > 100000)
				return usage_error("--k: expected an integer in [1, 100000], got '%s'", optarg);
			break;
		case 'm': o->metric = optarg; break;
		case 'd': o->desc = true; break;
		case 'f': o->force = true; break;
		case 'W': o->html_dir = optarg; break;
		case 'i':
			if (!parse_id(optarg, &o->since))
				return usage_error("--since: '%s' is not an id", optarg);
			break;
		case 'n': o->dry_run = true; break;
		case 'A': {
			long secs;

			if (!util_parse_long(optarg, &secs) || secs < 0)
				return usage_error("--min-age: expected seconds >= 0, got '%s'", optarg);
			o->min_age = (double)secs;
			break;
		}
		case 'o': o->out_path = optarg; break;
		case 'r': o->reviewer = optarg; break;
		case 'K': o->key = optarg; break;
		case 'V': o->reviewers = optarg; break;
		case 'U': o->submitter = optarg; break;
		case 'X': o->passphrase_file = optarg; break;
		case 'c': o->comment = optarg; break;
		case 'H': o->sha256 = optarg; break;
		case 'a': o->arch_id = optarg; break;
		case 'T': o->title = optarg; break;
		case 'E': o->description = optarg; break;
		case 'L':
			if (strcmp(optarg, "cross_entropy") && strcmp(optarg, "mse"))
				return usage_error("--loss: expected cross_entropy or mse, got '%s'", optarg);
			o->loss = optarg;
			break;
		case 'M':
		case 'R': {
			char jerr[256];
			struct json *j = json_parse(optarg, strlen(optarg), jerr, sizeof(jerr));

			if (!j || j->type != JSON_OBJECT) {
				json_free(j);
				return usage_error("--%s: expected a JSON object%s%s", c == 'M' ? "metrics" : "risk",
						   j ? "" : ": ", j ? "" : jerr);
			}
			json_free(c == 'M' ? o->metrics : o->risk);
			*(c == 'M' ? &o->metrics : &o->risk) = j;
			break;
		}
		case 'h': fputs(pool_usage, stdout); return -1;
		default: return usage_error("bad option for '%s %s'", cmd, o->verb);
		}
	}
	{
		int first = optind + 1, nargs = argc - first;

		if (nargs != (needs_id ? 1 : 0))
			return usage_error("%s %s: %s", cmd, o->verb, needs_id ? "expected one ID" : "takes no ID");
		if (needs_id && !parse_id(argv[first], &o->id))
			return usage_error("'%s' is not an id", argv[first]);
	}
	if (o->status && !verdict_known(o->status))
		return usage_error("--status: '%s' is not a status", o->status);
	if (o->state && strcmp(o->state, "pending") && strcmp(o->state, "approved") && strcmp(o->state, "rejected"))
		return usage_error("--state: expected pending, approved or rejected, got '%s'", o->state);
	return 0;
}

/* pool ... and approvals ...: one option parser, dispatched on the verb */
int poolcmd_main(int argc, char **argv, bool approvals)
{
	struct popts o = {.approvals = approvals, .metric = "heldout_loss", .generation = -1, .k = 10};
	const char *db = NULL, *policy_path = NULL;
	const struct verb *v = NULL;
	char err[1024], *db_alloc = NULL, *abs_db = NULL;
	struct policy pol = {0};
	struct pool *pool = NULL;
	struct gate_trust *trust = NULL;
	struct json *doc = NULL;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(pool_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? AEGIS_EXIT_USAGE : 0;
	}
	o.verb = argv[1];
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].approvals == approvals && !strcmp(verbs[i].name, o.verb))
			v = &verbs[i];
	if (!v)
		return usage_error("%s: unknown subcommand '%s'", approvals ? "approvals" : "pool", o.verb);
	rc = parse_options(argc, argv, v->needs_id, &o, &db, &policy_path);
	if (rc || cli_load_policy(&pol, policy_path) < 0) {
		json_free(o.metrics);
		json_free(o.risk);
		return rc < 0 ? 0 : rc ? rc : AEGIS_EXIT_USAGE;
	}
	if (!db)
		db = pol.storage.db && *pol.storage.db ? pol.storage.db : (db_alloc = pool_default_path());
	o.db = db;
	if (approvals && !strcmp(o.verb, "keygen")) {
		rc = approvals_keygen(&o);
	} else if (!approvals && !strcmp(o.verb, "path")) {
		/* which database the other verbs would use, without opening it */
		if (o.as_json) {
			doc = json_object();
			json_set(doc, "db", json_str(db));
			cli_print_json(doc);
		} else {
			printf("%s\n", db);
		}
		rc = 0;
	} else if (!db_is_url(db) && access(db, F_OK) != 0) {
		/* only 'run', 'batch' and 'serve' create a pool: a typo here must
		 * not leave an empty database (and its directory) behind */
		fprintf(stderr, "%s: %s: no pool database there (%s); 'aegis-sandbox pool path' names the default\n",
			aegis_progname, db, strerror(errno));
		rc = AEGIS_EXIT_USAGE;
	} else if (!(trust = gate_trust_load(o.reviewers, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_USAGE;
	} else if (!(pool = pool_open(db, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
	} else {
		/* the commands the views show name the pool wherever they are run */
		if (!db_is_url(db) && (abs_db = realpath(db, NULL)))
			o.db = abs_db;
		o.trust = trust;
		pool_set_trust(pool, trust);
		pool_clear_error(pool);
		rc = v->fn(pool, &o, &doc, err, sizeof(err));
		if (!rc && !doc) {
			fprintf(stderr, "%s: %s\n", aegis_progname, err);
			rc = pool_exit(pool);
		} else if (!rc && o.as_json) {
			cli_print_json(doc);
		}
	}
	json_free(doc);
	json_free(o.metrics);
	json_free(o.risk);
	pool_close(pool);
	gate_trust_free(trust);
	free(db_alloc);
	free(abs_db);
	policy_release(&pol);
	return rc;
}
