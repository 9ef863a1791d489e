// SPDX-License-Identifier: MIT
/*
 * test_textset: the eval / calibration files (lib/compile/textset.c): the
 * fixtures' JSON shape (labels, a skipped empty unlabelled entry), plain
 * lines, and every bad file named with its entry and what was expected.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "compile/polyc.h"

static char path[64];

static void put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void good_json(void **state)
{
	struct pn_textset s;

	(void)state;
	put("[{\"text\":\"Good case.\",\"class\":1},{\"text\":\"bad\",\"class\":0},"
	    "{\"text\":\"no label\"},{\"text\":\"\",\"class\":null}]");
	assert_int_equal(pn_textset_load(path, &s, NULL), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.text[0], "Good case.");
	assert_int_equal(s.len[0], 10);
	assert_int_equal(s.label[0], 1);
	assert_int_equal(s.label[1], 0);
	assert_int_equal(s.label[2], -1);
	pn_textset_free(&s);
}

static void good_lines(void **state)
{
	struct pn_textset s;

	(void)state;
	put("first line\r\n\nsecond\n");
	assert_int_equal(pn_textset_load(path, &s, NULL), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text[0], "first line");
	assert_string_equal(s.text[1], "second");
	assert_int_equal(s.label[1], -1);
	pn_textset_free(&s);
}

static void expect_error(const char *content, const char *needle)
{
	struct pn_textset s;
	struct pn_err err;

	put(content);
	assert_int_equal(pn_textset_load(path, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, path));
	if (!strstr(err.msg, needle))
		print_message("message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, needle));
}

static void bad_files(void **state)
{
	struct pn_textset s;
	struct pn_err err;

	(void)state;
	expect_error("[{\"text\":\"a\",\"class\":1},", "invalid JSON");
	expect_error("{\"text\":\"a\"}", "expected a JSON list");
	expect_error("[{\"text\":\"a\",\"class\":1},{\"txt\":\"b\"}]", "entry 1: expected an object");
	expect_error("[{\"text\":\"a\",\"class\":2}]", "entry 0: \"class\" must be 0 or 1");
	expect_error("[{\"text\":\"\",\"class\":1}]", "entry 0: empty");
	expect_error("[]", "no texts");
	expect_error("\n\n", "no texts");
	assert_int_equal(pn_textset_load("/nonexistent/x.json", &s, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/x.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_json),
		cmocka_unit_test(good_lines),
		cmocka_unit_test(bad_files),
	};
	int r;

	snprintf(path, sizeof(path), "/tmp/test_textset_%d.json", getpid());
	r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	return r;
}
