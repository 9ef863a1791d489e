// SPDX-License-Identifier: MIT
/*
 * macro.c - Macro-Operator: y = x + sum_e g_e(x) * PolyFFN_e(x) over the
 * top-1 or top-2 of E low-rank experts picked by a router (SPECS.md §6).
 *
 * Rows are routed first, then grouped by expert (a counting sort), so each
 * expert gathers its own rows and runs its two GEMMs once on all of them:
 * the work is topk * rows * (2 D rank) * 2 flops, not E times that.
 */
#include <math.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "uapi/pnb.h"

struct macro_scratch {
	float *norms, *scores, *gate, *xg, *h, *y;
	uint32_t *pick, *order, *start;
};

static size_t up16(size_t n)
{
	return (n + 15) / 16 * 16;
}

static size_t layout(uint32_t rows, uint32_t D, const struct pn_macro *m, float *base,
		     struct macro_scratch *s)
{
	size_t off = 0, rk = (size_t)rows * m->topk;

#define TAKE(field, type, n) do {					\
		if (base)						\
			s->field = (type *)(base + off);		\
		off += up16(n);						\
	} while (0)
	TAKE(norms, float, m->E);
	TAKE(scores, float, (size_t)rows * m->E);
	TAKE(gate, float, rk);
	TAKE(pick, uint32_t, rk);
	TAKE(order, uint32_t, rk);
	TAKE(start, uint32_t, m->E + 1);
	TAKE(xg, float, (size_t)rows * D);
	TAKE(h, float, (size_t)rows * m->rank);
	TAKE(y, float, (size_t)rows * D);
#undef TAKE
	return off;
}

size_t pn_macro_scratch(uint32_t rows, uint32_t D, const struct pn_macro *m)
{
	return layout(rows, D, m, NULL, NULL);
}

/* scores [rows, E]: larger is better. */
static void route_scores(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t D,
			 const struct pn_macro *m, struct macro_scratch *s)
{
	if (m->router == PN_ROUTER_LINEAR) {
		pn_linear(pool, x, rows, D, m->router_w, m->router_b, m->E, PNB_ACT_NONE,
			  s->scores);
		return;
	}
	/* -||x - c||^2 = 2 x.c - ||c||^2 - ||x||^2; the last term is the same for every e */
	for (uint32_t e = 0; e < m->E; e++) {
		const float *c = m->router_w + (size_t)e * D;
		float n = 0.0f;

		for (uint32_t i = 0; i < D; i++)
			n += c[i] * c[i];
		s->norms[e] = n;
	}
	pn_gemm_bt(rows, m->E, D, x, D, m->router_w, D, 0.0f, s->scores, m->E);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t e = 0; e < m->E; e++)
			s->scores[(size_t)r * m->E + e] =
				2.0f * s->scores[(size_t)r * m->E + e] - s->norms[e];
}

/* Top-1/top-2 per row (ties: lowest index) and their gates; NaN scores pick expert 0. */
static void route(uint32_t rows, const struct pn_macro *m, struct macro_scratch *s)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *sc = s->scores + (size_t)r * m->E;
		uint32_t b1 = 0, b2 = m->E > 1 ? 1 : 0;

		for (uint32_t e = 1; e < m->E; e++)
			if (sc[e] > sc[b1])
				b1 = e;
		s->pick[(size_t)r * m->topk] = b1;
		if (m->topk == 1) {
			s->gate[r] = 1.0f;
			continue;
		}
		b2 = b1 == 0 ? 1 : 0;
		for (uint32_t e = 0; e < m->E; e++)
			if (e != b1 && sc[e] > sc[b2])
				b2 = e;
		/* softmax of two: g1 = 1 / (1 + exp((s2 - s1) / tau)), s2 <= s1 */
		float g1 = 1.0f / (1.0f + expf((sc[b2] - sc[b1]) / m->temperature));

		s->pick[2 * (size_t)r + 1] = b2;
		s->gate[2 * (size_t)r] = g1;
		s->gate[2 * (size_t)r + 1] = 1.0f - g1;
	}
}

void pn_macro(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t D,
	      const struct pn_macro *m, float *out, float *scratch)
{
	size_t rk = (size_t)rows * m->topk;
	uint32_t ncoef = pn_cheb_ncoef(m->cheb.degree, m->cheb.even);
	struct macro_scratch s = { 0 };

	if (!rows)
		return;
	layout(rows, D, m, scratch, &s);
	route_scores(pool, x, rows, D, m, &s);
	route(rows, m, &s);
	/* Counting sort of the (row, slot) entries by expert. */
	memset(s.start, 0, (m->E + 1) * sizeof(uint32_t));
	for (size_t i = 0; i < rk; i++)
		s.start[s.pick[i] + 1]++;
	for (uint32_t e = 0; e < m->E; e++)
		s.start[e + 1] += s.start[e];
	for (size_t i = 0; i < rk; i++)
		s.order[s.start[s.pick[i]]++] = (uint32_t)i;
	for (uint32_t e = m->E; e > 0; e--)	/* the fills moved each start to the next's */
		s.start[e] = s.start[e - 1];
	s.start[0] = 0;

	memcpy(out, x, (size_t)rows * D * sizeof(float));
	for (uint32_t e = 0; e < m->E; e++) {
		uint32_t n = s.start[e + 1] - s.start[e];
		const uint32_t *ord = s.order + s.start[e];
		struct pn_cheb p = m->cheb;

		if (!n)
			continue;
		p.c = m->coefs + (size_t)e * ncoef;
		for (uint32_t i = 0; i < n; i++)
			memcpy(s.xg + (size_t)i * D, x + (size_t)(ord[i] / m->topk) * D,
			       D * sizeof(float));
		pn_linear(pool, s.xg, n, D, m->W1 + (size_t)e * D * m->rank,
			  m->b1 ? m->b1 + (size_t)e * m->rank : NULL, m->rank, PNB_ACT_NONE, s.h);
		pn_cheb_eval(&p, s.h, (size_t)n * m->rank);
		pn_linear(pool, s.h, n, m->rank, m->W2 + (size_t)e * m->rank * D,
			  m->b2 ? m->b2 + (size_t)e * D : NULL, D, PNB_ACT_NONE, s.y);
		for (uint32_t i = 0; i < n; i++) {
			float g = s.gate[ord[i]], *o = out + (size_t)(ord[i] / m->topk) * D;
			const float *y = s.y + (size_t)i * D;

			for (uint32_t d = 0; d < D; d++)
				o[d] = fmaf(g, y[d], o[d]);
		}
	}
}
