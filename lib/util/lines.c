// SPDX-License-Identifier: MIT
/*
 * lines.c - bounded line reading (lines.h). getc_unlocked over stdio's own
 * buffer: a line is copied once, and memory never exceeds max + 1 bytes
 * whatever the file holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/lines.h"

int pn_lines_open(struct pn_lines *l, const char *path, size_t max, struct pn_err *e)
{
	memset(l, 0, sizeof(*l));
	l->path = path;
	l->max = max ? max : PN_LINE_MAX_DEFAULT;
	l->buf = malloc(l->max + 1);
	if (!l->buf)
		return pn_errf(e, -ENOMEM, "%s: out of memory for a %zu-byte line", path, l->max);
	if (!strcmp(path, "-")) {
		l->f = stdin;
		return 0;
	}
	l->f = fopen(path, "rb");
	if (!l->f) {
		int r = -errno;

		free(l->buf);
		l->buf = NULL;
		return pn_errf(e, r, "%s: cannot open: %s", path, strerror(-r));
	}
	l->own = 1;
	return 0;
}

/* Reads to the end of an overlong line; 0, or an error. */
static int skip_rest(struct pn_lines *l, uint64_t seen, struct pn_err *e)
{
	int c;

	while ((c = getc_unlocked(l->f)) != EOF && c != '\n') {
		if (++seen > PN_LINES_GIVE_UP)
			return pn_errf(e, -EINVAL, "%s:%llu: no newline in %llu bytes: not a text "
				       "file, stopped", l->path, (unsigned long long)l->lineno,
				       (unsigned long long)PN_LINES_GIVE_UP);
	}
	if (ferror(l->f))
		return pn_errf(e, -EIO, "%s:%llu: read error", l->path,
			       (unsigned long long)l->lineno);
	return 0;
}

int pn_lines_next(struct pn_lines *l, const char **line, size_t *len, struct pn_err *e)
{
	size_t n = 0;
	int c = EOF;

	if (!l->f)
		return pn_errf(e, -EBADF, "%s: not open", l->path);
	while (n <= l->max && (c = getc_unlocked(l->f)) != EOF && c != '\n')
		l->buf[n++] = (char)c;
	if (ferror(l->f))
		return pn_errf(e, -EIO, "%s: read error after line %llu: %s", l->path,
			       (unsigned long long)l->lineno, strerror(errno));
	if (c == EOF && !n)
		return 1;
	l->lineno++;
	if (n > l->max) {
		int r = skip_rest(l, n, e);

		if (r)
			return r;
		return pn_errf(e, -E2BIG, "%s:%llu: line longer than %zu bytes, skipped", l->path,
			       (unsigned long long)l->lineno, l->max);
	}
	l->buf[n] = '\0';
	*line = l->buf;
	*len = n;
	return 0;
}

void pn_lines_close(struct pn_lines *l)
{
	if (l->own && l->f)
		fclose(l->f);
	free(l->buf);
	memset(l, 0, sizeof(*l));
}
