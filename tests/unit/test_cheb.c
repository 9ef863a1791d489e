// SPDX-License-Identifier: MIT
/*
 * test_cheb: Chebyshev series of activations (lib/cpu/cheb.c) against the
 * exact functions and against the reference twin (direct sum of T_k).
 *
 * The SPECS.md table was computed (and re-derived here) as: coefficients
 * from N = degree + 1 Chebyshev nodes on [-8, 8] (the interpolant), max
 * |series - f| over a dense grid on [-8, 8], series in double. numpy gives
 * silu 16: 2.94e-3, 24: 1.38e-4; gelu 16: 1.71e-2, 24: 1.00e-3, 32: 2.94e-5.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/cheb.h"

#define GRID 20001

/* max |series - f| on [lo, hi], the series evaluated by the reference twin. */
static double ref_max_err(const struct pn_cheb *p, double lo, double hi)
{
	double worst = 0;

	for (int i = 0; i < GRID; i++) {
		float x = (float)(lo + (hi - lo) * i / (GRID - 1));
		double e = fabs(pn_ref_cheb1(p, x) - pn_cheb_exact(p->act, x));

		worst = e > worst ? e : worst;
	}
	return worst;
}

static double fit_err(uint32_t act, uint32_t deg, int even, double r, float *c)
{
	struct pn_cheb p = { .c = c, .degree = deg, .act = act, .even = even,
			     .a = (float)-r, .b = (float)r };

	assert_int_equal(pn_cheb_fit(act, -r, r, deg, even, 0, c, NULL), 0);
	return ref_max_err(&p, -r, r);
}

/* Within 25% of the SPECS.md figure (grid density and float coefficients move the 3rd digit). */
static void near(double got, double want)
{
	if (!(got > 0.75 * want && got < 1.25 * want))
		fail_msg("max error %.3g, SPECS.md says %.3g", got, want);
}

static void test_specs_table(void **state)
{
	static const struct { uint32_t act, deg; double err; } t[] = {
		{ PNB_ACT_SILU, 16, 2.9e-3 }, { PNB_ACT_SILU, 24, 1.4e-4 },
		{ PNB_ACT_GELU, 16, 1.7e-2 }, { PNB_ACT_GELU, 24, 1.0e-3 },
		{ PNB_ACT_GELU, 32, 2.9e-5 },
	};
	float c[PN_CHEB_MAX_DEGREE + 1];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double full = fit_err(t[i].act, t[i].deg, 0, 8, c);
		double even = fit_err(t[i].act, t[i].deg, 1, 8, c);

		print_message("%s deg %u on [-8,8]: max err %.3g (even form %.3g), SPECS %.3g\n",
			      t[i].act == PNB_ACT_SILU ? "silu" : "gelu", t[i].deg, full,
			      even, t[i].err);
		near(full, t[i].err);
		near(even, t[i].err);	/* same series, half the terms */
	}
	/* "On [-4, 4] far smaller": at least 10x at the same degree. */
	assert_true(fit_err(PNB_ACT_SILU, 16, 1, 4, c) * 10 < fit_err(PNB_ACT_SILU, 16, 1, 8, c));
}

/* Clenshaw (the kernel) against the direct sum of c_k cos(k acos t) (the twin). */
static void test_clenshaw_matches_direct_sum(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1];
	uint32_t s = 7;

	for (uint32_t deg = 1; deg <= 64; deg += 7) {
		for (int even = 0; even <= 1; even++) {
			uint32_t d = even ? deg + deg % 2 : deg;
			struct pn_cheb p = { .c = c, .degree = d, .act = PNB_ACT_SILU,
					     .even = even, .a = even ? -3.0f : -2.0f, .b = 3.0f };
			float x[257], want;

			/* arbitrary coefficients: Clenshaw must sum any series, not just smooth ones */
			for (uint32_t k = 0; k < pn_cheb_ncoef(d, even); k++) {
				s = s * 1664525u + 1013904223u;
				c[k] = (float)(s >> 8) / 16777216.0f - 0.5f;
			}
			for (int i = 0; i < 257; i++)
				x[i] = -4.0f + 8.0f * i / 256;	/* covers both asymptotes */
			pn_cheb_eval(&p, x, 257);
			for (int i = 0; i < 257; i++) {
				want = pn_ref_cheb1(&p, -4.0f + 8.0f * i / 256);
				/* float Clenshaw: error grows ~linearly with degree; |sum c_k| <= 32 */
				if (fabsf(x[i] - want) > 2e-6f * (d + 1) * 4)
					fail_msg("deg %u even %d x %g: clenshaw %.9g direct %.9g",
						 d, even, -4.0 + 8.0 * i / 256, x[i], want);
			}
		}
	}
}

static void test_error_decreases_with_degree(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1];
	const uint32_t acts[] = { PNB_ACT_SILU, PNB_ACT_GELU, PNB_ACT_GELU_TANH };

	for (size_t a = 0; a < 3; a++) {
		double prev = INFINITY;

		for (uint32_t deg = 4; deg <= 32; deg += 4) {
			double e = fit_err(acts[a], deg, 1, 8, c);

			assert_true(e < prev);
			prev = e;
		}
	}
}

/*
 * ReLU's kink: the error falls only like 1/degree (not geometrically):
 * measured on [-8, 8], err * degree stays near 2.2 from degree 8 to 128.
 */
static void test_relu_converges_slowly(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1];
	double e8 = 0, e128 = 0;

	for (uint32_t deg = 8; deg <= 128; deg *= 2) {
		double e = fit_err(PNB_ACT_RELU, deg, 1, 8, c);

		print_message("relu deg %3u on [-8,8]: max err %.3g (x degree: %.2f)\n",
			      deg, e, e * deg);
		assert_true(e * deg > 1.0 && e * deg < 4.0);
		if (deg == 8)
			e8 = e;
		e128 = e;
	}
	/* 16x the degree buys only ~16x, where silu gains orders of magnitude */
	assert_true(e8 / e128 < 30);
	assert_true(fit_err(PNB_ACT_SILU, 8, 1, 8, c) / fit_err(PNB_ACT_SILU, 32, 1, 8, c) > 1e3);
}

static void test_asymptotes_outside_range(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p = { .c = c, .degree = 12, .act = PNB_ACT_GELU, .a = -2.0f, .b = 5.0f };
	float x[6] = { -1e30f, -7.0f, -2.0001f, 5.0001f, 9.0f, 1e30f };

	assert_int_equal(pn_cheb_fit(PNB_ACT_GELU, -2, 5, 12, 0, 0, c, NULL), 0);
	pn_cheb_eval(&p, x, 6);
	assert_true(x[0] == 0.0f && x[1] == 0.0f && x[2] == 0.0f);
	assert_true(x[3] == 5.0001f && x[4] == 9.0f && x[5] == 1e30f);
}

static void test_choose_degree(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;
	struct pn_err err;
	double e;

	assert_int_equal(pn_cheb_choose(PNB_ACT_SILU, -8, 8, 1, 1e-3, 64, &p, c, &e, &err), 0);
	/* SPECS: 16 gives 2.9e-3 > 1e-3, 24 gives 1.4e-4: the choice lies between */
	assert_true(p.degree > 16 && p.degree <= 24 && p.degree % 2 == 0);
	assert_true(e <= 1e-3);
	/* minimal: two degrees fewer misses the budget */
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -8, 8, p.degree - 2, 1, 0, c, NULL), 0);
	p.degree -= 2;
	assert_true(pn_cheb_max_error(&p, -8, 8, 4097) > 1e-3);
	/* odd degrees allowed without the even form */
	assert_int_equal(pn_cheb_choose(PNB_ACT_GELU, -3, 5, 0, 1e-2, 64, &p, c, &e, &err), 0);
	assert_true(e <= 1e-2);
	/* ReLU to 1e-3 on [-8, 8] needs degree ~2000: refused, naming the kink */
	assert_int_equal(pn_cheb_choose(PNB_ACT_RELU, -8, 8, 1, 1e-3, 128, &p, c, &e, &err),
			 -ERANGE);
	assert_non_null(strstr(err.msg, "relu"));
	assert_non_null(strstr(err.msg, "kink"));
	assert_int_equal(p.degree, 128);
	assert_true(e > 1e-2);
}

static void test_bad_arguments(void **state)
{
	float c[PN_CHEB_MAX_DEGREE + 2];
	struct pn_cheb p;
	struct pn_err err;

	assert_int_equal(pn_cheb_fit(PNB_ACT_TANH, -1, 1, 8, 0, 0, c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "asymptotes"));
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, 1, 1, 8, 0, 0, c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "a < b"));
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, NAN, 1, 8, 0, 0, c, &err), -EINVAL);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, INFINITY, 8, 0, 0, c, &err), -EINVAL);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, 2, 8, 1, 0, c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "symmetric"));
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, 1, 7, 1, 0, c, &err), -EINVAL);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, 1, 0, 0, 0, c, &err), -EINVAL);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, 1, PN_CHEB_MAX_DEGREE + 1, 0, 0, c,
				     &err), -EINVAL);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -1, 1, 8, 0, 8, c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "points"));
	assert_int_equal(pn_cheb_choose(PNB_ACT_SILU, -1, 1, 0, 0, 8, &p, c, NULL, &err),
			 -EINVAL);
	/* more points than degree + 1: the near-minimax truncated series, also fine */
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -8, 8, 16, 0, 1024, c, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs_table),
		cmocka_unit_test(test_clenshaw_matches_direct_sum),
		cmocka_unit_test(test_error_decreases_with_degree),
		cmocka_unit_test(test_relu_converges_slowly),
		cmocka_unit_test(test_asymptotes_outside_range),
		cmocka_unit_test(test_choose_degree),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests_name("cheb", tests, NULL, NULL);
}
