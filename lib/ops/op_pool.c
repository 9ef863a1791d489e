// SPDX-License-Identifier: MIT
/* op_pool.c - POOL_MEAN, POOL_CLS: a TOKENS value to one row per sequence. */
#include "ops/op_impl.h"

static int build_pool(struct pn_build *b)
{
	uint32_t D = pn_op_val(b, b->n->in[0])->width;

	b->n->d_in = b->n->d_out = D;
	return pn_op_want_width(b, b->n->in[0], "in", PNB_LAYOUT_TOKENS, D) ?:
	       pn_op_want_width(b, b->n->out, "out", PNB_LAYOUT_SEQ, D);
}

const struct pn_op pn_op_pool_mean = {
	.code = PNB_OP_POOL_MEAN, .name = "pool_mean", .n_in = 1,
	.in = { "x" },
	.check = pn_op_check_none,
	.build = build_pool,
	.ptx = "pool_mean_f32",
};

const struct pn_op pn_op_pool_cls = {
	.code = PNB_OP_POOL_CLS, .name = "pool_cls", .n_in = 1,
	.in = { "x" },
	.check = pn_op_check_none,
	.build = build_pool,
	.ptx = "pool_cls_f32",
};
