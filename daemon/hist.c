// SPDX-License-Identifier: MIT
/* hist.c - the hot-path histograms of hist.h: bounds and the one add. */
#include "hist.h"

/* 50 us .. 10 s: a job of the CPU backend takes 50 us to a few ms, a flood's tail seconds */
static const uint64_t latency_le[] = {
	50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 10000000000,
};
/* rows of one executor call: --max-batch is 1..1024 */
static const uint64_t rows_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };

_Static_assert(sizeof(latency_le) / sizeof(latency_le[0]) <= PND_HIST_MAX, "latency buckets");
_Static_assert(sizeof(rows_le) / sizeof(rows_le[0]) <= PND_HIST_MAX, "rows buckets");

void pnd_hist_init(struct pnd_hist *h, enum pnd_hist_kind kind)
{
	h->kind = kind;
	h->le = kind == PND_HIST_LATENCY ? latency_le : rows_le;
	h->n = kind == PND_HIST_LATENCY ? sizeof(latency_le) / sizeof(latency_le[0]) :
					  sizeof(rows_le) / sizeof(rows_le[0]);
	for (uint32_t i = 0; i <= PND_HIST_MAX; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum, 0);
}

void pnd_hist_add(struct pnd_hist *h, uint64_t v)
{
	uint32_t i = 0;

	while (i < h->n && v > h->le[i])
		i++;
	/* relaxed: counters only, nothing is published through them */
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}
