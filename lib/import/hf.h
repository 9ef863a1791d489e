/* SPDX-License-Identifier: MIT */
/*
 * hf.h - private to lib/import/: the parts of the Hugging Face Llama
 * importer (docs/compile.md, "--from safetensors").
 *
 *   safetensors.c   the container: u64 header length, JSON header, data
 *   hf_tokenizer.c  tokenizer.json's BPE vocab and merges as per-piece scores
 *   hf_llama.c      config.json, the tensors mapped onto pn_llama_weights,
 *                   and pn_compile_safetensors()
 *
 * Every error names the file and, where there is one, the byte offset,
 * the tensor or key, and what was expected.
 */
#ifndef PN_IMPORT_HF_H
#define PN_IMPORT_HF_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/pn_err.h"

/* --- safetensors.c ---------------------------------------------------------- */

#define PN_ST_MAX_DIM 8
#define PN_ST_MAX_HEADER 100000000ull	/* the format's own limit (100 MB) */

struct pn_st_tensor {
	char *name;
	char dtype[8];		/* "F32", "F16", "BF16", ... */
	uint32_t ndim;
	uint64_t shape[PN_ST_MAX_DIM];
	uint64_t begin, end;	/* absolute byte offsets in the file */
};

struct pn_st {
	const char *path;
	uint64_t header_len;	/* bytes of JSON (and padding) after the u64 */
	uint64_t data_at;	/* 8 + header_len */
	uint64_t size;		/* of the file */
	uint32_t n;
	struct pn_st_tensor *t;	/* in the header's order */
	const uint8_t *b;	/* the file's bytes, as given to pn_st_parse() */
};

/*
 * Parses and checks a safetensors file held in b[0..size): the header
 * length is sane, the header is a JSON object of tensors (and an optional
 * "__metadata__" of strings) padded with spaces, each tensor's dtype is
 * one the format defines, its shape's bytes are its data_offsets' span,
 * and the spans tile the data exactly: within the file, no overlap, no
 * hole, nothing after. path names the file in errors. pn_st_free() frees
 * what it filled, also on failure.
 */
int pn_st_parse(const uint8_t *b, size_t size, const char *path, struct pn_st *st,
		struct pn_err *err);
void pn_st_free(struct pn_st *st);
/* The tensor of that name, or NULL. */
const struct pn_st_tensor *pn_st_find(const struct pn_st *st, const char *name);
/* The file offset of the key "name" in the header, or of the header (8)
 * when it is not found there verbatim: for errors (a linear search). */
uint64_t pn_st_key_at(const struct pn_st *st, const char *name);
/* s for a one-line message: control bytes as '?', cut to cap with "...". */
const char *pn_hf_shown(const char *s, char *buf, size_t cap);
/* "[a,b,c]" into buf. */
const char *pn_st_shape_str(const uint64_t *shape, uint32_t ndim, char *buf, size_t cap);
/* Bytes per element of a dtype the format defines, 0 for others. */
uint32_t pn_st_dtype_size(const char *dtype);

/* --- hf_tokenizer.c --------------------------------------------------------- */

struct pn_hf_vocab {
	uint32_t n;
	char **piece;		/* n, UTF-8 with U+2581 for a space */
	float *score;		/* n: -(rank of the first merge making it) */
	uint32_t merges;
};

/*
 * Reads tokenizer.json at path: a BPE model with byte fallback whose vocab
 * has exactly `vocab` pieces, ids 0..2 <unk> <s> </s> and 3..258 the byte
 * tokens, and whose merges a score per piece can order exactly (each
 * piece's merges adjacent in rank, and every split of a piece into two
 * pieces among them). pn_hf_vocab_free() also after a failure.
 */
int pn_hf_tokenizer_read(const char *path, uint32_t vocab, struct pn_hf_vocab *v,
			 struct pn_err *err);
void pn_hf_vocab_free(struct pn_hf_vocab *v);

/* --- shared ----------------------------------------------------------------- */

/* Reads and parses the JSON file at path; a syntax error names its byte offset. */
int pn_hf_read_json(const char *path, cJSON **out, struct pn_err *err);

#endif /* PN_IMPORT_HF_H */
