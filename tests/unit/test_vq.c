// SPDX-License-Identifier: MIT
/*
 * test_vq: nearest-code lookup as a GEMM (lib/cpu/vq.c) against the direct
 * ||x - e||^2 scan of the reference twin, and the gather of the VQ node.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/poly.h"

static uint32_t seed = 3;

static float *rnd(size_t n, float scale)
{
	float *p = malloc(n * sizeof(*p) + 4);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = scale * ((float)(seed >> 8) / 16777216.0f - 0.5f);
	}
	return p;
}

static float *norms(const float *cb, uint32_t K, uint32_t D)
{
	float *n = calloc(K, sizeof(*n));

	for (uint32_t k = 0; k < K; k++)
		for (uint32_t i = 0; i < D; i++)
			n[k] += cb[(size_t)k * D + i] * cb[(size_t)k * D + i];
	return n;
}

/*
 * The GEMM form loses ~1e-6 relative to cancellation (||x||^2 + ||e||^2 -
 * 2 x.e): where two codes are that close, either is right. So: the chosen
 * code's true distance is within 1e-4 (1 + d) of the minimum, and on these
 * random inputs the codes agree almost always (>= 99%).
 */
static void check_assign(uint32_t rows, uint32_t K, uint32_t D)
{
	float *x = rnd((size_t)rows * D, 2.0f), *cb = rnd((size_t)K * D, 2.0f);
	float *en = norms(cb, K, D), *d2 = malloc(rows * 4 + 4), *rd2 = malloc(rows * 4 + 4);
	float *scr = malloc(pn_vq_scratch(K) * 4);
	int32_t *codes = malloc(rows * 4 + 4), *ref = malloc(rows * 4 + 4);
	uint32_t same = 0;

	pn_vq_assign(x, rows, D, cb, en, K, codes, d2, scr);
	pn_ref_vq_assign(x, rows, D, cb, K, ref, rd2);
	for (uint32_t r = 0; r < rows; r++) {
		double d = 0;

		assert_true(codes[r] >= 0 && (uint32_t)codes[r] < K);
		for (uint32_t i = 0; i < D; i++) {
			double t = (double)x[(size_t)r * D + i] - cb[(size_t)codes[r] * D + i];

			d += t * t;
		}
		assert_true(d - rd2[r] <= 1e-4 * (1 + rd2[r]));
		assert_true(fabs(d2[r] - d) <= 1e-4 * (1 + d));
		same += codes[r] == ref[r];
	}
	assert_true(same * 100 >= rows * 99);
	free(x); free(cb); free(en); free(d2); free(rd2); free(scr); free(codes); free(ref);
}

static void test_assign_matches_reference(void **state)
{
	check_assign(1, 1, 4);
	check_assign(7, 5, 3);
	check_assign(64, 32, 16);
	check_assign(200, 256, 24);	/* several row blocks */
	check_assign(65, 3, 64);
}

/* Exact codebook rows map to themselves; ties and NaN rows go to the lowest index. */
static void test_exact_rows_ties_and_nan(void **state)
{
	const uint32_t K = 6, D = 5;
	float *cb = rnd((size_t)K * D, 2.0f), *en, x[4 * 5], scr[64 * 6];
	int32_t codes[4];

	memcpy(cb + 4 * D, cb + 1 * D, D * sizeof(float));	/* codes 1 and 4 equal */
	en = norms(cb, K, D);
	memcpy(x, cb + 3 * D, D * sizeof(float));
	memcpy(x + D, cb + 4 * D, D * sizeof(float));
	memcpy(x + 2 * D, cb + 5 * D, D * sizeof(float));
	for (uint32_t i = 0; i < D; i++)
		x[3 * D + i] = NAN;
	pn_vq_assign(x, 4, D, cb, en, K, codes, NULL, scr);
	assert_int_equal(codes[0], 3);
	assert_int_equal(codes[1], 1);
	assert_int_equal(codes[2], 5);
	assert_int_equal(codes[3], 0);
	free(cb);
	free(en);
}

static void test_gather(void **state)
{
	const float table[3 * 2] = { 1, 2, 3, 4, 5, 6 };
	const int32_t codes[4] = { 2, 0, 2, 1 };
	float out[8];
	const float want[8] = { 5, 6, 1, 2, 5, 6, 3, 4 };

	pn_vq_gather(codes, 4, table, 2, out);
	assert_memory_equal(out, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign_matches_reference),
		cmocka_unit_test(test_exact_rows_ties_and_nan),
		cmocka_unit_test(test_gather),
	};

	return cmocka_run_group_tests_name("vq", tests, NULL, NULL);
}
