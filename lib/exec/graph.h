/* SPDX-License-Identifier: MIT */
/*
 * graph.h - a validated .pnb turned into a DAG ready to execute: every
 * node's weights resolved to pointers into the mapped file and every shape
 * checked against the widths of the values it reads and writes, so the
 * executor indexes nothing it has not checked.
 */
#ifndef PN_GRAPH_H
#define PN_GRAPH_H

#include <stdint.h>

#include "util/pn_err.h"
#include "format/pnb.h"

struct pn_packed_w;

struct pn_gnode {
	uint32_t op;			/* enum pnb_op */
	uint32_t index;			/* in the file's node table */
	const char *name;
	uint32_t n_in;
	uint32_t in[PNB_NODE_MAX_IN];	/* value indices */
	uint32_t out;
	const float *w[PNB_NODE_MAX_W];	/* NULL where absent */
	/* Derived once: widths in and out, the FFN hidden size, heads. */
	uint32_t d_in, d_out, ff, heads;
	int32_t iattr[PNB_NODE_MAX_ATTR];
	float fattr[PNB_NODE_MAX_ATTR];
	double flops_per_row;		/* excluding attention's T^2 term */
	float *pos_table;		/* EMBED with sincos: [max_tokens, D], owned */
	/* LINEAR: W; FFN (plain): W1, W2, packed once for small batches
	 * (lib/cpu/packed.h); NULL where oneDNN offers no packed layout. */
	struct pn_packed_w *packed[2];
};

struct pn_graph {
	const struct pnb_file *file;
	uint32_t n_nodes;
	struct pn_gnode *nodes;
	uint32_t n_values;
	const struct pnb_value *values;
	uint32_t *last_use;		/* per value: last node reading it, or PNB_NONE */
	uint32_t input, output;
	uint32_t vocab_size;		/* rows of the embedding table */
};

int pn_graph_build(const struct pnb_file *f, struct pn_graph **out,
		   struct pn_err *err);
void pn_graph_free(struct pn_graph *g);

/* FLOPs of one run (GEMMs and attention) for batch sequences of T tokens. */
double pn_graph_flops(const struct pn_graph *g, uint32_t batch, uint32_t T);

#endif /* PN_GRAPH_H */
