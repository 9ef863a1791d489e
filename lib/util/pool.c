// SPDX-License-Identifier: MIT
/*
 * pool.c - persistent worker threads for pn_pool_run.
 *
 * A run publishes (fn, ctx, n), resets the index counter and bumps the
 * generation; workers (and the caller) claim indices with one atomic add
 * each until they run out, then the workers check out on `active`. The
 * caller returns once `active` is 0, so the job fields are never rewritten
 * while a worker may still read them. Idle threads spin briefly (runs come
 * in quick succession during a forward pass) and then sleep on a futex.
 */
#include <errno.h>
#include <linux/futex.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/pool.h"

/* About 50-100 us of pause loops: longer than the gap between two kernels. */
#define SPIN_ITERS 4000

struct pn_pool {
	uint32_t nthreads;		/* counting the caller */
	pthread_t *threads;		/* nthreads - 1 workers */
	_Atomic uint32_t gen;		/* futex word: bumped per run and at shutdown */
	_Atomic uint32_t active;	/* futex word: workers still in the current run */
	_Atomic uint32_t gen_sleepers;	/* threads in futex_wait on gen */
	_Atomic uint32_t active_sleepers;	/* 0 or 1: the caller, on active */
	_Atomic uint32_t next;		/* next index to hand out */
	_Atomic int busy;		/* a caller is inside pn_pool_run */
	_Atomic int stop;
	pn_task_fn fn;			/* job: written by the caller before gen++ */
	void *ctx;
	uint32_t n;
};

/* Set while a thread runs tasks, so a nested pn_pool_run runs inline. */
static _Thread_local int in_task;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w, int count)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

/*
 * Waits until *w != val (acquire), spinning first, counting itself in
 * *sleepers around the sleep. Pairs with wake(): both sides are seq_cst, so
 * either the waker sees the sleeper or the sleeper's futex_wait sees the
 * new value and returns at once (no lost wake-up, no syscall when nobody
 * sleeps).
 */
static uint32_t wait_change(_Atomic uint32_t *w, uint32_t val, _Atomic uint32_t *sleepers)
{
	uint32_t cur;

	for (int i = 0; i < SPIN_ITERS; i++) {
		cur = atomic_load_explicit(w, memory_order_acquire);
		if (cur != val)
			return cur;
		cpu_relax();
	}
	atomic_fetch_add(sleepers, 1);
	while ((cur = atomic_load(w)) == val)
		futex_wait(w, val);
	atomic_fetch_sub(sleepers, 1);
	return cur;
}

/* Call after the seq_cst store to *w that the sleepers wait for. */
static void wake(_Atomic uint32_t *w, _Atomic uint32_t *sleepers, int count)
{
	if (atomic_load(sleepers))
		futex_wake(w, count);
}

static void run_share(struct pn_pool *p)
{
	uint32_t i;

	in_task = 1;
	while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->n)
		p->fn(p->ctx, i);
	in_task = 0;
}

static void *worker(void *arg)
{
	struct pn_pool *p = arg;
	uint32_t seen = 0;

	for (;;) {
		seen = wait_change(&p->gen, seen, &p->gen_sleepers);
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			break;
		run_share(p);
		/* Release: our tasks' writes happen before the caller returns. */
		if (atomic_fetch_sub(&p->active, 1) == 1)
			wake(&p->active, &p->active_sleepers, 1);
	}
	return NULL;
}

/* Pins worker w to CPU w when that CPU exists; the caller keeps its affinity. */
static void pin_worker(pthread_t t, uint32_t w)
{
	cpu_set_t set;

	if (numa_available() < 0 || (int)w >= numa_num_configured_cpus() ||
	    numa_node_of_cpu((int)w) < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(w, &set);
	pthread_setaffinity_np(t, sizeof(set), &set);	/* best effort */
}

struct pn_pool *pn_pool_new(uint32_t nthreads, int pin)
{
	struct pn_pool *p;
	uint32_t w;

	if (nthreads == 0)
		nthreads = 1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->nthreads = 1;
	if (nthreads > 1) {
		p->threads = calloc(nthreads - 1, sizeof(*p->threads));
		if (!p->threads)
			goto fail;
	}
	for (w = 1; w < nthreads; w++) {
		if (pthread_create(&p->threads[w - 1], NULL, worker, p))
			goto fail;
		p->nthreads++;
		if (pin)
			pin_worker(p->threads[w - 1], w);
	}
	return p;
fail:
	pn_pool_free(p);
	return NULL;
}

void pn_pool_free(struct pn_pool *p)
{
	if (!p)
		return;
	atomic_store_explicit(&p->stop, 1, memory_order_release);
	atomic_fetch_add(&p->gen, 1);
	futex_wake(&p->gen, (int)p->nthreads);
	for (uint32_t w = 1; w < p->nthreads; w++)
		pthread_join(p->threads[w - 1], NULL);
	free(p->threads);
	free(p);
}

uint32_t pn_pool_size(const struct pn_pool *p)
{
	return p ? p->nthreads : 1;
}

static void run_inline(pn_task_fn fn, void *ctx, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fn(ctx, i);
}

void pn_pool_run(struct pn_pool *p, pn_task_fn fn, void *ctx, uint32_t n)
{
	int idle = 0;

	/*
	 * Inline when there is nothing to share, when called from inside a
	 * task (nested), or when another thread is already running a job on
	 * this pool: correct in every case, only not parallel.
	 */
	if (!p || p->nthreads == 1 || n <= 1 || in_task ||
	    !atomic_compare_exchange_strong(&p->busy, &idle, 1)) {
		run_inline(fn, ctx, n);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	atomic_store_explicit(&p->active, p->nthreads - 1, memory_order_relaxed);
	/* Release: the job fields above are visible to a worker that sees gen. */
	atomic_fetch_add(&p->gen, 1);
	wake(&p->gen, &p->gen_sleepers, (int)p->nthreads - 1);

	run_share(p);

	uint32_t left;

	while ((left = atomic_load_explicit(&p->active, memory_order_acquire)) != 0)
		wait_change(&p->active, left, &p->active_sleepers);
	atomic_store_explicit(&p->busy, 0, memory_order_release);
}
