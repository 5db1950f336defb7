/* pool.h - the code pool and the approval trail, on SQLite.
 *
 * Every candidate is recorded, accepted or not, with its code, result,
 * lineage and (when there is one) the exported TorchScript archive.  An
 * accepted candidate can be exported only after a person approves it;
 * requests and decisions form an append-only trail (triggers refuse any
 * UPDATE or DELETE of a decision).  One transaction per write, WAL mode,
 * a busy timeout: concurrent writers wait instead of failing. */
#ifndef AEGIS_POOL_H
#define AEGIS_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

struct pool;

/* Open (creating and migrating as needed) the database at PATH; its
 * directory is created too.  NULL with ERR on failure.  The handle is the
 * caller's: pool_close() it. */
struct pool *pool_open(const char *path, char *err, size_t errlen);
void pool_close(struct pool *p);
/* What kind of failure the last call that failed (returned -1 or NULL)
 * had, for an exit code a script can tell apart; pool_clear_error()
 * before the call. */
enum pool_error {
	POOL_ERR_OTHER = 0,  /* the database, the file system: an error */
	POOL_ERR_NOT_FOUND,  /* no such candidate, request or archive */
	POOL_ERR_CONFLICT,   /* already decided; the archive changed while deciding */
	POOL_ERR_REFUSED,    /* the gate says no: not approved, forged, not verified */
};
enum pool_error pool_last_error(const struct pool *p);
void pool_clear_error(struct pool *p);
/* Whose signatures count (store/gate.h): every view of an approval and
 * pool_export check decisions against TRUST (borrowed; NULL: nobody's,
 * so nothing is approved and nothing exports). */
struct gate_trust;
void pool_set_trust(struct pool *p, const struct gate_trust *trust);
/* The default database: $XDG_DATA_HOME/aegis-sandbox/pool.db, else
 * ~/.local/share/aegis-sandbox/pool.db.  The caller's. */
char *pool_default_path(void);

/* The directory beside the database at DB_PATH that holds its archives
 * (PATH-archives/), where an archive to be recorded is staged: a file
 * there is renamed into place by pool_record.  The caller's. */
char *pool_stage_dir(const char *db_path);
/* Record one result document (the run's JSON) with lineage and the
 * archive: ARTIFACT names a file of ARTIFACT_LEN bytes in the staging
 * directory whose SHA-256 in hex is ARTIFACT_SHA256 (NULL: none).  It is
 * renamed to a file named by its digest (kept once, however many rows
 * name it); the row names the digest.  Returns the new id (> 0), or -1
 * with ERR (e.g. an unknown parent; the staged file then stays the
 * caller's). */
long long pool_record(struct pool *p, const struct json *result, const char *code, size_t code_len, long long parent_id,
		      long generation, const char *artifact, size_t artifact_len, const char *artifact_sha256,
		      char *err, size_t errlen);
/* Open a pending approval request for candidate ID, with the requester's
 * RISK assessment (kept as given) and the SANDBOX's own.  Returns its id
 * or -1. */
long long pool_request_approval(struct pool *p, long long candidate_id, const char *title, const char *description,
				const struct json *risk, const struct json *sandbox, char *err, size_t errlen);
/* The caller's labels for candidate ID: METRICS (an object, merged over
 * earlier ones; NULL keeps them), GENERATION (< 0 keeps it), ARCH_ID (NULL
 * keeps it).  The sandbox's verdict and metrics never change.  0 or -1. */
int pool_annotate(struct pool *p, long long id, const struct json *metrics, long generation, const char *arch_id,
		  char *err, size_t errlen);
/* What a reviewer signed (store/gate.h): the archive's digest, the time,
 * the public key and the signature, all as text. */
struct pool_signature {
	const char *archive_sha256, *signed_at, *key, *signature;
};
/* Decide a pending request: DECISION is "approved" or "rejected", SIG the
 * reviewer's signature over it (an approval without one is refused by
 * the schema).  A request that is not pending, or whose candidate's
 * archive is no longer the one signed, is refused (-1 with ERR). */
int pool_decide(struct pool *p, long long request_id, const char *decision, const char *reviewer, const char *comment,
		const struct pool_signature *sig, char *err, size_t errlen);
/* PostgreSQL: give the gate database roles.  SUBMITTER may queue, record,
 * annotate and request; REVIEWER may also decide; neither can change the
 * schema or a decision (the pool's tables stay its owner's, who runs
 * this).  0 or -1 with ERR (SQLite: a file has no roles). */
int pool_grant(struct pool *p, const char *submitter, const char *reviewer, char *err, size_t errlen);

/* Queries; each returns a JSON document (the caller's) or NULL with ERR. */
/* SHA256 (may be NULL) selects the candidates of one source. */
struct json *pool_list(struct pool *p, const char *status, long generation, const char *sha256, char *err,
		       size_t errlen);
/* Ranked by METRIC: the caller's metric of that name (pool_annotate) where
 * there is one, else the sandbox's.  LOSS (may be NULL) keeps the
 * candidates trained with that loss (cross_entropy, mse); a metric named
 * *loss over candidates of both kinds needs one (an error otherwise). */
struct json *pool_get(struct pool *p, long long id, bool with_code, char *err, size_t errlen);
struct json *pool_top(struct pool *p, long k, const char *metric, bool desc, const char *loss, char *err,
		      size_t errlen);
struct json *pool_lineage(struct pool *p, long long id, char *err, size_t errlen);
struct json *pool_approvals(struct pool *p, const char *state, char *err, size_t errlen);
struct json *pool_approval_get(struct pool *p, long long id, char *err, size_t errlen);
/* Write the archive of candidate ID to OUT ("-": standard output), only
 * when an approval for it was signed by a reviewer the trust lists over these
 * archive bytes (store/gate.h), and the bytes still have the digest
 * recorded with them.  An existing OUT is kept unless FORCE.  0 with
 * *LEN bytes written, or -1 with ERR. */
int pool_export(struct pool *p, long long id, const char *out, bool force, size_t *len, char *err, size_t errlen);
/* Prune the archives no person can export: those of candidates without
 * an approved or pending approval request, recorded at least MIN_AGE_S
 * seconds ago (the rows, code and metrics stay; the row says when its
 * archive was pruned).  Archives still inside rows (pools written before
 * they left them) move to files or are dropped; files no row names are
 * removed; the database is vacuumed.  DRY_RUN counts without changing
 * anything.  A JSON summary (the caller's) or NULL with ERR. */
struct json *pool_gc(struct pool *p, bool dry_run, double min_age_s, char *err, size_t errlen);

/* ---- the work queue ('submit', 'worker') ------------------------------- */

/* Add a candidate's source and its request (serve's format, without
 * "code") to the queue.  Its id, or -1 with ERR. */
long long pool_enqueue(struct pool *p, const char *code, size_t code_len, const struct json *request, char *err,
		       size_t errlen);
/* Queue N candidates in one transaction: all of them, their ids in IDS,
 * and 0; or none, and -1 with ERR. */
int pool_enqueue_all(struct pool *p, size_t n, char *const *codes, const size_t *lens, struct json *const *requests,
		     long long *ids, char *err, size_t errlen);

/* A claimed queue entry (the caller's: pool_job_release). */
struct pool_job {
	long long id, claims; /* claims: how many times it was claimed, this one included */
	char *code;
	size_t code_len;
	struct json *request;
};
void pool_job_release(struct pool_job *job);

enum { POOL_CLAIM_EMPTY = 0, POOL_CLAIM_WAIT = 1, POOL_CLAIM_JOB = 2 };
/* Claim the oldest entry that is queued, or running under a lease that
 * ran out (its worker died), for OWNER with a lease of LEASE_S seconds of
 * the database's clock.  POOL_CLAIM_JOB with *JOB; POOL_CLAIM_WAIT when
 * nothing can be claimed but entries are running (a lease may yet run
 * out); POOL_CLAIM_EMPTY when nothing is queued or running; -1 with ERR. */
int pool_claim(struct pool *p, const char *owner, double lease_s, struct pool_job *job, char *err, size_t errlen);
/* Extend OWNER's lease on entry ID to LEASE_S seconds from now: 0, 1 when
 * the lease is no longer OWNER's, -1 with ERR. */
int pool_renew(struct pool *p, long long id, const char *owner, double lease_s, char *err, size_t errlen);

/* A verdict to record for a queue entry: pool_record's arguments, and an
 * approval request when APPROVAL_TITLE is set. */
struct pool_verdict {
	const struct json *result;
	const char *code;
	size_t code_len;
	long long parent;
	long generation;
	const char *artifact; /* a staged file (see pool_record), or NULL */
	size_t artifact_len;
	const char *artifact_sha256;
	const char *approval_title, *approval_description;
	const struct json *approval_risk;
};
/* Record V (pool_record's arguments and, with APPROVAL_TITLE, an approval
 * request) in one transaction: the one recorder every path uses ('run',
 * 'serve', 'batch'; pool_complete for the queue).  0 with the new
 * candidate's (and request's, or 0) id, or -1 with ERR and nothing
 * written. */
int pool_record_verdict(struct pool *p, const struct pool_verdict *v, long long *cand_id, long long *approval_id,
			char *err, size_t errlen);
/* Record V as entry ID's verdict, in one transaction with marking the
 * entry done, only while OWNER holds its lease: 1 with the new candidate's
 * (and approval request's, or 0) id; 0 when the lease is someone else's or
 * the entry is done (the verdict is not written: exactly one per entry);
 * -1 with ERR. */
int pool_complete(struct pool *p, long long id, const char *owner, const struct pool_verdict *v, long long *cand_id,
		  long long *approval_id, char *err, size_t errlen);
/* The queue: counts by state and every entry.  The caller's, or NULL. */
struct json *pool_queue(struct pool *p, char *err, size_t errlen);

#endif
