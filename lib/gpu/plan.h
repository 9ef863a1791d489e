/* SPDX-License-Identifier: MIT */
/*
 * plan.h - a model's DAG lowered to launches of the PTX kernels of
 * kernels/ptx/, independent of any driver: the CUDA backend
 * (daemon/backend_cuda.c) turns the launches into graph kernel nodes, the
 * tests run the same launches in the PTX interpreter (tests/ptx/ptxi.h).
 *
 * A plan is made once per (model, max batch, max tokens): every value and
 * every node's GPU scratch get an offset in one device arena (lib/exec/arena.h),
 * and the model's constant tables the kernels read besides the weights (none
 * today for most ops; e.g. sin/cos position tables) are sized once.
 *
 * pn_gpu_plan_launches() then writes the launches of one run of B sequences
 * of T tokens. Their number, order and kernels depend on the plan only, never
 * on B or T (a kernel chosen by shape is chosen for max_batch x max_tokens),
 * so a CUDA graph built from one (B, T) is patched to another by setting
 * each node's parameters again. Grids are never empty.
 *
 * Device memory is described by struct pn_gpu_mem: where the file's bytes,
 * the constant tables, the arena and the per-run inputs live. A weight at
 * host address w (a pointer into the mapped file, struct pn_gnode's w[]) is
 * at mem->file + (w - mem->file_host) on the device.
 *
 * Threading: a plan is read-only after pn_gpu_plan_new and shared by any
 * number of threads.
 */
#ifndef PN_GPU_PLAN_H
#define PN_GPU_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "exec/graph.h"
#include "util/pn_err.h"

/* Every kernel a plan may launch: its .entry name and its file in kernels/ptx/. */
struct pn_gpu_kernel {
	const char *entry;		/* "gemm_f32" */
	const char *file;		/* "gemm_f32.ptx" */
};
/* The table, indexed by struct pn_gpu_launch's kernel. */
extern const struct pn_gpu_kernel pn_gpu_kernels[];
extern const uint32_t pn_gpu_n_kernels;
/* The index of entry in pn_gpu_kernels, or -1. */
int pn_gpu_kernel_find(const char *entry);

#define PN_GPU_MAX_PARAMS 24
#define PN_GPU_PARAM_BYTES 256

/*
 * One launch: as cuLaunchKernel takes it. Parameter i's value is
 * param_size[i] bytes at blob + param_off[i] (each offset aligned to its
 * size); kernelParams[i] = blob + param_off[i].
 */
struct pn_gpu_launch {
	uint32_t kernel;		/* index into pn_gpu_kernels */
	uint32_t node;			/* the graph node it runs (for errors, profiles) */
	uint32_t grid[3], block[3];	/* every one >= 1 */
	uint32_t shared;		/* dynamic shared bytes */
	uint32_t n_params;
	uint16_t param_off[PN_GPU_MAX_PARAMS];
	uint16_t param_size[PN_GPU_MAX_PARAMS];
	_Alignas(8) uint8_t blob[PN_GPU_PARAM_BYTES];
};

struct pn_gpu_mem {
	uint64_t file;			/* device copy of the mapped file's bytes */
	const void *file_host;		/* where they are mapped on the host */
	size_t file_bytes;
	uint64_t consts;		/* pn_gpu_plan_consts_bytes, filled by pn_gpu_plan_fill_consts */
	uint64_t arena;			/* pn_gpu_plan_arena_bytes */
	uint64_t ids;			/* int32 [B, T], row b padded after lens[b] */
	uint64_t lens;			/* uint32 [B] */
};

struct pn_gpu_plan;

/*
 * -ENOTSUP with err naming the node and op when a node has no GPU lowering
 * (yet), -EINVAL for sizes past what the kernels take (e.g. a width past a
 * kernel's limit, named with the limit).
 */
int pn_gpu_plan_new(const struct pn_graph *g, uint32_t max_batch, uint32_t max_tokens,
		    struct pn_gpu_plan **out, struct pn_err *err);
void pn_gpu_plan_free(struct pn_gpu_plan *p);

size_t pn_gpu_plan_arena_bytes(const struct pn_gpu_plan *p);
size_t pn_gpu_plan_consts_bytes(const struct pn_gpu_plan *p);
/* Writes the constant tables (pn_gpu_plan_consts_bytes of them) into host memory dst. */
void pn_gpu_plan_fill_consts(const struct pn_gpu_plan *p, void *dst);
/* Launches of every run (the same for every B, T). */
uint32_t pn_gpu_plan_n_launches(const struct pn_gpu_plan *p);
/* Which kernels it launches: used[k] set to 1 for each (pn_gpu_n_kernels entries). */
void pn_gpu_plan_kernels_used(const struct pn_gpu_plan *p, uint8_t *used);

/*
 * The output, in the arena: mem->arena + *offset holds B x out_width floats
 * (SEQ) or B x T x out_width (TOKENS) after the last launch.
 */
void pn_gpu_plan_output(const struct pn_gpu_plan *p, size_t *offset, uint32_t *out_width,
			int *tokens);

/*
 * Writes the n_launches launches of a run of B <= max_batch sequences of
 * T <= max_tokens tokens into l. -EINVAL past the plan.
 */
int pn_gpu_plan_launches(const struct pn_gpu_plan *p, const struct pn_gpu_mem *mem,
			 uint32_t B, uint32_t T, struct pn_gpu_launch *l, struct pn_err *err);

#endif /* PN_GPU_PLAN_H */
