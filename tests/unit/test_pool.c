// SPDX-License-Identifier: MIT
/*
 * test_pool.c - the persistent thread pool: every index runs exactly once
 * per run over many runs, tasks' plain writes are visible when pn_pool_run
 * returns, n = 0 and a NULL pool, pools of 1, 2 and 3 threads (pinned or
 * not), nested runs, two callers sharing a pool, and real concurrency.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/pool.h"

#define MAX_N 300

struct count_ctx {
	_Atomic uint32_t hits[MAX_N];
	uint32_t stamp[MAX_N];		/* plain writes, read by the caller after the run */
	uint32_t run;
	struct pn_pool *nest;		/* when set, each task runs a nested job on it */
};

static void count_task(void *arg, uint32_t i)
{
	struct count_ctx *c = arg;

	atomic_fetch_add(&c->hits[i], 1);
	c->stamp[i] = c->run;
}

static void check_runs(struct pn_pool *p, uint32_t runs)
{
	static struct count_ctx c;

	for (uint32_t r = 1; r <= runs; r++) {
		uint32_t n = (r * 37) % MAX_N;	/* 0, 1, small and large n */

		memset(&c, 0, sizeof(c));
		c.run = r;
		pn_pool_run(p, count_task, &c, n);
		for (uint32_t i = 0; i < MAX_N; i++) {
			uint32_t want = i < n;

			if (atomic_load(&c.hits[i]) != want || (want && c.stamp[i] != r))
				fail_msg("pool %u run %u n %u: index %u ran %u times, stamp %u",
					 pn_pool_size(p), r, n, i, atomic_load(&c.hits[i]),
					 c.stamp[i]);
		}
	}
}

static void test_pool_null(void **state)
{
	assert_int_equal(pn_pool_size(NULL), 1);
	check_runs(NULL, 50);
	pn_pool_free(NULL);
}

static void test_pool_sizes(void **state)
{
	for (uint32_t n = 0; n <= 3; n++)
		for (int pin = 0; pin <= 1; pin++) {
			struct pn_pool *p = pn_pool_new(n, pin);

			assert_non_null(p);
			assert_int_equal(pn_pool_size(p), n ? n : 1);
			check_runs(p, 2000);
			pn_pool_free(p);
		}
}

static void nest_task(void *arg, uint32_t i)
{
	struct count_ctx *c = arg;
	struct count_ctx inner = { .run = i + 1 };

	pn_pool_run(c->nest, count_task, &inner, 5);
	for (uint32_t k = 0; k < 5; k++)
		if (atomic_load(&inner.hits[k]) != 1)
			atomic_fetch_add(&c->hits[MAX_N - 1], 1);	/* failure marker */
	atomic_fetch_add(&c->hits[i], 1);
}

/* A task may call pn_pool_run on its own pool: the inner job runs inline. */
static void test_pool_nested(void **state)
{
	static struct count_ctx c;
	struct pn_pool *p = pn_pool_new(2, 0);

	assert_non_null(p);
	for (int r = 0; r < 200; r++) {
		memset(&c, 0, sizeof(c));
		c.nest = p;
		pn_pool_run(p, nest_task, &c, 10);
		for (uint32_t i = 0; i < 10; i++)
			assert_int_equal(atomic_load(&c.hits[i]), 1);
		assert_int_equal(atomic_load(&c.hits[MAX_N - 1]), 0);
	}
	pn_pool_free(p);
}

struct caller_arg {
	struct pn_pool *p;
	int ok;
};

static void *caller(void *arg)
{
	struct caller_arg *a = arg;
	static _Thread_local struct count_ctx c;

	a->ok = 1;
	for (uint32_t r = 1; r <= 2000; r++) {
		memset(&c, 0, sizeof(c));
		c.run = r;
		pn_pool_run(a->p, count_task, &c, 64);
		for (uint32_t i = 0; i < 64; i++)
			if (atomic_load(&c.hits[i]) != 1 || c.stamp[i] != r)
				a->ok = 0;
	}
	return NULL;
}

/* Two threads running jobs on one pool at once: each job still completes. */
static void test_pool_two_callers(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 0);
	struct caller_arg a = { .p = p }, b = { .p = p };
	pthread_t ta, tb;

	assert_non_null(p);
	assert_int_equal(pthread_create(&ta, NULL, caller, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, caller, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_true(a.ok && b.ok);
	pn_pool_free(p);
}

struct meet_ctx {
	_Atomic int arrived;
	_Atomic int timed_out;
};

/*
 * Tasks 0 and 1 each wait (up to 5 s) for the other to arrive: that only
 * finishes if two threads run them at the same time.
 */
static void meet_task(void *arg, uint32_t i)
{
	struct meet_ctx *m = arg;
	struct timespec t0, t;

	atomic_fetch_add(&m->arrived, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&m->arrived) < 2) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 5) {
			atomic_store(&m->timed_out, 1);
			return;
		}
	}
}

static void test_pool_concurrent(void **state)
{
	struct pn_pool *p = pn_pool_new(2, 1);

	assert_non_null(p);
	for (int r = 0; r < 20; r++) {
		struct meet_ctx m = { 0 };

		pn_pool_run(p, meet_task, &m, 2);
		assert_int_equal(atomic_load(&m.timed_out), 0);
		assert_int_equal(atomic_load(&m.arrived), 2);
	}
	pn_pool_free(p);
}

/* Runs after the workers have gone to sleep on the futex still complete. */
static void test_pool_after_idle(void **state)
{
	struct pn_pool *p = pn_pool_new(3, 0);
	struct timespec nap = { 0, 20 * 1000 * 1000 };

	assert_non_null(p);
	for (int r = 0; r < 5; r++) {
		nanosleep(&nap, NULL);
		check_runs(p, 3);
	}
	pn_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_null),
		cmocka_unit_test(test_pool_sizes),
		cmocka_unit_test(test_pool_nested),
		cmocka_unit_test(test_pool_two_callers),
		cmocka_unit_test(test_pool_concurrent),
		cmocka_unit_test(test_pool_after_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
