/* serve.h - "batch" and "serve": many candidates through one warm zygote. */
#ifndef AEGIS_SERVE_H
#define AEGIS_SERVE_H

#include <stdbool.h>

#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "supervisor/supervise.h"

/* The batch (BATCH) or serve command; ARGV[0] is the command name.
 * Returns the exit code. */
int serve_main(int argc, char **argv, bool batch);

/* What running one request left for the caller to record. */
struct request_run {
	char *code; /* the source that was submitted (NULL: the request was refused) */
	size_t code_len;
	long parent, generation;
	bool want_approval;    /* the request (or the policy) asks for one */
	struct candidate cand; /* only its staged archive (see pipeline.h) */
	struct policy_limits used;
};

/* Run REQ (serve's request format: "code" or "path", "input", ...) under
 * BASE, whose limits a request may lower, never raise; with STAGE_DIR the
 * archive is staged there for the pool.  The result (the caller's), and
 * in *RR what recording it needs (serve_request_release it). */
struct json *serve_run_request(struct supervisor *s, const struct policy *base, const struct json *req,
			       const char *stage_dir, struct request_run *rr);
void serve_request_release(struct request_run *rr);
/* The result of a request that ran no job: status "error" at STAGE, with
 * an error of TYPE saying MESSAGE, and REQ's "id" as its request_id. */
struct json *serve_error_result(const struct json *req, const char *stage, const char *type, const char *message);

#endif
