// SPDX-License-Identifier: MIT
/*
 * test_linear.c - pn_linear against pn_ref_linear: every activation, with
 * and without bias, on the calling thread and over pools of 2 and 3
 * threads (row blocks and column slices), at odd and model shapes.
 *
 * Tolerance: the pre-activation is a float32 GEMM of `in` terms plus a
 * bias, 1e-5 * sqrt(in) * max(1, |ref|) (see test_gemm.c); every
 * activation has slope <= 1.13, and adds ~1e-6 of its own (test_act.c).
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

#define TEST_RNG_SEED 0x2545F4914F6CDD1Dull
#include "test_rand.h"

static void check_linear(struct pn_pool *pool, uint32_t rows, uint32_t in, uint32_t out,
			 uint32_t act, int bias)
{
	float *x = rand_buf((size_t)rows * in), *W = rand_buf((size_t)in * out);
	float *b = bias ? rand_buf(out) : NULL;
	float *y = rand_buf((size_t)rows * out), *r = rand_buf((size_t)rows * out);
	double tol = 1.2e-5 * sqrt(in) + 1e-6;

	pn_linear(pool, x, rows, in, W, b, out, act, y);
	pn_ref_linear(x, rows, in, W, b, out, act, r);
	for (size_t i = 0; i < (size_t)rows * out; i++)
		if (!(fabs(y[i] - r[i]) <= tol * fmax(1.0, fabs(r[i]))))
			fail_msg("pool %u rows %u %u->%u act %u bias %d: y[%zu] = %.9g, ref %.9g",
				 pn_pool_size(pool), rows, in, out, act, bias, i, y[i], r[i]);
	free(x);
	free(W);
	free(b);
	free(y);
	free(r);
}

static const uint32_t shapes[][3] = {	/* rows, in, out */
	{ 1, 1, 1 }, { 1, 7, 5 }, { 3, 13, 17 }, { 40, 300, 333 }, { 65, 33, 70 },
	{ 16, 512, 1536 }, { 130, 256, 768 }, { 1, 512, 512 },
};

static void run_all(struct pn_pool *pool)
{
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
			check_linear(pool, shapes[s][0], shapes[s][1], shapes[s][2], act, act & 1);
	/* Bias on/off for the activation the model uses. */
	check_linear(pool, 16, 512, 1536, PNB_ACT_RELU, 0);
	check_linear(pool, 130, 256, 768, PNB_ACT_NONE, 1);
}

static void test_linear_no_pool(void **state)
{
	run_all(NULL);
}

static void test_linear_pool2(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 0);

	assert_non_null(p);
	run_all(p);
	pn_pool_free(p);
}

static void test_linear_pool3(void **state)
{
	struct pn_pool *p = pn_pool_new(3, 0);

	assert_non_null(p);
	run_all(p);
	pn_pool_free(p);
}

/* rows = 0 writes nothing. */
static void test_linear_empty(void **state)
{
	float x = 1.0f, W = 1.0f, y = 7.0f;

	pn_linear(NULL, &x, 0, 1, &W, NULL, 1, PNB_ACT_NONE, &y);
	assert_true(y == 7.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_no_pool),
		cmocka_unit_test(test_linear_pool2),
		cmocka_unit_test(test_linear_pool3),
		cmocka_unit_test(test_linear_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
