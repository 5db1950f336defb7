/* cli.c - commands, options, and the human-readable output.
 *
 * Exit codes (DESIGN.md): the verdict's code for run/check (0 accepted,
 * 1 rejected, 3 violation, 4 timeout, 5 memory, 6 crash, 7 error), 2 for
 * usage and policy-file errors, 0/2 for policy commands. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "confine.h"
#include "inputspec.h"
#include "json.h"
#include "pipeline.h"
#include "policy.h"
#include "pool.h"
#include "serve.h"
#include "supervise.h"
#include "util.h"

static const char top_usage[] = "Usage: aegis-sandbox [--help] [--version] COMMAND [ARGS]\n"
				"\n"
				"Run machine-generated PyTorch model code in a confined sandbox and decide\n"
				"whether it is safe, runnable and trainable.\n"
				"\n"
				"Commands:\n"
				"  run MODEL.py        static check, build, validate and train one candidate\n"
				"  check MODEL.py      only the static safety check\n"
				"  policy check FILE   validate a policy file\n"
				"  policy show [FILE]  print the effective policy (defaults applied)\n"
				"  batch [FILE|-]      many candidates from a JSON-lines file, results in order\n"
				"  serve --stdio|--socket PATH\n"
				"                      a warm server: JSON requests in, results out\n"
				"  pool ...            the code pool: list, show, top, lineage, export\n"
				"  approvals ...       the human approval gate: list, show, request, approve, reject\n"
				"\n"
				"Run 'aegis-sandbox COMMAND --help' for a command's options.\n"
				"Exit codes: 0 accepted, 1 rejected, 2 usage or policy error, 3 violation,\n"
				"4 timeout, 5 memory, 6 crash, 7 sandbox error.  See aegis-sandbox(1).\n";

static const char run_usage[] =
    "Usage: aegis-sandbox run [OPTIONS] MODEL.py\n"
    "       aegis-sandbox check [OPTIONS] MODEL.py\n"
    "\n"
    "  -p, --policy FILE      policy file (default: built-in defaults, see 'policy show')\n"
    "  -c, --class NAME       model class (default: Model, else the last nn.Module)\n"
    "  -i, --input SPEC       tokens:BxT:VOCAB, float:D1xD2..., or a .pt/.npy file\n"
    "                         (default: validation.input)\n"
    "  -t, --timeout SECONDS  wall-clock and CPU limit per job child\n"
    "  -m, --memory-mb N      memory limit per job child, in MiB\n"
    "      --no-train         skip the trainability check\n"
    "      --train-steps N    optimizer steps for the trainability check\n"
    "  -a, --arch-id ID       architecture id reported in the result\n"
    "      --set KEY=VALUE    override one policy key (repeatable; lists comma-separated)\n"
    "      --max-attempts N   build attempts in the debug loop (default: debug.max_attempts)\n"
    "      --fixer CMD        the operator's fixer command (words split on blanks)\n"
    "      --db PATH          record the candidate in this pool database (default: storage.db)\n"
    "      --parent ID        lineage: the pool id of the candidate this one came from\n"
    "      --generation N     lineage: the generation number\n"
    "      --request-approval open an approval request if accepted (also approval.required)\n"
    "  -k, --keep-workdir     keep the job's work directory (and the exported model)\n"
    "  -j, --json             print the result as one JSON document\n"
    "  -h, --help             this help\n";

static const char policy_usage[] =
    "Usage: aegis-sandbox policy check FILE...\n"
    "       aegis-sandbox policy show [FILE]\n"
    "\n"
    "'check' validates each FILE and reports FILE:LINE:COLUMN: message for the first\n"
    "error (exit 2).  'show' prints the effective policy as YAML that 'check' accepts.\n";

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", aegis_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'aegis-sandbox --help'.\n");
	return AEGIS_EXIT_USAGE;
}

/* Where the trusted Python helpers live: $AEGIS_PYHELPERS, else the
 * source tree when this is the uninstalled build, else the installed copy. */
const char *cli_pyhelpers_dir(void)
{
	const char *env = getenv("AEGIS_PYHELPERS");

	if (env && *env)
		return env;
	if (util_exe_kind() == UTIL_EXE_BUILD && access(AEGIS_SRC_PYHELPERS, R_OK) == 0)
		return AEGIS_SRC_PYHELPERS;
	return AEGIS_PYHELPERS_DIR;
}

int cli_load_policy(struct policy *pol, const char *path)
{
	char err[1024];

	policy_init_defaults(pol);
	if (path && policy_load_file(pol, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		policy_release(pol);
		return -1;
	}
	return 0;
}

/* ---- human output -----------------------------------------------------
 *
 * Every string a candidate (or a client) controls goes through T() (one
 * line) or TL() (code, diffs: newlines kept) before it reaches a terminal:
 * an ESC in a class name must not erase the verdict line, an ESC[8m in a
 * comment must not hide code from the reviewer. */
/* Whether J (a result, a pool row, an approval) carries a verdict the
 * candidate's own process gave (validation.export_failure: in-process). */
static bool unverified(const struct json *j)
{
	const char *integ = json_get_str(j, "integrity");

	return integ && !strcmp(integ, "unverified");
}

#define T(s) util_term((s), false)
#define TL(s) util_term((s), true)

static void print_shape(const struct json *arr)
{
	printf("[");
	for (size_t i = 0; arr && arr->type == JSON_ARRAY && i < arr->count; i++)
		printf("%s%.0f", i ? ", " : "", arr->items[i]->n);
	printf("]");
}

static void print_human(const char *path, const struct json *res)
{
	const char *status = json_get_str(res, "status"), *stage = json_get_str(res, "stage");
	const struct json *err = json_get(res, "error"), *m = json_get(res, "metrics");
	const struct json *checks = json_get(res, "checks"), *sb = json_get(res, "sandbox");
	const struct json *viol = json_get(res, "violations");
	const char *arch = json_get_str(res, "architecture_id");
	double t = 0;

	double nfix = 0;
	char fixes[48] = "";

	/* a fixed model is not the model submitted: say so on the first line */
	if (json_get_num(res, "fixes_applied", &nfix) && nfix > 0)
		snprintf(fixes, sizeof(fixes), " after %.0f fix%s", nfix, nfix == 1 ? "" : "es");
	printf("%s: %s%s (stage %s)%s%s\n", T(path), T(status ? status : "?"), fixes, T(stage ? stage : "?"),
	       arch && *arch ? ", architecture " : "", arch && *arch ? T(arch) : "");
	if (unverified(res))
		printf("  %-12s UNVERIFIED: %s\n", "integrity", T(json_get_str(res, "integrity_note")));
	if (err && err->type == JSON_OBJECT) {
		double line;
		const char *mod = json_get_str(err, "module");

		printf("  %-12s %s: %s", "error", json_get_str(err, "type") ? T(json_get_str(err, "type")) : "Error",
		       T(json_get_str(err, "message")));
		if (json_get_num(err, "line", &line))
			printf(" (line %.0f)", line);
		if (mod)
			printf(" [in %s]", T(mod));
		printf("\n");
		if (json_get_str(err, "hint"))
			printf("  %-12s %s\n", "hint", T(json_get_str(err, "hint")));
	}
	{
		const struct json *atts = json_get(res, "attempts");

		for (size_t i = 0; atts && atts->type == JSON_ARRAY && atts->count > 1 && i < atts->count; i++) {
			const struct json *a = atts->items[i], *ae = json_get(a, "error"), *fx = json_get(a, "fixes");
			double line;

			printf("  %-12s %s", i ? "" : "attempts", T(json_get_str(a, "status")));
			if (ae && ae->type == JSON_OBJECT) {
				printf(": %s: %s", T(json_get_str(ae, "type")), T(json_get_str(ae, "message")));
				if (json_get_num(ae, "line", &line))
					printf(" (line %.0f)", line);
			}
			printf("\n");
			for (size_t k = 0; fx && fx->type == JSON_ARRAY && k < fx->count; k++)
				printf("  %-12s   fixed (%s): %s\n", "", T(json_get_str(fx->items[k], "rule")),
				       T(json_get_str(fx->items[k], "description")));
			if (json_get_str(a, "fixer_error"))
				printf("  %-12s   fixer: %s\n", "", T(json_get_str(a, "fixer_error")));
		}
	}
	for (size_t i = 0; viol && viol->type == JSON_ARRAY && i < viol->count && i < 10; i++) {
		const struct json *v = viol->items[i];
		double line = 0;

		json_get_num(v, "line", &line);
		const char *what = json_get_str(v, "syscall") ? json_get_str(v, "syscall") : json_get_str(v, "event");
		const char *detail = json_get_str(v, "message");

		if (!detail || !*detail)
			detail = json_get_str(v, "args");
		printf("  %-12s %s %s%s%s", i ? "" : "violations",
		       json_get_str(v, "rule") ? T(json_get_str(v, "rule")) : "?", T(what),
		       detail && *detail ? ": " : "", T(detail));
		if (line > 0)
			printf(" (line %.0f)", line);
		printf("\n");
	}
	{
		const struct json *w = json_get(res, "warnings");

		for (size_t i = 0; w && w->type == JSON_ARRAY && i < w->count && i < 5; i++) {
			double line = 0, col = 0;

			json_get_num(w->items[i], "line", &line);
			json_get_num(w->items[i], "col", &col);
			printf("  %-12s %s: %s", i ? "" : "warnings", T(json_get_str(w->items[i], "rule")),
			       T(json_get_str(w->items[i], "message")));
			if (line > 0 && col > 0)
				printf(" (line %.0f:%.0f)", line, col);
			else if (line > 0)
				printf(" (line %.0f)", line);
			printf("\n");
		}
		if (w && w->type == JSON_ARRAY && w->count > 5)
			printf("  %-12s (and %zu more: --json lists them)\n", "", w->count - 5);
	}
	if (m && m->count) {
		double v;

		if (json_get_str(m, "input"))
			printf("  %-12s %s\n", "input", T(json_get_str(m, "input")));
		if (json_get_num(m, "parameters", &v))
			printf("  %-12s %.0f\n", "parameters", v);
		if (json_get(m, "output_shape")) {
			printf("  %-12s ", "output");
			print_shape(json_get(m, "output_shape"));
			printf("\n");
		}
		if (json_get_num(m, "layers", &v))
			printf("  %-12s %.0f leaf modules\n", "layers", v);
		if (json_get_num(m, "training_steps", &v)) {
			double a = NAN, b = NAN;

			json_get_num(m, "initial_loss", &a);
			json_get_num(m, "final_loss", &b);
			printf("  %-12s %.0f steps, loss %.4g -> %.4g, %s\n", "training", v, a, b,
			       json_get_bool(m, "trainable", false) ? "trainable" : "not trainable");
		}
		if (json_get_num(m, "estimated_training_memory_mb", &v))
			printf("  %-12s %.1f MiB estimated for training\n", "memory", v);
	}
	for (size_t i = 0; checks && checks->type == JSON_OBJECT && i < checks->count; i++) {
		const char *st = json_get_str(checks->items[i], "status");

		if (st && (!strcmp(st, "fail") || !strcmp(st, "warn")))
			printf("  %-12s %s %s: %s\n", i ? "" : "checks", T(st), T(checks->keys[i]),
			       T(json_get_str(checks->items[i], "detail")));
	}
	if (sb && sb->type == JSON_OBJECT) {
		const struct json *ns = json_get(sb, "namespaces");
		double abi = 0;

		json_get_num(sb, "landlock_abi", &abi);
		printf("  %-12s seccomp %s, landlock %s%.0f, namespaces", "sandbox",
		       json_get_bool(sb, "seccomp", false) ? "on" : "off", abi > 0 ? "ABI " : "off", abi > 0 ? abi : 0);
		for (size_t i = 0; ns && ns->type == JSON_OBJECT && i < ns->count; i++)
			if (ns->items[i]->type == JSON_BOOL && ns->items[i]->b)
				printf(" %s", T(ns->keys[i]));
		printf(", cgroup %s\n", json_get_bool(sb, "cgroup", false) ? "yes" : "no (rlimits)");
		if (json_get_num(sb, "uid", &abi))
			printf("  %-12s uid %.0f, capabilities %s\n", "", abi,
			       json_get_str(sb, "capabilities") ? T(json_get_str(sb, "capabilities")) : "?");
	}
	json_get_num(res, "execution_time", &t);
	{
		double warm = 0;

		json_get_num(json_get(res, "timings"), "zygote_warm_s", &warm);
		printf("  %-12s %.2f s (and %.2f s to start the zygote, once per process)\n", "time", t, warm);
	}
}

/* ---- the pool ------------------------------------------------------------ */

/* Record RES in the pool at DB_PATH and, for an accepted candidate when
 * asked, open an approval request; the ids go into RES.  0 or -1 (with a
 * message on stderr: the verdict stands, but it was not recorded). */
int cli_record_result(const char *db_path, struct json *res, const char *code, size_t code_len, long parent,
		      long generation, bool want_approval, const struct candidate *cand)
{
	char err[1024];
	struct pool *pool = pool_open(db_path, err, sizeof(err));
	long long id;

	if (!pool) {
		fprintf(stderr, "%s: not recorded: %s\n", aegis_progname, err);
		return -1;
	}
	id = pool_record(pool, res, code, code_len, parent, generation, cand->artifact, cand->artifact_len, err,
			 sizeof(err));
	if (id < 0) {
		fprintf(stderr, "%s: not recorded: %s\n", aegis_progname, err);
		pool_close(pool);
		return -1;
	}
	json_set(res, "candidate_id", json_num((double)id));
	if (want_approval && !strcmp(json_get_str(res, "status"), "accepted")) {
		const struct json *m = json_get(res, "metrics"), *checks = json_get(res, "checks");
		struct json *risk = json_object(), *warn = json_object();
		struct sbuf desc = SBUF_INIT;
		const char *arch = json_get_str(res, "architecture_id");
		double v;
		char *title = xasprintf("New architecture: %s", arch && *arch              ? arch
								: json_get_str(m, "class") ? json_get_str(m, "class")
											   : "candidate");
		long long rid;

		sbuf_addf(&desc, "Model %s", json_get_str(m, "class") ? json_get_str(m, "class") : "");
		if (json_get_num(m, "parameters", &v))
			sbuf_addf(&desc, " with %.0f parameters", v);
		if (json_get_num(m, "initial_loss", &v))
			sbuf_addf(&desc, "; loss %.4g", v);
		if (json_get_num(m, "final_loss", &v))
			sbuf_addf(&desc, " -> %.4g", v);
		if (json_get_num(m, "training_steps", &v))
			sbuf_addf(&desc, " in %.0f steps", v);
		if (json_get_num(m, "estimated_training_memory_mb", &v))
			sbuf_addf(&desc, "; %.1f MiB to train", v);
		if (json_get_num(res, "fixes_applied", &v) && v > 0)
			sbuf_addf(&desc,
				  "; accepted after %.0f fix%s by the debug loop: the code is not the code "
				  "submitted (see the attempts' diffs)",
				  v, v == 1 ? "" : "es");
		json_set(risk, "fixes_applied",
			 json_get(res, "fixes_applied") ? json_dup(json_get(res, "fixes_applied")) : json_num(0));
		json_set(risk, "trainable", json_bool(json_get_bool(m, "trainable", false)));
		json_set(risk, "integrity",
			 json_get(res, "integrity") ? json_dup(json_get(res, "integrity")) : json_null());
		for (size_t i = 0; checks && checks->type == JSON_OBJECT && i < checks->count; i++) {
			const char *st = json_get_str(checks->items[i], "status");

			if (st && strcmp(st, "pass"))
				json_set(warn, checks->keys[i], json_dup(checks->items[i]));
		}
		json_set(risk, "checks_not_passed", warn);
		json_set(risk, "metrics", json_dup(m));
		json_set(risk, "sandbox", json_get(res, "sandbox") ? json_dup(json_get(res, "sandbox")) : json_null());
		json_set(risk, "debug_attempts",
			 json_num((double)(json_get(res, "attempts") ? json_get(res, "attempts")->count : 0)));
		rid = pool_request_approval(pool, id, title, sbuf_str(&desc), risk, err, sizeof(err));
		free(title);
		sbuf_release(&desc);
		json_free(risk);
		if (rid < 0) {
			fprintf(stderr, "%s: approval request not opened: %s\n", aegis_progname, err);
			pool_close(pool);
			return -1;
		}
		json_set(res, "approval_id", json_num((double)rid));
	}
	pool_close(pool);
	return 0;
}

static const char pool_usage[] = "Usage: aegis-sandbox pool list [--status S] [--generation N]\n"
				 "       aegis-sandbox pool show ID\n"
				 "       aegis-sandbox pool top [--k 10] [--metric final_loss] [--desc]\n"
				 "       aegis-sandbox pool lineage ID\n"
				 "       aegis-sandbox pool export ID --out FILE\n"
				 "       aegis-sandbox approvals list [--state pending|approved|rejected]\n"
				 "       aegis-sandbox approvals show ID\n"
				 "       aegis-sandbox approvals approve ID [--reviewer NAME] [--comment TEXT]\n"
				 "       aegis-sandbox approvals reject ID [--reviewer NAME] --comment TEXT\n"
				 "\n"
				 "Common options: --db PATH (default: storage.db of --policy, else\n"
				 "$XDG_DATA_HOME/aegis-sandbox/pool.db), --policy FILE, --json.\n"
				 "'top' ranks accepted candidates by a metric, ascending unless --desc.\n"
				 "'export' writes the TorchScript archive only after a person approved it.\n"
				 "The reviewer defaults to the login name.\n";

static void print_json(const struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	json_write(j, &sb, 2);
	sbuf_addc(&sb, '\n');
	fwrite(sb.buf, 1, sb.len, stdout);
	sbuf_release(&sb);
}

static void print_rows(const struct json *rows)
{
	printf("%6s  %-9s %-9s %4s %6s %12s %12s  %-9s %5s  %s\n", "id", "status", "stage", "gen", "parent",
	       "parameters", "final_loss", "approval", "fixes", "architecture");
	for (size_t i = 0; rows && i < rows->count; i++) {
		const struct json *r = rows->items[i];
		double id = 0, gen = 0, par = 0, params = -1, loss = NAN;

		json_get_num(r, "id", &id);
		json_get_num(r, "generation", &gen);
		json_get_num(r, "parameters", &params);
		json_get_num(r, "final_loss", &loss);
		/* a verdict read from the build child (the in-process fallback)
		 * is marked wherever it is listed */
		printf("%6.0f  %-9s %-9s %4.0f ", id, unverified(r) ? "accepted?" : T(json_get_str(r, "status")),
		       T(json_get_str(r, "stage")), gen);
		if (json_get_num(r, "parent_id", &par))
			printf("%6.0f ", par);
		else
			printf("%6s ", "-");
		if (params >= 0)
			printf("%12.0f ", params);
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

/* pool ... and approvals ...: one option parser, dispatched on the verb */
static int cmd_pool(int argc, char **argv, bool approvals)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'D'},       {"policy", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},           {"status", required_argument, NULL, 's'},
	    {"state", required_argument, NULL, 'S'},    {"generation", required_argument, NULL, 'g'},
	    {"k", required_argument, NULL, 'k'},        {"metric", required_argument, NULL, 'm'},
	    {"desc", no_argument, NULL, 'd'},           {"out", required_argument, NULL, 'o'},
	    {"reviewer", required_argument, NULL, 'r'}, {"comment", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *policy_path = NULL, *status = NULL, *state = NULL, *metric = "final_loss";
	const char *out_path = NULL, *reviewer = NULL, *comment = NULL, *verb;
	long generation = -1, k = 10;
	bool as_json = false, desc = false;
	char err[1024], *db_alloc = NULL;
	struct policy pol = {0};
	struct pool *pool = NULL;
	struct json *doc = NULL;
	long long id = 0;
	int c, rc = AEGIS_EXIT_USAGE;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(pool_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? AEGIS_EXIT_USAGE : 0;
	}
	verb = argv[1];
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "j", opts, NULL)) != -1) {
		switch (c) {
		case 'D': db = optarg; break;
		case 'p': policy_path = optarg; break;
		case 'j': as_json = true; break;
		case 's': status = optarg; break;
		case 'S': state = optarg; break;
		case 'g':
			if (!util_parse_long(optarg, &generation) || generation < 0)
				return usage_error("--generation: expected an integer >= 0, got '%s'", optarg);
			break;
		case 'k':
			if (!util_parse_long(optarg, &k) || k < 1 || k > 100000)
				return usage_error("--k: expected an integer in [1, 100000], got '%s'", optarg);
			break;
		case 'm': metric = optarg; break;
		case 'd': desc = true; break;
		case 'o': out_path = optarg; break;
		case 'r': reviewer = optarg; break;
		case 'c': comment = optarg; break;
		case 'h': fputs(pool_usage, stdout); return 0;
		default: return usage_error("bad option for '%s %s'", approvals ? "approvals" : "pool", verb);
		}
	}
	/* positional: the id, for the verbs that take one */
	{
		int first = optind + 1, nargs = argc - first;
		bool needs_id = strcmp(verb, "list") && strcmp(verb, "top");

		if (nargs != (needs_id ? 1 : 0))
			return usage_error("%s %s: %s", approvals ? "approvals" : "pool", verb,
					   needs_id ? "expected one ID" : "takes no ID");
		if (needs_id && !parse_id(argv[first], &id))
			return usage_error("'%s' is not an id", argv[first]);
	}
	if (status && strcmp(status, "accepted") && strcmp(status, "rejected") && strcmp(status, "violation") &&
	    strcmp(status, "timeout") && strcmp(status, "memory") && strcmp(status, "crash") && strcmp(status, "error"))
		return usage_error("--status: '%s' is not a status", status);
	if (state && strcmp(state, "pending") && strcmp(state, "approved") && strcmp(state, "rejected"))
		return usage_error("--state: expected pending, approved or rejected, got '%s'", state);
	if (cli_load_policy(&pol, policy_path) < 0)
		return AEGIS_EXIT_USAGE;
	if (!db)
		db = pol.storage.db && *pol.storage.db ? pol.storage.db : (db_alloc = pool_default_path());
	pool = pool_open(db, err, sizeof(err));
	if (!pool) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
		goto out;
	}
	rc = 0;
	if (!approvals && !strcmp(verb, "list")) {
		doc = pool_list(pool, status, generation, err, sizeof(err));
		if (doc && !as_json)
			print_rows(doc);
	} else if (!approvals && !strcmp(verb, "top")) {
		doc = pool_top(pool, k, metric, desc, err, sizeof(err));
		if (!doc && !strncmp(err, "metric", 6)) {
			rc = usage_error("%s", err);
			goto out;
		}
		if (doc && !as_json)
			print_rows(doc);
	} else if (!approvals && !strcmp(verb, "show")) {
		doc = pool_get(pool, id, true, err, sizeof(err));
		if (doc && !as_json) {
			const struct json *m = json_get(doc, "metrics"), *ch = json_get(doc, "checks");
			struct json *lin = pool_lineage(pool, id, err, sizeof(err));

			print_rows(&(struct json){.type = JSON_ARRAY, .count = 1, .items = &doc});
			printf("\n");
			print_sparkline(json_get(m, "loss_curve"));
			for (size_t i = 0; ch && ch->type == JSON_OBJECT && i < ch->count; i++)
				printf("  %-12s %-7s %s: %s\n", i ? "" : "checks",
				       T(json_get_str(ch->items[i], "status")), T(ch->keys[i]),
				       T(json_get_str(ch->items[i], "detail")));
			if (lin) {
				const struct json *anc = json_get(lin, "ancestors"),
						  *des = json_get(lin, "descendants");

				printf("  %-12s", "lineage");
				for (size_t i = 0; anc && i < anc->count; i++)
					printf(" %.0f ->", json_get(anc->items[i], "id")->n);
				printf(" [%lld]", id);
				if (des && des->count)
					printf(" -> %zu descendant(s)", des->count);
				printf("\n");
				json_free(lin);
			}
			printf("\n%s", TL(json_get_str(doc, "final_code")));
		}
	} else if (!approvals && !strcmp(verb, "lineage")) {
		doc = pool_lineage(pool, id, err, sizeof(err));
		if (doc && !as_json) {
			printf("ancestors (root first):\n");
			print_rows(json_get(doc, "ancestors"));
			printf("candidate:\n");
			print_rows(&(struct json){
			    .type = JSON_ARRAY, .count = 1, .items = (struct json *[]){json_get(doc, "candidate")}});
			printf("descendants:\n");
			print_rows(json_get(doc, "descendants"));
		}
	} else if (!approvals && !strcmp(verb, "export")) {
		void *data = NULL;
		size_t len = 0;

		if (!out_path) {
			rc = usage_error("pool export: --out FILE is required");
			goto out;
		}
		if (pool_export(pool, id, &data, &len, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", aegis_progname, err);
			rc = AEGIS_EXIT_REJECTED;
			goto out;
		}
		if (util_write_file(out_path, data, len, 0644) < 0) {
			fprintf(stderr, "%s: cannot write %s: %s\n", aegis_progname, out_path, strerror(errno));
			free(data);
			rc = AEGIS_EXIT_ERROR;
			goto out;
		}
		free(data);
		doc = json_object();
		json_set(doc, "candidate_id", json_num((double)id));
		json_set(doc, "out", json_str(out_path));
		json_set(doc, "bytes", json_num((double)len));
		if (!as_json)
			printf("wrote candidate %lld's TorchScript archive to %s (%zu bytes)\n", id, out_path, len);
	} else if (approvals && !strcmp(verb, "list")) {
		doc = pool_approvals(pool, state, err, sizeof(err));
		for (size_t i = 0; doc && !as_json && i < doc->count; i++) {
			const struct json *r = doc->items[i];

			printf("%6.0f  %-9s candidate %-5.0f %s  %s%s\n", json_get(r, "id")->n,
			       T(json_get_str(r, "state")), json_get(r, "candidate_id")->n,
			       T(json_get_str(r, "requested_at")), T(json_get_str(r, "title")),
			       unverified(r) ? "  [UNVERIFIED: validated in the candidate's own process]" : "");
		}
	} else if (approvals && !strcmp(verb, "request")) {
		/* ID is a candidate: open a request for it (accepted ones only) */
		struct json *cand = pool_get(pool, id, false, err, sizeof(err)), *risk = json_object();
		long long rid = -1;

		if (cand && strcmp(json_get_str(cand, "status"), "accepted")) {
			snprintf(err, sizeof(err), "candidate %lld is %s: only accepted candidates can be approved", id,
				 json_get_str(cand, "status"));
			json_free(cand);
			cand = NULL;
		}
		if (cand) {
			char *title = xasprintf("New architecture: %s", json_get_str(cand, "architecture_id"));

			json_set(risk, "metrics", json_dup(json_get(cand, "metrics")));
			json_set(risk, "checks", json_dup(json_get(cand, "checks")));
			rid = pool_request_approval(pool, id, comment && *comment ? comment : title,
						    reviewer ? reviewer : "requested from the command line", risk, err,
						    sizeof(err));
			free(title);
			json_free(cand);
		}
		json_free(risk);
		if (rid < 0) {
			fprintf(stderr, "%s: %s\n", aegis_progname, err);
			rc = AEGIS_EXIT_REJECTED;
			goto out;
		}
		doc = pool_approval_get(pool, rid, err, sizeof(err));
		if (doc && !as_json)
			printf("approval request %lld opened for candidate %lld\n", rid, id);
	} else if (approvals && !strcmp(verb, "show")) {
		doc = pool_approval_get(pool, id, err, sizeof(err));
		if (doc && !as_json) {
			struct sbuf sb = SBUF_INIT;

			printf("request %lld: %s [%s]\n%s\n\n", id, T(json_get_str(doc, "title")),
			       T(json_get_str(doc, "state")), TL(json_get_str(doc, "description")));
			if (unverified(doc))
				printf(
				    "UNVERIFIED: this candidate was validated inside its own process "
				    "(validation.export_failure: in-process); it could have forged that result.\n\n");
			printf("risk assessment:\n");
			json_write(json_get(doc, "risk_assessment"), &sb, 2);
			printf("%s\n\nchanges against the parent:\n%s\n", TL(sbuf_str(&sb)),
			       TL(json_get_str(doc, "diff_against_parent")));
			sbuf_release(&sb);
		}
	} else if (approvals && (!strcmp(verb, "approve") || !strcmp(verb, "reject"))) {
		bool approve = !strcmp(verb, "approve");

		if (!approve && (!comment || !*comment)) {
			rc = usage_error("approvals reject: --comment TEXT is required (say why)");
			goto out;
		}
		if (pool_decide(pool, id, approve ? "approved" : "rejected", reviewer ? reviewer : login_name(),
				comment, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", aegis_progname, err);
			rc = AEGIS_EXIT_REJECTED;
			goto out;
		}
		doc = pool_approval_get(pool, id, err, sizeof(err));
		if (doc && !as_json)
			printf("request %lld %s by %s\n", id, approve ? "approved" : "rejected",
			       reviewer ? reviewer : login_name());
	} else {
		rc = usage_error("%s: unknown subcommand '%s'", approvals ? "approvals" : "pool", verb);
		goto out;
	}
	if (!doc) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = strncmp(err, "there is no", 11) ? AEGIS_EXIT_ERROR : AEGIS_EXIT_USAGE;
	} else if (as_json) {
		print_json(doc);
	}
out:
	json_free(doc);
	pool_close(pool);
	free(db_alloc);
	policy_release(&pol);
	return rc;
}

/* Read the candidate at PATH.  A file larger than MAX is not an error of
 * ours but a candidate the pipeline must reject (SourceError): it gets a
 * stand-in of MAX + 1 bytes, so the verdict comes from the one place that
 * checks sources.  0 with *CODE (the caller's), or a negative errno. */
int cli_read_source(const char *path, size_t max, char **code, size_t *len)
{
	int r = util_read_file(path, max + 1, code, len);

	if (r == -EFBIG) {
		*len = max + 1;
		*code = xmalloc(*len);
		memset(*code, '#', *len);
		r = 0;
	}
	return r;
}

/* ---- run / check ---------------------------------------------------------- */

static int cmd_run(int argc, char **argv, bool static_only)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"class", required_argument, NULL, 'c'},
	    {"input", required_argument, NULL, 'i'},
	    {"timeout", required_argument, NULL, 't'},
	    {"memory-mb", required_argument, NULL, 'm'},
	    {"no-train", no_argument, NULL, 'N'},
	    {"train-steps", required_argument, NULL, 'S'},
	    {"arch-id", required_argument, NULL, 'a'},
	    {"set", required_argument, NULL, 's'},
	    {"max-attempts", required_argument, NULL, 'A'},
	    {"db", required_argument, NULL, 'D'},
	    {"parent", required_argument, NULL, 'P'},
	    {"generation", required_argument, NULL, 'G'},
	    {"request-approval", no_argument, NULL, 'R'},
	    {"fixer", required_argument, NULL, 'F'},
	    {"keep-workdir", no_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy_path = NULL, *class_name = NULL, *input = NULL, *arch_id = NULL;
	double timeout = -1;
	long memory = -1, steps = -1, attempts = -1, parent = 0, generation = 0;
	const char *db_path = NULL;
	bool request_approval = false;
	const char *fixer = NULL;
	bool no_train = false, keep = false, as_json = false;
	struct strv sets = {0};
	struct policy pol = {0};
	struct inputspec spec = {0};
	struct supervisor sup;
	struct candidate cand = {0};
	char err[1024], *code = NULL;
	size_t code_len = 0;
	struct json *res = NULL;
	bool record_failed = false;
	int c, rc = AEGIS_EXIT_USAGE;

	optind = 0; /* full re-initialisation of getopt for the sub-command */
	while ((c = getopt_long(argc, argv, "p:c:i:t:m:a:kjh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': policy_path = optarg; break;
		case 'c': class_name = optarg; break;
		case 'i': input = optarg; break;
		case 't':
			if (!util_parse_double(optarg, &timeout) || timeout <= 0 || timeout > 86400)
				return usage_error("--timeout: expected seconds in (0, 86400], got '%s'", optarg);
			break;
		case 'm':
			if (!util_parse_long(optarg, &memory) || memory < 16 || memory > 1048576)
				return usage_error("--memory-mb: expected MiB in [16, 1048576], got '%s'", optarg);
			break;
		case 'N': no_train = true; break;
		case 'S':
			if (!util_parse_long(optarg, &steps) || steps < 1 || steps > 1000000)
				return usage_error("--train-steps: expected an integer in [1, 1000000], got '%s'",
						   optarg);
			break;
		case 'a': arch_id = optarg; break;
		case 'A':
			if (!util_parse_long(optarg, &attempts) || attempts < 1 || attempts > 20)
				return usage_error("--max-attempts: expected an integer in [1, 20], got '%s'", optarg);
			break;
		case 'F': fixer = optarg; break;
		case 'D': db_path = optarg; break;
		case 'P':
			if (!util_parse_long(optarg, &parent) || parent < 1)
				return usage_error("--parent: expected a candidate id, got '%s'", optarg);
			break;
		case 'G':
			if (!util_parse_long(optarg, &generation) || generation < 0)
				return usage_error("--generation: expected an integer >= 0, got '%s'", optarg);
			break;
		case 'R': request_approval = true; break;
		case 's': strv_push(&sets, optarg); break;
		case 'k': keep = true; break;
		case 'j': as_json = true; break;
		case 'h': fputs(run_usage, stdout); return 0;
		default: strv_clear(&sets); return usage_error("bad option for '%s'", static_only ? "check" : "run");
		}
	}
	if (optind != argc - 1) {
		strv_clear(&sets);
		return usage_error("%s: expected exactly one MODEL.py", static_only ? "check" : "run");
	}
	if (cli_load_policy(&pol, policy_path) < 0) {
		strv_clear(&sets);
		return AEGIS_EXIT_USAGE;
	}
	for (size_t i = 0; i < sets.n; i++) {
		if (policy_set(&pol, sets.v[i], err, sizeof(err)) < 0) {
			rc = usage_error("%s", err);
			goto out;
		}
	}
	if (timeout > 0)
		pol.limits.wall_timeout_s = pol.limits.cpu_time_s = timeout;
	if (memory > 0)
		pol.limits.memory_mb = memory;
	if (steps > 0)
		pol.validation.training.steps = steps;
	if (no_train)
		pol.validation.training.enabled = false;
	if (attempts > 0)
		pol.debug.max_attempts = attempts;
	if (fixer) {
		/* words separated by blanks; a policy file can give any argv */
		char *copy = xstrdup(fixer), *save = NULL;

		strv_clear(&pol.debug.fixer_command);
		for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
			strv_push(&pol.debug.fixer_command, w);
		free(copy);
		if (!pol.debug.fixer_command.n) {
			rc = usage_error("--fixer: empty command");
			goto out;
		}
	}
	if (inputspec_parse(input ? input : pol.validation.input, &spec, err, sizeof(err)) < 0) {
		rc = usage_error("%s", err);
		goto out;
	}
	{
		int r = cli_read_source(argv[optind], (size_t)pol.limits.code_max_bytes, &code, &code_len);

		if (r < 0) {
			rc = usage_error("cannot read %s: %s", argv[optind], strerror(-r));
			goto out;
		}
	}
	if (supervise_start(&sup, &pol, cli_pyhelpers_dir(), err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", aegis_progname, err);
		rc = AEGIS_EXIT_ERROR;
		goto out;
	}
	cand.code = code;
	cand.code_len = code_len;
	cand.class_name = class_name;
	cand.input = &spec;
	cand.arch_id = arch_id;
	cand.keep_workdir = keep;
	cand.static_only = static_only;
	if (!db_path && pol.storage.db && *pol.storage.db)
		db_path = pol.storage.db;
	cand.collect_artifact = db_path && !static_only;
	res = pipeline_run(&sup, &cand);
	supervise_stop(&sup);
	if (db_path && !static_only &&
	    cli_record_result(db_path, res, code, code_len, parent, generation,
			      request_approval || pol.approval.required, &cand) < 0)
		record_failed = true;
	if (as_json) {
		struct sbuf sb = SBUF_INIT;

		json_write(res, &sb, 2);
		sbuf_addc(&sb, '\n');
		fwrite(sb.buf, 1, sb.len, stdout);
		sbuf_release(&sb);
	} else {
		print_human(argv[optind], res);
	}
	rc = record_failed ? AEGIS_EXIT_ERROR : verdict_exit_code(verdict_from_name(json_get_str(res, "status")));
out:
	free(cand.artifact);
	json_free(res);
	free(code);
	inputspec_release(&spec);
	policy_release(&pol);
	strv_clear(&sets);
	return rc;
}

/* ---- policy ---------------------------------------------------------------- */

static int cmd_policy(int argc, char **argv)
{
	struct policy pol = {0};
	char err[1024];
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(policy_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? AEGIS_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "check")) {
		if (argc < 3)
			return usage_error("policy check: expected at least one FILE");
		for (int i = 2; i < argc; i++) {
			policy_init_defaults(&pol);
			if (policy_load_file(&pol, argv[i], err, sizeof(err)) < 0) {
				fprintf(stderr, "%s\n", err);
				rc = AEGIS_EXIT_USAGE;
			} else {
				printf("%s: ok\n", argv[i]);
			}
			policy_release(&pol);
		}
		return rc;
	}
	if (!strcmp(argv[1], "show")) {
		struct sbuf sb = SBUF_INIT;

		if (argc > 3)
			return usage_error("policy show: expected at most one FILE");
		if (cli_load_policy(&pol, argc == 3 && strcmp(argv[2], "--commented") ? argv[2] : NULL) < 0)
			return AEGIS_EXIT_USAGE;
		policy_dump(&pol, &sb, argc == 3 && !strcmp(argv[2], "--commented"));
		fwrite(sb.buf, 1, sb.len, stdout);
		sbuf_release(&sb);
		policy_release(&pol);
		return 0;
	}
	if (!strcmp(argv[1], "reference")) {
		/* used by the build to keep aegis-sandbox-policy(5) in step */
		struct sbuf sb = SBUF_INIT;

		policy_dump_reference(&sb);
		fwrite(sb.buf, 1, sb.len, stdout);
		sbuf_release(&sb);
		return 0;
	}
	if (!strcmp(argv[1], "seccomp")) {
		/* the seccomp filter as libseccomp's pseudo-filter text */
		fflush(stdout);
		bool unix_ok = false, rwx = false;

		for (int i = 2; i < argc; i++) {
			unix_ok |= !strcmp(argv[i], "--unix");
			rwx |= !strcmp(argv[i], "--rwx");
		}
		return confine_seccomp_export(unix_ok, rwx, 1) < 0 ? AEGIS_EXIT_ERROR : 0;
	}
	return usage_error("policy: unknown subcommand '%s'", argv[1]);
}

int cli_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *cmd;
	int c;

	/* the supervisor must outlive a reader that goes away */
	signal(SIGPIPE, SIG_IGN);
	optind = 0;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(top_usage, stdout); return 0;
		case 'V': printf("aegis-sandbox %s\n", PACKAGE_VERSION); return 0;
		default: return usage_error("unknown option");
		}
	}
	if (optind >= argc) {
		fputs(top_usage, stderr);
		return AEGIS_EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "run"))
		return cmd_run(argc, argv, false);
	if (!strcmp(cmd, "check"))
		return cmd_run(argc, argv, true);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc, argv);
	if (!strcmp(cmd, "pool"))
		return cmd_pool(argc, argv, false);
	if (!strcmp(cmd, "approvals"))
		return cmd_pool(argc, argv, true);
	if (!strcmp(cmd, "batch"))
		return serve_main(argc, argv, true);
	if (!strcmp(cmd, "serve"))
		return serve_main(argc, argv, false);
	if (!strcmp(cmd, "help")) {
		fputs(top_usage, stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
