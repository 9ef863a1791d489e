// SPDX-License-Identifier: MIT
/*
 * test_ptx_embed.c - kernels/ptx/embed.ptx (embed_f32) in the PTX
 * interpreter against pn_embed.
 *
 * Tolerance. With no or learned positions the kernel does the CPU twin's
 * IEEE operations in its order (scale * e, + pos, + type), so the bits
 * must match. With sin/cos the position term differs: the kernel's sin/cos
 * is within 6.8e-8 absolute of the true value for angles up to 1e4
 * (measured), glibc's sinf/cosf within 1 ulp (<= 6e-8 for values <= 1);
 * both sides then round the same two or three additions of slightly
 * different inputs, one ulp of the result each: |out - cpu| <= 2^-22 +
 * 4 u |cpu|. The kernel uses no approximate instruction, so the
 * interpreter's perturbation does not enter.
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
#include "uapi/pnb.h"

#define PTX_FILE "kernels/ptx/embed.ptx"
#define U 0x1p-24
#define V 7

static uint64_t rng = 0xda942042e4dd58b5ull;

static uint32_t urand(void)
{
	return (uint32_t)(ptx_rng64(&rng) >> 32);
}

static float frand(float lo, float hi)
{
	return ptx_frand(&rng, lo, hi);
}

static int setup(void **state)
{
	return ptx_suite_setup(state, PTX_FILE);
}

static float *fvec(size_t n, float lo, float hi)
{
	float *p = malloc(n * sizeof(*p) + 4);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand(lo, hi);
	return p;
}

/*
 * B sequences of T tokens, width D, positions pos_kind, a type row or not,
 * block threads, grid CTAs (fewer than B*T exercises the row loop), every
 * buffer misaligned by mis bytes; inv_hi bounds inv_freq (so angles < T inv_hi).
 */
static void embed_case(struct ptx_suite *e, uint32_t B, uint32_t T, uint32_t D, uint32_t pos_kind,
		       int with_type, float scale, uint32_t block, uint32_t grid, unsigned mis,
		       float inv_hi)
{
	size_t n = (size_t)B * T * D;
	int32_t *ids = malloc((size_t)B * T * sizeof(*ids) + 4);
	float *table = fvec((size_t)V * D, -1.0f, 1.0f), *pos = fvec((size_t)T * D, -1.0f, 1.0f);
	float *inv = fvec(D / 2 + 1, 0.0f, inv_hi), *type = fvec(D, -0.5f, 0.5f);
	float *out = fvec(n, 0, 0), *ref = fvec(n, 0, 0);

	assert_non_null(ids);
	for (size_t r = 0; r < (size_t)B * T; r++)
		ids[r] = (int32_t)(urand() % V);
	uint64_t dids = ptx_upload(e->d, ids, (size_t)B * T * 4, 0);
	uint64_t dtab = ptx_upload(e->d, table, (size_t)V * D * 4, mis);
	uint64_t dpos = pos_kind == PNB_POS_LEARNED ? ptx_upload(e->d, pos, (size_t)T * D * 4, mis) : 0;
	uint64_t dinv = pos_kind == PNB_POS_SINCOS ? ptx_upload(e->d, inv, (D / 2 + 1) * 4, mis) : 0;
	uint64_t dtype = with_type ? ptx_upload(e->d, type, D * 4, mis) : 0;
	uint64_t dout = ptx_upload(e->d, out, n * 4, mis);
	void *p[] = { &dids, &dout, &dtab, &dpos, &dinv, &dtype, &B, &T, &D, &pos_kind, &scale };
	struct ptxi_launch l = { .grid = { grid, 1, 1 }, .block = { block, 1, 1 },
				 .params = p, .n_params = 11 };
	struct pn_embed_w w = { .table = table, .D = D, .scale = scale, .pos_kind = pos_kind,
				.pos = pos, .inv_freq = inv, .type = with_type ? type : NULL };

	ptx_launch_on(e->m, e->d, "embed_f32", &l);
	pn_embed(ids, B, T, &w, ref);
	ptx_download(e->d, dout, out, n * 4);
	for (size_t j = 0; j < n; j++) {
		int exact = pos_kind != PNB_POS_SINCOS;
		double tol = 0x1p-22 + 4 * U * fabsf(ref[j]);

		if (exact ? memcmp(&out[j], &ref[j], 4) != 0 : !(fabs((double)out[j] - ref[j]) <= tol))
			fail_msg("embed D=%u pos=%u type=%d mis=%u row %zu col %zu: %.9g, cpu %.9g",
				 D, pos_kind, with_type, mis, j / D, j % D, out[j], ref[j]);
	}
	free(ids);
	free(table);
	free(pos);
	free(inv);
	free(type);
	free(out);
	free(ref);
}

static void test_embed(void **state)
{
	static const uint32_t dims[] = { 1, 3, 31, 64, 384, 1000 };

	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		for (uint32_t kind = PNB_POS_NONE; kind <= PNB_POS_SINCOS; kind++)
			for (int type = 0; type <= 1; type++) {
				embed_case(*state, 2, 3, dims[i], kind, type, 1.0f, 128, 6, 0, 1.0f);
				embed_case(*state, 2, 3, dims[i], kind, type, 5.656854f, 32, 4, 4, 1.0f);
			}
}

/* Long sequences (angles to 600 rad, and to 9600 with inv_freq up to 16), few CTAs for many rows. */
static void test_embed_large_angles(void **state)
{
	embed_case(*state, 1, 600, 64, PNB_POS_SINCOS, 0, 1.0f, 32, 37, 0, 1.0f);
	embed_case(*state, 1, 600, 33, PNB_POS_SINCOS, 1, 2.0f, 64, 13, 0, 16.0f);
	embed_case(*state, 2, 100, 384, PNB_POS_LEARNED, 1, 1.0f, 128, 7, 0, 1.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embed),
		cmocka_unit_test(test_embed_large_angles),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
