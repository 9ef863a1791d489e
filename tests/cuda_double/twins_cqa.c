// SPDX-License-Identifier: MIT
/*
 * twins_cqa.c - CPU twins of kernels/ptx/cqa.ptx: cqa_hash (the LSH bits of
 * each valid query) and cqa_attend (Hamming Lloyd over those hashes, one
 * attention per centroid, its output scattered to the members, or the
 * top-k re-weighting). Everything integer and every score is computed as
 * the kernel does (fmaf chains in index order, the same seeds, rounds and
 * majority rule, the means summed in row order then divided), so hashes,
 * clusters and the top-k keys are the kernel's exactly; only the softmax
 * weights differ (expf, two passes, against ex2.approx online): ~1e-6.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cuda_double/twins_int.h"

enum { H_QKV, H_LENS, H_HASH, H_T, H_D, H_HD, H_BITS, H_PLANES };

/*
 * cqa_hash: hash[(b heads + h) T + t] bit j = (q_t . planes[j] > 0), j <
 * min(bits, 64); t < min(L, grid.x warps), h < heads = grid.y, b < grid.z;
 * block 32k <= 256 (a warp per query).
 */
int tw_cqa_hash(struct tw *t)
{
	uint32_t T = tw_u32(t, H_T), D = tw_u32(t, H_D), hd = tw_u32(t, H_HD);
	uint32_t bits = tw_u32(t, H_BITS) < 64 ? tw_u32(t, H_BITS) : 64;
	uint32_t heads = t->grid[1], B = t->grid[2];
	uint64_t cover = (uint64_t)t->grid[0] * (t->block[0] / 32);
	const uint32_t *lens;
	const float *planes;
	int rc = tw_block_1d(t, 32, 256);

	if (rc)
		return rc;
	TW_SPAN(lens, t, "lens", tw_u64(t, H_LENS), (uint64_t)B * 4, 4);
	TW_SPAN(planes, t, "planes", tw_u64(t, H_PLANES), tw_bytes(tw_bytes(bits, hd), 4), 4);
	for (uint32_t b = 0; b < B; b++) {
		uint32_t L = lens[b] < T ? lens[b] : T, n = cover < L ? (uint32_t)cover : L;
		const float *qkv;
		uint64_t *hash;

		if (!n)
			continue;
		TW_SPAN(qkv, t, "qkv", tw_u64(t, H_QKV) + tw_bytes((uint64_t)b * T, 12ull * D),
			tw_extent(n, 3ull * D, (uint64_t)heads * hd, 4), 4);
		TW_SPAN(hash, t, "hash", tw_u64(t, H_HASH) + tw_bytes((uint64_t)b * heads * T, 8),
			tw_extent(heads, T, n, 8), 8);
		for (uint32_t h = 0; h < heads; h++)
			for (uint32_t q = 0; q < n; q++) {
				const float *qr = qkv + (size_t)q * 3 * D + (size_t)h * hd;
				uint64_t v = 0;

				for (uint32_t j = 0; j < bits; j++) {
					const float *pl = planes + (size_t)j * hd;
					float dot = 0.0f;

					for (uint32_t c = 0; c < hd; c++)
						dot = fmaf(qr[c], pl[c], dot);
					v |= (uint64_t)(dot > 0.0f) << j;
				}
				hash[(size_t)h * T + q] = v;
			}
	}
	return 0;
}

enum { A_QKV, A_LENS, A_HASH, A_OUT, A_T, A_D, A_HD, A_BITS, A_CLUSTERS, A_ITERS, A_SCALE,
       A_TOPK };

/* One (sequence, head): its scratch, sized for T and hd. */
struct head {
	const float *q, *k, *v;		/* row 0 of head h; rows 3D apart */
	const uint64_t *hash;
	float *out;			/* row 0 of head h; rows D apart */
	uint32_t L, C, D, hd, bits, iters, topk;
	float scale;
	uint64_t *cent;			/* [C] */
	uint32_t *assign, *top;		/* [L], [L] */
	float *cnt, *qc, *s, *o, *base;	/* [C], [hd], [L], [hd], [hd] */
};

/* pn_hamming_lloyd from the seeds hash[k L / C]: the kernel's rounds (see the header). */
static void lloyd(struct head *w)
{
	for (uint32_t k = 0; k < w->C; k++)
		w->cent[k] = w->hash[(uint32_t)(k * w->L) / w->C];	/* mul.lo.u32, div.u32 */
	for (uint32_t it = 0; it < w->iters; it++) {
		int changed = 0;

		for (uint32_t i = 0; i < w->L; i++) {
			uint32_t best = 65, bj = 0;

			for (uint32_t j = 0; j < w->C; j++) {
				uint32_t d = (uint32_t)__builtin_popcountll(w->hash[i] ^ w->cent[j]);

				if (d < best) {
					best = d;
					bj = j;
				}
			}
			changed |= it == 0 || w->assign[i] != bj;	/* round 0 always counts */
			w->assign[i] = bj;
		}
		if (!changed)
			return;
		for (uint32_t j = 0; j < w->C; j++) {
			uint32_t n = 0, ones[64] = { 0 };
			uint64_t c = 0;

			for (uint32_t i = 0; i < w->L; i++)
				if (w->assign[i] == j) {
					n++;
					for (uint32_t b = 0; b < w->bits; b++)
						ones[b] += (uint32_t)(w->hash[i] >> b) & 1u;
				}
			if (!n)
				continue;	/* empty: keeps its centroid */
			for (uint32_t b = 0; b < w->bits; b++)
				if (2 * ones[b] > n)
					c |= 1ull << b;
			w->cent[j] = c;
		}
	}
}

/* Cluster j's centroid query: its members' rows summed in row order, then divided. */
static void centroid(struct head *w, uint32_t j)
{
	float n = 0.0f;

	memset(w->qc, 0, w->hd * sizeof(*w->qc));
	for (uint32_t i = 0; i < w->L; i++)
		if (w->assign[i] == j) {
			n += 1.0f;
			for (uint32_t d = 0; d < w->hd; d++)
				w->qc[d] += w->q[(size_t)i * 3 * w->D + d];
		}
	for (uint32_t d = 0; d < w->hd; d++)
		w->qc[d] /= n;
	w->cnt[j] = n;
}

/* Top-k rounds of argmax over s (the larger, on equal the lower key; -inf and NaN never). */
static uint32_t select_top(struct head *w, uint32_t k)
{
	uint32_t n = 0;

	for (; n < k; n++) {
		float best = -INFINITY;
		int64_t bu = -1;

		for (uint32_t u = 0; u < w->L; u++)
			if (w->s[u] > best) {
				best = w->s[u];
				bu = u;
			}
		if (bu < 0)
			break;
		w->top[n] = (uint32_t)bu;
		w->o[n] = best;		/* o: the picked scores, until reused below */
		w->s[bu] = -INFINITY;
	}
	return n;
}

static void cluster_out(struct head *w, uint32_t j, int topk)
{
	const size_t ld = 3 * (size_t)w->D;
	float m = -INFINITY, l = 0.0f, inv;
	uint32_t nt, k = w->topk < w->L ? w->topk : w->L;
	float mass = 0.0f;

	for (uint32_t u = 0; u < w->L; u++) {
		float dot = 0.0f;

		for (uint32_t d = 0; d < w->hd; d++)
			dot = fmaf(w->qc[d], w->k[u * ld + d], dot);
		w->s[u] = dot * w->scale;
		m = fmaxf(m, w->s[u]);
	}
	memset(w->base, 0, w->hd * sizeof(*w->base));
	for (uint32_t u = 0; u < w->L; u++) {
		float p = expf(w->s[u] - m);

		l += p;
		for (uint32_t d = 0; d < w->hd; d++)
			w->base[d] += p * w->v[u * ld + d];
	}
	inv = 1.0f / l;
	for (uint32_t d = 0; d < w->hd; d++)
		w->base[d] *= inv;	/* A_c V */
	if (!topk) {
		for (uint32_t i = 0; i < w->L; i++)
			if (w->assign[i] == j)
				memcpy(w->out + (size_t)i * w->D, w->base, w->hd * sizeof(float));
		return;
	}
	nt = select_top(w, k);

	for (uint32_t n = 0; n < nt; n++) {
		float a = expf(w->o[n] - m) * inv;

		mass += a;
		for (uint32_t d = 0; d < w->hd; d++)
			w->base[d] = fmaf(-a, w->v[w->top[n] * ld + d], w->base[d]);
	}
	for (uint32_t i = 0; i < w->L; i++) {
		const float *qi = w->q + i * ld;
		float *oi = w->out + (size_t)i * w->D, mx = -INFINITY, sum = 0.0f, f;

		if (w->assign[i] != j)
			continue;
		for (uint32_t n = 0; n < nt; n++) {
			float dot = 0.0f;

			for (uint32_t d = 0; d < w->hd; d++)
				dot = fmaf(qi[d] * w->scale, w->k[w->top[n] * ld + d], dot);
			w->s[n] = dot;
			mx = fmaxf(mx, dot);
		}
		memset(w->o, 0, w->hd * sizeof(*w->o));
		for (uint32_t n = 0; n < nt; n++) {
			float p = expf(w->s[n] - mx);

			sum += p;
			for (uint32_t d = 0; d < w->hd; d++)
				w->o[d] += p * w->v[w->top[n] * ld + d];
		}
		f = mass / sum;
		for (uint32_t d = 0; d < w->hd; d++)
			oi[d] = fmaf(f, w->o[d], w->base[d]);
	}
}

/*
 * cqa_attend: per (h = ctaid.x < grid.x = heads, b = ctaid.y < grid.y) with
 * L = min(lens[b], T) > 0; block 32k <= 256; dynamic shared as the header
 * states (12 T + 12 Cm + 256 + 4 Cm hd, Cm = min(clusters, T), plus 12 T
 * warps with topk); hd <= 128, bits 1..64, clusters >= 1, iters 1..64.
 */
int tw_cqa_attend(struct tw *t)
{
	uint32_t T = tw_u32(t, A_T), D = tw_u32(t, A_D), hd = tw_u32(t, A_HD);
	uint32_t bits = tw_u32(t, A_BITS), clusters = tw_u32(t, A_CLUSTERS);
	uint32_t iters = tw_u32(t, A_ITERS), topk = tw_u32(t, A_TOPK);
	uint32_t heads = t->grid[0], B = t->grid[1], warps = t->block[0] / 32;
	uint64_t Cm = clusters < T ? clusters : T;
	uint64_t need = 12ull * T + 12 * Cm + 256 + 4 * Cm * hd + (topk ? 12ull * T * warps : 0);
	const uint32_t *lens;
	struct head w = { .D = D, .hd = hd, .bits = bits, .iters = iters, .topk = topk,
			  .scale = tw_f32(t, A_SCALE) };
	void *mem;
	int rc = tw_block_1d(t, 32, 256);

	if (rc)
		return rc;
	if (!hd || hd > 128 || !bits || bits > 64 || !clusters || !iters || iters > 64)
		return tw_inval(t, "hd %u, bits %u, clusters %u, iters %u: the kernel takes hd 1..128, "
				"bits 1..64, clusters >= 1, iters 1..64", hd, bits, clusters, iters);
	if (t->dyn_shared < need)
		return tw_inval(t, "dynamic shared %u bytes, the kernel needs %llu", t->dyn_shared,
				(unsigned long long)need);
	TW_SPAN(lens, t, "lens", tw_u64(t, A_LENS), (uint64_t)B * 4, 4);
	mem = malloc((size_t)T * (8 + 4 + 4 + 4) + (size_t)T * 8 + (size_t)T * 4 + 3 * (hd + (size_t)T) * 4 + 64);
	if (!mem)
		return -ENOMEM;
	w.cent = mem;
	w.assign = (uint32_t *)(w.cent + T);
	w.top = w.assign + T;
	w.cnt = (float *)(w.top + T);
	w.s = w.cnt + T;
	w.qc = w.s + T;
	w.o = w.qc + hd;	/* hd or T floats: the picked scores, then a member's sum */
	w.base = w.o + (hd > T ? hd : T);
	for (uint32_t b = 0; b < B && !rc; b++) {
		const float *qkv;
		const uint64_t *hash;
		float *out;

		w.L = lens[b] < T ? lens[b] : T;
		if (!w.L)
			continue;
		w.C = clusters >= w.L ? w.L : clusters;
		qkv = tw_span(t, "qkv", tw_u64(t, A_QKV) + tw_bytes((uint64_t)b * T, 12ull * D),
			      tw_extent(w.L, 3ull * D, 2ull * D + (uint64_t)heads * hd, 4), 4);
		hash = tw_span(t, "hash", tw_u64(t, A_HASH) + tw_bytes((uint64_t)b * heads * T, 8),
			       tw_extent(heads, T, w.L, 8), 8);
		out = tw_span(t, "out", tw_u64(t, A_OUT) + tw_bytes((uint64_t)b * T, 4ull * D),
			      tw_extent(w.L, D, (uint64_t)heads * hd, 4), 4);
		if (!qkv || !hash || !out) {
			rc = -EFAULT;
			break;
		}
		for (uint32_t h = 0; h < heads; h++) {
			w.q = qkv + (size_t)h * hd;
			w.k = w.q + D;
			w.v = w.q + 2 * (size_t)D;
			w.hash = hash + (size_t)h * T;
			w.out = out + (size_t)h * hd;
			if (clusters >= w.L)
				for (uint32_t i = 0; i < w.L; i++)
					w.assign[i] = i;
			else
				lloyd(&w);
			for (uint32_t j = 0; j < w.C; j++) {
				centroid(&w, j);
				if (w.cnt[j] != 0.0f)
					cluster_out(&w, j, topk && clusters < w.L);
			}
		}
	}
	free(mem);
	return rc;
}
