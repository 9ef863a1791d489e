// SPDX-License-Identifier: MIT
/*
 * test_macro_fit: the Macro-Operator fit (lib/compile/macro_fit.c). With a
 * degree-1 series (affine features) and rank >= width, the ridge fit of a
 * known affine map y = x + x A + c recovers it on held-out points; a
 * nonlinear target leaves a residual between 0 and 1; bad input is refused.
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
#include "cpu/poly.h"

enum { N = 400, D = 8, NT = 50 };

static uint32_t seed = 3;

static float uni(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((float)(seed >> 8) + 0.5f) / 16777216.0f - 0.5f;
}

static void affine(const float *X, uint32_t n, const float *A, const float *c, float *Y)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < D; j++) {
			double s = X[i * D + j] + c[j];

			for (uint32_t k = 0; k < D; k++)
				s += (double)X[i * D + k] * A[k * D + j];
			Y[i * D + j] = (float)s;
		}
}

static void recovers_linear_map(void **state)
{
	static float X[N * D], Y[N * D], Xt[NT * D], Yt[NT * D], Yh[NT * D];
	float A[D * D], c[D];
	struct pn_macro_fit m;
	struct pn_macro view;
	struct pn_err err;

	(void)state;
	for (int i = 0; i < D * D; i++)
		A[i] = uni();
	for (int j = 0; j < D; j++)
		c[j] = uni();
	for (int i = 0; i < N * D; i++)
		X[i] = 4 * uni();
	/* held-out points inside the calibrated box, where the series is affine */
	for (int i = 0; i < NT * D; i++)
		Xt[i] = 3 * uni();
	affine(X, N, A, c, Y);
	affine(Xt, NT, A, c, Yt);
	assert_int_equal(pn_macro_fit(X, Y, N, D, 2, 16, 1, PNB_ACT_GELU, 1, 1e-9, 7, &m, &err), 0);
	assert_true(m.resid < 1e-8);
	pn_macro_fit_view(&m, &view);
	pn_ref_macro(Xt, NT, D, &view, Yh);
	/* float features of magnitude ~5 through a 17-wide solve: 1e-3 is loose for float */
	for (int i = 0; i < NT * D; i++)
		assert_true(fabsf(Yh[i] - Yt[i]) < 1e-3f);
	pn_macro_fit_free(&m);
}

static void nonlinear_target_partial_fit(void **state)
{
	static float X[N * D], Y[N * D];
	struct pn_macro_fit m;

	(void)state;
	for (int i = 0; i < N * D; i++) {
		X[i] = 4 * uni();
		Y[i] = X[i] + sinf(3 * X[i]) * X[(i / D) * D];
	}
	assert_int_equal(pn_macro_fit(X, Y, N, D, 3, 8, 8, PNB_ACT_GELU, 1, 1e-3, 7, &m, NULL), 0);
	assert_true(m.resid > 0 && m.resid < 1);	/* better than y = x, not exact */
	pn_macro_fit_free(&m);
}

static void bad_input(void **state)
{
	static float X[N * D], Y[N * D];
	struct pn_macro_fit m;
	struct pn_err err;

	(void)state;
	assert_int_equal(pn_macro_fit(X, Y, 1, D, 1, 4, 2, PNB_ACT_GELU, 1, 1e-3, 1, &m, &err),
			 -EINVAL);	/* tiny calibration set */
	assert_int_equal(pn_macro_fit(X, Y, 4, D, 5, 4, 2, PNB_ACT_GELU, 1, 1e-3, 1, &m, &err),
			 -EINVAL);	/* more experts than rows */
	assert_int_equal(pn_macro_fit(X, Y, N, D, 2, 4, 2, PNB_ACT_TANH, 1, 1e-3, 1, &m, &err),
			 -EINVAL);
	X[3 * D + 2] = INFINITY;
	assert_int_equal(pn_macro_fit(X, Y, N, D, 2, 4, 2, PNB_ACT_GELU, 1, 1e-3, 1, &m, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "input row 3 column 2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(recovers_linear_map),
		cmocka_unit_test(nonlinear_target_partial_fit),
		cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
