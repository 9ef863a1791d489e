// SPDX-License-Identifier: MIT
/*
 * pnb_nodes.c - the node table's checks: each op's arity, its indices, the
 * DAG order, and every attribute of the ops this reader implements (the
 * standard nodes and the PolyNet nodes 32..35), plus the op names.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "format/pnb_check.h"

/*
 * Arity of each standard op (uapi/pnb.h): inputs are all required; weights
 * w[0..min_w) are present unless their bit is in opt_w, and n_w may stop
 * anywhere from min_w to max_w (absent trailing optional weights).
 */
struct op_spec {
	const char *name;
	uint8_t n_in, min_w, max_w, opt_w;
};

static const struct op_spec op_specs[PNB_OP_STD_END] = {
	[PNB_OP_EMBED] = { "embed", 1, 1, 4, 0x0e },
	[PNB_OP_LAYERNORM] = { "layernorm", 1, 2, 2, 0 },
	[PNB_OP_RMSNORM] = { "rmsnorm", 1, 1, 1, 0 },
	[PNB_OP_LINEAR] = { "linear", 1, 1, 2, 0x02 },
	[PNB_OP_ACT] = { "act", 1, 0, 0, 0 },
	[PNB_OP_ADD] = { "add", 2, 0, 0, 0 },
	[PNB_OP_FFN] = { "ffn", 1, 3, 4, 0x0a },
	[PNB_OP_ATTENTION] = { "attention", 1, 0, 0, 0 },
	[PNB_OP_POOL_MEAN] = { "pool_mean", 1, 0, 0, 0 },
	[PNB_OP_POOL_CLS] = { "pool_cls", 1, 0, 0, 0 },
	[PNB_OP_L2NORM] = { "l2norm", 1, 0, 0, 0 },
	[PNB_OP_SOFTMAX] = { "softmax", 1, 0, 0, 0 },
};

/* The PolyNet ops this reader implements, PNB_OP_POLY_FFN..PNB_OP_MACRO (uapi/pnb.h). */
#define POLY_OP_LAST PNB_OP_MACRO
static const struct op_spec poly_op_specs[POLY_OP_LAST - PNB_OP_POLY_FFN + 1] = {
	[PNB_OP_POLY_FFN - PNB_OP_POLY_FFN] = { "poly_ffn", 1, 5, 6, 0x0a },
	[PNB_OP_VQ - PNB_OP_POLY_FFN] = { "vq", 1, 2, 3, 0 },
	[PNB_OP_CQA - PNB_OP_POLY_FFN] = { "cqa", 1, 1, 1, 0 },
	[PNB_OP_MACRO - PNB_OP_POLY_FFN] = { "macro", 1, 6, 7, 0x4a },
};

static const char *const poly_op_names[] = {
	"poly_ffn", "vq", "cqa", "macro", "polyglu", "pom", "polysketch",
};

const char *pnb_op_name(uint32_t op)
{
	if (op < PNB_OP_STD_END && op_specs[op].name)
		return op_specs[op].name;
	if (op >= PNB_OP_POLY_FFN && op - PNB_OP_POLY_FFN < sizeof(poly_op_names) / sizeof(char *))
		return poly_op_names[op - PNB_OP_POLY_FFN];
	return "?";
}


static int check_series(const struct vctx *c, uint32_t i, const struct pnb_node *n,
			uint32_t act_at, uint32_t deg_at, uint32_t even_at)
{
	const int S = PNB_SEC_NODES;
	const uint64_t ia = offsetof(struct pnb_node, iattr), fa = offsetof(struct pnb_node, fattr);
	const char *op = pnb_op_name(n->op);
	int32_t act = n->iattr[act_at], deg = n->iattr[deg_at], even = n->iattr[even_at];

	if (act != PNB_ACT_RELU && act != PNB_ACT_GELU && act != PNB_ACT_SILU &&
	    act != PNB_ACT_GELU_TANH)
		return pnb_bad_entry(c, -EINVAL, S, i, ia + 4 * act_at, "%s base activation %" PRId32
				 ", expected relu (1), gelu (2), silu (3) or gelu_tanh (5)",
				 op, act);
	if (deg < 1 || deg > (int32_t)PNB_POLY_MAX_DEGREE)
		return pnb_bad_entry(c, -EINVAL, S, i, ia + 4 * deg_at, "%s series degree %" PRId32
				 ", expected 1..%u", op, deg, PNB_POLY_MAX_DEGREE);
	if (even < 0 || even > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, ia + 4 * even_at, "%s even flag %" PRId32
				 ", expected 0 or 1", op, even);
	if (!(n->fattr[0] < n->fattr[1]))
		return pnb_bad_entry(c, -EINVAL, S, i, fa, "%s series range [%g, %g], expected "
				 "fattr[0] < fattr[1]", op, n->fattr[0], n->fattr[1]);
	if (even && deg % 2)
		return pnb_bad_entry(c, -EINVAL, S, i, ia + 4 * deg_at, "%s even series of odd "
				 "degree %" PRId32 ", expected an even degree", op, deg);
	if (even && n->fattr[0] != -n->fattr[1])
		return pnb_bad_entry(c, -EINVAL, S, i, fa, "%s even series on [%g, %g], expected "
				 "a symmetric range [-b, b]", op, n->fattr[0], n->fattr[1]);
	return 0;
}

/* The attributes of the PolyNet ops that are enums, flags or counts. */
static int check_poly_attrs(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	const uint64_t ia = offsetof(struct pnb_node, iattr), w = offsetof(struct pnb_node, w);
	int r;

	switch (n->op) {
	case PNB_OP_POLY_FFN:
		if ((r = check_series(c, i, n, 0, 2, 3)))
			return r;
		if (n->iattr[1] < 0 || n->iattr[1] > 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 4, "poly_ffn gated flag %" PRId32
					 ", expected 0 or 1", n->iattr[1]);
		if (n->iattr[4] < 0 || n->iattr[4] > 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 16, "poly_ffn codebook flag %"
					 PRId32 ", expected 0 or 1", n->iattr[4]);
		if (n->iattr[4] != (n->n_w == 6))
			return pnb_bad_entry(c, -EINVAL, S, i, w + 20, "poly_ffn codebook flag %" PRId32
					 " with n_w %" PRIu32 ", expected w[5] (codebook) exactly "
					 "in codebook mode", n->iattr[4], n->n_w);
		break;
	case PNB_OP_VQ:
		if (n->iattr[0] < 0 || n->iattr[0] > 2)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "vq mode %" PRId32 ", expected 0 "
					 "(codes), 1 (quantize) or 2 (cache)", n->iattr[0]);
		if ((n->iattr[0] == 2) != (n->n_w == 3))
			return pnb_bad_entry(c, -EINVAL, S, i, w + 8, "vq mode %" PRId32 " with n_w %"
					 PRIu32 ", expected w[2] (table) exactly in cache mode",
					 n->iattr[0], n->n_w);
		break;
	case PNB_OP_CQA:
		if (n->iattr[0] < 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "cqa heads %" PRId32 ", expected >= 1",
					 n->iattr[0]);
		if (n->iattr[1] < 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 4, "cqa clusters %" PRId32
					 ", expected >= 1", n->iattr[1]);
		if (n->iattr[2] < 0)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 8, "cqa top-k %" PRId32
					 ", expected 0 (plain) or >= 1 (improved)", n->iattr[2]);
		if (n->iattr[3] < 1 || n->iattr[3] > 64)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 12, "cqa k-means iterations %"
					 PRId32 ", expected 1..64", n->iattr[3]);
		break;
	case PNB_OP_MACRO:
		if (n->iattr[0] < 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "macro experts %" PRId32
					 ", expected >= 1", n->iattr[0]);
		if (n->iattr[1] < 0 || n->iattr[1] > 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 4, "macro router %" PRId32
					 ", expected 0 (centroid) or 1 (linear)", n->iattr[1]);
		if (n->iattr[2] < 1 || n->iattr[2] > 2 || n->iattr[2] > n->iattr[0])
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 8, "macro top-k %" PRId32
					 ", expected 1 or 2 and at most the %" PRId32 " experts",
					 n->iattr[2], n->iattr[0]);
		if (n->iattr[1] == 0 && n->n_w > 1 && n->w[1] != PNB_NONE)
			return pnb_bad_entry(c, -EINVAL, S, i, w + 4, "macro centroid router with a "
					 "bias w[1], expected PNB_NONE (bias is for the linear gate)");
		if (!(n->fattr[2] > 0))
			return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, fattr) + 8,
					 "macro router temperature %g, expected > 0", n->fattr[2]);
		return check_series(c, i, n, 5, 3, 4);
	}
	return 0;
}

/* The op-specific attributes that are enums or counts. */
static int check_node_attrs(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	const uint64_t ia = offsetof(struct pnb_node, iattr);
	const char *op = pnb_op_name(n->op);

	switch (n->op) {
	case PNB_OP_EMBED:
		if (n->iattr[0] == PNB_POS_LEARNED && n->w[1] == PNB_NONE)
			return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, w) + 4,
					 "embed with learned positions needs w[1] (position table)");
		if (n->iattr[0] == PNB_POS_SINCOS && n->w[2] == PNB_NONE)
			return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, w) + 8,
					 "embed with sin/cos positions needs w[2] (inv_freq)");
		if (n->iattr[0] < PNB_POS_NONE || n->iattr[0] > PNB_POS_SINCOS)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "embed position kind %" PRId32
					 ", expected 0 (none), 1 (learned) or 2 (sincos)",
					 n->iattr[0]);
		break;
	case PNB_OP_LINEAR:
	case PNB_OP_ACT:
	case PNB_OP_FFN:
		if (n->iattr[0] < 0 || n->iattr[0] >= PNB_ACT_COUNT)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "%s activation %" PRId32
					 ", expected 0..%d", op, n->iattr[0], PNB_ACT_COUNT - 1);
		if (n->op == PNB_OP_FFN && (n->iattr[1] < 0 || n->iattr[1] > 1))
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 4, "ffn gated flag %" PRId32
					 ", expected 0 or 1", n->iattr[1]);
		break;
	case PNB_OP_ATTENTION:
		if (n->iattr[0] < 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia, "attention heads %" PRId32
					 ", expected >= 1", n->iattr[0]);
		if (n->iattr[1] < 0 || n->iattr[1] > 1)
			return pnb_bad_entry(c, -EINVAL, S, i, ia + 4, "attention causal flag %" PRId32
					 ", expected 0 or 1", n->iattr[1]);
		break;
	default:
		return check_poly_attrs(c, i, n);
	}
	return 0;
}

/* produced[v]: 1 once a node (or the graph input) has defined value v. */
int pnb_check_node(const struct vctx *c, uint32_t i, const struct pnb_node *n,
		   uint8_t *produced)
{
	const int S = PNB_SEC_NODES;
	const struct op_spec *op;
	int r;

	r = pnb_check_str_ref(c, S, i, offsetof(struct pnb_node, name), "name", n->name);
	if (r)
		return r;
	if (n->op > POLY_OP_LAST)
		return pnb_bad_entry(c, -ENOTSUP, S, i, offsetof(struct pnb_node, op),
				 "node '%s': op %" PRIu32 " (%s) is a PolyNet op this reader "
				 "does not implement, expected %u..%u or %u..%u",
				 c->f->strings + n->name, n->op, pnb_op_name(n->op),
				 PNB_OP_EMBED, PNB_OP_STD_END - 1, PNB_OP_POLY_FFN, POLY_OP_LAST);
	if (n->op >= PNB_OP_POLY_FFN) {
		op = &poly_op_specs[n->op - PNB_OP_POLY_FFN];
	} else if (n->op < PNB_OP_EMBED || n->op >= PNB_OP_STD_END) {
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, op),
				 "node '%s': unknown op %" PRIu32 ", expected %u..%u",
				 c->f->strings + n->name, n->op, PNB_OP_EMBED, PNB_OP_STD_END - 1);
	} else {
		op = &op_specs[n->op];
	}
	if (n->pad)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, pad),
				 "pad 0x%" PRIx32 ", expected 0", n->pad);
	if (n->n_in != op->n_in)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, n_in),
				 "%s node has n_in %" PRIu32 ", expected %u", op->name, n->n_in,
				 op->n_in);
	if (n->n_w < op->min_w || n->n_w > op->max_w)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, n_w),
				 "%s node has n_w %" PRIu32 ", expected %u..%u", op->name, n->n_w,
				 op->min_w, op->max_w);
	for (uint32_t k = 0; k < PNB_NODE_MAX_IN; k++) {
		uint64_t off = offsetof(struct pnb_node, in) + 4 * k;
		uint32_t v = n->in[k];

		if (k >= n->n_in) {
			if (v != PNB_NONE)
				return pnb_bad_entry(c, -EINVAL, S, i, off, "in[%" PRIu32 "] = %" PRIu32
						 " past n_in, expected PNB_NONE", k, v);
			continue;
		}
		if (v >= c->f->n_values)
			return pnb_bad_entry(c, -EINVAL, S, i, off, "in[%" PRIu32 "] = %" PRIu32
					 " out of range, expected < %" PRIu32 " (values)",
					 k, v, c->f->n_values);
		if (!produced[v])
			return pnb_bad_entry(c, -EINVAL, S, i, off, "in[%" PRIu32 "] = value %" PRIu32
					 " '%s' used before any earlier node produces it",
					 k, v, c->f->strings + c->f->values[v].name);
	}
	for (uint32_t k = 0; k < PNB_NODE_MAX_W; k++) {
		uint64_t off = offsetof(struct pnb_node, w) + 4 * k;
		uint32_t t = n->w[k];

		if (k >= n->n_w) {
			if (t != PNB_NONE)
				return pnb_bad_entry(c, -EINVAL, S, i, off, "w[%" PRIu32 "] = %" PRIu32
						 " past n_w, expected PNB_NONE", k, t);
			continue;
		}
		if (t == PNB_NONE && !(op->opt_w & (1u << k)))
			return pnb_bad_entry(c, -EINVAL, S, i, off, "%s node: w[%" PRIu32
					 "] is PNB_NONE, expected a tensor (not optional)",
					 op->name, k);
		if (t != PNB_NONE && t >= c->f->n_tensors)
			return pnb_bad_entry(c, -EINVAL, S, i, off, "w[%" PRIu32 "] = %" PRIu32
					 " out of range, expected < %" PRIu32 " (tensors)",
					 k, t, c->f->n_tensors);
	}
	if (n->out >= c->f->n_values)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, out),
				 "out = %" PRIu32 " out of range, expected < %" PRIu32 " (values)",
				 n->out, c->f->n_values);
	if (n->out == c->h.input)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, out),
				 "out = value %" PRIu32 " is the graph input, expected a new value",
				 n->out);
	if (produced[n->out])
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, out),
				 "out = value %" PRIu32 " '%s' already produced by an earlier node, "
				 "expected each value produced once", n->out,
				 c->f->strings + c->f->values[n->out].name);
	for (uint32_t k = 0; k < PNB_NODE_MAX_ATTR; k++)
		if (!isfinite(n->fattr[k]))
			return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, fattr) + 4 * k,
					 "fattr[%" PRIu32 "] is not finite", k);
	r = check_node_attrs(c, i, n);
	if (r)
		return r;
	produced[n->out] = 1;
	return 0;
}

