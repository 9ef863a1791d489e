// SPDX-License-Identifier: MIT
/* model_buf.c - a runnable model over an in-memory .pnb (model_buf.h). */
#include <errno.h>
#include <stdlib.h>

#include "graph.h"
#include "model_buf.h"
#include "tokenizer.h"

int pn_model_open_buf(const void *buf, size_t size, const char *what, struct pn_model **out,
		      struct pn_err *err)
{
	const struct pnb_header *h;
	struct pn_model *m;
	int r;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return pn_errf(err, -ENOMEM, "out of memory");
	r = pnb_open_mem(buf, size, what, &m->file, err);
	if (r) {
		free(m);
		return r;
	}
	h = m->file.hdr;
	r = pn_graph_build(&m->file, &m->graph, err);
	if (!r && h->tokenizer != PNB_TOKENIZER_NONE)
		r = pn_tok_new(pnb_tensor_data(&m->file, h->tok_pieces),
			       m->file.tensors[h->tok_pieces].size,
			       pnb_tensor_data(&m->file, h->tok_scores),
			       (uint32_t)pnb_tensor_elems(&m->file.tensors[h->tok_scores]),
			       &m->tok, err);
	if (!r && h->max_tokens == 0)
		r = pn_errf(err, -EINVAL, "%s: header max_tokens is 0, expected >= 1", what);
	if (r) {
		pn_model_close(m);
		return r;
	}
	m->out_width = m->file.values[h->output].width;
	m->out_layout = m->file.values[h->output].layout;
	m->max_tokens = h->max_tokens;
	*out = m;
	return 0;
}

uint32_t pn_model_vocab(const struct pn_model *m)
{
	for (uint32_t i = 0; i < m->file.n_nodes; i++) {
		const struct pnb_node *n = &m->file.nodes[i];

		if (n->op == PNB_OP_EMBED && n->w[0] != PNB_NONE)
			return (uint32_t)m->file.tensors[n->w[0]].shape[0];
	}
	return 0;
}
