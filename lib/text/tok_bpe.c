// SPDX-License-Identifier: MIT
/*
 * tok_bpe.c - Llama's score-ordered BPE (tok_bpe.h). Pieces are kept with
 * U+2581 turned back into spaces, so encoding looks characters up as they
 * are and decoding copies bytes. Lookups go through a hash of the pieces
 * (util/strtab.h); the merge loop is llama2.c's: quadratic in the
 * prompt's characters, which the context bounds.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/tok_bpe.h"
#include "text/utf8.h"
#include "util/strtab.h"

struct pn_bpe {
	uint32_t count;
	char **piece;		/* with U+2581 as ' ' */
	uint32_t *plen;
	float *score;
	struct pn_strtab tab;	/* piece -> id */
};

void pn_bpe_free(struct pn_bpe *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->piece && i < t->count; i++)
		free(t->piece[i]);
	free(t->piece);
	free(t->plen);
	free(t->score);
	pn_strtab_free(&t->tab);
	free(t);
}

/* U+2581 (e2 96 81) -> ' '. */
static char *unspace(const char *p, size_t n, uint32_t *len)
{
	char *s = malloc(n + 1);
	size_t o = 0;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && (unsigned char)p[i] == 0xe2 && (unsigned char)p[i + 1] == 0x96 &&
		    (unsigned char)p[i + 2] == 0x81) {
			s[o++] = ' ';
			i += 2;
		} else {
			s[o++] = p[i];
		}
	}
	s[o] = 0;
	*len = (uint32_t)o;
	return s;
}

static int check_bytes(const struct pn_bpe *t, struct pn_err *err)
{
	static const char hex[] = "0123456789ABCDEF";

	for (uint32_t b = 0; b < 256; b++) {
		char want[7] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0 };

		if (strcmp(t->piece[PN_BPE_BYTE0 + b], want))
			return pn_errf(err, -EINVAL, "tokenizer: piece %u is '%s', expected the "
				       "byte token '%s'", PN_BPE_BYTE0 + b,
				       t->piece[PN_BPE_BYTE0 + b], want);
	}
	return 0;
}

int pn_bpe_new(const char *pieces, size_t pieces_size, const float *scores, uint32_t count,
	       struct pn_bpe **out, struct pn_err *err)
{
	struct pn_bpe *t;
	size_t off = 0;
	int r = 0;

	*out = NULL;
	if (count < PN_BPE_BYTE0 + 256 || count > (1u << 24))
		return pn_errf(err, -EINVAL, "tokenizer: %u pieces, expected %u..%u (unk, BOS, "
			       "EOS and 256 byte tokens first)", count, PN_BPE_BYTE0 + 256, 1u << 24);
	t = calloc(1, sizeof(*t));
	if (!t || !(t->piece = calloc(count, sizeof(char *))) ||
	    !(t->plen = calloc(count, sizeof(uint32_t))) ||
	    !(t->score = calloc(count, sizeof(float))) ||
	    pn_strtab_init(&t->tab, t->piece, t->plen, count)) {
		pn_bpe_free(t);
		return pn_errf(err, -ENOMEM, "out of memory");
	}
	t->count = count;
	for (uint32_t i = 0; !r && i < count; i++) {
		const char *end = off < pieces_size ? memchr(pieces + off, 0, pieces_size - off) : NULL;
		size_t n;

		if (!end) {
			r = pn_errf(err, -EINVAL, "tokenizer: pieces blob of %zu bytes ends at piece "
				    "%u, expected %u NUL-terminated pieces", pieces_size, i, count);
			break;
		}
		n = (size_t)(end - (pieces + off));
		if (pn_utf8_invalid_at((const unsigned char *)pieces + off, n) != n)
			r = pn_errf(err, -EILSEQ, "tokenizer: piece %u: invalid UTF-8 at byte %zu "
				    "of the pieces blob", i, off);
		else if (!isfinite(scores[i]))
			r = pn_errf(err, -EINVAL, "tokenizer: piece %u: score %g, expected a "
				    "finite number", i, (double)scores[i]);
		else if (!(t->piece[i] = unspace(pieces + off, n, &t->plen[i])))
			r = pn_errf(err, -ENOMEM, "out of memory");
		t->score[i] = scores[i];
		off += n + 1;
	}
	if (!r && off != pieces_size)
		r = pn_errf(err, -EINVAL, "tokenizer: pieces blob has %zu bytes after the %u "
			    "pieces, expected none", pieces_size - off, count);
	if (!r)
		r = check_bytes(t, err);
	/* First occurrence wins a duplicate, as llama2.c's sorted lookup would
	 * find either: none of the real vocabularies has one. */
	for (uint32_t i = 0; !r && i < count; i++)
		pn_strtab_add(&t->tab, i);
	if (r) {
		pn_bpe_free(t);
		return r;
	}
	*out = t;
	return 0;
}

/* The initial symbols: the space, then each character's piece or its bytes. */
static size_t split(const struct pn_bpe *t, const unsigned char *s, size_t len, int32_t *sym)
{
	size_t n = 0;

	sym[n++] = pn_strtab_find(&t->tab, " ", 1) >= 0 ? pn_strtab_find(&t->tab, " ", 1) : PN_BPE_BYTE0 + ' ';
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t cl = pn_utf8_decode(s + i, &cp);
		int32_t id = pn_strtab_find(&t->tab, (const char *)s + i, cl);

		if (id >= 0)
			sym[n++] = id;
		else
			for (size_t k = 0; k < cl; k++)
				sym[n++] = PN_BPE_BYTE0 + s[i + k];
		i += cl;
	}
	return n;
}

int pn_bpe_encode(const struct pn_bpe *t, const char *text, size_t len, int32_t *ids,
		  size_t cap, size_t *n, struct pn_err *err)
{
	size_t bad = pn_utf8_invalid_at((const unsigned char *)text, len), nsym = 0;
	int32_t *sym;
	char *buf;
	uint32_t maxlen = 0;

	*n = 0;
	if (bad != len)
		return pn_errf(err, -EILSEQ, "invalid UTF-8 at byte %zu of the text", bad);
	for (uint32_t i = 0; i < t->count; i++)
		maxlen = t->plen[i] > maxlen ? t->plen[i] : maxlen;
	sym = malloc((len + 2) * sizeof(*sym));
	buf = malloc(2 * (size_t)maxlen + 1);
	if (!sym || !buf) {
		free(sym);
		free(buf);
		return pn_errf(err, -ENOMEM, "out of memory");
	}
	sym[0] = PN_BPE_BOS;
	nsym = 1;
	if (len)
		nsym += split(t, (const unsigned char *)text, len, sym + 1);
	for (;;) {
		float best = -INFINITY;
		int32_t best_id = -1;
		size_t at = 0;

		for (size_t i = 1; i + 1 < nsym; i++) {
			uint32_t a = t->plen[sym[i]], b = t->plen[sym[i + 1]];
			int32_t id;

			memcpy(buf, t->piece[sym[i]], a);
			memcpy(buf + a, t->piece[sym[i + 1]], b);
			id = pn_strtab_find(&t->tab, buf, a + b);
			if (id >= 0 && t->score[id] > best) {
				best = t->score[id];
				best_id = id;
				at = i;
			}
		}
		if (best_id < 0)
			break;
		sym[at] = best_id;
		memmove(sym + at + 1, sym + at + 2, (nsym - at - 2) * sizeof(*sym));
		nsym--;
	}
	*n = nsym;
	if (nsym <= cap)
		memcpy(ids, sym, nsym * sizeof(*ids));
	free(sym);
	free(buf);
	return nsym <= cap ? 0 : -ENOSPC;
}

size_t pn_bpe_piece(const struct pn_bpe *t, int32_t prev, int32_t id, const char **s,
		    char *byte)
{
	const char *p;
	size_t n;

	if (id <= PN_BPE_EOS || (uint32_t)id >= t->count)
		return 0;
	if (id < PN_BPE_BYTE0 + 256) {
		*byte = (char)(id - PN_BPE_BYTE0);
		*s = byte;
		return 1;
	}
	p = t->piece[id];
	n = t->plen[id];
	if (prev == PN_BPE_BOS && n && p[0] == ' ')
		p++, n--;
	*s = p;
	return n;
}
