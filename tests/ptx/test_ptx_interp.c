/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp.c - the interpreter's scalar core: integer and f32 ALU,
 * ld/st of param/global/shared, branches and loops, bar.sync, special
 * registers over a 2-D grid, and launch checks. Expected values come from
 * the same operations written in C (integer and correctly rounded f32
 * results are exact, so those compare bit for bit).
 */
#include "tests/ptx/ptxi_testutil.h"

#include <math.h>

static const char alu_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry alu(.param .u64 out, .param .u32 a, .param .u32 b)\n{\n"
	"  .reg .b32 %r<40>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<4>;\n"
	"  ld.param.u64 %rd1, [out];\n  cvta.to.global.u64 %rd1, %rd1;\n"
	"  ld.param.u32 %r1, [a];\n  ld.param.u32 %r2, [b];\n"
	"  add.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1], %r3;\n"
	"  sub.s32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+4], %r3;\n"
	"  mul.lo.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+8], %r3;\n"
	"  mul.hi.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+12], %r3;\n"
	"  div.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+16], %r3;\n"
	"  rem.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+20], %r3;\n"
	"  min.s32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+24], %r3;\n"
	"  max.u32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+28], %r3;\n"
	"  shl.b32 %r3, %r1, 3;\n  st.global.u32 [%rd1+32], %r3;\n"
	"  shr.s32 %r3, %r1, 4;\n  st.global.u32 [%rd1+36], %r3;\n"
	"  shr.u32 %r3, %r1, 4;\n  st.global.u32 [%rd1+40], %r3;\n"
	"  and.b32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+44], %r3;\n"
	"  or.b32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+48], %r3;\n"
	"  xor.b32 %r3, %r1, %r2;\n  st.global.u32 [%rd1+52], %r3;\n"
	"  not.b32 %r3, %r1;\n  st.global.u32 [%rd1+56], %r3;\n"
	"  popc.b32 %r3, %r1;\n  st.global.u32 [%rd1+60], %r3;\n"
	"  clz.b32 %r3, %r2;\n  st.global.u32 [%rd1+64], %r3;\n"
	"  bfe.u32 %r3, %r1, 4, 8;\n  st.global.u32 [%rd1+68], %r3;\n"
	"  bfi.b32 %r3, %r2, %r1, 8, 4;\n  st.global.u32 [%rd1+72], %r3;\n"
	"  prmt.b32 %r3, %r1, %r2, 0x5140;\n  st.global.u32 [%rd1+76], %r3;\n"
	"  setp.lt.s32 %p1, %r1, %r2;\n  selp.b32 %r3, 11, 22, %p1;\n  st.global.u32 [%rd1+80], %r3;\n"
	"  mad.lo.s32 %r3, %r1, %r2, 7;\n  st.global.u32 [%rd1+84], %r3;\n"
	"  neg.s32 %r3, %r1;\n  st.global.u32 [%rd1+88], %r3;\n"
	"  abs.s32 %r3, %r1;\n  st.global.u32 [%rd1+92], %r3;\n"
	"  bfe.s32 %r3, %r1, 28, 8;\n  st.global.u32 [%rd1+96], %r3;\n"
	"  setp.hi.u32 %p2, %r1, %r2;\n  setp.ne.and.s32 %p3, %r1, 0, %p2;\n"
	"  selp.u32 %r3, 1, 0, %p3;\n  st.global.u32 [%rd1+100], %r3;\n"
	"  mul.wide.u32 %rd2, %r1, %r2;\n  st.global.u64 [%rd1+104], %rd2;\n"
	"  mul.wide.s32 %rd2, %r1, %r2;\n  st.global.u64 [%rd1+112], %rd2;\n"
	"  cvt.s64.s32 %rd3, %r1;\n  st.global.u64 [%rd1+120], %rd3;\n"
	"  ret;\n}\n";

static void test_int_alu(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(alu_ptx, "alu");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t ins[][2] = { { 0xf0001234u, 77u }, { 1000u, 0x80000001u }, { 5u, 3u } };

	for (size_t c = 0; c < sizeof ins / sizeof ins[0]; c++) {
		uint32_t a = ins[c][0], b = ins[c][1], o[32];
		uint64_t out = ptxi_alloc(d, 128);
		void *params[] = { &out, &a, &b };
		assert_int_equal(ptxt_run(m, d, "alu", 1, 1, 1, 0, &e, 3, params), 0);
		assert_int_equal(ptxi_read(d, out, o, 128), 0);
		uint32_t sa = a, sel = 0x5140;
		uint64_t bytes = (uint64_t)b << 32 | a;
		uint32_t pr = 0;
		for (int i = 0; i < 4; i++)
			pr |= (uint32_t)((bytes >> (8 * ((sel >> (4 * i)) & 7))) & 0xff) << (8 * i);
		uint32_t want[] = {
			a + b, a - b, a * b, (uint32_t)(((uint64_t)a * b) >> 32), a / b, a % b,
			(uint32_t)((int32_t)a < (int32_t)b ? a : b), a > b ? a : b, a << 3,
			(uint32_t)((int32_t)sa >> 4), a >> 4, a & b, a | b, a ^ b, ~a,
			(uint32_t)__builtin_popcount(a), (uint32_t)__builtin_clz(b), (a >> 4) & 0xff,
			(a & ~0xf00u) | ((b & 0xfu) << 8), pr, (int32_t)a < (int32_t)b ? 11u : 22u,
			a * b + 7, -a, (int32_t)a < 0 ? -a : a,
			(uint32_t)((int32_t)a >> 28),
			(a != 0 && a > b) ? 1u : 0u,
		};
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			if (o[i] != want[i])
				fprintf(stderr, "case %zu op %zu: %08x != %08x\n", c, i, o[i], want[i]);
			assert_int_equal(o[i], want[i]);
		}
		uint64_t w64[3];
		memcpy(w64, &o[26], 24);
		assert_true(w64[0] == (uint64_t)a * b);
		assert_true(w64[1] == (uint64_t)((int64_t)(int32_t)a * (int32_t)b));
		assert_true(w64[2] == (uint64_t)(int64_t)(int32_t)a);
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* y[i] = several exact f32 ops of x[i]; one thread per element, guarded by n. */
static const char fpu_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry fpu(.param .u64 x, .param .u64 y, .param .u32 n)\n{\n"
	"  .reg .b32 %r<8>;\n  .reg .f32 %f<16>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<2>;\n"
	"  mov.u32 %r1, %ctaid.x;\n  mov.u32 %r2, %ntid.x;\n  mov.u32 %r3, %tid.x;\n"
	"  mad.lo.s32 %r4, %r1, %r2, %r3;\n  ld.param.u32 %r5, [n];\n"
	"  setp.ge.u32 %p1, %r4, %r5;\n  @%p1 bra DONE;\n"
	"  ld.param.u64 %rd1, [x];\n  ld.param.u64 %rd2, [y];\n"
	"  mul.wide.u32 %rd3, %r4, 4;\n  add.s64 %rd4, %rd1, %rd3;\n"
	"  mul.wide.u32 %rd3, %r4, 24;\n  add.s64 %rd5, %rd2, %rd3;\n"
	"  ld.global.nc.f32 %f1, [%rd4];\n"
	"  fma.rn.f32 %f2, %f1, 0f40000000, 0f3F800000;\n  st.global.f32 [%rd5], %f2;\n"
	"  div.rn.f32 %f3, 0f3F800000, %f1;\n  st.global.f32 [%rd5+4], %f3;\n"
	"  sqrt.rn.f32 %f4, %f1;\n  st.global.f32 [%rd5+8], %f4;\n"
	"  max.f32 %f5, %f1, 0f00000000;\n  neg.f32 %f6, %f5;\n  st.global.f32 [%rd5+12], %f6;\n"
	"  cvt.rzi.s32.f32 %r6, %f2;\n  st.global.u32 [%rd5+16], %r6;\n"
	"  add.rz.f32 %f7, %f1, 0f33800000;\n  st.global.f32 [%rd5+20], %f7;\n"
	"DONE:\n  ret;\n}\n";

static void test_f32_alu(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(fpu_ptx, "fpu");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 100 };
	float x[N], y[N * 6];
	uint32_t n = N;

	for (int i = 0; i < N; i++)
		x[i] = (float)(i - 50) * 0.37f + 0.001f * (float)i * (float)i;
	uint64_t dx = ptxi_alloc(d, sizeof x), dy = ptxi_alloc(d, sizeof y);
	ptxi_write(d, dx, x, sizeof x);
	void *params[] = { &dx, &dy, &n };
	/* 4 CTAs of 32: 28 threads of the last one are past n and must not write */
	assert_int_equal(ptxt_run(m, d, "fpu", 4, 32, 1, 0, &e, 3, params), 0);
	assert_int_equal(ptxi_read(d, dy, y, sizeof y), 0);
	for (int i = 0; i < N; i++) {
		float f2 = fmaf(x[i], 2.0f, 1.0f);
		int32_t r6;
		assert_true(y[i * 6 + 0] == f2);
		assert_true(y[i * 6 + 1] == 1.0f / x[i]);
		if (x[i] < 0)
			assert_true(isnan(y[i * 6 + 2]));
		else
			assert_true(y[i * 6 + 2] == sqrtf(x[i]));
		assert_true(y[i * 6 + 3] == -fmaxf(x[i], 0.0f));
		memcpy(&r6, &y[i * 6 + 4], 4);
		assert_int_equal(r6, (int32_t)truncf(f2));
		/* + 2^-24 toward zero: x itself unless the sum crosses an ulp (never for |x| >= 0.5) */
		double exact = (double)x[i] + 0x1p-24;
		float rz = (float)exact;
		if (fabs((double)rz) > fabs(exact))
			rz = nextafterf(rz, 0.0f);
		assert_true(y[i * 6 + 5] == rz);
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

/*
 * A shared-memory tree sum over 128 threads: bar.sync between the levels,
 * a loop with a backwards branch. Values are integers, so the sum is exact.
 */
static const char reduce_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry reduce(.param .u64 x, .param .u64 out)\n.maxntid 128, 1, 1\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<3>;\n"
	"  .shared .align 4 .b8 buf[512];\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [x];\n"
	"  mul.wide.u32 %rd2, %r1, 4;\n  add.s64 %rd3, %rd1, %rd2;\n  ld.global.u32 %r2, [%rd3];\n"
	"  mov.u64 %rd4, buf;\n  cvt.u32.u64 %r3, %rd4;\n  shl.b32 %r4, %r1, 2;\n  add.u32 %r5, %r3, %r4;\n"
	"  st.shared.u32 [%r5], %r2;\n  bar.sync 0;\n  mov.u32 %r6, 64;\n"
	"LOOP:\n  setp.ge.u32 %p1, %r1, %r6;\n  @%p1 bra SKIP;\n"
	"  shl.b32 %r7, %r6, 2;\n  add.u32 %r8, %r5, %r7;\n  ld.shared.u32 %r9, [%r8];\n"
	"  ld.shared.u32 %r10, [%r5];\n  add.u32 %r10, %r10, %r9;\n  st.shared.u32 [%r5], %r10;\n"
	"SKIP:\n  bar.sync 0;\n  shr.u32 %r6, %r6, 1;\n  setp.ne.u32 %p2, %r6, 0;\n  @%p2 bra LOOP;\n"
	"  setp.ne.u32 %p1, %r1, 0;\n  @%p1 bra END;\n  ld.shared.u32 %r11, [buf];\n"
	"  ld.param.u64 %rd5, [out];\n  st.global.u32 [%rd5], %r11;\n"
	"END:\n  ret;\n}\n";

static void test_shared_reduce_barriers(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(reduce_ptx, "reduce");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t x[128], sum = 0, got = 0;
	struct ptxi_stats st;

	for (int i = 0; i < 128; i++) {
		x[i] = (uint32_t)(i * 7919 % 1000);
		sum += x[i];
	}
	uint64_t dx = ptxi_alloc(d, sizeof x), dout = ptxi_alloc(d, 4);
	ptxi_write(d, dx, x, sizeof x);
	void *params[] = { &dx, &dout };
	assert_int_equal(ptxt_run(m, d, "reduce", 1, 128, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, &got, 4);
	assert_int_equal(got, sum);
	ptxi_last_stats(m, &st);
	assert_int_equal(st.barriers, 8);	/* one before the loop, one per level (7) */
	/* the same kernel with a block over .maxntid is refused */
	assert_int_not_equal(ptxt_run(m, d, "reduce", 1, 256, 1, 0, &e, 2, params), 0);
	assert_non_null(strstr(e.msg, "maxntid"));
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* Every thread of a 3x1 grid of 4x2 blocks writes its ids at its global index. */
static const char ids_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry ids(.param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b64 %rd<6>;\n"
	"  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, %tid.y;\n  mov.u32 %r3, %ntid.x;\n"
	"  mov.u32 %r4, %ntid.y;\n  mov.u32 %r5, %ctaid.x;\n  mov.u32 %r6, %nctaid.x;\n"
	"  mad.lo.u32 %r7, %r2, %r3, %r1;\n  mul.lo.u32 %r8, %r3, %r4;\n  mad.lo.u32 %r9, %r5, %r8, %r7;\n"
	"  mov.u32 %r10, %laneid;\n  shl.b32 %r11, %r6, 16;\n  or.b32 %r11, %r11, %r10;\n"
	"  ld.param.u64 %rd1, [out];\n  mul.wide.u32 %rd2, %r9, 8;\n  add.s64 %rd3, %rd1, %rd2;\n"
	"  st.global.v2.u32 [%rd3], {%r9, %r11};\n  ret;\n}\n";

static void test_special_registers(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(ids_ptx, "ids");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t o[24 * 2];
	uint64_t dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dout };

	assert_int_equal(ptxt_run(m, d, "ids", 3, 4, 2, 0, &e, 1, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (uint32_t i = 0; i < 24; i++) {
		assert_int_equal(o[2 * i], i);
		assert_int_equal(o[2 * i + 1], (3u << 16) | (i % 8));	/* lane within the CTA */
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

static void test_launch_checks(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(ids_ptx, "ids");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint64_t dout = ptxi_alloc(d, 8);
	void *params[] = { &dout };

	assert_int_not_equal(ptxt_run(m, d, "nosuch", 1, 1, 1, 0, &e, 1, params), 0);
	assert_non_null(strstr(e.msg, "nosuch"));
	assert_int_not_equal(ptxt_run(m, d, "ids", 1, 1, 1, 0, &e, 0, params), 0);
	assert_non_null(strstr(e.msg, "parameter count"));
	/* two threads write past the 8-byte allocation */
	assert_int_not_equal(ptxt_run(m, d, "ids", 1, 2, 1, 0, &e, 1, params), 0);
	assert_non_null(strstr(e.msg, "out-of-bounds global write"));
	assert_non_null(strstr(e.msg, "thread (1,0,0)"));
	assert_non_null(strstr(e.msg, "ids:23:"));
	ptxi_dev_free(d);
	ptxi_free(m);
}

static void test_device_memory(void **state)
{
	(void)state;
	struct ptxi_dev *d = ptxi_dev_new();
	uint64_t a = ptxi_alloc(d, 100), b = ptxi_alloc(d, 10);
	uint8_t buf[101] = { 0 };

	assert_true(a != 0 && b > a + 100);
	assert_int_equal(ptxi_write(d, a, buf, 100), 0);
	assert_int_not_equal(ptxi_write(d, a, buf, 101), 0);	/* one past the end */
	assert_int_not_equal(ptxi_read(d, a + 100, buf, 1), 0);	/* the red zone */
	assert_int_not_equal(ptxi_read(d, b - 1, buf, 1), 0);
	assert_int_equal(ptxi_read(d, b + 9, buf, 1), 0);
	ptxi_dev_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int_alu),
		cmocka_unit_test(test_f32_alu),
		cmocka_unit_test(test_shared_reduce_barriers),
		cmocka_unit_test(test_special_registers),
		cmocka_unit_test(test_launch_checks),
		cmocka_unit_test(test_device_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
