// SPDX-License-Identifier: MIT
/*
 * pnb_check.c - the reader's error helpers (pnb_check.h): every message
 * names the file, the section and entry, and the byte offset, then what was
 * expected. Shared by pnb.c (header, sections, tables) and pnb_nodes.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "format/pnb_check.h"

/* Offset in the header of section s's table entry. */
#define SEC_FIELD(s)	(offsetof(struct pnb_header, sec) + \
			 (uint64_t)(s) * sizeof(struct pnb_section))

const char *const pnb_sec_names[PNB_SEC_COUNT] = {
	"strings", "tensors", "values", "nodes", "data",
};

/* Entry size of the table sections; 0 for byte sections. */
const uint64_t pnb_sec_entry_size[PNB_SEC_COUNT] = {
	0, sizeof(struct pnb_tensor), sizeof(struct pnb_value), sizeof(struct pnb_node), 0,
};

static int vbad(const struct vctx *c, int code, const char *where, uint64_t off,
		const char *fmt, va_list ap)
{
	char detail[400];

	vsnprintf(detail, sizeof(detail), fmt, ap);
	return pn_errf(c->err, code, "%s: %s, byte %" PRIu64 ": %s", c->what, where, off, detail);
}

__attribute__((format(printf, 5, 6)))
int pnb_bad(const struct vctx *c, int code, const char *where, uint64_t off,
	       const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vbad(c, code, where, off, fmt, ap);
	va_end(ap);
	return r;
}

/* An error in entry idx of table section sec; off is the field's offset in it. */
__attribute__((format(printf, 6, 7)))
int pnb_bad_entry(const struct vctx *c, int code, int sec, uint32_t idx, uint64_t off,
		     const char *fmt, ...)
{
	char where[48];
	va_list ap;
	int r;

	snprintf(where, sizeof(where), "%s[%" PRIu32 "]", pnb_sec_names[sec], idx);
	off += c->h.sec[sec].offset + (uint64_t)idx * pnb_sec_entry_size[sec];
	va_start(ap, fmt);
	r = vbad(c, code, where, off, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 5, 6)))
int pnb_bad_sec(const struct vctx *c, int code, int sec, uint64_t field, const char *fmt, ...)
{
	char where[48];
	va_list ap;
	int r;

	snprintf(where, sizeof(where), "header sec[%s]", pnb_sec_names[sec]);
	va_start(ap, fmt);
	r = vbad(c, code, where, SEC_FIELD(sec) + field, fmt, ap);
	va_end(ap);
	return r;
}

/* A string reference: inside the section, and at the start of a character
 * (the section is valid UTF-8 and ends with NUL, so the string then is too). */
int pnb_check_str_ref(const struct vctx *c, int sec, uint32_t idx, uint64_t field,
			 const char *what, uint32_t ref)
{
	if (ref >= c->f->strings_size)
		return pnb_bad_entry(c, -EINVAL, sec, idx, field,
				 "%s string offset %" PRIu32 " out of range, expected < %" PRIu64
				 " (strings size)", what, ref, c->f->strings_size);
	if (((uint8_t)c->f->strings[ref] & 0xc0) == 0x80)
		return pnb_bad_entry(c, -EINVAL, sec, idx, field,
				 "%s string offset %" PRIu32 " is inside a UTF-8 character, "
				 "expected the start of a string", what, ref);
	return 0;
}
