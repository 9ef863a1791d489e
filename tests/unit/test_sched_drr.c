// SPDX-License-Identifier: MIT
/*
 * test_sched_drr.c - deficit round robin between tenants (daemon/sched/sched_drr.c): served
 * time follows the weights (1:2:4 and equal, with jobs of unequal cost), a light
 * tenant is served within one round, and weights can change on the fly.
 *
 * One simulated worker on a virtual clock: pick, advance the clock by the job's cost,
 * complete. Each tenant has its own model whose estimate is seeded with the exact
 * cost, so DRR's charges equal the time really served.
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
#define QUANTUM (1000 * US)
#define DEPTH 4		/* jobs each saturating tenant keeps queued */

struct sim {
	struct pn_sched *s;
	uint32_t nt;
	uint64_t cost[8];	/* per tenant (= its model) */
	uint64_t served[8];
	uint64_t now, next_id;
};

static void sim_init(struct sim *m, uint32_t nt, const uint32_t *w, const uint64_t *cost)
{
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };

	memset(m, 0, sizeof(*m));
	pn_sched_config_default(&c);
	c.max_jobs = 256;
	c.max_tenants = 8;
	c.max_models = 8;
	c.quantum_ns = QUANTUM;
	c.default_max_batch = 1;
	c.default_max_delay_ns = 0;
	m->s = pn_sched_create(&c, &e);
	if (!m->s)
		fail_msg("create: %s", e.msg);
	m->nt = nt;
	for (uint32_t t = 0; t < nt; t++) {
		m->cost[t] = cost[t];
		assert_int_equal(pn_sched_set_tenant_weight(m->s, t, w[t]), 0);
		pn_sched_observe(m->s, t, 1, cost[t]);
	}
}

static void submit(struct sim *m, uint32_t t)
{
	struct pn_sched_job_desc d = {
		.id = m->next_id++, .tenant = t, .model = t, .session = t,
		.klass = PN_SCHED_BATCH,
	};

	assert_int_equal(pn_sched_submit(m->s, &d, m->now), 0);
}

/* Runs one pick; returns the tenant served. */
static uint32_t step(struct sim *m)
{
	struct pn_sched_batch b;

	assert_int_equal(pn_sched_pick(m->s, m->now, &b, NULL), 1);
	m->now += m->cost[b.tenant];
	m->served[b.tenant] += m->cost[b.tenant];
	pn_sched_complete(m->s, &b, m->cost[b.tenant]);
	return b.tenant;
}

/*
 * Saturating tenants: after `rounds` picks the share of served time must be within 2%
 * (relative) of weight / sum. DRR keeps every backlogged tenant within quantum x
 * weight + one job's cost of its exact share at all times (Shreedhar & Varghese), here
 * <= 4.7 ms out of >= 1.5 s per tenant (0.3%). The bar is 2%; the check
 * uses 0.5% (the bound with margin), which implies it.
 */
static void check_shares(const uint32_t *w, const uint64_t *cost, uint32_t nt, uint32_t picks)
{
	struct sim m;
	uint64_t total = 0;
	uint32_t wsum = 0;

	sim_init(&m, nt, w, cost);
	for (uint32_t t = 0; t < nt; t++) {
		wsum += w[t];
		for (int i = 0; i < DEPTH; i++)
			submit(&m, t);
	}
	for (uint32_t i = 0; i < picks; i++)
		submit(&m, step(&m));		/* closed loop: stay saturated */
	for (uint32_t t = 0; t < nt; t++)
		total += m.served[t];
	for (uint32_t t = 0; t < nt; t++) {
		double want = (double)w[t] / wsum, got = (double)m.served[t] / (double)total;
		double rel = got > want ? got / want - 1 : 1 - got / want;

		if (rel > 0.005)
			fail_msg("tenant %u weight %u cost %lu: share %.4f want %.4f (off %.2f%%)",
				 t, w[t], (unsigned long)cost[t], got, want, rel * 100);
	}
	pn_sched_destroy(m.s);
}

static void test_drr_weights_124(void **state)
{
	const uint32_t w[] = { 1, 2, 4 };
	const uint64_t same[] = { 300 * US, 300 * US, 300 * US };
	const uint64_t mixed[] = { 700 * US, 100 * US, 300 * US };

	check_shares(w, same, 3, 30000);
	check_shares(w, mixed, 3, 30000);
}

static void test_drr_equal_weights(void **state)
{
	const uint32_t w[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	const uint64_t cost[] = { 50 * US, 900 * US, 300 * US, 300 * US,
				  120 * US, 640 * US, 2000 * US, 10 * US };

	check_shares(w, cost, 8, 60000);
}

/* A tenant with one job now and then is served before the saturating tenants get
 * another full turn each: at most (others) x ceil(quantum / cost) picks later. */
static void test_drr_light_tenant_prompt(void **state)
{
	const uint32_t w[] = { 1, 1, 1, 1 };
	const uint64_t cost[] = { 300 * US, 300 * US, 300 * US, 300 * US };
	const uint32_t bound = 3 * ((QUANTUM + 300 * US - 1) / (300 * US));
	struct sim m;

	sim_init(&m, 4, w, cost);
	for (uint32_t t = 0; t < 3; t++)
		for (int i = 0; i < DEPTH; i++)
			submit(&m, t);
	for (int round = 0; round < 50; round++) {
		uint32_t waited = 0, t;

		for (int i = 0; i < 37; i++)		/* an arbitrary phase */
			submit(&m, step(&m));
		submit(&m, 3);
		while ((t = step(&m)) != 3) {
			submit(&m, t);
			waited++;
		}
		if (waited > bound)
			fail_msg("round %d: light tenant waited %u picks, bound %u", round, waited,
				 bound);
	}
	pn_sched_destroy(m.s);
}

/* Weights changed mid-run apply from the next turn: shares over the second half
 * follow the new weights. */
static void test_drr_weight_change(void **state)
{
	const uint32_t w[] = { 1, 1 };
	const uint64_t cost[] = { 200 * US, 200 * US };
	struct sim m;

	sim_init(&m, 2, w, cost);
	for (uint32_t t = 0; t < 2; t++)
		for (int i = 0; i < DEPTH; i++)
			submit(&m, t);
	for (int i = 0; i < 5000; i++)
		submit(&m, step(&m));
	assert_int_equal(pn_sched_set_tenant_weight(m.s, 1, 3), 0);
	memset(m.served, 0, sizeof(m.served));
	for (int i = 0; i < 20000; i++)
		submit(&m, step(&m));
	double share = (double)m.served[1] / (double)(m.served[0] + m.served[1]);

	assert_true(share > 0.75 * 0.98 && share < 0.75 * 1.02);
	pn_sched_destroy(m.s);
}

/*
 * Issue 10, item 6: attacker and victim share ONE model, so they share its estimate,
 * which sees batch sizes but not token counts. The attacker keeps a deep queue of
 * jobs 50x the victim's cost (long sequences). DRR must charge measured time: with
 * equal weights the victim gets >= 40% of the service time, and between two of its
 * picks the worker serves the attacker at most quantum + one attacker job (the bound
 * docs/daemon.md states), whatever the estimate says.
 */
static void test_drr_same_model_unequal_jobs(void **state)
{
	enum { VICTIM = 0, ATTACKER = 1, PICKS = 4000 };
	const uint64_t small = 100 * US, large = 5000 * US;
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	struct pn_sched *s;
	uint64_t served[2] = { 0, 0 }, id = 0, since_victim = 0, worst = 0;
	struct pn_sched_batch b;

	pn_sched_config_default(&c);
	c.max_jobs = 256;
	c.max_tenants = 2;
	c.max_models = 1;
	c.quantum_ns = QUANTUM;
	c.default_max_batch = 1;
	c.default_max_delay_ns = 0;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("create: %s", e.msg);
	pn_sched_observe(s, 9, 1, small);	/* the estimate believes every job is small */
	for (uint32_t t = 0; t < 2; t++) {
		for (int i = 0; i < (t == ATTACKER ? 64 : DEPTH); i++) {
			struct pn_sched_job_desc d = { .id = id++, .tenant = t, .session = t,
						       .model = 9, .klass = PN_SCHED_INTERACTIVE };

			assert_int_equal(pn_sched_submit(s, &d, 0), 0);
		}
	}
	for (int i = 0; i < PICKS; i++) {
		uint64_t cost;

		assert_int_equal(pn_sched_pick(s, 0, &b, NULL), 1);
		cost = b.tenant == ATTACKER ? large : small;
		served[b.tenant] += cost;
		if (b.tenant == ATTACKER) {
			since_victim += cost;
		} else {
			worst = since_victim > worst ? since_victim : worst;
			since_victim = 0;
		}
		/* the true cost feeds the shared estimate too, as the daemon's workers do */
		pn_sched_complete(s, &b, cost);
		struct pn_sched_job_desc d = { .id = id++, .tenant = b.tenant, .session = b.tenant,
					       .model = 9, .klass = PN_SCHED_INTERACTIVE };

		assert_int_equal(pn_sched_submit(s, &d, 0), 0);
	}
	if ((double)served[VICTIM] < 0.40 * (double)(served[VICTIM] + served[ATTACKER]))
		fail_msg("victim served %lu ns of %lu: under 40%%", (unsigned long)served[VICTIM],
			 (unsigned long)(served[VICTIM] + served[ATTACKER]));
	if (worst > QUANTUM + large)
		fail_msg("victim waited %lu ns of attacker service, bound %lu",
			 (unsigned long)worst, (unsigned long)(QUANTUM + large));
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drr_weights_124),
		cmocka_unit_test(test_drr_equal_weights),
		cmocka_unit_test(test_drr_light_tenant_prompt),
		cmocka_unit_test(test_drr_weight_change),
		cmocka_unit_test(test_drr_same_model_unequal_jobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
