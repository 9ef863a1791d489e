/* SPDX-License-Identifier: MIT */
/*
 * tok_bpe.h - Llama's SentencePiece BPE vocabulary as llama2.c runs it
 * (PNB_TOKENIZER_LLAMA_BPE): ids 0, 1, 2 are unk, BOS and EOS; ids 3..258
 * the byte tokens <0x00>..<0xFF>; U+2581 in a piece stands for a space.
 *
 * Encoding: BOS; then, for non-empty text, a space prepended, each
 * character mapped to its piece or else to its UTF-8 bytes' tokens, and
 * the adjacent pair whose concatenation is a piece with the highest score
 * merged (ties: the leftmost) until no pair is a piece. Decoding: ids 0..2
 * give nothing, byte tokens their byte, other pieces their text, with the
 * leading space of the piece right after BOS dropped.
 */
#ifndef PN_TOK_BPE_H
#define PN_TOK_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"

#define PN_BPE_UNK 0
#define PN_BPE_BOS 1
#define PN_BPE_EOS 2
#define PN_BPE_BYTE0 3		/* id of byte 0x00; byte b is BYTE0 + b */

struct pn_bpe;

/* pieces: count NUL-terminated UTF-8 strings back to back, as the .pnb holds them. */
int pn_bpe_new(const char *pieces, size_t pieces_size, const float *scores, uint32_t count,
	       struct pn_bpe **out, struct pn_err *err);
void pn_bpe_free(struct pn_bpe *t);

/*
 * Encodes len bytes of UTF-8 into ids (BOS first). Writes at most cap ids
 * and sets *n to the number the text has: -ENOSPC when *n > cap, -EILSEQ
 * for invalid UTF-8 (err names the byte offset).
 */
int pn_bpe_encode(const struct pn_bpe *t, const char *text, size_t len, int32_t *ids,
		  size_t cap, size_t *n, struct pn_err *err);
/*
 * The bytes id stands for when it follows prev (streaming decode: a
 * character split over byte tokens comes out over several calls). *s
 * points into t or at byte; returns the length (0 for ids 0..2 and ids
 * outside the vocabulary).
 */
size_t pn_bpe_piece(const struct pn_bpe *t, int32_t prev, int32_t id, const char **s,
		    char *byte);

#endif /* PN_TOK_BPE_H */
