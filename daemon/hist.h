/* SPDX-License-Identifier: MIT */
/*
 * hist.h - fixed-bucket histograms recorded on the hot path (hist.c): one
 * relaxed atomic add per bucket and one for the sum, no lock, no
 * allocation. A model has two (struct pnd_model in core.h): its
 * submit-to-completion latency (models.c's pnd_model_record) and the rows
 * of each executor call (worker.c's run_group). metrics.c renders them as
 * Prometheus histograms. Threads: any writer, any reader; a reader sees
 * each counter whole but not the set at one instant (its +Inf is the sum
 * of the buckets it read, so it is always its own _count).
 */
#ifndef PND_HIST_H
#define PND_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define PND_HIST_MAX	20	/* finite buckets; one more counts the rest (+Inf) */

enum pnd_hist_kind {
	PND_HIST_LATENCY,	/* nanoseconds, shown in seconds */
	PND_HIST_ROWS,		/* sequences per executor call */
};

struct pnd_hist {
	enum pnd_hist_kind kind;
	uint32_t n;				/* finite buckets of kind */
	const uint64_t *le;			/* their upper bounds, increasing */
	_Atomic uint64_t bucket[PND_HIST_MAX + 1];	/* not cumulative: v in (le[i-1], le[i]] */
	_Atomic uint64_t sum;
};

void pnd_hist_init(struct pnd_hist *h, enum pnd_hist_kind kind);
/* Hot: counts v (nanoseconds or rows). */
void pnd_hist_add(struct pnd_hist *h, uint64_t v);

#endif /* PND_HIST_H */
