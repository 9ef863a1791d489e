// SPDX-License-Identifier: MIT
/*
 * test_exec_poly: a model made of the PolyNet nodes (fixture_poly.h) runs
 * through pn_model_open / pn_exec_run and matches the reference forward
 * pass composed from the pn_ref_* twins, across padded batches.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/exec.h"
#include "fixture_poly.h"
#include "exec/graph.h"
#include "exec/model.h"

struct fx {
	struct fp_weights w;
	char path[64];
	struct pn_model *m;
	struct pn_cpu_model *cm;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pn_err err;
	int fd;

	fp_init(&f->w, 777);
	strcpy(f->path, "/tmp/test_exec_poly_XXXXXX");
	fd = mkstemp(f->path);
	close(fd);
	if (fp_write(&f->w, f->path, NULL, NULL, &err) || pn_model_open(f->path, &f->m, &err) ||
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
		ids[i] = (int32_t)((seed >> 16) % FP_V);
	}
}

/*
 * Tolerance: as test_exec (oneDNN GEMMs and float series vs double twins,
 * ~10 nodes deep, unit-norm output): 5e-5. The discrete choices (VQ codes,
 * clusters, routes) are the same on both sides unless two candidates tie
 * to ~1e-6; the fixed seeds here have no such near-tie, and a flip would
 * show as an O(0.1) difference, not a drift.
 */
#define TOL 5e-5f

static void run_and_check(struct fx *f, struct pn_pool *pool)
{
	const uint32_t lens[6] = { 10, 1, 4, 7, 10, 2 }, B = 6, T = 10;
	int32_t ids[6 * 10];
	float out[6 * FP_D], ref[FP_D];
	struct pn_exec *x;
	struct pn_err err;

	ids_for(ids, B * T, 31);
	assert_int_equal(pn_exec_new(f->cm, 8, FP_MAXT, pool, &x, &err), 0);
	assert_int_equal(pn_exec_run(x, ids, lens, B, T, out, &err), 0);
	for (uint32_t b = 0; b < B; b++) {
		fp_reference(&f->w, ids + b * T, lens[b], ref);
		for (uint32_t k = 0; k < FP_D; k++)
			if (!(fabsf(out[b * FP_D + k] - ref[k]) < TOL))
				fail_msg("sequence %u (len %u) [%u]: exec %.7g, reference %.7g",
					 b, lens[b], k, out[b * FP_D + k], ref[k]);
	}
	pn_exec_free(x);
}

static void test_padded_batch_matches_reference(void **state)
{
	struct pn_pool *pool = pn_pool_new(2, 0);

	run_and_check(*state, NULL);
	run_and_check(*state, pool);
	pn_pool_free(pool);
}

static void test_graph_reports_the_nodes(void **state)
{
	struct fx *f = *state;
	const struct pn_graph *g = pn_cpu_model_graph(f->cm);
	uint32_t seen[4] = { 0 };

	for (uint32_t i = 0; i < g->n_nodes; i++)
		if (g->nodes[i].op >= PNB_OP_POLY_FFN && g->nodes[i].op <= PNB_OP_MACRO)
			seen[g->nodes[i].op - PNB_OP_POLY_FFN]++;
	assert_int_equal(seen[0], 2);	/* poly_ffn */
	assert_int_equal(seen[1], 3);	/* vq */
	assert_int_equal(seen[2], 1);	/* cqa */
	assert_int_equal(seen[3], 1);	/* macro */
	assert_true(pn_graph_flops(g, 2, 8) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padded_batch_matches_reference),
		cmocka_unit_test(test_graph_reports_the_nodes),
	};

	return cmocka_run_group_tests_name("exec_poly", tests, setup, teardown);
}
