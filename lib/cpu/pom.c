// SPDX-License-Identifier: MIT
/*
 * pom.c - Polynomial Mixer (PoM) kernels: the batched non-causal/causal
 * forward and the one-token recurrent step (pom.h).
 *
 * The three projections are GEMMs (pn_linear, i.e. pn_gemm blocked over the
 * pool). The rest is elementwise or a running sum along t, written as loops
 * over the contiguous feature axis e so they vectorise: C is transposed
 * once per call into Ct [k, E] in scratch, and p is Horner's rule over the
 * degree, one contiguous pass over e per coefficient.
 *
 * The causal kernel and pn_pom_step share the same per-token helpers
 * (poly_row, gate_row, accum_row), in the same float order, so the two
 * differ only by the GEMMs' blocking (batched M = rows vs M = 1).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/pom.h"
#include "uapi/pnb.h"

static int fail(char *msg, size_t cap, const char *why)
{
	if (msg && cap)
		snprintf(msg, cap, "pom: %s", why);
	return -EINVAL;
}

int pn_pom_check(const struct pn_pom_w *w, char *msg, size_t cap)
{
	if (!w)
		return fail(msg, cap, "no weights");
	if (w->D == 0 || w->E == 0)
		return fail(msg, cap, "D and E must be >= 1");
	if (w->k == 0 || w->k > PN_POM_MAX_DEGREE)
		return fail(msg, cap, "degree k must be in 1..16");
	if (w->G == 0 || w->E % w->G)
		return fail(msg, cap, "E must be a multiple of the selection heads G >= 1");
	if (!w->W_h || !w->W_s || !w->C || !w->W_o)
		return fail(msg, cap, "W_h, W_s, C and W_o are required (b_s may be NULL)");
	for (size_t i = 0; i < (size_t)w->E * w->k; i++)
		if (!isfinite(w->C[i]))
			return fail(msg, cap, "NaN/Inf in the coefficients C");
	return 0;
}

/* Ct [k, E] = C^T: coefficient j of every feature, contiguous over e. */
static void transpose_c(const struct pn_pom_w *w, float *Ct)
{
	for (uint32_t e = 0; e < w->E; e++)
		for (uint32_t j = 0; j < w->k; j++)
			Ct[(size_t)j * w->E + e] = w->C[(size_t)e * w->k + j];
}

/* a = act(h) in place over a, then p[e] = sum_j Ct[j-1][e] a[e]^j (Horner). */
static void poly_row(float *restrict a, float *restrict p, const float *restrict Ct,
		     uint32_t E, uint32_t k)
{
	for (uint32_t e = 0; e < E; e++) {
		float u = a[e] >= 0.0f ? a[e] : 0.01f * a[e];

		u = u < -0.1f ? -0.1f : u;
		a[e] = u > 6.0f ? 6.0f : u;
	}
	const float *top = Ct + (size_t)(k - 1) * E;

	for (uint32_t e = 0; e < E; e++)
		p[e] = top[e];
	for (uint32_t j = k - 1; j-- > 0;) {
		const float *c = Ct + (size_t)j * E;

		for (uint32_t e = 0; e < E; e++)
			p[e] = p[e] * a[e] + c[e];
	}
	for (uint32_t e = 0; e < E; e++)
		p[e] *= a[e];
}

/* s = hardsigmoid(s) in place (b_s already added). */
static void hardsigmoid_row(float *s, uint32_t G)
{
	for (uint32_t g = 0; g < G; g++) {
		float z = s[g] * (1.0f / 6.0f) + 0.5f;

		z = z < 0.0f ? 0.0f : z;
		s[g] = z > 1.0f ? 1.0f : z;
	}
}

/* S += p; u = (S * (1/n)) (.) s, group g of E/G features scaled by s[g]. */
static void accum_row(float *restrict S, const float *p, float *u, const float *s,
		      uint64_t n, uint32_t E, uint32_t G)
{
	for (uint32_t e = 0; e < E; e++)
		S[e] += p[e];
	float inv = 1.0f / (float)n;
	uint32_t gw = E / G;

	for (uint32_t g = 0; g < G; g++) {
		float sg = s[g];
		const float *Sg = S + (size_t)g * gw;
		float *ug = u + (size_t)g * gw;

		for (uint32_t e = 0; e < gw; e++)
			ug[e] = Sg[e] * inv * sg;
	}
}

/* u = H (.) s, grouped as accum_row. */
static void gate_row(const float *H, float *u, const float *s, uint32_t E, uint32_t G)
{
	uint32_t gw = E / G;

	for (uint32_t g = 0; g < G; g++) {
		float sg = s[g];
		const float *Hg = H + (size_t)g * gw;
		float *ug = u + (size_t)g * gw;

		for (uint32_t e = 0; e < gw; e++)
			ug[e] = Hg[e] * sg;
	}
}

size_t pn_pom_scratch(const struct pn_pom_w *w, uint32_t B, uint32_t T)
{
	size_t rows = (size_t)B * T;

	return (size_t)w->k * w->E + rows * (2 * (size_t)w->E + w->G);
}

struct pom_job {
	const struct pn_pom_w *w;
	uint32_t T;
	const uint32_t *lens;
	int causal;
	const float *Ct;
	float *A, *P, *Sg;	/* [rows, E], [rows, E], [rows, G] */
};

/* Sequence b: p of its valid rows, then means and gates into P (0 on padding). */
static void pom_task(void *ctx, uint32_t b)
{
	const struct pom_job *j = ctx;
	uint32_t E = j->w->E, G = j->w->G, k = j->w->k, len = j->lens[b];
	size_t base = (size_t)b * j->T;

	memset(j->P + (base + len) * E, 0, (size_t)(j->T - len) * E * sizeof(float));
	if (len == 0)
		return;
	for (uint32_t t = 0; t < len; t++) {
		size_t r = base + t;

		poly_row(j->A + r * E, j->P + r * E, j->Ct, E, k);
		hardsigmoid_row(j->Sg + r * G, G);
	}
	/* The act rows are spent: row 0 of A is the running sum S. */
	float *S = j->A + base * E;

	memset(S, 0, (size_t)E * sizeof(*S));
	if (j->causal) {
		for (uint32_t t = 0; t < len; t++) {
			float *p = j->P + (base + t) * E;

			accum_row(S, p, p, j->Sg + (base + t) * G, (uint64_t)t + 1, E, G);
		}
		return;
	}
	for (uint32_t t = 0; t < len; t++) {
		const float *p = j->P + (base + t) * E;

		for (uint32_t e = 0; e < E; e++)
			S[e] += p[e];
	}
	float inv = 1.0f / (float)len;

	for (uint32_t e = 0; e < E; e++)
		S[e] *= inv;
	for (uint32_t t = 0; t < len; t++)
		gate_row(S, j->P + (base + t) * E, j->Sg + (base + t) * G, E, G);
}

int pn_pom(struct pn_pool *pool, const float *x, uint32_t B, uint32_t T,
	   const uint32_t *lens, enum pn_pom_mode mode, const struct pn_pom_w *w,
	   float *y, float *scratch)
{
	size_t rows = (size_t)B * T;

	if (pn_pom_check(w, NULL, 0))
		return -EINVAL;
	if (mode != PN_POM_NONCAUSAL && mode != PN_POM_CAUSAL)
		return -EINVAL;
	if (rows == 0)
		return 0;
	if (!x || !y || !lens || !scratch || rows > UINT32_MAX)
		return -EINVAL;
	for (uint32_t b = 0; b < B; b++)
		if (lens[b] > T)
			return -EINVAL;

	uint32_t D = w->D, E = w->E, G = w->G;
	float *Ct = scratch;
	float *A = Ct + (size_t)w->k * E;
	float *P = A + rows * E;
	float *Sg = P + rows * E;
	struct pom_job j = {
		.w = w, .T = T, .lens = lens, .causal = mode == PN_POM_CAUSAL,
		.Ct = Ct, .A = A, .P = P, .Sg = Sg,
	};

	transpose_c(w, Ct);
	/* Padding rows go through the GEMMs too (one call each); they are never read. */
	pn_linear(pool, x, (uint32_t)rows, D, w->W_h, NULL, E, PNB_ACT_NONE, A);
	pn_linear(pool, x, (uint32_t)rows, D, w->W_s, w->b_s, G, PNB_ACT_NONE, Sg);
	pn_pool_run(pool, pom_task, &j, B);
	pn_linear(pool, P, (uint32_t)rows, E, w->W_o, NULL, D, PNB_ACT_NONE, y);
	/* P's padding rows are 0, but W_o may hold Inf: zero y's padding outright. */
	for (uint32_t b = 0; b < B; b++)
		memset(y + ((size_t)b * T + lens[b]) * D, 0,
		       (size_t)(T - lens[b]) * D * sizeof(*y));
	return 0;
}

/* ---- recurrent decode -------------------------------------------------- */

size_t pn_pom_state_size(const struct pn_pom_w *w)
{
	return (size_t)w->E + 2;	/* S [E], then n as a uint64_t */
}

size_t pn_pom_step_scratch(const struct pn_pom_w *w)
{
	return (size_t)w->k * w->E + 2 * (size_t)w->E + w->G;
}

void pn_pom_state_reset(const struct pn_pom_w *w, float *state)
{
	memset(state, 0, pn_pom_state_size(w) * sizeof(*state));
}

uint64_t pn_pom_state_count(const struct pn_pom_w *w, const float *state)
{
	uint64_t n;

	memcpy(&n, state + w->E, sizeof(n));
	return n;
}

int pn_pom_step(const struct pn_pom_w *w, float *state, const float *x_row,
		float *y_row, float *scratch)
{
	if (pn_pom_check(w, NULL, 0) || !state || !x_row || !y_row || !scratch)
		return -EINVAL;

	uint32_t D = w->D, E = w->E, G = w->G;
	uint64_t n = pn_pom_state_count(w, state) + 1;
	float *Ct = scratch;
	float *a = Ct + (size_t)w->k * E;
	float *p = a + E;
	float *s = p + E;

	transpose_c(w, Ct);
	pn_linear(NULL, x_row, 1, D, w->W_h, NULL, E, PNB_ACT_NONE, a);
	pn_linear(NULL, x_row, 1, D, w->W_s, w->b_s, G, PNB_ACT_NONE, s);
	poly_row(a, p, Ct, E, w->k);
	hardsigmoid_row(s, G);
	accum_row(state, p, p, s, n, E, G);
	memcpy(state + E, &n, sizeof(n));
	pn_linear(NULL, p, 1, E, w->W_o, NULL, D, PNB_ACT_NONE, y_row);
	return 0;
}
