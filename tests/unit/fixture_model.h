/* SPDX-License-Identifier: MIT */
/*
 * fixture_model.h - a tiny random transformer with the structure of USE
 * lite (sincos positions, doubled embedding, pre-LN, a width-changing first
 * layer with a projected residual, ReLU FFN, mean pool, tanh, L2 norm),
 * written with the real .pnb writer, and its forward pass composed from the
 * pn_ref_* kernels, one sequence at a time, for the tests to compare with.
 */
#ifndef FIXTURE_MODEL_H
#define FIXTURE_MODEL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "format/pnb.h"

enum { FX_V = 40, FX_D0 = 16, FX_D = 24, FX_H = 2, FX_FF = 48, FX_MAXT = 12 };

struct fx_weights {
	float E[FX_V * FX_D0], inv[FX_D0 / 2];
	float ln[2][2][FX_D];		/* layer, (attn, ffn): gamma; beta below */
	float lnb[2][2][FX_D];
	float wqkv0[FX_D0 * 3 * FX_D0], bqkv0[3 * FX_D0];
	float wo0[FX_D0 * FX_D], bo0[FX_D], wr[FX_D0 * FX_D], br[FX_D];
	float wqkv1[FX_D * 3 * FX_D], bqkv1[3 * FX_D];
	float wo1[FX_D * FX_D], bo1[FX_D];
	float w1[2][FX_D * FX_FF], b1[2][FX_FF], w2[2][FX_FF * FX_D], b2[2][FX_D];
	float wt[FX_D * FX_D], bt[FX_D];
};

static inline float fx_rand(uint32_t *s, float scale)
{
	*s = *s * 1664525u + 1013904223u;
	return scale * ((float)(*s >> 8) / 16777216.0f - 0.5f);
}

static inline void fx_fill(float *p, size_t n, uint32_t *s, float scale)
{
	for (size_t i = 0; i < n; i++)
		p[i] = fx_rand(s, scale);
}

static inline void fx_init(struct fx_weights *w, uint32_t seed)
{
	fx_fill((float *)w, sizeof(*w) / sizeof(float), &seed, 0.6f);
	for (int i = 0; i < FX_D0 / 2; i++)
		w->inv[i] = expf(-(float)i * logf(1e4f) / (FX_D0 / 2 - 1));
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < FX_D; i++)
				w->ln[l][k][i] += 1.0f;
}

/* Writes the model; returns 0 or the writer's error. */
static inline int fx_write(const struct fx_weights *w, const char *path,
			   struct pn_err *err)
{
	struct pnb_writer *wr = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint32_t x, v, q, a, o, r, s, t, u;
	uint64_t sh[2];
	int rc;

#define T2(name, p, d0, d1) (sh[0] = (d0), sh[1] = (d1), \
	pnb_w_tensor(wr, name, PNB_DTYPE_F32, 2, sh, p))
#define T1(name, p, d0) (sh[0] = (d0), pnb_w_tensor(wr, name, PNB_DTYPE_F32, 1, sh, p))
#define VAL(name, width) pnb_w_value(wr, name, PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, width)
#define NODE(op, name, outv) pnb_node_init(&n, op, pnb_w_string(wr, name), outv)

	uint32_t ids = pnb_w_value(wr, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);

	x = VAL("x", FX_D0);
	NODE(PNB_OP_EMBED, "embed", x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 4;
	n.w[PNB_W_EMBED_TABLE] = T2("E", w->E, FX_V, FX_D0);
	n.w[PNB_W_EMBED_INV_FREQ] = T1("inv", w->inv, FX_D0 / 2);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_SINCOS; n.fattr[PNB_FA_EMBED_SCALE] = 2.0f;
	pnb_w_node(wr, &n);

	/* layer 0 */
	v = VAL("l0.ln1", FX_D0);
	NODE(PNB_OP_LAYERNORM, "l0.ln1", v);
	n.n_in = 1; n.in[0] = x; n.n_w = 2; n.fattr[PNB_FA_NORM_EPS] = 1e-6f;
	n.w[PNB_W_NORM_GAMMA] = T1("l0.ln1.g", w->ln[0][0], FX_D0);
	n.w[PNB_W_NORM_BETA] = T1("l0.ln1.b", w->lnb[0][0], FX_D0);
	pnb_w_node(wr, &n);
	q = VAL("l0.qkv", 3 * FX_D0);
	NODE(PNB_OP_LINEAR, "l0.qkv", q);
	n.n_in = 1; n.in[0] = v; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("l0.wqkv", w->wqkv0, FX_D0, 3 * FX_D0);
	n.w[PNB_W_LINEAR_B] = T1("l0.bqkv", w->bqkv0, 3 * FX_D0);
	pnb_w_node(wr, &n);
	a = VAL("l0.attn", FX_D0);
	NODE(PNB_OP_ATTENTION, "l0.attn", a);
	n.n_in = 1; n.in[0] = q; n.iattr[PNB_IA_ATTN_HEADS] = FX_H;
	n.fattr[PNB_FA_ATTN_SCALE] = 1.0f / sqrtf(FX_D0 / FX_H);
	pnb_w_node(wr, &n);
	o = VAL("l0.o", FX_D);
	NODE(PNB_OP_LINEAR, "l0.o", o);
	n.n_in = 1; n.in[0] = a; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("l0.wo", w->wo0, FX_D0, FX_D);
	n.w[PNB_W_LINEAR_B] = T1("l0.bo", w->bo0, FX_D);
	pnb_w_node(wr, &n);
	r = VAL("l0.res", FX_D);
	NODE(PNB_OP_LINEAR, "l0.res", r);
	n.n_in = 1; n.in[0] = x; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("l0.wr", w->wr, FX_D0, FX_D);
	n.w[PNB_W_LINEAR_B] = T1("l0.br", w->br, FX_D);
	pnb_w_node(wr, &n);
	s = VAL("l0.h", FX_D);
	NODE(PNB_OP_ADD, "l0.h", s);
	n.n_in = 2; n.in[0] = o; n.in[1] = r;
	pnb_w_node(wr, &n);

	for (int l = 0; l < 2; l++) {
		char nm[32];
		uint32_t ln, f;

		if (l == 1) {	/* layer 1 attention, identity residual */
			ln = VAL("l1.ln1", FX_D);
			NODE(PNB_OP_LAYERNORM, "l1.ln1", ln);
			n.n_in = 1; n.in[0] = s; n.n_w = 2; n.fattr[PNB_FA_NORM_EPS] = 1e-6f;
			n.w[PNB_W_NORM_GAMMA] = T1("l1.ln1.g", w->ln[1][0], FX_D);
			n.w[PNB_W_NORM_BETA] = T1("l1.ln1.b", w->lnb[1][0], FX_D);
			pnb_w_node(wr, &n);
			q = VAL("l1.attn.qkv", 3 * FX_D);
			NODE(PNB_OP_LINEAR, "l1.attn.qkv", q);
			n.n_in = 1; n.in[0] = ln; n.n_w = 2;
			n.w[PNB_W_LINEAR_W] = T2("l1.wqkv", w->wqkv1, FX_D, 3 * FX_D);
			n.w[PNB_W_LINEAR_B] = T1("l1.bqkv", w->bqkv1, 3 * FX_D);
			pnb_w_node(wr, &n);
			a = VAL("l1.attn", FX_D);
			NODE(PNB_OP_ATTENTION, "l1.attn", a);
			n.n_in = 1; n.in[0] = q; n.iattr[PNB_IA_ATTN_HEADS] = FX_H;
			n.fattr[PNB_FA_ATTN_SCALE] = 1.0f / sqrtf(FX_D / FX_H);
			pnb_w_node(wr, &n);
			o = VAL("l1.attn.out", FX_D);
			NODE(PNB_OP_LINEAR, "l1.attn.out", o);
			n.n_in = 1; n.in[0] = a; n.n_w = 1;
			n.w[PNB_W_LINEAR_W] = T2("l1.wo", w->wo1, FX_D, FX_D);	/* no bias */
			pnb_w_node(wr, &n);
			t = VAL("l1.attn.add", FX_D);
			NODE(PNB_OP_ADD, "l1.attn.add", t);
			n.n_in = 2; n.in[0] = s; n.in[1] = o;
			pnb_w_node(wr, &n);
			s = t;
		}
		snprintf(nm, sizeof(nm), "l%d.ln2", l);
		ln = VAL(nm, FX_D);
		NODE(PNB_OP_LAYERNORM, nm, ln);
		n.n_in = 1; n.in[0] = s; n.n_w = 2; n.fattr[PNB_FA_NORM_EPS] = 1e-6f;
		n.w[PNB_W_NORM_GAMMA] = T1(l ? "l1.ln2.g" : "l0.ln2.g", w->ln[l][1], FX_D);
		n.w[PNB_W_NORM_BETA] = T1(l ? "l1.ln2.b" : "l0.ln2.b", w->lnb[l][1], FX_D);
		pnb_w_node(wr, &n);
		snprintf(nm, sizeof(nm), "l%d.ffn", l);
		f = VAL(nm, FX_D);
		NODE(PNB_OP_FFN, nm, f);
		n.n_in = 1; n.in[0] = ln; n.n_w = 4; n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_RELU;
		n.w[PNB_W_FFN_W1] = T2(l ? "l1.w1" : "l0.w1", w->w1[l], FX_D, FX_FF);
		n.w[PNB_W_FFN_B1] = T1(l ? "l1.b1" : "l0.b1", w->b1[l], FX_FF);
		n.w[PNB_W_FFN_W2] = T2(l ? "l1.w2" : "l0.w2", w->w2[l], FX_FF, FX_D);
		n.w[PNB_W_FFN_B2] = T1(l ? "l1.b2" : "l0.b2", w->b2[l], FX_D);
		pnb_w_node(wr, &n);
		snprintf(nm, sizeof(nm), "l%d.out", l);
		u = VAL(nm, FX_D);
		NODE(PNB_OP_ADD, nm, u);
		n.n_in = 2; n.in[0] = s; n.in[1] = f;
		pnb_w_node(wr, &n);
		s = u;
	}
	t = pnb_w_value(wr, "pool", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, FX_D);
	NODE(PNB_OP_POOL_MEAN, "pool", t);
	n.n_in = 1; n.in[0] = s;
	pnb_w_node(wr, &n);
	u = pnb_w_value(wr, "tanh", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, FX_D);
	NODE(PNB_OP_LINEAR, "tanh", u);
	n.n_in = 1; n.in[0] = t; n.n_w = 2; n.iattr[PNB_IA_LINEAR_ACT] = PNB_ACT_TANH;
	n.w[PNB_W_LINEAR_W] = T2("wt", w->wt, FX_D, FX_D);
	n.w[PNB_W_LINEAR_B] = T1("bt", w->bt, FX_D);
	pnb_w_node(wr, &n);
	v = pnb_w_value(wr, "embedding", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, FX_D);
	NODE(PNB_OP_L2NORM, "l2", v);
	n.n_in = 1; n.in[0] = u; n.fattr[PNB_FA_L2NORM_EPS] = 1e-12f;
	pnb_w_node(wr, &n);
#undef T2
#undef T1
#undef VAL
#undef NODE
	h.name = pnb_w_string(wr, "fixture");
	h.input = ids;
	h.output = v;
	h.max_tokens = FX_MAXT;
	h.tokenizer = PNB_TOKENIZER_NONE;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(wr, &h);
	rc = pnb_w_finish(wr, path, err);
	pnb_writer_free(wr);
	return rc;
}

/*
 * The same forward pass for one sequence, from the reference kernels; with
 * uniform_l1, layer 1's attention weights are uniform over the sequence
 * (every query gets the mean of the values: what --attn-mean 1 computes).
 */
static inline void fx_reference_opt(const struct fx_weights *w, const int32_t *ids,
				    uint32_t T, float *out /* [FX_D] */, int uniform_l1)
{
	float *x = calloc((size_t)T * FX_D, sizeof(float));
	float *h = calloc((size_t)T * FX_D, sizeof(float));
	float *y = calloc((size_t)T * FX_D, sizeof(float));
	float *z = calloc((size_t)T * FX_D, sizeof(float));
	float *qkv = calloc((size_t)T * 3 * FX_D, sizeof(float));
	float *at = calloc((size_t)T * FX_D, sizeof(float));
	float pool[FX_D];
	uint32_t len = T;

	pn_ref_embed(ids, 1, T, w->E, FX_D0, 2.0f, PNB_POS_SINCOS, NULL, w->inv,
		     NULL, x);
	/* layer 0 */
	pn_ref_layernorm(x, T, FX_D0, w->ln[0][0], w->lnb[0][0], 1e-6f, y);
	pn_ref_linear(y, T, FX_D0, w->wqkv0, w->bqkv0, 3 * FX_D0, 0, qkv);
	pn_ref_attention(qkv, 1, T, &len, FX_D0, FX_H, 1.0f / sqrtf(FX_D0 / FX_H),
			 0, at);
	pn_ref_linear(at, T, FX_D0, w->wo0, w->bo0, FX_D, 0, h);
	pn_ref_linear(x, T, FX_D0, w->wr, w->br, FX_D, 0, y);
	for (size_t i = 0; i < (size_t)T * FX_D; i++)
		h[i] += y[i];
	for (int l = 0; l < 2; l++) {
		if (l == 1) {
			pn_ref_layernorm(h, T, FX_D, w->ln[1][0], w->lnb[1][0],
					 1e-6f, y);
			pn_ref_linear(y, T, FX_D, w->wqkv1, w->bqkv1, 3 * FX_D, 0,
				      qkv);
			pn_ref_attention(qkv, 1, T, &len, FX_D, FX_H,
					 1.0f / sqrtf(FX_D / FX_H), 0, at);
			for (uint32_t j = 0; uniform_l1 && j < FX_D; j++) {
				double m = 0;

				for (uint32_t t = 0; t < T; t++)
					m += qkv[(size_t)t * 3 * FX_D + 2 * FX_D + j];
				for (uint32_t t = 0; t < T; t++)
					at[(size_t)t * FX_D + j] = (float)(m / T);
			}
			pn_ref_linear(at, T, FX_D, w->wo1, NULL, FX_D, 0, y);
			for (size_t i = 0; i < (size_t)T * FX_D; i++)
				h[i] += y[i];
		}
		pn_ref_layernorm(h, T, FX_D, w->ln[l][1], w->lnb[l][1], 1e-6f, y);
		pn_ref_ffn(y, T, FX_D, FX_FF, 0, PNB_ACT_RELU, w->w1[l], w->b1[l],
			   w->w2[l], w->b2[l], z);
		for (size_t i = 0; i < (size_t)T * FX_D; i++)
			h[i] += z[i];
	}
	pn_ref_pool_mean(h, 1, T, &len, FX_D, pool);
	pn_ref_linear(pool, 1, FX_D, w->wt, w->bt, FX_D, PNB_ACT_TANH, out);
	pn_ref_l2norm(out, 1, FX_D, 1e-12f);
	free(x); free(h); free(y); free(z); free(qkv); free(at);
}

static inline void fx_reference(const struct fx_weights *w, const int32_t *ids,
				uint32_t T, float *out /* [FX_D] */)
{
	fx_reference_opt(w, ids, T, out, 0);
}

#endif /* FIXTURE_MODEL_H */
