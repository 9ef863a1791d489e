// SPDX-License-Identifier: MIT
/*
 * cqa.c - Clustered Query Attention (Vyas et al. 2020, SPECS.md): per
 * (sequence, head), hash the L valid queries with B hyperplanes, cluster
 * the hashes in Hamming space, attend once per cluster centroid and give
 * every query its centroid's result; the improved variant re-weights each
 * centroid's top-k keys with the query's own scores.
 *
 * Work items are (sequence, head) pairs over the pool, as in attention.c;
 * each task owns one scratch slice. The three products (hash dots, centroid
 * scores, centroid outputs) are GEMMs on strided views of qkv.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"

#define SLICE_ALIGN 16

uint32_t pn_hamming_lloyd(const uint64_t *h, uint32_t n, uint32_t bits,
			  uint64_t *cent, uint32_t k, uint32_t iters,
			  uint32_t *assign, uint32_t *count)
{
	uint32_t *members = count + (size_t)k * bits, it;

	for (it = 0; it < iters; it++) {
		int changed = it == 0;

		for (uint32_t i = 0; i < n; i++) {
			uint32_t best = 65, bj = 0;

			for (uint32_t j = 0; j < k; j++) {
				uint32_t d = (uint32_t)__builtin_popcountll(h[i] ^ cent[j]);

				if (d < best) {
					best = d;
					bj = j;
				}
			}
			changed |= assign[i] != bj;
			assign[i] = bj;
		}
		if (!changed)
			return it + 1;
		memset(count, 0, (size_t)k * (bits + 1) * sizeof(*count));
		for (uint32_t i = 0; i < n; i++) {
			uint32_t *cb = count + (size_t)assign[i] * bits;

			members[assign[i]]++;
			for (uint32_t b = 0; b < bits; b++)
				cb[b] += (uint32_t)(h[i] >> b) & 1u;
		}
		for (uint32_t j = 0; j < k; j++) {
			uint64_t c = 0;

			if (!members[j])
				continue;
			for (uint32_t b = 0; b < bits; b++)
				if (2 * count[(size_t)j * bits + b] > members[j])
					c |= 1ull << b;
			cent[j] = c;
		}
	}
	return it;
}

struct slice {
	uint64_t *hash;		/* [T] */
	uint64_t *cent;		/* [C] */
	uint32_t *assign;	/* [T] */
	uint32_t *count;	/* [C * (bits + 1)] */
	uint32_t *remap;	/* [C]: cluster -> row among the non-empty */
	uint32_t *top;		/* [k] */
	float *hs;		/* [T, bits] hash dots */
	float *qc, *a, *oc;	/* [C, hd], [C, T], [C, hd] */
	float *tmp, *s;		/* [T], [k] */
	float *kt, *vt;		/* [k, hd]: the top keys and values, gathered */
};

static size_t up(size_t n)
{
	return (n + SLICE_ALIGN - 1) / SLICE_ALIGN * SLICE_ALIGN;
}

/* Floats per slice, and the slice's arrays when base is not NULL. */
static size_t slice_layout(uint32_t T, uint32_t hd, const struct pn_cqa *c,
			   float *base, struct slice *sl)
{
	size_t C = c->clusters < T ? c->clusters : T, k = c->topk < T ? c->topk : T;
	size_t off = 0;

#define TAKE(field, type, n) do {					\
		if (base)						\
			sl->field = (type *)(base + off);		\
		off += up(n);						\
	} while (0)
	TAKE(hash, uint64_t, 2 * (size_t)T);
	TAKE(cent, uint64_t, 2 * C);
	TAKE(assign, uint32_t, T);
	TAKE(count, uint32_t, C * (c->bits + 1));
	TAKE(remap, uint32_t, C);
	TAKE(top, uint32_t, k);
	TAKE(hs, float, (size_t)T * c->bits);
	TAKE(qc, float, C * hd);
	TAKE(a, float, C * T);
	TAKE(oc, float, C * hd);
	TAKE(tmp, float, T);
	TAKE(s, float, k);
	TAKE(kt, float, k * hd);
	TAKE(vt, float, k * hd);
#undef TAKE
	return off;
}

size_t pn_cqa_scratch(uint32_t T, uint32_t D, const struct pn_cqa *c, uint32_t nthreads)
{
	return slice_layout(T, D / c->heads, c, NULL, NULL) * (nthreads ? nthreads : 1);
}

struct cqa_job {
	const float *qkv;
	const uint32_t *lens;
	const struct pn_cqa *c;
	float *out, *scratch;
	size_t slice;
	uint32_t B, T, D, hd;
	_Atomic uint32_t next;
};

/* Hash the L queries and cluster them; returns the clusters used (<= C). */
static uint32_t cluster(const struct cqa_job *j, const float *q, uint32_t L, struct slice *sl)
{
	const struct pn_cqa *c = j->c;
	uint32_t C = c->clusters;

	pn_gemm_bt(L, c->bits, j->hd, q, 3 * j->D, c->planes, j->hd, 0.0f, sl->hs, c->bits);
	for (uint32_t i = 0; i < L; i++) {
		uint64_t h = 0;

		for (uint32_t b = 0; b < c->bits; b++)
			h |= (uint64_t)(sl->hs[(size_t)i * c->bits + b] > 0.0f) << b;
		sl->hash[i] = h;
	}
	/* Evenly spaced queries seed the centroids: deterministic, no RNG on the hot path. */
	for (uint32_t k = 0; k < C; k++)
		sl->cent[k] = sl->hash[(size_t)k * L / C];
	pn_hamming_lloyd(sl->hash, L, c->bits, sl->cent, C, c->iters, sl->assign, sl->count);
	return C;
}

/* k-th largest (k >= 1) of v[0, n), by quickselect; reorders v. */
static float kth_largest(float *v, uint32_t n, uint32_t k)
{
	uint32_t lo = 0, hi = n - 1, want = k - 1;

	while (lo < hi) {
		float piv = v[lo + (hi - lo) / 2];
		uint32_t i = lo, j = hi;

		while (i <= j) {	/* descending: left of i >= piv, right of j <= piv */
			while (v[i] > piv)
				i++;
			while (v[j] < piv)
				j--;
			if (i <= j) {
				float t = v[i];

				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			return v[want];
	}
	return v[want];
}

/*
 * The k largest of row a[0, L) into top (ties at the threshold: lowest
 * indices first, as the reference twin picks them), in O(L).
 */
static void top_keys(const float *a, uint32_t L, uint32_t k, float *tmp, uint32_t *top)
{
	uint32_t n = 0, above = 0, tied = 0;
	float th;

	memcpy(tmp, a, L * sizeof(*tmp));
	th = kth_largest(tmp, L, k);
	for (uint32_t i = 0; i < L; i++)
		above += a[i] > th;
	/* above < k: th is the k-th largest, and at least k - above rows equal it */
	for (uint32_t i = 0; i < L && n < k; i++) {
		if (a[i] > th) {
			top[n++] = i;
		} else if (a[i] == th && tied < k - above) {
			top[n++] = i;
			tied++;
		}
	}
}

/*
 * out_i = base_c + mass_c * sum_{j in top} softmax_top(q_i k_j scale) v_j for
 * the members i of cluster m. The top keys are gathered transposed (kt
 * [hd, k]) and the values as rows (vt [k, hd]): a member's k scores are
 * then hd unit-stride FMA rows of width k, and its output k rows of width
 * hd, both of which the compiler vectorises. (The top-k variant is still
 * slower than exact attention at 32 x 128: bench/RESULTS.md.)
 */
static void improve(const struct cqa_job *j, const float *q, const float *kk, const float *v,
		    float *o, uint32_t L, uint32_t nc, struct slice *sl)
{
	uint32_t k = j->c->topk < L ? j->c->topk : L, hd = j->hd, ld = 3 * j->D;
	float scale = j->c->scale;

	for (uint32_t m = 0; m < nc; m++) {
		const float *a = sl->a + (size_t)m * L;
		float *base = sl->oc + (size_t)m * hd, mass = 0.0f;

		top_keys(a, L, k, sl->tmp, sl->top);
		for (uint32_t n = 0; n < k; n++) {
			const float *kn = kk + (size_t)sl->top[n] * ld;
			float *vt = sl->vt + (size_t)n * hd;
			float an = a[sl->top[n]];

			for (uint32_t d = 0; d < hd; d++)
				sl->kt[(size_t)d * k + n] = kn[d];
			memcpy(vt, v + (size_t)sl->top[n] * ld, hd * sizeof(float));
			/* base = A_c V minus the top keys' share: the mass outside the top */
			mass += an;
			for (uint32_t d = 0; d < hd; d++)
				base[d] = fmaf(-an, vt[d], base[d]);
		}
		for (uint32_t i = 0; i < L; i++) {
			const float *qi = q + (size_t)i * ld;
			float *oi = o + (size_t)i * j->D, *sc = sl->s, mx = -INFINITY, sum = 0.0f;

			if (sl->remap[sl->assign[i]] != m)
				continue;
			memset(sc, 0, k * sizeof(*sc));
			for (uint32_t d = 0; d < hd; d++) {
				const float *kr = sl->kt + (size_t)d * k;
				float qd = qi[d] * scale;

				for (uint32_t n = 0; n < k; n++)
					sc[n] = fmaf(qd, kr[n], sc[n]);
			}
			for (uint32_t n = 0; n < k; n++)
				mx = sc[n] > mx ? sc[n] : mx;
			for (uint32_t n = 0; n < k; n++) {
				sc[n] = expf(sc[n] - mx);
				sum += sc[n];
			}
			memcpy(oi, base, hd * sizeof(*oi));
			for (uint32_t n = 0; n < k; n++) {
				const float *vt = sl->vt + (size_t)n * hd;
				float w = mass * sc[n] / sum;

				for (uint32_t d = 0; d < hd; d++)
					oi[d] = fmaf(w, vt[d], oi[d]);
			}
		}
	}
}

static void head(const struct cqa_job *j, const float *q, float *o, uint32_t L, struct slice *sl)
{
	const float *kk = q + j->D, *v = q + 2 * j->D;
	uint32_t hd = j->hd, ld = 3 * j->D, nc = 0, C;

	if (j->c->clusters >= L) {	/* every query its own cluster: exact attention */
		C = L;
		for (uint32_t i = 0; i < L; i++)
			sl->assign[i] = i;
	} else {
		C = cluster(j, q, L, sl);
	}
	/* Centroids of the non-empty clusters, compacted: Q_c = mean of members. */
	for (uint32_t k = 0; k < C; k++)
		sl->remap[k] = UINT32_MAX;
	for (uint32_t i = 0; i < L; i++)
		if (sl->remap[sl->assign[i]] == UINT32_MAX)
			sl->remap[sl->assign[i]] = nc++;
	memset(sl->qc, 0, (size_t)nc * hd * sizeof(float));
	memset(sl->tmp, 0, nc * sizeof(float));	/* member counts */
	for (uint32_t i = 0; i < L; i++) {
		uint32_t m = sl->remap[sl->assign[i]];
		float *qm = sl->qc + (size_t)m * hd;

		sl->tmp[m] += 1.0f;
		for (uint32_t d = 0; d < hd; d++)
			qm[d] += q[(size_t)i * ld + d];
	}
	for (uint32_t m = 0; m < nc; m++)
		for (uint32_t d = 0; d < hd; d++)
			sl->qc[(size_t)m * hd + d] /= sl->tmp[m];
	pn_gemm_bt(nc, L, hd, sl->qc, hd, kk, ld, 0.0f, sl->a, L);
	for (size_t i = 0; i < (size_t)nc * L; i++)
		sl->a[i] *= j->c->scale;
	pn_softmax_rows(sl->a, nc, L);
	pn_gemm(nc, hd, L, sl->a, L, v, ld, 0.0f, sl->oc, hd);
	/* With one query per cluster, re-weighting changes nothing: skip it. */
	if (j->c->topk && C < L) {
		improve(j, q, kk, v, o, L, nc, sl);
		return;
	}
	for (uint32_t i = 0; i < L; i++)
		memcpy(o + (size_t)i * j->D, sl->oc + (size_t)sl->remap[sl->assign[i]] * hd,
		       hd * sizeof(float));
}

static void cqa_task(void *ctx, uint32_t i)
{
	struct cqa_job *j = ctx;
	struct slice sl = { 0 };
	uint32_t item, n = j->B * j->c->heads;

	slice_layout(j->T, j->hd, j->c, j->scratch + i * j->slice, &sl);
	while ((item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < n) {
		uint32_t b = item / j->c->heads, h = item % j->c->heads;
		uint32_t L = j->lens[b] < j->T ? j->lens[b] : j->T;

		if (L)
			head(j, j->qkv + (size_t)b * j->T * 3 * j->D + (size_t)h * j->hd,
			     j->out + (size_t)b * j->T * j->D + (size_t)h * j->hd, L, &sl);
	}
}

void pn_cqa(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
	    const uint32_t *lens, uint32_t D, const struct pn_cqa *c, float *out,
	    float *scratch)
{
	struct cqa_job j = {
		.qkv = qkv, .lens = lens, .c = c, .out = out, .scratch = scratch,
		.B = B, .T = T, .D = D, .hd = D / c->heads,
	};
	uint32_t items = B * c->heads, tasks = pn_pool_size(pool);

	j.slice = slice_layout(T, j.hd, c, NULL, NULL);
	atomic_init(&j.next, 0);
	if (tasks > items)
		tasks = items;
	if (tasks)
		pn_pool_run(pool, cqa_task, &j, tasks);
}
