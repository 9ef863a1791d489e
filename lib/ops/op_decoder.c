// SPDX-License-Identifier: MIT
/*
 * op_decoder.c - ROPE, ATTN_CACHE, LOGITS: the causal decoder's ops
 * (uapi/pnb.h, docs/generate.md). Positions and the KV cache come with
 * each run, not from the file: the file only fixes shapes.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "ops/op_impl.h"

/* Head counts and sizes far past any real model would overflow the
 * executor's row arithmetic; the bound also keeps a fuzzed file cheap. */
#define MAX_HEADS 4096

static int check_rope(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t heads = n->iattr[PNB_IA_ROPE_HEADS], hs = n->iattr[PNB_IA_ROPE_HS];

	if (heads < 1 || heads > MAX_HEADS)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_ROPE_HEADS),
				 "rope heads %" PRId32 ", expected 1..%d", heads, MAX_HEADS);
	if (hs < 2 || hs > MAX_HEADS || hs % 2)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_ROPE_HS),
				 "rope head size %" PRId32 ", expected an even 2..%d", hs,
				 MAX_HEADS);
	if (!(n->fattr[PNB_FA_ROPE_THETA] > 1))
		return pnb_bad_entry(c, -EINVAL, S, i, PN_FA_OFF(PNB_FA_ROPE_THETA),
				 "rope theta %g, expected > 1", n->fattr[PNB_FA_ROPE_THETA]);
	return 0;
}

static int build_rope(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	uint32_t W = pn_op_val(b, n->in[0])->width;
	uint64_t rot = (uint64_t)n->iattr[PNB_IA_ROPE_HEADS] * (uint64_t)n->iattr[PNB_IA_ROPE_HS];

	n->d_in = n->d_out = W;
	n->heads = (uint32_t)n->iattr[PNB_IA_ROPE_HEADS];
	n->flops_per_row = 3.0 * (double)rot;
	if (rot > W)
		return pn_op_node_err(b, "iattr: %u heads of %d rotate %llu columns, the row "
				      "has %u", n->heads, n->iattr[PNB_IA_ROPE_HS],
				      (unsigned long long)rot, W);
	return pn_op_want_width(b, n->in[0], "x", PNB_LAYOUT_TOKENS, W) ?:
	       pn_op_same_shape(b);
}

static int check_attn_cache(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t H = n->iattr[PNB_IA_KV_HEADS], Hkv = n->iattr[PNB_IA_KV_KV_HEADS];

	if (H < 1 || H > MAX_HEADS)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_KV_HEADS),
				 "attn_cache heads %" PRId32 ", expected 1..%d", H, MAX_HEADS);
	if (Hkv < 1 || Hkv > H || H % Hkv)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_KV_KV_HEADS),
				 "attn_cache kv heads %" PRId32 ", expected a divisor of the "
				 "%" PRId32 " query heads", Hkv, H);
	if (n->iattr[PNB_IA_KV_LAYER] < 0 || n->iattr[PNB_IA_KV_LAYER] >= MAX_HEADS)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_KV_LAYER),
				 "attn_cache layer %" PRId32 ", expected 0..%d",
				 n->iattr[PNB_IA_KV_LAYER], MAX_HEADS - 1);
	return 0;
}

static int build_attn_cache(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	uint32_t D = pn_op_val(b, n->out)->width, W = pn_op_val(b, n->in[0])->width;
	uint32_t H = (uint32_t)n->iattr[PNB_IA_KV_HEADS], Hkv = (uint32_t)n->iattr[PNB_IA_KV_KV_HEADS];
	uint32_t hs;

	n->heads = H;
	n->d_in = W;
	n->d_out = D;
	if (D % H)
		return pn_op_node_err(b, "iattr[0]: %u heads do not divide width %u", H, D);
	hs = D / H;
	n->ff = Hkv * hs;	/* the cache's width per position and layer (k or v) */
	if (!isfinite(n->fattr[PNB_FA_KV_SCALE]) || n->fattr[PNB_FA_KV_SCALE] <= 0)
		return pn_op_node_err(b, "fattr[0]: scale must be finite and > 0");
	return pn_op_want_width(b, n->in[0], "qkv", PNB_LAYOUT_TOKENS, D + 2 * Hkv * hs) ?:
	       pn_op_want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

/* q.k and p.v over the cached positions: T new tokens see up to P + T. */
static double flops_attn_cache(const struct pn_gnode *n, uint32_t batch, uint32_t T)
{
	return 2.0 * batch * T * (T + 1) * n->d_out;
}

static int check_logits(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	if (n->iattr[PNB_IA_LOGITS_LAST] < 0 || n->iattr[PNB_IA_LOGITS_LAST] > 1)
		return pnb_bad_entry(c, -EINVAL, PNB_SEC_NODES, i, PN_IA_OFF(PNB_IA_LOGITS_LAST),
				 "logits last flag %" PRId32 ", expected 0 or 1",
				 n->iattr[PNB_IA_LOGITS_LAST]);
	return 0;
}

static int build_logits(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	uint32_t V = pn_op_val(b, n->out)->width;

	n->d_in = pn_op_val(b, n->in[0])->width;
	n->d_out = V;
	return pn_op_want_width(b, n->in[0], "x", PNB_LAYOUT_TOKENS, n->d_in) ?:
	       pn_op_want_width(b, n->out, "out", n->iattr[PNB_IA_LOGITS_LAST] ?
				PNB_LAYOUT_SEQ : PNB_LAYOUT_TOKENS, V) ?:
	       pn_op_want_w(b, PNB_W_LOGITS_TABLE, 2, V, n->d_in);
}

/* Per output row: every token's, or (last) one per sequence. */
static double flops_logits(const struct pn_gnode *n, uint32_t batch, uint32_t T)
{
	return 2.0 * n->d_in * n->d_out * batch * (n->iattr[PNB_IA_LOGITS_LAST] ? 1 : T);
}

const struct pn_op pn_op_rope = {
	.code = PNB_OP_ROPE, .name = "rope", .n_in = 1,
	.in = { "x" },
	.ia = {
		[PNB_IA_ROPE_HEADS] = { "heads", "heads rotated, from the row's start" },
		[PNB_IA_ROPE_HS] = { "hs", "head size (even)" },
	},
	.fa = { [PNB_FA_ROPE_THETA] = { "theta", "base of the pair frequencies (10000)",
					PN_SLOT_FLOAT } },
	.check = check_rope,
	.build = build_rope,
	.ptx = "rope_f32",
};

const struct pn_op pn_op_attn_cache = {
	.code = PNB_OP_ATTN_CACHE, .name = "attn_cache", .n_in = 1,
	.in = { "qkv" },
	.ia = {
		[PNB_IA_KV_HEADS] = { "heads", "query heads, dividing D" },
		[PNB_IA_KV_KV_HEADS] = { "kv_heads", "key/value heads, dividing heads" },
		[PNB_IA_KV_LAYER] = { "layer", "its slice of the KV cache" },
	},
	.fa = { [PNB_FA_KV_SCALE] = { "scale", "logit scale (1/sqrt(hs))", PN_SLOT_FLOAT } },
	.check = check_attn_cache,
	.build = build_attn_cache,
	.flops_extra = flops_attn_cache,
	.ptx = "attn_cache_f32",
};

const struct pn_op pn_op_logits = {
	.code = PNB_OP_LOGITS, .name = "logits", .n_in = 1, .min_w = 1, .max_w = 1,
	.in = { "x" },
	.w = { [PNB_W_LOGITS_TABLE] = { "table", "[V, D]: the embedding table when tied" } },
	.ia = { [PNB_IA_LOGITS_LAST] = { "last", "1: only each sequence's last token (SEQ)" } },
	.check = check_logits,
	.build = build_logits,
	.flops_extra = flops_logits,
	.ptx = "gemm_f32_bt",
};
