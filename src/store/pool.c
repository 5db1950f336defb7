/* pool.c - see pool.h. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/pool.h"
#include "common/diff.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/util.h"

struct pool {
	sqlite3 *db;
	char *path;
	char *archives; /* PATH-archives/: the archives, by SHA-256 */
};

/* Versioned migrations: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
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
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int db_fail(struct pool *p, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", p->path, what, sqlite3_errmsg(p->db));
	return -1;
}

static int exec_sql(struct pool *p, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", p->path, msg ? msg : sqlite3_errmsg(p->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

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

struct pool *pool_open(const char *path, char *err, size_t errlen)
{
	struct pool *p = xcalloc(1, sizeof(*p));
	sqlite3_stmt *st = NULL;
	int version = 0;

	p->path = xstrdup(path);
	p->archives = xasprintf("%s-archives", path);
	if (util_mkdir_parents(path) < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(errno));
		goto out_fail;
	}
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		db_fail(p, err, errlen, "open");
		goto out_fail;
	}
	sqlite3_busy_timeout(p->db, 30000);
	/* Switching a new file to WAL needs a moment of exclusive access, and
	 * SQLite does not always wait for it through the busy handler: when
	 * several processes create the pool at once, retry. */
	for (int i = 0;; i++) {
		if (exec_sql(p, "PRAGMA journal_mode=WAL", err, errlen) == 0)
			break;
		if (sqlite3_errcode(p->db) != SQLITE_BUSY || i == 300)
			goto out_fail;
		usleep(10 * 1000);
	}
	if (exec_sql(p, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;", err, errlen) < 0)
		goto out_fail;
	if (sqlite3_prepare_v2(p->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "user_version");
		goto out_fail;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)N_MIGRATIONS) {
		snprintf(err, errlen, "%s: schema version %d is newer than this program's %zu", path, version,
			 N_MIGRATIONS);
		goto out_fail;
	}
	while (version < (int)N_MIGRATIONS) {
		/* each migration in its own immediate transaction; a concurrent
		 * opener waits and then sees the new version */
		char *sql;

		if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
			goto out_fail;
		if (sqlite3_prepare_v2(p->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (version >= (int)N_MIGRATIONS) {
			exec_sql(p, "COMMIT", err, errlen);
			break;
		}
		sql = xasprintf("%s PRAGMA user_version = %d;", migrations[version], version + 1);
		if (exec_sql(p, sql, err, errlen) < 0) {
			free(sql);
			exec_sql(p, "ROLLBACK", err + strlen(err), 0);
			goto out_fail;
		}
		free(sql);
		if (exec_sql(p, "COMMIT", err, errlen) < 0)
			goto out_fail;
		version++;
	}
	return p;
out_fail:
	pool_close(p);
	return NULL;
}

void pool_close(struct pool *p)
{
	if (!p)
		return;
	if (p->db)
		sqlite3_close(p->db);
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

static bool is_sha256_hex(const char *s)
{
	size_t n = 0;

	for (; s && s[n]; n++)
		if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
			return false;
	return n == 64;
}

/* Where the archive with digest SHA lives (the caller's). */
static char *archive_path(const struct pool *p, const char *sha)
{
	return xasprintf("%s/%.2s/%s.pt", p->archives, sha, sha);
}

/* Store DATA under its digest SHA, unless a file of that size is there
 * already (the same archive twice is kept once).  Written to a temporary
 * name and renamed, so a reader never sees half an archive; not fsynced:
 * 'pool export' checks the digest of what it reads.  0 or -1 with ERR. */
static int archive_put(struct pool *p, const char *sha, const void *data, size_t len, char *err, size_t errlen)
{
	char *dst = archive_path(p, sha), *tmp = NULL;
	struct stat st;
	unsigned long long nonce = 0;
	int rc = -1;

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

/* Move the file STAGED (in the archive directory, see pool_stage_dir)
 * to its place under digest SHA, or drop it when that archive is there
 * already.  0 or -1 with ERR. */
static int archive_adopt(struct pool *p, const char *sha, const char *staged, size_t len, char *err, size_t errlen)
{
	char *dst = archive_path(p, sha);
	struct stat st;
	int rc = -1;

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
	return xasprintf("%s-archives", db_path);
}

/* pool_record's row and archive, inside a transaction the caller opened
 * (and rolls back on -1). */
static long long record_row(struct pool *p, const struct json *result, const char *code, size_t code_len,
			    long long parent_id, long generation, const char *artifact, size_t artifact_len,
			    const char *artifact_sha256, char *err, size_t errlen);

long long pool_record(struct pool *p, const struct json *result, const char *code, size_t code_len, long long parent_id,
		      long generation, const char *artifact, size_t artifact_len, const char *artifact_sha256,
		      char *err, size_t errlen)
{
	long long id;

	/* the row and the file in one transaction: a row that cannot be
	 * written (an unknown parent) leaves no file, a file that cannot be
	 * written no row (a crash between the two leaves a file no row names,
	 * which 'pool gc' removes) */
	if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	id = record_row(p, result, code, code_len, parent_id, generation, artifact, artifact_len, artifact_sha256, err,
			errlen);
	if (id > 0 && exec_sql(p, "COMMIT", err, errlen) < 0)
		id = -1;
	if (id < 0 && !sqlite3_get_autocommit(p->db)) {
		char ignore[64];

		exec_sql(p, "ROLLBACK", ignore, sizeof(ignore));
	}
	return id;
}

static long long record_row(struct pool *p, const struct json *result, const char *code, size_t code_len,
			    long long parent_id, long generation, const char *artifact, size_t artifact_len,
			    const char *artifact_sha256, char *err, size_t errlen)
{
	static const char sql[] = "INSERT INTO candidates (architecture_id, code_sha256, code, final_code, parent_id,"
				  " generation, status, stage, metrics, checks, result, policy_digest,"
				  " artifact_sha256, artifact_bytes)"
				  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	char *metrics = json_text(json_get(result, "metrics")), *checks = json_text(json_get(result, "checks"));
	char *whole = json_text(result);
	const struct json *fc = json_get(result, "final_code");
	long long id = -1;

	if (artifact && !is_sha256_hex(artifact_sha256)) {
		snprintf(err, errlen, "an archive without its digest");
		goto out;
	}
	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "insert");
		goto out;
	}
	sqlite3_bind_text(st, 1, str_or(result, "architecture_id", ""), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, str_or(result, "code_sha256", ""), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, code, (int)code_len, SQLITE_TRANSIENT);
	if (fc && fc->type == JSON_STRING)
		sqlite3_bind_text(st, 4, fc->s, (int)fc->slen, SQLITE_TRANSIENT);
	else
		sqlite3_bind_text(st, 4, code, (int)code_len, SQLITE_TRANSIENT);
	if (parent_id > 0)
		sqlite3_bind_int64(st, 5, parent_id);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, generation);
	sqlite3_bind_text(st, 7, str_or(result, "status", "error"), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, str_or(result, "stage", ""), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, metrics, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 10, checks, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, whole, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 12, str_or(result, "policy_digest", ""), -1, SQLITE_TRANSIENT);
	if (artifact) {
		sqlite3_bind_text(st, 13, artifact_sha256, 64, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 14, (sqlite3_int64)artifact_len);
	} else {
		sqlite3_bind_null(st, 13);
		sqlite3_bind_null(st, 14);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			snprintf(err, errlen, "%s: there is no candidate %lld to be the parent", p->path, parent_id);
		else
			db_fail(p, err, errlen, "insert");
		goto out;
	}
	id = sqlite3_last_insert_rowid(p->db);
	if (artifact && archive_adopt(p, artifact_sha256, artifact, artifact_len, err, errlen) < 0)
		id = -1;
out:
	sqlite3_finalize(st);
	free(metrics);
	free(checks);
	free(whole);
	return id;
}

long long pool_request_approval(struct pool *p, long long candidate_id, const char *title, const char *description,
				const struct json *risk, const struct json *sandbox, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *rj = json_text(risk), *sj = json_text(sandbox);
	long long id = -1;

	if (sqlite3_prepare_v2(p->db,
			       "INSERT INTO approval_requests (candidate_id, title, description, risk_assessment,"
			       " sandbox_assessment) VALUES (?, ?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "request");
		goto out;
	}
	sqlite3_bind_int64(st, 1, candidate_id);
	sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, description, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, rj, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, sj, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			snprintf(err, errlen, "%s: there is no candidate %lld", p->path, candidate_id);
		else
			db_fail(p, err, errlen, "request");
		goto out;
	}
	id = sqlite3_last_insert_rowid(p->db);
out:
	sqlite3_finalize(st);
	free(rj);
	free(sj);
	return id;
}

int pool_annotate(struct pool *p, long long id, const struct json *metrics, long generation, const char *arch_id,
		  char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *mj = metrics ? json_text(metrics) : NULL;
	int rc = -1;

	if (metrics && metrics->type != JSON_OBJECT) {
		snprintf(err, errlen, "metrics must be a JSON object");
		goto out;
	}
	/* the caller's metrics are merged over those already recorded */
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE candidates SET user_metrics = CASE WHEN ?1 IS NULL THEN user_metrics"
			       " ELSE json_patch(user_metrics, ?1) END,"
			       " generation = CASE WHEN ?2 < 0 THEN generation ELSE ?2 END,"
			       " architecture_id = COALESCE(?3, architecture_id) WHERE id = ?4",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "annotate");
		goto out;
	}
	if (mj)
		sqlite3_bind_text(st, 1, mj, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, generation);
	if (arch_id)
		sqlite3_bind_text(st, 3, arch_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(p, err, errlen, "annotate");
		goto out;
	}
	if (sqlite3_changes(p->db) != 1) {
		snprintf(err, errlen, "there is no candidate %lld", id);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	free(mj);
	return rc;
}

int pool_decide(struct pool *p, long long request_id, const char *decision, const char *reviewer, const char *comment,
		char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	char state[32] = "";

	if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(p->db, "SELECT state FROM approval_requests WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "decide");
		goto out_rollback;
	}
	sqlite3_bind_int64(st, 1, request_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "there is no approval request %lld", request_id);
		goto out_rollback;
	}
	snprintf(state, sizeof(state), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	st = NULL;
	if (strcmp(state, "pending")) {
		snprintf(err, errlen, "approval request %lld is already %s; a decision is final", request_id, state);
		goto out_rollback;
	}
	if (sqlite3_prepare_v2(
		p->db, "INSERT INTO approval_decisions (request_id, decision, reviewer, comment) VALUES (?, ?, ?, ?)",
		-1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "decide");
		goto out_rollback;
	}
	sqlite3_bind_int64(st, 1, request_id);
	sqlite3_bind_text(st, 2, decision, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, reviewer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, comment ? comment : "", -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(p, err, errlen, "decide");
		goto out_rollback;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(p->db, "UPDATE approval_requests SET state = ? WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK) {
		db_fail(p, err, errlen, "decide");
		goto out_rollback;
	}
	sqlite3_bind_text(st, 1, decision, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, request_id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(p, err, errlen, "decide");
		goto out_rollback;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (exec_sql(p, "COMMIT", err, errlen) < 0)
		goto out_rollback;
	return 0;
out_rollback:
	sqlite3_finalize(st);
	{
		char ignore[64];

		exec_sql(p, "ROLLBACK", ignore, sizeof(ignore));
	}
	return rc;
}

/* ---- queries ------------------------------------------------------------ */

/* The current row as a JSON object: column names as keys; columns whose
 * name ends in _json are parsed. */
static struct json *row_json(sqlite3_stmt *st)
{
	struct json *o = json_object();
	int n = sqlite3_column_count(st);

	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		size_t len = strlen(name);

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER: json_set(o, name, json_num((double)sqlite3_column_int64(st, i))); break;
		case SQLITE_FLOAT: json_set(o, name, json_num(sqlite3_column_double(st, i))); break;
		case SQLITE_TEXT: {
			const char *t = (const char *)sqlite3_column_text(st, i);
			int tl = sqlite3_column_bytes(st, i);

			if (len > 5 && !strcmp(name + len - 5, "_json")) {
				char key[64];
				struct json *j = json_parse(t, (size_t)tl, NULL, 0);

				snprintf(key, sizeof(key), "%.*s", (int)(len - 5), name);
				json_set(o, key, j ? j : json_null());
			} else {
				json_set(o, name, json_strn(t, (size_t)tl));
			}
			break;
		}
		default: {
			char key[64];

			/* a NULL *_json column: the key without the suffix */
			snprintf(key, sizeof(key), "%.*s",
				 (int)(len > 5 && !strcmp(name + len - 5, "_json") ? len - 5 : len), name);
			json_set(o, key, json_null());
		}
		}
	}
	return o;
}

static struct json *query(struct pool *p, sqlite3_stmt *st, char *err, size_t errlen)
{
	struct json *arr = json_array();
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_append(arr, row_json(st));
	if (rc != SQLITE_DONE) {
		db_fail(p, err, errlen, "query");
		json_free(arr);
		arr = NULL;
	}
	sqlite3_finalize(st);
	return arr;
}

/* The one row SQL (with "?" bound to ID) selects, or NULL with ERR ("there
 * is no WHAT ID" when there is none).  The caller's. */
static struct json *query_one(struct pool *p, const char *sql, long long id, const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct json *arr, *row;

	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, what);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	arr = query(p, st, err, errlen);
	if (!arr)
		return NULL;
	if (!arr->count) {
		snprintf(err, errlen, "there is no %s %lld", what, id);
		json_free(arr);
		return NULL;
	}
	row = arr->items[0];
	arr->count = 0;
	json_free(arr);
	return row;
}

#define SUMMARY_COLUMNS                                                                                                \
	"c.id, c.architecture_id, c.parent_id, c.generation, c.status, c.stage, c.created_at, c.code_sha256,"          \
	" json_extract(c.metrics, '$.parameters') AS parameters, json_extract(c.metrics, '$.final_loss') AS "          \
	"final_loss,"                                                                                                  \
	" json_extract(c.metrics, '$.heldout_loss') AS heldout_loss, json_extract(c.metrics, '$.loss') AS loss,"       \
	" (SELECT state FROM approval_requests r WHERE r.candidate_id = c.id ORDER BY r.id DESC LIMIT 1) AS approval," \
	" json_extract(c.result, '$.integrity') AS integrity,"                                                         \
	" json_extract(c.result, '$.fixes_applied') AS fixes_applied,"                                                 \
	" json_extract(c.result, '$.runtime.torch') AS torch,"                                                         \
	" json_extract(c.result, '$.runtime.python') AS python,"                                                       \
	" json_extract(c.result, '$.runtime.format') AS format,"                                                       \
	" c.user_metrics AS user_metrics_json"

struct json *pool_list(struct pool *p, const char *status, long generation, const char *sha256, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(
		p->db,
		"SELECT " SUMMARY_COLUMNS " FROM candidates c WHERE (?1 IS NULL OR c.status = ?1)"
		" AND (?2 < 0 OR c.generation = ?2) AND (?3 IS NULL OR c.code_sha256 = ?3) ORDER BY c.id",
		-1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "list");
		return NULL;
	}
	if (status)
		sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, generation);
	if (sha256)
		sqlite3_bind_text(st, 3, sha256, -1, SQLITE_TRANSIENT);
	return query(p, st, err, errlen);
}

struct json *pool_get(struct pool *p, long long id, bool with_code, char *err, size_t errlen)
{
	struct json *row =
	    query_one(p,
		      "SELECT " SUMMARY_COLUMNS ", c.code, c.final_code, c.metrics AS metrics_json,"
		      " c.checks AS checks_json, c.policy_digest,"
		      " json_extract(c.result, '$.error') AS error_json,"
		      " json_extract(c.result, '$.attempts') AS attempts_json,"
		      " json_extract(c.result, '$.sandbox') AS sandbox_json,"
		      " json_extract(c.result, '$.warnings') AS warnings_json,"
		      " json_extract(c.result, '$.violations') AS violations_json,"
		      " json_extract(c.result, '$.stdout') AS stdout, json_extract(c.result, '$.stderr') AS stderr,"
		      " (c.artifact_sha256 IS NOT NULL OR c.artifact IS NOT NULL) AS has_artifact,"
		      " c.artifact_sha256, COALESCE(c.artifact_bytes, length(c.artifact)) AS artifact_bytes,"
		      " c.artifact_pruned_at FROM candidates c WHERE c.id = ?",
		      id, "candidate", err, errlen);

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
	for (; *m; m++)
		if (!isalnum((unsigned char)*m) && *m != '_')
			return false;
	return true;
}

struct json *pool_top(struct pool *p, long k, const char *metric, bool desc, const char *loss, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char sql[1400], path[80];
	size_t mlen = metric ? strlen(metric) : 0;

	if (!metric_name_ok(metric)) {
		snprintf(err, errlen, "metric '%s' is not a metric name (letters, digits, '_')", metric ? metric : "");
		return NULL;
	}
	snprintf(path, sizeof(path), "$.%s", metric);
	if (!loss && mlen >= 4 && !strcmp(metric + mlen - 4, "loss")) {
		/* a cross-entropy is not comparable with a mean squared error */
		long long kinds = 0;

		if (sqlite3_prepare_v2(
			p->db,
			"SELECT COUNT(DISTINCT json_extract(c.metrics, '$.loss')) FROM candidates c"
			" WHERE c.status = 'accepted' AND (json_type(c.user_metrics, ?1) IN ('integer', 'real')"
			" OR json_type(c.metrics, ?1) IN ('integer', 'real'))",
			-1, &st, NULL) != SQLITE_OK) {
			db_fail(p, err, errlen, "top");
			return NULL;
		}
		sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			kinds = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (kinds > 1) {
			snprintf(err, errlen,
				 "metric %s: the candidates were trained with different losses (cross_entropy and "
				 "mse), which do not compare; rank one kind with --loss",
				 metric);
			return NULL;
		}
	}
	snprintf(
	    sql, sizeof(sql),
	    /* the caller's metric of that name first (accuracy, ...), else the sandbox's */
	    "SELECT " SUMMARY_COLUMNS ", CASE WHEN json_type(c.user_metrics, ?1) IN ('integer', 'real')"
	    " THEN json_extract(c.user_metrics, ?1) ELSE json_extract(c.metrics, ?1) END AS value,"
	    " json_extract(c.metrics, '$.loss') AS loss"
	    " FROM candidates c WHERE c.status = 'accepted' AND (json_type(c.user_metrics, ?1) IN ('integer', 'real')"
	    " OR json_type(c.metrics, ?1) IN ('integer', 'real'))"
	    " AND (?3 IS NULL OR json_extract(c.metrics, '$.loss') = ?3)"
	    " ORDER BY value %s, c.id LIMIT ?2",
	    desc ? "DESC" : "ASC");
	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "top");
		return NULL;
	}
	sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, k);
	if (loss)
		sqlite3_bind_text(st, 3, loss, -1, SQLITE_TRANSIENT);
	return query(p, st, err, errlen);
}

struct json *pool_lineage(struct pool *p, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct json *res, *one;

	one = pool_get(p, id, false, err, errlen);
	if (!one)
		return NULL;
	res = json_object();
	json_set(res, "candidate", one);
	if (sqlite3_prepare_v2(p->db,
			       "WITH RECURSIVE up(id, depth) AS (SELECT parent_id, 1 FROM candidates WHERE id = ?1"
			       " UNION ALL SELECT c.parent_id, up.depth + 1 FROM candidates c JOIN up ON c.id = up.id"
			       " WHERE up.depth < 10000)"
			       " SELECT " SUMMARY_COLUMNS ", up.depth FROM up JOIN candidates c ON c.id = up.id"
			       " ORDER BY up.depth DESC",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "lineage");
		json_free(res);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	json_set(res, "ancestors", query(p, st, err, errlen));
	if (sqlite3_prepare_v2(
		p->db,
		"WITH RECURSIVE down(id, depth) AS (SELECT id, 1 FROM candidates WHERE parent_id = ?1"
		" UNION ALL SELECT c.id, down.depth + 1 FROM candidates c JOIN down ON c.parent_id = down.id"
		" WHERE down.depth < 10000)"
		" SELECT " SUMMARY_COLUMNS ", down.depth FROM down JOIN candidates c ON c.id = down.id"
		" ORDER BY down.depth, c.id",
		-1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "lineage");
		json_free(res);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	json_set(res, "descendants", query(p, st, err, errlen));
	return res;
}

#define APPROVAL_COLUMNS                                                                                               \
	"r.id, r.candidate_id, r.title, r.description, r.risk_assessment AS risk_assessment_json, r.state,"            \
	" r.sandbox_assessment AS sandbox_assessment_json,"                                                            \
	" r.requested_at, c.architecture_id, c.status AS candidate_status,"                                            \
	" json_extract(c.result, '$.integrity') AS integrity"

struct json *pool_approvals(struct pool *p, const char *state, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(p->db,
			       "SELECT " APPROVAL_COLUMNS " FROM approval_requests r JOIN candidates c"
			       " ON c.id = r.candidate_id WHERE (?1 IS NULL OR r.state = ?1) ORDER BY r.id",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "approvals");
		return NULL;
	}
	if (state)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
	return query(p, st, err, errlen);
}

struct json *pool_approval_get(struct pool *p, long long id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct json *row, *cand, *parent = NULL;
	double cid = 0, pid = 0;

	row = query_one(p,
			"SELECT " APPROVAL_COLUMNS " FROM approval_requests r JOIN candidates c"
			" ON c.id = r.candidate_id WHERE r.id = ?",
			id, "approval request", err, errlen);
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
	if (sqlite3_prepare_v2(p->db,
			       "SELECT decision, reviewer, comment, decided_at FROM approval_decisions"
			       " WHERE request_id = ? ORDER BY id",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		json_set(row, "decisions", query(p, st, err, errlen));
	}
	return row;
}

/* Write LEN bytes of DATA to OUT ("-": standard output): a new file
 * unless FORCE, written to a temporary name beside it and renamed, so an
 * interrupted export leaves no half archive under OUT's name. */
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

int pool_export(struct pool *p, long long id, const char *out, bool force, size_t *len, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *data = NULL, sha[65] = "", got[65];
	int rc = -1;

	*len = 0;
	if (sqlite3_prepare_v2(
		p->db,
		"SELECT c.artifact, (SELECT count(*) FROM approval_requests r WHERE r.candidate_id = c.id"
		" AND r.state = 'approved'), c.status, c.artifact_sha256, c.artifact_pruned_at"
		" FROM candidates c WHERE c.id = ?",
		-1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "export");
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "there is no candidate %lld", id);
		goto out;
	}
	if (sqlite3_column_int(st, 1) == 0) {
		snprintf(err, errlen,
			 "candidate %lld has not been approved by a person: export refused "
			 "(see 'aegis-sandbox approvals list')",
			 id);
		goto out;
	}
	if (sqlite3_column_type(st, 3) == SQLITE_TEXT) {
		/* a file named by its digest: what is read must still match */
		char *path;
		int e;

		snprintf(sha, sizeof(sha), "%s", (const char *)sqlite3_column_text(st, 3));
		path = archive_path(p, sha);
		e = util_read_file(path, (size_t)1 << 40, &data, len);
		if (e < 0)
			snprintf(err, errlen, "candidate %lld's archive %s cannot be read: %s", id, path, strerror(-e));
		free(path);
		if (e < 0)
			goto out;
		sha256_hex(data, *len, got);
		if (strcmp(got, sha)) {
			snprintf(err, errlen,
				 "candidate %lld's archive is damaged: its SHA-256 is %s, the pool recorded %s", id,
				 got, sha);
			goto out;
		}
	} else if (sqlite3_column_type(st, 0) == SQLITE_BLOB) {
		/* written before archives left the rows */
		*len = (size_t)sqlite3_column_bytes(st, 0);
		data = xmalloc(*len ? *len : 1);
		memcpy(data, sqlite3_column_blob(st, 0), *len);
	} else if (sqlite3_column_type(st, 4) == SQLITE_TEXT) {
		snprintf(err, errlen, "candidate %lld's archive was pruned by 'pool gc' at %s", id,
			 (const char *)sqlite3_column_text(st, 4));
		goto out;
	} else {
		snprintf(err, errlen, "candidate %lld has no exported model (status %s)", id,
			 (const char *)sqlite3_column_text(st, 2));
		goto out;
	}
	rc = write_out(out, data, *len, force, err, errlen);
out:
	sqlite3_finalize(st);
	free(data);
	return rc;
}

/* ---- garbage collection --------------------------------------------------- */

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

static long long file_bytes_wal(const struct pool *p)
{
	char *wal = xasprintf("%s-wal", p->path);
	long long n = file_bytes(wal);

	free(wal);
	return n;
}

/* Step 1: archives still in rows (written before migration 3) leave them:
 * kept ones to files, the others dropped. */
static int gc_rows_out(struct pool *p, bool dry_run, struct json *doc, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	long long moved = 0, dropped = 0, bytes = 0;
	int rc = -1;

	if (sqlite3_prepare_v2(p->db,
			       "SELECT c.id, c.artifact, " KEEP_ARCHIVE("c") " FROM candidates c"
									     " WHERE c.artifact IS NOT NULL",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db,
			       "UPDATE candidates SET artifact = NULL, artifact_sha256 = ?2, artifact_bytes = ?3,"
			       " artifact_pruned_at = CASE WHEN ?2 IS NULL"
			       " THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END WHERE id = ?1",
			       -1, &up, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "gc");
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const void *blob = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		bool keep = sqlite3_column_int(st, 2) != 0;
		char sha[65];

		if (keep) {
			sha256_hex(blob, len, sha);
			if (!dry_run && archive_put(p, sha, blob, len, err, errlen) < 0)
				goto out;
			moved++;
		} else {
			dropped++;
			bytes += (long long)len;
		}
		if (dry_run)
			continue;
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
		if (keep)
			sqlite3_bind_text(up, 2, sha, 64, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(up, 2);
		sqlite3_bind_int64(up, 3, (sqlite3_int64)len);
		if (sqlite3_step(up) != SQLITE_DONE) {
			db_fail(p, err, errlen, "gc");
			goto out;
		}
	}
	json_set(doc, "moved_out_of_rows", json_num((double)moved));
	json_set(doc, "pruned", json_num((double)dropped));
	json_set(doc, "pruned_bytes", json_num((double)bytes));
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return rc;
}

/* Step 2: file archives of candidates nobody approved or will. */
static int gc_prune(struct pool *p, bool dry_run, double min_age_s, struct json *doc, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long n = 0, bytes = 0;
	double v = 0;

	if (sqlite3_prepare_v2(p->db,
			       dry_run
				   ? "SELECT count(*), COALESCE(sum(artifact_bytes), 0) FROM candidates"
				     " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE(
					 "candidates") " AND created_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)"
				   : "UPDATE candidates SET artifact_sha256 = NULL,"
				     " artifact_pruned_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
				     " WHERE artifact_sha256 IS NOT NULL AND NOT " KEEP_ARCHIVE(
					 "candidates") " AND created_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)"
						       " RETURNING artifact_bytes",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "gc");
		return -1;
	}
	{
		char mod[64];

		snprintf(mod, sizeof(mod), "-%.3f seconds", min_age_s);
		sqlite3_bind_text(st, 1, mod, -1, SQLITE_TRANSIENT);
	}
	for (int rc; (rc = sqlite3_step(st)) != SQLITE_DONE;) {
		if (rc != SQLITE_ROW) {
			db_fail(p, err, errlen, "gc");
			sqlite3_finalize(st);
			return -1;
		}
		if (dry_run) {
			n += sqlite3_column_int64(st, 0);
			bytes += sqlite3_column_int64(st, 1);
		} else {
			n++;
			bytes += sqlite3_column_int64(st, 0);
		}
	}
	sqlite3_finalize(st);
	json_get_num(doc, "pruned", &v);
	json_set(doc, "pruned", json_num(v + (double)n));
	json_get_num(doc, "pruned_bytes", &v);
	json_set(doc, "pruned_bytes", json_num(v + (double)bytes));
	return 0;
}

/* Whether a row names SHA. */
static int referenced(struct pool *p, const char *sha)
{
	sqlite3_stmt *st = NULL;
	int found = -1;

	if (sqlite3_prepare_v2(p->db, "SELECT 1 FROM candidates WHERE artifact_sha256 = ? LIMIT 1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, sha, -1, SQLITE_TRANSIENT);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

/* Step 3: files no row names (pruned just now, or left by a crash between
 * file and row).  A file younger than GRACE_S may belong to a row being
 * written right now, and is left for the next run. */
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
			ref = !tmp && n == 67 && is_sha256_hex(sha) ? referenced(p, sha) : 0;
			if (ref < 0) {
				free(path);
				closedir(dir);
				free(sub);
				closedir(top);
				return db_fail(p, err, errlen, "gc");
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
	char ignore[128];

	json_set(doc, "db", json_str(p->path));
	json_set(doc, "archives", json_str(p->archives));
	json_set(doc, "dry_run", json_bool(dry_run));
	json_set(doc, "db_bytes_before", json_num((double)(file_bytes(p->path) + file_bytes_wal(p))));
	if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
		goto fail;
	if (gc_rows_out(p, dry_run, doc, err, errlen) < 0 || gc_prune(p, dry_run, min_age_s, doc, err, errlen) < 0) {
		exec_sql(p, "ROLLBACK", ignore, sizeof(ignore));
		goto fail;
	}
	if (exec_sql(p, "COMMIT", err, errlen) < 0)
		goto fail;
	if (gc_files(p, dry_run, doc, err, errlen) < 0)
		goto fail;
	/* give the space of the rows' archives back to the file system */
	if (!dry_run &&
	    (exec_sql(p, "VACUUM", err, errlen) < 0 || exec_sql(p, "PRAGMA wal_checkpoint(TRUNCATE)", err, errlen) < 0))
		goto fail;
	json_set(doc, "db_bytes_after", json_num((double)(file_bytes(p->path) + file_bytes_wal(p))));
	return doc;
fail:
	json_free(doc);
	return NULL;
}

/* ---- the work queue -------------------------------------------------------- */

/* The database's clock, in seconds since the epoch: leases are compared
 * with one clock, whichever machine a worker runs on. */
#define NOW_EPOCH "((julianday('now') - 2440587.5) * 86400.0)"

long long pool_enqueue(struct pool *p, const char *code, size_t code_len, const struct json *request, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *rj = json_text(request);
	long long id = -1;

	if (sqlite3_prepare_v2(p->db, "INSERT INTO queue (code, request) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "enqueue");
		goto out;
	}
	sqlite3_bind_text(st, 1, code, (int)code_len, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, rj, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_fail(p, err, errlen, "enqueue");
		goto out;
	}
	id = sqlite3_last_insert_rowid(p->db);
out:
	sqlite3_finalize(st);
	free(rj);
	return id;
}

static void rollback(struct pool *p)
{
	char ignore[64];

	if (!sqlite3_get_autocommit(p->db))
		exec_sql(p, "ROLLBACK", ignore, sizeof(ignore));
}

int pool_claim(struct pool *p, const char *owner, double lease_s, struct pool_job *job, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long id = 0, running = 0;
	int rc = -1;

	*job = (struct pool_job){0};
	/* one writer at a time: what SELECT ... FOR UPDATE SKIP LOCKED gives a
	 * server database, SQLite's write lock gives here */
	if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(
		p->db,
		"SELECT id FROM queue WHERE state = 'queued' OR (state = 'running' AND lease_until < " NOW_EPOCH
		") ORDER BY id LIMIT 1",
		-1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (!id) {
		if (sqlite3_prepare_v2(p->db, "SELECT count(*) FROM queue WHERE state = 'running'", -1, &st, NULL) !=
		    SQLITE_OK)
			goto fail;
		if (sqlite3_step(st) == SQLITE_ROW)
			running = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		st = NULL;
		if (exec_sql(p, "COMMIT", err, errlen) < 0)
			goto out;
		return running ? POOL_CLAIM_WAIT : POOL_CLAIM_EMPTY;
	}
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE queue SET state = 'running', lease_owner = ?2, lease_until = " NOW_EPOCH " + ?3,"
			       " claims = claims + 1 WHERE id = ?1 RETURNING code, request, claims",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 3, lease_s);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	job->id = id;
	job->code_len = (size_t)sqlite3_column_bytes(st, 0);
	job->code = xstrndup((const char *)sqlite3_column_text(st, 0), job->code_len);
	job->request =
	    json_parse((const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1), NULL, 0);
	job->claims = sqlite3_column_int64(st, 2);
	while (sqlite3_step(st) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	st = NULL;
	if (!job->request || exec_sql(p, "COMMIT", err, errlen) < 0) {
		if (!job->request)
			snprintf(err, errlen, "queue entry %lld: its request is not JSON", id);
		goto out;
	}
	return POOL_CLAIM_JOB;
fail:
	db_fail(p, err, errlen, "claim");
out:
	sqlite3_finalize(st);
	rollback(p);
	pool_job_release(job);
	return rc;
}

void pool_job_release(struct pool_job *job)
{
	free(job->code);
	json_free(job->request);
	*job = (struct pool_job){0};
}

int pool_renew(struct pool *p, long long id, const char *owner, double lease_s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(p->db,
			       "UPDATE queue SET lease_until = " NOW_EPOCH " + ?3"
			       " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "renew");
		return -1;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 3, lease_s);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_fail(p, err, errlen, "renew");
	else
		rc = sqlite3_changes(p->db) == 1 ? 0 : 1;
	sqlite3_finalize(st);
	return rc;
}

int pool_complete(struct pool *p, long long id, const char *owner, const struct pool_verdict *v, long long *cand_id,
		  long long *approval_id, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long cid;

	*cand_id = *approval_id = 0;
	if (exec_sql(p, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	/* the lease's holder, once: a worker whose lease ran out (and the
	 * candidate went to another worker) writes nothing */
	if (sqlite3_prepare_v2(p->db,
			       "UPDATE queue SET state = 'done', lease_until = NULL,"
			       " finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
			       " WHERE id = ?1 AND state = 'running' AND lease_owner = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, owner, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_changes(p->db) != 1) {
		rollback(p);
		return 0;
	}
	cid = record_row(p, v->result, v->code, v->code_len, v->parent, v->generation, v->artifact, v->artifact_len,
			 v->artifact_sha256, err, errlen);
	if (cid < 0)
		goto out;
	if (v->approval_title) {
		*approval_id = pool_request_approval(p, cid, v->approval_title, v->approval_description,
						     v->approval_risk, v->approval_risk, err, errlen);
		if (*approval_id < 0)
			goto out;
	}
	if (sqlite3_prepare_v2(p->db, "UPDATE queue SET candidate_id = ?2 WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, cid);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (exec_sql(p, "COMMIT", err, errlen) < 0)
		goto out;
	*cand_id = cid;
	return 1;
fail:
	db_fail(p, err, errlen, "complete");
out:
	sqlite3_finalize(st);
	rollback(p);
	*approval_id = 0;
	return -1;
}

struct json *pool_queue(struct pool *p, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	struct json *doc = json_object(), *rows;

	if (sqlite3_prepare_v2(p->db,
			       "SELECT (SELECT count(*) FROM queue WHERE state = 'queued') AS queued,"
			       " (SELECT count(*) FROM queue WHERE state = 'running') AS running,"
			       " (SELECT count(*) FROM queue WHERE state = 'done') AS done",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "queue");
		json_free(doc);
		return NULL;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < 3; i++)
			json_set(doc, sqlite3_column_name(st, i), json_num((double)sqlite3_column_int64(st, i)));
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(p->db,
			       "SELECT id, state, lease_owner, lease_until - " NOW_EPOCH " AS lease_left_s, claims,"
			       " candidate_id, submitted_at, finished_at,"
			       " json_extract(request, '$.name') AS name FROM queue ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		db_fail(p, err, errlen, "queue");
		json_free(doc);
		return NULL;
	}
	rows = query(p, st, err, errlen);
	if (!rows) {
		json_free(doc);
		return NULL;
	}
	json_set(doc, "entries", rows);
	return doc;
}
