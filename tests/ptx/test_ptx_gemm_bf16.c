// SPDX-License-Identifier: MIT
/*
 * test_ptx_gemm_bf16.c - kernels/ptx/gemm_bf16.ptx (mma.sync m16n8k16,
 * ldmatrix, cp.async) run in the PTX interpreter against a plain double
 * reference of the same bf16-rounded inputs: ragged M, N, K (the K edge
 * inside a 16-byte chunk, M and N inside a tile), leading dimensions past
 * K whose padding holds NaN (read, it would poison the row), every
 * activation, bias and none, several CTAs and K steps.
 *
 * Tolerance: each product of two bf16 (8-bit significands) is exact in f32,
 * so the only GEMM error is the f32 accumulation of K products and the
 * bias, in the tensor core's order: at most (K + 1) 2^-23 sum |a b + bias|
 * for any summation order, even with truncating adders (2^-23, not the
 * 2^-24 of round to nearest). Every activation has slope <= 1.13 and adds
 * its own error (a few 1e-7 relative, plus ex2.approx's 2^-22.5 absolute):
 * bound = 1.13 (K + 1) 2^-23 sum |.| + 1e-5 (1 + |ref|).
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
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"

#define TEST_RNG_SEED 0xBB67AE8584CAA73Bull
#include "tests/unit/test_rand.h"

#define BF16_PTX "kernels/ptx/gemm_bf16.ptx"
#define BF16_NAN 0x7FC0u

/* f32 -> bf16, round to nearest even (finite inputs), as cvt.rn.bf16.f32. */
static uint16_t to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	u += 0x7FFFu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, 4);
	return f;
}

struct bf16_case {
	uint32_t M, N, K, lda, ldb, act;
	uint16_t *A;		/* [M, lda], NaN past K */
	uint16_t *Bt;		/* [N, ldb], B transposed, NaN past K */
	float *bias;		/* [N] or NULL */
};

static uint16_t *rand_bf16(uint32_t rows, uint32_t K, uint32_t ld)
{
	uint16_t *p = malloc((size_t)rows * ld * sizeof(*p) + 2);

	assert_non_null(p);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t k = 0; k < ld; k++)
			p[(size_t)r * ld + k] = k < K ? to_bf16(frand()) : BF16_NAN;
	return p;
}

static uint64_t dev_copy(struct ptxi_dev *d, const void *src, size_t bytes)
{
	uint64_t a = ptxi_alloc(d, bytes + 16);	/* + 16: bytes may be 0 */

	assert_true(a != 0);
	if (bytes)
		assert_int_equal(ptxi_write(d, a, src, bytes), 0);
	return a;
}

static void run_bf16(struct ptx_suite *suite, const struct bf16_case *c, float *y)
{
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	size_t nc = (size_t)c->M * c->N;
	uint64_t A, Bt, bias = 0, C;
	float *nan = malloc(nc * sizeof(float) + 4);

	assert_non_null(d);
	assert_non_null(nan);
	A = dev_copy(d, c->A, (size_t)c->M * c->lda * 2);
	Bt = dev_copy(d, c->Bt, (size_t)c->N * c->ldb * 2);
	if (c->bias)
		bias = dev_copy(d, c->bias, c->N * sizeof(float));
	for (size_t i = 0; i < nc; i++)	/* an element the kernel forgets stays NaN */
		nan[i] = NAN;
	C = dev_copy(d, nan, nc * sizeof(float));
	void *params[] = { &A, &Bt, &bias, &C, (void *)&c->M, (void *)&c->N, (void *)&c->K,
			   (void *)&c->lda, (void *)&c->ldb, (void *)&c->act };
	struct ptxi_launch l = {
		.grid = { (c->N + 63) / 64, (c->M + 63) / 64, 1 },
		.block = { 128, 1, 1 },
		.params = params,
		.n_params = 10,
	};
	if (ptxi_run(suite->m, d, "gemm_bf16", &l, &e) != 0)
		fail_msg("M %u N %u K %u act %u: %s", c->M, c->N, c->K, c->act, e.msg);
	ptx_download(d, C, y, nc * sizeof(float));
	free(nan);
	ptxi_dev_free(d);
}

static void check_case(struct ptx_suite *suite, const struct bf16_case *c)
{
	size_t nc = (size_t)c->M * c->N;
	float *y = malloc(nc * sizeof(float) + 4);

	assert_non_null(y);
	run_bf16(suite, c, y);
	for (uint32_t i = 0; i < c->M; i++)
		for (uint32_t j = 0; j < c->N; j++) {
			double s = c->bias ? c->bias[j] : 0.0, mag = fabs(s);

			for (uint32_t k = 0; k < c->K; k++) {
				double p = (double)from_bf16(c->A[(size_t)i * c->lda + k]) *
					   from_bf16(c->Bt[(size_t)j * c->ldb + k]);
				s += p;
				mag += fabs(p);
			}
			float want = pn_ref_act1(c->act, (float)s);
			float got = y[(size_t)i * c->N + j];
			double tol = 1.13 * (c->K + 1) * ldexp(mag, -23) + 1e-5 * (1 + fabs(want));

			if (!(fabs((double)got - want) <= tol))
				fail_msg("M %u N %u K %u lda %u ldb %u act %u bias %d: C[%u][%u] = %.9g, "
					 "ref %.9g (tol %.3g)", c->M, c->N, c->K, c->lda, c->ldb, c->act,
					 c->bias != NULL, i, j, got, want, tol);
		}
	free(y);
}

/* pad: extra multiples of 8 past the smallest legal leading dimension. */
static void check_random(struct ptx_suite *suite, uint32_t M, uint32_t N, uint32_t K,
			 uint32_t act, int with_bias, uint32_t pad)
{
	uint32_t ld = (K + 7) / 8 * 8 + 8 * pad;
	struct bf16_case c = { M, N, K, ld, ld + 8 * (pad & 1), act, NULL, NULL, NULL };

	c.A = rand_bf16(M, K, c.lda);
	c.Bt = rand_bf16(N, K, c.ldb);
	c.bias = with_bias ? rand_buf(N) : NULL;
	check_case(suite, &c);
	free(c.A);
	free(c.Bt);
	free(c.bias);
}

static int setup(void **state)
{
	return ptx_suite_setup_module(state, BF16_PTX);
}

/* M under and across a 16-row mma tile and a 64-row CTA tile; N across an
 * n8 tile and a CTA; K inside one 8-element chunk, across chunks with a
 * ragged end, exactly one K step and past it. */
static void test_ragged_shapes(void **state)
{
	static const uint32_t Ms[] = { 1, 5, 16, 37, 70 }, Ns[] = { 8, 45, 64, 130 },
			      Ks[] = { 3, 29, 32, 100 };
	uint32_t n = 0;

	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 4; j++)
			for (size_t k = 0; k < 4; k++, n++)
				check_random(*state, Ms[i], Ns[j], Ks[k], PNB_ACT_NONE, n & 1, n % 3);
}

static void test_every_act(void **state)
{
	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
		for (int bias = 0; bias < 2; bias++)
			check_random(*state, 37, 45, 29, act, bias, 1);
}

/* Many K steps through both stages, 2 x 3 CTAs. */
static void test_long_k(void **state)
{
	check_random(*state, 100, 150, 333, PNB_ACT_GELU, 1, 0);
}

/* K = 0: nothing is read, C = act(bias). */
static void test_empty_k(void **state)
{
	check_random(*state, 3, 10, 0, PNB_ACT_SILU, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ragged_shapes),
		cmocka_unit_test(test_every_act),
		cmocka_unit_test(test_long_k),
		cmocka_unit_test(test_empty_k),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
