/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp_mem.c - address spaces beyond plain ld/st: dynamic
 * (.extern) shared memory, generic addresses through cvta to shared and
 * local, .local arrays, cp.async group ordering and its zero fill,
 * ldmatrix .x1 with and without .trans, 64-bit integer ops, and the faults
 * of misaligned accesses, integer division by zero and a guard never set.
 */
#include "tests/ptx/ptxi_testutil.h"

#define HEAD ".version 8.0\n.target sm_80\n.address_size 64\n"

static const char generic_ptx[] = HEAD
	".extern .shared .align 16 .b8 dyn[];\n"
	".visible .entry generic(.param .u64 out)\n{\n"
	"  .reg .b32 %r<10>;\n  .reg .b64 %rd<10>;\n"
	"  .local .align 4 .b8 priv[16];\n"
	"  mov.u32 %r1, %tid.x;\n"
	"  mov.u64 %rd1, dyn;\n  cvta.shared.u64 %rd2, %rd1;\n  mul.wide.u32 %rd3, %r1, 4;\n"
	"  add.s64 %rd4, %rd2, %rd3;\n  mul.lo.u32 %r2, %r1, 3;\n  st.u32 [%rd4], %r2;\n"
	"  add.u32 %r3, %r1, 100;\n  st.local.u32 [priv+4], %r3;\n"
	"  mov.u64 %rd5, priv;\n  cvta.local.u64 %rd6, %rd5;\n  ld.u32 %r4, [%rd6+4];\n"
	"  bar.sync 0;\n"
	"  add.u32 %r5, %r1, 1;\n  mov.u32 %r9, %ntid.x;\n  rem.u32 %r5, %r5, %r9;\n"
	"  mul.wide.u32 %rd7, %r5, 4;\n  add.s64 %rd8, %rd1, %rd7;\n  ld.shared.u32 %r6, [%rd8];\n"
	"  ld.param.u64 %rd9, [out];\n  mul.wide.u32 %rd3, %r1, 8;\n  add.s64 %rd9, %rd9, %rd3;\n"
	"  st.global.v2.u32 [%rd9], {%r4, %r6};\n  ret;\n}\n";

static void test_generic_dynamic_shared_local(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(generic_ptx, "generic");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 48 };
	uint32_t o[2 * N];
	uint64_t dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dout };

	/* two CTAs: shared memory and registers start afresh in the second */
	assert_int_equal(ptxt_run(m, d, "generic", 2, N, 1, N * 4, &e, 1, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(o[2 * i], i + 100);
		assert_int_equal(o[2 * i + 1], (i + 1) % N * 3);
	}
	/* one byte of dynamic shared too few: the last thread's generic store faults */
	assert_int_not_equal(ptxt_run(m, d, "generic", 1, N, 1, N * 4 - 1, &e, 1, params), 0);
	assert_non_null(strstr(e.msg, "out-of-bounds shared write"));
	assert_non_null(strstr(e.msg, "thread (47,0,0)"));
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* cp.async: group 0 lands at wait_group 1, group 1 (4 bytes, zero fill) at wait_all. */
static const char cpa_ptx[] = HEAD
	".visible .entry cpa(.param .u64 src, .param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b64 %rd<6>;\n  .shared .align 16 .b8 buf[32];\n"
	"  mov.u32 %r1, buf;\n  mov.u32 %r2, 0x11111111;\n"
	"  st.shared.v4.u32 [buf], {%r2, %r2, %r2, %r2};\n"
	"  st.shared.v4.u32 [buf+16], {%r2, %r2, %r2, %r2};\n"
	"  ld.param.u64 %rd1, [src];\n  cp.async.ca.shared.global [%r1], [%rd1], 16;\n"
	"  cp.async.commit_group;\n  add.u32 %r3, %r1, 16;\n  add.s64 %rd2, %rd1, 16;\n"
	"  cp.async.cg.shared.global [%r3], [%rd2], 16, 4;\n  cp.async.commit_group;\n"
	"  cp.async.wait_group 1;\n  ld.shared.u32 %r4, [buf];\n  ld.shared.u32 %r9, [buf+16];\n"
	"  cp.async.wait_all;\n  ld.shared.v4.u32 {%r5, %r6, %r7, %r8}, [buf+16];\n"
	"  ld.param.u64 %rd3, [out];\n  st.global.v4.u32 [%rd3], {%r4, %r5, %r6, %r7};\n"
	"  st.global.v2.u32 [%rd3+16], {%r8, %r9};\n  ret;\n}\n";

static void test_cp_async_groups(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(cpa_ptx, "cpa");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t src[8], o[6];
	uint64_t dsrc = ptxi_alloc(d, sizeof src), dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dsrc, &dout };

	for (int i = 0; i < 8; i++)
		src[i] = 0xa0000000u + (uint32_t)i;
	ptxi_write(d, dsrc, src, sizeof src);
	assert_int_equal(ptxt_run(m, d, "cpa", 1, 1, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	assert_int_equal(o[0], src[0]);		/* group 0 waited for */
	assert_int_equal(o[1], src[4]);		/* 4 bytes copied ... */
	assert_int_equal(o[2], 0);		/* ... the rest zero-filled */
	assert_int_equal(o[3], 0);
	assert_int_equal(o[4], 0);
	/* read before its group was waited for: stale, as the docs say (copies land at the wait) */
	assert_int_equal(o[5], 0x11111111u);
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* ldmatrix .x1 and .x1.trans of one 8x8 b16 matrix: out[2*lane + {0,1}]. */
static const char ldm_ptx[] = HEAD
	".visible .entry ldm(.param .u64 src, .param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<2>;\n"
	"  .shared .align 16 .b8 mat[128];\n"
	"  mov.u32 %r1, %tid.x;\n  setp.lt.u32 %p1, %r1, 8;\n"
	"  ld.param.u64 %rd1, [src];\n  mul.wide.u32 %rd2, %r1, 16;\n  add.s64 %rd3, %rd1, %rd2;\n"
	"  mov.u32 %r2, mat;\n  shl.b32 %r3, %r1, 4;\n  and.b32 %r3, %r3, 127;\n  add.u32 %r4, %r2, %r3;\n"
	"  @%p1 cp.async.ca.shared.global [%r4], [%rd3], 16;\n  cp.async.wait_all;\n  bar.sync 0;\n"
	"  ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%r5}, [%r4];\n"
	"  ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%r6}, [%r4];\n"
	"  ld.param.u64 %rd4, [out];\n  mul.wide.u32 %rd5, %r1, 8;\n  add.s64 %rd6, %rd4, %rd5;\n"
	"  st.global.v2.u32 [%rd6], {%r5, %r6};\n  ret;\n}\n";

static void test_ldmatrix_x1(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(ldm_ptx, "ldm");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint16_t M[8][8];
	uint32_t o[64];
	uint64_t dsrc = ptxi_alloc(d, sizeof M), dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dsrc, &dout };

	for (int r = 0; r < 8; r++)
		for (int c = 0; c < 8; c++)
			M[r][c] = (uint16_t)(r * 16 + c + 0x100);
	ptxi_write(d, dsrc, M, sizeof M);
	assert_int_equal(ptxt_run(m, d, "ldm", 1, 32, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t row = l / 4, col = 2 * (l % 4);
		/* the ISA: lane l holds row l/4, columns 2(l%4) (low half) and +1 (high) */
		assert_int_equal(o[2 * l], (uint32_t)M[row][col + 1] << 16 | M[row][col]);
		assert_int_equal(o[2 * l + 1], (uint32_t)M[col + 1][row] << 16 | M[col][row]);
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

static const char wide_ptx[] = HEAD
	".visible .entry wide(.param .u64 out, .param .u64 a, .param .u64 b)\n{\n"
	"  .reg .b64 %rd<16>;\n  .reg .b32 %r<4>;\n  .reg .pred %p<3>;\n"
	"  ld.param.u64 %rd1, [out];\n  ld.param.u64 %rd2, [a];\n  ld.param.u64 %rd3, [b];\n"
	"  mul.hi.u64 %rd4, %rd2, %rd3;\n  mul.lo.s64 %rd5, %rd2, %rd3;\n  div.s64 %rd6, %rd2, %rd3;\n"
	"  shr.s64 %rd7, %rd2, 40;\n  min.u64 %rd8, %rd2, %rd3;\n  popc.b64 %r1, %rd2;\n"
	"  clz.b64 %r2, %rd3;\n  setp.gt.s64 %p1|%p2, %rd2, %rd3;\n  selp.b64 %rd9, 1, 2, %p2;\n"
	"  cvt.u64.u32 %rd10, %r1;\n  cvt.u64.u32 %rd11, %r2;\n"
	"  st.global.v2.u64 [%rd1], {%rd4, %rd5};\n  st.global.v2.u64 [%rd1+16], {%rd6, %rd7};\n"
	"  st.global.v2.u64 [%rd1+32], {%rd8, %rd9};\n  st.global.v2.u64 [%rd1+48], {%rd10, %rd11};\n"
	"  ret;\n}\n";

static void test_int64(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(wide_ptx, "wide");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint64_t a = 0xfedcba9876543210ull, b = 0x0000012345678901ull, o[8];
	uint64_t dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dout, &a, &b };

	assert_int_equal(ptxt_run(m, d, "wide", 1, 1, 1, 0, &e, 3, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	assert_true(o[0] == (uint64_t)(((unsigned __int128)a * b) >> 64));
	assert_true(o[1] == a * b);
	assert_true(o[2] == (uint64_t)((int64_t)a / (int64_t)b));
	assert_true(o[3] == (uint64_t)((int64_t)a >> 40));
	assert_true(o[4] == (a < b ? a : b));
	assert_true(o[5] == ((int64_t)a > (int64_t)b ? 2u : 1u));	/* %p2 is the negation */
	assert_true(o[6] == (uint64_t)__builtin_popcountll(a));
	assert_true(o[7] == (uint64_t)__builtin_clzll(b));
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* Faults of one-line kernels: each body must fail at its line 7 with the given words. */
static void test_runtime_faults(void **state)
{
	(void)state;
	static const struct { const char *body, *what, *at; } cases[] = {
		{ "ld.param.u64 %rd1, [out];\n  ld.global.u32 %r1, [%rd1+2];", "misaligned 4-byte global", "fault:8:" },
		{ "mov.u32 %r1, 0;\n  div.u32 %r2, 7, %r1;", "division by zero", "fault:8:" },
		{ "mov.u32 %r1, 0;\n  @%p1 mov.u32 %r1, 1;", "uninitialised register %p1", "fault:8:" },
		/* an endless loop runs into the instruction budget (cut to 1000 here) */
		{ "mov.u32 %r1, 0;\nL:\n  bra L;", "budget", "fault:9:" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[600];
		struct ptxi_err e;
		struct ptxi_dev *d = ptxi_dev_new();
		uint64_t buf = ptxi_alloc(d, 16);
		void *params[] = { &buf };
		snprintf(text, sizeof text, HEAD ".visible .entry k(.param .u64 out)\n{\n"
			 "  .reg .b32 %%r<4>; .reg .b64 %%rd<4>; .reg .pred %%p<2>;\n  %s\n  ret;\n}\n",
			 cases[i].body);
		struct ptxi_module *m = ptxt_load(text, "fault");
		ptxi_set_budget(m, 1000);
		assert_int_not_equal(ptxt_run(m, d, "k", 1, 1, 1, 0, &e, 1, params), 0);
		assert_non_null(strstr(e.msg, cases[i].what));
		assert_non_null(strstr(e.msg, cases[i].at));
		ptxi_free(m);
		ptxi_dev_free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generic_dynamic_shared_local),
		cmocka_unit_test(test_cp_async_groups),
		cmocka_unit_test(test_ldmatrix_x1),
		cmocka_unit_test(test_int64),
		cmocka_unit_test(test_runtime_faults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
