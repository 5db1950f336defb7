/* candidates.c - the one recorder (row, archive, approval request in
 * one transaction), the caller's labels, listings, ranking, lineage. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/diff.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/util.h"
#include "store/db.h"
#include "store/gate.h"
#include "store/pool.h"
#include "store/pool_base.h"

/* ---- writing ------------------------------------------------------------------ */

/* pool_record's row and archive, inside a transaction the caller opened
 * (and rolls back on -1). */
static long long record_row(struct pool *p, const struct json *result, const char *code, size_t code_len,
			    long long parent_id, long generation, const char *artifact, size_t artifact_len,
			    const char *artifact_sha256, char *err, size_t errlen)
{
	char *metrics = pb_json_text(json_get(result, "metrics")), *checks = pb_json_text(json_get(result, "checks"));
	char *whole = pb_json_text(result);
	const struct json *fc = json_get(result, "final_code");
	struct json *rows = NULL;
	long long id = -1;
	double v = 0;

	if (artifact && !sha256_is_hex(artifact_sha256)) {
		snprintf(err, errlen, "an archive without its digest");
		goto out;
	}
	if (parent_id > 0) {
		struct db_val pv = DV_INT(parent_id);

		rows = db_query(p->db, "SELECT id FROM candidates WHERE id = $1", &pv, 1, err, errlen);
		if (!rows)
			goto out;
		if (!rows->count) {
			snprintf(err, errlen, "%s: there is no candidate %lld to be the parent", p->path, parent_id);
			goto out;
		}
		json_free(rows);
		rows = NULL;
	}
	{
		struct db_val vals[14] = {
		    DV_STR(json_get_str_or(result, "architecture_id", "")),
		    DV_STR(json_get_str_or(result, "code_sha256", "")),
		    DV_STRN(code, code_len),
		    fc && fc->type == JSON_STRING ? DV_STRN(fc->s, fc->slen) : DV_STRN(code, code_len),
		    parent_id > 0 ? DV_INT(parent_id) : DV_NIL,
		    DV_INT(generation),
		    DV_STR(json_get_str_or(result, "status", "error")),
		    DV_STR(json_get_str_or(result, "stage", "")),
		    DV_STR(metrics),
		    DV_STR(checks),
		    DV_STR(whole),
		    DV_STR(json_get_str_or(result, "policy_digest", "")),
		    artifact ? DV_STR(artifact_sha256) : DV_NIL,
		    artifact ? DV_INT((long long)artifact_len) : DV_NIL,
		};

		rows = db_query(p->db,
				"INSERT INTO candidates (architecture_id, code_sha256, code, final_code, parent_id,"
				" generation, status, stage, metrics, checks, result, policy_digest,"
				" artifact_sha256, artifact_bytes)"
				" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
				vals, 14, err, errlen);
	}
	if (!rows || !rows->count || !json_get_num(rows->items[0], "id", &v))
		goto out;
	id = (long long)v;
	if (artifact && pb_archive_adopt(p, artifact_sha256, artifact, artifact_len, err, errlen) < 0)
		id = -1;
out:
	json_free(rows);
	free(metrics);
	free(checks);
	free(whole);
	return id;
}

/* The one recorder: V's row, its archive and, when V asks for one, its
 * approval request, inside the caller's transaction. */
int pb_record_verdict(struct pool *p, const struct pool_verdict *v, long long *cand_id, long long *approval_id,
			  char *err, size_t errlen)
{
	long long cid = record_row(p, v->result, v->code, v->code_len, v->parent, v->generation, v->artifact,
				   v->artifact_len, v->artifact_sha256, err, errlen);

	*cand_id = *approval_id = 0;
	if (cid < 0)
		return -1;
	if (v->approval_title) {
		*approval_id = pool_request_approval(p, cid, v->approval_title, v->approval_description,
						     v->approval_risk, v->approval_risk, err, errlen);
		if (*approval_id < 0) {
			*approval_id = 0;
			return -1;
		}
	}
	*cand_id = cid;
	return 0;
}

int pool_record_verdict(struct pool *p, const struct pool_verdict *v, long long *cand_id, long long *approval_id,
			char *err, size_t errlen)
{
	/* the row, the archive and the request in one transaction: a row that
	 * cannot be written (an unknown parent) leaves no archive and no
	 * request, an archive that cannot be stored no row (a crash between
	 * the two leaves a file no row names, which 'pool gc' removes) */
	if (db_begin(p->db, err, errlen) < 0)
		return -1;
	if (pb_record_verdict(p, v, cand_id, approval_id, err, errlen) < 0 || db_commit(p->db, err, errlen) < 0) {
		db_rollback(p->db);
		*cand_id = *approval_id = 0;
		return -1;
	}
	return 0;
}

long long pool_record(struct pool *p, const struct json *result, const char *code, size_t code_len, long long parent_id,
		      long generation, const char *artifact, size_t artifact_len, const char *artifact_sha256,
		      char *err, size_t errlen)
{
	struct pool_verdict v = {.result = result,
				 .code = code,
				 .code_len = code_len,
				 .parent = parent_id,
				 .generation = generation,
				 .artifact = artifact,
				 .artifact_len = artifact_len,
				 .artifact_sha256 = artifact_sha256};
	long long cid, aid;

	return pool_record_verdict(p, &v, &cid, &aid, err, errlen) < 0 ? -1 : cid;
}

int pool_annotate(struct pool *p, long long id, const struct json *metrics, long generation, const char *arch_id,
		  char *err, size_t errlen)
{
	char *mj = metrics ? pb_json_text(metrics) : NULL;
	struct db_val v[4] = {DV_STR(mj), DV_INT(generation), DV_STR(arch_id), DV_INT(id)};
	long long changed = 0;
	int rc = -1;

	if (metrics && metrics->type != JSON_OBJECT) {
		snprintf(err, errlen, "metrics must be a JSON object");
		goto out;
	}
	/* the caller's metrics are merged over those already recorded */
	if (db_exec(p->db,
		    p->pg ? "UPDATE candidates SET user_metrics = CASE WHEN CAST($1 AS TEXT) IS NULL THEN user_metrics"
			    " ELSE (user_metrics::jsonb || CAST($1 AS TEXT)::jsonb)::text END,"
			    " generation = CASE WHEN CAST($2 AS BIGINT) < 0 THEN generation ELSE $2 END,"
			    " architecture_id = COALESCE(CAST($3 AS TEXT), architecture_id) WHERE id = $4"
			  : "UPDATE candidates SET user_metrics = CASE WHEN $1 IS NULL THEN user_metrics"
			    " ELSE json_patch(user_metrics, $1) END,"
			    " generation = CASE WHEN $2 < 0 THEN generation ELSE $2 END,"
			    " architecture_id = COALESCE($3, architecture_id) WHERE id = $4",
		    v, 4, &changed, err, errlen) < 0)
		goto out;
	if (changed != 1) {
		snprintf(err, errlen, "there is no candidate %lld", id);
		p->error = POOL_ERR_NOT_FOUND;
		goto out;
	}
	rc = 0;
out:
	free(mj);
	return rc;
}

/* ---- queries -------------------------------------------------------------------- */

/* The columns every candidate listing has, for this database: the row's
 * own, then JSON keys of its metrics and result. */
static void summary_columns(const struct pool *p, struct sbuf *sb)
{
	static const struct {
		const char *col, *key, *as;
	} keys[] = {
	    {"c.metrics", "'parameters'", "parameters"},     {"c.metrics", "'final_loss'", "final_loss"},
	    {"c.metrics", "'heldout_loss'", "heldout_loss"}, {"c.metrics", "'loss'", "loss"},
	    {"c.result", "'integrity'", "integrity"},        {"c.result", "'fixes_applied'", "fixes_applied"},
	    {"c.result", "'runtime'", "runtime_json"},
	};

	sbuf_adds(sb, "c.id, c.architecture_id, c.parent_id, c.generation, c.status, c.stage, c.created_at,"
		      " c.code_sha256, c.user_metrics AS user_metrics_json, (SELECT state FROM approval_requests r"
		      " WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1) AS approval, c.artifact_sha256");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		sbuf_adds(sb, ", ");
		db_json_key(p->db, sb, keys[i].col, keys[i].key, JK_VALUE);
		sbuf_addf(sb, " AS %s", keys[i].as);
	}
}

/* Move the runtime object's fields to the row (torch, python, format). */
static struct json *flatten_runtime(struct json *rows)
{
	for (size_t i = 0; rows && i < rows->count; i++) {
		struct json *r = rows->items[i], *rt = json_take(r, "runtime");

		json_set(r, "torch", json_get_str(rt, "torch") ? json_str(json_get_str(rt, "torch")) : json_null());
		json_set(r, "python", json_get_str(rt, "python") ? json_str(json_get_str(rt, "python")) : json_null());
		json_set(r, "format", json_get_str(rt, "format") ? json_str(json_get_str(rt, "format")) : json_null());
		json_free(rt);
	}
	return rows;
}

static struct json *summary_query(struct pool *p, const char *before, const char *after, const struct db_val *v, int n,
				  char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct json *rows;

	sbuf_adds(&sql, before);
	summary_columns(p, &sql);
	sbuf_adds(&sql, after);
	rows = db_query(p->db, sbuf_str(&sql), v, n, err, errlen);
	sbuf_release(&sql);
	return pb_gate_rows(p, flatten_runtime(rows), err, errlen);
}

struct json *pool_list(struct pool *p, const char *status, long generation, const char *sha256, char *err,
		       size_t errlen)
{
	struct db_val v[3] = {DV_STR(status), DV_INT(generation), DV_STR(sha256)};

	return summary_query(p, "SELECT ",
			     " FROM candidates c WHERE (CAST($1 AS TEXT) IS NULL OR c.status = $1)"
			     " AND (CAST($2 AS BIGINT) < 0 OR c.generation = $2)"
			     " AND (CAST($3 AS TEXT) IS NULL OR c.code_sha256 = $3) ORDER BY c.id",
			     v, 3, err, errlen);
}

struct json *pool_get(struct pool *p, long long id, bool with_code, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct json *row = NULL;
	struct db_val v = DV_INT(id);
	static const char *const parts[] = {"error", "attempts", "sandbox", "warnings", "violations", "archive"};

	sbuf_adds(&sql, "SELECT ");
	summary_columns(p, &sql);
	sbuf_adds(&sql, ", c.code, c.final_code, c.metrics AS metrics_json, c.checks AS checks_json, c.policy_digest");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		char key[32];

		snprintf(key, sizeof(key), "'%s'", parts[i]);
		sbuf_adds(&sql, ", ");
		db_json_key(p->db, &sql, "c.result", key, JK_VALUE);
		sbuf_addf(&sql, " AS %s_json", parts[i]);
	}
	sbuf_adds(&sql, ", ");
	db_json_key(p->db, &sql, "c.result", "'stdout'", JK_TEXT);
	sbuf_adds(&sql, " AS stdout, ");
	db_json_key(p->db, &sql, "c.result", "'stderr'", JK_TEXT);
	sbuf_adds(&sql, " AS stderr, CASE WHEN c.artifact_sha256 IS NOT NULL OR c.artifact IS NOT NULL THEN 1 ELSE 0"
			" END AS has_artifact, COALESCE(c.artifact_bytes, length(c.artifact))"
			" AS artifact_bytes, c.artifact_pruned_at FROM candidates c WHERE c.id = $1");
	row = pb_first_row(p, pb_gate_rows(p, flatten_runtime(db_query(p->db, sbuf_str(&sql), &v, 1, err, errlen)), err, errlen),
			"candidate", id, err, errlen);
	sbuf_release(&sql);
	if (!row)
		return NULL;
	if (!with_code) {
		json_free(json_take(row, "code"));
		json_free(json_take(row, "final_code"));
	}
	{
		struct json *b = json_take(row, "has_artifact");

		json_set(row, "has_artifact", json_bool(b && b->type == JSON_NUMBER && b->n != 0));
		json_free(b);
	}
	return row;
}

static bool metric_name_ok(const char *m)
{
	if (!m || !*m || strlen(m) > 64)
		return false;
	for (const char *c = m; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

/* The numeric metric names of recent accepted candidates (theirs and the
 * sandbox's), into NAMES; for naming what 'top' can rank. */
static void known_metrics(struct pool *p, struct strv *names)
{
	char err[256];
	struct json *rows = db_query(p->db,
				     "SELECT metrics, user_metrics FROM candidates WHERE status = 'accepted'"
				     " ORDER BY id DESC LIMIT 50",
				     NULL, 0, err, sizeof(err));

	for (size_t i = 0; rows && i < rows->count; i++) {
		static const char *const cols[] = {"metrics", "user_metrics"};

		for (size_t c = 0; c < 2; c++) {
			const char *text = json_get_str(rows->items[i], cols[c]);
			struct json *m = text ? json_parse(text, strlen(text), NULL, 0) : NULL;

			for (size_t j = 0; m && m->type == JSON_OBJECT && j < m->count; j++)
				if (m->items[j]->type == JSON_NUMBER && !strv_contains(names, m->keys[j]))
					strv_push(names, m->keys[j]);
			json_free(m);
		}
	}
	json_free(rows);
}

/* ERR for a metric no accepted candidate has: the closest of NAMES (the
 * known ones), and the known ones. */
static void unknown_metric(const char *metric, const struct strv *names, char *err, size_t errlen)
{
	struct sbuf sb = SBUF_INIT;
	const char *best = util_closest(metric, names->v, names->n);

	for (size_t i = 0; i < names->n && i < 12; i++)
		sbuf_addf(&sb, "%s%s", i ? ", " : "", names->v[i]);
	if (names->n > 12)
		sbuf_addf(&sb, " and %zu more", names->n - 12);
	snprintf(err, errlen, "metric '%s': no accepted candidate has it%s%s%s; they have: %s", metric,
		 best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "", sbuf_str(&sb));
	sbuf_release(&sb);
}

struct json *pool_top(struct pool *p, long k, const char *metric, bool desc, const char *loss, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT, user = SBUF_INIT, own = SBUF_INIT, lossx = SBUF_INIT;
	struct db_val v[3] = {DV_STR(metric), DV_INT(k), DV_STR(loss)};
	size_t mlen = metric ? strlen(metric) : 0;
	struct json *rows = NULL;

	if (!metric_name_ok(metric)) {
		snprintf(err, errlen, "metric '%s' is not a metric name (letters, digits, '_')", metric ? metric : "");
		return NULL;
	}
	db_json_key(p->db, &user, "c.user_metrics", "CAST($1 AS TEXT)", JK_NUMBER);
	db_json_key(p->db, &own, "c.metrics", "CAST($1 AS TEXT)", JK_NUMBER);
	db_json_key(p->db, &lossx, "c.metrics", "'loss'", JK_TEXT);
	if (!loss && mlen >= 4 && !strcmp(metric + mlen - 4, "loss")) {
		/* a cross-entropy is not comparable with a mean squared error */
		double kinds = 0;

		sbuf_addf(&sql,
			  "SELECT COUNT(DISTINCT %s) AS kinds FROM candidates c WHERE c.status = 'accepted'"
			  " AND COALESCE(%s, %s) IS NOT NULL",
			  sbuf_str(&lossx), sbuf_str(&user), sbuf_str(&own));
		if (pb_query_num(p, sbuf_str(&sql), v, 1, "kinds", &kinds, err, errlen) < 0)
			goto out;
		if (kinds > 1) {
			snprintf(err, errlen,
				 "metric %s: the candidates were trained with different losses (cross_entropy and "
				 "mse), which do not compare; rank one kind with --loss",
				 metric);
			goto out;
		}
	}
	/* the caller's metric of that name first (accuracy, ...), else the sandbox's */
	sbuf_release(&sql);
	sbuf_adds(&sql, "SELECT ");
	summary_columns(p, &sql);
	sbuf_addf(&sql,
		  ", COALESCE(%s, %s) AS value FROM candidates c WHERE c.status = 'accepted'"
		  " AND COALESCE(%s, %s) IS NOT NULL AND (CAST($3 AS TEXT) IS NULL OR %s = $3)"
		  " ORDER BY value %s, c.id LIMIT $2",
		  sbuf_str(&user), sbuf_str(&own), sbuf_str(&user), sbuf_str(&own), sbuf_str(&lossx),
		  desc ? "DESC" : "ASC");
	rows = pb_gate_rows(p, flatten_runtime(db_query(p->db, sbuf_str(&sql), v, 3, err, errlen)), err, errlen);
	if (rows && rows->count == 0) {
		/* an empty table: no accepted candidate, or a metric none has
		 * (a typo must not look like an empty pool) */
		struct strv names = {0};

		/* the metrics of a trained verdict: absent while nothing trained */
		static const char *const trained[] = {"avg_loss", "final_loss", "heldout_loss", "initial_loss",
						      "loss_drop", "max_grad_norm", "peak_memory_mb",
						      "steps_per_second", "task_entropy", "training_steps", NULL};
		bool sandbox_metric = false;

		for (const char *const *t = trained; *t; t++)
			sandbox_metric |= !strcmp(*t, metric);
		known_metrics(p, &names);
		if (names.n && !sandbox_metric && !strv_contains(&names, metric)) {
			unknown_metric(metric, &names, err, errlen);
			json_free(rows);
			rows = NULL;
		}
		strv_clear(&names);
	}
out:
	sbuf_release(&sql);
	sbuf_release(&user);
	sbuf_release(&own);
	sbuf_release(&lossx);
	return rows;
}

struct json *pool_lineage(struct pool *p, long long id, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);
	struct json *res, *one, *up, *down;

	one = pool_get(p, id, false, err, errlen);
	if (!one)
		return NULL;
	res = json_object();
	json_set(res, "candidate", one);
	up = summary_query(p,
			   "WITH RECURSIVE up(id, depth) AS (SELECT parent_id, 1 FROM candidates WHERE id = $1"
			   " UNION ALL SELECT c.parent_id, up.depth + 1 FROM candidates c JOIN up ON c.id = up.id"
			   " WHERE up.depth < 10000) SELECT ",
			   ", up.depth FROM up JOIN candidates c ON c.id = up.id ORDER BY up.depth DESC", &v, 1, err,
			   errlen);
	down =
	    up ? summary_query(p,
			       "WITH RECURSIVE down(id, depth) AS (SELECT id, 1 FROM candidates WHERE parent_id = $1"
			       " UNION ALL SELECT c.id, down.depth + 1 FROM candidates c JOIN down"
			       " ON c.parent_id = down.id WHERE down.depth < 10000) SELECT ",
			       ", down.depth FROM down JOIN candidates c ON c.id = down.id ORDER BY down.depth, c.id",
			       &v, 1, err, errlen)
	       : NULL;
	if (!up || !down) {
		json_free(up);
		json_free(res);
		return NULL;
	}
	json_set(res, "ancestors", up);
	json_set(res, "descendants", down);
	return res;
}
