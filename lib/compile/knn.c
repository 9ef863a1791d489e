// SPDX-License-Identifier: MIT
/*
 * knn.c - exact cosine k-nearest neighbours and their agreement between two
 * embedding sets (knn.h). Brute force on purpose: 1,000 texts cost about a
 * second, and an approximate index would blur the very differences this
 * measures.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile/knn.h"

/* Rows of X scaled to unit length (double: the comparisons below decide ties). */
static double *unit_rows(const float *X, uint32_t n, uint32_t d)
{
	double *U = malloc((size_t)n * d * sizeof(*U));

	if (!U)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		const float *x = X + (size_t)i * d;
		double *u = U + (size_t)i * d, ss = 0;

		for (uint32_t j = 0; j < d; j++)
			ss += (double)x[j] * x[j];
		ss = ss > 0 ? 1 / sqrt(ss) : 0;	/* a zero row stays zero: cosine 0 */
		for (uint32_t j = 0; j < d; j++)
			u[j] = x[j] * ss;
	}
	return U;
}

int pn_knn_cosine(const float *X, uint32_t n, uint32_t d, uint32_t k, uint32_t *nn,
		  struct pn_err *err)
{
	double *U, *best;

	if (!k || k >= n || !d)
		return pn_errf(err, -EINVAL, "knn: k = %u neighbours of %u rows of width %u, "
			       "expected 1 <= k < n and d >= 1", k, n, d);
	U = unit_rows(X, n, d);
	best = malloc(k * sizeof(*best));
	if (!U || !best) {
		free(U);
		free(best);
		return pn_errf(err, -ENOMEM, "knn: out of memory for %u rows", n);
	}
	for (uint32_t i = 0; i < n; i++) {
		const double *ui = U + (size_t)i * d;
		uint32_t *row = nn + (size_t)i * k, have = 0;

		/*
		 * Insertion into a sorted list of k: j ascends, and a candidate
		 * must be strictly more similar to pass an entry, so among equal
		 * similarities the lower index stays ahead.
		 */
		for (uint32_t j = 0; j < n; j++) {
			const double *uj = U + (size_t)j * d;
			double s = 0;
			uint32_t p;

			if (j == i)
				continue;
			for (uint32_t t = 0; t < d; t++)
				s += ui[t] * uj[t];
			if (have == k && s <= best[k - 1])
				continue;
			p = have < k ? have++ : k - 1;
			while (p > 0 && best[p - 1] < s) {
				best[p] = best[p - 1];
				row[p] = row[p - 1];
				p--;
			}
			best[p] = s;
			row[p] = j;
		}
	}
	free(U);
	free(best);
	return 0;
}

int pn_knn_recall(const float *REF, const float *X, uint32_t n, uint32_t d, uint32_t k,
		  double *recall, uint32_t *k_used, struct pn_err *err)
{
	uint32_t *a, *b;
	size_t hit = 0;
	int r;

	if (k >= n)
		k = n ? n - 1 : 0;
	if (k_used)
		*k_used = k;
	if (n < 2) {
		*recall = 1;
		return 0;
	}
	a = malloc((size_t)n * k * sizeof(*a));
	b = malloc((size_t)n * k * sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return pn_errf(err, -ENOMEM, "knn: out of memory for %u rows", n);
	}
	r = pn_knn_cosine(REF, n, d, k, a, err);
	if (!r)
		r = pn_knn_cosine(X, n, d, k, b, err);
	if (!r) {
		/* k is small (10): the quadratic intersection is cheaper than sorting */
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t p = 0; p < k; p++)
				for (uint32_t q = 0; q < k; q++)
					hit += a[(size_t)i * k + p] == b[(size_t)i * k + q];
		*recall = (double)hit / ((double)n * k);
	}
	free(a);
	free(b);
	return r;
}
