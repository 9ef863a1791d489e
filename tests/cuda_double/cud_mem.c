// SPDX-License-Identifier: MIT
/*
 * cud_mem.c - memory: device allocations (a ptxi_dev's, held to
 * CUDA_DOUBLE_MEM_MB; CUDA_DOUBLE_FAIL_ALLOC_AT fails one), copies between
 * host and device (bounds-checked against the allocations: a range that
 * leaves one is INVALID_VALUE), cuMemGetInfo, and page-locked host memory
 * (allocated and registered ranges, tracked so that overlaps and unknown
 * pointers are refused as the real driver refuses them).
 */
#include <stdlib.h>
#include <string.h>

#include "cud_int.h"

/* Current context usable and its device busy: *out. Takes cud.lock, kept on success. */
static CUresult mem_begin(struct CUctx_st **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(out)) != CUDA_SUCCESS) {
		pthread_mutex_unlock(&cud.lock);
		return r;
	}
	cud_dev_enter((*out)->dev);
	/* another thread may have faulted or reset it while this one waited */
	if ((r = cud_ctx_usable(*out)) != CUDA_SUCCESS) {
		cud_dev_leave((*out)->dev);
		pthread_mutex_unlock(&cud.lock);
	}
	return r;
}

static CUresult mem_end(struct CUctx_st *c, CUresult r)
{
	cud_dev_leave(c->dev);
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuMemAlloc(CUdeviceptr *dptr, size_t bytes)
{
	struct CUctx_st *c;
	struct cud_dev *d;
	CUresult r;

	if (!dptr || !bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = mem_begin(&c)) != CUDA_SUCCESS)
		return r;
	d = c->dev;
	long nth = ++cud.n_allocs;
	if (cud.env.fail_alloc_at && nth == cud.env.fail_alloc_at) {
		cud_log("fault dev=%d kind=alloc reason=CUDA_DOUBLE_FAIL_ALLOC_AT=%ld bytes=%zu",
			d->ordinal, nth, bytes);
		return mem_end(c, CUDA_ERROR_OUT_OF_MEMORY);
	}
	if (bytes > cud.env.mem_bytes - d->used)
		return mem_end(c, CUDA_ERROR_OUT_OF_MEMORY);
	if (d->n_allocs == d->cap_allocs) {
		size_t cap = d->cap_allocs ? d->cap_allocs * 2 : 64;
		struct cud_mem_alloc *na = realloc(d->allocs, cap * sizeof *na);
		if (!na)
			return mem_end(c, CUDA_ERROR_OUT_OF_MEMORY);
		d->allocs = na;
		d->cap_allocs = cap;
	}
	uint64_t p = ptxi_alloc(d->mem, bytes);
	if (!p)
		return mem_end(c, CUDA_ERROR_OUT_OF_MEMORY);
	d->allocs[d->n_allocs++] = (struct cud_mem_alloc){ .ptr = p, .bytes = bytes };
	d->used += bytes;
	*dptr = p;
	cud_log("alloc dev=%d bytes=%zu ptr=0x%llx", d->ordinal, bytes, (unsigned long long)p);
	return mem_end(c, CUDA_SUCCESS);
}

/* cuMemFree(0) is a no-op, as cudaFree(NULL); a pointer not returned by cuMemAlloc: INVALID_VALUE. */
CUresult cuMemFree(CUdeviceptr dptr)
{
	struct CUctx_st *c;
	struct cud_dev *d;
	CUresult r;

	if ((r = mem_begin(&c)) != CUDA_SUCCESS)
		return r;
	if (!dptr)
		return mem_end(c, CUDA_SUCCESS);
	d = c->dev;
	for (size_t i = 0; i < d->n_allocs; i++) {
		if (d->allocs[i].ptr != dptr)
			continue;
		if (ptxi_dev_release(d->mem, dptr))
			abort();	/* our table and ptxi's disagree: a bug of the double */
		d->used -= d->allocs[i].bytes;
		d->allocs[i] = d->allocs[--d->n_allocs];
		cud_log("free dev=%d ptr=0x%llx", d->ordinal, (unsigned long long)dptr);
		return mem_end(c, CUDA_SUCCESS);
	}
	return mem_end(c, CUDA_ERROR_INVALID_VALUE);
}

CUresult cuMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
	struct CUctx_st *c;
	CUresult r;

	if (!free_bytes || !total_bytes)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) == CUDA_SUCCESS) {
		*total_bytes = cud.env.mem_bytes;
		*free_bytes = cud.env.mem_bytes - c->dev->used;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/*
 * One copy. The stream (async ones) must be of the current context. The
 * bytes move with cud.lock dropped, the device busy: other devices go on.
 */
static CUresult copy(CUdeviceptr dptr, void *host, size_t bytes, int to_dev, int async, CUstream s)
{
	struct CUctx_st *c;
	struct cud_dev *d;
	CUresult r;
	int rc;

	if (bytes && !host)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = mem_begin(&c)) != CUDA_SUCCESS)
		return r;
	d = c->dev;
	if (async && !cud_stream_of(c, s))
		return mem_end(c, CUDA_ERROR_INVALID_HANDLE);
	if (!bytes)
		return mem_end(c, CUDA_SUCCESS);
	pthread_mutex_unlock(&cud.lock);
	rc = to_dev ? ptxi_write(d->mem, dptr, host, bytes) : ptxi_read(d->mem, dptr, host, bytes);
	pthread_mutex_lock(&cud.lock);
	if (rc)
		return mem_end(c, CUDA_ERROR_INVALID_VALUE);
	cud_log("memcpy_%s dev=%d bytes=%zu", to_dev ? "htod" : "dtoh", d->ordinal, bytes);
	return mem_end(c, CUDA_SUCCESS);
}

CUresult cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes)
{
	return copy(dst, (void *)(uintptr_t)src, bytes, 1, 0, NULL);
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src, size_t bytes, CUstream s)
{
	return copy(dst, (void *)(uintptr_t)src, bytes, 1, 1, s);
}

CUresult cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t bytes, CUstream s)
{
	return copy(src, dst, bytes, 0, 1, s);
}

/* ---- page-locked host memory ---- */

static int host_overlaps(uintptr_t p, size_t bytes)
{
	for (size_t i = 0; i < cud.n_hosts; i++)
		if (p < cud.hosts[i].p + cud.hosts[i].bytes && cud.hosts[i].p < p + bytes)
			return 1;
	return 0;
}

static CUresult host_add(uintptr_t p, size_t bytes, int alloced, unsigned int flags)
{
	if (cud.n_hosts == cud.cap_hosts) {
		size_t cap = cud.cap_hosts ? cud.cap_hosts * 2 : 16;
		struct cud_host *nh = realloc(cud.hosts, cap * sizeof *nh);
		if (!nh)
			return CUDA_ERROR_OUT_OF_MEMORY;
		cud.hosts = nh;
		cud.cap_hosts = cap;
	}
	cud.hosts[cud.n_hosts++] = (struct cud_host){ .p = p, .bytes = bytes, .alloced = alloced,
						       .flags = flags };
	return CUDA_SUCCESS;
}

/* The host range that starts at p, of the given origin, or -1. */
static long host_find(uintptr_t p, int alloced)
{
	for (size_t i = 0; i < cud.n_hosts; i++)
		if (cud.hosts[i].p == p && cud.hosts[i].alloced == alloced)
			return (long)i;
	return -1;
}

/* A real driver needs a context for these; polynetd has one current by then. */
static CUresult host_begin(void)
{
	struct CUctx_st *c;

	pthread_mutex_lock(&cud.lock);
	CUresult r = cud_cur_ctx(&c);
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuMemHostAlloc(void **p, size_t bytes, unsigned int flags)
{
	CUresult r;

	if (!p || !bytes || (flags & ~(CU_MEMHOSTALLOC_PORTABLE | CUD_MEMHOSTALLOC_DEVICEMAP |
				       CUD_MEMHOSTALLOC_WRITECOMBINED)))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = host_begin()) != CUDA_SUCCESS)
		return r;
	void *m = malloc(bytes);
	if (!m) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
	} else if ((r = host_add((uintptr_t)m, bytes, 1, flags)) != CUDA_SUCCESS) {
		free(m);
	} else {
		*p = m;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuMemFreeHost(void *p)
{
	CUresult r;
	long i;

	if ((r = host_begin()) != CUDA_SUCCESS)
		return r;
	if ((i = host_find((uintptr_t)p, 1)) < 0) {
		r = CUDA_ERROR_INVALID_VALUE;
	} else {
		free(p);
		cud.hosts[i] = cud.hosts[--cud.n_hosts];
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuMemHostRegister(void *p, size_t bytes, unsigned int flags)
{
	CUresult r;

	if (!p || !bytes || (flags & ~(CU_MEMHOSTREGISTER_PORTABLE | CUD_MEMHOSTREGISTER_DEVICEMAP |
				       CUD_MEMHOSTREGISTER_IOMEMORY | CU_MEMHOSTREGISTER_READ_ONLY)))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = host_begin()) != CUDA_SUCCESS)
		return r;
	/* cuMemHostAlloc'd memory is page-locked already: registering it overlaps too */
	if (host_overlaps((uintptr_t)p, bytes))
		r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
	else
		r = host_add((uintptr_t)p, bytes, 0, flags);
	if (r == CUDA_SUCCESS)
		cud_log("host_register bytes=%zu flags=%u", bytes, flags);
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuMemHostUnregister(void *p)
{
	CUresult r;
	long i;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = host_begin()) != CUDA_SUCCESS)
		return r;
	if ((i = host_find((uintptr_t)p, 0)) < 0)
		r = CUD_ERROR_HOST_MEMORY_NOT_REGISTERED;
	else
		cud.hosts[i] = cud.hosts[--cud.n_hosts];
	pthread_mutex_unlock(&cud.lock);
	return r;
}
