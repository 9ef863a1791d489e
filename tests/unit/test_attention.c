// SPDX-License-Identifier: MIT
/*
 * test_attention.c - pn_attention against pn_ref_attention (both the fused
 * short-sequence loop and the two-GEMM path, causal on and off, lens of 1,
 * T and between, with and without a pool), and pn_softmax_rows against
 * pn_ref_softmax_rows.
 *
 * Attention tolerance: q, k, v in [-1, 1]. A score is a float dot product
 * of hd terms (error <= ~1e-5 * sqrt(hd) as in test_gemm.c), times scale;
 * the fast exp is within a few ulp; each output is a convex combination of
 * |v| <= 1, so its absolute error is about max score error + 1e-6:
 * 2e-5 * sqrt(hd) * scale + 2e-6 absolute.
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

static void check_attention(struct pn_pool *pool, uint32_t B, uint32_t T, const uint32_t *lens,
			    uint32_t D, uint32_t heads, int causal)
{
	size_t n = (size_t)B * T;
	float *qkv = rand_buf(n * 3 * D), *y = rand_buf(n * D), *r = rand_buf(n * D);
	float *scratch = malloc(pn_attention_scratch(T, pn_pool_size(pool)) * sizeof(float) + 1);
	uint32_t hd = D / heads;
	float scale = 1.0f / sqrtf((float)hd);
	double tol = 2e-5 * sqrt(hd) * scale + 2e-6;

	assert_non_null(scratch);
	/* Padded rows hold NaN: any read of a masked key or query would show. */
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = lens[b]; t < T; t++)
			for (uint32_t c = 0; c < 3 * D; c++)
				qkv[((size_t)b * T + t) * 3 * D + c] = NAN;
	pn_attention(pool, qkv, B, T, lens, &(struct pn_attn){ .D = D, .heads = heads,
		     .scale = scale, .causal = causal }, y, scratch);
	pn_ref_attention(qkv, B, T, lens, D, heads, scale, causal, r);
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < lens[b]; t++)
			for (uint32_t c = 0; c < D; c++) {
				size_t i = ((size_t)b * T + t) * D + c;

				if (!(fabs(y[i] - r[i]) <= tol))
					fail_msg("B%u T%u D%u h%u causal %d pool %u: b %u t %u c %u: "
						 "%.9g, ref %.9g", B, T, D, heads, causal,
						 pn_pool_size(pool), b, t, c, y[i], r[i]);
			}
	free(qkv);
	free(y);
	free(r);
	free(scratch);
}

static void run_all(struct pn_pool *pool)
{
	static const uint32_t l1[] = { 1 }, l3[] = { 1, 17, 3 }, l2[] = { 40, 33 },
			      lt[] = { 2, 4, 63 }, lm[] = { 128, 1, 100 }, l0[] = { 0, 5 };

	for (int causal = 0; causal <= 1; causal++) {
		check_attention(pool, 1, 1, l1, 8, 2, causal);
		check_attention(pool, 3, 17, l3, 64, 4, causal);
		check_attention(pool, 2, 40, l2, 256, 4, causal);
		check_attention(pool, 3, 63, lt, 24, 3, causal);
		check_attention(pool, 3, 128, lm, 512, 4, causal);
		check_attention(pool, 2, 5, l0, 12, 1, causal);
	}
}

static void test_attention_no_pool(void **state)
{
	run_all(NULL);
}

static void test_attention_pool2(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 0);

	assert_non_null(p);
	run_all(p);
	pn_pool_free(p);
}

/*
 * Softmax tolerance: the fast exp and the normalisation are a few ulp each:
 * 4e-6 relative plus 1e-30 absolute for the underflowing tail (the kernel
 * flushes exp(x) to 0 below x = -87, where the true value is < 2e-38).
 */
static void check_softmax(float *x, uint32_t rows, uint32_t d)
{
	float *y = malloc((size_t)rows * d * sizeof(*y) + 1);

	assert_non_null(y);
	memcpy(y, x, (size_t)rows * d * sizeof(*y));
	pn_softmax_rows(y, rows, d);
	pn_ref_softmax_rows(x, rows, d);
	for (uint32_t i = 0; i < rows; i++) {
		double sum = 0.0;

		for (uint32_t k = 0; k < d; k++) {
			size_t j = (size_t)i * d + k;

			if (!(fabsf(y[j] - x[j]) <= 4e-6f * x[j] + 1e-30f))
				fail_msg("softmax d %u row %u col %u: %.9g, ref %.9g", d, i, k, y[j],
					 x[j]);
			sum += y[j];
		}
		assert_true(fabs(sum - 1.0) <= 1e-6 * d);
	}
	free(y);
}

static void test_softmax_rows(void **state)
{
	static const uint32_t dims[] = { 1, 2, 15, 16, 17, 128, 1000 };

	for (size_t s = 0; s < sizeof(dims) / sizeof(dims[0]); s++) {
		uint32_t d = dims[s];
		float *x = rand_buf(4 * (size_t)d);

		for (uint32_t k = 0; k < d; k++) {
			x[k] *= 10.0f;			/* ordinary logits */
			x[d + k] *= 3e4f;		/* large magnitude: most weights underflow */
			x[2 * d + k] = -5e3f;		/* all equal, far below 0: uniform */
			x[3 * d + k] = 1e30f * x[3 * d + k];	/* huge: one-hot in practice */
		}
		check_softmax(x, 4, d);
		free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attention_no_pool),
		cmocka_unit_test(test_attention_pool2),
		cmocka_unit_test(test_softmax_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
