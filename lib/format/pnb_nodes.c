// SPDX-License-Identifier: MIT
/*
 * pnb_nodes.c - the node table's checks: each op's arity, its indices, the
 * DAG order, and every attribute of the ops this reader implements, all
 * read from the op's descriptor (lib/ops/op.h), plus the op names.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "format/pnb_check.h"
#include "ops/op.h"

const char *pnb_op_name(uint32_t op)
{
	return pn_op_name(op);
}

/* produced[v]: 1 once a node (or the graph input) has defined value v. */
int pnb_check_node(const struct vctx *c, uint32_t i, const struct pnb_node *n,
		   uint8_t *produced)
{
	const int S = PNB_SEC_NODES;
	const struct pn_op *op;
	int r;

	r = pnb_check_str_ref(c, S, i, offsetof(struct pnb_node, name), "name", n->name);
	if (r)
		return r;
	if (n->op > PN_OP_MAX)
		return pnb_bad_entry(c, -ENOTSUP, S, i, offsetof(struct pnb_node, op),
				 "node '%s': op %" PRIu32 " (%s) is a PolyNet op this reader "
				 "does not implement, expected %u..%u or %u..%u",
				 c->f->strings + n->name, n->op, pnb_op_name(n->op),
				 PNB_OP_EMBED, PNB_OP_STD_END - 1, PNB_OP_POLY_FFN, PN_OP_MAX);
	op = pn_op_get(n->op);
	if (!op)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_node, op),
				 "node '%s': unknown op %" PRIu32 ", expected %u..%u",
				 c->f->strings + n->name, n->op, PNB_OP_EMBED, PNB_OP_STD_END - 1);
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
		if (t == PNB_NONE && !op->w[k].optional)
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
	r = op->check(c, i, n);
	if (r)
		return r;
	produced[n->out] = 1;
	return 0;
}

