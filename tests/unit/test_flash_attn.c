// SPDX-License-Identifier: MIT
/*
 * test_flash_attn.c - pn_flash_attn_causal (lib/cpu/flash_attn.h) against
 * the plain double-precision reference pn_ref_attention (causal), at T of
 * 1, 7, 64, 65, 127, 128, 129, 200 and 1000 (one token, within one tile,
 * either side of the 128-row tile, several tiles with a partial last), hd 16 and 64,
 * 1 to 8 heads, with and without a pool, on a padded output (ldo > D: the
 * padding must stay untouched); and causality: changing q, k, v at rows
 * > t0 leaves rows <= t0 bit for bit as they were.
 *
 * Tolerance (absolute, per output): q in [-a, a], k, v in [-1, 1].
 *  - A score s = scale * q.k is a float dot product of hd terms, each
 *    |q_c k_c| <= a: oneDNN's blocked sums give about 1e-5 * sqrt(hd) * a
 *    error (the estimate test_gemm.c and test_attention.c use, x2 margin):
 *    2e-5 * sqrt(hd) * a * scale after scaling. A score error e moves the
 *    weights by a relative e at most, and each output is a convex
 *    combination of |v| <= 1, so the output moves by <= e.
 *  - The fast exp is a few ulp; the online softmax multiplies the
 *    accumulator and the sum by one rescale factor per key block (at most
 *    ceil(T / BK) = 8 here, each a few ulp), and the float sum of P V over
 *    T keys is relative to sum |p v| / l <= 1: together under
 *    (4 + ceil(T / BK)) * 2.4e-7 (2 ulp per step) absolute.
 * So tol = 2e-5 * sqrt(hd) * a * scale + (4 + ceil(T / BK)) * 2.4e-7: the
 * same score term as test_attention.c, with the rounding term growing with
 * the number of rescalings. a = 1 (flat softmax) and a = 6 (peaked: the
 * running max moves and the rescaling matters) are both checked.
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

#include "cpu/flash_attn.h"
#include "cpu/kernels.h"

#include "test_rand.h"

#define PAD 5	/* extra floats per output row */

static float *qkv_buf(uint32_t T, uint32_t D, float a)
{
	float *qkv = rand_buf((size_t)T * 3 * D);

	for (uint32_t t = 0; t < T; t++)
		for (uint32_t c = 0; c < D; c++)
			qkv[(size_t)t * 3 * D + c] *= a;
	return qkv;
}

static void run_flash(struct pn_pool *pool, const float *qkv, uint32_t T, uint32_t heads,
		      uint32_t hd, float *y)
{
	uint32_t D = heads * hd;
	float *scratch = malloc(pn_flash_attn_scratch(hd, pn_pool_size(pool)) * sizeof(float));

	assert_non_null(scratch);
	pn_flash_attn_causal(pool, qkv, qkv + D, qkv + 2 * D, 3 * D, T, heads, hd,
			     1.0f / sqrtf((float)hd), y, D + PAD, scratch);
	free(scratch);
}

static double max_err_seen;

static void check_flash(struct pn_pool *pool, uint32_t T, uint32_t heads, uint32_t hd, float a)
{
	uint32_t D = heads * hd, lens[1] = { T };
	float *qkv = qkv_buf(T, D, a), *r = malloc((size_t)T * D * sizeof(float) + 1);
	size_t ny = (size_t)T * (D + PAD);
	float *y = malloc(ny * sizeof(float) + 1);
	float scale = 1.0f / sqrtf((float)hd);
	double tol = 2e-5 * sqrt(hd) * a * scale +
		     (4.0 + (T + PN_FLASH_BK - 1) / PN_FLASH_BK) * 2.4e-7, worst = 0.0;

	assert_non_null(r);
	assert_non_null(y);
	for (size_t i = 0; i < ny; i++)
		y[i] = 1234.5f;
	run_flash(pool, qkv, T, heads, hd, y);
	pn_ref_attention(qkv, 1, T, lens, D, heads, scale, 1, r);
	for (uint32_t t = 0; t < T; t++) {
		for (uint32_t c = 0; c < D; c++) {
			double e = fabs(y[(size_t)t * (D + PAD) + c] - r[(size_t)t * D + c]);

			if (!(e <= tol))
				fail_msg("T %u heads %u hd %u a %g pool %u: t %u c %u: %.9g, ref %.9g "
					 "(tol %.3g)", T, heads, hd, a, pn_pool_size(pool), t, c,
					 y[(size_t)t * (D + PAD) + c], r[(size_t)t * D + c], tol);
			worst = e > worst ? e : worst;
		}
		for (uint32_t c = D; c < D + PAD; c++)
			assert_true(y[(size_t)t * (D + PAD) + c] == 1234.5f);
	}
	if (worst / tol > max_err_seen)
		max_err_seen = worst / tol;
	free(qkv);
	free(r);
	free(y);
}

static void run_all(struct pn_pool *pool)
{
	static const uint32_t Ts[] = { 1, 7, 64, 65, 127, 128, 129, 200, 1000 };

	for (size_t i = 0; i < sizeof(Ts) / sizeof(Ts[0]); i++) {
		check_flash(pool, Ts[i], 3, 16, 1.0f);
		check_flash(pool, Ts[i], 2, 64, 1.0f);
		check_flash(pool, Ts[i], 1, 64, 6.0f);
	}
	check_flash(pool, 130, 8, 16, 6.0f);
	check_flash(pool, 97, 1, 16, 1.0f);
	print_message("worst error / tolerance: %.3f\n", max_err_seen);
}

static void test_flash_no_pool(void **state)
{
	run_all(NULL);
}

static void test_flash_pool2(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 0);

	assert_non_null(p);
	run_all(p);
	pn_pool_free(p);
}

/* Rows > t0 rewritten (q, k and v: finite values) must not move rows <= t0 at all. */
static void check_causal(uint32_t T, uint32_t heads, uint32_t hd, uint32_t t0)
{
	uint32_t D = heads * hd;
	float *qkv = qkv_buf(T, D, 3.0f);
	size_t ny = (size_t)T * (D + PAD);
	float *y0 = calloc(ny, sizeof(float)), *y1 = calloc(ny, sizeof(float));

	assert_non_null(y0);
	assert_non_null(y1);
	run_flash(NULL, qkv, T, heads, hd, y0);
	for (uint32_t t = t0 + 1; t < T; t++)
		for (uint32_t c = 0; c < 3 * D; c++)
			qkv[(size_t)t * 3 * D + c] = 50.0f * frand();
	run_flash(NULL, qkv, T, heads, hd, y1);
	assert_memory_equal(y0, y1, (size_t)(t0 + 1) * (D + PAD) * sizeof(float));
	/* and the rewrite did reach the rows after t0 */
	if (t0 + 1 < T)
		assert_memory_not_equal(y0 + (size_t)(t0 + 1) * (D + PAD),
					y1 + (size_t)(t0 + 1) * (D + PAD), D * sizeof(float));
	free(qkv);
	free(y0);
	free(y1);
}

static void test_flash_causal(void **state)
{
	static const uint32_t t0s[] = { 0, 5, 63, 64, 100, 127, 128, 199 };

	for (size_t i = 0; i < sizeof(t0s) / sizeof(t0s[0]); i++) {
		check_causal(200, 2, 64, t0s[i]);
		check_causal(200, 3, 16, t0s[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flash_no_pool),
		cmocka_unit_test(test_flash_pool2),
		cmocka_unit_test(test_flash_causal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
