// SPDX-License-Identifier: MIT
/*
 * arena.c - plan activation offsets once, at load time.
 *
 * Walk the nodes in topological order; give each output the lowest gap
 * among live buffers that fits it; after a node, release the inputs it was
 * the last reader of. Outputs never alias inputs of the same node, so
 * kernels need not be in-place safe. O(nodes * live): tiny for our DAGs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "exec/arena.h"

#define ALIGN 64u	/* the CPU's: a cache line */

struct live {
	size_t off, size;
	uint32_t value;
};

static size_t align_up(size_t n, size_t align)
{
	return (n + align - 1) & ~(align - 1);
}

static size_t value_bytes(const struct pnb_value *v, uint32_t max_batch,
			  uint32_t max_tokens, size_t align)
{
	size_t rows = v->layout == PNB_LAYOUT_SEQ ? max_batch :
		      (size_t)max_batch * max_tokens;

	return align_up(rows * v->width * 4, align);	/* F32 and I32 alike */
}

/* Lowest offset where size bytes fit between the live buffers (sorted). */
static size_t first_fit(const struct live *l, uint32_t n, size_t size)
{
	size_t at = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (l[i].off >= at + size)
			return at;
		if (l[i].off + l[i].size > at)
			at = l[i].off + l[i].size;
	}
	return at;
}

static void insert_sorted(struct live *l, uint32_t *n, struct live x)
{
	uint32_t i = *n;

	while (i > 0 && l[i - 1].off > x.off) {
		l[i] = l[i - 1];
		i--;
	}
	l[i] = x;
	(*n)++;
}

static void release(struct live *l, uint32_t *n, uint32_t value)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (l[i].value != value)
			continue;
		for (; i + 1 < *n; i++)
			l[i] = l[i + 1];
		(*n)--;
		return;
	}
}

int pn_arena_plan(const struct pn_graph *g, uint32_t max_batch,
		  uint32_t max_tokens, const size_t *scratch, struct pn_arena_plan *p)
{
	return pn_arena_plan_aligned(g, max_batch, max_tokens, scratch, ALIGN, p);
}

int pn_arena_plan_aligned(const struct pn_graph *g, uint32_t max_batch, uint32_t max_tokens,
			  const size_t *scratch, size_t align, struct pn_arena_plan *p)
{
	struct live *l;
	uint32_t n_live = 0;

	p->offset = malloc(g->n_values * sizeof(size_t) + 1);
	p->size = calloc(g->n_values + 1, sizeof(size_t));
	p->scratch_off = calloc(g->n_nodes + 1, sizeof(size_t));
	l = malloc((g->n_values + 1) * sizeof(*l));
	if (!p->offset || !p->size || !p->scratch_off || !l) {
		free(l);
		pn_arena_plan_free(p);
		return -ENOMEM;
	}
	p->total = p->naive = 0;
	for (uint32_t v = 0; v < g->n_values; v++)
		p->offset[v] = SIZE_MAX;

	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *nd = &g->nodes[i];
		struct live x = { .value = nd->out };

		x.size = value_bytes(&g->values[nd->out], max_batch, max_tokens, align);
		x.off = first_fit(l, n_live, x.size);
		insert_sorted(l, &n_live, x);
		p->offset[nd->out] = x.off;
		p->size[nd->out] = x.size;
		p->naive += x.size;
		if (x.off + x.size > p->total)
			p->total = x.off + x.size;
		if (scratch && scratch[i]) {
			struct live t = { .value = UINT32_MAX };

			t.size = align_up(scratch[i], align);
			t.off = first_fit(l, n_live, t.size);
			p->scratch_off[i] = t.off;
			p->naive += t.size;
			if (t.off + t.size > p->total)
				p->total = t.off + t.size;
			/* not kept live: free again once the node ran */
		}
		for (uint32_t k = 0; k < nd->n_in; k++)
			if (g->last_use[nd->in[k]] == i)
				release(l, &n_live, nd->in[k]);
	}
	free(l);
	return 0;
}

void pn_arena_plan_free(struct pn_arena_plan *p)
{
	free(p->offset);
	free(p->size);
	free(p->scratch_off);
	p->offset = p->size = p->scratch_off = NULL;
}
