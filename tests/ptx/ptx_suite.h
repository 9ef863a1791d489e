/* SPDX-License-Identifier: MIT */
/*
 * ptx_suite.h - the scaffolding shared by the kernel suites
 * (tests/ptx/test_ptx_<kernel>.c), which run a kernels/ptx/<file>.ptx in the
 * PTX interpreter against its CPU twin:
 *  - struct ptx_suite, the cmocka group state: the loaded module and, for
 *    the suites that keep one device for all their tests, that device;
 *    ptx_suite_setup() / ptx_suite_setup_module() (no device: the suite
 *    makes a fresh one per run) and ptx_suite_teardown(), to be called from
 *    each suite's own setup / teardown;
 *  - the two seeded xorshift generators of the suites, with their uniform
 *    float mappings (a suite keeps its own seed and generator, so its
 *    inputs do not depend on the other suites);
 *  - device copies (ptx_upload, ptx_download) and a launch that fails the
 *    test with the interpreter's message (ptx_launch, ptx_launch_on).
 * Static inline only: every test_*.c is its own binary (see the Makefile).
 * Include after <cmocka.h>.
 */
#ifndef PTX_SUITE_H
#define PTX_SUITE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/ptx/ptxi.h"

struct ptx_suite {
	struct ptxi_module *m;
	struct ptxi_dev *d;	/* NULL after ptx_suite_setup_module() */
};

static inline int ptx_suite_open(void **state, const char *ptx_file, int with_dev)
{
	struct ptx_suite *s = calloc(1, sizeof(*s));
	struct ptxi_err err;

	if (!s)
		return -1;
	if (ptxi_load(ptx_file, &s->m, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		free(s);
		return -1;
	}
	if (with_dev && !(s->d = ptxi_dev_new())) {
		ptxi_free(s->m);
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* Loads ptx_file and makes the device every test of the group shares. */
static inline int ptx_suite_setup(void **state, const char *ptx_file)
{
	return ptx_suite_open(state, ptx_file, 1);
}

/* Loads ptx_file only: the suite makes a device per run. */
static inline int ptx_suite_setup_module(void **state, const char *ptx_file)
{
	return ptx_suite_open(state, ptx_file, 0);
}

static inline int ptx_suite_teardown(void **state)
{
	struct ptx_suite *s = *state;

	if (!s)		/* setup failed */
		return 0;
	ptxi_dev_free(s->d);
	ptxi_free(s->m);
	free(s);
	*state = NULL;
	return 0;
}

/* xorshift64 (13, 7, 17): the next state. */
static inline uint64_t ptx_rng64(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform in [lo, hi): the top 24 bits of the next xorshift64 state. */
static inline float ptx_frand(uint64_t *s, float lo, float hi)
{
	return lo + (hi - lo) * (float)((ptx_rng64(s) >> 40) * 0x1p-24);
}

/* xorshift32 (13, 17, 5): the next state. */
static inline uint32_t ptx_rng32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Uniform in [-1, 1): the top 24 bits of the next xorshift32 state. */
static inline float ptx_unit32(uint32_t *s)
{
	return (float)(ptx_rng32(s) >> 8) / (float)(1u << 23) - 1.0f;
}

/* A device copy of bytes at an address that is `misalign` bytes past a 16-byte boundary. */
static inline uint64_t ptx_upload(struct ptxi_dev *d, const void *src, size_t bytes,
				  unsigned misalign)
{
	uint64_t a = ptxi_alloc(d, bytes + 32);

	assert_true(a != 0);
	a = ((a + 15) & ~(uint64_t)15) + misalign;
	assert_int_equal(ptxi_write(d, a, src, bytes), 0);
	return a;
}

static inline void ptx_download(struct ptxi_dev *d, uint64_t addr, void *dst, size_t bytes)
{
	assert_int_equal(ptxi_read(d, addr, dst, bytes), 0);
}

/* Runs kernel of m on d; a failure fails the test with "kernel: message". */
static inline void ptx_launch_on(struct ptxi_module *m, struct ptxi_dev *d, const char *kernel,
				 const struct ptxi_launch *l)
{
	struct ptxi_err err;

	if (ptxi_run(m, d, kernel, l, &err))
		fail_msg("%s: %s", kernel, err.msg);
}

/* Runs kernel on the suite's device over grid x block with n params (pointers to their values). */
static inline void ptx_launch(struct ptx_suite *s, const char *kernel, const uint32_t grid[3],
			      const uint32_t block[3], uint32_t dyn_shared, void *const *params,
			      uint32_t n)
{
	struct ptxi_launch l = { .grid = { grid[0], grid[1], grid[2] },
				 .block = { block[0], block[1], block[2] },
				 .dyn_shared = dyn_shared, .params = params, .n_params = n };

	ptx_launch_on(s->m, s->d, kernel, &l);
}

/* ptx_launch over a 1-D grid of 1-D blocks, no dynamic shared memory. */
static inline void ptx_launch1(struct ptx_suite *s, const char *kernel, uint32_t grid,
			       uint32_t block, void *const *params, uint32_t n)
{
	ptx_launch(s, kernel, (const uint32_t[3]){ grid, 1, 1 }, (const uint32_t[3]){ block, 1, 1 },
		   0, params, n);
}

#endif /* PTX_SUITE_H */
