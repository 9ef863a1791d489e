// SPDX-License-Identifier: MIT
/*
 * hf_tokenizer.c - a Hugging Face tokenizer.json (the tokenizers
 * library's format) as the vocab and scores of a Llama decoder (hf.h).
 *
 * The runtime's BPE (lib/text/tok_bpe.c) is llama2.c's: merge the adjacent
 * pair whose concatenation is the piece of the highest score. A BPE with
 * merges merges the pair of the lowest rank. They agree when each piece's
 * score is -(the rank of the first merge making it), provided (a) the
 * merges making one piece are adjacent in rank, and (b) every way of
 * writing a piece as two pieces is among the merges (tok_bpe.c would
 * merge it anyway). Both hold for the merges transformers writes from a
 * sentencepiece model (every split, by score) and are checked here; a
 * tokenizer.json that breaks them is refused: it would tokenize
 * differently. Pieces no merge makes score below all others.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/hf.h"
#include "text/tok_bpe.h"
#include "text/utf8.h"
#include "util/strtab.h"

#define SPACE "\xe2\x96\x81"		/* U+2581 */
#define MAX_JSON_BYTES (1ull << 31)
#define MAX_MERGES (1u << 24)		/* ranks stay exact in a float */

int pn_hf_read_json(const char *path, cJSON **out, struct pn_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *end = NULL;
	struct stat st;
	size_t got = 0;
	char *text;

	*out = NULL;
	if (fd < 0)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_JSON_BYTES) {
		close(fd);
		return pn_errf(err, -EINVAL, "%s: expected a regular file of at most %llu bytes",
			       path, MAX_JSON_BYTES);
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return pn_errf(err, -ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			free(text);
			return pn_errf(err, -EIO, "%s: read failed at byte %zu", path, got);
		}
		got += (size_t)r;
	}
	close(fd);
	text[got] = 0;
	/* the NUL counts: cJSON looks for it after the value */
	*out = cJSON_ParseWithLengthOpts(text, got + 1, &end, 1);
	if (!*out) {
		size_t at = end ? (size_t)(end - text) : 0;
		char near[25] = "";

		for (size_t i = 0; end && i + 1 < sizeof(near) && end[i]; i++)
			near[i] = (unsigned char)end[i] < ' ' ? ' ' : end[i];
		free(text);
		return pn_errf(err, -EINVAL, "%s: invalid JSON at byte %zu of %zu (near \"%s\")",
			       path, at, got, near);
	}
	free(text);
	return 0;
}

void pn_hf_vocab_free(struct pn_hf_vocab *v)
{
	for (uint32_t i = 0; v->piece && i < v->n; i++)
		free(v->piece[i]);
	free(v->piece);
	free(v->score);
	memset(v, 0, sizeof(*v));
}

static int32_t tab_get2(const struct pn_strtab *t, const char *a, const char *b, char *buf)
{
	size_t la = strlen(a), lb = strlen(b);

	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	return pn_strtab_find(t, buf, la + lb);
}

/* --- checks ----------------------------------------------------------------- */

static int is_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && !strcmp(v->valuestring, want);
}

static int absent(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return !v || cJSON_IsNull(v);
}

/* sentencepiece's text handling: a U+2581 prepended, spaces spelled U+2581. */
static int check_normalizer(const char *path, const cJSON *root, struct pn_err *err)
{
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(nm, "normalizers"), *e;
	int prepend = 0, replace = 0, other = 0;

	if (is_str(nm, "type", "Sequence") && cJSON_IsArray(seq) && absent(root, "pre_tokenizer")) {
		cJSON_ArrayForEach(e, seq) {
			const cJSON *pat = cJSON_GetObjectItemCaseSensitive(e, "pattern");

			if (is_str(e, "type", "Prepend") && is_str(e, "prepend", SPACE))
				prepend++;
			else if (is_str(e, "type", "Replace") && is_str(pat, "String", " ") &&
				 is_str(e, "content", SPACE))
				replace++;
			else
				other++;
		}
		if (prepend == 1 && replace == 1 && !other)
			return 0;
	}
	if (absent(root, "normalizer") && is_str(pt, "type", "Metaspace") &&
	    is_str(pt, "replacement", SPACE) &&
	    cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pt, "split")) &&
	    (is_str(pt, "prepend_scheme", "first") || is_str(pt, "prepend_scheme", "always") ||
	     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space"))))
		return 0;
	return pn_errf(err, -EINVAL, "%s: \"normalizer\"/\"pre_tokenizer\": expected "
		       "sentencepiece's text handling (normalizer Sequence [Prepend \"" SPACE
		       "\", Replace \" \" -> \"" SPACE "\"] and no pre_tokenizer, or a Metaspace "
		       "pre_tokenizer with a prefix and split false), as the runtime tokenizes",
		       path);
}

static int check_model(const char *path, const cJSON *m, struct pn_err *err)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "dropout");

	if (!cJSON_IsObject(m))
		return pn_errf(err, -EINVAL, "%s: no \"model\" object, expected the tokenizer's "
			       "model", path);
	if (!is_str(m, "type", "BPE"))
		return pn_errf(err, -EINVAL, "%s: model.type is not \"BPE\", expected a BPE "
			       "model (Llama's sentencepiece BPE)", path);
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "byte_fallback")))
		return pn_errf(err, -EINVAL, "%s: model.byte_fallback is not true, expected true: "
			       "the runtime spells characters without a piece as byte tokens", path);
	if (d && !cJSON_IsNull(d) && !(cJSON_IsNumber(d) && d->valuedouble == 0))
		return pn_errf(err, -EINVAL, "%s: model.dropout is set, expected null (BPE "
			       "dropout is random)", path);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ignore_merges")))
		return pn_errf(err, -EINVAL, "%s: model.ignore_merges is true, expected false",
			       path);
	if (!(absent(m, "continuing_subword_prefix") || is_str(m, "continuing_subword_prefix", "")) ||
	    !(absent(m, "end_of_word_suffix") || is_str(m, "end_of_word_suffix", "")))
		return pn_errf(err, -EINVAL, "%s: model.continuing_subword_prefix or "
			       "end_of_word_suffix is set, expected null", path);
	return 0;
}

/* The vocab object: ids in range, specials and byte tokens in place, no gaps. */
static int read_vocab(const char *path, const cJSON *m, struct pn_hf_vocab *v,
		      struct pn_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	const cJSON *voc = cJSON_GetObjectItemCaseSensitive(m, "vocab"), *e;
	char s1[64], s2[64];

	if (!cJSON_IsObject(voc))
		return pn_errf(err, -EINVAL, "%s: no model.vocab object, expected {piece: id}",
			       path);
	cJSON_ArrayForEach(e, voc) {
		size_t n = strlen(e->string);
		double id = cJSON_IsNumber(e) ? e->valuedouble : -1;

		if (!(id >= 0 && id < v->n && id == (double)(uint32_t)id))
			return pn_errf(err, -EINVAL, "%s: model.vocab['%s']: id is not an integer "
				       "0..%u, expected one (config.json's vocab_size %u)", path,
				       pn_hf_shown(e->string, s1, sizeof(s1)), v->n - 1, v->n);
		if (!n || pn_utf8_invalid_at((const unsigned char *)e->string, n) != n ||
		    strchr(e->string, ' '))
			return pn_errf(err, -EINVAL, "%s: model.vocab: piece %u is empty, not UTF-8 "
				       "or holds a space, expected UTF-8 with U+2581 for spaces",
				       path, (uint32_t)id);
		if (v->piece[(uint32_t)id])
			return pn_errf(err, -EINVAL, "%s: model.vocab: id %u is both '%s' and '%s', "
				       "expected one piece per id", path, (uint32_t)id,
				       pn_hf_shown(v->piece[(uint32_t)id], s1, sizeof(s1)),
				       pn_hf_shown(e->string, s2, sizeof(s2)));
		if (!(v->piece[(uint32_t)id] = strdup(e->string)))
			return pn_errf(err, -ENOMEM, "%s: out of memory", path);
	}
	for (uint32_t i = 0; i < PN_BPE_BYTE0 + 256; i++) {
		char want[8] = { '<', '0', 'x', hex[(i - 3) >> 4 & 15], hex[(i - 3) & 15], '>', 0 };
		const char *w = i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : want;

		if (!v->piece[i] || strcmp(v->piece[i], w))
			return pn_errf(err, -EINVAL, "%s: model.vocab: id %u is %s%s%s, expected "
				       "'%s' (ids 0..2 are <unk>, <s>, </s>; 3..258 the byte tokens "
				       "<0x00>..<0xFF>)", path, i, v->piece[i] ? "'" : "missing",
				       v->piece[i] ? pn_hf_shown(v->piece[i], s1, sizeof(s1)) : "",
				       v->piece[i] ? "'" : "", w);
	}
	for (uint32_t i = 0; i < v->n; i++)
		if (!v->piece[i])
			return pn_errf(err, -EINVAL, "%s: model.vocab has no piece of id %u, expected "
				       "ids 0..%u (config.json's vocab_size %u)", path, i, v->n - 1,
				       v->n);
	return 0;
}

/* Only <unk>, <s>, </s> may be added tokens: the runtime matches no others. */
static int check_added(const char *path, const cJSON *root, const struct pn_hf_vocab *v,
		       struct pn_err *err)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *e;
	uint32_t k = 0;

	if (absent(root, "added_tokens"))
		return 0;
	if (!cJSON_IsArray(a))
		return pn_errf(err, -EINVAL, "%s: added_tokens is not an array", path);
	cJSON_ArrayForEach(e, a) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");

		if (!cJSON_IsNumber(id) || !cJSON_IsString(c) || !(id->valuedouble >= 0) ||
		    id->valuedouble > 2 || id->valuedouble != (int)id->valuedouble ||
		    strcmp(v->piece[(int)id->valuedouble], c->valuestring))
			return pn_errf(err, -EINVAL, "%s: added_tokens[%u] is not one of <unk> (0), "
				       "<s> (1), </s> (2) with its vocab id, expected only those",
				       path, k);
		k++;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One merge, "a b" or ["a", "b"], as ids; the result's id in *c. */
static int merge_ids(const char *path, uint32_t k, const cJSON *e, const struct pn_strtab *t,
		     char *buf, int32_t *a, int32_t *b, int32_t *c, struct pn_err *err)
{
	const char *sa = NULL, *sb = NULL, *sp;
	char *tmp = NULL, s1[64], s2[64];

	if (cJSON_IsString(e) && (sp = strchr(e->valuestring, ' ')) && !strchr(sp + 1, ' ')) {
		if (!(tmp = strdup(e->valuestring)))
			return pn_errf(err, -ENOMEM, "%s: out of memory", path);
		tmp[sp - e->valuestring] = 0;
		sa = tmp;
		sb = tmp + (sp - e->valuestring) + 1;
	} else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
		   cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
		   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
		sa = cJSON_GetArrayItem(e, 0)->valuestring;
		sb = cJSON_GetArrayItem(e, 1)->valuestring;
	} else {
		return pn_errf(err, -EINVAL, "%s: model.merges[%u]: expected \"a b\" or [\"a\", "
			       "\"b\"]", path, k);
	}
	*a = pn_strtab_find(t, sa, strlen(sa));
	*b = pn_strtab_find(t, sb, strlen(sb));
	*c = *a >= 0 && *b >= 0 ? tab_get2(t, sa, sb, buf) : -1;
	if (*c < 0)
		pn_errf(err, -EINVAL, "%s: model.merges[%u] ('%s' '%s'): %s is not in the vocab, "
			"expected pieces whose concatenation is a piece", path, k,
			pn_hf_shown(sa, s1, sizeof(s1)), pn_hf_shown(sb, s2, sizeof(s2)),
			*a < 0 ? "the first" : *b < 0 ? "the second" : "their concatenation");
	free(tmp);
	return *c < 0 ? -EINVAL : 0;
}

/* The merges as per-piece scores; (a) and (b) of the comment at the top. */
static int read_merges(const char *path, const cJSON *m, const struct pn_strtab *t, char *buf,
		       struct pn_hf_vocab *v, struct pn_err *err)
{
	const cJSON *mg = cJSON_GetObjectItemCaseSensitive(m, "merges"), *e;
	int64_t *first = NULL;
	uint64_t *pairs = NULL;
	int32_t prev = -1, a = -1, b = -1, c = -1;
	uint32_t k = 0, n;
	char s1[64], s2[64], s3[64];
	int ret = 0;

	if (!cJSON_IsArray(mg))
		return pn_errf(err, -EINVAL, "%s: no model.merges array, expected the BPE merges",
			       path);
	n = (uint32_t)cJSON_GetArraySize(mg);
	if (n > MAX_MERGES)
		return pn_errf(err, -EINVAL, "%s: %u merges, expected at most %u", path, n,
			       MAX_MERGES);
	first = malloc(v->n * sizeof(*first));
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	if (!first || !pairs) {
		ret = pn_errf(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (uint32_t i = 0; i < v->n; i++)
		first[i] = -1;
	cJSON_ArrayForEach(e, mg) {
		if ((ret = merge_ids(path, k, e, t, buf, &a, &b, &c, err)))
			goto out;
		if (first[c] < 0) {
			first[c] = k;
		} else if (prev != c) {
			ret = pn_errf(err, -EINVAL, "%s: model.merges[%u] ('%s' '%s') makes '%s' "
				      "again after merges of other pieces (its first is merges[%lld]): "
				      "expected the merges of one piece next to each other, which a "
				      "score per piece can order", path, k,
				      pn_hf_shown(v->piece[a], s1, sizeof(s1)),
				      pn_hf_shown(v->piece[b], s2, sizeof(s2)),
				      pn_hf_shown(v->piece[c], s3, sizeof(s3)), (long long)first[c]);
			goto out;
		}
		pairs[k++] = (uint64_t)a << 32 | (uint32_t)b;
		prev = c;
	}
	qsort(pairs, n, sizeof(*pairs), cmp_u64);
	for (uint32_t i = 0; i < v->n; i++) {
		const char *p = v->piece[i];
		size_t len = strlen(p);

		for (size_t s = 1; s < len; s++) {
			uint64_t key;

			a = pn_strtab_find(t, p, s);
			b = a >= 0 ? pn_strtab_find(t, p + s, len - s) : -1;
			key = (uint64_t)a << 32 | (uint32_t)b;
			if (b >= 0 && !bsearch(&key, pairs, n, sizeof(key), cmp_u64)) {
				ret = pn_errf(err, -EINVAL, "%s: model.vocab: piece %u '%s' is '%s' + "
					      "'%s' (ids %d, %d), but no merge makes it so: expected "
					      "every such pair among the merges (the runtime merges it)",
					      path, i, pn_hf_shown(p, s1, sizeof(s1)),
					      pn_hf_shown(v->piece[a], s2, sizeof(s2)),
					      pn_hf_shown(v->piece[b], s3, sizeof(s3)), a, b);
				goto out;
			}
		}
	}
	for (uint32_t i = 0; i < v->n; i++)
		v->score[i] = first[i] >= 0 ? -(float)first[i] : -(float)n;
	v->merges = n;
out:
	free(first);
	free(pairs);
	return ret;
}

int pn_hf_tokenizer_read(const char *path, uint32_t vocab, struct pn_hf_vocab *v,
			 struct pn_err *err)
{
	struct pn_strtab t = { 0 };
	char s1[64];
	const cJSON *m;
	cJSON *root;
	size_t maxlen = 0;
	char *buf = NULL;
	int ret;

	memset(v, 0, sizeof(*v));
	if ((ret = pn_hf_read_json(path, &root, err)))
		return ret;
	m = cJSON_GetObjectItemCaseSensitive(root, "model");
	v->n = vocab;
	v->piece = calloc(vocab, sizeof(char *));
	v->score = calloc(vocab, sizeof(float));
	if (!v->piece || !v->score || pn_strtab_init(&t, v->piece, NULL, vocab)) {
		ret = pn_errf(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if ((ret = check_model(path, m, err)) || (ret = check_normalizer(path, root, err)) ||
	    (ret = read_vocab(path, m, v, err)) || (ret = check_added(path, root, v, err)))
		goto out;
	for (uint32_t i = 0; i < vocab; i++) {
		size_t n = strlen(v->piece[i]);
		int32_t dup = pn_strtab_add(&t, i);

		if (dup >= 0) {
			ret = pn_errf(err, -EINVAL, "%s: model.vocab: piece '%s' is both id %d and "
				      "id %u, expected each piece once", path,
				      pn_hf_shown(v->piece[i], s1, sizeof(s1)), dup, i);
			goto out;
		}
		maxlen = n > maxlen ? n : maxlen;
	}
	if (!(buf = malloc(2 * maxlen + 1)))
		ret = pn_errf(err, -ENOMEM, "%s: out of memory", path);
	else
		ret = read_merges(path, m, &t, buf, v, err);
out:
	free(buf);
	pn_strtab_free(&t);
	cJSON_Delete(root);
	return ret;
}
