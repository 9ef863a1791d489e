// SPDX-License-Identifier: MIT
/*
 * exec.c - run a model's DAG on the CPU kernels (lib/cpu/).
 *
 * Everything a run needs is sized in pn_exec_new: the activation arena
 * (lib/arena.c), the scratch of the largest FFN and attention, and the
 * padded id buffer. pn_exec_run is then a loop over nodes with no
 * allocation and no syscall (unless profiling).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/arena.h"
#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "exec/exec.h"
#include "cpu/poly.h"
#include "exec/graph.h"

struct pn_exec {
	const struct pn_model *m;
	const struct pn_graph *g;
	struct pn_pool *pool;
	struct pn_packed_ctx *pk;	/* small-batch GEMMs; NULL with a pool */
	uint32_t max_batch, max_tokens;
	struct pn_arena_plan plan;
	uint8_t *arena;
	float *scratch;
	int32_t *ids;			/* [max_batch * max_tokens], padded with 0 */
	int profile;
	struct pn_node_time *times;	/* per node */
	pn_exec_tap_fn tap;		/* pn_exec_set_tap, or NULL */
	void *tap_arg;
};

static void *alloc64(size_t bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, bytes ? bytes : 64))
		return NULL;
	return p;
}

/* Rows of the tensor in a PolyNet node's weight slot (graph.c checked it is there). */
static uint32_t w_rows(const struct pn_graph *g, const struct pn_gnode *n, uint32_t slot)
{
	return (uint32_t)g->file->tensors[g->file->nodes[n->index].w[slot]].shape[0];
}

/* The series of a POLY_FFN (iattr act 0, degree 2, even 3) or MACRO (5, 3, 4) node. */
static struct pn_cheb node_series(const struct pn_gnode *n)
{
	int macro = n->op == PNB_OP_MACRO;

	return (struct pn_cheb){
		.c = macro ? NULL : n->w[4],
		.act = (uint32_t)n->iattr[macro ? 5 : 0],
		.degree = (uint32_t)n->iattr[macro ? 3 : 2],
		.even = n->iattr[macro ? 4 : 3],
		.a = n->fattr[0], .b = n->fattr[1],
	};
}

static struct pn_cqa node_cqa(const struct pn_graph *g, const struct pn_gnode *n)
{
	return (struct pn_cqa){
		.heads = n->heads, .clusters = (uint32_t)n->iattr[1], .bits = w_rows(g, n, 0),
		.topk = (uint32_t)n->iattr[2], .iters = (uint32_t)n->iattr[3],
		.scale = n->fattr[0], .planes = n->w[0],
	};
}

static struct pn_macro node_macro(const struct pn_gnode *n)
{
	return (struct pn_macro){
		.E = (uint32_t)n->iattr[0], .rank = n->ff, .router = (uint32_t)n->iattr[1],
		.topk = (uint32_t)n->iattr[2], .temperature = n->fattr[2],
		.router_w = n->w[0], .router_b = n->w[1], .W1 = n->w[2], .b1 = n->w[3],
		.coefs = n->w[4], .W2 = n->w[5], .b2 = n->w[6], .cheb = node_series(n),
	};
}

static size_t poly_scratch(const struct pn_graph *g, const struct pn_gnode *n, size_t rows,
			   uint32_t max_tokens, uint32_t nthreads)
{
	struct pn_cqa c;
	struct pn_macro m;

	switch (n->op) {
	case PNB_OP_POLY_FFN:
		if (n->iattr[4])
			return pn_polyffn_codes_scratch((uint32_t)rows, w_rows(g, n, 5), n->d_out,
							n->ff, n->iattr[1]);
		return pn_polyffn_scratch((uint32_t)rows, n->ff, n->iattr[1]);
	case PNB_OP_VQ:	/* + the codes, when the node outputs rows */
		return pn_vq_scratch(n->ff) + rows;
	case PNB_OP_CQA:
		c = node_cqa(g, n);
		return pn_cqa_scratch(max_tokens, n->d_out, &c, nthreads);
	case PNB_OP_MACRO:
		m = node_macro(n);
		return pn_macro_scratch((uint32_t)rows, n->d_out, &m);
	}
	return 0;
}

static size_t scratch_floats(const struct pn_graph *g, uint32_t max_batch,
			     uint32_t max_tokens, uint32_t nthreads)
{
	size_t need = 0, rows = (size_t)max_batch * max_tokens, s;

	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];

		s = 0;
		if (n->op == PNB_OP_FFN)
			s = pn_ffn_scratch((uint32_t)rows, n->ff, n->iattr[1]);
		else if (n->op == PNB_OP_ATTENTION)
			s = pn_attention_scratch(max_tokens, nthreads);
		else
			s = poly_scratch(g, n, g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ?
					 max_batch : rows, max_tokens, nthreads);
		if (s > need)
			need = s;
	}
	return need;
}

int pn_exec_new(const struct pn_model *m, uint32_t max_batch,
		uint32_t max_tokens, struct pn_pool *pool,
		struct pn_exec **out, struct pn_err *err)
{
	struct pn_exec *x;
	const struct pn_graph *g = m->graph;
	size_t ids_n;
	int r;

	*out = NULL;
	if (!max_batch || !max_tokens || max_tokens > m->max_tokens ||
	    (uint64_t)max_batch * max_tokens > (1u << 24))
		return pn_errf(err, -EINVAL, "executor for batch %u x %u tokens: "
			       "expected batch >= 1 and 1..%u tokens (model limit), "
			       "at most 2^24 rows", max_batch, max_tokens,
			       m->max_tokens);
	x = calloc(1, sizeof(*x));
	if (!x)
		return pn_errf(err, -ENOMEM, "out of memory");
	x->m = m;
	x->g = g;
	x->pool = pool;
	x->max_batch = max_batch;
	x->max_tokens = max_tokens;
	r = pn_arena_plan(g, max_batch, max_tokens, &x->plan);
	if (r) {
		free(x);
		return pn_errf(err, r, "out of memory planning the arena");
	}
	ids_n = (size_t)max_batch * max_tokens;
	x->arena = alloc64(x->plan.total);
	x->scratch = alloc64(scratch_floats(g, max_batch, max_tokens,
					    pn_pool_size(pool)) * sizeof(float));
	x->ids = alloc64(ids_n * sizeof(int32_t));
	x->times = calloc(g->n_nodes + 1, sizeof(*x->times));
	/* Packed GEMMs run on the calling thread: for a one-thread executor. */
	if (pn_pool_size(pool) == 1)
		x->pk = pn_packed_ctx_new();	/* NULL: sgemm throughout */
	if (!x->arena || !x->scratch || !x->ids || !x->times) {
		size_t total = x->plan.total;

		pn_exec_free(x);
		return pn_errf(err, -ENOMEM, "out of memory: arena of %zu bytes "
			       "for batch %u x %u tokens", total, max_batch,
			       max_tokens);
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		x->times[i].op = g->nodes[i].op;
		x->times[i].name = g->nodes[i].name;
	}
	*out = x;
	return 0;
}

void pn_exec_free(struct pn_exec *x)
{
	if (!x)
		return;
	pn_arena_plan_free(&x->plan);
	pn_packed_ctx_free(x->pk);
	free(x->arena);
	free(x->scratch);
	free(x->ids);
	free(x->times);
	free(x);
}

const struct pn_model *pn_exec_model(const struct pn_exec *x)
{
	return x->m;
}

size_t pn_exec_arena_bytes(const struct pn_exec *x, size_t *naive)
{
	if (naive)
		*naive = x->plan.naive;
	return x->plan.total;
}

static float *val(struct pn_exec *x, uint32_t v)
{
	return (float *)(x->arena + x->plan.offset[v]);
}

static void run_poly_node(struct pn_exec *x, const struct pn_gnode *n, const uint32_t *lens,
			  uint32_t B, uint32_t T, uint32_t rows, const float *in0, float *y)
{
	struct pn_cheb p = node_series(n);
	struct pn_cqa c;
	struct pn_macro m;

	switch (n->op) {
	case PNB_OP_POLY_FFN:
		if (n->iattr[4])	/* in0 holds the VQ node's I32 codes */
			pn_polyffn_codes(x->pool, (const int32_t *)in0, rows, n->w[5],
					 w_rows(x->g, n, 5), n->d_out, n->ff, n->iattr[1], &p,
					 n->w[0], n->w[1], n->w[2], n->w[3], y, x->scratch, NULL);
		else
			pn_polyffn(x->pool, in0, rows, n->d_in, n->ff, n->iattr[1], &p, n->w[0],
				   n->w[1], n->w[2], n->w[3], y, x->scratch);
		break;
	case PNB_OP_VQ:
		if (n->iattr[0] == PN_VQ_CODES) {
			pn_vq_assign(in0, rows, n->d_in, n->w[0], n->w[1], n->ff, (int32_t *)y,
				     NULL, x->scratch);
			break;
		}
		/* the codes go through the scratch's tail, after the GEMM block */
		pn_vq_assign(in0, rows, n->d_in, n->w[0], n->w[1], n->ff,
			     (int32_t *)(x->scratch + pn_vq_scratch(n->ff)), NULL, x->scratch);
		pn_vq_gather((const int32_t *)(x->scratch + pn_vq_scratch(n->ff)), rows,
			     n->iattr[0] == PN_VQ_QUANTIZE ? n->w[0] : n->w[2], n->d_out, y);
		break;
	case PNB_OP_CQA:
		c = node_cqa(x->g, n);
		pn_cqa(x->pool, in0, B, T, lens, n->d_out, &c, y, x->scratch);
		break;
	case PNB_OP_MACRO:
		m = node_macro(n);
		pn_macro(x->pool, in0, rows, n->d_in, &m, y, x->scratch);
		break;
	default:
		PN_ASSERT(!"op accepted by pn_graph_build");
	}
}

static void run_node(struct pn_exec *x, const struct pn_gnode *n,
		     const uint32_t *lens, uint32_t B, uint32_t T)
{
	const struct pn_graph *g = x->g;
	uint32_t rows = g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ? B : B * T;
	float *y = val(x, n->out);
	const float *in0 = n->in[0] == g->input ? NULL : val(x, n->in[0]);

	switch (n->op) {
	case PNB_OP_EMBED:
		if (n->pos_table)	/* sincos, tabulated at load */
			pn_embed(x->ids, B, T, n->w[0], n->d_out, n->fattr[0],
				 PNB_POS_LEARNED, n->pos_table, NULL, n->w[3], y);
		else
			pn_embed(x->ids, B, T, n->w[0], n->d_out, n->fattr[0],
				 (uint32_t)n->iattr[0], n->w[1], n->w[2], n->w[3], y);
		break;
	case PNB_OP_LAYERNORM:
		pn_layernorm(in0, rows, n->d_in, n->w[0], n->w[1], n->fattr[0], y);
		break;
	case PNB_OP_RMSNORM:
		pn_rmsnorm(in0, rows, n->d_in, n->w[0], n->fattr[0], y);
		break;
	case PNB_OP_LINEAR:
		if (pn_packed_linear(x->pk, n->packed[0], rows, in0, n->w[1],
				     (uint32_t)n->iattr[0], y))
			pn_linear(x->pool, in0, rows, n->d_in, n->w[0], n->w[1],
				  n->d_out, (uint32_t)n->iattr[0], y);
		break;
	case PNB_OP_ACT:
		memcpy(y, in0, (size_t)rows * n->d_in * sizeof(float));
		pn_act((uint32_t)n->iattr[0], y, (size_t)rows * n->d_in);
		break;
	case PNB_OP_ADD:
		if (g->values[n->in[1]].layout != g->values[n->in[0]].layout) {
			const float *seq = val(x, n->in[1]);

			/* TOKENS + SEQ: one sequence row for each of its T token rows */
			for (uint32_t r = 0; r < rows; r++)
				pn_add(in0 + (size_t)r * n->d_in, seq + (size_t)(r / T) * n->d_in,
				       y + (size_t)r * n->d_in, n->d_in);
			break;
		}
		pn_add(in0, val(x, n->in[1]), y, (size_t)rows * n->d_in);
		break;
	case PNB_OP_FFN:
		/* small batches: both GEMMs on packed weights, hidden in scratch */
		if (!pn_packed_linear(x->pk, n->packed[0], rows, in0, n->w[1],
				      (uint32_t)n->iattr[0], x->scratch) &&
		    !pn_packed_linear(x->pk, n->packed[1], rows, x->scratch, n->w[3],
				      PNB_ACT_NONE, y))
			break;
		pn_ffn(x->pool, in0, rows, n->d_in, n->ff, n->iattr[1],
		       (uint32_t)n->iattr[0], n->w[0], n->w[1], n->w[2], n->w[3],
		       y, x->scratch);
		break;
	case PNB_OP_ATTENTION:
		pn_attention(x->pool, in0, B, T, lens, n->d_out, n->heads,
			     n->fattr[0], n->iattr[1], y, x->scratch);
		break;
	case PNB_OP_POOL_MEAN:
		pn_pool_mean(in0, B, T, lens, n->d_in, y);
		break;
	case PNB_OP_POOL_CLS:
		pn_pool_cls(in0, B, T, n->d_in, y);
		break;
	case PNB_OP_L2NORM:
		memcpy(y, in0, (size_t)rows * n->d_in * sizeof(float));
		pn_l2norm(y, rows, n->d_in, n->fattr[0]);
		break;
	case PNB_OP_SOFTMAX:
		memcpy(y, in0, (size_t)rows * n->d_in * sizeof(float));
		pn_softmax_rows(y, rows, n->d_in);
		break;
	default:
		run_poly_node(x, n, lens, B, T, rows, in0, y);
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void call_tap(struct pn_exec *x, const struct pn_gnode *n, const uint32_t *lens,
		     uint32_t B, uint32_t T)
{
	const struct pnb_value *v = &x->g->values[n->out];

	x->tap(x->tap_arg, n->out, val(x, n->out), v->layout == PNB_LAYOUT_SEQ ? B : B * T,
	       v->width, B, T, lens);
}

void pn_exec_set_tap(struct pn_exec *x, pn_exec_tap_fn fn, void *arg)
{
	x->tap = fn;
	x->tap_arg = arg;
}

int pn_exec_run(struct pn_exec *x, const int32_t *ids, const uint32_t *lens,
		uint32_t batch, uint32_t T, float *out, struct pn_err *err)
{
	const struct pn_graph *g = x->g;
	const struct pnb_value *ov = &g->values[g->output];
	size_t out_rows;

	if (!batch || batch > x->max_batch || !T || T > x->max_tokens)
		return pn_errf(err, -EINVAL, "batch %u x %u tokens: expected "
			       "1..%u sequences of 1..%u tokens", batch, T,
			       x->max_batch, x->max_tokens);
	/* Copy ids, checking the valid ones and zeroing padding, so no kernel
	 * ever indexes the embedding table with an unchecked id. */
	for (uint32_t b = 0; b < batch; b++) {
		if (lens[b] == 0 || lens[b] > T)
			return pn_errf(err, -EINVAL, "sequence %u: length %u, "
				       "expected 1..%u", b, lens[b], T);
		for (uint32_t t = 0; t < T; t++) {
			int32_t id = t < lens[b] ? ids[(size_t)b * T + t] : 0;

			if (id < 0 || (uint32_t)id >= g->vocab_size)
				return pn_errf(err, -EINVAL, "sequence %u token "
					       "%u: id %d outside the vocabulary "
					       "0..%u", b, t, id,
					       g->vocab_size - 1);
			x->ids[(size_t)b * T + t] = id;
		}
	}
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		double t0 = x->profile ? now_us() : 0;

		run_node(x, &g->nodes[i], lens, batch, T);
		if (x->tap)
			call_tap(x, &g->nodes[i], lens, batch, T);
		if (x->profile) {
			x->times[i].total_us += now_us() - t0;
			x->times[i].calls++;
		}
	}
	out_rows = ov->layout == PNB_LAYOUT_SEQ ? batch : (size_t)batch * T;
	memcpy(out, val(x, g->output), out_rows * ov->width * sizeof(float));
	return 0;
}

int pn_exec_profile(struct pn_exec *x, int enable)
{
	x->profile = enable;
	for (uint32_t i = 0; i < x->g->n_nodes; i++) {
		x->times[i].total_us = 0;
		x->times[i].calls = 0;
	}
	return 0;
}

const struct pn_node_time *pn_exec_node_times(const struct pn_exec *x,
					      uint32_t *n)
{
	*n = x->g->n_nodes;
	return x->times;
}
