/* test_verdict.c - the report protocol and the verdict rule (verdict.c),
 * fed honest reports and the forgeries a build child can write. */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "common/sbuf.h"
#include "supervisor/supervise.h"
#include "common/util.h"
#include "pipeline/verdict.h"

#define SANDBOX "{\"sandbox\":{\"seccomp\":true}}\n"
#define OK_RESULT "{\"result\":{\"ok\":true,\"stage\":\"build\",\"metrics\":{}}}\n"
#define EXIT0 (0 << 8)
#define EXIT1 (1 << 8)

/* One row: a report as the child wrote it, what the supervisor saw, and
 * what the rule must make of it. */
struct row {
	const char *name;
	const char *report;
	int wstatus;
	bool killed_wall, oom, flood;
	size_t dropped;
	/* expected */
	bool decided; /* judge_job decided (else the result line decides) */
	enum verdict v;
	const char *type;    /* error type when decided */
	const char *message; /* a substring of the error message */
	size_t tampered;
	bool has_result;
	bool disk; /* the work directory was full (last: zero in most rows) */
};

static const struct row rows[] = {
    /* honest reports */
    {"honest success", SANDBOX OK_RESULT, EXIT0, false, false, false, 0, false, 0, NULL, NULL, 0, true},
    {"honest build error", SANDBOX "{\"result\":{\"ok\":false,\"error\":{\"type\":\"RuntimeError\"}}}\n", EXIT1, false,
     false, false, 0, false, 0, NULL, NULL, 0, true},
    {"honest audit violation",
     SANDBOX
     "{\"violation\":{\"rule\":\"audit\",\"event\":\"os.system\",\"args\":\"('true',)\",\"line\":7}}\n" OK_RESULT,
     EXIT0, false, false, false, 0, true, VERDICT_VIOLATION, "PolicyViolation", "audit: os.system ('true',)", 0, true},
    {"honest seccomp denial", SANDBOX "{\"seccomp\":{\"nr\":57,\"arch\":3221225534}}\n", 122 << 8, false, false, false,
     0, true, VERDICT_VIOLATION, "PolicyViolation", "denied system call 'fork' (seccomp)", 0, false},
    {"confinement failed before Python", "{\"setup_error\":\"unshare: EPERM\"}\n", 121 << 8, false, false, false, 0,
     true, VERDICT_ERROR, "SandboxError", "confinement failed: unshare: EPERM", 0, false},
    {"wall clock", SANDBOX, SIGKILL, true, false, false, 0, true, VERDICT_TIMEOUT, "Timeout", "wall-clock limit", 0,
     false},
    {"memory", SANDBOX, SIGKILL, false, true, false, 0, true, VERDICT_MEMORY, "MemoryLimit", "memory limit", 0, false},
    {"work directory full", SANDBOX OK_RESULT, EXIT0, false, false, false, 0, true, VERDICT_MEMORY, "DiskLimit",
     "work directory limit of 1024 MiB exceeded", 0, true, true},
    {"crash", SANDBOX, SIGSEGV, false, false, false, 0, true, VERDICT_CRASH, "Crash", "killed by signal 11", 0, false},
    {"flood", SANDBOX, SIGKILL, false, false, true, 0, true, VERDICT_REJECTED, "OutputFlood", "output flood", 0, false},
    {"cut off by a kill", SANDBOX "{\"result\":{\"ok\":tr", SIGKILL, true, false, false, 0, true, VERDICT_TIMEOUT,
     "Timeout", "wall-clock", 0, false},

    /* forgeries: each a violation, never "error", never a decided success */
    {"forged setup_error after confinement relabels nothing",
     SANDBOX "{\"violation\":{\"rule\":\"audit\",\"event\":\"os.system\",\"line\":3}}\n{\"setup_error\":\"x\"}\n",
     EXIT0, false, false, false, 0, true, VERDICT_VIOLATION, "PolicyViolation", "audit: os.system", 1, false},
    {"forged setup_error alone", SANDBOX "{\"setup_error\":\"confinement failed\"}\n", EXIT0, false, false, false, 0,
     true, VERDICT_VIOLATION, "PolicyViolation", "a setup_error after confinement", 1, false},
    {"second sandbox line", SANDBOX SANDBOX OK_RESULT, EXIT0, false, false, false, 0, true, VERDICT_VIOLATION,
     "PolicyViolation", "a second sandbox line", 1, true},
    {"second result line", SANDBOX "{\"result\":{\"ok\":false}}\n" OK_RESULT, EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "a second result line", 1, true},
    {"garbage line", SANDBOX "hello\n" OK_RESULT, EXIT0, false, false, false, 0, true, VERDICT_VIOLATION,
     "PolicyViolation", "line 2 of the report channel: not JSON", 1, true},
    {"two keys in one line", SANDBOX "{\"result\":{\"ok\":true},\"sandbox\":{}}\n", EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "exactly one key", 1, false},
    {"unknown line kind", SANDBOX "{\"verdict\":\"accepted\"}\n" OK_RESULT, EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "an unknown line kind", 1, true},
    {"prefix glued to the harness's line",
     SANDBOX "{\"x\":{\"violation\":{\"rule\":\"audit\",\"event\":\"open\"}}\n" OK_RESULT, EXIT0, false, false, false,
     0, true, VERDICT_VIOLATION, "PolicyViolation", "not JSON", 1, true},
    {"unterminated line at a normal exit", SANDBOX OK_RESULT "{\"result\"", EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "an unterminated last line", 1, true},
    {"repeated key", SANDBOX "{\"result\":{\"ok\":false,\"ok\":true}}\n", EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "not JSON", 1, false},
    {"NUL in a key", SANDBOX "{\"result\":{\"ok\\u0000\":true}}\n", EXIT0, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "not JSON", 1, false},
    {"report past its cap", SANDBOX OK_RESULT, EXIT0, false, false, false, 4096, true, VERDICT_VIOLATION,
     "PolicyViolation", "more report bytes than the protocol allows", 1, true},
    {"the seccomp handler's exit code without its line", SANDBOX, 122 << 8, false, false, false, 0, true,
     VERDICT_VIOLATION, "PolicyViolation", "denied system call", 0, false},
};

static void test_rows(void **state)
{
	struct policy pol = {0};

	(void)state;
	policy_init_defaults(&pol);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct sbuf raw = SBUF_INIT;
		struct job_outcome o;
		struct report r;
		enum verdict v = VERDICT_ACCEPTED;
		struct json *err = NULL;
		bool decided;

		memset(&o, 0, sizeof(o));
		o.exited = true;
		o.wstatus = w->wstatus;
		o.killed_wall = w->killed_wall;
		o.oom = w->oom;
		o.killed_flood = w->flood;
		o.disk_full = w->disk;
		sbuf_adds(&raw, w->report);
		report_parse(&raw, WIFEXITED(o.wstatus), w->dropped, &r);
		decided = judge_job(&pol, &o, &r, &v, &err);
		print_message("row: %s\n", w->name);
		assert_int_equal(decided, w->decided);
		assert_int_equal(r.tampered, w->tampered);
		assert_int_equal(r.result != NULL, w->has_result);
		if (w->decided) {
			assert_int_equal(v, w->v);
			assert_string_equal(json_get_str(err, "type"), w->type);
			assert_non_null(strstr(json_get_str(err, "message"), w->message));
		}
		/* whatever a row says, judge_job never yields accepted */
		assert_true(!decided || v != VERDICT_ACCEPTED);
		json_free(err);
		report_release(&r);
		sbuf_release(&raw);
	}
	policy_release(&pol);
}

/* 16 MiB of seccomp lines: a hundred violations kept, the rest counted. */
static void test_violation_cap(void **state)
{
	struct sbuf raw = SBUF_INIT;
	struct report r;

	(void)state;
	sbuf_adds(&raw, SANDBOX);
	for (int i = 0; i < 5000; i++)
		sbuf_adds(&raw, "{\"seccomp\":{\"nr\":59}}\n");
	report_parse(&raw, true, 0, &r);
	assert_int_equal(r.violations->count, VERDICT_MAX_VIOLATIONS);
	assert_int_equal(r.violations_dropped, 5000 - VERDICT_MAX_VIOLATIONS);
	report_release(&r);
	sbuf_release(&raw);
}

/* A forged violation with a 1 MB message is kept, cut to 1,000 bytes. */
static void test_violation_strings_bounded(void **state)
{
	struct sbuf raw = SBUF_INIT;
	struct report r;

	(void)state;
	sbuf_adds(&raw, SANDBOX "{\"violation\":{\"rule\":\"x\",\"message\":\"");
	for (int i = 0; i < (1 << 20); i++)
		sbuf_addc(&raw, 'a');
	sbuf_adds(&raw, "\",\"nested\":{\"args\":\"");
	for (int i = 0; i < 5000; i++)
		sbuf_adds(&raw, "\u00e9");
	sbuf_adds(&raw, "\"}}}\n");
	report_parse(&raw, true, 0, &r);
	assert_int_equal(r.violations->count, 1);
	assert_int_equal(json_get(r.violations->items[0], "message")->slen, 1000);
	assert_int_equal(json_get(json_get(r.violations->items[0], "nested"), "args")->slen, 1000);
	report_release(&r);
	sbuf_release(&raw);
}

/* One 2 MB line with 150,000 keys parses (it used to take over 30 s),
 * and is a valid result: only the harness's own second result line would
 * make it tampering. */
static void test_key_flood(void **state)
{
	struct sbuf raw = SBUF_INIT;
	struct report r;

	(void)state;
	sbuf_adds(&raw, SANDBOX "{\"result\":{");
	for (int i = 0; i < 150000; i++)
		sbuf_addf(&raw, "%s\"k%d\":0", i ? "," : "", i);
	sbuf_adds(&raw, "}}\n");
	assert_true(raw.len > 1500000);
	report_parse(&raw, true, 0, &r);
	assert_int_equal(r.tampered, 0);
	assert_non_null(r.result);
	assert_int_equal(r.result->count, 150000);
	report_release(&r);
	sbuf_release(&raw);
}

/* The same flood inside "metrics", where the supervisor merges it into
 * the verdict: over VERDICT_MAX_METRICS it is tampering, and the whole
 * parse stays well under a second of CPU (the merge that followed, a
 * json_set per key, took 40 s: issue 29). */
static void test_metric_flood(void **state)
{
	struct sbuf raw = SBUF_INIT;
	struct report r;
	clock_t t0;

	(void)state;
	sbuf_adds(&raw, SANDBOX "{\"result\":{\"ok\":true,\"metrics\":{");
	for (int i = 0; i < 150000; i++)
		sbuf_addf(&raw, "%s\"m%06d\":%d", i ? "," : "", i, i);
	sbuf_adds(&raw, "}}}\n");
	t0 = clock();
	report_parse(&raw, true, 0, &r);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
	assert_int_equal(r.tampered, 1);
	assert_null(r.result);
	assert_int_equal(r.violations->count, 1);
	assert_non_null(strstr(json_get_str(r.violations->items[0], "message"),
			       "a result with more metrics or checks than the protocol allows"));
	report_release(&r);
	sbuf_release(&raw);
	sbuf_adds(&raw, SANDBOX "{\"result\":{\"ok\":true,\"metrics\":{");
	for (int i = 0; i < VERDICT_MAX_METRICS; i++)
		sbuf_addf(&raw, "%s\"m%06d\":%d", i ? "," : "", i, i);
	sbuf_adds(&raw, "}}}\n");
	report_parse(&raw, true, 0, &r);
	assert_int_equal(r.tampered, 0); /* the cap itself is allowed */
	report_release(&r);
	sbuf_release(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_violation_cap),
	    cmocka_unit_test(test_violation_strings_bounded),
	    cmocka_unit_test(test_key_flood),
	    cmocka_unit_test(test_metric_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
