/* SPDX-License-Identifier: MIT */
/*
 * cheb.h - Chebyshev series of an activation over a range (SPECS.md,
 * "PackedPolyFFN"): fitting, degree selection and the Clenshaw kernel that
 * PNB_OP_POLY_FFN and PNB_OP_MACRO evaluate in place of the activation.
 *
 * A series approximates act(x) on [a, b]; outside it the activation's
 * asymptote is returned (x above b, 0 below a: every supported activation
 * is ReLU-like). Supported: RELU, GELU, SILU, GELU_TANH.
 *
 * Even form: act(x) - x/2 is even for all four, so on a symmetric range
 * [-b, b] its series has only even terms c_2j T_2j(t) = c_2j T_j(2t^2 - 1):
 * the fit keeps degree/2 + 1 coefficients and Clenshaw runs over
 * u = 2t^2 - 1 for half the steps; the result is x/2 + that series.
 */
#ifndef PN_CPU_CHEB_H
#define PN_CPU_CHEB_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "uapi/pnb.h"

#define PN_CHEB_MAX_DEGREE PNB_POLY_MAX_DEGREE

struct pn_cheb {
	const float *c;		/* pn_cheb_ncoef(degree, even) coefficients */
	uint32_t degree;	/* of the series in t (even: must be even) */
	uint32_t act;		/* enum pnb_act: asymptotes, and the x/2 of even */
	int even;		/* c are the even terms of act(x) - x/2; a == -b */
	float a, b;		/* the fitted range, a < b */
};

/* 1 for the activations a series can replace (ReLU-like asymptotes). */
int pn_cheb_act_ok(uint32_t act);
uint32_t pn_cheb_ncoef(uint32_t degree, int even);
/* The exact activation in double precision (the function fitted). */
double pn_cheb_exact(uint32_t act, double x);

/*
 * c[0..ncoef) = the Chebyshev coefficients of act (even: of act(x) - x/2,
 * even terms only) over [a, b] from npoints Chebyshev nodes (SPECS.md;
 * npoints 0 means degree + 1, the interpolant; more approach the truncated
 * series). -EINVAL with err for an unsupported activation, a degree past
 * PN_CHEB_MAX_DEGREE (or odd when even), a range not finite with a < b (or
 * not symmetric when even), or npoints <= degree.
 */
int pn_cheb_fit(uint32_t act, double a, double b, uint32_t degree, int even,
		uint32_t npoints, float *c, struct pn_err *err);

/* In place: x[i] = series(x[i]) inside [a, b], the asymptote outside. */
void pn_cheb_eval(const struct pn_cheb *p, float *x, size_t n);

/* Max |pn_cheb_eval - exact| over grid points evenly spaced on [lo, hi]. */
double pn_cheb_max_error(const struct pn_cheb *p, double lo, double hi,
			 uint32_t grid);

/*
 * The lowest degree (even degrees only when even) whose fitted series meets
 * max |error| <= tol on a dense grid (4097 points) over [a, b], as the
 * kernel computes it in float. Fills *p (p->c = c, which must hold
 * pn_cheb_ncoef(max_degree, even) floats) and *err_out. -ERANGE with err
 * when no degree up to max_degree meets tol (p then holds max_degree's
 * fit, the closest one); -EINVAL as pn_cheb_fit or for tol <= 0.
 */
int pn_cheb_choose(uint32_t act, double a, double b, int even, double tol,
		   uint32_t max_degree, struct pn_cheb *p, float *c,
		   double *err_out, struct pn_err *err);

/* Reference twin: the direct sum of c_k T_k(t), T_k(t) = cos(k acos t), in double. */
float pn_ref_cheb1(const struct pn_cheb *p, float x);

#endif /* PN_CPU_CHEB_H */
