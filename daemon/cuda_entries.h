/* SPDX-License-Identifier: MIT */
/*
 * cuda_entries.h - every Driver API entry point polynetd uses, once:
 * X(name as cuGetProcAddress knows it, the CUDA version of the ABI declared
 * here, its parameters). Types only from cuda_api.h or, for the ABI check
 * (tests/integration/test_cuda_abi.sh), from the real cuda.h: this file
 * declares nothing itself.
 */
#ifndef PND_CUDA_ENTRIES_H
#define PND_CUDA_ENTRIES_H

/* X(name, version, (parameters)) */
#define PND_CU_ENTRIES(X) \
	X(cuInit, 2000, (unsigned int flags)) \
	X(cuDriverGetVersion, 2020, (int *version)) \
	X(cuGetErrorName, 6000, (CUresult err, const char **str)) \
	X(cuGetErrorString, 6000, (CUresult err, const char **str)) \
	X(cuDeviceGetCount, 2000, (int *count)) \
	X(cuDeviceGet, 2000, (CUdevice *dev, int ordinal)) \
	X(cuDeviceGetName, 2000, (char *name, int len, CUdevice dev)) \
	X(cuDeviceTotalMem, 3020, (size_t *bytes, CUdevice dev)) \
	X(cuDeviceGetAttribute, 2000, (int *value, CUdevice_attribute attrib, CUdevice dev)) \
	X(cuDeviceGetUuid, 11040, (CUuuid *uuid, CUdevice dev)) \
	X(cuDeviceGetPCIBusId, 4010, (char *busid, int len, CUdevice dev)) \
	X(cuDevicePrimaryCtxRetain, 7000, (CUcontext *ctx, CUdevice dev)) \
	X(cuDevicePrimaryCtxRelease, 11000, (CUdevice dev)) \
	X(cuDevicePrimaryCtxReset, 11000, (CUdevice dev)) \
	X(cuCtxSetCurrent, 4000, (CUcontext ctx)) \
	X(cuCtxSynchronize, 2000, (void)) \
	X(cuCtxGetStreamPriorityRange, 5050, (int *least, int *greatest)) \
	X(cuStreamCreateWithPriority, 5050, (CUstream *s, unsigned int flags, int priority)) \
	X(cuStreamDestroy, 4000, (CUstream s)) \
	X(cuStreamSynchronize, 2000, (CUstream s)) \
	X(cuStreamQuery, 2000, (CUstream s)) \
	X(cuEventCreate, 2000, (CUevent *ev, unsigned int flags)) \
	X(cuEventRecord, 2000, (CUevent ev, CUstream s)) \
	X(cuEventQuery, 2000, (CUevent ev)) \
	X(cuEventSynchronize, 2000, (CUevent ev)) \
	X(cuEventDestroy, 4000, (CUevent ev)) \
	X(cuMemGetInfo, 3020, (size_t *free_bytes, size_t *total_bytes)) \
	X(cuMemAlloc, 3020, (CUdeviceptr *dptr, size_t bytes)) \
	X(cuMemFree, 3020, (CUdeviceptr dptr)) \
	X(cuMemHostAlloc, 2020, (void **p, size_t bytes, unsigned int flags)) \
	X(cuMemFreeHost, 2000, (void *p)) \
	X(cuMemHostRegister, 6050, (void *p, size_t bytes, unsigned int flags)) \
	X(cuMemHostUnregister, 4000, (void *p)) \
	X(cuMemcpyHtoD, 3020, (CUdeviceptr dst, const void *src, size_t bytes)) \
	X(cuMemcpyHtoDAsync, 3020, (CUdeviceptr dst, const void *src, size_t bytes, CUstream s)) \
	X(cuMemcpyDtoHAsync, 3020, (void *dst, CUdeviceptr src, size_t bytes, CUstream s)) \
	X(cuModuleLoadDataEx, 2010, (CUmodule *mod, const void *image, unsigned int n_opts, \
				     CUjit_option *opts, void **vals)) \
	X(cuModuleUnload, 2000, (CUmodule mod)) \
	X(cuModuleGetFunction, 2000, (CUfunction *fn, CUmodule mod, const char *name)) \
	X(cuFuncGetAttribute, 2020, (int *value, CUfunction_attribute attrib, CUfunction fn)) \
	X(cuFuncSetAttribute, 9000, (CUfunction fn, CUfunction_attribute attrib, int value)) \
	X(cuLaunchKernel, 4000, (CUfunction fn, unsigned int gx, unsigned int gy, unsigned int gz, \
				 unsigned int bx, unsigned int by, unsigned int bz, \
				 unsigned int shared, CUstream s, void **params, void **extra)) \
	X(cuGraphCreate, 10000, (CUgraph *g, unsigned int flags)) \
	X(cuGraphAddKernelNode, 12000, (CUgraphNode *node, CUgraph g, const CUgraphNode *deps, \
					size_t n_deps, const CUDA_KERNEL_NODE_PARAMS *p)) \
	X(cuGraphInstantiateWithFlags, 11040, (CUgraphExec *x, CUgraph g, unsigned long long flags)) \
	X(cuGraphExecKernelNodeSetParams, 12000, (CUgraphExec x, CUgraphNode node, \
						  const CUDA_KERNEL_NODE_PARAMS *p)) \
	X(cuGraphLaunch, 10000, (CUgraphExec x, CUstream s)) \
	X(cuGraphExecDestroy, 10000, (CUgraphExec x)) \
	X(cuGraphDestroy, 10000, (CUgraph g)) \
	X(cuLaunchHostFunc, 10000, (CUstream s, CUhostFn fn, void *arg))

#endif /* PND_CUDA_ENTRIES_H */
