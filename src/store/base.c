/* base.c - the query helpers the pool's files share (pool_base.h). */
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

int pb_query_nums(struct pool *p, const char *sql, const struct db_val *v, int n, const char *const *cols,
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

int pb_query_num(struct pool *p, const char *sql, const struct db_val *v, int n, const char *col, double *out,
		     char *err, size_t errlen)
{
	return pb_query_nums(p, sql, v, n, &col, out, 1, err, errlen);
}

/* A statement list run as one script (SQLite) or one by one (PostgreSQL). */
char *pb_json_text(const struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	if (j)
		json_write(j, &sb, -1);
	else
		sbuf_adds(&sb, "{}");
	return sbuf_detach(&sb, NULL);
}

/* The first of ROWS (which are consumed), or NULL with ERR ("there is no
 * WHAT ID" when there is none; ROWS NULL: ERR says why already).  The
 * caller's. */
struct json *pb_first_row(struct pool *p, struct json *rows, const char *what, long long id, char *err,
			  size_t errlen)
{
	struct json *row;

	if (!rows)
		return NULL;
	if (!rows->count) {
		snprintf(err, errlen, "there is no %s %lld", what, id);
		p->error = POOL_ERR_NOT_FOUND;
		json_free(rows);
		return NULL;
	}
	row = rows->items[0];
	rows->count = 0;
	json_free(rows);
	return row;
}

/* The first row of SQL's result with $1 = ID (see first_row). */
struct json *pb_query_one(struct pool *p, const char *sql, long long id, const char *what, char *err, size_t errlen)
{
	struct db_val v = DV_INT(id);

	return pb_first_row(p, db_query(p->db, sql, &v, 1, err, errlen), what, id, err, errlen);
}

/* The id a RETURNING id query gave, or -1. */
long long pb_returned_id(struct json *rows)
{
	double v = -1;

	if (rows && rows->count)
		json_get_num(rows->items[0], "id", &v);
	json_free(rows);
	return (long long)v;
}

enum pool_error pool_last_error(const struct pool *p)
{
	return p->error;
}

void pool_clear_error(struct pool *p)
{
	p->error = POOL_ERR_OTHER;
}
