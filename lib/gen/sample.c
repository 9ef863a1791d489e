// SPDX-License-Identifier: MIT
/*
 * sample.c - greedy, temperature and top-p sampling (sample.h). The
 * probabilities are computed in double: at temperature 1 over 32k logits
 * a float sum loses the tail that top-p cuts.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "gen/sample.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next(uint64_t s[4])	/* xoshiro256** */
{
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

int pn_sampler_init(struct pn_sampler *s, float temperature, float top_p, uint64_t seed,
		    struct pn_err *err)
{
	if (!(temperature >= 0) || !isfinite(temperature))
		return pn_errf(err, -EINVAL, "temperature %g, expected a finite number >= 0 "
			       "(0: greedy)", (double)temperature);
	if (!(top_p > 0 && top_p <= 1))
		return pn_errf(err, -EINVAL, "top-p %g, expected 0 < p <= 1", (double)top_p);
	s->temperature = temperature;
	s->top_p = top_p;
	for (int k = 0; k < 4; k++)
		s->s[k] = splitmix64(&seed);
	return 0;
}

double pn_sampler_uniform(struct pn_sampler *s)
{
	return (next(s->s) >> 11) * 0x1.0p-53;
}

int32_t pn_argmax(const float *x, uint32_t V)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < V; i++)
		if (x[i] > x[best])
			best = i;
	return (int32_t)best;
}

struct cand {
	double p;
	uint32_t id;
};

/* Most probable first; equal ones by lower id, so the order is total. */
static int by_prob(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p < y->p ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int32_t pn_sample(struct pn_sampler *s, const float *logits, uint32_t V, void *scratch)
{
	struct cand *c = scratch;
	double m, sum = 0, u, acc = 0, keep;
	uint32_t n = V;

	if (s->temperature == 0)
		return pn_argmax(logits, V);
	m = logits[pn_argmax(logits, V)];
	for (uint32_t i = 0; i < V; i++) {
		c[i].p = exp(((double)logits[i] - m) / s->temperature);
		c[i].id = i;
		sum += c[i].p;
	}
	if (s->top_p < 1) {
		qsort(c, V, sizeof(*c), by_prob);
		keep = s->top_p * sum;
		for (n = 0, acc = 0; n < V && acc < keep; n++)
			acc += c[n].p;
		sum = acc;
	}
	u = pn_sampler_uniform(s) * sum;
	acc = 0;
	for (uint32_t i = 0; i < n; i++) {
		acc += c[i].p;
		if (u < acc)
			return (int32_t)c[i].id;
	}
	return (int32_t)c[n - 1].id;	/* u rounded up to the sum */
}
