// SPDX-License-Identifier: MIT
/*
 * backend_cpu.c - CPU workers: each a thread pinned to a core (libnuma),
 * with its own executor per model (an executor is single-threaded and
 * plans its arena once), polling the submission rings while busy and
 * sleeping on the scheduler's condition when idle for idle_spin_us.
 * Dedicated realtime workers (--rt-workers, pinned to the last cores) take
 * only realtime jobs (pn_sched_pick_realtime) but drain the rings like the
 * others, so a realtime job never waits for a busy worker to read it.
 *
 * A batch from the scheduler is a list of jobs for one model. Their ids
 * are copied from the arena into the worker's private buffer before they
 * are checked (the client can rewrite its arena at any time), padded to
 * the longest T and run at once; the output rows are scattered back into
 * each job's output in the arena.
 */
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "exec/exec.h"

struct pnd_backend {
	struct pnd *d;
	uint32_t n;
	struct worker *w;
};

struct worker {
	struct pnd *d;
	pthread_t thread;
	uint32_t idx;
	int cpu, node;
	bool started, rt;
	unsigned models_gen;
	struct pn_exec *ex[PND_MAX_MODELS];	/* by model slot */
	struct pnd_model *exm[PND_MAX_MODELS];	/* the model each was planned for */
	int32_t *ids;				/* [max_batch * max T] private copy */
	uint32_t *lens;
	size_t ids_cap;
	float *out;				/* [rows, width] before the scatter */
	size_t out_cap;
	struct pn_sched_batch b;
	uint64_t seen_submits;
};

/* Submissions since start: a spinning worker calls pick only when it moved. */
atomic_uint_fast64_t pnd_submits;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Where worker w runs: general workers from CPU 0 up, realtime ones from the
 * last CPU down; its node from libnuma. Called from the starting thread:
 * libnuma fills its node masks lazily and not thread-safely.
 */
static void place(struct worker *w)
{
	int ncpu = numa_num_configured_cpus();

	if (ncpu <= 0)
		ncpu = 1;
	w->cpu = w->rt ? ncpu - 1 - (int)((w->idx - w->d->nworkers) % (uint32_t)ncpu) :
		 (int)(w->idx % (uint32_t)ncpu);
	w->node = numa_available() >= 0 ? numa_node_of_cpu(w->cpu) : -1;
}

static void pin(struct worker *w)
{
	cpu_set_t set;

	/* libnuma: keep the worker's memory on its core's node */
	if (w->node >= 0)
		numa_set_preferred(w->node);
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Drops executors of unloaded models (cold: only when models_gen moved). */
static void drop_stale(struct worker *w)
{
	unsigned gen = atomic_load(&w->d->models_gen);

	if (gen == w->models_gen)
		return;
	w->models_gen = gen;
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		if (w->exm[i] && atomic_load(&w->exm[i]->gone)) {
			pn_exec_free(w->ex[i]);
			pnd_model_put(w->d, w->exm[i]);
			w->ex[i] = NULL;
			w->exm[i] = NULL;
		}
	}
}

/* The executor for m, planned the first time (cold). */
static struct pn_exec *exec_for(struct worker *w, struct pnd_model *m, struct pn_err *e)
{
	uint32_t i = m->slot;

	if (w->exm[i] == m)
		return w->ex[i];
	if (w->exm[i]) {
		pn_exec_free(w->ex[i]);
		pnd_model_put(w->d, w->exm[i]);
		w->exm[i] = NULL;
	}
	if (pn_exec_new(m->m, m->max_batch, m->m->max_tokens, NULL, &w->ex[i], e))
		return NULL;
	atomic_fetch_add(&m->refs, 1);
	w->exm[i] = m;
	return w->ex[i];
}

static int grow(struct worker *w, size_t ids, size_t out)
{
	if (ids > w->ids_cap) {
		free(w->ids);
		free(w->lens);
		w->ids = malloc(ids * sizeof(int32_t));
		w->lens = malloc(ids * sizeof(uint32_t));
		w->ids_cap = w->ids && w->lens ? ids : 0;
		if (!w->ids_cap)
			return -ENOMEM;
	}
	if (out > w->out_cap) {
		free(w->out);
		w->out = malloc(out * sizeof(float));
		w->out_cap = w->out ? out : 0;
		if (!w->out_cap)
			return -ENOMEM;
	}
	return 0;
}

/* Checks a job's private ids: lens in 1..T, ids below the vocabulary. */
static int check_ids(const struct pnd_model *m, const int32_t *ids, const uint32_t *lens,
		     uint32_t batch, uint32_t T)
{
	for (uint32_t b = 0; b < batch; b++) {
		if (lens[b] < 1 || lens[b] > T)
			return -EINVAL;
		for (uint32_t t = 0; t < lens[b]; t++)
			if (ids[(size_t)b * T + t] < 0 ||
			    (uint32_t)ids[(size_t)b * T + t] >= m->vocab)
				return -EINVAL;
	}
	return 0;
}

/*
 * Runs jobs[0..n) of model m as one executor call: their sequences stacked,
 * padded to the longest T. The caller keeps the total under max_batch.
 */
static void run_group(struct worker *w, struct pnd_model *m, struct pnd_job **jobs,
		      uint32_t n, bool batched)
{
	struct pnd *d = w->d;
	uint32_t T = 1, B = 0, width = m->m->out_width;
	bool seq = m->m->out_layout == PNB_LAYOUT_SEQ;
	uint64_t t0 = pnd_now_ns();
	int res[PN_SCHED_BATCH_MAX] = { 0 };
	struct pn_err err;
	struct pn_exec *x = exec_for(w, m, &err);
	int r = x ? 0 : -ENOMEM;

	for (uint32_t i = 0; i < n; i++)
		if (jobs[i]->sqe.T > T)
			T = jobs[i]->sqe.T;
	if (!r)
		r = grow(w, (size_t)m->max_batch * T, (size_t)m->max_batch * T * width);
	if (r)
		goto done;
	memset(w->ids, 0, sizeof(int32_t) * (size_t)m->max_batch * T);
	for (uint32_t i = 0; i < n; i++) {
		const struct pn_sqe *q = &jobs[i]->sqe;
		const uint8_t *in = jobs[i]->s->arena + q->in_off;
		int32_t *ids = w->ids + (size_t)B * T;
		uint32_t *lens = w->lens + B;

		/* the private copy first: only it is checked and run */
		for (uint32_t b = 0; b < q->batch; b++)
			memcpy(ids + (size_t)b * T, in + (size_t)b * q->T * 4, (size_t)q->T * 4);
		memcpy(lens, in + (size_t)q->batch * q->T * 4, (size_t)q->batch * 4);
		res[i] = check_ids(m, ids, lens, q->batch, T);
		if (res[i]) {
			/* keep the slot valid for the run, the job is answered -EINVAL */
			for (uint32_t b = 0; b < q->batch; b++) {
				lens[b] = 1;
				ids[(size_t)b * T] = 0;
			}
		}
		B += q->batch;
	}
	r = pn_exec_run(x, w->ids, w->lens, B, T, w->out, &err);
	if (r)
		goto done;
	B = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct pn_sqe *q = &jobs[i]->sqe;
		float *dst = (float *)(jobs[i]->s->arena + q->out_off);

		if (seq) {
			memcpy(dst, w->out + (size_t)B * width, (size_t)q->batch * width * 4);
		} else {
			/* rows of this job's sequences, its own T of each */
			for (uint32_t b = 0; b < q->batch; b++)
				memcpy(dst + (size_t)b * q->T * width,
				       w->out + ((size_t)(B + b) * T) * width,
				       (size_t)q->T * width * 4);
		}
		B += q->batch;
	}
done:
	for (uint32_t i = 0; i < n; i++)
		pnd_job_complete(d, jobs[i], r ? r : res[i], t0, batched);
}

/* Runs one picked batch, split in groups that fit the executor's max_batch. */
static void run_batch(struct worker *w, const struct pn_sched_batch *b)
{
	struct pnd_job *jobs[PN_SCHED_BATCH_MAX] = { 0 };
	uint32_t start = 0, seqs = 0;
	struct pnd_model *m;

	for (uint32_t i = 0; i < b->n; i++)
		jobs[i] = (struct pnd_job *)(uintptr_t)b->job[i].user;
	m = jobs[0]->model;
	for (uint32_t i = 0; i < b->n; i++) {
		if (seqs + jobs[i]->sqe.batch > m->max_batch && i > start) {
			run_group(w, m, jobs + start, i - start, b->n > 1);
			start = i;
			seqs = 0;
		}
		seqs += jobs[i]->sqe.batch;
	}
	run_group(w, m, jobs + start, b->n - start, b->n > 1);
}

/* One pick; the caller holds sched_lock. */
static int pick_locked(struct worker *w, uint64_t *next)
{
	if (w->rt) {
		*next = PN_SCHED_NEVER;
		return pn_sched_pick_realtime(w->d->sched, &w->b);
	}
	return pn_sched_pick(w->d->sched, pnd_now_ns(), &w->b, next);
}

/* Runs the picked batch w->b and completes it; called and returns unlocked. */
static void run_picked(struct worker *w)
{
	struct pnd *d = w->d;
	uint64_t t0 = pnd_now_ns();

	run_batch(w, &w->b);
	pthread_mutex_lock(&d->sched_lock);
	pn_sched_complete(d->sched, &w->b, pnd_now_ns() - t0);
	/* a freed worker slot may let a sleeping one pick (realtime reserve) */
	d->wake_gen++;
	if (d->sleeping)
		pthread_cond_broadcast(&d->sched_cond);
	pthread_mutex_unlock(&d->sched_lock);
}

/* One pick under the scheduler lock; runs what it got. Returns jobs run. */
static uint32_t pick_and_run(struct worker *w, uint64_t *next)
{
	struct pnd *d = w->d;
	int n;

	pthread_mutex_lock(&d->sched_lock);
	n = pick_locked(w, next);
	pthread_mutex_unlock(&d->sched_lock);
	if (n <= 0)
		return 0;
	run_picked(w);
	return (uint32_t)n;
}

/*
 * Sleeps until a doorbell, a submit or the next batch deadline. Every submit
 * bumps wake_gen under sched_lock, and the last pick happens under that lock
 * right before waiting: a job queued by another worker (or a doorbell) either
 * is picked here or moves the generation, so it never waits for a sleeper.
 */
static void worker_sleep(struct worker *w, uint64_t next)
{
	struct pnd *d = w->d;
	uint64_t gen;
	int n;

	pthread_mutex_lock(&d->sched_lock);
	gen = d->wake_gen;
	pthread_mutex_unlock(&d->sched_lock);
	/* NEED_WAKEUP on every SQ, then one more look (ring.c explains the race) */
	if (!pnd_sessions_prepare_sleep(d))
		return;
	pthread_mutex_lock(&d->sched_lock);
	n = pick_locked(w, &next);
	if (n > 0) {
		pthread_mutex_unlock(&d->sched_lock);
		pnd_sessions_clear_wakeup(d);
		run_picked(w);
		return;
	}
	while (d->wake_gen == gen && !atomic_load(&d->workers_stop)) {
		d->sleeping++;
		if (next == PN_SCHED_NEVER) {
			pthread_cond_wait(&d->sched_cond, &d->sched_lock);
		} else {
			struct timespec ts = { .tv_sec = next / 1000000000ull,
					       .tv_nsec = next % 1000000000ull };

			pthread_cond_timedwait(&d->sched_cond, &d->sched_lock, &ts);
		}
		d->sleeping--;
		if (next != PN_SCHED_NEVER && pnd_now_ns() >= next)
			break;
	}
	pthread_mutex_unlock(&d->sched_lock);
	pnd_sessions_clear_wakeup(d);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pnd *d = w->d;
	uint64_t next = 0, idle_since = pnd_now_ns();
	uint64_t spin_ns = (uint64_t)d->idle_spin_us * 1000;

	if (d->pin)
		pin(w);
	while (!atomic_load(&d->workers_stop)) {
		uint64_t subs, now;

		drop_stale(w);
		pnd_sessions_drain(d);
		subs = atomic_load(&pnd_submits);
		now = pnd_now_ns();
		/* pick only when something was submitted or a batch came due */
		if (subs != w->seen_submits || now >= next) {
			w->seen_submits = subs;
			if (pick_and_run(w, &next)) {
				idle_since = pnd_now_ns();
				next = 0;	/* more may be queued: look again */
				continue;
			}
		}
		if (now - idle_since < spin_ns) {
			cpu_relax();
			continue;
		}
		worker_sleep(w, next);
		idle_since = pnd_now_ns();
		w->seen_submits = 0;	/* pick once after waking */
	}
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		if (w->exm[i]) {
			pn_exec_free(w->ex[i]);
			pnd_model_put(d, w->exm[i]);
		}
	}
	free(w->ids);
	free(w->lens);
	free(w->out);
	return NULL;
}

static void cpu_stop(struct pnd *d, struct pnd_backend *b)
{
	if (!b)
		return;
	atomic_store(&d->workers_stop, true);
	pthread_mutex_lock(&d->sched_lock);
	d->wake_gen++;
	pthread_cond_broadcast(&d->sched_cond);
	pthread_mutex_unlock(&d->sched_lock);
	for (uint32_t i = 0; i < b->n; i++)
		if (b->w[i].started)
			pthread_join(b->w[i].thread, NULL);
	free(b->w);
	free(b);
}

static int cpu_start(struct pnd *d, struct pnd_backend **out, struct pn_err *e)
{
	struct pnd_backend *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b || !(b->w = calloc(d->nworkers + d->rt_workers, sizeof(*b->w)))) {
		free(b);
		return pn_errf(e, -ENOMEM, "workers: out of memory");
	}
	b->d = d;
	b->n = d->nworkers + d->rt_workers;
	for (uint32_t i = 0; i < b->n; i++) {
		int r;

		b->w[i].d = d;
		b->w[i].idx = i;
		b->w[i].rt = i >= d->nworkers;
		place(&b->w[i]);
		b->w[i].models_gen = atomic_load(&d->models_gen);
		r = pthread_create(&b->w[i].thread, NULL, worker_main, &b->w[i]);
		if (r) {
			cpu_stop(d, b);
			return pn_errf(e, -r, "worker %u: pthread_create: %s", i, strerror(r));
		}
		b->w[i].started = true;
	}
	*out = b;
	return 0;
}

const struct pnd_backend_ops pnd_backend_cpu = {
	.name = "cpu",
	.start = cpu_start,
	.stop = cpu_stop,
};
