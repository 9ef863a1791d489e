// SPDX-License-Identifier: MIT
/*
 * cud_core.c - the double's process state, cuGetProcAddress_v2 (the one
 * exported entry), cuInit with the environment it reads, the driver version
 * and the devices: count, name, memory, attributes (an H100-like sm_90),
 * UUID and PCI bus id. cud_test_reset (exported too) returns to the state
 * before cuInit, for suites that try several environments in one process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cud_int.h"

struct cud_state cud = { .lock = PTHREAD_MUTEX_INITIALIZER, .log_fd = -1 };

#define CUD_EXPORT __attribute__((visibility("default")))

/* ---- cuGetProcAddress ---- */

struct cud_entry {
	const char *name;
	int version;
	void *fn;
};

#define CUD_ROW(name, ver, params) { #name, ver, (void *)name },
static const struct cud_entry entries[] = { PND_CU_ENTRIES(CUD_ROW) };
#undef CUD_ROW

CUD_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
					uint64_t flags, int *symbolStatus);
CUD_EXPORT void cud_test_reset(void);

/*
 * As the real one: the entry as its ABI was at cudaVersion (only the ABI
 * cuda_entries.h declares exists here, so an older cudaVersion than the
 * entry's is VERSION_NOT_SUFFICIENT). Needs no cuInit.
 */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, uint64_t flags,
			     int *symbolStatus)
{
	if (!symbol || !pfn || flags > 2)	/* DEFAULT, LEGACY_STREAM, PER_THREAD_DEFAULT_STREAM */
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (strcmp(entries[i].name, symbol))
			continue;
		if (cudaVersion < entries[i].version) {
			if (symbolStatus)
				*symbolStatus = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
			return CUDA_ERROR_NOT_FOUND;
		}
		*pfn = entries[i].fn;
		if (symbolStatus)
			*symbolStatus = CU_GET_PROC_ADDRESS_SUCCESS;
		return CUDA_SUCCESS;
	}
	if (symbolStatus)
		*symbolStatus = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
	return CUDA_ERROR_NOT_FOUND;
}

/* ---- cuInit and the environment ---- */

/* A non-negative decimal, else def (a knob that is unset or garbage is off). */
static long env_long(const char *name, long def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno || *end || v < 0 ? def : v;
}

static int env_id(const char *name, int32_t *id)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < INT32_MIN || v > INT32_MAX)
		return 0;
	*id = (int32_t)v;
	return 1;
}

static void read_env(struct cud_env *e)
{
	const char *ex = getenv("CUDA_DOUBLE_EXEC");

	e->devices = (int)env_long("CUDA_DOUBLE_DEVICES", 1);
	if (e->devices > 64)
		e->devices = 64;
	e->mem_bytes = (size_t)env_long("CUDA_DOUBLE_MEM_MB", 1024) << 20;
	e->exec_twin = ex && !strcmp(ex, "twin");
	e->fail_alloc_at = env_long("CUDA_DOUBLE_FAIL_ALLOC_AT", 0);
	e->fail_launch_at = env_long("CUDA_DOUBLE_FAIL_LAUNCH_AT", 0);
	e->sticky_at = env_long("CUDA_DOUBLE_STICKY_AT", 0);
	e->poison_set = env_id("CUDA_DOUBLE_POISON_ID", &e->poison_id);
	e->fail_id_set = env_id("CUDA_DOUBLE_FAIL_ID", &e->fail_id);
}

static CUresult make_devices(void)
{
	cud.devs = calloc((size_t)cud.env.devices, sizeof *cud.devs);
	if (!cud.devs)
		return CUDA_ERROR_OUT_OF_MEMORY;
	for (int i = 0; i < cud.env.devices; i++) {
		struct cud_dev *d = &cud.devs[i];
		d->ordinal = i;
		d->ctx.dev = d;
		d->ctx.null_stream.o.ctx = &d->ctx;
		d->ctx.null_stream.o.kind = CUD_STREAM;
		pthread_cond_init(&d->idle, NULL);
		cud.n_devs = i + 1;
		if (!(d->mem = ptxi_dev_new()))
			return CUDA_ERROR_OUT_OF_MEMORY;
	}
	return CUDA_SUCCESS;
}

CUresult cuInit(unsigned int flags)
{
	CUresult r = CUDA_SUCCESS;

	if (flags)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if (cud.inited) {
		r = cud.inited > 0 ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
		goto out;
	}
	read_env(&cud.env);
	cud_log_open();
	cud_log("init devices=%d exec=%s", cud.env.devices, cud.env.exec_twin ? "twin" : "interp");
	if (!cud.env.devices) {
		cud.inited = -1;	/* later calls: NOT_INITIALIZED, as a driver with no GPU */
		r = CUDA_ERROR_NO_DEVICE;
		goto out;
	}
	r = make_devices();
	cud.inited = r == CUDA_SUCCESS ? 1 : 0;
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cud_check_init(void)
{
	return cud.inited > 0 ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

struct cud_dev *cud_dev_get(CUdevice d)
{
	return d >= 0 && d < cud.n_devs ? &cud.devs[d] : NULL;
}

CUresult cuDriverGetVersion(int *version)
{
	if (!version)
		return CUDA_ERROR_INVALID_VALUE;
	*version = CUD_DRIVER_VERSION;
	return CUDA_SUCCESS;
}

/* ---- devices ---- */

/* The checks every device query starts with; the device in *out. Takes cud.lock. */
static CUresult dev_begin(CUdevice dev, struct cud_dev **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS && !(*out = cud_dev_get(dev)))
		r = CUDA_ERROR_INVALID_DEVICE;
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuDeviceGetCount(int *count)
{
	CUresult r;

	if (!count)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS)
		*count = cud.n_devs;
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal)
{
	struct cud_dev *d;
	CUresult r;

	if (!dev)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(ordinal, &d)) != CUDA_SUCCESS)
		return r;
	*dev = d->ordinal;
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!name || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(dev, &d)) != CUDA_SUCCESS)
		return r;
	snprintf(name, (size_t)len, "PolyNet CUDA double");
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!bytes)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(dev, &d)) != CUDA_SUCCESS)
		return r;
	*bytes = cud.env.mem_bytes;
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

/* An sm_90 of 132 SMs (an H100 SXM); attributes not listed: INVALID_VALUE. */
static const struct {
	int attr, value;
} attrs[] = {
	{ CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024 },
	{ 2, 1024 }, { 3, 1024 }, { 4, 64 },			/* MAX_BLOCK_DIM_X/Y/Z */
	{ 5, 2147483647 }, { 6, 65535 }, { 7, 65535 },		/* MAX_GRID_DIM_X/Y/Z */
	{ 8, 49152 },						/* MAX_SHARED_MEMORY_PER_BLOCK */
	{ 9, 65536 },						/* TOTAL_CONSTANT_MEMORY */
	{ 10, 32 },						/* WARP_SIZE */
	{ 11, 2147483647 },					/* MAX_PITCH */
	{ 12, 65536 },						/* MAX_REGISTERS_PER_BLOCK */
	{ 13, 1980000 },					/* CLOCK_RATE, kHz */
	{ 14, 512 },						/* TEXTURE_ALIGNMENT */
	{ 15, 1 },						/* GPU_OVERLAP */
	{ CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132 },
	{ 17, 0 }, { 18, 0 }, { 19, 1 }, { 20, 0 },		/* TIMEOUT, INTEGRATED, MAP_HOST, MODE */
	{ 31, 1 }, { 32, 1 },					/* CONCURRENT_KERNELS, ECC */
	{ CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, 0 },
	{ 35, 0 },						/* TCC_DRIVER */
	{ 36, 2619000 }, { 37, 5120 }, { 38, 52428800 },	/* memory clock, bus width, L2 */
	{ 39, 2048 }, { 40, 3 }, { 41, 1 },			/* threads/SM, copy engines, UVA */
	{ CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, 0 },
	{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9 },
	{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0 },
	{ 78, 1 }, { 79, 1 }, { 80, 1 },			/* STREAM_PRIORITIES, L1 caches */
	{ 81, 233472 }, { 82, 65536 }, { 83, 1 }, { 84, 0 },	/* shared/SM, regs/SM, managed, multi */
	{ 89, 1 }, { 95, 1 },					/* CONCURRENT_MANAGED, COOPERATIVE */
	{ CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, (int)CUD_SHARED_OPTIN },
	{ 99, 1 },						/* HOST_REGISTER_SUPPORTED */
	{ 106, 32 },						/* MAX_BLOCKS_PER_MULTIPROCESSOR */
	{ 111, 1024 },						/* RESERVED_SHARED_MEMORY_PER_BLOCK */
	{ 113, 1 },						/* READ_ONLY_HOST_REGISTER */
};

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attrib, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!value)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(dev, &d)) != CUDA_SUCCESS)
		return r;
	r = CUDA_ERROR_INVALID_VALUE;
	if (attrib == CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) {
		*value = 0x17 + d->ordinal;
		r = CUDA_SUCCESS;
	}
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]) && r != CUDA_SUCCESS; i++)
		if (attrs[i].attr == attrib) {
			*value = attrs[i].value;
			r = CUDA_SUCCESS;
		}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* Deterministic per ordinal, shaped as a version-4 UUID (real ones are "GPU-" + this). */
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!uuid)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(dev, &d)) != CUDA_SUCCESS)
		return r;
	uint64_t x = 0x506f6c794e657400ull + (uint64_t)d->ordinal;	/* "PolyNet\0" + ordinal */
	for (int i = 0; i < 16; i++) {
		x ^= x >> 33;
		x *= 0xff51afd7ed558ccdull;
		x ^= x >> 29;
		uuid->bytes[i] = (char)(x >> 24);
	}
	uuid->bytes[6] = (char)((uuid->bytes[6] & 0x0f) | 0x40);
	uuid->bytes[8] = (char)((uuid->bytes[8] & 0x3f) | 0x80);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetPCIBusId(char *busid, int len, CUdevice dev)
{
	struct cud_dev *d;
	CUresult r;

	if (!busid || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = dev_begin(dev, &d)) != CUDA_SUCCESS)
		return r;
	snprintf(busid, (size_t)len, "0000:%02x:00.0", 0x17 + d->ordinal);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}

/* ---- the test hook ---- */

void cud_test_reset(void)
{
	pthread_mutex_lock(&cud.lock);
	for (int i = 0; i < cud.n_devs; i++) {
		struct cud_dev *d = &cud.devs[i];
		cud_ctx_clear(&d->ctx);
		ptxi_dev_free(d->mem);
		free(d->allocs);
		pthread_cond_destroy(&d->idle);
	}
	free(cud.devs);
	for (size_t i = 0; i < cud.n_hosts; i++)
		if (cud.hosts[i].alloced)
			free((void *)cud.hosts[i].p);
	free(cud.hosts);
	cud_obj_table_free();
	cud_log_close();
	uint64_t gen = cud.gen + 1;
	memset(&cud.env, 0, sizeof(cud.env));
	cud.devs = NULL;
	cud.n_devs = 0;
	cud.inited = 0;
	cud.n_allocs = cud.n_execs = 0;
	cud.hosts = NULL;
	cud.n_hosts = cud.cap_hosts = 0;
	cud.gen = gen;
	pthread_mutex_unlock(&cud.lock);
}
