// SPDX-License-Identifier: MIT
/*
 * lower_std.c - the GPU lowerings (lower.h) of the standard ops, one block
 * per op in the order of lib/exec/op_cpu_std.c, each launching the kernels
 * its descriptor names (lib/ops/, pn_op.ptx) with the grid, block and
 * parameters of the kernel's header comment in kernels/ptx/.
 *
 * Padded rows: TOKENS values are [B, T, width] rows b*T + t, as on the CPU.
 * Row-wise kernels compute the padded rows too (their results are never
 * read by a valid row); attention and pool_mean take lens and look only at
 * t < lens[b], which is what keeps the padding out of the valid rows.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "gpu/lower.h"

#define GEMM_ROWS_MAX 16		/* gemm_f32_rows for M <= 16 (gemm_f32.ptx) */
#define ATTN_HD_MAX 128u		/* attention.ptx: lanes own 4 columns each */
#define ATTN_WARPS 4u			/* 4 warps x 4 query rows per CTA */
#define EW_GRID_MAX 4096u		/* element kernels' CTAs at most (they grid-stride) */

static const struct pn_gnode *node_of(const struct pn_gpu_env *e, uint32_t i)
{
	return &e->g->nodes[i];
}

size_t pn_gpu_max_rows(const struct pn_gpu_env *e, const struct pn_gnode *n)
{
	return e->g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ? e->max_batch :
	       (size_t)e->max_batch * e->max_tokens;
}

/*
 * Threads for a kernel that walks a row of d floats by float4s (norms,
 * embed, add_rows): one float4 per thread, whole warps, 32..256.
 */
static uint32_t row_block(uint32_t d)
{
	uint32_t t = (pn_gpu_cdiv(d, 4) + 31) / 32 * 32;

	return t < 32 ? 32 : t > 256 ? 256 : t;
}

/* float4 per thread, grid-stride past the cap */
uint32_t pn_gpu_ew_grid(uint64_t n)
{
	uint32_t g = pn_gpu_cdiv(n, 4 * PN_GPU_EW_BLOCK);

	return g > EW_GRID_MAX ? EW_GRID_MAX : g;
}

/* ---- GEMMs, shared by linear and ffn ------------------------------------------ */

/* The GEMM entry for up to rows rows, or -EINVAL past gemm_f32's grid. */
int pn_gpu_pick_gemm(const struct pn_gpu_env *e, uint32_t node, size_t rows, int32_t *kernel)
{
	if (rows <= GEMM_ROWS_MAX) {
		*kernel = pn_gpu_kernel_find("gemm_f32_rows");
		return 0;
	}
	if (pn_gpu_cdiv(rows, 64) > PN_GPU_GRID_YZ_MAX)
		return pn_gpu_node_err(e, node, "%zu rows: gemm_f32 takes at most %u (grid y "
				       "of 64-row tiles <= %u)", rows, PN_GPU_GRID_YZ_MAX * 64,
				       PN_GPU_GRID_YZ_MAX);
	*kernel = pn_gpu_kernel_find("gemm_f32");
	return 0;
}

/* C [M, N] = act(A [M, K] B [K, N] + bias) with the planned entry. */
void pn_gpu_emit_gemm(struct pn_gpu_launch *l, const struct pn_gpu_run *r, int32_t kernel,
		      uint64_t A, uint64_t B, uint64_t bias, uint64_t C, uint32_t M, uint32_t N,
		      uint32_t K, uint32_t act)
{
	const char *entry = pn_gpu_kernels[kernel].entry;

	if (!strcmp(entry, "gemm_f32_rows"))	/* 16 rows x 32 columns per CTA */
		pn_gpu_launch_begin(l, r, entry, pn_gpu_cdiv(N, 32), pn_gpu_cdiv(M, 16), 1,
				    256, 0);
	else					/* 64 x 64 tiles */
		pn_gpu_launch_begin(l, r, entry, pn_gpu_cdiv(N, 64), pn_gpu_cdiv(M, 64), 1,
				    256, 0);
	pn_gpu_param_u64(l, A);
	pn_gpu_param_u64(l, B);
	pn_gpu_param_u64(l, bias);
	pn_gpu_param_u64(l, C);
	pn_gpu_param_u32(l, M);
	pn_gpu_param_u32(l, N);
	pn_gpu_param_u32(l, K);
	pn_gpu_param_u32(l, act);
}

/* ---- EMBED ------------------------------------------------------------------ */

/*
 * Sin/cos positions are tabulated into the consts area with the CPU's own
 * formula (lib/exec/op_cpu_std.c prepare_embed: a float32 angle, the host's
 * sinf/cosf), and the kernel runs as LEARNED over that table: the GPU's
 * embedding is then the CPU's to the bit, where the kernel's own sin/cos
 * would be within 6.8e-8 only.
 */
static int plan_embed(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);

	pn->n_launches = 1;
	pn->kernel[0] = pn_gpu_kernel_find("embed_f32");
	if (n->iattr[PNB_IA_EMBED_POS_KIND] == PNB_POS_SINCOS)
		pn->consts_bytes = (size_t)e->max_tokens * n->d_out * sizeof(float);
	return 0;
}

static void fill_embed(const struct pn_gpu_env *e, uint32_t node, const struct pn_gpu_node *pn,
		       void *dst)
{
	const struct pn_gnode *n = node_of(e, node);
	const float *inv = n->w[PNB_W_EMBED_INV_FREQ];
	uint32_t D = n->d_out, half = D / 2;
	float *p = dst;

	(void)pn;
	for (uint32_t t = 0; t < e->max_tokens; t++) {
		for (uint32_t i = 0; i < half; i++) {
			float a = (float)t * inv[i];

			p[(size_t)t * D + i] = sinf(a);
			p[(size_t)t * D + half + i] = cosf(a);
		}
		for (uint32_t i = 2 * half; i < D; i++)	/* odd D: no pair, as pn_embed */
			p[(size_t)t * D + i] = 0.0f;
	}
}

static void emit_embed(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t kind = (uint32_t)n->iattr[PNB_IA_EMBED_POS_KIND];
	uint64_t pos = pn_gpu_weight(r, n->w[PNB_W_EMBED_POS]);

	if (kind == PNB_POS_SINCOS) {	/* the table of fill_embed */
		kind = PNB_POS_LEARNED;
		pos = pn_gpu_consts(r);
	}
	/* one CTA per token row */
	pn_gpu_launch_begin(l, r, "embed_f32", r->B * r->T, 1, 1, row_block(n->d_out), 0);
	pn_gpu_param_u64(l, r->mem->ids);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_EMBED_TABLE]));
	pn_gpu_param_u64(l, pos);
	pn_gpu_param_u64(l, 0);		/* inv_freq: only for the kernel's own sin/cos */
	pn_gpu_param_u64(l, pn_gpu_weight(r, n->w[PNB_W_EMBED_TYPE]));
	pn_gpu_param_u32(l, r->B);
	pn_gpu_param_u32(l, r->T);
	pn_gpu_param_u32(l, n->d_out);
	pn_gpu_param_u32(l, kind);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_EMBED_SCALE]);
}

const struct pn_gpu_lowering pn_gpu_lower_embed = {
	.op = PNB_OP_EMBED, .plan = plan_embed, .fill_consts = fill_embed, .emit = emit_embed,
};

/* ---- LAYERNORM, RMSNORM, L2NORM, SOFTMAX: one CTA per row ------------------------- */

static int plan_one(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn,
		    const char *entry)
{
	(void)e;
	(void)node;
	pn->n_launches = 1;
	pn->kernel[0] = pn_gpu_kernel_find(entry);
	return 0;
}

static int plan_layernorm(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, "layernorm_f32");
}

static int plan_rmsnorm(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, "rmsnorm_f32");
}

static int plan_l2norm(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, "l2norm_f32");
}

static int plan_softmax(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, "softmax_f32");
}

/* x, y of a row kernel; rows strided over ctaid.x, so one CTA per row. */
static void begin_rows(struct pn_gpu_launch *l, const struct pn_gpu_run *r, const char *entry)
{
	pn_gpu_launch_begin(l, r, entry, r->rows, 1, 1, row_block(r->n->d_in), 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, r->n->in[0]));
	pn_gpu_param_u64(l, pn_gpu_value(r, r->n->out));
}

static void emit_layernorm(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	begin_rows(l, r, "layernorm_f32");
	pn_gpu_param_u64(l, pn_gpu_weight(r, r->n->w[PNB_W_NORM_GAMMA]));
	pn_gpu_param_u64(l, pn_gpu_weight(r, r->n->w[PNB_W_NORM_BETA]));
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, r->n->d_in);
	pn_gpu_param_f32(l, r->n->fattr[PNB_FA_NORM_EPS]);
}

static void emit_rmsnorm(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	begin_rows(l, r, "rmsnorm_f32");
	pn_gpu_param_u64(l, pn_gpu_weight(r, r->n->w[PNB_W_NORM_GAMMA]));
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, r->n->d_in);
	pn_gpu_param_f32(l, r->n->fattr[PNB_FA_NORM_EPS]);
}

static void emit_l2norm(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	begin_rows(l, r, "l2norm_f32");
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, r->n->d_in);
	pn_gpu_param_f32(l, r->n->fattr[PNB_FA_L2NORM_EPS]);
}

static void emit_softmax(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	begin_rows(l, r, "softmax_f32");
	pn_gpu_param_u32(l, r->rows);
	pn_gpu_param_u32(l, r->n->d_in);
}

const struct pn_gpu_lowering pn_gpu_lower_layernorm = {
	.op = PNB_OP_LAYERNORM, .plan = plan_layernorm, .emit = emit_layernorm,
};
const struct pn_gpu_lowering pn_gpu_lower_rmsnorm = {
	.op = PNB_OP_RMSNORM, .plan = plan_rmsnorm, .emit = emit_rmsnorm,
};
const struct pn_gpu_lowering pn_gpu_lower_l2norm = {
	.op = PNB_OP_L2NORM, .plan = plan_l2norm, .emit = emit_l2norm,
};
const struct pn_gpu_lowering pn_gpu_lower_softmax = {
	.op = PNB_OP_SOFTMAX, .plan = plan_softmax, .emit = emit_softmax,
};

/* ---- LINEAR, ACT, ADD ---------------------------------------------------------- */

/* The PTX GEMMs take f32 weights only: an I8 or BF16 one is refused by name. */
static int want_f32_gemm_w(const struct pn_gpu_env *e, uint32_t node, uint32_t w)
{
	const struct pn_gnode *n = node_of(e, node);

	if (!pn_w_quantized(n, w))
		return 0;
	return pn_gpu_node_err(e, node, "weight slot %u is %s: kernels/ptx has no %s GEMM yet "
			       "(an int8 mma.sync path is missing); run this model on the CPU "
			       "backend", w, pnb_dtype_name(n->w_dtype[w]),
			       n->w_dtype[w] == PNB_DTYPE_I8 ? "int8" : "bf16-weight");
}

static int plan_linear(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	pn->n_launches = 1;
	return want_f32_gemm_w(e, node, PNB_W_LINEAR_W) ?:
	       pn_gpu_pick_gemm(e, node, pn_gpu_max_rows(e, node_of(e, node)), &pn->kernel[0]);
}

static void emit_linear(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;

	pn_gpu_emit_gemm(l, r, r->pn->kernel[0], pn_gpu_value(r, n->in[0]),
		  pn_gpu_weight(r, n->w[PNB_W_LINEAR_W]), pn_gpu_weight(r, n->w[PNB_W_LINEAR_B]),
		  pn_gpu_value(r, n->out), r->rows, n->d_out, n->d_in,
		  (uint32_t)n->iattr[PNB_IA_LINEAR_ACT]);
}

static int plan_act(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, "act_f32");
}

static void emit_act(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	uint64_t n = (uint64_t)r->rows * r->n->d_in;

	pn_gpu_launch_begin(l, r, "act_f32", pn_gpu_ew_grid(n), 1, 1, PN_GPU_EW_BLOCK, 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, r->n->in[0]));
	pn_gpu_param_u64(l, pn_gpu_value(r, r->n->out));
	pn_gpu_param_u64(l, n);
	pn_gpu_param_u32(l, (uint32_t)r->n->iattr[PNB_IA_ACT_ACT]);
}

/* TOKENS + SEQ (one sequence row added to each of its token rows): add_rows_f32. */
static int add_rows(const struct pn_graph *g, const struct pn_gnode *n)
{
	return g->values[n->in[0]].layout != g->values[n->in[1]].layout;
}

static int plan_add(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	return plan_one(e, node, pn, add_rows(e->g, node_of(e, node)) ? "add_rows_f32" :
				     "add_f32");
}

static void emit_add(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint64_t a = pn_gpu_value(r, n->in[0]), b = pn_gpu_value(r, n->in[1]);
	uint64_t y = pn_gpu_value(r, n->out), cnt = (uint64_t)r->rows * n->d_in;

	if (add_rows(r->g, n)) {	/* one CTA per token row */
		pn_gpu_launch_begin(l, r, "add_rows_f32", r->rows, 1, 1, row_block(n->d_in), 0);
		pn_gpu_param_u64(l, a);
		pn_gpu_param_u64(l, b);
		pn_gpu_param_u64(l, y);
		pn_gpu_param_u32(l, r->rows);
		pn_gpu_param_u32(l, r->T);
		pn_gpu_param_u32(l, n->d_in);
		return;
	}
	pn_gpu_launch_begin(l, r, "add_f32", pn_gpu_ew_grid(cnt), 1, 1, PN_GPU_EW_BLOCK, 0);
	pn_gpu_param_u64(l, a);
	pn_gpu_param_u64(l, b);
	pn_gpu_param_u64(l, y);
	pn_gpu_param_u64(l, cnt);
}

const struct pn_gpu_lowering pn_gpu_lower_linear = {
	.op = PNB_OP_LINEAR, .plan = plan_linear, .emit = emit_linear,
};
const struct pn_gpu_lowering pn_gpu_lower_act = {
	.op = PNB_OP_ACT, .plan = plan_act, .emit = emit_act,
};
const struct pn_gpu_lowering pn_gpu_lower_add = {
	.op = PNB_OP_ADD, .plan = plan_add, .emit = emit_add,
};

/* ---- FFN ------------------------------------------------------------------------ */

/*
 * Plain: h = act(x W1 + b1) (the activation fused in the GEMM's epilogue,
 * as the CPU fuses it), y = h W2 + b2; scratch h [rows, ff].
 * Gated: g = x W1 + b1 [rows, 2ff] = [gate | up], h = act(gate) * up
 * (glu_f32, which must not write in place), y = h W2 + b2; scratch
 * g [rows, 2ff] then h [rows, ff].
 */
static size_t ffn_h_off(const struct pn_gnode *n, size_t rows)
{
	return n->iattr[PNB_IA_FFN_GATED] ? pn_gpu_align(rows * 2 * n->ff * sizeof(float)) : 0;
}

static int plan_ffn(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);
	size_t rows = pn_gpu_max_rows(e, n);
	int r = want_f32_gemm_w(e, node, PNB_W_FFN_W1) ?: want_f32_gemm_w(e, node, PNB_W_FFN_W2) ?:
		pn_gpu_pick_gemm(e, node, rows, &pn->kernel[0]);

	pn->n_launches = n->iattr[PNB_IA_FFN_GATED] ? 3 : 2;
	if (n->iattr[PNB_IA_FFN_GATED])
		pn->kernel[1] = pn_gpu_kernel_find("glu_f32");
	pn->scratch_bytes = ffn_h_off(n, rows) + rows * n->ff * sizeof(float);
	return r;
}

static void emit_ffn(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	uint32_t act = (uint32_t)n->iattr[PNB_IA_FFN_ACT], ff = n->ff;
	/* offsets from the planned maximum, so h never moves with B and T */
	uint64_t g = pn_gpu_scratch(r, 0), h = pn_gpu_scratch(r, ffn_h_off(n, r->max_rows));
	uint64_t x = pn_gpu_value(r, n->in[0]), b1 = pn_gpu_weight(r, n->w[PNB_W_FFN_B1]);
	uint64_t W1 = pn_gpu_weight(r, n->w[PNB_W_FFN_W1]);

	if (n->iattr[PNB_IA_FFN_GATED]) {
		pn_gpu_emit_gemm(l++, r, r->pn->kernel[0], x, W1, b1, g, r->rows, 2 * ff, n->d_in,
			  PNB_ACT_NONE);
		pn_gpu_launch_begin(l, r, "glu_f32", pn_gpu_ew_grid((uint64_t)r->rows * ff), 1, 1,
				    PN_GPU_EW_BLOCK, 0);
		pn_gpu_param_u64(l, g);
		pn_gpu_param_u64(l, h);
		pn_gpu_param_u32(l, r->rows);
		pn_gpu_param_u32(l, ff);
		pn_gpu_param_u32(l, act);
		l++;
	} else {
		pn_gpu_emit_gemm(l++, r, r->pn->kernel[0], x, W1, b1, h, r->rows, ff, n->d_in, act);
	}
	pn_gpu_emit_gemm(l, r, r->pn->kernel[0], h, pn_gpu_weight(r, n->w[PNB_W_FFN_W2]),
		  pn_gpu_weight(r, n->w[PNB_W_FFN_B2]), pn_gpu_value(r, n->out), r->rows,
		  n->d_in, ff, PNB_ACT_NONE);
}

const struct pn_gpu_lowering pn_gpu_lower_ffn = {
	.op = PNB_OP_FFN, .plan = plan_ffn, .emit = emit_ffn,
};

/* ---- ATTENTION ------------------------------------------------------------------ */

/* attention_tiled's dynamic shared bytes (attention.ptx: Ks, Vs, Qs, Os, Ms, Ls). */
static uint32_t attn_smem(uint32_t hd)
{
	uint32_t R = 4 * ATTN_WARPS;

	return 4 * (32 * (2 * hd + 1) + 2 * R * hd + 64 * R);
}

/*
 * attention_tiled shares each k/v chunk among the CTA's 16 query rows;
 * where its shared memory would pass the 48 KiB a launch gets without
 * cuFuncSetAttribute (hd > 117), attention_fwd (no shared memory) runs.
 */
static int plan_attention(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	const struct pn_gnode *n = node_of(e, node);
	uint32_t hd = n->d_out / n->heads;

	if (hd > ATTN_HD_MAX)
		return pn_gpu_node_err(e, node, "head size %u: attention.ptx takes at most %u",
				       hd, ATTN_HD_MAX);
	if (n->heads > PN_GPU_GRID_YZ_MAX || e->max_batch > PN_GPU_GRID_YZ_MAX)
		return pn_gpu_node_err(e, node, "%u heads x batch %u: attention.ptx's grid takes "
				       "at most %u of each", n->heads, e->max_batch,
				       PN_GPU_GRID_YZ_MAX);
	pn->n_launches = 1;
	pn->kernel[0] = pn_gpu_kernel_find(attn_smem(hd) <= PN_GPU_SMEM_MAX ? "attention_tiled" :
					   "attention_fwd");
	return 0;
}

static void emit_attention(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	const char *entry = pn_gpu_kernels[r->pn->kernel[0]].entry;
	uint32_t hd = n->d_out / n->heads;

	pn_gpu_launch_begin(l, r, entry, pn_gpu_cdiv(r->T, 4 * ATTN_WARPS), n->heads, r->B,
			    32 * ATTN_WARPS,
			    !strcmp(entry, "attention_tiled") ? attn_smem(hd) : 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->in[0]));
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
	pn_gpu_param_u64(l, r->mem->lens);
	pn_gpu_param_u32(l, r->T);
	pn_gpu_param_u32(l, n->d_out);
	pn_gpu_param_u32(l, hd);
	pn_gpu_param_f32(l, n->fattr[PNB_FA_ATTN_SCALE]);
	pn_gpu_param_u32(l, (uint32_t)n->iattr[PNB_IA_ATTN_CAUSAL]);
}

const struct pn_gpu_lowering pn_gpu_lower_attention = {
	.op = PNB_OP_ATTENTION, .plan = plan_attention, .emit = emit_attention,
};

/* ---- POOL_MEAN, POOL_CLS: grid (columns, sequences) --------------------------------- */

#define POOL_BLOCK 128u

static int plan_pool(const struct pn_gpu_env *e, uint32_t node, struct pn_gpu_node *pn)
{
	if (e->max_batch > PN_GPU_GRID_YZ_MAX)
		return pn_gpu_node_err(e, node, "batch %u: pool.ptx's grid y takes at most %u",
				       e->max_batch, PN_GPU_GRID_YZ_MAX);
	return plan_one(e, node, pn, node_of(e, node)->op == PNB_OP_POOL_MEAN ?
				     "pool_mean_f32" : "pool_cls_f32");
}

static void emit_pool(const struct pn_gpu_run *r, struct pn_gpu_launch *l)
{
	const struct pn_gnode *n = r->n;
	int mean = n->op == PNB_OP_POOL_MEAN;

	pn_gpu_launch_begin(l, r, mean ? "pool_mean_f32" : "pool_cls_f32",
			    pn_gpu_cdiv(n->d_in, POOL_BLOCK), r->B, 1, POOL_BLOCK, 0);
	pn_gpu_param_u64(l, pn_gpu_value(r, n->in[0]));
	pn_gpu_param_u64(l, pn_gpu_value(r, n->out));
	if (mean)
		pn_gpu_param_u64(l, r->mem->lens);
	pn_gpu_param_u32(l, r->B);
	pn_gpu_param_u32(l, r->T);
	pn_gpu_param_u32(l, n->d_in);
}

const struct pn_gpu_lowering pn_gpu_lower_pool_mean = {
	.op = PNB_OP_POOL_MEAN, .plan = plan_pool, .emit = emit_pool,
};
const struct pn_gpu_lowering pn_gpu_lower_pool_cls = {
	.op = PNB_OP_POOL_CLS, .plan = plan_pool, .emit = emit_pool,
};

/* ---- the table of every lowering (lower_poly.c's too) ---------------------------- */

static const struct pn_gpu_lowering *const lowerings[] = {
	&pn_gpu_lower_embed, &pn_gpu_lower_layernorm, &pn_gpu_lower_rmsnorm,
	&pn_gpu_lower_linear, &pn_gpu_lower_act, &pn_gpu_lower_add, &pn_gpu_lower_ffn,
	&pn_gpu_lower_attention, &pn_gpu_lower_pool_mean, &pn_gpu_lower_pool_cls,
	&pn_gpu_lower_l2norm, &pn_gpu_lower_softmax,
	&pn_gpu_lower_poly_ffn, &pn_gpu_lower_vq, &pn_gpu_lower_cqa, &pn_gpu_lower_macro,
};

const struct pn_gpu_lowering *pn_gpu_lowering_get(uint32_t op)
{
	for (size_t i = 0; i < sizeof(lowerings) / sizeof(lowerings[0]); i++)
		if (lowerings[i]->op == op)
			return lowerings[i];
	return NULL;
}
