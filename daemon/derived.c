// SPDX-License-Identifier: MIT
/* derived.c - persistent regions of derived weights (derived.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "derived.h"
#include "format/pnb.h"
#include "transport/region.h"

#define DERIVED_MAGIC	0x56524450u	/* "PDRV" */
#define DERIVED_VERSION	1u

struct derived_hdr {
	uint32_t magic, version;
	struct pnd_derived_key key;
	uint64_t payload_bytes;
	uint64_t fingerprint;
	uint32_t crc;			/* CRC-32C of the payload */
	uint32_t complete;		/* 1: written last, after everything above */
};

_Static_assert(sizeof(struct derived_hdr) <= PND_DERIVED_HDR, "derived header fits");

static void unmap(struct pnd_derived *d)
{
	if (d->map)
		munmap(d->map, d->size);
	d->map = d->payload = NULL;
}

void pnd_derived_close(struct pnd_derived *d)
{
	unmap(d);
	pn_region_close(d->r);
	memset(d, 0, sizeof(*d));
}

/* Why hdr (of a region of size bytes) must not be used, or NULL. */
static const char *refuse(const struct derived_hdr *h, size_t size,
			  const struct pnd_derived_key *key)
{
	if (h->magic != DERIVED_MAGIC || h->version != DERIVED_VERSION)
		return "not a derived-weights region of this version";
	if (!h->complete)
		return "incomplete (its writer stopped before the end)";
	if (h->key.content_hash != key->content_hash)
		return "derived from other model bytes";
	if (memcmp(h->key.backend, key->backend, sizeof(key->backend)))
		return "derived for another backend";
	if (memcmp(h->key.isa, key->isa, sizeof(key->isa)))
		return "derived for another CPU ISA";
	if (h->key.lib_version != key->lib_version)
		return "derived by another version of the backend's library";
	if (h->payload_bytes > size - PND_DERIVED_HDR)
		return "payload larger than the region";
	return NULL;
}

int pnd_derived_attach(const char *name, const struct pnd_derived_key *key,
		       struct pnd_derived *d, struct pn_err *e)
{
	const struct derived_hdr *h;
	const char *why;
	int r;

	memset(d, 0, sizeof(*d));
	r = pn_region_attach(name, 0, PN_REGION_AUTO, &d->r, e);
	if (r)
		return r;
	d->size = pn_region_size(d->r);
	if (d->size < PND_DERIVED_HDR) {
		why = "smaller than its header";
		goto stale;
	}
	r = pn_region_map(d->r, PROT_READ, &d->map, e);
	if (r) {
		pnd_derived_close(d);
		return r;
	}
	h = d->map;
	why = refuse(h, d->size, key);
	if (!why && pn_crc32c(0, (const uint8_t *)d->map + PND_DERIVED_HDR,
			      h->payload_bytes) != h->crc)
		why = "payload CRC mismatch";
	if (why)
		goto stale;
	d->payload = (uint8_t *)d->map + PND_DERIVED_HDR;
	d->payload_bytes = h->payload_bytes;
	d->fingerprint = h->fingerprint;
	return 0;
stale:
	pnd_derived_close(d);
	pn_region_destroy(name, PN_REGION_AUTO, NULL);
	return pn_errf(e, -ESTALE, "derived region %s: %s: destroyed, derived again", name,
		       why);
}

int pnd_derived_create(const char *name, const struct pnd_derived_key *key,
		       size_t payload_bytes, struct pnd_derived *d, struct pn_err *e)
{
	struct pn_region_opts o;
	struct derived_hdr *h;
	int r;

	memset(d, 0, sizeof(*d));
	pn_region_opts_init(&o, PND_DERIVED_HDR + payload_bytes);
	o.flags |= PN_REGION_PERSISTENT | PN_REGION_NOHUGE;
	r = pn_region_create(name, &o, &d->r, e);
	if (!r) {
		d->size = pn_region_size(d->r);
		r = pn_region_map(d->r, PROT_READ | PROT_WRITE, &d->map, e);
	}
	if (r) {
		if (d->r)
			pn_region_destroy(name, PN_REGION_AUTO, NULL);
		pnd_derived_close(d);
		return r;
	}
	h = d->map;
	memset(h, 0, sizeof(*h));
	h->magic = DERIVED_MAGIC;
	h->version = DERIVED_VERSION;
	h->key = *key;
	h->payload_bytes = payload_bytes;
	d->payload = (uint8_t *)d->map + PND_DERIVED_HDR;
	d->payload_bytes = payload_bytes;
	return 0;
}

int pnd_derived_commit(struct pnd_derived *d, uint64_t fingerprint, struct pn_err *e)
{
	struct derived_hdr *h = d->map;
	int r;

	h->fingerprint = fingerprint;
	h->crc = pn_crc32c(0, d->payload, d->payload_bytes);
	/* complete last: a reader that sees it sees the rest (one process, and
	 * a later one only after this one's stores reached the shared pages) */
	__atomic_store_n(&h->complete, 1, __ATOMIC_RELEASE);
	d->fingerprint = fingerprint;
	unmap(d);
	r = pn_region_seal(d->r, e);
	if (!r)
		r = pn_region_map(d->r, PROT_READ, &d->map, e);
	if (r)
		return r;
	d->payload = (uint8_t *)d->map + PND_DERIVED_HDR;
	return 0;
}
