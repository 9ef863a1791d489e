/* SPDX-License-Identifier: MIT */
/*
 * wstore.h - where a CPU model's derived weights live (packed GEMM weights,
 * sin/cos tables; op_cpu.h's prepare). Three modes, so that the same
 * prepare code sizes a region, fills it, and later runs from it as is:
 *
 *   MEASURE  take() hands out no memory, only counts bytes: the caller
 *            computes layouts and skips the data (cheap: no reorder).
 *   FILL     take() hands out the next piece of a writable buffer: the
 *            caller writes the derived data there.
 *   ATTACH   take() hands out the same pieces of a buffer filled before
 *            (maybe by another process, a daemon before a restart): the
 *            caller uses them and computes nothing.
 *
 * Pieces are 64-byte aligned and handed out in call order, so one build
 * sequence gives one layout. Every take() folds (tag, bytes) into a
 * fingerprint: ATTACH compares it with FILL's to refuse a buffer laid out by
 * another build (other shapes, another oneDNN choice of layout).
 *
 * A store with no buffer and mode FILL is "private": take() returns NULL and
 * callers malloc their own copy as before (in-process runs, tests).
 */
#ifndef PN_UTIL_WSTORE_H
#define PN_UTIL_WSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pn_wstore_mode {
	PN_WSTORE_MEASURE = 0,
	PN_WSTORE_FILL,
	PN_WSTORE_ATTACH,
};

struct pn_wstore {
	enum pn_wstore_mode mode;
	uint8_t *base;		/* FILL / ATTACH: the buffer; NULL: private (FILL only) */
	size_t size;		/* bytes of base */
	size_t used;		/* bytes handed out so far, alignment included */
	uint64_t fp;		/* fingerprint of the take() sequence */
	bool overflow;		/* a take() did not fit in size */
};

#define PN_WSTORE_ALIGN 64

void pn_wstore_init(struct pn_wstore *s, enum pn_wstore_mode mode, void *base, size_t size);

/*
 * The next piece of bytes bytes, tagged (what it holds, e.g. its K and N).
 * Returns NULL in MEASURE mode, for a private store, or on overflow (then
 * s->overflow). *fill is true when the caller must write the piece (FILL),
 * false when it holds data already (ATTACH).
 */
void *pn_wstore_take(struct pn_wstore *s, size_t bytes, uint64_t tag, bool *fill);

#endif /* PN_UTIL_WSTORE_H */
