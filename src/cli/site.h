/* site.h - what the review site's pages share (report.c writes the
 * candidate, approval and lineage pages; review.c the views for choosing
 * among a generation).  Every string a candidate or a caller gave goes
 * through site_html(). */
#ifndef AEGIS_CLI_SITE_H
#define AEGIS_CLI_SITE_H

#include <stdbool.h>

#include "common/json.h"
#include "common/sbuf.h"
#include "store/pool.h"

struct site {
	const char *dir, *db; /* db: absolute, as the commands it shows name it */
	const char *metric;   /* the metric lineage and generation views show */
	long long since;
	struct pool *pool;
	struct json *rows;      /* pool_list(): summaries, id order */
	struct json *approvals; /* pool_approvals() */
	struct json *user_keys; /* the callers' metric names, sorted, as strings */
};

/* S as HTML text (attribute-safe too). */
void site_html(struct sbuf *out, const char *s);
void site_htmlf_num(struct sbuf *out, double v);
void site_page_begin(struct sbuf *out, const char *title, const char *root);
void site_page_end(struct sbuf *out);
/* A status word as a span whose class is one of ours. */
void site_status_span(struct sbuf *out, const char *st);
void site_num_cell(struct sbuf *out, const struct json *o, const char *key);
const char *site_status_color(const char *st);
bool site_included(const struct site *s, const struct json *row);
/* Row R's value of METRIC: the caller's of that name, else the sandbox's. */
bool site_metric(const struct json *r, const char *metric, double *v);
/* Whether lower is better for METRIC (losses, errors, times, sizes). */
bool site_lower_is_better(const char *metric);

/* review.c: compare.html, generations.html, candidates.csv/.json.
 * 0 or -1 with ERR. */
int review_pages(struct site *s, char *err, size_t errlen);

#endif
