/* test_cli.c - argument handling of the command line: usage errors are
 * exit 2 and never start a zygote. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "common/util.h"

static int run(int n, ...)
{
	char *argv[16];
	va_list ap;

	va_start(ap, n);
	argv[0] = "aegis-sandbox";
	for (int i = 0; i < n; i++)
		argv[i + 1] = va_arg(ap, char *);
	va_end(ap);
	argv[n + 1] = NULL;
	return cli_main(n + 1, argv);
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(run(0), AEGIS_EXIT_USAGE);
	assert_int_equal(run(1, "--help"), 0);
	assert_int_equal(run(1, "--version"), 0);
	assert_int_equal(run(1, "--bogus"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(1, "frobnicate"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(1, "run"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "run", "--help"), 0);
	assert_int_equal(run(2, "check", "--help"), 0);
	assert_int_equal(run(3, "run", "a.py", "b.py"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(3, "run", "--timeout", "0"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--timeout", "abc", "m.py"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--memory-mb", "1", "m.py"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--train-steps", "0", "m.py"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--input", "ints:2", "/dev/null"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--set", "limits.nope=1", "/dev/null"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(4, "run", "--policy", "/nonexistent.yaml", "/dev/null"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "run", "/nonexistent/model.py"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(1, "policy"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "policy", "frob"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "policy", "check"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(3, "policy", "check", "/nonexistent.yaml"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "policy", "show"), 0);
	assert_int_equal(run(1, "serve"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(3, "batch", "--jobs", "0"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "batch", "/nonexistent.jsonl"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "pool", "frob"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(3, "pool", "show", "abc"), AEGIS_EXIT_USAGE);
	assert_int_equal(run(2, "approvals", "approve"), AEGIS_EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
