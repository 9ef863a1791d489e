// SPDX-License-Identifier: MIT
/* op_attention.c - ATTENTION: multi-head softmax attention over a qkv value. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "ops/op_impl.h"

static int check_attention(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;

	if (n->iattr[PNB_IA_ATTN_HEADS] < 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_ATTN_HEADS),
				 "attention heads %" PRId32 ", expected >= 1",
				 n->iattr[PNB_IA_ATTN_HEADS]);
	if (n->iattr[PNB_IA_ATTN_CAUSAL] < 0 || n->iattr[PNB_IA_ATTN_CAUSAL] > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_ATTN_CAUSAL),
				 "attention causal flag %" PRId32 ", expected 0 or 1",
				 n->iattr[PNB_IA_ATTN_CAUSAL]);
	return 0;
}

static int build_attention(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	uint32_t D = pn_op_val(b, n->out)->width;
	int32_t heads = n->iattr[PNB_IA_ATTN_HEADS];

	n->heads = (uint32_t)heads;
	n->d_in = pn_op_val(b, n->in[0])->width;
	n->d_out = D;
	if (heads <= 0 || D % n->heads)
		return pn_op_node_err(b, "iattr[0]: %d heads do not divide width %u", heads, D);
	if (!isfinite(n->fattr[PNB_FA_ATTN_SCALE]) || n->fattr[PNB_FA_ATTN_SCALE] <= 0)
		return pn_op_node_err(b, "fattr[0]: scale must be finite and > 0");
	return pn_op_want_width(b, n->in[0], "qkv", PNB_LAYOUT_TOKENS, 3 * D) ?:
	       pn_op_want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

/* QK^T and PV */
static double flops_attention(const struct pn_gnode *n, uint32_t batch, uint32_t T)
{
	return 4.0 * batch * T * T * n->d_out;
}

const struct pn_op pn_op_attention = {
	.code = PNB_OP_ATTENTION, .name = "attention", .n_in = 1,
	.in = { "qkv" },
	.ia = {
		[PNB_IA_ATTN_HEADS] = { "heads", "heads, dividing D" },
		[PNB_IA_ATTN_CAUSAL] = { "causal", "1: keys t' > t masked" },
	},
	.fa = { [PNB_FA_ATTN_SCALE] = { "scale", "logit scale (1/sqrt(hd))", PN_SLOT_FLOAT } },
	.check = check_attention,
	.build = build_attention,
	.flops_extra = flops_attention,
	.ptx = "attention_fwd attention_tiled",
};
