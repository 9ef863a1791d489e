/* SPDX-License-Identifier: MIT */
/*
 * packed.h - GEMMs on weights reordered once into oneDNN's blocked layout.
 *
 * With few rows (a batch of one short sentence) a GEMM is bound by reading
 * its weights, and dnnl_sgemm re-packs them on every call; the matmul
 * primitive on weights packed at load reads each weight once: 1.5x at 16
 * rows with the model's weights cold in cache, no gain from 128 rows up
 * (measured, bench/kernels.c). So the executor takes this path for small
 * row counts only and sgemm (pn_linear) otherwise.
 *
 * A struct pn_packed_w is immutable and shared by every executor of a
 * model; its packed bytes may live in a store (util/wstore.h: a region that
 * polynetd keeps across restarts). A struct pn_packed_ctx belongs to one
 * executor (one thread at a time): its primitives, one per (weights, rows),
 * are made by pn_packed_ctx_prepare for every row count before the first
 * job (polynetd, at LOAD), or else the first time a row count is seen (a
 * cold path on that job's latency), with a scratchpad of their own, so
 * executors never share state. oneDNN's primitive cache shares the JIT code
 * of equal shapes between executors.
 */
#ifndef PN_CPU_PACKED_H
#define PN_CPU_PACKED_H

#include <stddef.h>
#include <stdint.h>

#define PN_PACKED_MAX_ROWS 64	/* above this sgemm is as fast: use pn_linear */

struct pn_packed_w;
struct pn_packed_ctx;
struct pn_wstore;

/*
 * W [K, N] row-major; NULL when oneDNN offers no packed layout (use sgemm).
 * store NULL: the packed copy is malloc'd. Else it is the store's next
 * piece: packed into it (FILL), taken as already packed (ATTACH), or only
 * counted (MEASURE, which returns NULL).
 */
struct pn_packed_w *pn_packed_w_new(const float *W, uint32_t K, uint32_t N,
				    struct pn_wstore *store);
/* The same for weights of dtype (enum pnb_dtype): F32, I8 (a u8 x s8 -> s32
 * GEMM) or BF16 (bf16 x bf16 -> f32); NULL for another. */
struct pn_packed_w *pn_packed_w_new_dt(const void *W, uint32_t dtype, uint32_t K, uint32_t N,
				       struct pn_wstore *store);
void pn_packed_w_free(struct pn_packed_w *w);

struct pn_packed_ctx *pn_packed_ctx_new(void);
void pn_packed_ctx_free(struct pn_packed_ctx *c);
/* Cold: c's primitives for w at every row count 1..PN_PACKED_MAX_ROWS;
 * returns how many use the packed weights (the rest fall back to sgemm). */
int pn_packed_ctx_prepare(struct pn_packed_ctx *c, const struct pn_packed_w *w);

/*
 * y[M, N] = act(x[M, K] w + b) (b may be NULL; act is enum pnb_act), x and y
 * dense. Returns 0, or -1 when this M cannot use the packed weights (rows
 * above PN_PACKED_MAX_ROWS, a layout mismatch, out of memory): the caller
 * then runs pn_linear on the plain weights, with the same result.
 */
int pn_packed_linear(struct pn_packed_ctx *c, const struct pn_packed_w *w,
		     uint32_t M, const float *x, const float *b, uint32_t act,
		     float *y);

/*
 * The bare GEMM in w's types: y [M, N] (f32, or s32 for I8) = x [M, K]
 * (f32, u8 or bf16) w, no epilogue (lib/cpu/qgemm.c adds its own). Returns
 * 0, or -1 as pn_packed_linear does.
 */
int pn_packed_gemm(struct pn_packed_ctx *c, const struct pn_packed_w *w, uint32_t M,
		   const void *x, void *y);

#endif /* PN_CPU_PACKED_H */
