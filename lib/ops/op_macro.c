// SPDX-License-Identifier: MIT
/* op_macro.c - MACRO: x + a routed mixture of low-rank series experts. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

#include "ops/op_impl.h"

static int check_macro(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t E = n->iattr[PNB_IA_MACRO_EXPERTS], router = n->iattr[PNB_IA_MACRO_ROUTER];
	int32_t topk = n->iattr[PNB_IA_MACRO_TOPK];

	if (E < 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_MACRO_EXPERTS),
				 "macro experts %" PRId32 ", expected >= 1", E);
	if (router < 0 || router > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_MACRO_ROUTER),
				 "macro router %" PRId32 ", expected 0 (centroid) or 1 (linear)",
				 router);
	if (topk < 1 || topk > 2 || topk > E)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_MACRO_TOPK), "macro top-k %"
				 PRId32 ", expected 1 or 2 and at most the %" PRId32 " experts",
				 topk, E);
	if (router == 0 && n->n_w > PNB_W_MACRO_ROUTER_B && n->w[PNB_W_MACRO_ROUTER_B] != PNB_NONE)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_W_OFF(PNB_W_MACRO_ROUTER_B),
				 "macro centroid router with a bias w[1], expected PNB_NONE "
				 "(bias is for the linear gate)");
	if (!(n->fattr[PNB_FA_MACRO_TAU] > 0))
		return pnb_bad_entry(c, -EINVAL, S, i, PN_FA_OFF(PNB_FA_MACRO_TAU),
				 "macro router temperature %g, expected > 0",
				 n->fattr[PNB_FA_MACRO_TAU]);
	return pn_op_check_series(c, i, n, PNB_IA_MACRO_ACT, PNB_IA_MACRO_DEGREE,
				  PNB_IA_MACRO_EVEN, PNB_FA_MACRO_A, PNB_FA_MACRO_B);
}

static int build_macro(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = pn_op_val(b, n->in[0]);
	const struct pnb_tensor *w1 = pn_op_tensor(b, PNB_W_MACRO_W1);
	uint32_t D = x->width, E = (uint32_t)n->iattr[PNB_IA_MACRO_EXPERTS], R;
	int r;

	if ((uint64_t)E * D > UINT32_MAX || !w1 || w1->ndim != 2 || w1->shape[1] > UINT32_MAX / E)
		return pn_op_node_err(b, "W1: expected a matrix [%u experts * %u, rank]", E, D);
	R = (uint32_t)w1->shape[1];
	n->ff = R;
	n->d_in = n->d_out = D;
	n->flops_per_row = 2.0 * D * E + n->iattr[PNB_IA_MACRO_TOPK] *
			   (4.0 * D * R + 6.0 * R * n->iattr[PNB_IA_MACRO_DEGREE]);
	if ((r = pn_op_same_shape(b)))
		return r;
	if (n->iattr[PNB_IA_MACRO_ROUTER] == 0)
		r = pn_op_want_w(b, PNB_W_MACRO_ROUTER, 2, E, D);
	else
		r = pn_op_want_w(b, PNB_W_MACRO_ROUTER, 2, D, E) ?:
		    pn_op_opt_w(b, PNB_W_MACRO_ROUTER_B, E);
	return r ?: pn_op_want_w(b, PNB_W_MACRO_W1, 2, (uint64_t)E * D, R) ?:
	       pn_op_opt_w(b, PNB_W_MACRO_B1, (uint64_t)E * R) ?:
	       pn_op_want_coefs(b, PNB_W_MACRO_COEFS, E, n->iattr[PNB_IA_MACRO_DEGREE],
				n->iattr[PNB_IA_MACRO_EVEN]) ?:
	       pn_op_want_w(b, PNB_W_MACRO_W2, 2, (uint64_t)E * R, D) ?:
	       pn_op_opt_w(b, PNB_W_MACRO_B2, (uint64_t)E * D);
}

const struct pn_op pn_op_macro = {
	.code = PNB_OP_MACRO, .name = "macro", .n_in = 1, .min_w = 6, .max_w = 7,
	.in = { "x" },
	.w = {
		[PNB_W_MACRO_ROUTER] = { "router", "centroids [E, D] or gate Wg [D, E]" },
		[PNB_W_MACRO_ROUTER_B] = { "router_b", "gate bias [E] (linear router only)",
					   .optional = 1 },
		[PNB_W_MACRO_W1] = { "W1", "[E*D, r]" },
		[PNB_W_MACRO_B1] = { "b1", "[E*r]", .optional = 1 },
		[PNB_W_MACRO_COEFS] = { "coefs", "[E, ncoef]" },
		[PNB_W_MACRO_W2] = { "W2", "[E*r, D]" },
		[PNB_W_MACRO_B2] = { "b2", "[E*D]", .optional = 1 },
	},
	.ia = {
		[PNB_IA_MACRO_EXPERTS] = { "experts", "experts E >= 1" },
		[PNB_IA_MACRO_ROUTER] = { "router", "0 nearest centroid, 1 linear gate" },
		[PNB_IA_MACRO_TOPK] = { "topk", "experts per row, 1 or 2" },
		[PNB_IA_MACRO_DEGREE] = { "degree", "series degree" },
		[PNB_IA_MACRO_EVEN] = { "even", "1: even series" },
		[PNB_IA_MACRO_ACT] = { "act", "base activation of the series", PN_SLOT_ACT },
	},
	.fa = {
		[PNB_FA_MACRO_A] = { "a", "series range start", PN_SLOT_FLOAT },
		[PNB_FA_MACRO_B] = { "b", "series range end", PN_SLOT_FLOAT },
		[PNB_FA_MACRO_TAU] = { "tau", "router temperature > 0", PN_SLOT_FLOAT },
	},
	.check = check_macro,
	.build = build_macro,
	.ptx = "macro_route macro_expert_fwd",
};
