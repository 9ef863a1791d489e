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

static inline float *kv_k(const struct pn_kv_run *kr, uint32_t b, uint32_t layer, uint32_t p)
{
	const struct pn_kv *kv = kr->kv;

	return kv->base + kr->slots[b] * kv->slot_stride + layer * kv->layer_stride +
	       (size_t)p * kv->width;
}

struct kv_job {
	const float *qkv;
	const uint32_t *lens;
	const struct pn_kv_run *kr;
	const struct pn_attn_kv *a;
	float *out, *scratch;
	size_t slice, vdist;		/* floats from a position's K to its V */
	uint32_t B, T, ld;
	_Atomic uint32_t next;
};

/* One (sequence, query head): every valid token t attends over 0..pos0 + t. */
static void kv_item(const struct kv_job *j, uint32_t b, uint32_t h, float *s)
{
	const struct pn_attn_kv *a = j->a;
	uint32_t hs = a->hs, g = h / (a->H / a->Hkv), D = a->H * hs;
	uint32_t p0 = j->kr->pos0[b], L = j->lens[b] < j->T ? j->lens[b] : j->T;
	const float *k0 = kv_k(j->kr, b, a->layer, 0) + (size_t)g * hs;
	const float *v0 = k0 + j->vdist;
	size_t w = j->kr->kv->width;

	for (uint32_t t = 0; t < L; t++) {
		const float *q = j->qkv + ((size_t)b * j->T + t) * j->ld + (size_t)h * hs;
		float *o = j->out + ((size_t)b * j->T + t) * D + (size_t)h * hs;
		uint32_t nk = p0 + t + 1;

		for (uint32_t u = 0; u < nk; u++)
			s[u] = pn_dot(q, k0 + u * w, hs);
		pn_softmax_scaled(s, nk, a->scale);
		memset(o, 0, hs * sizeof(*o));
		for (uint32_t u = 0; u < nk; u++) {
			const float *vu = v0 + u * w;
			float p = s[u];

			for (uint32_t c = 0; c < hs; c++)
				o[c] = fmaf(p, vu[c], o[c]);
		}
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

static size_t slice_floats(uint32_t max_pos)
{
	return ((size_t)max_pos + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
}

size_t pn_attn_cache_scratch(uint32_t max_pos, uint32_t nthreads)
{
	return slice_floats(max_pos) * (nthreads ? nthreads : 1);
}

/* The new tokens' k | v into the cache (before any item reads it). */
static void kv_store(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		     const struct pn_kv_run *kr, const struct pn_attn_kv *a, uint32_t ld)
{
	uint32_t w = kr->kv->width;
	size_t vdist = (size_t)kr->kv->len * w;

	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < lens[b] && t < T; t++) {
			const float *k = qkv + ((size_t)b * T + t) * ld + (size_t)a->H * a->hs;
			float *dst = kv_k(kr, b, a->layer, kr->pos0[b] + t);

			memcpy(dst, k, w * sizeof(*dst));
			memcpy(dst + vdist, k + w, w * sizeof(*dst));
		}
}

void pn_attn_cache(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
		   const uint32_t *lens, const struct pn_kv_run *kr, const struct pn_attn_kv *a,
		   float *out, float *scratch)
{
	uint32_t D = a->H * a->hs;
	struct kv_job j = {
		.qkv = qkv, .lens = lens, .kr = kr, .a = a, .out = out, .scratch = scratch,
		.slice = slice_floats(kr->kv->len), .vdist = (size_t)kr->kv->len * kr->kv->width,
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
