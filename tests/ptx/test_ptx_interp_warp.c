/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp_warp.c - warp collectives and atomics: shfl.sync in its
 * four modes (full and half-warp member masks, the predicate output),
 * vote.sync, and atom/red on global and shared memory across CTAs. The
 * references are plain loops over the same integer inputs (exact).
 */
#include "tests/ptx/ptxi_testutil.h"

/*
 * Per thread: out[4*i+0] = butterfly sum over its member group (the full
 * warp, or its half when half != 0), [1] = inclusive prefix sum (shfl.up
 * with the predicate), [2] = lane 3's value (shfl.idx), [3] = ballot of
 * odd values.
 */
static const char shfl_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry warp(.param .u64 x, .param .u64 out, .param .u32 half)\n{\n"
	"  .reg .b32 %r<20>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<4>;\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [x];\n  mul.wide.u32 %rd2, %r1, 4;\n"
	"  add.s64 %rd3, %rd1, %rd2;\n  ld.global.u32 %r2, [%rd3];\n"
	"  ld.param.u32 %r3, [half];\n  mov.u32 %r4, -1;\n  mov.u32 %r5, 16;\n"
	"  setp.eq.u32 %p1, %r3, 0;\n  @%p1 bra FULL;\n"
	"  mov.u32 %r6, %laneid;\n  setp.lt.u32 %p2, %r6, 16;\n"
	"  selp.b32 %r4, 0x0000ffff, 0xffff0000, %p2;\n  mov.u32 %r5, 8;\n"
	"FULL:\n  mov.u32 %r7, %r2;\n"
	"RED:\n  shfl.sync.bfly.b32 %r8, %r7, %r5, 0x1f, %r4;\n  add.u32 %r7, %r7, %r8;\n"
	"  shr.u32 %r5, %r5, 1;\n  setp.ne.u32 %p3, %r5, 0;\n  @%p3 bra RED;\n"
	"  mov.u32 %r9, %r2;\n  mov.u32 %r10, 1;\n"
	"SCAN:\n  shfl.sync.up.b32 %r11|%p2, %r9, %r10, 0, -1;\n  @%p2 add.u32 %r9, %r9, %r11;\n"
	"  shl.b32 %r10, %r10, 1;\n  setp.lt.u32 %p3, %r10, 32;\n  @%p3 bra SCAN;\n"
	"  shfl.sync.idx.b32 %r12, %r2, 3, 0x1f, -1;\n"
	"  and.b32 %r13, %r2, 1;\n  setp.ne.u32 %p1, %r13, 0;\n  vote.sync.ballot.b32 %r14, %p1, -1;\n"
	"  ld.param.u64 %rd4, [out];\n  mul.wide.u32 %rd5, %r1, 16;\n  add.s64 %rd6, %rd4, %rd5;\n"
	"  st.global.v4.u32 [%rd6], {%r7, %r9, %r12, %r14};\n  ret;\n}\n";

static void run_shfl(uint32_t half)
{
	struct ptxi_module *m = ptxt_load(shfl_ptx, "shfl");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { N = 64 };
	uint32_t x[N], o[N * 4];
	uint64_t dx = ptxi_alloc(d, sizeof x), dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dx, &dout, &half };
	struct ptxi_stats st;

	for (int i = 0; i < N; i++)
		x[i] = (uint32_t)((i * 37 + 11) % 101);
	ptxi_write(d, dx, x, sizeof x);
	assert_int_equal(ptxt_run(m, d, "warp", 1, N, 1, 0, &e, 3, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (int i = 0; i < N; i++) {
		int w = i / 32 * 32, g = half ? i / 16 * 16 : w, gn = half ? 16 : 32;
		uint32_t sum = 0, pre = 0, ballot = 0;
		for (int j = g; j < g + gn; j++)
			sum += x[j];
		for (int j = w; j <= i; j++)
			pre += x[j];
		for (int j = 0; j < 32; j++)
			ballot |= (x[w + j] & 1u) << j;
		assert_int_equal(o[4 * i + 0], sum);
		assert_int_equal(o[4 * i + 1], pre);
		assert_int_equal(o[4 * i + 2], x[w + 3]);
		assert_int_equal(o[4 * i + 3], ballot);
	}
	ptxi_last_stats(m, &st);
	/* per warp: 5 (or 4) bfly, 5 up, 1 idx, 1 vote — more groups when half */
	assert_int_equal(st.collectives, half ? 2 * (2 * 4 + 5 + 2) : 2 * (5 + 5 + 2));
	ptxi_dev_free(d);
	ptxi_free(m);
}

static void test_shfl_vote_full_warp(void **state)
{
	(void)state;
	run_shfl(0);
}

static void test_shfl_half_warp_masks(void **state)
{
	(void)state;
	run_shfl(1);
}

/* vote.all / vote.any / vote.uni of (x > limit) within each warp. */
static const char vote_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry vote(.param .u64 x, .param .u64 out, .param .u32 limit)\n{\n"
	"  .reg .b32 %r<10>;\n  .reg .b64 %rd<8>;\n  .reg .pred %p<6>;\n"
	"  mov.u32 %r1, %tid.x;\n  ld.param.u64 %rd1, [x];\n  mul.wide.u32 %rd2, %r1, 4;\n"
	"  add.s64 %rd3, %rd1, %rd2;\n  ld.global.u32 %r2, [%rd3];\n  ld.param.u32 %r3, [limit];\n"
	"  setp.gt.u32 %p1, %r2, %r3;\n  vote.sync.all.pred %p2, %p1, 0xffffffff;\n"
	"  vote.sync.any.pred %p3, %p1, 0xffffffff;\n  vote.sync.uni.pred %p4, !%p1, 0xffffffff;\n"
	"  selp.u32 %r4, 1, 0, %p2;\n  selp.u32 %r5, 2, 0, %p3;\n  selp.u32 %r6, 4, 0, %p4;\n"
	"  or.b32 %r7, %r4, %r5;\n  or.b32 %r7, %r7, %r6;\n"
	"  ld.param.u64 %rd4, [out];\n  add.s64 %rd5, %rd4, %rd2;\n  st.global.u32 [%rd5], %r7;\n"
	"  ret;\n}\n";

static void test_vote(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(vote_ptx, "vote");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t x[96], o[96];
	uint64_t dx = ptxi_alloc(d, sizeof x), dout = ptxi_alloc(d, sizeof o);

	for (uint32_t limit = 0; limit < 3; limit++) {
		/* warp 0: all above 0; warp 1: some; warp 2: none above 1 */
		for (int i = 0; i < 96; i++)
			x[i] = i < 32 ? 5 : i < 64 ? (uint32_t)(i % 3) : (uint32_t)(i % 2);
		ptxi_write(d, dx, x, sizeof x);
		void *params[] = { &dx, &dout, &limit };
		assert_int_equal(ptxt_run(m, d, "vote", 1, 96, 1, 0, &e, 3, params), 0);
		ptxi_read(d, dout, o, sizeof o);
		for (int w = 0; w < 3; w++) {
			int n = 0;
			for (int j = 0; j < 32; j++)
				n += x[w * 32 + j] > limit;
			uint32_t want = (n == 32) | (n > 0) << 1 | (n == 0 || n == 32) << 2;
			for (int j = 0; j < 32; j++)
				assert_int_equal(o[w * 32 + j], want);
		}
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

/*
 * Atomics: every thread of every CTA takes a ticket (atom.global.add),
 * adds its value into a shared f32 (atom.shared.add.f32) that thread 0 then
 * red.global.adds into a global total, and keeps a global min and max.
 */
static const char atom_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry atoms(.param .u64 ctr, .param .u64 tickets, .param .u64 tot)\n{\n"
	"  .reg .b32 %r<16>;\n  .reg .b64 %rd<10>;\n  .reg .f32 %f<4>;\n  .reg .pred %p<2>;\n"
	"  .shared .align 4 .b8 acc[4];\n"
	"  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, %ctaid.x;\n  mov.u32 %r3, %ntid.x;\n"
	"  mad.lo.u32 %r4, %r2, %r3, %r1;\n  setp.ne.u32 %p1, %r1, 0;\n"
	"  @!%p1 st.shared.f32 [acc], 0f00000000;\n  bar.sync 0;\n"
	"  ld.param.u64 %rd1, [ctr];\n  atom.global.add.u32 %r5, [%rd1], 1;\n"
	"  ld.param.u64 %rd2, [tickets];\n  mul.wide.u32 %rd3, %r4, 4;\n  add.s64 %rd4, %rd2, %rd3;\n"
	"  st.global.u32 [%rd4], %r5;\n"
	"  cvt.rn.f32.u32 %f1, %r4;\n  atom.shared.add.f32 %f2, [acc], %f1;\n"
	"  atom.global.min.s32 %r6, [%rd1+4], %r4;\n  atom.global.max.u32 %r7, [%rd1+8], %r4;\n"
	"  atom.global.cas.b32 %r8, [%rd1+12], %r4, %r5;\n  atom.global.exch.b32 %r9, [%rd1+16], %r4;\n"
	"  bar.sync 0;\n  @%p1 bra DONE;\n  ld.shared.f32 %f3, [acc];\n  ld.param.u64 %rd5, [tot];\n"
	"  red.global.add.f32 [%rd5], %f3;\n"
	"DONE:\n  ret;\n}\n";

static void test_atomics(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(atom_ptx, "atoms");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	enum { G = 3, B = 64, N = G * B };
	int32_t ctr[5] = { 0, 1000, 0, 7, 0 };
	uint32_t tickets[N], seen[N] = { 0 };
	float tot = 0;
	uint64_t dc = ptxi_alloc(d, sizeof ctr), dt = ptxi_alloc(d, sizeof tickets),
		 dtot = ptxi_alloc(d, 4);
	void *params[] = { &dc, &dt, &dtot };

	ptxi_write(d, dc, ctr, sizeof ctr);
	ptxi_write(d, dtot, &tot, 4);
	assert_int_equal(ptxt_run(m, d, "atoms", G, B, 1, 0, &e, 3, params), 0);
	ptxi_read(d, dc, ctr, sizeof ctr);
	ptxi_read(d, dt, tickets, sizeof tickets);
	ptxi_read(d, dtot, &tot, 4);
	assert_int_equal(ctr[0], N);
	for (int i = 0; i < N; i++) {
		assert_true(tickets[i] < N);
		seen[tickets[i]]++;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);	/* each ticket handed out once */
	assert_int_equal(ctr[1], 0);
	assert_int_equal(ctr[2], N - 1);
	/* cas stores the ticket of the thread whose index equals the word (7 here) */
	assert_int_equal(ctr[3], (int32_t)tickets[7]);
	assert_true(ctr[4] >= 0 && ctr[4] < N);
	/* integer-valued f32 sums below 2^24 are exact in any order */
	assert_true(tot == (float)(N * (N - 1) / 2));
	ptxi_dev_free(d);
	ptxi_free(m);
}

/*
 * shfl.sync in sub-warp segments of 8 lanes (CUDA's width argument: c =
 * (32 - 8) << 8, | 0x1f except for up): out[4*lane + mode] for up 3,
 * down 3, bfly 9 (leaves the segment), idx 5.
 */
static const char seg_ptx[] =
	".version 8.0\n.target sm_80\n.address_size 64\n"
	".visible .entry seg(.param .u64 out)\n{\n"
	"  .reg .b32 %r<12>;\n  .reg .b64 %rd<4>;\n"
	"  mov.u32 %r1, %laneid;\n  mad.lo.u32 %r2, %r1, 3, 1;\n"
	"  shfl.sync.up.b32 %r3, %r2, 3, 0x1800, -1;\n"
	"  shfl.sync.down.b32 %r4, %r2, 3, 0x181f, -1;\n"
	"  shfl.sync.bfly.b32 %r5, %r2, 9, 0x181f, -1;\n"
	"  shfl.sync.idx.b32 %r6, %r2, 5, 0x181f, -1;\n"
	"  ld.param.u64 %rd1, [out];\n  mul.wide.u32 %rd2, %r1, 16;\n  add.s64 %rd3, %rd1, %rd2;\n"
	"  st.global.v4.u32 [%rd3], {%r3, %r4, %r5, %r6};\n  ret;\n}\n";

static void test_shfl_segments(void **state)
{
	(void)state;
	struct ptxi_module *m = ptxt_load(seg_ptx, "seg");
	struct ptxi_dev *d = ptxi_dev_new();
	struct ptxi_err e;
	uint32_t o[128];
	uint64_t dout = ptxi_alloc(d, sizeof o);
	void *params[] = { &dout };

	assert_int_equal(ptxt_run(m, d, "seg", 1, 32, 1, 0, &e, 1, params), 0);
	ptxi_read(d, dout, o, sizeof o);
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t w = 8, base = l / w * w, x;
		/* CUDA's __shfl_*_sync(mask, v, b, 8): out-of-segment sources give the lane's own v */
		uint32_t up = l % w >= 3 ? l - 3 : l;
		uint32_t down = l % w + 3 < w ? l + 3 : l;
		x = l ^ 9;	/* earlier segments may be read, later ones not */
		uint32_t bfly = x < base + w ? x : l;
		uint32_t idx = base + 5;
		assert_int_equal(o[4 * l + 0], up * 3 + 1);
		assert_int_equal(o[4 * l + 1], down * 3 + 1);
		assert_int_equal(o[4 * l + 2], bfly * 3 + 1);
		assert_int_equal(o[4 * l + 3], idx * 3 + 1);
	}
	ptxi_dev_free(d);
	ptxi_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shfl_vote_full_warp),
		cmocka_unit_test(test_shfl_half_warp_masks),
		cmocka_unit_test(test_shfl_segments),
		cmocka_unit_test(test_vote),
		cmocka_unit_test(test_atomics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
