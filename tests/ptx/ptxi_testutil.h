/* SPDX-License-Identifier: MIT */
/*
 * ptxi_testutil.h - helpers of the interpreter's own suites
 * (tests/ptx/test_ptx_interp*.c): load a kernel from text, check it with
 * ptxas when ptxas is installed, and launch it with a list of params.
 */
#ifndef PTXI_TESTUTIL_H
#define PTXI_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/ptx/ptxi.h"

#define PTXAS "/usr/local/cuda/bin/ptxas"

/* The text must be valid PTX too: ptxas for sm_80 accepts it (skipped without ptxas). */
static inline void ptxt_ptxas_ok(const char *text, const char *tag)
{
	char path[64], cmd[256];
	if (access(PTXAS, X_OK))
		return;
	snprintf(path, sizeof path, "/tmp/ptxi_test_%d_%.20s.ptx", (int)getpid(), tag);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, PTXAS " -arch=sm_80 -o /dev/null %s", path);
	int rc = system(cmd);
	if (rc)
		fprintf(stderr, "ptxas rejects %s\n", path);
	else
		unlink(path);
	assert_int_equal(rc, 0);
}

static inline struct ptxi_module *ptxt_load(const char *text, const char *tag)
{
	struct ptxi_module *m = NULL;
	struct ptxi_err e;
	int rc = ptxi_load_text(text, tag, &m, &e);
	if (rc)
		fprintf(stderr, "load: %s\n", e.msg);
	assert_int_equal(rc, 0);
	ptxt_ptxas_ok(text, tag);
	return m;
}

/* Runs kernel over grid x block with n params (pointers to their values). */
static inline int ptxt_run(struct ptxi_module *m, struct ptxi_dev *d, const char *kernel,
			   uint32_t gx, uint32_t bx, uint32_t by, uint32_t dyn, struct ptxi_err *e,
			   uint32_t n, void *const *params)
{
	struct ptxi_launch l = { .grid = { gx, 1, 1 }, .block = { bx, by, 1 }, .dyn_shared = dyn,
				 .params = params, .n_params = n };
	int rc = ptxi_run(m, d, kernel, &l, e);
	if (rc)
		fprintf(stderr, "run: %s\n", e->msg);
	return rc;
}

#endif /* PTXI_TESTUTIL_H */
