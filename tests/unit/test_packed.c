// SPDX-License-Identifier: MIT
/*
 * test_packed: GEMMs on packed weights (lib/cpu/packed.c) against the plain
 * reference, for the row counts the executor sends them, and the refusals
 * that send a caller back to sgemm.
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
#include "cpu/packed.h"
#include "uapi/pnb.h"
#include "test_rand.h"

/*
 * Tolerance: float32 dot products of K terms in another summation order
 * (oneDNN's blocked kernel vs a double-accumulated reference) differ by a
 * few ulps times sqrt(K); inputs are in [-1, 1): 1e-5 * sqrt(K) relative to
 * the row's magnitude is ample and still catches any wrong element.
 */
static void check(uint32_t M, uint32_t K, uint32_t N, uint32_t act, int bias)
{
	float *x = rand_buf((size_t)M * K), *W = rand_buf((size_t)K * N);
	float *b = bias ? rand_buf(N) : NULL;
	float *y = malloc((size_t)M * N * sizeof(float)), *r = malloc((size_t)M * N * sizeof(float));
	struct pn_packed_w *w = pn_packed_w_new(W, K, N, NULL);
	struct pn_packed_ctx *c = pn_packed_ctx_new();
	double tol = 1e-5 * sqrt((double)K) * (1 + sqrt((double)K));

	assert_non_null(w);
	assert_non_null(c);
	assert_int_equal(pn_packed_linear(c, w, M, x, b, act, y), 0);
	pn_ref_linear(x, M, K, W, b, N, act, r);
	for (size_t i = 0; i < (size_t)M * N; i++)
		if (fabs(y[i] - r[i]) > tol)
			fail_msg("M %u K %u N %u act %u: y[%zu] = %g, reference %g", M, K, N, act,
				 i, y[i], r[i]);
	/* the same call again (cached primitive) gives the same bits */
	memset(y, 0, (size_t)M * N * sizeof(float));
	assert_int_equal(pn_packed_linear(c, w, M, x, b, act, r), 0);
	assert_int_equal(pn_packed_linear(c, w, M, x, b, act, y), 0);
	assert_memory_equal(y, r, (size_t)M * N * sizeof(float));
	pn_packed_ctx_free(c);
	pn_packed_w_free(w);
	free(x); free(W); free(b); free(y); free(r);
}

static void test_shapes(void **state)
{
	(void)state;
	check(1, 512, 1536, PNB_ACT_NONE, 1);
	check(16, 512, 1536, PNB_ACT_RELU, 1);
	check(16, 1536, 512, PNB_ACT_NONE, 1);
	check(7, 256, 768, PNB_ACT_NONE, 0);
	check(64, 64, 96, PNB_ACT_TANH, 1);
	check(3, 33, 17, PNB_ACT_GELU, 1);	/* odd sizes */
}

/* Two executors share one packed copy; each has its own primitives (b's all
 * made up front by pn_packed_ctx_prepare, a's on first use): same floats. */
static void test_shared_weights_many_rows(void **state)
{
	const uint32_t K = 128, N = 192;
	float *x = rand_buf((size_t)PN_PACKED_MAX_ROWS * K), *W = rand_buf((size_t)K * N);
	float *y1 = malloc((size_t)PN_PACKED_MAX_ROWS * N * 4), *y2 = malloc((size_t)PN_PACKED_MAX_ROWS * N * 4);
	float *r = malloc((size_t)PN_PACKED_MAX_ROWS * N * 4);
	struct pn_packed_w *w = pn_packed_w_new(W, K, N, NULL);
	struct pn_packed_ctx *a = pn_packed_ctx_new(), *b = pn_packed_ctx_new();

	(void)state;
	assert_non_null(w);
	assert_int_equal(pn_packed_ctx_prepare(b, w), PN_PACKED_MAX_ROWS);
	assert_int_equal(pn_packed_ctx_prepare(b, w), PN_PACKED_MAX_ROWS);	/* idempotent */
	for (uint32_t M = 1; M <= PN_PACKED_MAX_ROWS; M++) {
		assert_int_equal(pn_packed_linear(a, w, M, x, NULL, PNB_ACT_NONE, y1), 0);
		assert_int_equal(pn_packed_linear(b, w, M, x, NULL, PNB_ACT_NONE, y2), 0);
		assert_memory_equal(y1, y2, (size_t)M * N * 4);
		pn_ref_linear(x, M, K, W, NULL, N, PNB_ACT_NONE, r);
		for (size_t i = 0; i < (size_t)M * N; i++)
			assert_true(fabs(y1[i] - r[i]) < 1e-5 * sqrt(K) * (1 + sqrt(K)));
	}
	pn_packed_ctx_free(a);
	pn_packed_ctx_free(b);
	pn_packed_w_free(w);
	free(x); free(W); free(y1); free(y2); free(r);
}

static void test_refusals(void **state)
{
	float W[8 * 8] = { 0 }, x[(PN_PACKED_MAX_ROWS + 1) * 8] = { 0 }, y[(PN_PACKED_MAX_ROWS + 1) * 8];
	struct pn_packed_w *w = pn_packed_w_new(W, 8, 8, NULL);
	struct pn_packed_ctx *c = pn_packed_ctx_new();

	(void)state;
	assert_int_equal(pn_packed_linear(c, w, PN_PACKED_MAX_ROWS + 1, x, NULL, 0, y), -1);
	assert_int_equal(pn_packed_linear(c, w, 0, x, NULL, 0, y), -1);
	assert_int_equal(pn_packed_linear(NULL, w, 4, x, NULL, 0, y), -1);
	assert_int_equal(pn_packed_linear(c, NULL, 4, x, NULL, 0, y), -1);
	assert_int_equal(pn_packed_linear(c, w, 4, x, NULL, 0, y), 0);
	pn_packed_ctx_free(c);
	pn_packed_w_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_shared_weights_many_rows),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests_name("packed", tests, NULL, NULL);
}
