/* SPDX-License-Identifier: MIT */
/*
 * ptxi.h - a PTX interpreter for PolyNet's own hand-written kernels
 * (kernels/ptx/), a test tool: it runs them on the CPU so that `make test`
 * checks every kernel against its CPU twin (lib/cpu/) with no GPU.
 *
 * The dialect is ours and small (docs/ptx_dialect.md lists it): ptxi_load
 * refuses anything outside it with "file:line: ...". A launch runs every
 * thread of every CTA, with real bar.sync semantics; warp collectives
 * (shfl.sync, vote.sync, mma.sync, ldmatrix) execute once every lane named
 * in the member mask has arrived, and the masks are checked. Errors name the
 * kernel, the CTA and thread, the instruction and its file:line:
 *  - a read of a register never written;
 *  - a global, shared, local or param access outside what exists;
 *  - a barrier that not every thread of the CTA reaches (divergence);
 *  - a collective whose lanes disagree on the mask.
 * Approximate instructions (ex2.approx, rcp.approx, rsqrt.approx,
 * sqrt.approx, tanh.approx, lg2.approx, sin/cos.approx) are computed
 * exactly, then perturbed within the documented bound, so that a kernel's
 * test tolerance has to allow for them.
 *
 * Threading: one launch at a time per module; nothing is shared between
 * modules or devices.
 */
#ifndef PTXI_H
#define PTXI_H

#include <stddef.h>
#include <stdint.h>

struct ptxi_err {
	char msg[512];
};

struct ptxi_module;
struct ptxi_dev;

/* Parses a .ptx file (its .entry kernels). 0, or -EINVAL with e->msg. */
int ptxi_load(const char *path, struct ptxi_module **out, struct ptxi_err *e);
/* The same from text; name is used in messages as the file name. */
int ptxi_load_text(const char *text, const char *name, struct ptxi_module **out,
		   struct ptxi_err *e);
void ptxi_free(struct ptxi_module *m);
/*
 * The .param list of entry kernel, in declaration order: *n of them, each
 * sizes[i] bytes aligned to aligns[i] (what cuLaunchKernel reads from
 * kernelParams[i]); at most cap are written. 0, or -ENOENT for no such
 * kernel, -ENOSPC when it has more than cap (*n still set).
 */
int ptxi_entry_params(const struct ptxi_module *m, const char *kernel, uint32_t *n,
		      uint32_t *sizes, uint32_t *aligns, uint32_t cap);

/*
 * The global address space of one simulated device. Addresses are never 0
 * and every allocation is bounds-checked on access (a gap separates them).
 */
struct ptxi_dev *ptxi_dev_new(void);
void ptxi_dev_free(struct ptxi_dev *d);
uint64_t ptxi_alloc(struct ptxi_dev *d, size_t bytes);	/* 0: out of memory */
int ptxi_write(struct ptxi_dev *d, uint64_t addr, const void *src, size_t n);
int ptxi_read(struct ptxi_dev *d, uint64_t addr, void *dst, size_t n);
/*
 * Frees the allocation that starts at addr: later accesses to its range
 * fault, as after cuMemFree (addresses are never reused). 0, or -EINVAL
 * when addr is not the start of a live allocation.
 */
int ptxi_dev_release(struct ptxi_dev *d, uint64_t addr);

struct ptxi_launch {
	uint32_t grid[3];		/* CTAs, x y z (0 counts as 1) */
	uint32_t block[3];		/* threads per CTA, x y z (0 counts as 1) */
	uint32_t dyn_shared;		/* bytes of extern .shared, as cuLaunchKernel's */
	/* as cuLaunchKernel's kernelParams: params[i] points at parameter i's value */
	void *const *params;
	uint32_t n_params;		/* must equal the kernel's declared count */
};

/*
 * Runs kernel over the launch on d. 0, or -errno with e->msg naming the
 * kernel, CTA, thread, instruction and file:line of the first fault.
 */
int ptxi_run(struct ptxi_module *m, struct ptxi_dev *d, const char *kernel,
	     const struct ptxi_launch *l, struct ptxi_err *e);

/* Counters of the last ptxi_run, for tests and reports. */
struct ptxi_stats {
	uint64_t instructions;		/* executed, summed over threads */
	uint64_t barriers;		/* bar.sync completions, per CTA */
	uint64_t collectives;		/* warp collectives completed */
};
void ptxi_last_stats(const struct ptxi_module *m, struct ptxi_stats *st);

/*
 * Instructions one launch may execute (summed over threads) before it
 * fails as a runaway loop; 0 restores the default (4e9).
 */
void ptxi_set_budget(struct ptxi_module *m, uint64_t instructions);

/*
 * The race check: a fault when two threads of different warps touch a
 * shared byte between two barriers, one of them writing, or when a CTA
 * reads or changes a global byte another CTA wrote in the same launch
 * (what it does not see: docs/ptx_dialect.md). On by default, or as PTXI_RACE_CHECK=0/1 in the
 * environment says; a call here overrides both for the module.
 */
void ptxi_set_race_check(struct ptxi_module *m, int on);

#endif /* PTXI_H */
