// SPDX-License-Identifier: MIT
/*
 * test_ffn.c - pn_ffn against pn_ref_ffn: plain and gated, each
 * activation, biases present or NULL, rows of 1 up to several row blocks,
 * on the calling thread and over a pool of 2.
 *
 * Tolerance: two chained float32 GEMMs (D then ff terms) with inputs and
 * weights in [-1, 1], scaled so the hidden values stay O(1): each GEMM is
 * within 1e-5 * sqrt(K) relative (test_gemm.c), the second one amplifies
 * the first's error by about sqrt(ff) * |W2| / sqrt(ff); so
 * 1.2e-5 * (sqrt(D) + sqrt(ff)) * max(1, |ref|).
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

static void check_ffn(struct pn_pool *pool, uint32_t rows, uint32_t D, uint32_t ff, int gated,
		      uint32_t act, int bias)
{
	uint32_t hw = gated ? 2 * ff : ff;
	float *x = rand_buf((size_t)rows * D), *W1 = rand_buf((size_t)D * hw);
	float *W2 = rand_buf((size_t)ff * D), *b1 = rand_buf(hw), *b2 = rand_buf(D);
	float *y = rand_buf((size_t)rows * D), *r = rand_buf((size_t)rows * D);
	float *scratch = malloc(pn_ffn_scratch(rows, ff, gated) * sizeof(float) + 1);
	double tol = 1.2e-5 * (sqrt(D) + sqrt(ff));

	assert_non_null(scratch);
	/* Keep pre-activations O(1) whatever the width, like trained weights. */
	for (size_t i = 0; i < (size_t)D * hw; i++)
		W1[i] *= 2.0f / sqrtf((float)D);
	for (size_t i = 0; i < (size_t)ff * D; i++)
		W2[i] *= 2.0f / sqrtf((float)ff);
	pn_ffn(pool, x, rows, &(struct pn_ffn_w){
		.D = D, .ff = ff, .gated = gated,
		.W1 = W1, .b1 = bias ? b1 : NULL,
		.W2 = W2, .b2 = bias ? b2 : NULL }, act, y, scratch);
	pn_ref_ffn(x, rows, D, ff, gated, act, W1, bias ? b1 : NULL, W2, bias ? b2 : NULL, r);
	for (size_t i = 0; i < (size_t)rows * D; i++)
		if (!(fabs(y[i] - r[i]) <= tol * fmax(1.0, fabs(r[i]))))
			fail_msg("pool %u rows %u D %u ff %u gated %d act %u bias %d: out[%zu] = "
				 "%.9g, ref %.9g", pn_pool_size(pool), rows, D, ff, gated, act,
				 bias, i, y[i], r[i]);
	free(x);
	free(W1);
	free(W2);
	free(b1);
	free(b2);
	free(y);
	free(r);
	free(scratch);
}

static void run_all(struct pn_pool *pool)
{
	static const uint32_t shapes[][3] = {	/* rows, D, ff */
		{ 1, 1, 1 }, { 1, 8, 12 }, { 3, 7, 5 }, { 16, 512, 1536 }, { 130, 64, 96 },
		{ 200, 33, 17 },
	};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (int gated = 0; gated <= 1; gated++)
			for (uint32_t act = PNB_ACT_NONE; act < PNB_ACT_COUNT; act++)
				check_ffn(pool, shapes[s][0], shapes[s][1], shapes[s][2], gated,
					  act, (act + gated) & 1);
	check_ffn(pool, 130, 512, 1536, 0, PNB_ACT_RELU, 1);	/* USE lite, row blocks */
	check_ffn(pool, 64, 64, 96, 1, PNB_ACT_SILU, 1);
}

static void test_ffn_no_pool(void **state)
{
	run_all(NULL);
}

static void test_ffn_pool2(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 0);

	assert_non_null(p);
	run_all(p);
	pn_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ffn_no_pool),
		cmocka_unit_test(test_ffn_pool2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
