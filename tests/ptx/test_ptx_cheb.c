// SPDX-License-Identifier: MIT
/*
 * test_ptx_cheb: kernels/ptx/cheb.ptx (cheb_series) run in the PTX
 * interpreter against its CPU twin pn_cheb_eval, for the four activations,
 * odd and even coefficient counts, the even form, degrees 1 to 128, inputs
 * inside, on the edges of and outside the range, +-inf and NaN, ragged
 * element counts over several CTAs, in place, and the gated product
 * series(gate) * up of a [rows, 2ff] hidden layer.
 *
 * Tolerance: none. The kernel performs the twin's operations in the twin's
 * order (div.rn, fma.rn, add, sub, mul: all correctly rounded, no
 * approximate instruction), and the twin is C11 built without FP
 * contraction, so every result must be the same float, bit for bit; NaN
 * must stay NaN (its payload is not compared). As a check of the twin
 * itself, within the range the series must also stay within the fit's own
 * error (pn_cheb_max_error) plus float rounding of the exact activation.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cheb.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"
#include "uapi/pnb.h"

#define PTX_FILE "kernels/ptx/cheb.ptx"

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

/*
 * y = cheb_series(x) in the interpreter: n outputs; gated reads x as
 * [n / ff, 2ff]. in_place: y is x's buffer. grid x block threads.
 */
static void run_series(struct ptx_suite *f, const struct pn_cheb *p, const float *x,
		       size_t nx, float *y, uint32_t n, uint32_t ff, uint32_t gated,
		       int in_place, uint32_t grid, uint32_t block)
{
	struct ptxi_dev *d = ptxi_dev_new();
	uint32_t ncoef = pn_cheb_ncoef(p->degree, p->even), even = (uint32_t)p->even;
	uint64_t a_x, a_y, a_c;

	assert_non_null(d);
	a_x = ptxi_alloc(d, nx * sizeof(float));
	a_y = in_place ? a_x : ptxi_alloc(d, (size_t)n * sizeof(float));
	a_c = ptxi_alloc(d, ncoef * sizeof(float));
	assert_true(a_x && a_y && a_c);
	assert_int_equal(ptxi_write(d, a_x, x, nx * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_c, p->c, ncoef * sizeof(float)), 0);

	void *params[] = { &a_x, &a_y, &n, &ff, &gated, &a_c, (void *)&p->degree, &even,
			   (void *)&p->a, (void *)&p->b };
	struct ptxi_launch l = {
		.grid = { grid, 1, 1 }, .block = { block, 1, 1 },
		.params = params, .n_params = 10,
	};

	ptx_launch_on(f->m, d, "cheb_series", &l);
	ptx_download(d, a_y, y, (size_t)n * sizeof(float));
	ptxi_dev_free(d);
}

static void assert_same(const float *got, const float *want, uint32_t n, const char *what,
			const struct pn_cheb *p)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t g, w;

		if (isnan(want[i]) && isnan(got[i]))
			continue;
		memcpy(&g, &got[i], 4);
		memcpy(&w, &want[i], 4);
		if (g != w)
			fail_msg("%s act %u degree %u even %d: [%u] = %.9g (0x%08x), twin %.9g (0x%08x)",
				 what, p->act, p->degree, p->even, i, got[i], g, want[i], w);
	}
}

/* n inputs: a sweep of [a - 1, b + 1] (both edges exactly), then specials, then random. */
static void make_inputs(const struct pn_cheb *p, float *x, uint32_t n, uint32_t seed)
{
	static const float special[] = { INFINITY, -INFINITY, NAN, 0.0f, -0.0f };
	float lo = p->a - 1.0f, hi = p->b + 1.0f, w = p->b - p->a;
	uint32_t i = 0;

	for (; i < n && i < 64; i++)
		x[i] = lo + (hi - lo) * (float)i / 63.0f;
	if (n > 66) {
		x[64] = p->a;
		x[65] = p->b;
		i = 66;
	}
	for (uint32_t j = 0; i < n && j < sizeof(special) / sizeof(*special); j++)
		x[i++] = special[j];
	for (; i < n; i++)
		x[i] = (p->a + p->b) / 2 + ptx_unit32(&seed) * (w / 2 + 0.5f);
}

static void fit(uint32_t act, uint32_t degree, int even, float a, float b, float *c,
		struct pn_cheb *p)
{
	struct pn_err err;

	assert_int_equal(pn_cheb_fit(act, a, b, degree, even, 0, c, &err), 0);
	*p = (struct pn_cheb){ .c = c, .degree = degree, .act = act, .even = even, .a = a, .b = b };
}

static void check_plain(struct ptx_suite *f, const struct pn_cheb *p, uint32_t n,
			uint32_t grid, uint32_t block, int in_place, uint32_t seed)
{
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));

	assert_true(x && y);
	make_inputs(p, x, n, seed);
	run_series(f, p, x, n, y, n, 0, 0, in_place, grid, block);
	pn_cheb_eval(p, x, n);
	assert_same(y, x, n, in_place ? "in place" : "plain", p);
	free(x);
	free(y);
}

/* Every activation, odd and even numbers of coefficients, degree 1 to the maximum. */
static void test_plain_series(void **state)
{
	static const uint32_t acts[] = { PNB_ACT_RELU, PNB_ACT_GELU, PNB_ACT_SILU,
					 PNB_ACT_GELU_TANH };
	static const uint32_t degrees[] = { 1, 2, 7, 16, 33, PN_CHEB_MAX_DEGREE };
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;
	uint32_t seed = 11;

	for (size_t i = 0; i < sizeof(acts) / sizeof(*acts); i++)
		for (size_t j = 0; j < sizeof(degrees) / sizeof(*degrees); j++) {
			fit(acts[i], degrees[j], 0, -4.0f, 3.0f, c, &p);
			check_plain(*state, &p, 77, 1, 64, 0, seed++);
		}
}

/* The even form: degree/2 + 1 coefficients over u = 2t^2 - 1, plus x/2; both parities of m. */
static void test_even_series(void **state)
{
	static const uint32_t acts[] = { PNB_ACT_GELU, PNB_ACT_SILU, PNB_ACT_GELU_TANH,
					 PNB_ACT_RELU };
	static const uint32_t degrees[] = { 2, 4, 6, 16, 30, PN_CHEB_MAX_DEGREE };
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;
	uint32_t seed = 23;

	for (size_t i = 0; i < sizeof(acts) / sizeof(*acts); i++)
		for (size_t j = 0; j < sizeof(degrees) / sizeof(*degrees); j++) {
			fit(acts[i], degrees[j], 1, -5.0f, 5.0f, c, &p);
			check_plain(*state, &p, 70, 1, 32, 0, seed++);
		}
}

/* Ragged n over several CTAs and the grid-stride loop; and y == x. */
static void test_ragged_and_in_place(void **state)
{
	static const uint32_t ns[] = { 1, 5, 37, 1000 };
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;

	fit(PNB_ACT_GELU, 24, 0, -6.0f, 6.0f, c, &p);
	for (size_t i = 0; i < sizeof(ns) / sizeof(*ns); i++) {
		check_plain(*state, &p, ns[i], 3, 96, 0, 40 + (uint32_t)i);
		check_plain(*state, &p, ns[i], 2, 256, 1, 50 + (uint32_t)i);
	}
}

/* y[r, j] = series(h[r, j]) * h[r, ff + j], as ffn.c's gate_rows. */
static void test_gated(void **state)
{
	static const uint32_t shapes[][2] = { { 1, 1 }, { 3, 37 }, { 9, 64 } };	/* rows, ff */
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;
	uint32_t seed = 77;

	for (int even = 0; even < 2; even++) {
		fit(PNB_ACT_SILU, even ? 20 : 19, even, -6.0f, 6.0f, c, &p);
		for (size_t s = 0; s < sizeof(shapes) / sizeof(*shapes); s++) {
			uint32_t rows = shapes[s][0], ff = shapes[s][1], n = rows * ff;
			float *h = malloc(2 * (size_t)n * sizeof(float)), *y = malloc(n * sizeof(float));
			float *g = malloc(n * sizeof(float));

			assert_true(h && y && g);
			for (uint32_t i = 0; i < 2 * n; i++)
				h[i] = 8.0f * ptx_unit32(&seed);	/* past the range on both sides too */
			run_series(*state, &p, h, 2 * (size_t)n, y, n, ff, 1, 0, 2, 64);
			for (uint32_t r = 0; r < rows; r++)
				memcpy(g + (size_t)r * ff, h + (size_t)r * 2 * ff, ff * sizeof(float));
			pn_cheb_eval(&p, g, n);
			for (uint32_t r = 0; r < rows; r++)
				for (uint32_t j = 0; j < ff; j++)
					g[r * ff + j] *= h[(size_t)r * 2 * ff + ff + j];
			assert_same(y, g, n, "gated", &p);
			free(h);
			free(y);
			free(g);
		}
	}
}

/*
 * The twin is the right target: on [a, b] the kernel's series stays within
 * the fit's error of the exact activation (measured by pn_cheb_max_error on
 * a grid) plus 1e-5 for the float rounding of a degree-24 Clenshaw sum.
 */
static void test_close_to_activation(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1], x[101], y[101];
	struct pn_cheb p;

	fit(PNB_ACT_GELU, 24, 0, -6.0f, 6.0f, c, &p);
	double fit_err = pn_cheb_max_error(&p, -6.0, 6.0, 4097);

	for (uint32_t i = 0; i < 101; i++)
		x[i] = -6.0f + 12.0f * (float)i / 100.0f;
	run_series(*state, &p, x, 101, y, 101, 0, 0, 0, 1, 128);
	for (uint32_t i = 0; i < 101; i++) {
		double e = fabs(y[i] - pn_cheb_exact(PNB_ACT_GELU, x[i]));

		if (!(e <= fit_err + 1e-5))
			fail_msg("x %g: series %g, gelu %g, error %g above %g", x[i], y[i],
				 pn_cheb_exact(PNB_ACT_GELU, x[i]), e, fit_err + 1e-5);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_series),
		cmocka_unit_test(test_even_series),
		cmocka_unit_test(test_ragged_and_in_place),
		cmocka_unit_test(test_gated),
		cmocka_unit_test(test_close_to_activation),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
