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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256),   cmocka_unit_test(test_utf8),       cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_rm_rf),    cmocka_unit_test(test_rm_rf_deep), cmocka_unit_test(test_read_fd_and_copy),
	    cmocka_unit_test(test_exe_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
