// SPDX-License-Identifier: MIT
/*
 * llama_build.c - a Llama decoder (llama.h) as PolyNet nodes:
 *
 *   x = embed(ids)
 *   per layer l:  h = rmsnorm(x);  qkv = h [Wq|Wk|Wv]^T;  rope(q, k);
 *                 x += attn_cache(qkv) Wo^T;
 *                 x += ffn_swiglu(rmsnorm(x))  (W1 = [gate | up])
 *   logits = rmsnorm(x) E^T  (the last token of each sequence)
 *
 * Node names follow the compiler's (lN.ln1, lN.attn.add, lN.ln2, lN.ffn,
 * lN.ffn.add: docs/compile.md), so the PolyNet passes find the layers.
 * The matrices arrive [out, in] and are stored [in, out], the layout
 * LINEAR and FFN take; q, k and v become one GEMM, gate and up another.
 * A tied LM head reads the embedding tensor itself: nothing is copied.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/pnb.h"
#include "import/llama.h"

/* Dimensions past these are no model this runtime serves on a CPU, and
 * keep every product below 2^40 floats. */
#define MAX_DIM (1u << 16)
#define MAX_VOCAB (1u << 20)
#define MAX_LAYERS 1024u

int pn_llama_check(const struct pn_llama_config *c, const char *what, struct pn_err *err)
{
	if (!c->hidden || c->hidden > MAX_DIM || !c->ffn || c->ffn > MAX_DIM)
		return pn_errf(err, -EINVAL, "%s: hidden %u, ffn %u: expected 1..%u", what,
			       c->hidden, c->ffn, MAX_DIM);
	if (!c->layers || c->layers > MAX_LAYERS)
		return pn_errf(err, -EINVAL, "%s: %u layers, expected 1..%u", what, c->layers,
			       MAX_LAYERS);
	if (c->vocab < 259 || c->vocab > MAX_VOCAB)
		return pn_errf(err, -EINVAL, "%s: vocab %u, expected 259..%u (unk, BOS, EOS and "
			       "256 byte tokens at least)", what, c->vocab, MAX_VOCAB);
	if (!c->max_seq || c->max_seq > PNB_MAX_TOKENS)
		return pn_errf(err, -EINVAL, "%s: max_seq %u, expected 1..%u", what, c->max_seq,
			       PNB_MAX_TOKENS);
	if (!c->q_heads || c->hidden % c->q_heads)
		return pn_errf(err, -EINVAL, "%s: %u query heads do not divide hidden %u", what,
			       c->q_heads, c->hidden);
	if ((c->hidden / c->q_heads) % 2)
		return pn_errf(err, -EINVAL, "%s: head size %u is odd, RoPE turns pairs", what,
			       c->hidden / c->q_heads);
	if (!c->kv_heads || c->q_heads % c->kv_heads)
		return pn_errf(err, -EINVAL, "%s: %u kv heads do not divide the %u query heads",
			       what, c->kv_heads, c->q_heads);
	if (!(c->rope_theta > 1) || !isfinite(c->rope_theta))
		return pn_errf(err, -EINVAL, "%s: rope theta %g, expected > 1", what,
			       (double)c->rope_theta);
	if (!(c->norm_eps >= 0) || !isfinite(c->norm_eps))
		return pn_errf(err, -EINVAL, "%s: rms norm eps %g, expected >= 0", what,
			       (double)c->norm_eps);
	return 0;
}

struct emit {
	struct pnb_writer *w;
	const struct pn_llama_config *c;
	struct pn_compile_stats st;
	float *buf;			/* transposes */
};

static uint32_t put_w(struct emit *e, const char *name, uint32_t ndim, uint64_t d0, uint64_t d1,
		      const float *data)
{
	uint64_t shape[2] = { d0, d1 };

	e->st.tensors++;
	e->st.params += ndim == 1 ? d0 : d0 * d1;
	return pnb_w_tensor(e->w, name, PNB_DTYPE_F32, ndim, shape, data);
}

/* dst [in, out0 + out1 + ...] from row-major [out_k, in] blocks: columns side by side. */
static void transpose_into(float *dst, uint32_t in, uint32_t ld, uint32_t col0, const float *src,
			   uint32_t out)
{
	for (uint32_t o = 0; o < out; o++)
		for (uint32_t i = 0; i < in; i++)
			dst[(size_t)i * ld + col0 + o] = src[(size_t)o * in + i];
}

static uint32_t put_n(struct emit *e, uint32_t op, const char *name, uint32_t layout,
		      uint32_t width, struct pnb_node *n)
{
	n->op = op;
	n->name = pnb_w_string(e->w, name);
	n->out = pnb_w_value(e->w, name, PNB_DTYPE_F32, layout, width);
	e->st.values++;
	e->st.nodes++;
	pnb_w_node(e->w, n);
	return n->out;
}

static uint32_t node1(struct pnb_node *n, uint32_t op, uint32_t x)
{
	pnb_node_init(n, op, 0, 0);
	n->n_in = 1;
	n->in[0] = x;
	return 0;
}

static uint32_t put_rms(struct emit *e, const char *name, uint32_t x, const float *g)
{
	struct pnb_node n;
	char wn[96];

	node1(&n, PNB_OP_RMSNORM, x);
	snprintf(wn, sizeof(wn), "%s.gamma", name);
	n.n_w = 1;
	n.w[PNB_W_NORM_GAMMA] = put_w(e, wn, 1, e->c->hidden, 0, g);
	n.fattr[PNB_FA_NORM_EPS] = e->c->norm_eps;
	return put_n(e, PNB_OP_RMSNORM, name, PNB_LAYOUT_TOKENS, e->c->hidden, &n);
}

static uint32_t put_add(struct emit *e, const char *name, uint32_t a, uint32_t b)
{
	struct pnb_node n;

	node1(&n, PNB_OP_ADD, a);
	n.n_in = 2;
	n.in[1] = b;
	return put_n(e, PNB_OP_ADD, name, PNB_LAYOUT_TOKENS, e->c->hidden, &n);
}

static uint32_t put_layer(struct emit *e, uint32_t l, uint32_t x, const struct pn_llama_weights *w)
{
	const struct pn_llama_config *c = e->c;
	uint32_t D = c->hidden, hs = D / c->q_heads, kvw = c->kv_heads * hs, F = c->ffn;
	uint32_t qkvw = D + 2 * kvw, h, v;
	struct pnb_node n;
	char nm[64], wn[80];

	snprintf(nm, sizeof(nm), "l%u.ln1", l);
	h = put_rms(e, nm, x, w->rms_att + (size_t)l * D);
	/* qkv = h [Wq; Wk; Wv]^T */
	transpose_into(e->buf, D, qkvw, 0, w->wq + (size_t)l * D * D, D);
	transpose_into(e->buf, D, qkvw, D, w->wk + (size_t)l * kvw * D, kvw);
	transpose_into(e->buf, D, qkvw, D + kvw, w->wv + (size_t)l * kvw * D, kvw);
	node1(&n, PNB_OP_LINEAR, h);
	snprintf(wn, sizeof(wn), "l%u.attn.wqkv", l);
	n.n_w = 1;
	n.w[PNB_W_LINEAR_W] = put_w(e, wn, 2, D, qkvw, e->buf);
	snprintf(nm, sizeof(nm), "l%u.attn.qkv", l);
	v = put_n(e, PNB_OP_LINEAR, nm, PNB_LAYOUT_TOKENS, qkvw, &n);
	node1(&n, PNB_OP_ROPE, v);
	n.iattr[PNB_IA_ROPE_HEADS] = (int32_t)(c->q_heads + c->kv_heads);
	n.iattr[PNB_IA_ROPE_HS] = (int32_t)hs;
	n.fattr[PNB_FA_ROPE_THETA] = c->rope_theta;
	snprintf(nm, sizeof(nm), "l%u.attn.rope", l);
	v = put_n(e, PNB_OP_ROPE, nm, PNB_LAYOUT_TOKENS, qkvw, &n);
	node1(&n, PNB_OP_ATTN_CACHE, v);
	n.iattr[PNB_IA_KV_HEADS] = (int32_t)c->q_heads;
	n.iattr[PNB_IA_KV_KV_HEADS] = (int32_t)c->kv_heads;
	n.iattr[PNB_IA_KV_LAYER] = (int32_t)l;
	n.fattr[PNB_FA_KV_SCALE] = (float)(1.0 / sqrt((double)hs));
	snprintf(nm, sizeof(nm), "l%u.attn", l);
	v = put_n(e, PNB_OP_ATTN_CACHE, nm, PNB_LAYOUT_TOKENS, D, &n);
	transpose_into(e->buf, D, D, 0, w->wo + (size_t)l * D * D, D);
	node1(&n, PNB_OP_LINEAR, v);
	snprintf(wn, sizeof(wn), "l%u.attn.wo", l);
	n.n_w = 1;
	n.w[PNB_W_LINEAR_W] = put_w(e, wn, 2, D, D, e->buf);
	snprintf(nm, sizeof(nm), "l%u.attn.out", l);
	v = put_n(e, PNB_OP_LINEAR, nm, PNB_LAYOUT_TOKENS, D, &n);
	snprintf(nm, sizeof(nm), "l%u.attn.add", l);
	x = put_add(e, nm, x, v);

	snprintf(nm, sizeof(nm), "l%u.ln2", l);
	h = put_rms(e, nm, x, w->rms_ffn + (size_t)l * D);
	node1(&n, PNB_OP_FFN, h);
	n.n_w = 4;
	transpose_into(e->buf, D, 2 * F, 0, w->w_gate + (size_t)l * F * D, F);
	transpose_into(e->buf, D, 2 * F, F, w->w_up + (size_t)l * F * D, F);
	snprintf(wn, sizeof(wn), "l%u.ffn.W1", l);
	n.w[PNB_W_FFN_W1] = put_w(e, wn, 2, D, 2 * F, e->buf);
	transpose_into(e->buf, F, D, 0, w->w_down + (size_t)l * D * F, D);
	snprintf(wn, sizeof(wn), "l%u.ffn.W2", l);
	n.w[PNB_W_FFN_W2] = put_w(e, wn, 2, F, D, e->buf);
	n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_SILU;
	n.iattr[PNB_IA_FFN_GATED] = 1;
	snprintf(nm, sizeof(nm), "l%u.ffn", l);
	v = put_n(e, PNB_OP_FFN, nm, PNB_LAYOUT_TOKENS, D, &n);
	snprintf(nm, sizeof(nm), "l%u.ffn.add", l);
	return put_add(e, nm, x, v);
}

/* The vocab as the .pnb's tokenizer blob: pieces NUL-terminated back to back. */
static int put_vocab(struct emit *e, const struct pn_llama_vocab *v, struct pnb_header *h,
		     struct pn_err *err)
{
	size_t size = 0, off = 0;
	uint64_t shape[1];
	char *blob;

	for (uint32_t i = 0; i < v->n; i++)
		size += strlen(v->piece[i]) + 1;
	blob = malloc(size ? size : 1);
	if (!blob)
		return pn_errf(err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < v->n; i++) {
		size_t n = strlen(v->piece[i]) + 1;

		memcpy(blob + off, v->piece[i], n);
		off += n;
	}
	shape[0] = size;
	h->tok_pieces = pnb_w_tensor(e->w, "tokenizer.pieces", PNB_DTYPE_U8, 1, shape, blob);
	shape[0] = v->n;
	h->tok_scores = pnb_w_tensor(e->w, "tokenizer.scores", PNB_DTYPE_F32, 1, shape, v->score);
	h->tokenizer = PNB_TOKENIZER_LLAMA_BPE;
	e->st.tensors += 2;
	free(blob);
	return 0;
}

int pn_llama_build(const struct pn_llama_config *c, const struct pn_llama_weights *w,
		   const struct pn_llama_vocab *v, const char *out,
		   const struct pn_compile_opts *o, struct pn_err *err)
{
	uint32_t D = c->hidden, kvw = c->kv_heads * (D / c->q_heads);
	size_t big = (size_t)D * (D + 2 * kvw);
	struct emit e = { .w = pnb_writer_new(), .c = c };
	struct pnb_header h;
	struct pnb_node n;
	struct stat sb;
	uint32_t ids, x, table;
	int ret;

	if (big < (size_t)D * 2 * c->ffn)
		big = (size_t)D * 2 * c->ffn;
	e.buf = malloc(big * sizeof(float));
	if (!e.w || !e.buf) {
		pnb_writer_free(e.w);
		free(e.buf);
		return pn_errf(err, -ENOMEM, "%s: out of memory", out);
	}
	if (o && o->progress)
		o->progress(o->progress_arg, "writing the .pnb");
	memset(&h, 0, sizeof(h));
	ids = pnb_w_value(e.w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	e.st.values++;
	node1(&n, PNB_OP_EMBED, ids);
	n.n_w = 1;
	table = n.w[PNB_W_EMBED_TABLE] = put_w(&e, "embed.table", 2, c->vocab, D, w->embed);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_NONE;
	n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	x = put_n(&e, PNB_OP_EMBED, "embed", PNB_LAYOUT_TOKENS, D, &n);
	for (uint32_t l = 0; l < c->layers; l++)
		x = put_layer(&e, l, x, w);
	x = put_rms(&e, "final_norm", x, w->rms_final);
	node1(&n, PNB_OP_LOGITS, x);
	n.n_w = 1;
	n.w[PNB_W_LOGITS_TABLE] = c->shared_output ? table :
				  put_w(&e, "lm_head", 2, c->vocab, D, w->wcls);
	n.iattr[PNB_IA_LOGITS_LAST] = 1;
	h.output = put_n(&e, PNB_OP_LOGITS, "logits", PNB_LAYOUT_SEQ, c->vocab, &n);
	h.name = pnb_w_string(e.w, o && o->name ? o->name : "llama");
	h.input = ids;
	h.max_tokens = c->max_seq;
	ret = put_vocab(&e, v, &h, err);
	if (!ret) {
		pnb_w_header(e.w, &h);
		ret = pnb_w_finish(e.w, out, err);
	}
	pnb_writer_free(e.w);
	free(e.buf);
	if (!ret && stat(out, &sb) == 0)
		e.st.file_bytes = (uint64_t)sb.st_size;
	if (!ret && o && o->stats)
		*o->stats = e.st;
	return ret;
}
