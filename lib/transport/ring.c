// SPDX-License-Identifier: MIT
/*
 * ring.c - SPSC rings in shared memory, after liburing's queue.c.
 *
 * The two orderings that make a ring correct:
 *  1. Producer: entry stores, then tail release-store. Consumer: tail
 *     acquire-load, then entry loads. The consumer never reads an entry
 *     before the producer finished writing it.
 *  2. Consumer: entry loads, then head release-store. Producer: head
 *     acquire-load, then entry stores. The producer never overwrites a slot
 *     the consumer is still reading.
 * And the one that makes sleeping safe (a Dekker pair, as SQPOLL's
 * need-wakeup): the producer stores tail then loads flags; the consumer
 * stores flags then loads tail; a full fence on each side between the two
 * guarantees at least one of them sees the other's store, so either the
 * consumer sees the new entry and stays awake, or the producer sees
 * NEED_WAKEUP and rings the eventfd. Without the fences both loads could
 * be satisfied before the stores become visible (store buffering, allowed
 * even on x86) and the wakeup would be lost.
 *  3. The futex wake word (PN_WAKE_FUTEX). Consumer: wake acquire-load (v),
 *     then the flags store and the fence of the Dekker pair, then the tail
 *     load, then FUTEX_WAIT(wake, v). Producer: tail store, fence, flags
 *     load, then wake increment (release, wake.c) and FUTEX_WAKE. If the
 *     producer saw the flag, its increment comes after the flag store, so
 *     either it also comes after the consumer's load of v (the kernel's
 *     FUTEX_WAIT compares the word with v under the futex's hash-bucket
 *     lock: it refuses to sleep, -EAGAIN, or is queued before the wake and
 *     woken) or before it, and then the consumer's tail load (after its
 *     fence) sees the new tail: no sleep. Batching (push_n, peek_n +
 *     advance) changes nothing: one tail store publishes all, one head
 *     store frees all, each with the ordering of 1 and 2.
 */
#include <errno.h>
#include <string.h>

#include "transport/ring.h"

#define LOAD_ACQ(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)	__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

size_t pn_ring_bytes(uint32_t entries, uint32_t entry_size)
{
	return sizeof(struct pn_ring_hdr) + (size_t)entries * entry_size;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int pn_ring_format(void *mem, size_t bytes, uint32_t entries, uint32_t entry_size,
		   struct pn_err *e)
{
	struct pn_ring_hdr *h = mem;

	if (!pow2(entries) || entries > PN_RING_MAX_ENTRIES)
		return pn_errf(e, -EINVAL, "ring: %u entries, expected a power of two "
			       "in 1..%u", entries, PN_RING_MAX_ENTRIES);
	if (!entry_size || entry_size % 8)
		return pn_errf(e, -EINVAL, "ring: entry size %u, expected a multiple "
			       "of 8", entry_size);
	if (bytes < pn_ring_bytes(entries, entry_size))
		return pn_errf(e, -EINVAL, "ring: %zu bytes, expected at least %zu",
			       bytes, pn_ring_bytes(entries, entry_size));
	memset(h, 0, sizeof(*h));
	h->magic = PN_RING_MAGIC;
	h->version = PN_RING_VERSION;
	h->entries = entries;
	h->entry_size = entry_size;
	return 0;
}

int pn_ring_attach(struct pn_ring *r, void *mem, size_t bytes, uint32_t entry_size,
		   struct pn_err *e)
{
	struct pn_ring_hdr *h = mem;
	/* one read of each constant: the peer may change them afterwards */
	uint32_t magic = LOAD_RLX(&h->magic), version = LOAD_RLX(&h->version);
	uint32_t entries = LOAD_RLX(&h->entries), esize = LOAD_RLX(&h->entry_size);

	memset(r, 0, sizeof(*r));
	if (bytes < sizeof(*h))
		return pn_errf(e, -EINVAL, "ring: %zu bytes, expected at least the "
			       "%zu-byte header", bytes, sizeof(*h));
	if (magic != PN_RING_MAGIC)
		return pn_errf(e, -EPROTO, "ring header: magic 0x%08x, expected 0x%08x",
			       magic, PN_RING_MAGIC);
	/* a version 3 ring is version 2's layout: either is read (uapi/ring.h) */
	if (version < PN_RING_VERSION_MIN || version > PN_RING_VERSION)
		return pn_errf(e, -EPROTO, "ring header: version %u, expected %u..%u",
			       version, PN_RING_VERSION_MIN, PN_RING_VERSION);
	if (!pow2(entries) || entries > PN_RING_MAX_ENTRIES)
		return pn_errf(e, -EPROTO, "ring header: %u entries, expected a power "
			       "of two in 1..%u", entries, PN_RING_MAX_ENTRIES);
	if (esize != entry_size)
		return pn_errf(e, -EPROTO, "ring header: entry size %u, expected %u",
			       esize, entry_size);
	if (bytes < pn_ring_bytes(entries, esize))
		return pn_errf(e, -EPROTO, "ring header: %u entries of %u bytes need "
			       "%zu bytes, the ring has %zu", entries, esize,
			       pn_ring_bytes(entries, esize), bytes);
	r->hdr = h;
	r->slots = (uint8_t *)(h + 1);
	r->entries = entries;
	r->mask = entries - 1;
	r->entry_size = esize;
	r->wake_mode = LOAD_RLX(&h->wake_mode) == PN_WAKE_FUTEX ? PN_WAKE_FUTEX :
		       PN_WAKE_EVENTFD;
	/* Each side starts from the shared value once and owns its copy after. */
	r->head = LOAD_ACQ(&h->head);
	r->tail = LOAD_ACQ(&h->tail);
	if (r->tail - r->head > entries)
		return pn_errf(e, -EPROTO, "ring header: tail %u - head %u exceeds "
			       "%u entries", r->tail, r->head, entries);
	return 0;
}

int64_t pn_ring_space(struct pn_ring *r)
{
	/* acquire: pairs with the consumer's head release-store (ordering 2) */
	uint32_t head = LOAD_ACQ(&r->hdr->head);
	uint32_t used = r->tail - head;

	if (used > r->entries)
		return -EPROTO;
	return r->entries - used;
}

int pn_ring_push(struct pn_ring *r, const void *entry)
{
	int64_t space = pn_ring_space(r);

	if (space <= 0)
		return space < 0 ? (int)space : -EAGAIN;
	memcpy(r->slots + (size_t)(r->tail & r->mask) * r->entry_size, entry,
	       r->entry_size);
	r->tail++;
	/* release: the entry's bytes are visible before the new tail (ordering 1) */
	STORE_REL(&r->hdr->tail, r->tail);
	return 0;
}

int pn_ring_push_n(struct pn_ring *r, const void *entries, uint32_t n)
{
	int64_t space = pn_ring_space(r);
	const uint8_t *src = entries;
	uint32_t k, first;

	if (space < 0)
		return (int)space;
	k = n < space ? n : (uint32_t)space;
	/* at most two copies: up to the end of the slots, then from the start */
	first = r->entries - (r->tail & r->mask);
	if (first > k)
		first = k;
	memcpy(r->slots + (size_t)(r->tail & r->mask) * r->entry_size, src,
	       (size_t)first * r->entry_size);
	memcpy(r->slots, src + (size_t)first * r->entry_size, (size_t)(k - first) * r->entry_size);
	r->tail += k;
	/* release: every entry's bytes are visible before the new tail (ordering 1) */
	if (k)
		STORE_REL(&r->hdr->tail, r->tail);
	return (int)k;
}

bool pn_ring_needs_wakeup(const struct pn_ring *r)
{
	/*
	 * Full fence: orders the tail store above before the flags load below
	 * (the producer's half of the Dekker pair; see the top of the file).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return LOAD_RLX(&r->hdr->flags) & PN_RING_NEED_WAKEUP;
}

int64_t pn_ring_ready(struct pn_ring *r)
{
	/* acquire: pairs with the producer's tail release-store (ordering 1) */
	uint32_t tail = LOAD_ACQ(&r->hdr->tail);
	uint32_t n = tail - r->head;

	if (n > r->entries)
		return -EPROTO;
	return n;
}

int pn_ring_pop(struct pn_ring *r, void *entry)
{
	int64_t n = pn_ring_ready(r);

	if (n <= 0)
		return n < 0 ? (int)n : -EAGAIN;
	memcpy(entry, r->slots + (size_t)(r->head & r->mask) * r->entry_size,
	       r->entry_size);
	r->head++;
	/* release: our copy of the entry is done before the slot is freed (ordering 2) */
	STORE_REL(&r->hdr->head, r->head);
	return 0;
}

int pn_ring_peek_n(struct pn_ring *r, void *entries, uint32_t max)
{
	int64_t n = pn_ring_ready(r);	/* the acquire of ordering 1 */
	uint8_t *dst = entries;
	uint32_t k, first;

	if (n < 0)
		return (int)n;
	k = max < n ? max : (uint32_t)n;
	first = r->entries - (r->head & r->mask);
	if (first > k)
		first = k;
	memcpy(dst, r->slots + (size_t)(r->head & r->mask) * r->entry_size,
	       (size_t)first * r->entry_size);
	memcpy(dst + (size_t)first * r->entry_size, r->slots, (size_t)(k - first) * r->entry_size);
	return (int)k;
}

void pn_ring_advance(struct pn_ring *r, uint32_t k)
{
	if (!k)
		return;
	r->head += k;
	/* release: our copies of the k entries are done before their slots are freed
	 * (ordering 2) */
	STORE_REL(&r->hdr->head, r->head);
}

int pn_ring_pop_n(struct pn_ring *r, void *entries, uint32_t max)
{
	int k = pn_ring_peek_n(r, entries, max);

	if (k > 0)
		pn_ring_advance(r, (uint32_t)k);
	return k;
}

uint32_t pn_ring_wake_value(const struct pn_ring *r)
{
	/* acquire: pairs with the producer's release increment (ordering 3); the
	 * fence in prepare_sleep keeps this load before the tail load there */
	return LOAD_ACQ(&r->hdr->wake);
}

bool pn_ring_prepare_sleep(struct pn_ring *r)
{
	/* Only the consumer writes flags, so a plain read-modify-write is safe. */
	uint32_t f = LOAD_RLX(&r->hdr->flags);

	STORE_RLX(&r->hdr->flags, f | PN_RING_NEED_WAKEUP);
	/*
	 * Full fence: orders the flags store above before the tail load in
	 * pn_ring_ready (the consumer's half of the Dekker pair).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (pn_ring_ready(r) != 0) {
		pn_ring_clear_wakeup(r);
		return false;
	}
	return true;
}

void pn_ring_clear_wakeup(struct pn_ring *r)
{
	uint32_t f = LOAD_RLX(&r->hdr->flags);

	/* relaxed: a stale flag costs the producer one spurious eventfd write */
	if (f & PN_RING_NEED_WAKEUP)
		STORE_RLX(&r->hdr->flags, f & ~PN_RING_NEED_WAKEUP);
}
