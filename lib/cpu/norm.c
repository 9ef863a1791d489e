// SPDX-License-Identifier: MIT
/*
 * norm.c - LayerNorm (biased variance) and RMSNorm over each row.
 *
 * Two passes over the row (mean, then squared deviations) so the variance
 * never cancels catastrophically; the sums run in LANES double partial sums,
 * which keeps them exact enough for any width and lets the loops vectorize
 * (a single running sum would be a serial dependency the compiler may not
 * reorder).
 */
#include <math.h>

#include "cpu/kernels.h"

#define LANES 8

static double sum_row(const float *x, uint32_t d)
{
	double lane[LANES] = { 0 }, s = 0.0;
	uint32_t i = 0, k;

	for (; i + LANES <= d; i += LANES)
		for (k = 0; k < LANES; k++)
			lane[k] += x[i + k];
	for (; i < d; i++)
		s += x[i];
	for (k = 0; k < LANES; k++)
		s += lane[k];
	return s;
}

/* sum (x - c)^2, the difference taken in float as the output uses it. */
static double sum_sq_dev(const float *x, uint32_t d, float c)
{
	double lane[LANES] = { 0 }, s = 0.0;
	uint32_t i = 0, k;

	for (; i + LANES <= d; i += LANES)
		for (k = 0; k < LANES; k++) {
			double e = x[i + k] - c;

			lane[k] += e * e;
		}
	for (; i < d; i++) {
		double e = x[i] - c;

		s += e * e;
	}
	for (k = 0; k < LANES; k++)
		s += lane[k];
	return s;
}

void pn_layernorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		  const float *b, float eps, float *y)
{
	if (d == 0)
		return;
	for (uint32_t r = 0; r < rows; r++, x += d, y += d) {
		float mean = (float)(sum_row(x, d) / d);
		float rstd = (float)(1.0 / sqrt(sum_sq_dev(x, d, mean) / d + eps));

		for (uint32_t i = 0; i < d; i++)
			y[i] = (x[i] - mean) * rstd * g[i] + b[i];
	}
}

void pn_rmsnorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		float eps, float *y)
{
	if (d == 0)
		return;
	for (uint32_t r = 0; r < rows; r++, x += d, y += d) {
		float rms = (float)(1.0 / sqrt(sum_sq_dev(x, d, 0.0f) / d + eps));

		for (uint32_t i = 0; i < d; i++)
			y[i] = x[i] * rms * g[i];
	}
}
