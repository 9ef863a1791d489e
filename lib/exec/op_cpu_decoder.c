// SPDX-License-Identifier: MIT
/*
 * op_cpu_decoder.c - the CPU half (op_cpu.h) of ROPE, ATTN_CACHE and
 * LOGITS (lib/ops/op_decoder.c). The run's positions and KV cache come in
 * struct pn_op_run's kv (exec.c); a plain run has positions from 0 and
 * the executor's own cache.
 */
#include <errno.h>
#include <stdlib.h>

#include "cpu/kernels.h"
#include "exec/op_cpu.h"
#include "util/wstore.h"

/* ---- ROPE ------------------------------------------------------------------ */

/* {cos, sin} for every position the model accepts, once: a run then reads
 * a row instead of calling cos/sin hs times per token. */
static int prepare_rope(const struct pnb_file *f, const struct pn_gnode *n,
			struct pn_cpu_node *cn, struct pn_wstore *store, struct pn_err *err)
{
	uint32_t P = f->hdr->max_tokens, hs = (uint32_t)n->iattr[PNB_IA_ROPE_HS];
	size_t bytes = (size_t)P * hs * sizeof(float);
	bool fill = true;
	float *p;

	if (store) {
		p = pn_wstore_take(store, bytes, (uint64_t)P << 32 | hs | 1u << 31, &fill);
		if (!p)		/* MEASURE, or no room: the node computes the angles */
			return 0;
		cn->pos_in_store = true;
	} else if (!(p = malloc(bytes))) {
		return pn_errf(err, -ENOMEM, "out of memory");
	}
	if (fill)
		pn_rope_table(p, P, hs, n->fattr[PNB_FA_ROPE_THETA]);
	cn->pos_table = p;
	return 0;
}

static void ref_rope(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_ref_rope(r->in[0], r->B, r->T, r->lens, r->kv->pos0, n->d_in, n->heads,
		    (uint32_t)n->iattr[PNB_IA_ROPE_HS], n->fattr[PNB_FA_ROPE_THETA], r->y);
}

static void run_rope(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;
	struct pn_rope_w w = {
		.W = n->d_in, .heads = n->heads, .hs = (uint32_t)n->iattr[PNB_IA_ROPE_HS],
		.cs = r->cn ? r->cn->pos_table : NULL,
	};

	if (!w.cs)
		ref_rope(r);
	else
		pn_rope(r->in[0], r->B, r->T, r->lens, r->kv->pos0, &w, r->y);
}

const struct pn_op_cpu pn_op_cpu_rope = {
	.code = PNB_OP_ROPE, .prepare = prepare_rope, .run = run_rope, .ref = ref_rope,
};

/* ---- ATTN_CACHE ------------------------------------------------------------ */

static struct pn_attn_kv attn_kv(const struct pn_gnode *n)
{
	return (struct pn_attn_kv){
		.H = n->heads, .Hkv = (uint32_t)n->iattr[PNB_IA_KV_KV_HEADS],
		.hs = n->d_out / n->heads, .layer = (uint32_t)n->iattr[PNB_IA_KV_LAYER],
		.scale = n->fattr[PNB_FA_KV_SCALE],
	};
}

/* A query sees at most every position the model accepts. */
static size_t scratch_attn_cache(const struct pnb_file *f, const struct pn_gnode *n,
				 size_t rows, uint32_t max_tokens, uint32_t nthreads)
{
	(void)rows;
	(void)max_tokens;
	return pn_attn_cache_scratch(f->hdr->max_tokens, n->d_out / n->heads, nthreads);
}

static void run_attn_cache(const struct pn_op_run *r)
{
	struct pn_attn_kv a = attn_kv(r->n);

	pn_attn_cache(r->pool, r->in[0], r->B, r->T, r->lens, r->kv, &a, r->y, r->scratch);
}

static void ref_attn_cache(const struct pn_op_run *r)
{
	struct pn_attn_kv a = attn_kv(r->n);

	pn_ref_attn_cache(r->in[0], r->B, r->T, r->lens, r->kv, &a, r->y);
}

const struct pn_op_cpu pn_op_cpu_attn_cache = {
	.code = PNB_OP_ATTN_CACHE, .scratch = scratch_attn_cache, .run = run_attn_cache,
	.ref = ref_attn_cache,
};

/* ---- LOGITS ---------------------------------------------------------------- */

/* The gathered last rows: one per sequence (rows / max_tokens of them, at most). */
static size_t scratch_logits(const struct pnb_file *f, const struct pn_gnode *n, size_t rows,
			     uint32_t max_tokens, uint32_t nthreads)
{
	(void)f;
	(void)nthreads;
	return n->iattr[PNB_IA_LOGITS_LAST] ? (rows / max_tokens + 1) * n->d_in : 0;
}

static void run_logits(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_logits(r->in[0], r->B, r->T, r->lens, n->w[PNB_W_LOGITS_TABLE], n->d_out, n->d_in,
		  n->iattr[PNB_IA_LOGITS_LAST], r->y, r->scratch);
}

static void ref_logits(const struct pn_op_run *r)
{
	const struct pn_gnode *n = r->n;

	pn_ref_logits(r->in[0], r->B, r->T, r->lens, n->w[PNB_W_LOGITS_TABLE], n->d_out,
		      n->d_in, n->iattr[PNB_IA_LOGITS_LAST], r->y);
}

const struct pn_op_cpu pn_op_cpu_logits = {
	.code = PNB_OP_LOGITS, .scratch = scratch_logits, .run = run_logits, .ref = ref_logits,
};
