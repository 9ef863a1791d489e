// SPDX-License-Identifier: MIT
/*
 * test_ptx_pool.c - kernels/ptx/pool.ptx (pool_mean_f32, pool_cls_f32) in
 * the PTX interpreter against pn_pool_mean / pn_pool_cls.
 *
 * Tolerance: none. pool_mean_f32 adds each column's tokens from t = 0 up,
 * starting at 0.0f, and divides by (float)L, exactly the CPU twin's IEEE
 * operations in the CPU twin's order, and pool_cls_f32 is a copy; so the
 * results must be the same bits. Padding rows (t >= lens[b]) hold NaN: one
 * that leaked into a mean would show.
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
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"

#define PTX_FILE "kernels/ptx/pool.ptx"

static uint64_t rng = 0x853c49e6748fea9bull;

static float frand(float lo, float hi)
{
	return ptx_frand(&rng, lo, hi);
}

static int setup(void **state)
{
	return ptx_suite_setup(state, PTX_FILE);
}

/* B sequences of T tokens, width d; lens as given; block threads; x and y misaligned by mis. */
static void pool_case(struct ptx_suite *e, uint32_t B, uint32_t T, uint32_t d, const uint32_t *lens,
		      uint32_t block, unsigned mis)
{
	size_t n = (size_t)B * T * d;
	float *x = malloc(n * 4 + 4), *y = malloc((size_t)B * d * 4 + 4);
	float *ref = malloc((size_t)B * d * 4 + 4);
	uint32_t gx = (d + block - 1) / block;

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(ref);
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < T; t++)
			for (uint32_t i = 0; i < d; i++)
				x[((size_t)b * T + t) * d + i] =
					t < lens[b] ? frand(-100.0f, 100.0f) : NAN;
	uint64_t dx = ptx_upload(e->d, x, n * 4, mis), dl = ptx_upload(e->d, lens, B * 4, 0);
	uint64_t dy = ptx_upload(e->d, x, (size_t)B * d * 4, mis);
	void *p[] = { &dx, &dy, &dl, &B, &T, &d };

	ptx_launch(e, "pool_mean_f32", (const uint32_t[3]){ gx, B, 1 },
		   (const uint32_t[3]){ block, 1, 1 }, 0, p, 6);
	pn_pool_mean(x, B, T, lens, d, ref);
	ptx_download(e->d, dy, y, (size_t)B * d * 4);
	for (size_t j = 0; j < (size_t)B * d; j++)
		if (memcmp(&y[j], &ref[j], 4))
			fail_msg("pool_mean B=%u T=%u d=%u mis=%u [%zu]: %.9g, cpu %.9g", B, T, d, mis,
				 j, y[j], ref[j]);

	/* CLS reads token 0 only: give every sequence a real first token */
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t i = 0; i < d; i++)
			x[(size_t)b * T * d + i] = frand(-1.0f, 1.0f);
	assert_int_equal(ptxi_write(e->d, dx, x, n * 4), 0);
	void *q[] = { &dx, &dy, &B, &T, &d };

	ptx_launch(e, "pool_cls_f32", (const uint32_t[3]){ gx, B, 1 },
		   (const uint32_t[3]){ block, 1, 1 }, 0, q, 5);
	pn_pool_cls(x, B, T, d, ref);
	ptx_download(e->d, dy, y, (size_t)B * d * 4);
	assert_memory_equal(y, ref, (size_t)B * d * 4);
	free(x);
	free(y);
	free(ref);
}

static void test_pool(void **state)
{
	static const uint32_t dims[] = { 1, 3, 31, 64, 384, 1000 };
	/* empty, one token, partial, full, and longer than T (the CPU clamps to T) */
	static const uint32_t lens[] = { 0, 1, 4, 7, 9 };

	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		pool_case(*state, 5, 7, dims[i], lens, 128, 0);
		pool_case(*state, 5, 7, dims[i], lens, 32, 4);
	}
}

/* One long sequence (many terms in each column's sum) and all-empty batches. */
static void test_pool_edges(void **state)
{
	static const uint32_t full[] = { 300 }, empty[] = { 0, 0, 0 };

	pool_case(*state, 1, 300, 64, full, 64, 0);
	pool_case(*state, 3, 4, 31, empty, 32, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_pool_edges),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
