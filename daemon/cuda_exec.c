// SPDX-License-Identifier: MIT
/*
 * cuda_exec.c - the CUDA backend's executors (backend.h), one per worker
 * per model: a stream of the worker's priority class (realtime workers on
 * the device's highest priority), one device arena with the per-run ids
 * and lengths, pinned staging for inputs and outputs, and per batch bucket
 * (1, 2, 4, ... max_batch sequences) a plan (lib/gpu/plan.h) instantiated
 * once as an explicit CUDA graph, a chain of kernel nodes. A run picks the
 * smallest bucket that holds its batch, patches only the nodes whose grid
 * or parameters changed (cuGraphExecKernelNodeSetParams), copies the ids
 * in, replays the graph, copies the output back and polls its event.
 *
 * Every use of the device holds its reset_lock for reading; an executor
 * made under an older dev->gen (a reset happened) remakes its device
 * state before it runs, since its handles died with the old context.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"
#include "exec/graph.h"

#define MAX_BUCKETS 12
/* cuEventQuery polls before blocking: a short job's completion is seen sooner */
#define POLL_SPINS 2000

struct bucket {
	uint32_t max_b;			/* sequences it is planned for */
	struct pn_gpu_plan *plan;
	uint32_t n;			/* launches */
	struct pn_gpu_launch *cur;	/* what the instantiated graph holds */
	struct pn_gpu_launch *next;	/* this run's */
	CUgraph g;
	CUgraphExec gx;
	CUgraphNode *nodes;
	size_t out_off;
	uint32_t out_w;
	int tokens;
	CUdeviceptr consts;
	size_t consts_bytes;
};

struct pnd_backend_exec {
	struct pnd_backend *b;
	const struct pnd_backend_model *bm;
	uint32_t dev;
	int priority;
	uint32_t max_batch, max_tokens;
	/* device state, valid while made and gen == dev->gen */
	bool made;
	unsigned gen;
	CUstream s;
	CUevent ev;
	CUdeviceptr arena, ids, lens;
	size_t arena_bytes, dev_bytes;
	void *pin;
	size_t pin_bytes;
	int32_t *pin_ids;
	uint32_t *pin_lens;
	float *pin_out;
	uint32_t nb;
	struct bucket bk[MAX_BUCKETS];
};

#define CU(x, what) do { CUresult r_ = (x); \
	if (r_) return cuda_fail(b, x_->dev, what, r_, e); } while (0)

/* The parameter pointers of one launch, as cuLaunchKernel takes them. */
static void params_of(const struct pn_gpu_launch *l, void **pp)
{
	for (uint32_t i = 0; i < l->n_params; i++)
		pp[i] = (void *)(l->blob + l->param_off[i]);
}

static void node_params(struct pnd_backend_exec *x, const struct pn_gpu_launch *l, void **pp,
			CUDA_KERNEL_NODE_PARAMS *np)
{
	params_of(l, pp);
	memset(np, 0, sizeof(*np));
	np->func = x->b->dev[x->dev].fn[l->kernel];
	np->gridDimX = l->grid[0];
	np->gridDimY = l->grid[1];
	np->gridDimZ = l->grid[2];
	np->blockDimX = l->block[0];
	np->blockDimY = l->block[1];
	np->blockDimZ = l->block[2];
	np->sharedMemBytes = l->shared;
	np->kernelParams = pp;
}

static void mem_of(const struct pnd_backend_exec *x, const struct bucket *k,
		   struct pn_gpu_mem *mem)
{
	const struct pnd_backend_model *bm = x->bm;

	*mem = (struct pn_gpu_mem){
		.file = bm->file_d[x->dev], .file_host = bm->host, .file_bytes = bm->bytes,
		.consts = k->consts, .arena = x->arena, .ids = x->ids, .lens = x->lens,
	};
}

/* Bucket k's graph: its launches for a full bucket, chained, instantiated. */
static int graph_make(struct pnd_backend_exec *x_, struct bucket *k, struct pn_err *e)
{
	struct pnd_backend *b = x_->b;
	struct pn_gpu_mem mem;
	void *pp[PN_GPU_MAX_PARAMS];
	CUDA_KERNEL_NODE_PARAMS np;
	int rc;

	mem_of(x_, k, &mem);
	rc = pn_gpu_plan_launches(k->plan, &mem, k->max_b, x_->max_tokens, k->cur, e);
	if (rc)
		return rc;
	CU(b->api.cuGraphCreate(&k->g, 0), "cuGraphCreate");
	for (uint32_t i = 0; i < k->n; i++) {
		node_params(x_, &k->cur[i], pp, &np);
		CU(b->api.cuGraphAddKernelNode(&k->nodes[i], k->g, i ? &k->nodes[i - 1] : NULL,
					       i ? 1 : 0, &np), "cuGraphAddKernelNode");
	}
	CU(b->api.cuGraphInstantiateWithFlags(&k->gx, k->g, 0), "cuGraphInstantiateWithFlags");
	return 0;
}

/* Frees the device state's handles (the context is current, and of x's gen). */
static void dev_free(struct pnd_backend_exec *x)
{
	const struct pnd_cu *api = &x->b->api;

	for (uint32_t i = 0; i < x->nb; i++) {
		struct bucket *k = &x->bk[i];

		if (k->gx)
			api->cuGraphExecDestroy(k->gx);
		if (k->g)
			api->cuGraphDestroy(k->g);
		if (k->consts)
			api->cuMemFree(k->consts);
	}
	if (x->arena)
		api->cuMemFree(x->arena);
	if (x->ids)
		api->cuMemFree(x->ids);
	if (x->lens)
		api->cuMemFree(x->lens);
	if (x->pin)
		api->cuMemFreeHost(x->pin);
	if (x->ev)
		api->cuEventDestroy(x->ev);
	if (x->s)
		api->cuStreamDestroy(x->s);
}

/* Forgets every handle (after dev_free, or a reset that took them all). */
static void dev_forget(struct pnd_backend_exec *x)
{
	for (uint32_t i = 0; i < x->nb; i++) {
		x->bk[i].g = NULL;
		x->bk[i].gx = NULL;
		x->bk[i].consts = 0;
	}
	x->arena = x->ids = x->lens = 0;
	x->pin = NULL;
	x->ev = NULL;
	x->s = NULL;
	x->dev_bytes = x->pin_bytes = 0;
	x->made = false;
}

static int dev_alloc(struct pnd_backend_exec *x_, CUdeviceptr *p, size_t bytes, struct pn_err *e)
{
	struct pnd_backend *b = x_->b;

	bytes = bytes ? bytes : 256;	/* a buffer of nothing still gets an address */
	CU(b->api.cuMemAlloc(p, bytes), "cuMemAlloc (an executor's arena)");
	x_->dev_bytes += bytes;
	return 0;
}

/*
 * Makes the device state of x under the current gen: stream, event, arena,
 * ids, lengths, pinned staging, each bucket's constants and graph. The
 * caller holds the device's reset_lock for reading.
 */
static int dev_make(struct pnd_backend_exec *x_, struct pn_err *e)
{
	struct pnd_backend *b = x_->b;
	struct cuda_dev *d = &b->dev[x_->dev];
	size_t rows = (size_t)x_->max_batch * x_->max_tokens;
	size_t out_w = 0;
	int rc;

	x_->gen = atomic_load(&d->gen);
	if (x_->bm->file_gen[x_->dev] != x_->gen)
		return pn_errf(e, -EIO, "device %u: the model's weights were lost in a reset",
			       x_->dev);
	if ((rc = cuda_use(b, x_->dev, e)))
		return rc;
	CU(b->api.cuStreamCreateWithPriority(&x_->s, CU_STREAM_NON_BLOCKING, x_->priority),
	   "cuStreamCreateWithPriority");
	CU(b->api.cuEventCreate(&x_->ev, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
	if ((rc = dev_alloc(x_, &x_->arena, x_->arena_bytes, e)) ||
	    (rc = dev_alloc(x_, &x_->ids, rows * sizeof(int32_t), e)) ||
	    (rc = dev_alloc(x_, &x_->lens, x_->max_batch * sizeof(uint32_t), e)))
		return rc;
	for (uint32_t i = 0; i < x_->nb; i++)
		out_w = x_->bk[i].out_w > out_w ? x_->bk[i].out_w : out_w;
	x_->pin_bytes = rows * sizeof(int32_t) + x_->max_batch * sizeof(uint32_t) +
			rows * out_w * sizeof(float);
	CU(b->api.cuMemHostAlloc(&x_->pin, x_->pin_bytes, CU_MEMHOSTALLOC_PORTABLE),
	   "cuMemHostAlloc (staging)");
	x_->pin_ids = x_->pin;
	x_->pin_lens = (uint32_t *)(x_->pin_ids + rows);
	x_->pin_out = (float *)(x_->pin_lens + x_->max_batch);
	for (uint32_t i = 0; i < x_->nb; i++) {
		struct bucket *k = &x_->bk[i];

		if (k->consts_bytes) {
			void *host = malloc(k->consts_bytes);
			CUresult r;

			if (!host)
				return pn_errf(e, -ENOMEM, "out of memory");
			pn_gpu_plan_fill_consts(k->plan, host);
			if ((rc = dev_alloc(x_, &k->consts, k->consts_bytes, e))) {
				free(host);
				return rc;
			}
			r = b->api.cuMemcpyHtoD(k->consts, host, k->consts_bytes);
			free(host);
			if (r)
				return cuda_fail(b, x_->dev, "cuMemcpyHtoD (constants)", r, e);
		}
		if (b->graphs && (rc = graph_make(x_, k, e)))
			return rc;
	}
	atomic_fetch_add(&d->mem_graphs, x_->dev_bytes);
	atomic_fetch_add(&d->mem_staging, x_->pin_bytes);
	x_->made = true;
	return 0;
}

/* dev_make, undone on failure; reset_lock held for reading. */
static int dev_make_or_undo(struct pnd_backend_exec *x, struct pn_err *e)
{
	int rc = dev_make(x, e);

	if (rc) {
		/* what a faulted context holds goes with its reset */
		if (!atomic_load(&x->b->dev[x->dev].sticky))
			dev_free(x);
		dev_forget(x);
	}
	return rc;
}

int cuda_exec_new(struct pnd_backend *b, const struct pnd_model *m,
		  const struct pnd_backend_model *bm, uint32_t worker, uint32_t max_batch,
		  uint32_t max_tokens, struct pnd_backend_exec **out, struct pn_err *e)
{
	struct pnd_backend_exec *x = calloc(1, sizeof(*x));
	struct cuda_dev *d;
	uint32_t rt_from = b->cfg.nworkers - b->cfg.rt_workers;
	int rc = 0;

	*out = NULL;
	if (!x)
		return pn_errf(e, -ENOMEM, "model %u: out of memory", m->id);
	x->b = b;
	x->bm = bm;
	x->dev = cuda_worker_dev(b, worker);
	d = &b->dev[x->dev];
	/* realtime workers on the highest priority; numerically, greatest < least */
	x->priority = worker >= rt_from ? d->prio_greatest : d->prio_least;
	x->max_batch = max_batch;
	x->max_tokens = max_tokens;
	for (uint32_t mb = 1; !rc && x->nb < MAX_BUCKETS; mb = mb * 2 < max_batch ? mb * 2 : max_batch) {
		struct bucket *k = &x->bk[x->nb++];

		k->max_b = mb;
		rc = pn_gpu_plan_new(bm->g, mb, max_tokens, &k->plan, e);
		if (rc)
			break;
		k->n = pn_gpu_plan_n_launches(k->plan);
		k->cur = calloc(k->n ? k->n : 1, sizeof(*k->cur));
		k->next = calloc(k->n ? k->n : 1, sizeof(*k->next));
		k->nodes = calloc(k->n ? k->n : 1, sizeof(*k->nodes));
		if (!k->cur || !k->next || !k->nodes)
			rc = pn_errf(e, -ENOMEM, "model %u: out of memory", m->id);
		pn_gpu_plan_output(k->plan, &k->out_off, &k->out_w, &k->tokens);
		k->consts_bytes = pn_gpu_plan_consts_bytes(k->plan);
		if (pn_gpu_plan_arena_bytes(k->plan) > x->arena_bytes)
			x->arena_bytes = pn_gpu_plan_arena_bytes(k->plan);
		if (mb == max_batch)
			break;
	}
	if (!rc) {
		pthread_rwlock_rdlock(&d->reset_lock);
		rc = dev_make_or_undo(x, e);
		pthread_rwlock_unlock(&d->reset_lock);
	}
	if (rc) {
		cuda_exec_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

void cuda_exec_free(struct pnd_backend_exec *x)
{
	struct cuda_dev *d;

	if (!x)
		return;
	d = &x->b->dev[x->dev];
	pthread_rwlock_rdlock(&d->reset_lock);
	if (x->made && x->gen == atomic_load(&d->gen) && !cuda_use(x->b, x->dev, NULL)) {
		dev_free(x);
		atomic_fetch_sub(&d->mem_graphs, x->dev_bytes);
		atomic_fetch_sub(&d->mem_staging, x->pin_bytes);
	}
	pthread_rwlock_unlock(&d->reset_lock);
	for (uint32_t i = 0; i < x->nb; i++) {
		pn_gpu_plan_free(x->bk[i].plan);
		free(x->bk[i].cur);
		free(x->bk[i].next);
		free(x->bk[i].nodes);
	}
	free(x);
}

/* Polls the event, then blocks on it. */
static CUresult wait_event(const struct pnd_cu *api, CUevent ev)
{
	for (int i = 0; i < POLL_SPINS; i++) {
		CUresult r = api->cuEventQuery(ev);

		if (r != CUDA_ERROR_NOT_READY)
			return r;
		if (i > POLL_SPINS / 2)
			sched_yield();
	}
	return api->cuEventSynchronize(ev);
}

/* One run on made, current device state (reset_lock held). */
static int run_locked(struct pnd_backend_exec *x_, const int32_t *ids, const uint32_t *lens,
		      uint32_t B, uint32_t T, float *out, struct pn_err *e)
{
	struct pnd_backend *b = x_->b;
	struct bucket *k = x_->bk;
	struct pn_gpu_mem mem;
	void *pp[PN_GPU_MAX_PARAMS];
	CUDA_KERNEL_NODE_PARAMS np;
	size_t out_n;
	int rc;

	while (k->max_b < B && k < x_->bk + x_->nb - 1)
		k++;
	mem_of(x_, k, &mem);
	if ((rc = pn_gpu_plan_launches(k->plan, &mem, B, T, k->next, e)))
		return rc;
	for (uint32_t i = 0; i < k->n && b->graphs; i++) {
		const struct pn_gpu_launch *a = &k->cur[i], *n = &k->next[i];

		/* the same kernel in the same node: only grids and values change */
		if (!memcmp(a->grid, n->grid, sizeof(a->grid)) &&
		    !memcmp(a->block, n->block, sizeof(a->block)) && a->shared == n->shared &&
		    !memcmp(a->blob, n->blob, sizeof(a->blob)))
			continue;
		node_params(x_, n, pp, &np);
		CU(b->api.cuGraphExecKernelNodeSetParams(k->gx, k->nodes[i], &np),
		   "cuGraphExecKernelNodeSetParams");
		k->cur[i] = *n;
	}
	out_n = (size_t)B * (k->tokens ? T : 1) * k->out_w;
	memcpy(x_->pin_ids, ids, (size_t)B * T * sizeof(int32_t));
	memcpy(x_->pin_lens, lens, B * sizeof(uint32_t));
	CU(b->api.cuMemcpyHtoDAsync(x_->ids, x_->pin_ids, (size_t)B * T * sizeof(int32_t), x_->s),
	   "cuMemcpyHtoDAsync (ids)");
	CU(b->api.cuMemcpyHtoDAsync(x_->lens, x_->pin_lens, B * sizeof(uint32_t), x_->s),
	   "cuMemcpyHtoDAsync (lengths)");
	if (b->graphs)
		CU(b->api.cuGraphLaunch(k->gx, x_->s), "cuGraphLaunch");
	for (uint32_t i = 0; i < k->n && !b->graphs; i++) {
		const struct pn_gpu_launch *n = &k->next[i];

		params_of(n, pp);
		CU(b->api.cuLaunchKernel(b->dev[x_->dev].fn[n->kernel], n->grid[0], n->grid[1],
					 n->grid[2], n->block[0], n->block[1], n->block[2],
					 n->shared, x_->s, pp, NULL), "cuLaunchKernel");
	}
	CU(b->api.cuMemcpyDtoHAsync(x_->pin_out, x_->arena + k->out_off, out_n * sizeof(float),
				    x_->s), "cuMemcpyDtoHAsync (output)");
	CU(b->api.cuEventRecord(x_->ev, x_->s), "cuEventRecord");
	CU(wait_event(&b->api, x_->ev), "the run (cuEventSynchronize)");
	memcpy(out, x_->pin_out, out_n * sizeof(float));
	return 0;
}

static int run(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
	       uint32_t B, uint32_t T, float *out, bool alone, struct pn_err *e)
{
	struct cuda_dev *d = &x->b->dev[x->dev];
	int rc;

	if (B > x->max_batch || T > x->max_tokens || !B || !T)
		return pn_errf(e, -EINVAL, "a batch of %u x %u past the executor's %u x %u", B, T,
			       x->max_batch, x->max_tokens);
	for (int tries = 0;; tries++) {
		if (alone)
			pthread_rwlock_wrlock(&d->reset_lock);
		else
			pthread_rwlock_rdlock(&d->reset_lock);
		if (!atomic_load(&d->sticky))
			break;
		/* another run faulted the context: reset it first, when alone */
		unsigned gen = atomic_load(&d->gen);

		pthread_rwlock_unlock(&d->reset_lock);
		if (!alone || tries == 3)
			return pn_errf(e, -EIO, "device %u: its context faulted; reset pending",
				       x->dev);
		if ((rc = cuda_dev_reset(x->b, x->dev, gen, e)))
			return rc;
	}
	if (x->made && x->gen != atomic_load(&d->gen))
		dev_forget(x);	/* a reset freed them all */
	rc = x->made ? cuda_use(x->b, x->dev, e) : dev_make_or_undo(x, e);
	if (!rc)
		rc = run_locked(x, ids, lens, B, T, out, e);
	pthread_rwlock_unlock(&d->reset_lock);
	return rc;
}

int cuda_run_group(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t B, uint32_t T, float *out, struct pn_err *e)
{
	return run(x, ids, lens, B, T, out, false, e);
}

/*
 * The device to itself (reset_lock for writing): no other run can fault the
 * context under this one, so a sticky error here is this run's own.
 */
int cuda_run_alone(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t B, uint32_t T, float *out, struct pn_err *e)
{
	return run(x, ids, lens, B, T, out, true, e);
}

/*
 * A sticky error: the device is reset now (weights re-uploaded, kernels
 * reloaded); this executor remakes its streams and graphs on its next run.
 * false only when the reset itself failed.
 */
bool cuda_recover(struct pnd_backend_exec *x, int err)
{
	struct cuda_dev *d = &x->b->dev[x->dev];
	struct pn_err e;

	if (!atomic_load(&d->sticky))
		return true;
	if (cuda_dev_reset(x->b, x->dev, x->made ? x->gen : atomic_load(&d->gen), &e)) {
		pnd_log("%s", e.msg);
		return false;
	}
	return true;
}
