// SPDX-License-Identifier: MIT
/*
 * pooling.c - sequence pooling (mean over valid tokens, CLS row) and L2
 * normalisation of rows.
 */
#include <math.h>
#include <string.h>

#include "cpu/kernels.h"

#define LANES 8

void pn_pool_mean(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		  uint32_t d, float *y)
{
	for (uint32_t b = 0; b < B; b++, y += d) {
		uint32_t L = lens[b] < T ? lens[b] : T;
		const float *r = x + (size_t)b * T * d;

		memset(y, 0, d * sizeof(*y));
		for (uint32_t t = 0; t < L; t++, r += d)
			for (uint32_t i = 0; i < d; i++)
				y[i] += r[i];
		/* sum / len as the TF graph does (not * (1 / len)); len 0 leaves zeros. */
		if (L)
			for (uint32_t i = 0; i < d; i++)
				y[i] /= (float)L;
	}
}

void pn_pool_cls(const float *x, uint32_t B, uint32_t T, uint32_t d, float *y)
{
	for (uint32_t b = 0; b < B; b++)
		memcpy(y + (size_t)b * d, x + (size_t)b * T * d, d * sizeof(*y));
}

void pn_l2norm(float *x, uint32_t rows, uint32_t d, float eps)
{
	for (uint32_t r = 0; r < rows; r++, x += d) {
		double lane[LANES] = { 0 }, s = 0.0;
		uint32_t i = 0, k;

		/* Double partial sums: exact enough, and they vectorize. */
		for (; i + LANES <= d; i += LANES)
			for (k = 0; k < LANES; k++)
				lane[k] += (double)x[i + k] * x[i + k];
		for (; i < d; i++)
			s += (double)x[i] * x[i];
		for (k = 0; k < LANES; k++)
			s += lane[k];
		float inv = (float)(1.0 / sqrt(s > eps ? s : eps));

		for (i = 0; i < d; i++)
			x[i] *= inv;
	}
}
