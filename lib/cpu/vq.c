// SPDX-License-Identifier: MIT
/*
 * vq.c - nearest-code lookup against a codebook (VQ node, CacheNode, and
 * the assignment step of k-means in lib/compile/kmeans.c).
 *
 * ||x - e||^2 = ||x||^2 - 2 x.e + ||e||^2 and ||x||^2 is the same for every
 * code, so the argmin needs only ||e||^2 - 2 x.e: one GEMM x E^T per block
 * of ROW_BLOCK rows (scratch ROW_BLOCK x K), then a scan per row.
 */
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"

#define ROW_BLOCK 64

size_t pn_vq_scratch(uint32_t K)
{
	return (size_t)ROW_BLOCK * K;
}

void pn_vq_assign(const float *x, uint32_t rows, uint32_t D, const float *codebook,
		  const float *enorm, uint32_t K, int32_t *codes, float *dist2,
		  float *scratch)
{
	for (uint32_t r0 = 0; r0 < rows; r0 += ROW_BLOCK) {
		uint32_t nr = rows - r0 < ROW_BLOCK ? rows - r0 : ROW_BLOCK;

		pn_gemm_bt(nr, K, D, x + (size_t)r0 * D, D, codebook, D, 0.0f, scratch, K);
		for (uint32_t r = 0; r < nr; r++) {
			const float *s = scratch + (size_t)r * K;
			float best = enorm[0] - 2.0f * s[0];
			int32_t bk = 0;

			for (uint32_t k = 1; k < K; k++) {
				float d = enorm[k] - 2.0f * s[k];

				if (d < best) {
					best = d;
					bk = (int32_t)k;
				}
			}
			codes[r0 + r] = bk;
			if (dist2) {
				const float *xr = x + (size_t)(r0 + r) * D;
				float xx = 0.0f;

				for (uint32_t i = 0; i < D; i++)
					xx += xr[i] * xr[i];
				xx += best;
				dist2[r0 + r] = xx > 0.0f ? xx : 0.0f;	/* cancellation can go below 0 */
			}
		}
	}
}

void pn_vq_gather(const int32_t *codes, uint32_t rows, const float *table,
		  uint32_t W, float *out)
{
	for (uint32_t r = 0; r < rows; r++)
		memcpy(out + (size_t)r * W, table + (size_t)codes[r] * W, W * sizeof(float));
}
