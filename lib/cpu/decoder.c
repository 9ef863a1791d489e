// SPDX-License-Identifier: MIT
/*
 * decoder.c - the causal decoder's kernels: RoPE, attention over a KV
 * cache with grouped KV heads, and the (tied) LM head.
 *
 * Attention work items are (sequence, query head) pairs handed out over
 * the pool, as attention.c does; each item's task owns one scratch slice
 * of max_pos floats for its scores. The new tokens' k and v are written
 * to the cache first, by the calling thread, so every item reads a cache
 * that no one writes.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu/kernels.h"

#define SLICE_ALIGN 16		/* floats: slices start on 64-byte boundaries */

void pn_rope_table(float *cs, uint32_t P, uint32_t hs, float theta)
{
	uint32_t half = hs / 2;

	for (uint32_t i = 0; i < half; i++) {
		double inv = pow((double)theta, -2.0 * i / hs);

		for (uint32_t p = 0; p < P; p++) {
			cs[((size_t)p * half + i) * 2] = (float)cos(p * inv);
			cs[((size_t)p * half + i) * 2 + 1] = (float)sin(p * inv);
		}
	}
}

void pn_rope(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	     const uint32_t *pos0, const struct pn_rope_w *r, float *y)
{
	uint32_t half = r->hs / 2, rot = r->heads * r->hs;

	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < T; t++) {
			size_t row = ((size_t)b * T + t) * r->W;
			const float *xr = x + row;
			float *yr = y + row;
			const float *cs = r->cs + (size_t)(pos0[b] + t) * half * 2;

			if (t >= lens[b]) {	/* padding: no position to speak of */
				memset(yr, 0, r->W * sizeof(*yr));
				continue;
			}
			for (uint32_t c = 0; c < rot; c += 2) {
				const float *e = cs + (c % r->hs);
				float a = xr[c], bb = xr[c + 1];

				yr[c] = a * e[0] - bb * e[1];
				yr[c + 1] = a * e[1] + bb * e[0];
			}
			if (yr != xr)
				memcpy(yr + rot, xr + rot, (r->W - rot) * sizeof(*yr));
		}
}

/* Sequence b's K^T of one layer; its V follows at + len * width. */
static inline float *kv_layer(const struct pn_kv_run *kr, uint32_t b, uint32_t layer)
{
	const struct pn_kv *kv = kr->kv;

	return kv->base + kr->slots[b] * kv->slot_stride + layer * kv->layer_stride;
}

struct kv_job {
	const float *qkv;
	const uint32_t *lens;
	const struct pn_kv_run *kr;
	const struct pn_attn_kv *a;
	float *out, *scratch;
	size_t slice, vdist;		/* floats from a layer's K^T to its V */
	uint32_t B, T, ld;
	_Atomic uint32_t next;
};

/* s[u] = q . k_u for u < nk, from K^T [hs][len]: contiguous, so it vectorizes. */
static void scores(const float *q, const float *kt, size_t len, uint32_t hs, uint32_t nk,
		   float *s)
{
	for (uint32_t u = 0; u < nk; u++)
		s[u] = q[0] * kt[u];
	for (uint32_t c = 1; c < hs; c++) {
		const float *kc = kt + c * len;
		float qc = q[c];

		for (uint32_t u = 0; u < nk; u++)
			s[u] = fmaf(qc, kc[u], s[u]);
	}
}

/*
 * o[0, hs) = sum_u p[u] v_u with four partial sums, so that small heads do
 * not wait on one accumulator's latency; the common head sizes get a
 * constant hs, so the compiler keeps the sums in registers (at hs 8 the
 * generic loop spent most of its time in trip-count checks).
 */
typedef float v8f __attribute__((vector_size(32), aligned(4)));	/* 8 floats, any alignment */

#define WSUM(HS)								\
static void wsum_##HS(const float *p, const float *v0, size_t w, uint32_t nk, float *o) \
{										\
	v8f acc[4][HS / 8] = { { { 0 } } };					\
	uint32_t u = 0;								\
										\
	for (; u + 4 <= nk; u += 4)						\
		for (uint32_t k = 0; k < 4; k++) {				\
			const v8f *vu = (const v8f *)(v0 + (u + k) * w);	\
			float pk = p[u + k];					\
										\
			for (uint32_t c = 0; c < HS / 8; c++)			\
				acc[k][c] += pk * vu[c];			\
		}								\
	for (; u < nk; u++)							\
		for (uint32_t c = 0; c < HS / 8; c++)				\
			acc[0][c] += p[u] * ((const v8f *)(v0 + u * w))[c];	\
	for (uint32_t c = 0; c < HS / 8; c++) {					\
		v8f sum = (acc[0][c] + acc[1][c]) + (acc[2][c] + acc[3][c]);	\
										\
		memcpy(o + 8 * c, &sum, sizeof(sum));				\
	}									\
}
WSUM(8)
WSUM(16)
WSUM(32)
WSUM(64)
WSUM(128)

static void weighted_sum(const float *p, const float *v0, size_t w, uint32_t hs, uint32_t nk,
			 float *o, float *acc)
{
	switch (hs) {
	case 8: wsum_8(p, v0, w, nk, o); return;
	case 16: wsum_16(p, v0, w, nk, o); return;
	case 32: wsum_32(p, v0, w, nk, o); return;
	case 64: wsum_64(p, v0, w, nk, o); return;
	case 128: wsum_128(p, v0, w, nk, o); return;
	}
	memset(acc, 0, hs * sizeof(*acc));
	for (uint32_t u = 0; u < nk; u++)
		for (uint32_t c = 0; c < hs; c++)
			acc[c] = fmaf(p[u], v0[u * w + c], acc[c]);
	memcpy(o, acc, hs * sizeof(*o));
}

/* One (sequence, query head): every valid token t attends over 0..pos0 + t.
 * s: the slice, max_pos score floats then 4 * hs accumulator floats. */
static void kv_item(const struct kv_job *j, uint32_t b, uint32_t h, float *s)
{
	const struct pn_attn_kv *a = j->a;
	uint32_t hs = a->hs, g = h / (a->H / a->Hkv), D = a->H * hs;
	uint32_t p0 = j->kr->pos0[b], L = j->lens[b] < j->T ? j->lens[b] : j->T;
	const float *base = kv_layer(j->kr, b, a->layer);
	size_t w = j->kr->kv->width, len = j->kr->kv->len;
	const float *kt = base + (size_t)g * hs * len, *v0 = base + j->vdist + (size_t)g * hs;
	float *acc = s + j->slice - 4 * hs;

	for (uint32_t t = 0; t < L; t++) {
		const float *q = j->qkv + ((size_t)b * j->T + t) * j->ld + (size_t)h * hs;
		float *o = j->out + ((size_t)b * j->T + t) * D + (size_t)h * hs;
		uint32_t nk = p0 + t + 1;

		float *qs = acc + 2 * hs, inv;	/* weighted_sum uses acc[0, hs) only */

		/* the scale on q (hs products) rather than on the nk scores, and
		 * the softmax's normalisation on o (hs) rather than on p (nk) */
		for (uint32_t c = 0; c < hs; c++)
			qs[c] = q[c] * a->scale;
		scores(qs, kt, len, hs, nk, s);
		inv = 1.0f / pn_exp_shifted(s, nk);
		weighted_sum(s, v0, w, hs, nk, o, acc);
		for (uint32_t c = 0; c < hs; c++)
			o[c] *= inv;
	}
}

static void kv_task(void *ctx, uint32_t i)
{
	struct kv_job *j = ctx;
	float *s = j->scratch + i * j->slice;
	uint32_t item, n = j->B * j->a->H;

	while ((item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n)
		kv_item(j, item / j->a->H, item % j->a->H, s);
}

/* Scores for max_pos keys, then the 4 * hs floats of weighted_sum. */
static size_t slice_floats(uint32_t max_pos, uint32_t hs)
{
	return ((size_t)max_pos + 4 * hs + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
}

size_t pn_attn_cache_scratch(uint32_t max_pos, uint32_t hs, uint32_t nthreads)
{
	return slice_floats(max_pos, hs) * (nthreads ? nthreads : 1);
}

/* The new tokens' k | v into the cache (before any item reads it). */
static void kv_store(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		     const struct pn_kv_run *kr, const struct pn_attn_kv *a, uint32_t ld)
{
	uint32_t w = kr->kv->width;
	size_t len = kr->kv->len;

	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < lens[b] && t < T; t++) {
			const float *k = qkv + ((size_t)b * T + t) * ld + (size_t)a->H * a->hs;
			uint32_t p = kr->pos0[b] + t;
			float *kt = kv_layer(kr, b, a->layer);

			for (uint32_t c = 0; c < w; c++)	/* column c = head c / hs, dim c % hs */
				kt[c * len + p] = k[c];
			memcpy(kt + len * w + (size_t)p * w, k + w, w * sizeof(*kt));
		}
}

void pn_attn_cache(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
		   const uint32_t *lens, const struct pn_kv_run *kr, const struct pn_attn_kv *a,
		   float *out, float *scratch)
{
	uint32_t D = a->H * a->hs;
	struct kv_job j = {
		.qkv = qkv, .lens = lens, .kr = kr, .a = a, .out = out, .scratch = scratch,
		.slice = slice_floats(kr->kv->len, a->hs), .vdist = (size_t)kr->kv->len * kr->kv->width,
		.B = B, .T = T, .ld = D + 2 * a->Hkv * a->hs,
	};
	uint32_t items = B * a->H, tasks = pn_pool_size(pool);

	kv_store(qkv, B, T, lens, kr, a, j.ld);
	for (uint32_t b = 0; b < B; b++)	/* padding rows: defined zeros */
		if (lens[b] < T)
			memset(out + ((size_t)b * T + lens[b]) * D, 0,
			       (size_t)(T - lens[b]) * D * sizeof(*out));
	atomic_init(&j.next, 0);
	if (tasks > items)
		tasks = items;
	pn_pool_run(pool, kv_task, &j, tasks);
}

void pn_logits(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	       const float *table, uint32_t V, uint32_t D, int last, float *y,
	       float *scratch)
{
	if (!last) {
		pn_gemm_bt(B * T, V, D, x, D, table, D, 0.0f, y, V);
		return;
	}
	for (uint32_t b = 0; b < B; b++)
		memcpy(scratch + (size_t)b * D, x + ((size_t)b * T + lens[b] - 1) * D,
		       D * sizeof(*scratch));
	pn_gemm_bt(B, V, D, scratch, D, table, D, 0.0f, y, V);
}
