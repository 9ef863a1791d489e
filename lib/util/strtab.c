// SPDX-License-Identifier: MIT
/* strtab.c - string -> id lookup (strtab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/strtab.h"

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int same(const struct pn_strtab *t, int32_t id, const char *s, size_t n)
{
	if (t->len)
		return t->len[id] == n && !memcmp(t->key[id], s, n);
	return !strncmp(t->key[id], s, n) && !t->key[id][n];
}

int pn_strtab_init(struct pn_strtab *t, char *const *key, const uint32_t *len, uint32_t n)
{
	uint32_t cap = 16;

	while (cap < 2 * (uint64_t)n)
		cap *= 2;
	*t = (struct pn_strtab){ .mask = cap - 1, .key = key, .len = len };
	t->slot = malloc(cap * sizeof(int32_t));
	if (!t->slot)
		return -ENOMEM;
	memset(t->slot, 0xff, cap * sizeof(int32_t));
	return 0;
}

int32_t pn_strtab_find(const struct pn_strtab *t, const char *s, size_t n)
{
	for (uint32_t i = fnv1a(s, n) & t->mask;; i = (i + 1) & t->mask) {
		int32_t id = t->slot[i];

		if (id < 0 || same(t, id, s, n))
			return id;
	}
}

int32_t pn_strtab_add(struct pn_strtab *t, uint32_t id)
{
	const char *s = t->key[id];
	size_t n = t->len ? t->len[id] : strlen(s);
	uint32_t i = fnv1a(s, n) & t->mask;

	for (; t->slot[i] >= 0; i = (i + 1) & t->mask)
		if (same(t, t->slot[i], s, n))
			return t->slot[i];
	t->slot[i] = (int32_t)id;
	return -1;
}

void pn_strtab_free(struct pn_strtab *t)
{
	free(t->slot);
	t->slot = NULL;
}
