// SPDX-License-Identifier: MIT
/*
 * cuda_api.c - the Driver API loaded at run time (cuda_api.h): dlopen, one
 * dlsym (cuGetProcAddress_v2), every other entry asked of the driver by
 * name at PND_CU_ABI and checked, so that a driver that lacks one, or is
 * older than the ABI declared in cuda_api.h, is refused by name here rather
 * than crashing later. Threading: pnd_cu_load/unload from one thread; the
 * table is read-only afterwards.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "cuda_api.h"

struct entry {
	const char *name;
	int version;
	size_t off;
};

#define PND_CU_ROW(name, ver, params) { #name, ver, offsetof(struct pnd_cu, name) },
static const struct entry entries[] = { PND_CU_ENTRIES(PND_CU_ROW) };
#undef PND_CU_ROW

static int resolve(struct pnd_cu *api, pnd_cuGetProcAddress_fn getproc, struct pn_err *e)
{
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		void *fn = NULL;
		int status = -1;
		CUresult r = getproc(entries[i].name, &fn, PND_CU_ABI,
				     CU_GET_PROC_ADDRESS_DEFAULT, &status);

		if (r != CUDA_SUCCESS || status != CU_GET_PROC_ADDRESS_SUCCESS || !fn)
			return pn_errf(e, -ENOSYS, "%s: %s (CUDA %d.%d) %s (cuGetProcAddress %d, "
				       "status %d)", api->path, entries[i].name,
				       entries[i].version / 1000, entries[i].version % 1000 / 10,
				       status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT ?
				       "needs a newer driver" : "not found", r, status);
		memcpy((char *)api + entries[i].off, &fn, sizeof(fn));
	}
	return 0;
}

int pnd_cu_load(struct pnd_cu *api, const char *path, struct pn_err *e)
{
	pnd_cuGetProcAddress_fn getproc;
	void *sym;
	int r;

	memset(api, 0, sizeof(*api));
	if (!path || !*path)
		path = getenv("POLYNET_LIBCUDA");
	if (!path || !*path)
		path = "libcuda.so.1";
	snprintf(api->path, sizeof(api->path), "%s", path);
	/* RTLD_LOCAL: the driver's symbols stay out of the daemon's namespace */
	api->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!api->dl)
		return pn_errf(e, -ENOENT, "no %s: %s", path, dlerror());
	sym = dlsym(api->dl, PND_CU_GETPROC_SYMBOL);
	if (!sym) {
		r = pn_errf(e, -ENOSYS, "%s: no %s (a driver older than CUDA 12.0)", path,
			    PND_CU_GETPROC_SYMBOL);
		goto fail;
	}
	memcpy(&getproc, &sym, sizeof(getproc));
	r = resolve(api, getproc, e);
	if (r)
		goto fail;
	if (api->cuDriverGetVersion(&api->driver_version) != CUDA_SUCCESS) {
		r = pn_errf(e, -ENOSYS, "%s: cuDriverGetVersion failed", path);
		goto fail;
	}
	if (api->driver_version < PND_CU_ABI) {
		r = pn_errf(e, -ENOSYS, "%s: driver is CUDA %d.%d, polynetd needs %d.%d", path,
			    api->driver_version / 1000, api->driver_version % 1000 / 10,
			    PND_CU_ABI / 1000, PND_CU_ABI % 1000 / 10);
		goto fail;
	}
	return 0;
fail:
	dlclose(api->dl);
	api->dl = NULL;
	return r;
}

void pnd_cu_unload(struct pnd_cu *api)
{
	if (api->dl)
		dlclose(api->dl);
	api->dl = NULL;
}

const char *pnd_cu_strerror(const struct pnd_cu *api, CUresult r, char *buf, size_t len)
{
	const char *name = NULL, *str = NULL;

	if (api->cuGetErrorName)
		api->cuGetErrorName(r, &name);
	if (api->cuGetErrorString)
		api->cuGetErrorString(r, &str);
	if (name)
		snprintf(buf, len, "%s (%s)", name, str ? str : "no description");
	else
		snprintf(buf, len, "CUDA error %d", r);
	return buf;
}

int pnd_cu_sticky(CUresult r)
{
	return r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED ||
	       r == CUDA_ERROR_ILLEGAL_INSTRUCTION || r == CUDA_ERROR_UNKNOWN;
}
