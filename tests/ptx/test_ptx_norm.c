// SPDX-License-Identifier: MIT
/*
 * test_ptx_norm.c - kernels/ptx/norm.ptx (layernorm_f32, rmsnorm_f32) run
 * in the PTX interpreter against their CPU twins pn_layernorm / pn_rmsnorm.
 *
 * Tolerance. The kernels round every output step as the CPU does; what
 * differs is the row sums: f32 here (per thread about d / ntid terms in
 * sequence, then 10 shuffle/shared levels), double in the CPU. With
 * k = d / ntid + 16 terms on any one summation path the f32 sum is off by at
 * most k u sum|x| (u = 2^-24), so the mean by k u mean|x| and the inverse
 * deviation by (k + 8) u relatively (variance sum, division, sqrt, rcp).
 * That gives, for element i, |y - y_cpu| <= |g| r ((k + 2) u mean|x| +
 * (k + 8) u |x - mean|) + 4 u |y| (the output's own roundings, both sides).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/kernels.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"

#define PTX_FILE "kernels/ptx/norm.ptx"
#define U 0x1p-24

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float frand(float lo, float hi)
{
	return ptx_frand(&rng, lo, hi);
}

static int setup(void **state)
{
	return ptx_suite_setup(state, PTX_FILE);
}

/* Row statistics in double, for the tolerance only. */
static void row_stats(const float *x, uint32_t d, double *mean, double *mabs, double *ms, double *var)
{
	double s = 0, a = 0, q = 0, v = 0;

	for (uint32_t i = 0; i < d; i++) {
		s += x[i];
		a += fabs(x[i]);
		q += (double)x[i] * x[i];
	}
	s /= d;
	for (uint32_t i = 0; i < d; i++)
		v += (x[i] - s) * (x[i] - s);
	*mean = s;
	*mabs = a / d;
	*ms = q / d;
	*var = v / d;
}

enum fill { RANDOM, OFFSET, ZEROS, CONSTANT, HUGE_VALS };

static void fill_rows(float *x, size_t n, enum fill f)
{
	for (size_t i = 0; i < n; i++)
		switch (f) {
		case RANDOM: x[i] = frand(-2.0f, 2.0f); break;
		case OFFSET: x[i] = 100.0f + frand(-1.0f, 1.0f); break;
		case ZEROS: x[i] = 0.0f; break;
		case CONSTANT: x[i] = 7.25f; break;
		case HUGE_VALS: x[i] = frand(-1e15f, 1e15f); break;
		}
}

/*
 * One layernorm or rmsnorm case: rows x d, block threads, grid CTAs (may be
 * fewer than rows: the row loop), mis bytes of misalignment of every buffer.
 */
static void norm_case(struct ptx_suite *e, int rms, uint32_t rows, uint32_t d, uint32_t block,
		      uint32_t grid, unsigned mis, enum fill f)
{
	size_t n = (size_t)rows * d;
	float *x = malloc(n * 4), *y = malloc(n * 4), *ref = malloc(n * 4);
	float *g = malloc(d * 4), *b = malloc(d * 4), eps = 1e-5f;
	double k = (double)(d / block) + 16;

	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(ref);
	assert_non_null(g);
	assert_non_null(b);
	fill_rows(x, n, f);
	for (uint32_t i = 0; i < d; i++) {
		g[i] = frand(0.5f, 1.5f);
		b[i] = frand(-0.5f, 0.5f);
	}
	uint64_t dx = ptx_upload(e->d, x, n * 4, mis), dg = ptx_upload(e->d, g, d * 4, mis);
	uint64_t db = ptx_upload(e->d, b, d * 4, mis), dy = ptx_upload(e->d, x, n * 4, mis);
	if (rms) {
		void *p[] = { &dx, &dy, &dg, &rows, &d, &eps };

		ptx_launch1(e, "rmsnorm_f32", grid, block, p, 6);
		pn_rmsnorm(x, rows, d, g, eps, ref);
	} else {
		void *p[] = { &dx, &dy, &dg, &db, &rows, &d, &eps };

		ptx_launch1(e, "layernorm_f32", grid, block, p, 7);
		pn_layernorm(x, rows, d, g, b, eps, ref);
	}
	ptx_download(e->d, dy, y, n * 4);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		double mean, mabs, ms, var, tol;

		row_stats(xr, d, &mean, &mabs, &ms, &var);
		for (uint32_t i = 0; i < d; i++) {
			size_t j = (size_t)r * d + i;

			if (rms)
				tol = (k + 6) * U * fabs(xr[i] * g[i]) / sqrt(ms + eps) + 4 * U * fabs(ref[j]);
			else
				tol = fabs(g[i]) / sqrt(var + eps) *
				      ((k + 2) * U * mabs + (k + 8) * U * fabs(xr[i] - mean)) +
				      4 * U * fabs(ref[j]);
			if (!(fabs((double)y[j] - ref[j]) <= tol))
				fail_msg("%s d=%u block=%u mis=%u fill=%d row %u col %u: %.9g, cpu %.9g (tol %.3g)",
					 rms ? "rmsnorm" : "layernorm", d, block, mis, f, r, i, y[j], ref[j], tol);
		}
	}
	free(x);
	free(y);
	free(ref);
	free(g);
	free(b);
}

static const uint32_t dims[] = { 1, 3, 31, 64, 384, 1000 };
static const uint32_t blocks[] = { 32, 128, 256 };

static void sweep(void **state, int rms)
{
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		for (size_t j = 0; j < sizeof(blocks) / sizeof(blocks[0]); j++) {
			/* 3 rows: with d % 4 != 0, rows 1 and 2 start unaligned (scalar path) */
			norm_case(*state, rms, 3, dims[i], blocks[j], 3, 0, RANDOM);
			norm_case(*state, rms, 3, dims[i], blocks[j], 3, 4, RANDOM);
		}
}

static void test_layernorm_random(void **state)
{
	sweep(state, 0);
}

static void test_rmsnorm_random(void **state)
{
	sweep(state, 1);
}

/* Zero and constant rows (variance 0: y = b), a large common offset, huge values, fewer CTAs than rows. */
static void test_edges(void **state)
{
	for (int rms = 0; rms <= 1; rms++) {
		norm_case(*state, rms, 2, 384, 128, 2, 0, ZEROS);
		norm_case(*state, rms, 2, 31, 64, 2, 0, CONSTANT);
		norm_case(*state, rms, 2, 1000, 256, 2, 0, OFFSET);
		norm_case(*state, rms, 2, 1000, 256, 2, 0, HUGE_VALS);
		norm_case(*state, rms, 7, 64, 32, 3, 0, RANDOM);
		norm_case(*state, rms, 5, 3, 1024, 2, 8, RANDOM);
	}
}

/*
 * The float4 body is taken where the buffers allow it: the same row runs in
 * clearly fewer instructions aligned than 4 bytes off, where every access
 * is scalar.
 */
static void test_vector_path(void **state)
{
	struct ptx_suite *e = *state;
	uint32_t rows = 1, d = 1024;
	float *x = malloc(d * 4), *g = malloc(d * 4), eps = 1e-5f;
	uint64_t count[2];

	assert_non_null(x);
	assert_non_null(g);
	for (uint32_t i = 0; i < d; i++) {
		x[i] = frand(-1.0f, 1.0f);
		g[i] = 1.0f;
	}
	for (unsigned mis = 0; mis <= 4; mis += 4) {
		uint64_t dx = ptx_upload(e->d, x, d * 4, mis), dg = ptx_upload(e->d, g, d * 4, mis);
		uint64_t dy = ptx_upload(e->d, x, d * 4, mis);
		void *p[] = { &dx, &dy, &dg, &rows, &d, &eps };
		struct ptxi_stats st;

		ptx_launch1(e, "rmsnorm_f32", 1, 128, p, 6);
		ptxi_last_stats(e->m, &st);
		count[mis / 4] = st.instructions;
	}
	/* 2 passes of 8 loads per thread instead of 2 of 2 vector loads: well under 3/4 */
	if (!(count[0] * 4 < count[1] * 3))
		fail_msg("aligned %llu instructions, unaligned %llu", (unsigned long long)count[0],
			 (unsigned long long)count[1]);
	free(x);
	free(g);
}

/* A constant row normalises to exactly beta; a zero row under RMSNorm to exactly 0. */
static void test_exact_rows(void **state)
{
	struct ptx_suite *e = *state;
	uint32_t rows = 1, d = 5;
	float x[5] = { 3, 3, 3, 3, 3 }, g[5] = { 1, 2, 3, 4, 5 }, b[5] = { -1, 0.5f, 2, 0, 9 };
	float y[5], eps = 1e-6f;
	uint64_t dx = ptx_upload(e->d, x, sizeof(x), 0), dg = ptx_upload(e->d, g, sizeof(g), 0);
	uint64_t db = ptx_upload(e->d, b, sizeof(b), 0), dy = ptx_upload(e->d, x, sizeof(x), 0);
	void *p[] = { &dx, &dy, &dg, &db, &rows, &d, &eps };

	ptx_launch1(e, "layernorm_f32", 1, 32, p, 7);
	ptx_download(e->d, dy, y, sizeof(y));
	for (int i = 0; i < 5; i++)
		assert_true(y[i] == b[i]);
	memset(x, 0, sizeof(x));
	assert_int_equal(ptxi_write(e->d, dx, x, sizeof(x)), 0);
	void *q[] = { &dx, &dy, &dg, &rows, &d, &eps };

	ptx_launch1(e, "rmsnorm_f32", 1, 64, q, 6);
	ptx_download(e->d, dy, y, sizeof(y));
	for (int i = 0; i < 5; i++)
		assert_true(y[i] == 0.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layernorm_random),
		cmocka_unit_test(test_rmsnorm_random),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_exact_rows),
		cmocka_unit_test(test_vector_path),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
