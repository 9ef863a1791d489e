// SPDX-License-Identifier: MIT
/*
 * test_ptx_cqa: kernels/ptx/cqa.ptx run in the PTX interpreter. cqa_hash
 * against hashes computed in double; cqa_hash + cqa_attend (the plain
 * variant, topk 0, and the improved top-k one) against the CPU twin pn_cqa
 * and the plain twin pn_ref_cqa: T 1, 5, 17, 64; heads 1, 2, 4; lens ragged, 1 and past T;
 * clusters 1, 3, 8 and >= L (exact attention); bits 1 to 64; iters 1 to 10.
 *
 * Hashes: a bit is the sign of a float dot product, and the kernel's order
 * of summation is not the twin's GEMM's. For the hash test a bit is only
 * compared where the exact dot is farther than 1e-5 from 0 (hd terms in
 * [-1, 1] each round to within hd 2^-24 < 3e-6 of it). For the end-to-end
 * tests the queries are multiples of 1/8 in [-1, 1] and the planes +-1, so
 * every partial sum is a multiple of 1/8 below 2^24 / 8: exact in any
 * order, so kernel, twin and double reference hash alike, cluster alike
 * (Lloyd is integer arithmetic) and average the same members (the means
 * are dyadic too: sums exact, one rounding in the division, as the twin).
 *
 * Output tolerance, absolute: the centroid attention is attention.ptx's
 * online softmax with the same bound (test_ptx_attention.c): per output,
 * 1e-6 * L for the interpreter's ex2.approx perturbation (at most 4.1e-7
 * on each of L weights that sum to >= 1, times |v - o| <= 2) plus 2e-5
 * for float rounding of the scores and sums. The top-k variant adds, on
 * each of its k top keys, one perturbed weight in base and in the mass and
 * one in the member's own softmax: 2e-6 * k more. Padded rows of qkv are NaN,
 * so a masked key that leaked into a valid row would show.
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

#define PTX_FILE "kernels/ptx/cqa.ptx"
#define SENTINEL 12345.0f
#define HASH_SENTINEL 0x5a5a5a5a5a5a5a5aull

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

struct shape {
	uint32_t B, T, D, heads, bits, clusters, iters, warps, topk;
	int dup_keys;		/* odd rows' keys copy the even rows' (exact score ties) */
	const uint32_t *lens;
};

/*
 * cqa_hash into hash [B*heads*T] (entries of padded rows keep what hash
 * held), then, when out is not NULL, cqa_attend into out.
 */
static void run_cqa(struct ptx_suite *f, const struct shape *s, const float *qkv,
		    const float *planes, uint64_t *hash, float *out)
{
	struct ptxi_dev *d = ptxi_dev_new();
	size_t rows = (size_t)s->B * s->T, nh = rows * s->heads;
	uint32_t hd = s->D / s->heads, Cm = s->clusters < s->T ? s->clusters : s->T;
	float scale = 1.0f / sqrtf((float)hd);
	uint64_t a_qkv, a_lens, a_hash, a_planes, a_out;

	assert_non_null(d);
	a_qkv = ptxi_alloc(d, rows * 3 * s->D * sizeof(float));
	a_lens = ptxi_alloc(d, s->B * sizeof(uint32_t));
	a_hash = ptxi_alloc(d, nh * sizeof(uint64_t));
	a_planes = ptxi_alloc(d, (size_t)s->bits * hd * sizeof(float));
	a_out = ptxi_alloc(d, rows * s->D * sizeof(float));
	assert_true(a_qkv && a_lens && a_hash && a_planes && a_out);
	assert_int_equal(ptxi_write(d, a_qkv, qkv, rows * 3 * s->D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_lens, s->lens, s->B * sizeof(uint32_t)), 0);
	assert_int_equal(ptxi_write(d, a_hash, hash, nh * sizeof(uint64_t)), 0);
	assert_int_equal(ptxi_write(d, a_planes, planes, (size_t)s->bits * hd * sizeof(float)), 0);
	if (out)
		assert_int_equal(ptxi_write(d, a_out, out, rows * s->D * sizeof(float)), 0);

	void *hp[] = { &a_qkv, &a_lens, &a_hash, (void *)&s->T, (void *)&s->D, &hd,
		       (void *)&s->bits, &a_planes };
	struct ptxi_launch hl = {
		.grid = { (s->T + s->warps - 1) / s->warps, s->heads, s->B },
		.block = { 32 * s->warps, 1, 1 }, .params = hp, .n_params = 8,
	};

	ptx_launch_on(f->m, d, "cqa_hash", &hl);
	ptx_download(d, a_hash, hash, nh * sizeof(uint64_t));
	if (out) {
		void *ap[] = { &a_qkv, &a_lens, &a_hash, &a_out, (void *)&s->T, (void *)&s->D,
			       &hd, (void *)&s->bits, (void *)&s->clusters, (void *)&s->iters,
			       &scale, (void *)&s->topk };
		struct ptxi_launch al = {
			.grid = { s->heads, s->B, 1 }, .block = { 32 * s->warps, 1, 1 },
			.dyn_shared = 12 * s->T + 12 * Cm + 256 + 4 * Cm * hd +
				      (s->topk ? 12 * s->T * s->warps : 0),
			.params = ap, .n_params = 12,
		};

		ptx_launch_on(f->m, d, "cqa_attend", &al);
		ptx_download(d, a_out, out, rows * s->D * sizeof(float));
	}
	ptxi_dev_free(d);
}

/* qkv with NaN padded rows; dyadic: q in multiples of 1/8 (see the header). */
static float *make_qkv(const struct shape *s, int dyadic, uint32_t *seed)
{
	size_t rows = (size_t)s->B * s->T;
	float *qkv = malloc(rows * 3 * s->D * sizeof(float) + 1);

	assert_non_null(qkv);
	for (size_t r = 0; r < rows; r++) {
		uint32_t b = (uint32_t)(r / s->T), t = (uint32_t)(r % s->T);

		for (uint32_t c = 0; c < 3 * s->D; c++) {
			float v = ptx_unit32(seed);

			if (dyadic && c < s->D)
				v = (float)((int32_t)(ptx_rng32(seed) % 17) - 8) / 8.0f;
			if (s->dup_keys && t % 2 && c >= s->D && c < 2 * s->D)
				v = qkv[(r - 1) * 3 * s->D + c];
			qkv[r * 3 * s->D + c] = t < s->lens[b] ? v : NAN;
		}
	}
	return qkv;
}

static float *make_planes(uint32_t bits, uint32_t hd, int signs, uint32_t *seed)
{
	float *p = malloc((size_t)bits * hd * sizeof(float) + 1);

	assert_non_null(p);
	for (size_t i = 0; i < (size_t)bits * hd; i++)
		p[i] = signs ? (ptx_rng32(seed) & 1 ? 1.0f : -1.0f) : ptx_unit32(seed);
	return p;
}

/* Random queries and planes: bits 1..64 (one and two ballot words), ragged lens. */
static void test_hash_bits(void **state)
{
	static const uint32_t bits[] = { 1, 17, 32, 33, 64 }, hds[] = { 8, 40 };
	uint32_t lens[2] = { 17, 5 }, seed = 3;

	for (size_t i = 0; i < sizeof(bits) / sizeof(*bits); i++)
		for (size_t j = 0; j < sizeof(hds) / sizeof(*hds); j++) {
			struct shape s = { .B = 2, .T = 17, .D = 2 * hds[j], .heads = 2,
					   .bits = bits[i], .warps = 1 + (uint32_t)i % 4, .lens = lens };
			uint32_t hd = hds[j];
			size_t nh = (size_t)s.B * s.heads * s.T;
			float *qkv = make_qkv(&s, 0, &seed), *pl = make_planes(s.bits, hd, 0, &seed);
			uint64_t *hash = malloc(nh * sizeof(*hash));

			assert_non_null(hash);
			for (size_t k = 0; k < nh; k++)
				hash[k] = HASH_SENTINEL;
			run_cqa(*state, &s, qkv, pl, hash, NULL);
			for (uint32_t b = 0; b < s.B; b++)
				for (uint32_t h = 0; h < s.heads; h++)
					for (uint32_t t = 0; t < s.T; t++) {
						uint64_t got = hash[((size_t)b * s.heads + h) * s.T + t];
						const float *q = qkv + ((size_t)b * s.T + t) * 3 * s.D + h * hd;

						if (t >= lens[b]) {
							assert_true(got == HASH_SENTINEL);
							continue;
						}
						for (uint32_t k = 0; k < 64; k++) {
							double dot = 0;

							if (k >= s.bits) {
								assert_true(!((got >> k) & 1));
								continue;
							}
							for (uint32_t c = 0; c < hd; c++)
								dot += (double)q[c] * pl[(size_t)k * hd + c];
							if (fabs(dot) > 1e-5 && ((got >> k) & 1) != (dot > 0))
								fail_msg("bits %u hd %u: b %u h %u t %u bit %u: "
									 "got %u, dot %g", s.bits, hd, b, h, t, k,
									 (unsigned)((got >> k) & 1), dot);
						}
					}
			free(qkv);
			free(pl);
			free(hash);
		}
}

static void check_cqa(struct ptx_suite *f, const struct shape *s, uint32_t seed)
{
	size_t rows = (size_t)s->B * s->T, n_out = rows * s->D;
	uint32_t hd = s->D / s->heads;
	float *qkv = make_qkv(s, 1, &seed), *pl = make_planes(s->bits, hd, 1, &seed);
	float *out = malloc(n_out * sizeof(float)), *twin = malloc(n_out * sizeof(float));
	float *ref = malloc(n_out * sizeof(float));
	uint64_t *hash = calloc(rows * s->heads, sizeof(*hash));
	struct pn_cqa c = { .heads = s->heads, .clusters = s->clusters, .bits = s->bits,
			    .topk = s->topk, .iters = s->iters, .scale = 1.0f / sqrtf((float)hd),
			    .planes = pl };
	float *scr = malloc(pn_cqa_scratch(s->T, s->D, &c, 1) * sizeof(float) + 1);

	assert_true(out && twin && ref && hash && scr);
	for (size_t i = 0; i < n_out; i++)
		out[i] = twin[i] = ref[i] = SENTINEL;
	run_cqa(f, s, qkv, pl, hash, out);
	pn_cqa(NULL, qkv, s->B, s->T, s->lens, s->D, &c, twin, scr);
	pn_ref_cqa(qkv, s->B, s->T, s->lens, s->D, &c, ref);
	for (uint32_t b = 0; b < s->B; b++) {
		uint32_t L = s->lens[b] < s->T ? s->lens[b] : s->T;
		uint32_t k = s->topk < L ? s->topk : L;
		double tol = 1e-6 * (L + 2 * k) + 2e-5;

		for (uint32_t t = 0; t < s->T; t++)
			for (uint32_t col = 0; col < s->D; col++) {
				size_t i = ((size_t)b * s->T + t) * s->D + col;

				if (t >= L) {
					if (out[i] != SENTINEL)
						fail_msg("padded out[%u, %u, %u] = %g written", b, t, col,
							 out[i]);
					continue;
				}
				/* exact ties: the twin's GEMM may round copies apart, the reference cannot */
				if ((!s->dup_keys && !(fabs(out[i] - twin[i]) <= tol)) ||
				    !(fabs(out[i] - ref[i]) <= tol))
					fail_msg("T %u heads %u C %u bits %u iters %u topk %u: out[%u, %u, %u] = "
						 "%.7g, twin %.7g, ref %.7g, tol %.2g", s->T, s->heads,
						 s->clusters, s->bits, s->iters, s->topk, b, t, col, out[i],
						 twin[i], ref[i], tol);
			}
	}
	free(qkv);
	free(pl);
	free(out);
	free(twin);
	free(ref);
	free(hash);
	free(scr);
}

/* T 1, 5, 17, 64 x heads 1, 2, 4 x clusters 1, 3, 8, 64 (>= L: exact). */
static void test_clustered(void **state)
{
	static const uint32_t Ts[] = { 1, 5, 17, 64 }, Hs[] = { 1, 2, 4 }, Cs[] = { 1, 3, 8, 64 };
	uint32_t seed = 17;

	for (size_t i = 0; i < sizeof(Ts) / sizeof(*Ts); i++)
		for (size_t j = 0; j < sizeof(Hs) / sizeof(*Hs); j++)
			for (size_t k = 0; k < sizeof(Cs) / sizeof(*Cs); k++) {
				uint32_t T = Ts[i], lens[2] = { T, T / 2 + 1 };
				struct shape s = { .B = 2, .T = T, .D = Hs[j] * 16, .heads = Hs[j],
						   .bits = 12, .clusters = Cs[k], .iters = 5,
						   .warps = 4, .lens = lens };

				check_cqa(*state, &s, seed++);
			}
}

/* Hash widths across the ballot words, iterations to convergence or not, lens past T. */
static void test_bits_iters_lens(void **state)
{
	static const uint32_t bits[] = { 1, 31, 33, 64 }, iters[] = { 1, 2, 10 };
	uint32_t lens[3] = { 40, 33, 1 }, seed = 91;

	for (size_t i = 0; i < sizeof(bits) / sizeof(*bits); i++)
		for (size_t j = 0; j < sizeof(iters) / sizeof(*iters); j++) {
			struct shape s = { .B = 3, .T = 33, .D = 80, .heads = 2, .bits = bits[i],
					   .clusters = 6, .iters = iters[j], .warps = 1 + (uint32_t)j,
					   .lens = lens };

			check_cqa(*state, &s, seed++);
		}
}

/*
 * The improved variant: k 1, 5, 32 (one chunk), 40 (two), and >= L (all
 * keys: the re-weighting then spans the whole row); with C >= L it must
 * reduce to exact attention.
 */
static void test_topk(void **state)
{
	static const uint32_t ks[] = { 1, 5, 32, 40, 64 }, Cs[] = { 3, 8, 64 };
	uint32_t lens[2] = { 64, 23 }, seed = 131;

	for (size_t i = 0; i < sizeof(ks) / sizeof(*ks); i++)
		for (size_t j = 0; j < sizeof(Cs) / sizeof(*Cs); j++) {
			struct shape s = { .B = 2, .T = 64, .D = 64, .heads = 2, .bits = 20,
					   .clusters = Cs[j], .iters = 4, .warps = 2 + (uint32_t)j,
					   .topk = ks[i], .lens = lens };

			check_cqa(*state, &s, seed++);
		}
}

/*
 * Exact ties among the centroid scores (pairs of identical keys with
 * different values): the top-k keeps the lower key of a pair split by the
 * k-th place, as pn_ref_cqa does (compared with it alone: only it is sure
 * to score two copies alike).
 */
static void test_topk_ties(void **state)
{
	static const uint32_t ks[] = { 1, 3, 6 };
	uint32_t lens[1] = { 30 }, seed = 171;

	for (size_t i = 0; i < sizeof(ks) / sizeof(*ks); i++) {
		struct shape s = { .B = 1, .T = 30, .D = 32, .heads = 2, .bits = 16, .clusters = 4,
				   .iters = 3, .warps = 4, .topk = ks[i], .dup_keys = 1, .lens = lens };

		check_cqa(*state, &s, seed++);
	}
}

/*
 * USE lite's T 128 and head width 64 (2 of its 8 heads: the interpreter is
 * slow), plain and top-16.
 */
static void test_use_lite_shape(void **state)
{
	uint32_t lens[1] = { 128 };

	for (uint32_t topk = 0; topk <= 16; topk += 16) {
		struct shape s = { .B = 1, .T = 128, .D = 128, .heads = 2, .bits = 32,
				   .clusters = 16, .iters = 5, .warps = 4, .topk = topk, .lens = lens };

		check_cqa(*state, &s, 700 + topk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_bits),
		cmocka_unit_test(test_clustered),
		cmocka_unit_test(test_bits_iters_lens),
		cmocka_unit_test(test_topk),
		cmocka_unit_test(test_topk_ties),
		cmocka_unit_test(test_use_lite_shape),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
