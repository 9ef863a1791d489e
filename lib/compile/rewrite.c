// SPDX-License-Identifier: MIT
/*
 * rewrite.c - copy a validated .pnb through the writer while the passes
 * substitute nodes. Indices stay the file's until finish(), which keeps
 * only what the output reaches (a replaced subgraph's nodes, values and
 * weights vanish with it) and renumbers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"

struct rw_tensor {
	char *name;
	struct pnb_tensor t;	/* name, offset unused */
	void *data;		/* t.size bytes of t.dtype */
};

struct rw_value {
	char *name;
	struct pnb_value v;
};

struct rw_node {
	struct pnb_node n;
	char *name;
};

struct pn_rw {
	const struct pnb_file *f;
	struct rw_tensor *t;	/* added tensors, index f->n_tensors + k */
	uint32_t n_t;
	struct rw_value *v;	/* added values */
	uint32_t n_v;
	struct rw_node *nodes;
	uint32_t n_nodes;
};

int pn_rw_new(const struct pnb_file *f, struct pn_rw **out, struct pn_err *err)
{
	struct pn_rw *rw = calloc(1, sizeof(*rw));

	*out = NULL;
	if (!rw || !(rw->nodes = calloc(f->n_nodes ? f->n_nodes : 1, sizeof(*rw->nodes)))) {
		free(rw);
		return pn_errf(err, -ENOMEM, "rewrite: out of memory");
	}
	rw->f = f;
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		rw->nodes[i].n = f->nodes[i];
		rw->nodes[i].name = strdup(pnb_str(f, f->nodes[i].name));
		rw->n_nodes++;
		if (!rw->nodes[i].name) {
			pn_rw_free(rw);
			return pn_errf(err, -ENOMEM, "rewrite: out of memory");
		}
	}
	*out = rw;
	return 0;
}

void pn_rw_free(struct pn_rw *rw)
{
	if (!rw)
		return;
	for (uint32_t i = 0; i < rw->n_t; i++) {
		free(rw->t[i].name);
		free(rw->t[i].data);
	}
	for (uint32_t i = 0; i < rw->n_v; i++)
		free(rw->v[i].name);
	for (uint32_t i = 0; i < rw->n_nodes; i++)
		free(rw->nodes[i].name);
	free(rw->t);
	free(rw->v);
	free(rw->nodes);
	free(rw);
}

uint32_t pn_rw_n_nodes(const struct pn_rw *rw)
{
	return rw->n_nodes;
}

const struct pnb_node *pn_rw_node(const struct pn_rw *rw, uint32_t i)
{
	return &rw->nodes[i].n;
}

const char *pn_rw_node_name(const struct pn_rw *rw, uint32_t i)
{
	return rw->nodes[i].name;
}

uint32_t pn_rw_find_node(const struct pn_rw *rw, const char *name)
{
	for (uint32_t i = 0; i < rw->n_nodes; i++)
		if (!strcmp(rw->nodes[i].name, name))
			return i;
	return PNB_NONE;
}

uint32_t pn_rw_producer(const struct pn_rw *rw, uint32_t v)
{
	for (uint32_t i = 0; i < rw->n_nodes; i++)
		if (rw->nodes[i].n.out == v)
			return i;
	return PNB_NONE;
}

uint32_t pn_rw_readers(const struct pn_rw *rw, uint32_t v)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < rw->n_nodes; i++)
		for (uint32_t j = 0; j < rw->nodes[i].n.n_in; j++)
			k += rw->nodes[i].n.in[j] == v;
	return k;
}

uint32_t pn_rw_find_value(const struct pn_rw *rw, const char *name)
{
	for (uint32_t i = 0; i < rw->f->n_values; i++)
		if (!strcmp(pnb_str(rw->f, rw->f->values[i].name), name))
			return i;
	return PNB_NONE;
}

const struct pnb_tensor *pn_rw_tensor_info(const struct pn_rw *rw, uint32_t t)
{
	if (t < rw->f->n_tensors)
		return &rw->f->tensors[t];
	return t - rw->f->n_tensors < rw->n_t ? &rw->t[t - rw->f->n_tensors].t : NULL;
}

const float *pn_rw_tensor_f32(const struct pn_rw *rw, uint32_t t)
{
	if (t < rw->f->n_tensors)
		return rw->f->tensors[t].dtype == PNB_DTYPE_F32 ? pnb_tensor_data(rw->f, t) : NULL;
	if (t - rw->f->n_tensors >= rw->n_t || rw->t[t - rw->f->n_tensors].t.dtype != PNB_DTYPE_F32)
		return NULL;
	return rw->t[t - rw->f->n_tensors].data;
}

const void *pn_rw_tensor_data(const struct pn_rw *rw, uint32_t t)
{
	if (t < rw->f->n_tensors)
		return pnb_tensor_data(rw->f, t);
	return t - rw->f->n_tensors < rw->n_t ? rw->t[t - rw->f->n_tensors].data : NULL;
}

const struct pnb_value *pn_rw_value_info(const struct pn_rw *rw, uint32_t v)
{
	if (v < rw->f->n_values)
		return &rw->f->values[v];
	return v - rw->f->n_values < rw->n_v ? &rw->v[v - rw->f->n_values].v : NULL;
}

const char *pn_rw_value_name(const struct pn_rw *rw, uint32_t v)
{
	if (v < rw->f->n_values)
		return pnb_str(rw->f, rw->f->values[v].name);
	return v - rw->f->n_values < rw->n_v ? rw->v[v - rw->f->n_values].name : "?";
}

uint32_t pn_rw_tensor_typed(struct pn_rw *rw, const char *name, uint32_t dtype, uint32_t ndim,
			    const uint64_t *shape, const void *data)
{
	struct rw_tensor *nt, *t;
	uint64_t elems = 1;

	if (!pnb_dtype_size(dtype) || ndim < 1 || ndim > PNB_MAX_DIMS)
		return PNB_NONE;
	nt = realloc(rw->t, (rw->n_t + 1) * sizeof(*nt));
	if (!nt)
		return PNB_NONE;
	rw->t = nt;
	t = &rw->t[rw->n_t];
	memset(t, 0, sizeof(*t));
	t->t.dtype = dtype;
	t->t.ndim = ndim;
	for (uint32_t d = 0; d < ndim; d++)
		elems *= (t->t.shape[d] = shape[d]);
	t->t.size = elems * pnb_dtype_size(dtype);
	t->name = strdup(name);
	t->data = malloc(t->t.size ? t->t.size : 1);
	if (!t->name || !t->data) {
		free(t->name);
		free(t->data);
		return PNB_NONE;
	}
	memcpy(t->data, data, t->t.size);
	return rw->f->n_tensors + rw->n_t++;
}

uint32_t pn_rw_tensor(struct pn_rw *rw, const char *name, uint32_t ndim,
		      const uint64_t *shape, const float *data)
{
	return pn_rw_tensor_typed(rw, name, PNB_DTYPE_F32, ndim, shape, data);
}

uint32_t pn_rw_value(struct pn_rw *rw, const char *name, uint32_t dtype,
		     uint32_t layout, uint32_t width)
{
	struct rw_value *nv = realloc(rw->v, (rw->n_v + 1) * sizeof(*nv));

	if (!nv)
		return PNB_NONE;
	rw->v = nv;
	nv[rw->n_v].name = strdup(name);
	if (!nv[rw->n_v].name)
		return PNB_NONE;
	nv[rw->n_v].v = (struct pnb_value){ .dtype = dtype, .layout = layout, .width = width };
	return rw->f->n_values + rw->n_v++;
}

void pn_rw_set_node(struct pn_rw *rw, uint32_t i, const struct pnb_node *n)
{
	rw->nodes[i].n = *n;
}

int pn_rw_replace(struct pn_rw *rw, uint32_t i, const struct pnb_node *nodes,
		  const char *const *names, uint32_t n)
{
	struct rw_node *nn = malloc((rw->n_nodes - 1 + n + 1) * sizeof(*nn));
	uint32_t k = 0;

	if (!nn)
		return -ENOMEM;
	for (uint32_t j = 0; j < n; j++) {
		nn[i + j].n = nodes[j];
		nn[i + j].name = strdup(names[j]);
		if (!nn[i + j].name) {
			while (j--)
				free(nn[i + j].name);
			free(nn);
			return -ENOMEM;
		}
	}
	for (uint32_t j = 0; j < rw->n_nodes; j++) {
		if (j == i) {
			free(rw->nodes[j].name);
			k += n;
			continue;
		}
		nn[k++] = rw->nodes[j];
	}
	free(rw->nodes);
	rw->nodes = nn;
	rw->n_nodes = k;
	return 0;
}

/* Marks the live nodes (reaching the output), values and tensors. */
static int mark_live(const struct pn_rw *rw, uint8_t *node_live, uint8_t *val_live,
		     uint8_t *ten_live)
{
	const struct pnb_header *h = rw->f->hdr;

	val_live[h->output] = val_live[h->input] = 1;
	for (uint32_t i = rw->n_nodes; i--;) {
		const struct pnb_node *n = &rw->nodes[i].n;

		if (!val_live[n->out])
			continue;
		node_live[i] = 1;
		for (uint32_t j = 0; j < n->n_in; j++)
			val_live[n->in[j]] = 1;
		for (uint32_t j = 0; j < n->n_w; j++)
			if (n->w[j] != PNB_NONE)
				ten_live[n->w[j]] = 1;
	}
	if (h->tok_pieces != PNB_NONE)
		ten_live[h->tok_pieces] = 1;
	if (h->tok_scores != PNB_NONE)
		ten_live[h->tok_scores] = 1;
	return 0;
}

int pn_rw_prune(struct pn_rw *rw)
{
	uint32_t nt = rw->f->n_tensors + rw->n_t, nv = rw->f->n_values + rw->n_v, k = 0;
	uint8_t *node_live = calloc(rw->n_nodes + 1, 1), *val_live = calloc(nv, 1);
	uint8_t *ten_live = calloc(nt + 1, 1);

	if (!node_live || !val_live || !ten_live) {
		free(node_live);
		free(val_live);
		free(ten_live);
		return -ENOMEM;
	}
	mark_live(rw, node_live, val_live, ten_live);
	for (uint32_t i = 0; i < rw->n_nodes; i++) {
		if (node_live[i])
			rw->nodes[k++] = rw->nodes[i];
		else
			free(rw->nodes[i].name);
	}
	rw->n_nodes = k;
	free(node_live);
	free(val_live);
	free(ten_live);
	return 0;
}

static int write_all(const struct pn_rw *rw, struct pnb_writer *w, const uint8_t *node_live,
		     const uint8_t *val_live, const uint8_t *ten_live, uint32_t *tmap,
		     uint32_t *vmap, uint32_t *n_nodes)
{
	const struct pnb_file *f = rw->f;
	const struct pnb_header *h = f->hdr;
	uint32_t nt = f->n_tensors + rw->n_t, nv = f->n_values + rw->n_v;
	struct pnb_header nh = { 0 };

	for (uint32_t t = 0; t < nt; t++) {
		const struct pnb_tensor *ti = pn_rw_tensor_info(rw, t);

		tmap[t] = PNB_NONE;
		if (!ten_live[t])
			continue;
		tmap[t] = pnb_w_tensor(w, t < f->n_tensors ? pnb_str(f, ti->name) :
				       rw->t[t - f->n_tensors].name, ti->dtype, ti->ndim, ti->shape,
				       pn_rw_tensor_data(rw, t));
	}
	for (uint32_t v = 0; v < nv; v++) {
		const struct pnb_value *vi = pn_rw_value_info(rw, v);

		vmap[v] = PNB_NONE;
		if (val_live[v])
			vmap[v] = pnb_w_value(w, v < f->n_values ? pnb_str(f, vi->name) :
					      rw->v[v - f->n_values].name, vi->dtype,
					      vi->layout, vi->width);
	}
	*n_nodes = 0;
	for (uint32_t i = 0; i < rw->n_nodes; i++) {
		struct pnb_node n = rw->nodes[i].n;

		if (!node_live[i])
			continue;
		n.name = pnb_w_string(w, rw->nodes[i].name);
		n.out = vmap[n.out];
		for (uint32_t j = 0; j < n.n_in; j++)
			n.in[j] = vmap[n.in[j]];
		for (uint32_t j = 0; j < n.n_w; j++)
			if (n.w[j] != PNB_NONE)
				n.w[j] = tmap[n.w[j]];
		pnb_w_node(w, &n);
		(*n_nodes)++;
	}
	nh = *h;
	nh.name = pnb_w_string(w, pnb_str(f, h->name));
	nh.input = vmap[h->input];
	nh.output = vmap[h->output];
	nh.tok_pieces = h->tok_pieces == PNB_NONE ? PNB_NONE : tmap[h->tok_pieces];
	nh.tok_scores = h->tok_scores == PNB_NONE ? PNB_NONE : tmap[h->tok_scores];
	pnb_w_header(w, &nh);
	return 0;
}

int pn_rw_finish(struct pn_rw *rw, const char *path, uint32_t *n_nodes,
		 uint64_t *file_bytes, struct pn_err *err)
{
	const struct pnb_file *f = rw->f;
	uint32_t nt = f->n_tensors + rw->n_t, nv = f->n_values + rw->n_v, nn = 0;
	uint8_t *node_live = calloc(rw->n_nodes + 1, 1), *val_live = calloc(nv, 1);
	uint8_t *ten_live = calloc(nt + 1, 1);
	uint32_t *tmap = calloc(nt + 1, sizeof(*tmap)), *vmap = calloc(nv, sizeof(*vmap));
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_file check;
	int r;

	if (!node_live || !val_live || !ten_live || !tmap || !vmap || !w) {
		r = pn_errf(err, -ENOMEM, "rewrite: out of memory");
		goto out;
	}
	mark_live(rw, node_live, val_live, ten_live);
	write_all(rw, w, node_live, val_live, ten_live, tmap, vmap, &nn);
	r = pnb_w_finish(w, path, err);
	if (r)
		goto out;
	/* The reader's full validation on what was written: a pass bug is caught here. */
	r = pnb_open(path, &check, err);
	if (r)
		goto out;
	if (file_bytes)
		*file_bytes = check.size;
	if (n_nodes)
		*n_nodes = nn;
	pnb_close(&check);
out:
	pnb_writer_free(w);
	free(node_live);
	free(val_live);
	free(ten_live);
	free(tmap);
	free(vmap);
	return r;
}
