/* SPDX-License-Identifier: MIT */
/*
 * pnb_check.h - private to the .pnb reader (pnb.c, pnb_nodes.c, pnb_hash.c;
 * the helpers are in pnb_check.c):
 * the validation context and the error helpers that name section, entry
 * and byte offset.
 */
#ifndef PN_PNB_CHECK_H
#define PN_PNB_CHECK_H

#include <stdint.h>

#include "format/pnb.h"

struct vctx {
	const uint8_t *base;
	uint64_t size;
	const char *what;
	struct pn_err *err;
	struct pnb_header h;		/* a copy: base need not be aligned for it */
	struct pnb_file *f;		/* filled section by section */
	unsigned flags;			/* PNB_OPEN_* */
};

/* Names of the sections, and the entry size of the table sections (0 for bytes). */
extern const char *const pnb_sec_names[PNB_SEC_COUNT];
extern const uint64_t pnb_sec_entry_size[PNB_SEC_COUNT];
/* An error at byte off of the file; where names the part ("header", ...). */
int pnb_bad(const struct vctx *c, int code, const char *where, uint64_t off,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An error in field field of section sec's header entry. */
int pnb_bad_sec(const struct vctx *c, int code, int sec, uint64_t field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* An error in entry idx of table section sec; off is the field's offset in it. */
int pnb_bad_entry(const struct vctx *c, int code, int sec, uint32_t idx, uint64_t off,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A string reference inside the strings section, at the start of a character. */
int pnb_check_str_ref(const struct vctx *c, int sec, uint32_t idx, uint64_t field,
		      const char *what, uint32_t ref);
/* Node i: op, arity, indices, DAG order (produced[v] set once v exists), attributes. */
int pnb_check_node(const struct vctx *c, uint32_t i, const struct pnb_node *n,
		   uint8_t *produced);
/* XXH64 (seed 0): the content hash models are compared by. */
uint64_t pnb_xxh64(const uint8_t *p, size_t len);

#endif /* PN_PNB_CHECK_H */
