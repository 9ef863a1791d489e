// SPDX-License-Identifier: MIT
/*
 * test_sched_tables.c - the scheduler's tenant and model tables are reused (issue 10,
 * item 11): 1,050 register/forget cycles of fresh model ids through a 4-slot table,
 * a forgotten model with queued jobs keeps its slot until the last leaves, 300
 * distinct tenants one after another through an 8-slot table, and tenants the admin
 * map configured keep their slot and settings while idle ones are reclaimed.
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
	c.max_tenants = 8;
	c.max_models = 4;
	c.default_max_batch = 1;
	c.default_max_delay_ns = 0;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("pn_sched_create: %s", e.msg);
	return s;
}

static int sub(struct pn_sched *s, uint32_t tenant, uint32_t model, uint64_t id)
{
	struct pn_sched_job_desc d = {
		.id = id, .session = tenant, .tenant = tenant, .model = model,
		.klass = PN_SCHED_INTERACTIVE,
	};

	return pn_sched_submit(s, &d, 0);
}

/* Picks and completes one batch; returns its model id. */
static uint32_t run_one(struct pn_sched *s)
{
	struct pn_sched_batch b;

	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
	pn_sched_complete(s, &b, 1000);
	return b.model;
}

static void test_sched_model_reuse(void **state)
{
	struct pn_sched *s = mk();

	/* each LOAD gets a fresh id: without reuse the 5th would be -ENOSPC */
	for (uint32_t id = 1; id <= 1050; id++) {
		assert_int_equal(pn_sched_set_model(s, id, 1, 0), 0);
		assert_int_equal(sub(s, 1, id, id), 0);
		assert_int_equal(run_one(s), id);
		assert_int_equal(pn_sched_forget_model(s, id), 0);
	}
	assert_int_equal(pn_sched_forget_model(s, 1050), -ENOENT);
	assert_true(s->nmodels <= 4);
	pn_sched_destroy(s);
}

static void test_sched_model_forget_busy(void **state)
{
	struct pn_sched *s = mk();

	for (uint32_t id = 1; id <= 4; id++)
		assert_int_equal(sub(s, 1, id, id), 0);
	assert_int_equal(sub(s, 1, 5, 5), -ENOSPC);
	/* forgotten with a queued job: the slot stays until the job has run */
	assert_int_equal(pn_sched_forget_model(s, 1), 0);
	assert_int_equal(sub(s, 1, 5, 5), -ENOSPC);
	assert_int_equal(run_one(s), 1);
	assert_int_equal(sub(s, 1, 5, 5), 0);
	for (int i = 0; i < 4; i++)
		run_one(s);
	pn_sched_destroy(s);
}

static void test_sched_tenant_reuse(void **state)
{
	struct pn_sched *s = mk();
	struct pn_sched_tenant_stat st;

	/* 300 uids one after another: each finds a slot though only 8 exist */
	for (uint32_t uid = 1; uid <= 300; uid++) {
		assert_int_equal(sub(s, uid, 9, uid), 0);
		run_one(s);
		assert_int_equal(pn_sched_tenant_stat(s, uid, &st), 0);
		assert_int_equal(st.completed, 1);
	}
	pn_sched_destroy(s);
}

static void test_sched_tenant_configured_kept(void **state)
{
	struct pn_sched *s = mk();
	struct pn_sched_tenant_stat st;

	/* 7 configured tenants, idle: never reclaimed */
	for (uint32_t uid = 1; uid <= 7; uid++)
		assert_int_equal(pn_sched_set_tenant_weight(s, uid, 10 + uid), 0);
	/* one slot left for everyone else, reused by each in turn */
	for (uint32_t uid = 100; uid < 150; uid++) {
		assert_int_equal(sub(s, uid, 9, uid), 0);
		run_one(s);
	}
	for (uint32_t uid = 1; uid <= 7; uid++) {
		assert_int_equal(pn_sched_tenant_stat(s, uid, &st), 0);
		assert_int_equal(st.weight, 10 + uid);
	}
	/* a tenant with a queued job keeps its slot: the next new one is refused */
	assert_int_equal(sub(s, 200, 9, 1), 0);
	assert_int_equal(sub(s, 201, 9, 2), -ENOSPC);
	run_one(s);
	assert_int_equal(sub(s, 201, 9, 2), 0);
	run_one(s);
	pn_sched_destroy(s);
}

static uint32_t flows_used(const struct pn_sched *s)
{
	size_t n = (size_t)SCHED_NDRR * s->c.max_tenants * s->c.max_models;
	uint32_t k = 0;

	for (size_t i = 0; i < (n + 63) / 64; i++)
		k += (uint32_t)__builtin_popcountll(s->flow_used[i]);
	return k;
}

/*
 * The dense flow table stays untouched until a flow is used (polynetd's is
 * 40 MB at its limits): a job initialises its own flow and no other, and a
 * flow used again keeps its queue.
 */
static void test_sched_flows_made_on_first_use(void **state)
{
	struct pn_sched *s = mk();

	(void)state;
	assert_int_equal(flows_used(s), 0);
	assert_int_equal(sub(s, 3, 2, 1), 0);
	assert_int_equal(flows_used(s), 1);
	assert_int_equal(sub(s, 3, 2, 2), 0);
	assert_int_equal(flows_used(s), 1);
	assert_int_equal(sub(s, 5, 1, 3), 0);
	assert_int_equal(flows_used(s), 2);
	assert_int_equal(sched_flow_of(s, PN_SCHED_INTERACTIVE, s->jobs[0].tenant,
				       s->jobs[0].model)->n +
			 sched_flow_of(s, PN_SCHED_INTERACTIVE, s->jobs[2].tenant,
				       s->jobs[2].model)->n, 3);
	for (int i = 0; i < 3; i++)
		run_one(s);
	assert_int_equal(flows_used(s), 2);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_model_reuse),
		cmocka_unit_test(test_sched_model_forget_busy),
		cmocka_unit_test(test_sched_tenant_reuse),
		cmocka_unit_test(test_sched_tenant_configured_kept),
		cmocka_unit_test(test_sched_flows_made_on_first_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
