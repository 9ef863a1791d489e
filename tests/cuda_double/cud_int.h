/* SPDX-License-Identifier: MIT */
/*
 * cud_int.h - the CUDA Driver API double's internals: the handles (the
 * structs behind cuda_api.h's opaque CUcontext, CUmodule...), the process
 * state, and what the files of tests/cuda_double/ share.
 *
 * Locking (one rule, everywhere):
 *  - cud.lock guards every field below and the handle table. It is never
 *    held while a kernel runs, while bytes are copied to or from a device, or
 *    while a host function runs.
 *  - A device's memory (its struct ptxi_dev) and what a running kernel reads
 *    (modules, graph execs' parameter values) are owned by whoever holds the
 *    device "busy" (cud_dev_enter, a flag waited on with cud.lock): kernels
 *    and copies of one device run one at a time, other devices in parallel.
 *  - Handles may be freed by another thread while one waits for busy, so
 *    every entry validates its handles again after cud_dev_enter.
 * Contexts are embedded in their device and live until cud_test_reset, so a
 * CUcontext (and the thread's current one) never dangles.
 */
#ifndef CUD_INT_H
#define CUD_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cuda_api.h"
#include "tests/ptx/ptxi.h"

/* Values of the real cuda.h that cuda_api.h does not declare. */
#define CUD_ERROR_HOST_MEMORY_NOT_REGISTERED 713
#define CUD_ERROR_INVALID_SOURCE 300
#define CUD_ERROR_CONTEXT_IS_DESTROYED 709
#define CUD_STREAM_LEGACY ((CUstream)0x1)
#define CUD_STREAM_PER_THREAD ((CUstream)0x2)
#define CUD_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES 1
#define CUD_FUNC_ATTRIBUTE_CONST_SIZE_BYTES 2
#define CUD_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES 3
#define CUD_FUNC_ATTRIBUTE_PTX_VERSION 5
#define CUD_FUNC_ATTRIBUTE_BINARY_VERSION 6
#define CUD_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT 9
#define CUD_MEMHOSTALLOC_DEVICEMAP 0x02
#define CUD_MEMHOSTALLOC_WRITECOMBINED 0x04
#define CUD_MEMHOSTREGISTER_DEVICEMAP 0x02
#define CUD_MEMHOSTREGISTER_IOMEMORY 0x04
#define CUD_EVENT_BLOCKING_SYNC 0x1
#define CUD_EVENT_INTERPROCESS 0x4

#define CUD_DRIVER_VERSION 12080
#define CUD_SHARED_DEFAULT (48u * 1024)	/* dynamic shared without the attribute */
#define CUD_SHARED_OPTIN 232448u	/* sm_90: MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
#define CUD_MAX_PARAMS 64
#define CUD_PRIO_LEAST 0
#define CUD_PRIO_GREATEST (-5)

/* Every entry point, with cuda_entries.h's prototype (defined in cud_*.c). */
#define CUD_DECLARE(name, ver, params) CUresult name params;
PND_CU_ENTRIES(CUD_DECLARE)
#undef CUD_DECLARE

enum cud_kind { CUD_MODULE = 1, CUD_FUNC, CUD_STREAM, CUD_EVENT, CUD_GRAPH, CUD_NODE, CUD_EXEC };

/* What every handle starts with: its kind and its place in its context's list. */
struct cud_obj {
	int kind;
	struct CUctx_st *ctx;
	struct cud_obj *prev, *next;
};

/* An asynchronous error of a stream, numbered so that an event reports only its own. */
struct cud_async {
	CUresult err;
	uint64_t seq;
};

struct CUstream_st {
	struct cud_obj o;
	unsigned int flags;
	int priority;
	struct cud_async pending;
};

struct CUevent_st {
	struct cud_obj o;
	unsigned int flags;
	struct CUstream_st *stream;	/* where it was last recorded, NULL: never */
	struct cud_async snap;		/* that stream's pending error at the record */
};

struct cud_dev;
struct CUctx_st {
	struct cud_dev *dev;
	int refs;			/* primary context retains */
	CUresult sticky;		/* CUDA_SUCCESS or the error every call returns */
	struct CUstream_st null_stream;	/* stream 0, never in the handle table */
	struct cud_obj *objs;		/* every handle of the context */
};

struct cud_dev {
	int ordinal;
	struct ptxi_dev *mem;
	size_t used;			/* bytes of live allocations */
	struct cud_mem_alloc *allocs;	/* live allocations (ptr, bytes), unsorted */
	size_t n_allocs, cap_allocs;
	int busy;			/* cud_dev_enter: kernels and copies, one at a time */
	pthread_cond_t idle;
	struct CUctx_st ctx;
};

struct cud_mem_alloc {
	CUdeviceptr ptr;
	size_t bytes;
};

/* A function's .param list, from ptxi_entry_params, and where each value sits in a blob. */
struct cud_params {
	uint32_t n;
	uint32_t size[CUD_MAX_PARAMS], align[CUD_MAX_PARAMS], off[CUD_MAX_PARAMS];
	uint32_t bytes;
};

struct CUmod_st {
	struct cud_obj o;
	struct ptxi_module *pm;
	struct CUfunc_st **funcs;
	size_t n_funcs;
};

struct CUfunc_st {
	struct cud_obj o;
	struct CUmod_st *mod;
	char name[96];
	struct cud_params params;
	int max_dyn_shared;		/* CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
	int carveout;
	uint32_t static_shared, local_bytes, max_threads, num_regs;
	uint32_t reqntid[3];		/* .reqntid, 0s: none */
};

/* One launch, its parameter values copied (graph nodes, graph execs). */
struct cud_launch {
	struct CUfunc_st *fn;
	uint32_t grid[3], block[3], shared;
	uint8_t *blob;			/* fn->params.bytes */
};

struct CUgraphNode_st {
	struct cud_obj o;
	struct CUgraph_st *graph;
	uint64_t id;			/* unique over the process: an exec finds its nodes by it */
	struct cud_launch l;
	struct CUgraphNode_st **deps;
	size_t n_deps;
};

struct CUgraph_st {
	struct cud_obj o;
	struct CUgraphNode_st **nodes;	/* insertion order: a topological order */
	size_t n, cap;
};

struct CUgraphExec_st {
	struct cud_obj o;
	uint64_t *ids;
	struct cud_launch *nodes;
	size_t n;
};

struct cud_env {
	int devices;
	size_t mem_bytes;
	int exec_twin;
	long fail_alloc_at, fail_launch_at, sticky_at;
	int poison_set, fail_id_set;
	int32_t poison_id, fail_id;
};

struct cud_state {
	pthread_mutex_t lock;
	int inited;			/* 1 after a successful cuInit, -1 after NO_DEVICE */
	uint64_t gen;			/* bumped by cud_test_reset: stale thread-locals */
	struct cud_env env;
	struct cud_dev *devs;
	int n_devs;
	int log_fd;
	long n_allocs, n_execs;		/* cuMemAlloc calls, kernel executions: the fault knobs */
	uint64_t next_seq, next_node_id;
	struct cud_host *hosts;		/* cuMemHostAlloc'd and registered host ranges */
	size_t n_hosts, cap_hosts;
};

struct cud_host {
	uintptr_t p;
	size_t bytes;
	int alloced;			/* 1: cuMemHostAlloc's (ours to free) */
	unsigned int flags;
};

extern struct cud_state cud;

/* ---- cud_core.c ---- */
/* CUDA_SUCCESS after cuInit, else NOT_INITIALIZED (NO_DEVICE stays that way). Locked. */
CUresult cud_check_init(void);
struct cud_dev *cud_dev_get(CUdevice d);	/* NULL: not a device. Locked */

/* ---- cud_ctx.c ---- */
/* The thread's current context, checked: *out set, or the error to return. Locked. */
CUresult cud_cur_ctx(struct CUctx_st **out);
/* INVALID_CONTEXT for a released context, the sticky error, else SUCCESS. Locked. */
CUresult cud_ctx_usable(struct CUctx_st *c);
/* Waits until the device is idle and takes it. Locked; drops cud.lock while waiting. */
void cud_dev_enter(struct cud_dev *d);
void cud_dev_leave(struct cud_dev *d);
/* Frees every handle and all device memory of c (reset, last release). Locked, busy held. */
void cud_ctx_clear(struct CUctx_st *c);
/* Makes a context sticky-failed (first error wins). Locked. */
void cud_ctx_fault(struct CUctx_st *c, CUresult err);

/* ---- cud_obj.c: the table of live handles ---- */
void *cud_obj_new(size_t size, int kind, struct CUctx_st *c);	/* calloc + register + link */
void cud_obj_free(void *obj);					/* unregister + unlink + free */
/* obj if it is a live handle of that kind, else NULL. Locked. */
void *cud_obj_get(const void *obj, int kind);
void cud_obj_table_free(void);

/* ---- cud_stream.c ---- */
/* The stream s names in context c (0 and the legacy handles: c's null stream), or NULL. */
struct CUstream_st *cud_stream_of(struct CUctx_st *c, CUstream s);
void cud_stream_fail(struct CUstream_st *s, CUresult err);
void cud_stream_free(struct CUstream_st *s);
void cud_event_free(struct CUevent_st *e);

/* ---- cud_module.c ---- */
void cud_module_free(struct CUmod_st *m);

/* ---- cud_launch.c ---- */
/*
 * Checks a launch's shape and parameters against fn (why: what is wrong,
 * with the entry's .param sizes); copies the values into blob if set.
 */
CUresult cud_launch_check(const struct CUfunc_st *fn, const uint32_t grid[3],
			  const uint32_t block[3], uint32_t shared, void **params, void **extra,
			  uint8_t *blob, char *why, size_t why_len);
/*
 * Runs one launch on its context's device, busy held, cud.lock NOT held:
 * returns SUCCESS, a non-sticky error (for the stream) or a sticky one.
 * params[i] are the values' addresses. Counts the execution, applies the
 * fault knobs, logs.
 */
CUresult cud_execute(struct CUfunc_st *fn, const uint32_t grid[3], const uint32_t block[3],
		     uint32_t shared, void *const *params);
/* What cud_execute returned, applied to the stream or the context. Locked. */
void cud_execute_result(struct CUstream_st *s, CUresult r);

/* ---- cud_graph.c ---- */
void cud_graph_free(struct CUgraph_st *g);
void cud_exec_free(struct CUgraphExec_st *x);

/* ---- cud_log.c ---- */
void cud_log_open(void);
void cud_log_close(void);
/* One line (a newline added), one write(): whole lines interleave. No-op without CUDA_DOUBLE_LOG. */
void cud_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cud_err_name(CUresult r);		/* "CUDA_ERROR_..." or NULL */

/* The test hook: back to the state before cuInit (frees everything). Not thread safe. */
void cud_test_reset(void);

#endif /* CUD_INT_H */
