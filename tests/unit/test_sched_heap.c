// SPDX-License-Identifier: MIT
/*
 * test_sched_heap.c - the positioned binary min-heap (daemon/sched/sched_heap.c) under random
 * push, pop, remove-from-anywhere and re-key, against a plain array scanned for its
 * minimum; positions stay consistent after every operation.
 *
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/sched/internal.h"

#define N 300

static void check_positions(const struct sched_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++) {
		assert_int_equal(h->a[i]->pos, i);
		if (i)
			assert_false(sched_hnode_less(h->a[i], h->a[(i - 1) / 2]));
	}
}

static void test_heap_vs_scan(void **state)
{
	static struct sched_hnode node[N];
	static int in[N];
	struct sched_heap h;
	uint64_t x = 99, tie = 0;

	assert_int_equal(sched_heap_init(&h, N), 0);
	for (int i = 0; i < N; i++)
		node[i].pos = SCHED_NIL, in[i] = 0;
	for (int step = 0; step < 20000; step++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int i = (int)((x >> 33) % N), op = (int)((x >> 20) % 4);
		uint64_t key = (x >> 45) % 50;

		if (!in[i]) {
			node[i].key = key;
			node[i].tie = tie++;
			sched_heap_push(&h, &node[i]);
			in[i] = 1;
		} else if (op == 0) {
			sched_heap_remove(&h, &node[i]);
			assert_int_equal(node[i].pos, SCHED_NIL);
			in[i] = 0;
		} else if (op == 1) {
			node[i].key = key;
			sched_heap_fix(&h, &node[i]);
		} else if (op == 2) {
			int best = -1;

			for (int j = 0; j < N; j++)
				if (in[j] && (best < 0 || sched_hnode_less(&node[j], &node[best])))
					best = j;
			assert_ptr_equal(sched_heap_top(&h), &node[best]);
			sched_heap_remove(&h, &node[best]);
			in[best] = 0;
		}
		check_positions(&h);
	}
	sched_heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_vs_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
