// SPDX-License-Identifier: MIT
/*
 * tok_nfkc.c - NFKC for the tokenizer. The reference (the npm package in
 * node 20) normalises with ICU 78, Unicode 17; Debian's utf8proc 2.8 knows
 * Unicode 15. Checked exhaustively against node (every code point, every
 * canonical decomposition): they differ only on 37 single code points with
 * new compatibility mappings and 20 new canonical compositions, patched here.
 */
#include <errno.h>
#include <stdbool.h>

#include <utf8proc.h>

#include "text/tok_nfkc.h"

#define NFKC_OPTS (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT)

/* Unicode 16/17 canonical compositions, one level: cp = first + second. */
static const struct { int32_t cp, first, second; } new_pairs[] = {
	{ 0x105c9, 0x105d2, 0x307 },	/* Todhri */
	{ 0x105e4, 0x105da, 0x307 },
	{ 0x11383, 0x11382, 0x113c9 },	/* Tulu-Tigalari */
	{ 0x11385, 0x11384, 0x113bb },
	{ 0x1138e, 0x1138b, 0x113c2 },
	{ 0x11391, 0x11390, 0x113c9 },
	{ 0x113c5, 0x113c2, 0x113c2 },
	{ 0x113c7, 0x113c2, 0x113b8 },
	{ 0x113c8, 0x113c2, 0x113c9 },
	{ 0x16121, 0x1611e, 0x1611e },	/* Gurung Khema */
	{ 0x16122, 0x1611e, 0x16129 },
	{ 0x16123, 0x1611e, 0x1611f },
	{ 0x16124, 0x16129, 0x1611f },
	{ 0x16125, 0x1611e, 0x16120 },
	{ 0x16126, 0x16121, 0x1611f },
	{ 0x16127, 0x16122, 0x1611f },
	{ 0x16128, 0x16121, 0x16120 },
	{ 0x16d68, 0x16d67, 0x16d67 },	/* Kirat Rai */
	{ 0x16d69, 0x16d63, 0x16d67 },
	{ 0x16d6a, 0x16d69, 0x16d67 },
};
#define NEW_MIN 0x105c9		/* every code point of new_pairs but U+0307 */
#define NEW_MAX 0x16d6a
#define NPAIRS (sizeof(new_pairs) / sizeof(new_pairs[0]))

/* Unicode 16/17 compatibility mappings to one code point (outlined letters). */
static utf8proc_int32_t map_new_compat(utf8proc_int32_t cp, void *data)
{
	if (cp >= 0x1ccd6 && cp <= 0x1ccef)
		return 'A' + (cp - 0x1ccd6);
	if (cp >= 0x1ccf0 && cp <= 0x1ccf9)
		return '0' + (cp - 0x1ccf0);
	if (cp == 0xa7f1)
		return 'S';
	return cp;
}

static int ccc(int32_t cp)
{
	return utf8proc_get_property(cp)->combining_class;
}

static const int32_t *pair_of(int32_t cp)
{
	for (size_t i = 0; i < NPAIRS; i++)
		if (new_pairs[i].cp == cp)
			return &new_pairs[i].first;
	return NULL;
}

/* Full canonical decomposition of a new composite into out (<= 3), or 0. */
static size_t decompose_new(int32_t cp, int32_t *out)
{
	const int32_t *p = pair_of(cp);
	size_t n;

	if (!p)
		return 0;
	n = decompose_new(p[0], out);
	if (!n)
		out[n++] = p[0];
	out[n++] = p[1];
	return n;
}

static int32_t compose_new(int32_t first, int32_t second)
{
	for (size_t i = 0; i < NPAIRS; i++)
		if (new_pairs[i].first == first && new_pairs[i].second == second)
			return new_pairs[i].cp;
	return 0;
}

/* Expands new composites in place (room checked by the caller), then reorders marks. */
static size_t expand_new(int32_t *buf, size_t n, size_t extra)
{
	size_t w = n + extra;

	for (size_t i = n; i-- > 0;) {
		int32_t d[3];
		size_t k = decompose_new(buf[i], d);

		if (!k) {
			buf[--w] = buf[i];
			continue;
		}
		while (k)
			buf[--w] = d[--k];
	}
	n += extra;
	/* A decomposed U+0307 (ccc 230) must sort after lower-class marks. */
	for (size_t i = 1; i < n; i++) {
		int32_t c = buf[i];
		int cc = ccc(c);
		size_t j = i;

		if (!cc)
			continue;
		while (j > 0 && ccc(buf[j - 1]) > cc) {
			buf[j] = buf[j - 1];
			j--;
		}
		buf[j] = c;
	}
	return n;
}

/* The canonical composition algorithm, restricted to the new pairs. */
static size_t compose_new_pairs(int32_t *buf, size_t n)
{
	ptrdiff_t starter = -1;
	int max_between = 0;
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		int32_t c = buf[i];
		int cc = ccc(c);

		if (starter >= 0) {
			int32_t comp = compose_new(buf[starter], c);
			bool adjacent = (ptrdiff_t)w == starter + 1;

			if (comp && (adjacent || (cc && max_between < cc))) {
				buf[starter] = comp;
				continue;
			}
		}
		if (!cc) {
			starter = (ptrdiff_t)w;
			max_between = 0;
		} else if (cc > max_between) {
			max_between = cc;
		}
		buf[w++] = c;
	}
	return w;
}

ptrdiff_t pn_tok_nfkc(const unsigned char *s, size_t len, int32_t *buf, size_t cap)
{
	utf8proc_ssize_t n;
	size_t extra = 0;
	bool new_chars = false;

	n = utf8proc_decompose_custom(s, (utf8proc_ssize_t)len, buf, (utf8proc_ssize_t)cap,
				      NFKC_OPTS, map_new_compat, NULL);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n > cap)
		return n;
	for (utf8proc_ssize_t i = 0; i < n; i++) {
		int32_t d[3];
		size_t k;

		if (buf[i] < NEW_MIN || buf[i] > NEW_MAX)
			continue;
		new_chars = true;
		k = decompose_new(buf[i], d);
		extra += k ? k - 1 : 0;
	}
	if ((size_t)n + extra > cap)
		return n + (ptrdiff_t)extra;
	if (extra)
		n = (utf8proc_ssize_t)expand_new(buf, (size_t)n, extra);
	n = utf8proc_normalize_utf32(buf, n, NFKC_OPTS);
	if (n < 0)
		return -EINVAL;
	if (new_chars)
		n = (utf8proc_ssize_t)compose_new_pairs(buf, (size_t)n);
	return n;
}
