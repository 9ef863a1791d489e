/* SPDX-License-Identifier: MIT */
/*
 * test_cuda_double.c - the CUDA Driver API double (tests/cuda_double/):
 * its sources are linked here under ASan and called directly, every test
 * from a fresh state (cud_test_reset, the environment set first), and the
 * built libcuda.so.1 is loaded once the way polynetd loads it (dlopen,
 * cuGetProcAddress_v2, every entry of cuda_entries.h at 12.0).
 *
 * Results of kernels are compared with the same arithmetic in C: add_f32
 * is one correctly rounded f32 add per element, so bit for bit; embed_f32
 * with no positions is scale * row, one rounded multiply, also exact.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/cuda_double/cud_int.h"
#include "tests/cuda_double/twins.h"

#define OK(x) assert_int_equal((x), CUDA_SUCCESS)

static const char *const knobs[] = {
	"CUDA_DOUBLE_DEVICES", "CUDA_DOUBLE_MEM_MB", "CUDA_DOUBLE_EXEC", "CUDA_DOUBLE_LOG",
	"CUDA_DOUBLE_FAIL_ALLOC_AT", "CUDA_DOUBLE_FAIL_LAUNCH_AT", "CUDA_DOUBLE_STICKY_AT",
	"CUDA_DOUBLE_POISON_ID", "CUDA_DOUBLE_FAIL_ID",
};

static char log_path[64];

static int fresh(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		unsetenv(knobs[i]);
	cud_test_reset();
	assert_int_equal(cuCtxSetCurrent(NULL), CUDA_ERROR_NOT_INITIALIZED);
	return 0;
}

static int done(void **state)
{
	(void)state;
	cud_test_reset();
	if (log_path[0])
		unlink(log_path);
	log_path[0] = '\0';
	return 0;
}

/* cuInit, device 0's primary context retained and current. */
static CUcontext up(void)
{
	CUcontext c;
	OK(cuInit(0));
	OK(cuDevicePrimaryCtxRetain(&c, 0));
	OK(cuCtxSetCurrent(c));
	return c;
}

static void use_log(void)
{
	snprintf(log_path, sizeof(log_path), "/tmp/cud_test_%d.log", (int)getpid());
	unlink(log_path);
	setenv("CUDA_DOUBLE_LOG", log_path, 1);
}

/* 1 when a line of the log contains every one of the NULL-ended fragments. */
static int logged(const char *first, ...)
{
	char line[1100];
	FILE *f = fopen(log_path, "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		va_list ap;
		found = 1;
		va_start(ap, first);
		for (const char *s = first; s; s = va_arg(ap, const char *))
			found &= strstr(line, s) != NULL;
		va_end(ap);
	}
	fclose(f);
	return found;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static CUmodule load_file(const char *path)
{
	CUmodule m;
	char *text = slurp(path);
	OK(cuModuleLoadDataEx(&m, text, 0, NULL, NULL));
	free(text);
	return m;
}

static CUdeviceptr upload(const void *p, size_t n)
{
	CUdeviceptr d;
	OK(cuMemAlloc(&d, n));
	OK(cuMemcpyHtoD(d, p, n));
	return d;
}

static uint32_t rng = 12345;
static float frand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (float)(rng >> 8) / (float)(1u << 24) * 20.0f - 10.0f;
}

/* A store kernel for the small checks: out[0] = v (dynamic shared allowed, unused). */
static const char store_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".extern .shared .align 4 .b8 sh[];\n"
	".visible .entry store1(.param .u64 out, .param .u32 v)\n{\n"
	"  .reg .u64 %a;\n  .reg .u32 %v;\n"
	"  ld.param.u64 %a, [out];\n  cvta.to.global.u64 %a, %a;\n"
	"  ld.param.u32 %v, [v];\n  st.global.u32 [%a], %v;\n  ret;\n}\n";

/* ---- the interpreter's two additions ---- */

static void test_ptxi_additions(void **state)
{
	(void)state;
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_module *m;
	struct ptxi_err e;
	uint32_t n, sz[4], al[4], v = 7;
	uint64_t a = ptxi_alloc(d, 64), b = ptxi_alloc(d, 64);

	assert_int_equal(ptxi_dev_release(d, a + 4), -EINVAL);	/* not a start */
	assert_int_equal(ptxi_dev_release(d, a), 0);
	assert_int_equal(ptxi_write(d, a, &v, 4), -EFAULT);	/* freed: faults */
	assert_int_equal(ptxi_dev_release(d, a), -EINVAL);	/* twice */
	assert_int_equal(ptxi_write(d, b, &v, 4), 0);		/* the other is intact */
	ptxi_dev_free(d);

	assert_int_equal(ptxi_load_text(store_ptx, "store", &m, &e), 0);
	assert_int_equal(ptxi_entry_params(m, "store1", &n, sz, al, 4), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sz[0], 8);
	assert_int_equal(al[0], 8);
	assert_int_equal(sz[1], 4);
	assert_int_equal(ptxi_entry_params(m, "store1", &n, sz, al, 1), -ENOSPC);
	assert_int_equal(ptxi_entry_params(m, "nope", &n, sz, al, 4), -ENOENT);
	ptxi_free(m);
}

/* ---- init, devices, errors ---- */

static void test_init(void **state)
{
	(void)state;
	int n, v;
	CUdevice dev;

	assert_int_equal(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	OK(cuDriverGetVersion(&v));
	assert_int_equal(v, 12080);
	assert_int_equal(cuInit(1), CUDA_ERROR_INVALID_VALUE);
	setenv("CUDA_DOUBLE_DEVICES", "3", 1);
	OK(cuInit(0));
	OK(cuInit(0));
	OK(cuDeviceGetCount(&n));
	assert_int_equal(n, 3);
	OK(cuDeviceGet(&dev, 2));
	assert_int_equal(dev, 2);
	assert_int_equal(cuDeviceGet(&dev, 3), CUDA_ERROR_INVALID_DEVICE);

	cud_test_reset();
	setenv("CUDA_DOUBLE_DEVICES", "0", 1);
	assert_int_equal(cuInit(0), CUDA_ERROR_NO_DEVICE);
	assert_int_equal(cuInit(0), CUDA_ERROR_NO_DEVICE);
	assert_int_equal(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
}

static void test_devices(void **state)
{
	(void)state;
	char name[64], bus[32];
	size_t total;
	int v;
	CUuuid u0, u1, u0b;

	setenv("CUDA_DOUBLE_DEVICES", "2", 1);
	setenv("CUDA_DOUBLE_MEM_MB", "64", 1);
	OK(cuInit(0));
	OK(cuDeviceGetName(name, sizeof(name), 0));
	assert_string_equal(name, "PolyNet CUDA double");
	OK(cuDeviceTotalMem(&total, 1));
	assert_int_equal(total, 64u << 20);
	static const int want[][2] = {
		{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9 },
		{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0 },
		{ CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132 },
		{ CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 232448 },
		{ CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024 },
		{ 10 /* WARP_SIZE */, 32 },
		{ CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, 0 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		OK(cuDeviceGetAttribute(&v, want[i][0], 0));
		assert_int_equal(v, want[i][1]);
	}
	OK(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, 1));
	assert_int_equal(v, 0x18);
	assert_int_equal(cuDeviceGetAttribute(&v, 100000, 0), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuDeviceGetAttribute(&v, 1, 2), CUDA_ERROR_INVALID_DEVICE);
	OK(cuDeviceGetPCIBusId(bus, sizeof(bus), 0));
	assert_string_equal(bus, "0000:17:00.0");
	OK(cuDeviceGetPCIBusId(bus, sizeof(bus), 1));
	assert_string_equal(bus, "0000:18:00.0");
	OK(cuDeviceGetUuid(&u0, 0));
	OK(cuDeviceGetUuid(&u1, 1));
	assert_memory_not_equal(u0.bytes, u1.bytes, 16);
	cud_test_reset();
	OK(cuInit(0));
	OK(cuDeviceGetUuid(&u0b, 0));
	assert_memory_equal(u0.bytes, u0b.bytes, 16);	/* deterministic */
}

static void test_errors(void **state)
{
	(void)state;
	static const CUresult all[] = {
		CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_OUT_OF_MEMORY,
		CUDA_ERROR_NOT_INITIALIZED, CUDA_ERROR_NO_DEVICE, CUDA_ERROR_INVALID_DEVICE,
		CUDA_ERROR_INVALID_IMAGE, CUDA_ERROR_INVALID_CONTEXT, CUDA_ERROR_NO_BINARY_FOR_GPU,
		CUDA_ERROR_INVALID_PTX, CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_NOT_FOUND,
		CUDA_ERROR_NOT_READY, CUDA_ERROR_ILLEGAL_ADDRESS, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES,
		CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, CUDA_ERROR_ILLEGAL_INSTRUCTION,
		CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_NOT_SUPPORTED, CUDA_ERROR_UNKNOWN,
		CUD_ERROR_HOST_MEMORY_NOT_REGISTERED,
	};
	const char *s;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		OK(cuGetErrorName(all[i], &s));
		assert_true(!strncmp(s, "CUDA_", 5));
		OK(cuGetErrorString(all[i], &s));
		assert_true(strlen(s) > 0);
	}
	OK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
	assert_string_equal(s, "CUDA_ERROR_ILLEGAL_ADDRESS");
	assert_int_equal(cuGetErrorName(12345, &s), CUDA_ERROR_INVALID_VALUE);
	assert_null(s);
}

/* ---- contexts, streams, events ---- */

static void test_contexts(void **state)
{
	(void)state;
	CUcontext c, c2;
	CUdeviceptr p;
	CUstream s;
	CUevent ev;
	int least, greatest;

	OK(cuInit(0));
	assert_int_equal(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);	/* none current */
	OK(cuDevicePrimaryCtxRetain(&c, 0));
	OK(cuDevicePrimaryCtxRetain(&c2, 0));
	assert_ptr_equal(c, c2);
	OK(cuCtxSetCurrent(c));
	OK(cuCtxGetStreamPriorityRange(&least, &greatest));
	assert_int_equal(least, 0);
	assert_int_equal(greatest, -5);
	OK(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, -100));
	assert_int_equal(((struct CUstream_st *)s)->priority, -5);	/* clamped */
	assert_int_equal(cuStreamCreateWithPriority(&s, 0x10, 0), CUDA_ERROR_INVALID_VALUE);
	OK(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
	OK(cuEventQuery(ev));		/* never recorded: complete */
	OK(cuEventRecord(ev, s));
	OK(cuEventSynchronize(ev));
	OK(cuStreamQuery(s));
	OK(cuStreamSynchronize(s));
	OK(cuStreamSynchronize(NULL));
	OK(cuCtxSynchronize());
	OK(cuEventDestroy(ev));
	assert_int_equal(cuEventDestroy(ev), CUDA_ERROR_INVALID_HANDLE);
	OK(cuStreamDestroy(s));
	assert_int_equal(cuStreamDestroy(s), CUDA_ERROR_INVALID_HANDLE);
	OK(cuDevicePrimaryCtxRelease(0));
	OK(cuMemAlloc(&p, 16));		/* one retain left */
	OK(cuDevicePrimaryCtxRelease(0));
	/* the last release destroys it: the current context is no longer usable */
	assert_int_equal(cuMemAlloc(&p, 16), CUDA_ERROR_INVALID_CONTEXT);
	assert_int_equal(cuCtxSetCurrent(c), CUDA_ERROR_INVALID_CONTEXT);
	assert_int_equal(cuDevicePrimaryCtxRelease(0), CUDA_ERROR_INVALID_CONTEXT);
}

static void host_fn(void *arg)
{
	(*(int *)arg)++;
}

static void test_host_func(void **state)
{
	(void)state;
	int calls = 0;
	CUstream s;

	up();
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	OK(cuLaunchHostFunc(s, host_fn, &calls));
	OK(cuLaunchHostFunc(NULL, host_fn, &calls));
	assert_int_equal(calls, 2);	/* synchronous: done by the return */
	assert_int_equal(cuLaunchHostFunc(s, NULL, &calls), CUDA_ERROR_INVALID_VALUE);
}

/* ---- memory ---- */

static void test_memory(void **state)
{
	(void)state;
	CUdeviceptr a, b, c;
	size_t fr, total;
	uint8_t in[4096], out[4096];

	setenv("CUDA_DOUBLE_MEM_MB", "1", 1);
	up();
	assert_int_equal(cuMemAlloc(&a, 0), CUDA_ERROR_INVALID_VALUE);
	OK(cuMemAlloc(&a, 600 << 10));
	assert_int_equal(cuMemAlloc(&b, 600 << 10), CUDA_ERROR_OUT_OF_MEMORY);	/* past 1 MiB */
	OK(cuMemGetInfo(&fr, &total));
	assert_int_equal(total, 1u << 20);
	assert_int_equal(fr, (1u << 20) - (600u << 10));
	OK(cuMemAlloc(&b, 4096));
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	OK(cuMemcpyHtoD(b, in, sizeof(in)));
	OK(cuMemcpyDtoHAsync(out, b, sizeof(out), NULL));
	assert_memory_equal(in, out, sizeof(in));
	OK(cuMemcpyHtoDAsync(b + 8, in, 16, NULL));
	/* a range that leaves the allocation, or starts outside any */
	assert_int_equal(cuMemcpyHtoD(b + 4090, in, 8), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemcpyDtoHAsync(out, b + 4096 + 64, 4, NULL), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemcpyHtoDAsync(b, in, 4, (CUstream)&in), CUDA_ERROR_INVALID_HANDLE);
	OK(cuMemFree(a));
	OK(cuMemAlloc(&c, 900 << 10));	/* the freed bytes count again */
	assert_int_equal(cuMemFree(a), CUDA_ERROR_INVALID_VALUE);	/* twice */
	assert_int_equal(cuMemFree(b + 4), CUDA_ERROR_INVALID_VALUE);
	OK(cuMemFree(b));
	assert_int_equal(cuMemcpyHtoD(b, in, 4), CUDA_ERROR_INVALID_VALUE);	/* freed */
	OK(cuMemFree(0));
}

static void test_host_memory(void **state)
{
	(void)state;
	void *h;
	char *buf = malloc(8192);

	up();
	OK(cuMemHostAlloc(&h, 1000, CU_MEMHOSTALLOC_PORTABLE));
	assert_int_equal(cuMemHostAlloc(&h, 1000, 0x80), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemHostRegister(h, 100, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	OK(cuMemFreeHost(h));
	assert_int_equal(cuMemFreeHost(h), CUDA_ERROR_INVALID_VALUE);
	OK(cuMemHostRegister(buf, 4096, CU_MEMHOSTREGISTER_READ_ONLY));
	assert_int_equal(cuMemHostRegister(buf + 4000, 1000, 0),
			 CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
	OK(cuMemHostRegister(buf + 4096, 4096, CU_MEMHOSTREGISTER_PORTABLE));	/* adjacent */
	assert_int_equal(cuMemHostRegister(buf, 10, 0x100), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuMemHostUnregister(buf + 1), CUD_ERROR_HOST_MEMORY_NOT_REGISTERED);
	OK(cuMemHostUnregister(buf));
	OK(cuMemHostUnregister(buf + 4096));
	OK(cuMemHostRegister(buf, 8192, 0));	/* free again */
	OK(cuMemHostUnregister(buf));
	free(buf);
}

/* ---- modules and launches ---- */

static void test_module(void **state)
{
	(void)state;
	static const unsigned char elf[] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0 };
	CUmodule m;
	CUfunction f;
	int v;

	use_log();
	up();
	assert_int_equal(cuModuleLoadDataEx(&m, elf, 0, NULL, NULL), CUDA_ERROR_NO_BINARY_FOR_GPU);
	assert_true(logged("module_load dev=0 kind=cubin result=CUDA_ERROR_NO_BINARY_FOR_GPU", NULL));
	m = load_file("kernels/ptx/elementwise.ptx");
	assert_true(logged("module_load dev=0 kind=ptx result=CUDA_SUCCESS", NULL));
	assert_int_equal(cuModuleGetFunction(&f, m, "nope"), CUDA_ERROR_NOT_FOUND);
	OK(cuModuleGetFunction(&f, m, "add_f32"));
	CUfunction f2;
	OK(cuModuleGetFunction(&f2, m, "add_f32"));
	assert_ptr_equal(f, f2);
	/* by default 48 KiB less the static shared memory, as on a GPU */
	int st;
	OK(cuFuncGetAttribute(&st, CUD_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, f));
	OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
	assert_int_equal(v + st, 48 * 1024);
	OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f));
	assert_int_equal(v, 1024);
	OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 100000));
	OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f));
	assert_int_equal(v, 100000);
	assert_int_equal(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
					    232448 + 1), CUDA_ERROR_INVALID_VALUE);
	OK(cuModuleUnload(m));
	assert_int_equal(cuModuleGetFunction(&f, m, "add_f32"), CUDA_ERROR_INVALID_HANDLE);
	assert_int_equal(cuFuncGetAttribute(&v, 0, f), CUDA_ERROR_INVALID_HANDLE);
}

static void test_jit_error_log(void **state)
{
	(void)state;
	static const char broken[] =
		".version 8.0\n.target sm_80\n.address_size 64\n"
		".visible .entry bad(.param .u64 out)\n{\n  frobnicate.u32 %r1;\n}\n";
	char err[512] = "untouched", info[128];
	CUjit_option opts[] = { CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
				CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES };
	void *vals[] = { err, (void *)(uintptr_t)sizeof(err), info, (void *)(uintptr_t)sizeof(info) };
	CUmodule m;

	up();
	assert_int_equal(cuModuleLoadDataEx(&m, broken, 4, opts, vals), CUDA_ERROR_INVALID_PTX);
	/* the interpreter's message, "file:line: ...", naming the bad line */
	assert_non_null(strstr(err, "jit.ptx:6"));
	assert_int_equal((size_t)(uintptr_t)vals[1], strlen(err) + 1);
	/* a buffer smaller than the message: truncated, still terminated */
	char small[8];
	void *vals2[] = { small, (void *)(uintptr_t)sizeof(small) };
	assert_int_equal(cuModuleLoadDataEx(&m, broken, 2, opts, vals2), CUDA_ERROR_INVALID_PTX);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(cuModuleLoadDataEx(&m, broken, 2, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
}

struct add_case {
	CUmodule m;
	CUfunction f;
	uint64_t n;
	float *a, *b, *y;
	CUdeviceptr da, db, dy;
};

static void add_setup(struct add_case *t, uint64_t n)
{
	t->m = load_file("kernels/ptx/elementwise.ptx");
	OK(cuModuleGetFunction(&t->f, t->m, "add_f32"));
	t->n = n;
	t->a = malloc(n * 4);
	t->b = malloc(n * 4);
	t->y = malloc(n * 4);
	for (uint64_t i = 0; i < n; i++) {
		t->a[i] = frand();
		t->b[i] = frand();
	}
	t->da = upload(t->a, n * 4);
	t->db = upload(t->b, n * 4);
	OK(cuMemAlloc(&t->dy, n * 4));
}

static void add_free(struct add_case *t)
{
	free(t->a);
	free(t->b);
	free(t->y);
}

/* y == a + b elementwise, in f32: exact. */
static void add_expect(const float *a, const float *b, CUdeviceptr dy, uint64_t n)
{
	float *y = malloc(n * 4);
	OK(cuMemcpyDtoHAsync(y, dy, n * 4, NULL));
	for (uint64_t i = 0; i < n; i++) {
		float want = a[i] + b[i];
		assert_memory_equal(&y[i], &want, 4);
	}
	free(y);
}

static void test_launch(void **state)
{
	(void)state;
	struct add_case t;
	CUstream s;

	use_log();
	up();
	add_setup(&t, 1000);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	OK(cuLaunchKernel(t.f, 2, 1, 1, 64, 1, 1, 0, s, p, NULL));
	OK(cuStreamSynchronize(s));
	add_expect(t.a, t.b, t.dy, t.n);
	assert_true(logged("launch dev=0 entry=add_f32 grid=2,1,1 block=64,1,1 mode=interp "
			   "result=CUDA_SUCCESS", NULL));

	/* refusals, all synchronous and leaving the context usable */
	void *short_p[] = { &t.da, &t.db, &t.dy, NULL };
	assert_int_equal(cuLaunchKernel(t.f, 2, 1, 1, 64, 1, 1, 0, s, short_p, NULL),
			 CUDA_ERROR_INVALID_VALUE);
	assert_true(logged("launch_refused dev=0 entry=add_f32", "kernelParams[3] is NULL",
			   "bytes 8,8,8,8", NULL));
	assert_int_equal(cuLaunchKernel(t.f, 2, 1, 1, 64, 1, 1, 0, s, NULL, NULL),
			 CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuLaunchKernel(t.f, 0, 1, 1, 64, 1, 1, 0, s, p, NULL),
			 CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuLaunchKernel(t.f, 1, 1, 1, 1025, 1, 1, 0, s, p, NULL),
			 CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuLaunchKernel(t.f, 1, 1, 1, 64, 32, 1, 0, s, p, NULL),
			 CUDA_ERROR_INVALID_VALUE);	/* 2048 threads */
	assert_int_equal(cuLaunchKernel(t.f, 1, 1, 1, 64, 1, 1, 0, (CUstream)&t, p, NULL),
			 CUDA_ERROR_INVALID_HANDLE);
	OK(cuStreamSynchronize(s));
	OK(cuCtxSynchronize());
	add_free(&t);
}

/* Dynamic shared memory past 48 KiB needs the attribute, as on a GPU. */
static void test_dynamic_shared(void **state)
{
	(void)state;
	CUmodule m;
	CUfunction f;
	CUdeviceptr out;
	uint32_t v = 42, got = 0;

	up();
	OK(cuModuleLoadDataEx(&m, store_ptx, 0, NULL, NULL));
	OK(cuModuleGetFunction(&f, m, "store1"));
	OK(cuMemAlloc(&out, 4));
	void *p[] = { &out, &v };
	OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 48 * 1024, NULL, p, NULL));
	assert_int_equal(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 64 * 1024, NULL, p, NULL),
			 CUDA_ERROR_INVALID_VALUE);
	OK(cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024));
	v = 43;
	OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 64 * 1024, NULL, p, NULL));
	OK(cuCtxSynchronize());
	OK(cuMemcpyDtoHAsync(&got, out, 4, NULL));
	assert_int_equal(got, 43);
}

/* ---- graphs ---- */

static CUDA_KERNEL_NODE_PARAMS add_node(CUfunction f, void **p)
{
	return (CUDA_KERNEL_NODE_PARAMS){ .func = f, .gridDimX = 3, .gridDimY = 1, .gridDimZ = 1,
					  .blockDimX = 32, .blockDimY = 1, .blockDimZ = 1,
					  .kernelParams = p };
}

static void test_graph(void **state)
{
	(void)state;
	struct add_case t;
	CUgraph g;
	CUgraphNode n1, n2;
	CUgraphExec x;
	CUstream s;
	CUdeviceptr dz, dc;

	use_log();
	up();
	add_setup(&t, 500);
	OK(cuMemAlloc(&dz, t.n * 4));
	float *c = malloc(t.n * 4), *y = malloc(t.n * 4), *z = malloc(t.n * 4);
	for (uint64_t i = 0; i < t.n; i++)
		c[i] = frand();
	dc = upload(c, t.n * 4);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	OK(cuGraphCreate(&g, 0));

	/* node 1: y = a + b; node 2 (after it): z = y + b */
	CUdeviceptr pa = t.da, pb = t.db, py = t.dy, pz = dz;
	uint64_t n = t.n;
	void *p1[] = { &pa, &pb, &py, &n }, *p2[] = { &py, &pb, &pz, &n };
	CUDA_KERNEL_NODE_PARAMS k1 = add_node(t.f, p1), k2 = add_node(t.f, p2);
	OK(cuGraphAddKernelNode(&n1, g, NULL, 0, &k1));
	OK(cuGraphAddKernelNode(&n2, g, &n1, 1, &k2));
	pa = 0;	/* values were copied when the nodes were added: this changes nothing */
	OK(cuGraphInstantiateWithFlags(&x, g, 0));
	assert_true(logged("graph_instantiate dev=0 nodes=2", NULL));
	OK(cuGraphLaunch(x, s));
	OK(cuStreamSynchronize(s));
	assert_true(logged("graph_launch dev=0 nodes=2", NULL));
	for (uint64_t i = 0; i < t.n; i++)
		y[i] = t.a[i] + t.b[i];
	add_expect(t.a, t.b, t.dy, t.n);
	add_expect(y, t.b, dz, t.n);

	/* node 1 now reads c instead of a: y = c + b, z = y + b */
	pa = dc;
	OK(cuGraphExecKernelNodeSetParams(x, n1, &k1));
	assert_true(logged("graph_set_params dev=0", NULL));
	OK(cuGraphLaunch(x, s));
	OK(cuStreamSynchronize(s));
	for (uint64_t i = 0; i < t.n; i++)
		z[i] = c[i] + t.b[i];
	add_expect(c, t.b, t.dy, t.n);
	add_expect(z, t.b, dz, t.n);

	/* another function for the node: refused */
	CUfunction other;
	OK(cuModuleGetFunction(&other, t.m, "add_rows_f32"));
	CUDA_KERNEL_NODE_PARAMS ko = k1;
	ko.func = other;
	assert_int_equal(cuGraphExecKernelNodeSetParams(x, n1, &ko), CUDA_ERROR_INVALID_VALUE);
	void *bad[] = { &pa, NULL, &py, &n };
	CUDA_KERNEL_NODE_PARAMS kb = add_node(t.f, bad);
	assert_int_equal(cuGraphExecKernelNodeSetParams(x, n1, &kb), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuGraphAddKernelNode(&n1, g, NULL, 0, &kb), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuGraphAddKernelNode(&n1, g, (CUgraphNode *)&x, 1, &k1),
			 CUDA_ERROR_INVALID_VALUE);	/* not a node */
	/* a node added after instantiation is not the exec's */
	CUgraphNode n3;
	OK(cuGraphAddKernelNode(&n3, g, NULL, 0, &k1));
	assert_int_equal(cuGraphExecKernelNodeSetParams(x, n3, &k1), CUDA_ERROR_INVALID_VALUE);

	OK(cuGraphDestroy(g));
	OK(cuGraphLaunch(x, s));	/* the exec outlives its graph */
	OK(cuGraphExecDestroy(x));
	assert_int_equal(cuGraphLaunch(x, s), CUDA_ERROR_INVALID_HANDLE);
	free(c);
	free(y);
	free(z);
	add_free(&t);
}

/* ---- faults ---- */

static void test_fail_alloc(void **state)
{
	(void)state;
	CUdeviceptr p;

	use_log();
	setenv("CUDA_DOUBLE_FAIL_ALLOC_AT", "2", 1);
	up();
	OK(cuMemAlloc(&p, 16));
	assert_int_equal(cuMemAlloc(&p, 16), CUDA_ERROR_OUT_OF_MEMORY);
	OK(cuMemAlloc(&p, 16));
	assert_true(logged("fault dev=0 kind=alloc reason=CUDA_DOUBLE_FAIL_ALLOC_AT=2", NULL));
}

static void test_fail_launch(void **state)
{
	(void)state;
	struct add_case t;
	CUstream s;
	CUevent ev;

	use_log();
	setenv("CUDA_DOUBLE_FAIL_LAUNCH_AT", "2", 1);
	up();
	add_setup(&t, 100);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	OK(cuEventCreate(&ev, 0));
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));
	OK(cuStreamSynchronize(s));
	OK(cuMemcpyHtoD(t.dy, t.a, 4));	/* y[0] = a[0]: the failed launch leaves it */
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));	/* the 2nd: fails */
	OK(cuEventRecord(ev, s));
	assert_int_equal(cuEventQuery(ev), CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
	OK(cuStreamSynchronize(s));	/* reported once */
	float y0;
	OK(cuMemcpyDtoHAsync(&y0, t.dy, 4, s));
	assert_memory_equal(&y0, &t.a[0], 4);
	assert_true(logged("fault dev=0 kind=launch reason=CUDA_DOUBLE_FAIL_LAUNCH_AT=2", NULL));
	assert_true(logged("launch dev=0 entry=add_f32", "result=CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
			   NULL));
	/* not sticky: the third runs */
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));
	OK(cuStreamSynchronize(s));
	add_expect(t.a, t.b, t.dy, t.n);
	add_free(&t);
}

/* A sticky error: every call on the context returns it until the reset, which frees everything. */
static void expect_sticky_then_reset(struct add_case *t, CUstream s)
{
	CUdeviceptr p;
	CUstream s2;

	assert_int_equal(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_int_equal(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_int_equal(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_int_equal(cuMemAlloc(&p, 16), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_int_equal(cuMemcpyHtoD(t->da, t->a, 4), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_int_equal(cuStreamCreateWithPriority(&s2, 0, 0), CUDA_ERROR_ILLEGAL_ADDRESS);
	void *pp[] = { &t->da, &t->db, &t->dy, &t->n };
	assert_int_equal(cuLaunchKernel(t->f, 1, 1, 1, 32, 1, 1, 0, s, pp, NULL),
			 CUDA_ERROR_ILLEGAL_ADDRESS);
	OK(cuDevicePrimaryCtxReset(0));
	assert_true(logged("ctx_reset dev=0", NULL));
	/* usable again, and empty: the old memory, module and stream are gone */
	OK(cuMemAlloc(&p, 16));
	OK(cuCtxSynchronize());
	assert_int_equal(cuMemcpyHtoD(t->da, t->a, 4), CUDA_ERROR_INVALID_VALUE);
	assert_int_equal(cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
	CUfunction f;
	assert_int_equal(cuModuleGetFunction(&f, t->m, "add_f32"), CUDA_ERROR_INVALID_HANDLE);
	size_t fr, total;
	OK(cuMemGetInfo(&fr, &total));
	assert_int_equal(total - fr, 16);
}

static void test_sticky_at(void **state)
{
	(void)state;
	struct add_case t;
	CUstream s;

	use_log();
	setenv("CUDA_DOUBLE_STICKY_AT", "1", 1);
	up();
	add_setup(&t, 64);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));	/* asynchronous */
	assert_true(logged("fault dev=0 kind=sticky reason=CUDA_DOUBLE_STICKY_AT=1", NULL));
	expect_sticky_then_reset(&t, s);
	add_free(&t);
}

/* A kernel that really faults (n past the buffers): the interpreter's message in the log. */
static void test_kernel_fault(void **state)
{
	(void)state;
	struct add_case t;
	CUstream s;

	use_log();
	up();
	add_setup(&t, 64);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	uint64_t big = 100000;
	void *p[] = { &t.da, &t.db, &t.dy, &big };
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));
	assert_true(logged("launch dev=0 entry=add_f32", "result=CUDA_ERROR_ILLEGAL_ADDRESS", NULL));
	assert_true(logged("fault dev=0 kind=sticky reason=", "out-of-bounds", NULL));
	expect_sticky_then_reset(&t, s);
	add_free(&t);
}

/* embed_f32 over ids (B=2, T=3, D=8, no positions, no type): out = scale * table[id]. */
static CUresult run_embed(const int32_t *ids, CUstream s)
{
	enum { B = 2, T = 3, D = 8, V = 10 };
	CUmodule m = load_file("kernels/ptx/embed.ptx");
	CUfunction f;
	float table[V * D], out[B * T * D];
	CUdeviceptr dout, none = 0;
	uint32_t b = B, tt = T, d = D, kind = 0;
	float scale = 0.5f;

	OK(cuModuleGetFunction(&f, m, "embed_f32"));
	for (int i = 0; i < V * D; i++)
		table[i] = frand();
	CUdeviceptr dids = upload(ids, B * T * 4), dtab = upload(table, sizeof(table));
	OK(cuMemAlloc(&dout, sizeof(out)));
	void *p[] = { &dids, &dout, &dtab, &none, &none, &none, &b, &tt, &d, &kind, &scale };
	OK(cuLaunchKernel(f, B * T, 1, 1, 32, 1, 1, 0, s, p, NULL));
	CUresult r = cuStreamSynchronize(s);
	if (r == CUDA_SUCCESS) {
		OK(cuMemcpyDtoHAsync(out, dout, sizeof(out), s));
		for (int row = 0; row < B * T; row++)
			for (int i = 0; i < D; i++) {
				float want = scale * table[ids[row] * D + i];
				assert_memory_equal(&out[row * D + i], &want, 4);
			}
	}
	return r;
}

static void test_poison_id(void **state)
{
	(void)state;
	static const int32_t clean[6] = { 1, 2, 3, 4, 5, 6 }, dirty[6] = { 1, 2, 7, 4, 5, 6 };
	struct add_case t;
	CUstream s;

	use_log();
	setenv("CUDA_DOUBLE_POISON_ID", "7", 1);
	up();
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	OK(run_embed(clean, s));
	assert_int_equal(run_embed(dirty, s), CUDA_ERROR_ILLEGAL_ADDRESS);
	assert_true(logged("fault dev=0 kind=sticky reason=CUDA_DOUBLE_POISON_ID=7", NULL));
	assert_int_equal(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	OK(cuDevicePrimaryCtxReset(0));
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	add_setup(&t, 32);	/* other kernels are not concerned */
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	OK(cuLaunchKernel(t.f, 1, 1, 1, 32, 1, 1, 0, s, p, NULL));
	OK(cuStreamSynchronize(s));
	add_free(&t);
}

static void test_fail_id(void **state)
{
	(void)state;
	static const int32_t clean[6] = { 0, 0, 1, 1, 2, 2 }, dirty[6] = { 9, 0, 1, 1, 2, 2 };
	CUstream s;

	use_log();
	setenv("CUDA_DOUBLE_FAIL_ID", "9", 1);
	up();
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	assert_int_equal(run_embed(dirty, s), CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
	assert_true(logged("fault dev=0 kind=launch reason=CUDA_DOUBLE_FAIL_ID=9", NULL));
	OK(run_embed(clean, s));	/* not sticky */
}

/* Graph nodes count as executions too: the 2nd node of the 1st launch fails. */
static void test_graph_fault(void **state)
{
	(void)state;
	struct add_case t;
	CUgraph g;
	CUgraphNode n1, n2;
	CUgraphExec x;
	CUstream s;

	setenv("CUDA_DOUBLE_FAIL_LAUNCH_AT", "2", 1);
	up();
	add_setup(&t, 64);
	OK(cuStreamCreateWithPriority(&s, 0, 0));
	OK(cuGraphCreate(&g, 0));
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	CUDA_KERNEL_NODE_PARAMS k = add_node(t.f, p);
	OK(cuGraphAddKernelNode(&n1, g, NULL, 0, &k));
	OK(cuGraphAddKernelNode(&n2, g, &n1, 1, &k));
	OK(cuGraphInstantiateWithFlags(&x, g, 0));
	OK(cuGraphLaunch(x, s));
	assert_int_equal(cuStreamSynchronize(s), CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
	OK(cuGraphLaunch(x, s));
	OK(cuStreamSynchronize(s));
	add_expect(t.a, t.b, t.dy, t.n);
	add_free(&t);
}

/* The twin mode runs add_f32 in its twin, or in the interpreter when it has none. */
static void test_twin_mode(void **state)
{
	(void)state;
	struct add_case t;

	use_log();
	setenv("CUDA_DOUBLE_EXEC", "twin", 1);
	up();
	assert_true(logged("init devices=1 exec=twin", NULL));
	add_setup(&t, 300);
	void *p[] = { &t.da, &t.db, &t.dy, &t.n };
	OK(cuLaunchKernel(t.f, 2, 1, 1, 64, 1, 1, 0, NULL, p, NULL));
	OK(cuCtxSynchronize());
	add_expect(t.a, t.b, t.dy, t.n);
	assert_true(logged(cud_twin_has("add_f32") ? "mode=twin result=CUDA_SUCCESS" :
			   "mode=interp result=CUDA_SUCCESS", NULL));
	add_free(&t);
}

/* ---- threads ---- */

struct worker {
	CUcontext c;
	CUfunction f;
	int rounds, fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	enum { N = 256 };
	float a[N], b[N], y[N];
	uint64_t n = N;
	CUdeviceptr da, db, dy;
	CUstream s;

	for (int i = 0; i < N; i++) {
		a[i] = (float)i;
		b[i] = (float)(i * 3);
	}
	w->fails += cuCtxSetCurrent(w->c) != CUDA_SUCCESS;
	w->fails += cuStreamCreateWithPriority(&s, 0, 0) != CUDA_SUCCESS;
	w->fails += cuMemAlloc(&da, N * 4) | cuMemAlloc(&db, N * 4) | cuMemAlloc(&dy, N * 4);
	for (int r = 0; r < w->rounds; r++) {
		void *p[] = { &da, &db, &dy, &n };
		w->fails += cuMemcpyHtoDAsync(da, a, N * 4, s) != CUDA_SUCCESS;
		w->fails += cuMemcpyHtoDAsync(db, b, N * 4, s) != CUDA_SUCCESS;
		w->fails += cuLaunchKernel(w->f, 1, 1, 1, 64, 1, 1, 0, s, p, NULL) != CUDA_SUCCESS;
		w->fails += cuMemcpyDtoHAsync(y, dy, N * 4, s) != CUDA_SUCCESS;
		w->fails += cuStreamSynchronize(s) != CUDA_SUCCESS;
		for (int i = 0; i < N; i++)
			w->fails += y[i] != (float)(i * 4);
	}
	w->fails += cuMemFree(da) | cuMemFree(db) | cuMemFree(dy);
	w->fails += cuStreamDestroy(s) != CUDA_SUCCESS;
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	enum { THREADS = 4 };
	pthread_t th[THREADS];
	struct worker w[THREADS];
	CUcontext c[2];
	CUfunction f[2];

	setenv("CUDA_DOUBLE_DEVICES", "2", 1);
	OK(cuInit(0));
	for (int d = 0; d < 2; d++) {
		OK(cuDevicePrimaryCtxRetain(&c[d], d));
		OK(cuCtxSetCurrent(c[d]));
		CUmodule m = load_file("kernels/ptx/elementwise.ptx");
		OK(cuModuleGetFunction(&f[d], m, "add_f32"));
	}
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .c = c[i % 2], .f = f[i % 2], .rounds = 5 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
}

/* ---- the built library, loaded as polynetd loads it ---- */

static void test_shared_library(void **state)
{
	(void)state;
	const char *b = getenv("POLYNET_BUILD");
	char path[512];
	struct {
#define CUD_FIELD(name, ver, params) CUresult (*name) params;
		PND_CU_ENTRIES(CUD_FIELD)
#undef CUD_FIELD
	} api;
	static const struct {
		const char *name;
		int version;
		size_t off;
	} rows[] = {
#define CUD_ROWT(name, ver, params) { #name, ver, offsetof(__typeof__(api), name) },
		PND_CU_ENTRIES(CUD_ROWT)
#undef CUD_ROWT
	};

	snprintf(path, sizeof(path), "%s/rel/tests/cuda_double/libcuda.so.1", b && *b ? b : "build");
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		fail_msg("%s: %s", path, dlerror());
	void *sym = dlsym(dl, "cuGetProcAddress_v2");
	void *reset_sym = dlsym(dl, "cud_test_reset");
	assert_non_null(sym);
	assert_non_null(reset_sym);
	assert_null(dlsym(dl, "cuInit"));	/* only the two are exported */
	pnd_cuGetProcAddress_fn gp;
	void (*reset)(void);
	memcpy(&gp, &sym, sizeof(gp));
	memcpy(&reset, &reset_sym, sizeof(reset));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		void *fn = NULL;
		int st = -1;
		OK(gp(rows[i].name, &fn, PND_CU_ABI, CU_GET_PROC_ADDRESS_DEFAULT, &st));
		assert_int_equal(st, CU_GET_PROC_ADDRESS_SUCCESS);
		assert_non_null(fn);
		memcpy((char *)&api + rows[i].off, &fn, sizeof(fn));
	}
	void *fn;
	int st;
	assert_int_equal(gp("cuNoSuchThing", &fn, PND_CU_ABI, 0, &st), CUDA_ERROR_NOT_FOUND);
	assert_int_equal(st, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
	assert_int_equal(gp("cuGraphAddKernelNode", &fn, 11000, 0, &st), CUDA_ERROR_NOT_FOUND);
	assert_int_equal(st, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);

	/* its state is its own: this process's double is not initialised */
	int n, v;
	CUcontext c;
	CUdeviceptr p;
	assert_int_equal(api.cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	OK(api.cuInit(0));
	OK(api.cuDeviceGetCount(&n));
	assert_int_equal(n, 1);
	OK(api.cuDriverGetVersion(&v));
	assert_int_equal(v, 12080);
	OK(api.cuDevicePrimaryCtxRetain(&c, 0));
	OK(api.cuCtxSetCurrent(c));
	OK(api.cuMemAlloc(&p, 64));
	OK(api.cuMemFree(p));
	assert_int_equal(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
	reset();
	dlclose(dl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ptxi_additions, fresh, done),
		cmocka_unit_test_setup_teardown(test_init, fresh, done),
		cmocka_unit_test_setup_teardown(test_devices, fresh, done),
		cmocka_unit_test_setup_teardown(test_errors, fresh, done),
		cmocka_unit_test_setup_teardown(test_contexts, fresh, done),
		cmocka_unit_test_setup_teardown(test_host_func, fresh, done),
		cmocka_unit_test_setup_teardown(test_memory, fresh, done),
		cmocka_unit_test_setup_teardown(test_host_memory, fresh, done),
		cmocka_unit_test_setup_teardown(test_module, fresh, done),
		cmocka_unit_test_setup_teardown(test_jit_error_log, fresh, done),
		cmocka_unit_test_setup_teardown(test_launch, fresh, done),
		cmocka_unit_test_setup_teardown(test_dynamic_shared, fresh, done),
		cmocka_unit_test_setup_teardown(test_graph, fresh, done),
		cmocka_unit_test_setup_teardown(test_fail_alloc, fresh, done),
		cmocka_unit_test_setup_teardown(test_fail_launch, fresh, done),
		cmocka_unit_test_setup_teardown(test_sticky_at, fresh, done),
		cmocka_unit_test_setup_teardown(test_kernel_fault, fresh, done),
		cmocka_unit_test_setup_teardown(test_poison_id, fresh, done),
		cmocka_unit_test_setup_teardown(test_fail_id, fresh, done),
		cmocka_unit_test_setup_teardown(test_graph_fault, fresh, done),
		cmocka_unit_test_setup_teardown(test_twin_mode, fresh, done),
		cmocka_unit_test_setup_teardown(test_threads, fresh, done),
		cmocka_unit_test_setup_teardown(test_shared_library, fresh, done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
