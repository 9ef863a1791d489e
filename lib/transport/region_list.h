/* SPDX-License-Identifier: MIT */
/*
 * region_list.h - the named regions of the memfd backend, as a directory
 * walk of /dev/shm/polynet.* (region_list.c): for polynetd's reclaim of
 * half-written regions and `polyctl regions`. The driver backend's regions
 * are listed by the driver itself (docs/driver.md) and are not walked here.
 */
#ifndef PN_REGION_LIST_H
#define PN_REGION_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/region.h"

struct pn_region_entry {
	char name[PN_REGION_NAME_MAX];	/* without the "polynet." of its shm path */
	uint64_t size;			/* bytes */
	uint64_t resident;		/* bytes in memory (st_blocks) */
	uint32_t uid, mode;
	bool persistent;
	int64_t mtime;			/* seconds since the epoch */
};

/*
 * Calls fn for each region whose name starts with prefix ("" for all), in
 * no particular order; stops at the first non-zero return and returns it.
 * -errno when /dev/shm cannot be read.
 */
int pn_region_list(const char *prefix, int (*fn)(void *arg, const struct pn_region_entry *r),
		   void *arg, struct pn_err *e);

#endif /* PN_REGION_LIST_H */
