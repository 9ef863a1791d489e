/* SPDX-License-Identifier: MIT */
/*
 * derived.h - a backend's derived weights of one model (packed layouts;
 * device copies later) in a persistent region, so that every worker shares
 * one copy and a restarted daemon reattaches it instead of deriving again.
 *
 * The region is named by the model (struct pnd_model.derived_name:
 * "<state>.x<content hash>") and keyed by what its bytes depend on: the
 * model's content hash, the backend, the CPU's ISA as the backend's library
 * sees it, that library's version, and a layout fingerprint (util/wstore.h).
 * A region whose key differs (the state moved to another CPU, oneDNN was
 * upgraded), that a crash left incomplete, or whose payload fails its CRC is
 * destroyed and derived again; nothing else is ever trusted.
 *
 * Layout (docs/daemon.md "Derived weights"): a 4096-byte header, then the
 * payload. It is written once, its CRC-32C and "complete" set last, then
 * sealed (no writable mapping can exist after) and mapped read-only.
 * Threads: whichever thread prepares a model (the loop thread); one handle
 * per model, never shared.
 */
#ifndef PND_DERIVED_H
#define PND_DERIVED_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"

#define PND_DERIVED_HDR 4096u

struct pnd_derived_key {
	uint64_t content_hash;
	char backend[16];		/* "cpu" */
	char isa[32];			/* e.g. "dnnl-isa-231" */
	uint32_t lib_version;		/* major << 16 | minor << 8 | patch */
};

struct pnd_derived {
	struct pn_region *r;
	void *map;			/* the whole region */
	size_t size;
	void *payload;
	size_t payload_bytes;
	uint64_t fingerprint;		/* as recorded (attach) or given (commit) */
};

/*
 * Attaches name and checks its header against key, its completeness and
 * its payload's CRC. Returns 0 (d->payload read-only), -ENOENT when there is
 * no such region, -ESTALE when there is one that must not be used (then
 * destroyed, e says why), or another -errno.
 */
int pnd_derived_attach(const char *name, const struct pnd_derived_key *key,
		       struct pnd_derived *d, struct pn_err *e);
/* Creates name (persistent, 0600) with payload_bytes writable at d->payload. */
int pnd_derived_create(const char *name, const struct pnd_derived_key *key,
		       size_t payload_bytes, struct pnd_derived *d, struct pn_err *e);
/* The payload is written: records fingerprint and CRC, seals, remaps read-only. */
int pnd_derived_commit(struct pnd_derived *d, uint64_t fingerprint, struct pn_err *e);
/* Unmaps and closes; the region stays (the model's unload destroys the name). */
void pnd_derived_close(struct pnd_derived *d);

#endif /* PND_DERIVED_H */
