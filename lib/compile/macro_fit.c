// SPDX-License-Identifier: MIT
/*
 * macro_fit.c - fit a Macro-Operator (PNB_OP_MACRO) to y = x + F(x) on
 * calibration rows, training-free: a k-means router, random-feature
 * experts (W1 Gaussian, centred and scaled so every pre-activation has unit
 * RMS on the expert's rows), the series of the base activation over the
 * calibrated pre-activation range, and [W2; b2] by ridge regression of the
 * residual Y - X on [features, 1] (normal equations, Cholesky in double).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile/kmeans.h"
#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"


void pn_macro_fit_free(struct pn_macro_fit *m)
{
	free(m->router);
	free(m->W1);
	free(m->b1);
	free(m->coefs);
	free(m->W2);
	free(m->b2);
	memset(m, 0, sizeof(*m));
}

void pn_macro_fit_view(const struct pn_macro_fit *fit, struct pn_macro *m)
{
	int even = fit->degree % 2 == 0;

	*m = (struct pn_macro){
		.E = fit->E, .rank = fit->rank, .router = PN_ROUTER_CENTROID, .topk = fit->topk,
		.temperature = 1.0f, .router_w = fit->router, .router_b = NULL, .W1 = fit->W1,
		.b1 = fit->b1, .coefs = fit->coefs, .W2 = fit->W2, .b2 = fit->b2,
		.cheb = { NULL, fit->degree, fit->act, even, -fit->range, fit->range },
	};
}

/* Rows of X routed to e, gathered into Xe [ne, D]. */
static uint32_t gather(const float *X, const int32_t *assign, uint32_t n, uint32_t D,
		       uint32_t e, float *Xe, uint32_t *idx)
{
	uint32_t ne = 0;

	for (uint32_t i = 0; i < n; i++)
		if ((uint32_t)assign[i] == e) {
			memcpy(Xe + (size_t)ne * D, X + (size_t)i * D, D * sizeof(float));
			idx[ne++] = i;
		}
	return ne;
}

/* W1_e, b1_e: Gaussian directions, centred on the expert's rows, unit RMS. */
static void draw_projection(const float *Xe, uint32_t ne, uint32_t D, uint32_t r,
			    uint64_t *rng, float *W1, float *b1, float *U)
{
	for (size_t k = 0; k < (size_t)D * r; k++)
		W1[k] = pn_rand_gauss(rng);
	pn_linear(NULL, Xe, ne, D, W1, NULL, r, PNB_ACT_NONE, U);
	for (uint32_t j = 0; j < r; j++) {
		double s = 0, q = 0, mean, sd;

		for (uint32_t i = 0; i < ne; i++)
			s += U[(size_t)i * r + j];
		mean = s / ne;
		for (uint32_t i = 0; i < ne; i++) {
			double d = U[(size_t)i * r + j] - mean;

			q += d * d;
		}
		sd = sqrt(q / ne);
		sd = sd > 1e-12 ? sd : 1;
		for (uint32_t k = 0; k < D; k++)
			W1[(size_t)k * r + j] /= (float)sd;
		b1[j] = (float)(-mean / sd);
	}
}

int pn_ridge_fit(const float *H, const float *R, uint32_t ne, uint32_t r1, uint32_t D,
		 double lambda, float *W2, float *b2)
{
	double *A = calloc((size_t)r1 * r1, sizeof(double));
	double *B = calloc((size_t)r1 * D, sizeof(double));
	double tr = 0;
	int rc;

	if (!A || !B) {
		free(A);
		free(B);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ne; i++) {
		const float *h = H + (size_t)i * r1, *y = R + (size_t)i * D;

		for (uint32_t a = 0; a < r1; a++) {
			double ha = h[a];

			if (ha == 0)
				continue;
			for (uint32_t b = a; b < r1; b++)
				A[(size_t)a * r1 + b] += ha * h[b];
			for (uint32_t d = 0; d < D; d++)
				B[(size_t)a * D + d] += ha * y[d];
		}
	}
	for (uint32_t a = 0; a < r1; a++) {
		for (uint32_t b = 0; b < a; b++)
			A[(size_t)a * r1 + b] = A[(size_t)b * r1 + a];
		tr += A[(size_t)a * r1 + a];
	}
	/* lambda relative to the mean diagonal: the same setting fits any scale */
	for (uint32_t a = 0; a < r1; a++)
		A[(size_t)a * r1 + a] += lambda * (tr / r1) + 1e-12;
	rc = pn_cholesky_solve(A, B, r1, D);
	if (!rc) {
		for (uint32_t a = 0; a + 1 < r1; a++)
			for (uint32_t d = 0; d < D; d++)
				W2[(size_t)a * D + d] = (float)B[(size_t)a * D + d];
		for (uint32_t d = 0; d < D; d++)
			b2[d] = (float)B[(size_t)(r1 - 1) * D + d];
	}
	free(A);
	free(B);
	return rc;
}

static int check_finite(const float *X, size_t n, uint32_t D, const char *what,
			struct pn_err *err)
{
	for (size_t i = 0; i < n * D; i++)
		if (!isfinite(X[i]))
			return pn_errf(err, -EINVAL, "macro: %s row %zu column %zu is %g, "
				       "expected a finite value", what, i / D, i % D, X[i]);
	return 0;
}

int pn_macro_fit(const float *X, const float *Y, uint32_t n, uint32_t D, uint32_t E,
		 uint32_t rank, uint32_t degree, uint32_t act, uint32_t topk, double lambda,
		 uint64_t seed, struct pn_macro_fit *m, struct pn_err *err)
{
	uint32_t r = rank, r1 = rank + 1, ncoef;
	int even = degree % 2 == 0, rc;
	uint64_t rng = seed ^ 0x3ac20u;
	int32_t *assign = NULL;
	uint32_t *idx = NULL;
	float *Xe = NULL, *U = NULL, *H = NULL, *R = NULL, *Yh = NULL, range = 0;
	double num = 0, den = 0;

	memset(m, 0, sizeof(*m));
	if (n < 2 || !D || !E || !rank || E > n)
		return pn_errf(err, -EINVAL, "macro: %u calibration rows, width %u, %u experts "
			       "of rank %u: expected at least 2 rows, E >= 1, E <= rows, "
			       "rank >= 1", n, D, E, rank);
	if (!degree || degree > PNB_POLY_MAX_DEGREE || !pn_cheb_act_ok(act) || !topk ||
	    topk > 2 || topk > E)
		return pn_errf(err, -EINVAL, "macro: degree %u, act %s, top-%u: expected degree "
			       "1..%u, a ReLU-like act and top-k 1 or 2 (<= E)", degree,
			       pnb_act_name(act), topk, PNB_POLY_MAX_DEGREE);
	rc = check_finite(X, n, D, "input", err);
	if (!rc)
		rc = check_finite(Y, n, D, "output", err);
	if (rc)
		return rc;
	ncoef = pn_cheb_ncoef(degree, even);
	m->E = E;
	m->D = D;
	m->rank = r;
	m->degree = degree;
	m->topk = topk;
	m->act = act;
	m->router = malloc((size_t)E * D * sizeof(float));
	m->W1 = malloc((size_t)E * D * r * sizeof(float));
	m->b1 = malloc((size_t)E * r * sizeof(float));
	m->coefs = malloc((size_t)E * ncoef * sizeof(float));
	m->W2 = malloc((size_t)E * r * D * sizeof(float));
	m->b2 = calloc((size_t)E * D, sizeof(float));
	assign = malloc((size_t)n * sizeof(*assign));
	idx = malloc((size_t)n * sizeof(*idx));
	Xe = malloc((size_t)n * D * sizeof(float));
	U = malloc((size_t)n * r * sizeof(float));
	H = malloc((size_t)n * r1 * sizeof(float));
	R = malloc((size_t)n * D * sizeof(float));
	Yh = malloc((size_t)n * D * sizeof(float));
	if (!m->router || !m->W1 || !m->b1 || !m->coefs || !m->W2 || !m->b2 || !assign || !idx ||
	    !Xe || !U || !H || !R || !Yh) {
		rc = pn_errf(err, -ENOMEM, "macro: out of memory");
		goto out;
	}
	rc = pn_kmeans(X, n, D, E, 0, seed, m->router, assign, NULL, err);
	if (rc)
		goto out;
	/* Projections first: the shared series range is the largest |u| seen. */
	for (uint32_t e = 0; e < E; e++) {
		uint32_t ne = gather(X, assign, n, D, e, Xe, idx);

		if (!ne)
			continue;
		draw_projection(Xe, ne, D, r, &rng, m->W1 + (size_t)e * D * r, m->b1 + e * r, U);
		pn_linear(NULL, Xe, ne, D, m->W1 + (size_t)e * D * r, m->b1 + e * r, r,
			  PNB_ACT_NONE, U);
		for (size_t k = 0; k < (size_t)ne * r; k++)
			range = fabsf(U[k]) > range ? fabsf(U[k]) : range;
	}
	range = range > 1e-3f ? range * 1.001f : 1.0f;
	m->range = range;
	for (uint32_t e = 0; e < E; e++) {
		struct pn_cheb p = { m->coefs + e * ncoef, degree, act, even, -range, range };
		uint32_t ne = gather(X, assign, n, D, e, Xe, idx);

		rc = pn_cheb_fit(act, -range, range, degree, even, 0, m->coefs + e * ncoef, err);
		if (rc)
			goto out;
		if (!ne) {	/* never routed to on calibration: a zero expert */
			memset(m->W2 + (size_t)e * r * D, 0, (size_t)r * D * sizeof(float));
			continue;
		}
		pn_linear(NULL, Xe, ne, D, m->W1 + (size_t)e * D * r, m->b1 + e * r, r,
			  PNB_ACT_NONE, U);
		pn_cheb_eval(&p, U, (size_t)ne * r);
		for (uint32_t i = 0; i < ne; i++) {
			memcpy(H + (size_t)i * r1, U + (size_t)i * r, r * sizeof(float));
			H[(size_t)i * r1 + r] = 1.0f;
			for (uint32_t d = 0; d < D; d++)
				R[(size_t)i * D + d] = Y[(size_t)idx[i] * D + d] -
						       X[(size_t)idx[i] * D + d];
		}
		rc = pn_ridge_fit(H, R, ne, r1, D, lambda, m->W2 + (size_t)e * r * D, m->b2 + e * D);
		if (rc) {
			rc = pn_errf(err, rc == -ENOMEM ? rc : -EDOM, "macro: expert %u: ridge "
				     "system on %u rows is not positive definite (lambda %g)",
				     e, ne, lambda);
			goto out;
		}
	}
	{
		struct pn_macro view;

		pn_macro_fit_view(m, &view);
		pn_ref_macro(X, n, D, &view, Yh);
	}
	for (size_t i = 0; i < (size_t)n * D; i++) {
		double t = (double)Y[i] - X[i];

		num += ((double)Yh[i] - Y[i]) * ((double)Yh[i] - Y[i]);
		den += t * t;
	}
	m->resid = den > 0 ? num / den : num;
out:
	free(assign);
	free(idx);
	free(Xe);
	free(U);
	free(H);
	free(R);
	free(Yh);
	if (rc)
		pn_macro_fit_free(m);
	return rc;
}
