// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/pn_err.h"

int pn_errf(struct pn_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void pn_assert_fail(const char *file, int line, const char *cond)
{
	fprintf(stderr, "polynet: %s:%d: assertion failed: %s\n", file, line, cond);
	abort();
}
