/* fuzz_policy.c - libFuzzer target for the policy parser.
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * Any input must give either a parsed policy or one FILE:LINE:COLUMN error,
 * never a crash, a leak or undefined behaviour.  A parsed policy must dump
 * to YAML that parses again to the same digest. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p = { 0 }, q = { 0 };
	char err[1024] = "";

	policy_init_defaults(&p);
	if (policy_load_buffer(&p, "fuzz.yaml", (const char *)data, size, err, sizeof(err)) == 0) {
		struct sbuf sb = SBUF_INIT;
		char d1[65], d2[65];

		policy_dump(&p, &sb, true);
		policy_init_defaults(&q);
		if (policy_load_buffer(&q, "dump.yaml", sb.buf, sb.len, err, sizeof(err)) != 0) {
			fprintf(stderr, "dump does not parse again: %s\n%s", err, sb.buf);
			abort();
		}
		policy_digest(&p, d1);
		policy_digest(&q, d2);
		if (strcmp(d1, d2))
			abort();
		sbuf_release(&sb);
		policy_release(&q);
	} else if (strncmp(err, "fuzz.yaml:", 10) != 0) {
		fprintf(stderr, "error without position: %s\n", err);
		abort();
	}
	policy_release(&p);
	return 0;
}
