// SPDX-License-Identifier: MIT
/*
 * test_ptx_elementwise.c - kernels/ptx/elementwise.ptx in the PTX
 * interpreter against the CPU twins: act_f32 / pn_act, add_f32 / pn_add,
 * add_rows_f32 / the TOKENS + SEQ add, l2norm_f32 / pn_l2norm,
 * softmax_f32 / pn_softmax_rows. Each tolerance is derived where it is used.
 * The kernels use no approximate instruction, so the interpreter's
 * perturbation of those does not enter any bound.
 */
#include <float.h>
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
#include "uapi/pnb.h"

#define PTX_FILE "kernels/ptx/elementwise.ptx"
#define U 0x1p-24

static uint64_t rng = 0x2545f4914f6cdd1dull;

static float frand(float lo, float hi)
{
	return ptx_frand(&rng, lo, hi);
}

static int setup(void **state)
{
	return ptx_suite_setup(state, PTX_FILE);
}

static float *fvec(size_t n)
{
	float *p = malloc(n * sizeof(*p) + 4);

	assert_non_null(p);
	return p;
}

/*
 * Tolerance of act_f32 against pn_act for one element (x, its CPU result y):
 *  none, relu: the same selection: exact.
 *  silu: no cancellation anywhere; exp 1.3 ulp + 1 + e + product + division
 *        here, expf + 1 + E + division on the CPU: 8 u relative. Below -87
 *        the kernel's exp is 0 (as the CPU softmax's), where |y| < 87 e^-87 < 1.5e-36.
 *  tanh: measured 1.6e-7 relative here (2.7 u), tanhf 1 ulp (2 u): 6 u.
 *  gelu, gelu_tanh: 1 + erf (1 + tanh) differs by the two erf (tanh) errors,
 *        absolute 1.3e-7 here (measured) plus 1 ulp of erff, plus the
 *        rounding of 1 + ...: < 2^-21 absolute, times 0.5 |x|; then 4 u of
 *        y for the final products.
 */
static double act_tol(uint32_t act, float x, float y)
{
	switch (act) {
	case PNB_ACT_SILU:
		return 8 * U * fabsf(y) + 1.5e-36;
	case PNB_ACT_TANH:
		return 6 * U * fabsf(y) + 1e-38;
	case PNB_ACT_GELU:
	case PNB_ACT_GELU_TANH:
		return 0x1p-21 * 0.5 * fabsf(x) + 4 * U * fabsf(y) + 1e-38;
	}
	return 0.0;
}

/* Edge values: zeros, both polynomial/exp thresholds, exp's -87 floor, overflow of v^3, huge. */
static const float edges[] = {
	0.0f, -0.0f, 1e-30f, -1e-30f, 1e-6f, -1e-6f, 0.5f, -0.5f, 0.55f, -0.55f, 0.5499f,
	1.0f, -1.0f, 1.4142135f, -1.4142135f, 1.4143f, -1.4141f, 3.0f, -3.0f, 5.6568542f,
	-5.6568542f, 6.0f, -6.0f, 9.5f, -9.5f, 20.0f, -20.0f, 86.9f, -86.9f, -87.0f, -87.5f,
	88.0f, -88.0f, 100.0f, -100.0f, 5e12f, -5e12f, 1e30f, -1e30f, 3e38f, -3e38f,
};

static void act_case(struct ptx_suite *e, uint32_t act, uint32_t n, uint32_t grid, unsigned mis,
		     int in_place)
{
	float *x = fvec(n), *y = fvec(n), *ref = fvec(n);
	uint64_t nn = n;

	for (uint32_t i = 0; i < n; i++)
		x[i] = i % 5 == 4 ? edges[(i / 5) % (sizeof(edges) / sizeof(edges[0]))]
				  : frand(-8.0f, 8.0f);
	memcpy(ref, x, (size_t)n * 4);
	pn_act(act, ref, n);
	uint64_t dx = ptx_upload(e->d, x, (size_t)n * 4, mis);
	uint64_t dy = in_place ? dx : ptx_upload(e->d, x, (size_t)n * 4, mis);
	void *p[] = { &dx, &dy, &nn, &act };

	ptx_launch1(e, "act_f32", grid, 128, p, 4);
	ptx_download(e->d, dy, y, (size_t)n * 4);
	for (uint32_t i = 0; i < n; i++) {
		double tol = act_tol(act, x[i], ref[i]);

		if (!(fabs((double)y[i] - ref[i]) <= tol))
			fail_msg("act %u n=%u mis=%u x[%u]=%.9g: %.9g, cpu %.9g (tol %.3g)", act, n, mis,
				 i, x[i], y[i], ref[i], tol);
	}
	free(x);
	free(y);
	free(ref);
}

static const uint32_t sizes[] = { 1, 3, 31, 64, 384, 1000, 4099 };

static void test_act(void **state)
{
	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			act_case(*state, act, sizes[i], 2, 0, 0);	/* 2 CTAs: the grid-stride loop */
			act_case(*state, act, sizes[i], 3, 4, 1);	/* unaligned: all scalar, in place */
		}
}

/*
 * The activations against pn_ref_act1 (double math, rounded once) on a dense
 * grid of [-12, 12]: the kernel's own error, not only its distance to the
 * CPU. Bounds: tanh 1.6e-7 relative (measured) + the reference's half ulp:
 * 4 u. silu: exp's 1.3 ulp and three roundings: 6 u. gelu, gelu_tanh:
 * erf / tanh within 1.3e-7 absolute, the rounding of x / sqrt 2 (or of the
 * tanh argument) moving it by at most another u, 1 + erf rounded: < 3.4e-7
 * absolute times 0.5 |x|, plus 3 u of y.
 */
static void test_act_vs_double(void **state)
{
	struct ptx_suite *e = *state;
	uint64_t n = 24001;
	float *x = fvec(n), *y = fvec(n);

	for (uint64_t i = 0; i < n; i++)
		x[i] = -12.0f + (float)i * 0.001f;
	uint64_t dx = ptx_upload(e->d, x, n * 4, 0), dy = ptx_upload(e->d, x, n * 4, 0);
	for (uint32_t act = PNB_ACT_GELU; act < PNB_ACT_COUNT; act++) {
		void *p[] = { &dx, &dy, &n, &act };

		ptx_launch1(e, "act_f32", 8, 256, p, 4);
		ptx_download(e->d, dy, y, n * 4);
		for (uint64_t i = 0; i < n; i++) {
			double ref = pn_ref_act1(act, x[i]), tol;

			if (act == PNB_ACT_TANH)
				tol = 4 * U * fabs(ref);
			else if (act == PNB_ACT_SILU)
				tol = 6 * U * fabs(ref) + 1e-38;
			else
				tol = 3.4e-7 * 0.5 * fabsf(x[i]) + 3 * U * fabs(ref) + 1e-38;
			if (!(fabs(y[i] - ref) <= tol))
				fail_msg("act %u x=%.9g: %.9g, double %.9g (tol %.3g)", act, x[i], y[i],
					 ref, tol);
		}
	}
	free(x);
	free(y);
}

/* Residual add: one IEEE addition per element on both sides, so exact; y may alias a. */
static void test_add(void **state)
{
	struct ptx_suite *e = *state;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (unsigned mis = 0; mis <= 4; mis += 4) {
			uint64_t n = sizes[s];
			float *a = fvec(n), *b = fvec(n), *y = fvec(n), *ref = fvec(n);

			for (uint64_t i = 0; i < n; i++) {
				a[i] = frand(-1e3f, 1e3f);
				b[i] = i % 7 ? frand(-1.0f, 1.0f) : -a[i];
			}
			pn_add(a, b, ref, n);
			uint64_t da = ptx_upload(e->d, a, n * 4, mis), db = ptx_upload(e->d, b, n * 4, 0);
			void *p[] = { &da, &db, &da, &n };

			ptx_launch1(e, "add_f32", 2, 64, p, 4);
			ptx_download(e->d, da, y, n * 4);
			assert_memory_equal(y, ref, n * 4);
			free(a);
			free(b);
			free(y);
			free(ref);
		}
}

/* Token rows plus their sequence's row, as run_add (lib/exec/op_cpu_std.c) does it: exact. */
static void test_add_rows(void **state)
{
	struct ptx_suite *e = *state;
	static const uint32_t dims[] = { 1, 3, 31, 64, 384, 1000 };

	for (size_t s = 0; s < sizeof(dims) / sizeof(dims[0]); s++) {
		uint32_t D = dims[s], B = 3, T = 4, rows = B * T;
		float *a = fvec((size_t)rows * D), *b = fvec((size_t)B * D);
		float *y = fvec((size_t)rows * D), *ref = fvec((size_t)rows * D);

		for (size_t i = 0; i < (size_t)rows * D; i++)
			a[i] = frand(-10.0f, 10.0f);
		for (size_t i = 0; i < (size_t)B * D; i++)
			b[i] = frand(-10.0f, 10.0f);
		for (uint32_t k = 0; k < rows; k++)
			pn_add(a + (size_t)k * D, b + (size_t)(k / T) * D, ref + (size_t)k * D, D);
		uint64_t da = ptx_upload(e->d, a, (size_t)rows * D * 4, 0);
		uint64_t db = ptx_upload(e->d, b, (size_t)B * D * 4, 0);
		uint64_t dy = ptx_upload(e->d, a, (size_t)rows * D * 4, 0);
		void *p[] = { &da, &db, &dy, &rows, &T, &D };

		ptx_launch1(e, "add_rows_f32", 5, 64, p, 6);
		ptx_download(e->d, dy, y, (size_t)rows * D * 4);
		assert_memory_equal(y, ref, (size_t)rows * D * 4);
		free(a);
		free(b);
		free(y);
		free(ref);
	}
}

enum fill { RANDOM, ZEROS, TINY, HUGE_VALS, CONSTANT, WITH_NEG_INF };

static void fill_rows(float *x, size_t n, enum fill f)
{
	for (size_t i = 0; i < n; i++)
		switch (f) {
		case RANDOM: x[i] = frand(-6.0f, 6.0f); break;
		case ZEROS: x[i] = 0.0f; break;
		case TINY: x[i] = frand(-1e-7f, 1e-7f); break;
		case HUGE_VALS: x[i] = frand(-1e15f, 1e15f); break;
		case CONSTANT: x[i] = -3.5f; break;
		case WITH_NEG_INF: x[i] = i % 3 ? frand(-30.0f, 30.0f) : -INFINITY; break;
		}
}

/*
 * l2norm: the f32 sum of squares is off by k u relatively (k = d / ntid + 16
 * terms on one path; the CPU's double sum is exact enough), sqrt and rcp
 * add 2 u: y within (k / 2 + 4) u of the CPU's. Softmax: the exponentials
 * are the same bits on both sides; the sums differ by the f32 bounds of both
 * orders, (d / ntid + 16) u here and (d / 16 + 32) u for the CPU's 16 lanes,
 * and 1 / sum * e adds 2 u each side.
 */
static void row_case(struct ptx_suite *e, int softmax, uint32_t rows, uint32_t d, uint32_t block,
		     uint32_t grid, unsigned mis, enum fill f, int in_place)
{
	size_t n = (size_t)rows * d;
	float *x = fvec(n), *y = fvec(n), *ref = fvec(n), eps = 1e-12f;
	double k = (double)(d / block) + 16;

	fill_rows(x, n, f);
	memcpy(ref, x, n * 4);
	uint64_t dx = ptx_upload(e->d, x, n * 4, mis), dy = in_place ? dx : ptx_upload(e->d, x, n * 4, mis);
	if (softmax) {
		void *p[] = { &dx, &dy, &rows, &d };

		ptx_launch1(e, "softmax_f32", grid, block, p, 4);
		pn_softmax_rows(ref, rows, d);
	} else {
		void *p[] = { &dx, &dy, &rows, &d, &eps };

		ptx_launch1(e, "l2norm_f32", grid, block, p, 5);
		pn_l2norm(ref, rows, d, eps);
	}
	ptx_download(e->d, dy, y, n * 4);
	for (size_t j = 0; j < n; j++) {
		double tol = softmax ? (k + (double)(d / 16) + 32 + 4) * U * fabsf(ref[j])
				     : (k / 2 + 4) * U * fabsf(ref[j]);

		if (!(fabs((double)y[j] - ref[j]) <= tol))
			fail_msg("%s d=%u block=%u mis=%u fill=%d [%zu] x=%.9g: %.9g, cpu %.9g (tol %.3g)",
				 softmax ? "softmax" : "l2norm", d, block, mis, f, j, x[j], y[j], ref[j],
				 tol);
	}
	free(x);
	free(y);
	free(ref);
}

static const uint32_t dims[] = { 1, 3, 31, 64, 384, 1000 };
static const uint32_t blocks[] = { 32, 128, 256 };

static void sweep(void **state, int softmax)
{
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		for (size_t j = 0; j < sizeof(blocks) / sizeof(blocks[0]); j++) {
			row_case(*state, softmax, 3, dims[i], blocks[j], 3, 0, RANDOM, 0);
			row_case(*state, softmax, 3, dims[i], blocks[j], 2, 4, RANDOM, 1);
		}
	row_case(*state, softmax, 2, 384, 128, 2, 0, ZEROS, 0);
	row_case(*state, softmax, 2, 31, 64, 2, 0, TINY, 0);
	row_case(*state, softmax, 2, 1000, 256, 1, 0, HUGE_VALS, 1);
	row_case(*state, softmax, 2, 64, 32, 2, 0, CONSTANT, 0);
	row_case(*state, softmax, 5, 3, 1024, 2, 8, RANDOM, 0);
}

static void test_l2norm(void **state)
{
	sweep(state, 0);
}

static void test_softmax(void **state)
{
	sweep(state, 1);
	row_case(*state, 1, 3, 100, 64, 3, 0, WITH_NEG_INF, 0);
}

/* Exact anchors: softmax of one element is 1, of a constant row 1/d; l2norm of a zero row is 0. */
static void test_exact_rows(void **state)
{
	struct ptx_suite *e = *state;
	uint32_t rows = 1, d = 4;
	float x[4] = { 2, 2, 2, 2 }, y[4], eps = 1e-12f;
	uint64_t dx = ptx_upload(e->d, x, sizeof(x), 0);
	void *p[] = { &dx, &dx, &rows, &d };

	ptx_launch1(e, "softmax_f32", 1, 32, p, 4);
	ptx_download(e->d, dx, y, sizeof(y));
	for (int i = 0; i < 4; i++)
		assert_true(y[i] == 0.25f);
	d = 1;
	ptx_launch1(e, "softmax_f32", 1, 64, p, 4);
	ptx_download(e->d, dx, y, 4);
	assert_true(y[0] == 1.0f);
	memset(x, 0, sizeof(x));
	d = 4;
	assert_int_equal(ptxi_write(e->d, dx, x, sizeof(x)), 0);
	void *q[] = { &dx, &dx, &rows, &d, &eps };

	ptx_launch1(e, "l2norm_f32", 1, 32, q, 5);
	ptx_download(e->d, dx, y, sizeof(y));
	for (int i = 0; i < 4; i++)
		assert_true(y[i] == 0.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act),
		cmocka_unit_test(test_act_vs_double),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_rows),
		cmocka_unit_test(test_l2norm),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_exact_rows),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
