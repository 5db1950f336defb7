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

#include "policy/policy.h"
#include "policy_cases.h"
#include "proto/job.h"

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

/* The codec that carries a policy to the zygote and the job children: a
 * decoded encoding is the same policy for the keys sent; nothing else is
 * sent; every malformed or unexpected value is refused with its key. */
static void test_codec(void **state)
{
	static const char yaml[] = "version: 1\n"
				   "limits: {cpu_time_s: 7.5, memory_mb: 321}\n"
				   "sandbox: {environment: [A=1, B=two], namespaces: {pid: true}, threads: 3}\n"
				   "python: {static_check: {action: reject}}\n"
				   "validation: {training: {steps: 17}, reference: {model: /etc/ref.pt}}\n"
				   "storage: {db: /secret/pool.db}\n";
	static const struct {
		unsigned to;
		const char *doc, *err;
	} bad[] = {
	    {POLICY_TO_CONFINE, "{\"limits\":{\"memory_mb\":\"4096\"}}", "policy key limits.memory_mb: wrong type"},
	    {POLICY_TO_CONFINE, "{\"limits\":{\"memory_mb\":1}}", "policy key limits.memory_mb: 1 is out of range"},
	    {POLICY_TO_CONFINE, "{\"limits\":{\"memory_mb\":1.5}}", "policy key limits.memory_mb: expected an integer"},
	    {POLICY_TO_CONFINE, "{\"limits\":{\"nope\":1}}", "policy key limits.nope: not expected here"},
	    {POLICY_TO_CONFINE, "{\"storage\":{\"db\":\"x\"}}", "policy key storage.db: not expected here"},
	    {POLICY_TO_CONFINE, "{\"python\":{\"allowed_imports\":[]}}",
	     "policy key python.allowed_imports: not expected here"},
	    {POLICY_TO_CONFINE, "{\"sandbox\":{\"environment\":[\"no equals\"]}}",
	     "policy key sandbox.environment: item 1 is not KEY=VALUE"},
	    {POLICY_TO_CONFINE, "{\"sandbox\":{\"seccomp\":1}}", "policy key sandbox.seccomp: wrong type"},
	    {POLICY_TO_CONFINE, "{\"sandbox\":[]}", "policy sandbox: not an object"},
	    {POLICY_TO_BUILD, "{\"python\":{\"static_check\":{\"action\":\"ignore\"}}}",
	     "policy key python.static_check.action: expected one of warn|reject"},
	    {POLICY_TO_BUILD, "[]", "policy document: not an object"},
	};
	struct policy p = {0}, q = {0};
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	struct json *enc, *job;
	struct job_config jc;
	char err[512];

	(void)state;
	policy_init_defaults(&p);
	assert_int_equal(policy_load_buffer(&p, "c.yaml", yaml, sizeof(yaml) - 1, err, sizeof(err)), 0);
	/* everything a child gets, and back */
	enc = policy_encode(&p, POLICY_TO_CONFINE | POLICY_TO_BUILD | POLICY_TO_VALIDATE | POLICY_TO_FIX);
	assert_null(json_get(enc, "storage"));                       /* the operator's, never a child's */
	assert_null(json_get(json_get(enc, "validation"), "input")); /* resolved by the supervisor */
	assert_null(json_get(json_get(json_get(enc, "validation"), "reference"), "model")); /* a host path */
	assert_null(json_get(json_get(enc, "debug"), "fixer_command"));
	policy_init_defaults(&q);
	assert_int_equal(policy_decode(&q, enc,
				       POLICY_TO_CONFINE | POLICY_TO_BUILD | POLICY_TO_VALIDATE | POLICY_TO_FIX, err,
				       sizeof(err)),
			 0);
	assert_true(q.limits.cpu_time_s == 7.5);
	assert_int_equal(q.limits.memory_mb, 321);
	assert_int_equal(q.sandbox.threads, 3);
	assert_true(q.sandbox.namespaces.pid);
	assert_int_equal(q.sandbox.environment.n, 2);
	assert_string_equal(q.sandbox.environment.v[1], "B=two");
	assert_string_equal(q.python.static_check.action, "reject");
	assert_int_equal(q.validation.training.steps, 17);
	json_free(enc);
	/* what the zygote confines with: only its keys, the same after a trip */
	enc = policy_encode(&p, POLICY_TO_CONFINE);
	assert_null(json_get(enc, "python"));
	assert_null(json_get(enc, "validation"));
	json_write(enc, &a, -1);
	assert_non_null(strstr(a.buf, "\"memory_mb\":321"));
	json_free(enc);
	/* the job object, through the zygote's parser */
	{
		const char *ro[] = {"/usr/lib", NULL};
		struct job_facts f = {.workdir = "/tmp/w",
				      .workdir_writable = true,
				      .ncgroups = 1,
				      .cgroups = {"/sys/fs/cgroup/x/cgroup.procs"},
				      .pids_rlimit = true,
				      .ro_paths = ro};

		job = job_object(&p, &f);
		assert_int_equal(job_object_parse(job, &jc, err, sizeof(err)), 0);
		assert_string_equal(jc.facts.workdir, "/tmp/w");
		assert_true(jc.facts.workdir_writable && jc.facts.pids_rlimit && !jc.facts.memory_rlimit);
		assert_int_equal(jc.facts.ncgroups, 1);
		assert_string_equal(jc.facts.ro_paths[0], "/usr/lib");
		assert_null(jc.facts.ro_paths[1]);
		assert_int_equal(jc.pol.limits.memory_mb, 321);
		assert_true(jc.pol.sandbox.namespaces.pid);
		enc = policy_encode(&jc.pol, POLICY_TO_CONFINE);
		json_write(enc, &b, -1);
		assert_string_equal(a.buf, b.buf);
		json_free(enc);
		job_config_release(&jc);
		/* a relative work directory, or a missing fact, is refused */
		json_set(job, "workdir", json_str("w"));
		assert_int_equal(job_object_parse(job, &jc, err, sizeof(err)), -1);
		assert_string_equal(err, "malformed job object");
		json_free(job);
	}
	/* the spare key: equal for equal confinement, different otherwise */
	{
		char *k1 = job_spare_key(&p), *k2;

		p.python.static_check.action[0] = 'w'; /* not a confinement key */
		k2 = job_spare_key(&p);
		assert_string_equal(k1, k2);
		free(k2);
		p.sandbox.allow_unix_sockets = !p.sandbox.allow_unix_sockets;
		k2 = job_spare_key(&p);
		assert_string_not_equal(k1, k2);
		free(k1);
		free(k2);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json *j = json_parse(bad[i].doc, strlen(bad[i].doc), NULL, 0);

		assert_non_null(j);
		err[0] = '\0';
		assert_int_equal(policy_decode(&q, j, bad[i].to, err, sizeof(err)), -1);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i, err, bad[i].err);
		json_free(j);
	}
	sbuf_release(&a);
	sbuf_release(&b);
	policy_release(&p);
	policy_release(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_policies), cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_values),       cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_set),          cmocka_unit_test(test_shipped_policies),
	    cmocka_unit_test(test_missing_file), cmocka_unit_test(test_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
