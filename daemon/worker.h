/* SPDX-License-Identifier: MIT */
/*
 * worker.h - the one worker path every backend shares (worker.c): threads
 * that pick batches from the scheduler, copy and check their ids, run them
 * on the backend (backend.h) in groups that fit max_batch, scatter the rows
 * into each job's output and complete the jobs; idle, they poll the rings
 * for idle_spin_us, then sleep in their own io_uring (waiter.h) on every
 * session's doorbell and on the kick.
 *
 * struct pnd_work is the state shared with the parts above: the scheduler
 * and its lock, and the wake generation. Whoever queues work (a submit, a
 * doorbell, an unload, a freed slot) moves the generation under the lock
 * (pnd_work_kick_locked, pnd_work_wake): a worker about to sleep picks once
 * more under that lock, so it either takes the job or sees the generation
 * move. The sessions' rings are reached through struct pnd_worker_host,
 * handed in by the caller: worker.c calls nothing above it.
 *
 * Threading: pnd_workers_start/stop from the main thread; pnd_work_* from
 * any thread (pnd_work_kick_locked with lock held).
 */
#ifndef PND_WORKER_H
#define PND_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "core.h"
#include "gen_sched.h"
#include "sched/sched.h"
#include "waiter.h"

struct pnd_work {
	pthread_mutex_t lock;		/* the scheduler's lock */
	struct pn_sched *sched;		/* under lock */
	uint64_t wake_gen;		/* lock: doorbells and submits */
	uint32_t sleeping;		/* lock: workers asleep in their waiter */
	/* the kick that wakes sleepers: a private futex word (incremented under
	 * lock) or, without io_uring futexes, an eventfd */
	uint32_t kick_word;
	int kick_fd;			/* eventfd; used when !futex */
	bool futex;			/* io_uring futexes (pnd_work_init probes; --wake) */
	atomic_bool stop;
	atomic_uint_fast64_t submits;	/* accepted SQEs: a spinning worker picks when it moved */
	atomic_uint models_gen;		/* bumped on unload: workers drop executors */
	/* the decoders' continuous batching (gen_sched.h): general workers run
	 * its units between their picks; a submit there kicks like one here */
	struct pnd_gens gens;
};

/* What the workers need from the parts above them (session.c, models.c). */
struct pnd_worker_host {
	void *arg;
	/* Drains every live session's SQ into the scheduler; returns jobs queued. */
	uint32_t (*drain)(void *arg);
	/*
	 * Before a worker sleeps: NEED_WAKEUP on every SQ and its doorbell armed
	 * in wt; false if one has work. *poll_by: the latest time to look at the
	 * rings again (a session whose doorbell is muted), else left alone.
	 */
	bool (*prepare_sleep)(void *arg, struct pnd_waiter *wt, uint64_t *poll_by);
	void (*clear_wakeup)(void *arg);
	/* Posts the job's CQE and drops its references. */
	void (*complete)(void *arg, struct pnd_job *j, int res, uint64_t t_run, bool batched);
	/* Drops a model reference the worker took (atomic_fetch_add on refs). */
	void (*model_put)(void *arg, struct pnd_model *m);
};

struct pnd_workers_config {
	uint32_t nworkers, rt_workers;	/* general ones, then dedicated realtime ones */
	uint32_t idle_spin_us;
	bool pin;			/* one core each (libnuma), realtime from the last down */
};

struct pnd_workers;

/*
 * The scheduler's lock and the kick around sched (taken, not copied);
 * futex: io_uring futexes are used where the kernel has them. The
 * generation contexts' list starts empty with gen_slots sessions each.
 */
int pnd_work_init(struct pnd_work *w, struct pn_sched *sched, bool futex, uint32_t gen_slots,
		  struct pn_err *e);
void pnd_work_fini(struct pnd_work *w);
/* Work was queued: move the generation, wake sleepers (lock held). */
void pnd_work_kick_locked(struct pnd_work *w);
/* The same, taking the lock. */
void pnd_work_wake(struct pnd_work *w);
/* A model went: workers drop their executors of it when they next look. */
void pnd_work_models_changed(struct pnd_work *w);
/* The model was unloaded: the scheduler may reuse its slot once its jobs are gone. */
void pnd_work_forget_model(struct pnd_work *w, uint32_t model);

int pnd_workers_start(struct pnd_work *w, const struct pnd_workers_config *cfg,
		      const struct pnd_backend_ops *ops, struct pnd_backend *b,
		      const struct pnd_worker_host *host, struct pnd_workers **out,
		      struct pn_err *e);
/* Workers finish the batch in hand, drop their executors and exit. */
void pnd_workers_stop(struct pnd_workers *ws);
/*
 * The CPU worker idx runs on when pinned: general workers (idx < nworkers)
 * from CPU 0 up, realtime ones from the last CPU down. Pure: the models'
 * preparation uses it to fault each executor in on its worker's node.
 */
int pnd_worker_cpu(uint32_t idx, uint32_t nworkers, int ncpu);

#endif /* PND_WORKER_H */
