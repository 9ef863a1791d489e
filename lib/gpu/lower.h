/* SPDX-License-Identifier: MIT */
/*
 * lower.h - internal to lib/gpu/: how one op of the graph becomes launches
 * of the PTX kernels (plan.h). Each op with a GPU lowering has a struct
 * pn_gpu_lowering (lower_std.c, lower_poly.c); plan.c calls its plan() once
 * per node at pn_gpu_plan_new (limits, scratch and constant bytes, the
 * number of launches, kernels chosen by the planned maximum shape) and its
 * emit() on every pn_gpu_plan_launches (the launches of one run, from the
 * real B and T).
 *
 * emit() must write exactly the n_launches plan() announced, with the same
 * kernels, whatever B and T: that is what lets a CUDA graph built once be
 * patched for any shape.
 */
#ifndef PN_GPU_LOWER_H
#define PN_GPU_LOWER_H

#include <stddef.h>
#include <stdint.h>

#include "gpu/plan.h"

#define PN_GPU_ALIGN 256u		/* every arena / consts offset */
#define PN_GPU_NODE_KERNELS 4		/* kernels one node may choose */

static inline size_t pn_gpu_align(size_t n)
{
	return (n + PN_GPU_ALIGN - 1) & ~(size_t)(PN_GPU_ALIGN - 1);
}

/* What plan() decides for one node (plan.c adds the offsets). */
struct pn_gpu_node {
	uint32_t n_launches;
	int32_t kernel[PN_GPU_NODE_KERNELS];	/* chosen entries, lowering-defined use */
	size_t scratch_bytes;			/* in the arena, live while the node runs */
	size_t consts_bytes;			/* in the consts area */
	size_t scratch_off, consts_off;		/* filled by plan.c */
};

/* Plan time: the graph and the maximum run. */
struct pn_gpu_env {
	const struct pn_graph *g;
	uint32_t max_batch, max_tokens;
	struct pn_err *err;
};

/* Launch time: one node of one run. */
struct pn_gpu_run {
	const struct pn_graph *g;
	const struct pn_gpu_mem *mem;
	const size_t *voff;			/* per value: arena offset */
	const struct pn_gnode *n;
	uint32_t node;				/* index of n */
	const struct pn_gpu_node *pn;
	uint32_t B, T;
	uint32_t rows;				/* B (SEQ input) or B * T (TOKENS) */
	uint32_t max_rows;			/* the same at max_batch x max_tokens */
	uint32_t max_batch, max_tokens;		/* the plan's */
};

struct pn_gpu_lowering {
	uint32_t op;				/* enum pnb_op */
	/* Limits (-EINVAL naming them), sizes, launches, kernels. */
	int (*plan)(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn);
	/* Writes the node's consts_bytes at dst (NULL: none). */
	void (*fill_consts)(const struct pn_gpu_env *e, uint32_t node,
			    const struct pn_gpu_node *pn, void *dst);
	/* Writes pn->n_launches launches at l. */
	void (*emit)(const struct pn_gpu_run *r, struct pn_gpu_launch *l);
};

/* The lowering of op, or NULL where there is none (yet). */
const struct pn_gpu_lowering *pn_gpu_lowering_get(uint32_t op);
extern const struct pn_gpu_lowering pn_gpu_lower_embed, pn_gpu_lower_layernorm,
	pn_gpu_lower_rmsnorm, pn_gpu_lower_linear, pn_gpu_lower_act, pn_gpu_lower_add,
	pn_gpu_lower_ffn, pn_gpu_lower_attention, pn_gpu_lower_pool_mean,
	pn_gpu_lower_pool_cls, pn_gpu_lower_l2norm, pn_gpu_lower_softmax,
	pn_gpu_lower_poly_ffn, pn_gpu_lower_vq, pn_gpu_lower_cqa, pn_gpu_lower_macro;

/* A -EINVAL naming the node, its op and the limit it passes. */
int pn_gpu_node_err(const struct pn_gpu_env *e, uint32_t node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- writing a launch ------------------------------------------------------ */

/* Starts launch l of kernel (an entry of pn_gpu_kernels; asserted to exist). */
void pn_gpu_launch_begin(struct pn_gpu_launch *l, const struct pn_gpu_run *r,
			 const char *entry, uint32_t gx, uint32_t gy, uint32_t gz,
			 uint32_t block, uint32_t shared);
/* Appends a parameter of 8 or 4 bytes at an offset aligned to its size. */
void pn_gpu_param_u64(struct pn_gpu_launch *l, uint64_t v);
void pn_gpu_param_u32(struct pn_gpu_launch *l, uint32_t v);
void pn_gpu_param_f32(struct pn_gpu_launch *l, float v);

/* Device addresses: a weight (0 for NULL), a value, the node's scratch + off, its consts. */
uint64_t pn_gpu_weight(const struct pn_gpu_run *r, const float *w);
uint64_t pn_gpu_value(const struct pn_gpu_run *r, uint32_t v);
uint64_t pn_gpu_scratch(const struct pn_gpu_run *r, size_t off);
uint64_t pn_gpu_consts(const struct pn_gpu_run *r);

/* ---- shared by the lowerings (lower_std.c) ----------------------------------- */

#define PN_GPU_EW_BLOCK 256u		/* element kernels: threads per CTA */
#define PN_GPU_GRID_YZ_MAX 65535u	/* CUDA's limit on grid y and z */
#define PN_GPU_SMEM_MAX 49152u		/* dynamic shared bytes without cuFuncSetAttribute */

/* Rows a node sees at the plan's maximum: max_batch (SEQ input) or max_batch x max_tokens. */
size_t pn_gpu_max_rows(const struct pn_gpu_env *e, const struct pn_gnode *n);
/* CTAs of a grid-stride element kernel over n floats (PN_GPU_EW_BLOCK threads). */
uint32_t pn_gpu_ew_grid(uint64_t n);
/* gemm_f32_rows for up to 16 rows, else gemm_f32 (-EINVAL past its grid). */
int pn_gpu_pick_gemm(const struct pn_gpu_env *e, uint32_t node, size_t rows, int32_t *kernel);
/* C [M, N] = act(A [M, K] B [K, N] + bias) with the entry pn_gpu_pick_gemm chose. */
void pn_gpu_emit_gemm(struct pn_gpu_launch *l, const struct pn_gpu_run *r, int32_t kernel,
		      uint64_t A, uint64_t B, uint64_t bias, uint64_t C, uint32_t M, uint32_t N,
		      uint32_t K, uint32_t act);

/* ceil(a / b), at least 1: grids are never empty. */
static inline uint32_t pn_gpu_cdiv(uint64_t a, uint32_t b)
{
	uint64_t q = (a + b - 1) / b;

	return q ? (uint32_t)q : 1;
}

#endif /* PN_GPU_LOWER_H */
