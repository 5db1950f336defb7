/* workqueue.c - the work queue ('submit', 'worker'): entries claimed
 * under leases, completed exactly once with their verdict. */
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

/* ---- the work queue -------------------------------------------------------- */

long long pool_enqueue(struct pool *p, const char *code, size_t code_len, const struct json *request, char *err,
		       size_t errlen)
{
	char *rj = pb_json_text(request);
	struct db_val v[2] = {DV_STRN(code, code_len), DV_STR(rj)};
	long long id = pb_returned_id(
	    db_query(p->db, "INSERT INTO queue (code, request) VALUES ($1, $2) RETURNING id", v, 2, err, errlen));

	free(rj);
	return id;
}

int pool_enqueue_all(struct pool *p, size_t n, char *const *codes, const size_t *lens, struct json *const *requests,
		     long long *ids, char *err, size_t errlen)
{
	if (db_begin(p->db, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		ids[i] = pool_enqueue(p, codes[i], lens[i], requests[i], err, errlen);
		if (ids[i] < 0) {
			db_rollback(p->db);
			return -1;
		}
	}
	if (db_commit(p->db, err, errlen) < 0) {
		db_rollback(p->db);
		return -1;
	}
	return 0;
}

int pool_claim(struct pool *p, const char *owner, double lease_s, struct pool_job *job, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct json *rows = NULL;
	struct db_val v[3];
	double id = 0, running = 0, claims = 0;
	const char *now = db_sql(p->db, SQL_NOW_EPOCH);

	*job = (struct pool_job){0};
	/* SQLite: one writer at a time; PostgreSQL: the row is locked for
	 * this transaction, and every other worker skips it */
	if (db_begin(p->db, err, errlen) < 0)
		return -1;
	sbuf_addf(&sql,
		  "SELECT id FROM queue WHERE state = 'queued' OR (state = 'running' AND lease_until < %s)"
		  " ORDER BY id LIMIT 1%s",
		  now, db_sql(p->db, SQL_SKIP_LOCKED));
	if (pb_query_num(p, sbuf_str(&sql), NULL, 0, "id", &id, err, errlen) < 0)
		goto fail;
	if (!id) {
		if (pb_query_num(p, "SELECT count(*) AS n FROM queue WHERE state = 'running'", NULL, 0, "n", &running, err,
			      errlen) < 0)
			goto fail;
		sbuf_release(&sql);
		if (db_commit(p->db, err, errlen) < 0)
			goto fail;
		return running ? POOL_CLAIM_WAIT : POOL_CLAIM_EMPTY;
	}
	sbuf_release(&sql);
	sbuf_addf(
	    &sql,
	    "UPDATE queue SET state = 'running', lease_owner = $2, lease_until = %s + CAST($3 AS DOUBLE PRECISION),"
	    " claims = claims + 1 WHERE id = $1 RETURNING code, request AS request_json, claims",
	    now);
	v[0] = DV_INT((long long)id);
	v[1] = DV_STR(owner);
	v[2] = DV_REAL(lease_s);
	rows = db_query(p->db, sbuf_str(&sql), v, 3, err, errlen);
	if (!rows || !rows->count)
		goto fail;
	job->id = (long long)id;
	job->code = xstrdup(json_get_str_or(rows->items[0], "code", ""));
	job->code_len = strlen(job->code);
	job->request = json_take(rows->items[0], "request");
	json_get_num(rows->items[0], "claims", &claims);
	job->claims = (long long)claims;
	json_free(rows);
	rows = NULL;
	if (!job->request || job->request->type != JSON_OBJECT) {
		snprintf(err, errlen, "queue entry %lld: its request is not a JSON object", job->id);
		goto fail;
	}
	if (db_commit(p->db, err, errlen) < 0)
		goto fail;
	sbuf_release(&sql);
	return POOL_CLAIM_JOB;
fail:
	json_free(rows);
	sbuf_release(&sql);
	db_rollback(p->db);
	pool_job_release(job);
	return -1;
}

void pool_job_release(struct pool_job *job)
{
	free(job->code);
	json_free(job->request);
	*job = (struct pool_job){0};
}

int pool_renew(struct pool *p, long long id, const char *owner, double lease_s, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct db_val v[3] = {DV_INT(id), DV_STR(owner), DV_REAL(lease_s)};
	long long changed = 0;
	int rc;

	sbuf_addf(&sql,
		  "UPDATE queue SET lease_until = %s + CAST($3 AS DOUBLE PRECISION)"
		  " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
		  db_sql(p->db, SQL_NOW_EPOCH));
	rc = db_exec(p->db, sbuf_str(&sql), v, 3, &changed, err, errlen);
	sbuf_release(&sql);
	return rc < 0 ? -1 : changed == 1 ? 0 : 1;
}

int pool_complete(struct pool *p, long long id, const char *owner, const struct pool_verdict *v, long long *cand_id,
		  long long *approval_id, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct db_val q[2] = {DV_INT(id), DV_STR(owner)};
	long long changed = 0, cid;

	*cand_id = *approval_id = 0;
	if (db_begin(p->db, err, errlen) < 0)
		return -1;
	/* the lease's holder, once: a worker whose lease ran out (and the
	 * candidate went to another worker) writes nothing */
	sbuf_addf(&sql,
		  "UPDATE queue SET state = 'done', lease_until = NULL, finished_at = %s"
		  " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
		  db_sql(p->db, SQL_NOW_TEXT));
	if (db_exec(p->db, sbuf_str(&sql), q, 2, &changed, err, errlen) < 0)
		goto fail;
	sbuf_release(&sql);
	if (changed != 1) {
		db_rollback(p->db);
		return 0;
	}
	if (pb_record_verdict(p, v, &cid, approval_id, err, errlen) < 0)
		goto fail;
	q[1] = DV_INT(cid);
	if (db_exec(p->db, "UPDATE queue SET candidate_id = $2 WHERE id = $1", q, 2, NULL, err, errlen) < 0 ||
	    db_commit(p->db, err, errlen) < 0)
		goto fail;
	*cand_id = cid;
	return 1;
fail:
	sbuf_release(&sql);
	db_rollback(p->db);
	*approval_id = 0;
	return -1;
}

struct json *pool_queue(struct pool *p, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct json *doc = json_object(), *counts, *rows;
	double n;

	counts = db_query(p->db,
			  "SELECT (SELECT count(*) FROM queue WHERE state = 'queued') AS queued,"
			  " (SELECT count(*) FROM queue WHERE state = 'running') AS running,"
			  " (SELECT count(*) FROM queue WHERE state = 'done') AS done",
			  NULL, 0, err, errlen);
	if (!counts) {
		json_free(doc);
		return NULL;
	}
	for (size_t i = 0; counts->count && i < counts->items[0]->count; i++) {
		n = counts->items[0]->items[i]->n;
		json_set(doc, counts->items[0]->keys[i], json_num(n));
	}
	json_free(counts);
	sbuf_addf(&sql,
		  "SELECT id, state, lease_owner, lease_until - %s AS lease_left_s, claims, candidate_id, submitted_at,"
		  " finished_at, ",
		  db_sql(p->db, SQL_NOW_EPOCH));
	db_json_key(p->db, &sql, "request", "'name'", JK_TEXT);
	sbuf_adds(&sql, " AS name FROM queue ORDER BY id");
	rows = db_query(p->db, sbuf_str(&sql), NULL, 0, err, errlen);
	sbuf_release(&sql);
	if (!rows) {
		json_free(doc);
		return NULL;
	}
	json_set(doc, "entries", rows);
	return doc;
}
