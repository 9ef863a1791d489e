// SPDX-License-Identifier: MIT
/*
 * test_ptx_attention: kernels/ptx/attention.ptx (attention_fwd and
 * attention_tiled, every case through both) run in the PTX interpreter
 * against its CPU twin pn_attention and the plain double
 * twin pn_ref_attention: T 1, 5, 17, 64; heads 1, 2, 4; head widths that
 * use one to four of a lane's output columns (8, 40, 64, 128); lens equal
 * to T, shorter, 1, 0 and past T; causal and not; blocks of 1, 2, 4 warps.
 *
 * Padded rows (t >= lens[b]) of qkv hold NaN: one masked key leaking into
 * a valid row would make it NaN, so "masked keys weigh exactly 0" is
 * checked by every case. The kernel writes no padded out row: those keep
 * their sentinel.
 *
 * Tolerance, per output element, absolute: q, k, v in [-1, 1], so every
 * output is a convex combination of values in [-1, 1]. The interpreter
 * perturbs each ex2.approx by up to 2^-22.5 absolute + 2^-22 relative
 * (docs/ptx_dialect.md), at most 4.1e-7 on a weight p <= 1; the weights
 * sum to l >= 1 (the maximum's own key gives ex2(0)), so nk perturbed
 * weights move an output by at most nk * 4.1e-7 * |v - o| <= nk * 8.2e-7.
 * Float rounding of the scores (hd-term dot products, |s| <= hd * scale,
 * relative 2^-24 per step: ~1e-6 here, through the online rescaling too)
 * and of the weighted sums adds well under 1e-5. Hence 1e-6 * nk + 2e-5
 * (with the sharp scale of 4, scores reach 4 hd and the rounding term
 * grows with them: 5e-7 * scale * hd is added).
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

#include "cpu/kernels.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"

#define PTX_FILE "kernels/ptx/attention.ptx"
#define SENTINEL 12345.0f
#define ROWS_PER_WARP 4		/* attention_fwd's query rows per warp */

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

struct shape {
	uint32_t B, T, D, heads, causal, warps;
	float scale;		/* 0: 1/sqrt(hd) */
	const uint32_t *lens;
};

/* out = kernel over qkv in the interpreter; 0 or its error. */
static int run_kernel(struct ptxi_module *m, const char *kernel, const struct shape *s,
		      const float *qkv, float *out, struct ptxi_err *e)
{
	struct ptxi_dev *d = ptxi_dev_new();
	size_t rows = (size_t)s->B * s->T;
	uint32_t hd = s->D / s->heads, rpb = ROWS_PER_WARP * s->warps;
	float scale = s->scale ? s->scale : 1.0f / sqrtf((float)hd);
	uint64_t a_qkv, a_out, a_lens;
	int r;

	assert_non_null(d);
	a_qkv = ptxi_alloc(d, rows * 3 * s->D * sizeof(float));
	a_out = ptxi_alloc(d, rows * s->D * sizeof(float));
	a_lens = ptxi_alloc(d, s->B * sizeof(uint32_t));
	assert_true(a_qkv && a_out && a_lens);
	assert_int_equal(ptxi_write(d, a_qkv, qkv, rows * 3 * s->D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_out, out, rows * s->D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_lens, s->lens, s->B * sizeof(uint32_t)), 0);

	void *params[] = { &a_qkv, &a_out, &a_lens, (void *)&s->T, (void *)&s->D, &hd,
			   &scale, (void *)&s->causal };
	struct ptxi_launch l = {
		.grid = { (s->T + rpb - 1) / rpb, s->heads, s->B },
		.block = { 32 * s->warps, 1, 1 },
		.params = params, .n_params = 8,
	};

	if (!strcmp(kernel, "attention_tiled"))	/* Ks, Vs, Qs, Os, Ms, Ls */
		l.dyn_shared = 4 * (32 * (2 * hd + 1) + 2 * rpb * hd + 64 * rpb);
	r = ptxi_run(m, d, kernel, &l, e);
	if (!r)
		ptx_download(d, a_out, out, rows * s->D * sizeof(float));
	ptxi_dev_free(d);
	return r;
}

static void check_kernel(struct ptx_suite *f, const char *kernel, const struct shape *s,
			 uint32_t seed)
{
	size_t rows = (size_t)s->B * s->T, n_out = rows * s->D;
	uint32_t hd = s->D / s->heads;
	float scale = s->scale ? s->scale : 1.0f / sqrtf((float)hd);
	float *qkv = malloc(rows * 3 * s->D * sizeof(float));
	float *out = malloc(n_out * sizeof(float)), *twin = malloc(n_out * sizeof(float));
	float *ref = malloc(n_out * sizeof(float));
	float *scr = malloc(pn_attention_scratch(s->T, 1) * sizeof(float) + 1);
	struct pn_attn a = { .D = s->D, .heads = s->heads, .scale = scale, .causal = (int)s->causal };
	struct ptxi_err e;

	assert_true(qkv && out && twin && ref && scr);
	for (size_t r = 0; r < rows; r++) {
		uint32_t b = (uint32_t)(r / s->T), t = (uint32_t)(r % s->T);

		for (uint32_t c = 0; c < 3 * s->D; c++)
			qkv[r * 3 * s->D + c] = t < s->lens[b] ? ptx_unit32(&seed) : NAN;
	}
	for (size_t i = 0; i < n_out; i++)
		out[i] = twin[i] = ref[i] = SENTINEL;
	if (run_kernel(f->m, kernel, s, qkv, out, &e))
		fail_msg("%s: %s", kernel, e.msg);
	pn_attention(NULL, qkv, s->B, s->T, s->lens, &a, twin, scr);
	pn_ref_attention(qkv, s->B, s->T, s->lens, s->D, s->heads, scale, (int)s->causal, ref);

	for (uint32_t b = 0; b < s->B; b++) {
		uint32_t L = s->lens[b] < s->T ? s->lens[b] : s->T;

		for (uint32_t t = 0; t < s->T; t++) {
			uint32_t nk = s->causal ? t + 1 : L;
			double tol = 1e-6 * nk + 2e-5 + 5e-7 * scale * hd;

			for (uint32_t c = 0; c < s->D; c++) {
				size_t i = ((size_t)b * s->T + t) * s->D + c;

				if (t >= L) {	/* padded: never written */
					if (out[i] != SENTINEL)
						fail_msg("%s B %u T %u: padded out[%u, %u, %u] = %g "
							 "written", kernel, s->B, s->T, b, t, c, out[i]);
					continue;
				}
				if (!(fabs(out[i] - ref[i]) <= tol) || !(fabs(out[i] - twin[i]) <= tol))
					fail_msg("%s T %u D %u heads %u causal %u warps %u: out[%u, %u, %u] = "
						 "%.7g, ref %.7g, twin %.7g, tol %.2g", kernel, s->T, s->D, s->heads,
						 s->causal, s->warps, b, t, c, out[i], ref[i], twin[i], tol);
			}
		}
	}
	free(qkv);
	free(out);
	free(twin);
	free(ref);
	free(scr);
}

static void check(struct ptx_suite *f, const struct shape *s, uint32_t seed)
{
	check_kernel(f, "attention_fwd", s, seed);
	check_kernel(f, "attention_tiled", s, seed);
}

/* T 1, 5, 17, 64 x heads 1, 2, 4 x causal, with full and ragged lens. */
static void test_ragged_shapes(void **state)
{
	static const uint32_t Ts[] = { 1, 5, 17, 64 }, Hs[] = { 1, 2, 4 };
	uint32_t seed = 7;

	for (size_t i = 0; i < sizeof(Ts) / sizeof(*Ts); i++)
		for (size_t j = 0; j < sizeof(Hs) / sizeof(*Hs); j++)
			for (uint32_t causal = 0; causal < 2; causal++) {
				uint32_t T = Ts[i];
				/* full, about half, a single token */
				uint32_t lens[3] = { T, T / 2 + 1, 1 };
				struct shape s = { .B = 3, .T = T, .D = Hs[j] * 16, .heads = Hs[j],
						   .causal = causal, .warps = 4, .lens = lens };

				check(*state, &s, seed++);
			}
}

/* Head widths that leave 1..4 of a lane's columns live, 40 not a multiple of 32. */
static void test_head_widths(void **state)
{
	static const uint32_t hds[] = { 8, 40, 64, 128 };
	uint32_t lens[2] = { 17, 9 };

	for (size_t i = 0; i < sizeof(hds) / sizeof(*hds); i++)
		for (uint32_t causal = 0; causal < 2; causal++) {
			struct shape s = { .B = 2, .T = 17, .D = 2 * hds[i], .heads = 2,
					   .causal = causal, .warps = 4, .lens = lens };

			check(*state, &s, 100 + (uint32_t)i);
		}
}

/* More keys than one 32-key chunk, so the online rescaling runs (USE lite's hd 64). */
static void test_chunks_and_blocks(void **state)
{
	uint32_t lens[2] = { 64, 45 };

	for (uint32_t warps = 1; warps <= 4; warps *= 2) {
		struct shape s = { .B = 2, .T = 64, .D = 128, .heads = 2, .causal = warps == 2,
				   .warps = warps, .lens = lens };

		check(*state, &s, 200 + warps);
	}
}

/* lens 0 (nothing written) and past T (clamped to T), as the twin reads them. */
static void test_empty_and_long_lens(void **state)
{
	uint32_t lens[3] = { 0, 40, 5 };
	struct shape s = { .B = 3, .T = 33, .D = 64, .heads = 4, .causal = 0, .warps = 2,
			   .lens = lens };

	check(*state, &s, 300);
	s.causal = 1;
	check(*state, &s, 301);
}

/* A sharp softmax (scale 4): large logits must not overflow the exponentials. */
static void test_sharp_logits(void **state)
{
	uint32_t lens[1] = { 50 };
	struct shape s = { .B = 1, .T = 50, .D = 64, .heads = 2, .causal = 0, .warps = 4,
			   .scale = 4.0f, .lens = lens };

	check(*state, &s, 400);
}

/* USE lite's shape: T 128 (its max_tokens), D 512 in 8 heads of 64, scale 0.125. */
static void test_use_lite_shape(void **state)
{
	uint32_t lens[1] = { 128 };
	struct shape s = { .B = 1, .T = 128, .D = 512, .heads = 8, .causal = 0, .warps = 4,
			   .scale = 0.125f, .lens = lens };

	check(*state, &s, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ragged_shapes),
		cmocka_unit_test(test_head_widths),
		cmocka_unit_test(test_chunks_and_blocks),
		cmocka_unit_test(test_empty_and_long_lens),
		cmocka_unit_test(test_sharp_logits),
		cmocka_unit_test(test_use_lite_shape),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
