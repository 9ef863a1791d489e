// SPDX-License-Identifier: MIT
/*
 * test_sched_slots.c - the scheduler's tables are reused (daemon/sched/sched.c): a
 * forgotten model's slot once its last job leaves (1,050 load/unload cycles through a
 * 4-slot table), an idle tenant's slot (300 uids through an 8-slot table) but never a
 * configured tenant's or a busy one's; and realtime is bounded per tenant
 * (sched_edf.c): a deadline past the horizon (UINT64_MAX) is refused, and a tenant
 * past its budget is refused while another tenant still gets through.
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

static struct pn_sched *mk(uint32_t tenants, uint32_t models)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = 64;
	c.max_tenants = tenants;
	c.max_models = models;
	c.default_max_batch = 1;
	c.default_max_delay_ns = 0;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("pn_sched_create: %s", e.msg);
	return s;
}

static int sub(struct pn_sched *s, uint32_t tenant, uint32_t model, uint64_t id,
	       uint32_t klass, uint64_t deadline, uint64_t now)
{
	struct pn_sched_job_desc d = {
		.id = id, .deadline_ns = deadline, .session = tenant, .tenant = tenant,
		.model = model, .klass = klass,
	};

	return pn_sched_submit(s, &d, now);
}

/* Runs whatever is queued to completion. */
static void drain(struct pn_sched *s)
{
	struct pn_sched_batch b;

	while (pn_sched_pick(s, 0, &b, NULL) > 0)
		pn_sched_complete(s, &b, 1000);
}

static void test_model_slots_reused(void **state)
{
	struct pn_sched *s = mk(8, 4);

	for (uint32_t id = 1; id <= 1050; id++) {
		assert_int_equal(pn_sched_set_model(s, id, 1, 0), 0);
		assert_int_equal(sub(s, 1, id, id, PN_SCHED_BATCH, 0, 0), 0);
		drain(s);
		pn_sched_forget_model(s, id);
	}
	/* a forgotten model with a job still queued keeps its slot */
	for (uint32_t id = 2000; id < 2004; id++) {
		assert_int_equal(pn_sched_set_model(s, id, 1, 0), 0);
		assert_int_equal(sub(s, 1, id, id, PN_SCHED_BATCH, 0, 0), 0);
		pn_sched_forget_model(s, id);
	}
	assert_int_equal(pn_sched_set_model(s, 3000, 1, 0), -ENOSPC);
	drain(s);
	assert_int_equal(pn_sched_set_model(s, 3000, 1, 0), 0);
	assert_int_equal(sub(s, 1, 3000, 1, PN_SCHED_BATCH, 0, 0), 0);
	drain(s);
	/* the ids still in the table are found after the deletions shifted their runs */
	for (uint32_t id = 2001; id < 2004; id++)
		assert_int_equal(sub(s, 1, id, id, PN_SCHED_BATCH, 0, 0), 0);
	drain(s);
	pn_sched_destroy(s);
}

static void test_tenant_slots_reused(void **state)
{
	struct pn_sched *s = mk(8, 4);
	struct pn_sched_tenant_stat st;

	assert_int_equal(pn_sched_set_model(s, 7, 1, 0), 0);
	assert_int_equal(pn_sched_set_tenant_weight(s, 42, 3), 0);	/* configured: kept */
	assert_int_equal(sub(s, 43, 7, 1, PN_SCHED_BATCH, 0, 0), 0);	/* busy: kept */
	for (uint32_t uid = 10000; uid < 10300; uid++) {
		assert_int_equal(sub(s, uid, 7, uid, PN_SCHED_INTERACTIVE, 0, 0), 0);
		struct pn_sched_batch b;

		assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
		assert_int_equal(b.job[0].id, uid);	/* interactive before 43's batch job */
		pn_sched_complete(s, &b, 1000);
	}
	assert_int_equal(pn_sched_tenant_stat(s, 42, &st), 0);
	assert_int_equal(st.weight, 3);
	assert_int_equal(pn_sched_tenant_stat(s, 43, &st), 0);
	assert_int_equal(st.queued[PN_SCHED_BATCH], 1);
	/* 8 slots, 2 kept and 6 busy: the ninth distinct tenant is refused */
	for (uint32_t uid = 20000; uid < 20006; uid++)
		assert_int_equal(sub(s, uid, 7, uid, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 30000, 7, 1, PN_SCHED_BATCH, 0, 0), -ENOSPC);
	drain(s);
	assert_int_equal(sub(s, 30000, 7, 1, PN_SCHED_BATCH, 0, 0), 0);
	drain(s);
	pn_sched_destroy(s);
}

static void test_realtime_bounded(void **state)
{
	struct pn_sched *s = mk(8, 4);
	uint64_t now = 5000 * MS;
	uint32_t ok = 0;
	int r = 0;

	assert_int_equal(pn_sched_set_model(s, 7, 1, 0), 0);
	assert_int_equal(sub(s, 1, 7, 1, PN_SCHED_REALTIME, UINT64_MAX, now), -EINVAL);
	assert_int_equal(sub(s, 1, 7, 2, PN_SCHED_REALTIME, now + 11000 * MS, now), -EINVAL);
	/* rt=100 per mille: 100 ms of estimated service (1 ms each before measuring) */
	assert_int_equal(pn_sched_set_tenant_rt(s, 1, 100), 0);
	assert_int_equal(pn_sched_set_tenant_rt(s, 2, 0), 0);
	for (uint64_t id = 10; ok < 1000; id++) {
		struct pn_sched_batch b;

		r = sub(s, 1, 7, id, PN_SCHED_REALTIME, now + 5000 * MS, now);
		if (r)
			break;
		ok++;
		assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
		pn_sched_complete(s, &b, 0);	/* no measurement: the estimate stays 1 ms */
	}
	assert_int_equal(r, -EDQUOT);
	assert_int_equal(ok, 100);
	/* another tenant, and its budget refills with time: 100 ms per second */
	assert_int_equal(sub(s, 3, 7, 1, PN_SCHED_REALTIME, now + 5000 * MS, now), 0);
	assert_int_equal(sub(s, 2, 7, 1, PN_SCHED_REALTIME, now + 5000 * MS, now), -EDQUOT);
	assert_int_equal(sub(s, 1, 7, 5000, PN_SCHED_REALTIME, now + 5000 * MS, now + 20 * MS), 0);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_slots_reused),
		cmocka_unit_test(test_tenant_slots_reused),
		cmocka_unit_test(test_realtime_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
