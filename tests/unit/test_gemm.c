// SPDX-License-Identifier: MIT
/*
 * test_gemm.c - pn_gemm / pn_gemm_bt (oneDNN) against pn_ref_gemm.
 *
 * Tolerance: float32 GEMM of K terms. With inputs in [-1, 1] the rounding
 * error of a K-term sum grows like sqrt(K) * eps * |partial sums|; we allow
 * 1e-5 * sqrt(K) * max(1, |ref|), a x100 margin over eps = 6e-8 for any
 * blocking order oneDNN picks, while an indexing or stride bug shows as
 * O(1) errors.
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

#include "test_rand.h"

static void check_gemm(uint32_t M, uint32_t N, uint32_t K, uint32_t pad, float beta, int bt)
{
	uint32_t lda = K + pad, ldb = (bt ? K : N) + pad, ldc = N + pad;
	float *A = rand_buf((size_t)M * lda), *B = rand_buf((size_t)(bt ? N : K) * ldb);
	float *C = rand_buf((size_t)M * ldc), *R = malloc((size_t)M * ldc * sizeof(*R) + 1);
	float *Bn = malloc((size_t)K * N * sizeof(*Bn) + 1);	/* B as [K, N] for the ref */
	double tol_k = 1e-5 * sqrt(K > 0 ? K : 1);

	assert_non_null(R);
	assert_non_null(Bn);
	for (uint32_t k = 0; k < K; k++)
		for (uint32_t j = 0; j < N; j++)
			Bn[(size_t)k * N + j] = bt ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
	if (beta == 0.0f)	/* beta 0 must ignore C entirely, NaN included */
		for (size_t i = 0; i < (size_t)M * ldc; i++)
			C[i] = NAN;
	memcpy(R, C, (size_t)M * ldc * sizeof(*R));
	if (bt)
		pn_gemm_bt(M, N, K, A, lda, B, ldb, beta, C, ldc);
	else
		pn_gemm(M, N, K, A, lda, B, ldb, beta, C, ldc);
	pn_ref_gemm(M, N, K, A, lda, Bn, N, beta, R, ldc);
	for (uint32_t i = 0; i < M; i++)
		for (uint32_t j = 0; j < ldc; j++) {
			float got = C[(size_t)i * ldc + j], want = R[(size_t)i * ldc + j];

			if (j >= N) {	/* padding columns untouched */
				if (!(isnan(got) && isnan(want)) && memcmp(&got, &want, sizeof(got)))
					fail_msg("M%u N%u K%u: pad C[%u,%u] written", M, N, K, i, j);
				continue;
			}
			if (!(fabs(got - want) <= tol_k * fmax(1.0, fabs(want))))
				fail_msg("%s M%u N%u K%u pad%u beta%g: C[%u,%u] = %.9g, ref %.9g",
					 bt ? "gemm_bt" : "gemm", M, N, K, pad, beta, i, j, got, want);
		}
	free(A);
	free(B);
	free(C);
	free(R);
	free(Bn);
}

static const uint32_t shapes[][3] = {
	{ 1, 1, 1 }, { 1, 7, 3 }, { 5, 1, 9 }, { 17, 33, 65 }, { 16, 64, 64 },
	{ 128, 128, 64 }, { 16, 1536, 512 }, { 128, 96, 128 }, { 3, 5, 0 },
};

static void test_gemm_random(void **state)
{
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (uint32_t pad = 0; pad <= 3; pad += 3) {
			check_gemm(shapes[s][0], shapes[s][1], shapes[s][2], pad, 0.0f, 0);
			check_gemm(shapes[s][0], shapes[s][1], shapes[s][2], pad, 0.5f, 0);
		}
}

static void test_gemm_bt_random(void **state)
{
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (uint32_t pad = 0; pad <= 3; pad += 3) {
			check_gemm(shapes[s][0], shapes[s][1], shapes[s][2], pad, 0.0f, 1);
			check_gemm(shapes[s][0], shapes[s][1], shapes[s][2], pad, 1.0f, 1);
		}
}

/* Empty products do nothing at all (no oneDNN call with a zero dimension). */
static void test_gemm_empty(void **state)
{
	float c = 42.0f, a = 1.0f;

	pn_gemm(0, 1, 1, &a, 1, &a, 1, 0.0f, &c, 1);
	pn_gemm(1, 0, 1, &a, 1, &a, 1, 0.0f, &c, 1);
	pn_gemm_bt(0, 0, 0, &a, 1, &a, 1, 0.0f, &c, 1);
	assert_true(c == 42.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm_random),
		cmocka_unit_test(test_gemm_bt_random),
		cmocka_unit_test(test_gemm_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
