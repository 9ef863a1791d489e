// SPDX-License-Identifier: MIT
/*
 * test_embed.c - pn_embed against pn_ref_embed: learned, sin/cos and no
 * positions, with and without a type row, token scale 1 and 2 (USE lite
 * doubles its embeddings), B and T of 1, odd D.
 *
 * Tolerance: the kernel adds in float (two or three roundings) where the
 * reference adds in double and rounds once, and sinf/cosf are within 1 ulp
 * of sin/cos of the same float angle: 4e-7 * (1 + |ref|), i.e. a few ulp.
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
#include "uapi/pnb.h"

#include "test_rand.h"

static void check_embed(uint32_t B, uint32_t T, uint32_t D, float scale, uint32_t kind,
			int with_type)
{
	uint32_t V = 50, max_pos = 130;
	float *table = rand_buf((size_t)V * D), *pos = rand_buf((size_t)max_pos * D);
	float *inv = malloc((D / 2 + 1) * sizeof(*inv)), *type = rand_buf(D);
	float *y = rand_buf((size_t)B * T * D), *r = rand_buf((size_t)B * T * D);
	int32_t *ids = malloc((size_t)B * T * sizeof(*ids) + 1);

	assert_non_null(inv);
	assert_non_null(ids);
	for (uint32_t i = 0; i < D / 2; i++)	/* the USE lite timing signal */
		inv[i] = expf(-(float)i * logf(1e4f) / (float)(D / 2 > 1 ? D / 2 - 1 : 1));
	for (size_t i = 0; i < (size_t)B * T; i++)
		ids[i] = (int32_t)((frand() + 1.0f) * 0.5f * (V - 1));
	pn_embed(ids, B, T, &(struct pn_embed_w){ .table = table, .D = D, .scale = scale,
		 .pos_kind = kind, .pos = pos, .inv_freq = inv, .type = with_type ? type : NULL }, y);
	pn_ref_embed(ids, B, T, table, D, scale, kind, pos, inv, with_type ? type : NULL, r);
	for (size_t i = 0; i < (size_t)B * T * D; i++)
		if (!(fabsf(y[i] - r[i]) <= 4e-7f * (1.0f + fabsf(r[i]))))
			fail_msg("B%u T%u D%u kind %u type %d: out[%zu] = %.9g, ref %.9g", B, T, D,
				 kind, with_type, i, y[i], r[i]);
	free(table);
	free(pos);
	free(inv);
	free(type);
	free(y);
	free(r);
	free(ids);
}

static void test_embed_all_kinds(void **state)
{
	static const uint32_t dims[][3] = { { 1, 1, 8 }, { 3, 5, 7 }, { 2, 128, 256 }, { 4, 1, 2 } };

	for (size_t s = 0; s < sizeof(dims) / sizeof(dims[0]); s++)
		for (uint32_t kind = PNB_POS_NONE; kind <= PNB_POS_SINCOS; kind++)
			for (int type = 0; type <= 1; type++) {
				check_embed(dims[s][0], dims[s][1], dims[s][2], 2.0f, kind, type);
				check_embed(dims[s][0], dims[s][1], dims[s][2], 1.0f, kind, type);
			}
}

/* The sin/cos layout itself, independent of the reference: row t = 3, D = 4. */
static void test_embed_sincos_layout(void **state)
{
	float table[4] = { 0 }, inv[2] = { 1.0f, 0.5f }, out[4 * 4];
	int32_t ids[4] = { 0, 0, 0, 0 };

	pn_embed(ids, 1, 4, &(struct pn_embed_w){ .table = table, .D = 4, .scale = 2.0f,
		 .pos_kind = PNB_POS_SINCOS, .inv_freq = inv }, out);
	assert_float_equal(out[12 + 0], sinf(3.0f), 1e-7);
	assert_float_equal(out[12 + 1], sinf(1.5f), 1e-7);
	assert_float_equal(out[12 + 2], cosf(3.0f), 1e-7);
	assert_float_equal(out[12 + 3], cosf(1.5f), 1e-7);
	assert_float_equal(out[0 + 2], 1.0f, 0);	/* cos(0) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed_all_kinds),
		cmocka_unit_test(test_embed_sincos_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
