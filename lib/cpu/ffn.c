// SPDX-License-Identifier: MIT
/*
 * ffn.c - feed-forward block: out = act(x W1 + b1) W2 + b2, or the gated
 * (SwiGLU family) form with W1 = [gate | up].
 *
 * With many rows each pool task runs both GEMMs on its own ROW_BLOCK rows,
 * so the hidden block (64 x ff floats) goes from the first GEMM to the
 * second through L2. With few rows, each GEMM is split over the pool
 * column-wise by pn_linear instead.
 *
 * The activation is a built-in (enum pnb_act) or, for PackedPolyFFN
 * (polyffn.c), a Chebyshev series: the one driver serves both.
 */
#include "cpu/kernels.h"
#include "cpu/poly.h"
#include "uapi/pnb.h"

#define ROW_BLOCK 64

struct ffn_job {
	const float *x, *W1, *b1, *W2, *b2;
	const struct pn_cheb *cheb;	/* the series, or NULL for act */
	float *out, *h;
	uint32_t rows, D, ff, act;
	int gated;
};

size_t pn_ffn_scratch(uint32_t rows, uint32_t ff, int gated)
{
	return (size_t)rows * ff * (gated ? 2 : 1);
}

static void apply_act(const struct ffn_job *j, float *h, size_t n)
{
	if (j->cheb)
		pn_cheb_eval(j->cheb, h, n);
	else
		pn_act(j->act, h, n);
}

/*
 * h [nr, 2ff] = [gate | up] rows -> h [nr, ff] = act(gate) * up, packed in
 * place: row r's result ends at (r+1) ff <= 2r ff, where row r's input
 * starts (r >= 1), so nothing is overwritten before it is read.
 */
static void gate_rows(const struct ffn_job *j, float *h, uint32_t nr, uint32_t ff)
{
	for (uint32_t r = 0; r < nr; r++) {
		float *g = h + (size_t)r * 2 * ff, *u = g + ff, *o = h + (size_t)r * ff;

		apply_act(j, g, ff);
		for (uint32_t c = 0; c < ff; c++)
			o[c] = g[c] * u[c];
	}
}

void pn_ffn_gate_rows(float *h, uint32_t rows, uint32_t ff, uint32_t act)
{
	struct ffn_job j = { .act = act };

	gate_rows(&j, h, rows, ff);
}

/* Rows [r0, r0 + nr) on the calling thread, or over the pool when given one. */
static void ffn_rows(const struct ffn_job *j, struct pn_pool *pool, uint32_t r0, uint32_t nr)
{
	uint32_t hw = j->gated ? 2 * j->ff : j->ff;
	const float *x = j->x + (size_t)r0 * j->D;
	float *h = j->h + (size_t)r0 * hw;

	/* A plain built-in activation is fused into the first GEMM's pass. */
	int fused = !j->gated && !j->cheb;

	pn_linear(pool, x, nr, j->D, j->W1, j->b1, hw, fused ? j->act : PNB_ACT_NONE, h);
	if (j->gated)
		gate_rows(j, h, nr, j->ff);
	else if (!fused)
		apply_act(j, h, (size_t)nr * j->ff);
	/* Gated rows were packed to ff wide, from the start of this block. */
	pn_linear(pool, h, nr, j->ff, j->W2, j->b2, j->D, PNB_ACT_NONE,
		  j->out + (size_t)r0 * j->D);
}

static void ffn_task(void *ctx, uint32_t i)
{
	const struct ffn_job *j = ctx;
	uint32_t r0 = i * ROW_BLOCK;

	ffn_rows(j, NULL, r0, j->rows - r0 < ROW_BLOCK ? j->rows - r0 : ROW_BLOCK);
}

static void ffn_run(struct pn_pool *pool, struct ffn_job *j)
{
	uint32_t nrb = (j->rows + ROW_BLOCK - 1) / ROW_BLOCK;

	if (j->rows == 0)
		return;
	if (nrb >= pn_pool_size(pool)) {
		pn_pool_run(pool, ffn_task, j, nrb);
		return;
	}
	ffn_rows(j, pool, 0, j->rows);
}

void pn_ffn(struct pn_pool *pool, const float *x, uint32_t rows, const struct pn_ffn_w *w,
	    uint32_t act, float *out, float *scratch)
{
	struct ffn_job j = {
		.x = x, .W1 = w->W1, .b1 = w->b1, .W2 = w->W2, .b2 = w->b2, .out = out,
		.h = scratch, .rows = rows, .D = w->D, .ff = w->ff, .act = act, .gated = w->gated,
	};

	ffn_run(pool, &j);
}

size_t pn_polyffn_scratch(uint32_t rows, uint32_t ff, int gated)
{
	return pn_ffn_scratch(rows, ff, gated);
}

void pn_polyffn(struct pn_pool *pool, const float *x, uint32_t rows, const struct pn_ffn_w *w,
		const struct pn_cheb *p, float *out, float *scratch)
{
	struct ffn_job j = {
		.x = x, .W1 = w->W1, .b1 = w->b1, .W2 = w->W2, .b2 = w->b2, .cheb = p, .out = out,
		.h = scratch, .rows = rows, .D = w->D, .ff = w->ff, .gated = w->gated,
	};

	ffn_run(pool, &j);
}
