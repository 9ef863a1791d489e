// SPDX-License-Identifier: MIT
/*
 * pass_common.c - what the passes share: finding FFN sites (an FFN node,
 * or the pool-folded LINEAR -> POOL_MEAN -> LINEAR of docs/compile.md),
 * replacing one, evaluating one exactly, and the report buffer.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"

uint32_t pn_layer_of(const char *name)
{
	char *end;
	unsigned long l;

	if (name[0] != 'l' || name[1] < '0' || name[1] > '9')
		return PNB_NONE;
	l = strtoul(name + 1, &end, 10);
	return *end == '.' && l < PNB_NONE ? (uint32_t)l : PNB_NONE;
}

/* The single node reading v, or PNB_NONE (none, or more than one). */
static uint32_t only_reader(const struct pn_rw *rw, uint32_t v)
{
	uint32_t found = PNB_NONE;

	for (uint32_t i = 0; i < pn_rw_n_nodes(rw); i++) {
		const struct pnb_node *n = pn_rw_node(rw, i);

		for (uint32_t j = 0; j < n->n_in; j++)
			if (n->in[j] == v) {
				if (found != PNB_NONE)
					return PNB_NONE;
				found = i;
			}
	}
	return found;
}

static int folded_site(const struct pn_rw *rw, uint32_t i, struct pn_ffn_site *s)
{
	const struct pnb_node *up = pn_rw_node(rw, i), *pool, *down;
	uint32_t p, d;

	if (up->op != PNB_OP_LINEAR || !pn_cheb_act_ok((uint32_t)up->iattr[PNB_IA_LINEAR_ACT]))
		return 0;
	p = only_reader(rw, up->out);
	if (p == PNB_NONE || pn_rw_node(rw, p)->op != PNB_OP_POOL_MEAN)
		return 0;
	pool = pn_rw_node(rw, p);
	d = only_reader(rw, pool->out);
	if (d == PNB_NONE)
		return 0;
	down = pn_rw_node(rw, d);
	if (down->op != PNB_OP_LINEAR || down->iattr[PNB_IA_LINEAR_ACT] != PNB_ACT_NONE)
		return 0;
	*s = (struct pn_ffn_site){
		.layer = pn_layer_of(pn_rw_node_name(rw, i)), .folded = 1, .node = d,
		.in = up->in[0], .out = down->out,
		.W1 = up->w[PNB_W_LINEAR_W], .b1 = up->w[PNB_W_LINEAR_B],
		.W2 = down->w[PNB_W_LINEAR_W], .b2 = down->w[PNB_W_LINEAR_B],
		.act = (uint32_t)up->iattr[PNB_IA_LINEAR_ACT],
		.D = pn_rw_value_info(rw, up->in[0])->width,
		.ff = pn_rw_value_info(rw, up->out)->width,
	};
	return 1;
}

uint32_t pn_ffn_sites(const struct pn_rw *rw, struct pn_ffn_site *s, uint32_t max)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < pn_rw_n_nodes(rw) && k < max; i++) {
		const struct pnb_node *n = pn_rw_node(rw, i);

		if (n->op == PNB_OP_FFN) {
			s[k++] = (struct pn_ffn_site){
				.layer = pn_layer_of(pn_rw_node_name(rw, i)), .node = i,
				.in = n->in[0], .out = n->out,
				.W1 = n->w[PNB_W_FFN_W1], .b1 = n->w[PNB_W_FFN_B1],
				.W2 = n->w[PNB_W_FFN_W2], .b2 = n->w[PNB_W_FFN_B2],
				.act = (uint32_t)n->iattr[PNB_IA_FFN_ACT],
				.gated = n->iattr[PNB_IA_FFN_GATED],
				.D = pn_rw_value_info(rw, n->in[0])->width,
				.ff = (uint32_t)pn_rw_tensor_info(rw, n->w[PNB_W_FFN_W2])->shape[0],
			};
		} else if (folded_site(rw, i, &s[k])) {
			k++;
		}
	}
	return k;
}

void pn_node1(struct pnb_node *n, uint32_t op, uint32_t out, uint32_t in)
{
	pnb_node_init(n, op, 0, out);
	n->n_in = 1;
	n->in[0] = in;
}

void pn_node_linear(struct pnb_node *n, uint32_t out, uint32_t in, uint32_t W, uint32_t b,
		    uint32_t act)
{
	pn_node1(n, PNB_OP_LINEAR, out, in);
	n->n_w = b == PNB_NONE ? 1 : 2;
	n->w[PNB_W_LINEAR_W] = W;
	n->w[PNB_W_LINEAR_B] = b;
	n->iattr[PNB_IA_LINEAR_ACT] = (int32_t)act;
}

void pn_node_add(struct pnb_node *n, uint32_t out, uint32_t a, uint32_t b)
{
	pn_node1(n, PNB_OP_ADD, out, a);
	n->n_in = 2;
	n->in[1] = b;
}

uint32_t pn_rw_tensor_named(struct pn_rw *rw, const char *prefix, const char *suffix,
			    uint64_t d0, uint64_t d1, const float *data)
{
	uint64_t sh[2] = { d0, d1 };
	char name[192];

	snprintf(name, sizeof(name), "%s%s", prefix, suffix);
	return pn_rw_tensor(rw, name, d1 ? 2 : 1, sh, data);
}

int pn_ffn_site_replace_n(struct pn_rw *rw, const struct pn_ffn_site *s,
			  struct pnb_node *n, const char *const *names, uint32_t k,
			  struct pn_err *err)
{
	struct pnb_node all[PN_SITE_MAX_NODES + 1];
	const char *nm[PN_SITE_MAX_NODES + 1];
	char pname[160];
	uint32_t v;
	int r;

	if (!k || k > PN_SITE_MAX_NODES)
		return pn_errf(err, -EINVAL, "rewrite: %u nodes for an FFN site, expected 1..%u",
			       k, PN_SITE_MAX_NODES);
	memcpy(all, n, k * sizeof(*n));
	memcpy(nm, names, k * sizeof(*names));
	if (!s->folded) {
		all[k - 1].out = s->out;
		r = pn_rw_replace(rw, s->node, all, nm, k);
		return r ? pn_errf(err, r, "rewrite: out of memory") : 0;
	}
	/* Per-token FFN output, then the pooling the fold had moved before W2. */
	snprintf(pname, sizeof(pname), "%s.pool", names[k - 1]);
	v = pn_rw_value(rw, names[k - 1], PNB_DTYPE_F32, PNB_LAYOUT_TOKENS,
			pn_rw_value_info(rw, s->out)->width);
	if (v == PNB_NONE)
		return pn_errf(err, -ENOMEM, "rewrite: out of memory");
	all[k - 1].out = v;
	pnb_node_init(&all[k], PNB_OP_POOL_MEAN, 0, s->out);
	all[k].n_in = 1;
	all[k].in[0] = v;
	nm[k] = pname;
	r = pn_rw_replace(rw, s->node, all, nm, k + 1);
	return r ? pn_errf(err, r, "rewrite: out of memory") : 0;
}

int pn_ffn_site_replace(struct pn_rw *rw, const struct pn_ffn_site *s,
			struct pnb_node *n, const char *name, struct pn_err *err)
{
	return pn_ffn_site_replace_n(rw, s, n, &name, 1, err);
}

void pn_ffn_site_eval(const struct pn_rw *rw, const struct pn_ffn_site *s,
		      const float *x, uint32_t rows, float *y)
{
	float *scratch = malloc(pn_ffn_scratch(rows, s->ff, s->gated) * sizeof(float) + 64);

	if (!scratch) {
		pn_ref_ffn(x, rows, s->D, s->ff, s->gated, s->act, pn_rw_tensor_f32(rw, s->W1),
			   s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b1),
			   pn_rw_tensor_f32(rw, s->W2),
			   s->b2 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b2), y);
		return;
	}
	pn_ffn(NULL, x, rows, &(struct pn_ffn_w){
		.D = s->D, .ff = s->ff, .gated = s->gated,
		.W1 = pn_rw_tensor_f32(rw, s->W1),
		.b1 = s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b1),
		.W2 = pn_rw_tensor_f32(rw, s->W2),
		.b2 = s->b2 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b2) }, s->act, y, scratch);
	free(scratch);
}

void pn_report_printf(struct pn_poly_report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!r)
		return;
	for (;;) {
		size_t room = r->cap - r->len;

		va_start(ap, fmt);
		n = vsnprintf(r->text ? r->text + r->len : NULL, r->text ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (r->text && (size_t)n < room) {
			r->len += (size_t)n;
			return;
		}
		{
			size_t cap = (r->cap + (size_t)n + 1) * 2;
			char *t = realloc(r->text, cap);

			if (!t)
				return;
			r->text = t;
			r->cap = cap;
		}
	}
}

void pn_report_free(struct pn_poly_report *r)
{
	free(r->text);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * Rewrites every FFN site on one of the chosen layers with fn. A
 * replacement shifts node positions, so each site is found again by its
 * input value before it is handed over. Prunes what no longer reaches the
 * output. ok may refuse a site fn cannot rewrite (NULL: all).
 */
int pn_ffn_sites_rewrite(struct pn_pass_ctx *c, const char *title, const char *json_key,
			 uint32_t layers, int (*ok)(const struct pn_ffn_site *s),
			 int (*fn)(struct pn_pass_ctx *c, const struct pn_ffn_site *s,
				   cJSON *arr, struct pn_err *err),
			 struct pn_err *err)
{
	struct pn_ffn_site sites[64];
	uint32_t n = pn_ffn_sites(c->rw, sites, 64), done = 0, ins[64];
	cJSON *arr = cJSON_AddArrayToObject(c->rep->json, json_key);

	pn_report_printf(c->rep, "%s:\n", title);
	for (uint32_t k = 0; k < n; k++)
		ins[k] = sites[k].in;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t m = pn_ffn_sites(c->rw, sites, 64), j;
		int r;

		for (j = 0; j < m && sites[j].in != ins[k]; j++)
			;
		if (j == m || !pn_layer_on(layers, sites[j].layer) || (ok && !ok(&sites[j])))
			continue;
		r = fn(c, &sites[j], arr, err);
		if (r)
			return r;
		done++;
	}
	if (!done)
		pn_report_printf(c->rep, "  no FFN site selected\n");
	return pn_rw_prune(c->rw) ? pn_errf(err, -ENOMEM, "rewrite: out of memory") : 0;
}
