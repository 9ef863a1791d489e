/* SPDX-License-Identifier: MIT */
/*
 * kmeans.h - codebooks for the compiler passes (SPECS.md "VQ codebook",
 * "Clustered Query Attention"): k-means with k-means++ seeding in
 * Euclidean space, and k-means over 64-bit hashes in Hamming space.
 *
 * Deterministic: the same seed gives the same result on every run. They
 * allocate (compile time, not a hot path) and report -EINVAL with a line in
 * err for degenerate input: no points, k = 0, k > n, d = 0, bits outside
 * 1..64, a NaN or infinity in X (naming the point and coordinate).
 */
#ifndef PN_COMPILE_KMEANS_H
#define PN_COMPILE_KMEANS_H

#include <stdint.h>

#include "util/pn_err.h"

struct pn_kmeans_result {
	uint32_t iters;		/* centroid updates (Lloyd) or assignment rounds (Hamming) run */
	uint32_t reseeded;	/* empty clusters re-seeded on the farthest point */
	double distortion;	/* mean ||x - c(x)||^2 over the points */
	double rel_distortion;	/* distortion / mean ||x||^2 (0 when all x are 0) */
};

/*
 * X [n, d] -> centroids [k, d] (caller's), assign [n] (may be NULL).
 * k-means++ seeding, then up to iters (0: 50) Lloyd iterations, each
 * assignment one GEMM (pn_vq_assign); stops when no assignment changes.
 * An empty cluster takes the point farthest from its centroid. Identical
 * points are fine (duplicate centroids, distortion 0). res may be NULL.
 */
int pn_kmeans(const float *X, uint32_t n, uint32_t d, uint32_t k, uint32_t iters,
	      uint64_t seed, float *centroids, int32_t *assign,
	      struct pn_kmeans_result *res, struct pn_err *err);

/*
 * Hashes h [n] of `bits` bits -> centroids [k], assign [n] (may be NULL):
 * k-means++ seeding on squared Hamming distance, then pn_hamming_lloyd
 * (majority-bit centroids) for up to iters (0: 10) rounds; the best of 4
 * such runs (lowest distortion) is kept. res->distortion is the mean
 * Hamming distance to the assigned centroid.
 */
int pn_kmeans_hamming(const uint64_t *h, uint32_t n, uint32_t bits, uint32_t k,
		      uint32_t iters, uint64_t seed, uint64_t *centroids,
		      uint32_t *assign, struct pn_kmeans_result *res,
		      struct pn_err *err);

/* Mean ||x - nearest centroid||^2 of X [n, d] against C [k, d] (a VQ node's hit distortion). */
double pn_vq_distortion(const float *X, uint32_t n, uint32_t d, const float *C,
			uint32_t k);

#endif /* PN_COMPILE_KMEANS_H */
