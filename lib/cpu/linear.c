// SPDX-License-Identifier: MIT
/*
 * linear.c - y = act(x W + b): one oneDNN GEMM per block of the output,
 * then bias and activation on that block while it is still in cache.
 *
 * Blocks are ROW_BLOCK rows (the epilogue touches 64 x out floats, which
 * stay in L2). When there are fewer row blocks than threads, the columns
 * are split instead: each thread then reads only its share of W, and
 * oneDNN's sgemm keeps its speed on column slices down to 16 rows.
 */
#include "cpu/kernels.h"

#define ROW_BLOCK 64
#define COL_ALIGN 16		/* column slices start on a 64-byte boundary of W */
#define MIN_SPLIT_FLOPS (4u << 20)	/* below, a pool hand-off costs more than it saves */

struct linear_job {
	const float *x, *W, *b;
	float *y;
	uint32_t rows, in, out, act;
	uint32_t ncb, cw;	/* column blocks and their width */
};

static void linear_block(const struct linear_job *j, uint32_t r0, uint32_t nr,
			 uint32_t c0, uint32_t nc)
{
	float *y = j->y + (size_t)r0 * j->out + c0;

	pn_gemm(nr, nc, j->in, j->x + (size_t)r0 * j->in, j->in, j->W + c0, j->out,
		0.0f, y, j->out);
	for (uint32_t r = 0; r < nr; r++, y += j->out) {
		if (j->b) {
			const float *b = j->b + c0;

			for (uint32_t c = 0; c < nc; c++)
				y[c] += b[c];
		}
		pn_act(j->act, y, nc);
	}
}

static void linear_task(void *ctx, uint32_t i)
{
	const struct linear_job *j = ctx;
	uint32_t rb = i / j->ncb, cb = i % j->ncb;
	uint32_t r0 = rb * ROW_BLOCK, c0 = cb * j->cw;
	uint32_t nr = j->rows - r0 < ROW_BLOCK ? j->rows - r0 : ROW_BLOCK;
	uint32_t nc = j->out - c0 < j->cw ? j->out - c0 : j->cw;

	linear_block(j, r0, nr, c0, nc);
}

void pn_linear(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t in,
	       const float *W, const float *b, uint32_t out, uint32_t act,
	       float *y)
{
	struct linear_job j = {
		.x = x, .W = W, .b = b, .y = y,
		.rows = rows, .in = in, .out = out, .act = act,
		.ncb = 1, .cw = out,
	};
	uint32_t nthreads = pn_pool_size(pool);
	uint32_t nrb = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
	double flops = 2.0 * rows * in * out;

	if (rows == 0 || out == 0)
		return;
	if (nthreads > 1 && flops >= MIN_SPLIT_FLOPS && nrb < nthreads) {
		uint32_t ncb = (nthreads + nrb - 1) / nrb;
		uint32_t cw = (out + ncb - 1) / ncb;

		cw = (cw + COL_ALIGN - 1) / COL_ALIGN * COL_ALIGN;
		j.cw = cw;
		j.ncb = (out + cw - 1) / cw;
	}
	if (nthreads > 1 && flops >= MIN_SPLIT_FLOPS) {
		pn_pool_run(pool, linear_task, &j, nrb * j.ncb);
		return;
	}
	for (uint32_t i = 0; i < nrb; i++)
		linear_task(&j, i);
}
