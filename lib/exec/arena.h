/* SPDX-License-Identifier: MIT */
/*
 * arena.h - activation memory planned once: every value of the DAG gets an
 * offset in one buffer, reused as soon as the last node reading a value has
 * run (greedy first fit in node order, like ggml's graph allocator).
 */
#ifndef PN_ARENA_H
#define PN_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "exec/graph.h"

struct pn_arena_plan {
	size_t *offset;		/* per value, bytes; SIZE_MAX when never stored */
	size_t *size;		/* per value, bytes */
	size_t *scratch_off;	/* per node: its scratch, live only while it runs */
	size_t total;		/* bytes of the whole arena */
	size_t naive;		/* bytes had every value its own buffer */
};

/*
 * Sizes values for max_batch sequences of max_tokens; 64-byte aligned.
 * scratch (NULL: none) gives each node's scratch bytes: planned like a value
 * that lives only while its node runs, so it reuses what is dead by then
 * and never overlaps the node's inputs or output.
 */
int pn_arena_plan(const struct pn_graph *g, uint32_t max_batch,
		  uint32_t max_tokens, const size_t *scratch, struct pn_arena_plan *p);
/* The same with every offset and size a multiple of align (a power of two; the GPU's 256). */
int pn_arena_plan_aligned(const struct pn_graph *g, uint32_t max_batch, uint32_t max_tokens,
			  const size_t *scratch, size_t align, struct pn_arena_plan *p);
void pn_arena_plan_free(struct pn_arena_plan *p);

#endif /* PN_ARENA_H */
