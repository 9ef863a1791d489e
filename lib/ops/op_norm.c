// SPDX-License-Identifier: MIT
/* op_norm.c - LAYERNORM, RMSNORM, L2NORM, SOFTMAX: per-row normalisations. */
#include <errno.h>

#include "ops/op_impl.h"

_Static_assert(PNB_FA_L2NORM_EPS == PNB_FA_NORM_EPS, "check_eps reads one slot for all three");

/* eps >= 0 (finite: the reader checks every fattr): a negative one can make
 * the square root's argument negative, a NaN on every row. */
static int check_eps(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	float eps = n->fattr[PNB_FA_NORM_EPS];

	if (!(eps >= 0))
		return pnb_bad_entry(c, -EINVAL, PNB_SEC_NODES, i, PN_FA_OFF(PNB_FA_NORM_EPS),
				 "%s eps %g, expected >= 0", pn_op_name(n->op), eps);
	return 0;
}

static int build_layernorm(struct pn_build *b)
{
	uint32_t D = pn_op_val(b, b->n->in[0])->width;

	return pn_op_same_shape(b) ?: pn_op_want_w(b, PNB_W_NORM_GAMMA, 1, D, 0) ?:
	       pn_op_want_w(b, PNB_W_NORM_BETA, 1, D, 0);
}

static int build_rmsnorm(struct pn_build *b)
{
	uint32_t D = pn_op_val(b, b->n->in[0])->width;

	return pn_op_same_shape(b) ?: pn_op_want_w(b, PNB_W_NORM_GAMMA, 1, D, 0);
}

static int build_l2norm(struct pn_build *b)
{
	if (!(b->n->fattr[PNB_FA_L2NORM_EPS] >= 0))
		return pn_op_node_err(b, "fattr[0]: eps must be >= 0");
	return pn_op_same_shape(b);
}

const struct pn_op pn_op_layernorm = {
	.code = PNB_OP_LAYERNORM, .name = "layernorm", .n_in = 1, .min_w = 2, .max_w = 2,
	.in = { "x" },
	.w = { [PNB_W_NORM_GAMMA] = { "gamma", "scale [D]" },
	       [PNB_W_NORM_BETA] = { "beta", "shift [D]" } },
	.fa = { [PNB_FA_NORM_EPS] = { "eps", "added to the (biased) variance", PN_SLOT_FLOAT } },
	.check = check_eps,
	.build = build_layernorm,
	.ptx = "layernorm_f32",
};

const struct pn_op pn_op_rmsnorm = {
	.code = PNB_OP_RMSNORM, .name = "rmsnorm", .n_in = 1, .min_w = 1, .max_w = 1,
	.in = { "x" },
	.w = { [PNB_W_NORM_GAMMA] = { "gamma", "scale [D]" } },
	.fa = { [PNB_FA_NORM_EPS] = { "eps", "added to the mean square", PN_SLOT_FLOAT } },
	.check = check_eps,
	.build = build_rmsnorm,
	.ptx = "rmsnorm_f32",
};

const struct pn_op pn_op_l2norm = {
	.code = PNB_OP_L2NORM, .name = "l2norm", .n_in = 1,
	.in = { "x" },
	.fa = { [PNB_FA_L2NORM_EPS] = { "eps", "floor of the squared norm", PN_SLOT_FLOAT } },
	.check = check_eps,
	.build = build_l2norm,
	.ptx = "l2norm_f32",
};

const struct pn_op pn_op_softmax = {
	.code = PNB_OP_SOFTMAX, .name = "softmax", .n_in = 1,
	.in = { "x" },
	.check = pn_op_check_none,
	.build = pn_op_same_shape,
	.ptx = "softmax_f32",
};
