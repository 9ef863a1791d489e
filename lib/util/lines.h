/* SPDX-License-Identifier: MIT */
/*
 * lines.h - a text file read one line at a time in bounded memory (lines.c),
 * for every line-oriented input of the tools (`polyctl run --text-file`,
 * `bench --ids`, and the plain-text sets of eval and compile --calib).
 *
 * A line longer than max bytes is not stored: the reader skips to its
 * newline and says so, so the caller reports that line and goes on. Every
 * line is accounted for: pn_lines_next returns each line, a too-long one,
 * EOF or a read error (never EOF on an error). A "line" of more than
 * PN_LINES_GIVE_UP bytes with no newline (/dev/zero) ends the file with an
 * error: it is not text.
 */
#ifndef PN_LINES_H
#define PN_LINES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/pn_err.h"

#define PN_LINE_MAX_DEFAULT	(1u << 20)	/* 1 MiB */
#define PN_LINES_GIVE_UP	(64ull << 20)	/* no newline in 64 MiB: not a text file */

struct pn_lines {
	FILE *f;
	const char *path;	/* for messages */
	char *buf;
	size_t max;
	uint64_t lineno;	/* of the line last returned */
	int own;		/* f was opened here */
};

/* path "-" reads stdin. */
int pn_lines_open(struct pn_lines *l, const char *path, size_t max, struct pn_err *e);
/*
 * The next line, without its newline, NUL-terminated in *line (valid until the
 * next call) of *len bytes: 0. 1 at the end of the file. -E2BIG: line
 * l->lineno was longer than max, skipped (e names file, line and limit).
 * -EIO or -errno: a read error, or a newline-less stretch past
 * PN_LINES_GIVE_UP (e says which); nothing more is read.
 */
int pn_lines_next(struct pn_lines *l, const char **line, size_t *len, struct pn_err *e);
void pn_lines_close(struct pn_lines *l);

#endif /* PN_LINES_H */
