// SPDX-License-Identifier: MIT
/* core.c - the clock and the log line every part of polynetd uses (core.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core.h"

uint64_t pnd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pnd_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "polynetd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
