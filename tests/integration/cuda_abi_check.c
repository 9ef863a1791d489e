// SPDX-License-Identifier: MIT
/*
 * cuda_abi_check.c - built twice by test_cuda_abi.sh: against
 * daemon/cuda_api.h (OURS) and against the toolkit's cuda.h (REAL). Both
 * print the same constants and struct layouts, and the two outputs must be
 * equal. With PROTOS (REAL, compiled only) every entry of cuda_entries.h is
 * assigned to a pointer of the prototype declared there: a prototype that
 * differs from cuda.h's is a compile error (-Werror).
 */
#include <stddef.h>
#include <stdio.h>

#ifdef REAL
#include <cuda.h>
#include "daemon/cuda_entries.h"
/* cuda.h's #defines map each name to the versioned ABI (cuMemAlloc_v2) */
#define CHECK_PROTO(name, ver, params) CUresult (*p_##name) params = name; (void)p_##name;
#else
#include "daemon/cuda_api.h"
#endif

#define C(x) printf("%s %lld\n", #x, (long long)(x))
#define L(t, f) printf("%s.%s %zu %zu\n", #t, #f, offsetof(t, f), sizeof(((t *)0)->f))

#ifdef PROTOS
/* compiled (-c), never linked: the toolkit's stub library is not needed */
void protos(void);
void protos(void)
{
	PND_CU_ENTRIES(CHECK_PROTO)
}
#endif

int main(void)
{
	C(CUDA_SUCCESS); C(CUDA_ERROR_INVALID_VALUE); C(CUDA_ERROR_OUT_OF_MEMORY);
	C(CUDA_ERROR_NOT_INITIALIZED); C(CUDA_ERROR_NO_DEVICE); C(CUDA_ERROR_INVALID_DEVICE);
	C(CUDA_ERROR_INVALID_IMAGE); C(CUDA_ERROR_INVALID_CONTEXT); C(CUDA_ERROR_NO_BINARY_FOR_GPU);
	C(CUDA_ERROR_INVALID_PTX); C(CUDA_ERROR_INVALID_HANDLE); C(CUDA_ERROR_NOT_FOUND);
	C(CUDA_ERROR_NOT_READY); C(CUDA_ERROR_ILLEGAL_ADDRESS); C(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
	C(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED); C(CUDA_ERROR_ILLEGAL_INSTRUCTION);
	C(CUDA_ERROR_LAUNCH_FAILED); C(CUDA_ERROR_NOT_SUPPORTED); C(CUDA_ERROR_UNKNOWN);
	C(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK); C(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
	C(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID); C(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID);
	C(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID); C(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
	C(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
	C(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
	C(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK); C(CU_FUNC_ATTRIBUTE_NUM_REGS);
	C(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES);
	C(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
	C(CU_JIT_INFO_LOG_BUFFER); C(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES); C(CU_JIT_ERROR_LOG_BUFFER);
	C(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES); C(CU_JIT_LOG_VERBOSE);
	C(CU_GET_PROC_ADDRESS_DEFAULT); C(CU_GET_PROC_ADDRESS_SUCCESS);
	C(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND); C(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
	C(CU_STREAM_NON_BLOCKING); C(CU_EVENT_DISABLE_TIMING); C(CU_MEMHOSTALLOC_PORTABLE);
	C(CU_MEMHOSTREGISTER_PORTABLE); C(CU_MEMHOSTREGISTER_READ_ONLY);
	C(sizeof(CUdeviceptr)); C(sizeof(CUuuid)); C(sizeof(CUdevice)); C(sizeof(CUresult));
	C(sizeof(CUDA_KERNEL_NODE_PARAMS));
	L(CUDA_KERNEL_NODE_PARAMS, func); L(CUDA_KERNEL_NODE_PARAMS, gridDimX);
	L(CUDA_KERNEL_NODE_PARAMS, blockDimZ); L(CUDA_KERNEL_NODE_PARAMS, sharedMemBytes);
	L(CUDA_KERNEL_NODE_PARAMS, kernelParams); L(CUDA_KERNEL_NODE_PARAMS, extra);
	L(CUDA_KERNEL_NODE_PARAMS, kern); L(CUDA_KERNEL_NODE_PARAMS, ctx);
	return 0;
}
