// SPDX-License-Identifier: MIT
/*
 * cud_module.c - modules and functions. The double runs PTX only: PTX text
 * is parsed by the interpreter (ptxi_load_text) and a parse error is
 * INVALID_PTX with the interpreter's message in CU_JIT_ERROR_LOG_BUFFER; a
 * cubin (an ELF image) or a fatbinary is NO_BINARY_FOR_GPU, which makes
 * the backend fall back to JIT-compiling its PTX, as on a GPU the cubin
 * was not built for. Function attributes come from the parsed entry;
 * MAX_DYNAMIC_SHARED_SIZE_BYTES is stored and checked by launches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cud_int.h"
#include "tests/ptx/ptxi_int.h"

struct jit_logs {
	char *err, *info;
	size_t err_size, info_size;
	int err_i, info_i;		/* option index of the _SIZE_BYTES (OUT: bytes written), -1 */
};

static CUresult parse_opts(unsigned int n, CUjit_option *opts, void **vals, struct jit_logs *l)
{
	*l = (struct jit_logs){ .err_i = -1, .info_i = -1 };
	if (n && (!opts || !vals))
		return CUDA_ERROR_INVALID_VALUE;
	for (unsigned int i = 0; i < n; i++) {
		switch (opts[i]) {
		case CU_JIT_ERROR_LOG_BUFFER:
			l->err = vals[i];
			break;
		case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
			l->err_size = (size_t)(uintptr_t)vals[i];
			l->err_i = (int)i;
			break;
		case CU_JIT_INFO_LOG_BUFFER:
			l->info = vals[i];
			break;
		case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
			l->info_size = (size_t)(uintptr_t)vals[i];
			l->info_i = (int)i;
			break;
		default:
			if (opts[i] < 0 || opts[i] > 34)	/* past cuda.h 12.8's last CU_JIT_* */
				return CUDA_ERROR_INVALID_VALUE;
			break;	/* optimisation levels and the like: nothing to do here */
		}
	}
	return CUDA_SUCCESS;
}

/* A log into its buffer, NUL-terminated, and its length (with the NUL) written back. */
static void put_log(char *buf, size_t size, int size_i, void **vals, const char *msg)
{
	if (!buf || !size)
		return;
	snprintf(buf, size, "%s", msg);
	if (size_i >= 0)
		vals[size_i] = (void *)(uintptr_t)(strlen(buf) + 1);
}

CUresult cuModuleLoadDataEx(CUmodule *mod, const void *image, unsigned int n_opts,
			    CUjit_option *opts, void **vals)
{
	const unsigned char *b = image;
	struct jit_logs logs;
	struct ptxi_module *pm = NULL;
	struct ptxi_err e = { { 0 } };
	struct CUctx_st *c;
	CUresult r;

	if (!mod || !image)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = parse_opts(n_opts, opts, vals, &logs)) != CUDA_SUCCESS)
		return r;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) != CUDA_SUCCESS)
		goto out;
	/* byte by byte: a PTX text may be shorter than a magic number */
	if ((b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') ||
	    (b[0] == 0xb1 && b[1] == 0x43 && b[2] == 0x62 && b[3] == 0x46)) {
		put_log(logs.err, logs.err_size, logs.err_i, vals,
			"CUDA double: runs PTX only (no cubin or fatbinary)");
		r = CUDA_ERROR_NO_BINARY_FOR_GPU;
		cud_log("module_load dev=%d kind=cubin result=%s", c->dev->ordinal, cud_err_name(r));
		goto out;
	}
	/* parsing is slow next to the lock's other users: done unlocked, c stays valid */
	pthread_mutex_unlock(&cud.lock);
	int rc = ptxi_load_text(image, "jit.ptx", &pm, &e);
	pthread_mutex_lock(&cud.lock);
	if (rc) {
		put_log(logs.err, logs.err_size, logs.err_i, vals, e.msg);
		r = CUDA_ERROR_INVALID_PTX;
	} else if ((r = cud_ctx_usable(c)) == CUDA_SUCCESS) {
		struct CUmod_st *m = cud_obj_new(sizeof(*m), CUD_MODULE, c);
		if (!m) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			m->pm = pm;
			pm = NULL;
			*mod = m;
			put_log(logs.err, logs.err_size, logs.err_i, vals, "");
			put_log(logs.info, logs.info_size, logs.info_i, vals,
				"CUDA double: PTX parsed by the interpreter");
		}
	}
	cud_log("module_load dev=%d kind=ptx result=%s", c->dev->ordinal, cud_err_name(r));
	if (rc)
		cud_log("jit_error dev=%d reason=%s", c->dev->ordinal, e.msg);
out:
	pthread_mutex_unlock(&cud.lock);
	ptxi_free(pm);
	return r;
}

void cud_module_free(struct CUmod_st *m)
{
	for (size_t i = 0; i < m->n_funcs; i++)
		cud_obj_free(m->funcs[i]);
	free(m->funcs);
	ptxi_free(m->pm);
	cud_obj_free(m);
}

/* Waits for the device: a kernel of the module may be running. */
CUresult cuModuleUnload(CUmodule mod)
{
	struct CUmod_st *m;
	CUresult r = CUDA_ERROR_INVALID_HANDLE;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) != CUDA_SUCCESS)
		goto out;
	r = CUDA_ERROR_INVALID_HANDLE;
	if (!(m = cud_obj_get(mod, CUD_MODULE)))
		goto out;
	struct CUctx_st *c = m->o.ctx;
	if ((r = cud_ctx_usable(c)) != CUDA_SUCCESS)
		goto out;
	cud_dev_enter(c->dev);
	if ((m = cud_obj_get(mod, CUD_MODULE)))
		cud_module_free(m);
	else
		r = CUDA_ERROR_INVALID_HANDLE;
	cud_dev_leave(c->dev);
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

static const struct ptxi_kernel *kernel_of(const struct ptxi_module *pm, const char *name)
{
	for (uint32_t i = 0; i < pm->nk; i++)
		if (!strcmp(pm->k[i].name, name))
			return &pm->k[i];
	return NULL;
}

/* The function's .param layout and attributes, from the parsed entry. */
static CUresult func_fill(struct CUfunc_st *f, const struct ptxi_module *pm)
{
	struct cud_params *p = &f->params;
	const struct ptxi_kernel *k = kernel_of(pm, f->name);

	if (!k || ptxi_entry_params(pm, f->name, &p->n, p->size, p->align, CUD_MAX_PARAMS))
		return CUDA_ERROR_NOT_SUPPORTED;	/* more params than the double takes */
	for (uint32_t i = 0; i < p->n; i++) {
		uint32_t a = p->align[i] ? p->align[i] : 1;
		p->off[i] = (p->bytes + a - 1) / a * a;
		p->bytes = p->off[i] + p->size[i];
	}
	f->static_shared = k->has_extern ? k->shared_extern_off : k->shared_static;
	f->local_bytes = k->local_bytes;
	f->max_threads = 1024;
	for (int i = 0; i < 3; i++)
		f->reqntid[i] = k->reqntid[0] ? k->reqntid[i] : 0;
	if (k->reqntid[0])
		f->max_threads = k->reqntid[0] * k->reqntid[1] * k->reqntid[2];
	else if (k->maxntid[0])
		f->max_threads = k->maxntid[0] * k->maxntid[1] * k->maxntid[2];
	/* the interpreter's virtual registers: a bound on what ptxas would allocate, capped as sm_90's */
	f->num_regs = k->nregs < 255 ? k->nregs : 255;
	f->max_dyn_shared = (int)(CUD_SHARED_DEFAULT - (f->static_shared < CUD_SHARED_DEFAULT ?
							f->static_shared : CUD_SHARED_DEFAULT));
	f->carveout = -1;
	return CUDA_SUCCESS;
}

/* One handle per (module, name), made on first request. */
CUresult cuModuleGetFunction(CUfunction *fn, CUmodule mod, const char *name)
{
	struct CUmod_st *m;
	CUresult r;

	if (!fn || !name)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) != CUDA_SUCCESS)
		goto out;
	r = CUDA_ERROR_INVALID_HANDLE;
	if (!(m = cud_obj_get(mod, CUD_MODULE)) || (r = cud_ctx_usable(m->o.ctx)) != CUDA_SUCCESS)
		goto out;
	for (size_t i = 0; i < m->n_funcs; i++)
		if (!strcmp(m->funcs[i]->name, name)) {
			*fn = m->funcs[i];
			goto out;
		}
	r = CUDA_ERROR_NOT_FOUND;
	if (!kernel_of(m->pm, name) || strlen(name) >= sizeof(m->funcs[0]->name))
		goto out;
	struct CUfunc_st **nf = realloc(m->funcs, (m->n_funcs + 1) * sizeof(*nf));
	struct CUfunc_st *f = nf ? cud_obj_new(sizeof(*f), CUD_FUNC, m->o.ctx) : NULL;
	if (nf)
		m->funcs = nf;
	r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!f)
		goto out;
	f->mod = m;
	snprintf(f->name, sizeof(f->name), "%s", name);
	if ((r = func_fill(f, m->pm)) != CUDA_SUCCESS) {
		cud_obj_free(f);
		goto out;
	}
	m->funcs[m->n_funcs++] = f;
	*fn = f;
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* The function, checked, with cud.lock taken (kept on success). */
static CUresult func_begin(CUfunction fn, struct CUfunc_st **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS) {
		if (!(*out = cud_obj_get(fn, CUD_FUNC)))
			r = CUDA_ERROR_INVALID_HANDLE;
		else
			r = cud_ctx_usable((*out)->o.ctx);
	}
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuFuncGetAttribute(int *value, CUfunction_attribute attrib, CUfunction fn)
{
	struct CUfunc_st *f;
	CUresult r;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = func_begin(fn, &f)) != CUDA_SUCCESS)
		return r;
	switch (attrib) {
	case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = (int)f->max_threads; break;
	case CUD_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *value = (int)f->static_shared; break;
	case CUD_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *value = 0; break;
	case CUD_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *value = (int)f->local_bytes; break;
	case CU_FUNC_ATTRIBUTE_NUM_REGS: *value = (int)f->num_regs; break;
	case CUD_FUNC_ATTRIBUTE_PTX_VERSION: *value = 80; break;
	case CUD_FUNC_ATTRIBUTE_BINARY_VERSION: *value = 90; break;
	case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = f->max_dyn_shared; break;
	case CUD_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *value = f->carveout; break;
	default: r = CUDA_ERROR_INVALID_VALUE; break;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* Dynamic shared past 48 KiB needs this, up to the opt-in limit less the static shared. */
CUresult cuFuncSetAttribute(CUfunction fn, CUfunction_attribute attrib, int value)
{
	struct CUfunc_st *f;
	CUresult r;

	if ((r = func_begin(fn, &f)) != CUDA_SUCCESS)
		return r;
	r = CUDA_ERROR_INVALID_VALUE;
	if (attrib == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
		if (value >= 0 && (uint64_t)value + f->static_shared <= CUD_SHARED_OPTIN) {
			f->max_dyn_shared = value;
			r = CUDA_SUCCESS;
		}
	} else if (attrib == CUD_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT) {
		if (value >= -1 && value <= 100) {
			f->carveout = value;
			r = CUDA_SUCCESS;
		}
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}
