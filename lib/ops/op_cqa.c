// SPDX-License-Identifier: MIT
/* op_cqa.c - CQA: clustered attention, queries grouped by LSH hash k-means. */
#include <errno.h>
#include <inttypes.h>

#include "ops/op_impl.h"

static int check_cqa(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;

	if (n->iattr[PNB_IA_CQA_HEADS] < 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_CQA_HEADS), "cqa heads %"
				 PRId32 ", expected >= 1", n->iattr[PNB_IA_CQA_HEADS]);
	if (n->iattr[PNB_IA_CQA_CLUSTERS] < 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_CQA_CLUSTERS),
				 "cqa clusters %" PRId32 ", expected >= 1",
				 n->iattr[PNB_IA_CQA_CLUSTERS]);
	if (n->iattr[PNB_IA_CQA_TOPK] < 0)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_CQA_TOPK), "cqa top-k %"
				 PRId32 ", expected 0 (plain) or >= 1 (improved)",
				 n->iattr[PNB_IA_CQA_TOPK]);
	if (n->iattr[PNB_IA_CQA_ITERS] < 1 || n->iattr[PNB_IA_CQA_ITERS] > 64)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_CQA_ITERS),
				 "cqa k-means iterations %" PRId32 ", expected 1..64",
				 n->iattr[PNB_IA_CQA_ITERS]);
	return 0;
}

static int build_cqa(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_tensor *pl = pn_op_tensor(b, PNB_W_CQA_PLANES);
	uint32_t D = pn_op_val(b, n->out)->width, hd;
	int r;

	n->heads = (uint32_t)n->iattr[PNB_IA_CQA_HEADS];
	n->d_in = pn_op_val(b, n->in[0])->width;
	n->d_out = D;
	if (D % n->heads)
		return pn_op_node_err(b, "iattr[0]: %d heads do not divide width %u",
				      n->iattr[PNB_IA_CQA_HEADS], D);
	hd = D / n->heads;
	if (!(n->fattr[PNB_FA_CQA_SCALE] > 0))
		return pn_op_node_err(b, "fattr[0]: scale must be finite and > 0");
	if (pl->ndim != 2 || pl->shape[0] < 1 || pl->shape[0] > 64)
		return pn_op_node_err(b, "planes %s: expected [bits, %u] with 1..64 bits",
				      pnb_str(b->f, pl->name), hd);
	/* hashing: bits dot products of hd per query and head */
	n->flops_per_row = 2.0 * pl->shape[0] * D;
	if ((r = pn_op_want_w(b, PNB_W_CQA_PLANES, 2, pl->shape[0], hd)) ||
	    (r = pn_op_finite_w(b, PNB_W_CQA_PLANES, "planes")))
		return r;
	return pn_op_want_width(b, n->in[0], "qkv", PNB_LAYOUT_TOKENS, 3 * D) ?:
	       pn_op_want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

/* Attention's QK^T and PV for min(C, T) centroids, plus the top-k keys. */
static double flops_cqa(const struct pn_gnode *n, uint32_t batch, uint32_t T)
{
	uint32_t clusters = (uint32_t)n->iattr[PNB_IA_CQA_CLUSTERS];
	double C = clusters < T ? clusters : T;

	return 4.0 * batch * T * (C + (n->iattr[PNB_IA_CQA_TOPK] && C < T ?
				       n->iattr[PNB_IA_CQA_TOPK] : 0)) * n->d_out;
}

const struct pn_op pn_op_cqa = {
	.code = PNB_OP_CQA, .name = "cqa", .n_in = 1, .min_w = 1, .max_w = 1,
	.in = { "qkv" },
	.w = { [PNB_W_CQA_PLANES] = { "planes", "LSH hyperplanes [B, hd], 1 <= B <= 64" } },
	.ia = {
		[PNB_IA_CQA_HEADS] = { "heads", "heads, dividing D" },
		[PNB_IA_CQA_CLUSTERS] = { "clusters", "query clusters C >= 1" },
		[PNB_IA_CQA_TOPK] = { "topk", "0 plain; k >= 1 improved variant" },
		[PNB_IA_CQA_ITERS] = { "iters", "Hamming k-means iterations 1..64" },
	},
	.fa = { [PNB_FA_CQA_SCALE] = { "scale", "logit scale", PN_SLOT_FLOAT } },
	.check = check_cqa,
	.build = build_cqa,
	.flops_extra = flops_cqa,
	.ptx = "cqa_hash cqa_attend",
};
