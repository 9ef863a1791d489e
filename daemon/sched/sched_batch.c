// SPDX-License-Identifier: MIT
/*
 * sched_batch.c - dynamic batching for INTERACTIVE and BATCH: the jobs of one tenant
 * for one model in one class (a flow) are coalesced, and released as one batch when
 * the flow holds max_batch jobs or its oldest job has waited max_delay.
 *
 * A flow that is not yet due waits in its class's release heap keyed by its due time
 * (oldest job's submit time + max_delay), so pick finds due flows in O(log n) and
 * tells the worker exactly when the next one falls due. A due flow is READY: it
 * joins its tenant's ready ring and competes for the class through DRR (sched_drr.c).
 *
 * Batches never mix tenants: a tenant's batch is charged to it alone and cannot be
 * held back or inflated by another tenant's jobs.
 */
#include "internal.h"

static struct sched_job *head(struct sched_flow *f)
{
	return sched_entry(f->jobs.next, struct sched_job, link);
}

static uint64_t due_of(const struct pn_sched *s, struct sched_flow *f)
{
	uint64_t t = head(f)->submit_ns + s->models[f->model].max_delay_ns;

	return t < head(f)->submit_ns ? PN_SCHED_NEVER : t;	/* saturate */
}

static bool full(const struct pn_sched *s, const struct sched_flow *f)
{
	return f->n >= s->models[f->model].max_batch;
}

static void wait_until_due(struct pn_sched *s, struct sched_flow *f)
{
	f->state = FLOW_WAITING;
	f->wait.key = due_of(s, f);
	f->wait.tie = s->seq++;
	sched_heap_push(&s->drr[f->klass - 1].release, &f->wait);
}

void sched_batch_add(struct pn_sched *s, struct sched_job *j, uint64_t now)
{
	struct sched_flow *f = sched_flow_of(s, j->d.klass, j->tenant, j->model);

	sched_list_add_tail(&j->link, &f->jobs);
	f->n++;
	switch (f->state) {
	case FLOW_EMPTY:
		if (full(s, f) || due_of(s, f) <= now)
			sched_drr_flow_ready(s, f);
		else
			wait_until_due(s, f);
		break;
	case FLOW_WAITING:
		if (full(s, f)) {
			sched_heap_remove(&s->drr[f->klass - 1].release, &f->wait);
			sched_drr_flow_ready(s, f);
		}
		break;
	default:	/* READY: it stays so */
		break;
	}
}

/* A queued job leaves before running (cancel, dropped session). A READY flow stays
 * ready: releasing a little early is harmless, and cancel has no clock to re-judge. */
void sched_batch_remove(struct pn_sched *s, struct sched_job *j)
{
	struct sched_flow *f = sched_flow_of(s, j->d.klass, j->tenant, j->model);
	bool was_head = f->jobs.next == &j->link;

	sched_list_del(&j->link);
	f->n--;
	if (f->n == 0) {
		if (f->state == FLOW_WAITING)
			sched_heap_remove(&s->drr[f->klass - 1].release, &f->wait);
		else if (f->state == FLOW_READY)
			sched_drr_flow_unready(s, f);
		f->state = FLOW_EMPTY;
	} else if (f->state == FLOW_WAITING && was_head) {
		f->wait.key = due_of(s, f);
		sched_heap_fix(&s->drr[f->klass - 1].release, &f->wait);
	}
}

void sched_batch_release_due(struct pn_sched *s, uint32_t klass, uint64_t now)
{
	struct sched_heap *h = &s->drr[klass - 1].release;
	struct sched_hnode *x;

	while ((x = sched_heap_top(h)) && x->key <= now) {
		sched_heap_remove(h, x);
		sched_drr_flow_ready(s, sched_entry(x, struct sched_flow, wait));
	}
}

/* Moves up to max_batch jobs of a READY flow into b (b->n, job[], slot[]); the flow
 * then stays ready (full or due again), waits, or empties. */
uint32_t sched_batch_take(struct pn_sched *s, struct sched_flow *f, uint64_t now,
			  struct pn_sched_batch *b)
{
	uint32_t max = s->models[f->model].max_batch, n = 0, rows = 0;

	PN_ASSERT(f->state == FLOW_READY && f->n > 0);
	/* by rows, not jobs: 8 jobs of 16 sequences coalesced would be one 128-row
	 * batch that every other tenant waits for (issue 10, item 6) */
	while (n < max && n < f->n) {
		struct sched_job *j = sched_entry(f->jobs.next, struct sched_job, link);
		uint32_t jr = j->d.rows ? j->d.rows : 1;

		if (n && rows + jr > max)
			break;
		rows += jr;
		sched_list_del(&j->link);
		b->job[n] = j->d;
		b->slot[n] = (uint32_t)(j - s->jobs);
		n++;
	}
	f->n -= n;
	b->n = n;
	if (f->n == 0) {
		sched_drr_flow_unready(s, f);
		f->state = FLOW_EMPTY;
	} else if (full(s, f) || due_of(s, f) <= now) {
		sched_drr_rotate(s, f);
	} else {
		sched_drr_flow_unready(s, f);
		wait_until_due(s, f);
	}
	return n;
}

uint64_t sched_batch_next_due(const struct pn_sched *s)
{
	uint64_t next = PN_SCHED_NEVER;

	for (uint32_t k = 0; k < SCHED_NDRR; k++) {
		const struct sched_hnode *x = sched_heap_top(&s->drr[k].release);

		if (x && x->key < next)
			next = x->key;
	}
	return next;
}
