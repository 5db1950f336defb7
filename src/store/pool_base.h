/* pool_base.h - what the pool's files share (not part of the pool's
 * interface, pool.h): the handle, and the helpers each file needs from the
 * others.  The pool is split by concern:
 *
 *   schema.c      the migrations of both databases, open and close
 *   base.c        query helpers and JSON text
 *   candidates.c  the one recorder, annotations, listings, ranking, lineage
 *   approvals.c   requests, signed decisions (gate.c), database roles
 *   archives.c    archive files and rows, export, garbage collection
 *   workqueue.c   the work queue: enqueue, claim, lease, complete
 */
#ifndef AEGIS_POOL_BASE_H
#define AEGIS_POOL_BASE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "common/sbuf.h"
#include "store/db.h"
#include "store/pool.h"

struct gate_trust;

struct pool {
	struct db *db;
	char *path;     /* as given: a path or a URL */
	char *archives; /* SQLite: PATH-archives/, the archives by SHA-256; PostgreSQL: NULL */
	bool pg;
	const struct gate_trust *trust; /* whose signatures count (NULL: nobody's) */
	enum pool_error error;          /* what the last failure was (pool_last_error) */
};

/* base.c */
struct json *pb_first_row(struct pool *p, struct json *rows, const char *what, long long id, char *err, size_t errlen);
/* base.c */
char *pb_json_text(const struct json *j);
/* base.c */
int pb_query_num(struct pool *p, const char *sql, const struct db_val *v, int n, const char *col, double *out,
		     char *err, size_t errlen);
/* base.c */
int pb_query_nums(struct pool *p, const char *sql, const struct db_val *v, int n, const char *const *cols,
		      double *outs, size_t ncols, char *err, size_t errlen);
/* base.c */
struct json *pb_query_one(struct pool *p, const char *sql, long long id, const char *what, char *err, size_t errlen);
/* base.c */
long long pb_returned_id(struct json *rows);
/* archives.c */
int pb_archive_adopt(struct pool *p, const char *sha, const char *staged, size_t len, char *err, size_t errlen);
/* candidates.c */
int pb_record_verdict(struct pool *p, const struct pool_verdict *v, long long *cand_id, long long *approval_id,
			  char *err, size_t errlen);
/* approvals.c */
const char *pb_candidate_gate(struct pool *p, long long id, const char *sha, struct sbuf *why, char *err,
				  size_t errlen);
/* approvals.c */
struct json *pb_gate_rows(struct pool *p, struct json *rows, char *err, size_t errlen);

#endif
