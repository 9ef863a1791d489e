/* SPDX-License-Identifier: MIT */
/*
 * sched.h - polynetd's job scheduler: which queued job a free worker runs next.
 *
 * Classes, strongest first:
 *   REALTIME     earliest deadline first, one job per pick, never batched. A worker
 *                always takes queued realtime work before anything else, and
 *                `rt_reserve` workers are kept free of other classes (or the daemon
 *                runs dedicated realtime workers: pn_sched_pick_realtime), so a
 *                realtime job never waits behind a running batch (no preemption).
 *   INTERACTIVE  then BATCH: tenants share each class by weight (deficit round robin,
 *                quantum in estimated service nanoseconds); jobs of one tenant for one
 *                model are coalesced up to the model's max batch within its max delay.
 *                INTERACTIVE is served strictly before BATCH.
 *
 * Refusals happen at submit, at once, never later:
 *   -EAGAIN              the job pool is full (back-pressure: retry after a completion;
 *                        nothing queued is ever dropped to make room)
 *   -EDQUOT              the tenant's in-flight jobs or arena bytes would exceed quota,
 *                        or (REALTIME) its realtime budget is spent: a token bucket of
 *                        estimated service ns refilled at rt_permille / 1000 of one
 *                        worker's time, holding at most rt_window_ns of that refill;
 *                        each realtime job takes its admission estimate at submit and
 *                        the difference to its measured time at complete (cancel
 *                        gives the estimate back). rt_permille 0: no realtime at all.
 *                        Counted in refused_rt, not refused_quota.
 *   PN_SCHED_EDEADLINE   (-ETIME) the deadline cannot be met: now + the model's measured
 *                        service time + the realtime work queued ahead > deadline
 *                        (a deadline already past is always refused so)
 *   -EEXIST              (session, id) is already queued or running
 *   -ENOSPC              the tenant or model table is full: every tenant slot has
 *                        jobs or was configured by the admin map (idle unconfigured
 *                        tenants are reclaimed, losing their statistics), or every
 *                        model slot holds a model not yet forgotten or still has jobs
 *   -EINVAL              bad class, or realtime without a deadline or with one more
 *                        than rt_max_horizon_ns after now (UINT64_MAX would sort first
 *                        forever in no sane sense and is the hostile case)
 *
 * Threading: NOT thread safe. The caller serialises every call on one struct pn_sched
 * with one mutex (polynetd: its scheduler lock, which is also the mutex the workers'
 * condition variable waits on). Every call is short: submit, pick and complete are
 * O(log n) at worst and never allocate (jobs live in a pool sized at create time).
 * Only pn_sched_drop_session and pn_sched_create/destroy walk the whole pool (cold).
 *
 * Time: every `now` is uint64 nanoseconds of CLOCK_MONOTONIC read by the caller;
 * the scheduler never reads a clock (so tests are deterministic).
 *
 * Worker loop (under the lock):
 *	for (;;) {
 *		n = pn_sched_pick(s, now, &b, &next);
 *		if (n > 0) { unlock; run b.job[0..n-1]; lock;
 *			     pn_sched_complete(s, &b, measured_ns); continue; }
 *		cond_timedwait(until next);	// next == PN_SCHED_NEVER: until signalled
 *	}
 * and whoever calls pn_sched_submit or pn_sched_complete signals the condition
 * (a newly queued job or a freed worker may make a pick possible).
 */
#ifndef PN_DAEMON_SCHED_H
#define PN_DAEMON_SCHED_H

#include <errno.h>
#include <stdint.h>

#include "util/pn_err.h"

enum pn_sched_class {
	PN_SCHED_REALTIME = 0,
	PN_SCHED_INTERACTIVE = 1,
	PN_SCHED_BATCH = 2,
	PN_SCHED_NCLASS = 3,
};

/* A realtime deadline that cannot be met is refused with this (= -ETIME). */
#define PN_SCHED_EDEADLINE	(-ETIME)
/* pn_sched_pick's *next_ns when nothing is queued (wait until signalled). */
#define PN_SCHED_NEVER		UINT64_MAX
/* Most jobs in one batch (a model's max_batch is clamped to it). */
#define PN_SCHED_BATCH_MAX	64

struct pn_sched_config {
	uint32_t max_jobs;		/* job pool: queued + running, all tenants */
	uint32_t max_tenants;		/* tenants busy or configured at once */
	uint32_t max_models;		/* models known and not forgotten (or with jobs) */
	uint32_t nworkers;		/* workers calling pick (for admission and reserve) */
	uint32_t rt_reserve;		/* of those, never given non-realtime work */
	uint32_t rt_workers;		/* dedicated, calling pn_sched_pick_realtime */
	uint64_t quantum_ns;		/* DRR quantum per unit of weight (estimated service) */
	uint64_t default_service_ns;	/* per-job estimate before any measurement */
	uint32_t default_weight;	/* tenants not named by pn_sched_set_tenant_weight */
	uint32_t default_max_inflight;	/* quota: queued + running jobs per tenant */
	uint64_t default_max_arena;	/* quota: arena bytes of a tenant's queued + running jobs */
	uint32_t default_max_batch;	/* models not configured by pn_sched_set_model */
	uint64_t default_max_delay_ns;
	uint64_t rt_max_horizon_ns;	/* a realtime deadline at most this after now */
	uint32_t default_rt_permille;	/* realtime budget: per-mille of one worker's time */
	uint64_t rt_window_ns;		/* the budget's bucket holds this much refill */
};

/* Fills the defaults: 4096 jobs, 256 tenants, 64 models, 1 worker, reserve 0, 0 dedicated,
 * quantum 1 ms, service 1 ms, weight 1, 1024 in flight, 1 GiB, batch 8, delay 1 ms,
 * realtime horizon 10 s, budget 250 per-mille (a quarter of one worker) over 1 s. */
void pn_sched_config_default(struct pn_sched_config *c);

/* What the caller says about a job; copied into the scheduler at submit and handed
 * back, unchanged, by pick, cancel and drop. */
struct pn_sched_job_desc {
	uint64_t id;			/* unique within the session (e.g. the SQE's user_data) */
	uint64_t user;			/* opaque to the scheduler (e.g. SQE slot, arena offset) */
	uint64_t deadline_ns;		/* absolute; required for REALTIME, 0 = none otherwise */
	uint64_t arena_bytes;		/* counted against the tenant's arena quota */
	uint32_t session;
	uint32_t tenant;		/* uid, or the admin map's tenant id */
	uint32_t model;
	uint32_t klass;			/* enum pn_sched_class */
	uint32_t rows;			/* sequences in the job (0 counts as 1): a coalesced
					 * batch holds at most the model's max_batch of them */
};

/* One pick: n jobs of one model and one class (of one tenant unless REALTIME). */
struct pn_sched_batch {
	uint32_t n;
	uint32_t model;
	uint32_t klass;
	uint32_t tenant;
	uint64_t est_ns;		/* charged: DRR mean estimate; REALTIME: admission estimate */
	struct pn_sched_job_desc job[PN_SCHED_BATCH_MAX];
	uint32_t slot[PN_SCHED_BATCH_MAX];	/* scheduler-private: pool slots */
};

struct pn_sched_tenant_stat {
	uint32_t weight;
	uint32_t queued[PN_SCHED_NCLASS];
	uint32_t running;
	uint64_t arena_bytes;		/* of queued + running jobs */
	uint64_t submitted;		/* accepted */
	uint64_t refused_deadline;
	uint64_t refused_quota;
	uint64_t refused_rt;		/* realtime budget spent (or rt_permille 0) */
	uint64_t cancelled;		/* by pn_sched_cancel or pn_sched_drop_session */
	uint64_t completed;
	uint64_t served_ns;		/* measured service, a batch's time split evenly */
};

struct pn_sched;

/* Cold. Returns NULL with e filled on bad config or no memory. */
struct pn_sched *pn_sched_create(const struct pn_sched_config *c, struct pn_err *e);
void pn_sched_destroy(struct pn_sched *s);

/* Admin map: weight >= 1 (share within a class is weight / sum of active weights). */
int pn_sched_set_tenant_weight(struct pn_sched *s, uint32_t tenant, uint32_t weight);
/* 0 keeps the current value. */
int pn_sched_set_tenant_quota(struct pn_sched *s, uint32_t tenant, uint32_t max_inflight,
			      uint64_t max_arena);
/* Realtime budget, per-mille of one worker's time (0 = no realtime); 0..1000 x nworkers. */
int pn_sched_set_tenant_rt(struct pn_sched *s, uint32_t tenant, uint32_t rt_permille);
/* The budget of tenants first seen from now on and never configured (the admin map's '*'). */
int pn_sched_set_default_rt(struct pn_sched *s, uint32_t rt_permille);
/* Batching for a model: max_batch 1..PN_SCHED_BATCH_MAX, max_delay 0 = release at once. */
int pn_sched_set_model(struct pn_sched *s, uint32_t model, uint32_t max_batch,
		       uint64_t max_delay_ns);

/*
 * The daemon unloaded the model: its id leaves the table at once (a later job naming
 * it gets a fresh slot), and the slot is reused once its last queued or running job
 * has left (queued ones still come out of pick). -ENOENT if the id is unknown.
 */
int pn_sched_forget_model(struct pn_sched *s, uint32_t model);

/* Queues a job (or refuses it, see the top of this file). 0 on success. */
int pn_sched_submit(struct pn_sched *s, const struct pn_sched_job_desc *d, uint64_t now_ns);

/*
 * The next batch for a free worker: returns n > 0 with b filled, the jobs now
 * running; or 0 with *next_ns (may be NULL) the earliest time a batch becomes
 * releasable (a partial batch's max delay), PN_SCHED_NEVER if none is queued or
 * only the realtime reserve is free. Realtime first (EDF), then INTERACTIVE, then
 * BATCH.
 */
int pn_sched_pick(struct pn_sched *s, uint64_t now_ns, struct pn_sched_batch *b,
		  uint64_t *next_ns);

/*
 * Pick for a worker dedicated to realtime (one the daemon may pin to its own core and
 * run at a real-time OS priority, so a busy batch worker cannot delay it): the next
 * REALTIME job (n = 1) or 0. Dedicated workers are not counted in nworkers.
 */
int pn_sched_pick_realtime(struct pn_sched *s, struct pn_sched_batch *b);

/*
 * The worker finished b (as filled by pick): frees its jobs and quota, and, when
 * service_ns != 0, feeds the measured time into the model's estimate for b->n
 * (pass 0 when the run failed or was cut short and its time says nothing).
 */
void pn_sched_complete(struct pn_sched *s, const struct pn_sched_batch *b, uint64_t service_ns);

/*
 * Cancels a queued job: 0 and *out (may be NULL) filled, the job gone; -EBUSY if it
 * is running (it is not cancelled and will complete normally); -ENOENT if unknown.
 */
int pn_sched_cancel(struct pn_sched *s, uint32_t session, uint64_t id,
		    struct pn_sched_job_desc *out);

/*
 * Drops every queued job of a session (a dead client), calling fn (may be NULL) on
 * each before it goes (fn must not call back into the scheduler). Returns how many were dropped; *running (may be NULL) gets how
 * many of the session's jobs are still running (they complete normally). Cold: O(pool).
 */
uint32_t pn_sched_drop_session(struct pn_sched *s, uint32_t session,
			       void (*fn)(void *arg, const struct pn_sched_job_desc *d),
			       void *arg, uint32_t *running);

/* Seeds or feeds a model's service estimate for batches of n (e.g. a warm-up run). */
void pn_sched_observe(struct pn_sched *s, uint32_t model, uint32_t n, uint64_t service_ns);
/* The estimate admission uses for a batch of n of model (mean + 4 x mean deviation). */
uint64_t pn_sched_estimate(const struct pn_sched *s, uint32_t model, uint32_t n);

/* -ENOENT if the tenant was never seen. */
int pn_sched_tenant_stat(const struct pn_sched *s, uint32_t tenant,
			 struct pn_sched_tenant_stat *st);
/* Jobs queued in all classes, and running. */
void pn_sched_depth(const struct pn_sched *s, uint32_t *queued, uint32_t *running);

#endif /* PN_DAEMON_SCHED_H */
