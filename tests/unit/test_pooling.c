// SPDX-License-Identifier: MIT
/*
 * test_pooling.c - pn_pool_mean, pn_pool_cls and pn_l2norm against their
 * references and their definitions: lens 0, 1, T and between, T = 1,
 * zero rows for the L2 epsilon.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/kernels.h"
#include "uapi/pnb.h"

#include "test_rand.h"

/*
 * Mean tolerance: a float sum of L <= T terms in [-1, 1] is within
 * L * eps * max|x| of the exact sum, so the mean within eps * max|x|
 * = 1.2e-7 plus the division's half ulp: 2.5e-7 absolute.
 */
static void test_pool_mean(void **state)
{
	static const struct { uint32_t B, T, d; uint32_t lens[4]; } cases[] = {
		{ 4, 7, 5, { 0, 1, 7, 3 } }, { 1, 1, 512, { 1 } }, { 2, 128, 512, { 128, 77 } },
		{ 3, 1, 3, { 0, 1, 0 } },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t B = cases[c].B, T = cases[c].T, d = cases[c].d;
		float *x = rand_buf((size_t)B * T * d), *y = rand_buf((size_t)B * d);
		float *r = rand_buf((size_t)B * d);

		for (uint32_t b = 0; b < B; b++)	/* padding must not leak in */
			for (uint32_t t = cases[c].lens[b]; t < T; t++)
				for (uint32_t i = 0; i < d; i++)
					x[((size_t)b * T + t) * d + i] = NAN;
		pn_pool_mean(x, B, T, cases[c].lens, d, y);
		pn_ref_pool_mean(x, B, T, cases[c].lens, d, r);
		for (size_t i = 0; i < (size_t)B * d; i++)
			if (!(fabsf(y[i] - r[i]) <= 2.5e-7f))
				fail_msg("case %zu: y[%zu] = %.9g, ref %.9g", c, i, y[i], r[i]);
		for (uint32_t b = 0; b < B; b++)
			if (cases[c].lens[b] == 0)
				for (uint32_t i = 0; i < d; i++)
					assert_true(y[(size_t)b * d + i] == 0.0f);
		free(x);
		free(y);
		free(r);
	}
}

/* CLS is row t = 0 of each sequence, bit for bit. */
static void test_pool_cls(void **state)
{
	uint32_t B = 3, T = 4, d = 9;
	float *x = rand_buf((size_t)B * T * d), *y = rand_buf((size_t)B * d);

	pn_pool_cls(x, B, T, d, y);
	for (uint32_t b = 0; b < B; b++)
		assert_memory_equal(y + (size_t)b * d, x + (size_t)b * T * d, d * sizeof(float));
	free(x);
	free(y);
}

/*
 * L2 tolerance: the sum of squares is taken in double, then one float
 * rsqrt and one multiply: 3e-7 relative (2.5 ulp).
 */
static void test_l2norm(void **state)
{
	static const uint32_t dims[] = { 1, 7, 8, 512, 513 };

	for (size_t s = 0; s < sizeof(dims) / sizeof(dims[0]); s++) {
		uint32_t d = dims[s], rows = 4;
		float *x = rand_buf((size_t)rows * d), *r = malloc((size_t)rows * d * sizeof(*r));

		assert_non_null(r);
		for (uint32_t i = 0; i < d; i++) {
			x[i] = 0.0f;			/* zero row: stays zero */
			x[d + i] *= 1e-8f;		/* below eps: divided by sqrt(eps) */
			x[2 * d + i] *= 1e4f;
		}
		memcpy(r, x, (size_t)rows * d * sizeof(*r));
		pn_l2norm(x, rows, d, 1e-12f);
		pn_ref_l2norm(r, rows, d, 1e-12f);
		for (size_t i = 0; i < (size_t)rows * d; i++)
			if (!(fabsf(x[i] - r[i]) <= 3e-7f * fabsf(r[i])))
				fail_msg("d %u: x[%zu] = %.9g, ref %.9g", d, i, x[i], r[i]);
		for (uint32_t i = 0; i < d; i++)
			assert_true(x[i] == 0.0f);
		free(x);
		free(r);
	}
}

/* The reference against the definition: (3, 4) -> (0.6, 0.8). */
static void test_l2norm_known(void **state)
{
	float v[2] = { 3.0f, 4.0f }, w[2] = { 3.0f, 4.0f };

	pn_ref_l2norm(v, 1, 2, 1e-12f);
	pn_l2norm(w, 1, 2, 1e-12f);
	assert_float_equal(v[0], 0.6f, 1e-7);
	assert_float_equal(v[1], 0.8f, 1e-7);
	assert_float_equal(w[0], 0.6f, 1e-7);
	assert_float_equal(w[1], 0.8f, 1e-7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_mean),
		cmocka_unit_test(test_pool_cls),
		cmocka_unit_test(test_l2norm),
		cmocka_unit_test(test_l2norm_known),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
