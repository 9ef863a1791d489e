/* SPDX-License-Identifier: MIT */
/*
 * cuda_impl.h - what backend_cuda.c (devices, contexts, modules, weights,
 * resets) and cuda_exec.c (executors: streams, graphs, staging) share. Not
 * an interface: the rest of the daemon sees only backend.h.
 *
 * Locking, top down (never the other way):
 *   b->lock           the model table (uploads), b->ndev's stats writers
 *   dev->reset_lock   read: anything that uses the device's context (an
 *                     upload, an executor's make or run); write: a reset
 *                     (cuda_dev_reset), which replaces the context's
 *                     allocations, modules and graphs under every reader's
 *                     feet, so it waits for them all; and a run_alone, the
 *                     rerun after a fault, so that a fault is its own.
 * dev->gen counts resets: an executor or upload made under another gen
 * holds handles of a context that is gone, and is remade, never used.
 */
#ifndef PND_CUDA_IMPL_H
#define PND_CUDA_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "backend.h"
#include "cuda_api.h"
#include "devices.h"
#include "gpu/plan.h"

struct cuda_dev {
	struct pnd_device info;
	CUcontext ctx;			/* the primary context, retained for the daemon's life */
	CUmodule *mods;			/* by pnd_ptx_blobs index */
	CUfunction *fn;			/* by pn_gpu_kernels index */
	int prio_least, prio_greatest;	/* cuCtxGetStreamPriorityRange */
	pthread_rwlock_t reset_lock;
	atomic_uint gen;
	atomic_bool sticky;		/* a sticky error seen: reset before any use */
	atomic_ullong mem_weights, mem_graphs, mem_staging;	/* bytes, for STAT */
	atomic_uint resets;
	char kernels_from[16];		/* "cubin sm_90" or "ptx jit" */
};

/* One model's bytes on every device, shared by the models of equal content. */
struct pnd_backend_model {
	struct pnd_backend *b;
	uint64_t hash;
	uint32_t refs;			/* under b->lock */
	struct pn_graph *g;		/* shape-checked, read-only */
	const void *host;		/* the mapped file */
	size_t bytes;
	bool registered;		/* cuMemHostRegister took host */
	CUdeviceptr *file_d;		/* per device */
	unsigned *file_gen;		/* the dev->gen file_d was uploaded under */
	struct pnd_backend_model *next;	/* b->models */
};

struct pnd_backend {
	struct pnd_backend_config cfg;
	struct pnd_cu api;
	uint32_t ndev;
	struct cuda_dev *dev;
	pthread_mutex_t lock;
	struct pnd_backend_model *models;
	bool graphs;			/* $POLYNET_CUDA_GRAPHS=0: every launch on its own */
};

/* "device 0: cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)" into e; returns -errno. */
int cuda_fail(struct pnd_backend *b, uint32_t dev, const char *what, CUresult r,
	      struct pn_err *e);
/* Makes dev's context current on the calling thread. */
int cuda_use(struct pnd_backend *b, uint32_t dev, struct pn_err *e);
/*
 * Resets dev's context after a sticky error unless gen already moved past
 * seen_gen (another thread reset it): every allocation, module, stream and
 * graph of the old context is gone; kernels are loaded and every model's
 * bytes uploaded again. Takes dev->reset_lock for writing.
 */
int cuda_dev_reset(struct pnd_backend *b, uint32_t dev, unsigned seen_gen, struct pn_err *e);
/* The device a worker runs on. */
uint32_t cuda_worker_dev(const struct pnd_backend *b, uint32_t worker);

/* cuda_exec.c: the executor ops of backend.h. */
int cuda_exec_new(struct pnd_backend *b, const struct pnd_model *m,
		  const struct pnd_backend_model *bm, uint32_t worker, uint32_t max_batch,
		  uint32_t max_tokens, struct pnd_backend_exec **out, struct pn_err *e);
void cuda_exec_free(struct pnd_backend_exec *x);
int cuda_run_group(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t B, uint32_t T, float *out, struct pn_err *e);
int cuda_run_alone(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t B, uint32_t T, float *out, struct pn_err *e);
bool cuda_recover(struct pnd_backend_exec *x, int err);

#endif /* PND_CUDA_IMPL_H */
