// SPDX-License-Identifier: MIT
/*
 * graph.c - from a validated .pnb to an executable DAG.
 *
 * lib/pnb.c has already checked every index, enum and the topological
 * order; here we check what only the op's meaning tells: that each weight
 * has the shape the values around it require. An error names the node
 * (index and name), the weight or value, and the shape expected.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/packed.h"
#include "exec/graph.h"

struct build {
	const struct pnb_file *f;
	struct pn_gnode *n;
	struct pn_err *err;
};

__attribute__((format(printf, 2, 3)))
static int node_err(struct build *b, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return pn_errf(b->err, -EINVAL, "%s: node %u '%s' (%s): %s",
		       b->f->path, b->n->index, b->n->name,
		       pnb_op_name(b->n->op), detail);
}

static const struct pnb_value *val(struct build *b, uint32_t v)
{
	return &b->f->values[v];
}

/* The weight in slot i must be F32 with ndim dims equal to d0 (and d1). */
static int want_w(struct build *b, uint32_t i, uint32_t ndim, uint64_t d0,
		  uint64_t d1)
{
	const struct pnb_node *pn = &b->f->nodes[b->n->index];
	const struct pnb_tensor *t;

	if (pn->w[i] == PNB_NONE)
		return node_err(b, "weight slot %u missing (expected %llu x %llu)",
				i, (unsigned long long)d0, (unsigned long long)d1);
	t = &b->f->tensors[pn->w[i]];
	if (t->dtype != PNB_DTYPE_F32)
		return node_err(b, "weight %s: dtype %s, expected F32",
				pnb_str(b->f, t->name), pnb_dtype_name(t->dtype));
	if (ndim == 1 && pnb_tensor_elems(t) != d0)
		return node_err(b, "weight %s: expected %llu elements, has %llu",
				pnb_str(b->f, t->name), (unsigned long long)d0,
				(unsigned long long)pnb_tensor_elems(t));
	if (ndim == 2 && (t->ndim != 2 || t->shape[0] != d0))
		return node_err(b, "weight %s: expected a matrix of %llu rows, has %u dims, %llu rows",
				pnb_str(b->f, t->name), (unsigned long long)d0,
				t->ndim, (unsigned long long)t->shape[0]);
	if (ndim == 2 && t->shape[1] != d1)
		return node_err(b, "weight %s: expected %llu columns, has %llu",
				pnb_str(b->f, t->name), (unsigned long long)d1,
				(unsigned long long)t->shape[1]);
	b->n->w[i] = pnb_tensor_data(b->f, pn->w[i]);
	return 0;
}

/* An optional weight: absent is fine, present must match. */
static int opt_w(struct build *b, uint32_t i, uint64_t d0)
{
	if (b->f->nodes[b->n->index].w[i] == PNB_NONE)
		return 0;
	return want_w(b, i, 1, d0, 0);
}

static int want_width(struct build *b, uint32_t v, const char *what,
		      uint32_t layout, uint32_t width)
{
	const struct pnb_value *pv = val(b, v);

	if (pv->dtype != PNB_DTYPE_F32)
		return node_err(b, "value %s: dtype %s, expected F32", what,
				pnb_dtype_name(pv->dtype));
	if (layout && pv->layout != layout)
		return node_err(b, "value %s: layout %s, expected %s", what,
				pnb_layout_name(pv->layout), pnb_layout_name(layout));
	if (pv->width != width)
		return node_err(b, "value %s: width %u, expected %u", what,
				pv->width, width);
	return 0;
}

/* Output keeps the input's layout unless the op changes it. */
static int same_shape(struct build *b)
{
	const struct pnb_value *x = val(b, b->n->in[0]);

	b->n->d_in = b->n->d_out = x->width;
	return want_width(b, b->n->out, "out", x->layout, x->width) ?:
	       want_width(b, b->n->in[0], "in", 0, x->width);
}

/*
 * Sin/cos positions depend on t alone: tabulate them once for every
 * position the model accepts, with the kernel's own formula (a float32
 * angle, sinf/cosf), so a run adds a row instead of calling sinf/cosf D
 * times per position; the executor then runs the node as LEARNED.
 */
static int tabulate_sincos(struct build *b, const float *inv, uint32_t D)
{
	uint32_t T = b->f->hdr->max_tokens, half = D / 2;
	float *p;

	p = malloc((size_t)T * D * sizeof(float));
	if (!p)
		return pn_errf(b->err, -ENOMEM, "out of memory");
	for (uint32_t t = 0; t < T; t++) {
		for (uint32_t i = 0; i < half; i++) {
			float a = (float)t * inv[i];

			p[(size_t)t * D + i] = sinf(a);
			p[(size_t)t * D + half + i] = cosf(a);
		}
	}
	b->n->pos_table = p;
	return 0;
}

static int build_embed(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_node *pn = &b->f->nodes[n->index];
	const struct pnb_tensor *table;
	const struct pnb_value *ids = val(b, n->in[0]);
	uint32_t D = val(b, n->out)->width;
	int r;

	if (ids->dtype != PNB_DTYPE_I32 || ids->layout != PNB_LAYOUT_TOKENS ||
	    ids->width != 1)
		return node_err(b, "input ids: expected I32, TOKENS, width 1");
	if (pn->w[0] == PNB_NONE)
		return node_err(b, "token table (w[0]) missing");
	table = &b->f->tensors[pn->w[0]];
	if ((r = want_w(b, 0, 2, table->shape[0], D)))
		return r;
	if (table->shape[0] > INT32_MAX)
		return node_err(b, "token table: %llu rows, more than ids can name",
				(unsigned long long)table->shape[0]);
	n->d_in = 1;
	n->d_out = D;
	switch (n->iattr[0]) {
	case PNB_POS_NONE:
		break;
	case PNB_POS_LEARNED:
		if (pn->w[1] == PNB_NONE)
			return node_err(b, "position table (w[1]) missing");
		r = want_w(b, 1, 2, b->f->tensors[pn->w[1]].shape[0], D);
		if (!r && b->f->tensors[pn->w[1]].shape[0] < b->f->hdr->max_tokens)
			return node_err(b, "position table: %llu rows, fewer than max_tokens %u",
					(unsigned long long)b->f->tensors[pn->w[1]].shape[0],
					b->f->hdr->max_tokens);
		break;
	case PNB_POS_SINCOS:
		if (D % 2)
			return node_err(b, "sincos positions need an even width, out has %u", D);
		r = want_w(b, 2, 1, D / 2, 0) ?: tabulate_sincos(b, n->w[2], D);
		break;
	default:
		return node_err(b, "iattr[0]: unknown position kind %d (expected 0..2)",
				n->iattr[0]);
	}
	if (r)
		return r;
	if (pn->w[3] != PNB_NONE && (r = want_w(b, 3, 1, D, 0)))
		return r;
	if (!isfinite(n->fattr[0]) || n->fattr[0] == 0.0f)
		return node_err(b, "fattr[0]: token scale must be finite and non-zero");
	return want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

static int check_act(struct build *b, int32_t act)
{
	if (act < 0 || act >= PNB_ACT_COUNT)
		return node_err(b, "iattr[0]: unknown activation %d (expected 0..%d)",
				act, PNB_ACT_COUNT - 1);
	return 0;
}

/* ---- PolyNet nodes (uapi/pnb.h, docs/polynodes.md) ----------------------- */

static const struct pnb_tensor *tensor(struct build *b, uint32_t slot)
{
	uint32_t t = b->f->nodes[b->n->index].w[slot];

	return t == PNB_NONE ? NULL : &b->f->tensors[t];
}

/* Weight slot holds only finite numbers: a NaN in a series or codebook would spread silently. */
static int finite_w(struct build *b, uint32_t slot, const char *what)
{
	const struct pnb_tensor *t = tensor(b, slot);
	uint64_t n = pnb_tensor_elems(t);

	for (uint64_t i = 0; i < n; i++)
		if (!isfinite(b->n->w[slot][i]))
			return node_err(b, "%s %s: element %llu is not finite", what,
					pnb_str(b->f, t->name), (unsigned long long)i);
	return 0;
}

/* The series' coefficients: E rows (E = 0: a vector) of ncoef. */
static int want_coefs(struct build *b, uint32_t slot, uint32_t E, int32_t degree, int32_t even)
{
	uint32_t ncoef = even ? (uint32_t)degree / 2 + 1 : (uint32_t)degree + 1;

	return (E ? want_w(b, slot, 2, E, ncoef) : want_w(b, slot, 1, ncoef, 0)) ?:
	       finite_w(b, slot, "series coefficients");
}

/* The node (before this one) whose output is value v, or NULL (the graph input). */
static const struct pnb_node *producer(struct build *b, uint32_t v)
{
	for (uint32_t j = b->n->index; j-- > 0;)
		if (b->f->nodes[j].out == v)
			return &b->f->nodes[j];
	return NULL;
}

static int build_poly_ffn(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = val(b, n->in[0]), *o = val(b, n->out);
	const struct pnb_tensor *w2 = tensor(b, 2), *cb;
	int gated = n->iattr[1], codebook = n->iattr[4];
	uint32_t D = o->width, ff;
	int r;

	ff = w2 && w2->ndim == 2 ? (uint32_t)w2->shape[0] : 0;
	if (!ff || w2->shape[0] > UINT32_MAX / 2)
		return node_err(b, "W2: expected a matrix [ff, %u]", D);
	n->ff = ff;
	n->d_in = n->d_out = D;
	n->flops_per_row = 2.0 * D * ff * (gated ? 3 : 2) + 6.0 * ff * n->iattr[2];
	if ((r = want_width(b, n->out, "out", x->layout, D)) ||
	    (r = want_w(b, 0, 2, D, gated ? 2 * ff : ff)) || (r = opt_w(b, 1, gated ? 2 * ff : ff)) ||
	    (r = want_w(b, 2, 2, ff, D)) || (r = opt_w(b, 3, D)) ||
	    (r = want_coefs(b, 4, 0, n->iattr[2], n->iattr[3])))
		return r;
	if (!codebook)
		return want_width(b, n->in[0], "in", 0, D);
	/* Codebook mode: in[0] is a VQ node's codes, w[5] that node's codebook (same K). */
	{
		const struct pnb_node *vq = producer(b, n->in[0]);
		const struct pnb_tensor *vcb;

		if (x->dtype != PNB_DTYPE_I32 || x->width != 1 || !vq || vq->op != PNB_OP_VQ ||
		    vq->iattr[0] != 0)
			return node_err(b, "codebook mode: in[0] must be the I32 codes of a VQ "
					"node in codes mode (iattr[0] = 0)");
		vcb = &b->f->tensors[vq->w[0]];
		cb = tensor(b, 5);
		if ((r = want_w(b, 5, 2, vcb->shape[0], D)))
			return r;
		if (cb->shape[0] != vcb->shape[0])
			return node_err(b, "codebook %s: %llu rows, its VQ node's has %llu",
					pnb_str(b->f, cb->name), (unsigned long long)cb->shape[0],
					(unsigned long long)vcb->shape[0]);
	}
	return 0;
}

static int build_vq(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = val(b, n->in[0]), *o = val(b, n->out);
	const struct pnb_tensor *cb = tensor(b, 0);
	uint32_t D = x->width;
	uint64_t K = cb->ndim == 2 ? cb->shape[0] : 0;
	int r;

	if (!K || K > INT32_MAX)
		return node_err(b, "codebook: expected a matrix [K, %u], K <= 2^31 - 1", D);
	n->d_in = D;
	n->ff = (uint32_t)K;
	n->flops_per_row = 2.0 * D * K;
	if ((r = want_width(b, n->in[0], "in", 0, D)) || (r = want_w(b, 0, 2, K, D)) ||
	    (r = want_w(b, 1, 1, K, 0)) || (r = finite_w(b, 0, "codebook")))
		return r;
	/* The norms are derived data: a stale or corrupt vector would pick wrong codes. */
	for (uint64_t k = 0; k < K; k++) {
		double s = 0;

		for (uint32_t i = 0; i < D; i++)
			s += (double)n->w[0][k * D + i] * n->w[0][k * D + i];
		if (!(fabs(n->w[1][k] - s) <= 1e-4 * (1 + s)))
			return node_err(b, "norms: entry %llu is %g, ||codebook row||^2 is %g",
					(unsigned long long)k, n->w[1][k], s);
	}
	switch (n->iattr[0]) {
	case 0:
		n->d_out = 1;
		if (o->dtype != PNB_DTYPE_I32 || o->width != 1 || o->layout != x->layout)
			return node_err(b, "out: codes mode writes I32 width 1 in the input's layout");
		return 0;
	case 1:
		n->d_out = D;
		return want_width(b, n->out, "out", x->layout, D);
	}
	n->d_out = o->width;
	return want_width(b, n->out, "out", x->layout, o->width) ?:
	       want_w(b, 2, 2, K, o->width);
}

static int build_cqa(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_tensor *pl = tensor(b, 0);
	uint32_t D = val(b, n->out)->width, hd;
	int r;

	n->heads = (uint32_t)n->iattr[0];
	n->d_in = val(b, n->in[0])->width;
	n->d_out = D;
	if (D % n->heads)
		return node_err(b, "iattr[0]: %d heads do not divide width %u", n->iattr[0], D);
	hd = D / n->heads;
	if (!(n->fattr[0] > 0))
		return node_err(b, "fattr[0]: scale must be finite and > 0");
	if (pl->ndim != 2 || pl->shape[0] < 1 || pl->shape[0] > 64)
		return node_err(b, "planes %s: expected [bits, %u] with 1..64 bits",
				pnb_str(b->f, pl->name), hd);
	/* hashing: bits dot products of hd per query and head */
	n->flops_per_row = 2.0 * pl->shape[0] * D;
	if ((r = want_w(b, 0, 2, pl->shape[0], hd)) || (r = finite_w(b, 0, "planes")))
		return r;
	return want_width(b, n->in[0], "qkv", PNB_LAYOUT_TOKENS, 3 * D) ?:
	       want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

static int build_macro(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = val(b, n->in[0]);
	const struct pnb_tensor *w1 = tensor(b, 2);
	uint32_t D = x->width, E = (uint32_t)n->iattr[0], R;
	int r;

	if ((uint64_t)E * D > UINT32_MAX || !w1 || w1->ndim != 2 || w1->shape[1] > UINT32_MAX / E)
		return node_err(b, "W1: expected a matrix [%u experts * %u, rank]", E, D);
	R = (uint32_t)w1->shape[1];
	n->ff = R;
	n->d_in = n->d_out = D;
	n->flops_per_row = 2.0 * D * E + n->iattr[2] * (4.0 * D * R + 6.0 * R * n->iattr[3]);
	if ((r = same_shape(b)))
		return r;
	if (n->iattr[1] == 0)
		r = want_w(b, 0, 2, E, D);
	else
		r = want_w(b, 0, 2, D, E) ?: opt_w(b, 1, E);
	return r ?: want_w(b, 2, 2, (uint64_t)E * D, R) ?: opt_w(b, 3, (uint64_t)E * R) ?:
	       want_coefs(b, 4, E, n->iattr[3], n->iattr[4]) ?:
	       want_w(b, 5, 2, (uint64_t)E * R, D) ?: opt_w(b, 6, (uint64_t)E * D);
}

static int build_node(struct build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = val(b, n->in[0]);
	uint32_t D, ff;
	int r;

	switch (n->op) {
	case PNB_OP_EMBED:
		return build_embed(b);
	case PNB_OP_LAYERNORM:
		return same_shape(b) ?: want_w(b, 0, 1, x->width, 0) ?:
		       want_w(b, 1, 1, x->width, 0);
	case PNB_OP_RMSNORM:
		return same_shape(b) ?: want_w(b, 0, 1, x->width, 0);
	case PNB_OP_LINEAR:
		n->d_in = x->width;
		n->d_out = val(b, n->out)->width;
		n->flops_per_row = 2.0 * n->d_in * n->d_out;
		return check_act(b, n->iattr[0]) ?:
		       want_width(b, n->in[0], "in", 0, n->d_in) ?:
		       want_width(b, n->out, "out", x->layout, n->d_out) ?:
		       want_w(b, 0, 2, n->d_in, n->d_out) ?: opt_w(b, 1, n->d_out);
	case PNB_OP_ACT:
		return check_act(b, n->iattr[0]) ?: same_shape(b);
	case PNB_OP_ADD:	/* b SEQ under a TOKENS: broadcast over the tokens */
		return same_shape(b) ?:
		       want_width(b, n->in[1], "in[1]", x->layout == PNB_LAYOUT_TOKENS &&
				  val(b, n->in[1])->layout == PNB_LAYOUT_SEQ ?
				  PNB_LAYOUT_SEQ : x->layout, x->width);
	case PNB_OP_FFN: {
		const struct pnb_tensor *w2;
		const struct pnb_node *pn = &b->f->nodes[n->index];

		if ((r = check_act(b, n->iattr[0])) || (r = same_shape(b)))
			return r;
		if (pn->w[0] == PNB_NONE || pn->w[2] == PNB_NONE)
			return node_err(b, "W1 (w[0]) and W2 (w[2]) are required");
		w2 = &b->f->tensors[pn->w[2]];
		D = x->width;
		ff = w2->ndim == 2 ? (uint32_t)w2->shape[0] : 0;
		if (!ff || w2->shape[0] > UINT32_MAX / 2)
			return node_err(b, "W2: expected a matrix [ff, %u]", x->width);
		n->ff = ff;
		n->iattr[1] = !!n->iattr[1];
		n->flops_per_row = 2.0 * D * ff * (n->iattr[1] ? 3 : 2);
		return want_w(b, 0, 2, D, n->iattr[1] ? 2 * ff : ff) ?:
		       opt_w(b, 1, n->iattr[1] ? 2 * ff : ff) ?:
		       want_w(b, 2, 2, ff, D) ?: opt_w(b, 3, D);
	}
	case PNB_OP_ATTENTION:
		D = val(b, n->out)->width;
		n->heads = (uint32_t)n->iattr[0];
		n->d_in = x->width;
		n->d_out = D;
		if (n->iattr[0] <= 0 || D % n->heads)
			return node_err(b, "iattr[0]: %d heads do not divide width %u",
					n->iattr[0], D);
		if (!isfinite(n->fattr[0]) || n->fattr[0] <= 0)
			return node_err(b, "fattr[0]: scale must be finite and > 0");
		return want_width(b, n->in[0], "qkv", PNB_LAYOUT_TOKENS, 3 * D) ?:
		       want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
	case PNB_OP_POOL_MEAN:
	case PNB_OP_POOL_CLS:
		n->d_in = n->d_out = x->width;
		return want_width(b, n->in[0], "in", PNB_LAYOUT_TOKENS, x->width) ?:
		       want_width(b, n->out, "out", PNB_LAYOUT_SEQ, x->width);
	case PNB_OP_L2NORM:
		if (!(n->fattr[0] >= 0))
			return node_err(b, "fattr[0]: eps must be >= 0");
		return same_shape(b);
	case PNB_OP_SOFTMAX:
		return same_shape(b);
	case PNB_OP_POLY_FFN:
		return build_poly_ffn(b);
	case PNB_OP_VQ:
		return build_vq(b);
	case PNB_OP_CQA:
		return build_cqa(b);
	case PNB_OP_MACRO:
		return build_macro(b);
	}
	return node_err(b, "op %u is not implemented by the CPU backend", n->op);
}

/*
 * Weights of the GEMMs that small batches run through packed.h: a copy in
 * oneDNN's layout, made once per model. A failure only costs the fast path.
 */
static void pack_weights(struct pn_gnode *n)
{
	if (n->op == PNB_OP_LINEAR) {
		n->packed[0] = pn_packed_w_new(n->w[0], n->d_in, n->d_out);
	} else if (n->op == PNB_OP_FFN && !n->iattr[1]) {
		n->packed[0] = pn_packed_w_new(n->w[0], n->d_in, n->ff);
		n->packed[1] = pn_packed_w_new(n->w[2], n->ff, n->d_in);
	}
}

int pn_graph_build(const struct pnb_file *f, struct pn_graph **out,
		   struct pn_err *err)
{
	struct pn_graph *g;
	int r = 0;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return pn_errf(err, -ENOMEM, "out of memory");
	g->file = f;
	g->n_nodes = f->n_nodes;
	g->n_values = f->n_values;
	g->values = f->values;
	g->input = f->hdr->input;
	g->output = f->hdr->output;
	g->nodes = calloc(f->n_nodes ? f->n_nodes : 1, sizeof(*g->nodes));
	g->last_use = malloc((f->n_values ? f->n_values : 1) * sizeof(uint32_t));
	if (!g->nodes || !g->last_use) {
		pn_graph_free(g);
		return pn_errf(err, -ENOMEM, "out of memory");
	}
	for (uint32_t v = 0; v < f->n_values; v++)
		g->last_use[v] = PNB_NONE;

	for (uint32_t i = 0; i < f->n_nodes && !r; i++) {
		const struct pnb_node *pn = &f->nodes[i];
		struct pn_gnode *n = &g->nodes[i];
		struct build b = { .f = f, .n = n, .err = err };

		n->op = pn->op;
		n->index = i;
		n->name = pnb_str(f, pn->name);
		n->n_in = pn->n_in;
		n->out = pn->out;
		memcpy(n->in, pn->in, sizeof(n->in));
		memcpy(n->iattr, pn->iattr, sizeof(n->iattr));
		memcpy(n->fattr, pn->fattr, sizeof(n->fattr));
		if (n->n_in == 0) {
			r = node_err(&b, "node has no input");
			break;
		}
		for (uint32_t k = 0; k < n->n_in; k++)
			g->last_use[n->in[k]] = i;
		r = build_node(&b);
		if (!r)
			pack_weights(n);
		if (!r && n->op == PNB_OP_EMBED && !g->vocab_size)
			g->vocab_size = (uint32_t)f->tensors[pn->w[0]].shape[0];
	}
	if (!r && !g->vocab_size)
		r = pn_errf(err, -EINVAL, "%s: graph has no EMBED node: nothing "
			    "reads the token ids", f->path);
	if (!r && g->values[g->output].dtype != PNB_DTYPE_F32)
		r = pn_errf(err, -EINVAL, "%s: header output value %u is not F32",
			    f->path, g->output);
	if (r) {
		pn_graph_free(g);
		return r;
	}
	/* The output must survive to the end of the run. */
	g->last_use[g->output] = g->n_nodes;
	*out = g;
	return 0;
}

void pn_graph_free(struct pn_graph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; g->nodes && i < g->n_nodes; i++) {
		free(g->nodes[i].pos_table);
		pn_packed_w_free(g->nodes[i].packed[0]);
		pn_packed_w_free(g->nodes[i].packed[1]);
	}
	free(g->nodes);
	free(g->last_use);
	free(g);
}

double pn_graph_flops(const struct pn_graph *g, uint32_t batch, uint32_t T)
{
	double total = 0;

	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];
		double rows = g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ?
			      batch : (double)batch * T;

		total += n->flops_per_row * rows;
		if (n->op == PNB_OP_ATTENTION)	/* QK^T and PV */
			total += 4.0 * batch * T * T * n->d_out;
		if (n->op == PNB_OP_CQA) {	/* the same for min(C, T) centroids, + top-k */
			double C = (uint32_t)n->iattr[1] < T ? (uint32_t)n->iattr[1] : T;

			total += 4.0 * batch * T * (C + (n->iattr[2] && C < T ? n->iattr[2] : 0)) *
				 n->d_out;
		}
	}
	return total;
}
