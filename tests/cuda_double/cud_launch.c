// SPDX-License-Identifier: MIT
/*
 * cud_launch.c - kernel launches: the checks a real driver makes at
 * cuLaunchKernel (shape, dynamic shared memory against the function's
 * attribute, the parameters against the entry's .param list), then the
 * execution, synchronous: in the PTX interpreter, or in the kernel's CPU
 * twin (CUDA_DOUBLE_EXEC=twin, tests/cuda_double/twins.h; the interpreter
 * where there is none). A fault in the kernel is the context's sticky
 * ILLEGAL_ADDRESS; the fault knobs (README.md) fail chosen executions.
 *
 * kernelParams carries no count: the double reads as many pointers as the
 * entry declares, and a NULL among them (an array one short, NULL-ended)
 * is a count mismatch, INVALID_VALUE, with the entry's sizes in the log.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cud_int.h"
#include "tests/cuda_double/twins.h"
#include "tests/ptx/ptxi_int.h"

static int sizes_str(const struct cud_params *p, char *buf, size_t len)
{
	size_t w = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < p->n && w < len; i++)
		w += (size_t)snprintf(buf + w, len - w, "%s%u", i ? "," : "", p->size[i]);
	return (int)p->n;
}

CUresult cud_launch_check(const struct CUfunc_st *fn, const uint32_t grid[3],
			  const uint32_t block[3], uint32_t shared, void **params, void **extra,
			  uint8_t *blob, char *why, size_t why_len)
{
	static const uint32_t max_grid[3] = { 2147483647u, 65535, 65535 };
	static const uint32_t max_block[3] = { 1024, 1024, 64 };
	const struct cud_params *p = &fn->params;
	char sizes[256];

	why[0] = '\0';
	if (extra) {
		snprintf(why, why_len, "extra (CU_LAUNCH_PARAM_*) is not supported by the double");
		return params ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_NOT_SUPPORTED;
	}
	for (int i = 0; i < 3; i++)
		if (!grid[i] || grid[i] > max_grid[i] || !block[i] || block[i] > max_block[i]) {
			snprintf(why, why_len, "grid %u,%u,%u block %u,%u,%u: a zero or too large a "
				 "dimension", grid[0], grid[1], grid[2], block[0], block[1], block[2]);
			return CUDA_ERROR_INVALID_VALUE;
		}
	uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
	if (threads > fn->max_threads) {
		snprintf(why, why_len, "%llu threads per block, the entry takes %u",
			 (unsigned long long)threads, fn->max_threads);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (fn->reqntid[0] && (block[0] != fn->reqntid[0] || block[1] != fn->reqntid[1] ||
			       block[2] != fn->reqntid[2])) {
		snprintf(why, why_len, "block %u,%u,%u, the entry's .reqntid is %u,%u,%u", block[0],
			 block[1], block[2], fn->reqntid[0], fn->reqntid[1], fn->reqntid[2]);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (shared > (uint32_t)fn->max_dyn_shared) {
		snprintf(why, why_len, "%u bytes of dynamic shared memory, the function's "
			 "MAX_DYNAMIC_SHARED_SIZE_BYTES is %d (cuFuncSetAttribute raises it)",
			 shared, fn->max_dyn_shared);
		return CUDA_ERROR_INVALID_VALUE;
	}
	for (uint32_t i = 0; i < p->n; i++)
		if (!params || !params[i]) {
			sizes_str(p, sizes, sizeof(sizes));
			snprintf(why, why_len, "kernelParams[%u] is NULL: the entry takes %u "
				 "parameters (bytes %s)", i, p->n, sizes);
			return CUDA_ERROR_INVALID_VALUE;
		}
	if (blob)
		for (uint32_t i = 0; i < p->n; i++)
			memcpy(blob + p->off[i], params[i], p->size[i]);
	return CUDA_SUCCESS;
}

/* CUDA_DOUBLE_POISON_ID / _FAIL_ID: the ids embed_f32 reads (params 0, 6 and 7: ids, B, T). */
static int ids_hold(struct cud_dev *d, void *const *params, int32_t id)
{
	uint64_t ids;
	uint32_t B, T;

	memcpy(&ids, params[0], sizeof(ids));
	memcpy(&B, params[6], sizeof(B));
	memcpy(&T, params[7], sizeof(T));
	size_t n = (size_t)B * T;
	const uint8_t *p = ptxi_dev_span(d->mem, ids, n * 4);
	if (!p)
		return 0;	/* the kernel's own fault, found when it runs */
	for (size_t i = 0; i < n; i++) {
		int32_t v;
		memcpy(&v, p + i * 4, sizeof(v));
		if (v == id)
			return 1;
	}
	return 0;
}

/* The fault knobs for execution nth: the error it is made to fail with, or SUCCESS. */
static CUresult knob(const struct CUfunc_st *fn, struct cud_dev *d, void *const *params,
		     long nth, char *why, size_t why_len)
{
	const struct cud_env *e = &cud.env;
	int embed = !strcmp(fn->name, "embed_f32") && fn->params.n == 11;

	if (e->fail_launch_at && nth == e->fail_launch_at) {
		snprintf(why, why_len, "CUDA_DOUBLE_FAIL_LAUNCH_AT=%ld", nth);
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	}
	if (e->sticky_at && nth == e->sticky_at) {
		snprintf(why, why_len, "CUDA_DOUBLE_STICKY_AT=%ld", nth);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	}
	if (embed && e->poison_set && ids_hold(d, params, e->poison_id)) {
		snprintf(why, why_len, "CUDA_DOUBLE_POISON_ID=%d in embed_f32's ids", e->poison_id);
		return CUDA_ERROR_ILLEGAL_ADDRESS;
	}
	if (embed && e->fail_id_set && ids_hold(d, params, e->fail_id)) {
		snprintf(why, why_len, "CUDA_DOUBLE_FAIL_ID=%d in embed_f32's ids", e->fail_id);
		return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
	}
	return CUDA_SUCCESS;
}

CUresult cud_execute(struct CUfunc_st *fn, const uint32_t grid[3], const uint32_t block[3],
		     uint32_t shared, void *const *params)
{
	struct cud_dev *d = fn->o.ctx->dev;
	struct ptxi_err e = { { 0 } };
	const char *mode = "interp";
	CUresult r;
	int rc = -ENOENT;
	long nth;

	pthread_mutex_lock(&cud.lock);
	nth = ++cud.n_execs;
	pthread_mutex_unlock(&cud.lock);
	if ((r = knob(fn, d, params, nth, e.msg, sizeof(e.msg))) != CUDA_SUCCESS)
		goto out;
	if (cud.env.exec_twin) {
		rc = cud_twin_run(d->mem, fn->name, grid, block, shared, params, fn->params.n, e.msg,
				  sizeof(e.msg));
		/* no twin, or a shape the twin refuses: what the kernel itself does decides */
		if (rc != -ENOENT && rc != -EINVAL)
			mode = "twin";
	}
	if (!strcmp(mode, "interp")) {
		struct ptxi_launch l = { .dyn_shared = shared, .params = params,
					 .n_params = fn->params.n };
		memcpy(l.grid, grid, sizeof(l.grid));
		memcpy(l.block, block, sizeof(l.block));
		rc = ptxi_run(fn->mod->pm, d->mem, fn->name, &l, &e);
	}
	r = rc ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_SUCCESS;
out:
	cud_log("launch dev=%d entry=%s grid=%u,%u,%u block=%u,%u,%u mode=%s result=%s", d->ordinal,
		fn->name, grid[0], grid[1], grid[2], block[0], block[1], block[2], mode,
		cud_err_name(r));
	if (r != CUDA_SUCCESS)
		cud_log("fault dev=%d kind=%s reason=%s", d->ordinal,
			r == CUDA_ERROR_ILLEGAL_ADDRESS ? "sticky" : "launch", e.msg);
	return r;
}

/* The errors that leave a real context unusable until it is reset. */
static int sticky(CUresult r)
{
	return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_ILLEGAL_INSTRUCTION ||
	       r == CUDA_ERROR_LAUNCH_FAILED;
}

void cud_execute_result(struct CUstream_st *s, CUresult r)
{
	if (r == CUDA_SUCCESS)
		return;
	if (sticky(r))
		cud_ctx_fault(s->o.ctx, r);
	else
		cud_stream_fail(s, r);
}

CUresult cuLaunchKernel(CUfunction fn, unsigned int gx, unsigned int gy, unsigned int gz,
			unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
			CUstream s, void **params, void **extra)
{
	const uint32_t grid[3] = { gx, gy, gz }, block[3] = { bx, by, bz };
	struct CUfunc_st *f;
	struct CUstream_st *st;
	struct CUctx_st *c;
	char why[512];
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) != CUDA_SUCCESS)
		goto out;
	r = CUDA_ERROR_INVALID_HANDLE;
	if (!(f = cud_obj_get(fn, CUD_FUNC)))
		goto out;
	c = f->o.ctx;
	if ((r = cud_ctx_usable(c)) != CUDA_SUCCESS)
		goto out;
	r = CUDA_ERROR_INVALID_HANDLE;
	if (!cud_stream_of(c, s))
		goto out;
	if ((r = cud_launch_check(f, grid, block, shared, params, extra, NULL, why,
				  sizeof(why))) != CUDA_SUCCESS) {
		cud_log("launch dev=%d entry=%s grid=%u,%u,%u block=%u,%u,%u mode=%s result=%s",
			c->dev->ordinal, f->name, gx, gy, gz, bx, by, bz,
			cud.env.exec_twin ? "twin" : "interp", cud_err_name(r));
		cud_log("launch_refused dev=%d entry=%s reason=%s", c->dev->ordinal, f->name, why);
		goto out;
	}
	cud_dev_enter(c->dev);
	/* while this thread waited, the module, the stream or the context may have gone */
	if (cud_obj_get(fn, CUD_FUNC) != f || !(st = cud_stream_of(c, s)) ||
	    (r = cud_ctx_usable(c)) != CUDA_SUCCESS) {
		if (r == CUDA_SUCCESS)
			r = CUDA_ERROR_INVALID_HANDLE;
		cud_dev_leave(c->dev);
		goto out;
	}
	pthread_mutex_unlock(&cud.lock);
	CUresult x = cud_execute(f, grid, block, shared, params);
	pthread_mutex_lock(&cud.lock);
	/* the stream may have been destroyed meanwhile: then only a sticky error remains */
	if ((st = cud_stream_of(c, s)))
		cud_execute_result(st, x);
	else if (sticky(x))
		cud_ctx_fault(c, x);
	cud_dev_leave(c->dev);
	r = CUDA_SUCCESS;	/* the kernel's errors are asynchronous */
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}
