/* SPDX-License-Identifier: MIT */
/*
 * model.h - an opened model: the validated .pnb, its DAG (graph.h) and its
 * tokenizer. Read-only once open; many executors (exec.h) may share one.
 */
#ifndef PN_MODEL_H
#define PN_MODEL_H

#include <stdint.h>

#include "pn_err.h"
#include "pnb.h"

struct pn_graph;
struct pn_tokenizer;

struct pn_model {
	struct pnb_file file;
	struct pn_graph *graph;
	struct pn_tokenizer *tok;	/* NULL when the file has none */
	uint32_t out_width;		/* floats per output row */
	uint32_t out_layout;		/* enum pnb_layout of the output */
	uint32_t max_tokens;		/* from the header: longer inputs are clipped */
};

int pn_model_open(const char *path, struct pn_model **out, struct pn_err *err);
void pn_model_close(struct pn_model *m);

#endif /* PN_MODEL_H */
