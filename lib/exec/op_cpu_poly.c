// SPDX-License-Identifier: MIT
/*
 * op_cpu_poly.c - the CPU half (op_cpu.h) of the PolyNet ops, one block per
 * op in the order of their descriptors in lib/ops/, and the CPU table.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/packed.h"
#include "cpu/poly.h"
#include "exec/op_cpu.h"

/* Rows of the tensor in a node's weight slot (build checked it is there). */
static uint32_t w_rows(const struct pnb_file *f, const struct pn_gnode *n, uint32_t slot)
{
	return (uint32_t)f->tensors[f->nodes[n->index].w[slot]].shape[0];
}

/* ---- POLY_FFN (lib/ops/op_polyffn.c) --------------------------------------- */

static struct pn_cheb polyffn_series(const struct pn_gnode *n)
{
	return (struct pn_cheb){
		.c = n->w[PNB_W_POLYFFN_COEFS],
		.act = (uint32_t)n->iattr[PNB_IA_POLYFFN_ACT],
		.degree = (uint32_t)n->iattr[PNB_IA_POLYFFN_DEGREE],
		.even = n->iattr[PNB_IA_POLYFFN_EVEN],
		.a = n->fattr[PNB_FA_POLYFFN_A], .b = n->fattr[PNB_FA_POLYFFN_B],
	};
}

static size_t scratch_poly_ffn(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			       uint32_t max_tokens, uint32_t nthreads)
{
	(void)max_tokens;
	(void)nthreads;
	if (n->iattr[PNB_IA_POLYFFN_CODEBOOK])
		return pn_polyffn_codes_scratch((uint32_t)rows, w_rows(f, n, PNB_W_POLYFFN_CODEBOOK),
						n->d_out, n->ff, n->iattr[PNB_IA_POLYFFN_GATED]);
	return pn_polyffn_scratch((uint32_t)rows, n->ff, n->iattr[PNB_IA_POLYFFN_GATED]);
}

static void run_poly_ffn(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_cheb p = polyffn_series(n);
	struct pn_ffn_w w = pn_node_ffn_w(n, n->iattr[PNB_IA_POLYFFN_GATED]);

	if (n->iattr[PNB_IA_POLYFFN_CODEBOOK])	/* in[0] holds the VQ node's I32 codes */
		pn_polyffn_codes(r->pool, (const int32_t *)r->in[0], r->rows,
				 n->w[PNB_W_POLYFFN_CODEBOOK], w_rows(r->f, n, PNB_W_POLYFFN_CODEBOOK),
				 &w, &p, r->y, r->scratch, NULL);
	else
		pn_polyffn(r->pool, r->in[0], r->rows, &w, &p, r->y, r->scratch);
}

/* The twin of the plain (not codebook) mode. */
static void ref_poly_ffn(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_cheb p = polyffn_series(n);

	pn_ref_polyffn(r->in[0], r->rows, n->d_in, n->ff, n->iattr[PNB_IA_POLYFFN_GATED], &p,
		       n->w[PNB_W_FFN_W1], n->w[PNB_W_FFN_B1], n->w[PNB_W_FFN_W2],
		       n->w[PNB_W_FFN_B2], r->y);
}

const struct pn_op_cpu pn_op_cpu_poly_ffn = {
	.code = PNB_OP_POLY_FFN, .scratch = scratch_poly_ffn, .run = run_poly_ffn,
	.ref = ref_poly_ffn,
};

/* ---- VQ (lib/ops/op_vq.c) ------------------------------------------------- */

/* + the codes, when the node outputs rows (they go through the scratch's tail) */
static size_t scratch_vq(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			 uint32_t max_tokens, uint32_t nthreads)
{
	(void)f;
	(void)max_tokens;
	(void)nthreads;
	return pn_vq_scratch(n->ff) + rows;
}

static const float *vq_gather_table(const struct pn_gnode *n)
{
	return n->iattr[PNB_IA_VQ_MODE] == PN_VQ_QUANTIZE ? n->w[PNB_W_VQ_CODEBOOK] :
							    n->w[PNB_W_VQ_TABLE];
}

static void run_vq(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	int32_t *codes = (int32_t *)(r->scratch + pn_vq_scratch(n->ff));

	if (n->iattr[PNB_IA_VQ_MODE] == PN_VQ_CODES) {
		pn_vq_assign(r->in[0], r->rows, n->d_in, n->w[PNB_W_VQ_CODEBOOK],
			     n->w[PNB_W_VQ_NORMS], n->ff, (int32_t *)r->y, NULL, r->scratch);
		return;
	}
	pn_vq_assign(r->in[0], r->rows, n->d_in, n->w[PNB_W_VQ_CODEBOOK], n->w[PNB_W_VQ_NORMS],
		     n->ff, codes, NULL, r->scratch);
	pn_vq_gather(codes, r->rows, vq_gather_table(n), n->d_out, r->y);
}

static void ref_vq(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	int32_t *codes = (int32_t *)(r->scratch + pn_vq_scratch(n->ff));

	if (n->iattr[PNB_IA_VQ_MODE] == PN_VQ_CODES) {
		pn_ref_vq_assign(r->in[0], r->rows, n->d_in, n->w[PNB_W_VQ_CODEBOOK], n->ff,
				 (int32_t *)r->y, NULL);
		return;
	}
	pn_ref_vq_assign(r->in[0], r->rows, n->d_in, n->w[PNB_W_VQ_CODEBOOK], n->ff, codes, NULL);
	pn_vq_gather(codes, r->rows, vq_gather_table(n), n->d_out, r->y);
}

const struct pn_op_cpu pn_op_cpu_vq = {
	.code = PNB_OP_VQ, .scratch = scratch_vq, .run = run_vq, .ref = ref_vq,
};

/* ---- CQA (lib/ops/op_cqa.c) ----------------------------------------------- */

static struct pn_cqa node_cqa(const struct pnb_file *f, const struct pn_gnode *n)
{
	return (struct pn_cqa){
		.heads = n->heads, .clusters = (uint32_t)n->iattr[PNB_IA_CQA_CLUSTERS],
		.bits = w_rows(f, n, PNB_W_CQA_PLANES), .topk = (uint32_t)n->iattr[PNB_IA_CQA_TOPK],
		.iters = (uint32_t)n->iattr[PNB_IA_CQA_ITERS], .scale = n->fattr[PNB_FA_CQA_SCALE],
		.planes = n->w[PNB_W_CQA_PLANES],
	};
}

static size_t scratch_cqa(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			  uint32_t max_tokens, uint32_t nthreads)
{
	struct pn_cqa c = node_cqa(f, n);

	(void)rows;
	return pn_cqa_scratch(max_tokens, n->d_out, &c, nthreads);
}

static void run_cqa(const struct pn_op_run *r)
{
	struct pn_cqa c = node_cqa(r->f, r->n);

	pn_cqa(r->pool, r->in[0], r->B, r->T, r->lens, r->n->d_out, &c, r->y, r->scratch);
}

/* pn_ref_cqa exists, but a hash bit that flips between the GEMM and the
 * plain dot product moves a query to another cluster: it is compared in
 * tests/unit/test_cqa.c on inputs built for it, not by test_ops' random
 * node, so it is not bound here. */
const struct pn_op_cpu pn_op_cpu_cqa = {
	.code = PNB_OP_CQA, .scratch = scratch_cqa, .run = run_cqa,
};

/* ---- MACRO (lib/ops/op_macro.c) ------------------------------------------- */

static struct pn_macro node_macro(const struct pn_gnode *n)
{
	return (struct pn_macro){
		.E = (uint32_t)n->iattr[PNB_IA_MACRO_EXPERTS], .rank = n->ff,
		.router = (uint32_t)n->iattr[PNB_IA_MACRO_ROUTER],
		.topk = (uint32_t)n->iattr[PNB_IA_MACRO_TOPK],
		.temperature = n->fattr[PNB_FA_MACRO_TAU],
		.router_w = n->w[PNB_W_MACRO_ROUTER], .router_b = n->w[PNB_W_MACRO_ROUTER_B],
		.W1 = n->w[PNB_W_MACRO_W1], .b1 = n->w[PNB_W_MACRO_B1],
		.coefs = n->w[PNB_W_MACRO_COEFS], .W2 = n->w[PNB_W_MACRO_W2],
		.b2 = n->w[PNB_W_MACRO_B2],
		.cheb = {
			.c = NULL,
			.act = (uint32_t)n->iattr[PNB_IA_MACRO_ACT],
			.degree = (uint32_t)n->iattr[PNB_IA_MACRO_DEGREE],
			.even = n->iattr[PNB_IA_MACRO_EVEN],
			.a = n->fattr[PNB_FA_MACRO_A], .b = n->fattr[PNB_FA_MACRO_B],
		},
	};
}

static size_t scratch_macro(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			    uint32_t max_tokens, uint32_t nthreads)
{
	struct pn_macro m = node_macro(n);

	(void)f;
	(void)max_tokens;
	(void)nthreads;
	return pn_macro_scratch((uint32_t)rows, n->d_out, &m);
}

static void run_macro(const struct pn_op_run *r)
{
	struct pn_macro m = node_macro(r->n);

	pn_macro(r->pool, r->in[0], r->rows, r->n->d_in, &m, r->y, r->scratch);
}

/* pn_ref_macro: as CQA, the router's argmax is discrete; tests/unit/test_macro.c. */
const struct pn_op_cpu pn_op_cpu_macro = {
	.code = PNB_OP_MACRO, .scratch = scratch_macro, .run = run_macro,
};

/* ---- the CPU table --------------------------------------------------------- */

static const struct pn_op_cpu *const table[PN_OP_MAX + 1] = {
	[PNB_OP_EMBED] = &pn_op_cpu_embed,
	[PNB_OP_LAYERNORM] = &pn_op_cpu_layernorm,
	[PNB_OP_RMSNORM] = &pn_op_cpu_rmsnorm,
	[PNB_OP_LINEAR] = &pn_op_cpu_linear,
	[PNB_OP_ACT] = &pn_op_cpu_act,
	[PNB_OP_ADD] = &pn_op_cpu_add,
	[PNB_OP_FFN] = &pn_op_cpu_ffn,
	[PNB_OP_ATTENTION] = &pn_op_cpu_attention,
	[PNB_OP_POOL_MEAN] = &pn_op_cpu_pool_mean,
	[PNB_OP_POOL_CLS] = &pn_op_cpu_pool_cls,
	[PNB_OP_L2NORM] = &pn_op_cpu_l2norm,
	[PNB_OP_SOFTMAX] = &pn_op_cpu_softmax,
	[PNB_OP_ROPE] = &pn_op_cpu_rope,
	[PNB_OP_ATTN_CACHE] = &pn_op_cpu_attn_cache,
	[PNB_OP_LOGITS] = &pn_op_cpu_logits,
	[PNB_OP_POLY_FFN] = &pn_op_cpu_poly_ffn,
	[PNB_OP_VQ] = &pn_op_cpu_vq,
	[PNB_OP_CQA] = &pn_op_cpu_cqa,
	[PNB_OP_MACRO] = &pn_op_cpu_macro,
};

const struct pn_op_cpu *pn_op_cpu_get(uint32_t op)
{
	return op <= PN_OP_MAX ? table[op] : NULL;
}

void pn_cpu_node_release(struct pn_cpu_node *cn)
{
	if (!cn->pos_in_store)
		free(cn->pos_table);
	pn_packed_w_free(cn->packed[0]);
	pn_packed_w_free(cn->packed[1]);
	free(cn->colsum[0]);
	free(cn->colsum[1]);
	memset(cn->q, 0, sizeof(cn->q));
	cn->colsum[0] = cn->colsum[1] = NULL;
	cn->pos_table = NULL;
	cn->pos_in_store = false;
	cn->packed[0] = cn->packed[1] = NULL;
}
