// SPDX-License-Identifier: MIT
/*
 * twins_embed.c - CPU twins of kernels/ptx/embed.ptx (embed_f32) and
 * kernels/ptx/pool.ptx (pool_mean_f32, pool_cls_f32): the ops that move
 * whole rows between the token layout [B*T, D] and the rest.
 */
#include <string.h>

#include "tests/cuda_double/twins_int.h"
#include "tests/cuda_double/twins_math.h"

enum { E_IDS, E_OUT, E_TABLE, E_POS, E_INV, E_TYPE, E_B, E_T, E_D, E_KIND, E_SCALE };

/*
 * embed_f32: out[r, i] = scale * table[ids[r], i] + pos(t, i) (+ type[i]),
 * r = b T + t < B T (rows strided over ctaid.x: any grid covers them all);
 * pos_kind 1 learned pos[t, i], 2 sin/cos of (float)t * inv_freq[j] (the
 * odd last column 0), any other value none. Block: at most 1024 threads.
 */
int tw_embed_f32(struct tw *t)
{
	uint32_t rows = tw_u32(t, E_B) * tw_u32(t, E_T);	/* mul.lo.u32, as the kernel */
	uint32_t T = tw_u32(t, E_T), D = tw_u32(t, E_D), kind = tw_u32(t, E_KIND);
	uint32_t half = D / 2;
	float scale = tw_f32(t, E_SCALE);
	uint64_t table = tw_u64(t, E_TABLE), type_a = tw_u64(t, E_TYPE);
	const int32_t *ids;
	const float *pos = NULL, *inv = NULL, *type = NULL;
	float *out;
	int rc = tw_block_max(t, 1024);

	if (rc || !rows)
		return rc;
	TW_SPAN(ids, t, "ids", tw_u64(t, E_IDS), (uint64_t)rows * 4, 4);
	TW_SPAN(out, t, "out", tw_u64(t, E_OUT), tw_bytes(tw_bytes(rows, D), 4), 4);
	if (kind == PNB_POS_LEARNED)	/* rows = B T >= T: every t < T occurs */
		TW_SPAN(pos, t, "pos", tw_u64(t, E_POS), tw_bytes(tw_bytes(T, D), 4), 4);
	if (kind == PNB_POS_SINCOS)
		TW_SPAN(inv, t, "inv_freq", tw_u64(t, E_INV), (uint64_t)half * 4, 4);
	if (type_a)
		TW_SPAN(type, t, "type", type_a, (uint64_t)D * 4, 4);
	for (uint32_t r = 0; r < rows; r++) {
		uint32_t tt = r % T;
		const float *e;
		float *o = out + (size_t)r * D;

		/* The id is read as u32: a negative one is a huge row, outside the table. */
		TW_SPAN(e, t, "table", table + tw_bytes((uint32_t)ids[r], (uint64_t)D * 4),
			(uint64_t)D * 4, 4);
		for (uint32_t i = 0; i < D; i++) {
			float p = 0.0f;

			if (kind == PNB_POS_LEARNED) {
				p = pos[(size_t)tt * D + i];
			} else if (kind == PNB_POS_SINCOS && i < 2 * half) {
				float a = (float)tt * inv[i < half ? i : i - half];

				p = i < half ? sinf(a) : cosf(a);
			}
			o[i] = scale * e[i] + p;
			if (type)
				o[i] += type[i];
		}
	}
	return 0;
}

enum { P_X, P_Y, P_LENS, P_B, P_T, P_D };

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/*
 * pool_mean_f32: y[b, i] = sum_{t < L} x[b T + t, i] / L, L = min(lens[b], T),
 * 0 where L = 0; b < B on grid.y, the columns on grid.x * block.x threads
 * (4 columns a thread where x, y and d are multiples of 4 (16 bytes)).
 */
int tw_pool_mean_f32(struct tw *t)
{
	uint64_t xa = tw_u64(t, P_X), ya = tw_u64(t, P_Y);
	uint32_t B = min_u32(tw_u32(t, P_B), t->grid[1]), T = tw_u32(t, P_T), d = tw_u32(t, P_D);
	uint64_t threads = (uint64_t)t->grid[0] * t->block[0];
	int vec = ((xa | ya | d) & 15) == 0;
	uint32_t nc = vec ? 4 * min_u32(d / 4, threads) : min_u32(d, threads);
	const uint32_t *lens;

	if (!B || !nc)
		return 0;
	TW_SPAN(lens, t, "lens", tw_u64(t, P_LENS), (uint64_t)B * 4, 4);
	for (uint32_t b = 0; b < B; b++) {
		uint32_t L = lens[b] < T ? lens[b] : T;
		uint64_t row0 = (uint64_t)(uint32_t)(b * T) * d;	/* mul.lo.u32 b T */
		const float *x;
		float *y;

		TW_SPAN(x, t, "x", xa + tw_bytes(row0, 4), tw_extent(L, d, nc, 4), 4);
		TW_SPAN(y, t, "y", ya + tw_bytes((uint64_t)b * d, 4), (uint64_t)nc * 4, 4);
		for (uint32_t i = 0; i < nc; i++) {
			float s = 0.0f;

			for (uint32_t k = 0; k < L; k++)
				s += x[(size_t)k * d + i];
			y[i] = L ? s / (float)L : 0.0f;
		}
	}
	return 0;
}

/*
 * pool_cls_f32: y[b, :] = x[b T, :]. Per b, with x's and y's rows on 16
 * bytes, thread k < d/4 copies columns 4k..4k+3 and thread d/4 + j column
 * 4 (d/4) + j; otherwise thread k copies column k.
 */
int tw_pool_cls_f32(struct tw *t)
{
	uint64_t xa = tw_u64(t, 0), ya = tw_u64(t, 1);
	uint32_t B = min_u32(tw_u32(t, 2), t->grid[1]), T = tw_u32(t, 3), d = tw_u32(t, 4);
	uint64_t threads = (uint64_t)t->grid[0] * t->block[0];

	for (uint32_t b = 0; b < B; b++) {
		uint64_t xr = xa + tw_bytes((uint64_t)(uint32_t)(b * T) * d, 4);
		uint64_t yr = ya + tw_bytes((uint64_t)b * d, 4);
		uint32_t nv = d / 4, nc;
		const float *x;
		float *y;

		if (((xr | yr) & 15) == 0)
			nc = threads <= nv ? 4 * (uint32_t)threads
					   : min_u32(d, 4ull * nv + (threads - nv));
		else
			nc = min_u32(d, threads);
		if (!nc)
			continue;
		TW_SPAN(x, t, "x", xr, (uint64_t)nc * 4, 4);
		TW_SPAN(y, t, "y", yr, (uint64_t)nc * 4, 4);
		memmove(y, x, (size_t)nc * 4);
	}
	return 0;
}
