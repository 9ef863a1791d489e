// SPDX-License-Identifier: MIT
/*
 * test_sched_edf.c - the realtime queue (daemon/sched/sched_edf.c): jobs come out in
 * deadline order, FIFO among equal deadlines, with cancels from anywhere in the heap,
 * checked against a plain sorted reference; and the work queued before a deadline
 * (used by admission) against a brute-force sum over jobs of models with different
 * estimates.
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

#define N 500

struct ref {
	uint64_t id, deadline;
	uint32_t model;
	int live;
};

static uint64_t rnd(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return *x >> 33;
}

static struct pn_sched *mk(void)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;

	pn_sched_config_default(&c);
	c.max_jobs = N;
	c.max_tenants = 2;
	c.max_models = 4;
	/* far deadlines and many realtime jobs: the horizon and budget are test_sched_rt's */
	c.rt_max_horizon_ns = UINT64_MAX;
	c.rt_window_ns = 1ull << 40;
	c.default_rt_permille = 1000;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("create: %s", e.msg);
	for (uint32_t m = 0; m < 4; m++)
		pn_sched_observe(s, m, 1, (m + 1) * 1000);
	return s;
}

/* Index of the reference's next job: smallest deadline, then lowest id (= submit order). */
static int ref_min(const struct ref *r, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++)
		if (r[i].live && (best < 0 || r[i].deadline < r[best].deadline))
			best = i;
	return best;
}

static void test_edf_order_with_cancels(void **state)
{
	static struct ref r[N];
	struct pn_sched *s = mk();
	struct pn_sched_batch b;
	uint64_t x = 42;

	for (int i = 0; i < N; i++) {
		/* Few distinct deadlines: many ties, which must come out FIFO. */
		r[i] = (struct ref){ .id = (uint64_t)i, .deadline = UINT64_MAX / 2 + rnd(&x) % 40,
				     .model = (uint32_t)(rnd(&x) % 4), .live = 1 };
		struct pn_sched_job_desc d = { .id = r[i].id, .deadline_ns = r[i].deadline,
					       .model = r[i].model, .klass = PN_SCHED_REALTIME };

		assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	}
	for (int i = 0; i < N / 4; i++) {
		int v = (int)(rnd(&x) % N);

		assert_int_equal(pn_sched_cancel(s, 0, r[v].id, NULL), r[v].live ? 0 : -ENOENT);
		r[v].live = 0;
	}
	for (int want; (want = ref_min(r, N)) >= 0; r[want].live = 0) {
		assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
		if (b.job[0].id != r[want].id)
			fail_msg("picked id %lu deadline %lu, expected id %lu deadline %lu",
				 (unsigned long)b.job[0].id, (unsigned long)b.job[0].deadline_ns,
				 (unsigned long)r[want].id, (unsigned long)r[want].deadline);
		pn_sched_complete(s, &b, 0);
	}
	assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 0);
	pn_sched_destroy(s);
}

static void test_edf_work_before(void **state)
{
	static struct ref r[N];
	struct pn_sched *s = mk();
	uint64_t x = 7;

	for (int i = 0; i < N; i++) {
		r[i] = (struct ref){ .id = (uint64_t)i, .deadline = 1000000 + rnd(&x) % 100000,
				     .model = (uint32_t)(rnd(&x) % 4), .live = 1 };
		struct pn_sched_job_desc d = { .id = r[i].id, .deadline_ns = r[i].deadline,
					       .model = r[i].model, .klass = PN_SCHED_REALTIME };

		s->jobs[i].d = d;		/* straight into the heap: no admission in the way */
		s->jobs[i].model = sched_model_slot(s, d.model);
		sched_edf_push(s, &s->jobs[i]);
	}
	for (int q = 0; q < 200; q++) {
		uint64_t dl = 999000 + rnd(&x) % 103000, want = 0;

		for (int i = 0; i < N; i++)
			want += r[i].deadline <= dl ? (r[i].model + 1) * 1000 : 0;
		assert_int_equal(sched_edf_work_before(s, dl), want);
	}
	s->edf.n = 0;	/* the jobs were never really submitted */
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edf_order_with_cancels),
		cmocka_unit_test(test_edf_work_before),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
