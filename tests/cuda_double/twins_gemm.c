// SPDX-License-Identifier: MIT
/*
 * twins_gemm.c - CPU twins of kernels/ptx/gemm_f32.ptx (gemm_f32,
 * gemm_f32_rows) and kernels/ptx/gemm_bf16.ptx: C = act(A B + bias), A
 * [M,K], B [K,N], C [M,N] row-major f32, bias [N] or 0.
 * Both f32 entries sum each output's K products in k order, as the
 * kernels' FMA chains do (here without fusing: ~1e-7 apart); the grid's
 * tiles bound what is written (64 x 64 per CTA for gemm_f32, 16 rows x 32
 * columns for gemm_f32_rows), so a grid short of the matrix leaves the rest
 * of C untouched, as the kernel does. Loops run i-k-j, accumulating in C's
 * row.
 */
#include <string.h>

#include "tests/cuda_double/twins_int.h"
#include "tests/cuda_double/twins_math.h"

enum { P_A, P_B, P_BIAS, P_C, P_M, P_N, P_K, P_ACT };

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* C[0, mc) x [0, nc) of act(A B + bias): the rows and columns the grid covers. */
static int gemm_rows(struct tw *t, uint32_t tile_m, uint32_t tile_n)
{
	uint64_t a = tw_u64(t, P_A), b = tw_u64(t, P_B), bias = tw_u64(t, P_BIAS),
		 c = tw_u64(t, P_C);
	uint32_t M = tw_u32(t, P_M), N = tw_u32(t, P_N), K = tw_u32(t, P_K),
		 act = tw_u32(t, P_ACT);
	uint32_t mc = min_u32(M, (uint64_t)t->grid[1] * tile_m);
	uint32_t nc = min_u32(N, (uint64_t)t->grid[0] * tile_n);
	const float *A, *B, *bv = NULL;
	float *C;

	if (t->block[0] != 256 || t->block[1] != 1 || t->block[2] != 1)
		return tw_inval(t, "block (%u, %u, %u): the kernel takes (256, 1, 1)",
				t->block[0], t->block[1], t->block[2]);
	if (!mc || !nc)
		return 0;
	TW_SPAN(A, t, "A", a, tw_extent(mc, K, K, 4), 4);
	TW_SPAN(B, t, "B", b, tw_extent(K, N, nc, 4), 4);
	TW_SPAN(C, t, "C", c, tw_extent(mc, N, nc, 4), 4);
	if (bias)
		TW_SPAN(bv, t, "bias", bias, (uint64_t)nc * 4, 4);
	for (uint32_t i = 0; i < mc; i++) {
		float *ci = C + (size_t)i * N;
		const float *ai = A + (size_t)i * K;

		memset(ci, 0, (size_t)nc * sizeof(*ci));
		for (uint32_t k = 0; k < K; k++) {
			const float *bk = B + (size_t)k * N;
			float av = ai[k];

			for (uint32_t j = 0; j < nc; j++)
				ci[j] += av * bk[j];
		}
		for (uint32_t j = 0; j < nc; j++)
			ci[j] = tw_act_gemm(act, ci[j] + (bv ? bv[j] : 0.0f));
	}
	return 0;
}

/* Grid (ceil(N/64), ceil(M/64)), block 256: a 64 x 64 tile per CTA. */
int tw_gemm_f32(struct tw *t)
{
	return gemm_rows(t, 64, 64);
}

/* Grid (ceil(N/32), ceil(M/16)), block 256: 16 rows x 32 columns per CTA. */
int tw_gemm_f32_rows(struct tw *t)
{
	return gemm_rows(t, 16, 32);
}

static float bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof f);
	return f;
}

/*
 * gemm_bf16(A, Bt, bias, C, M, N, K, lda, ldb, act): C = act(A Bt^T + bias),
 * A [M, lda] and Bt [N, ldb] bf16 (16-byte aligned rows for cp.async: lda,
 * ldb multiples of 8, >= K), C f32; grid (ceil(N/64), ceil(M/64)), block
 * 128. bf16 products are exact in f32; the sum's order differs from the
 * mma tiles' (the suite's tolerance covers it).
 */
int tw_gemm_bf16(struct tw *t)
{
	uint64_t a = tw_u64(t, 0), b = tw_u64(t, 1), bias = tw_u64(t, 2), c = tw_u64(t, 3);
	uint32_t M = tw_u32(t, 4), N = tw_u32(t, 5), K = tw_u32(t, 6), lda = tw_u32(t, 7),
		 ldb = tw_u32(t, 8), act = tw_u32(t, 9);
	uint32_t mc = min_u32(M, (uint64_t)t->grid[1] * 64);
	uint32_t nc = min_u32(N, (uint64_t)t->grid[0] * 64);
	const uint16_t *A, *B;
	const float *bv = NULL;
	float *C;

	if (t->block[0] != 128 || t->block[1] != 1 || t->block[2] != 1)
		return tw_inval(t, "block (%u, %u, %u): the kernel takes (128, 1, 1)",
				t->block[0], t->block[1], t->block[2]);
	if (lda % 8 || ldb % 8 || lda < K || ldb < K)
		return tw_inval(t, "lda %u, ldb %u: multiples of 8 and >= K %u", lda, ldb, K);
	if (!mc || !nc)
		return 0;
	TW_SPAN(A, t, "A", a, tw_extent(mc, lda, K, 2), 16);
	TW_SPAN(B, t, "Bt", b, tw_extent(nc, ldb, K, 2), 16);
	TW_SPAN(C, t, "C", c, tw_extent(mc, N, nc, 4), 4);
	if (bias)
		TW_SPAN(bv, t, "bias", bias, (uint64_t)nc * 4, 4);
	for (uint32_t i = 0; i < mc; i++) {
		const uint16_t *ai = A + (size_t)i * lda;

		for (uint32_t j = 0; j < nc; j++) {
			const uint16_t *bj = B + (size_t)j * ldb;
			float s = 0.0f;

			for (uint32_t k = 0; k < K; k++)
				s += bf16(ai[k]) * bf16(bj[k]);
			C[(size_t)i * N + j] = tw_act_gemm(act, s + (bv ? bv[j] : 0.0f));
		}
	}
	return 0;
}
