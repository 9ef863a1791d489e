// SPDX-License-Identifier: MIT
/*
 * polyffn.c - the codebook-driven PackedPolyFFN: run the FFN (ffn.c's
 * pn_polyffn, the activation a Chebyshev series) once per distinct VQ code
 * present in the batch, and gather.
 */
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "uapi/pnb.h"

/* Scratch: slot[K] (int32), then the gathered inputs, outputs and FFN scratch of <= min(rows, K) rows. */
size_t pn_polyffn_codes_scratch(uint32_t rows, uint32_t K, uint32_t D,
				uint32_t ff, int gated)
{
	uint32_t nu = rows < K ? rows : K;

	return (size_t)K + 2 * (size_t)nu * D + pn_polyffn_scratch(nu, ff, gated);
}

void pn_polyffn_codes(struct pn_pool *pool, const int32_t *codes, uint32_t rows,
		      const float *codebook, uint32_t K, const struct pn_ffn_w *w,
		      const struct pn_cheb *p, float *out, float *scratch, uint32_t *n_present)
{
	uint32_t D = w->D, max_nu = rows < K ? rows : K, nu = 0;
	int32_t *slot = (int32_t *)scratch;	/* code -> its row among the present, or -1 */
	float *in = scratch + K, *res = in + (size_t)max_nu * D, *ffs = res + (size_t)max_nu * D;

	for (uint32_t k = 0; k < K; k++)
		slot[k] = -1;
	for (uint32_t r = 0; r < rows; r++) {
		int32_t c = codes[r];

		if (slot[c] < 0) {
			slot[c] = (int32_t)nu;
			memcpy(in + (size_t)nu * D, codebook + (size_t)c * D, D * sizeof(float));
			nu++;
		}
	}
	pn_polyffn(pool, in, nu, w, p, res, ffs);
	for (uint32_t r = 0; r < rows; r++)
		memcpy(out + (size_t)r * D, res + (size_t)slot[codes[r]] * D, D * sizeof(float));
	if (n_present)
		*n_present = nu;
}
