// SPDX-License-Identifier: MIT
/*
 * polyffn.c - PackedPolyFFN: the FFN of ffn.c with its activation replaced
 * by a Chebyshev series (cheb.c), and the codebook-driven form that runs it
 * once per distinct VQ code present and gathers.
 *
 * Blocking follows ffn.c: with many rows each pool task runs both GEMMs on
 * its own ROW_BLOCK rows (the hidden block stays in L2); with few rows each
 * GEMM is split over the pool by pn_linear instead.
 */
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "uapi/pnb.h"

#define ROW_BLOCK 64

struct pffn_job {
	const float *x, *W1, *b1, *W2, *b2;
	const struct pn_cheb *p;
	float *out, *h;
	uint32_t rows, D, ff;
	int gated;
};

size_t pn_polyffn_scratch(uint32_t rows, uint32_t ff, int gated)
{
	return (size_t)rows * ff * (gated ? 2 : 1);
}

/* As ffn.c's gate_rows, with the series: packed in place, row r ends where row r's input starts. */
static void gate_rows(float *h, uint32_t nr, uint32_t ff, const struct pn_cheb *p)
{
	for (uint32_t r = 0; r < nr; r++) {
		float *g = h + (size_t)r * 2 * ff, *u = g + ff, *o = h + (size_t)r * ff;

		pn_cheb_eval(p, g, ff);
		for (uint32_t c = 0; c < ff; c++)
			o[c] = g[c] * u[c];
	}
}

static void pffn_rows(const struct pffn_job *j, struct pn_pool *pool, uint32_t r0, uint32_t nr)
{
	uint32_t hw = j->gated ? 2 * j->ff : j->ff;
	float *h = j->h + (size_t)r0 * hw;

	pn_linear(pool, j->x + (size_t)r0 * j->D, nr, j->D, j->W1, j->b1, hw, PNB_ACT_NONE, h);
	if (j->gated)
		gate_rows(h, nr, j->ff, j->p);
	else
		pn_cheb_eval(j->p, h, (size_t)nr * j->ff);
	pn_linear(pool, h, nr, j->ff, j->W2, j->b2, j->D, PNB_ACT_NONE,
		  j->out + (size_t)r0 * j->D);
}

static void pffn_task(void *ctx, uint32_t i)
{
	const struct pffn_job *j = ctx;
	uint32_t r0 = i * ROW_BLOCK;

	pffn_rows(j, NULL, r0, j->rows - r0 < ROW_BLOCK ? j->rows - r0 : ROW_BLOCK);
}

void pn_polyffn(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t D,
		uint32_t ff, int gated, const struct pn_cheb *p, const float *W1,
		const float *b1, const float *W2, const float *b2, float *out,
		float *scratch)
{
	struct pffn_job j = {
		.x = x, .W1 = W1, .b1 = b1, .W2 = W2, .b2 = b2, .p = p, .out = out,
		.h = scratch, .rows = rows, .D = D, .ff = ff, .gated = gated,
	};
	uint32_t nrb = (rows + ROW_BLOCK - 1) / ROW_BLOCK;

	if (rows == 0)
		return;
	if (nrb >= pn_pool_size(pool)) {
		pn_pool_run(pool, pffn_task, &j, nrb);
		return;
	}
	pffn_rows(&j, pool, 0, rows);
}

/* Scratch: slot[K] (int32), then the gathered inputs, outputs and FFN scratch of <= min(rows, K) rows. */
size_t pn_polyffn_codes_scratch(uint32_t rows, uint32_t K, uint32_t D,
				uint32_t ff, int gated)
{
	uint32_t nu = rows < K ? rows : K;

	return (size_t)K + 2 * (size_t)nu * D + pn_polyffn_scratch(nu, ff, gated);
}

void pn_polyffn_codes(struct pn_pool *pool, const int32_t *codes, uint32_t rows,
		      const float *codebook, uint32_t K, uint32_t D, uint32_t ff,
		      int gated, const struct pn_cheb *p, const float *W1,
		      const float *b1, const float *W2, const float *b2, float *out,
		      float *scratch, uint32_t *n_present)
{
	uint32_t max_nu = rows < K ? rows : K, nu = 0;
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
	pn_polyffn(pool, in, nu, D, ff, gated, p, W1, b1, W2, b2, res, ffs);
	for (uint32_t r = 0; r < rows; r++)
		memcpy(out + (size_t)r * D, res + (size_t)slot[codes[r]] * D, D * sizeof(float));
	if (n_present)
		*n_present = nu;
}
