// SPDX-License-Identifier: MIT
/*
 * cud_stream.c - streams, events and host functions. Work runs when it is
 * submitted (cud_launch.c), so a stream is ordered trivially and is always
 * idle; what a stream carries is the asynchronous error of its last failed
 * kernel, reported once, as real CUDA reports it: by the next
 * cuStreamSynchronize / cuStreamQuery of the stream, cuEventSynchronize /
 * cuEventQuery of an event recorded after it (on that stream), or
 * cuCtxSynchronize. Sticky errors are the context's and every call returns them.
 */
#include <stdlib.h>

#include "cud_int.h"

struct CUstream_st *cud_stream_of(struct CUctx_st *c, CUstream s)
{
	if (!s || s == CUD_STREAM_LEGACY || s == CUD_STREAM_PER_THREAD)
		return &c->null_stream;
	struct CUstream_st *st = cud_obj_get(s, CUD_STREAM);
	return st && st->o.ctx == c ? st : NULL;
}

void cud_stream_fail(struct CUstream_st *s, CUresult err)
{
	s->pending.err = err;
	s->pending.seq = ++cud.next_seq;
}

void cud_stream_free(struct CUstream_st *s)
{
	cud_obj_free(s);
}

void cud_event_free(struct CUevent_st *e)
{
	cud_obj_free(e);
}

/* Priorities are clamped into [greatest, least], as the driver does. */
CUresult cuStreamCreateWithPriority(CUstream *s, unsigned int flags, int priority)
{
	struct CUctx_st *c;
	CUresult r;

	if (!s || (flags & ~(unsigned int)CU_STREAM_NON_BLOCKING))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) != CUDA_SUCCESS)
		goto out;
	struct CUstream_st *st = cud_obj_new(sizeof(*st), CUD_STREAM, c);
	if (!st) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	st->flags = flags;
	st->priority = priority > CUD_PRIO_LEAST ? CUD_PRIO_LEAST :
		       priority < CUD_PRIO_GREATEST ? CUD_PRIO_GREATEST : priority;
	*s = st;
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* A stream handle of a usable context: *out. Takes cud.lock, kept on success. */
static CUresult stream_begin(CUstream s, int null_ok, struct CUstream_st **out)
{
	struct CUctx_st *c;
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) != CUDA_SUCCESS)
		goto fail;
	if (!s || s == CUD_STREAM_LEGACY || s == CUD_STREAM_PER_THREAD) {
		if (!null_ok) {
			r = CUDA_ERROR_INVALID_HANDLE;
			goto fail;
		}
		if ((r = cud_cur_ctx(&c)) != CUDA_SUCCESS)
			goto fail;
		*out = &c->null_stream;
		return CUDA_SUCCESS;
	}
	if (!(*out = cud_obj_get(s, CUD_STREAM))) {
		r = CUDA_ERROR_INVALID_HANDLE;
		goto fail;
	}
	if ((r = cud_ctx_usable((*out)->o.ctx)) == CUDA_SUCCESS)
		return r;
fail:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuStreamDestroy(CUstream s)
{
	struct CUstream_st *st;
	CUresult r;

	if ((r = stream_begin(s, 0, &st)) != CUDA_SUCCESS)
		return r;
	cud_stream_free(st);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

/* Reports (and clears) the stream's pending error. */
static CUresult stream_report(CUstream s)
{
	struct CUstream_st *st;
	CUresult r;

	if ((r = stream_begin(s, 1, &st)) != CUDA_SUCCESS)
		return r;
	r = st->pending.err;
	st->pending = (struct cud_async){ 0 };
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuStreamSynchronize(CUstream s)
{
	return stream_report(s);
}

/* Never NOT_READY: the stream's work finished when it was submitted. */
CUresult cuStreamQuery(CUstream s)
{
	return stream_report(s);
}

CUresult cuEventCreate(CUevent *ev, unsigned int flags)
{
	struct CUctx_st *c;
	CUresult r;

	if (!ev || (flags & ~(unsigned int)(CUD_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING |
					    CUD_EVENT_INTERPROCESS)))
		return CUDA_ERROR_INVALID_VALUE;
	/* interprocess events must not time, as the driver requires */
	if ((flags & CUD_EVENT_INTERPROCESS) && !(flags & CU_EVENT_DISABLE_TIMING))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) != CUDA_SUCCESS)
		goto out;
	struct CUevent_st *e = cud_obj_new(sizeof(*e), CUD_EVENT, c);
	if (!e) {
		r = CUDA_ERROR_OUT_OF_MEMORY;
		goto out;
	}
	e->flags = flags;
	*ev = e;
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* An event handle of a usable context: *out. Takes cud.lock, kept on success. */
static CUresult event_begin(CUevent ev, struct CUevent_st **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS) {
		if (!(*out = cud_obj_get(ev, CUD_EVENT)))
			r = CUDA_ERROR_INVALID_HANDLE;
		else
			r = cud_ctx_usable((*out)->o.ctx);
	}
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuEventRecord(CUevent ev, CUstream s)
{
	struct CUevent_st *e;
	CUresult r;

	if ((r = event_begin(ev, &e)) != CUDA_SUCCESS)
		return r;
	struct CUstream_st *st = cud_stream_of(e->o.ctx, s);
	if (!st) {
		r = CUDA_ERROR_INVALID_HANDLE;
	} else {
		e->stream = st;
		e->snap = st->pending;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/*
 * The error the event's stream had when it was recorded, if that stream has
 * not reported it since (then it is reported here and cleared there).
 */
static CUresult event_report(CUevent ev)
{
	struct CUevent_st *e;
	CUresult r;

	if ((r = event_begin(ev, &e)) != CUDA_SUCCESS)
		return r;
	struct CUstream_st *st = e->stream;
	/* the stream may be gone: then the snapshot alone says */
	int alive = st && (st == &e->o.ctx->null_stream || cud_obj_get(st, CUD_STREAM) == st);
	if (e->snap.err != CUDA_SUCCESS && (!alive || st->pending.seq == e->snap.seq)) {
		r = e->snap.err;
		if (alive)
			st->pending = (struct cud_async){ 0 };
	}
	e->snap = (struct cud_async){ 0 };
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuEventQuery(CUevent ev)
{
	return event_report(ev);
}

CUresult cuEventSynchronize(CUevent ev)
{
	return event_report(ev);
}

CUresult cuEventDestroy(CUevent ev)
{
	struct CUevent_st *e;
	CUresult r;

	if ((r = event_begin(ev, &e)) != CUDA_SUCCESS)
		return r;
	cud_event_free(e);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

/* In stream order, which is now: the work before it is done. Runs unlocked. */
CUresult cuLaunchHostFunc(CUstream s, CUhostFn fn, void *arg)
{
	struct CUstream_st *st;
	CUresult r;

	if (!fn)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = stream_begin(s, 1, &st)) != CUDA_SUCCESS)
		return r;
	pthread_mutex_unlock(&cud.lock);
	fn(arg);
	return CUDA_SUCCESS;
}
