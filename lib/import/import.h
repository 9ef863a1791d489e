/* SPDX-License-Identifier: MIT */
/*
 * import.h - build a .pnb from a model in another framework's format.
 *
 * pn_compile_tfjs() reads a TF.js graph model directory (model.json with
 * modelTopology.node and weightsManifest, the weight shards, vocab.json),
 * recognises the Universal Sentence Encoder lite transformer in the graph
 * (docs/compile.md lists the pattern) and writes it as PolyNet nodes. A
 * graph that does not match the pattern is refused, naming the node or
 * tensor and what was expected; it is never compiled approximately.
 */
#ifndef PN_IMPORT_H
#define PN_IMPORT_H

#include <stdint.h>

#include "util/pn_err.h"

struct pn_compile_stats {
	uint32_t nodes;
	uint32_t tensors;	/* including the tokenizer's two */
	uint32_t values;
	uint64_t params;	/* elements of the model's weights (not the tokenizer) */
	uint64_t file_bytes;	/* size of the written .pnb */
};

struct pn_compile_opts {
	const char *name;	/* header model name; NULL: "use-lite" */
	/* Called at the start of each stage ("reading model.json", ...); NULL: quiet. */
	void (*progress)(void *arg, const char *stage);
	void *progress_arg;
	struct pn_compile_stats *stats;	/* filled on success when not NULL */
	/*
	 * Exact rewrites are on by default; set to keep the graph as read.
	 * pool fold: mean pooling is linear, so the last FFN's down-projection
	 * runs once per sequence after pooling instead of once per token
	 * (pool(h + relu(u W1 + b1) W2 + b2) = pool(h) + pool(relu(u W1 + b1)) W2 + b2).
	 */
	int no_pool_fold;
};

/* dir: the model directory; out: the .pnb to write (atomically). o may be NULL. */
int pn_compile_tfjs(const char *dir, const char *out, const struct pn_compile_opts *o,
		    struct pn_err *err);

/*
 * pn_compile_llama2c() reads llama2.c's single-file Llama decoder (config
 * block, vocab, f32 weights: docs/compile.md); pn_compile_safetensors() a
 * Hugging Face Llama directory (config.json, model.safetensors, and
 * tokenizer.json). Both write the same nodes (lib/import/llama_build.c).
 */
int pn_compile_llama2c(const char *file, const char *out, const struct pn_compile_opts *o,
		       struct pn_err *err);
int pn_compile_safetensors(const char *dir, const char *out, const struct pn_compile_opts *o,
			   struct pn_err *err);

#endif /* PN_IMPORT_H */
