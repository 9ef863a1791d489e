// SPDX-License-Identifier: MIT
/*
 * test_sched_rt.c - realtime is no way around fairness (issue 10, item 4): a deadline
 * past rt_max_horizon_ns (UINT64_MAX above all) is -EINVAL, one already past is
 * PN_SCHED_EDEADLINE, and a tenant's realtime admission is bounded by its budget
 * (-EDQUOT, counted in refused_rt) while another tenant's realtime jobs still get in;
 * the budget refills with time, overruns measured at complete are debt, a cancel
 * gives the charge back, and rt_permille 0 means no realtime at all.
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
#define SEC 1000000000ull

/* 1 ms per job before any measurement; budget 250 per-mille over 1 s = 250 ms = 250 jobs. */
static struct pn_sched *mk(void)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = 2048;
	c.max_tenants = 4;
	c.max_models = 2;
	c.nworkers = 2;
	c.rt_reserve = 1;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("pn_sched_create: %s", e.msg);
	return s;
}

static int rt(struct pn_sched *s, uint32_t tenant, uint64_t id, uint64_t deadline,
	      uint64_t now)
{
	struct pn_sched_job_desc d = {
		.id = id, .session = tenant, .tenant = tenant, .model = 1,
		.klass = PN_SCHED_REALTIME, .deadline_ns = deadline,
	};

	return pn_sched_submit(s, &d, now);
}

static void test_rt_deadline_sanity(void **state)
{
	struct pn_sched *s = mk();
	uint64_t now = 100 * SEC;

	assert_int_equal(rt(s, 1, 1, UINT64_MAX, now), -EINVAL);
	assert_int_equal(rt(s, 1, 2, now + 10 * SEC + 1, now), -EINVAL);
	assert_int_equal(rt(s, 1, 3, now - 1, now), PN_SCHED_EDEADLINE);
	assert_int_equal(rt(s, 1, 4, now, now), PN_SCHED_EDEADLINE);
	assert_int_equal(rt(s, 1, 5, now + 10 * SEC, now), 0);
	pn_sched_destroy(s);
}

static void test_rt_budget_bounds_admission(void **state)
{
	struct pn_sched *s = mk();
	struct pn_sched_tenant_stat st;
	uint64_t now = 0, id = 0;
	int got = 0, r;

	/* the attacker floods: 250 get in (a quarter of a worker for 1 s), then -EDQUOT */
	while ((r = rt(s, 1, ++id, now + 9 * SEC, now)) == 0)
		got++;
	assert_int_equal(r, -EDQUOT);
	assert_int_equal(got, 250);
	assert_int_equal(pn_sched_tenant_stat(s, 1, &st), 0);
	assert_int_equal(st.refused_rt, 1);
	assert_int_equal(st.refused_quota, 0);
	/* the victim's realtime job is still admitted */
	assert_int_equal(rt(s, 2, 1, now + 9 * SEC, now), 0);
	/* 100 ms later the attacker's bucket holds 25 ms: 25 more jobs */
	now += 100 * MS;
	got = 0;
	while (rt(s, 1, ++id, now + 9 * SEC, now) == 0)
		got++;
	assert_int_equal(got, 25);
	pn_sched_destroy(s);
}

static void test_rt_overrun_and_cancel(void **state)
{
	struct pn_sched *s = mk();
	struct pn_sched_batch b;
	uint64_t now = 0;

	/* charged 1 ms at submit, ran 200 ms: 199 ms of debt on top */
	assert_int_equal(rt(s, 1, 1, now + SEC, now), 0);
	assert_int_equal(pn_sched_pick_realtime(s, &b), 1);
	pn_sched_complete(s, &b, 200 * MS);
	/* estimate now ~200 ms per job: 50 ms left of 250 ms, not enough */
	assert_int_equal(rt(s, 1, 2, now + 9 * SEC, now), -EDQUOT);
	/* a cancelled job gives its charge back */
	now += SEC;
	assert_int_equal(rt(s, 1, 3, now + 9 * SEC, now), 0);
	assert_int_equal(rt(s, 1, 4, now + 9 * SEC, now), -EDQUOT);
	assert_int_equal(pn_sched_cancel(s, 1, 3, NULL), 0);
	assert_int_equal(rt(s, 1, 4, now + 9 * SEC, now), 0);
	pn_sched_destroy(s);
}

static void test_rt_permille_zero(void **state)
{
	struct pn_sched *s = mk();

	assert_int_equal(pn_sched_set_tenant_rt(s, 1, 0), 0);
	assert_int_equal(rt(s, 1, 1, SEC, 0), -EDQUOT);
	assert_int_equal(pn_sched_set_tenant_rt(s, 1, 2001), -EINVAL);
	assert_int_equal(pn_sched_set_tenant_rt(s, 1, 2000), 0);
	/* a raised budget refills from now on, it is not granted at once */
	assert_int_equal(rt(s, 1, 2, SEC, 0), -EDQUOT);
	assert_int_equal(rt(s, 1, 3, 2 * SEC, 1 * MS), 0);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rt_deadline_sanity),
		cmocka_unit_test(test_rt_budget_bounds_admission),
		cmocka_unit_test(test_rt_overrun_and_cancel),
		cmocka_unit_test(test_rt_permille_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
