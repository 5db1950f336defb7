/* fuzz_request.c - libFuzzer target for a run request (pipeline/request.c):
 * what serve, batch, the queue's workers and the Python client send.
 *
 * The input is a JSON document from a client the operator does not
 * control.  Any input must be parsed without crash, leak or undefined
 * behaviour, and a request that parses may only tighten the policy: the
 * applied limits never exceed the base's, training never turns on where
 * the policy has it off, and the counts stay in their ranges. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "pipeline/request.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy base;
	static int ready;
	struct json *req;
	struct run_request r;
	struct policy p;
	char err[512];

	if (!ready) {
		policy_init_defaults(&base);
		ready = 1;
	}
	req = json_parse((const char *)data, size, err, sizeof(err));
	for (int off = 0; off < 2; off++) {
		base.validation.training.enabled = !off;
		if (req && request_parse(req, &base, &r, err, sizeof(err)) == 0) {
			request_apply(&r, &base, &p);
			if (p.limits.wall_timeout_s > base.limits.wall_timeout_s || !(p.limits.wall_timeout_s > 0) ||
			    p.limits.memory_mb > base.limits.memory_mb || p.limits.memory_mb < 16 ||
			    (p.validation.training.enabled && !base.validation.training.enabled) ||
			    p.validation.training.steps < 1 || p.validation.training.steps > 1000000 ||
			    p.debug.max_attempts < 1 || p.debug.max_attempts > 20 || (!r.code == !r.path) ||
			    (r.has_dataset && !(r.dataset.learning_rate > 0)))
				abort();
		}
	}
	json_free(req);
	return 0;
}
