// SPDX-License-Identifier: MIT
/*
 * test_macro: the Macro-Operator kernel (lib/cpu/macro.c) against its
 * reference twin for both routers, top-1 and top-2, with and without
 * biases; and the residual identity when the experts output nothing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cpu/poly.h"

static uint32_t seed = 21;

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

enum { D = 16, E = 4, R = 8 };

struct mac {
	struct pn_macro m;
	float c[E * (PN_CHEB_MAX_DEGREE + 1)];
	float *cent, *wg, *bg, *W1, *b1, *W2, *b2;
};

static void mac_init(struct mac *k, uint32_t router, uint32_t topk, int biases)
{
	uint32_t nc = pn_cheb_ncoef(12, 1);

	k->cent = rnd(E * D, 8.0f);	/* far apart: routing decided by margins >> rounding */
	k->wg = rnd(D * E, 2.0f);
	k->bg = rnd(E, 1.0f);
	k->W1 = rnd(E * D * R, 1.0f);
	k->b1 = rnd(E * R, 1.0f);
	k->W2 = rnd(E * R * D, 1.0f);
	k->b2 = rnd(E * D, 1.0f);
	/* each expert its own series (the fit, scaled): a wrong expert's coefs would show */
	for (uint32_t e = 0; e < E; e++) {
		assert_int_equal(pn_cheb_fit(PNB_ACT_SILU, -3, 3, 12, 1, 0, k->c + e * nc, NULL), 0);
		for (uint32_t j = 0; j < nc; j++)
			k->c[e * nc + j] *= 1.0f + 0.25f * e;
	}
	k->m = (struct pn_macro){
		.E = E, .rank = R, .router = router, .topk = topk, .temperature = 2.0f,
		.router_w = router == PN_ROUTER_LINEAR ? k->wg : k->cent,
		.router_b = router == PN_ROUTER_LINEAR && biases ? k->bg : NULL,
		.W1 = k->W1, .b1 = biases ? k->b1 : NULL, .coefs = k->c, .W2 = k->W2,
		.b2 = biases ? k->b2 : NULL,
		.cheb = { .degree = 12, .act = PNB_ACT_SILU, .even = 1, .a = -3, .b = 3 },
	};
}

static void mac_free(struct mac *k)
{
	free(k->cent); free(k->wg); free(k->bg); free(k->W1); free(k->b1); free(k->W2);
	free(k->b2);
}

/* Rows near the centroids (noise 0.3 per coordinate against spacing ~8). */
static float *rows_near(const struct mac *k, uint32_t rows)
{
	float *x = malloc((size_t)rows * D * 4);

	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < D; i++)
			x[(size_t)r * D + i] = k->cent[(r * 7 % E) * D + i] + rnd1(0.6f);
	return x;
}

/* Tolerance: two float GEMMs of K <= 16 and a float series against double: 1e-4 (1 + |y|). */
static void test_matches_reference(void **state)
{
	const uint32_t rows_list[3] = { 1, 50, 130 };
	struct pn_pool *pool = pn_pool_new(2, 0);
	struct mac k;

	for (uint32_t router = 0; router <= 1; router++)
		for (uint32_t topk = 1; topk <= 2; topk++)
			for (int biases = 0; biases <= 1; biases++)
				for (int ri = 0; ri < 3; ri++) {
					uint32_t rows = rows_list[ri];
					float *x, *out, *ref, *scr;

					mac_init(&k, router, topk, biases);
					x = rows_near(&k, rows);
					out = malloc((size_t)rows * D * 4);
					ref = malloc((size_t)rows * D * 4);
					scr = malloc(pn_macro_scratch(rows, D, &k.m) * 4);
					pn_macro(ri == 2 ? pool : NULL, x, rows, D, &k.m, out, scr);
					pn_ref_macro(x, rows, D, &k.m, ref);
					for (size_t i = 0; i < (size_t)rows * D; i++)
						if (!(fabsf(out[i] - ref[i]) <= 1e-4f * (1 + fabsf(ref[i]))))
							fail_msg("router %u top%u bias %d rows %u [%zu]: "
								 "%.7g vs %.7g", router, topk, biases,
								 rows, i, out[i], ref[i]);
					free(x); free(out); free(ref); free(scr);
					mac_free(&k);
				}
	pn_pool_free(pool);
}

/* Experts with W2 = 0 and no b2 add nothing: y == x bit for bit. */
static void test_zero_experts_are_identity(void **state)
{
	struct mac k;
	float *x, out[20 * D], *scr;

	mac_init(&k, PN_ROUTER_CENTROID, 2, 0);
	memset(k.W2, 0, (size_t)E * R * D * 4);
	x = rows_near(&k, 20);
	scr = malloc(pn_macro_scratch(20, D, &k.m) * 4);
	pn_macro(NULL, x, 20, D, &k.m, out, scr);
	assert_memory_equal(out, x, sizeof(out));
	free(x); free(scr);
	mac_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_reference),
		cmocka_unit_test(test_zero_experts_are_identity),
	};

	return cmocka_run_group_tests_name("macro", tests, NULL, NULL);
}
