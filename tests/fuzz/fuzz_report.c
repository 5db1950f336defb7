/* fuzz_report.c - libFuzzer target for what a job child writes on fd 3:
 * the report parser (verdict.c, over json.c) and the verdict rule.
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * The input is hostile by design (a build child is the candidate).  Any
 * input must be parsed in time linear in its size, never crash, leak or
 * hit undefined behaviour; no report may make judge_job() say "accepted";
 * at most VERDICT_MAX_VIOLATIONS violations are kept; and whatever was
 * kept writes out as JSON that parses back to the same bytes. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "policy/policy.h"
#include "supervisor/supervise.h"
#include "pipeline/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct json *j)
{
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	struct json *back;

	if (!j)
		return;
	json_write(j, &a, -1);
	back = json_parse(a.buf, a.len, NULL, 0);
	if (!back)
		abort();
	json_write(back, &b, -1);
	if (a.len != b.len || memcmp(a.buf, b.buf, a.len))
		abort();
	json_free(back);
	sbuf_release(&a);
	sbuf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy pol;
	static int ready;
	struct sbuf raw = SBUF_INIT;
	struct job_outcome o;
	struct report r;
	enum verdict v = VERDICT_ACCEPTED;
	struct json *err = NULL;

	if (!ready) {
		policy_init_defaults(&pol);
		ready = 1;
	}
	if (size == 0)
		return 0;
	memset(&o, 0, sizeof(o));
	o.exited = true;
	o.wstatus = (data[0] & 1) ? 0 : SIGKILL; /* exit 0, or killed */
	sbuf_add(&raw, data + 1, size - 1);
	report_parse(&raw, WIFEXITED(o.wstatus), 0, &r);
	if (r.violations->count > VERDICT_MAX_VIOLATIONS)
		abort();
	if (judge_job(&pol, &o, &r, &v, &err) && v == VERDICT_ACCEPTED)
		abort();
	roundtrip(r.violations);
	roundtrip(r.result);
	roundtrip(r.sandbox);
	json_free(err);
	report_release(&r);
	sbuf_release(&raw);
	return 0;
}
