// SPDX-License-Identifier: MIT
/*
 * ref_pom.c - the plain twin of pn_pom (pom.h): the formula of SPECS.md as
 * written, one token and one feature at a time, in double. Slow, and only
 * the tests call it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/pom.h"

static double act(double u)
{
	double v = u >= 0.0 ? u : 0.01 * u;	/* leaky_relu(u, 0.01) */

	return v < -0.1 ? -0.1 : v > 6.0 ? 6.0 : v;
}

static double hardsigmoid(double z)
{
	double v = z / 6.0 + 0.5;

	return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

/* p[e] = sum_{j=1..k} C[e, j] act(h_e)^j with h = x W_h, x one row [D]. */
static void poly(const struct pn_pom_w *w, const float *x, double *p)
{
	for (uint32_t e = 0; e < w->E; e++) {
		double h = 0.0, sum = 0.0;

		for (uint32_t i = 0; i < w->D; i++)
			h += (double)x[i] * w->W_h[(size_t)i * w->E + e];
		for (uint32_t j = 1; j <= w->k; j++)
			sum += w->C[(size_t)e * w->k + (j - 1)] * pow(act(h), j);
		p[e] = sum;
	}
}

/* y [D] = (s (.) H) W_o, s = hardsigmoid(x W_s + b_s), group of feature e = e / (E/G). */
static void out_row(const struct pn_pom_w *w, const float *x, const double *H, float *y)
{
	for (uint32_t d = 0; d < w->D; d++) {
		double acc = 0.0;

		for (uint32_t e = 0; e < w->E; e++) {
			uint32_t g = e / (w->E / w->G);
			double z = w->b_s ? w->b_s[g] : 0.0;

			for (uint32_t i = 0; i < w->D; i++)
				z += (double)x[i] * w->W_s[(size_t)i * w->G + g];
			acc += hardsigmoid(z) * H[e] * w->W_o[(size_t)e * w->D + d];
		}
		y[d] = (float)acc;
	}
}

int pn_ref_pom(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	       enum pn_pom_mode mode, const struct pn_pom_w *w, float *y)
{
	if (pn_pom_check(w, NULL, 0))
		return -EINVAL;
	if (mode != PN_POM_NONCAUSAL && mode != PN_POM_CAUSAL)
		return -EINVAL;
	for (uint32_t b = 0; b < B; b++)
		if (lens[b] > T)
			return -EINVAL;

	uint32_t D = w->D, E = w->E;
	double *p = malloc((size_t)E * sizeof(*p));
	double *sum = malloc((size_t)E * sizeof(*sum));
	double *H = malloc((size_t)E * sizeof(*H));

	if (!p || !sum || !H) {
		free(p);
		free(sum);
		free(H);
		return -ENOMEM;
	}
	for (uint32_t b = 0; b < B; b++) {
		const float *xb = x + (size_t)b * T * D;
		float *yb = y + (size_t)b * T * D;
		uint32_t len = lens[b];

		for (uint32_t e = 0; e < E; e++)
			sum[e] = 0.0;
		if (mode == PN_POM_NONCAUSAL) {
			for (uint32_t t = 0; t < len; t++) {
				poly(w, xb + (size_t)t * D, p);
				for (uint32_t e = 0; e < E; e++)
					sum[e] += p[e];
			}
			for (uint32_t e = 0; e < E; e++)
				H[e] = sum[e] / len;
			for (uint32_t t = 0; t < len; t++)
				out_row(w, xb + (size_t)t * D, H, yb + (size_t)t * D);
		} else {
			for (uint32_t t = 0; t < len; t++) {
				poly(w, xb + (size_t)t * D, p);
				for (uint32_t e = 0; e < E; e++) {
					sum[e] += p[e];
					H[e] = sum[e] / (t + 1);
				}
				out_row(w, xb + (size_t)t * D, H, yb + (size_t)t * D);
			}
		}
		for (uint32_t t = len; t < T; t++)
			memset(yb + (size_t)t * D, 0, (size_t)D * sizeof(*yb));
	}
	free(p);
	free(sum);
	free(H);
	return 0;
}
