// SPDX-License-Identifier: MIT
/*
 * test_sample.c - the sampler (lib/gen/sample.h): greedy is the argmax
 * with ties to the lowest id; a seed repeats its draws exactly; sampled
 * frequencies follow softmax(logits / T); top-p keeps exactly the nucleus.
 *
 * Frequency tolerance: N = 40000 draws of a category of probability p have
 * standard deviation sqrt(p (1 - p) / N) <= 0.0025; 0.015 is 6 of them, so
 * a correct sampler fails once in ~10^9 runs while a wrong temperature or
 * a nucleus off by one token errs by more than 0.05.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gen/sample.h"

#define N 40000

static void test_greedy(void **state)
{
	float x[5] = { 0.5f, 2.0f, -1.0f, 2.0f, 1.0f };
	struct pn_sampler s;
	uint8_t scratch[pn_sample_scratch(5)];

	(void)state;
	assert_int_equal(pn_argmax(x, 5), 1);
	assert_int_equal(pn_sampler_init(&s, 0.0f, 1.0f, 1, NULL), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(pn_sample(&s, x, 5, scratch), 1);
}

static void freqs(float T, float top_p, uint64_t seed, const float *x, uint32_t V, double *f)
{
	struct pn_sampler s;
	uint8_t scratch[pn_sample_scratch(8)];

	assert_int_equal(pn_sampler_init(&s, T, top_p, seed, NULL), 0);
	memset(f, 0, V * sizeof(*f));
	for (int i = 0; i < N; i++) {
		int32_t id = pn_sample(&s, x, V, scratch);

		assert_true(id >= 0 && (uint32_t)id < V);
		f[id] += 1.0 / N;
	}
}

static void test_temperature(void **state)
{
	float x[4] = { 1.0f, 0.0f, -1.0f, 0.5f };
	double f[4], p[4], z = 0;

	(void)state;
	for (float T = 0.5f; T <= 2.0f; T *= 2) {
		z = 0;
		for (int i = 0; i < 4; i++)
			z += p[i] = exp(x[i] / T);
		freqs(T, 1.0f, 3, x, 4, f);
		for (int i = 0; i < 4; i++)
			if (fabs(f[i] - p[i] / z) > 0.015)
				fail_msg("T %g: id %d drawn %.4f, expected %.4f", T, i, f[i], p[i] / z);
	}
}

/* p = {0.5, 0.3, 0.15, 0.05} (logits their logs): top-p 0.7 keeps ids 0, 1 */
static void test_top_p(void **state)
{
	float x[4] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f) };
	double f[4];

	(void)state;
	freqs(1.0f, 0.7f, 5, x, 4, f);
	assert_true(f[2] == 0 && f[3] == 0);
	assert_true(fabs(f[0] - 0.625) < 0.015 && fabs(f[1] - 0.375) < 0.015);
	freqs(1.0f, 0.85f, 5, x, 4, f);	/* 0.5 + 0.3 < 0.85: the third joins */
	assert_true(f[2] > 0.1 && f[3] == 0);
	freqs(1.0f, 0.01f, 5, x, 4, f);	/* the nucleus is the top token alone */
	assert_true(f[1] == 0 && f[2] == 0 && f[3] == 0);
}

static void test_seed_repeats(void **state)
{
	float x[8] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f };
	struct pn_sampler a, b, c;
	uint8_t scratch[pn_sample_scratch(8)];
	int differ = 0;

	(void)state;
	pn_sampler_init(&a, 1.0f, 0.9f, 42, NULL);
	pn_sampler_init(&b, 1.0f, 0.9f, 42, NULL);
	pn_sampler_init(&c, 1.0f, 0.9f, 43, NULL);
	for (int i = 0; i < 1000; i++) {
		int32_t ia = pn_sample(&a, x, 8, scratch);

		assert_int_equal(ia, pn_sample(&b, x, 8, scratch));
		differ += ia != pn_sample(&c, x, 8, scratch);
	}
	assert_true(differ > 100);
}

static void test_bad_params(void **state)
{
	struct pn_sampler s;
	struct pn_err err = { "" };

	(void)state;
	assert_int_equal(pn_sampler_init(&s, -1.0f, 1.0f, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "temperature -1"));
	assert_int_equal(pn_sampler_init(&s, NAN, 1.0f, 0, &err), -EINVAL);
	assert_int_equal(pn_sampler_init(&s, INFINITY, 1.0f, 0, &err), -EINVAL);
	assert_int_equal(pn_sampler_init(&s, 1.0f, 0.0f, 0, &err), -EINVAL);
	assert_int_equal(pn_sampler_init(&s, 1.0f, 1.5f, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "top-p 1.5"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy),
		cmocka_unit_test(test_temperature),
		cmocka_unit_test(test_top_p),
		cmocka_unit_test(test_seed_repeats),
		cmocka_unit_test(test_bad_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
