// SPDX-License-Identifier: MIT
/*
 * twins_macro.c - CPU twins of the Macro-Operator's kernels:
 * kernels/ptx/macro.ptx (macro_route: router scores, top-1/top-2 picks and
 * gates) and kernels/ptx/macro_experts.ptx (macro_expert_fwd: the picked
 * low-rank PolyFFN experts added to x). Scores and expert outputs are the
 * kernels' fma chains in their order (fmaf), so the picks are the kernel's
 * exactly; only the top-2 gate's exp differs (expf against ex2.approx).
 */
#include <math.h>
#include <stdlib.h>

#include "tests/cuda_double/twins_int.h"
#include "tests/cuda_double/twins_math.h"

enum { R_X, R_ROWS, R_D, R_W, R_B, R_E, R_ROUTER, R_TOPK, R_TEMP, R_PICK, R_GATE };

/*
 * macro_route: score_e = 2 x.c_e - ||c_e||^2 (router 0, c [E, D]) or x Wg[:, e]
 * + bg[e] (router 1, Wg [D, E]); the scans of lib/cpu/macro.c's route (the
 * first candidate kept, then s > best: ties to the lower e, NaN later
 * candidates never win); topk 2: pick[2r], pick[2r+1], gates g1 = 1 / (1 +
 * exp((s2 - s1) / temperature)) and 1 - g1; any other topk: pick[r], gate 1.
 * A warp per row: rows r < grid.x warps; block 32k <= 256.
 */
int tw_macro_route(struct tw *t)
{
	uint32_t rows = tw_u32(t, R_ROWS), D = tw_u32(t, R_D), E = tw_u32(t, R_E);
	uint32_t linear = tw_u32(t, R_ROUTER) != 0, two = tw_u32(t, R_TOPK) == 2;
	uint64_t ba = tw_u64(t, R_B), cover = (uint64_t)t->grid[0] * (t->block[0] / 32);
	float temp = tw_f32(t, R_TEMP), *s, *gate;
	const float *x, *w, *b = NULL;
	uint32_t *pick;
	int rc = tw_block_1d(t, 32, 256);

	if (rc)
		return rc;
	if (E < 1u + two)
		return tw_inval(t, "E %u: the kernel takes E >= 1, E >= 2 for topk 2", E);
	if (cover < rows)
		rows = (uint32_t)cover;
	if (!rows)
		return 0;
	TW_SPAN(x, t, "x", tw_u64(t, R_X), tw_bytes(tw_bytes(rows, D), 4), 4);
	TW_SPAN(w, t, "router_w", tw_u64(t, R_W), tw_bytes(tw_bytes(E, D), 4), 4);
	if (ba)	/* read whenever given, used by the linear router only */
		TW_SPAN(b, t, "router_b", ba, (uint64_t)E * 4, 4);
	TW_SPAN(pick, t, "pick", tw_u64(t, R_PICK), (uint64_t)rows * (two ? 8 : 4), 4);
	TW_SPAN(gate, t, "gate", tw_u64(t, R_GATE), (uint64_t)rows * (two ? 8 : 4), 4);
	s = malloc((size_t)E * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * D;
		uint32_t b1 = 0, b2;

		for (uint32_t e = 0; e < E; e++) {
			float dot = 0.0f, n = 0.0f;

			for (uint32_t i = 0; i < D; i++) {
				float wi = linear ? w[(size_t)i * E + e] : w[(size_t)e * D + i];

				dot = fmaf(xr[i], wi, dot);
				n += wi * wi;	/* the centroid's norm, unfused */
			}
			s[e] = linear ? dot + (b ? b[e] : 0.0f) : (dot + dot) - n;
		}
		for (uint32_t e = 1; e < E; e++)
			if (s[e] > s[b1])
				b1 = e;
		if (!two) {
			pick[r] = b1;
			gate[r] = 1.0f;
			continue;
		}
		b2 = b1 == 0 ? 1 : 0;
		for (uint32_t e = 0; e < E; e++)
			if (e != b1 && s[e] > s[b2])
				b2 = e;
		pick[2 * (size_t)r] = b1;
		pick[2 * (size_t)r + 1] = b2;
		gate[2 * (size_t)r] = 1.0f / (1.0f + expf((s[b2] - s[b1]) / temp));
		gate[2 * (size_t)r + 1] = 1.0f - gate[2 * (size_t)r];
	}
	free(s);
	return 0;
}

enum { M_X, M_OUT, M_ROWS, M_D, M_PICK, M_GATE, M_TOPK, M_W1, M_B1, M_RANK, M_COEFS,
       M_DEGREE, M_EVEN, M_A, M_B, M_W2, M_B2 };

/*
 * macro_expert_fwd: out[r] = x[r], then for the row's picks in ascending
 * expert order (topk 2: the slots swapped when pick[1] < pick[0]; else in
 * slot order) out[r] = fma(g, series_e(x W1_e + b1_e) W2_e + b2_e, out[r]);
 * rows r < min(rows, grid.x), block <= 256, dynamic shared (D + rank) * 4.
 * The experts' blocks are found with the kernel's u32 index products.
 */
int tw_macro_expert_fwd(struct tw *t)
{
	uint32_t rows = tw_u32(t, M_ROWS), D = tw_u32(t, M_D), topk = tw_u32(t, M_TOPK);
	uint32_t rank = tw_u32(t, M_RANK), even = tw_u32(t, M_EVEN) != 0;
	uint64_t w1a = tw_u64(t, M_W1), w2a = tw_u64(t, M_W2), ca = tw_u64(t, M_COEFS);
	uint64_t b1a = tw_u64(t, M_B1), b2a = tw_u64(t, M_B2);
	const float *x, *gate;
	const uint32_t *pick;
	float *out, *h, *y;
	struct tw_cheb s;
	int rc = tw_block_max(t, 256);

	if (rc)
		return rc;
	if ((uint64_t)t->dyn_shared < ((uint64_t)D + rank) * 4)
		return tw_inval(t, "dynamic shared %u bytes, the kernel needs (D + rank) 4 = %llu",
				t->dyn_shared, ((unsigned long long)D + rank) * 4);
	if (t->grid[0] < rows)
		rows = t->grid[0];
	if (!rows)
		return 0;
	tw_cheb_init(&s, NULL, tw_u32(t, M_DEGREE), even, tw_f32(t, M_A), tw_f32(t, M_B));
	TW_SPAN(x, t, "x", tw_u64(t, M_X), tw_bytes(tw_bytes(rows, D), 4), 4);
	TW_SPAN(out, t, "out", tw_u64(t, M_OUT), tw_bytes(tw_bytes(rows, D), 4), 4);
	TW_SPAN(pick, t, "pick", tw_u64(t, M_PICK), tw_bytes(tw_bytes(rows, topk), 4), 4);
	TW_SPAN(gate, t, "gate", tw_u64(t, M_GATE), tw_bytes(tw_bytes(rows, topk), 4), 4);
	h = malloc(((size_t)rank + D + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	y = h + rank;
	for (uint32_t r = 0; r < rows && !rc; r++) {
		const uint32_t *pr = pick + (size_t)r * topk;
		uint32_t s0 = topk == 2 && pr[1] < pr[0];
		float *o = out + (size_t)r * D;

		for (uint32_t d = 0; d < D; d++)
			o[d] = x[(size_t)r * D + d];
		for (uint32_t k = 0; k < topk && !rc; k++) {
			uint32_t slot = k < 2 ? s0 ^ k : k, e = pr[slot];
			float g = gate[(size_t)r * topk + slot];
			const float *W1, *W2, *b1 = NULL, *b2 = NULL;

			/* not TW_SPAN: h is freed on the way out */
			W1 = tw_span(t, "W1", w1a + (uint64_t)(uint32_t)(e * D) * rank * 4,
				     tw_bytes(tw_bytes(D, rank), 4), 4);
			W2 = W1 ? tw_span(t, "W2", w2a + (uint64_t)(uint32_t)(e * rank) * D * 4,
					  tw_bytes(tw_bytes(rank, D), 4), 4) : NULL;
			s.c = W2 ? tw_span(t, "coefs", ca + (uint64_t)(uint32_t)(e * (s.m + 1)) * 4,
					   (uint64_t)(s.m + 1) * 4, 4) : NULL;
			if (s.c && b1a)
				b1 = tw_span(t, "b1", b1a + (uint64_t)(uint32_t)(e * rank) * 4,
					     (uint64_t)rank * 4, 4);
			if (s.c && b2a && (!b1a || b1))
				b2 = tw_span(t, "b2", b2a + (uint64_t)(uint32_t)(e * D) * 4,
					     (uint64_t)D * 4, 4);
			if (!s.c || (b1a && !b1) || (b2a && !b2)) {
				rc = -EFAULT;
				break;
			}
			for (uint32_t j = 0; j < rank; j++)
				h[j] = b1 ? b1[j] : 0.0f;
			for (uint32_t i = 0; i < D; i++)
				for (uint32_t j = 0; j < rank; j++)
					h[j] = fmaf(x[(size_t)r * D + i], W1[(size_t)i * rank + j], h[j]);
			for (uint32_t j = 0; j < rank; j++)
				h[j] = tw_cheb_eval(&s, h[j]);
			for (uint32_t d = 0; d < D; d++)
				y[d] = b2 ? b2[d] : 0.0f;
			for (uint32_t j = 0; j < rank; j++)
				for (uint32_t d = 0; d < D; d++)
					y[d] = fmaf(h[j], W2[(size_t)j * D + d], y[d]);
			for (uint32_t d = 0; d < D; d++)
				o[d] = fmaf(g, y[d], o[d]);
		}
	}
	free(h);
	return rc;
}
