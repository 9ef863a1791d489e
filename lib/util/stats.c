// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "util/stats.h"

int pn_stats_init(struct pn_stats *s, size_t cap)
{
	s->n = 0;
	s->sorted = 0;
	s->cap = cap ? cap : 16;
	s->v = malloc(s->cap * sizeof(double));
	return s->v ? 0 : -ENOMEM;
}

void pn_stats_free(struct pn_stats *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void pn_stats_add(struct pn_stats *s, double x)
{
	if (s->n == s->cap) {
		double *nv = realloc(s->v, 2 * s->cap * sizeof(double));

		if (!nv)
			return;
		s->v = nv;
		s->cap *= 2;
	}
	s->v[s->n++] = x;
	s->sorted = 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double pn_stats_pct(struct pn_stats *s, double p)
{
	size_t rank;

	if (!s->n)
		return 0;
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(double), cmp);
		s->sorted = 1;
	}
	/* Nearest rank: the smallest value with at least p% at or below it. */
	rank = (size_t)ceil(p / 100.0 * (double)s->n);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

double pn_stats_mean(const struct pn_stats *s)
{
	double sum = 0;

	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	return s->n ? sum / (double)s->n : 0;
}
