// SPDX-License-Identifier: MIT
/*
 * test_norm.c - pn_layernorm / pn_rmsnorm against their double-precision
 * references, on random rows, rows with a large common offset, constant
 * rows and odd widths.
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
 * Tolerance. The kernel rounds the mean to float before subtracting it, an
 * error of up to eps/2 * |mean|, which the normalisation magnifies by rstd;
 * the rest is a few float roundings of the output. So per row:
 * |err| <= 4e-7 * (1 + |mean| * rstd) * |g| + 4e-7 * |ref| (about 3 ulp,
 * twice the analysis, far below what a wrong formula gives).
 */
static void check_rows(const float *x, uint32_t rows, uint32_t d, const float *g,
		       const float *b, float eps, int rms)
{
	float *y = malloc((size_t)rows * d * sizeof(*y) + 1), *r = malloc((size_t)rows * d * sizeof(*r) + 1);

	assert_non_null(y);
	assert_non_null(r);
	if (rms) {
		pn_rmsnorm(x, rows, d, g, eps, y);
		pn_ref_rmsnorm(x, rows, d, g, eps, r);
	} else {
		pn_layernorm(x, rows, d, g, b, eps, y);
		pn_ref_layernorm(x, rows, d, g, b, eps, r);
	}
	for (uint32_t i = 0; i < rows; i++) {
		double mean = 0.0, var = 0.0;

		for (uint32_t k = 0; k < d; k++)
			mean += x[(size_t)i * d + k];
		mean /= d;
		for (uint32_t k = 0; k < d; k++)
			var += (x[(size_t)i * d + k] - mean) * (x[(size_t)i * d + k] - mean);
		var /= d;
		double mag = rms ? 0.0 : fabs(mean) / sqrt(var + eps);

		for (uint32_t k = 0; k < d; k++) {
			size_t j = (size_t)i * d + k;
			double tol = 4e-7 * (1.0 + mag) * fabs(g[k]) + 4e-7 * fabs(r[j]);

			if (!(fabs(y[j] - r[j]) <= tol))
				fail_msg("%s d %u row %u col %u: %.9g, ref %.9g (tol %.3g)",
					 rms ? "rmsnorm" : "layernorm", d, i, k, y[j], r[j], tol);
		}
	}
	free(y);
	free(r);
}

static const uint32_t widths[] = { 1, 2, 7, 8, 9, 256, 512, 513 };

static void test_norm_random(void **state)
{
	for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
		uint32_t d = widths[w], rows = 5;
		float *x = rand_buf((size_t)rows * d), *g = rand_buf(d), *b = rand_buf(d);

		for (size_t i = 0; i < (size_t)rows * d; i++)	/* spread of magnitudes */
			x[i] *= (float)(1 + i % 5) * 3.0f;
		for (int rms = 0; rms <= 1; rms++) {
			check_rows(x, rows, d, g, b, 1e-6f, rms);
			check_rows(x, 1, d, g, b, 1e-5f, rms);
		}
		free(x);
		free(g);
		free(b);
	}
}

/* Rows far from zero: the two-pass variance must not cancel. */
static void test_layernorm_offset(void **state)
{
	uint32_t d = 512, rows = 3;
	float *x = rand_buf((size_t)rows * d), *g = rand_buf(d), *b = rand_buf(d);

	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t k = 0; k < d; k++)
			x[(size_t)i * d + k] += 100.0f * (float)(i + 1);
	check_rows(x, rows, d, g, b, 1e-6f, 0);
	free(x);
	free(g);
	free(b);
}

/* A constant row has zero variance: the output is exactly beta (and finite). */
static void test_layernorm_constant_row(void **state)
{
	uint32_t d = 33;
	float x[33], y[33], *g = rand_buf(d), *b = rand_buf(d);

	for (int c = 0; c < 3; c++) {
		float v = (float[]){ 0.0f, 3.25f, -1234.5f }[c];

		for (uint32_t k = 0; k < d; k++)
			x[k] = v;
		pn_layernorm(x, 1, d, g, b, 1e-6f, y);
		for (uint32_t k = 0; k < d; k++)
			assert_true(y[k] == b[k]);
	}
	free(g);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_norm_random),
		cmocka_unit_test(test_layernorm_offset),
		cmocka_unit_test(test_layernorm_constant_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
