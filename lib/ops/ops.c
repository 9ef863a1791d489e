// SPDX-License-Identifier: MIT
/* ops.c - the op table: every implemented op's descriptor, by op code. */
#include "ops/op_impl.h"

static const struct pn_op *const table[PN_OP_MAX + 1] = {
	[PNB_OP_EMBED] = &pn_op_embed,
	[PNB_OP_LAYERNORM] = &pn_op_layernorm,
	[PNB_OP_RMSNORM] = &pn_op_rmsnorm,
	[PNB_OP_LINEAR] = &pn_op_linear,
	[PNB_OP_ACT] = &pn_op_act,
	[PNB_OP_ADD] = &pn_op_add,
	[PNB_OP_FFN] = &pn_op_ffn,
	[PNB_OP_ATTENTION] = &pn_op_attention,
	[PNB_OP_POOL_MEAN] = &pn_op_pool_mean,
	[PNB_OP_POOL_CLS] = &pn_op_pool_cls,
	[PNB_OP_L2NORM] = &pn_op_l2norm,
	[PNB_OP_SOFTMAX] = &pn_op_softmax,
	[PNB_OP_ROPE] = &pn_op_rope,
	[PNB_OP_ATTN_CACHE] = &pn_op_attn_cache,
	[PNB_OP_LOGITS] = &pn_op_logits,
	[PNB_OP_POLY_FFN] = &pn_op_poly_ffn,
	[PNB_OP_VQ] = &pn_op_vq,
	[PNB_OP_CQA] = &pn_op_cqa,
	[PNB_OP_MACRO] = &pn_op_macro,
};

/* PolyNet ops with a number but no descriptor yet (SPECS.md): named in errors. */
static const char *const reserved[] = {
	[PNB_OP_POLYGLU - PNB_OP_POLY_FFN] = "polyglu",
	[PNB_OP_POM - PNB_OP_POLY_FFN] = "pom",
	[PNB_OP_POLYSKETCH - PNB_OP_POLY_FFN] = "polysketch",
};

const struct pn_op *pn_op_get(uint32_t op)
{
	return op <= PN_OP_MAX ? table[op] : NULL;
}

const char *pn_op_name(uint32_t op)
{
	const struct pn_op *d = pn_op_get(op);

	if (d)
		return d->name;
	if (op >= PNB_OP_POLY_FFN && op - PNB_OP_POLY_FFN < sizeof(reserved) / sizeof(reserved[0]) &&
	    reserved[op - PNB_OP_POLY_FFN])
		return reserved[op - PNB_OP_POLY_FFN];
	return "?";
}

uint32_t pn_op_n_slots(const struct pn_op_slot *s, uint32_t cap)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < cap; k++)
		if (s[k].name)
			n = k + 1;
	return n;
}
