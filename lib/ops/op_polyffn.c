// SPDX-License-Identifier: MIT
/* op_polyffn.c - POLY_FFN: an FFN whose activation is a Chebyshev series,
 * optionally run once per VQ code (codebook mode; docs/polynodes.md). */
#include <errno.h>
#include <inttypes.h>

#include "ops/op_impl.h"

static int check_poly_ffn(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t gated = n->iattr[PNB_IA_POLYFFN_GATED], cb = n->iattr[PNB_IA_POLYFFN_CODEBOOK];
	int r;

	if ((r = pn_op_check_series(c, i, n, PNB_IA_POLYFFN_ACT, PNB_IA_POLYFFN_DEGREE,
				    PNB_IA_POLYFFN_EVEN, PNB_FA_POLYFFN_A, PNB_FA_POLYFFN_B)))
		return r;
	if (gated < 0 || gated > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_POLYFFN_GATED),
				 "poly_ffn gated flag %" PRId32 ", expected 0 or 1", gated);
	if (cb < 0 || cb > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_POLYFFN_CODEBOOK),
				 "poly_ffn codebook flag %" PRId32 ", expected 0 or 1", cb);
	if (cb != (n->n_w == PNB_W_POLYFFN_CODEBOOK + 1))
		return pnb_bad_entry(c, -EINVAL, S, i, PN_W_OFF(PNB_W_POLYFFN_CODEBOOK),
				 "poly_ffn codebook flag %" PRId32 " with n_w %" PRIu32 ", expected "
				 "w[5] (codebook) exactly in codebook mode", cb, n->n_w);
	return 0;
}

/* Codebook mode: in[0] is a VQ node's codes, w[5] that node's codebook (same K). */
static int build_codebook(struct pn_build *b, uint32_t D)
{
	const struct pnb_value *x = pn_op_val(b, b->n->in[0]);
	const struct pnb_node *vq = pn_op_producer(b, b->n->in[0]);
	const struct pnb_tensor *vcb, *cb;
	int r;

	if (x->dtype != PNB_DTYPE_I32 || x->width != 1 || !vq || vq->op != PNB_OP_VQ ||
	    vq->iattr[PNB_IA_VQ_MODE] != 0)
		return pn_op_node_err(b, "codebook mode: in[0] must be the I32 codes of a VQ "
				      "node in codes mode (iattr[0] = 0)");
	vcb = &b->f->tensors[vq->w[PNB_W_VQ_CODEBOOK]];
	cb = pn_op_tensor(b, PNB_W_POLYFFN_CODEBOOK);
	if ((r = pn_op_want_w(b, PNB_W_POLYFFN_CODEBOOK, 2, vcb->shape[0], D)))
		return r;
	if (cb->shape[0] != vcb->shape[0])
		return pn_op_node_err(b, "codebook %s: %llu rows, its VQ node's has %llu",
				      pnb_str(b->f, cb->name), (unsigned long long)cb->shape[0],
				      (unsigned long long)vcb->shape[0]);
	return 0;
}

static int build_poly_ffn(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = pn_op_val(b, n->in[0]), *o = pn_op_val(b, n->out);
	const struct pnb_tensor *w2 = pn_op_tensor(b, PNB_W_FFN_W2);
	int gated = n->iattr[PNB_IA_POLYFFN_GATED];
	uint32_t D = o->width, ff, ff1;
	int r;

	ff = w2 && w2->ndim == 2 ? (uint32_t)w2->shape[0] : 0;
	if (!ff || w2->shape[0] > UINT32_MAX / 2)
		return pn_op_node_err(b, "W2: expected a matrix [ff, %u]", D);
	n->ff = ff;
	ff1 = gated ? 2 * ff : ff;
	n->d_in = n->d_out = D;
	n->flops_per_row = 2.0 * D * ff * (gated ? 3 : 2) +
			   6.0 * ff * n->iattr[PNB_IA_POLYFFN_DEGREE];
	if ((r = pn_op_want_width(b, n->out, "out", x->layout, D)) ||
	    (r = pn_op_want_w(b, PNB_W_FFN_W1, 2, D, ff1)) ||
	    (r = pn_op_opt_w(b, PNB_W_FFN_B1, ff1)) ||
	    (r = pn_op_want_w(b, PNB_W_FFN_W2, 2, ff, D)) || (r = pn_op_opt_w(b, PNB_W_FFN_B2, D)) ||
	    (r = pn_op_want_coefs(b, PNB_W_POLYFFN_COEFS, 0, n->iattr[PNB_IA_POLYFFN_DEGREE],
				  n->iattr[PNB_IA_POLYFFN_EVEN])))
		return r;
	if (!n->iattr[PNB_IA_POLYFFN_CODEBOOK])
		return pn_op_want_width(b, n->in[0], "in", 0, D);
	return build_codebook(b, D);
}

const struct pn_op pn_op_poly_ffn = {
	.code = PNB_OP_POLY_FFN, .name = "poly_ffn", .n_in = 1, .min_w = 5, .max_w = 6,
	.in = { "x" },
	.w = {
		[PNB_W_FFN_W1] = { "W1", "[D, ff], gated [D, 2ff] (as FFN)" },
		[PNB_W_FFN_B1] = { "b1", "[ff] (gated [2ff])", .optional = 1 },
		[PNB_W_FFN_W2] = { "W2", "[ff, D]" },
		[PNB_W_FFN_B2] = { "b2", "[D]", .optional = 1 },
		[PNB_W_POLYFFN_COEFS] = { "coefs", "series coefficients [ncoef]" },
		[PNB_W_POLYFFN_CODEBOOK] = { "codebook", "the VQ node's codebook [K, D] "
					     "(codebook mode only)" },
	},
	.ia = {
		[PNB_IA_POLYFFN_ACT] = { "act", "base activation of the series", PN_SLOT_ACT },
		[PNB_IA_POLYFFN_GATED] = { "gated", "1: series(gate) * up" },
		[PNB_IA_POLYFFN_DEGREE] = { "degree", "series degree 1..128" },
		[PNB_IA_POLYFFN_EVEN] = { "even", "1: even series on [-b, b]" },
		[PNB_IA_POLYFFN_CODEBOOK] = { "codebook", "1: in[0] is VQ codes" },
	},
	.fa = {
		[PNB_FA_POLYFFN_A] = { "a", "series range start", PN_SLOT_FLOAT },
		[PNB_FA_POLYFFN_B] = { "b", "series range end", PN_SLOT_FLOAT },
	},
	.check = check_poly_ffn,
	.build = build_poly_ffn,
	.ptx = "gemm_f32_rows gemm_f32 cheb_series polyffn_code_table vq_gather",
};
