/* SPDX-License-Identifier: MIT */
/*
 * compile.h - build a .pnb from a model in another framework's format.
 *
 * pn_compile_tfjs() reads a TF.js graph model directory (model.json with
 * modelTopology.node and weightsManifest, the weight shards, vocab.json),
 * recognises the Universal Sentence Encoder lite transformer in the graph
 * (docs/compile.md lists the pattern) and writes it as PolyNet nodes. A
 * graph that does not match the pattern is refused, naming the node or
 * tensor and what was expected; it is never compiled approximately.
 */
#ifndef PN_COMPILE_H
#define PN_COMPILE_H

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
 * Internal to lib/compile/: the TF.js model as read by tfjs.c, for the
 * recognisers (tfjs_use.c). Everything points into the parsed model.json
 * or the weights buffer and lives until tfjs_free().
 */
struct cJSON;

#define TFJS_MAX_DIMS 8u

struct tfjs_tensor {			/* one weightsManifest entry */
	const char *name;
	uint32_t dtype;			/* PNB_DTYPE_F32 or PNB_DTYPE_I32 */
	uint32_t ndim;			/* 0 for a scalar */
	uint64_t shape[TFJS_MAX_DIMS];
	uint64_t elems;
	uint64_t offset;		/* in the weights buffer (all groups back to back) */
	const void *data;		/* elems * 4 bytes, little-endian */
};

struct tfjs_node {			/* one modelTopology.node entry */
	const char *name;
	const char *op;
	uint32_t n_in;			/* data inputs; "^control" inputs are dropped */
	const char **in;		/* "node" or "node:k" (output k) */
	const struct cJSON *attr;	/* may be NULL */
};

struct tfjs_model {
	char json_path[1024];		/* DIR/model.json, for messages */
	struct cJSON *json;
	struct tfjs_node *nodes;	/* sorted by name */
	uint32_t n_nodes;
	struct tfjs_tensor *w;		/* manifest order */
	uint32_t n_w;
	uint32_t *w_by_name;		/* indices of w sorted by name */
	uint8_t *buf;			/* the weights buffer */
	uint64_t buf_size;
};

/* Reads DIR/model.json and every shard; checks sizes. 0 or -errno. */
int tfjs_load(const char *dir, struct tfjs_model *m, struct pn_err *err);
void tfjs_free(struct tfjs_model *m);
/* By name ("x", "x:0", "x:1" and "^x" all find node x); NULL if absent. */
const struct tfjs_node *tfjs_node(const struct tfjs_model *m, const char *name);
const struct tfjs_tensor *tfjs_weight(const struct tfjs_model *m, const char *name);
/* The value of scalar Const node `name`, from the weights buffer or inline. */
int tfjs_const_f32(const struct tfjs_model *m, const char *name, float *v, struct pn_err *err);
int tfjs_const_i32(const struct tfjs_model *m, const char *name, int32_t *v, struct pn_err *err);
/* The n (<= 16) values of an int32 Const node. */
int tfjs_const_i32_vec(const struct tfjs_model *m, const char *name, int32_t *v, uint32_t n,
		       struct pn_err *err);
/* Integer / bool attribute of a node (attr.NAME.i or .b); dflt when absent. */
int64_t tfjs_attr_int(const struct tfjs_node *n, const char *attr, int64_t dflt);

/* Recognises USE lite in m and writes it to out. */
int tfjs_use_compile(const struct tfjs_model *m, const char *dir, const char *out,
		     const struct pn_compile_opts *o, struct pn_err *err);

#endif /* PN_COMPILE_H */
