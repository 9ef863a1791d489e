// SPDX-License-Identifier: MIT
/*
 * exec.c - run a model's DAG on the CPU kernels (lib/cpu/), each node
 * through its op's CPU binding (op_cpu.h); and the CPU model they share.
 *
 * Everything a run needs is sized in pn_exec_new: the activation arena
 * (lib/exec/arena.c, each node's scratch planned in it too), and the
 * padded id buffer. pn_exec_run is then a loop over nodes with no
 * allocation and no syscall (unless profiling).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/packed.h"
#include "exec/arena.h"
#include "exec/exec.h"
#include "exec/graph.h"
#include "exec/op_cpu.h"

struct pn_exec {
	const struct pn_model *m;
	const struct pn_graph *g;
	const struct pn_cpu_model *cm;
	struct pn_pool *pool;
	struct pn_packed_ctx *pk;	/* small-batch GEMMs; NULL with a pool */
	uint32_t max_batch, max_tokens;
	struct pn_arena_plan plan;
	uint8_t *arena;
	size_t scratch_bytes;		/* the largest node's scratch (in the arena) */
	int32_t *ids;			/* [max_batch * max_tokens], padded with 0 */
	int profile;
	struct pn_node_time *times;	/* per node */
	pn_exec_tap_fn tap;		/* pn_exec_set_tap, or NULL */
	void *tap_arg;
	/* The decoder's KV cache (ATTN_CACHE nodes): the caller's, or its own
	 * of max_batch slots x max_tokens positions for plain runs. */
	struct pn_kv kv;
	float *own_kv;
	uint32_t *slot_ids, *pos_zero;	/* [max_batch]: b, and 0 (plain runs) */
};

static void *alloc64(size_t bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, bytes ? bytes : 64))
		return NULL;
	return p;
}

struct pn_cpu_model {
	const struct pn_model *m;
	struct pn_graph *g;
	struct pn_cpu_node *nodes;	/* per graph node */
};

int pn_cpu_model_new(const struct pn_model *m, struct pn_cpu_model **out, struct pn_err *err)
{
	return pn_cpu_model_new_in(m, NULL, out, err);
}

int pn_cpu_model_new_in(const struct pn_model *m, struct pn_wstore *store,
			struct pn_cpu_model **out, struct pn_err *err)
{
	struct pn_cpu_model *cm;
	int r;

	*out = NULL;
	cm = calloc(1, sizeof(*cm));
	if (!cm)
		return pn_errf(err, -ENOMEM, "out of memory");
	cm->m = m;
	r = pn_graph_build(&m->file, &cm->g, err);
	if (r) {
		free(cm);
		return r;
	}
	cm->nodes = calloc(cm->g->n_nodes ? cm->g->n_nodes : 1, sizeof(*cm->nodes));
	if (!cm->nodes)
		r = pn_errf(err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; !r && i < cm->g->n_nodes; i++) {
		const struct pn_gnode *n = &cm->g->nodes[i];
		const struct pn_op_cpu *c = pn_op_cpu_get(n->op);

		if (!c)
			r = pn_errf(err, -EINVAL, "%s: node %u '%s' (%s): op %u is not "
				    "implemented by the CPU backend", m->file.path, i, n->name,
				    pnb_op_name(n->op), n->op);
		else if (c->prepare)
			r = c->prepare(&m->file, n, &cm->nodes[i], store, err);
	}
	if (r) {
		pn_cpu_model_free(cm);
		return r;
	}
	*out = cm;
	return 0;
}

void pn_cpu_model_free(struct pn_cpu_model *cm)
{
	if (!cm)
		return;
	for (uint32_t i = 0; cm->nodes && i < cm->g->n_nodes; i++)
		pn_cpu_node_release(&cm->nodes[i]);
	free(cm->nodes);
	pn_graph_free(cm->g);
	free(cm);
}

const struct pn_graph *pn_cpu_model_graph(const struct pn_cpu_model *cm)
{
	return cm->g;
}

const struct pn_model *pn_cpu_model_model(const struct pn_cpu_model *cm)
{
	return cm->m;
}

/* Each node's scratch bytes at the planned sizes (planned in the arena); NULL: ENOMEM. */
static size_t *node_scratch(const struct pn_graph *g, uint32_t max_batch, uint32_t max_tokens,
			    uint32_t nthreads, size_t *largest)
{
	size_t rows = (size_t)max_batch * max_tokens, *s = calloc(g->n_nodes + 1, sizeof(*s));

	*largest = 0;
	for (uint32_t i = 0; s && i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];
		const struct pn_op_cpu *c = pn_op_cpu_get(n->op);

		s[i] = c->scratch ? c->scratch(g->file, n, g->values[n->in[0]].layout ==
					       PNB_LAYOUT_SEQ ? max_batch : rows, max_tokens,
					       nthreads) * sizeof(float) : 0;
		if (s[i] > *largest)
			*largest = s[i];
	}
	return s;
}

static int has_qgemm(const struct pn_cpu_model *cm, const struct pn_graph *g)
{
	for (uint32_t i = 0; i < g->n_nodes; i++)
		if (cm->nodes[i].q[0].dtype || cm->nodes[i].q[1].dtype)
			return 1;
	return 0;
}

int pn_exec_kv_shape(const struct pn_cpu_model *cm, uint32_t *layers, uint32_t *width)
{
	const struct pn_graph *g = cm->g;

	*layers = *width = 0;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		const struct pn_gnode *n = &g->nodes[i];

		if (n->op != PNB_OP_ATTN_CACHE)
			continue;
		if (*width && *width != n->ff)
			return -EINVAL;
		*width = n->ff;
		if ((uint32_t)n->iattr[PNB_IA_KV_LAYER] + 1 > *layers)
			*layers = (uint32_t)n->iattr[PNB_IA_KV_LAYER] + 1;
	}
	return 0;
}

/* Binds x to the caller's cache kv, or makes its own: one slot per sequence. */
static int exec_kv(struct pn_exec *x, const struct pn_kv *kv, struct pn_err *err)
{
	uint32_t layers, width;

	if (pn_exec_kv_shape(x->cm, &layers, &width))
		return pn_errf(err, -EINVAL, "%s: attn_cache nodes of different widths: "
			       "expected one KV cache width for every layer", x->m->file.path);
	x->slot_ids = calloc(x->max_batch, sizeof(uint32_t));
	x->pos_zero = calloc(x->max_batch, sizeof(uint32_t));
	if (!x->slot_ids || !x->pos_zero)
		return pn_errf(err, -ENOMEM, "out of memory");
	for (uint32_t b = 0; b < x->max_batch; b++)
		x->slot_ids[b] = b;
	if (!layers)
		return 0;
	if (kv) {
		if (kv->layers < layers || kv->width != width)
			return pn_errf(err, -EINVAL, "KV cache of %u layers x %u floats: the "
				       "model needs %u x %u", kv->layers, kv->width, layers, width);
		x->kv = *kv;
		return 0;
	}
	x->kv = (struct pn_kv){
		.layer_stride = 2 * (size_t)x->max_tokens * width,
		.n_slots = x->max_batch, .layers = layers, .len = x->max_tokens, .width = width,
	};
	x->kv.slot_stride = x->kv.layer_stride * layers;
	x->own_kv = alloc64(x->kv.slot_stride * x->max_batch * sizeof(float));
	if (!x->own_kv)
		return pn_errf(err, -ENOMEM, "out of memory: KV cache of %zu bytes",
			       x->kv.slot_stride * x->max_batch * sizeof(float));
	x->kv.base = x->own_kv;
	return 0;
}

int pn_exec_new(const struct pn_cpu_model *cm, uint32_t max_batch, uint32_t max_tokens,
		struct pn_pool *pool, struct pn_exec **out, struct pn_err *err)
{
	return pn_exec_new_kv(cm, max_batch, max_tokens, NULL, pool, out, err);
}

int pn_exec_new_kv(const struct pn_cpu_model *cm, uint32_t max_batch, uint32_t max_tokens,
		   const struct pn_kv *kv, struct pn_pool *pool, struct pn_exec **out,
		   struct pn_err *err)
{
	struct pn_exec *x;
	const struct pn_model *m = cm->m;
	const struct pn_graph *g = cm->g;
	size_t ids_n, *scratch;
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
	x->cm = cm;
	x->pool = pool;
	x->max_batch = max_batch;
	x->max_tokens = max_tokens;
	scratch = node_scratch(g, max_batch, max_tokens, pn_pool_size(pool), &x->scratch_bytes);
	r = scratch ? pn_arena_plan(g, max_batch, max_tokens, scratch, &x->plan) : -ENOMEM;
	free(scratch);
	if (r) {
		free(x);
		return pn_errf(err, r, "out of memory planning the arena");
	}
	ids_n = (size_t)max_batch * max_tokens;
	x->arena = alloc64(x->plan.total);
	x->ids = alloc64(ids_n * sizeof(int32_t));
	x->times = calloc(g->n_nodes + 1, sizeof(*x->times));
	/* Packed GEMMs run on the calling thread: for a one-thread executor, or
	 * wherever I8/BF16 weights have no pool path (qgemm.h; docs/quant.md). */
	if (pn_pool_size(pool) == 1 || has_qgemm(cm, g))
		x->pk = pn_packed_ctx_new();	/* NULL: sgemm throughout */
	if (!x->arena || !x->ids || !x->times) {
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
	r = exec_kv(x, kv, err);
	if (r) {
		pn_exec_free(x);
		return r;
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
	free(x->ids);
	free(x->times);
	free(x->own_kv);
	free(x->slot_ids);
	free(x->pos_zero);
	free(x);
}

const struct pn_model *pn_exec_model(const struct pn_exec *x)
{
	return x->m;
}

size_t pn_exec_scratch_bytes(const struct pn_exec *x)
{
	return x->scratch_bytes;
}

size_t pn_exec_arena_bytes(const struct pn_exec *x, size_t *naive)
{
	if (naive)
		*naive = x->plan.naive;
	return x->plan.total;
}

/*
 * A first run of a shape pays more than the primitives' creation: measured
 * on USE lite, a job of 12 tokens took 3.3 ms the first time after its
 * primitives were made and 0.8 ms after (first executions of each row
 * count's kernels, their scratchpad's pages). So every row count the packed
 * path can see runs once: B = 1 at every T up to one past the packed rows
 * (TOKENS nodes), then T = 1 at every B (SEQ nodes see B rows).
 */
int pn_exec_prepare(struct pn_exec *x, struct pn_err *err)
{
	const struct pn_graph *g = x->g;
	const struct pnb_value *ov = &g->values[g->output];
	uint32_t maxT = x->max_tokens < PN_PACKED_MAX_ROWS + 1 ? x->max_tokens :
			PN_PACKED_MAX_ROWS + 1;
	size_t n = maxT > x->max_batch ? maxT : x->max_batch;
	size_t out_rows = ov->layout == PNB_LAYOUT_SEQ ? x->max_batch : n;
	int32_t *ids = calloc(n, sizeof(*ids));
	uint32_t *lens = calloc(x->max_batch, sizeof(*lens));
	float *out = malloc(out_rows * ov->width * sizeof(float));
	int r = 0;

	if (!ids || !lens || !out) {
		r = pn_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; x->pk && i < g->n_nodes; i++)
		for (int k = 0; k < 2; k++)
			pn_packed_ctx_prepare(x->pk, x->cm->nodes[i].packed[k]);
	/* fault every page in now, not on a job's latency */
	memset(x->arena, 0, x->plan.total);
	memset(x->ids, 0, (size_t)x->max_batch * x->max_tokens * sizeof(int32_t));
	if (!g->vocab_size)
		goto out;	/* no id is valid: nothing to run */
	for (uint32_t T = 1; !r && T <= maxT; T++) {
		lens[0] = T;
		r = pn_exec_run(x, ids, lens, 1, T, out, err);
	}
	for (uint32_t B = 2; !r && B <= x->max_batch; B++) {
		lens[B - 1] = lens[B - 2] = 1;
		r = pn_exec_run(x, ids, lens, B, 1, out, err);
	}
out:
	free(ids);
	free(lens);
	free(out);
	return r;
}

static float *val(struct pn_exec *x, uint32_t v)
{
	return (float *)(x->arena + x->plan.offset[v]);
}

static void run_node(struct pn_exec *x, uint32_t i, const uint32_t *lens, uint32_t B,
		     uint32_t T, const struct pn_kv_run *kr)
{
	const struct pn_graph *g = x->g;
	const struct pn_gnode *n = &g->nodes[i];
	struct pn_op_run r = {
		.pool = x->pool, .pk = x->pk, .f = g->file, .n = n, .cn = &x->cm->nodes[i],
		.ids = x->ids, .lens = lens, .B = B, .T = T,
		.rows = g->values[n->in[0]].layout == PNB_LAYOUT_SEQ ? B : B * T,
		.y = val(x, n->out), .scratch = (float *)(x->arena + x->plan.scratch_off[i]),
		.kv = kr,
	};

	for (uint32_t k = 0; k < n->n_in; k++) {
		r.in[k] = n->in[k] == g->input ? NULL : val(x, n->in[k]);
		r.in_layout[k] = g->values[n->in[k]].layout;
	}
	pn_op_cpu_get(n->op)->run(&r);
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
	return pn_exec_run_kv(x, ids, lens, batch, T, NULL, NULL, out, err);
}

/* Every sequence's positions fit its slot, and the slots exist. */
static int check_kv(const struct pn_exec *x, const uint32_t *lens, uint32_t batch,
		    const uint32_t *pos0, const uint32_t *slots, struct pn_err *err)
{
	for (uint32_t b = 0; b < batch; b++) {
		if (slots[b] >= x->kv.n_slots)
			return pn_errf(err, -EINVAL, "sequence %u: KV slot %u, expected 0..%u",
				       b, slots[b], x->kv.n_slots - 1);
		if ((uint64_t)pos0[b] + lens[b] > x->kv.len)
			return pn_errf(err, -ENOSPC, "sequence %u: positions %u..%llu run past "
				       "the KV cache's %u", b, pos0[b],
				       (unsigned long long)pos0[b] + lens[b] - 1, x->kv.len);
	}
	return 0;
}

int pn_exec_run_kv(struct pn_exec *x, const int32_t *ids, const uint32_t *lens,
		   uint32_t batch, uint32_t T, const uint32_t *pos0, const uint32_t *slots,
		   float *out, struct pn_err *err)
{
	const struct pn_graph *g = x->g;
	const struct pnb_value *ov = &g->values[g->output];
	struct pn_kv_run kr = { .kv = &x->kv, .slots = slots ? slots : x->slot_ids,
				.pos0 = pos0 ? pos0 : x->pos_zero };
	size_t out_rows;
	int r;

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
	if (x->kv.layers && (r = check_kv(x, lens, batch, kr.pos0, kr.slots, err)))
		return r;
	for (uint32_t i = 0; i < g->n_nodes; i++) {
		double t0 = x->profile ? now_us() : 0;

		run_node(x, i, lens, batch, T, &kr);
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
