// SPDX-License-Identifier: MIT
/* test_strtab.c - string -> id lookup (lib/util/strtab.h): found, missing, duplicates, lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strtab.h"

enum { N = 2000 };

static void test_nul_terminated(void **state)
{
	static char buf[N][16];
	char *key[N];
	struct pn_strtab t;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(buf[i], sizeof(buf[i]), "k%d", i % 1500);	/* ids 1500.. repeat */
		key[i] = buf[i];
	}
	assert_int_equal(pn_strtab_init(&t, key, NULL, N), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pn_strtab_add(&t, (uint32_t)i), i < 1500 ? -1 : i - 1500);
	for (int i = 0; i < 1500; i++)
		assert_int_equal(pn_strtab_find(&t, buf[i], strlen(buf[i])), i);
	assert_int_equal(pn_strtab_find(&t, "k1", 1), -1);	/* a prefix is no key */
	assert_int_equal(pn_strtab_find(&t, "k10", 2), 1);	/* "k1" */
	assert_int_equal(pn_strtab_find(&t, "k99999", 6), -1);
	pn_strtab_free(&t);
}

/* With lengths, keys may hold any bytes, NUL included. */
static void test_lengths(void **state)
{
	char a[] = { 'x', 0, 'y' }, b[] = { 'x', 0 }, c[] = { 'x' };
	char *key[3] = { a, b, c };
	uint32_t len[3] = { 3, 2, 1 };
	struct pn_strtab t;

	(void)state;
	assert_int_equal(pn_strtab_init(&t, key, len, 3), 0);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(pn_strtab_add(&t, i), -1);
	assert_int_equal(pn_strtab_find(&t, a, 3), 0);
	assert_int_equal(pn_strtab_find(&t, b, 2), 1);
	assert_int_equal(pn_strtab_find(&t, c, 1), 2);
	assert_int_equal(pn_strtab_find(&t, "", 0), -1);
	pn_strtab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nul_terminated),
		cmocka_unit_test(test_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
