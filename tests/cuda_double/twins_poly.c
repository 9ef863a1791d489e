// SPDX-License-Identifier: MIT
/*
 * twins_poly.c - CPU twins of the PolyNet ops' kernels: kernels/ptx/cheb.ptx
 * (cheb_series), kernels/ptx/vq.ptx (vq_assign, vq_gather) and
 * kernels/ptx/polyffn_codes.ptx (polyffn_code_table). Their dot products
 * are each one sequential fma.rn chain in the kernels, so the twins use
 * fmaf in the same order: the same bits, hence the same vq codes, ties
 * included.
 */
#include <math.h>
#include <stdlib.h>

#include "tests/cuda_double/twins_int.h"
#include "tests/cuda_double/twins_math.h"

/*
 * cheb_series(x, y, n, ff, gated, coefs, degree, even, a, b): y[e] =
 * series(x[src(e)]) (gated: * x[src(e) + ff], src(e) = (e / ff) 2ff + e % ff),
 * e < n over a grid-stride loop; block <= 256; ncoef <= 129 (its shared array).
 */
int tw_cheb_series(struct tw *t)
{
	uint32_t n = tw_u32(t, 2), ff = tw_u32(t, 3), gated = tw_u32(t, 4) != 0;
	uint32_t degree = tw_u32(t, 6), even = tw_u32(t, 7) != 0;
	struct tw_cheb s;
	const float *x, *c;
	float *y;
	uint64_t xn;
	int rc = tw_block_max(t, 256);

	if (rc)
		return rc;
	tw_cheb_init(&s, NULL, degree, even, tw_f32(t, 8), tw_f32(t, 9));
	if (s.m > 128)
		return tw_inval(t, "degree %u: more than the kernel's 129 coefficients", degree);
	TW_SPAN(c, t, "coefs", tw_u64(t, 5), (uint64_t)(s.m + 1) * 4, 4);	/* read before e */
	s.c = c;
	if (!n)
		return 0;
	if (gated && !ff)
		return tw_inval(t, "gated with ff 0 and n %u (the kernel divides by ff)", n);
	/* gated: every row up to the last fully, then the last one's gate and up prefixes */
	xn = gated ? (uint64_t)(n - 1) / ff * 2 * ff + ff + (n - 1) % ff + 1 : n;
	TW_SPAN(x, t, "x", tw_u64(t, 0), xn * 4, 4);
	TW_SPAN(y, t, "y", tw_u64(t, 1), (uint64_t)n * 4, 4);
	for (uint32_t e = 0; e < n; e++) {
		uint64_t src = gated ? (uint64_t)(e / ff) * 2 * ff + e % ff : e;
		float r = tw_cheb_eval(&s, x[src]);

		y[e] = gated ? r * x[src + ff] : r;
	}
	return 0;
}

/*
 * vq_assign(x, rows, D, codebook, enorm, K, codes, dist2): codes[r] =
 * argmin_k enorm[k] - 2 x_r . e_k (the first minimum; a NaN d_0, or no d
 * below +inf, gives 0), dist2[r] = max(||x_r||^2 + d, 0) (NaN: 0) when
 * dist2 != 0; a warp per row: rows r < grid.x * warps, block 32k <= 256.
 */
int tw_vq_assign(struct tw *t)
{
	uint32_t rows = tw_u32(t, 1), D = tw_u32(t, 2), K = tw_u32(t, 5);
	uint64_t d2a = tw_u64(t, 7);
	uint32_t warps = t->block[0] / 32;
	uint64_t cover = (uint64_t)t->grid[0] * warps;
	const float *x, *cb, *en;
	int32_t *codes;
	float *d2 = NULL;
	int rc = tw_block_1d(t, 32, 256);

	if (rc)
		return rc;
	if (cover < rows)
		rows = (uint32_t)cover;
	if (!rows)
		return 0;
	TW_SPAN(x, t, "x", tw_u64(t, 0), tw_bytes(tw_bytes(rows, D), 4), 4);
	TW_SPAN(cb, t, "codebook", tw_u64(t, 3), tw_bytes(tw_bytes(K, D), 4), 4);
	TW_SPAN(en, t, "enorm", tw_u64(t, 4), (uint64_t)K * 4, 4);
	TW_SPAN(codes, t, "codes", tw_u64(t, 6), (uint64_t)rows * 4, 4);
	if (d2a)
		TW_SPAN(d2, t, "dist2", d2a, (uint64_t)rows * 4, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * D;
		float best = INFINITY, xx = 0.0f, v;
		int64_t bk = -1;
		int nan0 = 0;

		for (uint32_t k = 0; k < K; k++) {
			const float *ek = cb + (size_t)k * D;
			float dot = 0.0f, d;

			for (uint32_t i = 0; i < D; i++)
				dot = fmaf(xr[i], ek[i], dot);
			d = en[k] - (dot + dot);
			if (k == 0 && d != d)
				nan0 = 1;
			if (d < best) {
				best = d;
				bk = k;
			}
		}
		codes[r] = nan0 || bk < 0 ? 0 : (int32_t)bk;
		if (!d2)
			continue;
		for (uint32_t i = 0; i < D; i++)
			xx = fmaf(xr[i], xr[i], xx);
		v = nan0 ? NAN : xx + best;
		d2[r] = v > 0.0f ? v : 0.0f;	/* max.f32(NaN, 0) = 0 */
	}
	return 0;
}

/* vq_gather(codes, rows, table, W, out): out[r, :W] = table[codes[r], :W]; block <= 256. */
int tw_vq_gather(struct tw *t)
{
	uint32_t rows = tw_u32(t, 1), W = tw_u32(t, 3);
	uint64_t tab = tw_u64(t, 2);
	const uint32_t *codes;
	float *out;
	int rc = tw_block_max(t, 256);

	if (rc || !rows || !W)
		return rc;
	/* the kernel counts elements in u32 (mul.lo rows W): refuse what would wrap */
	if ((uint64_t)rows * W > UINT32_MAX)
		return tw_inval(t, "rows %u x W %u elements overflow the kernel's u32 index", rows, W);
	TW_SPAN(codes, t, "codes", tw_u64(t, 0), (uint64_t)rows * 4, 4);
	TW_SPAN(out, t, "out", tw_u64(t, 4), (uint64_t)rows * W * 4, 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *src;

		TW_SPAN(src, t, "table", tab + (uint64_t)(uint32_t)(codes[r] * W) * 4,
			(uint64_t)W * 4, 4);
		for (uint32_t i = 0; i < W; i++)
			out[(size_t)r * W + i] = src[i];
	}
	return 0;
}

enum { PC_CB, PC_TABLE, PC_K, PC_D, PC_FF, PC_GATED, PC_W1, PC_B1, PC_COEFS, PC_DEGREE,
       PC_EVEN, PC_A, PC_B, PC_W2, PC_B2 };

/*
 * polyffn_code_table: table[k] = series(cb[k] W1 + b1) W2 + b2 (gated:
 * series(gate) * up), k < min(K, grid.x); block <= 256; dynamic shared
 * (D + ff) * 4 bytes. Each dot product starts from its bias and adds the
 * products in index order, as the kernel's threads do.
 */
int tw_polyffn_code_table(struct tw *t)
{
	uint32_t K = tw_u32(t, PC_K), D = tw_u32(t, PC_D), ff = tw_u32(t, PC_FF);
	uint32_t gated = tw_u32(t, PC_GATED) != 0, hw = gated ? 2 * ff : ff;
	uint64_t b1a = tw_u64(t, PC_B1), b2a = tw_u64(t, PC_B2);
	const float *cb, *W1, *b1 = NULL, *c, *W2, *b2 = NULL;
	float *table, *h, *up;
	struct tw_cheb s;
	int rc = tw_block_max(t, 256);

	if (rc)
		return rc;
	if ((uint64_t)t->dyn_shared < ((uint64_t)D + ff) * 4)
		return tw_inval(t, "dynamic shared %u bytes, the kernel needs (D + ff) 4 = %llu",
				t->dyn_shared, ((unsigned long long)D + ff) * 4);
	if (t->grid[0] < K)
		K = t->grid[0];
	if (!K)
		return 0;
	tw_cheb_init(&s, NULL, tw_u32(t, PC_DEGREE), tw_u32(t, PC_EVEN) != 0, tw_f32(t, PC_A),
		     tw_f32(t, PC_B));
	TW_SPAN(cb, t, "cb", tw_u64(t, PC_CB), tw_bytes(tw_bytes(K, D), 4), 4);
	TW_SPAN(table, t, "table", tw_u64(t, PC_TABLE), tw_bytes(tw_bytes(K, D), 4), 4);
	TW_SPAN(c, t, "coefs", tw_u64(t, PC_COEFS), (uint64_t)(s.m + 1) * 4, 4);
	s.c = c;
	TW_SPAN(W1, t, "W1", tw_u64(t, PC_W1), tw_bytes(tw_bytes(D, hw), 4), 4);
	TW_SPAN(W2, t, "W2", tw_u64(t, PC_W2), tw_bytes(tw_bytes(ff, D), 4), 4);
	if (b1a)
		TW_SPAN(b1, t, "b1", b1a, (uint64_t)hw * 4, 4);
	if (b2a)
		TW_SPAN(b2, t, "b2", b2a, (uint64_t)D * 4, 4);
	h = malloc(((size_t)hw + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	up = h + ff;
	for (uint32_t k = 0; k < K; k++) {
		const float *x = cb + (size_t)k * D;
		float *y = table + (size_t)k * D;

		for (uint32_t j = 0; j < hw; j++)
			h[j] = b1 ? b1[j] : 0.0f;
		for (uint32_t i = 0; i < D; i++)
			for (uint32_t j = 0; j < hw; j++)
				h[j] = fmaf(x[i], W1[(size_t)i * hw + j], h[j]);
		for (uint32_t j = 0; j < ff; j++) {
			h[j] = tw_cheb_eval(&s, h[j]);
			if (gated)
				h[j] *= up[j];
		}
		for (uint32_t d = 0; d < D; d++)
			y[d] = b2 ? b2[d] : 0.0f;
		for (uint32_t j = 0; j < ff; j++)
			for (uint32_t d = 0; d < D; d++)
				y[d] = fmaf(h[j], W2[(size_t)j * D + d], y[d]);
	}
	free(h);
	return 0;
}
