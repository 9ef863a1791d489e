/* SPDX-License-Identifier: MIT */
/*
 * backend.h - what a backend implements: where polynetd runs a batch. The
 * worker threads, the scheduler, batch assembly, id checks, the result
 * scatter and the completions are worker.c's and the same for every
 * backend; a backend only turns a padded batch of ids into output rows.
 * The CPU backend is backend_cpu.c (pn_exec); a CUDA backend fills the same
 * table (streams, graphs and device memory behind its three opaque types).
 *
 * Objects:
 *   struct pnd_backend        backend-wide: devices, pools, contexts
 *   struct pnd_backend_model  per loaded model: derived state shared by every
 *                             worker (CPU: packed weights; CUDA: the weights
 *                             uploaded to device memory)
 *   struct pnd_backend_exec   per worker per model: a single-threaded executor
 *                             with its planned arena (CUDA: a stream, a graph,
 *                             pinned staging buffers)
 *   struct pnd_backend_gen    per decoder model (optional): the KV cache of
 *                             n_slots sequences and the prefill and decode
 *                             executors over it (CPU: lib/gen's pn_gen), run
 *                             by gen_sched.c's continuous batching
 *
 * Threading, per op:
 *   init, fini                     main thread, before any worker starts /
 *                                  after every worker joined.
 *   prepare_model, release_model   loop thread (LOAD, reattach at start) or
 *                                  whichever thread drops a model's last
 *                                  reference (a worker, the loop). Concurrent
 *                                  with run_group of other models: a backend
 *                                  locks its own backend-wide state.
 *   thread_init, thread_fini       the worker thread itself, once each, first
 *                                  and last (CUDA: cudaSetDevice, streams).
 *   exec_new, prepare_exec         at LOAD and reattach, one executor for
 *                                  each worker, from threads the loop thread
 *                                  starts and joins, several at once (each on
 *                                  its own executor), before the model is
 *                                  reported ready; or the worker
 *                                  that needs one later (after recover
 *                                  said false).
 *   exec_free, run_group, recover
 *                                  the worker thread that owns the executor,
 *                                  never two at once on one executor. An
 *                                  executor never outlives its model's
 *                                  pnd_backend_model (the worker holds a model
 *                                  reference while it has the executor).
 *   stats                          loop thread (STAT), concurrent with workers.
 *   gen_new                        loop thread, at LOAD and reattach, after
 *                                  prepare_model (cold).
 *   gen_prefill, gen_step          one worker at a time per context (the
 *                                  unit's owner, gen_sched.h), hot.
 *   gen_free                       whoever drops the model's last reference.
 *
 * Errors: ops return 0 or -errno with one line in e. run_group's error
 * answers every job of the group with it; recover then says whether the
 * executor may run again (true) or must be freed and made anew (false).
 * Two errors of run_group mean a device fault, and make the worker run
 * each job of the group again alone (run_alone), once (worker.c), so that
 * no job is lost to another's fault and the job at fault gets the error:
 *   -EIO        the device's context faulted (sticky: every job on it
 *               failed); recover resets it
 *   -EREMOTEIO  the device refused this run only (not sticky)
 * Time: no op reads the clock for the daemon; worker.c timestamps the jobs.
 */
#ifndef PND_BACKEND_H
#define PND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"

struct pnd_backend;
struct pnd_backend_model;
struct pnd_backend_exec;
struct pnd_backend_gen;
struct cJSON;

struct pnd_backend_config {
	uint32_t nworkers;		/* every worker thread, realtime ones included */
	uint32_t rt_workers;		/* of them, the last rt_workers serve realtime only */
	uint32_t max_batch;		/* sequences per run_group, the most */
	const char *libcuda;		/* CUDA: the driver to dlopen, NULL: $POLYNET_LIBCUDA
					   or "libcuda.so.1" */
};

struct pnd_backend_ops {
	const char *name;		/* HELLO, STAT, the ready line */

	/* Backend-wide state. */
	int (*init)(const struct pnd_backend_config *cfg, struct pnd_backend **out,
		    struct pn_err *e);
	void (*fini)(struct pnd_backend *b);

	/*
	 * Derived state of a model that passed validation, made once for all
	 * workers (cold). The model's bytes stay mapped until release_model.
	 */
	int (*prepare_model)(struct pnd_backend *b, const struct pnd_model *m,
			     struct pnd_backend_model **out, struct pn_err *e);
	void (*release_model)(struct pnd_backend *b, struct pnd_backend_model *bm);

	/* Optional (NULL: nothing to do). worker is 0..nworkers-1. */
	int (*thread_init)(struct pnd_backend *b, uint32_t worker, struct pn_err *e);
	void (*thread_fini)(struct pnd_backend *b, uint32_t worker);

	/*
	 * Worker worker's executor for a model, planned for max_batch x
	 * max_tokens (cold). The worker says which device and stream class
	 * serve it (CUDA); the CPU backend ignores it.
	 */
	int (*exec_new)(struct pnd_backend *b, const struct pnd_model *m,
			const struct pnd_backend_model *bm, uint32_t worker, uint32_t max_batch,
			uint32_t max_tokens, struct pnd_backend_exec **out, struct pn_err *e);
	void (*exec_free)(struct pnd_backend_exec *x);
	/*
	 * Optional (cold): makes everything run_group would make on its first
	 * call, for every batch the scheduler can form (CPU: primitives for
	 * every row count, the arena's pages; CUDA: graphs), so that a first
	 * job costs what any job costs.
	 */
	int (*prepare_exec)(struct pnd_backend_exec *x, struct pn_err *e);

	/*
	 * Hot path. ids [B, T] (row b padded after lens[b], every id checked
	 * below the vocabulary, 1 <= lens[b] <= T), B <= max_batch; out gets
	 * [B, out_width] (SEQ layout) or [B, T, out_width] (TOKEN layout) floats
	 * in host memory. Returns when out is written.
	 */
	int (*run_group)(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
			 uint32_t B, uint32_t T, float *out, struct pn_err *e);

	/*
	 * Optional (NULL: run_group): run_group with nothing else running on
	 * the device, for the reruns after a device fault (worker.c), so that
	 * a fault in it is this run's own and not another's.
	 */
	int (*run_alone)(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
			 uint32_t B, uint32_t T, float *out, struct pn_err *e);

	/*
	 * After run_group returned err: true when x may run again, false when
	 * the worker must exec_free it (it makes a new one on the next job).
	 * NULL: always true.
	 */
	bool (*recover)(struct pnd_backend_exec *x, int err);

	/*
	 * Optional: one line for STAT's "backend_stats" (NUL-terminated in
	 * buf[len]); returns its length, 0 for nothing to add.
	 */
	int (*stats)(struct pnd_backend *b, char *buf, size_t len);

	/*
	 * Optional, loop thread: STAT's "devices" array (a cJSON array the
	 * caller owns), NULL for none.
	 */
	struct cJSON *(*devices_json)(struct pnd_backend *b);
	/*
	 * Optional: words the ready line adds after backend=NAME (" devices=1
	 * driver=12.8"), NUL-terminated in buf[len].
	 */
	void (*ready_info)(struct pnd_backend *b, char *buf, size_t len);

	/*
	 * Generation on causal decoders (optional: NULL where the backend runs
	 * none; PN_OP_GENERATE is then refused -EOPNOTSUPP). gen_new makes the
	 * context of a decoder model: n_slots sequences of up to the model's
	 * context (max_tokens) positions, everything allocated and prepared
	 * (cold); -ENOEXEC when m is not a causal decoder.
	 */
	int (*gen_new)(struct pnd_backend *b, const struct pnd_model *m,
		       const struct pnd_backend_model *bm, uint32_t n_slots,
		       struct pnd_backend_gen **out, struct pn_err *e);
	void (*gen_free)(struct pnd_backend_gen *g);
	/* Hot. Resets slot and runs ids[0..n) at its positions 0..n-1; logits [vocab] of the last. */
	int (*gen_prefill)(struct pnd_backend_gen *g, uint32_t slot, const int32_t *ids, uint32_t n,
			   float *logits, struct pn_err *e);
	/*
	 * Hot: one token for each of n distinct, prefilled slots in ONE call
	 * (the decode steps of n sessions batched), at each slot's next
	 * position; logits [n, vocab] in the order given. All or nothing.
	 */
	int (*gen_step)(struct pnd_backend_gen *g, uint32_t n, const uint32_t *slots,
			const int32_t *ids, float *logits, struct pn_err *e);
};

extern const struct pnd_backend_ops pnd_backend_cpu;
/* backend_cuda.c: the CUDA Driver API, loaded at init (docs/cuda_backend.md). */
extern const struct pnd_backend_ops pnd_backend_cuda;

#endif /* PND_BACKEND_H */
