// SPDX-License-Identifier: MIT
/*
 * test_ptx_glu.c - kernels/ptx/glu.ptx's glu_f32 in the PTX interpreter
 * against its CPU twin, lib/cpu/ffn.c's gate_rows: pn_act on the gate half
 * of each [gate | up] row, then one f32 product with the up half. gate_rows
 * is static, so the twin is spelled here from the same two public steps
 * (pn_act, then g * u), in its order. The kernel uses no approximate
 * instruction, so the interpreter's perturbation does not enter any bound.
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
#include "uapi/pnb.h"

#define PTX_FILE "kernels/ptx/glu.ptx"
#define U 0x1p-24

struct env {
	struct ptxi_module *m;
	struct ptxi_dev *d;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(float lo, float hi)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return lo + (hi - lo) * (float)((rng >> 40) * 0x1p-24);
}

static int setup(void **state)
{
	static struct env e;
	struct ptxi_err err;

	if (ptxi_load(PTX_FILE, &e.m, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	e.d = ptxi_dev_new();
	*state = &e;
	return e.d ? 0 : -1;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (!e)
		return 0;
	ptxi_dev_free(e->d);
	ptxi_free(e->m);
	return 0;
}

static uint64_t upload(struct ptxi_dev *d, const void *src, size_t bytes)
{
	uint64_t a = ptxi_alloc(d, bytes ? bytes : 4);

	assert_true(a != 0);
	if (src && bytes)	/* NULL: left as the device's garbage */
		assert_int_equal(ptxi_write(d, a, src, bytes), 0);
	return a;
}

static float *fvec(size_t n)
{
	float *p = malloc(n * sizeof(*p) + 4);

	assert_non_null(p);
	return p;
}

/* The twin, gate_rows's two steps in its order, into a separate y [rows, ff]. */
static void cpu_glu(uint32_t act, const float *h, uint32_t rows, uint32_t ff, float *y)
{
	float *g = fvec(ff);

	for (uint32_t r = 0; r < rows; r++) {
		memcpy(g, h + (size_t)r * 2 * ff, (size_t)ff * 4);
		pn_act(act, g, ff);
		for (uint32_t c = 0; c < ff; c++)
			y[(size_t)r * ff + c] = g[c] * h[(size_t)r * 2 * ff + ff + c];
	}
	free(g);
}

/*
 * Tolerance of one output y = rn(act(g) u) against the CPU's. The kernel's
 * act(g) is act_f32's (same code), within act_tol of pn_act's (derivation in
 * test_ptx_elementwise.c: none/relu exact; silu 8 u relative; tanh 6 u;
 * gelu forms 2^-21 * 0.5 |g| absolute + 4 u relative), so the products differ
 * by |u| times that plus the two final roundings (half an ulp each, 1 u of
 * |y| together, 2 u allowed). none and relu: the same selection and the same
 * single product: bit-exact.
 */
static double glu_tol(uint32_t act, float g, float a, float up, float y)
{
	double t;

	switch (act) {
	case PNB_ACT_SILU:
		t = 8 * U * fabsf(a) + 1.5e-36;
		break;
	case PNB_ACT_TANH:
		t = 6 * U * fabsf(a) + 1e-38;
		break;
	case PNB_ACT_GELU:
	case PNB_ACT_GELU_TANH:
		t = 0x1p-21 * 0.5 * fabsf(g) + 4 * U * fabsf(a) + 1e-38;
		break;
	default:
		return 0.0;
	}
	return t * fabsf(up) + 2 * U * fabsf(y) + 1e-38;
}

/* Gate edges: zeros, polynomial/exp thresholds, exp's -87 floor, huge, NaN. */
static const float edges[] = {
	0.0f, -0.0f, 1e-30f, -1e-30f, 0.55f, -0.55f, 1.0f, -1.0f, 1.4142135f, -1.4142135f,
	5.6568542f, -5.6568542f, 9.5f, -9.5f, 20.0f, -20.0f, -87.0f, -87.5f, 88.0f, -88.0f,
	5e12f, -5e12f, 1e30f, -1e30f, 3e38f, -3e38f, NAN,
};
#define N_EDGES (sizeof(edges) / sizeof(edges[0]))

static void glu_case(struct env *e, uint32_t act, uint32_t rows, uint32_t ff, uint32_t grid,
		     uint32_t block)
{
	size_t nh = (size_t)rows * 2 * ff, n = (size_t)rows * ff;
	float *h = fvec(nh), *y = fvec(n + 1), *ref = fvec(n + 1), *a = fvec(nh);

	for (size_t i = 0; i < nh; i++) {
		int is_up = (i / ff) % 2;

		if (!is_up && i % 5 == 4)
			h[i] = edges[(i / 5) % N_EDGES];
		else if (is_up && i % 7 == 3)
			h[i] = i % 2 ? 0.0f : -0.0f;	/* zero up: the 0 * inf / NaN paths */
		else
			h[i] = is_up ? frand(-4.0f, 4.0f) : frand(-8.0f, 8.0f);
	}
	cpu_glu(act, h, rows, ff, ref);
	memcpy(a, h, nh * 4);
	pn_act(act, a, nh);		/* the CPU's act(g) for the bound (up halves unused) */

	uint64_t dh = upload(e->d, h, nh * 4), dy = upload(e->d, NULL, (n + 1) * 4);
	float sentinel = 12345.0f;

	/* one float past y: the kernel writes nothing beyond rows * ff */
	assert_int_equal(ptxi_write(e->d, dy + n * 4, &sentinel, 4), 0);
	void *p[] = { &dh, &dy, &rows, &ff, &act };
	struct ptxi_launch l = { .grid = { grid, 1, 1 }, .block = { block, 1, 1 },
				 .params = p, .n_params = 5 };
	struct ptxi_err err;

	if (ptxi_run(e->m, e->d, "glu_f32", &l, &err))
		fail_msg("glu_f32: %s", err.msg);
	assert_int_equal(ptxi_read(e->d, dy, y, (n + 1) * 4), 0);
	assert_true(y[n] == sentinel);
	for (size_t i = 0; i < n; i++) {
		size_t r = i / ff, c = i % ff, gi = r * 2 * ff + c;
		float up = h[gi + ff];
		double tol = glu_tol(act, h[gi], a[gi], up, ref[i]);

		if (isnan(ref[i]) && isnan(y[i]))
			continue;
		if (tol == 0.0 ? memcmp(&y[i], &ref[i], 4) != 0
			       : !(y[i] == ref[i] || fabs((double)y[i] - ref[i]) <= tol))
			fail_msg("act %u rows=%u ff=%u [%zu,%zu] g=%.9g u=%.9g: %.9g, cpu %.9g "
				 "(tol %.3g)", act, rows, ff, r, c, h[gi], up, y[i], ref[i], tol);
	}
	free(h);
	free(y);
	free(ref);
	free(a);
}

static void test_glu(void **state)
{
	static const uint32_t rows[] = { 1, 3, 7 };
	static const uint32_t ffs[] = { 1, 2, 31, 64, 257 };

	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			for (size_t j = 0; j < sizeof(ffs) / sizeof(ffs[0]); j++) {
				/* 3 x 64 threads: the grid-stride loop runs for the larger cases */
				glu_case(*state, act, rows[i], ffs[j], 3, 64);
				glu_case(*state, act, rows[i], ffs[j], 1, 32);
			}
}

/* rows = 0 (and ff = 0): nothing read, nothing written. */
static void test_glu_empty(void **state)
{
	struct env *e = *state;
	float sentinel = -7.0f, back;
	uint64_t dh = upload(e->d, &sentinel, 4), dy = upload(e->d, &sentinel, 4);
	uint32_t act = PNB_ACT_SILU;
	static const uint32_t shapes[][2] = { { 0, 16 }, { 4, 0 } };

	for (int s = 0; s < 2; s++) {
		uint32_t rows = shapes[s][0], ff = shapes[s][1];
		void *p[] = { &dh, &dy, &rows, &ff, &act };
		struct ptxi_launch l = { .grid = { 2, 1, 1 }, .block = { 32, 1, 1 },
					 .params = p, .n_params = 5 };
		struct ptxi_err err;

		if (ptxi_run(e->m, e->d, "glu_f32", &l, &err))
			fail_msg("glu_f32: %s", err.msg);
		assert_int_equal(ptxi_read(e->d, dy, &back, 4), 0);
		assert_true(back == sentinel);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glu),
		cmocka_unit_test(test_glu_empty),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
