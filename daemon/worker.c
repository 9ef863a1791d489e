// SPDX-License-Identifier: MIT
/*
 * worker.c - the workers of every backend (worker.h): each a thread, pinned
 * to a core (libnuma) unless --no-pin, with its own backend executor per
 * model (an executor is single-threaded and plans its arena once), polling
 * the submission rings while busy and sleeping in its own io_uring (waiter.c:
 * every session's doorbell and the kick) when idle for idle_spin_us. Dedicated realtime workers (--rt-workers,
 * pinned to the last cores) take only realtime jobs (pn_sched_pick_realtime)
 * but drain the rings like the others, so a realtime job never waits for a
 * busy worker to read it.
 *
 * A batch from the scheduler is a list of jobs for one model. Their ids
 * are copied from the arena into the worker's private buffer before they
 * are checked (the client can rewrite its arena at any time), padded to
 * the longest T and run at once (the backend's run_group); the output rows
 * are scattered back into each job's output in the arena.
 */
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "transport/wake.h"
#include "worker.h"

struct worker {
	struct pnd_workers *ws;
	pthread_t thread;
	uint32_t idx;
	int cpu, node;
	bool started, rt;
	bool gen_turn;				/* a batch ran: a generation unit is owed */
	unsigned models_gen;
	struct pnd_backend_exec *ex[PND_MAX_MODELS];	/* by model slot */
	struct pnd_model *exm[PND_MAX_MODELS];		/* the model each was planned for */
	int32_t *ids;				/* [max_batch * max T] private copy */
	uint32_t *lens;
	size_t ids_cap;
	float *out;				/* [rows, width] before the scatter */
	size_t out_cap;
	struct pn_sched_batch b;
	uint64_t seen_submits;
	struct pnd_waiter waiter;		/* where it sleeps */
};

struct pnd_workers {
	struct pnd_work *work;
	struct pnd_workers_config cfg;
	const struct pnd_backend_ops *ops;
	struct pnd_backend *be;
	struct pnd_worker_host host;
	uint32_t n;
	struct worker *w;
};

int pnd_work_init(struct pnd_work *w, struct pn_sched *sched, bool futex, uint32_t gen_slots,
		  struct pn_err *e)
{
	pthread_mutex_init(&w->lock, NULL);
	w->sched = sched;
	w->wake_gen = 0;
	w->sleeping = 0;
	w->kick_word = 0;
	w->futex = futex && pn_wake_futex_supported();
	w->kick_fd = w->futex ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&w->stop, false);
	atomic_init(&w->submits, 0);
	atomic_init(&w->models_gen, 0);
	pnd_gens_init(&w->gens, gen_slots);
	if (!w->futex && w->kick_fd < 0)
		return pn_errf(e, -errno, "workers' kick eventfd: %s", strerror(errno));
	return 0;
}

void pnd_work_fini(struct pnd_work *w)
{
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	pnd_gens_fini(&w->gens);
	pthread_mutex_destroy(&w->lock);
}

/* Wakes every sleeping worker (lock held: kick_word moves under it). */
static void kick_sleepers_locked(struct pnd_work *w)
{
	if (w->futex)
		pn_wake_futex(&w->kick_word, false);
	else
		pn_wake_eventfd(w->kick_fd);
}

void pnd_work_kick_locked(struct pnd_work *w)
{
	w->wake_gen++;
	if (w->sleeping)
		kick_sleepers_locked(w);
}

void pnd_work_wake(struct pnd_work *w)
{
	pthread_mutex_lock(&w->lock);
	w->wake_gen++;
	kick_sleepers_locked(w);
	pthread_mutex_unlock(&w->lock);
}

void pnd_work_forget_model(struct pnd_work *w, uint32_t model)
{
	pthread_mutex_lock(&w->lock);
	pn_sched_forget_model(w->sched, model);
	pthread_mutex_unlock(&w->lock);
}

void pnd_work_models_changed(struct pnd_work *w)
{
	atomic_fetch_add(&w->models_gen, 1);
}

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
	w->cpu = pnd_worker_cpu(w->idx, w->ws->cfg.nworkers, numa_num_configured_cpus());
	w->node = numa_available() >= 0 ? numa_node_of_cpu(w->cpu) : -1;
}

int pnd_worker_cpu(uint32_t idx, uint32_t nworkers, int ncpu)
{
	if (ncpu <= 0)
		ncpu = 1;
	return idx >= nworkers ? ncpu - 1 - (int)((idx - nworkers) % (uint32_t)ncpu) :
	       (int)(idx % (uint32_t)ncpu);
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

static void exec_drop(struct worker *w, uint32_t i)
{
	struct pnd_workers *ws = w->ws;

	ws->ops->exec_free(w->ex[i]);
	ws->host.model_put(ws->host.arg, w->exm[i]);
	w->ex[i] = NULL;
	w->exm[i] = NULL;
}

/* Drops executors of unloaded models (cold: only when models_gen moved). */
static void drop_stale(struct worker *w)
{
	unsigned gen = atomic_load(&w->ws->work->models_gen);

	if (gen == w->models_gen)
		return;
	w->models_gen = gen;
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (w->exm[i] && atomic_load(&w->exm[i]->gone))
			exec_drop(w, i);
}

/* The executor for m, planned the first time (cold). */
static struct pnd_backend_exec *exec_for(struct worker *w, struct pnd_model *m,
					 struct pn_err *e)
{
	struct pnd_workers *ws = w->ws;
	uint32_t i = m->slot;

	if (w->exm[i] == m)
		return w->ex[i];
	if (w->exm[i])
		exec_drop(w, i);
	/* the one LOAD prepared for this worker, else a new one (cold) */
	w->ex[i] = w->idx < m->n_pre_ex ? __atomic_exchange_n(&m->pre_ex[w->idx], NULL,
							       __ATOMIC_ACQ_REL) : NULL;
	if (!w->ex[i] &&
	    ws->ops->exec_new(ws->be, m, m->bm, w->idx, m->max_batch, m->m->max_tokens,
			       &w->ex[i], e))
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

/*
 * Checks a job's private ids: lens in 1..job_T (the job's own T, not the
 * group's padded one: a length past the job's T would read the padding),
 * ids below the vocabulary. Rows are stride apart.
 */
static int check_ids(const struct pnd_model *m, const int32_t *ids, const uint32_t *lens,
		     uint32_t batch, uint32_t stride, uint32_t job_T)
{
	for (uint32_t b = 0; b < batch; b++) {
		if (lens[b] < 1 || lens[b] > job_T)
			return -EINVAL;
		for (uint32_t t = 0; t < lens[b]; t++)
			if (ids[(size_t)b * stride + t] < 0 ||
			    (uint32_t)ids[(size_t)b * stride + t] >= m->vocab)
				return -EINVAL;
	}
	return 0;
}

/*
 * Runs jobs[0..n) of model m as one run_group: their sequences stacked,
 * padded to the longest T. The caller keeps the total under max_batch.
 */
static void run_group(struct worker *w, struct pnd_model *m, struct pnd_job **jobs,
		      uint32_t n, bool batched, bool rerun)
{
	struct pnd_workers *ws = w->ws;
	uint32_t T = 1, B = 0, width = m->m->out_width;
	bool seq = m->m->out_layout == PNB_LAYOUT_SEQ;
	uint64_t t0 = pnd_now_ns();
	int res[PN_SCHED_BATCH_MAX] = { 0 };
	struct pn_err err;
	struct pnd_backend_exec *x = exec_for(w, m, &err);
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
		const uint8_t *in = jobs[i]->arena + q->in_off;
		int32_t *ids = w->ids + (size_t)B * T;
		uint32_t *lens = w->lens + B;

		/* the private copy first: only it is checked and run */
		for (uint32_t b = 0; b < q->batch; b++)
			memcpy(ids + (size_t)b * T, in + (size_t)b * q->T * 4, (size_t)q->T * 4);
		memcpy(lens, in + (size_t)q->batch * q->T * 4, (size_t)q->batch * 4);
		res[i] = check_ids(m, ids, lens, q->batch, T, q->T);
		if (res[i]) {
			/* keep the slot valid for the run, the job is answered -EINVAL */
			for (uint32_t b = 0; b < q->batch; b++) {
				lens[b] = 1;
				ids[(size_t)b * T] = 0;
			}
		}
		B += q->batch;
	}
	r = (rerun && ws->ops->run_alone ? ws->ops->run_alone : ws->ops->run_group)
		(x, w->ids, w->lens, B, T, w->out, &err);
	pnd_hist_add(&m->rows_hist, B);
	if (r) {
		if (ws->ops->recover && !ws->ops->recover(x, r))
			exec_drop(w, m->slot);
		/*
		 * A device fault (backend.h): each job again, alone, once. A
		 * fault another job caused, in this group or on another worker
		 * sharing the device, costs a rerun, never the job; the job
		 * that faults alone gets the error.
		 */
		if (!rerun && (r == -EIO || (r == -EREMOTEIO && n > 1))) {
			for (uint32_t i = 0; i < n; i++)
				run_group(w, m, jobs + i, 1, batched, true);
			return;
		}
		goto done;
	}
	B = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct pn_sqe *q = &jobs[i]->sqe;
		float *dst = (float *)(jobs[i]->arena + q->out_off);

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
		ws->host.complete(ws->host.arg, jobs[i], r ? r : res[i], t0, batched);
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
			run_group(w, m, jobs + start, i - start, b->n > 1, false);
			start = i;
			seqs = 0;
		}
		seqs += jobs[i]->sqe.batch;
	}
	run_group(w, m, jobs + start, b->n - start, b->n > 1, false);
}

/* One pick; the caller holds the scheduler's lock. */
static int pick_locked(struct worker *w, uint64_t *next)
{
	struct pn_sched *s = w->ws->work->sched;

	if (w->rt) {
		*next = PN_SCHED_NEVER;
		return pn_sched_pick_realtime(s, &w->b);
	}
	return pn_sched_pick(s, pnd_now_ns(), &w->b, next);
}

/* Runs the picked batch w->b and completes it; called and returns unlocked. */
static void run_picked(struct worker *w)
{
	struct pnd_work *k = w->ws->work;
	uint64_t t0 = pnd_now_ns();

	run_batch(w, &w->b);
	pthread_mutex_lock(&k->lock);
	pn_sched_complete(k->sched, &w->b, pnd_now_ns() - t0);
	/* a freed worker slot may let a sleeping one pick (realtime reserve) */
	pnd_work_kick_locked(k);
	pthread_mutex_unlock(&k->lock);
}

/* A queued realtime job, if any, before a generation unit (realtime never waits behind one). */
static bool run_realtime(struct worker *w)
{
	struct pnd_work *k = w->ws->work;
	int n;

	pthread_mutex_lock(&k->lock);
	n = pn_sched_pick_realtime(k->sched, &w->b);
	pthread_mutex_unlock(&k->lock);
	if (n <= 0)
		return false;
	run_picked(w);
	return true;
}

/* One pick under the scheduler lock; runs what it got. Returns jobs run. */
static uint32_t pick_and_run(struct worker *w, uint64_t *next)
{
	struct pnd_work *k = w->ws->work;
	int n;

	pthread_mutex_lock(&k->lock);
	n = pick_locked(w, next);
	pthread_mutex_unlock(&k->lock);
	if (n <= 0)
		return 0;
	run_picked(w);
	return (uint32_t)n;
}

/*
 * Sleeps until a doorbell, a kick or the next batch deadline, in the
 * worker's own io_uring (waiter.c). Why no wake-up is lost:
 *  - a job that reaches the scheduler (a submit from any worker, a freed
 *    slot, an unload, stop) moves wake_gen under the lock, and the last
 *    pick happens under that lock right before sleeping: it is picked here,
 *    or wake_gen moved (no sleep), or it moves after we counted ourselves
 *    in `sleeping` under the lock, and then the kicker increments kick_word
 *    and wakes it (pnd_work_kick_locked), after we read kick_word under the
 *    same lock: the armed FUTEX_WAIT sees another value (-EAGAIN) or is
 *    woken (eventfd: the multishot poll fires);
 *  - a client's SQE: prepare_sleep reads each SQ's wake word, sets
 *    NEED_WAKEUP, then looks at its tail (ring.c, orderings 2 and 3), and
 *    arms the doorbell with the word's value: the SQE is seen there, or the
 *    client's increment comes after our read and the FUTEX_WAIT does not
 *    sleep (or is woken);
 *  - a wait armed in an earlier sleep and still pending is as good: any
 *    wake after it was armed completes it, and its completion, unreaped,
 *    makes this sleep return at once.
 */
static void worker_sleep(struct worker *w, uint64_t next, uint64_t gen_poll)
{
	struct pnd_workers *ws = w->ws;
	struct pnd_work *k = ws->work;
	/* stalled generations (gen_sched.h): their clients' reaps wake nobody */
	uint64_t gen, poll_by = gen_poll;
	uint32_t kv;
	int n;

	pnd_waiter_reap(&w->waiter, k->kick_fd);
	pthread_mutex_lock(&k->lock);
	gen = k->wake_gen;
	pthread_mutex_unlock(&k->lock);
	/* NEED_WAKEUP on every SQ and its doorbell armed, then one more look */
	if (!ws->host.prepare_sleep(ws->host.arg, &w->waiter, &poll_by))
		return;
	pthread_mutex_lock(&k->lock);
	n = pick_locked(w, &next);
	if (n > 0) {
		pthread_mutex_unlock(&k->lock);
		ws->host.clear_wakeup(ws->host.arg);
		run_picked(w);
		return;
	}
	if (k->wake_gen != gen || atomic_load(&k->stop)) {
		pthread_mutex_unlock(&k->lock);
		ws->host.clear_wakeup(ws->host.arg);
		return;
	}
	k->sleeping++;
	kv = __atomic_load_n(&k->kick_word, __ATOMIC_RELAXED);	/* under the lock */
	pthread_mutex_unlock(&k->lock);
	pnd_waiter_arm_kick(&w->waiter, &k->kick_word, kv, k->kick_fd);
	pnd_waiter_sleep(&w->waiter, next < poll_by ? next : poll_by, k->kick_fd);
	pthread_mutex_lock(&k->lock);
	k->sleeping--;
	pthread_mutex_unlock(&k->lock);
	ws->host.clear_wakeup(ws->host.arg);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pnd_workers *ws = w->ws;
	struct pnd_work *k = ws->work;
	uint64_t next = 0, idle_since = pnd_now_ns();
	uint64_t spin_ns = (uint64_t)ws->cfg.idle_spin_us * 1000;
	struct pn_err e;

	if (ws->cfg.pin)
		pin(w);
	if (pnd_waiter_init(&w->waiter, &e)) {
		pnd_log("worker %u: %s", w->idx, e.msg);
		return NULL;
	}
	if (ws->ops->thread_init && ws->ops->thread_init(ws->be, w->idx, &e)) {
		pnd_log("worker %u: %s: %s", w->idx, ws->ops->name, e.msg);
		pnd_waiter_fini(&w->waiter);
		return NULL;
	}
	while (!atomic_load(&k->stop)) {
		uint64_t subs, now, gen_poll = PN_SCHED_NEVER;

		drop_stale(w);
		ws->host.drain(ws->host.arg);
		subs = atomic_load(&k->submits);
		now = pnd_now_ns();
		/* after a batch, a generation's turn: a realtime job first, then one unit */
		if (w->gen_turn) {
			w->gen_turn = false;
			if (pnd_gens_busy(&k->gens) &&
			    (run_realtime(w) || pnd_gens_run(&k->gens, now, &gen_poll))) {
				idle_since = pnd_now_ns();
				continue;
			}
		}
		/* pick only when something was submitted or a batch came due */
		if (subs != w->seen_submits || now >= next) {
			w->seen_submits = subs;
			if (pick_and_run(w, &next)) {
				idle_since = pnd_now_ns();
				next = 0;	/* more may be queued: look again */
				w->gen_turn = !w->rt;
				continue;
			}
		}
		/* nothing picked: one unit of a generation (gen_sched.h) */
		if (!w->rt && pnd_gens_run(&k->gens, now, &gen_poll)) {
			idle_since = pnd_now_ns();
			continue;
		}
		if (now - idle_since < spin_ns) {
			cpu_relax();
			continue;
		}
		/* stalled generations: look again when their poll is due */
		worker_sleep(w, next, gen_poll);
		idle_since = pnd_now_ns();
		w->seen_submits = 0;	/* pick once after waking */
	}
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (w->exm[i])
			exec_drop(w, i);
	if (ws->ops->thread_fini)
		ws->ops->thread_fini(ws->be, w->idx);
	pnd_waiter_fini(&w->waiter);
	free(w->ids);
	free(w->lens);
	free(w->out);
	return NULL;
}

void pnd_workers_stop(struct pnd_workers *ws)
{
	if (!ws)
		return;
	atomic_store(&ws->work->stop, true);
	pnd_work_wake(ws->work);
	for (uint32_t i = 0; i < ws->n; i++)
		if (ws->w[i].started)
			pthread_join(ws->w[i].thread, NULL);
	free(ws->w);
	free(ws);
}

int pnd_workers_start(struct pnd_work *k, const struct pnd_workers_config *cfg,
		      const struct pnd_backend_ops *ops, struct pnd_backend *be,
		      const struct pnd_worker_host *host, struct pnd_workers **out,
		      struct pn_err *e)
{
	struct pnd_workers *ws = calloc(1, sizeof(*ws));

	*out = NULL;
	if (!ws || !(ws->w = calloc(cfg->nworkers + cfg->rt_workers, sizeof(*ws->w)))) {
		free(ws);
		return pn_errf(e, -ENOMEM, "workers: out of memory");
	}
	ws->work = k;
	ws->cfg = *cfg;
	ws->ops = ops;
	ws->be = be;
	ws->host = *host;
	ws->n = cfg->nworkers + cfg->rt_workers;
	for (uint32_t i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];
		int r;

		w->ws = ws;
		w->idx = i;
		w->rt = i >= cfg->nworkers;
		place(w);
		w->models_gen = atomic_load(&k->models_gen);
		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r) {
			pnd_workers_stop(ws);
			return pn_errf(e, -r, "worker %u: pthread_create: %s", i, strerror(r));
		}
		w->started = true;
	}
	*out = ws;
	return 0;
}
