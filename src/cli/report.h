/* report.h - the pool as a static site for reviewers ("pool report"). */
#ifndef AEGIS_CLI_REPORT_H
#define AEGIS_CLI_REPORT_H

#include "common/json.h"
#include "store/pool.h"

/* Write the pages for the candidates of POOL (whose database is DB, named
 * in the pages and in the commands they show) with id >= SINCE, and their
 * approval requests, into DIR: index.html (and index-STATUS.html), c/ID.html,
 * approvals.html, a/ID.html, lineage.html (nodes labelled with METRIC),
 * generations.html, compare.html, candidates.csv and candidates.json.  DIR is created when missing;
 * an existing one must be empty or hold an earlier report.  A summary
 * (the caller's) or NULL with ERR. */
struct json *report_html(struct pool *pool, const char *db, const char *dir, long long since, const char *metric,
			 char *err, size_t errlen);

#endif
