// SPDX-License-Identifier: MIT
/*
 * gemm.c - float32 GEMM through oneDNN's dnnl_sgemm (row-major).
 *
 * oneDNN runs its GEMM on omp_get_max_threads() OpenMP threads. Our
 * parallelism is the pn_pool (one thread per core), so every thread that
 * calls in (pool worker or not) is held to one OpenMP thread, lazily here,
 * once per thread: a second GEMM thread would only fight the pool's.
 */
#include <omp.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu/kernels.h"
#include "util/pn_err.h"

static _Thread_local int omp_single;

void pn_gemm_one_thread(void)
{
	if (!omp_single) {
		omp_set_num_threads(1);
		omp_single = 1;
	}
}

/* K == 0 leaves C = beta * C; beta == 0 must not turn garbage (NaN) into NaN. */
static void scale_c(uint32_t M, uint32_t N, float beta, float *C, uint32_t ldc)
{
	for (uint32_t i = 0; i < M; i++) {
		float *c = C + (size_t)i * ldc;

		if (beta == 0.0f) {
			memset(c, 0, N * sizeof(*c));
		} else {
			for (uint32_t j = 0; j < N; j++)
				c[j] *= beta;
		}
	}
}

static void sgemm(char tb, uint32_t M, uint32_t N, uint32_t K, const float *A,
		  uint32_t lda, const float *B, uint32_t ldb, float beta, float *C,
		  uint32_t ldc)
{
	dnnl_status_t st;

	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		scale_c(M, N, beta, C, ldc);
		return;
	}
	pn_gemm_one_thread();
	st = dnnl_sgemm('N', tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
	/* Only bad arguments fail, i.e. a caller's bug (ld < row width). */
	PN_ASSERT(st == dnnl_success);
}

void pn_gemm(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
	     const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc)
{
	sgemm('N', M, N, K, A, lda, B, ldb, beta, C, ldc);
}

void pn_gemm_bt(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
		const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc)
{
	sgemm('T', M, N, K, A, lda, B, ldb, beta, C, ldc);
}
