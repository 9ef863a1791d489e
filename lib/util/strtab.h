/* SPDX-License-Identifier: MIT */
/*
 * strtab.h - string -> id lookup over strings the caller owns (the
 * tokenizer's pieces, a vocab read from JSON): FNV-1a, open addressing at
 * most half full. The table holds ids only; key[id] (len[id] bytes, or
 * NUL-terminated when len is NULL) must outlive it.
 */
#ifndef PN_UTIL_STRTAB_H
#define PN_UTIL_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct pn_strtab {
	int32_t *slot;			/* id or -1 */
	uint32_t mask;
	char *const *key;
	const uint32_t *len;		/* NULL: NUL-terminated keys */
};

/* Room for n ids. -ENOMEM. */
int pn_strtab_init(struct pn_strtab *t, char *const *key, const uint32_t *len, uint32_t n);
/* Adds id unless an equal key is in: then returns that key's id (and adds nothing), else -1. */
int32_t pn_strtab_add(struct pn_strtab *t, uint32_t id);
/* The id of the n bytes at s, or -1. */
int32_t pn_strtab_find(const struct pn_strtab *t, const char *s, size_t n);
void pn_strtab_free(struct pn_strtab *t);

#endif /* PN_UTIL_STRTAB_H */
