/* SPDX-License-Identifier: MIT */
/*
 * graph.h - a validated .pnb turned into a DAG ready to execute: every
 * node's weights resolved to pointers into the mapped file and every shape
 * checked against the widths of the values it reads and writes (by the
 * op's descriptor, lib/ops/), so the executor indexes nothing it has not
 * checked. Backend-neutral: no packed weights, no position tables (those
 * are the CPU model's, exec.h).
 */
#ifndef PN_GRAPH_H
#define PN_GRAPH_H

#include <stdint.h>

#include "util/pn_err.h"
#include "format/pnb.h"
#include "ops/op.h"

/* struct pn_gnode: lib/ops/op.h (each op's build fills one). */

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
