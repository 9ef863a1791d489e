/* SPDX-License-Identifier: MIT */
/*
 * fixture_poly.h - a tiny random model made of the PolyNet nodes, written
 * with the real .pnb writer, and its forward pass composed from the
 * pn_ref_* twins, one sequence at a time, for the tests to compare with:
 *
 *   ids -> embed (learned positions) -> x
 *   x -> linear -> qkv -> cqa (2 heads, 3 clusters, top-2) -> a;  h1 = x + a
 *   h1 -> vq codes (K 8) -> poly_ffn codebook mode (gated, silu, even) -> f1;  h2 = h1 + f1
 *   h2 -> poly_ffn (plain, gelu, [-3, 5]) -> f2;  h3 = h2 + f2
 *   h3 -> macro (3 experts of rank 6, centroid router, top-2) -> h4
 *   h4 -> vq quantize -> q;  h4 -> vq cache (table [8, D]) -> c;  h5 = h4 + q + c
 *   (h4 is kept in h5: after a VQ alone the output would be piecewise constant
 *   and blind to every small error upstream)
 *   h5 -> pool_mean -> l2norm -> embedding
 *
 * fp_write() takes an optional hook called on every node before it is
 * written, so tests can break one attribute or weight slot at a time.
 */
#ifndef FIXTURE_POLY_H
#define FIXTURE_POLY_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "fixture_model.h"	/* fx_rand, fx_fill */
#include "format/pnb.h"

enum {
	FP_V = 30, FP_D = 16, FP_H = 2, FP_MAXT = 10, FP_BITS = 16, FP_K = 8, FP_FF = 24,
	FP_E = 3, FP_R = 6,
	FP_DEG1 = 12, FP_NC1 = FP_DEG1 / 2 + 1,	/* silu, even, [-4, 4] */
	FP_DEG2 = 9, FP_NC2 = FP_DEG2 + 1,	/* gelu, [-3, 5] */
	FP_DEG3 = 8, FP_NC3 = FP_DEG3 / 2 + 1,	/* silu, even, [-3, 3] */
};

struct fp_weights {
	float E[FP_V * FP_D], pos[FP_MAXT * FP_D];
	float wqkv[FP_D * 3 * FP_D], bqkv[3 * FP_D], planes[FP_BITS * (FP_D / FP_H)];
	float cb1[FP_K * FP_D], n1[FP_K];
	float p1w1[FP_D * 2 * FP_FF], p1b1[2 * FP_FF], p1w2[FP_FF * FP_D], p1b2[FP_D];
	float c1[FP_NC1];
	float p2w1[FP_D * FP_FF], p2b1[FP_FF], p2w2[FP_FF * FP_D], p2b2[FP_D], c2[FP_NC2];
	float cent[FP_E * FP_D], mw1[FP_E * FP_D * FP_R], mb1[FP_E * FP_R];
	float mc[FP_E * FP_NC3], mw2[FP_E * FP_R * FP_D], mb2[FP_E * FP_D];
	float cb2[FP_K * FP_D], n2[FP_K], table[FP_K * FP_D];
};

static inline void fp_norms(const float *cb, float *n)
{
	for (int k = 0; k < FP_K; k++) {
		double s = 0;

		for (int i = 0; i < FP_D; i++)
			s += (double)cb[k * FP_D + i] * cb[k * FP_D + i];
		n[k] = (float)s;
	}
}

static inline void fp_init(struct fp_weights *w, uint32_t seed)
{
	fx_fill((float *)w, sizeof(*w) / sizeof(float), &seed, 0.8f);
	fx_fill(w->cb1, FP_K * FP_D, &seed, 3.0f);
	fx_fill(w->cb2, FP_K * FP_D, &seed, 3.0f);
	fx_fill(w->cent, FP_E * FP_D, &seed, 4.0f);
	fp_norms(w->cb1, w->n1);
	fp_norms(w->cb2, w->n2);
	pn_cheb_fit(PNB_ACT_SILU, -4, 4, FP_DEG1, 1, 0, w->c1, NULL);
	pn_cheb_fit(PNB_ACT_GELU, -3, 5, FP_DEG2, 0, 0, w->c2, NULL);
	for (int e = 0; e < FP_E; e++)
		pn_cheb_fit(PNB_ACT_SILU, -3, 3, FP_DEG3, 1, 0, w->mc + e * FP_NC3, NULL);
}

typedef void (*fp_hook)(const char *node, struct pnb_node *n, void *arg);

static inline int fp_write(const struct fp_weights *w, const char *path, fp_hook hook,
			   void *arg, struct pn_err *err)
{
	struct pnb_writer *wr = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint32_t x, q, a, h1, codes, f, h2, h3, h4, qv, cv, h5, pool, out, cb1, cb2, n2;
	uint64_t sh[2];
	const char *nm;
	int rc;

#define T2(name, p, d0, d1) (sh[0] = (d0), sh[1] = (d1), \
	pnb_w_tensor(wr, name, PNB_DTYPE_F32, 2, sh, p))
#define T1(name, p, d0) (sh[0] = (d0), pnb_w_tensor(wr, name, PNB_DTYPE_F32, 1, sh, p))
#define VAL(name, width) pnb_w_value(wr, name, PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, width)
#define NODE(op, name, outv) (nm = name, pnb_node_init(&n, op, pnb_w_string(wr, name), outv))
#define PUT() do { if (hook) hook(nm, &n, arg); pnb_w_node(wr, &n); } while (0)
#define ADD(name, outv, l, r) do { NODE(PNB_OP_ADD, name, outv); n.n_in = 2; \
	n.in[0] = l; n.in[1] = r; PUT(); } while (0)

	uint32_t ids = pnb_w_value(wr, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);

	x = VAL("x", FP_D);
	NODE(PNB_OP_EMBED, "embed", x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 2;
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_LEARNED; n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	n.w[PNB_W_EMBED_TABLE] = T2("E", w->E, FP_V, FP_D);
	n.w[PNB_W_EMBED_POS] = T2("pos", w->pos, FP_MAXT, FP_D);
	PUT();
	q = VAL("qkv", 3 * FP_D);
	NODE(PNB_OP_LINEAR, "qkv", q);
	n.n_in = 1; n.in[0] = x; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("wqkv", w->wqkv, FP_D, 3 * FP_D);
	n.w[PNB_W_LINEAR_B] = T1("bqkv", w->bqkv, 3 * FP_D);
	PUT();
	a = VAL("cqa", FP_D);
	NODE(PNB_OP_CQA, "cqa", a);
	n.n_in = 1; n.in[0] = q; n.n_w = 1;
	n.w[PNB_W_CQA_PLANES] = T2("planes", w->planes, FP_BITS, FP_D / FP_H);
	n.iattr[PNB_IA_CQA_HEADS] = FP_H; n.iattr[PNB_IA_CQA_CLUSTERS] = 3;
	n.iattr[PNB_IA_CQA_TOPK] = 2; n.iattr[PNB_IA_CQA_ITERS] = 10;
	n.fattr[PNB_FA_CQA_SCALE] = 1.0f / sqrtf(FP_D / FP_H);
	PUT();
	h1 = VAL("h1", FP_D);
	ADD("h1", h1, x, a);

	codes = pnb_w_value(wr, "codes", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	NODE(PNB_OP_VQ, "vq1", codes);
	n.n_in = 1; n.in[0] = h1; n.n_w = 2;
	n.w[PNB_W_VQ_CODEBOOK] = cb1 = T2("cb1", w->cb1, FP_K, FP_D);
	n.w[PNB_W_VQ_NORMS] = T1("n1", w->n1, FP_K);
	PUT();
	f = VAL("f1", FP_D);
	NODE(PNB_OP_POLY_FFN, "pffn1", f);
	n.n_in = 1; n.in[0] = codes; n.n_w = 6;
	n.w[PNB_W_FFN_W1] = T2("p1w1", w->p1w1, FP_D, 2 * FP_FF);
	n.w[PNB_W_FFN_B1] = T1("p1b1", w->p1b1, 2 * FP_FF);
	n.w[PNB_W_FFN_W2] = T2("p1w2", w->p1w2, FP_FF, FP_D);
	n.w[PNB_W_FFN_B2] = T1("p1b2", w->p1b2, FP_D);
	n.w[PNB_W_POLYFFN_COEFS] = T1("c1", w->c1, FP_NC1);
	n.w[PNB_W_POLYFFN_CODEBOOK] = cb1;	/* the VQ node's codebook, shared */
	n.iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_SILU; n.iattr[PNB_IA_POLYFFN_GATED] = 1;
	n.iattr[PNB_IA_POLYFFN_DEGREE] = FP_DEG1; n.iattr[PNB_IA_POLYFFN_EVEN] = 1;
	n.iattr[PNB_IA_POLYFFN_CODEBOOK] = 1;
	n.fattr[PNB_FA_POLYFFN_A] = -4; n.fattr[PNB_FA_POLYFFN_B] = 4;
	PUT();
	h2 = VAL("h2", FP_D);
	ADD("h2", h2, h1, f);

	f = VAL("f2", FP_D);
	NODE(PNB_OP_POLY_FFN, "pffn2", f);
	n.n_in = 1; n.in[0] = h2; n.n_w = 5;
	n.w[PNB_W_FFN_W1] = T2("p2w1", w->p2w1, FP_D, FP_FF);
	n.w[PNB_W_FFN_B1] = T1("p2b1", w->p2b1, FP_FF);
	n.w[PNB_W_FFN_W2] = T2("p2w2", w->p2w2, FP_FF, FP_D);
	n.w[PNB_W_FFN_B2] = PNB_NONE;
	n.w[PNB_W_POLYFFN_COEFS] = T1("c2", w->c2, FP_NC2);
	n.iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_GELU; n.iattr[PNB_IA_POLYFFN_DEGREE] = FP_DEG2;
	n.fattr[PNB_FA_POLYFFN_A] = -3; n.fattr[PNB_FA_POLYFFN_B] = 5;
	PUT();
	h3 = VAL("h3", FP_D);
	ADD("h3", h3, h2, f);

	h4 = VAL("h4", FP_D);
	NODE(PNB_OP_MACRO, "macro", h4);
	n.n_in = 1; n.in[0] = h3; n.n_w = 7;
	n.w[PNB_W_MACRO_ROUTER] = T2("cent", w->cent, FP_E, FP_D);
	n.w[PNB_W_MACRO_W1] = T2("mw1", w->mw1, FP_E * FP_D, FP_R);
	n.w[PNB_W_MACRO_B1] = T1("mb1", w->mb1, FP_E * FP_R);
	n.w[PNB_W_MACRO_COEFS] = T2("mc", w->mc, FP_E, FP_NC3);
	n.w[PNB_W_MACRO_W2] = T2("mw2", w->mw2, FP_E * FP_R, FP_D);
	n.w[PNB_W_MACRO_B2] = T1("mb2", w->mb2, FP_E * FP_D);
	n.iattr[PNB_IA_MACRO_EXPERTS] = FP_E; n.iattr[PNB_IA_MACRO_ROUTER] = 0;
	n.iattr[PNB_IA_MACRO_TOPK] = 2; n.iattr[PNB_IA_MACRO_DEGREE] = FP_DEG3;
	n.iattr[PNB_IA_MACRO_EVEN] = 1; n.iattr[PNB_IA_MACRO_ACT] = PNB_ACT_SILU;
	n.fattr[PNB_FA_MACRO_A] = -3; n.fattr[PNB_FA_MACRO_B] = 3; n.fattr[PNB_FA_MACRO_TAU] = 4.0f;
	PUT();

	qv = VAL("quant", FP_D);
	NODE(PNB_OP_VQ, "vq2", qv);
	n.n_in = 1; n.in[0] = h4; n.n_w = 2; n.iattr[PNB_IA_VQ_MODE] = 1;
	n.w[PNB_W_VQ_CODEBOOK] = cb2 = T2("cb2", w->cb2, FP_K, FP_D);
	n.w[PNB_W_VQ_NORMS] = n2 = T1("n2", w->n2, FP_K);
	PUT();
	cv = VAL("cache", FP_D);
	NODE(PNB_OP_VQ, "cache", cv);
	n.n_in = 1; n.in[0] = h4; n.n_w = 3; n.iattr[PNB_IA_VQ_MODE] = 2;
	n.w[PNB_W_VQ_CODEBOOK] = cb2;
	n.w[PNB_W_VQ_NORMS] = n2;
	n.w[PNB_W_VQ_TABLE] = T2("table", w->table, FP_K, FP_D);
	PUT();
	h5 = VAL("qc", FP_D);
	ADD("qc", h5, qv, cv);
	qv = h5;
	h5 = VAL("h5", FP_D);
	ADD("h5", h5, h4, qv);

	pool = pnb_w_value(wr, "pool", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, FP_D);
	NODE(PNB_OP_POOL_MEAN, "pool", pool);
	n.n_in = 1; n.in[0] = h5;
	PUT();
	out = pnb_w_value(wr, "embedding", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, FP_D);
	NODE(PNB_OP_L2NORM, "l2", out);
	n.n_in = 1; n.in[0] = pool; n.fattr[PNB_FA_L2NORM_EPS] = 1e-12f;
	PUT();
#undef T2
#undef T1
#undef VAL
#undef NODE
#undef PUT
#undef ADD
	h.name = pnb_w_string(wr, "fixture-poly");
	h.input = ids;
	h.output = out;
	h.max_tokens = FP_MAXT;
	h.tokenizer = PNB_TOKENIZER_NONE;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(wr, &h);
	rc = pnb_w_finish(wr, path, err);
	pnb_writer_free(wr);
	return rc;
}

static inline void fp_add(float *y, const float *a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		y[i] += a[i];
}

static inline void fp_gather(const int32_t *codes, uint32_t T, const float *table, float *out)
{
	for (uint32_t t = 0; t < T; t++)
		memcpy(out + t * FP_D, table + codes[t] * FP_D, FP_D * sizeof(float));
}

/* The same forward pass for one sequence, from the reference twins. */
static inline void fp_reference(const struct fp_weights *w, const int32_t *ids, uint32_t T,
				float *out /* [FP_D] */)
{
	uint32_t n = T * FP_D, len = T;
	float *h = calloc(n, 4), *y = calloc(n, 4), *z = calloc(n, 4), *qkv = calloc(3 * n, 4);
	int32_t *codes = calloc(T, 4);
	struct pn_cqa c = { .heads = FP_H, .clusters = 3, .bits = FP_BITS, .topk = 2,
			    .iters = 10, .scale = 1.0f / sqrtf(FP_D / FP_H), .planes = w->planes };
	struct pn_cheb p1 = { .c = w->c1, .degree = FP_DEG1, .act = PNB_ACT_SILU, .even = 1,
			      .a = -4, .b = 4 };
	struct pn_cheb p2 = { .c = w->c2, .degree = FP_DEG2, .act = PNB_ACT_GELU, .a = -3, .b = 5 };
	struct pn_macro m = {
		.E = FP_E, .rank = FP_R, .router = PN_ROUTER_CENTROID, .topk = 2,
		.temperature = 4.0f, .router_w = w->cent, .W1 = w->mw1, .b1 = w->mb1,
		.coefs = w->mc, .W2 = w->mw2, .b2 = w->mb2,
		.cheb = { .degree = FP_DEG3, .act = PNB_ACT_SILU, .even = 1, .a = -3, .b = 3 },
	};

	pn_ref_embed(ids, 1, T, w->E, FP_D, 1.0f, PNB_POS_LEARNED, w->pos, NULL, NULL, h);
	pn_ref_linear(h, T, FP_D, w->wqkv, w->bqkv, 3 * FP_D, PNB_ACT_NONE, qkv);
	pn_ref_cqa(qkv, 1, T, &len, FP_D, &c, y);
	fp_add(h, y, n);					/* h1 */
	pn_ref_vq_assign(h, T, FP_D, w->cb1, FP_K, codes, NULL);
	fp_gather(codes, T, w->cb1, z);
	pn_ref_polyffn(z, T, FP_D, FP_FF, 1, &p1, w->p1w1, w->p1b1, w->p1w2, w->p1b2, y);
	fp_add(h, y, n);					/* h2 */
	pn_ref_polyffn(h, T, FP_D, FP_FF, 0, &p2, w->p2w1, w->p2b1, w->p2w2, NULL, y);
	fp_add(h, y, n);					/* h3 */
	pn_ref_macro(h, T, FP_D, &m, y);			/* h4 */
	pn_ref_vq_assign(y, T, FP_D, w->cb2, FP_K, codes, NULL);
	fp_gather(codes, T, w->cb2, h);
	fp_gather(codes, T, w->table, z);
	fp_add(h, z, n);
	fp_add(h, y, n);					/* h5 */
	pn_ref_pool_mean(h, 1, T, &len, FP_D, out);
	pn_ref_l2norm(out, 1, FP_D, 1e-12f);
	free(h); free(y); free(z); free(qkv); free(codes);
}

#endif /* FIXTURE_POLY_H */
