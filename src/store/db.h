/* db.h - the pool's two databases behind one small interface.
 *
 * SQLite (a file path: the embedded default, one machine) and PostgreSQL
 * (a postgresql:// URL, through libpq: more than one machine).  SQL is
 * written once, with $1, $2... placeholders (SQLite takes them as named
 * parameters) and the few spellings that differ taken from db_sql(); rows
 * come back as JSON objects, so the code above never sees a backend's own
 * value types. */
#ifndef AEGIS_DB_H
#define AEGIS_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

struct db;

enum db_kind { DB_SQLITE, DB_POSTGRES };

/* Whether TARGET names a PostgreSQL database (postgresql:// or postgres://). */
bool db_is_url(const char *target);
/* 0 when TARGET (a URL, or a file path whose directory exists) can be
 * opened, else -1 with ERR: the pool's directories are never made. */
int db_check_target(const char *target, char *err, size_t errlen);
/* Open TARGET (a path, created with its directory when missing, or a URL).
 * NULL with ERR. */
struct db *db_open(const char *target, char *err, size_t errlen);
void db_close(struct db *db);
/* TARGET as it may be shown (a URL without its password). */
const char *db_name(const struct db *db);

/* A parameter. */
struct db_val {
	enum { DV_NULL, DV_INT, DV_REAL, DV_TEXT, DV_BLOB } t;
	long long i;
	double d;
	const char *s; /* TEXT (len may be (size_t)-1: NUL-terminated) or BLOB */
	size_t len;
};
#define DV_NIL ((struct db_val){.t = DV_NULL})
#define DV_INT(x) ((struct db_val){.t = DV_INT, .i = (x)})
#define DV_REAL(x) ((struct db_val){.t = DV_REAL, .d = (x)})
static inline struct db_val db_str(const char *s)
{
	return s ? (struct db_val){.t = DV_TEXT, .s = s, .len = (size_t)-1} : DV_NIL;
}
#define DV_STR(x) db_str(x)
#define DV_STRN(x, n) ((struct db_val){.t = DV_TEXT, .s = (x), .len = (n)})
#define DV_BLOB(x, n) ((struct db_val){.t = DV_BLOB, .s = (const char *)(x), .len = (n)})

/* Run SQL (one statement) with N parameters; rows are read and dropped.
 * 0 with *CHANGES (rows changed, may be NULL), or -1 with ERR. */
int db_exec(struct db *db, const char *sql, const struct db_val *params, int n, long long *changes, char *err,
	    size_t errlen);
/* Run SQL and return its rows, each an object by column name: integers and
 * reals as numbers, text as strings (a column named *_json parsed, under
 * the name without the suffix), NULL as null, blobs as strings.  The
 * caller's, or NULL with ERR. */
struct json *db_query(struct db *db, const char *sql, const struct db_val *params, int n, char *err, size_t errlen);
/* A blob column: the first row's first column's bytes (the caller's), 1
 * when there is a row, 0 when there is none, -1 with ERR. */
int db_query_blob(struct db *db, const char *sql, const struct db_val *params, int n, char **data, size_t *len,
		  char *err, size_t errlen);

/* Transactions: a write transaction (SQLite takes its write lock at once,
 * so two writers do not deadlock), commit, and a rollback that never
 * fails. */
int db_begin(struct db *db, char *err, size_t errlen);
/* Whether the last statement failed for want of a privilege (PostgreSQL's
 * roles, 'pool grant'); never for SQLite. */
bool db_denied(const struct db *db);
int db_commit(struct db *db, char *err, size_t errlen);
void db_rollback(struct db *db);

/* The spellings that differ. */
enum db_sql {
	SQL_NOW_TEXT,    /* the time now, as 2026-11-28T06:14:27.123Z */
	SQL_NOW_EPOCH,   /* the time now, in seconds since the epoch (a real) */
	SQL_SKIP_LOCKED, /* after a SELECT ... LIMIT 1 that claims a row */
};
const char *db_sql(const struct db *db, enum db_sql what);
/* An SQL expression for key KEY (an SQL expression: a quoted literal or a
 * parameter) of the JSON text column COL, appended to SB.  JK_VALUE: the
 * value (a number stays a number); JK_NUMBER: the value when it is a
 * number, else NULL; JK_TEXT: as text, for comparing with a text. */
struct sbuf;
enum db_jk { JK_VALUE, JK_NUMBER, JK_TEXT };
void db_json_key(const struct db *db, struct sbuf *sb, const char *col, const char *key, enum db_jk how);

#endif
