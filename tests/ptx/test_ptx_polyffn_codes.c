// SPDX-License-Identifier: MIT
/*
 * test_ptx_polyffn_codes.c - PolyFFN in codebook mode in the PTX
 * interpreter: kernels/ptx/polyffn_codes.ptx's polyffn_code_table over the
 * whole codebook, then kernels/ptx/vq.ptx's vq_gather, against the CPU twin
 * pn_polyffn_codes (which evaluates only the present codes), plain and
 * gated, odd and even series, with and without biases, ragged D and ff,
 * codes with repeats, K = 1 and codes hitting every row.
 *
 * Tolerance, per output element, derived from the data (in double, u =
 * 2^-24): each hidden pre-activation is a (D + 1)-term f32 sum on both sides
 * (the kernel's fma chain, pn_linear's order), within (D + 2) u S1 of exact,
 * S1 the sum of the terms' magnitudes; the series moves that by at most L
 * times (L = sc sum k^2 |c_k|, Markov's |T_k'| <= k^2; even form 4 sc sum
 * k^2 |c_k| + 1/2), plus its jump J at a range end when the input is that
 * close to a or b; the series itself is the twin's, bit for bit (same
 * input, same operations), so no Clenshaw term. Gated: h = S(g) up adds
 * |S(g)| times up's error and one rounding. The output sum: sum_c |W2_cd|
 * eh_c + (ff + 2) u S2. Each side is within that B of exact: 2 B allowed.
 * The gather is a copy: rows with the same code must be bit-identical.
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
#include "cpu/poly.h"
#include "ptxi.h"
#include "ptx_suite.h"
#include "uapi/pnb.h"

#define U 0x1p-24

struct fixture {
	struct ptxi_module *table, *vq;
	struct ptxi_dev *d;
};

static uint32_t rng_state = 0x2468aceu;

static float urand(void)	/* uniform in [-1, 1) */
{
	return ptx_unit32(&rng_state);
}

static int setup(void **state)
{
	static struct fixture f;
	struct ptxi_err e;

	if (ptxi_load("kernels/ptx/polyffn_codes.ptx", &f.table, &e) ||
	    ptxi_load("kernels/ptx/vq.ptx", &f.vq, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	f.d = ptxi_dev_new();
	*state = &f;
	return f.d ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	ptxi_dev_free(f->d);
	ptxi_free(f->table);
	ptxi_free(f->vq);
	return 0;
}

static uint64_t up(struct ptxi_dev *d, const void *src, size_t bytes)
{
	uint64_t a;

	if (!src)
		return 0;	/* an absent bias: the kernel's null */
	a = ptxi_alloc(d, bytes ? bytes : 4);
	assert_true(a != 0);
	assert_int_equal(ptxi_write(d, a, src, bytes), 0);
	return a;
}

static float *rvec(size_t n, float scale)
{
	float *p = malloc(n * sizeof(float) + 4);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = scale * urand();
	return p;
}

struct pcase {
	uint32_t rows, K, D, ff, gated, bias, even, block;
};

/* The exact pre-activation of hidden column col of codebook row xr, and its bound. */
static double dot1(const float *xr, uint32_t D, const float *W1, uint32_t hw, const float *b1,
		   uint32_t col, double *ev)
{
	double v = b1 ? b1[col] : 0, S = fabs(v);

	for (uint32_t i = 0; i < D; i++) {
		double t = (double)xr[i] * W1[(size_t)i * hw + col];

		v += t;
		S += fabs(t);
	}
	*ev = (D + 2) * U * S;
	return v;
}

static void codes_case(struct fixture *f, const struct pcase *c)
{
	uint32_t D = c->D, ff = c->ff, K = c->K, rows = c->rows, hw = c->gated ? 2 * ff : ff;
	float a = c->even ? -3.0f : -4.0f, b = c->even ? 3.0f : 4.0f;
	uint32_t degree = 8, nc = pn_cheb_ncoef(degree, c->even);
	float *cb = rvec((size_t)K * D, 1.0f), *coefs = malloc(nc * 4);
	float *W1 = rvec((size_t)D * hw, 6.0f / sqrtf((float)D));	/* inputs beyond [a, b] too */
	float *W2 = rvec((size_t)ff * D, 1.0f / sqrtf((float)ff));
	float *b1 = c->bias ? rvec(hw, 0.5f) : NULL, *b2 = c->bias ? rvec(D, 0.5f) : NULL;
	float *out = malloc((size_t)rows * D * 4 + 4), *cpu = malloc((size_t)rows * D * 4 + 4);
	int32_t *codes = malloc(rows * 4 + 4);
	struct pn_err err = { 0 };
	uint32_t n_present = 0;

	assert_true(coefs && out && cpu && codes);
	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, a, b, degree, c->even, 0, coefs, &err), 0);
	for (uint32_t r = 0; r < rows; r++)	/* repeats, and every code when rows >= K */
		codes[r] = (int32_t)(r < K ? (K - 1 - r) : (rng_state = rng_state * 1103515245u + 12345u) % K);
	struct pn_ffn_w w = { .D = D, .ff = ff, .gated = (int)c->gated, .W1 = W1, .b1 = b1,
			      .W2 = W2, .b2 = b2 };
	struct pn_cheb p = { .c = coefs, .degree = degree, .act = PNB_ACT_SILU, .even = c->even,
			     .a = a, .b = b };
	float *scr = malloc(pn_polyffn_codes_scratch(rows, K, D, ff, (int)c->gated) * 4 + 4);

	assert_non_null(scr);
	pn_polyffn_codes(NULL, codes, rows, cb, K, &w, &p, cpu, scr, &n_present);

	uint64_t a_cb = up(f->d, cb, (size_t)K * D * 4), a_tab = ptxi_alloc(f->d, (size_t)K * D * 4);
	uint64_t a_W1 = up(f->d, W1, (size_t)D * hw * 4), a_b1 = up(f->d, b1, hw * 4);
	uint64_t a_c = up(f->d, coefs, nc * 4), a_W2 = up(f->d, W2, (size_t)ff * D * 4);
	uint64_t a_b2 = up(f->d, b2, D * 4), a_codes = up(f->d, codes, rows * 4);
	uint64_t a_out = ptxi_alloc(f->d, (size_t)rows * D * 4);
	uint32_t even = c->even;

	assert_true(a_tab && a_out);
	void *tp[] = { &a_cb, &a_tab, &K, &D, &ff, (void *)&c->gated, &a_W1, &a_b1, &a_c, &degree,
		       &even, &a, &b, &a_W2, &a_b2 };
	struct ptxi_launch tl = { .grid = { K, 1, 1 }, .block = { c->block, 1, 1 },
				  .dyn_shared = (D + ff) * 4, .params = tp, .n_params = 15 };

	ptx_launch_on(f->table, f->d, "polyffn_code_table", &tl);
	void *gp[] = { &a_codes, &rows, &a_tab, &D, &a_out };
	struct ptxi_launch gl = { .grid = { 3, 1, 1 }, .block = { 64, 1, 1 }, .params = gp,
				  .n_params = 5 };

	ptx_launch_on(f->vq, f->d, "vq_gather", &gl);
	assert_int_equal(ptxi_read(f->d, a_out, out, (size_t)rows * D * 4), 0);

	/* bounds: series constants once, then per row */
	double sc = 2.0 / ((double)b - a), l = 0, L, J;

	for (uint32_t k = 0; k < nc; k++)
		l += (double)k * k * fabs(coefs[k]);
	L = c->even ? 4 * sc * l + 0.5 : sc * l;
	J = fmax(fabs(pn_ref_cheb1(&p, a)), fabs(pn_ref_cheb1(&p, b) - b)) + 1e-6;
	double *h = malloc((ff + 1) * sizeof(double)), *eh = malloc((ff + 1) * sizeof(double));

	assert_true(h && eh);
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = cb + (size_t)codes[r] * D;

		for (uint32_t j = 0; j < ff; j++) {
			double ev, v = dot1(xr, D, W1, hw, b1, j, &ev);

			h[j] = pn_ref_cheb1(&p, (float)v);
			eh[j] = L * ev;
			if (fabs(v - a) <= ev + 1e-30 || fabs(v - b) <= ev + 1e-30)
				eh[j] += J;
			if (c->gated) {
				double eu, uv = dot1(xr, D, W1, hw, b1, ff + j, &eu);

				eh[j] = eh[j] * fabs(uv) + fabs(h[j]) * eu;
				h[j] *= uv;
				eh[j] += U * fabs(h[j]);
			}
		}
		for (uint32_t d = 0; d < D; d++) {
			size_t i = (size_t)r * D + d;
			double y = b2 ? b2[d] : 0, S2 = fabs(y), ey = 0;

			for (uint32_t j = 0; j < ff; j++) {
				double wt = W2[(size_t)j * D + d];

				y += h[j] * wt;
				S2 += fabs(h[j] * wt);
				ey += fabs(wt) * eh[j];
			}
			double tol = 2 * (ey + (ff + 2) * U * S2) + 1e-30;

			if (!(fabs((double)out[i] - cpu[i]) <= tol))
				fail_msg("rows=%u K=%u D=%u ff=%u gated=%u bias=%u even=%u [%u,%u] "
					 "code %d: %.9g, pn_polyffn_codes %.9g, exact %.9g (tol %.3g)",
					 rows, K, D, ff, c->gated, c->bias, c->even, r, d, codes[r],
					 out[i], cpu[i], y, tol);
		}
		for (uint32_t q = 0; q < r; q++)	/* the gather copies: same code, same bits */
			if (codes[q] == codes[r])
				assert_memory_equal(out + (size_t)q * D, out + (size_t)r * D, D * 4);
	}
	assert_int_equal(n_present, rows < K ? rows : K);
	free(h);
	free(eh);
	free(cb);
	free(coefs);
	free(W1);
	free(W2);
	free(b1);
	free(b2);
	free(out);
	free(cpu);
	free(codes);
	free(scr);
}

static void test_polyffn_codes(void **state)
{
	static const uint32_t shapes[][4] = {	/* rows, K, D, ff */
		{ 1, 1, 1, 1 }, { 6, 1, 5, 3 }, { 9, 4, 7, 13 }, { 20, 6, 33, 40 }, { 3, 8, 64, 9 },
		{ 40, 5, 100, 70 },
	};

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
		for (uint32_t gated = 0; gated <= 1; gated++)
			for (uint32_t v = 0; v < 2; v++) {
				struct pcase c = {
					.rows = shapes[s][0], .K = shapes[s][1], .D = shapes[s][2],
					.ff = shapes[s][3], .gated = gated, .bias = (uint32_t)(v + s) % 2,
					.even = v, .block = s % 2 ? 32 : 128,
				};

				codes_case(*state, &c);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_polyffn_codes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
