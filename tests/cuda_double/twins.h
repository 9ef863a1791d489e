/* SPDX-License-Identifier: MIT */
/*
 * twins.h - the CPU twins of the kernels of kernels/ptx/, by .entry name:
 * what the Driver API double (tests/cuda_double/) runs instead of the PTX
 * interpreter when CUDA_DOUBLE_EXEC=twin, for suites that need speed (64
 * clients). A twin computes what its kernel computes, from the same
 * parameters (cuLaunchKernel's kernelParams) and the same global memory,
 * in plain C; tests/ptx/test_twins.c checks each against the interpreter
 * running the kernel itself.
 *
 * Threading: reentrant; a twin touches only the memory its parameters name.
 */
#ifndef CUD_TWINS_H
#define CUD_TWINS_H

#include <stddef.h>
#include <stdint.h>

struct ptxi_dev;

/*
 * Runs entry's twin over one launch whose parameters already passed the
 * .param checks (count, sizes): params[i] points at parameter i's value.
 * Pointers among them are addresses of d (ptxi_alloc). The launch shape is
 * given so that a twin can refuse one its kernel would not accept (a block
 * size the kernel assumes).
 * 0; -ENOENT when entry has no twin; -EFAULT when a range the parameters
 * name lies outside d's allocations, -EINVAL for a shape the kernel does not
 * take; msg (msg_len bytes, NUL-terminated) names the entry, the parameter
 * and what was expected.
 */
int cud_twin_run(struct ptxi_dev *d, const char *entry, const uint32_t grid[3],
		 const uint32_t block[3], uint32_t dyn_shared, void *const *params,
		 uint32_t n_params, char *msg, size_t msg_len);

/* 1 when entry has a twin. */
int cud_twin_has(const char *entry);

#endif /* CUD_TWINS_H */
