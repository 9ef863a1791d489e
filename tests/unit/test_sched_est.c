// SPDX-License-Identifier: MIT
/*
 * test_sched_est.c - service estimates (daemon/sched/sched_est.c): the EWMA of mean and
 * deviation against the same recurrences in double precision, the first sample, and
 * borrowing for batch sizes never measured.
 *
 */
#include <math.h>
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
	c.max_jobs = 8;
	c.max_tenants = 1;
	c.max_models = 2;
	c.default_service_ns = 5000;
	s = pn_sched_create(&c, &e);
	if (!s)
		fail_msg("create: %s", e.msg);
	return s;
}

/*
 * Integer division truncates by < 1 ns per update; with mean's factor 7/8 the error
 * settles below 1 / (1/8) = 8 ns, dev's (factor 3/4, plus the mean's error entering
 * |x - mean|) below 4 + 8 ns; the bound (mean + 4 dev) below 8 + 48 ns. Checked at
 * 64 ns on samples of ~1 ms.
 */
static void test_est_ewma_vs_double(void **state)
{
	struct pn_sched *s = mk();
	double mean = 0, dev = 0;
	uint64_t x = 5;

	for (int i = 0; i < 5000; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t v = 1000000 + (x >> 33) % 200000 + (i > 2500 ? 300000 : 0);	/* a step */

		if (i == 0) {
			mean = (double)v, dev = 0;
		} else {
			double err = (double)v - mean;

			mean += err / 8;
			dev += (fabs(err) - dev) / 4;
		}
		pn_sched_observe(s, 3, 2, v);
		double got = (double)pn_sched_estimate(s, 3, 2);

		if (fabs(got - (mean + 4 * dev)) > 64)
			fail_msg("sample %d: bound %.0f, reference %.0f", i, got, mean + 4 * dev);
		if (fabs((double)s->models[0].est[2].mean - mean) > 16)
			fail_msg("sample %d: mean %lu, reference %.0f", i,
				 (unsigned long)s->models[0].est[2].mean, mean);
	}
	pn_sched_destroy(s);
}

static void test_est_first_sample_and_borrowing(void **state)
{
	struct pn_sched *s = mk();

	assert_int_equal(pn_sched_estimate(s, 9, 3), 15000);	/* unknown: default x n */
	pn_sched_observe(s, 9, 4, 8000);
	assert_int_equal(pn_sched_estimate(s, 9, 4), 8000);	/* dev 0 after one sample */
	assert_int_equal(pn_sched_estimate(s, 9, 1), 8000);	/* smaller: the larger's time */
	assert_int_equal(pn_sched_estimate(s, 9, 8), 16000);	/* larger: scaled from 4 */
	pn_sched_observe(s, 9, 2, 3000);
	assert_int_equal(pn_sched_estimate(s, 9, 3), 4500);	/* from 2, the largest below */
	assert_int_equal(pn_sched_estimate(s, 9, 1), 3000);	/* from 2, the smallest above */
	assert_int_equal(pn_sched_estimate(s, 9, 64), 128000);	/* from 4 */
	pn_sched_observe(s, 9, 64, 100000);
	assert_int_equal(pn_sched_estimate(s, 9, 64), 100000);
	assert_int_equal(pn_sched_estimate(s, 9, 0), 0);	/* out of range */
	assert_int_equal(pn_sched_estimate(s, 9, 65), 0);
	/* The mean DRR charges, for a non-multiple: 7 from 4 -> 8000 * 7 / 4. */
	assert_int_equal(sched_est_mean(s, &s->models[0], 7), 14000);
	pn_sched_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_est_ewma_vs_double),
		cmocka_unit_test(test_est_first_sample_and_borrowing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
