// SPDX-License-Identifier: MIT
/*
 * test_cqa: Clustered Query Attention (lib/cpu/cqa.c) against its
 * reference twin and, where the method is exact, against exact attention:
 * every query its own cluster; clusters of identical queries; the improved
 * variant with top-k covering every key. Also Hamming k-means on planted
 * clusters.
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

static uint32_t seed = 11;

static float rnd1(float scale)
{
	seed = seed * 1664525u + 1013904223u;
	return scale * ((float)(seed >> 8) / 16777216.0f - 0.5f);
}

static float *rnd(size_t n, float scale)
{
	float *p = malloc(n * sizeof(*p) + 4);

	for (size_t i = 0; i < n; i++)
		p[i] = rnd1(scale);
	return p;
}

/*
 * Valid rows only. Tolerance: oneDNN GEMMs and a polynomial exp against
 * double sums over <= 40 keys of hd <= 16: ~1e-6; 2e-5 absolute on outputs
 * of |v| <= 1 is 20x that.
 */
static void check(const float *got, const float *want, uint32_t B, uint32_t T,
		  const uint32_t *lens, uint32_t D, const char *what)
{
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < lens[b]; t++)
			for (uint32_t d = 0; d < D; d++) {
				size_t i = ((size_t)b * T + t) * D + d;

				if (!(fabsf(got[i] - want[i]) <= 2e-5f))
					fail_msg("%s: seq %u row %u col %u: got %.7g want %.7g",
						 what, b, t, d, got[i], want[i]);
			}
}

struct run {
	uint32_t B, T, D, heads;
	const uint32_t *lens;
	struct pn_cqa c;
	float *qkv, *out, *ref, *planes;
};

static void setup_run(struct run *r, uint32_t B, uint32_t T, uint32_t D, uint32_t heads,
		      const uint32_t *lens, uint32_t clusters, uint32_t bits, uint32_t topk)
{
	uint32_t hd = D / heads;

	r->B = B; r->T = T; r->D = D; r->heads = heads; r->lens = lens;
	r->qkv = rnd((size_t)B * T * 3 * D, 2.0f);
	r->planes = rnd((size_t)bits * hd, 2.0f);
	r->out = calloc((size_t)B * T * D, 4);
	r->ref = calloc((size_t)B * T * D, 4);
	r->c = (struct pn_cqa){ .heads = heads, .clusters = clusters, .bits = bits,
				.topk = topk, .iters = 10, .scale = 1.0f / sqrtf((float)hd),
				.planes = r->planes };
}

static void run_fast(struct run *r, struct pn_pool *pool)
{
	float *scr = malloc(pn_cqa_scratch(r->T, r->D, &r->c, pn_pool_size(pool)) * 4);

	pn_cqa(pool, r->qkv, r->B, r->T, r->lens, r->D, &r->c, r->out, scr);
	free(scr);
}

static void free_run(struct run *r)
{
	free(r->qkv); free(r->planes); free(r->out); free(r->ref);
}

static void test_own_cluster_is_exact_attention(void **state)
{
	const uint32_t lens[4] = { 9, 1, 16, 4 };
	struct run r;

	for (uint32_t topk = 0; topk <= 3; topk += 3) {
		setup_run(&r, 4, 16, 32, 4, lens, 16, 24, topk);
		run_fast(&r, NULL);
		pn_ref_attention(r.qkv, 4, 16, lens, 32, 4, r.c.scale, 0, r.ref);
		check(r.out, r.ref, 4, 16, lens, 32, "clusters >= len vs exact attention");
		free_run(&r);
	}
}

/* Queries that are copies of 3 distinct vectors: 3 clusters hold identical queries. */
static void test_identical_queries_cluster_exactly(void **state)
{
	const uint32_t T = 24, D = 16, heads = 2, lens[2] = { 24, 17 };
	struct run r;

	setup_run(&r, 2, T, D, heads, lens, 3, 32, 0);
	for (uint32_t b = 0; b < 2; b++)
		for (uint32_t t = 0; t < T; t++)
			memcpy(r.qkv + ((size_t)b * T + t) * 3 * D,
			       r.qkv + ((size_t)b * T + (t * 5) % 3) * 3 * D, D * sizeof(float));
	run_fast(&r, NULL);
	pn_ref_attention(r.qkv, 2, T, lens, D, heads, r.c.scale, 0, r.ref);
	check(r.out, r.ref, 2, T, lens, D, "identical-query clusters vs exact attention");
	free_run(&r);
}

/* Top-k covering every key: each query gets its own softmax, i.e. exact attention. */
static void test_topk_all_keys_is_exact(void **state)
{
	const uint32_t lens[3] = { 12, 5, 7 };
	struct run r;

	setup_run(&r, 3, 12, 24, 3, lens, 2, 16, 12);
	run_fast(&r, NULL);
	pn_ref_attention(r.qkv, 3, 12, lens, 24, 3, r.c.scale, 0, r.ref);
	check(r.out, r.ref, 3, 12, lens, 24, "top-k = len vs exact attention");
	free_run(&r);
}

static void test_matches_reference(void **state)
{
	static const struct { uint32_t C, bits, topk; } cfg[] = {
		{ 1, 8, 0 }, { 3, 16, 0 }, { 5, 64, 0 }, { 4, 32, 4 }, { 2, 1, 1 }, { 7, 63, 9 },
	};
	const uint32_t lens[5] = { 40, 1, 23, 8, 40 };
	struct pn_pool *pool = pn_pool_new(2, 0);
	struct run r;

	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		setup_run(&r, 5, 40, 64, 4, lens, cfg[i].C, cfg[i].bits, cfg[i].topk);
		pn_ref_cqa(r.qkv, 5, 40, lens, 64, &r.c, r.ref);
		run_fast(&r, NULL);
		check(r.out, r.ref, 5, 40, lens, 64, "cqa vs ref");
		memset(r.out, 0, (size_t)5 * 40 * 64 * 4);
		run_fast(&r, pool);
		check(r.out, r.ref, 5, 40, lens, 64, "cqa vs ref (pool)");
		free_run(&r);
	}
	pn_pool_free(pool);
}

/* Planted clusters: 4 random 48-bit centres, members differ in <= 3 bits. */
static void test_hamming_lloyd_recovers_planted(void **state)
{
	uint64_t centre[4], h[80], cent[4];
	uint32_t assign[80], count[4 * 49], truth[80];

	for (int k = 0; k < 4; k++) {
		centre[k] = 0;
		for (int b = 0; b < 48; b++)
			centre[k] |= (uint64_t)(rnd1(1.0f) > 0) << b;
	}
	for (uint32_t i = 0; i < 80; i++) {
		truth[i] = (i * 3) % 4;
		h[i] = centre[truth[i]];
		for (int f = 0; f < 3; f++)
			h[i] ^= 1ull << ((uint32_t)((rnd1(1.0f) + 0.5f) * 48) % 48);
	}
	for (uint32_t k = 0; k < 4; k++)
		cent[k] = h[k * 80 / 4 + k];	/* seeds from different true clusters */
	assert_true(pn_hamming_lloyd(h, 80, 48, cent, 4, 10, assign, count) < 10);
	for (uint32_t i = 0; i < 80; i++)
		for (uint32_t j = 0; j < 80; j++)
			assert_int_equal(assign[i] == assign[j], truth[i] == truth[j]);
	for (uint32_t i = 0; i < 80; i++)	/* the majority bits are the centre */
		assert_true(cent[assign[i]] == centre[truth[i]]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_cluster_is_exact_attention),
		cmocka_unit_test(test_identical_queries_cluster_exactly),
		cmocka_unit_test(test_topk_all_keys_is_exact),
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_hamming_lloyd_recovers_planted),
	};

	return cmocka_run_group_tests_name("cqa", tests, NULL, NULL);
}
