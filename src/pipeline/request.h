/* request.h - one run request, parsed and tightened in one place.
 *
 * The request format is serve's (doc/aegis-sandbox.1, "serve"): a JSON
 * object with "code" or "path", "input", "class", "architecture_id",
 * limits, training and lineage.  'serve', 'batch', the queue's workers and
 * (through serve's protocol) the Python client all go through
 * request_parse(); 'submit' checks what it queues with it.  A request may
 * lower the policy's limits, never raise them: the ranges come from the
 * policy it runs under. */
#ifndef AEGIS_REQUEST_H
#define AEGIS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"

struct run_request {
	/* borrowed from the JSON document */
	const char *code; /* "code", with its length (may hold NUL bytes) */
	size_t code_len;
	const char *path, *input, *class_name, *arch_id, *artifact_out;
	long parent, generation; /* 0: none */
	bool request_approval;
	/* what it changes in the policy (request_apply) */
	double timeout_s; /* 0: the policy's */
	long memory_mb;   /* 0: the policy's */
	long train_steps, max_attempts;
	int train; /* -1: the policy's; 0 off; 1 on (only where the policy trains) */
	bool has_dataset;
	struct dataset dataset;
};

/* Parse REQ against BASE into *R.  0, or -1 with ERR saying which field
 * and its range. */
int request_parse(const struct json *req, const struct policy *base, struct run_request *r, char *err,
		  size_t errlen);
/* BASE with R's changes, into *P (scalars only: P's pointers stay
 * BASE's). */
void request_apply(const struct run_request *r, const struct policy *base, struct policy *p);

#endif
