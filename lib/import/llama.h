/* SPDX-License-Identifier: MIT */
/*
 * llama.h - private to lib/import/: a Llama-architecture decoder in memory
 * (from llama2.c's single file, llama2c.c, or Hugging Face safetensors,
 * safetensors.c), and the one builder that writes it as PolyNet nodes
 * (llama_build.c). Every matrix is f32 row-major [out, in], layers
 * stacked, exactly as llama2.c stores them; an importer converts to this
 * (Hugging Face's q/k row permutation undone, docs/compile.md).
 */
#ifndef PN_IMPORT_LLAMA_H
#define PN_IMPORT_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "import/import.h"

struct pn_llama_config {
	uint32_t hidden, ffn, max_seq, vocab, layers, q_heads, kv_heads;
	uint32_t shared_output;	/* 1: logits use the embedding table (tied) */
	float rope_theta;	/* 10000 */
	float norm_eps;		/* 1e-5 */
	uint32_t bos, eos;	/* 1, 2 */
};

struct pn_llama_weights {
	const float *embed;	/* [vocab, hidden] */
	const float *rms_att;	/* [layers, hidden] */
	const float *wq;	/* [layers, hidden, hidden] */
	const float *wk, *wv;	/* [layers, kv_heads * hs, hidden] */
	const float *wo;	/* [layers, hidden, hidden] */
	const float *rms_ffn;	/* [layers, hidden] */
	const float *w_gate, *w_up;	/* [layers, ffn, hidden] */
	const float *w_down;	/* [layers, hidden, ffn] */
	const float *rms_final;	/* [hidden] */
	const float *wcls;	/* [vocab, hidden]; NULL when shared_output */
};

/* The tokenizer: vocab pieces (UTF-8, U+2581 for a space) and merge scores. */
struct pn_llama_vocab {
	uint32_t n;
	const char *const *piece;	/* n NUL-terminated pieces */
	const float *score;		/* n */
};

/* A llama2.c file parsed (llama2c.c): what the builder takes, in memory of its own. */
struct pn_llama2c {
	struct pn_llama_config c;
	struct pn_llama_weights w;	/* into mem */
	struct pn_llama_vocab v;	/* pieces and scores malloc'd */
	char **piece;
	uint8_t *mem;
};
/* Parses and checks size bytes of a llama2.c file (what names it in errors). */
int pn_llama2c_read(const uint8_t *buf, size_t size, const char *what, struct pn_llama2c *m,
		    struct pn_err *err);
void pn_llama2c_free(struct pn_llama2c *m);

/* Checks the configuration (heads divide, sizes bounded), naming what in errors. */
int pn_llama_check(const struct pn_llama_config *c, const char *what, struct pn_err *err);
/* Writes the decoder's .pnb to out (atomically). */
int pn_llama_build(const struct pn_llama_config *c, const struct pn_llama_weights *w,
		   const struct pn_llama_vocab *v, const char *out,
		   const struct pn_compile_opts *o, struct pn_err *err);

#endif /* PN_IMPORT_LLAMA_H */
