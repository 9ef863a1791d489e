/* SPDX-License-Identifier: MIT */
/*
 * model.h - an opened model: the validated .pnb and its tokenizer, nothing
 * more (a client that only tokenizes pays for no graph). The runnable graph
 * is built from it by pn_graph_build (graph.h) or, with the CPU's derived
 * weights, pn_cpu_model_new (exec.h). Read-only once open.
 */
#ifndef PN_MODEL_H
#define PN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "format/pnb.h"

struct pn_tokenizer;
struct pn_bpe;

struct pn_model {
	struct pnb_file file;
	struct pn_tokenizer *tok;	/* SPM unigram (encoders), or NULL */
	struct pn_bpe *bpe;		/* Llama BPE (decoders, text/tok_bpe.h), or NULL */
	uint32_t out_width;		/* floats per output row */
	uint32_t out_layout;		/* enum pnb_layout of the output */
	uint32_t max_tokens;		/* from the header: longer inputs are clipped */
	uint32_t vocab;			/* rows of the first EMBED node's table (0: none) */
};

int pn_model_open(const char *path, struct pn_model **out, struct pn_err *err);
/*
 * The same over bytes already in memory (a shared region mapped by polynetd
 * or its client): validated in place; buf must outlive the model, and
 * pn_model_close leaves it alone. what names it in errors.
 */
int pn_model_open_buf(const void *buf, size_t size, const char *what,
		      struct pn_model **out, struct pn_err *err);
/* Rows of the embedding table: token ids must be below it. */
uint32_t pn_model_vocab(const struct pn_model *m);
void pn_model_close(struct pn_model *m);

#endif /* PN_MODEL_H */
