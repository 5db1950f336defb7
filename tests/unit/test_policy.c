/* test_policy.c - the YAML policy parser: every malformed input in
 * policy_cases.h gets its exact FILE:LINE:COLUMN message; good inputs give
 * the values they say; dump and load round-trip; --set works. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "policy_cases.h"

static void test_bad_policies(void **state)
{
	(void)state;
	assert_true(sizeof(bad_policies) / sizeof(bad_policies[0]) >= 30);
	for (size_t i = 0; i < sizeof(bad_policies) / sizeof(bad_policies[0]); i++) {
		const struct policy_case *c = &bad_policies[i];
		struct policy p = {0};
		char err[1024] = "";
		int rc;

		policy_init_defaults(&p);
		rc = policy_load_buffer(&p, "case.yaml", c->yaml, c->len, err, sizeof(err));
		if (rc != -1 || strcmp(err, c->error)) {
			print_error("case %s:\n  expected: %s\n  got (rc %d): %s\n", c->name, c->error, rc, err);
			fail();
		}
		policy_release(&p);
	}
}

static int load(struct policy *p, const char *yaml, char *err, size_t errlen)
{
	policy_init_defaults(p);
	return policy_load_buffer(p, "good.yaml", yaml, strlen(yaml), err, errlen);
}

static void test_defaults(void **state)
{
	struct policy p = {0};

	(void)state;
	policy_init_defaults(&p);
	assert_true(p.limits.wall_timeout_s == 120);
	assert_int_equal(p.limits.memory_mb, 4096);
	assert_int_equal(p.debug.max_attempts, 3);
	assert_int_equal(p.validation.training.steps, 100);
	assert_string_equal(p.validation.input, "auto");
	assert_string_equal(p.sandbox.cgroups, "auto");
	assert_true(p.sandbox.seccomp && p.sandbox.landlock);
	assert_true(strv_contains(&p.python.allowed_imports, "torch.nn.*"));
	assert_false(strv_contains(&p.python.allowed_imports, "os"));
	assert_true(strv_contains(&p.python.audit.deny_events, "os.system"));
	assert_int_equal(p.debug.fixer_command.n, 0);
	policy_release(&p);
	policy_release(&p); /* release is idempotent */
}

static void test_values(void **state)
{
	struct policy p = {0};
	char err[512];

	(void)state;
	assert_int_equal(load(&p,
			      "version: 1\n"
			      "limits:\n  wall_timeout_s: 2.5\n  memory_mb: 512\n"
			      "python:\n  allowed_imports: [torch, math]\n"
			      "sandbox:\n  seccomp: no\n  cgroups: off\n  namespaces: {net: false}\n"
			      "  environment: [\"A=1\", \"B=x=y\"]\n"
			      "debug:\n  fixer_command: [python3, fix.py, --fast]\n"
			      "storage:\n  db: /var/lib/aegis/pool.db\n",
			      err, sizeof(err)),
			 0);
	assert_true(p.limits.wall_timeout_s == 2.5);
	assert_int_equal(p.limits.memory_mb, 512);
	assert_int_equal(p.python.allowed_imports.n, 2);
	assert_string_equal(p.python.allowed_imports.v[1], "math");
	assert_false(p.sandbox.seccomp);
	assert_true(p.sandbox.landlock); /* untouched keys keep defaults */
	assert_string_equal(p.sandbox.cgroups, "off");
	assert_false(p.sandbox.namespaces.net);
	assert_true(p.sandbox.namespaces.ipc);
	assert_int_equal(p.sandbox.environment.n, 2);
	assert_string_equal(p.sandbox.environment.v[1], "B=x=y");
	assert_int_equal(p.debug.fixer_command.n, 3);
	assert_string_equal(p.debug.fixer_command.v[2], "--fast");
	assert_string_equal(p.storage.db, "/var/lib/aegis/pool.db");
	assert_string_equal(p.source, "good.yaml");
	policy_release(&p);

	/* an empty list is a list */
	assert_int_equal(load(&p, "version: 1\nsandbox:\n  environment: []\n", err, sizeof(err)), 0);
	assert_int_equal(p.sandbox.environment.n, 0);
	policy_release(&p);
}

static void test_roundtrip(void **state)
{
	struct policy a = {0}, b = {0};
	struct sbuf s1 = SBUF_INIT, s2 = SBUF_INIT;
	char err[512], d1[65], d2[65];

	(void)state;
	assert_int_equal(load(&a, "version: 1\nlimits:\n  memory_mb: 777\nstorage:\n  db: \"a \\\"quoted\\\" path\"\n",
			      err, sizeof(err)),
			 0);
	policy_dump(&a, &s1, true);
	policy_init_defaults(&b);
	assert_int_equal(policy_load_buffer(&b, "dump.yaml", s1.buf, s1.len, err, sizeof(err)), 0);
	assert_int_equal(b.limits.memory_mb, 777);
	assert_string_equal(b.storage.db, "a \"quoted\" path");
	policy_digest(&a, d1);
	policy_digest(&b, d2);
	assert_string_equal(d1, d2);
	policy_dump(&b, &s2, true);
	assert_string_equal(s1.buf, s2.buf);
	b.limits.memory_mb = 778;
	policy_digest(&b, d2);
	assert_string_not_equal(d1, d2);
	sbuf_release(&s1);
	sbuf_release(&s2);
	policy_release(&a);
	policy_release(&b);
}

static void test_set(void **state)
{
	struct policy p = {0};
	char err[512];

	(void)state;
	policy_init_defaults(&p);
	assert_int_equal(policy_set(&p, "limits.memory_mb=300", err, sizeof(err)), 0);
	assert_int_equal(p.limits.memory_mb, 300);
	assert_int_equal(policy_set(&p, "python.allowed_imports=torch,math", err, sizeof(err)), 0);
	assert_int_equal(p.python.allowed_imports.n, 2);
	assert_int_equal(policy_set(&p, "sandbox.seccomp=false", err, sizeof(err)), 0);
	assert_false(p.sandbox.seccomp);
	assert_int_equal(policy_set(&p, "limits.memory_mb=3", err, sizeof(err)), -1);
	assert_string_equal(err, "--set limits.memory_mb: 3 is out of range [16, 1048576]");
	assert_int_equal(policy_set(&p, "limits.nope=3", err, sizeof(err)), -1);
	assert_string_equal(err, "--set: unknown key 'limits.nope'");
	assert_int_equal(policy_set(&p, "limits", err, sizeof(err)), -1);
	assert_string_equal(err, "--set 'limits': expected KEY=VALUE");
	assert_int_equal(policy_set(&p, "limits=1", err, sizeof(err)), -1);
	assert_string_equal(err, "--set: unknown key 'limits'");
	assert_int_equal(policy_set(&p, "python.allowed_imports=torch,,", err, sizeof(err)), -1);
	policy_release(&p);
}

static void test_shipped_policies(void **state)
{
	const char *top = getenv("TOP_SRCDIR");
	static const char *const files[] = {"default.yaml", "strict.yaml", "research.yaml"};
	struct policy p = {0}, d = {0};
	struct sbuf s1 = SBUF_INIT, s2 = SBUF_INIT;
	char err[1024];

	(void)state;
	if (!top)
		skip();
	for (size_t i = 0; i < 3; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/policies/%s", top, files[i]);
		policy_init_defaults(&p);
		if (policy_load_file(&p, path, err, sizeof(err)) < 0) {
			print_error("%s\n", err);
			fail();
		}
		policy_release(&p);
	}
	/* default.yaml states exactly the built-in defaults */
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/policies/default.yaml", top);
		policy_init_defaults(&p);
		assert_int_equal(policy_load_file(&p, path, err, sizeof(err)), 0);
		policy_init_defaults(&d);
		policy_dump(&p, &s1, false);
		policy_dump(&d, &s2, false);
		/* first lines name the source; compare the rest */
		assert_string_equal(strchr(s1.buf, '\n'), strchr(s2.buf, '\n'));
	}
	sbuf_release(&s1);
	sbuf_release(&s2);
	policy_release(&p);
	policy_release(&d);
}

static void test_missing_file(void **state)
{
	struct policy p = {0};
	char err[512];

	(void)state;
	policy_init_defaults(&p);
	assert_int_equal(policy_load_file(&p, "/nonexistent/policy.yaml", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/policy.yaml:0:0: cannot read the policy: No such file or directory");
	policy_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_policies), cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_values),       cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_set),          cmocka_unit_test(test_shipped_policies),
	    cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
