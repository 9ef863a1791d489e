// SPDX-License-Identifier: MIT
/*
 * ref_poly.c - reference twins of the PolyNet kernels (cheb.h, poly.h):
 * the contracts written as plainly as possible, in double, with naive
 * loops. Tests take them as ground truth; they may allocate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cheb.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "util/pn_err.h"

float pn_ref_cheb1(const struct pn_cheb *p, float x)
{
	double t, s = 0;

	if (x > p->b)
		return x;
	if (x < p->a)
		return 0.0f;
	t = (2.0 * x - p->a - p->b) / ((double)p->b - p->a);
	t = t > 1 ? 1 : t < -1 ? -1 : t;
	for (uint32_t j = 0; j < pn_cheb_ncoef(p->degree, p->even); j++) {
		uint32_t k = p->even ? 2 * j : j;	/* the even form holds c_0, c_2, ... */

		s += p->c[j] * cos(k * acos(t));
	}
	return (float)(p->even ? s + 0.5 * x : s);
}

void pn_ref_polyffn(const float *x, uint32_t rows, uint32_t D, uint32_t ff,
		    int gated, const struct pn_cheb *p, const float *W1,
		    const float *b1, const float *W2, const float *b2, float *out)
{
	uint32_t hw = gated ? 2 * ff : ff;
	float *h = malloc((size_t)rows * hw * sizeof(*h) + 1);

	PN_ASSERT(h);
	pn_ref_linear(x, rows, D, W1, b1, hw, 0, h);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t j = 0; j < ff; j++) {
			float g = pn_ref_cheb1(p, h[(size_t)r * hw + j]);

			/* gated: written to a ff-wide matrix in place (j <= r hw + j) */
			h[(size_t)r * ff + j] = gated ? g * h[(size_t)r * hw + ff + j] : g;
		}
	pn_ref_linear(h, rows, ff, W2, b2, D, 0, out);
	free(h);
}

void pn_ref_vq_assign(const float *x, uint32_t rows, uint32_t D,
		      const float *codebook, uint32_t K, int32_t *codes, float *dist2)
{
	for (uint32_t r = 0; r < rows; r++) {
		double best = INFINITY;
		int32_t bk = 0;

		for (uint32_t k = 0; k < K; k++) {
			double d = 0;

			for (uint32_t i = 0; i < D; i++) {
				double t = (double)x[(size_t)r * D + i] - codebook[(size_t)k * D + i];

				d += t * t;
			}
			if (d < best) {
				best = d;
				bk = (int32_t)k;
			}
		}
		codes[r] = bk;
		if (dist2)
			dist2[r] = (float)best;
	}
}

/* Hamming k-means as pn_hamming_lloyd documents it, written out plainly. */
static void ref_hamming(const uint64_t *h, uint32_t n, uint32_t bits, uint64_t *cent,
			uint32_t k, uint32_t iters, uint32_t *assign)
{
	for (uint32_t it = 0; it < iters; it++) {
		int changed = it == 0;

		for (uint32_t i = 0; i < n; i++) {
			uint32_t bj = 0;

			for (uint32_t j = 1; j < k; j++)
				if (__builtin_popcountll(h[i] ^ cent[j]) <
				    __builtin_popcountll(h[i] ^ cent[bj]))
					bj = j;
			changed |= assign[i] != bj;
			assign[i] = bj;
		}
		if (!changed)
			return;
		for (uint32_t j = 0; j < k; j++) {
			uint32_t members = 0, ones[64] = { 0 };

			for (uint32_t i = 0; i < n; i++) {
				if (assign[i] != j)
					continue;
				members++;
				for (uint32_t b = 0; b < bits; b++)
					ones[b] += (h[i] >> b) & 1;
			}
			if (!members)
				continue;
			cent[j] = 0;
			for (uint32_t b = 0; b < bits; b++)
				if (2 * ones[b] > members)
					cent[j] |= 1ull << b;
		}
	}
}

/* p[0, n) = softmax(scale * q . k_idx[j]) in double. */
static void ref_scores(const float *q, const float *k, uint32_t ld, const uint32_t *idx,
		       uint32_t n, uint32_t hd, double scale, double *p)
{
	double m = -INFINITY, sum = 0;

	for (uint32_t j = 0; j < n; j++) {
		double s = 0;

		for (uint32_t d = 0; d < hd; d++)
			s += (double)q[d] * k[(size_t)idx[j] * ld + d];
		p[j] = s * scale;
		m = p[j] > m ? p[j] : m;
	}
	for (uint32_t j = 0; j < n; j++)
		sum += (p[j] = exp(p[j] - m));
	for (uint32_t j = 0; j < n; j++)
		p[j] /= sum;
}

void pn_ref_cqa(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		uint32_t D, const struct pn_cqa *c, float *out)
{
	uint32_t hd = D / c->heads, ld = 3 * D;
	uint64_t *hash = malloc(((size_t)T + 1) * sizeof(*hash));
	uint64_t *cent = malloc(((size_t)c->clusters + 1) * sizeof(*cent));
	uint32_t *assign = malloc(((size_t)T + 1) * sizeof(*assign));
	uint32_t *all = malloc(((size_t)T + 1) * sizeof(*all));
	uint32_t *top = malloc(((size_t)T + 1) * sizeof(*top));
	double *a = malloc(((size_t)T + 1) * sizeof(*a)), *pq = malloc(((size_t)T + 1) * sizeof(*pq));
	float *qc = malloc(((size_t)hd + 1) * sizeof(*qc));

	PN_ASSERT(hash && cent && assign && all && top && a && pq && qc);
	for (uint32_t j = 0; j < T; j++)
		all[j] = j;
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t h = 0; h < c->heads; h++) {
			uint32_t L = lens[b] < T ? lens[b] : T, C = c->clusters;
			const float *q = qkv + (size_t)b * T * ld + (size_t)h * hd;
			const float *k = q + D, *v = q + 2 * D;

			if (C >= L) {
				for (uint32_t i = 0; i < L; i++)
					assign[i] = i;
			} else {
				for (uint32_t i = 0; i < L; i++) {
					hash[i] = 0;
					for (uint32_t j = 0; j < c->bits; j++) {
						double s = 0;

						for (uint32_t d = 0; d < hd; d++)
							s += (double)q[(size_t)i * ld + d] *
							     c->planes[(size_t)j * hd + d];
						if (s > 0)
							hash[i] |= 1ull << j;
					}
				}
				for (uint32_t j = 0; j < C; j++)
					cent[j] = hash[(size_t)j * L / C];
				ref_hamming(hash, L, c->bits, cent, C, c->iters, assign);
			}
			for (uint32_t i = 0; i < L; i++) {
				uint32_t n = 0, kk = c->topk < L ? c->topk : L;
				double mass = 0;

				/* the centroid of i's cluster and its attention row */
				memset(qc, 0, hd * sizeof(*qc));
				for (uint32_t u = 0; u < L; u++)
					if (assign[u] == assign[i]) {
						n++;
						for (uint32_t d = 0; d < hd; d++)
							qc[d] += q[(size_t)u * ld + d];
					}
				for (uint32_t d = 0; d < hd; d++)
					qc[d] /= (float)n;
				ref_scores(qc, k, ld, all, L, hd, c->scale, a);
				if (!c->topk || C >= L)
					kk = 0;
				/* top keys by centroid weight, ties to the lower index */
				for (uint32_t t = 0; t < kk; t++) {
					uint32_t bi = UINT32_MAX;

					for (uint32_t j = 0; j < L; j++) {
						int taken = 0;

						for (uint32_t s = 0; s < t; s++)
							taken |= top[s] == j;
						if (!taken && (bi == UINT32_MAX || a[j] > a[bi]))
							bi = j;
					}
					top[t] = bi;
					mass += a[bi];
				}
				ref_scores(q + (size_t)i * ld, k, ld, top, kk, hd, c->scale, pq);
				for (uint32_t d = 0; d < hd; d++) {
					double o = 0;

					for (uint32_t j = 0; j < L; j++) {
						int in_top = 0;

						for (uint32_t s = 0; s < kk; s++)
							in_top |= top[s] == j;
						if (!in_top)
							o += a[j] * v[(size_t)j * ld + d];
					}
					for (uint32_t s = 0; s < kk; s++)
						o += mass * pq[s] * v[(size_t)top[s] * ld + d];
					out[((size_t)b * T + i) * D + (size_t)h * hd + d] = (float)o;
				}
			}
		}
	free(hash); free(cent); free(assign); free(all); free(top); free(a); free(pq); free(qc);
}

void pn_ref_macro(const float *x, uint32_t rows, uint32_t D,
		  const struct pn_macro *m, float *out)
{
	uint32_t ncoef = pn_cheb_ncoef(m->cheb.degree, m->cheb.even);
	double *s = malloc(((size_t)m->E + 1) * sizeof(*s));
	float *h = malloc(((size_t)m->rank + 1) * sizeof(*h));

	PN_ASSERT(s && h);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * D;
		uint32_t pick[2], b1 = 0, b2 = 0;
		double g[2] = { 1, 0 };

		for (uint32_t e = 0; e < m->E; e++) {
			double v = m->router == PN_ROUTER_LINEAR && m->router_b ? m->router_b[e] : 0;

			for (uint32_t i = 0; i < D; i++) {
				if (m->router == PN_ROUTER_LINEAR) {
					v += (double)xr[i] * m->router_w[(size_t)i * m->E + e];
				} else {
					double t = (double)xr[i] - m->router_w[(size_t)e * D + i];

					v -= t * t;
				}
			}
			s[e] = v;
			if (v > s[b1])
				b1 = e;
		}
		pick[0] = b1;
		if (m->topk == 2) {
			b2 = b1 == 0 ? 1 : 0;
			for (uint32_t e = 0; e < m->E; e++)
				if (e != b1 && s[e] > s[b2])
					b2 = e;
			pick[1] = b2;
			g[0] = 1 / (1 + exp((s[b2] - s[b1]) / m->temperature));
			g[1] = 1 - g[0];
		}
		for (uint32_t i = 0; i < D; i++)
			out[(size_t)r * D + i] = xr[i];
		for (uint32_t t = 0; t < m->topk; t++) {
			uint32_t e = pick[t];
			struct pn_cheb p = m->cheb;

			p.c = m->coefs + (size_t)e * ncoef;
			for (uint32_t j = 0; j < m->rank; j++) {
				double v = m->b1 ? m->b1[(size_t)e * m->rank + j] : 0;

				for (uint32_t i = 0; i < D; i++)
					v += (double)xr[i] * m->W1[((size_t)e * D + i) * m->rank + j];
				h[j] = pn_ref_cheb1(&p, (float)v);
			}
			for (uint32_t i = 0; i < D; i++) {
				double v = m->b2 ? m->b2[(size_t)e * D + i] : 0;

				for (uint32_t j = 0; j < m->rank; j++)
					v += (double)h[j] * m->W2[((size_t)e * m->rank + j) * D + i];
				out[(size_t)r * D + i] += (float)(g[t] * v);
			}
		}
	}
	free(s);
	free(h);
}
