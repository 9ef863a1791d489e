/* SPDX-License-Identifier: MIT */
/*
 * region.h - shared memory regions for weights and codebooks: one copy in
 * memory, mapped by every process that needs it.
 *
 * Two backends behind one API (docs/driver.md has the full rules):
 *  - DRIVER: /dev/polynet (polynet.ko). Pinned pages, regions named in the
 *    kernel, owner/group/mode checked on attach, seal enforced by the kernel,
 *    persistent regions outlive every process until destroyed.
 *  - MEMFD: no driver. A named region is a POSIX shm object
 *    /dev/shm/polynet.<name> (the kernel checks owner/group/mode on attach,
 *    read-only attachments cannot map writable); an anonymous region (no
 *    name) is a memfd (hugetlb when enough huge pages are free) with real
 *    F_SEAL_* seals, shared by fork or pn_region_send/recv (SCM_RIGHTS).
 *    A named non-persistent region loses its name when its creator closes
 *    it; a persistent one keeps it until pn_region_destroy.
 *
 * Every function returns 0 or -errno and, given a struct pn_err, fills one
 * line saying what failed. Nothing here prints. Handles are not
 * thread-safe; regions are process-shared by design.
 */
#ifndef PN_REGION_H
#define PN_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"

enum pn_region_backend {
	PN_REGION_AUTO = 0,	/* the driver when /dev/polynet exists, else memfd */
	PN_REGION_DRIVER,
	PN_REGION_MEMFD,
};

/* pn_region_opts.flags */
#define PN_REGION_PERSISTENT	(1U << 0) /* lives until pn_region_destroy */
#define PN_REGION_NOHUGE	(1U << 1) /* memfd: never use hugetlb pages */

/* pn_region_attach flags */
#define PN_REGION_RDWR		(1U << 0) /* read-write, else read-only */

#define PN_REGION_NAME_MAX	64	  /* with the NUL; names are [A-Za-z0-9._-] */
#define PN_REGION_ID_SELF	0xffffffffU
#define PN_REGION_NODE_ANY	(-1)

struct pn_region_opts {
	uint64_t size;		/* bytes; rounded up to the page (huge page) size */
	uint32_t flags;		/* PN_REGION_PERSISTENT | PN_REGION_NOHUGE */
	int numa_node;		/* preferred node (driver), PN_REGION_NODE_ANY */
	uint32_t uid, gid;	/* owner, PN_REGION_ID_SELF for the caller */
	uint32_t mode;		/* permission bits, 0..0777 */
	enum pn_region_backend backend;
};

struct pn_region_info {
	char name[PN_REGION_NAME_MAX];	/* "" for an anonymous region */
	enum pn_region_backend backend;	/* never AUTO */
	uint32_t id;			/* driver id, 0 for memfd */
	uint64_t size;
	uint32_t uid, gid, mode;
	int numa_node;
	bool persistent, sealed, writable, hugetlb;
	uint32_t attachments, mappings;	/* driver only, else 0 */
};

struct pn_region;

/* Fills o with defaults: 0600, the caller's ids, any node, AUTO backend. */
void pn_region_opts_init(struct pn_region_opts *o, uint64_t size);

/* name NULL or "" creates an anonymous region. The creator is attached RW. */
int pn_region_create(const char *name, const struct pn_region_opts *o,
		     struct pn_region **out, struct pn_err *e);
int pn_region_attach(const char *name, uint32_t flags, enum pn_region_backend backend,
		     struct pn_region **out, struct pn_err *e);
/* After seal no mapping of the region can be writable; -EBUSY while one is. */
int pn_region_seal(struct pn_region *r, struct pn_err *e);
/* Maps the whole region MAP_SHARED with prot (PROT_READ [| PROT_WRITE]). */
int pn_region_map(struct pn_region *r, int prot, void **addr, struct pn_err *e);
int pn_region_unmap(struct pn_region *r, void *addr, struct pn_err *e);
int pn_region_info(struct pn_region *r, struct pn_region_info *info, struct pn_err *e);
/* Unlinks a named region: no new attach; memory goes with the last user. */
int pn_region_destroy(const char *name, enum pn_region_backend backend, struct pn_err *e);
/* Drops this attachment (mappings stay valid until unmapped). */
void pn_region_close(struct pn_region *r);

size_t pn_region_size(const struct pn_region *r);
int pn_region_fd(const struct pn_region *r);
enum pn_region_backend pn_region_backend(const struct pn_region *r);

/* Passes the attachment over a connected Unix socket (SCM_RIGHTS). */
int pn_region_send(int sock, const struct pn_region *r, struct pn_err *e);
int pn_region_recv(int sock, struct pn_region **out, struct pn_err *e);

#endif /* PN_REGION_H */
