// SPDX-License-Identifier: MIT
/*
 * cud_obj.c - the double's handles: each one allocated here, listed in its
 * context (so that a reset frees them all) and in a table of live pointers
 * (so that a stale or foreign handle is refused with INVALID_HANDLE instead
 * of being dereferenced, where a real driver could crash). The table is an
 * open-addressing set of pointers with tombstones; every function here runs
 * with cud.lock held.
 */
#include <stdlib.h>

#include "cud_int.h"

#define TOMB ((const void *)1)

static const void **tab;
static size_t tab_cap, tab_used;	/* used counts tombstones too */

static size_t slot_of(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (tab_cap - 1);
}

static int tab_put(const void *p);

static int tab_grow(void)
{
	const void **old = tab;
	size_t old_cap = tab_cap;
	size_t live = 0, cap = 256;

	for (size_t i = 0; i < old_cap; i++)
		live += old[i] && old[i] != TOMB;
	/* sized by the live handles: tombstones of freed ones do not make it grow forever */
	while (cap < (live + 1) * 4)
		cap *= 2;

	tab = calloc(cap, sizeof *tab);
	if (!tab) {
		tab = old;
		return -1;
	}
	tab_cap = cap;
	tab_used = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i] && old[i] != TOMB)
			tab_put(old[i]);
	free(old);
	return 0;
}

static int tab_put(const void *p)
{
	if ((tab_used + 1) * 2 > tab_cap && tab_grow())
		return -1;
	size_t i = slot_of(p);
	while (tab[i] && tab[i] != TOMB)
		i = (i + 1) & (tab_cap - 1);
	if (!tab[i])
		tab_used++;
	tab[i] = p;
	return 0;
}

static size_t tab_find(const void *p)
{
	if (!tab_cap || !p)
		return SIZE_MAX;
	for (size_t i = slot_of(p), probes = 0; tab[i] && probes < tab_cap;
	     i = (i + 1) & (tab_cap - 1), probes++)
		if (tab[i] == p)
			return i;
	return SIZE_MAX;
}

void *cud_obj_new(size_t size, int kind, struct CUctx_st *c)
{
	struct cud_obj *o = calloc(1, size);

	if (!o)
		return NULL;
	if (tab_put(o)) {
		free(o);
		return NULL;
	}
	o->kind = kind;
	o->ctx = c;
	o->next = c->objs;
	if (c->objs)
		c->objs->prev = o;
	c->objs = o;
	return o;
}

void cud_obj_free(void *obj)
{
	struct cud_obj *o = obj;
	size_t i = tab_find(o);

	if (i != SIZE_MAX)
		tab[i] = TOMB;
	if (o->prev)
		o->prev->next = o->next;
	else
		o->ctx->objs = o->next;
	if (o->next)
		o->next->prev = o->prev;
	free(o);
}

void *cud_obj_get(const void *obj, int kind)
{
	if (tab_find(obj) == SIZE_MAX)
		return NULL;
	struct cud_obj *o = (struct cud_obj *)(uintptr_t)obj;
	return o->kind == kind ? o : NULL;
}

void cud_obj_table_free(void)
{
	free(tab);
	tab = NULL;
	tab_cap = tab_used = 0;
}
