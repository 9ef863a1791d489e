// SPDX-License-Identifier: MIT
/*
 * cud_ctx.c - contexts: each device's primary context (retain, release,
 * reset), the thread's current context, the sticky error a faulted context
 * keeps until it is reset, cuCtxSynchronize, and the device's busy flag that
 * serialises its kernels and copies (cud_int.h states the locking).
 */
#include <stdlib.h>

#include "cud_int.h"

/* The thread's current context, valid while cur_gen is cud.gen (cud_test_reset bumps it). */
static __thread struct CUctx_st *cur;
static __thread uint64_t cur_gen;

CUresult cud_ctx_usable(struct CUctx_st *c)
{
	if (!c || c->refs <= 0)
		return CUDA_ERROR_INVALID_CONTEXT;
	return c->sticky;
}

CUresult cud_cur_ctx(struct CUctx_st **out)
{
	CUresult r = cud_check_init();

	if (r != CUDA_SUCCESS)
		return r;
	if (cur_gen != cud.gen || !cur)
		return CUDA_ERROR_INVALID_CONTEXT;
	if ((r = cud_ctx_usable(cur)) != CUDA_SUCCESS)
		return r;
	*out = cur;
	return CUDA_SUCCESS;
}

void cud_dev_enter(struct cud_dev *d)
{
	while (d->busy)
		pthread_cond_wait(&d->idle, &cud.lock);
	d->busy = 1;
}

void cud_dev_leave(struct cud_dev *d)
{
	d->busy = 0;
	pthread_cond_broadcast(&d->idle);
}

void cud_ctx_fault(struct CUctx_st *c, CUresult err)
{
	if (c->sticky == CUDA_SUCCESS)
		c->sticky = err;
}

/* A child (function, node) goes with its parent (module, graph): the parent frees it. */
static void free_obj(struct cud_obj *o)
{
	switch (o->kind) {
	case CUD_MODULE:
		cud_module_free((struct CUmod_st *)o);
		break;
	case CUD_FUNC:
		cud_module_free(((struct CUfunc_st *)o)->mod);
		break;
	case CUD_STREAM:
		cud_stream_free((struct CUstream_st *)o);
		break;
	case CUD_EVENT:
		cud_event_free((struct CUevent_st *)o);
		break;
	case CUD_GRAPH:
		cud_graph_free((struct CUgraph_st *)o);
		break;
	case CUD_NODE:
		cud_graph_free(((struct CUgraphNode_st *)o)->graph);
		break;
	case CUD_EXEC:
		cud_exec_free((struct CUgraphExec_st *)o);
		break;
	default:
		abort();	/* a kind cud_obj_new never made: the list is corrupt */
	}
}

void cud_ctx_clear(struct CUctx_st *c)
{
	struct cud_dev *d = c->dev;

	while (c->objs)
		free_obj(c->objs);
	/* released, not a new address space: addresses never come back, so old pointers fault */
	for (size_t i = 0; i < d->n_allocs; i++)
		if (ptxi_dev_release(d->mem, d->allocs[i].ptr))
			abort();	/* our table and ptxi's disagree: a bug of the double */
	d->n_allocs = 0;
	d->used = 0;
	c->sticky = CUDA_SUCCESS;
	c->null_stream.pending = (struct cud_async){ 0 };
}

/* The device's primary context, or the error. Takes cud.lock, kept on success. */
static CUresult primary(CUdevice dev, struct cud_dev **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS && !(*out = cud_dev_get(dev)))
		r = CUDA_ERROR_INVALID_DEVICE;
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!ctx)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = primary(dev, &d)) != CUDA_SUCCESS)
		return r;
	d->ctx.refs++;
	*ctx = &d->ctx;
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

/* The last release destroys the context's state, as the real driver does. */
CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if ((r = primary(dev, &d)) != CUDA_SUCCESS)
		return r;
	if (d->ctx.refs <= 0) {
		r = CUDA_ERROR_INVALID_CONTEXT;
	} else if (--d->ctx.refs == 0) {
		cud_dev_enter(d);
		cud_ctx_clear(&d->ctx);
		cud_dev_leave(d);
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* Frees all of the context's memory and handles, clears its sticky error; retains stay. */
CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if ((r = primary(dev, &d)) != CUDA_SUCCESS)
		return r;
	cud_dev_enter(d);
	cud_ctx_clear(&d->ctx);
	cud_dev_leave(d);
	cud_log("ctx_reset dev=%d", d->ordinal);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext ctx)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) != CUDA_SUCCESS)
		goto out;
	if (ctx) {
		int ok = 0;
		for (int i = 0; i < cud.n_devs; i++)
			ok |= ctx == &cud.devs[i].ctx;
		if (!ok || ctx->refs <= 0) {
			r = CUDA_ERROR_INVALID_CONTEXT;
			goto out;
		}
	}
	cur = ctx;
	cur_gen = cud.gen;
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/*
 * Work is done by the time a call returns, so a sync only reports: the
 * sticky error, else the first pending error of any stream of the context
 * (all of them cleared: each is reported once).
 */
CUresult cuCtxSynchronize(void)
{
	struct CUctx_st *c;
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) != CUDA_SUCCESS)
		goto out;
	r = c->null_stream.pending.err;
	c->null_stream.pending = (struct cud_async){ 0 };
	for (struct cud_obj *o = c->objs; o; o = o->next) {
		if (o->kind != CUD_STREAM)
			continue;
		struct CUstream_st *s = (struct CUstream_st *)o;
		if (r == CUDA_SUCCESS)
			r = s->pending.err;
		s->pending = (struct cud_async){ 0 };
	}
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuCtxGetStreamPriorityRange(int *least, int *greatest)
{
	struct CUctx_st *c;
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) == CUDA_SUCCESS) {
		if (least)
			*least = CUD_PRIO_LEAST;
		if (greatest)
			*greatest = CUD_PRIO_GREATEST;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}
