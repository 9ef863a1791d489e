/* SPDX-License-Identifier: MIT */
/*
 * op.h - one descriptor per op (docs/ops.md): what the file says about a
 * node (arity, input and slot names, attribute checks) and what the graph
 * derives from it (shape checks, widths, FLOPs). Backend-neutral: nothing
 * here references a kernel, so the .pnb reader and the fuzzers link
 * lib/ops/ alone. The CPU half of each op (scratch, run, ref, prepare) is
 * bound by op code in lib/exec/op_cpu.h.
 */
#ifndef PN_OPS_OP_H
#define PN_OPS_OP_H

#include <stdint.h>

#include "format/pnb.h"
#include "util/pn_err.h"

struct vctx;

/* How an attribute slot reads (inspect prints it by this). */
enum pn_slot_kind {
	PN_SLOT_INT = 0,	/* iattr: a number or flag */
	PN_SLOT_ACT = 1,	/* iattr: enum pnb_act, shown by name */
	PN_SLOT_POS = 2,	/* iattr: enum pnb_pos_kind, shown by name */
	PN_SLOT_FLOAT = 3,	/* fattr */
};

struct pn_op_slot {
	const char *name;	/* short key: "gated", "W1" (NULL ends a list) */
	const char *meaning;	/* one line for docs and tools */
	uint8_t kind;		/* enum pn_slot_kind (attributes) */
	uint8_t optional;	/* weights: PNB_NONE allowed */
};

/*
 * A node of the runnable graph, backend-neutral: its weights resolved to
 * pointers into the mapped file, widths derived and checked by the op's
 * build. Defined here because build fills it; lib/exec/graph.h holds them.
 */
struct pn_gnode {
	uint32_t op;			/* enum pnb_op */
	uint32_t index;			/* in the file's node table */
	const char *name;
	uint32_t n_in;
	uint32_t in[PNB_NODE_MAX_IN];	/* value indices */
	uint32_t out;
	const float *w[PNB_NODE_MAX_W];	/* NULL where absent */
	/* enum pnb_dtype of each weight: F32 (or 0, unset: F32 too) but for
	 * quantized GEMM weights (pn_op_want_gemm_w), where w[i] points at I8
	 * or BF16 data: pn_w_quantized. */
	uint8_t w_dtype[PNB_NODE_MAX_W];
	/* Derived once: widths in and out, the FFN hidden size, heads. */
	uint32_t d_in, d_out, ff, heads;
	int32_t iattr[PNB_NODE_MAX_ATTR];
	float fattr[PNB_NODE_MAX_ATTR];
	double flops_per_row;		/* excluding attention's T^2 term */
};

/* Whether weight i holds I8 or BF16 data rather than F32. */
static inline int pn_w_quantized(const struct pn_gnode *n, uint32_t i)
{
	return n->w_dtype[i] == PNB_DTYPE_I8 || n->w_dtype[i] == PNB_DTYPE_BF16;
}

/* What build sees: the file, the node it fills, where errors go. */
struct pn_build {
	const struct pnb_file *f;
	struct pn_gnode *n;
	struct pn_err *err;
};

struct pn_op {
	uint32_t code;			/* enum pnb_op */
	const char *name;		/* "ffn": files, errors, inspect */
	uint8_t n_in;			/* inputs, all required */
	uint8_t min_w, max_w;		/* n_w may be min_w..max_w */
	const char *in[PNB_NODE_MAX_IN];		/* input names */
	struct pn_op_slot w[PNB_NODE_MAX_W];		/* weight slots, by index */
	struct pn_op_slot ia[PNB_NODE_MAX_ATTR];	/* iattr slots, by index */
	struct pn_op_slot fa[PNB_NODE_MAX_ATTR];	/* fattr slots, by index */
	/*
	 * File-level attribute checks (the .pnb reader, after arity and
	 * indices): enums, flags, counts. Errors through pnb_bad_entry.
	 * pn_op_check_none where nothing goes beyond the arity.
	 */
	int (*check)(const struct vctx *c, uint32_t i, const struct pnb_node *n);
	/* Shapes against the values around the node; fills d_in, d_out, ff,
	 * heads, flops_per_row and w[]. Errors through pn_op_node_err. */
	int (*build)(struct pn_build *b);
	/* FLOPs beyond flops_per_row * rows (attention's T^2 terms), or NULL. */
	double (*flops_extra)(const struct pn_gnode *n, uint32_t batch, uint32_t T);
	/*
	 * The GPU kernels that run it: entries of the .ptx files in kernels/ptx/, space-
	 * separated (alternatives by shape or precision, then the steps);
	 * NULL: none yet. polyctl inspect --ops prints them (docs/ops_table.md).
	 */
	const char *ptx;
};

/* The descriptor of op, or NULL for an unknown or unimplemented op. */
const struct pn_op *pn_op_get(uint32_t op);
/* Its name, also for the reserved PolyNet ops without a descriptor; "?" otherwise. */
const char *pn_op_name(uint32_t op);
/* Number of weight / iattr / fattr slots a descriptor names. */
uint32_t pn_op_n_slots(const struct pn_op_slot *s, uint32_t cap);

/* The highest op code with a descriptor (for tables indexed by op). */
#define PN_OP_MAX PNB_OP_MACRO

#endif /* PN_OPS_OP_H */
