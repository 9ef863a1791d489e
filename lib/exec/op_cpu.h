/* SPDX-License-Identifier: MIT */
/*
 * op_cpu.h - the CPU half of each op's descriptor (docs/ops.md): the
 * backend-neutral half (lib/ops/op.h: names, slots, check, build) is what
 * the .pnb reader and the fuzzers link; this half binds the same op code to
 * its CPU kernels: what it prepares once per model, the scratch it needs,
 * how it runs, and its plain reference twin. Defined next to the kernels'
 * callers in lib/exec/op_cpu_std.c (standard ops) and op_cpu_poly.c
 * (PolyNet ops), one block per op, in the order of lib/ops/.
 */
#ifndef PN_EXEC_OP_CPU_H
#define PN_EXEC_OP_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/kernels.h"
#include "cpu/qgemm.h"
#include "ops/op.h"
#include "util/pool.h"

struct pn_packed_w;
struct pn_packed_ctx;
struct pn_wstore;

/* What the CPU derives from one node, once per model (struct pn_cpu_model). */
struct pn_cpu_node {
	float *pos_table;		/* EMBED with sincos: [max_tokens, D] */
	bool pos_in_store;		/* pos_table is the store's, not malloc'd */
	/* LINEAR: W; FFN (plain): W1, W2, packed once for small batches
	 * (lib/cpu/packed.h); NULL where oneDNN offers no packed layout. */
	struct pn_packed_w *packed[2];
	/* The same GEMMs when their weights are I8 or BF16 (lib/cpu/qgemm.h):
	 * the kernel's view (dtype 0: the weight is F32), colsum malloc'd. */
	struct pn_qgemm q[2];
	int32_t *colsum[2];
};

/* One node's run: its inputs and output in the arena, the batch shape. */
struct pn_op_run {
	struct pn_pool *pool;		/* NULL: the calling thread */
	struct pn_packed_ctx *pk;	/* small-batch GEMMs, or NULL */
	const struct pnb_file *f;
	const struct pn_gnode *n;
	const struct pn_cpu_node *cn;
	const int32_t *ids;		/* [B, T], checked and padded (EMBED) */
	const uint32_t *lens;		/* [B] */
	uint32_t B, T, rows;		/* rows of in[0]: B (SEQ) or B * T (TOKENS) */
	const float *in[PNB_NODE_MAX_IN];	/* NULL for the graph input */
	uint32_t in_layout[PNB_NODE_MAX_IN];
	float *y;
	float *scratch;			/* the op's scratch floats, at least */
	const struct pn_kv_run *kv;	/* positions and KV cache (decoder ops) */
};

struct pn_op_cpu {
	uint32_t code;			/* enum pnb_op */
	/* Once per model: CPU-derived weights into cn (NULL: none), their
	 * bytes from store when not NULL (util/wstore.h: sized, filled or
	 * attached), else malloc'd. */
	int (*prepare)(const struct pnb_file *f, const struct pn_gnode *n,
		       struct pn_cpu_node *cn, struct pn_wstore *store, struct pn_err *err);
	/* Scratch floats for rows rows of in[0] (NULL: none). */
	size_t (*scratch)(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			  uint32_t max_tokens, uint32_t nthreads);
	void (*run)(const struct pn_op_run *r);
	/* The plain reference twin (lib/cpu/ref*.c), same contract; NULL where none. */
	void (*ref)(const struct pn_op_run *r);
};

/* The FFN weights of an FFN or POLY_FFN node (the same first four slots). */
static inline struct pn_ffn_w pn_node_ffn_w(const struct pn_gnode *n, int gated)
{
	return (struct pn_ffn_w){
		.D = n->d_in, .ff = n->ff, .gated = gated,
		.W1 = n->w[PNB_W_FFN_W1], .b1 = n->w[PNB_W_FFN_B1],
		.W2 = n->w[PNB_W_FFN_W2], .b2 = n->w[PNB_W_FFN_B2],
	};
}

/*
 * A GEMM weight of a node (lib/exec/op_cpu_gemm.c), whatever its dtype:
 * slot w [K, N] (its scales in slot s, static input quantization in qp)
 * as cn's GEMM k (0 or 1).
 */
struct pn_cpu_gemm {
	uint32_t w, s, qp, K, N, k;
};
int pn_cpu_gemm_prepare(const struct pnb_file *f, const struct pn_gnode *n,
			const struct pn_cpu_gemm *g, struct pn_cpu_node *cn,
			struct pn_wstore *store, struct pn_err *err);
/* Scratch bytes of pn_cpu_gemm_run for g (0 for F32 weights). */
size_t pn_cpu_gemm_scratch(const struct pn_gnode *n, const struct pn_cpu_gemm *g);
/* y [M, N] = act(x W + b): qgemm, packed or sgemm by the weight's dtype and M. */
void pn_cpu_gemm_run(const struct pn_op_run *r, const struct pn_cpu_gemm *g, uint32_t M,
		     const float *x, const float *b, uint32_t act, float *y, void *scratch);
/* The plain twin of pn_cpu_gemm_run. */
void pn_cpu_gemm_ref(const struct pn_op_run *r, const struct pn_cpu_gemm *g, uint32_t M,
		     const float *x, const float *b, uint32_t act, float *y);

/* The CPU binding of op, or NULL where the CPU backend has none. */
const struct pn_op_cpu *pn_op_cpu_get(uint32_t op);
void pn_cpu_node_release(struct pn_cpu_node *cn);

extern const struct pn_op_cpu pn_op_cpu_embed, pn_op_cpu_layernorm, pn_op_cpu_rmsnorm,
	pn_op_cpu_l2norm, pn_op_cpu_softmax, pn_op_cpu_linear, pn_op_cpu_act, pn_op_cpu_add,
	pn_op_cpu_ffn, pn_op_cpu_attention, pn_op_cpu_pool_mean, pn_op_cpu_pool_cls,
	pn_op_cpu_poly_ffn, pn_op_cpu_vq, pn_op_cpu_cqa, pn_op_cpu_macro,
	pn_op_cpu_rope, pn_op_cpu_attn_cache, pn_op_cpu_logits;

#endif /* PN_EXEC_OP_CPU_H */
