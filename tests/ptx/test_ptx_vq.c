// SPDX-License-Identifier: MIT
/*
 * test_ptx_vq: kernels/ptx/vq.ptx (vq_assign, vq_gather) run in the PTX interpreter
 * against its CPU twin pn_vq_assign and the plain double twin
 * pn_ref_vq_assign: K 1, 7, 64 (and 65: three codes per lane), D 1, 5, 33,
 * rows 1 to 70 over blocks of 1 to 8 warps, duplicated codes (exact ties),
 * rows equal to a code, a NaN row, and dist2 on and off.
 *
 * What is asserted, and why not "codes equal": the kernel's dot products
 * run in a different order from the twin's GEMM, so on a near tie the two
 * may pick different codes, both right to float accuracy. So:
 *  - the kernel's code c is near optimal: its exact (double) distance is
 *    within tol of the exact minimum, tol = 2 D 2^-24 (||x||^2 + ||e||^2 +
 *    2 sum |x_i e_i|) maximised over the codes plus 1e-7: a bound on the
 *    rounding of d_k = ||e||^2 - 2 x.e summed in float (D terms, relative
 *    error below D 2^-24 each way) on both codes compared;
 *  - where the twin or the reference picked another code, that code is
 *    within the same tol of c's distance (a near tie, not a wrong answer);
 *  - on an exact tie (a code duplicated bit for bit) the kernel computes the
 *    same d for both copies, so it must return the lower index: c is never
 *    a copy of an earlier code;
 *  - dist2 = ||x - e_c||^2 to tol (the kernel adds ||x||^2 in float).
 * vq_gather only copies floats: it must equal pn_vq_gather bit for bit.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/poly.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"

#define PTX_FILE "kernels/ptx/vq.ptx"

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

static void run_vq(struct ptx_suite *f, const float *x, uint32_t rows, uint32_t D,
		   const float *cb, const float *enorm, uint32_t K, int32_t *codes,
		   float *dist2, uint32_t warps)
{
	struct ptxi_dev *d = ptxi_dev_new();
	uint64_t a_x, a_cb, a_en, a_codes, a_d2 = 0;

	assert_non_null(d);
	a_x = ptxi_alloc(d, (size_t)rows * D * sizeof(float));
	a_cb = ptxi_alloc(d, (size_t)K * D * sizeof(float));
	a_en = ptxi_alloc(d, K * sizeof(float));
	a_codes = ptxi_alloc(d, rows * sizeof(int32_t));
	if (dist2)
		a_d2 = ptxi_alloc(d, rows * sizeof(float));
	assert_true(a_x && a_cb && a_en && a_codes && (!dist2 || a_d2));
	assert_int_equal(ptxi_write(d, a_x, x, (size_t)rows * D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_cb, cb, (size_t)K * D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_en, enorm, K * sizeof(float)), 0);

	void *params[] = { &a_x, &rows, &D, &a_cb, &a_en, &K, &a_codes, &a_d2 };
	struct ptxi_launch l = {
		.grid = { (rows + warps - 1) / warps, 1, 1 }, .block = { 32 * warps, 1, 1 },
		.params = params, .n_params = 8,
	};

	ptx_launch_on(f->m, d, "vq_assign", &l);
	ptx_download(d, a_codes, codes, rows * sizeof(int32_t));
	if (dist2)
		ptx_download(d, a_d2, dist2, rows * sizeof(float));
	ptxi_dev_free(d);
}

static double dist_exact(const float *x, const float *e, uint32_t D)
{
	double s = 0;

	for (uint32_t i = 0; i < D; i++)
		s += ((double)x[i] - e[i]) * ((double)x[i] - e[i]);
	return s;
}

/* The rounding bound of the header, over all K codes of row x. */
static double row_tol(const float *x, const float *cb, const float *enorm, uint32_t K, uint32_t D)
{
	double xx = 0, worst = 0;

	for (uint32_t i = 0; i < D; i++)
		xx += (double)x[i] * x[i];
	for (uint32_t k = 0; k < K; k++) {
		double s = xx + enorm[k];

		for (uint32_t i = 0; i < D; i++)
			s += 2 * fabs((double)x[i] * cb[(size_t)k * D + i]);
		worst = s > worst ? s : worst;
	}
	return 2.0 * D * ldexp(worst, -24) + 1e-7;
}

/*
 * One case: codebook cb [K, D] (copies allowed), rows x; nan_row >= 0
 * makes that row NaN (code 0, dist2 0, as the twin).
 */
static void check(struct ptx_suite *f, const float *x, uint32_t rows, uint32_t D,
		  const float *cb, uint32_t K, uint32_t warps, int nan_row)
{
	float *enorm = malloc(K * sizeof(float)), *d2 = malloc(rows * sizeof(float));
	float *tscr = malloc(pn_vq_scratch(K) * sizeof(float)), *td2 = malloc(rows * sizeof(float));
	int32_t *codes = malloc(rows * sizeof(int32_t)), *tw = malloc(rows * sizeof(int32_t));
	int32_t *ref = malloc(rows * sizeof(int32_t)), *codes2 = malloc(rows * sizeof(int32_t));

	assert_true(enorm && d2 && tscr && td2 && codes && tw && ref && codes2);
	for (uint32_t k = 0; k < K; k++) {
		float s = 0;

		for (uint32_t i = 0; i < D; i++)
			s += cb[(size_t)k * D + i] * cb[(size_t)k * D + i];
		enorm[k] = s;
	}
	run_vq(f, x, rows, D, cb, enorm, K, codes, d2, warps);
	run_vq(f, x, rows, D, cb, enorm, K, codes2, NULL, warps);
	pn_vq_assign(x, rows, D, cb, enorm, K, tw, td2, tscr);
	pn_ref_vq_assign(x, rows, D, cb, K, ref, NULL);

	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * D;
		int32_t c = codes[r];

		assert_int_equal(codes2[r], c);	/* dist2 or not, the same code */
		if ((int)r == nan_row) {
			assert_int_equal(c, 0);
			assert_int_equal(tw[r], 0);
			assert_true(d2[r] == 0.0f);
			continue;
		}
		assert_true(c >= 0 && (uint32_t)c < K);
		double tol = row_tol(xr, cb, enorm, K, D), best = INFINITY;

		for (uint32_t k = 0; k < K; k++) {
			double dk = dist_exact(xr, cb + (size_t)k * D, D);

			best = dk < best ? dk : best;
		}
		double dc = dist_exact(xr, cb + (size_t)c * D, D);

		if (!(dc <= best + tol))
			fail_msg("K %u D %u row %u: code %d at %.9g, best %.9g (tol %.2g)",
				 K, D, r, c, dc, best, tol);
		if (!(fabs(dist_exact(xr, cb + (size_t)tw[r] * D, D) - dc) <= tol) ||
		    !(fabs(dist_exact(xr, cb + (size_t)ref[r] * D, D) - dc) <= tol))
			fail_msg("K %u D %u row %u: code %d, twin %d, reference %d not a near tie",
				 K, D, r, c, tw[r], ref[r]);
		for (int32_t k = 0; k < c; k++)
			if (!memcmp(cb + (size_t)k * D, cb + (size_t)c * D, D * sizeof(float)))
				fail_msg("K %u row %u: code %d is a copy of code %d: ties go low",
					 K, r, c, k);
		if (!(fabs(d2[r] - dc) <= tol))
			fail_msg("K %u D %u row %u: dist2 %.9g, exact %.9g", K, D, r, d2[r], dc);
	}
	free(enorm);
	free(d2);
	free(tscr);
	free(td2);
	free(codes);
	free(tw);
	free(ref);
	free(codes2);
}

static float *rand_buf(size_t n, uint32_t *seed)
{
	float *p = malloc(n * sizeof(float) + 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = ptx_unit32(seed);
	return p;
}

/* Random codebooks and rows: K 1, 7, 64, 65 x D 1, 5, 33, ragged rows and blocks. */
static void test_random(void **state)
{
	static const uint32_t Ks[] = { 1, 7, 64, 65 }, Ds[] = { 1, 5, 33 };
	static const uint32_t rows[] = { 1, 9, 70 }, warps[] = { 1, 4, 8 };
	uint32_t seed = 5;

	for (size_t i = 0; i < sizeof(Ks) / sizeof(*Ks); i++)
		for (size_t j = 0; j < sizeof(Ds) / sizeof(*Ds); j++) {
			uint32_t R = rows[(i + j) % 3];
			float *cb = rand_buf((size_t)Ks[i] * Ds[j], &seed);
			float *x = rand_buf((size_t)R * Ds[j], &seed);

			check(*state, x, R, Ds[j], cb, Ks[i], warps[(i + 2 * j) % 3], -1);
			free(cb);
			free(x);
		}
}

/*
 * Exact ties: every code of a 64-code book duplicated at a higher index
 * (k and k + 32 ... within and across lanes), rows equal to codes, and one
 * NaN row.
 */
static void test_ties_and_nan(void **state)
{
	enum { K = 64, D = 6, R = 20 };
	uint32_t seed = 9;
	float *cb = rand_buf((size_t)K * D, &seed), *x = rand_buf((size_t)R * D, &seed);

	for (uint32_t k = 32; k < K; k++)	/* copies in other lanes */
		memcpy(cb + (size_t)k * D, cb + (size_t)(k - 32) * D, D * sizeof(float));
	memcpy(cb + 1 * D, cb + 0 * D, D * sizeof(float));	/* copies in neighbour lanes */
	memcpy(cb + 6 * D, cb + 5 * D, D * sizeof(float));
	for (uint32_t r = 0; r < 8; r++)	/* rows right on a (duplicated) code */
		memcpy(x + (size_t)r * D, cb + (size_t)(40 + 3 * r) * D, D * sizeof(float));
	memcpy(x + 8 * D, cb + 1 * D, D * sizeof(float));
	memcpy(x + 9 * D, cb + 6 * D, D * sizeof(float));
	for (uint32_t i = 0; i < D; i++)
		x[10 * D + i] = NAN;
	check(*state, x, R, D, cb, K, 4, 10);
	free(cb);
	free(x);
}

/* Quantize (table = codebook, W = D) and cache (table [K, W]) gathers, ragged W. */
static void test_gather(void **state)
{
	static const uint32_t Ws[] = { 1, 7, 64, 100 };
	struct ptx_suite *f = *state;
	uint32_t seed = 61, K = 13, rows = 37;

	for (size_t i = 0; i < sizeof(Ws) / sizeof(*Ws); i++) {
		uint32_t W = Ws[i];
		float *table = rand_buf((size_t)K * W, &seed), *out = malloc((size_t)rows * W * 4);
		float *want = malloc((size_t)rows * W * 4);
		int32_t codes[37];
		struct ptxi_dev *d = ptxi_dev_new();
		uint64_t a_c, a_t, a_o;

		assert_true(out && want && d);
		for (uint32_t r = 0; r < rows; r++)
			codes[r] = (int32_t)(ptx_rng32(&seed) % K);
		codes[0] = 0;
		codes[1] = (int32_t)K - 1;	/* both ends of the table */
		a_c = ptxi_alloc(d, sizeof(codes));
		a_t = ptxi_alloc(d, (size_t)K * W * 4);
		a_o = ptxi_alloc(d, (size_t)rows * W * 4);
		assert_true(a_c && a_t && a_o);
		assert_int_equal(ptxi_write(d, a_c, codes, sizeof(codes)), 0);
		assert_int_equal(ptxi_write(d, a_t, table, (size_t)K * W * 4), 0);

		void *params[] = { &a_c, &rows, &a_t, &W, &a_o };
		struct ptxi_launch l = {
			.grid = { 3, 1, 1 }, .block = { 64, 1, 1 }, .params = params, .n_params = 5,
		};

		ptx_launch_on(f->m, d, "vq_gather", &l);
		ptx_download(d, a_o, out, (size_t)rows * W * 4);
		pn_vq_gather(codes, rows, table, W, want);
		assert_memory_equal(out, want, (size_t)rows * W * 4);
		ptxi_dev_free(d);
		free(table);
		free(out);
		free(want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_ties_and_nan),
		cmocka_unit_test(test_gather),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
