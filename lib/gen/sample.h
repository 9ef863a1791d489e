/* SPDX-License-Identifier: MIT */
/*
 * sample.h - choosing the next token from logits: greedy, temperature and
 * top-p (nucleus), with a seeded generator so that a run repeats exactly.
 *
 * temperature 0 is greedy (argmax, ties to the lowest id). Otherwise
 * p = softmax(logits / temperature); with 0 < top_p < 1 only the smallest
 * set of most probable tokens whose mass reaches top_p is kept (ties by
 * lower id first) and renormalised. The generator is xoshiro256** seeded
 * by splitmix64(seed); one draw per sampled token.
 */
#ifndef PN_SAMPLE_H
#define PN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"

struct pn_sampler {
	float temperature;	/* 0: greedy; else > 0 */
	float top_p;		/* (0, 1]; 1: off */
	uint64_t s[4];		/* generator state */
};

/* -EINVAL (with err) for a negative or non-finite temperature, top_p outside (0, 1]. */
int pn_sampler_init(struct pn_sampler *s, float temperature, float top_p, uint64_t seed,
		    struct pn_err *err);
/* scratch: pn_sample_scratch(V) bytes. */
#define pn_sample_scratch(V) ((size_t)(V) * 16)
int32_t pn_sample(struct pn_sampler *s, const float *logits, uint32_t V, void *scratch);
/* The argmax (ties: lowest id). */
int32_t pn_argmax(const float *x, uint32_t V);
/* A uniform float in [0, 1) from s (for tests of the generator). */
double pn_sampler_uniform(struct pn_sampler *s);

#endif /* PN_SAMPLE_H */
