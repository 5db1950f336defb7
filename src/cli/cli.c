/* cli.c - commands, options, and the human-readable output.
 *
 * Exit codes (aegis-sandbox(1)): the verdict's code for run/check (0 accepted,
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

#include "cli/base.h"
#include "cli/cli.h"
#include "cli/poolcmd.h"
#include "cli/queue.h"
#include "store/pool.h"
#include "cli/serve.h"
#include "common/json.h"
#include "common/util.h"
#include "pipeline/pipeline.h"
#include "policy/inputspec.h"
#include "policy/policy.h"
#include "sandbox/confine.h"
#include "supervisor/supervise.h"

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
				"  submit --db DB FILE...  queue candidates for workers\n"
				"  worker --db DB      drain the queue (one per node or slot; Slurm, Kubernetes)\n"
				"  pool ...            the code pool: list, show, top, lineage, export, report, gc,\n"
				"                      queue\n"
				"  approvals ...       the human approval gate: list, show, request, approve, reject\n"
				"\n"
				"Run 'aegis-sandbox COMMAND --help' for a command's options.\n"
				"Exit codes: 0 accepted, 1 rejected, 2 usage or policy error, 3 violation,\n"
				"4 timeout, 5 memory, 6 crash, 7 sandbox error.  See aegis-sandbox(1).\n";

static const char check_usage[] =
    "Usage: aegis-sandbox check [OPTIONS] MODEL.py|-\n"
    "\n"
    "Only the static safety check: what the source mentions, as findings (warnings\n"
    "unless the policy's python.static_check.action is reject).  Nothing runs.\n"
    "'-' reads the source from standard input.\n"
    "\n"
    "  -p, --policy FILE|NAME policy file, or an installed policy by name (strict, ...)\n"
    "      --set KEY=VALUE    override one policy key (repeatable; lists comma-separated)\n"
    "  -j, --json             print the result as one JSON document\n"
    "  -h, --help             this help\n";

static const char run_usage[] =
    "Usage: aegis-sandbox run [OPTIONS] MODEL.py|-\n"
    "\n"
    "Static check, build, validate and train one candidate.  '-' reads the\n"
    "source from standard input.\n"
    "\n"
    "  -p, --policy FILE|NAME policy file, or an installed policy by name (strict, ...)\n"
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

static const char policy_usage[] = "Usage: aegis-sandbox policy check [--json] FILE|NAME...\n"
				   "       aegis-sandbox policy show [--json | --commented] [FILE|NAME]\n"
				   "\n"
				   "'check' validates each FILE and reports FILE:LINE:COLUMN: message for the first\n"
				   "error (exit 2).  'show' prints the effective policy as YAML that 'check' accepts\n"
				   "(--commented: with each key's documentation), or as JSON by the keys' paths.\n"
				   "A NAME without a '/' that is not a file is an installed policy (default,\n"
				   "strict, research).\n";

/* ---- human output -----------------------------------------------------
 *
 * Every string a candidate (or a client) controls goes through T() (one
 * line) or TL() (code, diffs: newlines kept) before it reaches a terminal:
 * an ESC in a class name must not erase the verdict line, an ESC[8m in a
 * comment must not hide code from the reviewer. */
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
	if (cli_unverified(res))
		printf("  %-12s UNVERIFIED: %s\n", "integrity", T(json_get_str(res, "integrity_note")));
	cli_print_archive(res, true);
	if (err && err->type == JSON_OBJECT) {
		double line;
		const char *mod = json_get_str(err, "module");

		double col;

		printf("  %-12s ", "error");
		if (json_get_num(err, "line", &line) && line > 0) {
			/* FILE:LINE[:COL], as a compiler says it: the user's file */
			printf("%s:%.0f:", T(path), line);
			if (json_get_num(err, "col", &col) && col > 0)
				printf("%.0f:", col);
			printf(" ");
		}
		printf("%s: %s", json_get_str(err, "type") ? T(json_get_str(err, "type")) : "Error",
		       T(json_get_str(err, "message")));
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
				printf(": ");
				if (json_get_num(ae, "line", &line) && line > 0)
					printf("line %.0f: ", line);
				printf("%s: %s", T(json_get_str(ae, "type")), T(json_get_str(ae, "message")));
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
			printf("  %-12s ", i ? "" : "warnings");
			if (line > 0)
				printf("%s:%.0f:", T(path), line);
			if (line > 0 && col > 0)
				printf("%.0f:", col);
			printf("%s%s: %s\n", line > 0 ? " " : "", T(json_get_str(w->items[i], "rule")),
			       T(json_get_str(w->items[i], "message")));
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
			printf("  %-12s %.0f\n", "layers", v);
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
	{
		const struct json *rt = json_get(res, "runtime");

		if (rt && rt->type == JSON_OBJECT)
			printf("  %-12s python %s, torch %s, %s archive\n", "runtime", T(json_get_str(rt, "python")),
			       T(json_get_str(rt, "torch")), T(json_get_str(rt, "format")));
	}
}

/* ---- commands ------------------------------------------------------------- */

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
	char err[1024], *code = NULL, *stage_dir = NULL;
	const char *shown = NULL; /* the user's name for the source */
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
		case 'h': fputs(static_only ? check_usage : run_usage, stdout); return 0;
		default: strv_clear(&sets); return usage_error("bad option for '%s'", static_only ? "check" : "run");
		}
		if (static_only && !strchr("psjh", c)) {
			/* check runs nothing: a run option here is a mistake, not a no-op */
			strv_clear(&sets);
			return usage_error("check: %s is an option of 'run' (check runs nothing)", argv[optind - 1]);
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
	shown = strcmp(argv[optind], "-") ? argv[optind] : "<stdin>";
	if (!db_path && pol.storage.db && *pol.storage.db)
		db_path = pol.storage.db;
	if (db_path && !static_only && (rc = cli_check_db(db_path)) != 0)
		goto out;
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
	if (db_path && !static_only)
		cand.stage_dir = stage_dir = pool_stage_dir(db_path);
	res = pipeline_run(&sup, &pol, &cand);
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
		print_human(shown, res);
	}
	rc = record_failed ? AEGIS_EXIT_ERROR : verdict_exit_code(verdict_from_name(json_get_str(res, "status")));
out:
	cli_drop_staged(&cand);
	free(stage_dir);
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
	char err[4096];
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(policy_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? AEGIS_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "check") || !strcmp(argv[1], "show")) {
		static const struct option opts[] = {
		    {"json", no_argument, NULL, 'j'},
		    {"commented", no_argument, NULL, 'c'},
		    {"help", no_argument, NULL, 'h'},
		    {NULL, 0, NULL, 0},
		};
		bool check = !strcmp(argv[1], "check"), commented = false, as_json = false;
		int c;

		/* options anywhere among the files, as everywhere else */
		optind = 0;
		while ((c = getopt_long(argc - 1, argv + 1, "jh", opts, NULL)) != -1) {
			switch (c) {
			case 'j': as_json = true; break;
			case 'c':
				if (check)
					return usage_error("policy check: --commented is an option of 'policy show'");
				commented = true;
				break;
			case 'h': fputs(policy_usage, stdout); return 0;
			default: return usage_error("bad option for 'policy %s'", argv[1]);
			}
		}
		if (check) {
			struct json *doc = json_array();

			if (optind + 1 >= argc) {
				json_free(doc);
				return usage_error("policy check: expected at least one FILE");
			}
			for (int i = optind + 1; i < argc; i++) {
				char *file = cli_policy_path(argv[i]);
				struct json *one = json_object();

				policy_init_defaults(&pol);
				json_set(one, "file", json_str(file));
				if (policy_load_file(&pol, file, err, sizeof(err)) < 0) {
					if (!as_json)
						fprintf(stderr, "%s\n", err);
					json_set(one, "ok", json_bool(false));
					json_set(one, "error", json_str(err));
					rc = AEGIS_EXIT_USAGE;
				} else {
					if (!as_json)
						printf("%s: ok\n", file);
					json_set(one, "ok", json_bool(true));
				}
				json_append(doc, one);
				policy_release(&pol);
				free(file);
			}
			if (as_json) {
				struct sbuf sb = SBUF_INIT;

				json_write(doc, &sb, 2);
				printf("%s\n", sbuf_str(&sb));
				sbuf_release(&sb);
			}
			json_free(doc);
			return rc;
		}
		if (commented && as_json)
			return usage_error("policy show: --json or --commented, not both");
		if (argc - optind - 1 > 1)
			return usage_error("policy show: expected at most one FILE");
		struct sbuf sb = SBUF_INIT;
		const char *file = argc - optind - 1 == 1 ? argv[optind + 1] : NULL;

		if (cli_load_policy(&pol, file) < 0)
			return AEGIS_EXIT_USAGE;
		if (as_json) {
			/* the same codec that sends keys to the children */
			struct json *j = policy_encode(&pol, POLICY_ALL_KEYS);

			json_set(j, "version", json_num(1));
			json_write(j, &sb, 2);
			sbuf_addc(&sb, '\n');
			json_free(j);
		} else {
			policy_dump(&pol, &sb, commented);
		}
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
		case 'V':
			printf("aegis-sandbox %s\n"
			       "Copyright the aegis-sandbox authors.  Licensed under the Apache License, Version 2.0;\n"
			       "see the LICENSE file or https://www.apache.org/licenses/LICENSE-2.0.\n",
			       PACKAGE_VERSION);
			return 0;
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
		return poolcmd_main(argc, argv, false);
	if (!strcmp(cmd, "approvals"))
		return poolcmd_main(argc, argv, true);
	if (!strcmp(cmd, "batch"))
		return serve_main(argc, argv, true);
	if (!strcmp(cmd, "submit"))
		return submit_main(argc, argv);
	if (!strcmp(cmd, "worker"))
		return worker_main(argc, argv);
	if (!strcmp(cmd, "serve"))
		return serve_main(argc, argv, false);
	if (!strcmp(cmd, "help")) {
		fputs(top_usage, stdout);
		return 0;
	}
	return usage_error("unknown command '%s'", cmd);
}
