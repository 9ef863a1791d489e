// SPDX-License-Identifier: MIT
/*
 * graph.c - from a validated .pnb to an executable DAG.
 *
 * lib/format/ has already checked every index, enum and the topological
 * order; each op's descriptor (lib/ops/) checks here what only the op's
 * meaning tells: that each weight has the shape the values around it
 * require. An error names the node (index and name), the weight or value,
 * and the shape expected.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec/graph.h"

static int build_node(struct pn_build *b)
{
	const struct pn_op *op = pn_op_get(b->n->op);

	if (!op || !op->build)
		return pn_errf(b->err, -EINVAL, "%s: node %u '%s' (%s): op %u is not "
			       "implemented by the CPU backend", b->f->path, b->n->index,
			       b->n->name, pnb_op_name(b->n->op), b->n->op);
	return op->build(b);
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
		struct pn_build b = { .f = f, .n = n, .err = err };

		n->op = pn->op;
		n->index = i;
		n->name = pnb_str(f, pn->name);
		n->n_in = pn->n_in;
		n->out = pn->out;
		memcpy(n->in, pn->in, sizeof(n->in));
		memcpy(n->iattr, pn->iattr, sizeof(n->iattr));
		memcpy(n->fattr, pn->fattr, sizeof(n->fattr));
		if (n->n_in == 0) {
			r = pn_errf(err, -EINVAL, "%s: node %u '%s' (%s): node has no input",
				    f->path, i, n->name, pnb_op_name(n->op));
			break;
		}
		for (uint32_t k = 0; k < n->n_in; k++)
			g->last_use[n->in[k]] = i;
		r = build_node(&b);
		if (!r && n->op == PNB_OP_EMBED && !g->vocab_size)
			g->vocab_size = (uint32_t)f->tensors[pn->w[PNB_W_EMBED_TABLE]].shape[0];
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
	free(g->nodes);
	free(g->last_use);
	free(g);
}

double pn_graph_flops(const struct pn_graph *g, uint32_t batch, uint32_t T)
{
	double total = 0;

	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];
		const struct pn_op *op = pn_op_get(n->op);
		double rows = g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ?
			      batch : (double)batch * T;

		total += n->flops_per_row * rows;
		if (op->flops_extra)
			total += op->flops_extra(n, batch, T);
	}
	return total;
}
