// SPDX-License-Identifier: MIT
/*
 * sched_heap.c - a binary min-heap of nodes embedded in what it orders (realtime jobs
 * by deadline, waiting flows by due time). Each node knows its position, so removing
 * or re-keying any node is O(log n) with no search. The array is sized at init and
 * never grows: pushes cannot fail on the hot path.
 */
#include <stdlib.h>

#include "internal.h"


static void put(struct sched_heap *h, uint32_t i, struct sched_hnode *x)
{
	h->a[i] = x;
	x->pos = i;
}

static void sift_up(struct sched_heap *h, uint32_t i)
{
	struct sched_hnode *x = h->a[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!sched_hnode_less(x, h->a[p]))
			break;
		put(h, i, h->a[p]);
		i = p;
	}
	put(h, i, x);
}

static void sift_down(struct sched_heap *h, uint32_t i)
{
	struct sched_hnode *x = h->a[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && sched_hnode_less(h->a[c + 1], h->a[c]))
			c++;
		if (!sched_hnode_less(h->a[c], x))
			break;
		put(h, i, h->a[c]);
		i = c;
	}
	put(h, i, x);
}

int sched_heap_init(struct sched_heap *h, uint32_t cap)
{
	h->n = 0;
	h->cap = cap;
	h->a = calloc(cap ? cap : 1, sizeof(*h->a));
	return h->a ? 0 : -ENOMEM;
}

void sched_heap_free(struct sched_heap *h)
{
	free(h->a);
	h->a = NULL;
	h->n = h->cap = 0;
}

void sched_heap_push(struct sched_heap *h, struct sched_hnode *x)
{
	PN_ASSERT(x->pos == SCHED_NIL && h->n < h->cap);
	put(h, h->n++, x);
	sift_up(h, h->n - 1);
}

void sched_heap_remove(struct sched_heap *h, struct sched_hnode *x)
{
	uint32_t i = x->pos;

	PN_ASSERT(i < h->n && h->a[i] == x);
	x->pos = SCHED_NIL;
	if (i == --h->n)
		return;
	put(h, i, h->a[h->n]);
	sched_heap_fix(h, h->a[i]);
}

void sched_heap_fix(struct sched_heap *h, struct sched_hnode *x)
{
	uint32_t i = x->pos;

	PN_ASSERT(i < h->n && h->a[i] == x);
	if (i > 0 && sched_hnode_less(x, h->a[(i - 1) / 2]))
		sift_up(h, i);
	else
		sift_down(h, i);
}
