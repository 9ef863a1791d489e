// SPDX-License-Identifier: MIT
/* wstore.c - the derived-weights store (wstore.h). */
#include "util/wstore.h"

void pn_wstore_init(struct pn_wstore *s, enum pn_wstore_mode mode, void *base, size_t size)
{
	*s = (struct pn_wstore){ .mode = mode, .base = base, .size = size,
				 .fp = 0xcbf29ce484222325ull };
}

/* FNV-1a over the 64-bit words: order-sensitive, cheap, no collisions needed */
static uint64_t mix(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8) {
		h ^= v & 0xff;
		h *= 0x100000001b3ull;
	}
	return h;
}

void *pn_wstore_take(struct pn_wstore *s, size_t bytes, uint64_t tag, bool *fill)
{
	size_t at = (s->used + PN_WSTORE_ALIGN - 1) & ~(size_t)(PN_WSTORE_ALIGN - 1);

	*fill = false;
	s->fp = mix(mix(s->fp, tag), bytes);
	if (s->mode == PN_WSTORE_MEASURE || !s->base) {
		s->used = at + bytes;
		return NULL;
	}
	if (at > s->size || bytes > s->size - at) {
		s->overflow = true;
		return NULL;
	}
	s->used = at + bytes;
	*fill = s->mode == PN_WSTORE_FILL;
	return s->base + at;
}
