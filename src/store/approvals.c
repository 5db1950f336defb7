/* approvals.c - approval requests and decisions: the append-only
 * trail, signatures checked against the trust (gate.h) in every view,
 * the database roles of the gate on PostgreSQL. */
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

long long pool_request_approval(struct pool *p, long long candidate_id, const char *title, const char *description,
				const struct json *risk, const struct json *sandbox, char *err, size_t errlen)
{
	char *rj = pb_json_text(risk), *sj = pb_json_text(sandbox);
	struct db_val v[5] = {DV_INT(candidate_id), DV_STR(title), DV_STR(description), DV_STR(rj), DV_STR(sj)};
	struct json *rows;
	long long id = -1;

	rows = db_query(p->db, "SELECT id FROM candidates WHERE id = $1", v, 1, err, errlen);
	if (rows && !rows->count) {
		snprintf(err, errlen, "%s: there is no candidate %lld", p->path, candidate_id);
		p->error = POOL_ERR_NOT_FOUND;
	} else if (rows)
		id = pb_returned_id(
		    db_query(p->db,
			     "INSERT INTO approval_requests (candidate_id, title, description,"
			     " risk_assessment, sandbox_assessment) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			     v, 5, err, errlen));
	json_free(rows);
	free(rj);
	free(sj);
	return id;
}

int pool_decide(struct pool *p, long long request_id, const char *decision, const char *reviewer, const char *comment,
		const struct pool_signature *sig, char *err, size_t errlen)
{
	struct db_val v[8] = {DV_INT(request_id),
			      DV_STR(decision),
			      DV_STR(reviewer),
			      DV_STR(comment ? comment : ""),
			      DV_STR(sig ? sig->archive_sha256 : NULL),
			      DV_STR(sig ? sig->signed_at : NULL),
			      DV_STR(sig ? sig->key : NULL),
			      DV_STR(sig ? sig->signature : NULL)};
	struct json *rows;
	long long changed = 0;
	char state[32] = "";
	const char *now_sha;

	if (db_begin(p->db, err, errlen) < 0)
		return -1;
	rows = db_query(p->db,
			"SELECT r.state, c.artifact_sha256 FROM approval_requests r JOIN candidates c"
			" ON c.id = r.candidate_id WHERE r.id = $1",
			v, 1, err, errlen);
	if (!rows)
		goto fail;
	if (!rows->count) {
		snprintf(err, errlen, "there is no approval request %lld", request_id);
		p->error = POOL_ERR_NOT_FOUND;
		json_free(rows);
		goto fail;
	}
	snprintf(state, sizeof(state), "%s", json_get_str_or(rows->items[0], "state", ""));
	/* what was signed is what the pool holds now, in this transaction */
	now_sha = json_get_str(rows->items[0], "artifact_sha256");
	if (sig && sig->archive_sha256 && *sig->archive_sha256 && (!now_sha || strcmp(now_sha, sig->archive_sha256))) {
		snprintf(err, errlen, "approval request %lld: the candidate's archive is no longer the one signed (%s)",
			 request_id, now_sha ? now_sha : "none");
		p->error = POOL_ERR_CONFLICT;
		json_free(rows);
		goto fail;
	}
	json_free(rows);
	/* the state moves from pending once: the test and the move are one
	 * statement, whichever database, however many reviewers at once */
	if (db_exec(p->db, "UPDATE approval_requests SET state = $2 WHERE id = $1 AND state = 'pending'", v, 2,
		    &changed, err, errlen) < 0) {
		if (db_denied(p->db))
			p->error = POOL_ERR_REFUSED; /* a role that may not decide */
		goto fail;
	}
	if (changed != 1) {
		snprintf(err, errlen, "approval request %lld is already %s; a decision is final", request_id,
			 strcmp(state, "pending") ? state : "decided");
		p->error = POOL_ERR_CONFLICT;
		goto fail;
	}
	if (db_exec(p->db,
		    "INSERT INTO approval_decisions (request_id, decision, reviewer, comment, archive_sha256, signed_at,"
		    " key, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		    v, 8, NULL, err, errlen) < 0 ||
	    db_commit(p->db, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(p->db);
	return -1;
}

/* A role name we put into SQL: lowercase letters, digits, '_'. */
static bool role_ok(const char *r)
{
	size_t n = 0;

	for (; r && r[n]; n++)
		if (!islower((unsigned char)r[n]) && !isdigit((unsigned char)r[n]) && r[n] != '_')
			return false;
	return n > 0 && n < 64;
}

int pool_grant(struct pool *p, const char *submitter, const char *reviewer, char *err, size_t errlen)
{
	/* what both may do (to both), then what only the reviewer may: decide */
	static const char *const grants[] = {
	    "GRANT SELECT ON candidates, approval_requests, approval_decisions, queue, archives, aegis_schema TO ",
	    "GRANT INSERT, UPDATE ON candidates, queue TO ",
	    "GRANT INSERT, DELETE ON archives TO ",
	    "GRANT INSERT ON approval_requests TO ",
	    "GRANT USAGE ON SEQUENCE candidates_id_seq, queue_id_seq, approval_requests_id_seq TO ",
	    NULL,
	    "GRANT UPDATE (state) ON approval_requests TO ",
	    "GRANT INSERT ON approval_decisions TO ",
	    "GRANT USAGE ON SEQUENCE approval_decisions_id_seq TO ",
	};
	const char *to = "both";

	if (!p->pg) {
		snprintf(err, errlen, "%s: a SQLite pool has no roles (its file's permissions are the only ones)",
			 p->path);
		return -1;
	}
	if (!role_ok(submitter) || !role_ok(reviewer) || !strcmp(submitter, reviewer)) {
		snprintf(err, errlen, "--submitter and --reviewer: two different role names (lowercase letters, digits, _)");
		return -1;
	}
	if (db_begin(p->db, err, errlen) < 0 ||
	    db_exec(p->db,
		    "REVOKE ALL ON candidates, approval_requests, approval_decisions, queue, archives, aegis_schema"
		    " FROM PUBLIC",
		    NULL, 0, NULL, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(grants) / sizeof(grants[0]); i++) {
		struct sbuf sql = SBUF_INIT;
		int e;

		if (!grants[i]) {
			to = "reviewer";
			continue;
		}
		/* role_ok() names need no quoting; quoted all the same */
		sbuf_adds(&sql, grants[i]);
		if (!strcmp(to, "both"))
			sbuf_addf(&sql, "\"%s\", \"%s\"", submitter, reviewer);
		else
			sbuf_addf(&sql, "\"%s\"", reviewer);
		e = db_exec(p->db, sbuf_str(&sql), NULL, 0, NULL, err, errlen);
		sbuf_release(&sql);
		if (e < 0)
			goto fail;
	}
	return db_commit(p->db, err, errlen);
fail:
	db_rollback(p->db);
	return -1;
}

static void approval_columns(const struct pool *p, struct sbuf *sb)
{
	sbuf_adds(sb, "r.id, r.candidate_id, r.title, r.description, r.risk_assessment AS risk_assessment_json,"
		      " r.state, r.sandbox_assessment AS sandbox_assessment_json, r.requested_at, c.architecture_id,"
		      " c.status AS candidate_status, c.artifact_sha256, ");
	db_json_key(p->db, sb, "c.result", "'integrity'", JK_VALUE);
	sbuf_adds(sb, " AS integrity");
}

static struct json *approval_query(struct pool *p, const char *where, const struct db_val *v, int n, char *err,
				   size_t errlen)
{
	struct sbuf sql = SBUF_INIT;
	struct json *rows;

	sbuf_adds(&sql, "SELECT ");
	approval_columns(p, &sql);
	sbuf_adds(&sql, " FROM approval_requests r JOIN candidates c ON c.id = r.candidate_id WHERE ");
	sbuf_adds(&sql, where);
	rows = db_query(p->db, sbuf_str(&sql), v, n, err, errlen);
	sbuf_release(&sql);
	return rows;
}

/* Request ID's decisions, with what was signed (store/gate.h). */
static struct json *decisions_of(struct pool *p, long long id, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);

	return db_query(p->db,
			"SELECT decision, reviewer, comment, decided_at, archive_sha256, signed_at, key, signature"
			" FROM approval_decisions WHERE request_id = $1 ORDER BY id",
			&v, 1, err, errlen);
}

struct json *pool_approvals(struct pool *p, const char *state, char *err, size_t errlen)
{
	struct db_val v = DV_STR(state);
	struct json *rows = approval_query(p, "(CAST($1 AS TEXT) IS NULL OR r.state = $1) ORDER BY r.id", &v, 1, err,
					   errlen);

	/* each with its decisions, so that every view can check them */
	for (size_t i = 0; rows && i < rows->count; i++) {
		double id = 0;
		struct json *dec;

		json_get_num(rows->items[i], "id", &id);
		if (!(dec = decisions_of(p, (long long)id, err, errlen))) {
			json_free(rows);
			return NULL;
		}
		json_set(rows->items[i], "decisions", dec);
		gate_annotate(p->trust, rows->items[i]);
	}
	return rows;
}

struct json *pool_approval_get(struct pool *p, long long id, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);
	struct json *row = pb_first_row(p, approval_query(p, "r.id = $1", &v, 1, err, errlen), "approval request", id, err,
				     errlen),
		    *cand, *parent = NULL, *dec;
	double cid = 0, pid = 0;

	if (!row)
		return NULL;
	json_get_num(row, "candidate_id", &cid);
	cand = pool_get(p, (long long)cid, true, err, errlen);
	if (!cand) {
		json_free(row);
		return NULL;
	}
	if (json_get_num(cand, "parent_id", &pid) && pid > 0)
		parent = pool_get(p, (long long)pid, true, err, errlen);
	{
		char name[64];
		char *d;

		snprintf(name, sizeof(name), "candidate-%.0f.py", cid);
		if (parent) {
			char pname[64];

			snprintf(pname, sizeof(pname), "candidate-%.0f.py", pid);
			d = diff_unified(json_get_str(parent, "final_code"), json_get_str(cand, "final_code"), pname,
					 name, 3);
		} else {
			d = diff_unified("", json_get_str(cand, "final_code"), "/dev/null", name, 3);
		}
		json_set(row, "diff_against_parent", json_str(d));
		free(d);
	}
	json_free(parent);
	json_set(row, "candidate", cand);
	dec = decisions_of(p, id, err, errlen);
	json_set(row, "decisions", dec ? dec : json_array());
	gate_annotate(p->trust, row);
	return row;
}

/* What candidate ID's approved requests say under the pool's trust:
 * "approved" when one was signed by a trusted reviewer over the archive
 * SHA, else the worst found ("forged", "untrusted"), WHY (may be NULL)
 * saying what each decision is; NULL with ERR when the pool cannot be
 * read, "none" when no request is approved. */
const char *pb_candidate_gate(struct pool *p, long long id, const char *sha, struct sbuf *why, char *err,
				  size_t errlen)
{
	struct db_val v = DV_INT(id);
	struct json *reqs = db_query(p->db,
				     "SELECT id, candidate_id, state FROM approval_requests WHERE candidate_id = $1"
				     " AND state = 'approved' ORDER BY id",
				     &v, 1, err, errlen);
	const char *res = reqs ? "none" : NULL;

	for (size_t i = 0; reqs && i < reqs->count; i++) {
		struct json *r = reqs->items[i], *dec;
		double rid = 0;
		const char *gate;

		json_get_num(r, "id", &rid);
		if (!(dec = decisions_of(p, (long long)rid, err, errlen))) {
			res = NULL;
			break;
		}
		json_set(r, "decisions", dec);
		json_set(r, "artifact_sha256", sha ? json_str(sha) : json_null());
		gate_annotate(p->trust, r);
		gate = json_get_str_or(r, "state", "forged");
		if (!strcmp(gate, "approved")) {
			res = "approved";
			break;
		}
		if (strcmp(res, "forged"))
			res = !strcmp(gate, "untrusted") ? "untrusted" : "forged";
		if (why) {
			sbuf_addf(why, "%srequest %.0f is %s", why->len ? "; " : "", rid, gate);
			for (size_t j = 0; j < dec->count; j++)
				sbuf_addf(why, " (%s by '%s': %s)", json_get_str_or(dec->items[j], "decision", "?"),
					  json_get_str_or(dec->items[j], "reviewer", "?"),
					  json_get_str_or(dec->items[j], "signature", "?"));
		}
	}
	json_free(reqs);
	return res;
}

/* Listings name a candidate's approval: a recorded "approved" becomes what
 * its signatures say. */
struct json *pb_gate_rows(struct pool *p, struct json *rows, char *err, size_t errlen)
{
	for (size_t i = 0; rows && i < rows->count; i++) {
		struct json *r = rows->items[i];
		const char *a = json_get_str(r, "approval"), *g;
		double id = 0;

		if (!a || strcmp(a, "approved"))
			continue;
		json_get_num(r, "id", &id);
		if (!(g = pb_candidate_gate(p, (long long)id, json_get_str(r, "artifact_sha256"), NULL, err, errlen))) {
			json_free(rows);
			return NULL;
		}
		json_set(r, "approval", json_str(!strcmp(g, "none") ? "forged" : g));
	}
	return rows;
}

void pool_set_trust(struct pool *p, const struct gate_trust *trust)
{
	p->trust = trust;
}
