// SPDX-License-Identifier: MIT
/* segment.c - the session segment's layout and checks (segment.h). */
#include <errno.h>
#include <string.h>

#include "transport/segment.h"

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

void pn_seg_layout(uint32_t sq_entries, uint32_t cq_entries, uint64_t arena_size,
		   struct pn_seg_layout *l)
{
	l->sq_entries = sq_entries;
	l->cq_entries = cq_entries;
	l->sq_off = PN_RING_ALIGN;
	l->cq_off = l->sq_off + align_up(pn_ring_bytes(sq_entries, sizeof(struct pn_sqe)),
					 PN_RING_ALIGN);
	l->arena_off = l->cq_off + align_up(pn_ring_bytes(cq_entries, sizeof(struct pn_cqe)),
					    PN_RING_ALIGN);
	l->arena_size = align_up(arena_size, PN_RING_ALIGN);
	l->size = l->arena_off + l->arena_size;
	l->wake_mode = PN_WAKE_EVENTFD;
	l->version = PN_RING_VERSION;
}

int pn_seg_format(void *mem, const struct pn_seg_layout *l, uint32_t session_id,
		  struct pn_err *e)
{
	uint8_t *p = mem;

	*(struct pn_seg_hdr *)mem = (struct pn_seg_hdr){
		.magic = PN_SEG_MAGIC, .version = l->version, .size = l->size,
		.sq_off = l->sq_off, .cq_off = l->cq_off, .arena_off = l->arena_off,
		.arena_size = l->arena_size, .session_id = session_id,
		.state = PN_SEG_LIVE, .sq_entries = l->sq_entries, .cq_entries = l->cq_entries,
	};
	if (pn_ring_format(p + l->sq_off, l->cq_off - l->sq_off, l->sq_entries,
			   sizeof(struct pn_sqe), e) ||
	    pn_ring_format(p + l->cq_off, l->arena_off - l->cq_off, l->cq_entries,
			   sizeof(struct pn_cqe), e))
		return -EINVAL;
	((struct pn_ring_hdr *)(p + l->sq_off))->wake_mode = l->wake_mode;
	((struct pn_ring_hdr *)(p + l->cq_off))->wake_mode = l->wake_mode;
	((struct pn_ring_hdr *)(p + l->sq_off))->version = l->version;
	((struct pn_ring_hdr *)(p + l->cq_off))->version = l->version;
	return 0;
}

int pn_seg_attach(void *mem, size_t size, struct pn_seg_map *v, struct pn_err *e)
{
	struct pn_seg_hdr *h = mem;
	uint8_t *p = mem;
	uint32_t version;

	v->mem = mem;
	v->size = size;
	v->hdr = NULL;
	v->arena = NULL;
	v->arena_size = 0;
	memset(&v->sq, 0, sizeof(v->sq));
	memset(&v->cq, 0, sizeof(v->cq));
	/* one read: the peer may change it afterwards */
	version = size < sizeof(*h) ? 0 : __atomic_load_n(&h->version, __ATOMIC_RELAXED);
	if (size < sizeof(*h) || h->magic != PN_SEG_MAGIC ||
	    version < PN_RING_VERSION_MIN || version > PN_RING_VERSION || h->size != size ||
	    h->sq_off >= h->cq_off || h->cq_off >= h->arena_off ||
	    h->arena_off > h->size || h->arena_size > h->size - h->arena_off)
		return pn_errf(e, -EPROTO, "session segment: bad header (magic 0x%08x, "
			       "version %u, size %llu)", size < sizeof(*h) ? 0 : h->magic, version,
			       size < sizeof(*h) ? 0ull : (unsigned long long)h->size);
	if (pn_ring_attach(&v->sq, p + h->sq_off, h->cq_off - h->sq_off,
			   sizeof(struct pn_sqe), e) ||
	    pn_ring_attach(&v->cq, p + h->cq_off, h->arena_off - h->cq_off,
			   sizeof(struct pn_cqe), e))
		return -EPROTO;
	if (v->sq.hdr->version != version || v->cq.hdr->version != version)
		return pn_errf(e, -EPROTO, "session segment: version %u, its rings' %u and %u",
			       version, v->sq.hdr->version, v->cq.hdr->version);
	v->version = version;
	v->hdr = h;
	v->arena = p + h->arena_off;
	v->arena_size = h->arena_size;
	return 0;
}
