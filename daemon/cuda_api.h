/* SPDX-License-Identifier: MIT */
/*
 * cuda_api.h - the part of the CUDA Driver API polynetd uses, declared here
 * so that the project builds where no CUDA is installed: the types, the
 * constants (values of CUDA 12's cuda.h, checked against the real header
 * where one exists by tests/integration/test_cuda_abi.sh) and the entry
 * points, resolved at run time from libcuda.so.1 (cuda_api.c).
 *
 * PND_CU_ENTRIES lists every entry point once: its name as cuGetProcAddress
 * knows it, the CUDA version that introduced the ABI declared here, and its
 * prototype. The loader asks the driver for each at PND_CU_ABI, so a newer
 * driver still hands out the ABI declared here (cuGraphAddKernelNode is its
 * _v2, cuMemAlloc its _v2...). The test double (tests/cuda_double/) exports
 * the same list.
 */
#ifndef PND_CUDA_API_H
#define PND_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#define PND_CU_ABI 12000		/* the cudaVersion every entry is resolved at */

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUkern_st *CUkernel;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphNode_st *CUgraphNode;
typedef struct CUgraphExec_st *CUgraphExec;
typedef int CUjit_option;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;
typedef void (*CUhostFn)(void *userData);
typedef struct { char bytes[16]; } CUuuid;

typedef struct {
	CUfunction func;
	unsigned int gridDimX, gridDimY, gridDimZ;
	unsigned int blockDimX, blockDimY, blockDimZ;
	unsigned int sharedMemBytes;
	void **kernelParams;
	void **extra;
	CUkernel kern;			/* NULL: func is used */
	CUcontext ctx;			/* NULL: the current context */
} CUDA_KERNEL_NODE_PARAMS;		/* cuda.h's CUDA_KERNEL_NODE_PARAMS_v2 */

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_NO_DEVICE = 100,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_INVALID_IMAGE = 200,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
	CUDA_ERROR_INVALID_PTX = 218,
	CUDA_ERROR_INVALID_HANDLE = 400,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_READY = 600,
	CUDA_ERROR_ILLEGAL_ADDRESS = 700,		/* sticky */
	CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,	/* not sticky */
	CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
	CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,		/* sticky */
	CUDA_ERROR_LAUNCH_FAILED = 719,			/* sticky */
	CUDA_ERROR_NOT_SUPPORTED = 801,
	CUDA_ERROR_UNKNOWN = 999,
};

enum {
	CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
	CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
	CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
	CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
	CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID = 50,
	CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
	CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
	CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

enum {
	CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
	CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
	CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
	CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum {
	CU_JIT_INFO_LOG_BUFFER = 3,
	CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
	CU_JIT_ERROR_LOG_BUFFER = 5,
	CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
	CU_JIT_LOG_VERBOSE = 12,
};

enum {
	CU_GET_PROC_ADDRESS_DEFAULT = 0,
	CU_GET_PROC_ADDRESS_SUCCESS = 0,
	CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND = 1,
	CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT = 2,
};

#define CU_STREAM_NON_BLOCKING 0x1
#define CU_EVENT_DISABLE_TIMING 0x2
#define CU_MEMHOSTALLOC_PORTABLE 0x01
#define CU_MEMHOSTREGISTER_PORTABLE 0x01
#define CU_MEMHOSTREGISTER_READ_ONLY 0x08

/* The one entry point found by dlsym; every other comes through it. */
typedef CUresult (*pnd_cuGetProcAddress_fn)(const char *symbol, void **pfn, int cudaVersion,
					    uint64_t flags, int *symbolStatus);
#define PND_CU_GETPROC_SYMBOL "cuGetProcAddress_v2"

#include "cuda_entries.h"

/* The resolved table: api->cuMemAlloc(...). */
struct pnd_cu {
	void *dl;
	int driver_version;		/* cuDriverGetVersion: 12040 is CUDA 12.4 */
	char path[256];			/* what was opened */
#define PND_CU_FIELD(name, ver, params) CUresult (*name) params;
	PND_CU_ENTRIES(PND_CU_FIELD)
#undef PND_CU_FIELD
};

struct pn_err;
/*
 * Opens the driver (path, or $POLYNET_LIBCUDA, or "libcuda.so.1"), resolves
 * every entry at PND_CU_ABI and checks the driver's version is at least it.
 * 0, -ENOENT (no library: e says what dlopen said) or -ENOSYS (a missing
 * entry or too old a driver, named in e). Does not call cuInit.
 */
int pnd_cu_load(struct pnd_cu *api, const char *path, struct pn_err *e);
void pnd_cu_unload(struct pnd_cu *api);
/* "CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)" into buf. */
const char *pnd_cu_strerror(const struct pnd_cu *api, CUresult r, char *buf, size_t len);
/* An error that leaves the context unusable until it is reset. */
int pnd_cu_sticky(CUresult r);

#endif /* PND_CUDA_API_H */
