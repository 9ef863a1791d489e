// SPDX-License-Identifier: MIT
/*
 * test_pass_polyffn: the PackedPolyFFN fit (lib/compile/pass_polyffn.c) on
 * synthetic GELU and SiLU FFNs. The chosen series meets the tolerance on
 * its range (checked with the double-precision reference twin, not the
 * kernel it was chosen with); the POLY_FFN output then differs from the
 * exact FFN by at most tol * max_j sum_k |W2[k][j]| (every pre-activation
 * inside the range, the activation error propagated through W2). ReLU under
 * a tight budget is reported (-ERANGE), and degenerate input is refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"

enum { ROWS = 64, D = 16, FF = 32 };

static uint32_t seed = 9;

static float uni(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((float)(seed >> 8) + 0.5f) / 16777216.0f - 0.5f;
}

static void check_act(uint32_t act, double tol)
{
	static float x[ROWS * D], W1[D * FF], b1[FF], W2[FF * D], b2[D], u[ROWS * FF];
	static float ye[ROWS * D], yp[ROWS * D];
	float c[PN_CHEB_MAX_DEGREE / 2 + 1], *scr;
	struct pn_cheb p;
	double fit_err, bound = 0;
	struct pn_err err;

	for (int i = 0; i < ROWS * D; i++)
		x[i] = 4 * uni();
	for (int i = 0; i < D * FF; i++)
		W1[i] = uni();
	for (int i = 0; i < FF * D; i++)
		W2[i] = uni();
	for (int i = 0; i < FF; i++)
		b1[i] = uni();
	for (int i = 0; i < D; i++)
		b2[i] = uni();
	pn_ref_linear(x, ROWS, D, W1, b1, FF, PNB_ACT_NONE, u);
	/* clip 1.0: the range covers every pre-activation, so the bound holds */
	assert_int_equal(pn_polyffn_fit(act, u, ROWS * FF, 1.0, tol, 0 + PN_CHEB_MAX_DEGREE, &p, c,
					&fit_err, &err), 0);
	assert_true(p.even && p.a == -p.b && fit_err <= tol);
	for (int i = 1; i < 2000; i++) {	/* open interval: the asymptote at the ends */
		double t = p.a + (p.b - p.a) * i / 2000.0;

		assert_true(fabs(pn_ref_cheb1(&p, (float)t) - pn_cheb_exact(act, t)) <= tol * 1.01);
	}
	scr = malloc(pn_polyffn_scratch(ROWS, FF, 0) * sizeof(float));
	pn_ref_ffn(x, ROWS, D, FF, 0, act, W1, b1, W2, b2, ye);
	pn_polyffn(NULL, x, ROWS, &(struct pn_ffn_w){
		.D = D, .ff = FF, .gated = 0,
		.W1 = W1, .b1 = b1,
		.W2 = W2, .b2 = b2 }, &p, yp, scr);
	free(scr);
	for (int j = 0; j < D; j++) {
		double s = 0;

		for (int k = 0; k < FF; k++)
			s += fabs(W2[k * D + j]);
		bound = s > bound ? s : bound;
	}
	for (int i = 0; i < ROWS * D; i++)	/* + 1e-4: float GEMM rounding */
		assert_true(fabs(yp[i] - ye[i]) <= tol * bound + 1e-4);
}

static void gelu_meets_tol(void **state)
{
	(void)state;
	check_act(PNB_ACT_GELU, 1e-3);
}

static void silu_meets_tol(void **state)
{
	(void)state;
	check_act(PNB_ACT_SILU, 1e-3);
}

static void relu_kink_reported(void **state)
{
	float u[1000], c[PN_CHEB_MAX_DEGREE / 2 + 1];
	struct pn_cheb p;
	double e;
	struct pn_err err;

	(void)state;
	for (int i = 0; i < 1000; i++)
		u[i] = 16 * uni();
	/* ReLU on [-8, 8]: ~0.018 at degree 128 (docs/polynodes.md), so 1e-3 is out of reach */
	assert_int_equal(pn_polyffn_fit(PNB_ACT_RELU, u, 1000, 1.0, 1e-3, 128, &p, c, &e, &err),
			 -ERANGE);
	assert_non_null(strstr(err.msg, "relu"));
	assert_int_equal(p.degree, 128);
	assert_true(e > 1e-3 && e < 0.05);
}

static void bad_input(void **state)
{
	float u[8] = { 0 }, c[PN_CHEB_MAX_DEGREE / 2 + 1];
	struct pn_cheb p;
	double e;
	struct pn_err err;

	(void)state;
	assert_int_equal(pn_polyffn_fit(PNB_ACT_GELU, u, 0, 1, 1e-2, 64, &p, c, &e, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no calibration"));
	assert_int_equal(pn_polyffn_fit(PNB_ACT_GELU, u, 8, 1, 1e-2, 64, &p, c, &e, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "degenerate range"));
	u[5] = NAN;
	assert_int_equal(pn_polyffn_fit(PNB_ACT_GELU, u, 8, 1, 1e-2, 64, &p, c, &e, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "pre-activation 5"));
	u[5] = 1;
	assert_int_equal(pn_polyffn_fit(PNB_ACT_TANH, u, 8, 1, 1e-2, 64, &p, c, &e, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gelu_meets_tol),
		cmocka_unit_test(silu_meets_tol),
		cmocka_unit_test(relu_kink_reported),
		cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
