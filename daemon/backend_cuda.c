// SPDX-License-Identifier: MIT
/*
 * backend_cuda.c - the CUDA backend (backend.h), backend-wide half: the
 * Driver API loaded at run time (cuda_api.h), the devices (devices.h), one
 * primary context per device retained for the daemon's life, the kernels
 * of kernels/ptx/ loaded into each (an embedded cubin where one matches
 * the device, else the PTX through the driver's JIT, whose error log is
 * shown on failure), each model's bytes uploaded once per device and
 * shared by every worker and every model of the same content, and the
 * reset after a sticky error. The executors (streams, graphs, staging) are
 * cuda_exec.c's. Locking: cuda_impl.h. docs/cuda_backend.md tells the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cuda_impl.h"
#include "exec/graph.h"
#include "ptx_blobs.h"

int cuda_fail(struct pnd_backend *b, uint32_t dev, const char *what, CUresult r,
	      struct pn_err *e)
{
	char s[160];
	/* backend.h's device faults: sticky, or this run's alone */
	int err = r == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM : pnd_cu_sticky(r) ? -EIO : -EREMOTEIO;

	if (pnd_cu_sticky(r) && dev < b->ndev)
		atomic_store(&b->dev[dev].sticky, true);
	pnd_cu_strerror(&b->api, r, s, sizeof(s));
	return pn_errf(e, err, "device %u: %s: %s", dev, what, s);
}

int cuda_use(struct pnd_backend *b, uint32_t dev, struct pn_err *e)
{
	CUresult r = b->api.cuCtxSetCurrent(b->dev[dev].ctx);

	return r ? cuda_fail(b, dev, "cuCtxSetCurrent", r, e) : 0;
}

uint32_t cuda_worker_dev(const struct pnd_backend *b, uint32_t worker)
{
	return b->ndev ? worker % b->ndev : 0;
}

/* The embedded cubin for d's compute capability, or NULL (then the PTX). */
static const unsigned char *cubin_for(const struct pnd_ptx_blob *bl, const struct cuda_dev *d,
				      const char **arch)
{
	/* a cubin runs on its own major version at an equal or later minor */
	if (d->info.cc_major == 9 && bl->sm90) {
		*arch = "cubin sm_90";
		return bl->sm90;
	}
	if (d->info.cc_major == 8 && bl->sm80) {
		*arch = "cubin sm_80";
		return bl->sm80;
	}
	return NULL;
}

/* Loads one file's module into d's (current) context: its cubin, else its PTX. */
static int load_module(struct pnd_backend *b, uint32_t di, const struct pnd_ptx_blob *bl,
		       CUmodule *mod, CUresult *refused, struct pn_err *e)
{
	struct cuda_dev *d = &b->dev[di];
	const char *arch = "ptx jit";
	const unsigned char *cubin = cubin_for(bl, d, &arch);
	char log[4096] = "";
	CUjit_option opt[2] = { CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES };
	void *val[2] = { log, (void *)(uintptr_t)sizeof(log) };
	CUresult r;

	if (cubin) {
		r = b->api.cuModuleLoadDataEx(mod, cubin, 0, NULL, NULL);
		if (!r) {
			snprintf(d->kernels_from, sizeof(d->kernels_from), "%s", arch);
			return 0;
		}
		if (pnd_cu_sticky(r))
			return cuda_fail(b, di, bl->file, r, e);
		/* a driver that refuses our cubin (too old, another arch): the PTX */
		*refused = r;
	}
	r = b->api.cuModuleLoadDataEx(mod, bl->ptx, 2, opt, val);
	if (r) {
		char s[160];

		pnd_cu_strerror(&b->api, r, s, sizeof(s));
		log[sizeof(log) - 1] = '\0';
		return pn_errf(e, r == CUDA_ERROR_OUT_OF_MEMORY ? -ENOMEM : -EIO,
			       "device %u: kernels/ptx/%s: the JIT failed: %s%s%s", di, bl->file,
			       s, log[0] ? ": " : "", log);
	}
	snprintf(d->kernels_from, sizeof(d->kernels_from), "ptx jit");
	return 0;
}

/* Every module and every kernel's function on device di (context current). */
static int load_kernels(struct pnd_backend *b, uint32_t di, struct pn_err *e)
{
	struct cuda_dev *d = &b->dev[di];
	CUresult refused = CUDA_SUCCESS;
	int rc;

	for (unsigned i = 0; i < pnd_n_ptx_blobs; i++)
		if ((rc = load_module(b, di, &pnd_ptx_blobs[i], &d->mods[i], &refused, e)))
			return rc;
	if (refused) {
		char s[160];

		pnd_log("device %u: the driver refused our cubins (%s); kernels JIT from PTX", di,
			pnd_cu_strerror(&b->api, refused, s, sizeof(s)));
	}
	for (uint32_t k = 0; k < pn_gpu_n_kernels; k++) {
		const struct pn_gpu_kernel *kn = &pn_gpu_kernels[k];
		unsigned f = 0;
		CUresult r;

		while (f < pnd_n_ptx_blobs && strcmp(pnd_ptx_blobs[f].file, kn->file))
			f++;
		if (f == pnd_n_ptx_blobs)
			return pn_errf(e, -ENOENT, "kernel %s: kernels/ptx/%s is not embedded",
				       kn->entry, kn->file);
		r = b->api.cuModuleGetFunction(&d->fn[k], d->mods[f], kn->entry);
		if (r)
			return cuda_fail(b, di, kn->entry, r, e);
		/* the plans' dynamic shared memory may pass the 48 KiB default:
		 * allow what the device lets a block opt in to, less the static */
		int stat = 0;

		r = b->api.cuFuncGetAttribute(&stat, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, d->fn[k]);
		if (!r && d->info.max_shared_optin > stat + 49152)
			r = b->api.cuFuncSetAttribute(d->fn[k],
						      CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
						      d->info.max_shared_optin - stat);
		if (r)
			return cuda_fail(b, di, kn->entry, r, e);
	}
	return 0;
}

/* Allocates and copies bm's bytes to device di (context current, reset_lock held). */
static int upload(struct pnd_backend *b, struct pnd_backend_model *bm, uint32_t di,
		  struct pn_err *e)
{
	struct cuda_dev *d = &b->dev[di];
	CUresult r;

	r = b->api.cuMemAlloc(&bm->file_d[di], bm->bytes);
	if (r) {
		bm->file_d[di] = 0;
		return cuda_fail(b, di, "cuMemAlloc (the model's weights)", r, e);
	}
	r = b->api.cuMemcpyHtoD(bm->file_d[di], bm->host, bm->bytes);
	if (r) {
		b->api.cuMemFree(bm->file_d[di]);
		bm->file_d[di] = 0;
		return cuda_fail(b, di, "cuMemcpyHtoD (the model's weights)", r, e);
	}
	bm->file_gen[di] = atomic_load(&d->gen);
	atomic_fetch_add(&d->mem_weights, bm->bytes);
	return 0;
}

int cuda_dev_reset(struct pnd_backend *b, uint32_t di, unsigned seen_gen, struct pn_err *e)
{
	struct cuda_dev *d = &b->dev[di];
	int rc = 0;
	CUresult r;

	pthread_mutex_lock(&b->lock);	/* the model table, then the device: cuda_impl.h */
	pthread_rwlock_wrlock(&d->reset_lock);
	if (atomic_load(&d->gen) != seen_gen)
		goto out;		/* another worker reset it meanwhile */
	pnd_log("device %u: resetting its context after a sticky error", di);
	r = b->api.cuDevicePrimaryCtxReset(d->info.ordinal);
	if (!r)
		r = b->api.cuDevicePrimaryCtxRetain(&d->ctx, d->info.ordinal);
	if (r) {
		rc = cuda_fail(b, di, "cuDevicePrimaryCtxReset", r, e);
		goto out;
	}
	/* everything the old context held is gone with it */
	atomic_fetch_add(&d->gen, 1);
	atomic_store(&d->sticky, false);
	atomic_fetch_add(&d->resets, 1);
	atomic_store(&d->mem_weights, 0);
	atomic_store(&d->mem_graphs, 0);
	atomic_store(&d->mem_staging, 0);
	rc = cuda_use(b, di, e);
	if (!rc)
		rc = load_kernels(b, di, e);
	for (struct pnd_backend_model *bm = b->models; !rc && bm; bm = bm->next)
		rc = upload(b, bm, di, e);
	if (!rc)
		pnd_log("device %u: reset; kernels and weights reloaded", di);
out:
	pthread_rwlock_unlock(&d->reset_lock);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void cuda_fini(struct pnd_backend *b);

/* Context, stream priorities and kernels of device i. */
static int dev_open(struct pnd_backend *b, uint32_t i, struct pn_err *e)
{
	struct cuda_dev *d = &b->dev[i];
	pthread_rwlockattr_t ra;
	CUresult r;
	int rc;


	/* a reset must not starve behind a steady stream of runs */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->reset_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	d->mods = calloc(pnd_n_ptx_blobs, sizeof(*d->mods));
	d->fn = calloc(pn_gpu_n_kernels, sizeof(*d->fn));
	if (!d->mods || !d->fn)
		return pn_errf(e, -ENOMEM, "backend cuda: out of memory");
	r = b->api.cuDevicePrimaryCtxRetain(&d->ctx, d->info.ordinal);
	if (r)
		return cuda_fail(b, i, "cuDevicePrimaryCtxRetain", r, e);
	if ((rc = cuda_use(b, i, e)))
		return rc;
	r = b->api.cuCtxGetStreamPriorityRange(&d->prio_least, &d->prio_greatest);
	if (r)
		return cuda_fail(b, i, "cuCtxGetStreamPriorityRange", r, e);
	return load_kernels(b, i, e);
}

static int cuda_init(const struct pnd_backend_config *cfg, struct pnd_backend **out,
		     struct pn_err *e)
{
	struct pnd_backend *b = calloc(1, sizeof(*b));
	struct pnd_device *devs = NULL;
	uint32_t n = 0;
	int rc;

	*out = NULL;
	if (!b)
		return pn_errf(e, -ENOMEM, "backend cuda: out of memory");
	b->cfg = *cfg;
	/* off only to measure what graphs save (bench/gpu.sh) */
	b->graphs = !getenv("POLYNET_CUDA_GRAPHS") || strcmp(getenv("POLYNET_CUDA_GRAPHS"), "0");
	pthread_mutex_init(&b->lock, NULL);
	rc = pnd_cu_load(&b->api, cfg->libcuda, e);
	if (rc) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return rc;
	}
	rc = pnd_devices_enumerate(&b->api, NULL, &devs, &n, e);
	if (!rc && !n)
		rc = pn_errf(e, -ENODEV, "%s: no CUDA device", b->api.path);
	if (!rc && !(b->dev = calloc(n, sizeof(*b->dev))))
		rc = pn_errf(e, -ENOMEM, "backend cuda: out of memory");
	for (uint32_t i = 0; !rc && i < n; i++) {
		b->dev[i].info = devs[i];
		b->ndev = i + 1;
		rc = dev_open(b, i, e);
	}
	free(devs);
	if (rc) {
		cuda_fini(b);
		return rc;
	}
	for (uint32_t i = 0; i < n; i++)
		pnd_log("device %u: %s, cc %d.%d, %zu MiB, pci %s, numa node %d, kernels from %s",
			i, b->dev[i].info.name, b->dev[i].info.cc_major, b->dev[i].info.cc_minor,
			b->dev[i].info.total_mem >> 20, b->dev[i].info.pci_bus_id,
			b->dev[i].info.numa_node, b->dev[i].kernels_from);
	*out = b;
	return 0;
}

static void cuda_fini(struct pnd_backend *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->ndev; i++) {
		struct cuda_dev *d = &b->dev[i];

		if (d->ctx && !b->api.cuCtxSetCurrent(d->ctx))
			for (unsigned m = 0; d->mods && m < pnd_n_ptx_blobs; m++)
				if (d->mods[m])
					b->api.cuModuleUnload(d->mods[m]);
		if (d->ctx)
			b->api.cuDevicePrimaryCtxRelease(d->info.ordinal);
		free(d->mods);
		free(d->fn);
		pthread_rwlock_destroy(&d->reset_lock);
	}
	free(b->dev);
	pnd_cu_unload(&b->api);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void model_free(struct pnd_backend *b, struct pnd_backend_model *bm)
{
	for (uint32_t i = 0; bm->file_d && i < b->ndev; i++) {
		struct cuda_dev *d = &b->dev[i];

		pthread_rwlock_rdlock(&d->reset_lock);
		/* an upload of a context reset since is gone with it */
		if (bm->file_d[i] && bm->file_gen[i] == atomic_load(&d->gen) && !cuda_use(b, i, NULL)) {
			b->api.cuMemFree(bm->file_d[i]);
			atomic_fetch_sub(&d->mem_weights, bm->bytes);
		}
		pthread_rwlock_unlock(&d->reset_lock);
	}
	if (bm->registered)
		b->api.cuMemHostUnregister((void *)bm->host);
	pn_graph_free(bm->g);
	free(bm->file_d);
	free(bm->file_gen);
	free(bm);
}

/*
 * A model of content already on the devices shares its upload. Otherwise:
 * the graph (shape checks), a plan for the largest batch (so that a model
 * the kernels cannot run is refused at LOAD, naming the node), the host
 * bytes registered for DMA, and one upload per device.
 */
static int cuda_prepare_model(struct pnd_backend *b, const struct pnd_model *m,
			      struct pnd_backend_model **out, struct pn_err *e)
{
	const struct pnb_file *f = &m->m->file;
	struct pnd_backend_model *bm;
	struct pn_gpu_plan *p = NULL;
	int rc = 0;
	CUresult r;

	*out = NULL;
	pthread_mutex_lock(&b->lock);
	for (bm = b->models; bm; bm = bm->next)
		if (bm->hash == f->content_hash && bm->bytes == f->size) {
			bm->refs++;
			*out = bm;
			pthread_mutex_unlock(&b->lock);
			pnd_log("model %u: its content is on the devices already: shared", m->id);
			return 0;
		}
	bm = calloc(1, sizeof(*bm));
	if (!bm || !(bm->file_d = calloc(b->ndev, sizeof(*bm->file_d))) ||
	    !(bm->file_gen = calloc(b->ndev, sizeof(*bm->file_gen)))) {
		rc = pn_errf(e, -ENOMEM, "model %u: out of memory", m->id);
		goto out;
	}
	bm->b = b;
	bm->hash = f->content_hash;
	bm->host = f->base;
	bm->bytes = f->size;
	bm->refs = 1;
	rc = pn_graph_build(f, &bm->g, e);
	if (!rc)
		rc = pn_gpu_plan_new(bm->g, m->max_batch, m->m->max_tokens, &p, e);
	pn_gpu_plan_free(p);
	if (rc)
		goto out;
	if ((rc = cuda_use(b, 0, e)))
		goto out;
	/* read-only: the device never writes a model's bytes */
	r = b->api.cuMemHostRegister((void *)bm->host, bm->bytes,
				     CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_READ_ONLY);
	bm->registered = !r;
	if (r && r != CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED && r != CUDA_ERROR_NOT_SUPPORTED) {
		rc = cuda_fail(b, 0, "cuMemHostRegister (the model's bytes)", r, e);
		goto out;
	}
	for (uint32_t i = 0; !rc && i < b->ndev; i++) {
		pthread_rwlock_rdlock(&b->dev[i].reset_lock);
		rc = cuda_use(b, i, e);
		if (!rc)
			rc = upload(b, bm, i, e);
		pthread_rwlock_unlock(&b->dev[i].reset_lock);
	}
out:
	if (rc) {
		if (bm)
			model_free(b, bm);
	} else {
		bm->next = b->models;
		b->models = bm;
		*out = bm;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void cuda_release_model(struct pnd_backend *b, struct pnd_backend_model *bm)
{
	struct pnd_backend_model **pp;

	pthread_mutex_lock(&b->lock);
	if (--bm->refs) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	for (pp = &b->models; *pp != bm; pp = &(*pp)->next)
		;
	*pp = bm->next;
	model_free(b, bm);
	pthread_mutex_unlock(&b->lock);
}

/* The worker's device: its context current, the thread on the device's NUMA node. */
static int cuda_thread_init(struct pnd_backend *b, uint32_t worker, struct pn_err *e)
{
	uint32_t di = cuda_worker_dev(b, worker);
	int rc = pnd_device_bind_numa(&b->dev[di].info);

	if (rc)
		pnd_log("worker %u: binding to device %u's NUMA node %d: %s", worker, di,
			b->dev[di].info.numa_node, strerror(-rc));
	return cuda_use(b, di, e);
}

static int cuda_stats(struct pnd_backend *b, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < b->ndev && n < len; i++) {
		struct cuda_dev *d = &b->dev[i];
		int w = snprintf(buf + n, len - n, "%sdev%u weights=%llu graphs=%llu staging=%llu "
				 "resets=%u", i ? "; " : "", i, atomic_load(&d->mem_weights),
				 atomic_load(&d->mem_graphs), atomic_load(&d->mem_staging),
				 atomic_load(&d->resets));

		n += w > 0 ? (size_t)w : 0;
	}
	return (int)(n < len ? n : len - 1);
}

static cJSON *cuda_devices_json(struct pnd_backend *b)
{
	cJSON *a = cJSON_CreateArray();

	for (uint32_t i = 0; a && i < b->ndev; i++) {
		struct cuda_dev *d = &b->dev[i];
		cJSON *o = pnd_device_json(&d->info);

		if (!o)
			break;
		cJSON_AddNumberToObject(o, "mem_weights", (double)atomic_load(&d->mem_weights));
		cJSON_AddNumberToObject(o, "mem_graphs", (double)atomic_load(&d->mem_graphs));
		cJSON_AddNumberToObject(o, "mem_staging", (double)atomic_load(&d->mem_staging));
		cJSON_AddNumberToObject(o, "resets", atomic_load(&d->resets));
		cJSON_AddStringToObject(o, "kernels", d->kernels_from);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static void cuda_ready_info(struct pnd_backend *b, char *buf, size_t len)
{
	snprintf(buf, len, " devices=%u driver=%d.%d", b->ndev, b->api.driver_version / 1000,
		 b->api.driver_version % 1000 / 10);
}

const struct pnd_backend_ops pnd_backend_cuda = {
	.name = "cuda",
	.init = cuda_init,
	.fini = cuda_fini,
	.prepare_model = cuda_prepare_model,
	.release_model = cuda_release_model,
	.thread_init = cuda_thread_init,
	.exec_new = cuda_exec_new,
	.exec_free = cuda_exec_free,
	/* no prepare_exec: exec_new makes the graphs, nothing is left for a first job */
	.run_group = cuda_run_group,
	.run_alone = cuda_run_alone,
	.recover = cuda_recover,
	.stats = cuda_stats,
	.devices_json = cuda_devices_json,
	.ready_info = cuda_ready_info,
	/* no gen_*: this backend runs no decoder; PN_OP_GENERATE is refused -EOPNOTSUPP */
};
