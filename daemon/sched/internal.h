/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the scheduler's private state, shared by sched.c (tables, quotas,
 * submit/cancel/complete), sched_heap.c (binary min-heap with positions), sched_est.c
 * (service estimates), sched_edf.c (realtime), sched_batch.c (per-model coalescing)
 * and sched_drr.c (weighted sharing between tenants).
 *
 * Ownership: a job sits in exactly one of: the free list, the realtime heap, one
 * flow's FIFO (INTERACTIVE/BATCH), or nowhere while RUNNING. A flow is the queue of
 * one (class, tenant, model); it is EMPTY, WAITING (in its class's release heap,
 * keyed by the time its batch becomes due) or READY (in its tenant's ready ring,
 * and that tenant in its class's DRR ring).
 */
#ifndef PN_DAEMON_SCHED_INTERNAL_H
#define PN_DAEMON_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched.h"

#define SCHED_NIL	UINT32_MAX
#define SCHED_NDRR	2	/* INTERACTIVE and BATCH: class k is drr[k - 1] */

/* Circular doubly linked list (the kernel's list_head, trimmed). */
struct sched_list {
	struct sched_list *next, *prev;
};

#define sched_entry(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void sched_list_init(struct sched_list *h)
{
	h->next = h->prev = h;
}

static inline bool sched_list_empty(const struct sched_list *h)
{
	return h->next == h;
}

static inline void sched_list_add_tail(struct sched_list *n, struct sched_list *h)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

static inline void sched_list_del(struct sched_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static inline void sched_list_move_tail(struct sched_list *n, struct sched_list *h)
{
	sched_list_del(n);
	sched_list_add_tail(n, h);
}

/* Heap node embedded in what a heap orders: smallest (key, tie) on top. */
struct sched_hnode {
	uint64_t key;
	uint64_t tie;			/* submission order: FIFO among equal keys */
	uint32_t pos;			/* index in the heap, SCHED_NIL when out */
};

struct sched_heap {
	struct sched_hnode **a;
	uint32_t n, cap;
};

int sched_heap_init(struct sched_heap *h, uint32_t cap);
void sched_heap_free(struct sched_heap *h);
void sched_heap_push(struct sched_heap *h, struct sched_hnode *x);
void sched_heap_remove(struct sched_heap *h, struct sched_hnode *x);
void sched_heap_fix(struct sched_heap *h, struct sched_hnode *x);	/* after a key change */
/* The heap's order: key, then tie (exposed for the heap's test). */
static inline bool sched_hnode_less(const struct sched_hnode *x, const struct sched_hnode *y)
{
	return x->key < y->key || (x->key == y->key && x->tie < y->tie);
}
static inline struct sched_hnode *sched_heap_top(const struct sched_heap *h)
{
	return h->n ? h->a[0] : NULL;
}

enum sched_job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING };
enum sched_flow_state { FLOW_EMPTY, FLOW_WAITING, FLOW_READY };

struct sched_job {
	struct pn_sched_job_desc d;
	uint64_t submit_ns;
	struct sched_hnode edf;		/* REALTIME: key = deadline */
	struct sched_list link;		/* others: in the flow's FIFO */
	uint32_t next;			/* free list, or id-hash chain while in use */
	uint32_t tenant, model;		/* table slots */
	uint32_t state;
	uint64_t rt_charge;		/* REALTIME: budget taken at submit */
};

/* Service time estimate for one batch size: Jacobson's EWMA of mean and deviation. */
struct sched_est {
	uint64_t mean, dev;
};

struct sched_model {
	uint32_t id;
	uint32_t jobs;			/* queued + running: the slot is freed only at 0 */
	bool gone;			/* forgotten: out of the hash, freed when jobs hits 0 */
	uint32_t next_free;		/* free list of model slots */
	uint32_t max_batch;
	uint64_t max_delay_ns;
	uint64_t seen;			/* bit n-1: est[n] measured */
	struct sched_est est[PN_SCHED_BATCH_MAX + 1];
};

struct sched_flow {
	struct sched_list jobs;		/* FIFO of struct sched_job.link */
	struct sched_list ready;	/* in the tenant's ready ring */
	struct sched_hnode wait;	/* in the class's release heap: key = due time */
	uint32_t n;
	uint32_t state;
	uint32_t tenant, model, klass;
};

/* A tenant's place in one DRR class. */
struct sched_tc {
	struct sched_list ready;	/* ready flows, served round robin */
	struct sched_list ring;		/* in the class's DRR ring */
	int64_t deficit;		/* ns of estimated service it may still take */
	uint32_t tenant;		/* slot of the tenant it belongs to */
	bool in_ring, in_turn;
};

struct sched_tenant {
	uint32_t id;
	bool configured;		/* set by the admin map: its slot is never reclaimed */
	uint32_t weight;
	uint32_t max_inflight;
	uint64_t max_arena;
	uint32_t rt_permille;
	int64_t rt_tokens;		/* realtime budget left, ns; negative after an overrun */
	uint64_t rt_last_ns;		/* when rt_tokens was last refilled */
	uint32_t inflight;		/* queued + running */
	struct pn_sched_tenant_stat st;
	struct sched_tc tc[SCHED_NDRR];
};

struct sched_drr {
	struct sched_list ring;		/* struct sched_tc.ring; the head's turn is current */
	struct sched_heap release;	/* WAITING flows by due time */
};

struct pn_sched {
	struct pn_sched_config c;
	struct sched_job *jobs;
	uint32_t free_head;
	uint32_t *id_hash;		/* bucket -> first job slot, chained by job.next */
	uint32_t id_mask;
	struct sched_tenant *tenants;
	uint32_t ntenants;
	uint32_t *tenant_hash, tenant_mask;	/* id -> slot + 1 (0 empty) */
	struct sched_model *models;
	uint32_t nmodels;		/* slots ever used; freed ones are on model_free */
	uint32_t model_free;		/* SCHED_NIL-terminated, chained by next_free */
	uint32_t *model_hash, model_mask;
	struct sched_flow *flows;	/* [class k - 1][tenant][model] */
	uint64_t *flow_used;		/* bit i: flows[i] initialised (sched_flow_of) */
	struct sched_heap edf;		/* queued REALTIME jobs */
	uint64_t rt_running_est;	/* admission estimates of running REALTIME jobs */
	struct sched_drr drr[SCHED_NDRR];
	uint32_t running_nonrt;		/* non-realtime batches on workers */
	uint32_t queued, running;	/* jobs */
	uint64_t seq;
};

/* sched.c: flow i made usable (its lists, its coordinates), on its first use. */
void sched_flow_init(struct pn_sched *s, size_t i);

/*
 * The flow table is dense (class x tenant x model: 40 MB at the daemon's
 * limits) and calloc'd untouched; a flow is initialised on its first use,
 * so only the pages of flows ever used are resident.
 */
static inline struct sched_flow *sched_flow_of(struct pn_sched *s, uint32_t klass,
					       uint32_t tenant, uint32_t model)
{
	size_t i = ((size_t)(klass - 1) * s->c.max_tenants + tenant) * s->c.max_models + model;

	if (!(s->flow_used[i / 64] >> (i % 64) & 1))
		sched_flow_init(s, i);
	return &s->flows[i];
}

/* sched_est.c */
void sched_est_observe(struct sched_model *m, uint32_t n, uint64_t ns);
uint64_t sched_est_mean(const struct pn_sched *s, const struct sched_model *m, uint32_t n);
uint64_t sched_est_bound(const struct pn_sched *s, const struct sched_model *m, uint32_t n);

/* sched_edf.c */
void sched_edf_push(struct pn_sched *s, struct sched_job *j);
void sched_edf_remove(struct pn_sched *s, struct sched_job *j);
struct sched_job *sched_edf_pop(struct pn_sched *s);
uint64_t sched_edf_work_before(const struct pn_sched *s, uint64_t deadline);

/* sched_batch.c */
void sched_batch_add(struct pn_sched *s, struct sched_job *j, uint64_t now);
void sched_batch_remove(struct pn_sched *s, struct sched_job *j);
void sched_batch_release_due(struct pn_sched *s, uint32_t klass, uint64_t now);
uint32_t sched_batch_take(struct pn_sched *s, struct sched_flow *f, uint64_t now,
			  struct pn_sched_batch *b);
uint64_t sched_batch_next_due(const struct pn_sched *s);

/* sched_drr.c */
void sched_drr_flow_ready(struct pn_sched *s, struct sched_flow *f);
void sched_drr_flow_unready(struct pn_sched *s, struct sched_flow *f);
void sched_drr_rotate(struct pn_sched *s, struct sched_flow *f);
struct sched_flow *sched_drr_next(struct pn_sched *s, uint32_t klass);
void sched_drr_charge(struct pn_sched *s, uint32_t klass, uint32_t tenant, uint64_t cost);
void sched_drr_settle(struct pn_sched *s, uint32_t klass, uint32_t tenant, int64_t delta);

/* sched.c: a job leaves the scheduler (freed to the pool). */
/* The model's slot, created with the defaults on first sight; SCHED_NIL when full. */
uint32_t sched_model_slot(struct pn_sched *s, uint32_t id);
void sched_job_release(struct pn_sched *s, struct sched_job *j);

#endif /* PN_DAEMON_SCHED_INTERNAL_H */
