// SPDX-License-Identifier: MIT
/*
 * sched_drr.c - deficit round robin between the tenants of one class (INTERACTIVE or
 * BATCH), in estimated service nanoseconds.
 *
 * The class keeps a ring of tenants that have a READY flow. The head tenant's turn
 * starts by adding quantum x weight to its deficit; it is served batch after batch
 * while its deficit is positive, each batch charged its mean estimated service time
 * at pick and corrected to its measured time at complete (sched_drr_settle), then it
 * goes to the tail. The estimate is per model and batch size, blind to token counts:
 * charging only it let a tenant of 128-token jobs pay what a victim's 1-token jobs
 * pay and take nearly all the time (issue 10, item 6). Allowing the deficit to go
 * negative (instead of refusing a batch bigger than the deficit) keeps a pick O(1)
 * when the quantum is at least one batch's cost, and the debt is paid back on later
 * turns, so long-run shares are still weight / sum of weights. A tenant that leaves
 * the ring keeps its debt but loses unused credit (classic DRR: an idle tenant banks
 * nothing).
 *
 * Within a tenant, its ready flows (one per model) take turns round robin.
 */
#include "internal.h"

static struct sched_tc *tc_of(struct pn_sched *s, uint32_t klass, uint32_t tenant)
{
	return &s->tenants[tenant].tc[klass - 1];
}

static void leave(struct sched_tc *tc)
{
	sched_list_del(&tc->ring);
	tc->in_ring = false;
	tc->in_turn = false;
	if (tc->deficit > 0)
		tc->deficit = 0;
}

void sched_drr_flow_ready(struct pn_sched *s, struct sched_flow *f)
{
	struct sched_tc *tc = tc_of(s, f->klass, f->tenant);

	f->state = FLOW_READY;
	sched_list_add_tail(&f->ready, &tc->ready);
	if (!tc->in_ring) {
		sched_list_add_tail(&tc->ring, &s->drr[f->klass - 1].ring);
		tc->in_ring = true;
		tc->in_turn = false;
	}
}

void sched_drr_flow_unready(struct pn_sched *s, struct sched_flow *f)
{
	struct sched_tc *tc = tc_of(s, f->klass, f->tenant);

	sched_list_del(&f->ready);
	if (sched_list_empty(&tc->ready))
		leave(tc);
}

void sched_drr_rotate(struct pn_sched *s, struct sched_flow *f)
{
	sched_list_move_tail(&f->ready, &tc_of(s, f->klass, f->tenant)->ready);
}

/* The flow to serve next in the class, or NULL if no tenant has a ready flow. */
struct sched_flow *sched_drr_next(struct pn_sched *s, uint32_t klass)
{
	struct sched_list *ring = &s->drr[klass - 1].ring;

	while (!sched_list_empty(ring)) {
		struct sched_tc *tc = sched_entry(ring->next, struct sched_tc, ring);
		const struct sched_tenant *t = &s->tenants[tc->tenant];

		if (!tc->in_turn) {
			tc->deficit += (int64_t)(s->c.quantum_ns * t->weight);
			tc->in_turn = true;
		}
		if (tc->deficit > 0)
			return sched_entry(tc->ready.next, struct sched_flow, ready);
		tc->in_turn = false;
		sched_list_move_tail(&tc->ring, ring);
	}
	return NULL;
}

/* Called before the batch is taken, while the tenant still heads the ring. */
void sched_drr_charge(struct pn_sched *s, uint32_t klass, uint32_t tenant, uint64_t cost)
{
	struct sched_tc *tc = tc_of(s, klass, tenant);

	tc->deficit -= (int64_t)cost;
	if (tc->deficit <= 0) {
		tc->in_turn = false;
		sched_list_move_tail(&tc->ring, &s->drr[klass - 1].ring);
	}
}

/*
 * A batch of the tenant completed: delta = measured - charged ns. A debt always sticks;
 * a refund reaches a tenant out of the ring only up to 0 (an idle tenant banks nothing).
 */
void sched_drr_settle(struct pn_sched *s, uint32_t klass, uint32_t tenant, int64_t delta)
{
	struct sched_tc *tc = tc_of(s, klass, tenant);

	if (delta > 0 || tc->in_ring) {
		tc->deficit -= delta;
		return;
	}
	if (tc->deficit < 0)
		tc->deficit = tc->deficit - delta > 0 ? 0 : tc->deficit - delta;
}
