// SPDX-License-Identifier: MIT
/*
 * packed.c - oneDNN matmul on weights packed once (packed.h says why).
 *
 * Packing asks oneDNN for the layout it wants at PACK_ROWS rows and
 * reorders the weights into it. A primitive for another row count is used
 * only if it wants the very same layout (checked, never assumed).
 * Scratchpads are user-managed so that no two executors, whose primitives
 * oneDNN's cache may back by one implementation, ever share one.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "uapi/pnb.h"
#include "util/wstore.h"

#define PACK_ROWS 16
/* (weights, rows) pairs per executor: every row count of every packed weight
 * of a few models (pn_packed_ctx_prepare makes PN_PACKED_MAX_ROWS per weight) */
#define MAX_PRIMS 8192

struct pn_packed_w {
	uint32_t K, N;
	dnnl_data_type_t src, wei, dst;	/* f32 f32 f32, u8 s8 s32 (I8) or bf16 bf16 f32 */
	bool own;			/* data is ours (malloc), not a store's */
	dnnl_memory_desc_t md;		/* the packed layout */
	void *data;
};

struct prim {
	const struct pn_packed_w *w;	/* NULL: an empty slot */
	uint32_t M;
	dnnl_primitive_t p;		/* NULL: this pair falls back to sgemm */
	dnnl_memory_t src, wei, dst, pad;
};

/*
 * prims is an open-addressing table keyed by (w, M): a lookup is one or two
 * probes however many primitives an executor prepared.
 */
struct pn_packed_ctx {
	dnnl_engine_t eng;
	dnnl_stream_t st;
	struct prim *prims;		/* [MAX_PRIMS] */
	uint32_t n;
	void *scratch;
	size_t scratch_size;
};

static dnnl_engine_t the_engine;	/* created once, kept: engines are cheap but global */

static void engine_once(void)
{
	if (dnnl_engine_create(&the_engine, dnnl_cpu, 0) != dnnl_success)
		the_engine = NULL;
}

/* Once, whichever thread comes first (polynetd prepares executors in parallel). */
static dnnl_engine_t shared_engine(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, engine_once);
	return the_engine;
}

/* The matmul [M,K] x [K,N] descriptor with w's types and weights in layout wmd. */
static int matmul_pd(dnnl_engine_t eng, const struct pn_packed_w *w, uint32_t M,
		     const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd)
{
	uint32_t K = w->K, N = w->N;
	dnnl_memory_desc_t a, c;
	dnnl_dims_t ad = { M, K }, cd = { M, N };
	dnnl_matmul_desc_t md;
	dnnl_primitive_attr_t attr;
	int ok;

	if (dnnl_memory_desc_init_by_tag(&a, 2, ad, w->src, dnnl_ab) ||
	    dnnl_memory_desc_init_by_tag(&c, 2, cd, w->dst, dnnl_ab) ||
	    dnnl_matmul_desc_init(&md, &a, wmd, NULL, &c) ||
	    dnnl_primitive_attr_create(&attr))
		return -1;
	ok = !dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) &&
	     !dnnl_primitive_desc_create(pd, &md, attr, eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	return ok ? 0 : -1;
}

struct pn_packed_w *pn_packed_w_new(const float *W, uint32_t K, uint32_t N,
				    struct pn_wstore *store)
{
	return pn_packed_w_new_dt(W, PNB_DTYPE_F32, K, N, store);
}

struct pn_packed_w *pn_packed_w_new_dt(const void *W, uint32_t dtype, uint32_t K, uint32_t N,
				       struct pn_wstore *store)
{
	dnnl_engine_t eng = shared_engine();
	struct pn_packed_w *w = NULL, t = { .K = K, .N = N };
	dnnl_memory_desc_t plain, any;
	dnnl_dims_t wd = { K, N };
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t reorder = NULL;
	dnnl_memory_t from = NULL, to = NULL;
	dnnl_stream_t st = NULL;
	size_t bytes;
	bool fill = true;
	int ok = 0;

	if (dtype == PNB_DTYPE_F32)
		t.src = t.wei = t.dst = dnnl_f32;
	else if (dtype == PNB_DTYPE_I8)
		t.src = dnnl_u8, t.wei = dnnl_s8, t.dst = dnnl_s32;	/* qgemm.h: why u8 */
	else if (dtype == PNB_DTYPE_BF16)
		t.src = t.wei = dnnl_bf16, t.dst = dnnl_f32;
	else
		return NULL;
	if (!eng || dnnl_memory_desc_init_by_tag(&plain, 2, wd, t.wei, dnnl_ab) ||
	    dnnl_memory_desc_init_by_tag(&any, 2, wd, t.wei, dnnl_format_tag_any) ||
	    matmul_pd(eng, &t, PACK_ROWS, &any, &pd))
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto out;
	*w = t;
	w->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	bytes = dnnl_memory_desc_get_size(&w->md);
	if (store) {
		/* the tag tells an attach which layout it finds: f32 keeps its old one */
		uint64_t tag = ((uint64_t)K << 32 | N) ^
			       (dtype == PNB_DTYPE_F32 ? 0 : (uint64_t)dtype << 56);

		w->data = pn_wstore_take(store, bytes, tag, &fill);
		if (!w->data)
			goto out;	/* MEASURE counted it; overflow: no packed path */
		if (!fill) {
			ok = 1;		/* ATTACH: packed by whoever filled the store */
			goto out;
		}
	} else {
		w->own = true;
		if (posix_memalign(&w->data, 64, bytes))
			goto out;
	}
	/* reorder the plain weights into the packed layout, once */
	ok = !dnnl_memory_create(&from, &plain, eng, (void *)W) &&
	     !dnnl_memory_create(&to, &w->md, eng, w->data) &&
	     !dnnl_reorder_primitive_desc_create(&rpd, &plain, eng, &w->md, eng, NULL) &&
	     !dnnl_primitive_create(&reorder, rpd) &&
	     !dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
	if (ok) {
		dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };

		pn_gemm_one_thread();
		ok = !dnnl_primitive_execute(reorder, st, 2, args) && !dnnl_stream_wait(st);
	}
out:
	if (st)
		dnnl_stream_destroy(st);
	if (reorder)
		dnnl_primitive_destroy(reorder);
	if (rpd)
		dnnl_primitive_desc_destroy(rpd);
	if (from)
		dnnl_memory_destroy(from);
	if (to)
		dnnl_memory_destroy(to);
	dnnl_primitive_desc_destroy(pd);
	if (!ok) {
		pn_packed_w_free(w);
		return NULL;
	}
	return w;
}

void pn_packed_w_free(struct pn_packed_w *w)
{
	if (!w)
		return;
	if (w->own)
		free(w->data);
	free(w);
}

struct pn_packed_ctx *pn_packed_ctx_new(void)
{
	struct pn_packed_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->eng = shared_engine();
	c->prims = calloc(MAX_PRIMS, sizeof(*c->prims));
	if (!c->eng || !c->prims ||
	    dnnl_stream_create(&c->st, c->eng, dnnl_stream_default_flags)) {
		free(c->prims);
		free(c);
		return NULL;
	}
	return c;
}

static void prim_destroy(struct prim *p)
{
	if (p->p)
		dnnl_primitive_destroy(p->p);
	if (p->src)
		dnnl_memory_destroy(p->src);
	if (p->wei)
		dnnl_memory_destroy(p->wei);
	if (p->dst)
		dnnl_memory_destroy(p->dst);
	if (p->pad)
		dnnl_memory_destroy(p->pad);
}

void pn_packed_ctx_free(struct pn_packed_ctx *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < MAX_PRIMS; i++)
		if (c->prims[i].w)
			prim_destroy(&c->prims[i]);
	dnnl_stream_destroy(c->st);
	free(c->prims);
	free(c->scratch);
	free(c);
}

/* The slot of (w, M): its primitive, or the empty slot where it goes. */
static struct prim *prim_slot(struct pn_packed_ctx *c, const struct pn_packed_w *w, uint32_t M)
{
	uint32_t h = (uint32_t)(((uintptr_t)w >> 4) * 2654435761u) + M * 40503u;

	for (uint32_t i = 0; i < MAX_PRIMS; i++) {
		struct prim *p = &c->prims[(h + i) & (MAX_PRIMS - 1)];

		if (!p->w || (p->w == w && p->M == M))
			return p;
	}
	return NULL;
}

/* Cold path: the primitive for (w, M) in slot p, or one that records "use sgemm". */
static struct prim *prim_create(struct pn_packed_ctx *c, struct prim *p,
				const struct pn_packed_w *w, uint32_t M)
{
	dnnl_primitive_desc_t pd;
	const dnnl_memory_desc_t *smd, *dmd, *wmd, *pmd;
	size_t pad;

	memset(p, 0, sizeof(*p));
	p->w = w;
	p->M = M;
	c->n++;
	if (matmul_pd(c->eng, w, M, &w->md, &pd))
		return p;
	smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	pmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	pad = pmd ? dnnl_memory_desc_get_size(pmd) : 0;
	if (!dnnl_memory_desc_equal(wmd, &w->md))
		goto fail;	/* this M wants another layout: sgemm it is */
	if (pad > c->scratch_size) {
		void *s = NULL;

		if (posix_memalign(&s, 64, pad))
			goto fail;
		/* repoint the earlier primitives' scratchpads at the new buffer */
		for (uint32_t i = 0; i < MAX_PRIMS; i++)
			if (c->prims[i].pad)
				dnnl_memory_set_data_handle(c->prims[i].pad, s);
		free(c->scratch);
		c->scratch = s;
		c->scratch_size = pad;
	}
	if (dnnl_primitive_create(&p->p, pd) ||
	    dnnl_memory_create(&p->src, smd, c->eng, DNNL_MEMORY_NONE) ||
	    dnnl_memory_create(&p->wei, wmd, c->eng, w->data) ||
	    dnnl_memory_create(&p->dst, dmd, c->eng, DNNL_MEMORY_NONE) ||
	    (pad && dnnl_memory_create(&p->pad, pmd, c->eng, c->scratch))) {
		prim_destroy(p);
		memset(p, 0, sizeof(*p));
		p->w = w;
		p->M = M;
	}
	dnnl_primitive_desc_destroy(pd);
	return p;
fail:
	dnnl_primitive_desc_destroy(pd);
	return p;
}

int pn_packed_ctx_prepare(struct pn_packed_ctx *c, const struct pn_packed_w *w)
{
	int made = 0;

	if (!c || !w)
		return 0;
	for (uint32_t M = 1; M <= PN_PACKED_MAX_ROWS; M++) {
		struct prim *p = prim_slot(c, w, M);

		if (p && !p->w && c->n + 1 < MAX_PRIMS * 3 / 4)
			p = prim_create(c, p, w, M);
		made += p && p->p;
	}
	return made;
}

/* The bias and activation epilogue, in place: the same as pn_linear's. */
static void bias_act(float *y, uint32_t M, uint32_t N, const float *b, uint32_t act)
{
	for (uint32_t r = 0; r < M; r++, y += N) {
		if (b)
			for (uint32_t k = 0; k < N; k++)
				y[k] += b[k];
		pn_act(act, y, N);
	}
}

int pn_packed_gemm(struct pn_packed_ctx *c, const struct pn_packed_w *w, uint32_t M,
		   const void *x, void *y)
{
	struct prim *p;

	if (!c || !w || M == 0 || M > PN_PACKED_MAX_ROWS)
		return -1;
	p = prim_slot(c, w, M);
	if (p && !p->w)
		p = c->n + 1 < MAX_PRIMS * 3 / 4 ? prim_create(c, p, w, M) : NULL;
	if (!p || !p->p)
		return -1;
	pn_gemm_one_thread();
	dnnl_memory_set_data_handle(p->src, (void *)x);
	dnnl_memory_set_data_handle(p->dst, y);
	{
		dnnl_exec_arg_t args[4] = {
			{ DNNL_ARG_SRC, p->src }, { DNNL_ARG_WEIGHTS, p->wei },
			{ DNNL_ARG_DST, p->dst }, { DNNL_ARG_SCRATCHPAD, p->pad },
		};

		if (dnnl_primitive_execute(p->p, c->st, p->pad ? 4 : 3, args))
			return -1;
	}
	return 0;
}

int pn_packed_linear(struct pn_packed_ctx *c, const struct pn_packed_w *w,
		     uint32_t M, const float *x, const float *b, uint32_t act,
		     float *y)
{
	if (!w || w->wei != dnnl_f32 || pn_packed_gemm(c, w, M, x, y))
		return -1;
	bias_act(y, M, w->N, b, act);
	return 0;
}
