/* SPDX-License-Identifier: MIT */
/*
 * knn.h - neighbour agreement of two embeddings of the same texts
 * (`polyctl eval`'s recall_at_10, issue 14): does a compiled variant keep
 * each text's nearest neighbours where the exact model puts them?
 *
 * Cosine similarity, a text never its own neighbour, ties broken by the
 * lower index (so identical embeddings agree exactly). Exact and brute
 * force: O(n^2 d) per embedding set, about a second for 1,000 texts of 512
 * floats. Allocates (an evaluation tool, not a hot path).
 */
#ifndef PN_COMPILE_KNN_H
#define PN_COMPILE_KNN_H

#include <stdint.h>

#include "util/pn_err.h"

/*
 * The k nearest rows of X [n, d] to row i (cosine, i excluded), for every
 * i: nn [n, k] (caller's), each row in decreasing similarity. A zero row
 * has cosine 0 to everything. -EINVAL when k == 0, k >= n or d == 0;
 * -ENOMEM.
 */
int pn_knn_cosine(const float *X, uint32_t n, uint32_t d, uint32_t k, uint32_t *nn,
		  struct pn_err *err);

/*
 * Mean over the n rows of |knn_ref(i) ∩ knn_x(i)| / k, with knn_ref of
 * REF [n, d] and knn_x of X [n, d] (pn_knn_cosine): 1 when X keeps every
 * neighbourhood, about k/(n-1) for unrelated embeddings. k is clipped to
 * n - 1; *k_used says what was used (may be NULL). n < 2: recall 1, k 0
 * (no neighbour to lose). Errors as pn_knn_cosine.
 */
int pn_knn_recall(const float *REF, const float *X, uint32_t n, uint32_t d, uint32_t k,
		  double *recall, uint32_t *k_used, struct pn_err *err);

#endif /* PN_COMPILE_KNN_H */
