/* SPDX-License-Identifier: MIT */
/*
 * segment.h - the session segment (uapi/ring.h) in one place for both
 * sides: polynetd lays it out and formats it (daemon/session.c), the
 * client library checks the header it was handed and attaches the rings
 * (client.c). Layout:
 *
 *   0          struct pn_seg_hdr, padded to PN_RING_ALIGN
 *   sq_off     SQ: pn_ring_hdr + sq_entries * pn_sqe, padded to PN_RING_ALIGN
 *   cq_off     CQ: pn_ring_hdr + cq_entries * pn_cqe, padded to PN_RING_ALIGN
 *   arena_off  arena: arena_size bytes (a multiple of PN_RING_ALIGN)
 *   size       the end
 *
 * Cold path: once per session on each side.
 */
#ifndef PN_SEGMENT_H
#define PN_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "transport/ring.h"
#include "util/pn_err.h"
#include "uapi/ring.h"

struct pn_seg_layout {
	uint32_t sq_entries, cq_entries;
	uint64_t sq_off, cq_off, arena_off, arena_size, size;
	uint32_t wake_mode;		/* both rings' (uapi/ring.h); pn_seg_layout: eventfd */
	uint32_t version;		/* the segment's and its rings'; pn_seg_layout:
					 * PN_RING_VERSION (polynetd lowers it to 2 for a
					 * client that did not ask for 3) */
};

/* Offsets of every part from the sizes (arena_size rounded up to the alignment). */
void pn_seg_layout(uint32_t sq_entries, uint32_t cq_entries, uint64_t arena_size,
		   struct pn_seg_layout *out);

/*
 * Formats a fresh segment of l->size bytes at mem: the header (state
 * PN_SEG_LIVE) and both rings. -EINVAL when a ring refuses its geometry.
 */
int pn_seg_format(void *mem, const struct pn_seg_layout *l, uint32_t session_id,
		  struct pn_err *e);

/*
 * One side's hold on a session segment: its fds, its mapping and the parts
 * pn_seg_attach found in it. polynetd's struct pnd_session and the client's
 * struct pn_session each embed one, as .seg.
 */
struct pn_seg_map {
	int seg_fd, db_fd, cq_fd;	/* the memfd; the doorbell and completion eventfds */
	void *mem;			/* the mapping, size bytes */
	size_t size;
	struct pn_seg_hdr *hdr;
	struct pn_ring sq, cq;
	uint8_t *arena;
	uint64_t arena_size;
	uint32_t version;		/* the segment's ring version, as checked */
};

/*
 * Checks the header of the size bytes mapped at mem (untrusted: the other
 * process wrote it) and attaches both rings: fills every field of m but the
 * fds. -EPROTO on a bad header or ring. Versions PN_RING_VERSION_MIN to
 * PN_RING_VERSION are accepted, the rings' equal to the segment's.
 */
int pn_seg_attach(void *mem, size_t size, struct pn_seg_map *m, struct pn_err *e);

#endif /* PN_SEGMENT_H */
