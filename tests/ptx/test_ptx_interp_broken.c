/* SPDX-License-Identifier: MIT */
/*
 * test_ptx_interp_broken.c - the interpreter catches what a GPU would do
 * silently (or hang on): the deliberately broken kernels of
 * tests/ptx/broken/ (valid PTX: ptxas accepts them all) each fault, and the
 * message names the kernel, the CTA, the thread and the file:line of the
 * instruction; and text outside the dialect is refused at load time with
 * its file:line.
 */
#include "tests/ptx/ptxi_testutil.h"

#define DIR "tests/ptx/broken/"

/* The line of path holding needle (1-based): messages must point at it. */
static int line_of(const char *path, const char *needle)
{
	char buf[256];
	int n = 0;
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof buf, f)) {
		n++;
		if (strstr(buf, needle)) {
			fclose(f);
			return n;
		}
	}
	fclose(f);
	fail_msg("%s: no line with %s", path, needle);
	return 0;
}

static void ptxas_file_ok(const char *path)
{
	char cmd[256];
	if (access(PTXAS, X_OK))
		return;
	snprintf(cmd, sizeof cmd, PTXAS " -arch=sm_80 -o /dev/null %s", path);
	assert_int_equal(system(cmd), 0);
}

static void assert_has(const char *msg, const char *what)
{
	if (!strstr(msg, what))
		fail_msg("message lacks '%s': %s", what, msg);
}

/*
 * Runs kernel <name> of broken/<name>.ptx over one CTA of `threads` threads
 * with one u64 param (a 16-byte allocation) when params is set; the run must
 * fail, naming the kernel, thread `tid` and the line holding `at`.
 */
static void expect_fault(const char *name, uint32_t threads, int nparams, uint32_t tid,
			 const char *at, const char *what)
{
	char path[128], want[160];
	struct ptxi_module *m = NULL;
	struct ptxi_err e;
	struct ptxi_dev *d = ptxi_dev_new();
	uint32_t n = 4;
	uint64_t buf = ptxi_alloc(d, 16);
	void *one[] = { &buf }, *two[] = { &n, &buf };

	snprintf(path, sizeof path, DIR "%s.ptx", name);
	ptxas_file_ok(path);
	assert_int_equal(ptxi_load(path, &m, &e), 0);
	assert_int_not_equal(ptxt_run(m, d, name, 1, threads, 1, 0, &e, (uint32_t)nparams,
				      nparams == 2 ? two : one), 0);
	snprintf(want, sizeof want, "kernel %s,", name);
	assert_has(e.msg, want);
	assert_has(e.msg, "CTA (0,0,0)");
	snprintf(want, sizeof want, "thread (%u,0,0)", tid);
	assert_has(e.msg, want);
	snprintf(want, sizeof want, "%s:%d:", path, line_of(path, at));
	assert_has(e.msg, want);
	assert_has(e.msg, what);
	ptxi_free(m);
	ptxi_dev_free(d);
}

static void test_oob_global(void **state)
{
	(void)state;
	/* 16 bytes hold out[0..3]: thread 4 is the first past them */
	expect_fault("oob_global", 8, 1, 4, "st.global", "out-of-bounds global write");
}

static void test_oob_shared(void **state)
{
	(void)state;
	expect_fault("oob_shared", 32, 0, 16, "st.shared", "out-of-bounds shared write");
}

static void test_oob_param(void **state)
{
	(void)state;
	expect_fault("oob_param", 1, 2, 0, "ld.param.u32", "out-of-bounds param read");
}

static void test_uninitialised_read(void **state)
{
	(void)state;
	expect_fault("uninit", 8, 1, 3, "add.u32 %r4", "uninitialised register %r3");
}

static void test_barrier_after_exit(void **state)
{
	(void)state;
	/* thread 0 waits at the barrier; the message says who never comes */
	expect_fault("barrier_exit", 32, 0, 0, "bar.sync", "barrier divergence");
	struct ptxi_module *m;
	struct ptxi_err e;
	struct ptxi_dev *d = ptxi_dev_new();
	char want[128];
	assert_int_equal(ptxi_load(DIR "barrier_exit.ptx", &m, &e), 0);
	assert_int_not_equal(ptxt_run(m, d, "barrier_exit", 1, 32, 1, 0, &e, 0, NULL), 0);
	snprintf(want, sizeof want, "thread (5,0,0) exited at " DIR "barrier_exit.ptx:%d",
		 line_of(DIR "barrier_exit.ptx", "ret;"));
	assert_has(e.msg, want);
	ptxi_free(m);
	ptxi_dev_free(d);
}

static void test_barrier_split(void **state)
{
	(void)state;
	expect_fault("barrier_split", 8, 0, 0, "bar.sync 0", "barrier divergence: thread (1,0,0) waits");
}

static void test_shfl_mask_without_self(void **state)
{
	(void)state;
	expect_fault("shfl_mask_self", 32, 0, 1, "shfl.sync", "does not include lane 1 itself");
}

static void test_shfl_masks_disagree(void **state)
{
	(void)state;
	expect_fault("shfl_mask_differ", 32, 0, 7, "shfl.sync", "lanes disagree on the member mask");
}

static void test_shfl_lane_exited(void **state)
{
	(void)state;
	expect_fault("shfl_exited", 32, 0, 0, "shfl.sync", "lane 9 of the member mask 0xffffffff exited");
}

/* The race check (on by default): a missing bar.sync between warps faults, the fixed kernel runs. */
static void test_shared_race_check(void **state)
{
	(void)state;
	const char *path = DIR "race_no_barrier.ptx";
	struct ptxi_module *m = NULL;
	struct ptxi_err e;
	struct ptxi_dev *d = ptxi_dev_new();
	uint32_t out[64], barrier = 0;
	uint64_t dout = ptxi_alloc(d, sizeof out);
	void *params[] = { &barrier, &dout };
	char want[128];

	ptxas_file_ok(path);
	assert_int_equal(ptxi_load(path, &m, &e), 0);
	ptxi_set_race_check(m, 1);	/* on by default, unless PTXI_RACE_CHECK=0: be sure */
	assert_int_not_equal(ptxt_run(m, d, "race_no_barrier", 1, 64, 1, 0, &e, 2, params), 0);
	assert_has(e.msg, "shared-memory race");
	/* threads run in order: warp 0 read tile[32..63] before thread 32 writes tile[32] */
	assert_has(e.msg, "thread (32,0,0)");
	assert_has(e.msg, "a thread of warp 0 read it");
	snprintf(want, sizeof want, "%s:%d:", path, line_of(path, "st.shared"));
	assert_has(e.msg, want);
	/* turned off, the racy kernel runs (and reads what the sequential order left) */
	ptxi_set_race_check(m, 0);
	assert_int_equal(ptxt_run(m, d, "race_no_barrier", 1, 64, 1, 0, &e, 2, params), 0);
	ptxi_set_race_check(m, 1);
	barrier = 1;
	assert_int_equal(ptxt_run(m, d, "race_no_barrier", 1, 64, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, out, sizeof out);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(out[i], 63 - i);
	ptxi_free(m);
	ptxi_dev_free(d);
}

/* Across CTAs in global memory: overlapping writes of different values fault, equal ones not. */
static void test_global_race_check(void **state)
{
	(void)state;
	const char *path = DIR "global_overlap.ptx";
	struct ptxi_module *m = NULL;
	struct ptxi_err e;
	struct ptxi_dev *d = ptxi_dev_new();
	uint32_t out[32 * 4 + 32], same = 0;
	uint64_t dout = ptxi_alloc(d, sizeof out);
	void *params[] = { &same, &dout };
	char want[128];

	ptxas_file_ok(path);
	assert_int_equal(ptxi_load(path, &m, &e), 0);
	ptxi_set_race_check(m, 1);
	assert_int_not_equal(ptxt_run(m, d, "global_overlap", 4, 64, 1, 0, &e, 2, params), 0);
	assert_has(e.msg, "global-memory race");
	assert_has(e.msg, "CTA (1,0,0), thread (0,0,0)");
	assert_has(e.msg, "CTA (0,0,0) wrote it in this launch");
	snprintf(want, sizeof want, "%s:%d:", path, line_of(path, "st.global"));
	assert_has(e.msg, want);
	same = 1;
	assert_int_equal(ptxt_run(m, d, "global_overlap", 4, 64, 1, 0, &e, 2, params), 0);
	ptxi_read(d, dout, out, sizeof out);
	for (uint32_t i = 0; i < 32 * 4 + 32; i++)
		assert_int_equal(out[i], i);
	ptxi_free(m);
	ptxi_dev_free(d);
}

static void test_outside_dialect_file(void **state)
{
	(void)state;
	struct ptxi_module *m = NULL;
	struct ptxi_err e;
	char want[128];

	ptxas_file_ok(DIR "outside_dialect.ptx");
	assert_int_not_equal(ptxi_load(DIR "outside_dialect.ptx", &m, &e), 0);
	assert_null(m);
	snprintf(want, sizeof want, DIR "outside_dialect.ptx:%d: instruction 'brev.b32' is outside",
		 line_of(DIR "outside_dialect.ptx", "brev.b32"));
	assert_has(e.msg, want);
}

/* Each body line is valid PTX the dialect lacks; the error names its line (7). */
static void test_outside_dialect_text(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		"add.cc.u32 %r1, %r1, 1;",			/* a modifier we lack */
		"mul24.lo.u32 %r1, %r1, 3;",			/* an opcode we lack */
		"atom.global.inc.u32 %r1, [%rd1], 5;",		/* an atomic op we lack */
		"ld.global.v4.u16 {%h1, %h1, %h1, %h1}, [%rd1];",	/* a vector type we lack */
		"cvt.rn.f16.f32 %h1, %f1;",			/* a type we lack */
		"ld.global.f64 %rd1, [%rd1];",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char text[512];
		struct ptxi_module *m = NULL;
		struct ptxi_err e;
		snprintf(text, sizeof text,
			 ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k()\n{\n"
			 "  .reg .b32 %%r<2>; .reg .b64 %%rd<2>; .reg .b16 %%h<2>; .reg .f32 %%f<2>;\n"
			 "  %s\n  ret;\n}\n", bodies[i]);
		assert_int_not_equal(ptxi_load_text(text, "inline.ptx", &m, &e), 0);
		assert_null(m);
		assert_has(e.msg, "inline.ptx:7:");
		assert_has(e.msg, "outside the dialect");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oob_global),
		cmocka_unit_test(test_oob_shared),
		cmocka_unit_test(test_oob_param),
		cmocka_unit_test(test_uninitialised_read),
		cmocka_unit_test(test_barrier_after_exit),
		cmocka_unit_test(test_barrier_split),
		cmocka_unit_test(test_shfl_mask_without_self),
		cmocka_unit_test(test_shfl_masks_disagree),
		cmocka_unit_test(test_shfl_lane_exited),
		cmocka_unit_test(test_shared_race_check),
		cmocka_unit_test(test_global_race_check),
		cmocka_unit_test(test_outside_dialect_file),
		cmocka_unit_test(test_outside_dialect_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
