/* test_util.c - utilities: SHA-256 vectors, UTF-8, number parsing, rm -rf,
 * reading an fd and copying a file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/diff.h"
#include "common/sbuf.h"
#include "common/sha256.h"
#include "common/util.h"

static void test_sha256(void **state)
{
	char hex[65];
	char *million = malloc(1000000);

	(void)state;
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
	/* what a digest looks like: what sha256_hex writes, and nothing else */
	assert_true(sha256_is_hex(hex));
	assert_false(sha256_is_hex(NULL));
	assert_false(sha256_is_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd"));
	assert_false(sha256_is_hex("CDC76E5C9914FB9281A1C7E284D73E67F1809A48A497200E046D39CCC7112CD0"));
	assert_false(sha256_is_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0 "));
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(util_utf8_valid("plain", 5));
	assert_true(util_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	assert_false(util_utf8_valid("\xff", 1));
	assert_false(util_utf8_valid("\xc3", 1));             /* truncated */
	assert_false(util_utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(util_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(util_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

static void test_numbers(void **state)
{
	long l;
	double d;

	(void)state;
	assert_true(util_parse_long("42", &l) && l == 42);
	assert_false(util_parse_long("42x", &l));
	assert_false(util_parse_long("", &l));
	assert_false(util_parse_long("99999999999999999999999", &l));
	assert_true(util_parse_double("2.5", &d) && d == 2.5);
	assert_false(util_parse_double("nan", &d));
	assert_false(util_parse_double("inf", &d));
}

static void test_rm_rf(void **state)
{
	char dir[] = "/tmp/aegis-rmrf-XXXXXX", path[256], outside[] = "/tmp/aegis-keep-XXXXXX";
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(mkdtemp(outside));
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/file", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	/* a symlink to a directory outside must be removed, not followed */
	snprintf(path, sizeof(path), "%s/a/link", dir);
	assert_int_equal(symlink(outside, path), 0);
	snprintf(path, sizeof(path), "%s/precious", outside);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(util_rm_rf(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(util_rm_rf(outside), 0);
	assert_int_equal(util_rm_rf("/tmp/aegis-does-not-exist-at-all"), 0);
}

/* A tree 3,000 levels deep (its path far past PATH_MAX), a file at every
 * level, a directory left 000 and one left read-only: all removed, with
 * one fd at a time. */
static void test_rm_rf_deep(void **state)
{
	char dir[] = "/tmp/aegis-rmrf-deep-XXXXXX";
	int fd, top;

	(void)state;
	assert_non_null(mkdtemp(dir));
	top = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(top >= 0);
	fd = dup(top);
	for (int i = 0; i < 3000; i++) {
		int f = openat(fd, "f", O_CREAT | O_WRONLY, 0600), next;

		assert_true(f >= 0);
		close(f);
		assert_int_equal(mkdirat(fd, "d", 0700), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	assert_int_equal(mkdirat(fd, "locked", 0700), 0);
	assert_int_equal(mkdirat(fd, "locked/inner", 0700), 0);
	assert_int_equal(fchmodat(fd, "locked", 0, 0), 0);
	assert_int_equal(fchmod(fd, 0500), 0);
	close(fd);
	close(top);
	assert_int_equal(util_rm_rf(dir), 0);
	assert_int_equal(access(dir, F_OK), -1);
}

static void test_exe_kind(void **state)
{
	(void)state;
	/* a test program is neither the build tree's aegis-sandbox nor the
	 * installed one: it must not exec their zygote */
	assert_int_equal(util_exe_kind(), UTIL_EXE_OTHER);
}

static void test_read_fd_and_copy(void **state)
{
	int p[2];
	char *buf, dir[] = "/tmp/aegis-copy-XXXXXX", src[256], dst[256];
	size_t len = 99;

	(void)state;
	/* a pipe read to EOF, NUL-terminated; over MAX it is -EFBIG */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "{\"phase\":1}", 11), 11);
	close(p[1]);
	assert_int_equal(util_read_fd(p[0], 64, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "{\"phase\":1}");
	free(buf);
	close(p[0]);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	close(p[1]);
	assert_int_equal(util_read_fd(p[0], 9, &buf, &len), -EFBIG);
	assert_null(buf);
	close(p[0]);
	/* EOF with nothing written: an empty string, length 0 */
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(util_read_fd(p[0], 9, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);
	close(p[0]);

	assert_non_null(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	assert_int_equal(util_write_file(src, "weights", 7, 0644), 0);
	assert_int_equal(util_copy_file(src, dst, 1024), 0);
	assert_int_equal(util_read_file(dst, 1024, &buf, &len), 0);
	assert_string_equal(buf, "weights");
	free(buf);
	assert_int_equal(util_copy_file(src, dst, 3), -EFBIG);
	snprintf(src, sizeof(src), "%s/missing", dir);
	assert_int_equal(util_copy_file(src, dst, 1024), -ENOENT);
	assert_int_equal(util_rm_rf(dir), 0);
}

/* Apply the unified diff PATCH to A: what it turns A into, or NULL when
 * the patch does not fit A (a context or removed line that is not A's,
 * a hunk header whose counts do not match its lines).  A checker written
 * from the format, independent of diff.c. */
static char *apply_patch(const char *a, const char *patch)
{
	struct sbuf out = SBUF_INIT;
	const char *la[4096];
	size_t lens[4096], na = 0, i = 0;
	const char *p = patch;
	bool ok = true;

	for (const char *l = a; *l && na < 4096;) {
		const char *nl = strchr(l, '\n');

		la[na] = l;
		lens[na++] = nl ? (size_t)(nl + 1 - l) : strlen(l);
		l = nl ? nl + 1 : l + strlen(l);
	}
	if (strncmp(p, "--- ", 4))
		return NULL;
	p = strchr(p, '\n') + 1;
	if (strncmp(p, "+++ ", 4))
		return NULL;
	p = strchr(p, '\n') + 1;
	while (ok && *p) {
		unsigned long s1, c1 = 1, s2, c2 = 1, n1 = 0, n2 = 0, start;
		char *e;

		if (strncmp(p, "@@ -", 4))
			return NULL;
		s1 = strtoul(p + 4, &e, 10);
		if (*e == ',')
			c1 = strtoul(e + 1, &e, 10);
		if (strncmp(e, " +", 2))
			return NULL;
		s2 = strtoul(e + 2, &e, 10);
		if (*e == ',')
			c2 = strtoul(e + 1, &e, 10);
		(void)s2;
		p = strchr(p, '\n') + 1;
		start = c1 ? s1 - 1 : s1;
		if (start < i)
			return NULL;
		for (; i < start; i++)
			sbuf_add(&out, la[i], lens[i]);
		while (*p && strncmp(p, "@@", 2)) {
			const char *nl = strchr(p, '\n');
			size_t len = (size_t)(nl - p); /* the body is p+1 .. nl, with its newline */
			bool nonl = !strncmp(nl + 1, "\\ No newline", 12);
			size_t blen = nonl ? len - 1 : len;

			if (*p == ' ' || *p == '-') {
				if (i >= na || lens[i] != blen || memcmp(la[i], p + 1, blen)) {
					ok = false;
					break;
				}
				if (*p == ' ')
					sbuf_add(&out, p + 1, blen), n2++;
				i++, n1++;
			} else if (*p == '+') {
				sbuf_add(&out, p + 1, blen);
				n2++;
			} else {
				ok = false;
				break;
			}
			p = nl + 1;
			if (nonl)
				p = strchr(p, '\n') + 1;
		}
		if (n1 != c1 || n2 != c2)
			ok = false;
	}
	for (; i < na; i++)
		sbuf_add(&out, la[i], lens[i]);
	if (!ok) {
		sbuf_release(&out);
		return NULL;
	}
	return sbuf_detach(&out, NULL);
}

static void check_diff(const char *a, const char *b, const char *want)
{
	char *d = diff_unified(a, b, "a.py", "b.py", 3), *back;

	if (want)
		assert_string_equal(d, want);
	if (strcmp(a, b)) {
		back = apply_patch(a, d);
		assert_non_null(back);
		assert_string_equal(back, b);
		free(back);
	} else {
		assert_string_equal(d, "");
	}
	free(d);
}

static char *numbered(int n, int changed1, int changed2, int drop)
{
	struct sbuf sb = SBUF_INIT;

	for (int i = 1; i <= n; i++) {
		if (i == drop)
			continue;
		if (i == changed1 || i == changed2)
			sbuf_addf(&sb, "changed %d\n", i);
		else
			sbuf_addf(&sb, "line %d\n", i);
	}
	return sbuf_detach(&sb, NULL);
}

/* diff -u's format: headers, hunks with three lines of context, an
 * empty range at the line before it, ",1" left out, nearby changes in one
 * hunk, "\ No newline at end of file"; and for random edits, a patch that
 * turns A into B. */
static void test_diff(void **state)
{
	char *a = numbered(20, 0, 0, 0), *b;

	(void)state;
	check_diff("same\n", "same\n", "");
	check_diff("", "x\n", "--- a.py\n+++ b.py\n@@ -0,0 +1 @@\n+x\n");
	check_diff("x\n", "", "--- a.py\n+++ b.py\n@@ -1 +0,0 @@\n-x\n");
	check_diff("x\n", "x", "--- a.py\n+++ b.py\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n");
	b = numbered(20, 10, 0, 0);
	check_diff(a, b,
		   "--- a.py\n+++ b.py\n@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+changed 10\n line 11\n"
		   " line 12\n line 13\n");
	free(b);
	/* 6 equal lines between two changes: one hunk; 7: two */
	b = numbered(20, 5, 12, 0);
	check_diff(a, b,
		   "--- a.py\n+++ b.py\n@@ -2,14 +2,14 @@\n line 2\n line 3\n line 4\n-line 5\n+changed 5\n line 6\n"
		   " line 7\n line 8\n line 9\n line 10\n line 11\n-line 12\n+changed 12\n line 13\n line 14\n"
		   " line 15\n");
	free(b);
	b = numbered(20, 5, 13, 0);
	check_diff(a, b,
		   "--- a.py\n+++ b.py\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+changed 5\n line 6\n"
		   " line 7\n line 8\n@@ -10,7 +10,7 @@\n line 10\n line 11\n line 12\n-line 13\n+changed 13\n"
		   " line 14\n line 15\n line 16\n");
	free(b);
	/* at the ends: context is what there is */
	b = numbered(20, 1, 20, 0);
	check_diff(a, b,
		   "--- a.py\n+++ b.py\n@@ -1,4 +1,4 @@\n-line 1\n+changed 1\n line 2\n line 3\n line 4\n"
		   "@@ -17,4 +17,4 @@\n line 17\n line 18\n line 19\n-line 20\n+changed 20\n");
	free(b);
	b = numbered(20, 0, 0, 20);
	check_diff(a, b, "--- a.py\n+++ b.py\n@@ -17,4 +17,3 @@\n line 17\n line 18\n line 19\n-line 20\n");
	free(b);
	free(a);
	/* random edits of random texts over a small alphabet (many equal
	 * lines: the hard case for alignment) */
	srandom(12345);
	for (int t = 0; t < 2000; t++) {
		struct sbuf sa = SBUF_INIT, sbb = SBUF_INIT;
		int na = (int)(random() % 40), letters = 2 + (int)(random() % 5);
		char lines[80];
		int nb = 0;

		for (int i = 0; i < na; i++)
			lines[i] = (char)('a' + random() % letters);
		for (int i = 0; i < na; i++)
			sbuf_addf(&sa, "%c\n", lines[i]);
		for (int i = 0; i < na; i++) {
			long r = random() % 10;

			if (r == 0)
				continue; /* dropped */
			if (r == 1)
				sbuf_addf(&sbb, "%c\n", (char)('a' + random() % letters)), nb++;
			sbuf_addf(&sbb, "%c\n", lines[i]);
			nb++;
		}
		if (random() % 5 == 0 && sbb.len)
			sbb.buf[--sbb.len] = '\0'; /* no newline at the end */
		check_diff(sbuf_str(&sa), sbuf_str(&sbb), NULL);
		sbuf_release(&sa);
		sbuf_release(&sbb);
	}
	/* two unrelated files of 3,000 lines: past the edit distance the
	 * diff looks for, still a diff that applies */
	{
		struct sbuf sa = SBUF_INIT, sbb = SBUF_INIT;

		for (int i = 0; i < 3000; i++) {
			sbuf_addf(&sa, "a%ld\n", random());
			sbuf_addf(&sbb, "b%ld\n", random());
		}
		check_diff(sbuf_str(&sa), sbuf_str(&sbb), NULL);
		sbuf_release(&sa);
		sbuf_release(&sbb);
	}
}

static void test_base64(void **state)
{
	static const char *const vec[][2] = {{"", ""},
					     {"f", "Zg=="},
					     {"fo", "Zm8="},
					     {"foo", "Zm9v"},
					     {"foob", "Zm9vYg=="},
					     {"fooba", "Zm9vYmE="},
					     {"foobar", "Zm9vYmFy"}};
	static const char *const bad[] = {"Zg=", "Z===", "Zg=a", "Zm9v!A==", "=Zg=", "Zm 9", "Zg==Zg=="};
	unsigned char data[300], *out;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char *e = util_base64_encode(vec[i][0], strlen(vec[i][0]));

		assert_string_equal(e, vec[i][1]);
		assert_int_equal(util_base64_decode(e, strlen(e), &out, &len), 0);
		assert_int_equal(len, strlen(vec[i][0]));
		assert_memory_equal(out, vec[i][0], len);
		free(out);
		free(e);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(util_base64_decode(bad[i], strlen(bad[i]), &out, &len), -EINVAL);
	/* every length and every byte value, there and back */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(data); n++) {
		char *e = util_base64_encode(data, n);

		assert_int_equal(strlen(e), (n + 2) / 3 * 4);
		assert_int_equal(util_base64_decode(e, strlen(e), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, data, n);
		free(out);
		free(e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256),   cmocka_unit_test(test_utf8),       cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_rm_rf),    cmocka_unit_test(test_rm_rf_deep), cmocka_unit_test(test_read_fd_and_copy),
	    cmocka_unit_test(test_exe_kind), cmocka_unit_test(test_diff),       cmocka_unit_test(test_base64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
