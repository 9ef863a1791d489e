// SPDX-License-Identifier: MIT
/*
 * sched_est.c - how long a batch of n jobs of a model takes, learnt from the workers'
 * measurements (pn_sched_complete / pn_sched_observe).
 *
 * Per (model, n): Jacobson's estimator (TCP's RTT): mean += (x - mean) / 8, dev +=
 * (|x - mean| - dev) / 4. DRR charges the mean (fair shares need the expected cost,
 * not a bound); deadline admission uses mean + 4 dev, a cheap stand-in for a high
 * percentile that follows a model whose time drifts. The first sample sets mean = x,
 * dev = 0: one sample says nothing about spread.
 *
 * A batch size never measured borrows from a measured one: from the largest smaller
 * size k scaled linearly (n / k, an upper bound as batching is sublinear), else from
 * the smallest larger size unscaled (a smaller batch is not slower), else the
 * configured default per job times n.
 */
#include "internal.h"

void sched_est_observe(struct sched_model *m, uint32_t n, uint64_t ns)
{
	struct sched_est *e;
	uint64_t bit;

	PN_ASSERT(n >= 1 && n <= PN_SCHED_BATCH_MAX);
	e = &m->est[n];
	bit = 1ull << (n - 1);
	if (!(m->seen & bit)) {
		m->seen |= bit;
		e->mean = ns;
		e->dev = 0;
		return;
	}
	int64_t err = (int64_t)(ns - e->mean);
	uint64_t aerr = err < 0 ? (uint64_t)-err : (uint64_t)err;

	e->mean = (uint64_t)((int64_t)e->mean + err / 8);
	e->dev = (uint64_t)((int64_t)e->dev + ((int64_t)aerr - (int64_t)e->dev) / 4);
}

/* The measured size to borrow from for n (see the top), 0 if none. */
static uint32_t donor(const struct sched_model *m, uint32_t n)
{
	uint64_t below = m->seen & ((1ull << (n - 1)) - 1);	/* sizes 1..n-1 */
	uint64_t above;

	if (m->seen & (1ull << (n - 1)))
		return n;
	if (below)
		return 64 - (uint32_t)__builtin_clzll(below);
	above = n < 64 ? m->seen >> n : 0;			/* sizes n+1.. */
	if (above)
		return n + 1 + (uint32_t)__builtin_ctzll(above);
	return 0;
}

static uint64_t scaled(uint64_t v, uint32_t k, uint32_t n)
{
	return k < n ? v / k * n + v % k * n / k : v;
}

uint64_t sched_est_mean(const struct pn_sched *s, const struct sched_model *m, uint32_t n)
{
	uint32_t k = donor(m, n);

	return k ? scaled(m->est[k].mean, k, n) : s->c.default_service_ns * n;
}

uint64_t sched_est_bound(const struct pn_sched *s, const struct sched_model *m, uint32_t n)
{
	uint32_t k = donor(m, n);

	if (!k)
		return s->c.default_service_ns * n;
	return scaled(m->est[k].mean + 4 * m->est[k].dev, k, n);
}
