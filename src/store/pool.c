/* pool.c - see pool.h.
 *
 * Written once for both databases (store/db.h): SQL with $N parameters,
 * the few spellings that differ from db_sql() and db_json_key(), and
 * parameters that PostgreSQL cannot type on its own CAST.  The archives
 * are files beside a SQLite database, and rows of their own table in a
 * PostgreSQL one (which has no "beside"), both named by their SHA-256. */
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
#include "store/pool.h"
#include "store/gate.h"

struct pool {
	struct db *db;
	char *path;     /* as given: a path or a URL */
	char *archives; /* SQLite: PATH-archives/, the archives by SHA-256; PostgreSQL: NULL */
	bool pg;
	const struct gate_trust *trust; /* whose signatures count (NULL: nobody's) */
};

static struct json *gate_rows(struct pool *p, struct json *rows, char *err, size_t errlen);
static struct json *decisions_of(struct pool *p, long long id, char *err, size_t errlen);

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
	const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (x && *x == '/')
		return xasprintf("%s/aegis-sandbox/pool.db", x);
	if (!home || *home != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw ? pw->pw_dir : "/tmp";
	}
	return xasprintf("%s/.local/share/aegis-sandbox/pool.db", home);
}

/* The number in column COL of SQL's first row, into *OUT (0 when there is
 * no row or it is NULL).  0, or -1 with ERR. */
static int query_nums(struct pool *p, const char *sql, const struct db_val *v, int n, const char *const *cols,
		      double *outs, size_t ncols, char *err, size_t errlen)
{
	struct json *rows = db_query(p->db, sql, v, n, err, errlen);

	for (size_t i = 0; i < ncols; i++)
		outs[i] = 0;
	if (!rows)
		return -1;
	for (size_t i = 0; rows->count && i < ncols; i++)
		json_get_num(rows->items[0], cols[i], &outs[i]);
	json_free(rows);
	return 0;
}

static int query_num(struct pool *p, const char *sql, const struct db_val *v, int n, const char *col, double *out,
		     char *err, size_t errlen)
{
	return query_nums(p, sql, v, n, &col, out, 1, err, errlen);
}

/* A statement list run as one script (SQLite) or one by one (PostgreSQL). */
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
		if (query_num(p, "PRAGMA user_version", NULL, 0, "user_version", &v, err, errlen) < 0)
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
	    query_num(p, "SELECT CASE WHEN to_regclass('aegis_schema') IS NULL THEN 0 ELSE 1 END AS present", NULL, 0,
		      "present", &v, err, errlen) < 0)
		goto fail;
	/* only the opener that makes the pool needs CREATE on the schema: a
	 * role that was granted its tables ('pool grant') has none */
	if (v == 0 &&
	    db_exec(p->db, "CREATE TABLE aegis_schema (version INTEGER NOT NULL)", NULL, 0, NULL, err, errlen) < 0)
		goto fail;
	v = 0;
	if (query_num(p, "SELECT version FROM aegis_schema", NULL, 0, "version", &v, err, errlen) < 0)
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

static char *json_text(const struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	if (j)
		json_write(j, &sb, -1);
	else
		sbuf_adds(&sb, "{}");
	return sbuf_detach(&sb, NULL);
}

static const char *str_or(const struct json *o, const char *k, const char *def)
{
	const char *s = json_get_str(o, k);

	return s ? s : def;
}

/* The first of ROWS (which are consumed), or NULL with ERR ("there is no
 * WHAT ID" when there is none; ROWS NULL: ERR says why already).  The
 * caller's. */
static struct json *first_row(struct json *rows, const char *what, long long id, char *err, size_t errlen)
{
	struct json *row;

	if (!rows)
		return NULL;
	if (!rows->count) {
		snprintf(err, errlen, "there is no %s %lld", what, id);
		json_free(rows);
		return NULL;
	}
	row = rows->items[0];
	rows->count = 0;
	json_free(rows);
	return row;
}

/* The first row of SQL's result with $1 = ID (see first_row). */
static struct json *query_one(struct pool *p, const char *sql, long long id, const char *what, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);

	return first_row(db_query(p->db, sql, &v, 1, err, errlen), what, id, err, errlen);
}

/* ---- archives ----------------------------------------------------------------- */

/* Where the archive with digest SHA lives, beside a SQLite pool (the
 * caller's). */
static char *archive_path(const struct pool *p, const char *sha)
{
	return xasprintf("%s/%.2s/%s.pt", p->archives, sha, sha);
}

/* Store DATA under its digest SHA, unless it is there already (the same
 * archive twice is kept once).  Beside SQLite: written to a temporary
 * name and renamed, so a reader never sees half an archive; not fsynced:
 * 'pool export' checks the digest of what it reads.  0 or -1 with ERR. */
static int archive_put(struct pool *p, const char *sha, const void *data, size_t len, char *err, size_t errlen)
{
	char *dst, *tmp = NULL;
	struct stat st;
	unsigned long long nonce = 0;
	int rc = -1;

	if (p->pg) {
		struct db_val v[2] = {DV_STR(sha), DV_BLOB(data, len)};

		return db_exec(p->db, "INSERT INTO archives (sha256, data) VALUES ($1, $2) ON CONFLICT DO NOTHING", v,
			       2, NULL, err, errlen);
	}
	dst = archive_path(p, sha);
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		rc = 0;
		goto out;
	}
	if (util_mkdir_parents(dst) < 0) {
		snprintf(err, errlen, "%s: cannot create the archive directory: %s", p->archives, strerror(errno));
		goto out;
	}
	(void)!getentropy(&nonce, sizeof(nonce));
	tmp = xasprintf("%s.tmp-%ld-%llx", dst, (long)getpid(), nonce);
	if (util_write_file(tmp, data, len, 0600) < 0 || rename(tmp, dst) < 0) {
		snprintf(err, errlen, "%s: cannot store the archive: %s", dst, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	free(dst);
	return rc;
}

/* Take the staged file STAGED (see pool_stage_dir) as the archive with
 * digest SHA: renamed into place beside SQLite (dropped when that archive
 * is there already), read into its table on PostgreSQL.  0 or -1 with
 * ERR. */
static int archive_adopt(struct pool *p, const char *sha, const char *staged, size_t len, char *err, size_t errlen)
{
	char *dst;
	struct stat st;
	int rc = -1;

	if (p->pg) {
		char *data = NULL;
		size_t n = 0;
		int e = util_read_file(staged, (size_t)1 << 31, &data, &n);

		if (e < 0) {
			snprintf(err, errlen, "%s: %s", staged, strerror(-e));
			return -1;
		}
		rc = archive_put(p, sha, data, n, err, errlen);
		free(data);
		if (rc == 0)
			unlink(staged);
		return rc;
	}
	dst = archive_path(p, sha);
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
		unlink(staged);
		rc = 0;
	} else if (util_mkdir_parents(dst) < 0) {
		snprintf(err, errlen, "%s: cannot create the archive directory: %s", p->archives, strerror(errno));
	} else if (rename(staged, dst) < 0) {
		snprintf(err, errlen, "%s: cannot store the archive: %s", dst, strerror(errno));
	} else {
		rc = 0;
	}
	free(dst);
	return rc;
}

char *pool_stage_dir(const char *db_path)
{
	if (db_is_url(db_path)) {
		/* a server database has no "beside": stage on this machine */
		const char *t = getenv("TMPDIR");

		return xasprintf("%s/aegis-sandbox-stage-%ld", t && *t == '/' ? t : "/var/tmp", (long)getuid());
	}
	return xasprintf("%s-archives", db_path);
}

/* ---- writing ------------------------------------------------------------------ */

/* pool_record's row and archive, inside a transaction the caller opened
 * (and rolls back on -1). */
static long long record_row(struct pool *p, const struct json *result, const char *code, size_t code_len,
			    long long parent_id, long generation, const char *artifact, size_t artifact_len,
			    const char *artifact_sha256, char *err, size_t errlen)
{
	char *metrics = json_text(json_get(result, "metrics")), *checks = json_text(json_get(result, "checks"));
	char *whole = json_text(result);
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
		    DV_STR(str_or(result, "architecture_id", "")),
		    DV_STR(str_or(result, "code_sha256", "")),
		    DV_STRN(code, code_len),
		    fc && fc->type == JSON_STRING ? DV_STRN(fc->s, fc->slen) : DV_STRN(code, code_len),
		    parent_id > 0 ? DV_INT(parent_id) : DV_NIL,
		    DV_INT(generation),
		    DV_STR(str_or(result, "status", "error")),
		    DV_STR(str_or(result, "stage", "")),
		    DV_STR(metrics),
		    DV_STR(checks),
		    DV_STR(whole),
		    DV_STR(str_or(result, "policy_digest", "")),
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
	if (artifact && archive_adopt(p, artifact_sha256, artifact, artifact_len, err, errlen) < 0)
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
static int record_verdict(struct pool *p, const struct pool_verdict *v, long long *cand_id, long long *approval_id,
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
	if (record_verdict(p, v, cand_id, approval_id, err, errlen) < 0 || db_commit(p->db, err, errlen) < 0) {
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

/* The id a RETURNING id query gave, or -1. */
static long long returned_id(struct json *rows)
{
	double v = -1;

	if (rows && rows->count)
		json_get_num(rows->items[0], "id", &v);
	json_free(rows);
	return (long long)v;
}

long long pool_request_approval(struct pool *p, long long candidate_id, const char *title, const char *description,
				const struct json *risk, const struct json *sandbox, char *err, size_t errlen)
{
	char *rj = json_text(risk), *sj = json_text(sandbox);
	struct db_val v[5] = {DV_INT(candidate_id), DV_STR(title), DV_STR(description), DV_STR(rj), DV_STR(sj)};
	struct json *rows;
	long long id = -1;

	rows = db_query(p->db, "SELECT id FROM candidates WHERE id = $1", v, 1, err, errlen);
	if (rows && !rows->count)
		snprintf(err, errlen, "%s: there is no candidate %lld", p->path, candidate_id);
	else if (rows)
		id = returned_id(
		    db_query(p->db,
			     "INSERT INTO approval_requests (candidate_id, title, description,"
			     " risk_assessment, sandbox_assessment) VALUES ($1, $2, $3, $4, $5) RETURNING id",
			     v, 5, err, errlen));
	json_free(rows);
	free(rj);
	free(sj);
	return id;
}

int pool_annotate(struct pool *p, long long id, const struct json *metrics, long generation, const char *arch_id,
		  char *err, size_t errlen)
{
	char *mj = metrics ? json_text(metrics) : NULL;
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
		goto out;
	}
	rc = 0;
out:
	free(mj);
	return rc;
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
		json_free(rows);
		goto fail;
	}
	snprintf(state, sizeof(state), "%s", str_or(rows->items[0], "state", ""));
	/* what was signed is what the pool holds now, in this transaction */
	now_sha = json_get_str(rows->items[0], "artifact_sha256");
	if (sig && sig->archive_sha256 && *sig->archive_sha256 && (!now_sha || strcmp(now_sha, sig->archive_sha256))) {
		snprintf(err, errlen, "approval request %lld: the candidate's archive is no longer the one signed (%s)",
			 request_id, now_sha ? now_sha : "none");
		json_free(rows);
		goto fail;
	}
	json_free(rows);
	/* the state moves from pending once: the test and the move are one
	 * statement, whichever database, however many reviewers at once */
	if (db_exec(p->db, "UPDATE approval_requests SET state = $2 WHERE id = $1 AND state = 'pending'", v, 2,
		    &changed, err, errlen) < 0)
		goto fail;
	if (changed != 1) {
		snprintf(err, errlen, "approval request %lld is already %s; a decision is final", request_id,
			 strcmp(state, "pending") ? state : "decided");
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
	return gate_rows(p, flatten_runtime(rows), err, errlen);
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
	row = first_row(gate_rows(p, flatten_runtime(db_query(p->db, sbuf_str(&sql), &v, 1, err, errlen)), err, errlen),
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
		if (query_num(p, sbuf_str(&sql), v, 1, "kinds", &kinds, err, errlen) < 0)
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
	rows = gate_rows(p, flatten_runtime(db_query(p->db, sbuf_str(&sql), v, 3, err, errlen)), err, errlen);
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
	struct json *row = first_row(approval_query(p, "r.id = $1", &v, 1, err, errlen), "approval request", id, err,
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

/* ---- export -------------------------------------------------------------------- */

static int write_out(const char *out, const void *data, size_t len, bool force, char *err, size_t errlen)
{
	char *tmp;
	unsigned long long nonce = 0;
	int rc = 0;

	if (!strcmp(out, "-")) {
		if (util_write_all(STDOUT_FILENO, data, len) < 0) {
			snprintf(err, errlen, "cannot write to standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!force && access(out, F_OK) == 0) {
		snprintf(err, errlen, "%s exists: give --force to overwrite it", out);
		return -1;
	}
	(void)!getentropy(&nonce, sizeof(nonce));
	tmp = xasprintf("%s.tmp-%ld-%llx", out, (long)getpid(), nonce);
	if (util_write_file(tmp, data, len, 0644) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
		rc = -1;
	} else if (force ? rename(tmp, out) < 0 : link(tmp, out) < 0) {
		/* without --force, link(2) refuses a file that appeared since */
		snprintf(err, errlen,
			 errno == EEXIST ? "%s exists: give --force to overwrite it" : "cannot write %s: %s", out,
			 strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

/* True when the verdict recorded in ROW ("result") says the archive
 * verifier passed the bytes named SHA (the row's archive digest): only
 * those leave the pool.  Rows recorded before the verifier existed, or
 * with the archive still in the row, have no such word. */
static bool archive_was_verified(const struct json *row, const char *sha)
{
	const char *text = json_get_str(row, "result");
	char perr[64];
	struct json *res = text && sha ? json_parse(text, strlen(text), perr, sizeof(perr)) : NULL;
	const struct json *a = res ? json_get(res, "archive") : NULL;
	const char *vsha = a && json_get_bool(a, "verified", false) ? json_get_str(a, "sha256") : NULL;
	bool ok = vsha && !strcmp(vsha, sha);

	json_free(res);
	return ok;
}

/* What candidate ID's approved requests say under the pool's trust:
 * "approved" when one was signed by a trusted reviewer over the archive
 * SHA, else the worst found ("forged", "untrusted"), WHY (may be NULL)
 * saying what each decision is; NULL with ERR when the pool cannot be
 * read, "none" when no request is approved. */
static const char *candidate_gate(struct pool *p, long long id, const char *sha, struct sbuf *why, char *err,
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
		gate = str_or(r, "state", "forged");
		if (!strcmp(gate, "approved")) {
			res = "approved";
			break;
		}
		if (strcmp(res, "forged"))
			res = !strcmp(gate, "untrusted") ? "untrusted" : "forged";
		if (why) {
			sbuf_addf(why, "%srequest %.0f is %s", why->len ? "; " : "", rid, gate);
			for (size_t j = 0; j < dec->count; j++)
				sbuf_addf(why, " (%s by '%s': %s)", str_or(dec->items[j], "decision", "?"),
					  str_or(dec->items[j], "reviewer", "?"),
					  str_or(dec->items[j], "signature", "?"));
		}
	}
	json_free(reqs);
	return res;
}

/* Listings name a candidate's approval: a recorded "approved" becomes what
 * its signatures say. */
static struct json *gate_rows(struct pool *p, struct json *rows, char *err, size_t errlen)
{
	for (size_t i = 0; rows && i < rows->count; i++) {
		struct json *r = rows->items[i];
		const char *a = json_get_str(r, "approval"), *g;
		double id = 0;

		if (!a || strcmp(a, "approved"))
			continue;
		json_get_num(r, "id", &id);
		if (!(g = candidate_gate(p, (long long)id, json_get_str(r, "artifact_sha256"), NULL, err, errlen))) {
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

int pool_export(struct pool *p, long long id, const char *out, bool force, size_t *len, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);
	struct json *row = query_one(p,
				     "SELECT (SELECT count(*) FROM approval_requests r WHERE r.candidate_id = c.id"
				     " AND r.state = 'approved') AS approved, c.status, c.artifact_sha256,"
				     " c.artifact_pruned_at, CASE WHEN c.artifact IS NULL THEN 0 ELSE 1 END AS in_row,"
				     " c.result FROM candidates c WHERE c.id = $1",
				     id, "candidate", err, errlen);
	char *data = NULL, got[65];
	const char *sha;
	double approved = 0, in_row = 0;
	int rc = -1;

	*len = 0;
	if (!row)
		return -1;
	json_get_num(row, "approved", &approved);
	json_get_num(row, "in_row", &in_row);
	sha = json_get_str(row, "artifact_sha256");
	if (approved == 0) {
		snprintf(err, errlen,
			 "candidate %lld has not been approved by a person: export refused "
			 "(see 'aegis-sandbox approvals list')",
			 id);
		goto out;
	}
	{
		struct sbuf why = SBUF_INIT;
		const char *g = candidate_gate(p, id, sha, &why, err, errlen);

		if (g && strcmp(g, "approved"))
			snprintf(err, errlen,
				 "candidate %lld has no approval signed by a trusted reviewer over its archive: export "
				 "refused (%s; trusted reviewers from %s)",
				 id, sbuf_str(&why),
				 p->trust && gate_trust_source(p->trust) ? gate_trust_source(p->trust)
									 : "nowhere: no reviewers file");
		sbuf_release(&why);
		if (!g || strcmp(g, "approved"))
			goto out;
	}
	if ((sha || in_row) && !archive_was_verified(row, sha)) {
		snprintf(err, errlen,
			 "candidate %lld's archive did not pass the archive verifier (a record from before it, or one "
			 "whose verdict names other bytes): export refused; run the candidate again to have it verified",
			 id);
		goto out;
	}
	if (sha) {
		/* named by its digest: what is read must still match */
		int e;

		if (!sha256_is_hex(sha)) {
			snprintf(err, errlen, "candidate %lld: the pool's archive name is not a digest", id);
			goto out;
		}
		if (p->pg) {
			struct db_val s = DV_STR(sha);

			e = db_query_blob(p->db, "SELECT data FROM archives WHERE sha256 = $1", &s, 1, &data, len, err,
					  errlen);
			if (e == 0)
				snprintf(err, errlen, "candidate %lld's archive %s is not in the pool", id, sha);
			if (e <= 0)
				goto out;
		} else {
			char *path = archive_path(p, sha);

			e = util_read_file(path, (size_t)1 << 40, &data, len);
			if (e < 0)
				snprintf(err, errlen, "candidate %lld's archive %s cannot be read: %s", id, path,
					 strerror(-e));
			free(path);
			if (e < 0)
				goto out;
		}
		sha256_hex(data, *len, got);
		if (strcmp(got, sha)) {
			snprintf(err, errlen,
				 "candidate %lld's archive is damaged: its SHA-256 is %s, the pool recorded %s", id,
				 got, sha);
			goto out;
		}
	} else if (in_row) {
		/* written before archives left the rows */
		if (db_query_blob(p->db, "SELECT artifact FROM candidates WHERE id = $1", &v, 1, &data, len, err,
				  errlen) <= 0)
			goto out;
	} else if (json_get_str(row, "artifact_pruned_at")) {
		snprintf(err, errlen, "candidate %lld's archive was pruned by 'pool gc' at %s", id,
			 json_get_str(row, "artifact_pruned_at"));
		goto out;
	} else {
		snprintf(err, errlen, "candidate %lld has no exported model (status %s)", id,
			 str_or(row, "status", "?"));
		goto out;
	}
	rc = write_out(out, data, *len, force, err, errlen);
out:
	json_free(row);
	free(data);
	return rc;
}

/* ---- garbage collection ------------------------------------------------------ */

/* A candidate whose archive a person may still export: approved, or
 * with a request still pending. */
#define KEEP_ARCHIVE(T)                                                                                                \
	"EXISTS (SELECT 1 FROM approval_requests r WHERE r.candidate_id = " T ".id"                                    \
	" AND r.state IN ('approved', 'pending'))"

static long long file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The database's size on disk (SQLite: the file and its log). */
static long long db_bytes(struct pool *p)
{
	if (p->pg) {
		char err[256];
		double n = 0;

		query_num(p, "SELECT pg_database_size(current_database()) AS n", NULL, 0, "n", &n, err, sizeof(err));
		return (long long)n;
	}
	{
		char *wal = xasprintf("%s-wal", p->path);
		long long n = file_bytes(p->path) + file_bytes(wal);

		free(wal);
		return n;
	}
}

/* Step 1: archives still in rows (written before migration 3) leave them:
 * kept ones to the archive store, the others dropped. */
static int gc_rows_out(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	struct json *rows = db_query(
	    p->db,
	    "SELECT c.id, CASE WHEN " KEEP_ARCHIVE("c") " THEN 1 ELSE 0 END AS keep"
							" FROM candidates c WHERE c.artifact IS NOT NULL ORDER BY c.id",
	    NULL, 0, err, errlen);
	long long moved = 0, dropped = 0, bytes = 0;
	int rc = -1;

	if (!rows)
		return -1;
	for (size_t i = 0; i < rows->count; i++) {
		double id = 0, keep = 0;
		struct db_val v[3];
		char *blob = NULL, sha[65];
		size_t len = 0;

		json_get_num(rows->items[i], "id", &id);
		json_get_num(rows->items[i], "keep", &keep);
		v[0] = DV_INT((long long)id);
		if (db_query_blob(p->db, "SELECT artifact FROM candidates WHERE id = $1", v, 1, &blob, &len, err,
				  errlen) < 0)
			goto out;
		if (keep) {
			sha256_hex(blob, len, sha);
			if (!dry_run && archive_put(p, sha, blob, len, err, errlen) < 0) {
				free(blob);
				goto out;
			}
			moved++;
		} else {
			dropped++;
			bytes += (long long)len;
		}
		free(blob);
		if (dry_run)
			continue;
		v[1] = keep ? DV_STR(sha) : DV_NIL;
		v[2] = DV_INT((long long)len);
		{
			char *sql = keep ? xstrdup("UPDATE candidates SET artifact = NULL, artifact_sha256 = $2,"
						   " artifact_bytes = $3 WHERE id = $1")
					 : xasprintf("UPDATE candidates SET artifact = NULL, artifact_bytes = $3,"
						     " artifact_pruned_at = %s WHERE id = $1",
						     db_sql(p->db, SQL_NOW_TEXT));
			int e = db_exec(p->db, sql, v, 3, NULL, err, errlen);

			free(sql);
			if (e < 0)
				goto out;
		}
	}
	json_set(doc, "moved_out_of_rows", json_num((double)moved));
	json_set(doc, "pruned", json_num((double)dropped));
	json_set(doc, "pruned_bytes", json_num((double)bytes));
	rc = 0;
out:
	json_free(rows);
	return rc;
}

/* Step 2: archives of candidates nobody approved or will. */
static int gc_prune(struct pool *p, bool dry_run, double min_age_s, struct json *doc, char *err, size_t errlen)
{
	struct sbuf sql = SBUF_INIT, cutoff = SBUF_INIT;
	struct db_val v = DV_REAL(min_age_s);
	struct json *rows;
	long long n = 0, bytes = 0;
	double x;

	/* created_at is text of one format in both databases: compare it with
	 * the cut-off written the same way */
	if (p->pg)
		sbuf_adds(&cutoff, "to_char((clock_timestamp() AT TIME ZONE 'UTC') - make_interval(secs => "
				   "CAST($1 AS DOUBLE PRECISION)), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
	else
		sbuf_adds(&cutoff, "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' seconds')");
	if (dry_run)
		sbuf_addf(
		    &sql,
		    "SELECT count(*) AS n, COALESCE(sum(artifact_bytes), 0) AS b FROM candidates"
		    " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE("candidates") " AND created_at <= %s",
		    sbuf_str(&cutoff));
	else
		sbuf_addf(&sql,
			  "UPDATE candidates SET artifact_sha256 = NULL, artifact_pruned_at = %s"
			  " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE(
			      "candidates") " AND created_at <= %s"
					    " RETURNING artifact_bytes AS b",
			  db_sql(p->db, SQL_NOW_TEXT), sbuf_str(&cutoff));
	rows = db_query(p->db, sbuf_str(&sql), &v, 1, err, errlen);
	sbuf_release(&sql);
	sbuf_release(&cutoff);
	if (!rows)
		return -1;
	for (size_t i = 0; i < rows->count; i++) {
		double b = 0, c = 0;

		json_get_num(rows->items[i], "b", &b);
		if (dry_run) {
			json_get_num(rows->items[i], "n", &c);
			n += (long long)c;
		} else {
			n++;
		}
		bytes += (long long)b;
	}
	json_free(rows);
	x = 0;
	json_get_num(doc, "pruned", &x);
	json_set(doc, "pruned", json_num(x + (double)n));
	x = 0;
	json_get_num(doc, "pruned_bytes", &x);
	json_set(doc, "pruned_bytes", json_num(x + (double)bytes));
	return 0;
}

/* Whether a row names SHA: 1, 0, or -1 with ERR. */
static int referenced(struct pool *p, const char *sha, char *err, size_t errlen)
{
	struct db_val v = DV_STR(sha);
	struct json *rows =
	    db_query(p->db, "SELECT 1 AS x FROM candidates WHERE artifact_sha256 = $1 LIMIT 1", &v, 1, err, errlen);
	int found = rows ? rows->count > 0 : -1;

	json_free(rows);
	return found;
}

/* Step 3, PostgreSQL: archives no row names. */
static int gc_table(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	static const char *const nb[] = {"n", "b"};
	double gone[2], kept[2];

	if (query_nums(
		p,
		dry_run ? "SELECT count(*) AS n, COALESCE(sum(length(data)), 0) AS b FROM archives a WHERE NOT EXISTS"
			  " (SELECT 1 FROM candidates c WHERE c.artifact_sha256 = a.sha256)"
			: "WITH gone AS (DELETE FROM archives a WHERE NOT EXISTS (SELECT 1 FROM candidates c"
			  " WHERE c.artifact_sha256 = a.sha256) RETURNING length(data) AS len)"
			  " SELECT count(*) AS n, COALESCE(sum(len), 0) AS b FROM gone",
		NULL, 0, nb, gone, 2, err, errlen) < 0 ||
	    query_nums(p, "SELECT count(*) AS n, COALESCE(sum(length(data)), 0) AS b FROM archives", NULL, 0, nb, kept,
		       2, err, errlen) < 0)
		return -1;
	json_set(doc, "files_removed", json_num(gone[0]));
	json_set(doc, "files_removed_bytes", json_num(gone[1]));
	json_set(doc, "archives_kept", json_num(dry_run ? kept[0] - gone[0] : kept[0]));
	json_set(doc, "archives_kept_bytes", json_num(dry_run ? kept[1] - gone[1] : kept[1]));
	return 0;
}

/* Step 3, SQLite: files no row names (pruned just now, or left by a crash
 * between file and row).  A file younger than GRACE_S may belong to a row
 * being written right now, and is left for the next run. */
#define GRACE_S 600
static int gc_files(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	long long removed = 0, bytes = 0, kept = 0, kept_bytes = 0;
	time_t now = time(NULL);
	DIR *top = opendir(p->archives);
	struct dirent *d;

	if (!top) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", p->archives, strerror(errno));
			return -1;
		}
	}
	while (top && (d = readdir(top))) {
		char *sub;
		DIR *dir;
		struct dirent *f;

		if (!strncmp(d->d_name, ".incoming-", 10)) {
			/* a copy for a row that was never written (a crash) */
			struct stat st;
			char *path = xasprintf("%s/%s", p->archives, d->d_name);

			if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= GRACE_S &&
			    (dry_run || unlink(path) == 0)) {
				removed++;
				bytes += (long long)st.st_size;
			}
			free(path);
			continue;
		}
		if (strlen(d->d_name) != 2 || !isxdigit((unsigned char)d->d_name[0]))
			continue;
		sub = xasprintf("%s/%s", p->archives, d->d_name);
		dir = opendir(sub);
		while (dir && (f = readdir(dir))) {
			char *path, sha[65];
			struct stat st;
			size_t n = strlen(f->d_name);
			bool tmp = strstr(f->d_name, ".pt.tmp-") != NULL;
			int ref;

			if (f->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", sub, f->d_name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
				free(path);
				continue;
			}
			snprintf(sha, sizeof(sha), "%.64s", f->d_name);
			ref = !tmp && n == 67 && sha256_is_hex(sha) ? referenced(p, sha, err, errlen) : 0;
			if (ref < 0) {
				free(path);
				closedir(dir);
				free(sub);
				closedir(top);
				return -1;
			}
			if (ref || now - st.st_mtime < GRACE_S) {
				kept++;
				kept_bytes += (long long)st.st_size;
			} else if (dry_run || unlink(path) == 0) {
				removed++;
				bytes += (long long)st.st_size;
			}
			free(path);
		}
		if (dir) {
			closedir(dir);
			if (!dry_run)
				(void)rmdir(sub); /* only when empty */
		}
		free(sub);
	}
	if (top)
		closedir(top);
	json_set(doc, "files_removed", json_num((double)removed));
	json_set(doc, "files_removed_bytes", json_num((double)bytes));
	json_set(doc, "archives_kept", json_num((double)kept));
	json_set(doc, "archives_kept_bytes", json_num((double)kept_bytes));
	return 0;
}

struct json *pool_gc(struct pool *p, bool dry_run, double min_age_s, char *err, size_t errlen)
{
	struct json *doc = json_object();

	json_set(doc, "db", json_str(db_name(p->db)));
	json_set(doc, "archives", json_str(p->pg ? "the archives table" : p->archives));
	json_set(doc, "dry_run", json_bool(dry_run));
	json_set(doc, "db_bytes_before", json_num((double)db_bytes(p)));
	if (db_begin(p->db, err, errlen) < 0)
		goto fail;
	if (gc_rows_out(p, dry_run, doc, err, errlen) < 0 || gc_prune(p, dry_run, min_age_s, doc, err, errlen) < 0 ||
	    (p->pg && gc_table(p, dry_run, doc, err, errlen) < 0)) {
		db_rollback(p->db);
		goto fail;
	}
	if (db_commit(p->db, err, errlen) < 0)
		goto fail;
	if (!p->pg && gc_files(p, dry_run, doc, err, errlen) < 0)
		goto fail;
	/* give the space back to the file system */
	if (!dry_run && (db_exec(p->db, "VACUUM", NULL, 0, NULL, err, errlen) < 0 ||
			 (!p->pg && db_exec(p->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, 0, NULL, err, errlen) < 0)))
		goto fail;
	json_set(doc, "db_bytes_after", json_num((double)db_bytes(p)));
	return doc;
fail:
	json_free(doc);
	return NULL;
}

/* ---- the work queue -------------------------------------------------------- */

long long pool_enqueue(struct pool *p, const char *code, size_t code_len, const struct json *request, char *err,
		       size_t errlen)
{
	char *rj = json_text(request);
	struct db_val v[2] = {DV_STRN(code, code_len), DV_STR(rj)};
	long long id = returned_id(
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
	if (query_num(p, sbuf_str(&sql), NULL, 0, "id", &id, err, errlen) < 0)
		goto fail;
	if (!id) {
		if (query_num(p, "SELECT count(*) AS n FROM queue WHERE state = 'running'", NULL, 0, "n", &running, err,
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
	job->code = xstrdup(str_or(rows->items[0], "code", ""));
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
	if (record_verdict(p, v, &cid, approval_id, err, errlen) < 0)
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
