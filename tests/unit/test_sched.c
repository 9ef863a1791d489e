// SPDX-License-Identifier: MIT
/*
 * test_sched.c - the scheduler's front (daemon/sched/sched.c): realtime before everything,
 * deadline refusal (-ETIME) against a brute-force feasibility reference, quotas
 * (-EDQUOT), cancel of queued vs running jobs, dropping a session, the pool
 * exhausted (-EAGAIN, and no accepted job is ever lost), bad input, the realtime
 * worker reserve and dedicated realtime picks, and the tenant statistics.
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

#define US 1000ull
#define MS 1000000ull

static struct pn_sched *mk(uint32_t max_jobs, uint32_t nworkers, uint32_t reserve)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = max_jobs;
	c.max_tenants = 8;
	c.max_models = 4;
	c.nworkers = nworkers;
	c.rt_reserve = reserve;
	c.default_max_batch = 1;
	c.default_max_delay_ns = 0;
	/* far deadlines and many realtime jobs: the horizon and budget are test_sched_rt's */
	c.rt_max_horizon_ns = UINT64_MAX;
	c.rt_window_ns = 1ull << 40;
	c.default_rt_permille = 1000;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("pn_sched_create: %s", e.msg);
	return s;
}

static int sub(struct pn_sched *s, uint32_t session, uint64_t id, uint32_t klass,
	       uint64_t deadline, uint64_t now)
{
	struct pn_sched_job_desc d = {
		.id = id, .user = id * 10, .deadline_ns = deadline, .session = session,
		.tenant = 1000 + session % 3, .model = 7, .klass = klass,
	};

	return pn_sched_submit(s, &d, now);
}

static void test_sched_realtime_first(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_batch b;

	for (uint64_t i = 0; i < 5; i++)
		assert_int_equal(sub(s, 1, i, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 50, PN_SCHED_INTERACTIVE, 0, 0), 0);
	assert_int_equal(sub(s, 2, 99, PN_SCHED_REALTIME, 1000 * MS, 0), 0);
	assert_int_equal(pn_sched_pick(s, 1, &b, NULL), 1);
	assert_int_equal(b.klass, PN_SCHED_REALTIME);
	assert_int_equal(b.job[0].id, 99);
	assert_int_equal(b.job[0].user, 990);
	pn_sched_complete(s, &b, 10 * US);
	assert_int_equal(pn_sched_pick(s, 2, &b, NULL), 1);
	assert_int_equal(b.klass, PN_SCHED_INTERACTIVE);
	pn_sched_complete(s, &b, 10 * US);
	for (uint64_t i = 0; i < 5; i++) {
		assert_int_equal(pn_sched_pick(s, 3, &b, NULL), 1);
		assert_int_equal(b.klass, PN_SCHED_BATCH);
		assert_int_equal(b.job[0].id, i);	/* FIFO within a tenant's flow */
		/* A realtime job arriving while batch is queued is taken next. */
		assert_int_equal(sub(s, 2, 100 + i, PN_SCHED_REALTIME, 1000 * MS, 3), 0);
		pn_sched_complete(s, &b, 10 * US);
		assert_int_equal(pn_sched_pick(s, 4, &b, NULL), 1);
		assert_int_equal(b.klass, PN_SCHED_REALTIME);
		pn_sched_complete(s, &b, 10 * US);
	}
	assert_int_equal(pn_sched_pick(s, 5, &b, NULL), 0);
	pn_sched_destroy(s);
}

/* Reference admission: now + bound(1) + (bound(1) x every queued or running realtime
 * job with deadline <= d) <= d, with one model so every job has the same bound. */
static void test_sched_deadline_vs_reference(void **state)
{
	struct pn_sched *s = mk(256, 1, 0);
	uint64_t queued_dl[256], est, now = 0, seed = 12345;
	uint32_t nq = 0, running = 0, accepted = 0, refused = 0;
	struct pn_sched_batch b;
	int have_b = 0;

	pn_sched_observe(s, 7, 1, 100 * US);
	est = pn_sched_estimate(s, 7, 1);
	assert_int_equal(est, 100 * US);	/* one sample: dev 0 */
	for (uint64_t id = 0; id < 2000; id++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		now += (seed >> 40) % (60 * US);
		uint64_t dl = now + (seed >> 20) % (1500 * US);
		uint64_t ahead = est * running;

		for (uint32_t i = 0; i < nq; i++)
			ahead += queued_dl[i] <= dl ? est : 0;
		int want = now + est + ahead <= dl ? 0 : -ETIME;
		int got = sub(s, 1, id, PN_SCHED_REALTIME, dl, now);

		if (got != want)
			fail_msg("job %lu now %lu deadline %lu ahead %lu: got %d want %d",
				 (unsigned long)id, (unsigned long)now, (unsigned long)dl,
				 (unsigned long)ahead, got, want);
		if (got == 0)
			queued_dl[nq++] = dl, accepted++;
		else
			refused++;
		/* Every third job, the worker finishes one and starts the next (EDF). */
		if (id % 3 == 0) {
			if (have_b) {
				pn_sched_complete(s, &b, 0);	/* 0: keep the estimate fixed */
				running = 0;
			}
			have_b = pn_sched_pick(s, now, &b, NULL) == 1;
			if (have_b) {
				uint32_t min = 0;

				for (uint32_t i = 1; i < nq; i++)
					min = queued_dl[i] < queued_dl[min] ? i : min;
				assert_int_equal(b.job[0].deadline_ns, queued_dl[min]);
				queued_dl[min] = queued_dl[--nq];
				running = 1;
			}
		}
	}
	assert_true(accepted > 100 && refused > 100);	/* both branches exercised */
	struct pn_sched_tenant_stat st;

	assert_int_equal(pn_sched_tenant_stat(s, 1001, &st), 0);
	assert_int_equal(st.refused_deadline, refused);
	assert_int_equal(PN_SCHED_EDEADLINE, -ETIME);
	pn_sched_destroy(s);
}

static void test_sched_quota(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_job_desc d = { .tenant = 5, .model = 1, .klass = PN_SCHED_BATCH };
	struct pn_sched_tenant_stat st;
	struct pn_sched_batch b;

	assert_int_equal(pn_sched_set_tenant_quota(s, 5, 3, 1000), 0);
	for (d.id = 0; d.id < 3; d.id++)
		assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	assert_int_equal(pn_sched_submit(s, &d, 0), -EDQUOT);	/* 4th job in flight */
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
	assert_int_equal(pn_sched_submit(s, &d, 0), -EDQUOT);	/* running still counts */
	pn_sched_complete(s, &b, 1);
	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	/* Arena bytes: 3 in flight again, raise the job quota and test bytes alone. */
	assert_int_equal(pn_sched_set_tenant_quota(s, 5, 100, 0), 0);
	d.id = 10, d.arena_bytes = 600;
	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	d.id = 11, d.arena_bytes = 500;
	assert_int_equal(pn_sched_submit(s, &d, 0), -EDQUOT);
	d.id = 12, d.arena_bytes = 400;
	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	d.id = 13, d.arena_bytes = 1;
	assert_int_equal(pn_sched_submit(s, &d, 0), -EDQUOT);
	d.id = 14, d.arena_bytes = UINT64_MAX;			/* no overflow past the check */
	assert_int_equal(pn_sched_submit(s, &d, 0), -EDQUOT);
	assert_int_equal(pn_sched_cancel(s, 0, 10, NULL), 0);	/* frees 600 bytes */
	d.id = 15, d.arena_bytes = 600;
	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	assert_int_equal(pn_sched_tenant_stat(s, 5, &st), 0);
	assert_int_equal(st.arena_bytes, 1000);
	assert_int_equal(st.refused_quota, 5);
	/* Another tenant is not affected by tenant 5's quota. */
	d.tenant = 6, d.id = 99, d.arena_bytes = 1000;
	assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	pn_sched_destroy(s);
}

static void test_sched_cancel(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_job_desc out;
	struct pn_sched_batch b;
	uint32_t q, r;

	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 2, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 3, PN_SCHED_REALTIME, 1000 * MS, 0), 0);
	assert_int_equal(sub(s, 2, 1, PN_SCHED_BATCH, 0, 0), 0);	/* same id, other session */
	assert_int_equal(pn_sched_cancel(s, 1, 3, &out), 0);
	assert_int_equal(out.id, 3);
	assert_int_equal(out.klass, PN_SCHED_REALTIME);
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);	/* the realtime job is gone */
	assert_int_equal(b.klass, PN_SCHED_BATCH);
	assert_int_equal(b.job[0].session, 1);
	assert_int_equal(b.job[0].id, 1);
	assert_int_equal(pn_sched_cancel(s, 1, 1, &out), -EBUSY);	/* running: not cancelled */
	assert_int_equal(pn_sched_cancel(s, 1, 2, &out), 0);
	assert_int_equal(pn_sched_cancel(s, 1, 2, &out), -ENOENT);	/* already gone */
	assert_int_equal(pn_sched_cancel(s, 9, 9, &out), -ENOENT);
	pn_sched_depth(s, &q, &r);
	assert_int_equal(q, 1);
	assert_int_equal(r, 1);
	pn_sched_complete(s, &b, 1);
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
	assert_int_equal(b.job[0].session, 2);
	pn_sched_complete(s, &b, 1);
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 0);
	assert_int_equal(pn_sched_cancel(s, 1, 1, &out), -ENOENT);	/* completed */
	pn_sched_destroy(s);
}

struct seen {
	uint64_t ids[64];
	uint32_t n;
};

static void on_drop(void *arg, const struct pn_sched_job_desc *d)
{
	struct seen *v = arg;

	assert_int_equal(d->session, 4);
	v->ids[v->n++] = d->id;
}

static void test_sched_drop_session(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_batch b, b2;
	struct seen v = { { 0 }, 0 };
	uint32_t running = 99, got = 0;
	uint64_t mask = 0;

	assert_int_equal(sub(s, 4, 0, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);		/* session 4, id 0 runs */
	for (uint64_t i = 1; i <= 6; i++) {
		assert_int_equal(sub(s, 4, i, i % 3, i % 3 ? 0 : 1000 * MS, 0), 0);
		assert_int_equal(sub(s, 5, i, PN_SCHED_BATCH, 0, 0), 0);
	}
	assert_int_equal(pn_sched_drop_session(s, 4, on_drop, &v, &running), 6);
	assert_int_equal(running, 1);
	assert_int_equal(v.n, 6);
	for (uint32_t i = 0; i < v.n; i++)
		mask |= 1ull << v.ids[i];
	assert_int_equal(mask, 0x7e);
	assert_int_equal(pn_sched_drop_session(s, 4, NULL, NULL, NULL), 0);
	pn_sched_complete(s, &b, 1);		/* the running one still completes */
	while (pn_sched_pick(s, 0, &b2, NULL) == 1) {
		assert_int_equal(b2.job[0].session, 5);
		pn_sched_complete(s, &b2, 1);
		got++;
	}
	assert_int_equal(got, 6);
	pn_sched_destroy(s);
}

/* A small pool under random submit/pick/cancel: a full pool refuses with -EAGAIN,
 * and every accepted job is either picked once or cancelled once, never lost. */
static void test_sched_pool_backpressure(void **state)
{
	enum { POOL = 16, N = 3000 };
	struct pn_sched *s = mk(POOL, 1, 0);
	static uint8_t fate[N];		/* 0 refused, 1 accepted, 2 picked, 3 cancelled */
	uint32_t live = 0, eagain = 0, seed = 7;
	struct pn_sched_batch b;
	int running = 0;

	memset(fate, 0, sizeof(fate));
	for (uint64_t id = 0; id < N; id++) {
		seed = seed * 1103515245u + 12345u;
		int rc = sub(s, (uint32_t)(id % 5), id, (seed >> 16) % 3,
			     (seed >> 16) % 3 ? 0 : UINT64_MAX - 1, id);

		if (live == POOL) {
			assert_int_equal(rc, -EAGAIN);
			eagain++;
		} else {
			assert_int_equal(rc, 0);
			fate[id] = 1;
			live++;
		}
		if ((seed >> 8) % 4 == 0) {
			if (running) {
				pn_sched_complete(s, &b, 1000);
				live -= b.n;
				running = 0;
			}
			if (pn_sched_pick(s, id, &b, NULL) > 0) {
				for (uint32_t i = 0; i < b.n; i++) {
					assert_int_equal(fate[b.job[i].id], 1);
					fate[b.job[i].id] = 2;
				}
				running = 1;
			}
		}
		if ((seed >> 12) % 7 == 0 && id > 10) {
			uint64_t victim = id - (seed >> 20) % 10;

			rc = pn_sched_cancel(s, (uint32_t)(victim % 5), victim, NULL);
			if (rc == 0) {
				assert_int_equal(fate[victim], 1);
				fate[victim] = 3;
				live--;
			} else {
				assert_true(rc == -ENOENT || rc == -EBUSY);
			}
		}
	}
	if (running)
		pn_sched_complete(s, &b, 1000);
	while (pn_sched_pick(s, N, &b, NULL) > 0) {
		for (uint32_t i = 0; i < b.n; i++) {
			assert_int_equal(fate[b.job[i].id], 1);
			fate[b.job[i].id] = 2;
		}
		pn_sched_complete(s, &b, 1000);
	}
	for (uint32_t i = 0; i < N; i++)
		if (fate[i] == 1)
			fail_msg("job %u accepted but never picked nor cancelled", i);
	assert_true(eagain > 100);
	pn_sched_destroy(s);
}

static void test_sched_bad_input(void **state)
{
	struct pn_sched *s = mk(8, 1, 0);
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };

	assert_int_equal(sub(s, 1, 1, PN_SCHED_REALTIME, 0, 0), -EINVAL);	/* no deadline */
	assert_int_equal(sub(s, 1, 1, 3, 0, 0), -EINVAL);
	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), -EEXIST);
	assert_int_equal(pn_sched_set_tenant_weight(s, 1, 0), -EINVAL);
	assert_int_equal(pn_sched_set_model(s, 1, 0, 0), -EINVAL);
	assert_int_equal(pn_sched_set_model(s, 1, PN_SCHED_BATCH_MAX + 1, 0), -EINVAL);
	for (uint32_t t = 0; t < 8; t++)		/* fills the 8-tenant table (1001 is in) */
		pn_sched_set_tenant_weight(s, 50 + t, 1);
	assert_int_equal(pn_sched_set_tenant_weight(s, 99, 1), -ENOSPC);
	struct pn_sched_job_desc d = { .id = 2, .tenant = 99, .klass = PN_SCHED_BATCH };

	assert_int_equal(pn_sched_submit(s, &d, 0), -ENOSPC);
	pn_sched_destroy(s);

	pn_sched_config_default(&c);
	c.rt_reserve = 1;				/* = nworkers */
	assert_null(pn_sched_create(&c, &e));
	assert_non_null(strstr(e.msg, "rt_reserve"));
	pn_sched_config_default(&c);
	c.default_max_batch = PN_SCHED_BATCH_MAX + 1;
	assert_null(pn_sched_create(&c, &e));
	pn_sched_destroy(NULL);
}

/* 2 workers, 1 reserved: only one non-realtime batch runs at a time, realtime still goes. */
static void test_sched_rt_reserve(void **state)
{
	struct pn_sched *s = mk(64, 2, 1);
	struct pn_sched_batch b1, b2, b3;
	uint64_t next = 0;

	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 2, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(pn_sched_pick(s, 0, &b1, &next), 1);
	assert_int_equal(pn_sched_pick(s, 0, &b2, &next), 0);
	assert_true(next == PN_SCHED_NEVER);
	assert_int_equal(sub(s, 1, 3, PN_SCHED_REALTIME, 1000 * MS, 0), 0);
	assert_int_equal(pn_sched_pick(s, 0, &b2, &next), 1);
	assert_int_equal(b2.klass, PN_SCHED_REALTIME);
	pn_sched_complete(s, &b1, 5);
	assert_int_equal(pn_sched_pick(s, 0, &b3, &next), 1);	/* freed: batch goes again */
	assert_int_equal(b3.job[0].id, 2);
	pn_sched_complete(s, &b2, 5);
	pn_sched_complete(s, &b3, 5);
	pn_sched_destroy(s);
}

/* A dedicated realtime worker takes realtime jobs only, in EDF order. */
static void test_sched_pick_realtime(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_batch b;

	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 2, PN_SCHED_INTERACTIVE, 0, 0), 0);
	assert_int_equal(pn_sched_pick_realtime(s, &b), 0);
	assert_int_equal(sub(s, 1, 3, PN_SCHED_REALTIME, 900 * MS, 0), 0);
	assert_int_equal(sub(s, 1, 4, PN_SCHED_REALTIME, 800 * MS, 0), 0);
	assert_int_equal(pn_sched_pick_realtime(s, &b), 1);
	assert_int_equal(b.job[0].id, 4);
	pn_sched_complete(s, &b, 5);
	assert_int_equal(pn_sched_pick_realtime(s, &b), 1);
	assert_int_equal(b.job[0].id, 3);
	pn_sched_complete(s, &b, 5);
	assert_int_equal(pn_sched_pick_realtime(s, &b), 0);
	pn_sched_destroy(s);
}

static void test_sched_stats(void **state)
{
	struct pn_sched *s = mk(64, 1, 0);
	struct pn_sched_tenant_stat st;
	struct pn_sched_batch b;

	assert_int_equal(pn_sched_tenant_stat(s, 1001, &st), -ENOENT);
	assert_int_equal(pn_sched_set_tenant_weight(s, 1001, 3), 0);
	assert_int_equal(sub(s, 1, 1, PN_SCHED_BATCH, 0, 0), 0);
	assert_int_equal(sub(s, 1, 2, PN_SCHED_INTERACTIVE, 0, 0), 0);
	assert_int_equal(pn_sched_tenant_stat(s, 1001, &st), 0);
	assert_int_equal(st.weight, 3);
	assert_int_equal(st.queued[PN_SCHED_BATCH], 1);
	assert_int_equal(st.queued[PN_SCHED_INTERACTIVE], 1);
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
	pn_sched_complete(s, &b, 777);
	assert_int_equal(pn_sched_tenant_stat(s, 1001, &st), 0);
	assert_int_equal(st.queued[PN_SCHED_INTERACTIVE], 0);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.served_ns, 777);
	assert_int_equal(st.submitted, 2);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_realtime_first),
		cmocka_unit_test(test_sched_deadline_vs_reference),
		cmocka_unit_test(test_sched_quota),
		cmocka_unit_test(test_sched_cancel),
		cmocka_unit_test(test_sched_drop_session),
		cmocka_unit_test(test_sched_pool_backpressure),
		cmocka_unit_test(test_sched_bad_input),
		cmocka_unit_test(test_sched_rt_reserve),
		cmocka_unit_test(test_sched_pick_realtime),
		cmocka_unit_test(test_sched_stats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
