/* SPDX-License-Identifier: MIT */
/*
 * exec.h - run a model's DAG on the CPU backend.
 *
 * A struct pn_cpu_model is a model's graph (graph.h) plus what the CPU
 * derives from its weights once: packed GEMM weights, sin/cos position
 * tables (each op's prepare, op_cpu.h). It is read-only after creation and
 * shared by any number of executors on any threads; it must outlive them,
 * and the model must outlive it.
 *
 * pn_exec_new() plans the activation arena once for the largest batch and
 * sequence length it will see; pn_exec_run() then allocates nothing. An
 * executor is used by one thread at a time (it may own a pool of threads).
 */
#ifndef PN_EXEC_H
#define PN_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "exec/model.h"
#include "util/pool.h"

struct pn_graph;
struct pn_exec;
struct pn_cpu_model;  /* the graph plus CPU-derived weights (packed GEMM weights, sin/cos tables); read-only after creation, shared by any number of executors on any threads */

/* Builds m's graph (shape checks) and the CPU's derived weights (malloc'd). */
int pn_cpu_model_new(const struct pn_model *m, struct pn_cpu_model **out, struct pn_err *err);
/*
 * The same with the derived weights' bytes in store (util/wstore.h): a
 * MEASURE store sizes them (the model it gives is for pn_cpu_model_free
 * only), FILL derives them into the store's buffer, ATTACH runs from a
 * buffer filled before. The buffer must outlive the model.
 */
struct pn_wstore;
int pn_cpu_model_new_in(const struct pn_model *m, struct pn_wstore *store,
			struct pn_cpu_model **out, struct pn_err *err);
void pn_cpu_model_free(struct pn_cpu_model *cm);
const struct pn_graph *pn_cpu_model_graph(const struct pn_cpu_model *cm);
const struct pn_model *pn_cpu_model_model(const struct pn_cpu_model *cm);

int pn_exec_new(const struct pn_cpu_model *cm, uint32_t max_batch, uint32_t max_tokens,
		struct pn_pool *pool, struct pn_exec **out, struct pn_err *err);
/*
 * A decoder's executor over the caller's KV cache kv (cpu/kernels.h; it
 * must outlive x): pn_exec_run_kv then places each sequence's tokens at
 * its own positions and slot. pn_exec_new gives a decoder its own cache
 * of max_batch slots x max_tokens positions, positions from 0 each run.
 */
struct pn_kv;
int pn_exec_new_kv(const struct pn_cpu_model *cm, uint32_t max_batch, uint32_t max_tokens,
		   const struct pn_kv *kv, struct pn_pool *pool, struct pn_exec **out,
		   struct pn_err *err);
/* Layers and floats per position of the model's KV cache; 0 layers: none. -EINVAL: mixed widths. */
int pn_exec_kv_shape(const struct pn_cpu_model *cm, uint32_t *layers, uint32_t *width);
void pn_exec_free(struct pn_exec *x);
/*
 * Cold: makes everything x's hot path would otherwise make on a first run:
 * the packed GEMM primitives for every row count, the arena's and the
 * scratch's pages, and one run on dummy ids (id 0) of every row count the
 * packed path takes. After it, a first job costs what any job costs.
 */
int pn_exec_prepare(struct pn_exec *x, struct pn_err *err);
const struct pn_model *pn_exec_model(const struct pn_exec *x);
/* Bytes of the planned activation arena, and without reuse (for reports). */
size_t pn_exec_arena_bytes(const struct pn_exec *x, size_t *naive);
/* Bytes of the largest node's scratch at the planned sizes (planned inside the arena). */
size_t pn_exec_scratch_bytes(const struct pn_exec *x);

/*
 * ids: [batch, T] row-major, padded; sequence b has lens[b] <= T valid ids
 * (lens[b] >= 1). T <= max_tokens of the executor. out: [batch, out_width]
 * for a SEQ output, [batch * T, out_width] for a TOKENS output.
 * Returns -EINVAL (with err) for a batch or T past the plan, a zero length
 * or an id outside the embedding table.
 */
int pn_exec_run(struct pn_exec *x, const int32_t *ids, const uint32_t *lens,
		uint32_t batch, uint32_t T, float *out, struct pn_err *err);

/*
 * The same with sequence b's tokens at positions pos0[b].. of KV slot
 * slots[b] (NULL: positions from 0, slot b). -ENOSPC (nothing run) where
 * a sequence's positions run past the cache's length.
 */
int pn_exec_run_kv(struct pn_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t batch, uint32_t T, const uint32_t *pos0, const uint32_t *slots,
		   float *out, struct pn_err *err);

/*
 * Convenience for texts: tokenize (clipping to the model's max_tokens),
 * pad, run. out: [n, out_width]. ids/n_ids, when not NULL, receive each
 * text's full (unclipped) token ids, malloc'd, for the caller to free.
 * An empty text or invalid UTF-8 fails with -EINVAL/-EILSEQ naming the
 * text's index. n <= max_batch of the executor.
 */
int pn_exec_texts(struct pn_exec *x, const char *const *texts,
		  const size_t *text_lens, uint32_t n, float *out,
		  int32_t **ids, size_t *n_ids, struct pn_err *err);

/* Per-node timing of the last runs (for polyctl bench --nodes). */
struct pn_node_time {
	uint32_t op;
	const char *name;
	double total_us;
	uint64_t calls;
};
int pn_exec_profile(struct pn_exec *x, int enable);
const struct pn_node_time *pn_exec_node_times(const struct pn_exec *x,
					      uint32_t *n);

/*
 * Tap (calibration, lib/compile/calib.c): fn is called right after every
 * node runs with the value it produced, in place in the arena: data holds
 * rows x width floats (rows = batch * T for a TOKENS value, batch for SEQ;
 * I32 values are passed as their bits) and is valid only during the call.
 * NULL fn removes the tap. Costs one branch per node when unset.
 */
typedef void (*pn_exec_tap_fn)(void *arg, uint32_t value, const float *data,
			       uint32_t rows, uint32_t width, uint32_t batch,
			       uint32_t T, const uint32_t *lens);
void pn_exec_set_tap(struct pn_exec *x, pn_exec_tap_fn fn, void *arg);

#endif /* PN_EXEC_H */
