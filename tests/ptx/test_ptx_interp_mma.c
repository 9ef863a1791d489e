/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp_mma.c - tensor-core fragments and async copies: one warp
 * stages A (16x16 bf16) and B (16x8 bf16) into shared memory with
 * cp.async, loads the fragments with ldmatrix (.x4 for A, .x2.trans for
 * B), runs mma.sync m16n8k16 and stores D = A B + C, compared with a plain
 * matrix product; the s8 m16n8k32 form with fragments loaded by hand; and
 * a 64x64x64 f32 GEMM CTA of 128 threads, to keep the interpreter fast.
 */
#include "tests/ptx/ptxi_testutil.h"

#include <math.h>
#include <time.h>

static const char bf16_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry mma_bf16(.param .u64 A, .param .u64 B, .param .u64 C, .param .u64 D)\n"
	".reqntid 32, 1, 1\n{\n"
	"  .reg .b32 %r<24>;\n  .reg .b64 %rd<16>;\n  .reg .f32 %f<12>;\n  .reg .pred %p<2>;\n"
	"  .shared .align 16 .b8 sa[512];\n  .shared .align 16 .b8 sb[256];\n"
	"  mov.u32 %r1, %tid.x;\n"
	"  ld.param.u64 %rd1, [A];\n  ld.param.u64 %rd2, [B];\n"
	"  ld.param.u64 %rd3, [C];\n  ld.param.u64 %rd4, [D];\n"
	/* thread t copies bytes [16t, 16t+16) of A, and of B when t < 16 */
	"  mul.wide.u32 %rd5, %r1, 16;\n  add.s64 %rd6, %rd1, %rd5;\n  add.s64 %rd7, %rd2, %rd5;\n"
	"  mov.u32 %r2, sa;\n  mov.u32 %r5, sb;\n  shl.b32 %r3, %r1, 4;\n"
	"  add.u32 %r4, %r2, %r3;\n  add.u32 %r6, %r5, %r3;\n"
	"  cp.async.cg.shared.global [%r4], [%rd6], 16;\n  setp.lt.u32 %p1, %r1, 16;\n"
	"  @%p1 cp.async.ca.shared.global [%r6], [%rd7], 16;\n"
	"  cp.async.commit_group;\n  cp.async.wait_group 0;\n  bar.sync 0;\n"
	/* A: lane l gives row (l&7) of matrix i = l>>3; matrices (rows, cols) 0:(0-7,0-7)
	 * 1:(8-15,0-7) 2:(0-7,8-15) 3:(8-15,8-15), rows of 32 bytes */
	"  shr.u32 %r7, %r1, 3;\n  and.b32 %r8, %r7, 1;\n  shl.b32 %r8, %r8, 3;\n"
	"  and.b32 %r9, %r1, 7;\n  add.u32 %r8, %r8, %r9;\n  shl.b32 %r8, %r8, 5;\n"
	"  shr.u32 %r10, %r7, 1;\n  shl.b32 %r10, %r10, 4;\n  add.u32 %r8, %r8, %r10;\n"
	"  add.u32 %r8, %r8, %r2;\n"
	"  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r11, %r12, %r13, %r14}, [%r8];\n"
	/* B (k-major, 16-byte rows): lanes 0-15 give rows k = l; .trans makes col fragments */
	"  and.b32 %r15, %r1, 15;\n  shl.b32 %r15, %r15, 4;\n  add.u32 %r15, %r15, %r5;\n"
	"  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r16, %r17}, [%r15];\n"
	/* C and D: rows g and g+8, cols 2tg, 2tg+1 */
	"  shr.u32 %r18, %r1, 2;\n  and.b32 %r19, %r1, 3;\n  shl.b32 %r18, %r18, 3;\n"
	"  shl.b32 %r19, %r19, 1;\n  add.u32 %r18, %r18, %r19;\n  mul.wide.u32 %rd8, %r18, 4;\n"
	"  add.s64 %rd9, %rd3, %rd8;\n  ld.global.v2.f32 {%f1, %f2}, [%rd9];\n"
	"  ld.global.v2.f32 {%f3, %f4}, [%rd9+256];\n"
	"  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%f5, %f6, %f7, %f8}, "
	"{%r11, %r12, %r13, %r14}, {%r16, %r17}, {%f1, %f2, %f3, %f4};\n"
	"  add.s64 %rd10, %rd4, %rd8;\n  st.global.v2.f32 [%rd10], {%f5, %f6};\n"
	"  st.global.v2.f32 [%rd10+256], {%f7, %f8};\n  ret;\n}\n";

static uint16_t to_bf16(float f)	/* exact for the values used here */
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return (uint16_t)(u >> 16);
}

static void test_mma_bf16_ldmatrix(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(bf16_ptx, "mma_bf16");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	float A[16][16], B[16][8], C[16][8], D[16][8];
	uint16_t Ah[16][16], Bh[16][8];
	struct ptxi_stats st;

	/* small dyadic values: exact in bf16, so the reference sees what the kernel sees */
	for (int i = 0; i < 16; i++)
		for (int k = 0; k < 16; k++) {
			A[i][k] = (float)((i * 5 + k * 3) % 17 - 8) / 8.0f;
			Ah[i][k] = to_bf16(A[i][k]);
		}
	for (int k = 0; k < 16; k++)
		for (int j = 0; j < 8; j++) {
			B[k][j] = (float)((k * 7 + j * 11) % 13 - 6) / 4.0f;
			Bh[k][j] = to_bf16(B[k][j]);
		}
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 8; j++)
			C[i][j] = (float)(i * 8 + j) * 0.5f;
	uint64_t dA = ptxi_alloc(d, sizeof Ah), dB = ptxi_alloc(d, sizeof Bh),
		 dC = ptxi_alloc(d, sizeof C), dD = ptxi_alloc(d, sizeof D);
	ptxi_write(d, dA, Ah, sizeof Ah);
	ptxi_write(d, dB, Bh, sizeof Bh);
	ptxi_write(d, dC, C, sizeof C);
	void *params[] = { &dA, &dB, &dC, &dD };
	assert_int_equal(ptxt_run(m, d, "mma_bf16", 1, 32, 1, 0, &e, 4, params), 0);
	ptxi_read(d, dD, D, sizeof D);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 8; j++) {
			double ref = C[i][j], mag = fabs(C[i][j]);
			for (int k = 0; k < 16; k++) {
				ref += (double)A[i][k] * B[k][j];
				mag += fabs((double)A[i][k] * B[k][j]);
			}
			/* tensor cores may round each of the 17 partial sums to f32:
			 * allow 17 roundings of the magnitude (here the sums are exact anyway) */
			assert_true(fabs(D[i][j] - ref) <= 17 * 0x1p-24 * mag);
		}
	ptxi_last_stats(m, &st);
	assert_int_equal(st.collectives, 3);	/* two ldmatrix, one mma */
	ptxi_dev_free(d);
	ptxi_free(m);
}

static const char s8_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry mma_s8(.param .u64 A, .param .u64 Bt, .param .u64 C, .param .u64 D)\n{\n"
	"  .reg .b32 %r<24>;\n  .reg .b64 %rd<12>;\n"
	"  mov.u32 %r1, %tid.x;\n  shr.u32 %r2, %r1, 2;\n  and.b32 %r3, %r1, 3;\n"
	/* A row-major 16x32 and Bt (B transposed, 8x32): byte g*32 + 4tg */
	"  shl.b32 %r4, %r2, 5;\n  shl.b32 %r5, %r3, 2;\n  add.u32 %r4, %r4, %r5;\n"
	"  cvt.u64.u32 %rd1, %r4;\n  ld.param.u64 %rd2, [A];\n  add.s64 %rd3, %rd2, %rd1;\n"
	"  ld.global.u32 %r6, [%rd3];\n  ld.global.u32 %r7, [%rd3+256];\n"
	"  ld.global.u32 %r8, [%rd3+16];\n  ld.global.u32 %r9, [%rd3+272];\n"
	"  ld.param.u64 %rd4, [Bt];\n  add.s64 %rd5, %rd4, %rd1;\n"
	"  ld.global.u32 %r10, [%rd5];\n  ld.global.u32 %r11, [%rd5+16];\n"
	"  shl.b32 %r12, %r2, 3;\n  shl.b32 %r13, %r3, 1;\n  add.u32 %r12, %r12, %r13;\n"
	"  mul.wide.u32 %rd6, %r12, 4;\n  ld.param.u64 %rd7, [C];\n  add.s64 %rd8, %rd7, %rd6;\n"
	"  ld.global.v2.u32 {%r14, %r15}, [%rd8];\n  ld.global.v2.u32 {%r16, %r17}, [%rd8+256];\n"
	"  mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%r18, %r19, %r20, %r21}, "
	"{%r6, %r7, %r8, %r9}, {%r10, %r11}, {%r14, %r15, %r16, %r17};\n"
	"  ld.param.u64 %rd9, [D];\n  add.s64 %rd10, %rd9, %rd6;\n"
	"  st.global.v2.u32 [%rd10], {%r18, %r19};\n  st.global.v2.u32 [%rd10+256], {%r20, %r21};\n"
	"  ret;\n}\n";

static void test_mma_s8(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(s8_ptx, "mma_s8");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	int8_t A[16][32], Bt[8][32];
	int32_t C[16][8], D[16][8];

	for (int i = 0; i < 16; i++)
		for (int k = 0; k < 32; k++)
			A[i][k] = (int8_t)((i * 37 + k * 91) % 256 - 128);
	for (int j = 0; j < 8; j++)
		for (int k = 0; k < 32; k++)
			Bt[j][k] = (int8_t)((j * 53 + k * 29) % 255 - 127);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 8; j++)
			C[i][j] = i * 1000 - j * 77;
	uint64_t dA = ptxi_alloc(d, sizeof A), dB = ptxi_alloc(d, sizeof Bt),
		 dC = ptxi_alloc(d, sizeof C), dD = ptxi_alloc(d, sizeof D);
	ptxi_write(d, dA, A, sizeof A);
	ptxi_write(d, dB, Bt, sizeof Bt);
	ptxi_write(d, dC, C, sizeof C);
	void *params[] = { &dA, &dB, &dC, &dD };
	assert_int_equal(ptxt_run(m, d, "mma_s8", 1, 32, 1, 0, &e, 4, params), 0);
	ptxi_read(d, dD, D, sizeof D);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 8; j++) {
			int32_t ref = C[i][j];
			for (int k = 0; k < 32; k++)
				ref += A[i][k] * Bt[j][k];
			assert_int_equal(D[i][j], ref);	/* integer: exact */
		}
	ptxi_dev_free(d);
	ptxi_free(m);
}

/*
 * C = A B, 64x64x64 f32, one CTA of 128 threads: A and B staged into
 * shared memory, then thread t computes row t/2, columns (t%2)*32 ... +31.
 */
static const char gemm_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry gemm64(.param .u64 A, .param .u64 B, .param .u64 C)\n{\n"
	"  .reg .b32 %r<24>;\n  .reg .b64 %rd<12>;\n  .reg .f32 %f<4>;\n  .reg .pred %p<3>;\n"
	"  .shared .align 16 .b8 sa[16384];\n  .shared .align 16 .b8 sb[16384];\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [A];\n  ld.param.u64 %rd2, [B];\n"
	"  ld.param.u64 %rd9, [C];\n  mov.u32 %r20, sa;\n  mov.u32 %r21, sb;\n  mov.u32 %r2, 0;\n"
	"LOAD:\n  shl.b32 %r3, %r2, 7;\n  add.u32 %r3, %r3, %r1;\n  shl.b32 %r4, %r3, 2;\n"
	"  cvt.u64.u32 %rd3, %r4;\n  add.s64 %rd4, %rd1, %rd3;\n  add.s64 %rd5, %rd2, %rd3;\n"
	"  ld.global.f32 %f1, [%rd4];\n  ld.global.f32 %f2, [%rd5];\n"
	"  add.u32 %r5, %r20, %r4;\n  st.shared.f32 [%r5], %f1;\n"
	"  add.u32 %r6, %r21, %r4;\n  st.shared.f32 [%r6], %f2;\n"
	"  add.u32 %r2, %r2, 1;\n  setp.lt.u32 %p1, %r2, 32;\n  @%p1 bra LOAD;\n"
	"  bar.sync 0;\n  shr.u32 %r7, %r1, 1;\n  and.b32 %r8, %r1, 1;\n  shl.b32 %r8, %r8, 5;\n"
	"  mov.u32 %r9, 0;\n"
	"COL:\n  add.u32 %r10, %r8, %r9;\n  mov.f32 %f3, 0f00000000;\n"
	"  shl.b32 %r11, %r7, 8;\n  add.u32 %r11, %r11, %r20;\n"
	"  shl.b32 %r12, %r10, 2;\n  add.u32 %r12, %r12, %r21;\n  mov.u32 %r13, 0;\n"
	"K:\n  ld.shared.f32 %f1, [%r11];\n  ld.shared.f32 %f2, [%r12];\n"
	"  fma.rn.f32 %f3, %f1, %f2, %f3;\n  add.u32 %r11, %r11, 4;\n  add.u32 %r12, %r12, 256;\n"
	"  add.u32 %r13, %r13, 1;\n  setp.lt.u32 %p2, %r13, 64;\n  @%p2 bra K;\n"
	"  shl.b32 %r14, %r7, 6;\n  add.u32 %r14, %r14, %r10;\n  mul.wide.u32 %rd6, %r14, 4;\n"
	"  add.s64 %rd7, %rd9, %rd6;\n  st.global.f32 [%rd7], %f3;\n"
	"  add.u32 %r9, %r9, 1;\n  setp.lt.u32 %p1, %r9, 32;\n  @%p1 bra COL;\n"
	"  ret;\n}\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void test_gemm64_speed(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(gemm_ptx, "gemm64");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	static float A[64 * 64], B[64 * 64], C[64 * 64];
	struct ptxi_stats st;

	for (int i = 0; i < 64 * 64; i++) {
		A[i] = (float)((i * 13) % 29) / 7.0f - 2.0f;
		B[i] = (float)((i * 17) % 31) / 5.0f - 3.0f;
	}
	uint64_t dA = ptxi_alloc(d, sizeof A), dB = ptxi_alloc(d, sizeof B), dC = ptxi_alloc(d, sizeof C);
	ptxi_write(d, dA, A, sizeof A);
	ptxi_write(d, dB, B, sizeof B);
	void *params[] = { &dA, &dB, &dC };
	double t0 = now_s();
	assert_int_equal(ptxt_run(m, d, "gemm64", 1, 128, 1, 0, &e, 3, params), 0);
	double dt = now_s() - t0;
	ptxi_last_stats(m, &st);
	fprintf(stderr, "gemm64: %llu instructions in %.3f s\n", (unsigned long long)st.instructions, dt);
	/* the budget: well under a second under ASan, even on a loaded machine */
	assert_true(dt < 1.0);
	ptxi_read(d, dC, C, sizeof C);
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < 64; j++) {
			float ref = 0;
			for (int k = 0; k < 64; k++)	/* the kernel's order: fma by fma, bit-exact */
				ref = fmaf(A[i * 64 + k], B[k * 64 + j], ref);
			assert_true(C[i * 64 + j] == ref);
		}
	ptxi_dev_free(d);
	ptxi_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mma_bf16_ldmatrix),
		cmocka_unit_test(test_mma_s8),
		cmocka_unit_test(test_gemm64_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
