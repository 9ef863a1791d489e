// SPDX-License-Identifier: MIT
/*
 * test_exec: the executor against the fixture's reference forward pass
 * (pn_ref_* kernels, one sequence at a time), across padded batches of
 * mixed lengths, and its errors on bad input.
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
#include "exec/graph.h"

struct fx {
	struct fx_weights w;
	char path[64];
	struct pn_model *m;
	struct pn_cpu_model *cm;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pn_err err;
	int fd;

	fx_init(&f->w, 12345);
	strcpy(f->path, "/tmp/test_exec_XXXXXX");
	fd = mkstemp(f->path);
	close(fd);
	if (fx_write(&f->w, f->path, &err) || pn_model_open(f->path, &f->m, &err) ||
	    pn_cpu_model_new(f->m, &f->cm, &err)) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pn_cpu_model_free(f->cm);
	pn_model_close(f->m);
	unlink(f->path);
	free(f);
	return 0;
}

static void ids_for(int32_t *ids, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		ids[i] = (int32_t)((seed >> 16) % FX_V);
	}
}

/*
 * Tolerance: the fast path uses oneDNN GEMMs and a vectorised softmax; over
 * ~10 layers of K <= 48 float32 dot products the outputs (unit norm) move by
 * a few ulps times the depth: 2e-5 absolute is 100x that and far below the
 * 1e-4 the real model must meet against another engine.
 */
#define TOL 2e-5f

static void test_padded_batch_matches_reference(void **state)
{
	struct fx *f = *state;
	const uint32_t lens[5] = { 5, 1, 12, 7, 12 }, B = 5, T = 12;
	int32_t ids[5 * 12];
	float out[5 * FX_D], ref[FX_D];
	struct pn_exec *x;
	struct pn_err err;

	ids_for(ids, B * T, 7);
	for (uint32_t b = 0; b < B; b++)	/* garbage past each length */
		for (uint32_t t = lens[b]; t < T; t++)
			ids[b * T + t] = -77;
	assert_int_equal(pn_exec_new(f->cm, 8, FX_MAXT, NULL, &x, &err), 0);
	assert_int_equal(pn_exec_run(x, ids, lens, B, T, out, &err), 0);
	for (uint32_t b = 0; b < B; b++) {
		fx_reference(&f->w, ids + b * T, lens[b], ref);
		for (uint32_t k = 0; k < FX_D; k++)
			assert_true(fabsf(out[b * FX_D + k] - ref[k]) < TOL);
	}
	pn_exec_free(x);
}

static void test_same_result_alone_and_batched(void **state)
{
	struct fx *f = *state;
	uint32_t lens[3] = { 9, 3, 6 }, one;
	int32_t ids[3 * 9];
	float batched[3 * FX_D], alone[FX_D];
	struct pn_exec *x;
	struct pn_pool *pool = pn_pool_new(2, 0);

	ids_for(ids, sizeof(ids) / 4, 99);
	assert_int_equal(pn_exec_new(f->cm, 3, 9, pool, &x, NULL), 0);
	assert_int_equal(pn_exec_run(x, ids, lens, 3, 9, batched, NULL), 0);
	for (uint32_t b = 0; b < 3; b++) {
		one = lens[b];
		assert_int_equal(pn_exec_run(x, ids + b * 9, &one, 1, one, alone,
					     NULL), 0);
		for (uint32_t k = 0; k < FX_D; k++)
			assert_true(fabsf(batched[b * FX_D + k] - alone[k]) < TOL);
	}
	pn_exec_free(x);
	pn_pool_free(pool);
}

static void test_bad_input_rejected(void **state)
{
	struct fx *f = *state;
	int32_t ids[4] = { 1, 2, 3, 4 };
	uint32_t lens[2] = { 2, 2 };
	float out[2 * FX_D];
	struct pn_exec *x;
	struct pn_err err;

	assert_int_equal(pn_exec_new(f->cm, 2, 4, NULL, &x, &err), 0);
	ids[3] = FX_V;	/* one past the table */
	assert_int_equal(pn_exec_run(x, ids, lens, 2, 2, out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "outside the vocabulary"));
	ids[3] = -1;
	assert_int_equal(pn_exec_run(x, ids, lens, 2, 2, out, &err), -EINVAL);
	ids[3] = 4;
	lens[1] = 0;
	assert_int_equal(pn_exec_run(x, ids, lens, 2, 2, out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "length 0"));
	lens[1] = 2;
	assert_int_equal(pn_exec_run(x, ids, lens, 3, 2, out, &err), -EINVAL);
	assert_int_equal(pn_exec_run(x, ids, lens, 1, 5, out, &err), -EINVAL);
	assert_int_equal(pn_exec_run(x, ids, lens, 2, 2, out, &err), 0);
	pn_exec_free(x);
	/* an executor larger than the model allows */
	assert_int_equal(pn_exec_new(f->cm, 1, FX_MAXT + 1, NULL, &x, &err), -EINVAL);
	assert_null(x);
}

static void test_arena_reuses_memory(void **state)
{
	struct fx *f = *state;
	struct pn_exec *x;
	size_t naive, total;

	assert_int_equal(pn_exec_new(f->cm, 4, FX_MAXT, NULL, &x, NULL), 0);
	total = pn_exec_arena_bytes(x, &naive);
	/* 20 values, at most ~4 live at once: reuse must at least halve it */
	assert_true(total > 0);
	assert_true(total * 2 <= naive);
	pn_exec_free(x);
}

static void test_profile_counts_every_node(void **state)
{
	struct fx *f = *state;
	const struct pn_node_time *t;
	struct pn_exec *x;
	int32_t ids[3] = { 1, 2, 3 };
	uint32_t len = 3, n;
	float out[FX_D];

	assert_int_equal(pn_exec_new(f->cm, 1, 3, NULL, &x, NULL), 0);
	pn_exec_profile(x, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pn_exec_run(x, ids, &len, 1, 3, out, NULL), 0);
	t = pn_exec_node_times(x, &n);
	assert_int_equal(n, pn_cpu_model_graph(f->cm)->n_nodes);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(t[i].calls, 3);
		assert_true(t[i].total_us >= 0);
	}
	pn_exec_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padded_batch_matches_reference),
		cmocka_unit_test(test_same_result_alone_and_batched),
		cmocka_unit_test(test_bad_input_rejected),
		cmocka_unit_test(test_arena_reuses_memory),
		cmocka_unit_test(test_profile_counts_every_node),
	};

	return cmocka_run_group_tests_name("exec", tests, setup, teardown);
}
