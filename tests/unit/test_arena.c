// SPDX-License-Identifier: MIT
/* test_arena: no two values alive at the same time share bytes, and reuse
 * makes the arena smaller than one buffer per value. */
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
	assert_int_equal(pn_arena_plan(g, 3, 7, &p), 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_values_never_overlap),
	};

	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
