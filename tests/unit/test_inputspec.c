/* test_inputspec.c - test-input specifications. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/inputspec.h"

static void test_good(void **state)
{
	struct inputspec s;
	char err[256];

	(void)state;
	assert_int_equal(inputspec_parse("tokens:2x20:1000", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, INPUT_TOKENS);
	assert_int_equal(s.ndims, 2);
	assert_int_equal(s.dims[0], 2);
	assert_int_equal(s.dims[1], 20);
	assert_int_equal(s.vocab, 1000);
	inputspec_release(&s);
	assert_int_equal(inputspec_parse("float:2x3x32x32", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, INPUT_FLOAT);
	assert_int_equal(s.ndims, 4);
	assert_int_equal(s.dims[3], 32);
	inputspec_release(&s);
	assert_int_equal(inputspec_parse("float:7", &s, err, sizeof(err)), 0);
	assert_int_equal(s.ndims, 1);
	inputspec_release(&s);
}

static void test_bad(void **state)
{
	static const struct {
		const char *spec, *err;
	} cases[] = {
	    {"", "input spec: empty"},
	    {"tokens:2x20", "input spec 'tokens:2x20': expected tokens:SHAPE:VOCAB, e.g. tokens:2x20:1000"},
	    {"tokens:2x20:1", "input spec 'tokens:2x20:1': vocabulary 1 out of range [2, 100000000]"},
	    {"tokens:2x20:abc", "input spec 'tokens:2x20:abc': expected tokens:SHAPE:VOCAB, e.g. tokens:2x20:1000"},
	    {"float:", "input spec: missing shape (e.g. 2x20)"},
	    {"float:2x", "input spec: bad shape '2x' (expected dimensions like 2x3x32x32)"},
	    {"float:2*3", "input spec: bad shape '2*3' (expected dimensions like 2x3x32x32)"},
	    {"float:0x3", "input spec: dimension 0 out of range [1, 16777216]"},
	    {"float:1x1x1x1x1x1x1x1x1", "input spec: more than 8 dimensions"},
	    {"float:65536x65536", "input spec: 4294967296 elements is more than the 268435456 allowed"},
	    {"ints:2x3", "input spec 'ints:2x3': expected tokens:BxT:VOCAB, float:D1xD2..., a .pt/.npy file, or auto"},
	    {"/nonexistent/x.pt", "input spec: cannot open tensor file '/nonexistent/x.pt'"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct inputspec s;
		char err[256] = "";

		assert_int_equal(inputspec_parse(cases[i].spec, &s, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i].err);
		inputspec_release(&s);
	}
}

/* auto: resolved in the job children, with the seed's default behind it */
static void test_auto(void **state)
{
	struct inputspec s;
	char err[256] = "";
	struct json *j;
	struct sbuf sb = SBUF_INIT;

	(void)state;
	assert_int_equal(inputspec_parse("auto", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, INPUT_AUTO);
	j = inputspec_to_json(&s, NULL);
	json_write(j, &sb, -1);
	assert_string_equal(sbuf_str(&sb),
			    "{\"kind\":\"auto\",\"fallback\":{\"kind\":\"tokens\",\"shape\":[2,20],\"vocab\":1000},"
			    "\"shape\":[]}");
	sbuf_release(&sb);
	json_free(j);
	inputspec_release(&s);
}

static void test_file_and_json(void **state)
{
	char path[] = "/tmp/aegis-test-XXXXXX.npy", err[256];
	struct inputspec s;
	struct json *j;
	struct sbuf sb = SBUF_INIT;
	int fd;

	(void)state;
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(inputspec_parse(path, &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, INPUT_FILE);
	assert_string_equal(s.format, "npy");
	assert_string_equal(s.path, path);
	j = inputspec_to_json(&s, "input.npy");
	json_write(j, &sb, -1);
	assert_string_equal(sb.buf, "{\"kind\":\"file\",\"shape\":[],\"file\":\"input.npy\",\"format\":\"npy\"}");
	json_free(j);
	sbuf_release(&sb);
	inputspec_release(&s);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_file_and_json),
	    cmocka_unit_test(test_auto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
