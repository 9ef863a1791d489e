// SPDX-License-Identifier: MIT
/*
 * twins_norm.c - CPU twins of kernels/ptx/norm.ptx: layernorm_f32 and
 * rmsnorm_f32 over the rows of x [rows, d] (rows strided over ctaid.x, so
 * any grid covers them; block (32k, 1, 1), k <= 32, for the warp sums).
 * The sums run in double (as lib/cpu/norm.c; the kernel's f32 tree is
 * within ~1e-6 of them); the outputs round where the kernel rounds.
 */
#include <math.h>

#include "tests/cuda_double/twins_int.h"

/* layernorm_f32(x, y, g, b, rows, d, eps): y = (x - mean) rstd g + b, biased variance. */
int tw_layernorm_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 4), d = tw_u32(t, 5);
	float eps = tw_f32(t, 6);
	uint64_t bytes = tw_bytes(tw_bytes(rows, d), 4);
	const float *x, *g, *b;
	float *y;
	int rc = tw_block_1d(t, 32, 1024);

	if (rc || !rows || !d)
		return rc;
	TW_SPAN(x, t, "x", tw_u64(t, 0), bytes, 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), bytes, 4);
	TW_SPAN(g, t, "g", tw_u64(t, 2), (uint64_t)d * 4, 4);
	TW_SPAN(b, t, "b", tw_u64(t, 3), (uint64_t)d * 4, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		float *yr = y + (size_t)r * d;
		double s = 0.0, v = 0.0;
		float mean, rstd;

		for (uint32_t i = 0; i < d; i++)
			s += xr[i];
		mean = (float)(s / d);
		for (uint32_t i = 0; i < d; i++) {
			double e = xr[i] - mean;	/* the difference in f32, as the output uses it */

			v += e * e;
		}
		rstd = 1.0f / sqrtf((float)(v / d) + eps);
		for (uint32_t i = 0; i < d; i++)
			yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
	}
	return 0;
}

/* rmsnorm_f32(x, y, g, rows, d, eps): y = x rms g, rms = 1 / sqrt(mean x^2 + eps). */
int tw_rmsnorm_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 3), d = tw_u32(t, 4);
	float eps = tw_f32(t, 5);
	uint64_t bytes = tw_bytes(tw_bytes(rows, d), 4);
	const float *x, *g;
	float *y;
	int rc = tw_block_1d(t, 32, 1024);

	if (rc || !rows || !d)
		return rc;
	TW_SPAN(x, t, "x", tw_u64(t, 0), bytes, 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), bytes, 4);
	TW_SPAN(g, t, "g", tw_u64(t, 2), (uint64_t)d * 4, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		float *yr = y + (size_t)r * d;
		double v = 0.0;
		float rms;

		for (uint32_t i = 0; i < d; i++)
			v += (double)xr[i] * xr[i];
		rms = 1.0f / sqrtf((float)(v / d) + eps);
		for (uint32_t i = 0; i < d; i++)
			yr[i] = xr[i] * rms * g[i];
	}
	return 0;
}
