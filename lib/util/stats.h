/* SPDX-License-Identifier: MIT */
/* stats.h - latency samples and nearest-rank percentiles. */
#ifndef PN_STATS_H
#define PN_STATS_H

#include <stddef.h>

struct pn_stats {
	double *v;
	size_t n, cap;
	int sorted;
};

int pn_stats_init(struct pn_stats *s, size_t cap);
void pn_stats_free(struct pn_stats *s);
/* Grows as needed (cold path); a failed growth drops the sample. */
void pn_stats_add(struct pn_stats *s, double x);
/* Nearest-rank percentile, p in [0, 100]; 0 when empty. */
double pn_stats_pct(struct pn_stats *s, double p);
double pn_stats_mean(const struct pn_stats *s);

#endif /* PN_STATS_H */
