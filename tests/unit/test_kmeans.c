// SPDX-License-Identifier: MIT
/*
 * test_kmeans: codebook fitting (lib/compile/kmeans.c) on data with a
 * known answer: separable Gaussian blobs, planted Hamming clusters; and the
 * degenerate inputs (k > n, identical points, no points, NaN).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile/kmeans.h"

static uint32_t seed = 5;

static float uni(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((float)(seed >> 8) + 0.5f) / 16777216.0f;
}

static float gauss(void)	/* Box-Muller */
{
	return sqrtf(-2.0f * logf(uni())) * cosf(6.2831853f * uni());
}

enum { K = 6, DIM = 8, PER = 50, N = K * PER };

/* Blob centres on a grid 10 apart, sigma 0.5: any mix-up would be obvious. */
static void blobs(float *X, float *centre, uint32_t *truth)
{
	for (uint32_t k = 0; k < K; k++)
		for (uint32_t j = 0; j < DIM; j++)
			centre[k * DIM + j] = j == k % DIM ? 10.0f * (k + 1) : (j == 7 ? -10.0f * k : 0);
	for (uint32_t i = 0; i < N; i++) {
		truth[i] = (i * 7) % K;
		for (uint32_t j = 0; j < DIM; j++)
			X[i * DIM + j] = centre[truth[i] * DIM + j] + 0.5f * gauss();
	}
}

static void test_blobs_recovered(void **state)
{
	static float X[N * DIM], centre[K * DIM], C[K * DIM], C2[K * DIM];
	uint32_t truth[N];
	int32_t a[N];
	struct pn_kmeans_result r;

	blobs(X, centre, truth);
	assert_int_equal(pn_kmeans(X, N, DIM, K, 0, 42, C, a, &r, NULL), 0);
	/* same partition as the truth (labels may be permuted) */
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = 0; j < N; j += 7)
			assert_int_equal(a[i] == a[j], truth[i] == truth[j]);
	/* each centroid within 0.3 of its blob's centre (50 points: sem ~0.07 per coord) */
	for (uint32_t i = 0; i < N; i++)
		for (uint32_t j = 0; j < DIM; j++)
			assert_true(fabsf(C[a[i] * DIM + j] - centre[truth[i] * DIM + j]) < 0.3f);
	/* distortion ~ DIM * sigma^2 = 2 */
	assert_true(r.distortion > 1.5 && r.distortion < 2.5);
	assert_true(r.rel_distortion > 0 && r.rel_distortion < 0.05);
	assert_true(fabs(pn_vq_distortion(X, N, DIM, C, K) - r.distortion) < 1e-3);
	/* deterministic */
	assert_int_equal(pn_kmeans(X, N, DIM, K, 0, 42, C2, NULL, NULL, NULL), 0);
	assert_memory_equal(C, C2, sizeof(C));
}

static void test_hamming_recovered(void **state)
{
	uint64_t centre[4], h[200], cent[4];
	uint32_t truth[200], a[200];
	struct pn_kmeans_result r;

	for (int k = 0; k < 4; k++)
		centre[k] = ((uint64_t)(uni() * 4294967296.0) << 32) | (uint64_t)(uni() * 4294967296.0);
	for (uint32_t i = 0; i < 200; i++) {
		truth[i] = (i * 3) % 4;
		h[i] = centre[truth[i]];
		for (int f = 0; f < 4; f++)	/* 4 flips of 64 bits: far closer than the ~32 between centres */
			h[i] ^= 1ull << (uint32_t)(uni() * 64);
	}
	assert_int_equal(pn_kmeans_hamming(h, 200, 64, 4, 0, 9, cent, a, &r, NULL), 0);
	for (uint32_t i = 0; i < 200; i++) {
		for (uint32_t j = 0; j < 200; j += 3)
			assert_int_equal(a[i] == a[j], truth[i] == truth[j]);
		assert_true(cent[a[i]] == centre[truth[i]]);	/* majority bits undo the flips */
	}
	assert_true(r.distortion > 0 && r.distortion <= 4);
	/* several seeds: the best-of-runs guard against a stalled Lloyd */
	for (uint64_t s = 1; s <= 20; s++) {
		assert_int_equal(pn_kmeans_hamming(h, 200, 64, 4, 0, s, cent, a, NULL, NULL), 0);
		for (uint32_t i = 0; i < 200; i++)
			assert_int_equal(a[i] == a[0], truth[i] == truth[0]);
	}
}

static void test_degenerate_inputs(void **state)
{
	float X[10 * 3], C[10 * 3];
	uint64_t h[5] = { 1, 2, 3, 4, 5 }, hc[6];
	int32_t a[10];
	struct pn_kmeans_result r;
	struct pn_err err;

	for (int i = 0; i < 30; i++)
		X[i] = (float)(i % 3);	/* 10 identical points */
	assert_int_equal(pn_kmeans(X, 10, 3, 4, 0, 1, C, a, &r, &err), 0);
	assert_true(r.distortion == 0);
	for (int i = 0; i < 12; i++)
		assert_true(C[i] == (float)(i % 3));
	assert_int_equal(pn_kmeans(X, 3, 3, 4, 0, 1, C, a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "k = 4 clusters for 3 points"));
	assert_int_equal(pn_kmeans(X, 0, 3, 1, 0, 1, C, a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no points"));
	assert_int_equal(pn_kmeans(X, 10, 3, 0, 0, 1, C, a, NULL, &err), -EINVAL);
	assert_int_equal(pn_kmeans(X, 10, 0, 2, 0, 1, C, a, NULL, &err), -EINVAL);
	X[7] = NAN;
	assert_int_equal(pn_kmeans(X, 10, 3, 2, 0, 1, C, a, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "point 2 coordinate 1"));
	X[7] = 1;
	/* k == n: every point its own centroid, nothing empty */
	for (int i = 0; i < 30; i++)
		X[i] = (float)i;
	assert_int_equal(pn_kmeans(X, 10, 3, 10, 0, 1, C, a, &r, &err), 0);
	assert_true(r.distortion == 0);
	assert_int_equal(pn_kmeans_hamming(h, 5, 64, 6, 0, 1, hc, NULL, NULL, &err), -EINVAL);
	assert_int_equal(pn_kmeans_hamming(h, 0, 64, 1, 0, 1, hc, NULL, NULL, &err), -EINVAL);
	assert_int_equal(pn_kmeans_hamming(h, 5, 65, 2, 0, 1, hc, NULL, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "65 bits"));
}

/* Two true blobs and a far outlier: with k = 3 the outlier gets its own centroid. */
static void test_outlier_cluster_not_lost(void **state)
{
	float X[41 * 2], C[3 * 2];
	int32_t a[41];

	for (int i = 0; i < 40; i++) {
		X[2 * i] = (i % 2 ? 5.0f : -5.0f) + 0.1f * gauss();
		X[2 * i + 1] = 0.1f * gauss();
	}
	X[80] = 0;
	X[81] = 100;
	assert_int_equal(pn_kmeans(X, 41, 2, 3, 0, 3, C, a, NULL, NULL), 0);
	for (int i = 0; i < 40; i++)
		assert_true(a[i] != a[40]);
	assert_true(fabsf(C[a[40] * 2 + 1] - 100) < 1e-4f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blobs_recovered),
		cmocka_unit_test(test_hamming_recovered),
		cmocka_unit_test(test_degenerate_inputs),
		cmocka_unit_test(test_outlier_cluster_not_lost),
	};

	return cmocka_run_group_tests_name("kmeans", tests, NULL, NULL);
}
