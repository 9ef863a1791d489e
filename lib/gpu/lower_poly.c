// SPDX-License-Identifier: MIT
/*
 * lower_poly.c - the GPU lowerings (lower.h) of the PolyNet ops, in the
 * order of lib/exec/op_cpu_poly.c: poly_ffn (plain and codebook), vq (codes,
 * quantize, cache), cqa, macro, with the grids, blocks and shared memory of
 * their kernels' headers (kernels/ptx/cheb.ptx, polyffn_codes.ptx, vq.ptx,
 * cqa.ptx, macro.ptx, macro_experts.ptx).
 */
#include <errno.h>
#include <string.h>

#include "gpu/lower.h"

#define ROW_WARPS 8u			/* vq_assign, macro_route: a warp per row */
#define CQA_HASH_WARPS 8u		/* cqa_hash: a warp per query */
#define CQA_WARPS 4u			/* cqa_attend: threads per (sequence, head) / 32 */
#define FWD_BLOCK 128u			/* polyffn_code_table, macro_expert_fwd */
#define HD_MAX 128u			/* cqa.ptx: head size */

static const struct pn_gnode *node_of(const struct pn_gpu_env *e, uint32_t i)
{
	return &e->g->nodes[i];
}

/* Rows of the tensor in a node's weight slot (build checked it is there). */
static uint32_t w_rows(const struct pn_graph *g, const struct pn_gnode *n, uint32_t slot)
{
	const struct pnb_file *f = g->file;

	return (uint32_t)f->tensors[f->nodes[n->index].w[slot]].shape[0];
}

/* ---- POLY_FFN ------------------------------------------------------------------- */

/*
 * Plain: h1 = x W1 + b1 [rows, ff1] (ff1 = ff, gated 2ff); h = series(h1)
 * (in place), gated series(gate) * up into h [rows, ff] after h1 (cheb_series
 * must not pack in place); y = h W2 + b2. Codebook mode: the FFN of every
 * codebook row into a table [K, D] (polyffn_code_table, the scratch), then
 * y = table[codes] (vq_gather): K rows of work whatever the batch.
 */
static int cb_mode(const struct pn_gnode *n)
{
	return n->iattr[PNB_IA_POLYFFN_CODEBOOK];
}

static size_t polyffn_h_off(const struct pn_gnode *n, size_t rows)
{
	return n->iattr[PNB_IA_POLYFFN_GATED] ? pn_gpu_align(rows * 2 * n->ff * sizeof(float)) : 0;
}

static int plan_poly_ffn(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);
	size_t rows = pn_gpu_max_rows(e, n);

	if (cb_mode(n)) {
		uint32_t K = w_rows(e->g, n, PNB_W_POLYFFN_CODEBOOK);
		size_t smem = ((size_t)n->d_out + n->ff) * sizeof(float);

		if (smem > PN_GPU_SMEM_MAX)
			return pn_gpu_node_err(e, node, "D %u + ff %u: polyffn_code_table's shared "
					       "row takes at most %u floats", n->d_out, n->ff,
					       PN_GPU_SMEM_MAX / 4);
		pn->n_launches = 2;
		pn->kernel[0] = pn_gpu_kernel_find("polyffn_code_table");
		pn->kernel[1] = pn_gpu_kernel_find("vq_gather");
		pn->scratch_bytes = (size_t)K * n->d_out * sizeof(float);
		return 0;
	}
	if (rows * n->ff > UINT32_MAX)
		return pn_gpu_node_err(e, node, "%zu rows x ff %u: cheb_series counts at most "
				       "2^32 - 1 elements", rows, n->ff);
	pn->n_launches = 3;
	pn->kernel[1] = pn_gpu_kernel_find("cheb_series");
	pn->scratch_bytes = polyffn_h_off(n, rows) + rows * n->ff * sizeof(float);
	return pn_gpu_pick_gemm(e, node, rows, &pn->kernel[0]);
}

/* The series parameters shared by cheb_series and polyffn_code_table. */
static void series_params(struct pn_gpu_launch *l, const struct pn_gpu_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_POLYFFN_COEFS]));
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_POLYFFN_DEGREE]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_POLYFFN_EVEN]);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_POLYFFN_A]);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_POLYFFN_B]);
}

static void emit_poly_codes(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t K = w_rows(r->g, n, PNB_W_POLYFFN_CODEBOOK), D = n->d_out;
	uint64_t table = pn_gpu_scratch(r, 0);

	pn_gpu_launch_begin(l, r, "polyffn_code_table", K, 1, 1, FWD_BLOCK,
			    (D + n->ff) * (uint32_t)sizeof(float));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_POLYFFN_CODEBOOK]));
	pn_gpu_param_u64(l, table);
	pn_gpu_param_u32(l, K);
	pn_gpu_param_u32(l, D);
	pn_gpu_param_u32(l, n->ff);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_POLYFFN_GATED]);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_FFN_W1]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_FFN_B1]));
	series_params(l, r);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_FFN_W2]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_FFN_B2]));
	l++;
	pn_gpu_launch_begin(l, r, "vq_gather", pn_gpu_ew_grid((uint64_t)r->rows * D), 1, 1,
			    PN_GPU_EW_BLOCK, 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->in[0]));
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u64(l, table);
	pn_gpu_param_u32(l, D);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
}

static void emit_poly_ffn(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t ff = n->ff, D = n->d_out, gated = (uint32_t)n->iattr[PNB_IA_POLYFFN_GATED];
	uint64_t h1 = pn_gpu_scratch(r, 0), h = pn_gpu_scratch(r, polyffn_h_off(n, r->max_rows));
	uint64_t cnt = (uint64_t)r->rows * ff;

	if (cb_mode(n)) {
		emit_poly_codes(r, l);
		return;
	}
	pn_gpu_emit_gemm(l++, r, r->pn->kernel[0], pn_gpu_value(r, n->in[0]),
			 pn_gpu_weight(r, n->w[PNB_W_FFN_W1]), pn_gpu_weight(r, n->w[PNB_W_FFN_B1]),
			 h1, r->rows, gated ? 2 * ff : ff, D, PNB_ACT_NONE);
	pn_gpu_launch_begin(l, r, "cheb_series", pn_gpu_ew_grid(cnt), 1, 1, PN_GPU_EW_BLOCK, 0);
	pn_gpu_param_u64(l, h1);
	pn_gpu_param_u64(l, h);		/* plain: h == h1, in place */
	pn_gpu_param_u32(l, (uint32_t)cnt);
	pn_gpu_param_u32(l, ff);
	pn_gpu_param_u32(l, gated);
	series_params(l, r);
	l++;
	pn_gpu_emit_gemm(l, r, r->pn->kernel[0], h, pn_gpu_weight(r, n->w[PNB_W_FFN_W2]),
			 pn_gpu_weight(r, n->w[PNB_W_FFN_B2]), pn_gpu_value(r, n->out), r->rows, D,
			 ff, PNB_ACT_NONE);
}

const struct pn_gpu_lowering pn_gpu_lower_poly_ffn = {
	.op = PNB_OP_POLY_FFN, .plan = plan_poly_ffn, .emit = emit_poly_ffn,
};

/* ---- VQ ------------------------------------------------------------------------- */

/* Codes: vq_assign into the output. Quantize, cache: into the scratch, then vq_gather. */
static int plan_vq(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);

	pn->kernel[0] = pn_gpu_kernel_find("vq_assign");
	if (n->iattr[PNB_IA_VQ_MODE] == 0) {
		pn->n_launches = 1;
		return 0;
	}
	pn->n_launches = 2;
	pn->kernel[1] = pn_gpu_kernel_find("vq_gather");
	pn->scratch_bytes = pn_gpu_max_rows(e, n) * sizeof(int32_t);
	return 0;
}

static void emit_vq(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t mode = (uint32_t)n->iattr[PNB_IA_VQ_MODE];
	uint64_t codes = mode == 0 ? pn_gpu_value(r, n->out) : pn_gpu_scratch(r, 0);

	pn_gpu_launch_begin(l, r, "vq_assign", pn_gpu_cdiv(r->rows, ROW_WARPS), 1, 1,
			    32 * ROW_WARPS, 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->in[0]));
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, n->d_in);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_VQ_CODEBOOK]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_VQ_NORMS]));
	pn_gpu_param_u32(l, n->ff);		/* K */
	pn_gpu_param_u64(l, codes);
	pn_gpu_param_u64(l, 0);			/* no distances */
	if (mode == 0)
		return;
	l++;
	pn_gpu_launch_begin(l, r, "vq_gather", pn_gpu_ew_grid((uint64_t)r->rows * n->d_out), 1, 1,
			    PN_GPU_EW_BLOCK, 0);
	pn_gpu_param_u64(l, codes);
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[mode == 1 ? PNB_W_VQ_CODEBOOK : PNB_W_VQ_TABLE]));
	pn_gpu_param_u32(l, n->d_out);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
}

const struct pn_gpu_lowering pn_gpu_lower_vq = {
	.op = PNB_OP_VQ, .plan = plan_vq, .emit = emit_vq,
};

/* ---- CQA ------------------------------------------------------------------------ */

/*
 * cqa_hash then cqa_attend, the hashes u64 [B, heads, T] in the scratch.
 * cqa_attend's shared memory is sized for max_tokens (the kernel places its
 * arrays by the real T, so a larger allocation is only unused): the same
 * launch shape for every T.
 */
static uint32_t cqa_smem(const struct pn_gnode *n, uint32_t T)
{
	uint32_t C = (uint32_t)n->iattr[PNB_IA_CQA_CLUSTERS], Cm = C < T ? C : T;
	uint32_t hd = n->d_out / n->heads;

	return 12 * T + 12 * Cm + 256 + 4 * Cm * hd +
	       (n->iattr[PNB_IA_CQA_TOPK] ? 12 * T * CQA_WARPS : 0);
}

static int plan_cqa(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);
	uint32_t hd = n->d_out / n->heads;
	uint64_t smem;

	if (hd > HD_MAX)
		return pn_gpu_node_err(e, node, "head size %u: cqa.ptx takes at most %u", hd,
				       HD_MAX);
	if (n->heads > PN_GPU_GRID_YZ_MAX || e->max_batch > PN_GPU_GRID_YZ_MAX)
		return pn_gpu_node_err(e, node, "%u heads x batch %u: cqa.ptx's grid takes at "
				       "most %u of each", n->heads, e->max_batch,
				       PN_GPU_GRID_YZ_MAX);
	smem = cqa_smem(n, e->max_tokens);
	if (smem > PN_GPU_SMEM_MAX)
		return pn_gpu_node_err(e, node, "%u tokens: cqa_attend's shared memory would be "
				       "%llu bytes, at most %u", e->max_tokens,
				       (unsigned long long)smem, PN_GPU_SMEM_MAX);
	pn->n_launches = 2;
	pn->kernel[0] = pn_gpu_kernel_find("cqa_hash");
	pn->kernel[1] = pn_gpu_kernel_find("cqa_attend");
	pn->scratch_bytes = (size_t)e->max_batch * n->heads * e->max_tokens * sizeof(uint64_t);
	return 0;
}

static void emit_cqa(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t hd = n->d_out / n->heads, bits = w_rows(r->g, n, PNB_W_CQA_PLANES);
	uint64_t qkv = pn_gpu_value(r, n->in[0]), hash = pn_gpu_scratch(r, 0);

	pn_gpu_launch_begin(l, r, "cqa_hash", pn_gpu_cdiv(r->T, CQA_HASH_WARPS), n->heads, r->B,
			    32 * CQA_HASH_WARPS, 0);
	pn_gpu_param_u64(l, qkv);
	pn_gpu_param_u64(l, r->mem->lens);
	pn_gpu_param_u64(l, hash);
	pn_gpu_param_u32(l, r->T);
	pn_gpu_param_u32(l, n->d_out);
	pn_gpu_param_u32(l, hd);
	pn_gpu_param_u32(l, bits);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_CQA_PLANES]));
	l++;
	pn_gpu_launch_begin(l, r, "cqa_attend", n->heads, r->B, 1, 32 * CQA_WARPS,
			    cqa_smem(n, r->max_tokens));
	pn_gpu_param_u64(l, qkv);
	pn_gpu_param_u64(l, r->mem->lens);
	pn_gpu_param_u64(l, hash);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
	pn_gpu_param_u32(l, r->T);
	pn_gpu_param_u32(l, n->d_out);
	pn_gpu_param_u32(l, hd);
	pn_gpu_param_u32(l, bits);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_CQA_CLUSTERS]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_CQA_ITERS]);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_CQA_SCALE]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_CQA_TOPK]);
}

const struct pn_gpu_lowering pn_gpu_lower_cqa = {
	.op = PNB_OP_CQA, .plan = plan_cqa, .emit = emit_cqa,
};

/* ---- MACRO ---------------------------------------------------------------------- */

/* macro_route (picks u32 and gates f32 [rows, topk] in the scratch), then macro_expert_fwd. */
static size_t macro_gate_off(const struct pn_gnode *n, size_t rows)
{
	return pn_gpu_align(rows * (uint32_t)n->iattr[PNB_IA_MACRO_TOPK] * sizeof(uint32_t));
}

static int plan_macro(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);
	size_t rows = pn_gpu_max_rows(e, n), smem = ((size_t)n->d_in + n->ff) * sizeof(float);

	if (smem > PN_GPU_SMEM_MAX)
		return pn_gpu_node_err(e, node, "D %u + rank %u: macro_expert_fwd's shared row "
				       "takes at most %u floats", n->d_in, n->ff,
				       PN_GPU_SMEM_MAX / 4);
	pn->n_launches = 2;
	pn->kernel[0] = pn_gpu_kernel_find("macro_route");
	pn->kernel[1] = pn_gpu_kernel_find("macro_expert_fwd");
	pn->scratch_bytes = 2 * macro_gate_off(n, rows);
	return 0;
}

static void emit_macro(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t topk = (uint32_t)n->iattr[PNB_IA_MACRO_TOPK], D = n->d_in;
	uint64_t x = pn_gpu_value(r, n->in[0]), pick = pn_gpu_scratch(r, 0);
	uint64_t gate = pn_gpu_scratch(r, macro_gate_off(n, r->max_rows));

	pn_gpu_launch_begin(l, r, "macro_route", pn_gpu_cdiv(r->rows, ROW_WARPS), 1, 1,
			    32 * ROW_WARPS, 0);
	pn_gpu_param_u64(l, x);
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, D);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_ROUTER]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_ROUTER_B]));
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_MACRO_EXPERTS]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_MACRO_ROUTER]);
	pn_gpu_param_u32(l, topk);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_MACRO_TAU]);
	pn_gpu_param_u64(l, pick);
	pn_gpu_param_u64(l, gate);
	l++;
	pn_gpu_launch_begin(l, r, "macro_expert_fwd", r->rows, 1, 1, FWD_BLOCK,
			    (D + n->ff) * (uint32_t)sizeof(float));
	pn_gpu_param_u64(l, x);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, D);
	pn_gpu_param_u64(l, pick);
	pn_gpu_param_u64(l, gate);
	pn_gpu_param_u32(l, topk);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_W1]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_B1]));
	pn_gpu_param_u32(l, n->ff);		/* rank */
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_COEFS]));
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_MACRO_DEGREE]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_MACRO_EVEN]);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_MACRO_A]);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_MACRO_B]);
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_W2]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_MACRO_B2]));
}

const struct pn_gpu_lowering pn_gpu_lower_macro = {
	.op = PNB_OP_MACRO, .plan = plan_macro, .emit = emit_macro,
};
