/* base.c - see base.h. */
#include "config.h"

#include <ctype.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/base.h"
#include "common/util.h"
#include "store/db.h"
#include "store/pool.h"

int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	util_vmessage("", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'aegis-sandbox --help'.\n");
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
	return util_relocate(AEGIS_PYHELPERS_DIR);
}

char *cli_policy_path(const char *name)
{
	const char *dirs[2] = {getenv("AEGIS_POLICY_DIR"), util_relocate(AEGIS_POLICY_DIR)};
	char *build = NULL;

	if (!name || strchr(name, '/') || access(name, F_OK) == 0 || !*name)
		return xstrdup(name ? name : "");
	for (const char *c = name; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
			return xstrdup(name);
	if (util_exe_kind() == UTIL_EXE_BUILD) /* a build tree: its own policies */
		build = xasprintf("%.*s/policies", (int)(strlen(AEGIS_SRC_PYHELPERS) - strlen("/pyhelpers")),
				  AEGIS_SRC_PYHELPERS);
	for (int i = -1; i < 2; i++) {
		const char *d = i < 0 ? build : dirs[i];
		size_t n = strlen(name);
		char *p;

		if (!d || !*d)
			continue;
		p = n > 5 && !strcmp(name + n - 5, ".yaml") ? xasprintf("%s/%s", d, name)
							    : xasprintf("%s/%s.yaml", d, name);
		if (access(p, R_OK) == 0) {
			free(build);
			return p;
		}
		free(p);
	}
	free(build);
	return xstrdup(name);
}

int cli_load_policy(struct policy *pol, const char *path)
{
	char err[4096]; /* every error of the file, one per line */
	char *file = path ? cli_policy_path(path) : NULL;

	policy_init_defaults(pol);
	if (file && policy_load_file(pol, file, err, sizeof(err)) < 0) {
		if (!strchr(path, '/') && access(path, F_OK) != 0 && !strcmp(file, path))
			fprintf(stderr, "%s: policy '%s': no such file, and no installed policy of that name (%s)\n",
				aegis_progname, path, AEGIS_POLICY_DIR);
		else
			fprintf(stderr, "%s\n", err);
		policy_release(pol);
		free(file);
		return -1;
	}
	free(file);
	return 0;
}

int cli_read_source(const char *path, size_t max, char **code, size_t *len)
{
	int r = !strcmp(path, "-") ? util_read_fd(STDIN_FILENO, max + 1, code, len)
				   : util_read_file(path, max + 1, code, len);

	if (r == -EFBIG) {
		*len = max + 1;
		*code = xmalloc(*len);
		memset(*code, '#', *len);
		r = 0;
	}
	return r;
}

/* ---- run / check ---------------------------------------------------------- */

bool cli_unverified(const struct json *j)
{
	const char *integ = json_get_str(j, "integrity");

	return integ && !strcmp(integ, "unverified");
}

void cli_print_archive(const struct json *j, bool indent)
{
	const char *label = indent ? "  archive     " : "archive    ";
	const struct json *a = json_get(j, "archive"), *ops, *mods;
	double bytes = 0, fns = 0, held = 0;

	if (!a || a->type != JSON_OBJECT)
		return;
	if (!json_get_bool(a, "verified", false)) {
		printf("%s REFUSED by the archive verifier (%s): nothing of it was loaded\n", label,
		       T(json_get_str(a, "refused") ? json_get_str(a, "refused") : "?"));
		return;
	}
	ops = json_get(a, "operators");
	mods = json_get(a, "modules");
	json_get_num(a, "bytes", &bytes);
	json_get_num(a, "functions", &fns);
	printf("%s verified (%s): sha256 %.16s..., %.0f bytes, %.0f functions, %zu operators\n", label,
	       T(json_get_str(a, "verifier")), T(json_get_str(a, "sha256")), bytes, fns,
	       ops && ops->type == JSON_ARRAY ? ops->count : 0);
	if (json_get_num(a, "held_length", &held))
		/* a trace of a loop over time: the archive deployed refuses the rest */
		printf("%s holds sequence length %.0f only: its trace unrolled a loop over time, and it refuses "
		       "any other length\n",
		       indent ? "              " : "           ", held);
	if (mods && mods->type == JSON_ARRAY && mods->count) {
		/* the archive's own module tree, as the validate child read it */
		printf("%s modules: %s", indent ? "              " : "           ", T(json_get_str(mods->items[0], "type")));
		for (size_t i = 1; i < mods->count && i < 8; i++)
			printf(", %s %s", T(json_get_str(mods->items[i], "path")), T(json_get_str(mods->items[i], "class")));
		printf("%s\n", mods->count > 8 ? ", ..." : "");
	}
}

void cli_print_json(const struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	json_write(j, &sb, 2);
	sbuf_addc(&sb, '\n');
	fwrite(sb.buf, 1, sb.len, stdout);
	sbuf_release(&sb);
}

void cli_approval_of(const struct json *res, char **title, char **description, struct json **risk_out)
{
	const struct json *m = json_get(res, "metrics"), *checks = json_get(res, "checks");
	struct json *risk = json_object(), *warn = json_object();
	struct sbuf desc = SBUF_INIT;
	const char *arch = json_get_str(res, "architecture_id");
	double v;

	*title = xasprintf("New architecture: %s", arch && *arch              ? arch
						   : json_get_str(m, "class") ? json_get_str(m, "class")
									      : "candidate");
	/* "gen1_mlp: class Model with 1010 parameters" (not "Model Model") */
	if (arch && *arch)
		sbuf_addf(&desc, "%s: ", arch);
	sbuf_addf(&desc, "class %s", json_get_str(m, "class") ? json_get_str(m, "class") : "?");
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
	json_set(risk, "integrity", json_get(res, "integrity") ? json_dup(json_get(res, "integrity")) : json_null());
	for (size_t i = 0; checks && checks->type == JSON_OBJECT && i < checks->count; i++) {
		const char *st = json_get_str(checks->items[i], "status");

		if (st && strcmp(st, "pass"))
			json_set(warn, checks->keys[i], json_dup(checks->items[i]));
	}
	json_set(risk, "checks_not_passed", warn);
	json_set(risk, "metrics", m ? json_dup(m) : json_object());
	json_set(risk, "sandbox", json_get(res, "sandbox") ? json_dup(json_get(res, "sandbox")) : json_null());
	json_set(risk, "debug_attempts",
		 json_num((double)(json_get(res, "attempts") ? json_get(res, "attempts")->count : 0)));
	*description = sbuf_detach(&desc, NULL);
	*risk_out = risk;
}

int cli_check_db(const char *db)
{
	char err[1024], *def;

	if (!db)
		return 0;
	/* the default pool ('pool path'), and only it, gets its directory */
	def = pool_default_path();
	if (!strcmp(db, def) && util_mkdir_parents(def) < 0) {
		fprintf(stderr, "%s: --db %s: cannot make its directory: %s\n", aegis_progname, db, strerror(errno));
		free(def);
		return AEGIS_EXIT_USAGE;
	}
	free(def);
	if (db_check_target(db, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: --db %s\n", aegis_progname, err);
	return AEGIS_EXIT_USAGE;
}

int cli_record_result(const char *db_path, struct json *res, const char *code, size_t code_len, long parent,
		      long generation, bool want_approval, struct candidate *cand)
{
	char err[1024], *title = NULL, *desc = NULL;
	struct json *risk = NULL;
	struct pool *pool = pool_open(db_path, err, sizeof(err));
	struct pool_verdict v = {.result = res,
				 .code = code,
				 .code_len = code_len,
				 .parent = parent,
				 .generation = generation,
				 .artifact = cand->staged,
				 .artifact_len = cand->staged_len,
				 .artifact_sha256 = cand->staged ? cand->staged_sha256 : NULL};
	long long id = 0, rid = 0;
	int rc = -1;

	if (!pool) {
		fprintf(stderr, "%s: not recorded: %s\n", aegis_progname, err);
		return -1;
	}
	if (want_approval && !strcmp(json_get_str(res, "status") ? json_get_str(res, "status") : "", "accepted")) {
		cli_approval_of(res, &title, &desc, &risk);
		v.approval_title = title;
		v.approval_description = desc;
		v.approval_risk = risk;
	}
	/* the row, the archive and the request, all or none */
	if (pool_record_verdict(pool, &v, &id, &rid, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: not recorded: %s\n", aegis_progname, err);
		goto out;
	}
	json_set(res, "candidate_id", json_num((double)id));
	if (rid > 0)
		json_set(res, "approval_id", json_num((double)rid));
	if (cand->staged) {
		/* the staged copy is the pool's now; where the pool keeps it: a
		 * reader may load it from there */
		char *dir = pool_stage_dir(db_path);
		char *file = xasprintf("%s/%.2s/%s.pt", dir, cand->staged_sha256, cand->staged_sha256);

		json_set(res, "pool_archive", json_str(file));
		free(file);
		free(dir);
		free(cand->staged);
		cand->staged = NULL;
	}
	rc = 0;
out:
	free(title);
	free(desc);
	json_free(risk);
	pool_close(pool);
	return rc;
}

void cli_drop_staged(struct candidate *cand)
{
	if (cand->staged)
		unlink(cand->staged);
	free(cand->staged);
	cand->staged = NULL;
}
