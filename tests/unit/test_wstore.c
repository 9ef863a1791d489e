// SPDX-License-Identifier: MIT
/*
 * test_wstore: a CPU model's derived weights in a store (util/wstore.h),
 * as polynetd keeps them in a persistent region: MEASURE sizes exactly what
 * FILL writes, a model run from an ATTACH build over that buffer gives the
 * very floats of a model with private copies, and a buffer laid out by
 * another model (another fingerprint) or too small is told apart. Also:
 * pn_exec_prepare changes no result.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec/exec.h"
#include "fixture_model.h"
#include "util/wstore.h"

struct fx {
	struct fx_weights w;
	char path[64];
	struct pn_model *m;
};

static int open_fixture(struct fx *f, uint32_t seed)
{
	struct pn_err err;
	int fd;

	fx_init(&f->w, seed);
	strcpy(f->path, "/tmp/test_wstore_XXXXXX");
	fd = mkstemp(f->path);
	close(fd);
	if (fx_write(&f->w, f->path, &err) || pn_model_open(f->path, &f->m, &err)) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void close_fixture(struct fx *f)
{
	pn_model_close(f->m);
	unlink(f->path);
}

/* out [B, width] of a fixed batch through cm (B = 3, T = FX_MAXT). */
static void run3(const struct pn_cpu_model *cm, float *out, int prepare)
{
	int32_t ids[3 * FX_MAXT];
	uint32_t lens[3] = { FX_MAXT, 5, 1 };
	struct pn_exec *x;
	struct pn_err err;

	for (uint32_t i = 0; i < 3 * FX_MAXT; i++)
		ids[i] = (int32_t)((i * 7 + 3) % FX_V);
	assert_int_equal(pn_exec_new(cm, 3, FX_MAXT, NULL, &x, &err), 0);
	if (prepare)
		assert_int_equal(pn_exec_prepare(x, &err), 0);
	assert_int_equal(pn_exec_run(x, ids, lens, 3, FX_MAXT, out, &err), 0);
	pn_exec_free(x);
}

/* MEASURE, FILL, ATTACH over one buffer; returns the buffer (caller frees). */
static void *fill_store(const struct pn_model *m, size_t *bytes, uint64_t *fp)
{
	struct pn_cpu_model *cm = NULL;
	struct pn_wstore ws;
	void *buf;

	pn_wstore_init(&ws, PN_WSTORE_MEASURE, NULL, 0);
	assert_int_equal(pn_cpu_model_new_in(m, &ws, &cm, NULL), 0);
	pn_cpu_model_free(cm);
	assert_true(ws.used > 0);	/* packed FFN and LINEAR weights, a sin/cos table */
	*bytes = ws.used;
	buf = malloc(ws.used);
	memset(buf, 0xa5, ws.used);
	pn_wstore_init(&ws, PN_WSTORE_FILL, buf, *bytes);
	assert_int_equal(pn_cpu_model_new_in(m, &ws, &cm, NULL), 0);
	pn_cpu_model_free(cm);
	assert_false(ws.overflow);
	assert_int_equal(ws.used, *bytes);	/* FILL takes exactly what MEASURE counted */
	*fp = ws.fp;
	return buf;
}

static void test_attach_runs_the_same_floats(void **state)
{
	struct fx f;
	float priv[3 * FX_D], att[3 * FX_D], prep[3 * FX_D];
	struct pn_cpu_model *cm;
	struct pn_wstore ws;
	size_t bytes;
	uint64_t fp;
	void *buf;

	(void)state;
	assert_int_equal(open_fixture(&f, 777), 0);
	assert_int_equal(pn_cpu_model_new(f.m, &cm, NULL), 0);
	run3(cm, priv, 0);
	run3(cm, prep, 1);
	pn_cpu_model_free(cm);
	/* prepared or not, the same executor code on the same weights */
	assert_memory_equal(priv, prep, sizeof(priv));

	buf = fill_store(f.m, &bytes, &fp);
	pn_wstore_init(&ws, PN_WSTORE_ATTACH, buf, bytes);
	assert_int_equal(pn_cpu_model_new_in(f.m, &ws, &cm, NULL), 0);
	assert_int_equal(ws.used, bytes);
	assert_true(ws.fp == fp);
	run3(cm, att, 0);
	pn_cpu_model_free(cm);
	/* the same packed bytes, the same kernels: bit for bit */
	assert_memory_equal(priv, att, sizeof(priv));
	free(buf);
	close_fixture(&f);
}

static void test_attach_of_garbage_is_not_the_model(void **state)
{
	struct fx f;
	float priv[3 * FX_D], att[3 * FX_D];
	struct pn_cpu_model *cm;
	struct pn_wstore ws;
	size_t bytes;
	uint64_t fp;
	uint8_t *buf;

	(void)state;
	assert_int_equal(open_fixture(&f, 778), 0);
	assert_int_equal(pn_cpu_model_new(f.m, &cm, NULL), 0);
	run3(cm, priv, 0);
	pn_cpu_model_free(cm);
	buf = fill_store(f.m, &bytes, &fp);
	/* the store is what runs: a flipped packed byte changes the output
	 * (which is why polynetd checks a CRC before it attaches) */
	for (size_t i = 0; i < bytes; i += 64)
		buf[i] ^= 0x40;
	pn_wstore_init(&ws, PN_WSTORE_ATTACH, buf, bytes);
	assert_int_equal(pn_cpu_model_new_in(f.m, &ws, &cm, NULL), 0);
	run3(cm, att, 0);
	pn_cpu_model_free(cm);
	assert_memory_not_equal(priv, att, sizeof(priv));
	free(buf);
	close_fixture(&f);
}

static void test_other_layout_and_overflow_are_seen(void **state)
{
	struct fx a, b;
	struct pn_cpu_model *cm;
	struct pn_wstore ws;
	size_t bytes_a, bytes_b;
	uint64_t fp_a, fp_b;
	void *buf_a, *buf_b;

	(void)state;
	assert_int_equal(open_fixture(&a, 1), 0);
	assert_int_equal(open_fixture(&b, 2), 0);
	buf_a = fill_store(a.m, &bytes_a, &fp_a);
	buf_b = fill_store(b.m, &bytes_b, &fp_b);
	/* same shapes, other weights: one layout (the content hash tells them apart) */
	assert_true(fp_a == fp_b);
	assert_int_equal(bytes_a, bytes_b);
	/* a buffer one byte short: the last piece does not fit and is refused */
	pn_wstore_init(&ws, PN_WSTORE_ATTACH, buf_a, bytes_a - 1);
	assert_int_equal(pn_cpu_model_new_in(a.m, &ws, &cm, NULL), 0);
	assert_true(ws.overflow);
	pn_cpu_model_free(cm);
	/* the fingerprint depends on what was taken, in order */
	pn_wstore_init(&ws, PN_WSTORE_MEASURE, NULL, 0);
	{
		bool fill;

		pn_wstore_take(&ws, 128, 1, &fill);
		pn_wstore_take(&ws, 256, 2, &fill);
		fp_a = ws.fp;
		pn_wstore_init(&ws, PN_WSTORE_MEASURE, NULL, 0);
		pn_wstore_take(&ws, 256, 2, &fill);
		pn_wstore_take(&ws, 128, 1, &fill);
		assert_true(ws.fp != fp_a);
		assert_int_equal(ws.used, 64 * 4 + 128);	/* 256, then 128 at 256 */
	}
	free(buf_a);
	free(buf_b);
	close_fixture(&a);
	close_fixture(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attach_runs_the_same_floats),
		cmocka_unit_test(test_attach_of_garbage_is_not_the_model),
		cmocka_unit_test(test_other_layout_and_overflow_are_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
