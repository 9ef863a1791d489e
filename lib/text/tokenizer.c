// SPDX-License-Identifier: MIT
/*
 * tokenizer.c - SentencePiece unigram tokenizer, id-for-id the one of the npm
 * package @energetic-ai/embeddings@0.2.0 (dist/index.js: Trie, processInput,
 * Tokenizer.encode). Its quirks are reproduced on purpose, each marked "JS:".
 *
 * Cold path: building the trie (pn_tok_new, pn_tok_load_json). Hot path:
 * pn_tok_encode, which touches the heap at most once (one scratch block, and
 * only for texts too long for the on-stack one) and is safe to call from many
 * threads on one tokenizer.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text/tok_nfkc.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

/* JS: RESERVED_SYMBOLS_COUNT, the first 6 pieces never enter the trie. */
#define TOK_RESERVED	6
#define TOK_SEPARATOR	0x2581	/* U+2581 LOWER ONE EIGHTH BLOCK */
/* Far beyond any sentence; bounds the scratch (NFKC can grow text 18-fold). */
#define TOK_MAX_TEXT	((size_t)1 << 24)
#define EDGE_EMPTY	UINT64_MAX

struct pn_tokenizer {
	uint32_t count;
	char *pieces;		/* the blob as given, count NUL-terminated strings */
	size_t pieces_size;
	float *fscores;		/* as given, for pn_tok_pieces */
	double *scores;		/* what the Viterbi adds: JS numbers are doubles */
	uint32_t *u16len;	/* piece length in UTF-16 code units (backtrack) */

	/* Trie over code points: node 0 is the root; edges in a hash table. */
	uint32_t nnodes;
	int32_t *node_id;	/* piece id ending at the node, -1 for none */
	uint64_t *edge_key;	/* parent << 21 | code point, EDGE_EMPTY if free */
	uint32_t *edge_child;
	unsigned edge_shift;	/* 64 - log2(table size) */
	uint64_t edge_mask;
};

static inline uint64_t edge_make(uint32_t parent, uint32_t cp)
{
	return (uint64_t)parent << 21 | cp;
}

static inline uint64_t edge_slot(const struct pn_tokenizer *t, uint64_t key)
{
	return (key * 0x9e3779b97f4a7c15ull) >> t->edge_shift;
}

/* The child of node along code point cp, or 0 (the root is nobody's child). */
static inline uint32_t trie_child(const struct pn_tokenizer *t, uint32_t node, uint32_t cp)
{
	uint64_t key = edge_make(node, cp);

	for (uint64_t i = edge_slot(t, key);; i = (i + 1) & t->edge_mask) {
		if (t->edge_key[i] == key)
			return t->edge_child[i];
		if (t->edge_key[i] == EDGE_EMPTY)
			return 0;
	}
}

static uint32_t trie_add_child(struct pn_tokenizer *t, uint32_t node, uint32_t cp)
{
	uint64_t key = edge_make(node, cp);
	uint64_t i = edge_slot(t, key);

	while (t->edge_key[i] != EDGE_EMPTY) {
		if (t->edge_key[i] == key)
			return t->edge_child[i];
		i = (i + 1) & t->edge_mask;
	}
	t->edge_key[i] = key;
	t->edge_child[i] = t->nnodes;
	t->node_id[t->nnodes] = -1;
	return t->nnodes++;
}

void pn_tok_free(struct pn_tokenizer *t)
{
	if (!t)
		return;
	free(t->pieces);
	free(t->fscores);
	free(t->scores);
	free(t->u16len);
	free(t->node_id);
	free(t->edge_key);
	free(t->edge_child);
	free(t);
}

/* Checks the blob; on success *ncp bounds the code points of all pieces. */
static int check_blob(const char *pieces, size_t pieces_size, const float *fscores,
		      const double *scores, uint32_t count, size_t *ncp, struct pn_err *err)
{
	size_t off = 0, total = 0;

	if (count == 0)
		return pn_errf(err, -EINVAL,
			       "tokenizer: empty vocabulary, expected at least piece 0 (unknown)");
	if (count > INT32_MAX)
		return pn_errf(err, -EINVAL, "tokenizer: %u pieces, expected at most %d",
			       count, INT32_MAX);
	for (uint32_t i = 0; i < count; i++) {
		const char *end = NULL;
		size_t len, bad;
		double score = scores ? scores[i] : fscores[i];

		if (off < pieces_size)
			end = memchr(pieces + off, 0, pieces_size - off);
		if (!end)
			return pn_errf(err, -EINVAL,
				       "tokenizer: pieces blob of %zu bytes ends at piece %u, expected %u NUL-terminated pieces",
				       pieces_size, i, count);
		len = (size_t)(end - (pieces + off));
		bad = pn_utf8_invalid_at((const unsigned char *)pieces + off, len);
		if (bad != len)
			return pn_errf(err, -EILSEQ,
				       "tokenizer: piece %u: invalid UTF-8 at byte %zu of the pieces blob",
				       i, off + bad);
		/* JS: the backtrack steps back by piece 0's length; 0 would never end. */
		if (i == 0 && len == 0)
			return pn_errf(err, -EINVAL,
				       "tokenizer: piece 0 (unknown) is empty, expected a non-empty string");
		if (!isfinite(score))
			return pn_errf(err, -EINVAL,
				       "tokenizer: piece %u: score %g, expected a finite number", i, score);
		total += len;	/* bytes bound code points */
		off += len + 1;
	}
	if (off != pieces_size)
		return pn_errf(err, -EINVAL,
			       "tokenizer: pieces blob has %zu bytes after the %u pieces, expected none",
			       pieces_size - off, count);
	*ncp = total;
	return 0;
}

/*
 * build_trie sized the edge table for the bound (every code point a node) at
 * half load; shared prefixes leave most of it empty, and every process that
 * tokenizes keeps it private. Rehash into the smallest power of two at most
 * 3/4 full (USE lite: 1.5 MB of private memory per client down to a third).
 */
static int trie_compact(struct pn_tokenizer *t)
{
	size_t edges = t->nnodes - 1, cap = 2, old_cap = t->edge_mask + 1;
	uint64_t *key, *old_key = t->edge_key;
	uint32_t *child, *old_child = t->edge_child;
	int32_t *ids;

	while (cap * 3 / 4 < edges + 1)
		cap *= 2;
	ids = realloc(t->node_id, t->nnodes * sizeof(*t->node_id));
	if (ids)
		t->node_id = ids;
	if (cap >= old_cap)
		return 0;
	key = malloc(cap * sizeof(*key));
	child = malloc(cap * sizeof(*child));
	if (!key || !child) {
		free(key);
		free(child);
		return 0;	/* keep the big table: it works */
	}
	memset(key, 0xff, cap * sizeof(*key));	/* EDGE_EMPTY */
	t->edge_key = key;
	t->edge_child = child;
	t->edge_mask = cap - 1;
	t->edge_shift = 64 - (unsigned)__builtin_ctzll(cap);
	for (size_t j = 0; j < old_cap; j++) {
		uint64_t i;

		if (old_key[j] == EDGE_EMPTY)
			continue;
		for (i = edge_slot(t, old_key[j]); key[i] != EDGE_EMPTY; i = (i + 1) & t->edge_mask)
			;
		key[i] = old_key[j];
		child[i] = old_child[j];
	}
	free(old_key);
	free(old_child);
	return 0;
}

static int build_trie(struct pn_tokenizer *t, size_t max_nodes)
{
	size_t cap = 2, off = 0;

	while (cap < 2 * max_nodes)
		cap *= 2;
	t->node_id = malloc(max_nodes * sizeof(*t->node_id));
	t->edge_key = malloc(cap * sizeof(*t->edge_key));
	t->edge_child = malloc(cap * sizeof(*t->edge_child));
	if (!t->node_id || !t->edge_key || !t->edge_child)
		return -ENOMEM;
	memset(t->edge_key, 0xff, cap * sizeof(*t->edge_key));	/* EDGE_EMPTY */
	t->edge_mask = cap - 1;
	t->edge_shift = 64 - (unsigned)__builtin_ctzll(cap);
	t->node_id[0] = -1;
	t->nnodes = 1;

	for (uint32_t i = 0; i < t->count; i++) {
		const unsigned char *p = (const unsigned char *)t->pieces + off;
		size_t len = strlen((const char *)p);
		uint32_t node = 0, u16 = 0;

		for (size_t k = 0; k < len;) {
			uint32_t cp;

			k += pn_utf8_decode(p + k, &cp);
			u16 += cp >= 0x10000 ? 2 : 1;
			if (i >= TOK_RESERVED)
				node = trie_add_child(t, node, cp);
		}
		t->u16len[i] = u16;
		/* JS: a repeated piece overwrites the node's score and index. */
		if (i >= TOK_RESERVED && node)
			t->node_id[node] = (int32_t)i;
		off += len + 1;
	}
	return trie_compact(t);
}

/* scores (doubles) may be NULL: then the float scores are what is added. */
static int tok_new(const char *pieces, size_t pieces_size, const float *fscores,
		   const double *scores, uint32_t count, struct pn_tokenizer **out,
		   struct pn_err *err)
{
	struct pn_tokenizer *t;
	size_t ncp = 0;
	int ret;

	*out = NULL;
	ret = check_blob(pieces, pieces_size, fscores, scores, count, &ncp, err);
	if (ret)
		return ret;
	t = calloc(1, sizeof(*t));
	if (!t)
		return pn_errf(err, -ENOMEM, "tokenizer: out of memory");
	t->count = count;
	t->pieces_size = pieces_size;
	t->pieces = malloc(pieces_size);
	t->fscores = malloc(count * sizeof(*t->fscores));
	t->scores = malloc(count * sizeof(*t->scores));
	t->u16len = malloc(count * sizeof(*t->u16len));
	if (!t->pieces || !t->fscores || !t->scores || !t->u16len)
		goto nomem;
	memcpy(t->pieces, pieces, pieces_size);
	for (uint32_t i = 0; i < count; i++) {
		t->fscores[i] = scores ? (float)scores[i] : fscores[i];
		t->scores[i] = scores ? scores[i] : fscores[i];
	}
	if (build_trie(t, ncp + 1))
		goto nomem;
	*out = t;
	return 0;
nomem:
	pn_tok_free(t);
	return pn_errf(err, -ENOMEM, "tokenizer: out of memory for %u pieces", count);
}

int pn_tok_new(const char *pieces, size_t pieces_size, const float *scores,
	       uint32_t count, struct pn_tokenizer **out, struct pn_err *err)
{
	if (!pieces && pieces_size)
		return pn_errf(err, -EINVAL, "tokenizer: no pieces blob");
	if (!scores && count)
		return pn_errf(err, -EINVAL, "tokenizer: no scores");
	return tok_new(pieces, pieces_size, scores, NULL, count, out, err);
}

void pn_tok_pieces(const struct pn_tokenizer *t, const char **pieces,
		   size_t *pieces_size, const float **scores, uint32_t *count)
{
	*pieces = t->pieces;
	*pieces_size = t->pieces_size;
	*scores = t->fscores;
	*count = t->count;
}

/* Cold path: the whole file, NUL-terminated, in *buf. */
static int read_file(const char *path, char **buf, size_t *len, struct pn_err *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *b = NULL;
	int ret;

	if (!f)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		char *nb = realloc(b, cap + 1);

		if (!nb) {
			ret = pn_errf(err, -ENOMEM, "%s: out of memory reading it", path);
			goto fail;
		}
		b = nb;
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
	}
	if (ferror(f)) {
		ret = pn_errf(err, -EIO, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:
	fclose(f);
	free(b);
	return ret;
}

int pn_tok_load_json(const char *path, struct pn_tokenizer **out, struct pn_err *err)
{
	const char *parse_end = NULL;
	char *text = NULL, *blob = NULL, *p;
	double *scores = NULL;
	size_t len = 0, blob_size = 0;
	cJSON *root = NULL, *e;
	uint32_t count, i;
	int ret;

	*out = NULL;
	ret = read_file(path, &text, &len, err);
	if (ret)
		return ret;
	root = cJSON_ParseWithLengthOpts(text, len, &parse_end, false);
	if (!root) {
		ret = pn_errf(err, -EINVAL, "%s: not JSON (error near byte %td)", path,
			      parse_end ? parse_end - text : (ptrdiff_t)0);
		goto out;
	}
	if (!cJSON_IsArray(root)) {
		ret = pn_errf(err, -EINVAL, "%s: expected a JSON array of [\"piece\", score]", path);
		goto out;
	}
	count = (uint32_t)cJSON_GetArraySize(root);
	i = 0;
	cJSON_ArrayForEach(e, root) {
		cJSON *piece = cJSON_GetArrayItem(e, 0), *score = cJSON_GetArrayItem(e, 1);

		/* JS: a null score counts as 0 (null + x === x); the real vocab has 7. */
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(piece) ||
		    !(cJSON_IsNumber(score) || cJSON_IsNull(score))) {
			ret = pn_errf(err, -EINVAL, "%s: entry %u: expected [\"piece\", score]", path, i);
			goto out;
		}
		blob_size += strlen(piece->valuestring) + 1;
		i++;
	}
	blob = malloc(blob_size ? blob_size : 1);
	scores = malloc((count ? count : 1) * sizeof(*scores));
	if (!blob || !scores) {
		ret = pn_errf(err, -ENOMEM, "%s: out of memory for %u pieces", path, count);
		goto out;
	}
	p = blob;
	i = 0;
	cJSON_ArrayForEach(e, root) {
		const char *s = cJSON_GetArrayItem(e, 0)->valuestring;
		size_t n = strlen(s) + 1;
		cJSON *score;

		memcpy(p, s, n);
		p += n;
		score = cJSON_GetArrayItem(e, 1);
		scores[i++] = cJSON_IsNull(score) ? 0.0 : score->valuedouble;
	}
	ret = tok_new(blob, blob_size, NULL, scores, count, out, err);
	if (ret && err) {
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		pn_errf(err, ret, "%s: %s", path, why);
	}
out:
	cJSON_Delete(root);
	free(text);
	free(blob);
	free(scores);
	return ret;
}

/*
 * One scratch block per call for cap code points after NFKC: best (double)
 * first for alignment, then the symbols (U+2581 + the text), the chosen
 * piece per end position and the ids in backtrack order.
 */
struct scratch {
	double *best;		/* [cap + 2] */
	int32_t *sym;		/* [cap + 1] */
	int32_t *words;		/* [cap + 2] */
	int32_t *rev;		/* [cap + 1] */
};

#define SCRATCH_BYTES(cap) (((cap) + 2) * sizeof(double) + (3 * (cap) + 4) * sizeof(int32_t))

static void scratch_carve(struct scratch *s, void *mem, size_t cap)
{
	s->best = mem;
	s->sym = (int32_t *)(s->best + cap + 2);
	s->words = s->sym + cap + 1;
	s->rev = s->words + cap + 2;
}

/* The texts of a request fit on the stack; longer ones take one malloc. */
#define STACK_SCRATCH_BYTES 8192
#define STACK_SCRATCH_CP ((STACK_SCRATCH_BYTES - 4 * sizeof(double)) / 20)
_Static_assert(SCRATCH_BYTES(STACK_SCRATCH_CP) <= STACK_SCRATCH_BYTES, "stack scratch too small");

/*
 * JS: best[] starts all 0 and 0 also means "unset": a candidate always
 * replaces a 0, else it must score >= (so ties go to the later candidate).
 * Visiting start positions in ascending order and, from each, the matches
 * shortest first is exactly the JS order: for an end position it visits
 * nodes[end] by ascending start, each start having at most one match of a
 * given length.
 */
static void viterbi(const struct pn_tokenizer *t, const int32_t *sym, size_t nsym,
		    double *best, int32_t *words)
{
	for (size_t i = 0; i <= nsym; i++) {
		best[i] = 0.0;
		words[i] = 0;
	}
	for (size_t s = 0; s < nsym; s++) {
		bool matched = false;
		uint32_t node = 0;

		for (size_t k = s; k < nsym; k++) {
			int32_t id;
			double score;

			node = trie_child(t, node, (uint32_t)sym[k]);
			if (!node)
				break;
			id = t->node_id[node];
			if (id < 0)
				continue;
			matched = true;
			score = t->scores[id] + best[s];
			if (best[k + 1] == 0.0 || score >= best[k + 1]) {
				best[k + 1] = score;
				words[k + 1] = id;
			}
		}
		/* JS: no piece starts here: [[ss[0]], 0, 0], one symbol, id 0, score 0. */
		if (!matched && (best[s + 1] == 0.0 || 0.0 + best[s] >= best[s + 1])) {
			best[s + 1] = 0.0 + best[s];
			words[s + 1] = 0;
		}
	}
}

/*
 * JS: the backtrack steps back by vocabulary[id][0].length, the piece's
 * length in UTF-16 code units, while positions count code points: after a
 * piece with an astral character it lands early and skips symbols. Returns
 * the number of ids in rev (last token first), consecutive unknowns merged.
 */
static size_t backtrack(const struct pn_tokenizer *t, const int32_t *words, size_t nsym,
			int32_t *rev)
{
	ptrdiff_t iter = (ptrdiff_t)nsym;
	bool prev_unk = false;
	size_t n = 0;

	while (iter > 0) {
		int32_t id = words[iter];

		if (!(prev_unk && id == 0))
			rev[n++] = id;
		prev_unk = id == 0;
		iter -= (ptrdiff_t)t->u16len[id];
	}
	return n;
}

int pn_tok_encode(const struct pn_tokenizer *t, const char *text, size_t len,
		  int32_t *ids, size_t cap, size_t *n, struct pn_err *err)
{
	double stack_mem[STACK_SCRATCH_BYTES / sizeof(double)];
	const unsigned char *u = (const unsigned char *)text;
	void *heap = NULL, *mem = stack_mem;
	size_t bad, scap, nsym, nout;
	ptrdiff_t ncp;
	struct scratch s;
	int ret = 0;

	*n = 0;
	if (len == 0)
		return 0;
	if (len > TOK_MAX_TEXT)
		return pn_errf(err, -E2BIG, "tokenizer: text of %zu bytes, expected at most %zu",
			       len, TOK_MAX_TEXT);
	bad = pn_utf8_invalid_at(u, len);
	if (bad != len)
		return pn_errf(err, -EILSEQ, "tokenizer: invalid UTF-8 at byte offset %zu of %zu (byte 0x%02x)",
			       bad, len, u[bad]);

	scap = STACK_SCRATCH_CP;
	if (len > scap)
		/* Code points <= bytes; NFKC rarely grows text, and if so we retry. */
		scap = len + len / 8 + 16;
	for (;;) {
		if (scap > STACK_SCRATCH_CP) {
			free(heap);
			mem = heap = malloc(SCRATCH_BYTES(scap));
			if (!mem)
				return pn_errf(err, -ENOMEM, "tokenizer: out of memory for a %zu-byte text",
					       len);
		}
		scratch_carve(&s, mem, scap);
		ncp = pn_tok_nfkc(u, len, s.sym + 1, scap);
		if (ncp < 0 || (size_t)ncp <= scap)
			break;
		scap = (size_t)ncp;
	}
	if (ncp < 0) {
		ret = pn_errf(err, (int)ncp, "tokenizer: NFKC of a %zu-byte text failed", len);
		goto out;
	}
	if (ncp == 0)	/* JS: an empty normalized string gets no separator */
		goto out;

	/* JS: separator + normalized.replace(/ /g, separator) */
	s.sym[0] = TOK_SEPARATOR;
	for (ptrdiff_t i = 1; i <= ncp; i++)
		if (s.sym[i] == ' ')
			s.sym[i] = TOK_SEPARATOR;
	nsym = (size_t)ncp + 1;

	viterbi(t, s.sym, nsym, s.best, s.words);
	nout = backtrack(t, s.words, nsym, s.rev);
	*n = nout;
	for (size_t i = 0; i < nout && i < cap; i++)
		ids[i] = s.rev[nout - 1 - i];
	if (nout > cap)
		ret = pn_errf(err, -ENOSPC, "tokenizer: text has %zu tokens, room for %zu", nout, cap);
out:
	free(heap);
	return ret;
}
