// SPDX-License-Identifier: MIT
/*
 * cud_graph.c - CUDA graphs of kernel nodes: a node copies its parameters'
 * values when it is added (as cuGraphAddKernelNode does, by the entry's
 * .param sizes), an exec copies the nodes when instantiated, and
 * cuGraphExecKernelNodeSetParams replaces one exec node's launch (same
 * function only, as the driver requires). A launch runs the nodes in
 * insertion order, a topological order since a dependency must exist
 * before its dependants; the first failing node ends it.
 */
#include <stdlib.h>
#include <string.h>

#include "cud_int.h"

void cud_graph_free(struct CUgraph_st *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->nodes[i]->l.blob);
		free(g->nodes[i]->deps);
		cud_obj_free(g->nodes[i]);
	}
	free(g->nodes);
	cud_obj_free(g);
}

void cud_exec_free(struct CUgraphExec_st *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->nodes[i].blob);
	free(x->nodes);
	free(x->ids);
	cud_obj_free(x);
}

CUresult cuGraphCreate(CUgraph *g, unsigned int flags)
{
	struct CUctx_st *c;
	CUresult r;

	if (!g || flags)
		return CUDA_ERROR_INVALID_VALUE;
	pthread_mutex_lock(&cud.lock);
	if ((r = cud_cur_ctx(&c)) == CUDA_SUCCESS) {
		struct CUgraph_st *ng = cud_obj_new(sizeof(*ng), CUD_GRAPH, c);
		if (ng)
			*g = ng;
		else
			r = CUDA_ERROR_OUT_OF_MEMORY;
	}
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* A handle of a kind, its context usable. Takes cud.lock, kept on success. */
static CUresult obj_begin(const void *h, int kind, void **out)
{
	CUresult r;

	pthread_mutex_lock(&cud.lock);
	if ((r = cud_check_init()) == CUDA_SUCCESS) {
		if (!(*out = cud_obj_get(h, kind)))
			r = CUDA_ERROR_INVALID_HANDLE;
		else
			r = cud_ctx_usable(((struct cud_obj *)*out)->ctx);
	}
	if (r != CUDA_SUCCESS)
		pthread_mutex_unlock(&cud.lock);
	return r;
}

/* p checked against its function (of context c), the values copied into a new blob. */
static CUresult node_launch(struct CUctx_st *c, const CUDA_KERNEL_NODE_PARAMS *p,
			    struct cud_launch *l)
{
	struct CUfunc_st *f;
	char why[512];
	CUresult r;

	if (!p)
		return CUDA_ERROR_INVALID_VALUE;
	if (p->kern)
		return CUDA_ERROR_NOT_SUPPORTED;	/* CUkernel (cuLibrary*): not in the double */
	if (!(f = cud_obj_get(p->func, CUD_FUNC)) || f->o.ctx != c || (p->ctx && p->ctx != c))
		return CUDA_ERROR_INVALID_VALUE;
	*l = (struct cud_launch){ .fn = f, .grid = { p->gridDimX, p->gridDimY, p->gridDimZ },
				  .block = { p->blockDimX, p->blockDimY, p->blockDimZ },
				  .shared = p->sharedMemBytes };
	if (!(l->blob = malloc(f->params.bytes + 1)))
		return CUDA_ERROR_OUT_OF_MEMORY;
	r = cud_launch_check(f, l->grid, l->block, l->shared, p->kernelParams, p->extra, l->blob,
			     why, sizeof(why));
	if (r != CUDA_SUCCESS) {
		cud_log("launch_refused dev=%d entry=%s reason=%s", c->dev->ordinal, f->name, why);
		free(l->blob);
		l->blob = NULL;
	}
	return r;
}

CUresult cuGraphAddKernelNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t n_deps,
			      const CUDA_KERNEL_NODE_PARAMS *p)
{
	struct CUgraph_st *gr;
	struct CUgraphNode_st *n = NULL;
	struct cud_launch l = { 0 };
	CUresult r;

	if (!node || (n_deps && !deps))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = obj_begin(g, CUD_GRAPH, (void **)&gr)) != CUDA_SUCCESS)
		return r;
	for (size_t i = 0; i < n_deps; i++) {
		struct CUgraphNode_st *dn = cud_obj_get(deps[i], CUD_NODE);
		if (!dn || dn->graph != gr) {
			r = CUDA_ERROR_INVALID_VALUE;
			goto out;
		}
	}
	if ((r = node_launch(gr->o.ctx, p, &l)) != CUDA_SUCCESS)
		goto out;
	r = CUDA_ERROR_OUT_OF_MEMORY;
	if (gr->n == gr->cap) {
		size_t cap = gr->cap ? gr->cap * 2 : 16;
		struct CUgraphNode_st **nn = realloc(gr->nodes, cap * sizeof(*nn));
		if (!nn)
			goto out;
		gr->nodes = nn;
		gr->cap = cap;
	}
	if (!(n = cud_obj_new(sizeof(*n), CUD_NODE, gr->o.ctx)))
		goto out;
	if (n_deps && !(n->deps = malloc(n_deps * sizeof(*n->deps)))) {
		cud_obj_free(n);
		goto out;
	}
	for (size_t i = 0; i < n_deps; i++)
		n->deps[i] = deps[i];
	n->n_deps = n_deps;
	n->graph = gr;
	n->id = ++cud.next_node_id;
	n->l = l;
	l.blob = NULL;
	gr->nodes[gr->n++] = n;
	*node = n;
	r = CUDA_SUCCESS;
out:
	free(l.blob);
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuGraphInstantiateWithFlags(CUgraphExec *x, CUgraph g, unsigned long long flags)
{
	struct CUgraph_st *gr;
	struct CUgraphExec_st *ex;
	CUresult r;

	/* AUTO_FREE_ON_LAUNCH (1) and USE_NODE_PRIORITY (8) change nothing here */
	if (!x || (flags & ~9ull))
		return CUDA_ERROR_INVALID_VALUE;
	if ((r = obj_begin(g, CUD_GRAPH, (void **)&gr)) != CUDA_SUCCESS)
		return r;
	r = CUDA_ERROR_OUT_OF_MEMORY;
	if (!(ex = cud_obj_new(sizeof(*ex), CUD_EXEC, gr->o.ctx)))
		goto out;
	ex->nodes = calloc(gr->n + 1, sizeof(*ex->nodes));
	ex->ids = calloc(gr->n + 1, sizeof(*ex->ids));
	if (!ex->nodes || !ex->ids)
		goto fail;
	for (size_t i = 0; i < gr->n; i++) {
		const struct cud_launch *src = &gr->nodes[i]->l;
		ex->nodes[i] = *src;
		if (!(ex->nodes[i].blob = malloc(src->fn->params.bytes + 1)))
			goto fail;
		memcpy(ex->nodes[i].blob, src->blob, src->fn->params.bytes);
		ex->ids[i] = gr->nodes[i]->id;
		ex->n = i + 1;
	}
	ex->n = gr->n;
	*x = ex;
	cud_log("graph_instantiate dev=%d nodes=%zu", gr->o.ctx->dev->ordinal, gr->n);
	r = CUDA_SUCCESS;
	goto out;
fail:
	cud_exec_free(ex);
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuGraphExecKernelNodeSetParams(CUgraphExec x, CUgraphNode node,
					const CUDA_KERNEL_NODE_PARAMS *p)
{
	struct CUgraphExec_st *ex;
	struct CUgraphNode_st *n;
	struct cud_launch l = { 0 };
	size_t i;
	CUresult r;

	if ((r = obj_begin(x, CUD_EXEC, (void **)&ex)) != CUDA_SUCCESS)
		return r;
	struct CUctx_st *c = ex->o.ctx;
	r = CUDA_ERROR_INVALID_VALUE;
	if (!(n = cud_obj_get(node, CUD_NODE)))
		goto out;
	for (i = 0; i < ex->n && ex->ids[i] != n->id; i++)
		;
	if (i == ex->n)
		goto out;	/* a node of another graph, or added after instantiation */
	/* first: another function's kernelParams may be shorter than this one's */
	if (!p || (struct CUfunc_st *)p->func != ex->nodes[i].fn)
		goto out;
	if ((r = node_launch(c, p, &l)) != CUDA_SUCCESS)
		goto out;
	/* a launch of this exec may be reading the node: wait for the device */
	cud_dev_enter(c->dev);
	if (cud_obj_get(x, CUD_EXEC) == ex && i < ex->n) {
		free(ex->nodes[i].blob);
		ex->nodes[i] = l;
		l.blob = NULL;
		r = CUDA_SUCCESS;
		cud_log("graph_set_params dev=%d", c->dev->ordinal);
	} else {
		r = CUDA_ERROR_INVALID_HANDLE;
	}
	cud_dev_leave(c->dev);
out:
	free(l.blob);
	pthread_mutex_unlock(&cud.lock);
	return r;
}

/* Each node with its values' addresses, as kernelParams. Busy held, cud.lock not. */
static CUresult run_nodes(const struct CUgraphExec_st *ex)
{
	void *ptrs[CUD_MAX_PARAMS];

	for (size_t i = 0; i < ex->n; i++) {
		const struct cud_launch *l = &ex->nodes[i];
		for (uint32_t k = 0; k < l->fn->params.n; k++)
			ptrs[k] = l->blob + l->fn->params.off[k];
		CUresult r = cud_execute(l->fn, l->grid, l->block, l->shared, ptrs);
		if (r != CUDA_SUCCESS)
			return r;	/* a faulted kernel ends the graph's work */
	}
	return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec x, CUstream s)
{
	struct CUgraphExec_st *ex;
	struct CUstream_st *st;
	CUresult r;

	if ((r = obj_begin(x, CUD_EXEC, (void **)&ex)) != CUDA_SUCCESS)
		return r;
	struct CUctx_st *c = ex->o.ctx;
	r = CUDA_ERROR_INVALID_HANDLE;
	if (!cud_stream_of(c, s))
		goto out;
	cud_dev_enter(c->dev);
	r = cud_ctx_usable(c);
	if (r == CUDA_SUCCESS && (cud_obj_get(x, CUD_EXEC) != ex || !cud_stream_of(c, s)))
		r = CUDA_ERROR_INVALID_HANDLE;
	/* a module unloaded since instantiation leaves its nodes without a function */
	for (size_t i = 0; r == CUDA_SUCCESS && i < ex->n; i++)
		if (cud_obj_get(ex->nodes[i].fn, CUD_FUNC) != ex->nodes[i].fn)
			r = CUDA_ERROR_INVALID_HANDLE;
	if (r != CUDA_SUCCESS) {
		cud_dev_leave(c->dev);
		goto out;
	}
	cud_log("graph_launch dev=%d nodes=%zu", c->dev->ordinal, ex->n);
	pthread_mutex_unlock(&cud.lock);
	CUresult xr = run_nodes(ex);
	pthread_mutex_lock(&cud.lock);
	if ((st = cud_stream_of(c, s)))
		cud_execute_result(st, xr);
	else
		cud_execute_result(&c->null_stream, xr);
	cud_dev_leave(c->dev);
out:
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuGraphExecDestroy(CUgraphExec x)
{
	struct CUgraphExec_st *ex;
	CUresult r;

	if ((r = obj_begin(x, CUD_EXEC, (void **)&ex)) != CUDA_SUCCESS)
		return r;
	struct cud_dev *d = ex->o.ctx->dev;
	cud_dev_enter(d);	/* it may be running */
	if (cud_obj_get(x, CUD_EXEC) == ex)
		cud_exec_free(ex);
	else
		r = CUDA_ERROR_INVALID_HANDLE;
	cud_dev_leave(d);
	pthread_mutex_unlock(&cud.lock);
	return r;
}

CUresult cuGraphDestroy(CUgraph g)
{
	struct CUgraph_st *gr;
	CUresult r;

	if ((r = obj_begin(g, CUD_GRAPH, (void **)&gr)) != CUDA_SUCCESS)
		return r;
	cud_graph_free(gr);
	pthread_mutex_unlock(&cud.lock);
	return CUDA_SUCCESS;
}
