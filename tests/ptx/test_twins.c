// SPDX-License-Identifier: MIT
/*
 * test_twins.c - the CPU twins of tests/cuda_double/twins*.c against the
 * kernels they stand for: every case builds the same device memory twice
 * (two fresh ptxi devices allocate the same addresses in the same order),
 * runs the kernel in the PTX interpreter on one and cud_twin_run on the
 * other with the same grid, block and params, then compares every word of
 * every allocation: words the kernel left alone (guard bytes around each
 * buffer, rows past a length, tiles past the grid, the inputs) must be
 * bit-identical in the twin's memory, written words within the case's
 * tolerance (exact for integer outputs). Shapes are ragged and launches are
 * those of the kernels' own suites (tests/ptx/test_ptx_<x>.c).
 * Also: -ENOENT for an unknown entry, -EFAULT for a range outside every
 * allocation, -EINVAL for a block the kernel does not take.
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

#include "tests/cuda_double/twins.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"
#include "uapi/pnb.h"

/* ---- the harness: a case is buffers, params and a launch, run twice ---- */

#define GUARD 64		/* bytes before and after every buffer */
#define MAXB 10
#define MAXP 20

enum { IN, OUT, INOUT };
enum { PK_BUF, PK_NULL, PK_U32, PK_U64, PK_F32 };

struct tbuf {
	uint8_t *init;		/* the whole allocation's first contents: guard, data, guard */
	size_t bytes;		/* the data's */
	unsigned mis;		/* data at base + GUARD + mis */
	int kind, exact;	/* exact: words are integers, compared bit for bit */
};

struct tparam {
	int kind;
	uint32_t buf;
	uint64_t u64;
	uint32_t u32;
	float f32;
};

struct tcase {
	const char *ptx, *entry;
	uint32_t grid[3], block[3], dyn;
	double rtol, atol;	/* |twin - kernel| <= rtol |kernel| + atol for f32 words */
	int noop_ok;		/* the kernel may leave its outputs as they were (a copy in place) */
	uint32_t nb, np;
	struct tbuf b[MAXB];
	struct tparam p[MAXP];
};

#define SEED 0x3C6EF372FE94F82Bull
static uint64_t rng = SEED;

/* Each test from the same seed: its inputs do not depend on which tests ran before. */
static int reseed(void **state)
{
	rng = SEED;
	return 0;
}

static float frand(float lo, float hi)
{
	return ptx_frand(&rng, lo, hi);
}

static uint32_t urand(uint32_t n)
{
	return (uint32_t)(ptx_rng64(&rng) >> 33) % n;
}

static struct tcase *tc_new(const char *ptx, const char *entry, double rtol, double atol)
{
	struct tcase *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->ptx = ptx;
	c->entry = entry;
	c->rtol = rtol;
	c->atol = atol;
	for (int i = 0; i < 3; i++)
		c->grid[i] = c->block[i] = 1;
	return c;
}

static void tc_launch(struct tcase *c, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx,
		      uint32_t dyn)
{
	c->grid[0] = gx;
	c->grid[1] = gy;
	c->grid[2] = gz;
	c->block[0] = bx;
	c->dyn = dyn;
}

/* A buffer of bytes: data (NULL: 0xFF, a NaN in every f32 word) inside guards of 0xA5. */
static uint32_t tc_buf(struct tcase *c, int kind, const void *data, size_t bytes, unsigned mis,
		       int exact)
{
	struct tbuf *b = &c->b[c->nb];

	assert_true(c->nb < MAXB);
	b->init = malloc(bytes + 2 * GUARD + 16);
	assert_non_null(b->init);
	memset(b->init, 0xA5, bytes + 2 * GUARD + 16);
	if (data)
		memcpy(b->init + GUARD + mis, data, bytes);
	else
		memset(b->init + GUARD + mis, 0xFF, bytes);
	b->bytes = bytes;
	b->mis = mis;
	b->kind = kind;
	b->exact = exact;
	return c->nb++;
}

static struct tparam *tc_param(struct tcase *c, int kind)
{
	assert_true(c->np < MAXP);
	c->p[c->np].kind = kind;
	return &c->p[c->np++];
}

static void p_buf(struct tcase *c, uint32_t b)
{
	tc_param(c, PK_BUF)->buf = b;
}

static void p_null(struct tcase *c)
{
	tc_param(c, PK_NULL);
}

static void p_u32(struct tcase *c, uint32_t v)
{
	tc_param(c, PK_U32)->u32 = v;
}

static void p_u64(struct tcase *c, uint64_t v)
{
	tc_param(c, PK_U64)->u64 = v;
}

static void p_f32(struct tcase *c, float v)
{
	tc_param(c, PK_F32)->f32 = v;
}

/* Shortcuts: a random f32 input, an output, an in-place buffer, an integer input. */
static uint32_t b_rand(struct tcase *c, size_t n, float lo, float hi, unsigned mis)
{
	float *v = malloc(n * 4 + 4);
	uint32_t b;

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = frand(lo, hi);
	b = tc_buf(c, IN, v, n * 4, mis, 0);
	free(v);
	return b;
}

static uint32_t b_out(struct tcase *c, size_t n, unsigned mis)
{
	return tc_buf(c, OUT, NULL, n * 4, mis, 0);
}

static uint32_t b_words(struct tcase *c, const void *w, size_t n)
{
	return tc_buf(c, IN, w, n * 4, 0, 1);
}

/* The modules, loaded once per file. */
struct mods {
	const char *file[16];
	struct ptxi_module *m[16];
	uint32_t n;
};
static struct mods mods;

static struct ptxi_module *module(const char *file)
{
	struct ptxi_err e;

	for (uint32_t i = 0; i < mods.n; i++)
		if (!strcmp(mods.file[i], file))
			return mods.m[i];
	assert_true(mods.n < 16);
	if (ptxi_load(file, &mods.m[mods.n], &e))
		fail_msg("%s", e.msg);
	mods.file[mods.n] = file;
	return mods.m[mods.n++];
}

/* One device with the case's allocations; addr[i] is buffer i's data. */
static struct ptxi_dev *tc_dev(const struct tcase *c, uint64_t *addr)
{
	struct ptxi_dev *d = ptxi_dev_new();

	assert_non_null(d);
	for (uint32_t i = 0; i < c->nb; i++) {
		size_t all = c->b[i].bytes + 2 * GUARD + 16;
		uint64_t base = ptxi_alloc(d, all);

		assert_true(base != 0 && base % 16 == 0);
		assert_int_equal(ptxi_write(d, base, c->b[i].init, all), 0);
		addr[i] = base + GUARD + c->b[i].mis;
	}
	return d;
}

/* The params' values and the pointers kernelParams holds. */
static void tc_params(const struct tcase *c, const uint64_t *addr, uint64_t *val, void **pp)
{
	for (uint32_t i = 0; i < c->np; i++) {
		const struct tparam *p = &c->p[i];

		val[i] = 0;
		switch (p->kind) {
		case PK_BUF:
			val[i] = addr[p->buf];
			break;
		case PK_U64:
			val[i] = p->u64;
			break;
		case PK_U32:
			memcpy(&val[i], &p->u32, 4);
			break;
		case PK_F32:
			memcpy(&val[i], &p->f32, 4);
			break;
		}
		pp[i] = &val[i];
	}
}

/* Runs the twin on a fresh device of the case: its return code, msg its message. */
static int tc_twin(const struct tcase *c, struct ptxi_dev **dev, uint64_t *addr, char *msg,
		   size_t len)
{
	uint64_t val[MAXP];
	void *pp[MAXP];

	*dev = tc_dev(c, addr);
	tc_params(c, addr, val, pp);
	return cud_twin_run(*dev, c->entry, c->grid, c->block, c->dyn, pp, c->np, msg, len);
}

static int words_close(const struct tcase *c, const struct tbuf *b, const uint8_t *k,
		       const uint8_t *w)
{
	float fk, fw;

	if (!memcmp(k, w, 4))
		return 1;
	if (b->exact)
		return 0;
	memcpy(&fk, k, 4);
	memcpy(&fw, w, 4);
	return fabs((double)fw - fk) <= c->rtol * fabs((double)fk) + c->atol;
}

/*
 * The kernel on one device, the twin on another, every allocation compared
 * (see the header). The kernel must change some output word, or the case
 * checks nothing. Frees the case.
 */
static void tc_run(struct tcase *c)
{
	struct ptxi_module *m = module(c->ptx);
	uint64_t ak[MAXB], aw[MAXB], val[MAXP];
	void *pp[MAXP];
	struct ptxi_dev *dk = tc_dev(c, ak), *dw;
	struct ptxi_launch l = { .grid = { c->grid[0], c->grid[1], c->grid[2] },
				 .block = { c->block[0], c->block[1], c->block[2] },
				 .dyn_shared = c->dyn, .params = pp, .n_params = c->np };
	struct ptxi_err e;
	char msg[256];
	size_t changed = 0;
	int rc;

	tc_params(c, ak, val, pp);
	if (ptxi_run(m, dk, c->entry, &l, &e))
		fail_msg("%s: %s", c->entry, e.msg);
	rc = tc_twin(c, &dw, aw, msg, sizeof msg);
	if (rc)
		fail_msg("twin %s: %d %s", c->entry, rc, msg);
	for (uint32_t i = 0; i < c->nb; i++) {
		const struct tbuf *b = &c->b[i];
		size_t all = b->bytes + 2 * GUARD + 16;
		uint8_t *k = malloc(all), *w = malloc(all);
		uint64_t base = ak[i] - GUARD - b->mis;

		assert_int_equal(aw[i], ak[i]);
		assert_non_null(k);
		assert_non_null(w);
		ptx_download(dk, base, k, all);
		ptx_download(dw, base, w, all);
		/* the guards: the twin writes nothing outside the ranges its params name */
		for (size_t j = 0; j < all; j++)
			if ((j < GUARD + b->mis || j >= GUARD + b->mis + b->bytes) && w[j] != b->init[j])
				fail_msg("%s: buffer %u: guard byte %zd changed", c->entry, i,
					 (ssize_t)j - GUARD - (ssize_t)b->mis);
		for (size_t j = 0; j + 4 <= all; j += 4) {
			if (memcmp(k + j, b->init + j, 4))
				changed += b->kind != IN;
			if (!words_close(c, b, k + j, w + j)) {
				float fk, fw;

				memcpy(&fk, k + j, 4);
				memcpy(&fw, w + j, 4);
				fail_msg("%s: buffer %u word %zd: kernel %.9g (0x%08x), twin %.9g (0x%08x)",
					 c->entry, i, ((ssize_t)j - GUARD - (ssize_t)b->mis) / 4, fk,
					 *(uint32_t *)(k + j), fw, *(uint32_t *)(w + j));
			}
		}
		free(k);
		free(w);
	}
	if (!changed && !c->noop_ok)
		fail_msg("%s: the kernel wrote no output word: the case checks nothing", c->entry);
	ptxi_dev_free(dk);
	ptxi_dev_free(dw);
	for (uint32_t i = 0; i < c->nb; i++)
		free(c->b[i].init);
	free(c);
}

/* ---- gemm_f32.ptx ---- */

#define GEMM_PTX "kernels/ptx/gemm_f32.ptx"

/*
 * C = act(A B + bias) over M x N x K; grid short by gshort tiles in y (the
 * rows past the grid stay untouched). Tolerance: the suite's 1e-4 (1 + |c|)
 * (test_ptx_gemm.c): both sum the K products in k order (the kernel fused,
 * the twin not: ~1e-6 apart for K <= 300), the activations differ by a few
 * 1e-7 and ex2.approx's 2^-22.
 */
static void gemm_case(const char *entry, uint32_t M, uint32_t N, uint32_t K, uint32_t act,
		      int bias, uint32_t gshort)
{
	int rows = !strcmp(entry, "gemm_f32_rows");
	uint32_t tm = rows ? 16 : 64, tn = rows ? 32 : 64;
	struct tcase *c = tc_new(GEMM_PTX, entry, 1e-4, 1e-4);
	uint32_t a = b_rand(c, (size_t)M * K, -1, 1, 0), b = b_rand(c, (size_t)K * N, -1, 1, 0);
	uint32_t bv = b_rand(c, N, -1, 1, 0), out = b_out(c, (size_t)M * N, 0);

	p_buf(c, a);
	p_buf(c, b);
	if (bias)
		p_buf(c, bv);
	else
		p_null(c);
	p_buf(c, out);
	p_u32(c, M);
	p_u32(c, N);
	p_u32(c, K);
	p_u32(c, act);
	tc_launch(c, (N + tn - 1) / tn, (M + tm - 1) / tm - gshort, 1, 256, 0);
	tc_run(c);
}

static void test_gemm(void **state)
{
	static const uint32_t shapes[][3] = { { 1, 1, 1 }, { 5, 37, 19 }, { 17, 70, 33 },
					      { 70, 65, 17 }, { 3, 33, 0 } };

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		for (uint32_t act = 0; act <= PNB_ACT_COUNT; act++) {	/* COUNT: unknown, SiLU */
			gemm_case("gemm_f32", shapes[i][0], shapes[i][1], shapes[i][2], act, act & 1, 0);
			gemm_case("gemm_f32_rows", shapes[i][0], shapes[i][1], shapes[i][2], act,
				  !(act & 1), 0);
		}
	gemm_case("gemm_f32", 130, 20, 9, PNB_ACT_GELU, 1, 1);		/* grid 1 tile short */
	gemm_case("gemm_f32_rows", 40, 40, 9, PNB_ACT_RELU, 1, 1);
}

/* ---- embed.ptx ---- */

/*
 * B x T rows of width D; pos_kind, type or not, block, grid (fewer CTAs
 * than rows: the row loop). Learned and no positions: bit-exact (the same
 * mul then adds, unfused); sin/cos: the kernel's 6.8e-8 absolute plus
 * sinf/cosf's ulp: 2^-22 + 4 ulp relative, as test_ptx_embed.c.
 */
static void embed_case(uint32_t B, uint32_t T, uint32_t D, uint32_t kind, int type,
		       uint32_t block, uint32_t grid, unsigned mis)
{
	const uint32_t V = 11;
	int sc = kind == PNB_POS_SINCOS;
	struct tcase *c = tc_new("kernels/ptx/embed.ptx", "embed_f32", sc ? 4 * 0x1p-24 : 0,
				 sc ? 0x1p-22 : 0);
	int32_t *ids = malloc((size_t)B * T * 4 + 4);

	assert_non_null(ids);
	for (size_t r = 0; r < (size_t)B * T; r++)
		ids[r] = (int32_t)urand(V);
	p_buf(c, b_words(c, ids, (size_t)B * T));
	p_buf(c, b_out(c, (size_t)B * T * D, mis));
	p_buf(c, b_rand(c, (size_t)V * D, -1, 1, mis));
	if (kind == PNB_POS_LEARNED)
		p_buf(c, b_rand(c, (size_t)T * D, -1, 1, mis));
	else
		p_null(c);
	if (sc)
		p_buf(c, b_rand(c, D / 2 + 1, 0, 1, mis));
	else
		p_null(c);
	if (type)
		p_buf(c, b_rand(c, D, -0.5f, 0.5f, mis));
	else
		p_null(c);
	p_u32(c, B);
	p_u32(c, T);
	p_u32(c, D);
	p_u32(c, kind);
	p_f32(c, 5.656854f);
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
	free(ids);
}

static void test_embed(void **state)
{
	static const uint32_t dims[] = { 1, 3, 33, 64 };

	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		for (uint32_t kind = 0; kind <= 3; kind++)	/* 3: unknown, no positions */
			for (int type = 0; type <= 1; type++) {
				embed_case(2, 3, dims[i], kind, type, 32, 4, 0);
				embed_case(2, 3, dims[i], kind, type, 64, 6, 4);
			}
	embed_case(1, 300, 33, PNB_POS_SINCOS, 1, 32, 7, 0);	/* angles to 300 rad */
}

/* ---- norm.ptx ---- */

/*
 * rows x d, block, grid (fewer CTAs than rows: the row loop). Tolerance:
 * the kernel's f32 sums against the twin's double ones: (d / block + 16)
 * roundings of 2^-24 relative on mean and variance, within 1e-5 of rstd;
 * an output near 0 (x near the mean) keeps that error of |x - mean| rstd
 * |g| <= ~4 |g| absolute: 1e-5 (1 + |y|) bounds both.
 */
static void norm_case(int rms, uint32_t rows, uint32_t d, uint32_t block, uint32_t grid,
		      unsigned mis)
{
	struct tcase *c = tc_new("kernels/ptx/norm.ptx", rms ? "rmsnorm_f32" : "layernorm_f32",
				 1e-5, 1e-5);

	p_buf(c, b_rand(c, (size_t)rows * d, -3, 5, mis));
	p_buf(c, b_out(c, (size_t)rows * d, mis));
	p_buf(c, b_rand(c, d, -2, 2, mis));
	if (!rms)
		p_buf(c, b_rand(c, d, -1, 1, mis));
	p_u32(c, rows);
	p_u32(c, d);
	p_f32(c, 1e-5f);
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
}

static void test_norm(void **state)
{
	static const uint32_t dims[] = { 1, 5, 64, 383 };

	for (int rms = 0; rms <= 1; rms++)
		for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
			norm_case(rms, 5, dims[i], 32, 2, 0);
			norm_case(rms, 3, dims[i], 128, 3, 4);
		}
}

/* ---- elementwise.ptx, glu.ptx ---- */

#define ELEM_PTX "kernels/ptx/elementwise.ptx"

/*
 * Activations for x in [-8, 8): the twin computes lib/cpu/act.c's forms
 * with libm, the kernel its FMA polynomials: test_ptx_elementwise.c's
 * bounds, 8 ulp relative (SiLU) and, for the 1 + erf / 1 + tanh forms,
 * 2^-21 * |x| / 2 <= 2e-6 absolute: 1e-6 relative + 4e-6 absolute.
 */
static void act_case(uint32_t act, uint64_t n, uint32_t grid, unsigned mis, int in_place)
{
	struct tcase *c = tc_new(ELEM_PTX, "act_f32", 1e-6, 4e-6);
	uint32_t x = b_rand(c, n, -8, 8, mis);

	if (in_place) {
		float neg = -1.5f;	/* a value every activation but none changes */

		c->b[x].kind = INOUT;
		memcpy(c->b[x].init + GUARD + mis, &neg, 4);
	}
	c->noop_ok = in_place && (act == PNB_ACT_NONE || act >= PNB_ACT_COUNT);
	p_buf(c, x);
	p_buf(c, in_place ? x : b_out(c, n, mis));
	p_u64(c, n);
	p_u32(c, act);
	tc_launch(c, grid, 1, 1, 128, 0);
	tc_run(c);
}

/* add_f32, exact (one add.rn each); y = a in place when in_place. */
static void add_case(uint64_t n, uint32_t grid, unsigned mis, int in_place)
{
	struct tcase *c = tc_new(ELEM_PTX, "add_f32", 0, 0);
	uint32_t a = b_rand(c, n, -4, 4, mis), b = b_rand(c, n, -4, 4, mis);

	if (in_place)
		c->b[a].kind = INOUT;
	p_buf(c, a);
	p_buf(c, b);
	p_buf(c, in_place ? a : b_out(c, n, mis));
	p_u64(c, n);
	tc_launch(c, grid, 1, 1, 64, 0);
	tc_run(c);
}

/* add_rows_f32 [rows = B T, D] + [B, D], exact. */
static void add_rows_case(uint32_t B, uint32_t T, uint32_t D, uint32_t grid, unsigned mis)
{
	struct tcase *c = tc_new(ELEM_PTX, "add_rows_f32", 0, 0);

	p_buf(c, b_rand(c, (size_t)B * T * D, -4, 4, mis));
	p_buf(c, b_rand(c, (size_t)B * D, -4, 4, mis));
	p_buf(c, b_out(c, (size_t)B * T * D, mis));
	p_u32(c, B * T);
	p_u32(c, T);
	p_u32(c, D);
	tc_launch(c, grid, 1, 1, 32, 0);
	tc_run(c);
}

/*
 * l2norm_f32 and softmax_f32: the same per-element arithmetic (softmax: the
 * very exp bits), the sums in another order: d / block + 10 roundings,
 * 1e-5 relative; softmax's tiny weights are also absolute 1e-9.
 */
static void rowk_case(const char *entry, uint32_t rows, uint32_t d, uint32_t block,
		      uint32_t grid, unsigned mis)
{
	int l2 = !strcmp(entry, "l2norm_f32");
	struct tcase *c = tc_new(ELEM_PTX, entry, 1e-5, l2 ? 1e-7 : 1e-9);

	p_buf(c, b_rand(c, (size_t)rows * d, -6, 6, mis));
	p_buf(c, b_out(c, (size_t)rows * d, mis));
	p_u32(c, rows);
	p_u32(c, d);
	if (l2)
		p_f32(c, 1e-12f);
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
}

/* glu_f32 [rows, 2ff] -> [rows, ff]: act's tolerance, then one product of |u| < 1. */
static void glu_case(uint32_t act, uint32_t rows, uint32_t ff, uint32_t grid, uint32_t block)
{
	struct tcase *c = tc_new("kernels/ptx/glu.ptx", "glu_f32", 1e-6, 4e-6);

	p_buf(c, b_rand(c, (size_t)rows * 2 * ff, -8, 8, 0));
	p_buf(c, b_out(c, (size_t)rows * ff, 4));
	p_u32(c, rows);
	p_u32(c, ff);
	p_u32(c, act);
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
}

static void test_elementwise(void **state)
{
	static const uint32_t sizes[] = { 1, 7, 64, 1001 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint32_t act = 0; act <= PNB_ACT_COUNT; act++) {	/* COUNT: copies */
			act_case(act, sizes[i], 2, 0, 0);
			act_case(act, sizes[i], 3, 4, 1);
			glu_case(act, 3, sizes[i] % 97, 2, 64);
		}
		add_case(sizes[i], 2, 0, 0);
		add_case(sizes[i], 3, 4, 1);
		add_rows_case(2, 3, sizes[i] % 130, 4, i & 1 ? 4 : 0);
		rowk_case("l2norm_f32", 3, sizes[i], 64, 2, 0);
		rowk_case("l2norm_f32", 2, sizes[i], 32, 1, 4);
		rowk_case("softmax_f32", 3, sizes[i], 64, 2, 0);
		rowk_case("softmax_f32", 2, sizes[i], 32, 1, 4);
	}
}

/* ---- pool.ptx ---- */

/* pool_mean_f32 / pool_cls_f32 (B, T, d), lens ragged (0, > T), grid.y short by gshort: exact. */
static void pool_case(int cls, uint32_t B, uint32_t T, uint32_t d, uint32_t block, unsigned mis,
		      uint32_t gshort)
{
	struct tcase *c = tc_new("kernels/ptx/pool.ptx", cls ? "pool_cls_f32" : "pool_mean_f32", 0, 0);
	uint32_t lens[8];

	for (uint32_t b = 0; b < B; b++)
		lens[b] = b == 1 ? 0 : b == 2 ? T + 5 : 1 + urand(T);
	p_buf(c, b_rand(c, (size_t)B * T * d, -100, 100, mis));
	p_buf(c, b_out(c, (size_t)B * d, mis));
	if (!cls)
		p_buf(c, b_words(c, lens, B));
	p_u32(c, B);
	p_u32(c, T);
	p_u32(c, d);
	tc_launch(c, (d + block - 1) / block, B - gshort, 1, block, 0);
	tc_run(c);
}

static void test_pool(void **state)
{
	static const uint32_t dims[] = { 1, 6, 8, 130 };

	for (int cls = 0; cls <= 1; cls++)
		for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
			pool_case(cls, 4, 5, dims[i], 32, 0, 0);
			pool_case(cls, 3, 4, dims[i], 64, 4, 1);
		}
}

/* ---- attention.ptx ---- */

/*
 * B sequences of T rows, D = heads hd, lens ragged, causal or not; warps
 * per CTA; grid.x short by gshort blocks. Tolerance: test_ptx_attention.c's
 * 1e-6 nk + 2e-5 + 5e-7 scale hd (ex2.approx's weights, the sums' order);
 * nk <= 40 and scale hd <= 12 here: 1e-4 absolute.
 */
static void attn_case(const char *entry, uint32_t B, uint32_t T, uint32_t heads, uint32_t hd,
		      int causal, uint32_t warps, uint32_t gshort)
{
	struct tcase *c = tc_new("kernels/ptx/attention.ptx", entry, 0, 1e-4);
	uint32_t D = heads * hd, R = 4 * warps, lens[4];

	for (uint32_t b = 0; b < B; b++)
		lens[b] = b == 1 ? 0 : b == 2 ? T + 3 : 1 + urand(T);
	p_buf(c, b_rand(c, (size_t)B * T * 3 * D, -1, 1, 0));
	p_buf(c, b_out(c, (size_t)B * T * D, 0));
	p_buf(c, b_words(c, lens, B));
	p_u32(c, T);
	p_u32(c, D);
	p_u32(c, hd);
	p_f32(c, 1.0f / sqrtf((float)hd));
	p_u32(c, causal);
	tc_launch(c, (T + R - 1) / R - gshort, heads, B, 32 * warps,
		  4 * (32 * (2 * hd + 1) + 2 * R * hd + 64 * R));
	tc_run(c);
}

static void test_attention(void **state)
{
	for (int tiled = 0; tiled <= 1; tiled++) {
		const char *e = tiled ? "attention_tiled" : "attention_fwd";

		for (int causal = 0; causal <= 1; causal++) {
			attn_case(e, 3, 21, 2, 16, causal, 2, 0);
			attn_case(e, 2, 40, 3, 33, causal, 4, 0);
			attn_case(e, 1, 9, 1, 128, causal, 1, 0);
		}
		attn_case(e, 3, 37, 2, 8, 0, 1, 2);
	}
}

/* ---- gemm_bf16.ptx ---- */

/*
 * bf16 A [M, lda], Bt [N, ldb]: the products are exact in f32, the sums'
 * orders differ (mma tiles, k in order): test_ptx_gemm_bf16.c's bound
 * 1.13 (K + 1) 2^-23 sum |a b|, K <= 40 and |a b| < 1 here: 2.2e-4, plus
 * 1e-5 relative for the activations.
 */
static void bf16_case(uint32_t M, uint32_t N, uint32_t K, uint32_t act, int bias, uint32_t gshort)
{
	struct tcase *c = tc_new("kernels/ptx/gemm_bf16.ptx", "gemm_bf16", 1e-5, 2.5e-4);
	uint32_t lda = (K + 7) / 8 * 8 + 8, ldb = (K + 7) / 8 * 8;
	size_t na = (size_t)M * lda, nb = (size_t)N * ldb;
	uint16_t *h = malloc((na > nb ? na : nb) * 2 + 2);

	assert_non_null(h);
	for (int m = 0; m < 2; m++) {
		size_t n = m ? nb : na;

		for (size_t i = 0; i < n; i++) {
			float f = frand(-1, 1);
			uint32_t u;

			memcpy(&u, &f, 4);
			h[i] = (uint16_t)(u >> 16);
		}
		p_buf(c, tc_buf(c, IN, h, n * 2, 0, 0));
	}
	if (bias)
		p_buf(c, b_rand(c, N, -1, 1, 0));
	else
		p_null(c);
	p_buf(c, b_out(c, (size_t)M * N, 0));
	p_u32(c, M);
	p_u32(c, N);
	p_u32(c, K);
	p_u32(c, lda);
	p_u32(c, ldb);
	p_u32(c, act);
	tc_launch(c, (N + 63) / 64, (M + 63) / 64 - gshort, 1, 128, 0);
	tc_run(c);
	free(h);
}

static void test_gemm_bf16(void **state)
{
	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
		bf16_case(5, 37, 19, act, act & 1, 0);
	bf16_case(70, 65, 40, PNB_ACT_GELU, 1, 0);
	bf16_case(130, 9, 8, PNB_ACT_NONE, 0, 1);
	bf16_case(3, 3, 0, PNB_ACT_RELU, 1, 0);
}

/* ---- cheb.ptx, vq.ptx, polyffn_codes.ptx: bit-identical twins ---- */

/* ncoef random coefficients of decaying size for degree (even form: degree / 2 + 1). */
static uint32_t b_coefs(struct tcase *c, uint32_t degree, int even)
{
	uint32_t n = (even ? degree / 2 : degree) + 1;
	float v[130];

	for (uint32_t k = 0; k < n; k++)
		v[k] = frand(-1, 1) / (float)(k + 1);
	return tc_buf(c, IN, v, n * 4, 0, 0);
}

/*
 * cheb_series plain (in place or not) or gated: the same operations in the
 * same order, correctly rounded on both sides: exact. Inputs reach past
 * [a, b] on both sides (the asymptotes), with a NaN among them.
 */
static void cheb_case(uint32_t n, uint32_t ff, int gated, int in_place, uint32_t degree, int even,
		      uint32_t grid, uint32_t block)
{
	struct tcase *c = tc_new("kernels/ptx/cheb.ptx", "cheb_series", 0, 0);
	size_t nx = gated ? (size_t)(n / ff) * 2 * ff : n;
	uint32_t x = b_rand(c, nx, -5, 4, 0);
	float nan = NAN;

	memcpy(c->b[x].init + GUARD + 4 * (nx / 2), &nan, 4);
	if (in_place)
		c->b[x].kind = INOUT;
	p_buf(c, x);
	p_buf(c, in_place ? x : b_out(c, n, 4));
	p_u32(c, n);
	p_u32(c, ff);
	p_u32(c, gated);
	p_buf(c, b_coefs(c, degree, even));
	p_u32(c, degree);
	p_u32(c, even);
	p_f32(c, -4.0f);
	p_f32(c, 3.0f);
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
}

static void test_cheb(void **state)
{
	static const uint32_t degrees[] = { 1, 2, 7, 16, 33, 128 };

	for (size_t i = 0; i < sizeof(degrees) / sizeof(degrees[0]); i++)
		for (int even = 0; even <= 1; even++) {
			cheb_case(100, 0, 0, 0, degrees[i], even, 2, 64);
			cheb_case(77, 0, 0, 1, degrees[i], even, 1, 32);
			cheb_case(3 * 21, 21, 1, 0, degrees[i], even, 3, 32);
		}
}

/*
 * vq_assign: the same fma chains in the same order, the same first-minimum
 * rule: codes exact, ties included (codebook rows 1 and 4 are equal, and
 * some x rows are copies of codebook rows), a NaN row gives 0, as a NaN
 * enorm[0] does (nan_e0). dist2 adds
 * ||x||^2 summed by lanes in the kernel, in order here: D roundings of
 * 2^-24 of at most D: 1e-5 (1 + |d|).
 */
static void vq_case(uint32_t rows, uint32_t D, uint32_t K, uint32_t warps, int dist2,
		    uint32_t gshort, int nan_e0)
{
	struct tcase *c = tc_new("kernels/ptx/vq.ptx", "vq_assign", 1e-5, 1e-5);
	float *x = malloc((size_t)rows * D * 4 + 4), *cb = malloc((size_t)K * D * 4 + 4);
	float *en = malloc((size_t)K * 4);

	assert_true(x && cb && en);
	for (size_t i = 0; i < (size_t)K * D; i++)
		cb[i] = frand(-1, 1);
	if (K > 4)
		memcpy(cb + 4 * D, cb + 1 * D, D * 4);
	for (uint32_t k = 0; k < K; k++) {
		en[k] = 0;
		for (uint32_t i = 0; i < D; i++)
			en[k] += cb[(size_t)k * D + i] * cb[(size_t)k * D + i];
	}
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t i = 0; i < D; i++)
			x[(size_t)r * D + i] = r % 3 == 1 ? cb[(size_t)(r % K) * D + i] : frand(-1, 1);
	if (rows > 2 && D)
		x[2 * D] = NAN;
	if (nan_e0)	/* d_0 NaN: code 0 for every row, dist2 0 */
		en[0] = NAN;
	p_buf(c, tc_buf(c, IN, x, (size_t)rows * D * 4, 0, 0));
	p_u32(c, rows);
	p_u32(c, D);
	p_buf(c, tc_buf(c, IN, cb, (size_t)K * D * 4, 0, 0));
	p_buf(c, tc_buf(c, IN, en, (size_t)K * 4, 0, 0));
	p_u32(c, K);
	p_buf(c, tc_buf(c, OUT, NULL, (size_t)rows * 4, 0, 1));
	if (dist2)
		p_buf(c, b_out(c, rows, 4));
	else
		p_null(c);
	tc_launch(c, (rows + warps - 1) / warps - gshort, 1, 1, 32 * warps, 0);
	tc_run(c);
	free(x);
	free(cb);
	free(en);
}

/* vq_gather: a copy, exact. */
static void gather_case(uint32_t rows, uint32_t K, uint32_t W, uint32_t grid, uint32_t block)
{
	struct tcase *c = tc_new("kernels/ptx/vq.ptx", "vq_gather", 0, 0);
	uint32_t codes[64];

	for (uint32_t r = 0; r < rows; r++)
		codes[r] = urand(K);
	p_buf(c, b_words(c, codes, rows));
	p_u32(c, rows);
	p_buf(c, b_rand(c, (size_t)K * W, -1, 1, 0));
	p_u32(c, W);
	p_buf(c, b_out(c, (size_t)rows * W, 4));
	tc_launch(c, grid, 1, 1, block, 0);
	tc_run(c);
}

static void test_vq(void **state)
{
	vq_case(9, 16, 7, 2, 1, 0, 0);
	vq_case(40, 33, 40, 8, 0, 0, 0);
	vq_case(13, 5, 70, 1, 1, 0, 0);
	vq_case(20, 8, 9, 4, 1, 2, 0);	/* grid 2 CTAs short: rows 12.. stay */
	vq_case(5, 0, 3, 1, 1, 0, 0);	/* D 0: every d is enorm */
	vq_case(6, 4, 5, 2, 1, 0, 1);
	gather_case(7, 5, 33, 2, 64);
	gather_case(64, 9, 4, 3, 256);
}

/*
 * polyffn_code_table: each hidden unit and output an fma chain from its
 * bias in index order on both sides, the series op for op, the gate one
 * product: exact.
 */
static void polyffn_case(uint32_t K, uint32_t D, uint32_t ff, int gated, int biases,
			 uint32_t degree, int even, uint32_t block, uint32_t gshort)
{
	struct tcase *c = tc_new("kernels/ptx/polyffn_codes.ptx", "polyffn_code_table", 0, 0);
	uint32_t hw = gated ? 2 * ff : ff;

	p_buf(c, b_rand(c, (size_t)K * D, -1, 1, 0));
	p_buf(c, b_out(c, (size_t)K * D, 4));
	p_u32(c, K);
	p_u32(c, D);
	p_u32(c, ff);
	p_u32(c, gated);
	p_buf(c, b_rand(c, (size_t)D * hw, -0.5f, 0.5f, 0));
	if (biases)
		p_buf(c, b_rand(c, hw, -1, 1, 0));
	else
		p_null(c);
	p_buf(c, b_coefs(c, degree, even));
	p_u32(c, degree);
	p_u32(c, even);
	p_f32(c, -2.0f);
	p_f32(c, 2.5f);
	p_buf(c, b_rand(c, (size_t)ff * D, -0.5f, 0.5f, 0));
	if (biases)
		p_buf(c, b_rand(c, D, -1, 1, 0));
	else
		p_null(c);
	tc_launch(c, K - gshort, 1, 1, block, (D + ff) * 4);
	tc_run(c);
}

static void test_polyffn(void **state)
{
	for (int gated = 0; gated <= 1; gated++)
		for (int biases = 0; biases <= 1; biases++) {
			polyffn_case(5, 12, 20, gated, biases, 9, 0, 64, 0);
			polyffn_case(3, 33, 7, gated, biases, 16, 1, 32, 0);
		}
	polyffn_case(6, 8, 10, 1, 1, 5, 0, 256, 2);
}

/* ---- cqa.ptx ---- */

#define CQA_PTX "kernels/ptx/cqa.ptx"

/* Ragged lens for B sequences of T: 0 for b = 1, past T for b = 2, else 1..T. */
static void ragged_lens(uint32_t *lens, uint32_t B, uint32_t T)
{
	for (uint32_t b = 0; b < B; b++)
		lens[b] = b == 1 ? 0 : b == 2 ? T + 3 : 1 + urand(T);
}

/* cqa_hash: the kernel's fma chains, in order: the same sign bits, exact. */
static void cqa_hash_case(uint32_t B, uint32_t T, uint32_t heads, uint32_t hd, uint32_t bits,
			  uint32_t warps)
{
	struct tcase *c = tc_new(CQA_PTX, "cqa_hash", 0, 0);
	uint32_t D = heads * hd, lens[4];

	ragged_lens(lens, B, T);
	p_buf(c, b_rand(c, (size_t)B * T * 3 * D, -1, 1, 0));
	p_buf(c, b_words(c, lens, B));
	p_buf(c, tc_buf(c, OUT, NULL, (size_t)B * heads * T * 8, 0, 1));
	p_u32(c, T);
	p_u32(c, D);
	p_u32(c, hd);
	p_u32(c, bits);
	p_buf(c, b_rand(c, (size_t)bits * hd, -1, 1, 0));
	tc_launch(c, (T + warps - 1) / warps, heads, B, 32 * warps, 0);
	tc_run(c);
}

/*
 * cqa_attend over random hashes of `bits` bits: Lloyd, the means and the
 * top-k picks are the kernel's exactly (integers; the same fma chains), so
 * only the softmax weights differ: test_ptx_cqa.c's 1e-6 (L + 2k) + 2e-5
 * absolute, L, k <= 40: 1e-4.
 */
static void cqa_attend_case(uint32_t B, uint32_t T, uint32_t heads, uint32_t hd, uint32_t bits,
			    uint32_t clusters, uint32_t iters, uint32_t topk, uint32_t warps)
{
	struct tcase *c = tc_new(CQA_PTX, "cqa_attend", 0, 1e-4);
	uint32_t D = heads * hd, lens[4], Cm = clusters < T ? clusters : T;
	size_t nh = (size_t)B * heads * T;
	uint64_t *hash = malloc(nh * 8);

	assert_non_null(hash);
	ragged_lens(lens, B, T);
	for (size_t i = 0; i < nh; i++)
		hash[i] = ptx_rng64(&rng) & (bits == 64 ? ~0ull : (1ull << bits) - 1);
	p_buf(c, b_rand(c, (size_t)B * T * 3 * D, -1, 1, 0));
	p_buf(c, b_words(c, lens, B));
	p_buf(c, tc_buf(c, IN, hash, nh * 8, 0, 1));
	p_buf(c, b_out(c, (size_t)B * T * D, 0));
	p_u32(c, T);
	p_u32(c, D);
	p_u32(c, hd);
	p_u32(c, bits);
	p_u32(c, clusters);
	p_u32(c, iters);
	p_f32(c, 1.0f / sqrtf((float)hd));
	p_u32(c, topk);
	tc_launch(c, heads, B, 1, 32 * warps,
		  12 * T + 12 * Cm + 256 + 4 * Cm * hd + (topk ? 12 * T * warps : 0));
	tc_run(c);
	free(hash);
}

static void test_cqa(void **state)
{
	cqa_hash_case(3, 21, 2, 16, 40, 2);
	cqa_hash_case(2, 9, 1, 33, 64, 8);
	cqa_hash_case(3, 5, 3, 8, 7, 1);
	for (uint32_t topk = 0; topk <= 5; topk += 5) {
		cqa_attend_case(3, 24, 2, 16, 6, 4, 5, topk, 2);
		cqa_attend_case(3, 30, 1, 40, 12, 7, 1, topk, 4);	/* one round: no update */
		cqa_attend_case(2, 9, 2, 8, 64, 16, 3, topk, 1);	/* clusters >= L: exact */
	}
	cqa_attend_case(3, 40, 1, 8, 4, 3, 8, 40, 2);			/* topk >= L */
}

/* ---- macro.ptx, macro_experts.ptx ---- */

/*
 * macro_route: the scores are the kernel's fma chains (and its unfused
 * norm) in order, the picks the same scans: exact, ties included
 * (centroids 1 and 3 are equal: expert 3 never wins over 1). The top-2
 * gate's ex2.approx (2^-22 relative) against expf: 1e-6 (1 + |g|).
 */
static void route_case(uint32_t rows, uint32_t D, uint32_t E, int linear, int bias, uint32_t topk,
		       uint32_t warps)
{
	struct tcase *c = tc_new("kernels/ptx/macro.ptx", "macro_route", 1e-6, 1e-6);
	uint32_t k = topk == 2 ? 2 : 1;
	float *w = malloc((size_t)E * D * 4 + 4);

	assert_non_null(w);
	for (size_t i = 0; i < (size_t)E * D; i++)
		w[i] = frand(-1, 1);
	if (!linear && E > 3)
		memcpy(w + 3 * D, w + 1 * D, D * 4);
	p_buf(c, b_rand(c, (size_t)rows * D, -1, 1, 0));
	p_u32(c, rows);
	p_u32(c, D);
	p_buf(c, tc_buf(c, IN, w, (size_t)E * D * 4, 0, 0));
	if (bias)
		p_buf(c, b_rand(c, E, -1, 1, 0));
	else
		p_null(c);
	p_u32(c, E);
	p_u32(c, linear);
	p_u32(c, topk);
	p_f32(c, 0.7f);
	p_buf(c, tc_buf(c, OUT, NULL, (size_t)rows * k * 4, 0, 1));
	p_buf(c, b_out(c, (size_t)rows * k, 4));
	tc_launch(c, (rows + warps - 1) / warps, 1, 1, 32 * warps, 0);
	tc_run(c);
	free(w);
}

/*
 * macro_expert_fwd: each hidden unit and output an fma chain from its bias
 * in index order, the series op for op, the picks added in ascending
 * expert order by one fma each, on both sides: exact.
 */
static void expert_case(uint32_t rows, uint32_t D, uint32_t E, uint32_t rank, uint32_t topk,
			int biases, uint32_t degree, int even, uint32_t block, uint32_t gshort)
{
	struct tcase *c = tc_new("kernels/ptx/macro_experts.ptx", "macro_expert_fwd", 0, 0);
	uint32_t pick[64], ncoef = (even ? degree / 2 : degree) + 1;
	float *coefs = malloc((size_t)E * ncoef * 4);

	assert_non_null(coefs);
	for (uint32_t r = 0; r < rows; r++) {
		pick[topk * r] = urand(E);
		if (topk == 2)	/* distinct, in either order */
			pick[2 * r + 1] = (pick[2 * r] + 1 + urand(E - 1)) % E;
	}
	for (size_t i = 0; i < (size_t)E * ncoef; i++)
		coefs[i] = frand(-1, 1) / (float)(i % ncoef + 1);
	p_buf(c, b_rand(c, (size_t)rows * D, -1, 1, 0));
	p_buf(c, b_out(c, (size_t)rows * D, 4));
	p_u32(c, rows);
	p_u32(c, D);
	p_buf(c, b_words(c, pick, (size_t)rows * topk));
	p_buf(c, b_rand(c, (size_t)rows * topk, 0, 1, 0));
	p_u32(c, topk);
	p_buf(c, b_rand(c, (size_t)E * D * rank, -0.5f, 0.5f, 0));
	if (biases)
		p_buf(c, b_rand(c, (size_t)E * rank, -1, 1, 0));
	else
		p_null(c);
	p_u32(c, rank);
	p_buf(c, tc_buf(c, IN, coefs, (size_t)E * ncoef * 4, 0, 0));
	p_u32(c, degree);
	p_u32(c, even);
	p_f32(c, -2.0f);
	p_f32(c, 2.0f);
	p_buf(c, b_rand(c, (size_t)E * rank * D, -0.5f, 0.5f, 0));
	if (biases)
		p_buf(c, b_rand(c, (size_t)E * D, -1, 1, 0));
	else
		p_null(c);
	tc_launch(c, rows - gshort, 1, 1, block, (D + rank) * 4);
	tc_run(c);
	free(coefs);
}

static void test_macro(void **state)
{
	for (int linear = 0; linear <= 1; linear++)
		for (uint32_t topk = 1; topk <= 2; topk++) {
			route_case(9, 16, 5, linear, linear, topk, 2);
			route_case(20, 7, 40, linear, 1, topk, 8);	/* E > 32: lanes' scans merge */
			route_case(5, 0, 2, linear, 0, topk, 1);	/* D 0: bias or 0 scores */
		}
	for (uint32_t topk = 1; topk <= 2; topk++)
		for (int biases = 0; biases <= 1; biases++) {
			expert_case(7, 12, 4, 5, topk, biases, 9, 0, 64, 0);
			expert_case(4, 33, 3, 8, topk, biases, 16, 1, 32, 0);
		}
	expert_case(9, 8, 2, 3, 2, 1, 4, 0, 256, 3);	/* grid 3 rows short */
}

/* ---- refusals ---- */

/* The twin alone on c: rc, and a message naming the entry and want (NULL: anything). */
static void twin_refuses(struct tcase *c, int rc, const char *want)
{
	struct ptxi_dev *d;
	uint64_t addr[MAXB];
	char msg[256];
	int got = tc_twin(c, &d, addr, msg, sizeof msg);

	if (got != rc)
		fail_msg("%s: %d (%s), expected %d", c->entry, got, msg, rc);
	if (!strstr(msg, c->entry) || (want && !strstr(msg, want)))
		fail_msg("%s: message \"%s\" should name the entry and \"%s\"", c->entry, msg,
			 want ? want : "");
	ptxi_dev_free(d);
	for (uint32_t i = 0; i < c->nb; i++)
		free(c->b[i].init);
	free(c);
}

/* A gemm_f32 case of M x N x K on buffers sized for m_buf rows of A (not run). */
static struct tcase *gemm_plain(uint32_t M, uint32_t m_buf, uint32_t N, uint32_t K)
{
	struct tcase *c = tc_new(GEMM_PTX, "gemm_f32", 0, 0);

	p_buf(c, b_rand(c, (size_t)m_buf * K, -1, 1, 0));
	p_buf(c, b_rand(c, (size_t)K * N, -1, 1, 0));
	p_null(c);
	p_buf(c, b_out(c, (size_t)M * N, 0));
	p_u32(c, M);
	p_u32(c, N);
	p_u32(c, K);
	p_u32(c, 0);
	tc_launch(c, (N + 63) / 64, (M + 63) / 64, 1, 256, 0);
	return c;
}

static void test_refusals(void **state)
{
	struct tcase *c;
	uint32_t ids[2] = { 0, 9 };

	assert_true(cud_twin_has("gemm_f32"));
	assert_false(cud_twin_has("gemm_f33"));
	assert_false(cud_twin_has(NULL));
	c = gemm_plain(4, 4, 8, 8);
	c->entry = "no_such_kernel";
	twin_refuses(c, -ENOENT, NULL);

	/* A pointer outside every allocation, and a range running past its allocation's end */
	c = gemm_plain(4, 4, 8, 8);
	c->p[0].kind = PK_U64;
	c->p[0].u64 = 0x40;
	twin_refuses(c, -EFAULT, "param A");
	twin_refuses(gemm_plain(20, 4, 8, 8), -EFAULT, "param A");
	c = gemm_plain(4, 4, 8, 8);
	c->p[3].kind = PK_U64;
	c->p[3].u64 = 0x123456789ull;
	twin_refuses(c, -EFAULT, "param C");

	/* an id past the table: the table row's range is outside */
	c = tc_new("kernels/ptx/embed.ptx", "embed_f32", 0, 0);
	p_buf(c, b_words(c, ids, 2));
	p_buf(c, b_out(c, 2 * 4, 0));
	p_buf(c, b_rand(c, 3 * 4, -1, 1, 0));
	p_null(c);
	p_null(c);
	p_null(c);
	p_u32(c, 1);
	p_u32(c, 2);
	p_u32(c, 4);
	p_u32(c, 0);
	p_f32(c, 1.0f);
	tc_launch(c, 2, 1, 1, 32, 0);
	twin_refuses(c, -EFAULT, "param table");

	/* blocks the kernels do not take */
	c = gemm_plain(4, 4, 8, 8);
	c->block[0] = 128;
	twin_refuses(c, -EINVAL, "block");
	c = tc_new("kernels/ptx/norm.ptx", "rmsnorm_f32", 0, 0);
	p_buf(c, b_rand(c, 64, -1, 1, 0));
	p_buf(c, b_out(c, 64, 0));
	p_buf(c, b_rand(c, 64, -1, 1, 0));
	p_u32(c, 1);
	p_u32(c, 64);
	p_f32(c, 1e-5f);
	tc_launch(c, 1, 1, 1, 48, 0);
	twin_refuses(c, -EINVAL, "block");

	/* a wrong parameter count */
	c = gemm_plain(4, 4, 8, 8);
	c->np = 7;
	twin_refuses(c, -EINVAL, "params");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_gemm, reseed),
		cmocka_unit_test_setup(test_embed, reseed),
		cmocka_unit_test_setup(test_norm, reseed),
		cmocka_unit_test_setup(test_elementwise, reseed),
		cmocka_unit_test_setup(test_pool, reseed),
		cmocka_unit_test_setup(test_attention, reseed),
		cmocka_unit_test_setup(test_gemm_bf16, reseed),
		cmocka_unit_test_setup(test_cheb, reseed),
		cmocka_unit_test_setup(test_vq, reseed),
		cmocka_unit_test_setup(test_polyffn, reseed),
		cmocka_unit_test_setup(test_cqa, reseed),
		cmocka_unit_test_setup(test_macro, reseed),
		cmocka_unit_test_setup(test_refusals, reseed),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	for (uint32_t i = 0; i < mods.n; i++)
		ptxi_free(mods.m[i]);
	return rc;
}
