// SPDX-License-Identifier: MIT
/*
 * test_polyffn: PackedPolyFFN (lib/cpu/polyffn.c) against its reference
 * twin, against the exact FFN when the series is precise, and the
 * codebook-driven form against the FFN of the gathered codebook rows.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"

static uint32_t seed = 1;

static float *rnd(size_t n, float scale)
{
	float *p = malloc(n * sizeof(*p) + 4);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = scale * ((float)(seed >> 8) / 16777216.0f - 0.5f);
	}
	return p;
}

/*
 * Tolerance: the kernel's hidden values come from oneDNN (float, blocked
 * sums) and its series from float Clenshaw; the twin sums in double. Over
 * K <= 96 terms of O(1) values that is ~1e-6 relative, the series' slope is
 * <= 1.2: 1e-4 (1 + |ref|) leaves two orders of magnitude of margin.
 */
static void close_to(const float *got, const float *want, size_t n, float tol, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
			fail_msg("%s [%zu]: got %.7g, want %.7g", what, i, got[i], want[i]);
}

struct shape {
	uint32_t rows, D, ff, act, deg;
	int gated, even;
	float a, b;
};

static void run_vs_ref(const struct shape *s, struct pn_pool *pool)
{
	uint32_t hw = s->gated ? 2 * s->ff : s->ff;
	float *x = rnd((size_t)s->rows * s->D, 4.0f), *W1 = rnd((size_t)s->D * hw, 1.5f);
	float *b1 = rnd(hw, 1.0f), *W2 = rnd((size_t)s->ff * s->D, 0.5f), *b2 = rnd(s->D, 1.0f);
	float *out = calloc((size_t)s->rows * s->D + 1, 4), *ref = calloc((size_t)s->rows * s->D + 1, 4);
	float *scr = calloc(pn_polyffn_scratch(s->rows, s->ff, s->gated) + 1, 4);
	float c[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p = { .c = c, .degree = s->deg, .act = s->act, .even = s->even,
			     .a = s->a, .b = s->b };

	assert_int_equal(pn_cheb_fit(s->act, s->a, s->b, s->deg, s->even, 0, c, NULL), 0);
	pn_polyffn(pool, x, s->rows, &(struct pn_ffn_w){
		.D = s->D, .ff = s->ff, .gated = s->gated,
		.W1 = W1, .b1 = b1,
		.W2 = W2, .b2 = b2 }, &p, out, scr);
	pn_ref_polyffn(x, s->rows, s->D, s->ff, s->gated, &p, W1, b1, W2, b2, ref);
	close_to(out, ref, (size_t)s->rows * s->D, 1e-4f, "polyffn vs ref");
	/* without biases too */
	pn_polyffn(pool, x, s->rows, &(struct pn_ffn_w){
		.D = s->D, .ff = s->ff, .gated = s->gated,
		.W1 = W1, .b1 = NULL,
		.W2 = W2, .b2 = NULL }, &p, out, scr);
	pn_ref_polyffn(x, s->rows, s->D, s->ff, s->gated, &p, W1, NULL, W2, NULL, ref);
	close_to(out, ref, (size_t)s->rows * s->D, 1e-4f, "polyffn vs ref, no bias");
	free(x); free(W1); free(b1); free(W2); free(b2); free(out); free(ref); free(scr);
}

/* Hidden values of |x W1 + b1| reach ~6: ranges [-3, 3] and [-2, 4] put many outside (asymptotes). */
static void test_matches_reference(void **state)
{
	const struct shape shapes[] = {
		{ 1, 8, 16, PNB_ACT_SILU, 16, 0, 1, -3, 3 },
		{ 3, 24, 40, PNB_ACT_GELU, 11, 0, 0, -2, 4 },
		{ 70, 16, 48, PNB_ACT_SILU, 20, 1, 1, -3, 3 },
		{ 130, 32, 24, PNB_ACT_RELU, 32, 0, 1, -3, 3 },
		{ 200, 12, 96, PNB_ACT_GELU_TANH, 9, 1, 0, -2, 4 },
	};
	struct pn_pool *pool = pn_pool_new(2, 0);

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		run_vs_ref(&shapes[i], NULL);
		run_vs_ref(&shapes[i], pool);
	}
	pn_pool_free(pool);
}

/*
 * A high degree on a range that holds every hidden value: the node is the
 * exact FFN to within the series error (SiLU degree 40 on [-4, 4]: ~1e-8)
 * plus float rounding.
 */
static void test_precise_series_is_the_exact_ffn(void **state)
{
	const uint32_t rows = 33, D = 16, ff = 32;
	const uint32_t acts[] = { PNB_ACT_SILU, PNB_ACT_GELU };
	float *x = rnd((size_t)rows * D, 1.0f), *W1 = rnd((size_t)D * 2 * ff, 1.0f);
	float *b1 = rnd(2 * ff, 0.5f), *W2 = rnd((size_t)ff * D, 1.0f), *b2 = rnd(D, 1.0f);
	float *out = calloc((size_t)rows * D, 4), *ref = calloc((size_t)rows * D, 4);
	float *scr = calloc(pn_polyffn_scratch(rows, ff, 1), 4);
	float c[PN_CHEB_MAX_DEGREE + 1];

	for (int a = 0; a < 2; a++)
		for (int gated = 0; gated <= 1; gated++) {
			struct pn_cheb p = { .c = c, .degree = 40, .act = acts[a], .even = 1,
					     .a = -4, .b = 4 };

			assert_int_equal(pn_cheb_fit(acts[a], -4, 4, 40, 1, 0, c, NULL), 0);
			pn_polyffn(NULL, x, rows, &(struct pn_ffn_w){
				.D = D, .ff = ff, .gated = gated,
				.W1 = W1, .b1 = b1,
				.W2 = W2, .b2 = b2 }, &p, out, scr);
			pn_ref_ffn(x, rows, D, ff, gated, acts[a], W1, b1, W2, b2, ref);
			close_to(out, ref, (size_t)rows * D, 1e-4f, "polyffn vs exact ffn");
		}
	free(x); free(W1); free(b1); free(W2); free(b2); free(out); free(ref); free(scr);
}

/* Codebook mode: each row's output is the FFN of its code's codebook row. */
static void test_codebook_mode(void **state)
{
	const uint32_t rows = 150, K = 12, D = 16, ff = 24;
	float *cb = rnd((size_t)K * D, 2.0f), *W1 = rnd((size_t)D * 2 * ff, 1.0f);
	float *b1 = rnd(2 * ff, 0.5f), *W2 = rnd((size_t)ff * D, 1.0f), *b2 = rnd(D, 1.0f);
	float *out = calloc((size_t)rows * D, 4), *ref = calloc((size_t)rows * D, 4);
	float *g = calloc((size_t)rows * D, 4), c[PN_CHEB_MAX_DEGREE + 1];
	int32_t codes[150];
	uint32_t present = 0, want_present = 0;
	int seen[12] = { 0 };
	struct pn_pool *pool = pn_pool_new(2, 0);
	struct pn_cheb p = { .c = c, .degree = 16, .act = PNB_ACT_SILU, .even = 1, .a = -5, .b = 5 };
	float *scr = calloc(pn_polyffn_codes_scratch(rows, K, D, ff, 1), 4);

	assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -5, 5, 16, 1, 0, c, NULL), 0);
	for (uint32_t r = 0; r < rows; r++) {
		codes[r] = (int32_t)((r * 7 + r / 13) % 9);	/* codes 9..11 never appear */
		want_present += !seen[codes[r]];
		seen[codes[r]] = 1;
		memcpy(g + (size_t)r * D, cb + (size_t)codes[r] * D, D * sizeof(float));
	}
	for (int gated = 0; gated <= 1; gated++) {
		pn_polyffn_codes(pool, codes, rows, cb, K, &(struct pn_ffn_w){
			.D = D, .ff = ff, .gated = gated,
			.W1 = W1, .b1 = b1,
			.W2 = W2, .b2 = b2 }, &p, out, scr, &present);
		pn_ref_polyffn(g, rows, D, ff, gated, &p, W1, b1, W2, b2, ref);
		close_to(out, ref, (size_t)rows * D, 1e-4f, "codebook mode vs ffn of codes");
		assert_int_equal(present, want_present);
	}
	/* a single row, K larger than rows */
	pn_polyffn_codes(NULL, codes + 5, 1, cb, K, &(struct pn_ffn_w){
		.D = D, .ff = ff, .gated = 1,
		.W1 = W1, .b1 = b1,
		.W2 = W2, .b2 = b2 }, &p, out, scr, &present);
	assert_int_equal(present, 1);
	close_to(out, ref + 5 * D, D, 1e-4f, "one row");
	pn_pool_free(pool);
	free(cb); free(W1); free(b1); free(W2); free(b2); free(out); free(ref); free(g); free(scr);
}

static void test_zero_rows(void **state)
{
	float c[3] = { 0 }, out[1] = { 42.0f };
	struct pn_cheb p = { .c = c, .degree = 2, .act = PNB_ACT_SILU, .a = -1, .b = 1 };

	pn_polyffn(NULL, NULL, 0, &(struct pn_ffn_w){
		.D = 4, .ff = 4, .gated = 0,
		.W1 = NULL, .b1 = NULL,
		.W2 = NULL, .b2 = NULL }, &p, out, NULL);
	assert_true(out[0] == 42.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_precise_series_is_the_exact_ffn),
		cmocka_unit_test(test_codebook_mode),
		cmocka_unit_test(test_zero_rows),
	};

	return cmocka_run_group_tests_name("polyffn", tests, NULL, NULL);
}
