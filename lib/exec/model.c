// SPDX-License-Identifier: MIT
/*
 * model.c - open a .pnb as a model: file and tokenizer (no graph); from a
 * path (mapped here) or from bytes already in memory (a shared region that
 * polynetd or its client mapped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec/model.h"
#include "text/tok_bpe.h"
#include "text/tokenizer.h"

static int open_tokenizer(struct pn_model *m, struct pn_err *err)
{
	const struct pnb_file *f = &m->file;
	const struct pnb_header *h = f->hdr;

	if (h->tokenizer == PNB_TOKENIZER_NONE)
		return 0;
	if (h->tokenizer == PNB_TOKENIZER_LLAMA_BPE)
		return pn_bpe_new(pnb_tensor_data(f, h->tok_pieces), f->tensors[h->tok_pieces].size,
				  pnb_tensor_data(f, h->tok_scores),
				  (uint32_t)pnb_tensor_elems(&f->tensors[h->tok_scores]), &m->bpe,
				  err);
	return pn_tok_new(pnb_tensor_data(f, h->tok_pieces), f->tensors[h->tok_pieces].size,
			  pnb_tensor_data(f, h->tok_scores),
			  (uint32_t)pnb_tensor_elems(&f->tensors[h->tok_scores]), &m->tok, err);
}

/* m->file is open: build the rest, or close m and return the error. */
static int model_finish(struct pn_model *m, struct pn_model **out, struct pn_err *err)
{
	const struct pnb_header *h = m->file.hdr;
	int r;

	r = open_tokenizer(m, err);
	if (!r && h->max_tokens == 0)
		r = pn_errf(err, -EINVAL, "%s: header max_tokens is 0, expected >= 1",
			    m->file.path);
	if (r) {
		pn_model_close(m);
		return r;
	}
	m->out_width = m->file.values[h->output].width;
	m->out_layout = m->file.values[h->output].layout;
	m->max_tokens = h->max_tokens;
	for (uint32_t i = 0; i < m->file.n_nodes; i++) {
		const struct pnb_node *n = &m->file.nodes[i];

		if (n->op == PNB_OP_EMBED) {
			m->vocab = (uint32_t)m->file.tensors[n->w[PNB_W_EMBED_TABLE]].shape[0];
			break;
		}
	}
	*out = m;
	return 0;
}

int pn_model_open(const char *path, struct pn_model **out, struct pn_err *err)
{
	struct pn_model *m;
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
	return model_finish(m, out, err);
}

int pn_model_open_buf(const void *buf, size_t size, const char *what,
		      struct pn_model **out, struct pn_err *err)
{
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
	return model_finish(m, out, err);
}

uint32_t pn_model_vocab(const struct pn_model *m)
{
	return m->vocab;
}

void pn_model_close(struct pn_model *m)
{
	if (!m)
		return;
	pn_tok_free(m->tok);
	pn_bpe_free(m->bpe);
	pnb_close(&m->file);
	free(m);
}
