/* SPDX-License-Identifier: MIT */
/*
 * A minimal stand-in for cmocka, so that tests/unit/test_region.c links
 * statically into the VM's initramfs (Debian ships no static libcmocka).
 * Only what test_region.c uses; the first failed assertion ends the run.
 */
#ifndef VM_CMOCKA_SHIM_H
#define VM_CMOCKA_SHIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CMUnitTest {
	const char *name;
	void (*fn)(void **state);
};

#define cmocka_unit_test(f) { #f, f }

#define shim_fail(...)							\
	do {								\
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);		\
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n");					\
		exit(1);						\
	} while (0)

#define fail_msg(...) shim_fail(__VA_ARGS__)
#define assert_true(c) do { if (!(c)) shim_fail("assert_true(%s)", #c); } while (0)
#define assert_false(c) do { if (c) shim_fail("assert_false(%s)", #c); } while (0)
#define assert_null(p) do { if ((p) != NULL) shim_fail("assert_null(%s)", #p); } while (0)
#define assert_non_null(p) do { if ((p) == NULL) shim_fail("assert_non_null(%s)", #p); } while (0)
#define assert_int_equal(a, b)						\
	do {								\
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);	\
		if (_a != _b)						\
			shim_fail("%s = %jd, expected %s = %jd", #a, _a, #b, _b); \
	} while (0)
#define assert_string_equal(a, b)					\
	do {								\
		if (strcmp((a), (b)))					\
			shim_fail("'%s' != '%s'", (a), (b));		\
	} while (0)

static inline int shim_run(const struct CMUnitTest *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		printf("[ RUN      ] %s\n", t[i].name);
		fflush(stdout);
		t[i].fn(NULL);
		printf("[       OK ] %s\n", t[i].name);
	}
	printf("[  PASSED  ] %zu test(s).\n", n);
	return 0;
}

#define cmocka_run_group_tests(tests, setup, teardown)			\
	shim_run((tests), sizeof(tests) / sizeof((tests)[0]))

#endif /* VM_CMOCKA_SHIM_H */
