// SPDX-License-Identifier: MIT
/*
 * bench/poly_components.c - each PolyNet node against the exact node it
 * replaces, at the USE lite shapes (D 512, FFN 1536, 8 heads of 64), batch
 * 1 x 16 tokens and batch 32 x 128 tokens, timed in the same run (exact and
 * PolyNet alternate, best of REPS repetitions of ~40 ms each, one thread),
 * with the error of each against the exact output. Prints a markdown table.
 *
 * Inputs are synthetic (no calibration data at this layer): FFN inputs are
 * drawn around 64 centres (+ noise), so that codebooks have structure to
 * find, the way real hidden states cluster; q/k/v are Gaussian. Series
 * ranges are calibrated on a separate sample of the same distribution;
 * codebooks are k-means on that sample; the Macro-Operator's experts are
 * ridge fits on it. Errors are measured on the timed (held-out) rows.
 *
 *   make build/rel/bench/poly_components
 *   build/rel/bench/poly_components > bench/results/poly_components.md
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile/kmeans.h"
#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "format/pnb.h"

enum { D = 512, FF = 1536, HEADS = 8, NCENT = 64, CAL = 4096, REPS = 5 };

static uint64_t rng = 88172645463325252ull;

static double uni(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static float gauss(void)
{
	return (float)(sqrt(-2 * log(uni())) * cos(6.283185307179586 * uni()));
}

static float *alloc(size_t n)
{
	float *p = NULL;

	if (posix_memalign((void **)&p, 64, n * sizeof(float) + 64)) {
		fprintf(stderr, "poly_components: out of memory (%zu floats)\n", n);
		exit(1);
	}
	return p;
}

static float *gaussian(size_t n, float scale)
{
	float *p = alloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = scale * gauss();
	return p;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- timing: exact and candidate alternate, best per-call of REPS ---- */

typedef void (*bench_fn)(void *ctx);

static double time_one(bench_fn fn, void *ctx, int calls)
{
	double t0 = now();

	for (int i = 0; i < calls; i++)
		fn(ctx);
	return (now() - t0) / calls;
}

static void time_pair(bench_fn a, void *ca, bench_fn b, void *cb, double *ta, double *tb)
{
	double ea = time_one(a, ca, 1), eb = time_one(b, cb, 1);
	int na = (int)(0.04 / (ea + 1e-9)) + 1, nb = (int)(0.04 / (eb + 1e-9)) + 1;

	*ta = *tb = INFINITY;
	for (int r = 0; r < REPS; r++) {
		double x = time_one(a, ca, na), y = time_one(b, cb, nb);

		*ta = x < *ta ? x : *ta;
		*tb = y < *tb ? y : *tb;
	}
}

struct err { double max, mean, rel; };

static struct err compare(const float *got, const float *want, size_t n)
{
	struct err e = { 0 };
	double mag = 0;

	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - want[i]);

		e.max = d > e.max ? d : e.max;
		e.mean += d;
		mag += fabs(want[i]);
	}
	e.rel = mag > 0 ? e.mean / mag : 0;
	e.mean /= n;
	return e;
}

static void row(const char *comp, const char *exact, const char *shape, double te, double tp,
		struct err e, const char *notes)
{
	printf("| %s | %s | %s | %.1f | %.1f | %.2fx | %.2e | %.2e | %.1f%% | %s |\n", comp, exact,
	       shape, te * 1e6, tp * 1e6, te / tp, e.max, e.mean, 100 * e.rel, notes);
	fflush(stdout);
}

/* ---- FFN family ---- */

struct ffn_ctx {
	const float *x, *W1, *b1, *W2, *b2, *cb, *en, *table;
	float *out, *scr;
	int32_t *codes;
	uint32_t rows, ff, act, K;
	int gated;
	struct pn_cheb p;
};

static void run_ffn(void *c)
{
	struct ffn_ctx *f = c;

	pn_ffn(NULL, f->x, f->rows, &(struct pn_ffn_w){
		.D = D, .ff = f->ff, .gated = f->gated,
		.W1 = f->W1, .b1 = f->b1,
		.W2 = f->W2, .b2 = f->b2 }, f->act, f->out, f->scr);
}

static void run_polyffn(void *c)
{
	struct ffn_ctx *f = c;

	pn_polyffn(NULL, f->x, f->rows, &(struct pn_ffn_w){
		.D = D, .ff = f->ff, .gated = f->gated,
		.W1 = f->W1, .b1 = f->b1,
		.W2 = f->W2, .b2 = f->b2 }, &f->p, f->out, f->scr);
}

static void run_codebook(void *c)
{
	struct ffn_ctx *f = c;

	pn_vq_assign(f->x, f->rows, D, f->cb, f->en, f->K, f->codes, NULL, f->scr);
	pn_polyffn_codes(NULL, f->codes, f->rows, f->cb, f->K, &(struct pn_ffn_w){
		.D = D, .ff = f->ff, .gated = f->gated,
		.W1 = f->W1, .b1 = f->b1,
		.W2 = f->W2, .b2 = f->b2 }, &f->p, f->out, f->scr + pn_vq_scratch(f->K), NULL);
}

static void run_cache(void *c)
{
	struct ffn_ctx *f = c;

	pn_vq_assign(f->x, f->rows, D, f->cb, f->en, f->K, f->codes, NULL, f->scr);
	pn_vq_gather(f->codes, f->rows, f->table, D, f->out);
}

/* Rows around NCENT centres: centre ~ N(0, 1), noise ~ N(0, 0.35^2) per coordinate. */
static float *clustered(const float *centres, uint32_t rows)
{
	float *x = alloc((size_t)rows * D);

	for (uint32_t r = 0; r < rows; r++) {
		const float *c = centres + (size_t)(uni() * NCENT) * D;

		for (uint32_t i = 0; i < D; i++)
			x[(size_t)r * D + i] = c[i] + 0.35f * gauss();
	}
	return x;
}

/* The symmetric range of the first-layer pre-activations (gate half) on the calibration rows. */
static float calib_range(const float *cal, const float *W1, const float *b1, uint32_t hw)
{
	float *h = alloc((size_t)CAL * hw), m = 0;

	pn_linear(NULL, cal, CAL, D, W1, b1, hw, PNB_ACT_NONE, h);
	for (uint32_t r = 0; r < CAL; r++)
		for (uint32_t j = 0; j < FF; j++)
			m = fmaxf(m, fabsf(h[(size_t)r * hw + j]));
	free(h);
	return m;
}

static void bench_ffn(const char *name, uint32_t act, int gated, double tol, const float *cent,
		      const float *cal, const uint32_t *rows_list)
{
	uint32_t hw = gated ? 2 * FF : FF;
	float *W1 = gaussian((size_t)D * hw, 1.0f / sqrtf(D)), *b1 = gaussian(hw, 0.1f);
	float *W2 = gaussian((size_t)FF * D, 1.0f / sqrtf(FF)), *b2 = gaussian(D, 0.1f);
	float c[PN_CHEB_MAX_DEGREE + 1], r = ceilf(calib_range(cal, W1, b1, hw));
	struct pn_cheb p;
	double e_fit;
	char note[160], ename[64];

	if (pn_cheb_choose(act, -r, r, 1, tol, PN_CHEB_MAX_DEGREE, &p, c, &e_fit, NULL))
		snprintf(note, sizeof(note), "degree %u (cap) on [-%g, %g]: fit err %.1e misses "
			 "tol %.0e", p.degree, r, r, e_fit, tol);
	else
		snprintf(note, sizeof(note), "degree %u even on [-%g, %g], act fit err %.1e",
			 p.degree, r, r, e_fit);
	snprintf(ename, sizeof(ename), "ffn %s%s", gated ? "gated " : "", pnb_act_name(act));
	for (int i = 0; i < 2; i++) {
		uint32_t rows = rows_list[i];
		float *x = clustered(cent, rows), *ye = alloc((size_t)rows * D), *yp = alloc((size_t)rows * D);
		float *scr = alloc(pn_ffn_scratch(rows, FF, gated));
		struct ffn_ctx fe = { .x = x, .W1 = W1, .b1 = b1, .W2 = W2, .b2 = b2, .out = ye,
				      .scr = scr, .rows = rows, .ff = FF, .act = act, .gated = gated };
		struct ffn_ctx fp = fe;
		double te, tp;

		fp.out = yp;
		fp.p = p;
		time_pair(run_ffn, &fe, run_polyffn, &fp, &te, &tp);
		run_ffn(&fe);
		run_polyffn(&fp);
		row(name, ename, rows == 16 ? "1 x 16" : "32 x 128", te, tp, compare(yp, ye,
		    (size_t)rows * D), note);
		free(x); free(ye); free(yp); free(scr);
	}
	free(W1); free(b1); free(W2); free(b2);
}

/*
 * FFN neuron selection (--ffn-keep K): the K most energetic neurons on the
 * calibration rows, [W2; b2] refitted by ridge (the compiler's own
 * pn_ffn_select and pn_ridge_fit), against the full FFN.
 */
static void bench_keep(const float *cent, const float *cal, const uint32_t *rows_list, uint32_t K)
{
	float *W1 = gaussian((size_t)D * FF, 1.0f / sqrtf(D)), *b1 = gaussian(FF, 0.1f);
	float *W2 = gaussian((size_t)FF * D, 1.0f / sqrtf(FF)), *b2 = gaussian(D, 0.1f);
	float *H = alloc((size_t)CAL * FF), *Y = alloc((size_t)CAL * D);
	float *Hs = alloc((size_t)CAL * (K + 1)), *W1k = alloc((size_t)D * K), *b1k = alloc(K);
	float *W2k = alloc((size_t)K * D), *b2k = alloc(D);
	uint32_t *keep = malloc(K * sizeof(*keep));
	double share;
	char note[200];

	pn_linear(NULL, cal, CAL, D, W1, b1, FF, PNB_ACT_RELU, H);
	pn_linear(NULL, H, CAL, FF, W2, b2, D, PNB_ACT_NONE, Y);
	share = pn_ffn_select(H, CAL, FF, W2, D, K, keep);
	if (share < 0) {
		fprintf(stderr, "poly_components: out of memory\n");
		exit(1);
	}
	pn_ffn_gather(H, CAL, FF, keep, K, K + 1, Hs);
	pn_ffn_gather_w1(W1, b1, D, FF, keep, K, W1k, b1k);
	if (pn_ridge_fit(Hs, Y, CAL, K + 1, D, 1e-4, W2k, b2k)) {
		fprintf(stderr, "poly_components: ffn-keep ridge failed\n");
		exit(1);
	}
	snprintf(note, sizeof(note), "K %u of %u neurons (%.1f%% of the output energy on "
		 "random weights, where every neuron matters alike), W2 refitted by ridge",
		 K, FF, 100 * share);
	for (int i = 0; i < 2; i++) {
		uint32_t rows = rows_list[i];
		float *x = clustered(cent, rows), *ye = alloc((size_t)rows * D), *yp = alloc((size_t)rows * D);
		float *scr = alloc(pn_ffn_scratch(rows, FF, 0));
		struct ffn_ctx fe = { .x = x, .W1 = W1, .b1 = b1, .W2 = W2, .b2 = b2, .out = ye,
				      .scr = scr, .rows = rows, .ff = FF, .act = PNB_ACT_RELU };
		struct ffn_ctx fk = { .x = x, .W1 = W1k, .b1 = b1k, .W2 = W2k, .b2 = b2k, .out = yp,
				      .scr = scr, .rows = rows, .ff = K, .act = PNB_ACT_RELU };
		double te, tp;

		time_pair(run_ffn, &fe, run_ffn, &fk, &te, &tp);
		run_ffn(&fe);
		run_ffn(&fk);
		row("FFN neuron selection", "ffn relu", rows == 16 ? "1 x 16" : "32 x 128", te, tp,
		    compare(yp, ye, (size_t)rows * D), note);
		free(x); free(ye); free(yp); free(scr);
	}
	free(W1); free(b1); free(W2); free(b2); free(H); free(Y); free(Hs);
	free(W1k); free(b1k); free(W2k); free(b2k); free(keep);
}

/* Codebook-driven PolyFFN and the CacheNode, both against the exact (ReLU, USE lite) FFN. */
static void bench_vq(const float *cent, const float *cal, const uint32_t *rows_list, uint32_t K)
{
	float *W1 = gaussian((size_t)D * FF, 1.0f / sqrtf(D)), *b1 = gaussian(FF, 0.1f);
	float *W2 = gaussian((size_t)FF * D, 1.0f / sqrtf(FF)), *b2 = gaussian(D, 0.1f);
	float *cb = alloc((size_t)K * D), *en = alloc(K), *table = alloc((size_t)K * D);
	float c[PN_CHEB_MAX_DEGREE + 1], r = ceilf(calib_range(cal, W1, b1, FF));
	float *ts = alloc(pn_ffn_scratch(K, FF, 0));
	struct pn_kmeans_result km;
	struct pn_cheb p;
	double e_fit;
	char note[200];

	pn_kmeans(cal, CAL, D, K, 20, 7, cb, NULL, &km, NULL);
	for (uint32_t k = 0; k < K; k++) {
		double s = 0;

		for (uint32_t i = 0; i < D; i++)
			s += (double)cb[(size_t)k * D + i] * cb[(size_t)k * D + i];
		en[k] = (float)s;
	}
	pn_ffn(NULL, cb, K, &(struct pn_ffn_w){
		.D = D, .ff = FF, .gated = 0,
		.W1 = W1, .b1 = b1,
		.W2 = W2, .b2 = b2 }, PNB_ACT_RELU, table, ts);	/* the cache */
	pn_cheb_choose(PNB_ACT_RELU, -r, r, 1, 1e-2, 64, &p, c, &e_fit, NULL);
	for (int i = 0; i < 2; i++) {
		uint32_t rows = rows_list[i];
		float *x = clustered(cent, rows), *ye = alloc((size_t)rows * D), *yp = alloc((size_t)rows * D);
		size_t ns = pn_vq_scratch(K) + pn_polyffn_codes_scratch(rows, K, D, FF, 0);
		float *scr = alloc(ns > pn_ffn_scratch(rows, FF, 0) ? ns : pn_ffn_scratch(rows, FF, 0));
		int32_t *codes = malloc(rows * sizeof(int32_t));
		struct ffn_ctx fe = { .x = x, .W1 = W1, .b1 = b1, .W2 = W2, .b2 = b2, .out = ye,
				      .scr = scr, .rows = rows, .ff = FF, .act = PNB_ACT_RELU,
				      .cb = cb, .en = en, .table = table, .codes = codes, .K = K };
		struct ffn_ctx fp = fe;
		double te, tp, dist = pn_vq_distortion(x, rows, D, cb, K), mag = 0;
		const char *shape = rows == 16 ? "1 x 16" : "32 x 128";

		for (size_t j = 0; j < (size_t)rows * D; j++)
			mag += (double)x[j] * x[j];
		fp.out = yp;
		fp.p = p;
		time_pair(run_ffn, &fe, run_codebook, &fp, &te, &tp);
		run_ffn(&fe);
		run_codebook(&fp);
		snprintf(note, sizeof(note), "K %u k-means codes (relu series deg %u), input "
			 "distortion %.1f%% of ||x||^2", K, p.degree, 100 * dist / (mag / rows));
		row("VQ + codebook PolyFFN", "ffn relu", shape, te, tp,
		    compare(yp, ye, (size_t)rows * D), note);
		time_pair(run_ffn, &fe, run_cache, &fp, &te, &tp);
		run_cache(&fp);
		snprintf(note, sizeof(note), "K %u table of exact FFN outputs per code", K);
		row("VQ CacheNode", "ffn relu", shape, te, tp, compare(yp, ye, (size_t)rows * D), note);
		free(x); free(ye); free(yp); free(scr); free(codes);
	}
	free(W1); free(b1); free(W2); free(b2); free(cb); free(en); free(table); free(ts);
}

/* ---- attention ---- */

struct att_ctx {
	const float *qkv;
	const uint32_t *lens;
	float *out, *scr;
	uint32_t B, T;
	struct pn_cqa c;
};

static void run_att(void *c)
{
	struct att_ctx *a = c;

	pn_attention(NULL, a->qkv, a->B, a->T, a->lens,
		     &(struct pn_attn){ .D = D, .heads = HEADS, .scale = a->c.scale }, a->out, a->scr);
}

static void run_cqa(void *c)
{
	struct att_ctx *a = c;

	pn_cqa(NULL, a->qkv, a->B, a->T, a->lens, D, &a->c, a->out, a->scr);
}

static void bench_cqa(uint32_t B, uint32_t T, uint32_t C, uint32_t topk)
{
	uint32_t hd = D / HEADS, *lens = malloc(B * sizeof(uint32_t));
	float *qkv = gaussian((size_t)B * T * 3 * D, 1.0f), *planes = gaussian((size_t)32 * hd, 1.0f);
	float *ye = alloc((size_t)B * T * D), *yp = alloc((size_t)B * T * D);
	struct att_ctx ae = { .qkv = qkv, .lens = lens, .out = ye, .B = B, .T = T };
	struct att_ctx ap;
	double te, tp;
	char name[64], note[128];

	for (uint32_t b = 0; b < B; b++)
		lens[b] = T;
	ae.c = (struct pn_cqa){ .heads = HEADS, .clusters = C, .bits = 32, .topk = topk,
				.iters = 10, .scale = 1.0f / sqrtf((float)hd), .planes = planes };
	ae.scr = alloc(pn_attention_scratch(T, 1));
	ap = ae;
	ap.out = yp;
	ap.scr = alloc(pn_cqa_scratch(T, D, &ae.c, 1));
	time_pair(run_att, &ae, run_cqa, &ap, &te, &tp);
	run_att(&ae);
	run_cqa(&ap);
	snprintf(name, sizeof(name), "CQA C=%u%s", C, topk ? " top-k" : "");
	snprintf(note, sizeof(note), "%s32 LSH bits, 10 Hamming iterations%s", topk ? "k 32, " : "",
		 C >= T ? "; C >= T: every query its own cluster" : "");
	if (topk)
		snprintf(note, sizeof(note), "top-%u, 32 LSH bits, 10 iterations%s", topk,
			 C >= T ? "; C >= T: every query its own cluster" : "");
	row(name, "attention", B == 1 ? "1 x 16" : "32 x 128", te, tp,
	    compare(yp, ye, (size_t)B * T * D), note);
	free(lens); free(qkv); free(planes); free(ye); free(yp); free(ae.scr); free(ap.scr);
}

/* ---- Macro-Operator vs two exact FFN layers ---- */

struct two_ctx {
	const float *x, *W1[2], *b1[2], *W2[2], *b2[2];
	float *h, *f, *out, *scr;
	uint32_t rows;
	struct pn_macro m;
};

static void run_two_layers(void *c)	/* out = h + F2(h), h = x + F1(x) */
{
	struct two_ctx *t = c;
	size_t n = (size_t)t->rows * D;

	pn_ffn(NULL, t->x, t->rows, &(struct pn_ffn_w){
		.D = D, .ff = FF, .gated = 0,
		.W1 = t->W1[0], .b1 = t->b1[0],
		.W2 = t->W2[0], .b2 = t->b2[0] }, PNB_ACT_RELU, t->f, t->scr);
	pn_add(t->x, t->f, t->h, n);
	pn_ffn(NULL, t->h, t->rows, &(struct pn_ffn_w){
		.D = D, .ff = FF, .gated = 0,
		.W1 = t->W1[1], .b1 = t->b1[1],
		.W2 = t->W2[1], .b2 = t->b2[1] }, PNB_ACT_RELU, t->f, t->scr);
	pn_add(t->h, t->f, t->out, n);
}

static void run_macro(void *c)
{
	struct two_ctx *t = c;

	pn_macro(NULL, t->x, t->rows, D, &t->m, t->out, t->scr);
}

/* Solve (A + lambda I) X = B in place by Cholesky; A [n, n] SPD, B [n, m]. */
static void ridge_solve(double *A, double *Bm, uint32_t n, uint32_t m, double lambda)
{
	for (uint32_t i = 0; i < n; i++)
		A[(size_t)i * n + i] += lambda;
	for (uint32_t j = 0; j < n; j++) {
		for (uint32_t k = 0; k < j; k++)
			A[(size_t)j * n + j] -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
		A[(size_t)j * n + j] = sqrt(A[(size_t)j * n + j]);
		for (uint32_t i = j + 1; i < n; i++) {
			for (uint32_t k = 0; k < j; k++)
				A[(size_t)i * n + j] -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
			A[(size_t)i * n + j] /= A[(size_t)j * n + j];
		}
	}
	for (uint32_t c = 0; c < m; c++) {
		for (uint32_t i = 0; i < n; i++) {	/* L y = b */
			double s = Bm[(size_t)i * m + c];

			for (uint32_t k = 0; k < i; k++)
				s -= A[(size_t)i * n + k] * Bm[(size_t)k * m + c];
			Bm[(size_t)i * m + c] = s / A[(size_t)i * n + i];
		}
		for (uint32_t i = n; i-- > 0;) {	/* L^T x = y */
			double s = Bm[(size_t)i * m + c];

			for (uint32_t k = i + 1; k < n; k++)
				s -= A[(size_t)k * n + i] * Bm[(size_t)k * m + c];
			Bm[(size_t)i * m + c] = s / A[(size_t)i * n + i];
		}
	}
}

/*
 * Experts: W1_e random projections (rank R), the ReLU series, then W2_e, b2_e
 * fitted by ridge regression to the teacher's residual y - x on the
 * calibration rows the centroid router sends to e (training-free, SPECS §6).
 */
static void bench_macro(const float *cent, const float *cal, const uint32_t *rows_list,
			uint32_t E, uint32_t R)
{
	struct two_ctx t = { 0 };
	uint32_t nc, hw = R + 1;
	float *cy = alloc((size_t)CAL * D), *cres = alloc((size_t)CAL * D), *hr = alloc((size_t)CAL * R);
	int32_t *ca = malloc(CAL * sizeof(int32_t));
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p;
	double e_fit;
	char note[200];

	for (int l = 0; l < 2; l++) {
		t.W1[l] = gaussian((size_t)D * FF, 1.0f / sqrtf(D));
		t.b1[l] = gaussian(FF, 0.1f);
		/* small second layers: the residual stream dominates, as in trained transformers */
		t.W2[l] = gaussian((size_t)FF * D, 0.3f / sqrtf(FF));
		t.b2[l] = gaussian(D, 0.02f);
	}
	t.rows = CAL;
	t.x = cal;
	t.h = alloc((size_t)CAL * D);
	t.f = alloc((size_t)CAL * D);
	t.out = cy;
	t.scr = alloc(pn_ffn_scratch(CAL, FF, 0));
	run_two_layers(&t);
	free(t.scr);
	for (size_t i = 0; i < (size_t)CAL * D; i++)
		cres[i] = cy[i] - cal[i];

	float *router = alloc((size_t)E * D), *W1 = gaussian((size_t)E * D * R, 1.0f / sqrtf(D));
	float *b1 = gaussian((size_t)E * R, 0.1f), *W2 = alloc((size_t)E * R * D);
	float *b2 = alloc((size_t)E * D), *coefs;

	pn_kmeans(cal, CAL, D, E, 20, 3, router, ca, NULL, NULL);
	pn_cheb_choose(PNB_ACT_RELU, -4, 4, 1, 2e-2, 64, &p, c, &e_fit, NULL);
	nc = pn_cheb_ncoef(p.degree, 1);
	coefs = alloc((size_t)E * nc);
	for (uint32_t e = 0; e < E; e++) {
		double *A = calloc((size_t)hw * hw, sizeof(double)), *Bm = calloc((size_t)hw * D, sizeof(double));
		struct pn_cheb pe = p;

		memcpy(coefs + (size_t)e * nc, c, nc * sizeof(float));
		pe.c = coefs + (size_t)e * nc;
		pn_linear(NULL, cal, CAL, D, W1 + (size_t)e * D * R, b1 + (size_t)e * R, R,
			  PNB_ACT_NONE, hr);
		pn_cheb_eval(&pe, hr, (size_t)CAL * R);
		for (uint32_t r = 0; r < CAL; r++) {
			double feat[1024];

			if ((uint32_t)ca[r] != e)
				continue;
			for (uint32_t j = 0; j < R; j++)
				feat[j] = hr[(size_t)r * R + j];
			feat[R] = 1;	/* the bias b2 */
			for (uint32_t i = 0; i < hw; i++) {
				for (uint32_t j = 0; j < hw; j++)
					A[(size_t)i * hw + j] += feat[i] * feat[j];
				for (uint32_t d = 0; d < D; d++)
					Bm[(size_t)i * D + d] += feat[i] * cres[(size_t)r * D + d];
			}
		}
		ridge_solve(A, Bm, hw, D, 1e-2 * CAL / E);
		for (uint32_t j = 0; j < R; j++)
			for (uint32_t d = 0; d < D; d++)
				W2[((size_t)e * R + j) * D + d] = (float)Bm[(size_t)j * D + d];
		for (uint32_t d = 0; d < D; d++)
			b2[(size_t)e * D + d] = (float)Bm[(size_t)R * D + d];
		free(A);
		free(Bm);
	}
	t.m = (struct pn_macro){ .E = E, .rank = R, .router = PN_ROUTER_CENTROID, .topk = 1,
				 .temperature = 1.0f, .router_w = router, .W1 = W1, .b1 = b1,
				 .coefs = coefs, .W2 = W2, .b2 = b2, .cheb = p };
	for (int i = 0; i < 2; i++) {
		uint32_t rows = rows_list[i];
		float *x = clustered(cent, rows), *ye = alloc((size_t)rows * D), *yp = alloc((size_t)rows * D);
		struct two_ctx te_ctx = t, tp_ctx = t;
		double te, tp, res_mag = 0;
		struct err e;

		te_ctx.rows = tp_ctx.rows = rows;
		te_ctx.x = tp_ctx.x = x;
		te_ctx.h = alloc((size_t)rows * D);
		te_ctx.f = alloc((size_t)rows * D);
		te_ctx.out = ye;
		te_ctx.scr = alloc(pn_ffn_scratch(rows, FF, 0));
		tp_ctx.out = yp;
		tp_ctx.scr = alloc(pn_macro_scratch(rows, D, &t.m));
		time_pair(run_two_layers, &te_ctx, run_macro, &tp_ctx, &te, &tp);
		run_two_layers(&te_ctx);
		run_macro(&tp_ctx);
		e = compare(yp, ye, (size_t)rows * D);
		for (size_t j = 0; j < (size_t)rows * D; j++)
			res_mag += fabs((double)ye[j] - x[j]);
		snprintf(note, sizeof(note), "E %u rank %u top-1, relu series deg %u, ridge fit; "
			 "error is %.0f%% of the residual the layers add", E, R, p.degree,
			 100 * e.mean * rows * D / res_mag);
		row("Macro-Operator", "2 x (ffn relu + add)", rows == 16 ? "1 x 16" : "32 x 128",
		    te, tp, e, note);
		free(x); free(ye); free(yp); free(te_ctx.h); free(te_ctx.f); free(te_ctx.scr);
		free(tp_ctx.scr);
	}
	for (int l = 0; l < 2; l++) {
		free((void *)t.W1[l]); free((void *)t.b1[l]); free((void *)t.W2[l]); free((void *)t.b2[l]);
	}
	free(t.h); free(t.f); free(cy); free(cres); free(hr); free(ca);
	free(router); free(W1); free(b1); free(W2); free(b2); free(coefs);
}

int main(void)
{
	const uint32_t rows_list[2] = { 16, 32 * 128 };
	float *cent = gaussian((size_t)NCENT * D, 1.0f), *cal;

	cal = clustered(cent, CAL);
	printf("| component | replaces | batch x T | exact us | PolyNet us | speedup | max abs err "
	       "| mean abs err | mean rel err | notes |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	bench_ffn("PolyFFN", PNB_ACT_RELU, 0, 1e-2, cent, cal, rows_list);
	bench_ffn("PolyFFN", PNB_ACT_GELU, 0, 1e-3, cent, cal, rows_list);
	bench_ffn("PolyFFN (SwiGLU)", PNB_ACT_SILU, 1, 1e-3, cent, cal, rows_list);
	bench_keep(cent, cal, rows_list, 768);
	bench_vq(cent, cal, rows_list, 256);
	bench_cqa(1, 16, 4, 0);
	bench_cqa(1, 16, 25, 32);
	bench_cqa(32, 128, 25, 0);
	bench_cqa(32, 128, 25, 32);
	bench_macro(cent, cal, rows_list, 4, 64);
	free(cent);
	free(cal);
	return 0;
}
