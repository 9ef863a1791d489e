// SPDX-License-Identifier: MIT
/*
 * pass_attnmean.c - mean mixing (--attn-mean): a layer's attention with
 * its weights made uniform over the valid keys. Every query then gets the
 * same output, the mean of the values through the output projection:
 *
 *   a_t = mean_s(u_s Wv + bv) Wo + bo = mean_s(u_s) (Wv Wo) + (bv Wo + bo)
 *
 * with u = the layer's ln1 output. That is the linear-time token mixing of
 * the Polynomial Mixer (SPECS.md, PoM) at degree 1, with no selection and
 * no activation, and needs no fitting: Wv Wo is folded here in double.
 * The layer's q/k/v projection, attention and output projection (a third
 * of USE lite's layer 1) become POOL_MEAN -> LINEAR on one row per
 * sequence and a broadcast ADD into the residual stream.
 *
 * What it loses is every query's own weighting: measured end to end (the
 * frontier), as the report cannot see per-sequence rows.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "compile/polyc.h"

struct attn_site {
	uint32_t qkv, attn, o, add;	/* nodes */
	uint32_t u, res;		/* values: ln1 output, the residual added */
};

static int find_site(const struct pn_rw *rw, uint32_t l, struct attn_site *s)
{
	static const char *const fmt[4] = { "l%u.attn.qkv", "l%u.attn", "l%u.attn.out",
					    "l%u.attn.add" };
	uint32_t *idx[4] = { &s->qkv, &s->attn, &s->o, &s->add };
	const struct pnb_node *add;
	char name[32];

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), fmt[i], l);
		*idx[i] = pn_rw_find_node(rw, name);
		if (*idx[i] == PNB_NONE)
			return 0;
	}
	add = pn_rw_node(rw, s->add);
	s->u = pn_rw_node(rw, s->qkv)->in[0];
	s->res = add->in[0] == pn_rw_node(rw, s->o)->out ? add->in[1] : add->in[0];
	return pn_rw_node(rw, s->qkv)->op == PNB_OP_LINEAR &&
	       pn_rw_node(rw, s->attn)->op == PNB_OP_ATTENTION &&
	       pn_rw_node(rw, s->o)->op == PNB_OP_LINEAR && add->op == PNB_OP_ADD &&
	       pn_rw_node(rw, s->attn)->iattr[PNB_IA_ATTN_CAUSAL] == 0;	/* not causal */
}

/* Wvo = Wv Wo [Din, Dout], bvo = bv Wo + bo, in double. */
static int fold_vo(const struct pn_rw *rw, const struct attn_site *s, float *Wvo, float *bvo,
		   uint32_t Din, uint32_t d, uint32_t Dout)
{
	const struct pnb_node *q = pn_rw_node(rw, s->qkv), *o = pn_rw_node(rw, s->o);
	const float *Wqkv = pn_rw_tensor_f32(rw, q->w[PNB_W_LINEAR_W]);
	const float *Wo = pn_rw_tensor_f32(rw, o->w[PNB_W_LINEAR_W]);
	const float *bqkv = q->n_w > 1 && q->w[PNB_W_LINEAR_B] != PNB_NONE ?
			    pn_rw_tensor_f32(rw, q->w[PNB_W_LINEAR_B]) : NULL;
	const float *bo = o->n_w > 1 && o->w[PNB_W_LINEAR_B] != PNB_NONE ?
			  pn_rw_tensor_f32(rw, o->w[PNB_W_LINEAR_B]) : NULL;
	double *row = malloc((size_t)Dout * sizeof(double));

	if (!row)
		return -ENOMEM;
	for (uint32_t i = 0; i <= Din; i++) {	/* row Din: the bias */
		for (uint32_t c = 0; c < Dout; c++)
			row[c] = i == Din && bo ? bo[c] : 0;
		for (uint32_t k = 0; k < d; k++) {
			double v = i < Din ? Wqkv[(size_t)i * 3 * d + 2 * d + k] :
				   bqkv ? bqkv[2 * d + k] : 0;

			for (uint32_t c = 0; c < Dout && v != 0; c++)
				row[c] += v * Wo[(size_t)k * Dout + c];
		}
		for (uint32_t c = 0; c < Dout; c++)
			(i < Din ? Wvo + (size_t)i * Dout : bvo)[c] = (float)row[c];
	}
	free(row);
	return 0;
}

static int one_layer(struct pn_pass_ctx *c, uint32_t l, cJSON *arr, struct pn_err *err)
{
	struct pn_rw *rw = c->rw;
	struct attn_site s;
	uint32_t Din, d, Dout, pooled, mixed, W, bias;
	float *Wvo = NULL, *bvo = NULL;
	struct pnb_node n[3];
	char nm[3][48];
	const char *names[3] = { nm[0], nm[1], nm[2] };
	cJSON *o;
	int r;

	if (!find_site(rw, l, &s))
		return pn_errf(err, -EINVAL, "attn-mean: layer %u: expected the nodes l%u.attn.qkv "
			       "(LINEAR), l%u.attn (non-causal ATTENTION), l%u.attn.out (LINEAR) "
			       "and l%u.attn.add (ADD) of a graph written by polyctl compile",
			       l, l, l, l, l);
	Din = pn_rw_value_info(rw, s.u)->width;
	d = (uint32_t)pn_rw_tensor_info(rw, pn_rw_node(rw, s.qkv)->w[PNB_W_LINEAR_W])->shape[1] / 3;
	Dout = (uint32_t)pn_rw_tensor_info(rw, pn_rw_node(rw, s.o)->w[PNB_W_LINEAR_W])->shape[1];
	Wvo = malloc((size_t)Din * Dout * sizeof(float));
	bvo = malloc((size_t)Dout * sizeof(float));
	if (!Wvo || !bvo || fold_vo(rw, &s, Wvo, bvo, Din, d, Dout)) {
		r = pn_errf(err, -ENOMEM, "attn-mean: out of memory");
		goto out;
	}
	snprintf(nm[0], sizeof(nm[0]), "l%u.attn.mean.pool", l);
	snprintf(nm[1], sizeof(nm[1]), "l%u.attn.mean", l);
	snprintf(nm[2], sizeof(nm[2]), "l%u.attn.add", l);
	pooled = pn_rw_value(rw, nm[0], PNB_DTYPE_F32, PNB_LAYOUT_SEQ, Din);
	mixed = pn_rw_value(rw, nm[1], PNB_DTYPE_F32, PNB_LAYOUT_SEQ, Dout);
	W = pn_rw_tensor_named(rw, nm[1], ".Wvo", Din, Dout, Wvo);
	bias = pn_rw_tensor_named(rw, nm[1], ".bvo", Dout, 0, bvo);
	if (pooled == PNB_NONE || mixed == PNB_NONE || W == PNB_NONE || bias == PNB_NONE) {
		r = pn_errf(err, -ENOMEM, "attn-mean: out of memory");
		goto out;
	}
	pn_node1(&n[0], PNB_OP_POOL_MEAN, pooled, s.u);
	pn_node_linear(&n[1], mixed, pooled, W, bias, PNB_ACT_NONE);
	/* mixed is SEQ: the ADD broadcasts it over the sequence's tokens */
	pn_node_add(&n[2], pn_rw_node(rw, s.add)->out, s.res, mixed);
	r = pn_rw_replace(rw, s.add, n, names, 3);
	if (r) {
		r = pn_errf(err, r, "attn-mean: out of memory");
		goto out;
	}
	pn_report_printf(c->rep, "  layer %u: attention (%u -> 3 x %u, %u heads) -> mean of the "
			 "values, Wv Wo folded [%u, %u], one row per sequence\n", l, Din, d,
			 (unsigned)pn_rw_node(rw, s.attn)->iattr[PNB_IA_ATTN_HEADS], Din, Dout);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "layer", l);
	cJSON_AddNumberToObject(o, "d_in", Din);
	cJSON_AddNumberToObject(o, "d_attn", d);
	cJSON_AddNumberToObject(o, "d_out", Dout);
	cJSON_AddItemToArray(arr, o);
out:
	free(Wvo);
	free(bvo);
	return r;
}

int pn_pass_attn_mean(struct pn_pass_ctx *c, struct pn_err *err)
{
	cJSON *arr = cJSON_AddArrayToObject(c->rep->json, "attn_mean");
	uint32_t done = 0;
	char name[32];

	pn_report_printf(c->rep, "Mean mixing (uniform attention):\n");
	for (uint32_t l = 0; l < 32; l++) {
		int r;

		snprintf(name, sizeof(name), "l%u.attn", l);
		if (pn_rw_find_node(c->rw, name) == PNB_NONE)
			break;
		if (!pn_layer_on(c->o->attn_mean_layers, l))
			continue;
		r = one_layer(c, l, arr, err);
		if (r)
			return r;
		done++;
	}
	if (!done)
		return pn_errf(err, -EINVAL, "attn-mean: no layer selected has an attention "
			       "named lN.attn");
	return pn_rw_prune(c->rw) ? pn_errf(err, -ENOMEM, "attn-mean: out of memory") : 0;
}
