// SPDX-License-Identifier: MIT
/*
 * kmeans.c - k-means (k-means++ seeding, Lloyd iterations with the
 * assignment as a GEMM) and Hamming-space k-means over hashes.
 *
 * The random source is splitmix64 on the caller's seed, so a compile is
 * reproducible. Means are accumulated in double: calibration sets are
 * large and float sums of 1e5 activations would lose digits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile/kmeans.h"
#include "cpu/poly.h"

#define HAMMING_TRIES 4

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double uniform(uint64_t *s)	/* [0, 1) */
{
	return (splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Index drawn with probability w[i] / total; total > 0. */
static uint32_t draw(const double *w, uint32_t n, double total, uint64_t *s)
{
	double u = uniform(s) * total, acc = 0;

	for (uint32_t i = 0; i < n; i++) {
		acc += w[i];
		if (u < acc && w[i] > 0)
			return i;
	}
	for (uint32_t i = n; i-- > 0;)	/* rounding left u past the sum: the last positive */
		if (w[i] > 0)
			return i;
	return 0;
}

static double dist2(const float *a, const float *b, uint32_t d)
{
	double s = 0;

	for (uint32_t i = 0; i < d; i++) {
		double t = (double)a[i] - b[i];

		s += t * t;
	}
	return s;
}

static double sqnorm(const float *a, uint32_t d)
{
	double s = 0;

	for (uint32_t i = 0; i < d; i++)
		s += (double)a[i] * a[i];
	return s;
}

static int check_args(uint32_t n, uint32_t k, const char *what, struct pn_err *err)
{
	if (!n)
		return pn_errf(err, -EINVAL, "%s: no points, expected at least one", what);
	if (!k)
		return pn_errf(err, -EINVAL, "%s: k = 0 clusters, expected >= 1", what);
	if (k > n)
		return pn_errf(err, -EINVAL, "%s: k = %u clusters for %u points, expected "
			       "k <= points", what, k, n);
	return 0;
}

/* k-means++: first centre uniform, each next one drawn with weight D(x)^2. */
static void seed_pp(const float *X, uint32_t n, uint32_t d, uint32_t k, uint64_t *s,
		    float *C, double *w)
{
	uint32_t first = (uint32_t)(splitmix(s) % n);
	double total = 0;

	memcpy(C, X + (size_t)first * d, d * sizeof(float));
	for (uint32_t i = 0; i < n; i++)
		total += (w[i] = dist2(X + (size_t)i * d, C, d));
	for (uint32_t c = 1; c < k; c++) {
		/* all points on the centres already (duplicates): any point will do */
		uint32_t pick = total > 0 ? draw(w, n, total, s) : (uint32_t)(splitmix(s) % n);
		float *cc = C + (size_t)c * d;

		memcpy(cc, X + (size_t)pick * d, d * sizeof(float));
		total = 0;
		for (uint32_t i = 0; i < n; i++) {
			double t = dist2(X + (size_t)i * d, cc, d);

			w[i] = t < w[i] ? t : w[i];
			total += w[i];
		}
	}
}

double pn_vq_distortion(const float *X, uint32_t n, uint32_t d, const float *C, uint32_t k)
{
	double total = 0;

	for (uint32_t i = 0; i < n; i++) {
		double best = INFINITY;

		for (uint32_t c = 0; c < k; c++) {
			double t = dist2(X + (size_t)i * d, C + (size_t)c * d, d);

			best = t < best ? t : best;
		}
		total += best;
	}
	return n ? total / n : 0;
}

int pn_kmeans(const float *X, uint32_t n, uint32_t d, uint32_t k, uint32_t iters,
	      uint64_t seed, float *C, int32_t *assign_out,
	      struct pn_kmeans_result *res, struct pn_err *err)
{
	struct pn_kmeans_result r = { 0 };
	double *w, *sum, norm2 = 0;
	float *en, *d2, *scr;
	int32_t *a, *prev;
	uint32_t *cnt;
	int rc;

	if ((rc = check_args(n, k, "k-means", err)))
		return rc;
	if (!d)
		return pn_errf(err, -EINVAL, "k-means: dimension 0, expected >= 1");
	for (size_t i = 0; i < (size_t)n * d; i++)
		if (!isfinite(X[i]))
			return pn_errf(err, -EINVAL, "k-means: point %zu coordinate %zu is %g, "
				       "expected a finite number", i / d, i % d, X[i]);
	iters = iters ? iters : 50;
	w = malloc((size_t)n * sizeof(*w));
	sum = malloc((size_t)k * d * sizeof(*sum));
	en = malloc((size_t)k * sizeof(*en));
	d2 = malloc((size_t)n * sizeof(*d2));
	scr = malloc(pn_vq_scratch(k) * sizeof(*scr));
	a = malloc((size_t)n * sizeof(*a));
	prev = malloc((size_t)n * sizeof(*prev));
	cnt = malloc((size_t)k * sizeof(*cnt));
	if (!w || !sum || !en || !d2 || !scr || !a || !prev || !cnt) {
		rc = pn_errf(err, -ENOMEM, "k-means: out of memory for %u points x %u", n, d);
		goto out;
	}
	seed_pp(X, n, d, k, &seed, C, w);
	for (uint32_t i = 0; i < n; i++)
		prev[i] = -1;
	for (r.iters = 1; ; r.iters++) {
		int changed = 0;

		for (uint32_t c = 0; c < k; c++)
			en[c] = (float)sqnorm(C + (size_t)c * d, d);
		pn_vq_assign(X, n, d, C, en, k, a, d2, scr);
		for (uint32_t i = 0; i < n; i++)
			changed |= a[i] != prev[i];
		memcpy(prev, a, (size_t)n * sizeof(*a));
		if (!changed || r.iters > iters)
			break;
		memset(sum, 0, (size_t)k * d * sizeof(*sum));
		memset(cnt, 0, (size_t)k * sizeof(*cnt));
		for (uint32_t i = 0; i < n; i++) {
			cnt[a[i]]++;
			for (uint32_t j = 0; j < d; j++)
				sum[(size_t)a[i] * d + j] += X[(size_t)i * d + j];
		}
		for (uint32_t c = 0; c < k; c++) {
			uint32_t far = 0;

			if (cnt[c]) {
				for (uint32_t j = 0; j < d; j++)
					C[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / cnt[c]);
				continue;
			}
			/* empty: take the worst-served point, and make sure no other empty takes it */
			for (uint32_t i = 1; i < n; i++)
				if (d2[i] > d2[far])
					far = i;
			memcpy(C + (size_t)c * d, X + (size_t)far * d, d * sizeof(float));
			d2[far] = -1.0f;
			r.reseeded++;
		}
	}
	r.iters--;	/* the last pass only confirmed the assignment */
	for (uint32_t i = 0; i < n; i++) {
		r.distortion += dist2(X + (size_t)i * d, C + (size_t)a[i] * d, d);
		norm2 += sqnorm(X + (size_t)i * d, d);
	}
	r.distortion /= n;
	r.rel_distortion = norm2 > 0 ? r.distortion / (norm2 / n) : 0;
	if (assign_out)
		memcpy(assign_out, a, (size_t)n * sizeof(*a));
	if (res)
		*res = r;
	rc = 0;
out:
	free(w); free(sum); free(en); free(d2); free(scr); free(a); free(prev); free(cnt);
	return rc;
}

/* One k-means++ seeding and Lloyd run; returns the mean Hamming distortion. */
static double hamming_once(const uint64_t *h, uint32_t n, uint32_t bits, uint32_t k,
			   uint32_t iters, uint64_t *seed, uint64_t *cent, uint32_t *a,
			   uint32_t *count, double *w, uint32_t *rounds)
{
	double total = 0, dist = 0;

	cent[0] = h[splitmix(seed) % n];
	for (uint32_t i = 0; i < n; i++) {
		double t = __builtin_popcountll(h[i] ^ cent[0]);

		total += (w[i] = t * t);
	}
	for (uint32_t c = 1; c < k; c++) {
		uint32_t pick = total > 0 ? draw(w, n, total, seed) : (uint32_t)(splitmix(seed) % n);

		cent[c] = h[pick];
		total = 0;
		for (uint32_t i = 0; i < n; i++) {
			double t = __builtin_popcountll(h[i] ^ cent[c]);

			w[i] = t * t < w[i] ? t * t : w[i];
			total += w[i];
		}
	}
	*rounds = pn_hamming_lloyd(h, n, bits, cent, k, iters, a, count);
	for (uint32_t i = 0; i < n; i++)
		dist += __builtin_popcountll(h[i] ^ cent[a[i]]);
	return dist / n;
}

int pn_kmeans_hamming(const uint64_t *h, uint32_t n, uint32_t bits, uint32_t k,
		      uint32_t iters, uint64_t seed, uint64_t *cent,
		      uint32_t *assign_out, struct pn_kmeans_result *res,
		      struct pn_err *err)
{
	struct pn_kmeans_result r = { .distortion = INFINITY };
	uint32_t *a, *count;
	uint64_t *c;
	double *w;
	int rc;

	if ((rc = check_args(n, k, "hamming k-means", err)))
		return rc;
	if (bits < 1 || bits > 64)
		return pn_errf(err, -EINVAL, "hamming k-means: %u bits, expected 1..64", bits);
	iters = iters ? iters : 10;
	w = malloc((size_t)n * sizeof(*w));
	a = calloc(n, sizeof(*a));
	c = malloc((size_t)k * sizeof(*c));
	count = malloc((size_t)k * (bits + 1) * sizeof(*count));
	if (!w || !a || !c || !count) {
		rc = pn_errf(err, -ENOMEM, "hamming k-means: out of memory for %u hashes", n);
		goto out;
	}
	/*
	 * Lloyd in Hamming space stalls in a local optimum whenever two seeds
	 * land in one true cluster (measured: ~1 seed in 6 on 4 planted
	 * clusters); hashes are cheap, so keep the best of HAMMING_TRIES runs.
	 */
	for (int t = 0; t < HAMMING_TRIES; t++) {
		uint32_t rounds;
		double dist = hamming_once(h, n, bits, k, iters, &seed, c, a, count, w, &rounds);

		if (dist < r.distortion) {
			r.distortion = dist;
			r.iters = rounds;
			memcpy(cent, c, (size_t)k * sizeof(*c));
			if (assign_out)
				memcpy(assign_out, a, (size_t)n * sizeof(*a));
		}
	}
	if (res)
		*res = r;
out:
	free(w); free(a); free(c); free(count);
	return rc;
}
