// SPDX-License-Identifier: MIT
/*
 * cheb.c - Chebyshev series of an activation: fit at Chebyshev nodes,
 * choose a degree for an error budget, evaluate with Clenshaw.
 *
 * The kernel works on blocks of LANES elements with the coefficient loop
 * outside the lane loop, so the recurrence b_k = c_k + 2u b_{k+1} - b_{k+2}
 * runs as a few vector FMAs per coefficient for LANES elements at once.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "cpu/cheb.h"
#include "format/pnb.h"

#define LANES 64	/* a whole number of vectors; gcc unrolls and SLP-fails at 16 */
#define CHOOSE_GRID 4097

int pn_cheb_act_ok(uint32_t act)
{
	return act == PNB_ACT_RELU || act == PNB_ACT_GELU || act == PNB_ACT_SILU ||
	       act == PNB_ACT_GELU_TANH;
}

uint32_t pn_cheb_ncoef(uint32_t degree, int even)
{
	return even ? degree / 2 + 1 : degree + 1;
}

double pn_cheb_exact(uint32_t act, double x)
{
	switch (act) {
	case PNB_ACT_RELU:
		return x > 0 ? x : 0;
	case PNB_ACT_GELU:
		return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
	case PNB_ACT_SILU:
		return x / (1.0 + exp(-x));
	case PNB_ACT_GELU_TANH:
		return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
	}
	return x;
}

int pn_cheb_fit(uint32_t act, double a, double b, uint32_t degree, int even,
		uint32_t npoints, float *c, struct pn_err *err)
{
	uint32_t N = npoints ? npoints : degree + 1;
	double *fx;

	if (!pn_cheb_act_ok(act))
		return pn_errf(err, -EINVAL, "chebyshev fit: activation %u has no "
			       "ReLU-like asymptotes, expected relu, gelu, silu or gelu_tanh", act);
	if (degree < 1 || degree > PN_CHEB_MAX_DEGREE || (even && degree % 2))
		return pn_errf(err, -EINVAL, "chebyshev fit: degree %u, expected 1..%u%s",
			       degree, PN_CHEB_MAX_DEGREE, even ? " and even" : "");
	if (!isfinite(a) || !isfinite(b) || !(a < b))
		return pn_errf(err, -EINVAL, "chebyshev fit: range [%g, %g], expected "
			       "finite a < b", a, b);
	if (even && a != -b)
		return pn_errf(err, -EINVAL, "chebyshev fit: even form needs a symmetric "
			       "range, got [%g, %g]", a, b);
	if (N <= degree)
		return pn_errf(err, -EINVAL, "chebyshev fit: %u points for degree %u, "
			       "expected at least degree + 1", N, degree);
	fx = malloc((size_t)N * sizeof(*fx));
	if (!fx)
		return pn_errf(err, -ENOMEM, "chebyshev fit: out of memory (%u points)", N);
	for (uint32_t j = 0; j < N; j++) {
		double x = (b - a) / 2 * cos(M_PI * (j + 0.5) / N) + (a + b) / 2;

		fx[j] = pn_cheb_exact(act, x) - (even ? x / 2 : 0);
	}
	for (uint32_t k = 0, o = 0; k <= degree; k++) {
		double s = 0;

		if (even && k % 2)	/* zero by symmetry of the nodes */
			continue;
		for (uint32_t j = 0; j < N; j++)
			s += fx[j] * cos(M_PI * k * (j + 0.5) / N);
		s *= 2.0 / N;
		c[o++] = (float)(k ? s : s / 2);
	}
	free(fx);
	return 0;
}

/* One block of n <= LANES elements. */
static void eval_block(const struct pn_cheb *p, float *x, uint32_t n)
{
	const float sc = 2.0f / (p->b - p->a), sh = -(p->a + p->b) / (p->b - p->a);
	const uint32_t m = pn_cheb_ncoef(p->degree, p->even) - 1;
	const float *c = p->c;
	float u[LANES], u2[LANES], b1[LANES] = { 0 }, b2[LANES] = { 0 };
	uint32_t l, k;

	for (l = 0; l < LANES; l++) {
		float t = l < n ? fmaf(x[l], sc, sh) : 0.0f;

		t = t > 1.0f ? 1.0f : t < -1.0f ? -1.0f : t;	/* outside: discarded */
		u[l] = p->even ? fmaf(2.0f * t, t, -1.0f) : t;
	}
	for (l = 0; l < LANES; l++)
		u2[l] = 2.0f * u[l];
	/* two steps per pass, b1/b2 swapping roles: no copies in the recurrence */
	for (k = m; k >= 2; k -= 2) {
		for (l = 0; l < LANES; l++)
			b2[l] = fmaf(u2[l], b1[l], c[k] - b2[l]);
		for (l = 0; l < LANES; l++)
			b1[l] = fmaf(u2[l], b2[l], c[k - 1] - b1[l]);
	}
	if (k == 1) {
		for (l = 0; l < LANES; l++) {
			float bk = fmaf(u2[l], b1[l], c[1] - b2[l]);

			b2[l] = b1[l];
			b1[l] = bk;
		}
	}
	for (l = 0; l < n; l++) {
		float v = x[l], s = fmaf(u[l], b1[l], c[0] - b2[l]);

		if (p->even)
			s = fmaf(0.5f, v, s);
		x[l] = v > p->b ? v : v < p->a ? 0.0f : s;
	}
}

void pn_cheb_eval(const struct pn_cheb *p, float *x, size_t n)
{
	for (size_t i = 0; i < n; i += LANES)
		eval_block(p, x + i, n - i < LANES ? (uint32_t)(n - i) : LANES);
}

double pn_cheb_max_error(const struct pn_cheb *p, double lo, double hi, uint32_t grid)
{
	float buf[LANES];
	double worst = 0;

	for (uint32_t i = 0; i < grid; i += LANES) {
		uint32_t n = grid - i < LANES ? grid - i : LANES;

		for (uint32_t l = 0; l < n; l++)
			buf[l] = (float)(grid > 1 ? lo + (hi - lo) * (i + l) / (grid - 1) : lo);
		eval_block(p, buf, n);
		for (uint32_t l = 0; l < n; l++) {
			double x = (float)(grid > 1 ? lo + (hi - lo) * (i + l) / (grid - 1) : lo);
			double e = fabs(buf[l] - pn_cheb_exact(p->act, x));

			if (!(e <= worst))	/* NaN counts as worst */
				worst = isnan(e) ? INFINITY : e;
		}
	}
	return worst;
}

int pn_cheb_choose(uint32_t act, double a, double b, int even, double tol,
		   uint32_t max_degree, struct pn_cheb *p, float *c,
		   double *err_out, struct pn_err *err)
{
	uint32_t step = even ? 2 : 1;
	double e = INFINITY;
	int r;

	if (!(tol > 0))
		return pn_errf(err, -EINVAL, "chebyshev degree choice: tolerance %g, "
			       "expected > 0", tol);
	if (max_degree > PN_CHEB_MAX_DEGREE || max_degree < step)
		return pn_errf(err, -EINVAL, "chebyshev degree choice: max degree %u, "
			       "expected %u..%u", max_degree, step, PN_CHEB_MAX_DEGREE);
	for (uint32_t d = step; d <= max_degree; d += step) {
		r = pn_cheb_fit(act, a, b, d, even, 0, c, err);
		if (r)
			return r;
		*p = (struct pn_cheb){ .c = c, .degree = d, .act = act, .even = even,
				       .a = (float)a, .b = (float)b };
		e = pn_cheb_max_error(p, a, b, CHOOSE_GRID);
		if (e <= tol)
			break;
	}
	if (err_out)
		*err_out = e;
	if (e > tol)
		return pn_errf(err, -ERANGE, "chebyshev degree choice: %s%s on [%g, %g] "
			       "reaches max |error| %.3g at degree %u, above the budget %.3g",
			       pnb_act_name(act), act == PNB_ACT_RELU ?
			       " (its kink converges slowly)" : "", a, b, e, p->degree, tol);
	return 0;
}
