// SPDX-License-Identifier: MIT
/*
 * sched_edf.c - the realtime queue: earliest deadline first, FIFO among equal
 * deadlines, in a binary heap (O(log n) push, pop and cancel).
 *
 * Admission needs the work that will run before a new job: the queued realtime jobs
 * whose deadline is not later than its own. In a min-heap those form a subtree that
 * contains the root, so the walk below visits only them (and their children that
 * stop it): O(k) for k jobs ahead, not O(n).
 */
#include "internal.h"

void sched_edf_push(struct pn_sched *s, struct sched_job *j)
{
	j->edf.key = j->d.deadline_ns;
	j->edf.tie = s->seq++;
	sched_heap_push(&s->edf, &j->edf);
}

void sched_edf_remove(struct pn_sched *s, struct sched_job *j)
{
	sched_heap_remove(&s->edf, &j->edf);
}

struct sched_job *sched_edf_pop(struct pn_sched *s)
{
	struct sched_hnode *x = sched_heap_top(&s->edf);

	if (!x)
		return NULL;
	sched_heap_remove(&s->edf, x);
	return sched_entry(x, struct sched_job, edf);
}

/* Recursion depth is the heap's height: log2(max_jobs). */
static uint64_t work_from(const struct pn_sched *s, uint32_t i, uint64_t deadline)
{
	const struct sched_job *j;

	if (i >= s->edf.n || s->edf.a[i]->key > deadline)
		return 0;
	j = sched_entry(s->edf.a[i], const struct sched_job, edf);
	return sched_est_bound(s, &s->models[j->model], 1) +
	       work_from(s, 2 * i + 1, deadline) + work_from(s, 2 * i + 2, deadline);
}

uint64_t sched_edf_work_before(const struct pn_sched *s, uint64_t deadline)
{
	return work_from(s, 0, deadline);
}
