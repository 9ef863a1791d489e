// SPDX-License-Identifier: MIT
/*
 * attention.c - multi-head scaled dot-product attention over a padded
 * batch, and the row softmax it shares with pn_softmax_rows.
 *
 * Work items are (sequence, head) pairs, handed out over the pool. For a
 * sequence of L valid tokens, S = q k^T and out = P v are two GEMMs on
 * strided views of qkv (lda = 3D) when L is large enough to amortise a
 * GEMM call; shorter sequences take a fused loop, one query row at a time.
 * Only the L valid rows are computed; masked keys get exactly 0 weight.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu/fastexp.h"
#include "cpu/kernels.h"

#define GEMM_MIN_LEN 4		/* measured: from 4 tokens on the two GEMMs win */
#define SLICE_ALIGN 16		/* floats: slices start on 64-byte boundaries */
#define LANES 16		/* independent partial sums: lets dot products vectorize */

/* s[0, nv) = softmax(scale * s[0, nv)); s[nv, n) = 0 (masked keys). nv >= 1. */
static void softmax_masked(float *s, uint32_t nv, uint32_t n, float scale)
{
	float m = s[0] * scale, sum = 0.0f, lane[LANES];
	uint32_t j, k;

	for (j = 0; j < nv; j++)
		s[j] *= scale;
	for (k = 0; k < LANES; k++)
		lane[k] = m;
	for (j = 0; j + LANES <= nv; j += LANES)
		for (k = 0; k < LANES; k++)
			lane[k] = s[j + k] > lane[k] ? s[j + k] : lane[k];
	for (; j < nv; j++)
		m = s[j] > m ? s[j] : m;
	for (k = 0; k < LANES; k++) {
		m = lane[k] > m ? lane[k] : m;
		lane[k] = 0.0f;
	}
	for (j = 0; j < nv; j++)
		s[j] = pn_exp_nonpos(s[j] - m);
	for (j = 0; j + LANES <= nv; j += LANES)
		for (k = 0; k < LANES; k++)
			lane[k] += s[j + k];
	for (; j < nv; j++)
		sum += s[j];
	for (k = 0; k < LANES; k++)
		sum += lane[k];
	/* sum >= 1: the maximum contributes exp(0). */
	float inv = 1.0f / sum;

	for (j = 0; j < nv; j++)
		s[j] *= inv;
	for (; j < n; j++)
		s[j] = 0.0f;
}

void pn_softmax_rows(float *x, uint32_t rows, uint32_t d)
{
	if (d == 0)
		return;
	for (uint32_t r = 0; r < rows; r++)
		softmax_masked(x + (size_t)r * d, d, d, 1.0f);
}

float pn_exp_shifted(float *s, uint32_t n)
{
	float m = s[0], lane[LANES], sum = 0.0f;
	uint32_t j, k;

	for (k = 0; k < LANES; k++)
		lane[k] = m;
	for (j = 0; j + LANES <= n; j += LANES)
		for (k = 0; k < LANES; k++)
			lane[k] = s[j + k] > lane[k] ? s[j + k] : lane[k];
	for (; j < n; j++)
		m = s[j] > m ? s[j] : m;
	for (k = 0; k < LANES; k++) {
		m = lane[k] > m ? lane[k] : m;
		lane[k] = 0.0f;
	}
	for (j = 0; j + LANES <= n; j += LANES)
		for (k = 0; k < LANES; k++) {
			s[j + k] = pn_exp_nonpos(s[j + k] - m);
			lane[k] += s[j + k];
		}
	for (; j < n; j++) {
		s[j] = pn_exp_nonpos(s[j] - m);
		sum += s[j];
	}
	for (k = 0; k < LANES; k++)
		sum += lane[k];
	return sum;
}

float pn_dot(const float *a, const float *b, uint32_t n)
{
	float lane[LANES] = { 0 }, s = 0.0f;
	uint32_t i = 0, k;

	for (; i + LANES <= n; i += LANES) {
		float t[LANES];

		/* Through t: gcc then maps the lanes onto one vector FMA. */
		for (k = 0; k < LANES; k++)
			t[k] = fmaf(a[i + k], b[i + k], lane[k]);
		for (k = 0; k < LANES; k++)
			lane[k] = t[k];
	}
	for (; i < n; i++)
		s = fmaf(a[i], b[i], s);
	for (k = 0; k < LANES; k++)
		s += lane[k];
	return s;
}

struct att_job {
	const float *qkv;
	const uint32_t *lens;
	float *out, *scratch;
	size_t slice;
	uint32_t B, T, D, heads, hd;
	float scale;
	int causal;
	_Atomic uint32_t next;	/* next (sequence, head) item */
};

/* One (sequence, head): L valid rows, q/k/v/o strided views. s: T*T floats. */
static void head_fused(const struct att_job *j, const float *q, const float *k,
		       const float *v, float *o, uint32_t L, float *s)
{
	uint32_t ld = 3 * j->D, hd = j->hd;

	for (uint32_t t = 0; t < L; t++, q += ld, o += j->D) {
		uint32_t nk = j->causal ? t + 1 : L;

		for (uint32_t u = 0; u < nk; u++)
			s[u] = pn_dot(q, k + (size_t)u * ld, hd);
		softmax_masked(s, nk, nk, j->scale);
		memset(o, 0, hd * sizeof(*o));
		for (uint32_t u = 0; u < nk; u++) {
			const float *vu = v + (size_t)u * ld;
			float p = s[u];

			for (uint32_t c = 0; c < hd; c++)
				o[c] = fmaf(p, vu[c], o[c]);
		}
	}
}

static void head_gemm(const struct att_job *j, const float *q, const float *k,
		      const float *v, float *o, uint32_t L, float *s)
{
	uint32_t ld = 3 * j->D;

	pn_gemm_bt(L, L, j->hd, q, ld, k, ld, 0.0f, s, L);
	for (uint32_t t = 0; t < L; t++)
		softmax_masked(s + (size_t)t * L, j->causal ? t + 1 : L, L, j->scale);
	pn_gemm(L, j->hd, L, s, L, v, ld, 0.0f, o, j->D);
}

/* Task i owns scratch slice i and takes items until none are left. */
static void att_task(void *ctx, uint32_t i)
{
	struct att_job *j = ctx;
	float *s = j->scratch + i * j->slice;
	uint32_t item, n = j->B * j->heads;

	while ((item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n) {
		uint32_t b = item / j->heads, h = item % j->heads;
		uint32_t L = j->lens[b] < j->T ? j->lens[b] : j->T;
		const float *q = j->qkv + (size_t)b * j->T * 3 * j->D + (size_t)h * j->hd;
		float *o = j->out + (size_t)b * j->T * j->D + (size_t)h * j->hd;

		if (L == 0)
			continue;
		if (L >= GEMM_MIN_LEN)
			head_gemm(j, q, q + j->D, q + 2 * j->D, o, L, s);
		else
			head_fused(j, q, q + j->D, q + 2 * j->D, o, L, s);
	}
}

static size_t slice_floats(uint32_t T)
{
	return ((size_t)T * T + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
}

/* nthreads must be at least pn_pool_size() of the pool given to pn_attention. */
size_t pn_attention_scratch(uint32_t T, uint32_t nthreads)
{
	return slice_floats(T) * (nthreads ? nthreads : 1);
}

void pn_attention(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
		  const uint32_t *lens, const struct pn_attn *a, float *out, float *scratch)
{
	struct att_job j = {
		.qkv = qkv, .lens = lens, .out = out, .scratch = scratch,
		.slice = slice_floats(T), .B = B, .T = T, .D = a->D, .heads = a->heads,
		.hd = a->D / a->heads, .scale = a->scale, .causal = a->causal,
	};
	uint32_t items = B * a->heads, tasks = pn_pool_size(pool);

	atomic_init(&j.next, 0);
	if (tasks > items)
		tasks = items;
	pn_pool_run(pool, att_task, &j, tasks);
}
