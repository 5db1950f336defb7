/* test_json.c - the JSON document model. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static char *compact(const struct json *j)
{
	struct sbuf sb = SBUF_INIT;

	json_write(j, &sb, -1);
	return sbuf_detach(&sb, NULL);
}

static void test_roundtrip(void **state)
{
	static const char *const docs[] = {
	    "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ny\",\"d\":{\"e\":-2.5}}",
	    "[]",
	    "{}",
	    "\"\\u00e9\\ud83d\\ude00\"",
	    "[1e+100,0.1,-0]",
	};
	static const char *const want[] = {
	    "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\ny\",\"d\":{\"e\":-2.5}}",
	    "[]",
	    "{}",
	    "\"\xc3\xa9\xf0\x9f\x98\x80\"",
	    "[1e+100,0.1,0]",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char err[128];
		struct json *j = json_parse(docs[i], strlen(docs[i]), err, sizeof(err));
		char *out;

		assert_non_null(j);
		out = compact(j);
		assert_string_equal(out, want[i]);
		free(out);
		json_free(j);
	}
}

static void test_errors(void **state)
{
	static const struct {
		const char *doc, *err;
	} cases[] = {
	    {"", "line 1 col 1: unexpected end of input"},
	    {"{", "line 1 col 2: expected a string key"},
	    {"{\"a\" 1}", "line 1 col 6: expected ':'"},
	    {"[1,]", "line 1 col 4: unexpected character"},
	    {"[1 2]", "line 1 col 4: expected ',' or ']'"},
	    {"\"abc", "line 1 col 5: unterminated string"},
	    {"\"a\\q\"", "line 1 col 4: bad escape in string"},
	    {"{}\n x", "line 2 col 2: trailing characters after the document"},
	    {"\"\x01\"", "line 1 col 2: control character in string"},
	    {"tru", "line 1 col 1: unexpected character"},
	    /* documents a reader could take two ways */
	    {"{\"ok\":false,\"b\":1,\"ok\":true}", "line 1 col 29: repeated key in an object"},
	    {"{\"ok\\u0000\":true}", "line 1 col 12: NUL in an object key"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128] = "";

		assert_null(json_parse(cases[i].doc, strlen(cases[i].doc), err, sizeof(err)));
		assert_string_equal(err, cases[i].err);
	}
}

static void test_depth_limit(void **state)
{
	char deep[600];
	char err[128];

	(void)state;
	memset(deep, '[', sizeof(deep));
	assert_null(json_parse(deep, sizeof(deep), err, sizeof(err)));
	assert_non_null(strstr(err, "nesting too deep"));
}

static void test_build_and_lookup(void **state)
{
	struct json *o = json_object(), *a;
	double v = 0;
	char *out;

	(void)state;
	json_set(o, "n", json_num(42));
	json_set(o, "s", json_strn("a\0b", 3));
	a = json_set(o, "arr", json_array());
	json_append(a, json_num(NAN));
	json_set(o, "n", json_num(43)); /* replaces */
	assert_true(json_get_num(o, "n", &v));
	assert_true(v == 43);
	assert_int_equal(o->count, 3);
	out = compact(o);
	assert_string_equal(out, "{\"n\":43,\"s\":\"a\\u0000b\",\"arr\":[null]}");
	free(out);
	{
		struct json *t = json_take(o, "s");

		assert_int_equal(t->slen, 3);
		json_free(t);
		assert_null(json_get(o, "s"));
	}
	/* invalid UTF-8 in a string is written as U+FFFD, never as broken JSON */
	json_set(o, "bad", json_strn("\xff", 1));
	out = compact(o);
	assert_non_null(strstr(out, "\"bad\":\"\xef\xbf\xbd\""));
	free(out);
	json_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_build_and_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
