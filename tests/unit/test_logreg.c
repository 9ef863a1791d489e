// SPDX-License-Identifier: MIT
/*
 * test_logreg: the eval head (lib/compile/logreg.c). Cholesky against a
 * system with a known solution; on separable data the head classifies its
 * training set perfectly; its gradient at the returned optimum is ~0 (the
 * optimality condition, checked independently of the solver); bad input.
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

static uint32_t seed = 11;

static float uni(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((float)(seed >> 8) + 0.5f) / 16777216.0f - 0.5f;
}

static void cholesky_known(void **state)
{
	/* A = L L^T with L = [[2,0,0],[1,3,0],[-1,2,4]]; x = (1, -2, 0.5) */
	double L[9] = { 2, 0, 0, 1, 3, 0, -1, 2, 4 }, A[9] = { 0 }, x[3] = { 1, -2, 0.5 }, b[3];
	double bad[4] = { 1, 2, 2, 1 }, rhs[2] = { 1, 1 };

	(void)state;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++)
				A[i * 3 + j] += L[i * 3 + k] * L[j * 3 + k];
	for (int i = 0; i < 3; i++) {
		b[i] = 0;
		for (int j = 0; j < 3; j++)
			b[i] += A[i * 3 + j] * x[j];
	}
	assert_int_equal(pn_cholesky_solve(A, b, 3, 1), 0);
	for (int i = 0; i < 3; i++)
		assert_true(fabs(b[i] - x[i]) < 1e-12);	/* well conditioned, 3x3 */
	assert_int_equal(pn_cholesky_solve(bad, rhs, 2, 1), -EDOM);	/* indefinite */
}

enum { N = 200, D = 5 };

static void separable(void **state)
{
	float X[N * D];
	int8_t y[N];
	double w[D + 1], g[D + 1] = { 0 }, lambda = 1e-4;	/* weak: the margin is 0.1 */

	(void)state;
	/* class by the sign of x0 + x1, with a margin of 0.1 */
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < D; j++)
			X[i * D + j] = uni();
		y[i] = X[i * D] + X[i * D + 1] > 0;
		X[i * D] += y[i] ? 0.1f : -0.1f;
	}
	assert_int_equal(pn_logreg_fit(X, y, N, D, lambda, 0, w, NULL), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pn_logreg_prob(w, X + i * D, D) >= 0.5, y[i]);
	/* gradient of mean log-loss + lambda/2 |w|^2 vanishes at the optimum */
	for (int i = 0; i < N; i++) {
		double r = (pn_logreg_prob(w, X + i * D, D) - y[i]) / N;

		for (int j = 0; j < D; j++)
			g[j] += r * X[i * D + j];
		g[D] += r;
	}
	for (int j = 0; j <= D; j++)
		assert_true(fabs(g[j] + (j < D ? lambda * w[j] : 0)) < 1e-7);
}

static void bad_input(void **state)
{
	float X[4 * 2] = { 0 };
	int8_t one_class[4] = { 1, 1, 1, 1 }, bad_label[4] = { 0, 1, 2, 0 }, ok[4] = { 0, 1, 0, 1 };
	double w[3];
	struct pn_err err;

	(void)state;
	assert_int_equal(pn_logreg_fit(X, ok, 0, 2, 1e-3, 0, w, &err), -EINVAL);
	assert_int_equal(pn_logreg_fit(X, one_class, 4, 2, 1e-3, 0, w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "both classes"));
	assert_int_equal(pn_logreg_fit(X, bad_label, 4, 2, 1e-3, 0, w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "example 2"));
	X[5] = NAN;
	assert_int_equal(pn_logreg_fit(X, ok, 4, 2, 1e-3, 0, w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "example 2 feature 1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cholesky_known),
		cmocka_unit_test(separable),
		cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
