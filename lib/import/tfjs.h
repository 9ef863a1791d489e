/* SPDX-License-Identifier: MIT */
/*
 * tfjs.h - private to lib/import/: a TF.js graph model read into memory
 * (tfjs.c) and the recognisers that turn one into PolyNet nodes.
 */
#ifndef PN_IMPORT_TFJS_H
#define PN_IMPORT_TFJS_H

#include <stdint.h>

#include "import/import.h"

/*
 * Internal to lib/import/: the TF.js model as read by tfjs.c, for the
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

#endif /* PN_IMPORT_TFJS_H */
