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

#include "graph.h"

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
	case PNB_OP_ADD:
		return same_shape(b) ?:
		       want_width(b, n->in[1], "in[1]", x->layout, x->width);
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
	}
	return node_err(b, "op %u is not implemented by the CPU backend", n->op);
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
	for (uint32_t i = 0; g->nodes && i < g->n_nodes; i++)
		free(g->nodes[i].pos_table);
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
	}
	return total;
}
