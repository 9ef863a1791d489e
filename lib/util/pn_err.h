/* SPDX-License-Identifier: MIT */
/*
 * pn_err.h - how libpolynet reports errors.
 *
 * Functions return 0 or -errno. When the caller passes a struct pn_err,
 * the library also fills one line saying what went wrong, where (file,
 * section, entry, offset) and what was expected. The library never prints.
 */
#ifndef PN_ERR_H
#define PN_ERR_H

#include <stddef.h>

struct pn_err {
	char msg[512];
};

/* Formats into e (when not NULL) and returns code, so: return pn_errf(...). */
int pn_errf(struct pn_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Misuse that is a bug, never bad input: abort naming the condition. */
#define PN_ASSERT(x)							\
	do {								\
		if (!(x))						\
			pn_assert_fail(__FILE__, __LINE__, #x);		\
	} while (0)
void pn_assert_fail(const char *file, int line, const char *cond)
	__attribute__((noreturn));

#endif /* PN_ERR_H */
