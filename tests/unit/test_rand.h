/* SPDX-License-Identifier: MIT */
/*
 * test_rand.h - deterministic random inputs for the kernel suites: a
 * xorshift64 stream (seed TEST_RNG_SEED, overridable before the include),
 * so a failure reproduces bit for bit. Include after <cmocka.h>.
 */
#ifndef TEST_RAND_H
#define TEST_RAND_H

#include <stdint.h>
#include <stdlib.h>

#ifndef TEST_RNG_SEED
#define TEST_RNG_SEED 0x9E3779B97F4A7C15ull
#endif

static uint64_t rng = TEST_RNG_SEED;

static inline float frand(void)	/* uniform [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)((rng >> 40) * (2.0 / (1 << 24)) - 1.0);
}

static inline float *rand_buf(size_t n)
{
	float *p = malloc(n * sizeof(*p) + 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

#endif /* TEST_RAND_H */
