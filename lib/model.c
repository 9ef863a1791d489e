// SPDX-License-Identifier: MIT
/* model.c - open a .pnb as a runnable model: file, graph, tokenizer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "model.h"
#include "tokenizer.h"

static int open_tokenizer(struct pn_model *m, struct pn_err *err)
{
	const struct pnb_file *f = &m->file;
	const struct pnb_header *h = f->hdr;
	const struct pnb_tensor *pieces, *scores;

	if (h->tokenizer == PNB_TOKENIZER_NONE)
		return 0;
	pieces = &f->tensors[h->tok_pieces];
	scores = &f->tensors[h->tok_scores];
	return pn_tok_new(pnb_tensor_data(f, h->tok_pieces), pieces->size,
			  pnb_tensor_data(f, h->tok_scores),
			  (uint32_t)pnb_tensor_elems(scores), &m->tok, err);
}

int pn_model_open(const char *path, struct pn_model **out, struct pn_err *err)
{
	struct pn_model *m;
	const struct pnb_value *ov;
	int r;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return pn_errf(err, -ENOMEM, "out of memory");
	r = pnb_open(path, &m->file, err);
	if (r) {
		free(m);
		return r;
	}
	r = pn_graph_build(&m->file, &m->graph, err);
	if (!r)
		r = open_tokenizer(m, err);
	if (!r && m->file.hdr->max_tokens == 0)
		r = pn_errf(err, -EINVAL, "%s: header max_tokens is 0, expected "
			    ">= 1", path);
	if (r) {
		pn_model_close(m);
		return r;
	}
	ov = &m->file.values[m->file.hdr->output];
	m->out_width = ov->width;
	m->out_layout = ov->layout;
	m->max_tokens = m->file.hdr->max_tokens;
	*out = m;
	return 0;
}

void pn_model_close(struct pn_model *m)
{
	if (!m)
		return;
	pn_tok_free(m->tok);
	pn_graph_free(m->graph);
	pnb_close(&m->file);
	free(m);
}
