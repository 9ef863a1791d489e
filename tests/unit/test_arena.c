// SPDX-License-Identifier: MIT
/* test_arena: no two values alive at the same time share bytes, reuse
 * makes the arena smaller than one buffer per value, and a node's scratch
 * overlaps nothing alive while the node runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/arena.h"
#include "fixture_model.h"
#include "exec/exec.h"
#include "exec/model.h"

static void test_live_values_never_overlap(void **state)
{
	struct fx_weights *w = malloc(sizeof(*w));
	char path[] = "/tmp/test_arena_XXXXXX";
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_arena_plan p;
	const struct pn_graph *g;
	uint32_t *born;
	int fd = mkstemp(path);

	(void)state;
	close(fd);
	fx_init(w, 1);
	assert_int_equal(fx_write(w, path, NULL), 0);
	assert_int_equal(pn_model_open(path, &m, NULL), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, NULL), 0);
	g = pn_cpu_model_graph(cm);
	assert_int_equal(pn_arena_plan(g, 3, 7, NULL, &p), 0);
	born = calloc(g->n_values, sizeof(*born));
	for (uint32_t i = 0; i < g->n_nodes; i++)
		born[g->nodes[i].out] = i;
	/* a value occupies its bytes from its node to its last reader */
	for (uint32_t a = 0; a < g->n_values; a++) {
		if (p.offset[a] == SIZE_MAX)
			continue;
		assert_true(p.offset[a] % 64 == 0);
		assert_true(p.offset[a] + p.size[a] <= p.total);
		for (uint32_t b = a + 1; b < g->n_values; b++) {
			uint32_t a_end = g->last_use[a], b_end = g->last_use[b];
			int live_together, disjoint;

			if (p.offset[b] == SIZE_MAX)
				continue;
			live_together = born[a] <= b_end && born[b] <= a_end;
			disjoint = p.offset[a] + p.size[a] <= p.offset[b] ||
				   p.offset[b] + p.size[b] <= p.offset[a];
			if (live_together && !disjoint)
				fail_msg("values %u and %u overlap while both live", a, b);
		}
	}
	assert_true(p.total < p.naive / 2);
	/* SEQ values are sized per sequence, TOKENS per token */
	assert_int_equal(p.size[g->output], ((3 * FX_D * 4 + 63) / 64) * 64);
	pn_arena_plan_free(&p);
	free(born);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	unlink(path);
	free(w);
}

/*
 * Each node gets scratch: it must not touch any value alive while the node
 * runs (its inputs, its output, anything read later), and dead values' bytes
 * are reused for it (the arena grows by less than the scratch summed).
 */
static void test_scratch_overlaps_nothing_live(void **state)
{
	struct fx_weights *w = malloc(sizeof(*w));
	char path[] = "/tmp/test_arena_XXXXXX";
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_arena_plan p, bare;
	const struct pn_graph *g;
	uint32_t *born;
	size_t *scratch, sum = 0;
	int fd = mkstemp(path);

	(void)state;
	close(fd);
	fx_init(w, 1);
	assert_int_equal(fx_write(w, path, NULL), 0);
	assert_int_equal(pn_model_open(path, &m, NULL), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, NULL), 0);
	g = pn_cpu_model_graph(cm);
	scratch = calloc(g->n_nodes, sizeof(*scratch));
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		scratch[i] = i % 3 ? 1000 + 200 * i : 0;	/* some nodes need none */
		sum += (scratch[i] + 63) / 64 * 64;
	}
	assert_int_equal(pn_arena_plan(g, 3, 7, NULL, &bare), 0);
	assert_int_equal(pn_arena_plan(g, 3, 7, scratch, &p), 0);
	born = calloc(g->n_values, sizeof(*born));
	for (uint32_t i = 0; i < g->n_nodes; i++)
		born[g->nodes[i].out] = i;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		size_t lo = p.scratch_off[i], hi = lo + scratch[i];

		if (!scratch[i])
			continue;
		assert_true(lo % 64 == 0);
		assert_true(hi <= p.total);
		for (uint32_t v = 0; v < g->n_values; v++) {
			if (p.offset[v] == SIZE_MAX || born[v] > i || g->last_use[v] < i)
				continue;	/* not alive while node i runs */
			if (!(hi <= p.offset[v] || p.offset[v] + p.size[v] <= lo))
				fail_msg("node %u's scratch overlaps value %u", i, v);
		}
	}
	assert_true(p.total < bare.total + sum);
	pn_arena_plan_free(&p);
	pn_arena_plan_free(&bare);
	free(born);
	free(scratch);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	unlink(path);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_values_never_overlap),
		cmocka_unit_test(test_scratch_overlaps_nothing_live),
	};

	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
