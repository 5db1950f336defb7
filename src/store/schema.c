/* schema.c - the pool's schema: versioned migrations for SQLite and
 * PostgreSQL (the same tables and rules), open and close (pool.h).
 *
 * Written once for both databases (store/db.h): SQL with $N parameters,
 * the few spellings that differ from db_sql() and db_json_key(), and
 * parameters that PostgreSQL cannot type on its own CAST. */
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

/* ---- the schema ------------------------------------------------------------
 *
 * Versioned migrations, one list per database, the same tables and rules:
 * migrations[i] takes version i to i + 1.  JSON is kept as text in both. */
static const char *const lite_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE candidates ("
    "  id INTEGER PRIMARY KEY,"
    "  architecture_id TEXT NOT NULL,"
    "  code_sha256 TEXT NOT NULL,"
    "  code TEXT NOT NULL,"
    "  final_code TEXT NOT NULL,"
    "  parent_id INTEGER REFERENCES candidates(id),"
    "  generation INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  metrics TEXT NOT NULL,"
    "  checks TEXT NOT NULL,"
    "  result TEXT NOT NULL,"
    "  policy_digest TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  artifact BLOB);"
    "CREATE INDEX candidates_status ON candidates(status);"
    "CREATE INDEX candidates_generation ON candidates(generation);"
    "CREATE INDEX candidates_parent ON candidates(parent_id);"
    "CREATE TABLE approval_requests ("
    "  id INTEGER PRIMARY KEY,"
    "  candidate_id INTEGER NOT NULL REFERENCES candidates(id),"
    "  title TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  risk_assessment TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),"
    "  requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));"
    "CREATE INDEX approval_requests_state ON approval_requests(state);"
    "CREATE TABLE approval_decisions ("
    "  id INTEGER PRIMARY KEY,"
    "  request_id INTEGER NOT NULL REFERENCES approval_requests(id),"
    "  decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),"
    "  reviewer TEXT NOT NULL,"
    "  comment TEXT NOT NULL,"
    "  decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));"
    "CREATE TRIGGER approval_decisions_append_only_u BEFORE UPDATE ON approval_decisions"
    "  BEGIN SELECT RAISE(ABORT, 'approval decisions are append-only'); END;"
    "CREATE TRIGGER approval_decisions_append_only_d BEFORE DELETE ON approval_decisions"
    "  BEGIN SELECT RAISE(ABORT, 'approval decisions are append-only'); END;"
    /* a decided request stays decided */
    "CREATE TRIGGER approval_requests_decided_once BEFORE UPDATE OF state ON approval_requests"
    "  WHEN OLD.state != 'pending'"
    "  BEGIN SELECT RAISE(ABORT, 'the request is already decided'); END;",
    /* 1 -> 2: the caller's own metrics (accuracy, ...), kept apart from the
     * sandbox's; the sandbox's assessment beside the caller's */
    "ALTER TABLE candidates ADD COLUMN user_metrics TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE approval_requests ADD COLUMN sandbox_assessment TEXT NOT NULL DEFAULT '{}';",
    /* 2 -> 3: archives out of the rows, in files named by their SHA-256
     * beside the database (SQLite holds at most 1 GB in a value, and a
     * pool of BLOBs only grows); the artifact column stays for rows
     * written before, until 'pool gc' moves them out */
    "ALTER TABLE candidates ADD COLUMN artifact_sha256 TEXT;"
    "ALTER TABLE candidates ADD COLUMN artifact_bytes INTEGER;"
    "ALTER TABLE candidates ADD COLUMN artifact_pruned_at TEXT;"
    "CREATE INDEX candidates_artifact ON candidates(artifact_sha256);",
    /* 3 -> 4: the work queue ('submit', 'worker'): a row is claimed under a
     * lease its worker renews; it is done exactly when its candidate row
     * is written, in the same transaction, by the lease's holder */
    "CREATE TABLE queue ("
    "  id INTEGER PRIMARY KEY,"
    "  code TEXT NOT NULL,"
    "  request TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),"
    "  lease_owner TEXT,"
    "  lease_until REAL,"
    "  claims INTEGER NOT NULL DEFAULT 0,"
    "  candidate_id INTEGER REFERENCES candidates(id),"
    "  submitted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    "  finished_at TEXT);"
    "CREATE INDEX queue_state ON queue(state, id);",
    /* 4 -> 5: signed decisions (store/gate.h): what the reviewer signed
     * (the archive's digest, the time), with which key, the signature;
     * an approval without one is not even written (a forged row is still
     * caught by every reader: this file is writable by the loop) */
    "ALTER TABLE approval_decisions ADD COLUMN archive_sha256 TEXT;"
    "ALTER TABLE approval_decisions ADD COLUMN signed_at TEXT;"
    "ALTER TABLE approval_decisions ADD COLUMN key TEXT;"
    "ALTER TABLE approval_decisions ADD COLUMN signature TEXT;"
    "CREATE TRIGGER approval_decisions_signed BEFORE INSERT ON approval_decisions"
    "  WHEN NEW.decision = 'approved' AND (NEW.signature IS NULL OR NEW.key IS NULL)"
    "  BEGIN SELECT RAISE(ABORT, 'an approval must be signed by a reviewer key'); END;",
};

/* PostgreSQL: the schema SQLite reaches through migrations 1-4, at once
 * (there are no PostgreSQL pools from before), each statement on its own;
 * the archives in a table, as bytea. */
#define PG_NOW "(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
static const char *const pg_schema[] = {
    "CREATE TABLE candidates ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  architecture_id TEXT NOT NULL,"
    "  code_sha256 TEXT NOT NULL,"
    "  code TEXT NOT NULL,"
    "  final_code TEXT NOT NULL,"
    "  parent_id BIGINT REFERENCES candidates(id),"
    "  generation BIGINT NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  metrics TEXT NOT NULL,"
    "  checks TEXT NOT NULL,"
    "  result TEXT NOT NULL,"
    "  policy_digest TEXT NOT NULL,"
    "  created_at TEXT NOT NULL DEFAULT " PG_NOW ","
    "  artifact BYTEA,"
    "  user_metrics TEXT NOT NULL DEFAULT '{}',"
    "  artifact_sha256 TEXT,"
    "  artifact_bytes BIGINT,"
    "  artifact_pruned_at TEXT)",
    "CREATE INDEX candidates_status ON candidates(status)",
    "CREATE INDEX candidates_generation ON candidates(generation)",
    "CREATE INDEX candidates_parent ON candidates(parent_id)",
    "CREATE INDEX candidates_artifact ON candidates(artifact_sha256)",
    "CREATE TABLE approval_requests ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  candidate_id BIGINT NOT NULL REFERENCES candidates(id),"
    "  title TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  risk_assessment TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),"
    "  requested_at TEXT NOT NULL DEFAULT " PG_NOW ","
    "  sandbox_assessment TEXT NOT NULL DEFAULT '{}')",
    "CREATE INDEX approval_requests_state ON approval_requests(state)",
    "CREATE TABLE approval_decisions ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  request_id BIGINT NOT NULL REFERENCES approval_requests(id),"
    "  decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),"
    "  reviewer TEXT NOT NULL,"
    "  comment TEXT NOT NULL,"
    "  decided_at TEXT NOT NULL DEFAULT " PG_NOW ")",
    "CREATE FUNCTION aegis_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'approval decisions are append-only'; END $$",
    "CREATE TRIGGER approval_decisions_append_only BEFORE UPDATE OR DELETE ON approval_decisions"
    "  FOR EACH ROW EXECUTE FUNCTION aegis_append_only()",
    "CREATE FUNCTION aegis_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN IF OLD.state <> 'pending' AND NEW.state IS DISTINCT FROM OLD.state THEN"
    " RAISE EXCEPTION 'the request is already decided'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER approval_requests_decided_once BEFORE UPDATE OF state ON approval_requests"
    "  FOR EACH ROW EXECUTE FUNCTION aegis_decided_once()",
    "CREATE TABLE queue ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  code TEXT NOT NULL,"
    "  request TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done')),"
    "  lease_owner TEXT,"
    "  lease_until DOUBLE PRECISION,"
    "  claims BIGINT NOT NULL DEFAULT 0,"
    "  candidate_id BIGINT REFERENCES candidates(id),"
    "  submitted_at TEXT NOT NULL DEFAULT " PG_NOW ","
    "  finished_at TEXT)",
    "CREATE INDEX queue_state ON queue(state, id)",
    "CREATE TABLE archives (sha256 TEXT PRIMARY KEY, data BYTEA NOT NULL)",
};
/* pg_schema is version PG_BASE; pg_upgrades[i] takes PG_BASE + i on */
#define PG_BASE 4
static const char *const pg_upgrades[] = {
    /* 4 -> 5, as SQLite's */
    "ALTER TABLE approval_decisions ADD COLUMN archive_sha256 TEXT,"
    "  ADD COLUMN signed_at TEXT, ADD COLUMN key TEXT, ADD COLUMN signature TEXT,"
    "  ADD CONSTRAINT approval_decisions_signed CHECK (decision <> 'approved' OR"
    "  (signature IS NOT NULL AND key IS NOT NULL)) NOT VALID",
};

#define N_LITE (sizeof(lite_migrations) / sizeof(lite_migrations[0]))
/* the PostgreSQL schema reaches version N_LITE too: the same tables */
_Static_assert(PG_BASE + sizeof(pg_upgrades) / sizeof(pg_upgrades[0]) == N_LITE,
	       "a migration for one database needs its twin for the other");

char *pool_default_path(void)
{
	return util_xdg_path("XDG_DATA_HOME", ".local/share", "pool.db");
}

/* The number in column COL of SQL's first row, into *OUT (0 when there is
 * no row or it is NULL).  0, or -1 with ERR. */
static int run_script(struct pool *p, const char *sql, char *err, size_t errlen)
{
	/* SQLite's prepare takes one statement: split at ';' outside a
	 * trigger body (our DDL has no ';' in strings) */
	const char *s = sql;
	int depth = 0;

	while (*s) {
		const char *e = s;

		for (; *e; e++) {
			if (!strncmp(e, "BEGIN ", 6))
				depth++;
			if (!strncmp(e, "END;", 4) && depth) {
				depth--;
				e += 3;
				break;
			}
			if (*e == ';' && !depth)
				break;
		}
		{
			char *one = xstrndup(s, (size_t)(e - s));
			int rc = 0;

			if (strspn(one, " \t\n") != strlen(one))
				rc = db_exec(p->db, one, NULL, 0, NULL, err, errlen);
			free(one);
			if (rc < 0)
				return -1;
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

static int lite_migrate(struct pool *p, char *err, size_t errlen)
{
	int version = 0;

	/* Switching a new file to WAL needs a moment of exclusive access, and
	 * SQLite does not always wait for it through the busy handler: when
	 * several processes create the pool at once, retry. */
	for (int i = 0;; i++) {
		if (db_exec(p->db, "PRAGMA journal_mode=WAL", NULL, 0, NULL, err, errlen) == 0)
			break;
		if (!strstr(err, "locked") || i == 300)
			return -1;
		usleep(10 * 1000);
	}
	if (db_exec(p->db, "PRAGMA foreign_keys=ON", NULL, 0, NULL, err, errlen) < 0 ||
	    db_exec(p->db, "PRAGMA synchronous=NORMAL", NULL, 0, NULL, err, errlen) < 0)
		return -1;
	for (;;) {
		double v = 0;

		/* each migration in its own immediate transaction; a concurrent
		 * opener waits and then sees the new version */
		if (db_begin(p->db, err, errlen) < 0)
			return -1;
		if (pb_query_num(p, "PRAGMA user_version", NULL, 0, "user_version", &v, err, errlen) < 0)
			goto fail;
		version = (int)v;
		if (version > (int)N_LITE) {
			snprintf(err, errlen, "%s: schema version %d is newer than this program's %zu", p->path,
				 version, N_LITE);
			goto fail;
		}
		if (version == (int)N_LITE)
			return db_commit(p->db, err, errlen);
		{
			char pragma[64];

			snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
			if (run_script(p, lite_migrations[version], err, errlen) < 0 ||
			    db_exec(p->db, pragma, NULL, 0, NULL, err, errlen) < 0 || db_commit(p->db, err, errlen) < 0)
				goto fail;
		}
	}
fail:
	db_rollback(p->db);
	return -1;
}

static int pg_migrate(struct pool *p, char *err, size_t errlen)
{
	double v = 0;

	/* one opener at a time creates the schema: a transaction-scoped
	 * advisory lock (the number is ours: "aegis" in ASCII) */
	if (db_begin(p->db, err, errlen) < 0 ||
	    db_exec(p->db, "SELECT pg_advisory_xact_lock(418464410979)", NULL, 0, NULL, err, errlen) < 0 ||
	    pb_query_num(p, "SELECT CASE WHEN to_regclass('aegis_schema') IS NULL THEN 0 ELSE 1 END AS present", NULL, 0,
		      "present", &v, err, errlen) < 0)
		goto fail;
	/* only the opener that makes the pool needs CREATE on the schema: a
	 * role that was granted its tables ('pool grant') has none */
	if (v == 0 &&
	    db_exec(p->db, "CREATE TABLE aegis_schema (version INTEGER NOT NULL)", NULL, 0, NULL, err, errlen) < 0)
		goto fail;
	v = 0;
	if (pb_query_num(p, "SELECT version FROM aegis_schema", NULL, 0, "version", &v, err, errlen) < 0)
		goto fail;
	if (v > (double)N_LITE) {
		snprintf(err, errlen, "%s: schema version %.0f is newer than this program's %zu", p->path, v, N_LITE);
		goto fail;
	}
	if (v == 0) {
		char ins[64];

		for (size_t i = 0; i < sizeof(pg_schema) / sizeof(pg_schema[0]); i++)
			if (db_exec(p->db, pg_schema[i], NULL, 0, NULL, err, errlen) < 0)
				goto fail;
		snprintf(ins, sizeof(ins), "INSERT INTO aegis_schema VALUES (%d)", PG_BASE);
		if (db_exec(p->db, ins, NULL, 0, NULL, err, errlen) < 0)
			goto fail;
		v = PG_BASE;
	}
	for (size_t i = (size_t)v - PG_BASE; v >= PG_BASE && i < sizeof(pg_upgrades) / sizeof(pg_upgrades[0]); i++) {
		char up[64];

		snprintf(up, sizeof(up), "UPDATE aegis_schema SET version = %zu", PG_BASE + i + 1);
		if (db_exec(p->db, pg_upgrades[i], NULL, 0, NULL, err, errlen) < 0 ||
		    db_exec(p->db, up, NULL, 0, NULL, err, errlen) < 0)
			goto fail;
	}
	return db_commit(p->db, err, errlen);
fail:
	db_rollback(p->db);
	return -1;
}

struct pool *pool_open(const char *path, char *err, size_t errlen)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	p->path = xstrdup(path);
	p->pg = db_is_url(path);
	p->db = db_open(path, err, errlen);
	if (!p->db)
		goto out_fail;
	if (!p->pg)
		p->archives = xasprintf("%s-archives", path);
	if ((p->pg ? pg_migrate(p, err, errlen) : lite_migrate(p, err, errlen)) < 0)
		goto out_fail;
	return p;
out_fail:
	pool_close(p);
	return NULL;
}

void pool_close(struct pool *p)
{
	if (!p)
		return;
	db_close(p->db);
	free(p->path);
	free(p->archives);
	free(p);
}
