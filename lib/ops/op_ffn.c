// SPDX-License-Identifier: MIT
/* op_ffn.c - FFN: act(x W1 + b1) W2 + b2, plain or gated (uapi/pnb.h). */
#include <errno.h>
#include <inttypes.h>

#include "ops/op_impl.h"

static int check_ffn(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	int r = pn_op_check_act_enum(c, i, n, PNB_IA_FFN_ACT);

	if (r)
		return r;
	if (n->iattr[PNB_IA_FFN_GATED] < 0 || n->iattr[PNB_IA_FFN_GATED] > 1)
		return pnb_bad_entry(c, -EINVAL, PNB_SEC_NODES, i, PN_IA_OFF(PNB_IA_FFN_GATED),
				 "ffn gated flag %" PRId32 ", expected 0 or 1",
				 n->iattr[PNB_IA_FFN_GATED]);
	return 0;
}

static int build_ffn(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_tensor *w2;
	uint32_t D = pn_op_val(b, n->in[0])->width, ff, ff1;
	int r;

	if ((r = pn_op_build_act(b, n->iattr[PNB_IA_FFN_ACT])) || (r = pn_op_same_shape(b)))
		return r;
	if (!pn_op_tensor(b, PNB_W_FFN_W1) || !(w2 = pn_op_tensor(b, PNB_W_FFN_W2)))
		return pn_op_node_err(b, "W1 (w[0]) and W2 (w[2]) are required");
	ff = w2->ndim == 2 ? (uint32_t)w2->shape[0] : 0;
	if (!ff || w2->shape[0] > UINT32_MAX / 2)
		return pn_op_node_err(b, "W2: expected a matrix [ff, %u]", D);
	n->ff = ff;
	n->iattr[PNB_IA_FFN_GATED] = !!n->iattr[PNB_IA_FFN_GATED];
	ff1 = n->iattr[PNB_IA_FFN_GATED] ? 2 * ff : ff;
	n->flops_per_row = 2.0 * D * ff * (n->iattr[PNB_IA_FFN_GATED] ? 3 : 2);
	return pn_op_want_gemm_w(b, PNB_W_FFN_W1, PNB_W_FFN_W1_SCALE, PNB_W_FFN_X_QP, D, ff1) ?:
	       pn_op_opt_w(b, PNB_W_FFN_B1, ff1) ?:
	       pn_op_want_gemm_w(b, PNB_W_FFN_W2, PNB_W_FFN_W2_SCALE, PNB_W_FFN_H_QP, ff, D) ?:
	       pn_op_opt_w(b, PNB_W_FFN_B2, D);
}

const struct pn_op pn_op_ffn = {
	.code = PNB_OP_FFN, .name = "ffn", .n_in = 1, .min_w = 3, .max_w = 8,
	.in = { "x" },
	.w = {
		[PNB_W_FFN_W1] = { "W1", "[D, ff], gated [D, 2ff] = [gate | up]" },
		[PNB_W_FFN_B1] = { "b1", "[ff] (gated [2ff])", .optional = 1 },
		[PNB_W_FFN_W2] = { "W2", "[ff, D]" },
		[PNB_W_FFN_B2] = { "b2", "[D]", .optional = 1 },
		[PNB_W_FFN_W1_SCALE] = { "W1_scale", "I8 W1: per-column scales", .optional = 1 },
		[PNB_W_FFN_W2_SCALE] = { "W2_scale", "I8 W2: per-column scales [D]",
					 .optional = 1 },
		[PNB_W_FFN_X_QP] = { "x_qp", "I8 W1: static {scale, zero} of x [2]",
				     .optional = 1 },
		[PNB_W_FFN_H_QP] = { "h_qp", "I8 W2: static {scale, zero} of the hidden [2]",
				     .optional = 1 },
	},
	.ia = {
		[PNB_IA_FFN_ACT] = { "act", "enum pnb_act of the hidden layer", PN_SLOT_ACT },
		[PNB_IA_FFN_GATED] = { "gated", "1: act(gate) * up (SwiGLU with silu)" },
	},
	.check = check_ffn,
	.build = build_ffn,
	.ptx = "gemm_f32_rows gemm_f32 glu_f32",
};
