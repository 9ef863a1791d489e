// SPDX-License-Identifier: MIT
/*
 * test_ptx_gemm.c - kernels/ptx/gemm_f32.ptx (both entries) run in the PTX
 * interpreter against the CPU twin pn_linear: ragged M, N, K (none of them
 * a multiple of the tile), every activation, bias and none, both entries on
 * every shape (the host picks gemm_f32_rows for M <= 16, but both accept any
 * M), and the activations alone on a grid of inputs with edge values.
 *
 * Tolerance: |gpu - cpu| <= 1e-4 (1 + |cpu|), the project's bar for the
 * exact model (test_ops.c). Both sides are f32 GEMMs of K <= 300 terms in
 * [-1, 1) summed in different orders, about 1e-6 apart; the kernel's
 * activations are within a few 1e-7 relative plus ex2.approx's perturbation
 * (2^-22 relative, 2^-22.5 absolute), the CPU's erff/tanhf within ulps: two
 * orders of margin. Where 1 + erf or 1 + tanh cancels on the CPU side
 * (v < -4) the difference is absolute and below 1e-6, inside the 1 term.
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

#define TEST_RNG_SEED 0x6A09E667F3BCC909ull
#include "tests/unit/test_rand.h"

#define F32_PTX "kernels/ptx/gemm_f32.ptx"
#define TOL 1e-4

struct gemm_case {
	uint32_t M, N, K, act;
	const float *A, *B, *bias;	/* bias may be NULL */
};

/* Grid and block of each entry, as the host launches them (the headers). */
static void launch_shape(const char *entry, uint32_t M, uint32_t N, struct ptxi_launch *l)
{
	int rows = strcmp(entry, "gemm_f32_rows") == 0;
	uint32_t tn = rows ? 32 : 64, tm = rows ? 16 : 64;

	l->grid[0] = (N + tn - 1) / tn;
	l->grid[1] = (M + tm - 1) / tm;
	l->grid[2] = 1;
	l->block[0] = 256;
	l->block[1] = l->block[2] = 1;
	l->dyn_shared = 0;
}

static uint64_t dev_copy(struct ptxi_dev *d, const float *src, size_t n)
{
	uint64_t a = ptxi_alloc(d, n * sizeof(float) + 4);	/* + 4: n may be 0 */

	assert_true(a != 0);
	if (n)
		assert_int_equal(ptxi_write(d, a, src, n * sizeof(float)), 0);
	return a;
}

/* Runs entry on c; y gets C [M, N]. */
static void run_gemm(struct ptx_suite *s, const char *entry, const struct gemm_case *c,
		     float *y)
{
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	struct ptxi_launch l;
	size_t nc = (size_t)c->M * c->N;
	uint64_t A, B, bias = 0, C;
	float *junk = malloc(nc * sizeof(float) + 4);

	assert_non_null(d);
	assert_non_null(junk);
	A = dev_copy(d, c->A, (size_t)c->M * c->K);
	B = dev_copy(d, c->B, (size_t)c->K * c->N);
	if (c->bias)
		bias = dev_copy(d, c->bias, c->N);
	/* C starts as NaN: an element the kernel forgets is caught. */
	for (size_t i = 0; i < nc; i++)
		junk[i] = NAN;
	C = dev_copy(d, junk, nc);
	void *params[] = { &A, &B, &bias, &C, (void *)&c->M, (void *)&c->N, (void *)&c->K,
			   (void *)&c->act };
	launch_shape(entry, c->M, c->N, &l);
	l.params = params;
	l.n_params = 8;
	if (ptxi_run(s->m, d, entry, &l, &e) != 0)
		fail_msg("%s M %u N %u K %u act %u: %s", entry, c->M, c->N, c->K, c->act, e.msg);
	ptx_download(d, C, y, nc * sizeof(float));
	free(junk);
	ptxi_dev_free(d);
}

static int same_or_close(float got, float want)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabs((double)got - want) <= TOL * (1.0 + fabs(want));
}

static void check_case(struct ptx_suite *s, const char *entry, const struct gemm_case *c)
{
	size_t nc = (size_t)c->M * c->N;
	float *y = malloc(nc * sizeof(float) + 4), *ref = malloc(nc * sizeof(float) + 4);

	assert_non_null(y);
	assert_non_null(ref);
	run_gemm(s, entry, c, y);
	pn_linear(NULL, c->A, c->M, c->K, c->B, c->bias, c->N, c->act, ref);
	for (size_t i = 0; i < nc; i++)
		if (!same_or_close(y[i], ref[i]))
			fail_msg("%s M %u N %u K %u act %u bias %d: C[%zu][%zu] = %.9g, cpu %.9g",
				 entry, c->M, c->N, c->K, c->act, c->bias != NULL, i / c->N,
				 i % c->N, y[i], ref[i]);
	free(y);
	free(ref);
}

static void check_random(struct ptx_suite *s, const char *entry, uint32_t M, uint32_t N,
			 uint32_t K, uint32_t act, int with_bias)
{
	float *A = rand_buf((size_t)M * K), *B = rand_buf((size_t)K * N);
	float *bias = with_bias ? rand_buf(N) : NULL;
	struct gemm_case c = { M, N, K, act, A, B, bias };

	check_case(s, entry, &c);
	free(A);
	free(B);
	free(bias);
}

static int setup(void **state)
{
	return ptx_suite_setup_module(state, F32_PTX);
}

static const char *const entries[] = { "gemm_f32", "gemm_f32_rows" };

/* The ragged shapes: M across the rows kernel's 4-row groups and past 16,
 * N under, at and past a tile, K under, across and at a K step. */
static void test_ragged_shapes(void **state)
{
	static const uint32_t Ms[] = { 1, 5, 16, 37 }, Ns[] = { 8, 45, 64 }, Ks[] = { 3, 29, 64 };

	for (size_t e = 0; e < 2; e++)
		for (size_t i = 0; i < 4; i++)
			for (size_t j = 0; j < 3; j++)
				for (size_t k = 0; k < 3; k++)
					check_random(*state, entries[e], Ms[i], Ns[j], Ks[k],
						     PNB_ACT_NONE, (int)((i + j + k) & 1));
}

/* Every activation, bias and none, on each entry. */
static void test_every_act(void **state)
{
	for (size_t e = 0; e < 2; e++)
		for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
			for (int bias = 0; bias < 2; bias++)
				check_random(*state, entries[e], e ? 5 : 37, 45, 29, act, bias);
}

/* Several CTAs in both directions, several K steps with a remainder, and
 * the rows kernel's second row block holding one 4-row group only. */
static void test_multi_cta(void **state)
{
	check_random(*state, "gemm_f32", 70, 130, 300, PNB_ACT_GELU, 1);
	check_random(*state, "gemm_f32_rows", 20, 70, 130, PNB_ACT_SILU, 1);
	check_random(*state, "gemm_f32_rows", 2, 33, 300, PNB_ACT_GELU_TANH, 0);
}

/* K = 0: C = act(bias) (an empty sum), or act(0) without bias. */
static void test_empty_k(void **state)
{
	for (size_t e = 0; e < 2; e++) {
		check_random(*state, entries[e], 3, 10, 0, PNB_ACT_GELU, 1);
		check_random(*state, entries[e], 3, 10, 0, PNB_ACT_TANH, 0);
	}
}

/*
 * The activations alone: K = 1, B = 1, so C[i][j] = act(x_i + b_j) exactly
 * for x on a grid over [-12, 12] (GELU's erfc tail, tanh's switch at 0.55)
 * plus +-0, huge values (v^3 overflows in the GELU tanh form), +-inf and NaN.
 */
static void test_act_edges(void **state)
{
	enum { GRID = 97, EXTRA = 9, M = GRID + EXTRA, N = 3 };
	static const float extra[EXTRA] = { 0.0f, -0.0f, 0.549f, -0.551f, 1e30f, -1e30f,
					    INFINITY, -INFINITY, NAN };
	float A[M], B[N], bias[N] = { 0.0f, 1e-3f, -0.3f };

	for (int i = 0; i < GRID; i++)
		A[i] = -12.0f + 24.0f * (float)i / (GRID - 1);
	memcpy(A + GRID, extra, sizeof(extra));
	for (int j = 0; j < N; j++)
		B[j] = 1.0f;
	for (size_t e = 0; e < 2; e++)
		for (uint32_t act = 0; act < PNB_ACT_COUNT; act++) {
			struct gemm_case c = { M, N, 1, act, A, B, bias };

			check_case(*state, entries[e], &c);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ragged_shapes),
		cmocka_unit_test(test_every_act),
		cmocka_unit_test(test_multi_cta),
		cmocka_unit_test(test_empty_k),
		cmocka_unit_test(test_act_edges),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
