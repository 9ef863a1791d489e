// SPDX-License-Identifier: MIT
/* op_linear.c - LINEAR, ACT, ADD: the elementwise and single-GEMM ops. */
#include <errno.h>
#include <inttypes.h>

#include "ops/op_impl.h"

static int check_linear(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	return pn_op_check_act_enum(c, i, n, PNB_IA_LINEAR_ACT);
}

static int check_act(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	return pn_op_check_act_enum(c, i, n, PNB_IA_ACT_ACT);
}

static int build_linear(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = pn_op_val(b, n->in[0]);

	n->d_in = x->width;
	n->d_out = pn_op_val(b, n->out)->width;
	n->flops_per_row = 2.0 * n->d_in * n->d_out;
	return pn_op_build_act(b, n->iattr[PNB_IA_LINEAR_ACT]) ?:
	       pn_op_want_width(b, n->in[0], "in", 0, n->d_in) ?:
	       pn_op_want_width(b, n->out, "out", x->layout, n->d_out) ?:
	       pn_op_want_gemm_w(b, PNB_W_LINEAR_W, PNB_W_LINEAR_W_SCALE, PNB_W_LINEAR_X_QP,
				 n->d_in, n->d_out) ?:
	       pn_op_opt_w(b, PNB_W_LINEAR_B, n->d_out);
}

static int build_act(struct pn_build *b)
{
	return pn_op_build_act(b, b->n->iattr[PNB_IA_ACT_ACT]) ?: pn_op_same_shape(b);
}

/* b SEQ under a TOKENS a: b's row is added to every token of its sequence. */
static int build_add(struct pn_build *b)
{
	const struct pnb_value *x = pn_op_val(b, b->n->in[0]), *y = pn_op_val(b, b->n->in[1]);

	return pn_op_same_shape(b) ?:
	       pn_op_want_width(b, b->n->in[1], "in[1]", x->layout == PNB_LAYOUT_TOKENS &&
				y->layout == PNB_LAYOUT_SEQ ? PNB_LAYOUT_SEQ : x->layout,
				x->width);
}

const struct pn_op pn_op_linear = {
	.code = PNB_OP_LINEAR, .name = "linear", .n_in = 1, .min_w = 1, .max_w = 4,
	.in = { "x" },
	.w = { [PNB_W_LINEAR_W] = { "W", "weight [in, out]: F32, BF16, or I8 with W_scale" },
	       [PNB_W_LINEAR_B] = { "b", "bias [out]", .optional = 1 },
	       [PNB_W_LINEAR_W_SCALE] = { "W_scale", "I8 W: per-column scales [out]",
					  .optional = 1 },
	       [PNB_W_LINEAR_X_QP] = { "x_qp", "I8 W: static {scale, zero} of x [2]",
				       .optional = 1 } },
	.ia = { [PNB_IA_LINEAR_ACT] = { "act", "enum pnb_act after the bias", PN_SLOT_ACT } },
	.check = check_linear,
	.build = build_linear,
	.ptx = "gemm_f32_rows gemm_f32 gemm_bf16",
};

const struct pn_op pn_op_act = {
	.code = PNB_OP_ACT, .name = "act", .n_in = 1,
	.in = { "x" },
	.ia = { [PNB_IA_ACT_ACT] = { "act", "enum pnb_act", PN_SLOT_ACT } },
	.check = check_act,
	.build = build_act,
	.ptx = "act_f32",
};

const struct pn_op pn_op_add = {
	.code = PNB_OP_ADD, .name = "add", .n_in = 2,
	.in = { "a", "b" },
	.check = pn_op_check_none,
	.build = build_add,
	.ptx = "add_f32 add_rows_f32",
};
