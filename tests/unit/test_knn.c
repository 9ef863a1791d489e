// SPDX-License-Identifier: MIT
/*
 * test_knn: neighbour agreement (lib/compile/knn.c), behind `polyctl eval`'s
 * recall_at_10. Neighbours of hand-placed points on a circle (known by
 * geometry), against a plain sort-everything reference on random points,
 * ties broken by index, invariance to scale, a perturbation whose recall is
 * known exactly, and bad input.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile/knn.h"

static const double DEG = 3.14159265358979323846 / 180;

/* Point i of a 2-D set at angle deg[i] on the unit circle. */
static void circle(float *X, const double *deg, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		X[2 * i] = (float)cos(deg[i] * DEG);
		X[2 * i + 1] = (float)sin(deg[i] * DEG);
	}
}

static void known(void **state)
{
	/* gaps 10, 20, 35, 45 degrees: no two distances from a point are equal */
	const double deg[5] = { 0, 10, 30, 65, 110 };
	const uint32_t want[5][2] = { { 1, 2 }, { 0, 2 }, { 1, 0 }, { 2, 4 }, { 3, 2 } };
	float X[10];
	uint32_t nn[10];

	(void)state;
	circle(X, deg, 5);
	assert_int_equal(pn_knn_cosine(X, 5, 2, 2, nn, NULL), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(nn[2 * i], want[i][0]);
		assert_int_equal(nn[2 * i + 1], want[i][1]);
	}
}

static uint32_t seed = 7;

static float uni(void)
{
	seed = seed * 1664525u + 1013904223u;
	return ((float)(seed >> 8) + 0.5f) / 16777216.0f - 0.5f;
}

/* The reference: every other row's cosine, sorted (similarity down, index up). */
static const float *ref_X;
static uint32_t ref_d, ref_i;

static double ref_cos(uint32_t j)
{
	const float *a = ref_X + (size_t)ref_i * ref_d, *b = ref_X + (size_t)j * ref_d;
	double ab = 0, aa = 0, bb = 0;

	for (uint32_t t = 0; t < ref_d; t++) {
		ab += (double)a[t] * b[t];
		aa += (double)a[t] * a[t];
		bb += (double)b[t] * b[t];
	}
	return ab / sqrt(aa * bb);
}

static int ref_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	double ca = ref_cos(a), cb = ref_cos(b);

	return ca != cb ? (ca < cb) - (ca > cb) : (a > b) - (a < b);
}

enum { N = 60, D = 9, K = 7 };

static void random_vs_reference(void **state)
{
	float *X = malloc(N * D * sizeof(*X));
	uint32_t *nn = malloc(N * K * sizeof(*nn)), idx[N - 1];

	(void)state;
	for (int i = 0; i < N * D; i++)
		X[i] = uni();
	assert_int_equal(pn_knn_cosine(X, N, D, K, nn, NULL), 0);
	ref_X = X;
	ref_d = D;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t m = 0;

		for (uint32_t j = 0; j < N; j++)
			if (j != i)
				idx[m++] = j;
		ref_i = i;
		qsort(idx, m, sizeof(*idx), ref_cmp);
		/*
		 * Exact equality: the two cosines differ by rounding (~1e-16), and
		 * random rows with this seed have no two neighbours that close.
		 */
		assert_memory_equal(nn + (size_t)i * K, idx, K * sizeof(*idx));
	}
	free(X);
	free(nn);
}

static void ties_by_index(void **state)
{
	/* rows 1, 2 and 3 are the same vector: to row 0 they tie exactly */
	const float X[5 * 2] = { 1, 0, 1, 1, 1, 1, 1, 1, -1, 0 };
	uint32_t nn[5 * 3];

	(void)state;
	assert_int_equal(pn_knn_cosine(X, 5, 2, 3, nn, NULL), 0);
	assert_int_equal(nn[0], 1);
	assert_int_equal(nn[1], 2);
	assert_int_equal(nn[2], 3);
	/* row 2: its duplicates 1 and 3 first (cosine 1), then row 0 */
	assert_int_equal(nn[3 * 2], 1);
	assert_int_equal(nn[3 * 2 + 1], 3);
	assert_int_equal(nn[3 * 2 + 2], 0);
}

/* 12 points 5 degrees apart: i <= 5 leaves out point 11, i >= 6 point 0. */
static void circle12(float *X, double last)
{
	double deg[12];

	for (int i = 0; i < 12; i++)
		deg[i] = 5.0 * i;
	deg[11] = last;
	circle(X, deg, 12);
}

static void recall_known(void **state)
{
	float R[24], X[24];
	double rec;
	uint32_t k;

	(void)state;
	circle12(R, 55);
	/* the same embeddings, and a scaled copy (cosine ignores length): 1 */
	assert_int_equal(pn_knn_recall(R, R, 12, 2, 10, &rec, &k, NULL), 0);
	assert_true(rec == 1.0 && k == 10);
	for (int i = 0; i < 24; i++)
		X[i] = 3 * R[i];
	assert_int_equal(pn_knn_recall(R, X, 12, 2, 10, &rec, NULL, NULL), 0);
	assert_true(rec == 1.0);
	/*
	 * Point 11 moved to 240 degrees, far from all: points 6..10 now keep
	 * point 0 instead of 11 (one neighbour of ten swapped: 0.9 each);
	 * 0..5 already left 11 out (1 each); 11 itself, 120 degrees from
	 * point 0 and 170 from point 10, now keeps 0 instead of 10 (0.9):
	 * (6 + 6 * 0.9) / 12.
	 */
	circle12(X, 240);
	assert_int_equal(pn_knn_recall(R, X, 12, 2, 10, &rec, NULL, NULL), 0);
	assert_true(fabs(rec - 0.95) < 1e-12);	/* a ratio of small integers */
	/* k clipped to n - 1: everything is everyone's neighbour */
	assert_int_equal(pn_knn_recall(R, X, 5, 2, 10, &rec, &k, NULL), 0);
	assert_true(rec == 1.0 && k == 4);
	assert_int_equal(pn_knn_recall(R, X, 1, 2, 10, &rec, &k, NULL), 0);
	assert_true(rec == 1.0 && k == 0);
}

static void bad_input(void **state)
{
	float X[8] = { 0 };	/* zero rows: allowed, cosine 0 */
	uint32_t nn[8];
	struct pn_err err = { "" };

	(void)state;
	assert_int_equal(pn_knn_cosine(X, 4, 2, 0, nn, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "k = 0"));
	assert_int_equal(pn_knn_cosine(X, 4, 2, 4, nn, NULL), -EINVAL);
	assert_int_equal(pn_knn_cosine(X, 4, 0, 2, nn, NULL), -EINVAL);
	assert_int_equal(pn_knn_cosine(X, 4, 2, 2, nn, NULL), 0);
	/* all ties at cosine 0: lowest indices */
	assert_int_equal(nn[0], 1);
	assert_int_equal(nn[1], 2);
	assert_int_equal(nn[2], 0);
	assert_int_equal(nn[3], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known),
		cmocka_unit_test(random_vs_reference),
		cmocka_unit_test(ties_by_index),
		cmocka_unit_test(recall_known),
		cmocka_unit_test(bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
