// SPDX-License-Identifier: MIT
/*
 * plan.c - a model's DAG lowered to PTX launches (plan.h): the kernel
 * table, the device arena planned once, and the launches of one run, each
 * op's part delegated to its lowering (lower.h; lower_std.c, lower_poly.c).
 *
 * The arena is planned as lib/exec/arena.c plans the CPU's: nodes in
 * topological order, each output at the lowest gap among the live buffers
 * that fits it, a node's scratch planned like a value that lives only while
 * the node runs, inputs released after their last reader. It is a copy, not
 * a call, because arena.c aligns to 64 bytes and the GPU plan aligns every
 * offset to 256 (the alignment cudaMalloc guarantees, so a kernel's
 * vectorised path sees the same alignment as on a fresh allocation).
 *
 * The plan points at the graph it was made from: the graph must outlive it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/arena.h"
#include "gpu/lower.h"

const struct pn_gpu_kernel pn_gpu_kernels[] = {
	{ "attention_fwd", "attention.ptx" },
	{ "attention_tiled", "attention.ptx" },
	{ "cheb_series", "cheb.ptx" },
	{ "cqa_hash", "cqa.ptx" },
	{ "cqa_attend", "cqa.ptx" },
	{ "act_f32", "elementwise.ptx" },
	{ "add_f32", "elementwise.ptx" },
	{ "add_rows_f32", "elementwise.ptx" },
	{ "l2norm_f32", "elementwise.ptx" },
	{ "softmax_f32", "elementwise.ptx" },
	{ "embed_f32", "embed.ptx" },
	{ "gemm_bf16", "gemm_bf16.ptx" },
	{ "gemm_f32", "gemm_f32.ptx" },
	{ "gemm_f32_rows", "gemm_f32.ptx" },
	{ "glu_f32", "glu.ptx" },
	{ "macro_route", "macro.ptx" },
	{ "macro_expert_fwd", "macro_experts.ptx" },
	{ "layernorm_f32", "norm.ptx" },
	{ "rmsnorm_f32", "norm.ptx" },
	{ "polyffn_code_table", "polyffn_codes.ptx" },
	{ "pool_mean_f32", "pool.ptx" },
	{ "pool_cls_f32", "pool.ptx" },
	{ "vq_assign", "vq.ptx" },
	{ "vq_gather", "vq.ptx" },
};
const uint32_t pn_gpu_n_kernels = sizeof(pn_gpu_kernels) / sizeof(pn_gpu_kernels[0]);

int pn_gpu_kernel_find(const char *entry)
{
	for (uint32_t k = 0; k < pn_gpu_n_kernels; k++)
		if (!strcmp(pn_gpu_kernels[k].entry, entry))
			return (int)k;
	return -1;
}

struct pn_gpu_plan {
	const struct pn_graph *g;
	uint32_t max_batch, max_tokens;
	size_t *voff;			/* per value: arena offset, SIZE_MAX if never stored */
	struct pn_gpu_node *nodes;	/* per graph node */
	size_t arena_bytes, consts_bytes;
	uint32_t n_launches;
};

int pn_gpu_node_err(const struct pn_gpu_env *e, uint32_t node, const char *fmt, ...)
{
	const struct pn_gnode *n = &e->g->nodes[node];
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return pn_errf(e->err, -EINVAL, "node '%s' (%s): %s", n->name, pn_op_name(n->op),
		       detail);
}

/* ---- the arena -------------------------------------------------------------- */

/* The values' and scratch's offsets: the CPU's planner (exec/arena.h) at the GPU's alignment. */
static int plan_arena(struct pn_gpu_plan *p)
{
	const struct pn_graph *g = p->g;
	size_t *scratch = calloc(g->n_nodes + 1, sizeof(*scratch));
	struct pn_arena_plan ap;

	if (!scratch)
		return -ENOMEM;
	for (uint32_t i = 0; i < g->n_nodes; i++)
		scratch[i] = p->nodes[i].scratch_bytes;
	if (pn_arena_plan_aligned(g, p->max_batch, p->max_tokens, scratch, PN_GPU_ALIGN, &ap)) {
		free(scratch);
		return -ENOMEM;
	}
	for (uint32_t v = 0; v < g->n_values; v++)
		p->voff[v] = ap.offset[v];
	for (uint32_t i = 0; i < g->n_nodes; i++)
		p->nodes[i].scratch_off = ap.scratch_off[i];
	p->arena_bytes = ap.total;
	pn_arena_plan_free(&ap);
	free(scratch);
	return 0;
}

/* ---- the plan --------------------------------------------------------------- */

/*
 * The causal decoder's ops (rope, attn_cache, logits) have kernels
 * (kernels/ptx/decoder.ptx) but no lowering: they run at per-sequence
 * positions over a KV cache that come with each run (lib/exec), and the
 * plan's device memory (struct pn_gpu_mem) and launches carry neither.
 * The plan refuses them by name rather than as a missing lowering.
 */
static int decoder_op(uint32_t op)
{
	return op == PNB_OP_ROPE || op == PNB_OP_ATTN_CACHE || op == PNB_OP_LOGITS;
}

int pn_gpu_plan_new(const struct pn_graph *g, uint32_t max_batch, uint32_t max_tokens,
		    struct pn_gpu_plan **out, struct pn_err *err)
{
	struct pn_gpu_env e = { .g = g, .max_batch = max_batch, .max_tokens = max_tokens,
				.err = err };
	uint32_t model_T = g->file->hdr->max_tokens;
	struct pn_gpu_plan *p;
	int r = 0;

	*out = NULL;
	if (!max_batch || !max_tokens || max_tokens > model_T ||
	    (uint64_t)max_batch * max_tokens > (1u << 24))
		return pn_errf(err, -EINVAL, "GPU plan for batch %u x %u tokens: expected "
			       "batch >= 1 and 1..%u tokens (model limit), at most 2^24 rows",
			       max_batch, max_tokens, model_T);
	p = calloc(1, sizeof(*p));
	if (!p)
		return pn_errf(err, -ENOMEM, "out of memory");
	p->g = g;
	p->max_batch = max_batch;
	p->max_tokens = max_tokens;
	p->voff = calloc(g->n_values + 1, sizeof(*p->voff));
	p->nodes = calloc(g->n_nodes + 1, sizeof(*p->nodes));
	if (!p->voff || !p->nodes) {
		r = pn_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; !r && i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];
		const struct pn_gpu_lowering *lw = pn_gpu_lowering_get(n->op);

		if (decoder_op(n->op)) {
			r = pn_errf(err, -ENOTSUP, "node '%s' (%s): the CUDA backend does not "
				    "serve causal decoders (positions and a KV cache per run); "
				    "run this model on the CPU backend", n->name,
				    pn_op_name(n->op));
			break;
		}
		if (!lw) {
			r = pn_errf(err, -ENOTSUP, "node '%s' (%s): no GPU lowering yet",
				    n->name, pn_op_name(n->op));
			break;
		}
		/* Only EMBED reads the token ids; the arena holds no copy of them. */
		for (uint32_t k = 0; k < n->n_in; k++)
			if (n->in[k] == g->input && n->op != PNB_OP_EMBED)
				r = pn_errf(err, -ENOTSUP, "node '%s' (%s): reads the token "
					    "ids, which only embed does on the GPU", n->name,
					    pn_op_name(n->op));
		for (uint32_t k = 0; k < PN_GPU_NODE_KERNELS; k++)
			p->nodes[i].kernel[k] = -1;
		if (!r)
			r = lw->plan(&e, i, &p->nodes[i]);
		if (r)
			break;
		PN_ASSERT(p->nodes[i].n_launches >= 1);
		p->nodes[i].consts_off = p->consts_bytes;
		p->consts_bytes += pn_gpu_align(p->nodes[i].consts_bytes);
		p->n_launches += p->nodes[i].n_launches;
	}
	if (!r && plan_arena(p))
		r = pn_errf(err, -ENOMEM, "out of memory");
out:
	if (r) {
		pn_gpu_plan_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void pn_gpu_plan_free(struct pn_gpu_plan *p)
{
	if (!p)
		return;
	free(p->voff);
	free(p->nodes);
	free(p);
}

size_t pn_gpu_plan_arena_bytes(const struct pn_gpu_plan *p)
{
	return p->arena_bytes;
}

size_t pn_gpu_plan_consts_bytes(const struct pn_gpu_plan *p)
{
	return p->consts_bytes;
}

void pn_gpu_plan_fill_consts(const struct pn_gpu_plan *p, void *dst)
{
	struct pn_gpu_env e = { .g = p->g, .max_batch = p->max_batch,
				.max_tokens = p->max_tokens };

	memset(dst, 0, p->consts_bytes);
	for (uint32_t i = 0; i < p->g->n_nodes; i++) {
		const struct pn_gpu_lowering *lw = pn_gpu_lowering_get(p->g->nodes[i].op);

		if (p->nodes[i].consts_bytes && lw->fill_consts)
			lw->fill_consts(&e, i, &p->nodes[i],
					(uint8_t *)dst + p->nodes[i].consts_off);
	}
}

uint32_t pn_gpu_plan_n_launches(const struct pn_gpu_plan *p)
{
	return p->n_launches;
}

void pn_gpu_plan_kernels_used(const struct pn_gpu_plan *p, uint8_t *used)
{
	memset(used, 0, pn_gpu_n_kernels);
	for (uint32_t i = 0; i < p->g->n_nodes; i++)
		for (uint32_t k = 0; k < PN_GPU_NODE_KERNELS; k++)
			if (p->nodes[i].kernel[k] >= 0 &&
			    (uint32_t)p->nodes[i].kernel[k] < pn_gpu_n_kernels)
				used[p->nodes[i].kernel[k]] = 1;
}

void pn_gpu_plan_output(const struct pn_gpu_plan *p, size_t *offset, uint32_t *out_width,
			int *tokens)
{
	const struct pnb_value *v = &p->g->values[p->g->output];

	*offset = p->voff[p->g->output];
	*out_width = v->width;
	*tokens = v->layout == PNB_LAYOUT_TOKENS;
}

int pn_gpu_plan_launches(const struct pn_gpu_plan *p, const struct pn_gpu_mem *mem,
			 uint32_t B, uint32_t T, struct pn_gpu_launch *l, struct pn_err *err)
{
	const struct pn_graph *g = p->g;
	uint32_t at = 0;

	if (!B || B > p->max_batch || !T || T > p->max_tokens)
		return pn_errf(err, -EINVAL, "batch %u x %u tokens: the GPU plan takes "
			       "1..%u sequences of 1..%u tokens", B, T, p->max_batch,
			       p->max_tokens);
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];
		int seq = g->values[n->in[0]].layout == PNB_LAYOUT_SEQ;
		struct pn_gpu_run r = {
			.g = g, .mem = mem, .voff = p->voff, .n = n, .node = i,
			.pn = &p->nodes[i], .B = B, .T = T,
			.rows = seq ? B : B * T,
			.max_rows = seq ? p->max_batch : p->max_batch * p->max_tokens,
			.max_batch = p->max_batch, .max_tokens = p->max_tokens,
		};

		memset(l + at, 0, p->nodes[i].n_launches * sizeof(*l));
		pn_gpu_lowering_get(n->op)->emit(&r, l + at);
		for (uint32_t k = 0; k < p->nodes[i].n_launches; k++)	/* emit wrote them all */
			PN_ASSERT(l[at + k].n_params > 0 && l[at + k].node == i);
		at += p->nodes[i].n_launches;
	}
	return 0;
}

/* ---- writing launches (lower.h) ---------------------------------------------- */

void pn_gpu_launch_begin(struct pn_gpu_launch *l, const struct pn_gpu_run *r,
			 const char *entry, uint32_t gx, uint32_t gy, uint32_t gz,
			 uint32_t block, uint32_t shared)
{
	int k = pn_gpu_kernel_find(entry);

	PN_ASSERT(k >= 0);
	PN_ASSERT(gx >= 1 && gy >= 1 && gz >= 1 && block >= 1);
	memset(l, 0, sizeof(*l));
	l->kernel = (uint32_t)k;
	l->node = r->node;
	l->grid[0] = gx;
	l->grid[1] = gy;
	l->grid[2] = gz;
	l->block[0] = block;
	l->block[1] = l->block[2] = 1;
	l->shared = shared;
}

/* The next offset aligned to size, after the last parameter. */
static uint8_t *param_slot(struct pn_gpu_launch *l, uint16_t size)
{
	uint32_t i = l->n_params, off = 0;

	PN_ASSERT(i < PN_GPU_MAX_PARAMS);
	if (i)
		off = l->param_off[i - 1] + l->param_size[i - 1];
	off = (off + size - 1) & ~(uint32_t)(size - 1);
	PN_ASSERT(off + size <= PN_GPU_PARAM_BYTES);
	l->param_off[i] = (uint16_t)off;
	l->param_size[i] = size;
	l->n_params = i + 1;
	return l->blob + off;
}

void pn_gpu_param_u64(struct pn_gpu_launch *l, uint64_t v)
{
	memcpy(param_slot(l, 8), &v, 8);
}

void pn_gpu_param_u32(struct pn_gpu_launch *l, uint32_t v)
{
	memcpy(param_slot(l, 4), &v, 4);
}

void pn_gpu_param_f32(struct pn_gpu_launch *l, float v)
{
	memcpy(param_slot(l, 4), &v, 4);
}

uint64_t pn_gpu_weight(const struct pn_gpu_run *r, const float *w)
{
	if (!w)
		return 0;
	return r->mem->file + (uint64_t)((const uint8_t *)w - (const uint8_t *)r->mem->file_host);
}

uint64_t pn_gpu_value(const struct pn_gpu_run *r, uint32_t v)
{
	if (v == r->g->input)
		return r->mem->ids;
	PN_ASSERT(r->voff[v] != SIZE_MAX);
	return r->mem->arena + r->voff[v];
}

uint64_t pn_gpu_scratch(const struct pn_gpu_run *r, size_t off)
{
	return r->mem->arena + r->pn->scratch_off + off;
}

uint64_t pn_gpu_consts(const struct pn_gpu_run *r)
{
	return r->mem->consts + r->pn->consts_off;
}
