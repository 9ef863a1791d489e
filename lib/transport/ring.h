/* SPDX-License-Identifier: MIT */
/*
 * ring.h - single-producer single-consumer rings in shared memory (the
 * layout is uapi/ring.h). Used by both polynetd and the client library.
 *
 * A struct pn_ring is one side's private view: it keeps its own copy of
 * the index it owns and of the ring's geometry, read once at attach, so a
 * peer scribbling on the shared header can make the ring report -EPROTO
 * but can never make this side read or write outside the ring.
 *
 * Hot path: no allocation, no syscall, no lock. One producer and one
 * consumer at a time; callers serialize each side themselves.
 */
#ifndef PN_RING_H
#define PN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "uapi/ring.h"

struct pn_ring {
	struct pn_ring_hdr *hdr;	/* shared */
	uint8_t *slots;			/* shared: entries * entry_size bytes */
	uint32_t entries, mask, entry_size;
	uint32_t head, tail;		/* private: the index this side owns */
	uint32_t wake_mode;		/* enum pn_wake_mode, read once at attach */
};

/* Bytes a ring of entries * entry_size takes (header included). */
size_t pn_ring_bytes(uint32_t entries, uint32_t entry_size);

/* Formats a ring at mem (bytes long, zeroed or not). Cold path. */
int pn_ring_format(void *mem, size_t bytes, uint32_t entries, uint32_t entry_size,
		   struct pn_err *e);

/*
 * Checks the header at mem (untrusted: another process wrote it) and fills
 * r. entry_size is what this side expects. Cold path.
 */
int pn_ring_attach(struct pn_ring *r, void *mem, size_t bytes, uint32_t entry_size,
		   struct pn_err *e);

/* Producer. -EAGAIN when full, -EPROTO when the consumer's head is impossible. */
int pn_ring_push(struct pn_ring *r, const void *entry);
/*
 * Pushes up to n entries (n * entry_size bytes at entries) with one release
 * store of tail, as io_uring_submit. Returns how many (0 when full), or
 * -EPROTO.
 */
int pn_ring_push_n(struct pn_ring *r, const void *entries, uint32_t n);
/* Entries the producer may still push; < 0 (-EPROTO) on a bad head. */
int64_t pn_ring_space(struct pn_ring *r);
/* After a push: does the consumer sleep (write its eventfd then)? */
bool pn_ring_needs_wakeup(const struct pn_ring *r);

/* Consumer. -EAGAIN when empty, -EPROTO when the producer's tail is impossible. */
int pn_ring_pop(struct pn_ring *r, void *entry);
/*
 * Copies up to max ready entries into entries without freeing their slots;
 * returns how many (0 when empty), or -EPROTO. pn_ring_advance(r, k) then
 * frees the first k of them with one release store of head.
 */
int pn_ring_peek_n(struct pn_ring *r, void *entries, uint32_t max);
void pn_ring_advance(struct pn_ring *r, uint32_t k);
/* peek_n then advance all: up to max entries, one head store. */
int pn_ring_pop_n(struct pn_ring *r, void *entries, uint32_t max);
/* Entries ready to pop; < 0 (-EPROTO) on a bad tail. */
int64_t pn_ring_ready(struct pn_ring *r);
/*
 * PN_WAKE_FUTEX, before pn_ring_prepare_sleep: the wake word's value to
 * FUTEX_WAIT on (ordering 3 in ring.c).
 */
uint32_t pn_ring_wake_value(const struct pn_ring *r);
/*
 * Before sleeping: sets PN_RING_NEED_WAKEUP, then looks again. Returns true
 * when the ring is still empty (sleep now: a producer will wake us), false
 * when an entry slipped in (the flag is cleared again: do not sleep).
 */
bool pn_ring_prepare_sleep(struct pn_ring *r);
/* Clears PN_RING_NEED_WAKEUP (the consumer is awake and polling). */
void pn_ring_clear_wakeup(struct pn_ring *r);

#endif /* PN_RING_H */
