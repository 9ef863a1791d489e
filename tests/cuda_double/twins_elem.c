// SPDX-License-Identifier: MIT
/*
 * twins_elem.c - CPU twins of kernels/ptx/elementwise.ptx (act_f32,
 * add_f32, add_rows_f32, l2norm_f32, softmax_f32) and kernels/ptx/glu.ptx
 * (glu_f32). The element kernels' grid-stride loops and the row kernels'
 * row loops (rows ctaid.x, ctaid.x + nctaid.x, ...) cover everything for
 * any grid, so the twins do too. Each element is read before its result is
 * stored, so y may alias x (a or b) where the kernel allows it.
 */
#include "tests/cuda_double/twins_int.h"
#include "tests/cuda_double/twins_math.h"

/* act_f32(x, y, n u64, act): y[i] = act(x[i]); act outside enum pnb_act copies. */
int tw_act_f32(struct tw *t)
{
	uint64_t n = tw_u64(t, 2);
	uint32_t act = tw_u32(t, 3);
	const float *x;
	float *y;

	TW_SPAN(x, t, "x", tw_u64(t, 0), tw_bytes(n, 4), 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), tw_bytes(n, 4), 4);
	for (uint64_t i = 0; i < n; i++)
		y[i] = tw_act_elem(act, x[i]);
	return 0;
}

/* add_f32(a, b, y, n u64): y[i] = a[i] + b[i]. */
int tw_add_f32(struct tw *t)
{
	uint64_t n = tw_u64(t, 3);
	const float *a, *b;
	float *y;

	TW_SPAN(a, t, "a", tw_u64(t, 0), tw_bytes(n, 4), 4);
	TW_SPAN(b, t, "b", tw_u64(t, 1), tw_bytes(n, 4), 4);
	TW_SPAN(y, t, "y", tw_u64(t, 2), tw_bytes(n, 4), 4);
	for (uint64_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
	return 0;
}

/* add_rows_f32(a, b, y, rows, T, D): y[k, i] = a[k, i] + b[k / T, i]. */
int tw_add_rows_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 3), T = tw_u32(t, 4), D = tw_u32(t, 5);
	uint64_t cells = tw_bytes(rows, D);
	const float *a, *b;
	float *y;

	if (!rows || !D)
		return 0;
	if (!T)
		return tw_inval(t, "T 0 with %u rows (the kernel divides by T)", rows);
	TW_SPAN(a, t, "a", tw_u64(t, 0), tw_bytes(cells, 4), 4);
	TW_SPAN(b, t, "b", tw_u64(t, 1), tw_bytes(tw_bytes((rows - 1) / T + 1, D), 4), 4);
	TW_SPAN(y, t, "y", tw_u64(t, 2), tw_bytes(cells, 4), 4);
	for (uint32_t k = 0; k < rows; k++) {
		const float *ak = a + (size_t)k * D, *bk = b + (size_t)(k / T) * D;
		float *yk = y + (size_t)k * D;

		for (uint32_t i = 0; i < D; i++)
			yk[i] = ak[i] + bk[i];
	}
	return 0;
}

/* l2norm_f32(x, y, rows, d, eps): y = x / sqrt(max(sum x^2, eps)), block 32k <= 1024. */
int tw_l2norm_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 2), d = tw_u32(t, 3);
	float eps = tw_f32(t, 4);
	uint64_t bytes = tw_bytes(tw_bytes(rows, d), 4);
	const float *x;
	float *y;
	int rc = tw_block_1d(t, 32, 1024);

	if (rc || !rows || !d)
		return rc;
	TW_SPAN(x, t, "x", tw_u64(t, 0), bytes, 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), bytes, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		float *yr = y + (size_t)r * d;
		float s = 0.0f, inv;

		for (uint32_t i = 0; i < d; i++)
			s += xr[i] * xr[i];
		s = s > eps ? s : eps;	/* as the kernel's setp.gt: NaN gives eps */
		inv = 1.0f / sqrtf(s);
		for (uint32_t i = 0; i < d; i++)
			yr[i] = xr[i] * inv;
	}
	return 0;
}

/* softmax_f32(x, y, rows, d): row softmax, exp_nonpos(x - max) / sum, block 32k <= 1024. */
int tw_softmax_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 2), d = tw_u32(t, 3);
	uint64_t bytes = tw_bytes(tw_bytes(rows, d), 4);
	const float *x;
	float *y;
	int rc = tw_block_1d(t, 32, 1024);

	if (rc || !rows || !d)
		return rc;
	TW_SPAN(x, t, "x", tw_u64(t, 0), bytes, 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), bytes, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		float *yr = y + (size_t)r * d;
		float m = -INFINITY, s = 0.0f, inv;

		for (uint32_t i = 0; i < d; i++)
			m = fmaxf(m, xr[i]);	/* max.f32: a NaN operand loses */
		for (uint32_t i = 0; i < d; i++) {
			yr[i] = tw_exp_nonpos(xr[i] - m);
			s += yr[i];
		}
		inv = 1.0f / s;
		for (uint32_t i = 0; i < d; i++)
			yr[i] *= inv;
	}
	return 0;
}

/* glu_f32(h, y, rows, ff, act): y[r, c] = act(h[r, c]) * h[r, ff + c]; y must not alias h. */
int tw_glu_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, 2), ff = tw_u32(t, 3), act = tw_u32(t, 4);
	const float *h;
	float *y;

	if (!rows || !ff)
		return 0;
	TW_SPAN(h, t, "h", tw_u64(t, 0), tw_bytes(tw_bytes(rows, 2ull * ff), 4), 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), tw_bytes(tw_bytes(rows, ff), 4), 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *g = h + (size_t)r * 2 * ff, *u = g + ff;
		float *yr = y + (size_t)r * ff;

		for (uint32_t c = 0; c < ff; c++)
			yr[c] = tw_act_elem(act, g[c]) * u[c];
	}
	return 0;
}
