// SPDX-License-Identifier: MIT
/*
 * test_ptx_decoder.c - kernels/ptx/decoder.ptx (rope_f32, attn_cache_f32,
 * gemm_f32_bt) run in the PTX interpreter against the causal decoder's CPU
 * twins (lib/cpu/decoder.c: pn_rope, pn_attn_cache, pn_logits) and their
 * plain double twins (lib/cpu/ref_decoder.c: pn_ref_rope, pn_ref_attn_cache,
 * pn_ref_logits), on small random inputs in [-1, 1): odd T, pos0 > 0 (so
 * cached positions are read), padding rows (lens < T, lens 0), grouped KV
 * heads with H / Hkv = 1, 2, 4, head sizes 2..128, odd row widths, several
 * block and grid shapes.
 *
 * Poison: padding rows of the inputs and every cache float the kernel must
 * not read (other slots, other layers, positions past pos0 + lens) hold NaN,
 * so one stray read makes a valid output NaN and fails its bound.
 *
 * Tolerances (u = 2^-24, one f32 rounding), per output element:
 *
 * - rope_f32 against pn_rope: exact (memcmp). Both take the same table and
 *   round the same products and sum once each (the kernel's mul.rn, sub.rn,
 *   add.rn are not contracted; the CPU builds without contraction, -std=c11).
 *   Against pn_ref_rope (angles and products in double, rounded once): the
 *   table's cos and sin are within u relative of the exact ones (rounded from
 *   double; the double angle's own error, p 2^-53, is below 2^-40 here), each
 *   of the two products and the sum adds u relative, and the reference
 *   rounds once: |y - ref| <= 2u|a| + 2u|b| + u|y| + u|y| <= 4u (|a| + |b|)
 *   to first order, as |y| <= |a| + |b|; bound 4.5u (|a| + |b|) (the rest
 *   covers second-order terms). Copied columns and padding rows: exact.
 *
 * - attn_cache_f32: the cache afterwards is bit-identical to the reference's
 *   (memcmp of the whole cache: copies are exact, nothing else is written).
 *   Padding rows of out: exactly 0. Valid rows against pn_ref_attn_cache
 *   (double: the exact result, to 1e-15) at
 *       tol = (E + 4u) nk + S + 1e-6,
 *   where the output is a convex combination of v in [-1, 1), so a weight
 *   error dw moves it by at most |dw| |v - o| / sum w <= 2 |dw| (sum w >= 1:
 *   the maximum's own key weighs ex2(0)):
 *   E: ex2.approx, within 2^-22.5 + 2^-22 p <= 4.1e-7 of exp (the
 *     interpreter perturbs every one, docs/ptx_dialect.md). A key's weight
 *     is its own p, times the rescalings of the later chunks of its warp
 *     (common to the warp's l and o, so they cancel in o / l but for their
 *     differences), times its warp's merge factor: with c chunks per warp,
 *     at most 2 + c factors per key, each in [0, 1]. Over nk keys that is
 *     |dw| <= (2 + c) 4.1e-7 per key, so E = 2 (2 + c) 4.1e-7 per key (a
 *     worst case: the perturbations are a hash, not aligned).
 *   S: f32 rounding of the scores, s = scale q.k over hs terms (fma chain):
 *     |ds| <= (hs + 1) u scale sum_c |q_c k_c| <= (hs + 1) u scale hs, and
 *     a score error ds scales its weight by e^ds, moving o by 2 |ds|:
 *     S = 2 (hs + 1) hs u scale.
 *   4u nk: the f32 sums over the keys, l = sum p (relative error <= nk u)
 *     and o = sum p v (absolute <= nk u l), so o / l is off by <= 2 nk u;
 *     twice that for the rescaling products and the merge's sums.
 *   1e-6: the merge's division and the last roundings (a few u).
 *   Against pn_attn_cache (f32: expf within an ulp, its own f32 sums and
 *   scores, so within tol of the exact result too): 2 tol.
 *   The bound grows with nk, so the suite also holds the root mean square
 *   error of each case under 1e-5: the perturbations are a hash of thread,
 *   pc and input with mean 0 and do not add up, while a wrong key (one of
 *   nk dropped or added) moves many outputs by ~0.5 / nk >= 2e-3.
 *
 * - gemm_f32_bt: each output is one fma chain over k = 0..K-1 (K roundings,
 *   each at most u times the partial sum, |partial| <= sum_k |a_k b_k|), so
 *   |c - exact| <= K u sum|ab|; pn_ref_logits is exact but for its final
 *   rounding (u |c|): tol = (K + 1) u sum_k |a_k b_k| + 1e-30 (computed per
 *   element). Against pn_logits (f32 GEMM, any order: the same bound on its
 *   side): twice that.
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

#define PTX_FILE "kernels/ptx/decoder.ptx"
#define U 0x1p-24
#define SENTINEL 12345.0f
#define EX2_ERR 4.1e-7		/* 2^-22.5 + 2^-22 (ex2.approx on [0, 1]) */
#define RMS_MAX 1e-5

static uint64_t rng = 0xB5AD4ECEDA1CE2A9ull;

static float frand(void)
{
	return ptx_frand(&rng, -1.0f, 1.0f);
}

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

static float *fbuf(size_t n)
{
	float *p = malloc(n * sizeof(*p) + 4);

	assert_non_null(p);
	return p;
}

/* A device copy of n floats (any n, 0 included). */
static uint64_t up(struct ptxi_dev *d, const void *src, size_t bytes)
{
	return ptx_upload(d, src, bytes, 0);
}

/* ---- rope_f32 ------------------------------------------------------------------ */

struct rope_case {
	uint32_t B, T, W, heads, hs, block, grid_y, in_place;
	float theta;
	const uint32_t *lens, *pos0;
};

static void check_rope(struct ptx_suite *s, const struct rope_case *c)
{
	size_t rows = (size_t)c->B * c->T, n = rows * c->W;
	uint32_t P = 1, half = c->hs / 2, rot = c->heads * c->hs;
	float *x = fbuf(n), *y = fbuf(n), *twin = fbuf(n), *ref = fbuf(n), *cs;
	struct ptxi_dev *d = ptxi_dev_new();
	uint64_t ax, ay, acs, apos, alens;

	assert_non_null(d);
	for (uint32_t b = 0; b < c->B; b++)
		if (c->pos0[b] + c->T > P)
			P = c->pos0[b] + c->T;
	cs = fbuf((size_t)P * half * 2);
	pn_rope_table(cs, P, c->hs, c->theta);
	for (size_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < c->W; i++)
			x[r * c->W + i] = r % c->T < c->lens[r / c->T] ? frand() : NAN;

	ax = up(d, x, n * sizeof(float));
	ay = ax;
	if (!c->in_place) {
		for (size_t i = 0; i < n; i++)
			y[i] = SENTINEL;
		ay = up(d, y, n * sizeof(float));
	}
	acs = up(d, cs, (size_t)P * half * 2 * sizeof(float));
	apos = up(d, c->pos0, c->B * sizeof(uint32_t));
	alens = up(d, c->lens, c->B * sizeof(uint32_t));
	void *params[] = { &ax, &ay, &acs, &apos, &alens, (void *)&c->T, (void *)&c->W,
			   (void *)&c->heads, (void *)&c->hs };
	struct ptxi_launch l = { .grid = { (uint32_t)rows, c->grid_y, 1 },
				 .block = { c->block, 1, 1 }, .params = params, .n_params = 9 };

	ptx_launch_on(s->m, d, "rope_f32", &l);
	ptx_download(d, ay, y, n * sizeof(float));
	ptxi_dev_free(d);

	struct pn_rope_w rw = { .W = c->W, .heads = c->heads, .hs = c->hs, .cs = cs };

	if (c->in_place) {	/* the twin in place too */
		memcpy(twin, x, n * sizeof(float));
		pn_rope(twin, c->B, c->T, c->lens, c->pos0, &rw, twin);
	} else {
		pn_rope(x, c->B, c->T, c->lens, c->pos0, &rw, twin);
	}
	pn_ref_rope(x, c->B, c->T, c->lens, c->pos0, c->W, c->heads, c->hs, c->theta, ref);
	if (memcmp(y, twin, n * sizeof(float))) {
		for (size_t i = 0; i < n; i++)
			if (memcmp(&y[i], &twin[i], sizeof(float)))
				fail_msg("rope B %u T %u W %u heads %u hs %u: y[%zu, %zu] = %.9g, "
					 "pn_rope %.9g (expected bit-identical)", c->B, c->T, c->W,
					 c->heads, c->hs, i / c->W, i % c->W, y[i], twin[i]);
	}
	for (size_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < c->W; i++) {
			size_t e = r * c->W + i;
			int valid = r % c->T < c->lens[r / c->T];
			double tol = 0;

			if (valid && i < rot) {
				uint32_t i0 = i & ~1u;

				tol = 4.5 * U * (fabs(x[r * c->W + i0]) + fabs(x[r * c->W + i0 + 1]));
			}
			if (!(fabs((double)y[e] - ref[e]) <= tol))
				fail_msg("rope B %u T %u W %u heads %u hs %u: y[%zu, %u] = %.9g, "
					 "ref %.9g, tol %.3g", c->B, c->T, c->W, c->heads, c->hs, r,
					 i, y[e], ref[e], tol);
		}
	free(x);
	free(y);
	free(twin);
	free(ref);
	free(cs);
}

/* Rotating q and k heads of a qkv row (v copied), two sequences, one shorter. */
static void test_rope_qkv_rows(void **state)
{
	static const uint32_t lens[] = { 5, 3 }, pos0[] = { 0, 7 };
	/* hs 8, H 4 + Hkv 2 heads rotated of a (4 + 2 * 2) * 8 = 80-float row */
	struct rope_case c = { .B = 2, .T = 5, .W = 80, .heads = 6, .hs = 8, .block = 32,
			       .grid_y = 1, .theta = 10000.0f, .lens = lens, .pos0 = pos0 };

	check_rope(*state, &c);
}

/* Decode rows (T 1) at scattered positions, an odd width with a copied tail,
 * one idle sequence (lens 0), two grid columns of 3 warps. */
static void test_rope_decode_odd_width(void **state)
{
	static const uint32_t lens[] = { 1, 1, 0 }, pos0[] = { 10, 0, 33 };
	struct rope_case c = { .B = 3, .T = 1, .W = 257, .heads = 3, .hs = 64, .block = 96,
			       .grid_y = 2, .theta = 500000.0f, .lens = lens, .pos0 = pos0 };

	check_rope(*state, &c);
}

/* In place (y = x), head size 128, a long prompt past position 0. */
static void test_rope_in_place(void **state)
{
	static const uint32_t lens[] = { 17 }, pos0[] = { 40 };
	struct rope_case c = { .B = 1, .T = 17, .W = 384, .heads = 2, .hs = 128, .block = 256,
			       .grid_y = 1, .in_place = 1, .theta = 10000.0f, .lens = lens,
			       .pos0 = pos0 };

	check_rope(*state, &c);
}

/* The smallest head (one pair), more threads than pairs, three grid columns. */
static void test_rope_tiny_heads(void **state)
{
	static const uint32_t lens[] = { 4, 2 }, pos0[] = { 3, 1000 };
	struct rope_case c = { .B = 2, .T = 4, .W = 11, .heads = 5, .hs = 2, .block = 32,
			       .grid_y = 3, .theta = 10000.0f, .lens = lens, .pos0 = pos0 };

	check_rope(*state, &c);
}

/* ---- attn_cache_f32 --------------------------------------------------------------- */

struct attn_case {
	uint32_t B, T, H, Hkv, hs, warps, kv_len, n_slots, layers, layer;
	float scale;		/* 0: 1/sqrt(hs) */
	const uint32_t *slots, *pos0, *lens;
};

static void check_attn(struct ptx_suite *s, const struct attn_case *c)
{
	uint32_t hs = c->hs, D = c->H * hs, w = c->Hkv * hs, ld = D + 2 * w;
	size_t rows = (size_t)c->B * c->T, n_out = rows * D;
	size_t layer_stride = 2 * (size_t)c->kv_len * w, slot_stride = c->layers * layer_stride;
	size_t n_kv = c->n_slots * slot_stride;
	float scale = c->scale ? c->scale : 1.0f / sqrtf((float)hs);
	float *qkv = fbuf(rows * ld), *out = fbuf(n_out), *twin = fbuf(n_out), *ref = fbuf(n_out);
	float *kv = fbuf(n_kv), *kv_dev = fbuf(n_kv), *kv_twin = fbuf(n_kv), *kv_ref = fbuf(n_kv);
	float *scr = fbuf(pn_attn_cache_scratch(c->kv_len, hs, 1));
	struct ptxi_dev *d = ptxi_dev_new();
	double se = 0, worst = 0;
	size_t n_err = 0;

	assert_non_null(d);
	for (size_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < ld; i++)
			qkv[r * ld + i] = r % c->T < c->lens[r / c->T] ? frand() : NAN;
	for (size_t i = 0; i < n_kv; i++)
		kv[i] = NAN;
	for (uint32_t b = 0; b < c->B; b++) {	/* the context before pos0: K and V rows */
		float *K = kv + c->slots[b] * slot_stride + c->layer * layer_stride;

		for (uint32_t p = 0; p < c->pos0[b]; p++)
			for (uint32_t i = 0; i < w; i++) {
				K[(size_t)i * c->kv_len + p] = frand();	/* K^T */
				K[((size_t)c->kv_len + p) * w + i] = frand();
			}
	}
	for (size_t i = 0; i < n_out; i++)
		out[i] = SENTINEL;

	uint64_t aqkv = up(d, qkv, rows * ld * sizeof(float));
	uint64_t aout = up(d, out, n_out * sizeof(float));
	uint64_t akv = up(d, kv, n_kv * sizeof(float));
	uint64_t aslots = up(d, c->slots, c->B * sizeof(uint32_t));
	uint64_t apos = up(d, c->pos0, c->B * sizeof(uint32_t));
	uint64_t alens = up(d, c->lens, c->B * sizeof(uint32_t));
	uint64_t sstr = slot_stride, lstr = layer_stride;
	void *params[] = { &aqkv, &aout, &akv, &aslots, &apos, &alens, &sstr, &lstr,
			   (void *)&c->T, (void *)&c->H, (void *)&c->Hkv, (void *)&c->hs,
			   (void *)&c->layer, (void *)&c->kv_len, &scale };
	struct ptxi_launch l = { .grid = { c->T, c->H, c->B }, .block = { 32 * c->warps, 1, 1 },
				 .params = params, .n_params = 15 };

	ptx_launch_on(s->m, d, "attn_cache_f32", &l);
	ptx_download(d, aout, out, n_out * sizeof(float));
	ptx_download(d, akv, kv_dev, n_kv * sizeof(float));
	ptxi_dev_free(d);

	struct pn_kv cache = { .base = kv_ref, .slot_stride = slot_stride,
			       .layer_stride = layer_stride, .n_slots = c->n_slots,
			       .layers = c->layers, .len = c->kv_len, .width = w };
	struct pn_kv_run kr = { .kv = &cache, .slots = c->slots, .pos0 = c->pos0 };
	struct pn_attn_kv a = { .H = c->H, .Hkv = c->Hkv, .hs = hs, .layer = c->layer,
				.scale = scale };

	memcpy(kv_ref, kv, n_kv * sizeof(float));
	pn_ref_attn_cache(qkv, c->B, c->T, c->lens, &kr, &a, ref);
	memcpy(kv_twin, kv, n_kv * sizeof(float));
	cache.base = kv_twin;
	pn_attn_cache(NULL, qkv, c->B, c->T, c->lens, &kr, &a, twin, scr);

	if (memcmp(kv_dev, kv_ref, n_kv * sizeof(float))) {
		for (size_t i = 0; i < n_kv; i++)
			if (memcmp(&kv_dev[i], &kv_ref[i], sizeof(float)))
				fail_msg("attn_cache: cache float %zu (slot %zu, layer %zu, %s row "
					 "%zu, col %zu) = %g, reference %g", i, i / slot_stride,
					 i % slot_stride / layer_stride,
					 i % layer_stride < (size_t)c->kv_len * w ? "K" : "V",
					 i % ((size_t)c->kv_len * w) / w, i % w, kv_dev[i], kv_ref[i]);
	}
	assert_memory_equal(kv_twin, kv_ref, n_kv * sizeof(float));

	for (uint32_t b = 0; b < c->B; b++) {
		uint32_t L = c->lens[b] < c->T ? c->lens[b] : c->T;

		for (uint32_t t = 0; t < c->T; t++) {
			uint32_t nk = c->pos0[b] + t + 1;
			/* chunks per warp: 32-key chunks dealt round-robin to the warps */
			uint32_t cw = ((nk + 31) / 32 + c->warps - 1) / c->warps;
			double tol = (2.0 * (2 + cw) * EX2_ERR + 4 * U) * nk +
				     2.0 * (hs + 1) * hs * U * scale + 1e-6;

			for (uint32_t i = 0; i < D; i++) {
				size_t e = ((size_t)b * c->T + t) * D + i;

				if (t >= L) {	/* padding: zeroed by the kernel, as by both twins */
					if (out[e] != 0.0f || signbit(out[e]))
						fail_msg("attn_cache: padding out[%u, %u, %u] = %g, "
							 "expected 0", b, t, i, out[e]);
					continue;
				}
				double err = fabs((double)out[e] - ref[e]);

				if (!(err <= tol) || !(fabs((double)out[e] - twin[e]) <= 2 * tol))
					fail_msg("attn_cache B %u T %u H %u Hkv %u hs %u warps %u: "
						 "out[%u, %u, %u] = %.8g, ref %.8g, twin %.8g, tol %.3g",
						 c->B, c->T, c->H, c->Hkv, hs, c->warps, b, t, i, out[e],
						 ref[e], twin[e], tol);
				se += err * err;
				n_err++;
				if (err / tol > worst)
					worst = err / tol;
			}
		}
	}
	if (n_err) {
		double rms = sqrt(se / n_err);

		if (getenv("PTX_DECODER_VERBOSE"))
			fprintf(stderr, "attn_cache H %u Hkv %u hs %u warps %u: rms %.3g, worst "
				"err/tol %.3g\n", c->H, c->Hkv, hs, c->warps, rms, worst);
		if (!(rms <= RMS_MAX))
			fail_msg("attn_cache B %u T %u H %u Hkv %u hs %u: rms error %.3g > %g",
				 c->B, c->T, c->H, c->Hkv, hs, rms, RMS_MAX);
	}
	free(qkv);
	free(out);
	free(twin);
	free(ref);
	free(kv);
	free(kv_dev);
	free(kv_twin);
	free(kv_ref);
	free(scr);
}

/* A prompt from position 0: odd T, one shorter sequence, H / Hkv = 2,
 * slots out of order, layer 1 of 2. */
static void test_attn_prefill_gqa2(void **state)
{
	static const uint32_t slots[] = { 2, 0 }, pos0[] = { 0, 0 }, lens[] = { 7, 4 };
	struct attn_case c = { .B = 2, .T = 7, .H = 4, .Hkv = 2, .hs = 16, .warps = 4,
			       .kv_len = 16, .n_slots = 3, .layers = 2, .layer = 1,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* A continued prompt (pos0 > 0: cached positions read), plain MHA
 * (H = Hkv), hs 40 (lanes' columns not a multiple of 32), lens 0. */
static void test_attn_continue_mha(void **state)
{
	static const uint32_t slots[] = { 1, 3, 0 }, pos0[] = { 3, 0, 11 }, lens[] = { 5, 2, 0 };
	struct attn_case c = { .B = 3, .T = 5, .H = 4, .Hkv = 4, .hs = 40, .warps = 2,
			       .kv_len = 20, .n_slots = 4, .layers = 3, .layer = 2,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* Batched decode (T 1) at scattered positions up to 200: H / Hkv = 4, every
 * warp has chunks (the online rescaling and the merge across warps), one
 * idle sequence. */
static void test_attn_decode_gqa4(void **state)
{
	static const uint32_t slots[] = { 0, 1, 2, 3 }, pos0[] = { 0, 37, 100, 200 },
			      lens[] = { 1, 1, 1, 0 };
	struct attn_case c = { .B = 4, .T = 1, .H = 8, .Hkv = 2, .hs = 64, .warps = 4,
			       .kv_len = 202, .n_slots = 4, .layers = 1, .layer = 0,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* One warp over many chunks, hs 128 (four columns per lane), H / Hkv = 2. */
static void test_attn_one_warp_hs128(void **state)
{
	static const uint32_t slots[] = { 1 }, pos0[] = { 90 }, lens[] = { 3 };
	struct attn_case c = { .B = 1, .T = 3, .H = 2, .Hkv = 1, .hs = 128, .warps = 1,
			       .kv_len = 96, .n_slots = 2, .layers = 2, .layer = 0,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* A sharp softmax (scale 4) over a continued prompt, three warps. */
static void test_attn_sharp(void **state)
{
	static const uint32_t slots[] = { 0 }, pos0[] = { 40 }, lens[] = { 9 };
	struct attn_case c = { .B = 1, .T = 9, .H = 2, .Hkv = 2, .hs = 32, .warps = 3,
			       .kv_len = 64, .n_slots = 1, .layers = 1, .layer = 0, .scale = 4.0f,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* stories260K's shape (dim 64, 8 heads, 4 kv heads: hs 8), prompt + context. */
static void test_attn_stories_shape(void **state)
{
	static const uint32_t slots[] = { 1, 0 }, pos0[] = { 0, 12 }, lens[] = { 6, 5 };
	struct attn_case c = { .B = 2, .T = 6, .H = 8, .Hkv = 4, .hs = 8, .warps = 4,
			       .kv_len = 24, .n_slots = 2, .layers = 5, .layer = 3,
			       .slots = slots, .pos0 = pos0, .lens = lens };

	check_attn(*state, &c);
}

/* ---- gemm_f32_bt ------------------------------------------------------------------ */

struct bt_case {
	uint32_t B, T, V, D;
	int last;
	const uint32_t *lens;
};

static void check_bt(struct ptx_suite *s, const struct bt_case *c)
{
	uint32_t M = c->last ? c->B : c->B * c->T, K = c->D, N = c->V;
	size_t nx = (size_t)c->B * c->T * K, nt = (size_t)N * K, ny = (size_t)M * N;
	float *x = fbuf(nx), *table = fbuf(nt), *y = fbuf(ny), *twin = fbuf(ny), *ref = fbuf(ny);
	float *scr = fbuf((size_t)c->B * K);
	struct ptxi_dev *d = ptxi_dev_new();
	uint64_t ax, at, ay, alens = 0;

	assert_non_null(d);
	for (size_t i = 0; i < nx; i++) {
		size_t r = i / (K ? K : 1);
		/* with last, only each sequence's last row is read: the others are poison */
		x[i] = !c->last || r % c->T == c->lens[r / c->T] - 1 ? frand() : NAN;
	}
	for (size_t i = 0; i < nt; i++)
		table[i] = frand();
	for (size_t i = 0; i < ny; i++)
		y[i] = SENTINEL;
	ax = up(d, x, nx * sizeof(float));
	at = up(d, table, nt * sizeof(float));
	ay = up(d, y, ny * sizeof(float));
	if (c->last)
		alens = up(d, c->lens, c->B * sizeof(uint32_t));
	void *params[] = { &ax, &at, &ay, &alens, &M, &N, &K, (void *)&c->T };
	struct ptxi_launch l = { .grid = { (N + 63) / 64, (M + 63) / 64, 1 },
				 .block = { 256, 1, 1 }, .params = params, .n_params = 8 };

	ptx_launch_on(s->m, d, "gemm_f32_bt", &l);
	ptx_download(d, ay, y, ny * sizeof(float));
	ptxi_dev_free(d);
	pn_logits(x, c->B, c->T, c->lens, table, N, K, c->last, twin, scr);
	pn_ref_logits(x, c->B, c->T, c->lens, table, N, K, c->last, ref);

	for (uint32_t m = 0; m < M; m++) {
		const float *xr = x + (c->last ? (size_t)m * c->T + c->lens[m] - 1 : m) * K;

		for (uint32_t v = 0; v < N; v++) {
			double sa = 0, tol;
			size_t e = (size_t)m * N + v;

			for (uint32_t k = 0; k < K; k++)
				sa += fabs((double)xr[k] * table[(size_t)v * K + k]);
			tol = (K + 1) * U * sa + 1e-30;
			if (!(fabs((double)y[e] - ref[e]) <= tol) ||
			    !(fabs((double)y[e] - twin[e]) <= 2 * tol))
				fail_msg("gemm_f32_bt M %u N %u K %u last %d: C[%u, %u] = %.9g, ref "
					 "%.9g, twin %.9g, tol %.3g", M, N, K, c->last, m, v, y[e],
					 ref[e], twin[e], tol);
		}
	}
	free(x);
	free(table);
	free(y);
	free(twin);
	free(ref);
	free(scr);
}

/* Every row: ragged M, N, K (none a multiple of the tile or the K step). */
static void test_bt_every_row(void **state)
{
	struct bt_case c = { .B = 1, .T = 5, .V = 70, .D = 33 };

	check_bt(*state, &c);
	c = (struct bt_case){ .B = 2, .T = 65, .V = 129, .D = 16 };	/* 3 row tiles, 1 step */
	check_bt(*state, &c);
	c = (struct bt_case){ .B = 1, .T = 65, .V = 1, .D = 17 };
	check_bt(*state, &c);
}

/* last: each sequence's last token (lens 7, 1, 4 of T 7), a vocabulary of 200. */
static void test_bt_last_tokens(void **state)
{
	static const uint32_t lens[] = { 7, 1, 4 };
	struct bt_case c = { .B = 3, .T = 7, .V = 200, .D = 64, .last = 1, .lens = lens };

	check_bt(*state, &c);
}

/* last with more than one row tile of sequences (B 70), T 1 (decode). */
static void test_bt_last_many(void **state)
{
	static uint32_t lens[70];
	struct bt_case c = { .B = 70, .T = 1, .V = 65, .D = 20, .last = 1, .lens = lens };

	for (uint32_t b = 0; b < 70; b++)
		lens[b] = 1;
	check_bt(*state, &c);
}

/* K = 0: C = 0 (the one K step is all zeros). */
static void test_bt_empty_k(void **state)
{
	struct bt_case c = { .B = 1, .T = 4, .V = 10, .D = 0 };

	check_bt(*state, &c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rope_qkv_rows),
		cmocka_unit_test(test_rope_decode_odd_width),
		cmocka_unit_test(test_rope_in_place),
		cmocka_unit_test(test_rope_tiny_heads),
		cmocka_unit_test(test_attn_prefill_gqa2),
		cmocka_unit_test(test_attn_continue_mha),
		cmocka_unit_test(test_attn_decode_gqa4),
		cmocka_unit_test(test_attn_one_warp_hs128),
		cmocka_unit_test(test_attn_sharp),
		cmocka_unit_test(test_attn_stories_shape),
		cmocka_unit_test(test_bt_every_row),
		cmocka_unit_test(test_bt_last_tokens),
		cmocka_unit_test(test_bt_last_many),
		cmocka_unit_test(test_bt_empty_k),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
