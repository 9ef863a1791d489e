// SPDX-License-Identifier: MIT
/*
 * test_sched_rows.c - coalescing counts sequences, not jobs (daemon/sched/sched_batch.c):
 * a model's max_batch bounds the rows of one coalesced batch, so a tenant's jobs of 16
 * sequences each run one per pick (a victim waits behind one of them, not eight), small
 * jobs still coalesce up to the bound, and a job larger than the bound still runs alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/sched/internal.h"

static struct pn_sched *mk(void)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = 64;
	c.max_tenants = 4;
	c.max_models = 2;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("pn_sched_create: %s", e.msg);
	assert_int_equal(pn_sched_set_model(s, 7, 16, 0), 0);
	return s;
}

static void sub(struct pn_sched *s, uint64_t id, uint32_t rows)
{
	struct pn_sched_job_desc d = { .id = id, .session = 1, .tenant = 1, .model = 7,
				       .klass = PN_SCHED_INTERACTIVE, .rows = rows };

	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
}

static uint32_t pick(struct pn_sched *s)
{
	struct pn_sched_batch b;

	int n = pn_sched_pick(s, 0, &b, NULL);

	assert_true(n > 0);
	assert_int_equal((uint32_t)n, b.n);
	pn_sched_complete(s, &b, 1000);
	return b.n;
}

static void test_rows_bound_a_batch(void **state)
{
	struct pn_sched *s = mk();

	for (uint64_t i = 0; i < 8; i++)
		sub(s, i, 16);
	for (int i = 0; i < 8; i++)
		assert_int_equal(pick(s), 1);	/* was 8 in one pick: 128 rows */
	for (uint64_t i = 10; i < 20; i++)
		sub(s, i, 4);
	assert_int_equal(pick(s), 4);		/* 16 rows */
	assert_int_equal(pick(s), 4);
	assert_int_equal(pick(s), 2);
	sub(s, 30, 40);				/* larger than the bound: alone */
	sub(s, 31, 1);
	assert_int_equal(pick(s), 1);
	assert_int_equal(pick(s), 1);
	sub(s, 40, 0);				/* rows 0 counts as 1 */
	sub(s, 41, 15);
	assert_int_equal(pick(s), 2);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_bound_a_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
