// SPDX-License-Identifier: MIT
/*
 * test_sched_batch.c - dynamic batching (daemon/sched/sched_batch.c): a batch is released
 * when full or when its oldest job has waited max delay, pick reports when the next
 * one falls due, only one model (and one tenant) per batch, cancelling a waiting
 * flow's oldest job moves its due time, INTERACTIVE goes before BATCH, and a batch
 * is bounded by sequences (rows), not jobs.
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

#define MS 1000000ull
#define DELAY (10 * MS)

static struct pn_sched *mk(void)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = 256;
	c.max_tenants = 4;
	c.max_models = 4;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("create: %s", e.msg);
	assert_int_equal(pn_sched_set_model(s, 1, 4, DELAY), 0);
	assert_int_equal(pn_sched_set_model(s, 2, 4, DELAY), 0);
	assert_int_equal(pn_sched_set_model(s, 3, 1, DELAY), 0);	/* never waits */
	return s;
}

static void sub(struct pn_sched *s, uint64_t id, uint32_t tenant, uint32_t model,
		uint32_t klass, uint64_t now)
{
	struct pn_sched_job_desc d = {
		.id = id, .tenant = tenant, .model = model, .klass = klass, .session = 1,
	};

	assert_int_equal(pn_sched_submit(s, &d, now), 0);
}

static void expect(struct pn_sched *s, uint64_t now, uint32_t model, uint64_t first,
		   uint32_t n)
{
	struct pn_sched_batch b;
	int got = pn_sched_pick(s, now, &b, NULL);

	if (got != (int)n)
		fail_msg("pick at %lu: %d jobs, expected %u", (unsigned long)now, got, n);
	assert_int_equal(b.model, model);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(b.job[i].model, model);
		assert_int_equal(b.job[i].id, first + i);	/* FIFO */
	}
	pn_sched_complete(s, &b, 1000);
}

static void expect_none(struct pn_sched *s, uint64_t now, uint64_t next)
{
	struct pn_sched_batch b;
	uint64_t got = 0;

	assert_int_equal(pn_sched_pick(s, now, &b, &got), 0);
	if (got != next)
		fail_msg("pick at %lu: next due %lu, expected %lu", (unsigned long)now,
			 (unsigned long)got, (unsigned long)next);
}

static void test_batch_release_when_full(void **state)
{
	struct pn_sched *s = mk();

	for (uint64_t i = 0; i < 3; i++)
		sub(s, i, 0, 1, PN_SCHED_BATCH, i * MS);
	expect_none(s, 3 * MS, DELAY);			/* oldest job at 0 */
	sub(s, 3, 0, 1, PN_SCHED_BATCH, 3 * MS);
	expect(s, 3 * MS, 1, 0, 4);			/* full: at once */
	/* 6 queued, max 4: 4 go, the 2 left wait for their own oldest. */
	for (uint64_t i = 10; i < 16; i++)
		sub(s, i, 0, 1, PN_SCHED_BATCH, 20 * MS + (i - 10));
	expect(s, 20 * MS + 5, 1, 10, 4);
	expect_none(s, 20 * MS + 6, 20 * MS + 4 + DELAY);
	expect(s, 20 * MS + 4 + DELAY, 1, 14, 2);
	expect_none(s, 40 * MS, PN_SCHED_NEVER);
	pn_sched_destroy(s);
}

static void test_batch_release_on_delay(void **state)
{
	struct pn_sched *s = mk();

	sub(s, 0, 0, 1, PN_SCHED_INTERACTIVE, 0);
	sub(s, 1, 0, 1, PN_SCHED_INTERACTIVE, 2 * MS);
	sub(s, 2, 0, 1, PN_SCHED_INTERACTIVE, 3 * MS);
	expect_none(s, DELAY - 1, DELAY);
	expect(s, DELAY, 1, 0, 3);
	/* max_delay 0 and max_batch 1 release at once. */
	assert_int_equal(pn_sched_set_model(s, 2, 4, 0), 0);
	sub(s, 5, 0, 2, PN_SCHED_BATCH, 50 * MS);
	expect(s, 50 * MS, 2, 5, 1);
	sub(s, 6, 0, 3, PN_SCHED_BATCH, 60 * MS);
	expect(s, 60 * MS, 3, 6, 1);
	pn_sched_destroy(s);
}

/* Jobs of models 1 and 2 (and of two tenants on model 1) interleaved: every batch is one
 * model of one tenant, and every job comes out exactly once. */
static void test_batch_same_model_only(void **state)
{
	struct pn_sched *s = mk();
	struct pn_sched_batch b;
	uint32_t seen[24] = { 0 }, batches = 0;

	for (uint64_t i = 0; i < 24; i++)
		sub(s, i, i % 3 == 2 ? 1 : 0, i % 3 == 1 ? 2 : 1, PN_SCHED_BATCH, i);
	while (pn_sched_pick(s, DELAY + 100, &b, NULL) > 0) {
		for (uint32_t i = 0; i < b.n; i++) {
			assert_int_equal(b.job[i].model, b.model);
			assert_int_equal(b.job[i].tenant, b.tenant);
			seen[b.job[i].id]++;
		}
		assert_true(b.n == 4);		/* 8 jobs per (tenant, model), max 4 */
		pn_sched_complete(s, &b, 1000);
		batches++;
	}
	assert_int_equal(batches, 6);
	for (int i = 0; i < 24; i++)
		assert_int_equal(seen[i], 1);
	pn_sched_destroy(s);
}

static void test_batch_next_due_and_cancel(void **state)
{
	struct pn_sched *s = mk();

	sub(s, 0, 0, 1, PN_SCHED_BATCH, 0);
	sub(s, 1, 0, 1, PN_SCHED_BATCH, 5 * MS);
	sub(s, 2, 1, 2, PN_SCHED_INTERACTIVE, 3 * MS);
	expect_none(s, 4 * MS, DELAY);			/* earliest over flows and classes */
	assert_int_equal(pn_sched_cancel(s, 1, 0, NULL), 0);	/* the oldest of model 1 */
	expect_none(s, 4 * MS, 3 * MS + DELAY);
	expect(s, 3 * MS + DELAY, 2, 2, 1);
	expect_none(s, 3 * MS + DELAY, 5 * MS + DELAY);
	assert_int_equal(pn_sched_cancel(s, 1, 1, NULL), 0);	/* the flow empties */
	expect_none(s, 100 * MS, PN_SCHED_NEVER);
	pn_sched_destroy(s);
}

static void test_batch_interactive_first(void **state)
{
	struct pn_sched *s = mk();

	for (uint64_t i = 0; i < 4; i++)
		sub(s, i, 0, 1, PN_SCHED_BATCH, 0);
	for (uint64_t i = 10; i < 14; i++)
		sub(s, i, 1, 2, PN_SCHED_INTERACTIVE, 1);
	expect(s, 2, 2, 10, 4);
	expect(s, 2, 1, 0, 4);
	pn_sched_destroy(s);
}

static void sub_rows(struct pn_sched *s, uint64_t id, uint32_t rows)
{
	struct pn_sched_job_desc d = { .id = id, .tenant = 0, .model = 4, .session = 1,
				       .klass = PN_SCHED_INTERACTIVE, .rows = rows };

	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
}

/*
 * Model max_batch 16: jobs of 16 sequences run one per pick (8 coalesced would be one
 * 128-row batch every other tenant waits for), small jobs still coalesce up to 16 rows,
 * a job larger than the bound runs alone, and rows 0 counts as 1.
 */
static void test_batch_bounded_by_rows(void **state)
{
	struct pn_sched *s = mk();

	assert_int_equal(pn_sched_set_model(s, 4, 16, 0), 0);
	for (uint64_t i = 0; i < 8; i++)
		sub_rows(s, i, 16);
	for (uint64_t i = 0; i < 8; i++)
		expect(s, 0, 4, i, 1);
	for (uint64_t i = 10; i < 20; i++)
		sub_rows(s, i, 4);
	expect(s, 0, 4, 10, 4);
	expect(s, 0, 4, 14, 4);
	expect(s, 0, 4, 18, 2);
	sub_rows(s, 30, 40);
	sub_rows(s, 31, 1);
	expect(s, 0, 4, 30, 1);
	expect(s, 0, 4, 31, 1);
	sub_rows(s, 40, 0);
	sub_rows(s, 41, 15);
	expect(s, 0, 4, 40, 2);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_release_when_full),
		cmocka_unit_test(test_batch_release_on_delay),
		cmocka_unit_test(test_batch_same_model_only),
		cmocka_unit_test(test_batch_next_due_and_cancel),
		cmocka_unit_test(test_batch_interactive_first),
		cmocka_unit_test(test_batch_bounded_by_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
