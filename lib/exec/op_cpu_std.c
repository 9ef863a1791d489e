// SPDX-License-Identifier: MIT
/*
 * op_cpu_std.c - the CPU half (op_cpu.h) of the standard ops, one block per
 * op in the order of their descriptors in lib/ops/.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "util/wstore.h"
#include "exec/op_cpu.h"

/* Elementwise ops copy their input into y first, then work in place. */
static void copy_in(const struct pn_op_run *r)
{
	memcpy(r->y, r->in[0], (size_t)r->rows * r->n->d_in * sizeof(float));
}

/* ---- EMBED (lib/ops/op_embed.c) ------------------------------------------- */

/*
 * Sin/cos positions depend on t alone: tabulate them once for every
 * position the model accepts, with the kernel's own formula (a float32
 * angle, sinf/cosf), so a run adds a row instead of calling sinf/cosf D
 * times per position; the node then runs as LEARNED.
 */
static int prepare_embed(const struct pnb_file *f, const struct pn_gnode *n,
			 struct pn_cpu_node *cn, struct pn_wstore *store, struct pn_err *err)
{
	const float *inv = n->w[PNB_W_EMBED_INV_FREQ];
	uint32_t T = f->hdr->max_tokens, D = n->d_out, half = D / 2;
	size_t bytes = (size_t)T * D * sizeof(float);
	bool fill = true;
	float *p;

	if (n->iattr[PNB_IA_EMBED_POS_KIND] != PNB_POS_SINCOS)
		return 0;
	if (store) {
		p = pn_wstore_take(store, bytes, (uint64_t)T << 32 | D, &fill);
		if (!p)		/* MEASURE, or no room: the node computes sin/cos */
			return 0;
		cn->pos_in_store = true;
		cn->pos_table = p;
		if (!fill)
			return 0;	/* ATTACH: tabulated by whoever filled the store */
	} else {
		p = malloc(bytes);
		if (!p)
			return pn_errf(err, -ENOMEM, "out of memory");
	}
	for (uint32_t t = 0; t < T; t++) {
		for (uint32_t i = 0; i < half; i++) {
			float a = (float)t * inv[i];

			p[(size_t)t * D + i] = sinf(a);
			p[(size_t)t * D + half + i] = cosf(a);
		}
	}
	cn->pos_table = p;
	return 0;
}

static void run_embed(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_embed_w e = {
		.table = n->w[PNB_W_EMBED_TABLE], .D = n->d_out,
		.scale = n->fattr[PNB_FA_EMBED_SCALE],
		.pos_kind = (uint32_t)n->iattr[PNB_IA_EMBED_POS_KIND],
		.pos = n->w[PNB_W_EMBED_POS], .inv_freq = n->w[PNB_W_EMBED_INV_FREQ],
		.type = n->w[PNB_W_EMBED_TYPE],
	};

	if (r->cn && r->cn->pos_table) {	/* sincos, tabulated at load */
		e.pos_kind = PNB_POS_LEARNED;
		e.pos = r->cn->pos_table;
		e.inv_freq = NULL;
	}
	pn_embed(r->ids, r->B, r->T, &e, r->y);
}

static void ref_embed(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_ref_embed(r->ids, r->B, r->T, n->w[PNB_W_EMBED_TABLE], n->d_out,
		     n->fattr[PNB_FA_EMBED_SCALE], (uint32_t)n->iattr[PNB_IA_EMBED_POS_KIND],
		     n->w[PNB_W_EMBED_POS], n->w[PNB_W_EMBED_INV_FREQ], n->w[PNB_W_EMBED_TYPE],
		     r->y);
}

const struct pn_op_cpu pn_op_cpu_embed = {
	.code = PNB_OP_EMBED, .prepare = prepare_embed, .run = run_embed, .ref = ref_embed,
};

/* ---- LAYERNORM, RMSNORM, L2NORM, SOFTMAX (lib/ops/op_norm.c) --------------- */

static void run_layernorm(const struct pn_op_run *r)
{
	pn_layernorm(r->in[0], r->rows, r->n->d_in, r->n->w[PNB_W_NORM_GAMMA],
		     r->n->w[PNB_W_NORM_BETA], r->n->fattr[PNB_FA_NORM_EPS], r->y);
}

static void ref_layernorm(const struct pn_op_run *r)
{
	pn_ref_layernorm(r->in[0], r->rows, r->n->d_in, r->n->w[PNB_W_NORM_GAMMA],
			 r->n->w[PNB_W_NORM_BETA], r->n->fattr[PNB_FA_NORM_EPS], r->y);
}

static void run_rmsnorm(const struct pn_op_run *r)
{
	pn_rmsnorm(r->in[0], r->rows, r->n->d_in, r->n->w[PNB_W_NORM_GAMMA],
		   r->n->fattr[PNB_FA_NORM_EPS], r->y);
}

static void ref_rmsnorm(const struct pn_op_run *r)
{
	pn_ref_rmsnorm(r->in[0], r->rows, r->n->d_in, r->n->w[PNB_W_NORM_GAMMA],
		       r->n->fattr[PNB_FA_NORM_EPS], r->y);
}

static void run_l2norm(const struct pn_op_run *r)
{
	copy_in(r);
	pn_l2norm(r->y, r->rows, r->n->d_in, r->n->fattr[PNB_FA_L2NORM_EPS]);
}

static void ref_l2norm(const struct pn_op_run *r)
{
	copy_in(r);
	pn_ref_l2norm(r->y, r->rows, r->n->d_in, r->n->fattr[PNB_FA_L2NORM_EPS]);
}

static void run_softmax(const struct pn_op_run *r)
{
	copy_in(r);
	pn_softmax_rows(r->y, r->rows, r->n->d_in);
}

static void ref_softmax(const struct pn_op_run *r)
{
	copy_in(r);
	pn_ref_softmax_rows(r->y, r->rows, r->n->d_in);
}

const struct pn_op_cpu pn_op_cpu_layernorm = {
	.code = PNB_OP_LAYERNORM, .run = run_layernorm, .ref = ref_layernorm,
};
const struct pn_op_cpu pn_op_cpu_rmsnorm = {
	.code = PNB_OP_RMSNORM, .run = run_rmsnorm, .ref = ref_rmsnorm,
};
const struct pn_op_cpu pn_op_cpu_l2norm = {
	.code = PNB_OP_L2NORM, .run = run_l2norm, .ref = ref_l2norm,
};
const struct pn_op_cpu pn_op_cpu_softmax = {
	.code = PNB_OP_SOFTMAX, .run = run_softmax, .ref = ref_softmax,
};

/* ---- LINEAR, ACT, ADD (lib/ops/op_linear.c) -------------------------------- */

/* LINEAR's one GEMM (op_cpu_gemm.c: F32 packed for small batches, I8, BF16). */
static struct pn_cpu_gemm linear_gemm(const struct pn_gnode *n)
{
	return (struct pn_cpu_gemm){
		.w = PNB_W_LINEAR_W, .s = PNB_W_LINEAR_W_SCALE, .qp = PNB_W_LINEAR_X_QP,
		.K = n->d_in, .N = n->d_out, .k = 0,
	};
}

static int prepare_linear(const struct pnb_file *f, const struct pn_gnode *n,
			  struct pn_cpu_node *cn, struct pn_wstore *store, struct pn_err *err)
{
	struct pn_cpu_gemm g = linear_gemm(n);

	return pn_cpu_gemm_prepare(f, n, &g, cn, store, err);
}

static size_t scratch_linear(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			     uint32_t max_tokens, uint32_t nthreads)
{
	struct pn_cpu_gemm g = linear_gemm(n);

	(void)f;
	(void)rows;
	(void)max_tokens;
	(void)nthreads;
	return (pn_cpu_gemm_scratch(n, &g) + sizeof(float) - 1) / sizeof(float);
}

static void run_linear(const struct pn_op_run *r)
{
	struct pn_cpu_gemm g = linear_gemm(r->n);

	pn_cpu_gemm_run(r, &g, r->rows, r->in[0], r->n->w[PNB_W_LINEAR_B],
			(uint32_t)r->n->iattr[PNB_IA_LINEAR_ACT], r->y, r->scratch);
}

static void ref_linear(const struct pn_op_run *r)
{
	struct pn_cpu_gemm g = linear_gemm(r->n);

	pn_cpu_gemm_ref(r, &g, r->rows, r->in[0], r->n->w[PNB_W_LINEAR_B],
			(uint32_t)r->n->iattr[PNB_IA_LINEAR_ACT], r->y);
}

static void run_act(const struct pn_op_run *r)
{
	copy_in(r);
	pn_act((uint32_t)r->n->iattr[PNB_IA_ACT_ACT], r->y, (size_t)r->rows * r->n->d_in);
}

static void run_add(const struct pn_op_run *r)
{
	uint32_t D = r->n->d_in;

	if (r->in_layout[1] != r->in_layout[0]) {
		/* TOKENS + SEQ: one sequence row for each of its T token rows */
		for (uint32_t k = 0; k < r->rows; k++)
			pn_add(r->in[0] + (size_t)k * D, r->in[1] + (size_t)(k / r->T) * D,
			       r->y + (size_t)k * D, D);
		return;
	}
	pn_add(r->in[0], r->in[1], r->y, (size_t)r->rows * D);
}

const struct pn_op_cpu pn_op_cpu_linear = {
	.code = PNB_OP_LINEAR, .prepare = prepare_linear, .scratch = scratch_linear,
	.run = run_linear, .ref = ref_linear,
};
const struct pn_op_cpu pn_op_cpu_act = { .code = PNB_OP_ACT, .run = run_act };
const struct pn_op_cpu pn_op_cpu_add = { .code = PNB_OP_ADD, .run = run_add };

/* ---- FFN (lib/ops/op_ffn.c) ----------------------------------------------- */

/* FFN's two GEMMs: W1 [D, ff] (gated [D, 2ff]) and W2 [ff, D]. */
static struct pn_cpu_gemm ffn_gemm(const struct pn_gnode *n, int k)
{
	uint32_t hw = n->iattr[PNB_IA_FFN_GATED] ? 2 * n->ff : n->ff;

	return k ? (struct pn_cpu_gemm){ .w = PNB_W_FFN_W2, .s = PNB_W_FFN_W2_SCALE,
					  .qp = PNB_W_FFN_H_QP, .K = n->ff, .N = n->d_in, .k = 1 } :
		   (struct pn_cpu_gemm){ .w = PNB_W_FFN_W1, .s = PNB_W_FFN_W1_SCALE,
					  .qp = PNB_W_FFN_X_QP, .K = n->d_in, .N = hw, .k = 0 };
}

static int ffn_quantized(const struct pn_gnode *n)
{
	return pn_w_quantized(n, PNB_W_FFN_W1) || pn_w_quantized(n, PNB_W_FFN_W2);
}

static int prepare_ffn(const struct pnb_file *f, const struct pn_gnode *n,
		       struct pn_cpu_node *cn, struct pn_wstore *store, struct pn_err *err)
{
	struct pn_cpu_gemm g0 = ffn_gemm(n, 0), g1 = ffn_gemm(n, 1);

	/* f32 gated FFNs run pn_ffn alone, with nothing packed */
	if (n->iattr[PNB_IA_FFN_GATED] && !ffn_quantized(n))
		return 0;
	return pn_cpu_gemm_prepare(f, n, &g0, cn, store, err) ?:
	       pn_cpu_gemm_prepare(f, n, &g1, cn, store, err);
}

/* hidden [rows, hw] floats, then the quantized GEMMs' own (the larger of the two) */
static size_t scratch_ffn(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			  uint32_t max_tokens, uint32_t nthreads)
{
	struct pn_cpu_gemm g0 = ffn_gemm(n, 0), g1 = ffn_gemm(n, 1);
	size_t q0 = pn_cpu_gemm_scratch(n, &g0), q1 = pn_cpu_gemm_scratch(n, &g1);

	(void)f;
	(void)max_tokens;
	(void)nthreads;
	return pn_ffn_scratch((uint32_t)rows, n->ff, n->iattr[PNB_IA_FFN_GATED]) +
	       ((q0 > q1 ? q0 : q1) + sizeof(float) - 1) / sizeof(float);
}

/* Either GEMM quantized: W1, the gate or act, W2, each on its own path. */
static void run_ffn_gemms(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_cpu_gemm g0 = ffn_gemm(n, 0), g1 = ffn_gemm(n, 1);
	uint32_t act = (uint32_t)n->iattr[PNB_IA_FFN_ACT];
	int gated = n->iattr[PNB_IA_FFN_GATED];
	float *h = r->scratch;
	void *qs = h + pn_ffn_scratch(r->rows, n->ff, gated);

	pn_cpu_gemm_run(r, &g0, r->rows, r->in[0], n->w[PNB_W_FFN_B1],
			gated ? PNB_ACT_NONE : act, h, qs);
	if (gated)
		pn_ffn_gate_rows(h, r->rows, n->ff, act);
	pn_cpu_gemm_run(r, &g1, r->rows, h, n->w[PNB_W_FFN_B2], PNB_ACT_NONE, r->y, qs);
}

static void run_ffn(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	uint32_t act = (uint32_t)n->iattr[PNB_IA_FFN_ACT];
	struct pn_ffn_w w = pn_node_ffn_w(n, n->iattr[PNB_IA_FFN_GATED]);

	if (ffn_quantized(n)) {
		run_ffn_gemms(r);
		return;
	}
	/* small batches: both GEMMs on packed weights, hidden in scratch */
	if (r->cn && !pn_packed_linear(r->pk, r->cn->packed[0], r->rows, r->in[0],
				       n->w[PNB_W_FFN_B1], act, r->scratch) &&
	    !pn_packed_linear(r->pk, r->cn->packed[1], r->rows, r->scratch, n->w[PNB_W_FFN_B2],
			      PNB_ACT_NONE, r->y))
		return;
	pn_ffn(r->pool, r->in[0], r->rows, &w, act, r->y, r->scratch);
}

static void ref_ffn(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_cpu_gemm g0 = ffn_gemm(n, 0), g1 = ffn_gemm(n, 1);
	int gated = n->iattr[PNB_IA_FFN_GATED];
	uint32_t act = (uint32_t)n->iattr[PNB_IA_FFN_ACT];
	float *h;

	if (!ffn_quantized(n)) {
		pn_ref_ffn(r->in[0], r->rows, n->d_in, n->ff, gated, act, n->w[PNB_W_FFN_W1],
			   n->w[PNB_W_FFN_B1], n->w[PNB_W_FFN_W2], n->w[PNB_W_FFN_B2], r->y);
		return;
	}
	h = malloc(pn_ffn_scratch(r->rows, n->ff, gated) * sizeof(float));
	if (!h)
		return;
	pn_cpu_gemm_ref(r, &g0, r->rows, r->in[0], n->w[PNB_W_FFN_B1],
			gated ? PNB_ACT_NONE : act, h);
	if (gated)
		pn_ffn_gate_rows(h, r->rows, n->ff, act);
	pn_cpu_gemm_ref(r, &g1, r->rows, h, n->w[PNB_W_FFN_B2], PNB_ACT_NONE, r->y);
	free(h);
}

const struct pn_op_cpu pn_op_cpu_ffn = {
	.code = PNB_OP_FFN, .prepare = prepare_ffn, .scratch = scratch_ffn, .run = run_ffn,
	.ref = ref_ffn,
};

/* ---- ATTENTION (lib/ops/op_attention.c) ------------------------------------ */

static size_t scratch_attention(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
				uint32_t max_tokens, uint32_t nthreads)
{
	(void)f;
	(void)n;
	(void)rows;
	return pn_attention_scratch(max_tokens, nthreads);
}

static void run_attention(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_attn a = {
		.D = n->d_out, .heads = n->heads, .scale = n->fattr[PNB_FA_ATTN_SCALE],
		.causal = n->iattr[PNB_IA_ATTN_CAUSAL],
	};

	pn_attention(r->pool, r->in[0], r->B, r->T, r->lens, &a, r->y, r->scratch);
}

static void ref_attention(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_ref_attention(r->in[0], r->B, r->T, r->lens, n->d_out, n->heads,
			 n->fattr[PNB_FA_ATTN_SCALE], n->iattr[PNB_IA_ATTN_CAUSAL], r->y);
}

const struct pn_op_cpu pn_op_cpu_attention = {
	.code = PNB_OP_ATTENTION, .scratch = scratch_attention, .run = run_attention,
	.ref = ref_attention,
};

/* ---- POOL_MEAN, POOL_CLS (lib/ops/op_pool.c) ------------------------------- */

static void run_pool_mean(const struct pn_op_run *r)
{
	pn_pool_mean(r->in[0], r->B, r->T, r->lens, r->n->d_in, r->y);
}

static void ref_pool_mean(const struct pn_op_run *r)
{
	pn_ref_pool_mean(r->in[0], r->B, r->T, r->lens, r->n->d_in, r->y);
}

static void run_pool_cls(const struct pn_op_run *r)
{
	pn_pool_cls(r->in[0], r->B, r->T, r->n->d_in, r->y);
}

const struct pn_op_cpu pn_op_cpu_pool_mean = {
	.code = PNB_OP_POOL_MEAN, .run = run_pool_mean, .ref = ref_pool_mean,
};
const struct pn_op_cpu pn_op_cpu_pool_cls = { .code = PNB_OP_POOL_CLS, .run = run_pool_cls };
