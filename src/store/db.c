/* db.c - see db.h. */
#include "config.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_LIBPQ
#include <libpq-fe.h>
#endif

#include "common/sbuf.h"
#include "common/util.h"
#include "store/db.h"

struct db {
	enum db_kind kind;
	char *name;
	sqlite3 *lite;
#ifdef HAVE_LIBPQ
	PGconn *pg;
#endif
	bool denied; /* the last statement failed for want of a privilege */
};

bool db_is_url(const char *t)
{
	return t && (!strncmp(t, "postgresql://", 13) || !strncmp(t, "postgres://", 11));
}

const char *db_name(const struct db *db)
{
	return db->name;
}

/* URL without its password ("postgresql://user:secret@host" -> "user@host"). */
static char *shown_name(const char *t)
{
	const char *scheme = strstr(t, "://"), *at, *colon;

	if (!db_is_url(t) || !scheme)
		return xstrdup(t);
	at = strchr(scheme + 3, '@');
	colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
	if (!colon)
		return xstrdup(t);
	return xasprintf("%.*s:***%s", (int)(colon - t), t, at);
}

int db_check_target(const char *target, char *err, size_t errlen)
{
	/* a new pool file, never its directories: a mistyped --db must not
	 * leave a tree behind (issue 30) */
	const char *slash;
	char *dir;
	struct stat st;
	int rc = 0;

	if (db_is_url(target))
		return 0;
	slash = strrchr(target, '/');
	dir = slash ? xstrndup(target, slash == target ? 1 : (size_t)(slash - target)) : xstrdup(".");
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: no directory %s to make the pool in (%s)", target, dir, strerror(errno));
		rc = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a directory", target, dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

struct db *db_open(const char *target, char *err, size_t errlen)
{
	struct db *db = xcalloc(1, sizeof(*db));

	db->name = shown_name(target);
	if (db_is_url(target)) {
#ifdef HAVE_LIBPQ
		db->kind = DB_POSTGRES;
		db->pg = PQconnectdb(target);
		if (PQstatus(db->pg) != CONNECTION_OK) {
			/* libpq's message, on one line */
			char *m = xstrdup(PQerrorMessage(db->pg));
			size_t n = strlen(m);

			while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
				m[--n] = '\0';
			for (char *c = m; *c; c++)
				if (*c == '\n' || *c == '\t')
					*c = ' ';
			snprintf(err, errlen, "%s: cannot connect: %s", db->name, m);
			free(m);
			db_close(db);
			return NULL;
		}
		PQsetNoticeProcessor(db->pg, NULL, NULL);
		{
			char e2[256];

			/* quiet, and the same text for time as SQLite's */
			if (db_exec(db, "SET client_min_messages = warning", NULL, 0, NULL, e2, sizeof(e2)) < 0) {
				snprintf(err, errlen, "%s: %s", db->name, e2);
				db_close(db);
				return NULL;
			}
		}
		return db;
#else
		snprintf(err, errlen, "%s: this aegis-sandbox was built without PostgreSQL (libpq)", db->name);
		db_close(db);
		return NULL;
#endif
	}
	db->kind = DB_SQLITE;
	if (db_check_target(target, err, errlen) < 0) {
		db_close(db);
		return NULL;
	}
	if (sqlite3_open_v2(target, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: open: %s", target, db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
		db_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->lite, 30000);
	return db;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->lite)
		sqlite3_close(db->lite);
#ifdef HAVE_LIBPQ
	if (db->pg)
		PQfinish(db->pg);
#endif
	free(db->name);
	free(db);
}

/* ---- SQLite ---------------------------------------------------------------- */

static int lite_fail(struct db *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", db->name, sqlite3_errmsg(db->lite));
	return -1;
}

static int lite_prepare(struct db *db, const char *sql, const struct db_val *params, int n, sqlite3_stmt **st,
			char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(db->lite, sql, -1, st, NULL) != SQLITE_OK)
		return lite_fail(db, err, errlen);
	for (int i = 0; i < n; i++) {
		char name[16];
		int idx;
		const struct db_val *v = &params[i];

		snprintf(name, sizeof(name), "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(*st, name);
		if (!idx)
			continue; /* a parameter this statement does not use */
		switch (v->t) {
		case DV_NULL: sqlite3_bind_null(*st, idx); break;
		case DV_INT: sqlite3_bind_int64(*st, idx, v->i); break;
		case DV_REAL: sqlite3_bind_double(*st, idx, v->d); break;
		case DV_TEXT:
			sqlite3_bind_text64(*st, idx, v->s, v->len == (size_t)-1 ? strlen(v->s) : v->len,
					    SQLITE_TRANSIENT, SQLITE_UTF8);
			break;
		case DV_BLOB: sqlite3_bind_blob64(*st, idx, v->s, v->len, SQLITE_TRANSIENT); break;
		}
	}
	return 0;
}

static struct json *lite_row(sqlite3_stmt *st)
{
	struct json *o = json_object();
	int n = sqlite3_column_count(st);

	for (int i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(st, i);
		size_t len = strlen(name);
		bool is_json = len > 5 && !strcmp(name + len - 5, "_json");
		char key[64];

		snprintf(key, sizeof(key), "%.*s", (int)(is_json ? len - 5 : len), name);
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER: json_set(o, key, json_num((double)sqlite3_column_int64(st, i))); break;
		case SQLITE_FLOAT: json_set(o, key, json_num(sqlite3_column_double(st, i))); break;
		case SQLITE_TEXT:
		case SQLITE_BLOB: {
			const char *t = (const char *)sqlite3_column_blob(st, i);
			size_t tl = (size_t)sqlite3_column_bytes(st, i);

			if (is_json) {
				struct json *j = json_parse(t ? t : "", tl, NULL, 0);

				json_set(o, key, j ? j : json_null());
			} else {
				json_set(o, key, json_strn(t ? t : "", tl));
			}
			break;
		}
		default: json_set(o, key, json_null());
		}
	}
	return o;
}

/* ---- PostgreSQL ------------------------------------------------------------ */

#ifdef HAVE_LIBPQ
/* the type oids of pg_type.h, which is not part of libpq's headers */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_JSON = 114,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
	OID_JSONB = 3802
};

static PGresult *pg_run(struct db *db, const char *sql, const struct db_val *params, int n, char *err, size_t errlen)
{
	const char **vals = xcalloc((size_t)n + 1, sizeof(char *));
	int *lens = xcalloc((size_t)n + 1, sizeof(int)), *fmts = xcalloc((size_t)n + 1, sizeof(int));
	char **own = xcalloc((size_t)n + 1, sizeof(char *));
	PGresult *r;

	for (int i = 0; i < n; i++) {
		const struct db_val *v = &params[i];

		switch (v->t) {
		case DV_NULL: vals[i] = NULL; break;
		case DV_INT: vals[i] = own[i] = xasprintf("%lld", v->i); break;
		case DV_REAL: vals[i] = own[i] = xasprintf("%.17g", v->d); break;
		case DV_TEXT:
			/* PostgreSQL text holds no NUL: a NUL-free prefix would silently differ, so refuse */
			if (v->len != (size_t)-1 && memchr(v->s, '\0', v->len)) {
				snprintf(err, errlen, "%s: a text value holds a NUL byte", db->name);
				r = NULL;
				goto out;
			}
			vals[i] = own[i] = v->len == (size_t)-1 ? xstrdup(v->s) : xstrndup(v->s, v->len);
			break;
		case DV_BLOB:
			vals[i] = v->s;
			lens[i] = (int)v->len;
			fmts[i] = 1;
			break;
		}
	}
	r = PQexecParams(db->pg, sql, n, NULL, vals, lens, fmts, 0);
	db->denied = false;
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorMessage(r), *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		/* 42501 insufficient_privilege: a role 'pool grant' did not let
		 * do this */
		db->denied = state && !strcmp(state, "42501");
		snprintf(err, errlen, "%s: %.*s", db->name,
			 (int)(strlen(m) && m[strlen(m) - 1] == '\n' ? strlen(m) - 1 : strlen(m)), m);
		PQclear(r);
		r = NULL;
	}
out:
	for (int i = 0; i < n; i++)
		free(own[i]);
	free(own);
	free(vals);
	free(lens);
	free(fmts);
	return r;
}

static struct json *pg_value(PGresult *r, int row, int col, bool is_json)
{
	const char *t = PQgetvalue(r, row, col);
	size_t tl = (size_t)PQgetlength(r, row, col);
	struct json *j;

	if (PQgetisnull(r, row, col))
		return json_null();
	switch (PQftype(r, col)) {
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC: return json_num(strtod(t, NULL));
	case OID_BOOL: return json_num(*t == 't' ? 1 : 0);
	case OID_JSON:
	case OID_JSONB: is_json = true; break;
	default: break;
	}
	if (is_json && (j = json_parse(t, tl, NULL, 0)))
		return j;
	return is_json ? json_null() : json_strn(t, tl);
}
#endif

/* ---- the interface ----------------------------------------------------------- */

int db_exec(struct db *db, const char *sql, const struct db_val *params, int n, long long *changes, char *err,
	    size_t errlen)
{
	if (changes)
		*changes = 0;
#ifdef HAVE_LIBPQ
	if (db->kind == DB_POSTGRES) {
		PGresult *r = pg_run(db, sql, params, n, err, errlen);

		if (!r)
			return -1;
		if (changes && *PQcmdTuples(r))
			*changes = atoll(PQcmdTuples(r));
		PQclear(r);
		return 0;
	}
#endif
	{
		sqlite3_stmt *st = NULL;
		int rc;

		if (lite_prepare(db, sql, params, n, &st, err, errlen) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return lite_fail(db, err, errlen);
		if (changes)
			*changes = sqlite3_changes(db->lite);
		return 0;
	}
}

struct json *db_query(struct db *db, const char *sql, const struct db_val *params, int n, char *err, size_t errlen)
{
	struct json *rows = json_array();

#ifdef HAVE_LIBPQ
	if (db->kind == DB_POSTGRES) {
		PGresult *r = pg_run(db, sql, params, n, err, errlen);

		if (!r) {
			json_free(rows);
			return NULL;
		}
		for (int i = 0; i < PQntuples(r); i++) {
			struct json *o = json_object();

			for (int c = 0; c < PQnfields(r); c++) {
				const char *name = PQfname(r, c);
				size_t len = strlen(name);
				bool is_json = len > 5 && !strcmp(name + len - 5, "_json");
				char key[64];

				snprintf(key, sizeof(key), "%.*s", (int)(is_json ? len - 5 : len), name);
				json_set(o, key, pg_value(r, i, c, is_json));
			}
			json_append(rows, o);
		}
		PQclear(r);
		return rows;
	}
#endif
	{
		sqlite3_stmt *st = NULL;
		int rc;

		if (lite_prepare(db, sql, params, n, &st, err, errlen) < 0) {
			sqlite3_finalize(st);
			json_free(rows);
			return NULL;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_append(rows, lite_row(st));
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			lite_fail(db, err, errlen);
			json_free(rows);
			return NULL;
		}
		return rows;
	}
}

int db_query_blob(struct db *db, const char *sql, const struct db_val *params, int n, char **data, size_t *len,
		  char *err, size_t errlen)
{
	*data = NULL;
	*len = 0;
#ifdef HAVE_LIBPQ
	if (db->kind == DB_POSTGRES) {
		/* binary results: the bytes as they are */
		const char **vals = xcalloc((size_t)n + 1, sizeof(char *));
		char **own = xcalloc((size_t)n + 1, sizeof(char *));
		PGresult *r;
		int found = 0;

		for (int i = 0; i < n; i++)
			vals[i] = params[i].t == DV_INT    ? (own[i] = xasprintf("%lld", params[i].i))
				  : params[i].t == DV_TEXT ? params[i].s
							   : NULL;
		r = PQexecParams(db->pg, sql, n, NULL, vals, NULL, NULL, 1);
		for (int i = 0; i < n; i++)
			free(own[i]);
		free(own);
		free(vals);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "%s: %s", db->name, PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
		if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
			*len = (size_t)PQgetlength(r, 0, 0);
			*data = xmalloc(*len ? *len : 1);
			memcpy(*data, PQgetvalue(r, 0, 0), *len);
			found = 1;
		}
		PQclear(r);
		return found;
	}
#endif
	{
		sqlite3_stmt *st = NULL;
		int rc, found = 0;

		if (lite_prepare(db, sql, params, n, &st, err, errlen) < 0) {
			sqlite3_finalize(st);
			return -1;
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*len = (size_t)sqlite3_column_bytes(st, 0);
			*data = xmalloc(*len ? *len : 1);
			memcpy(*data, sqlite3_column_blob(st, 0), *len);
			found = 1;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return lite_fail(db, err, errlen);
		return found;
	}
}

int db_begin(struct db *db, char *err, size_t errlen)
{
	return db_exec(db, db->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, err, errlen);
}

int db_commit(struct db *db, char *err, size_t errlen)
{
	return db_exec(db, "COMMIT", NULL, 0, NULL, err, errlen);
}

void db_rollback(struct db *db)
{
	char ignore[256];

	if (db->kind == DB_SQLITE && sqlite3_get_autocommit(db->lite))
		return;
	db_exec(db, "ROLLBACK", NULL, 0, NULL, ignore, sizeof(ignore));
}

const char *db_sql(const struct db *db, enum db_sql what)
{
	bool pg = db->kind == DB_POSTGRES;

	switch (what) {
	case SQL_NOW_TEXT:
		return pg ? "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
			  : "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
	case SQL_NOW_EPOCH:
		return pg ? "extract(epoch FROM clock_timestamp())::float8"
			  : "((julianday('now') - 2440587.5) * 86400.0)";
	case SQL_SKIP_LOCKED: return pg ? " FOR UPDATE SKIP LOCKED" : "";
	}
	return "";
}

void db_json_key(const struct db *db, struct sbuf *sb, const char *col, const char *key, enum db_jk how)
{
	if (db->kind == DB_POSTGRES) {
		if (how == JK_NUMBER)
			sbuf_addf(
			    sb, "(CASE WHEN jsonb_typeof((%s)::jsonb -> (%s)) = 'number' THEN (%s)::jsonb -> (%s) END)",
			    col, key, col, key);
		else
			sbuf_addf(sb, "((%s)::jsonb %s (%s))", col, how == JK_TEXT ? "->>" : "->", key);
	} else {
		if (how == JK_NUMBER)
			sbuf_addf(sb,
				  "(CASE WHEN json_type(%s, '$.' || (%s)) IN ('integer', 'real') THEN json_extract(%s, "
				  "'$.' || (%s)) END)",
				  col, key, col, key);
		else
			sbuf_addf(sb, "json_extract(%s, '$.' || (%s))", col, key);
	}
}

bool db_denied(const struct db *db)
{
	return db->denied;
}
