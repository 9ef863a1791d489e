// SPDX-License-Identifier: MIT
/*
 * test_pom: the Polynomial Mixer kernels (lib/cpu/pom.c) against their
 * plain double twin (lib/cpu/ref_pom.c), the causal kernel against the
 * recurrent step token by token (across a state reset), the non-causal
 * output against the causal one at the last token, and the refusals.
 *
 * Tolerance of kernel vs twin: 2e-4 * (1 + |ref|) per element. The kernel
 * is float end to end (oneDNN GEMMs over K = D <= 48 and K = E <= 96,
 * Horner in float, running sums over T <= 13 tokens); the twin is double.
 * Each stage adds a few eps (6e-8) times the number of summed terms times
 * their magnitude, and p's relative error is about k times h's. Inputs are
 * scaled so h = x W_h is O(1) (W_h ~ U(-1,1)/sqrt(D)), except in the
 * "clamp" shapes where x is 24x larger: |h| reaches ~30, act() sits on both
 * clamps (-0.1 needs h < -10, 6 needs h > 6), |p| reaches 6^k |C| and y
 * sums 64..96 such terms with cancellation. Worst error seen (printed):
 * ~4e-6 on the O(1) shapes, ~1.1e-5 on the clamp shapes, so 2e-4 leaves a
 * 20x margin for other CPUs' GEMM blocking while any wrong index, group,
 * power or mean moves outputs by 1e-2 or more.
 *
 * Causal kernel vs step: 1e-5 * (1 + |want|). Both share the per-token
 * float code in the same order; only oneDNN's blocking for M = rows vs
 * M = 1 may differ, a few ulps in h, s and y.
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

#include "cpu/pom.h"
#include "util/pool.h"
#include "test_rand.h"

static double max_rel;

static void close_to(const float *got, const float *want, size_t n, float tol, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		double r = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));

		if (r > max_rel)
			max_rel = r;
		if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
			fail_msg("%s [%zu]: got %.7g, want %.7g", what, i, got[i], want[i]);
	}
}

static float *scaled(size_t n, float scale)
{
	float *p = rand_buf(n);

	for (size_t i = 0; i < n; i++)
		p[i] *= scale;
	return p;
}

struct weights {
	struct pn_pom_w w;
	float *W_h, *W_s, *b_s, *C, *W_o;
};

static void make_w(struct weights *m, uint32_t D, uint32_t E, uint32_t k, uint32_t G, int bias)
{
	m->W_h = scaled((size_t)D * E, 1.0f / sqrtf((float)D));
	m->W_s = scaled((size_t)D * G, 3.0f / sqrtf((float)D));
	m->b_s = bias ? scaled(G, 2.0f) : NULL;
	m->C = scaled((size_t)E * k, 1.0f);
	m->W_o = scaled((size_t)E * D, 1.0f / sqrtf((float)E));
	m->w = (struct pn_pom_w){ .D = D, .E = E, .k = k, .G = G, .W_h = m->W_h,
				  .W_s = m->W_s, .b_s = m->b_s, .C = m->C, .W_o = m->W_o };
}

static void free_w(struct weights *m)
{
	free(m->W_h);
	free(m->W_s);
	free(m->b_s);
	free(m->C);
	free(m->W_o);
}

struct shape {
	uint32_t D, E, k, G, B, T;
	uint32_t lens[4];
	float xscale;
	int bias;
};

static const struct shape shapes[] = {
	{ 8, 8, 1, 1, 1, 5, { 5 }, 1.0f, 1 },
	{ 8, 16, 2, 16, 2, 7, { 7, 3 }, 1.0f, 1 },
	{ 16, 32, 3, 4, 3, 9, { 9, 1, 0 }, 1.0f, 0 },
	{ 12, 24, 4, 6, 2, 13, { 4, 13 }, 1.0f, 1 },
	{ 32, 64, 3, 8, 4, 6, { 6, 2, 5, 3 }, 24.0f, 1 },	/* clamps: |h| up to ~30, both ends of act */
	{ 48, 96, 2, 96, 2, 11, { 11, 10 }, 24.0f, 0 },	/* clamps */
	{ 5, 15, 3, 3, 2, 4, { 1, 4 }, 1.0f, 1 },
};

/* x with NaN padding rows: the kernel must never read them into a valid output. */
static float *make_x(const struct shape *s)
{
	float *x = scaled((size_t)s->B * s->T * s->D, s->xscale);

	for (uint32_t b = 0; b < s->B; b++)
		for (uint32_t t = s->lens[b]; t < s->T; t++)
			for (uint32_t d = 0; d < s->D; d++)
				x[((size_t)b * s->T + t) * s->D + d] = NAN;
	return x;
}

static void check_padding_zero(const struct shape *s, const float *y)
{
	for (uint32_t b = 0; b < s->B; b++)
		for (uint32_t t = s->lens[b]; t < s->T; t++)
			for (uint32_t d = 0; d < s->D; d++)
				assert_true(y[((size_t)b * s->T + t) * s->D + d] == 0.0f);
}

static void run_vs_ref(struct pn_pool *pool)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		struct weights m;
		size_t n = (size_t)s->B * s->T * s->D;

		make_w(&m, s->D, s->E, s->k, s->G, s->bias);
		float *x = make_x(s), *y = malloc(n * 4 + 4), *ref = malloc(n * 4 + 4);
		float *scr = malloc(pn_pom_scratch(&m.w, s->B, s->T) * 4 + 4);

		for (int mode = PN_POM_NONCAUSAL; mode <= PN_POM_CAUSAL; mode++) {
			char what[64];

			for (size_t j = 0; j < n; j++)
				y[j] = NAN;	/* padding must be written */
			snprintf(what, sizeof(what), "shape %zu mode %d", i, mode);
			assert_int_equal(pn_pom(pool, x, s->B, s->T, s->lens, mode, &m.w, y, scr), 0);
			assert_int_equal(pn_ref_pom(x, s->B, s->T, s->lens, mode, &m.w, ref), 0);
			close_to(y, ref, n, 2e-4f, what);
			check_padding_zero(s, y);
		}
		free(x);
		free(y);
		free(ref);
		free(scr);
		free_w(&m);
	}
}

static void test_vs_ref(void **st)
{
	(void)st;
	max_rel = 0.0;
	run_vs_ref(NULL);
	print_message("pom vs ref: worst relative error %.3g (tolerance 2e-4)\n", max_rel);
}

static void test_vs_ref_pool(void **st)
{
	struct pn_pool *pool = pn_pool_new(2, 0);

	(void)st;
	assert_non_null(pool);
	run_vs_ref(pool);
	pn_pool_free(pool);
}

/* Causal pn_pom == pn_pom_step token by token, sequence after sequence with a reset between. */
static void test_causal_eq_recurrent(void **st)
{
	(void)st;
	max_rel = 0.0;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		struct weights m;
		size_t n = (size_t)s->B * s->T * s->D;

		make_w(&m, s->D, s->E, s->k, s->G, s->bias);
		float *x = make_x(s), *y = malloc(n * 4 + 4), *ys = malloc(s->D * 4 + 4);
		float *scr = malloc(pn_pom_scratch(&m.w, s->B, s->T) * 4 + 4);
		float *sscr = malloc(pn_pom_step_scratch(&m.w) * 4 + 4);
		float *state = malloc(pn_pom_state_size(&m.w) * 4);

		assert_int_equal(pn_pom(NULL, x, s->B, s->T, s->lens, PN_POM_CAUSAL, &m.w, y, scr), 0);
		/* Dirty state first: reset must clear all of it. */
		for (size_t j = 0; j < pn_pom_state_size(&m.w); j++)
			state[j] = 7.0f;
		for (uint32_t b = 0; b < s->B; b++) {
			pn_pom_state_reset(&m.w, state);
			assert_true(pn_pom_state_count(&m.w, state) == 0);
			for (uint32_t t = 0; t < s->lens[b]; t++) {
				size_t r = (size_t)b * s->T + t;

				assert_int_equal(pn_pom_step(&m.w, state, x + r * s->D, ys, sscr), 0);
				assert_true(pn_pom_state_count(&m.w, state) == t + 1u);
				close_to(ys, y + r * s->D, s->D, 1e-5f, "step vs causal");
			}
		}
		free(x);
		free(y);
		free(ys);
		free(scr);
		free(sscr);
		free(state);
		free_w(&m);
	}
	print_message("step vs causal: worst relative error %.3g (tolerance 1e-5)\n", max_rel);
}

/*
 * Non-causal at the last valid token == causal there (H_len is the full mean);
 * and with a constant gate (W_s = 0, s = hardsigmoid(b_s)) non-causal y is the
 * same row for every valid t (in general s_t differs per token, so y_t does too).
 */
static void test_noncausal(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		struct weights m;
		size_t n = (size_t)s->B * s->T * s->D;

		make_w(&m, s->D, s->E, s->k, s->G, s->bias);
		float *x = make_x(s), *yn = malloc(n * 4 + 4), *yc = malloc(n * 4 + 4);
		float *scr = malloc(pn_pom_scratch(&m.w, s->B, s->T) * 4 + 4);

		assert_int_equal(pn_pom(NULL, x, s->B, s->T, s->lens, PN_POM_NONCAUSAL, &m.w, yn, scr), 0);
		assert_int_equal(pn_pom(NULL, x, s->B, s->T, s->lens, PN_POM_CAUSAL, &m.w, yc, scr), 0);
		for (uint32_t b = 0; b < s->B; b++) {
			if (s->lens[b] == 0)
				continue;
			size_t r = (size_t)b * s->T + s->lens[b] - 1;

			close_to(yn + r * s->D, yc + r * s->D, s->D, 1e-6f, "non-causal vs causal, last token");
		}
		memset(m.W_s, 0, (size_t)s->D * s->G * sizeof(float));
		assert_int_equal(pn_pom(NULL, x, s->B, s->T, s->lens, PN_POM_NONCAUSAL, &m.w, yn, scr), 0);
		for (uint32_t b = 0; b < s->B; b++)
			for (uint32_t t = 1; t < s->lens[b]; t++)
				close_to(yn + ((size_t)b * s->T + t) * s->D, yn + (size_t)b * s->T * s->D,
					 s->D, 1e-6f, "non-causal, constant gate, same for every t");
		free(x);
		free(yn);
		free(yc);
		free(scr);
		free_w(&m);
	}
}

static void test_refusals(void **st)
{
	struct weights m;
	struct pn_pom_w bad;
	char msg[128];
	float x[8 * 4] = { 0 }, y[8 * 4], scr[4096], state[64];
	uint32_t lens[1] = { 4 }, toolong[1] = { 5 };

	(void)st;
	make_w(&m, 8, 16, 2, 4, 1);
	assert_int_equal(pn_pom_check(&m.w, msg, sizeof(msg)), 0);
	assert_true(pn_pom_scratch(&m.w, 1, 4) <= 4096);

	bad = m.w, bad.k = 0;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "degree"));
	assert_int_equal(pn_pom(NULL, x, 1, 4, lens, PN_POM_CAUSAL, &bad, y, scr), -EINVAL);
	assert_int_equal(pn_ref_pom(x, 1, 4, lens, PN_POM_CAUSAL, &bad, y), -EINVAL);
	pn_pom_state_reset(&m.w, state);
	assert_int_equal(pn_pom_step(&bad, state, x, y, scr), -EINVAL);
	bad.k = PN_POM_MAX_DEGREE + 1;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);

	bad = m.w, bad.G = 3;	/* 16 % 3 */
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "multiple"));
	bad.G = 0;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	bad = m.w, bad.D = 0;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	bad = m.w, bad.E = 0;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	bad = m.w, bad.W_o = NULL;
	assert_int_equal(pn_pom_check(&bad, msg, sizeof(msg)), -EINVAL);
	bad = m.w, bad.b_s = NULL;	/* optional */
	assert_int_equal(pn_pom_check(&bad, NULL, 0), 0);
	m.C[3] = NAN;
	assert_int_equal(pn_pom_check(&m.w, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "NaN"));
	m.C[3] = 0.5f;

	assert_int_equal(pn_pom(NULL, x, 1, 4, toolong, PN_POM_CAUSAL, &m.w, y, scr), -EINVAL);
	assert_int_equal(pn_pom(NULL, x, 1, 4, lens, (enum pn_pom_mode)2, &m.w, y, scr), -EINVAL);
	assert_int_equal(pn_pom(NULL, x, 1, 4, lens, PN_POM_CAUSAL, &m.w, y, scr), 0);
	assert_int_equal(pn_pom(NULL, x, 0, 4, lens, PN_POM_CAUSAL, &m.w, y, scr), 0);
	free_w(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vs_ref),
		cmocka_unit_test(test_vs_ref_pool),
		cmocka_unit_test(test_causal_eq_recurrent),
		cmocka_unit_test(test_noncausal),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
