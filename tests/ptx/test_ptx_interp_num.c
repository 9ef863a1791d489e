/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp_num.c - conversions and the approximate instructions:
 * cvt float<->int with rounding and saturation, bf16x2 packing and
 * unpacking against a plain round-to-nearest-even reference, and every
 * .approx instruction checked against libm in double at the bound that
 * docs/ptx_dialect.md documents (and shown to be perturbed, not exact).
 */
#include "tests/ptx/ptxi_testutil.h"

#include <math.h>

/* per element: 4 conversions of x[i] and x[i+1], one bf16x2 and its unpacking */
static const char cvt_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry conv(.param .u64 x, .param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b16 %h<3>;\n  .reg .f32 %f<6>;\n  .reg .b64 %rd<8>;\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [x];\n  mul.wide.u32 %rd2, %r1, 8;\n"
	"  add.s64 %rd3, %rd1, %rd2;\n  ld.global.v2.f32 {%f1, %f2}, [%rd3];\n"
	"  cvt.rni.s32.f32 %r2, %f1;\n  cvt.rmi.s32.f32 %r3, %f1;\n  cvt.rpi.u32.f32 %r4, %f1;\n"
	"  cvt.rzi.s32.f32 %r5, %f1;\n  cvt.rn.bf16x2.f32 %r6, %f1, %f2;\n"
	"  mov.b32 {%h1, %h2}, %r6;\n  cvt.f32.bf16 %f3, %h1;\n  cvt.f32.bf16 %f4, %h2;\n"
	"  cvt.rn.f32.s32 %f5, %r2;\n"
	"  ld.param.u64 %rd4, [out];\n  mul.wide.u32 %rd5, %r1, 32;\n  add.s64 %rd6, %rd4, %rd5;\n"
	"  st.global.v4.u32 [%rd6], {%r2, %r3, %r4, %r5};\n"
	"  st.global.v4.f32 [%rd6+16], {%f3, %f4, %f5, %f5};\n"
	"  st.global.u32 [%rd6+28], %r6;\n  ret;\n}\n";

/* The plain reference of cvt.rn.bf16: round to nearest even on the top half. */
static uint16_t bf16_ref(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if (isnan(f))
		return 0x7fff;
	uint32_t low = u & 0xffff, hi = u >> 16;
	if (low > 0x8000 || (low == 0x8000 && (hi & 1)))
		hi++;
	return (uint16_t)hi;
}

static float bf16_val(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void test_cvt_bf16(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(cvt_ptx, "conv");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 16 };
	float x[2 * N] = { 2.5f, 1.00390625f, 3.5f, -1.0f, -2.5f, 1.01171875f, 1e10f, 3.14159f,
			   -1e10f, -0.0f, 0.49999997f, 65504.0f, -7.75f, 1e-20f };
	uint32_t o[N * 8];
	uint64_t dx = ptxi_alloc(d, sizeof x), dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dx, &dout };

	x[14] = NAN;
	for (int i = 15; i < 2 * N; i++)
		x[i] = (float)(i * i) / 7.0f - 40.0f;
	ptxi_write(d, dx, x, sizeof x);
	assert_int_equal(ptxt_run(m, d, "conv", 1, N, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (int i = 0; i < N; i++) {
		float a = x[2 * i], b = x[2 * i + 1];
		uint32_t *r = &o[8 * i];
		/* float -> int saturates and takes NaN to 0 (PTX cvt) */
		double lo = -2147483648.0, hi = 2147483647.0;
		double rn = isnan(a) ? 0 : fmin(fmax(nearbyint(a), lo), hi);
		double rm = isnan(a) ? 0 : fmin(fmax(floor(a), lo), hi);
		double rp = isnan(a) ? 0 : fmin(fmax(ceil(a), 0), 4294967295.0);
		double rz = isnan(a) ? 0 : fmin(fmax(trunc(a), lo), hi);
		assert_int_equal((int32_t)r[0], (int32_t)rn);
		assert_int_equal((int32_t)r[1], (int32_t)rm);
		assert_int_equal(r[2], (uint32_t)rp);
		assert_int_equal((int32_t)r[3], (int32_t)rz);
		uint32_t packed = (uint32_t)bf16_ref(a) << 16 | bf16_ref(b);
		assert_int_equal(r[7], packed);
		float f3, f4, f5;
		memcpy(&f3, &r[4], 4);
		memcpy(&f4, &r[5], 4);
		memcpy(&f5, &r[6], 4);
		/* {%h1, %h2} unpacks low then high: h1 is b's bf16 */
		assert_memory_equal(&f3, &(float){ bf16_val(bf16_ref(b)) }, 4);
		assert_memory_equal(&f4, &(float){ bf16_val(bf16_ref(a)) }, 4);
		assert_true(f5 == (float)(int32_t)rn);
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* y[8*i + j] = the j-th approximate function of x[i]. */
static const char approx_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry approx(.param .u64 x, .param .u64 y)\n{\n"
	"  .reg .b32 %r<4>;\n  .reg .f32 %f<12>;\n  .reg .b64 %rd<8>;\n"
	"  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, %ctaid.x;\n  mov.u32 %r3, %ntid.x;\n"
	"  mad.lo.u32 %r1, %r2, %r3, %r1;\n"
	"  ld.param.u64 %rd1, [x];\n  mul.wide.u32 %rd2, %r1, 4;\n  add.s64 %rd3, %rd1, %rd2;\n"
	"  ld.global.f32 %f1, [%rd3];\n  abs.f32 %f10, %f1;\n"
	"  ex2.approx.f32 %f2, %f1;\n  lg2.approx.f32 %f3, %f10;\n  sin.approx.f32 %f4, %f1;\n"
	"  cos.approx.f32 %f5, %f1;\n  rcp.approx.f32 %f6, %f1;\n  rsqrt.approx.f32 %f7, %f10;\n"
	"  sqrt.approx.f32 %f8, %f10;\n  tanh.approx.f32 %f9, %f1;\n"
	"  ld.param.u64 %rd4, [y];\n  mul.wide.u32 %rd5, %r1, 32;\n  add.s64 %rd6, %rd4, %rd5;\n"
	"  st.global.v4.f32 [%rd6], {%f2, %f3, %f4, %f5};\n"
	"  st.global.v4.f32 [%rd6+16], {%f6, %f7, %f8, %f9};\n  ret;\n}\n";

static void test_approx_bounds(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(approx_ptx, "approx");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 512 };
	static float x[N], y[N * 8];
	uint64_t dx = ptxi_alloc(d, sizeof x), dy = ptxi_alloc(d, sizeof y);
	void *params[] = { &dx, &dy };
	int inexact = 0;

	for (int i = 0; i < N; i++)
		x[i] = (float)(i - N / 2) / 17.0f + 0.01f;
	ptxi_write(d, dx, x, sizeof x);
	assert_int_equal(ptxt_run(m, d, "approx", N / 128, 128, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dy, y, sizeof y);
	for (int i = 0; i < N; i++) {
		double a = x[i], aa = fabs(a);
		double ex[8] = { exp2(a), log2(aa), sin(a), cos(a), 1 / a, 1 / sqrt(aa), sqrt(aa), tanh(a) };
		/* the documented bounds: abs 2^-22.5 + rel 2^-22 (ex2 lg2 sin cos),
		 * rel 2^-22 (rcp rsqrt sqrt), abs 2^-10.987 (tanh) */
		double absb[8] = { 0x1.6a09e667f3bcdp-23, 0x1.6a09e667f3bcdp-23, 0x1.6a09e667f3bcdp-23,
				   0x1.6a09e667f3bcdp-23, 0, 0, 0, pow(2, -10.987) };
		double relb[8] = { 0x1p-22, 0x1p-22, 0x1p-22, 0x1p-22, 0x1p-22, 0x1p-22, 0x1p-22, 0 };
		for (int j = 0; j < 8; j++) {
			double got = y[8 * i + j], err = fabs(got - ex[j]);
			double bound = absb[j] + relb[j] * fabs(ex[j]);
			if (err > bound)
				fprintf(stderr, "x=%g fn %d: %.9g vs %.9g\n", a, j, got, ex[j]);
			assert_true(err <= bound);
			inexact += y[8 * i + j] != (float)ex[j];
		}
	}
	/* the perturbation is there: most results differ from the correctly rounded ones */
	assert_true(inexact > N * 8 / 2);
	ptxi_dev_free(d);
	ptxi_free(m);
}

/* f32 odds and ends per x[i]: testp (.notanumber, as ptxas spells it), unordered compares, .sat, NaN in min, .ftz, literal bits. */
static const char fmisc_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry fmisc(.param .u64 x, .param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .f32 %f<8>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<4>;\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [x];\n  mul.wide.u32 %rd2, %r1, 4;\n"
	"  add.s64 %rd3, %rd1, %rd2;\n  ld.global.f32 %f1, [%rd3];\n"
	"  testp.finite.f32 %p1, %f1;\n  testp.notanumber.f32 %p2, %f1;\n  setp.ltu.f32 %p3, %f1, 0f00000000;\n"
	"  selp.u32 %r2, 1, 0, %p1;\n  selp.u32 %r3, 2, 0, %p2;\n  selp.u32 %r4, 4, 0, %p3;\n"
	"  or.b32 %r2, %r2, %r3;\n  or.b32 %r2, %r2, %r4;\n"
	"  cvt.sat.f32.f32 %f2, %f1;\n  min.f32 %f3, %f1, 0f7FC00000;\n"
	"  mul.ftz.f32 %f4, %f1, 0f3F000000;\n  mov.b32 %r5, 0f3F800000;\n"
	"  ld.param.u64 %rd4, [out];\n  mul.wide.u32 %rd5, %r1, 32;\n  add.s64 %rd6, %rd4, %rd5;\n"
	"  st.global.v4.u32 [%rd6], {%r2, %r5, %r5, %r5};\n"
	"  st.global.v4.f32 [%rd6+16], {%f2, %f3, %f4, %f4};\n  ret;\n}\n";

static void test_f32_misc(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(fmisc_ptx, "fmisc");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 8 };
	float x[N] = { 0.25f, -3.0f, 2.0f, 0x1p-127f, -0x1p-130f, 1e30f, 0, 0 };
	uint32_t o[N * 8];
	uint64_t dx = ptxi_alloc(d, sizeof x), dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dx, &dout };

	x[6] = NAN;
	x[7] = -INFINITY;
	ptxi_write(d, dx, x, sizeof x);
	assert_int_equal(ptxt_run(m, d, "fmisc", 1, N, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (int i = 0; i < N; i++) {
		float a = x[i], f[4];
		uint32_t bits = (uint32_t)isfinite(a) | (uint32_t)isnan(a) << 1 |
				(uint32_t)(isnan(a) || a < 0) << 2;
		assert_int_equal(o[8 * i], bits);
		assert_int_equal(o[8 * i + 1], 0x3f800000u);
		memcpy(f, &o[8 * i + 4], 16);
		float sat = isnan(a) ? 0.0f : fminf(fmaxf(a, 0.0f), 1.0f);
		assert_true(f[0] == sat);
		/* min with a NaN operand gives the other one */
		assert_true(isnan(a) ? isnan(f[1]) : f[1] == a);
		/* .ftz: subnormal inputs and results are flushed (sign kept) */
		float h = fpclassify(a) == FP_SUBNORMAL ? copysignf(0.0f, a) : a * 0.5f;
		if (fpclassify(h) == FP_SUBNORMAL)
			h = copysignf(0.0f, h);
		assert_true(isnan(a) ? isnan(f[2]) : (f[2] == h && signbit(f[2]) == signbit(h)));
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cvt_bf16),
		cmocka_unit_test(test_approx_bounds),
		cmocka_unit_test(test_f32_misc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
