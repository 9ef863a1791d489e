// SPDX-License-Identifier: MIT
/*
 * pass_macro.c - Macro-Operator: among the runs of --macro-len consecutive
 * transformer layers, take the one whose input and output hidden states
 * are most alike (mean cosine over the calibration rows), fit a MoE of
 * PolyFFN experts to its input -> output map (macro_fit.c) on 80% of the
 * calibration rows, report the residual on the other 20%, and replace the
 * run by one MACRO node.
 *
 * Layers are found by the compiler's node names (docs/compile.md): lN.ln1
 * (its input is the layer input), lN.attn.residual (layer 0's projection
 * of the residual, kept as the macro's input adapter), lN.attn.add, lN.ln2
 * and the FFN site reading it, lN.ffn.add (the layer output; SEQ when the
 * pool fold moved the pooling up). A layer's per-token output is
 * reconstructed as attn.add + FFN(ln2), which holds folded or not.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/poly.h"

#define MAX_LAYERS 32u

struct layer {
	uint32_t res_in;	/* value: the residual stream entering the layer (width D) */
	uint32_t attn_add, ln2, out;
	struct pn_ffn_site ffn;
};

static uint32_t value_of(const struct pn_rw *rw, const char *fmt, uint32_t l)
{
	char name[64];

	snprintf(name, sizeof(name), fmt, l);
	return pn_rw_find_value(rw, name);
}

/* The layers of the graph; 0 when the names are not the compiler's. */
static uint32_t find_layers(const struct pn_rw *rw, struct layer *L)
{
	struct pn_ffn_site sites[64];
	uint32_t ns = pn_ffn_sites(rw, sites, 64), n;

	for (n = 0; n < MAX_LAYERS; n++) {
		char name[64];
		uint32_t i, j;

		snprintf(name, sizeof(name), "l%u.ln1", n);
		i = pn_rw_find_node(rw, name);
		if (i == PNB_NONE)
			break;
		snprintf(name, sizeof(name), "l%u.attn.residual", n);
		j = pn_rw_find_node(rw, name);
		L[n].res_in = j != PNB_NONE ? pn_rw_node(rw, j)->out : pn_rw_node(rw, i)->in[0];
		L[n].attn_add = value_of(rw, "l%u.attn.add", n);
		L[n].ln2 = value_of(rw, "l%u.ln2", n);
		L[n].out = value_of(rw, "l%u.ffn.add", n);
		if (L[n].attn_add == PNB_NONE || L[n].ln2 == PNB_NONE || L[n].out == PNB_NONE ||
		    pn_rw_producer(rw, L[n].out) == PNB_NONE)
			return 0;
		for (j = 0; j < ns && sites[j].in != L[n].ln2; j++)
			;
		if (j == ns)
			return 0;
		L[n].ffn = sites[j];
	}
	return n;
}

uint32_t pn_macro_calib_values(const struct pn_rw *rw, uint32_t *v, uint32_t max)
{
	struct layer L[MAX_LAYERS];
	uint32_t n = find_layers(rw, L), k = 0;

	if (n && k < max)
		v[k++] = L[0].res_in;
	for (uint32_t l = 0; l < n && k + 2 <= max; l++) {
		v[k++] = L[l].attn_add;
		v[k++] = L[l].ln2;
	}
	return k;
}

/* Per-token output of layer l on the sample rows: attn.add + FFN(ln2). */
static float *layer_out(const struct pn_pass_ctx *c, const struct layer *l, uint32_t rows,
			uint32_t D)
{
	const struct pn_calib_value *a = pn_calib_find(c->cal, l->attn_add);
	const struct pn_calib_value *u = pn_calib_find(c->cal, l->ln2);
	float *y = malloc((size_t)rows * D * sizeof(float));

	if (!y || !a || !u) {
		free(y);
		return NULL;
	}
	pn_ffn_site_eval(c->rw, &l->ffn, u->sample, rows, y);
	for (size_t i = 0; i < (size_t)rows * D; i++)
		y[i] += a->sample[i];
	return y;
}

static double mean_cosine(const float *X, const float *Y, uint32_t n, uint32_t D)
{
	double sum = 0;

	for (uint32_t i = 0; i < n; i++) {
		double xy = 0, xx = 0, yy = 0;

		for (uint32_t d = 0; d < D; d++) {
			xy += (double)X[(size_t)i * D + d] * Y[(size_t)i * D + d];
			xx += (double)X[(size_t)i * D + d] * X[(size_t)i * D + d];
			yy += (double)Y[(size_t)i * D + d] * Y[(size_t)i * D + d];
		}
		sum += xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0;
	}
	return sum / n;
}

static int write_node(struct pn_pass_ctx *c, const struct pn_macro_fit *m, uint32_t in,
		      uint32_t out, const char *name, struct pn_err *err)
{
	struct pn_rw *rw = c->rw;
	uint32_t E = m->E, D = m->D, r = m->rank, even = m->degree % 2 == 0;
	uint32_t nc = pn_cheb_ncoef(m->degree, (int)even), p = pn_rw_producer(rw, out), v;
	struct pnb_node nodes[2];
	const char *names[2] = { name, NULL };
	char pname[96];
	uint64_t sh[2];
	uint32_t nn = 1;

	pnb_node_init(&nodes[0], PNB_OP_MACRO, 0, out);
	nodes[0].n_in = 1;
	nodes[0].in[0] = in;
	nodes[0].n_w = 7;
	sh[0] = E; sh[1] = D;
	nodes[0].w[PNB_W_MACRO_ROUTER] = pn_rw_tensor(rw, "macro.router", 2, sh, m->router);
	sh[0] = (uint64_t)E * D; sh[1] = r;
	nodes[0].w[PNB_W_MACRO_W1] = pn_rw_tensor(rw, "macro.W1", 2, sh, m->W1);
	sh[0] = (uint64_t)E * r;
	nodes[0].w[PNB_W_MACRO_B1] = pn_rw_tensor(rw, "macro.b1", 1, sh, m->b1);
	sh[0] = E; sh[1] = nc;
	nodes[0].w[PNB_W_MACRO_COEFS] = pn_rw_tensor(rw, "macro.coefs", 2, sh, m->coefs);
	sh[0] = (uint64_t)E * r; sh[1] = D;
	nodes[0].w[PNB_W_MACRO_W2] = pn_rw_tensor(rw, "macro.W2", 2, sh, m->W2);
	sh[0] = (uint64_t)E * D;
	nodes[0].w[PNB_W_MACRO_B2] = pn_rw_tensor(rw, "macro.b2", 1, sh, m->b2);
	for (int k = 0; k < 7; k++)
		if (k != PNB_W_MACRO_ROUTER_B && nodes[0].w[k] == PNB_NONE)
			return pn_errf(err, -ENOMEM, "macro: out of memory");
	nodes[0].iattr[PNB_IA_MACRO_EXPERTS] = (int32_t)E;
	nodes[0].iattr[PNB_IA_MACRO_ROUTER] = PN_ROUTER_CENTROID;
	nodes[0].iattr[PNB_IA_MACRO_TOPK] = (int32_t)m->topk;
	nodes[0].iattr[PNB_IA_MACRO_DEGREE] = (int32_t)m->degree;
	nodes[0].iattr[PNB_IA_MACRO_EVEN] = (int32_t)even;
	nodes[0].iattr[PNB_IA_MACRO_ACT] = (int32_t)m->act;
	nodes[0].fattr[PNB_FA_MACRO_A] = -m->range;
	nodes[0].fattr[PNB_FA_MACRO_B] = m->range;
	nodes[0].fattr[PNB_FA_MACRO_TAU] = 1.0f;
	if (pn_rw_value_info(rw, out)->layout == PNB_LAYOUT_SEQ) {
		/* The run ended in the pool fold: pool the macro's per-token output. */
		v = pn_rw_value(rw, name, PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
		if (v == PNB_NONE)
			return pn_errf(err, -ENOMEM, "macro: out of memory");
		nodes[0].out = v;
		pnb_node_init(&nodes[1], PNB_OP_POOL_MEAN, 0, out);
		nodes[1].n_in = 1;
		nodes[1].in[0] = v;
		snprintf(pname, sizeof(pname), "%s.pool", name);
		names[1] = pname;
		nn = 2;
	}
	if (pn_rw_replace(rw, p, nodes, names, nn))
		return pn_errf(err, -ENOMEM, "macro: out of memory");
	return pn_rw_prune(rw) ? pn_errf(err, -ENOMEM, "macro: out of memory") : 0;
}

int pn_pass_macro(struct pn_pass_ctx *c, struct pn_err *err)
{
	const struct pn_poly_opts *o = c->o;
	struct layer L[MAX_LAYERS];
	uint32_t nl = find_layers(c->rw, L), len, n = c->cal->n_sample, best = PNB_NONE, D;
	uint32_t E = o->macro, rank = o->macro_rank ? o->macro_rank : 128;
	uint32_t degree = o->macro_degree ? o->macro_degree : 8;
	uint32_t topk = o->macro_topk ? o->macro_topk : 1, nfit;
	double ridge = o->macro_ridge > 0 ? o->macro_ridge : 1e-3, best_cos = -2, held = NAN;
	float *X = NULL, *Y = NULL;
	struct pn_macro_fit m;
	cJSON *obj = cJSON_AddObjectToObject(c->rep->json, "macro"), *cands;
	char name[32];
	int rc;

	pn_report_printf(c->rep, "Macro-Operator:\n");
	if (!nl)
		return pn_errf(err, -EINVAL, "macro: no transformer layers found (nodes "
			       "lN.ln1, lN.attn.add, lN.ln2, lN.ffn.add and an FFN), expected "
			       "a graph written by polyctl compile");
	len = o->macro_len ? o->macro_len : nl;
	if (len > nl)
		return pn_errf(err, -EINVAL, "macro: --macro-len %u but the model has %u "
			       "layers", len, nl);
	if (n < 10)
		return pn_errf(err, -EINVAL, "macro: %u calibration rows, expected at least 10 "
			       "(a larger --calib file)", n);
	D = pn_rw_value_info(c->rw, L[len - 1].out)->width;
	cands = cJSON_AddArrayToObject(obj, "candidates");
	for (uint32_t s = 0; s + len <= nl; s++) {
		const struct pn_calib_value *xv;
		float *y;
		double cs;

		xv = s == 0 ? pn_calib_find(c->cal, L[0].res_in) : NULL;
		if (s == 0 && (!xv || xv->width != D))
			continue;
		if (o->macro_first && s + 1 != o->macro_first)
			continue;
		if (s > 0 && pn_rw_value_info(c->rw, L[s - 1].out)->layout != PNB_LAYOUT_TOKENS)
			continue;
		y = layer_out(c, &L[s + len - 1], n, D);
		if (!y)
			return pn_errf(err, -ENOMEM, "macro: out of memory or uncalibrated layer");
		{
			float *x = s == 0 ? NULL : layer_out(c, &L[s - 1], n, D);
			const float *xin = s == 0 ? xv->sample : x;

			if (!xin) {
				free(y);
				return pn_errf(err, -ENOMEM, "macro: out of memory");
			}
			cs = mean_cosine(xin, y, n, D);
			free(x);
		}
		free(y);
		pn_report_printf(c->rep, "  run l%u..l%u: mean cos(input, output) %.4f\n", s,
				 s + len - 1, cs);
		{
			cJSON *e = cJSON_CreateObject();

			cJSON_AddNumberToObject(e, "first", s);
			cJSON_AddNumberToObject(e, "last", s + len - 1);
			cJSON_AddNumberToObject(e, "mean_cos", cs);
			cJSON_AddItemToArray(cands, e);
		}
		if (cs > best_cos) {
			best_cos = cs;
			best = s;
		}
	}
	if (best == PNB_NONE && o->macro_first)
		return pn_errf(err, -EINVAL, "macro: --macro-first %u: layers l%u..l%u do not "
			       "exist or change width, expected a run of %u of the model's %u "
			       "layers", o->macro_first - 1, o->macro_first - 1,
			       o->macro_first + len - 2, len, nl);
	if (best == PNB_NONE)
		return pn_errf(err, -EINVAL, "macro: no run of %u layers has input and output "
			       "of the same width", len);
	X = best == 0 ? malloc((size_t)n * D * sizeof(float)) : layer_out(c, &L[best - 1], n, D);
	Y = layer_out(c, &L[best + len - 1], n, D);
	if (!X || !Y) {
		free(X);
		free(Y);
		return pn_errf(err, -ENOMEM, "macro: out of memory");
	}
	if (best == 0)
		memcpy(X, pn_calib_find(c->cal, L[0].res_in)->sample, (size_t)n * D * sizeof(float));
	if (o->macro_seed_ffn) {
		const struct layer *last = &L[best + len - 1];

		pn_report_printf(c->rep, "  chosen run l%u..l%u (cos %.4f)\n", best,
				 best + len - 1, best_cos);
		cJSON_AddNumberToObject(obj, "first", best);
		cJSON_AddNumberToObject(obj, "last", best + len - 1);
		snprintf(name, sizeof(name), "macro.l%u_l%u", best, best + len - 1);
		rc = pn_macro_seeded(c, &last->ffn, pn_rw_producer(c->rw, last->ln2), X, Y, n, D,
				     best == 0 ? L[0].res_in : L[best - 1].out, last->out, name,
				     obj, err);
		free(X);
		free(Y);
		return rc;
	}
	/* Fit on 80% of the rows, measure on the rest: the held-out residual is honest. */
	nfit = n - n / 5;
	rc = pn_macro_fit(X, Y, nfit, D, E, rank, degree, PNB_ACT_GELU, topk, ridge, o->seed, &m,
			  err);
	if (!rc && n > nfit) {
		struct pn_macro view;
		uint32_t nh = n - nfit;
		float *Yh = malloc((size_t)nh * D * sizeof(float));
		double num = 0, den = 0;

		if (Yh) {
			pn_macro_fit_view(&m, &view);
			pn_ref_macro(X + (size_t)nfit * D, nh, D, &view, Yh);
			for (size_t i = 0; i < (size_t)nh * D; i++) {
				double t = Y[(size_t)nfit * D + i] - X[(size_t)nfit * D + i];
				double e = Yh[i] - Y[(size_t)nfit * D + i];

				num += e * e;
				den += t * t;
			}
			held = den > 0 ? num / den : num;
			free(Yh);
		}
	}
	free(X);
	free(Y);
	if (rc)
		return rc;
	pn_report_printf(c->rep, "  chosen run l%u..l%u (cos %.4f): E %u experts of rank %u, "
			 "gelu series degree %u on [%.3g, %.3g], top-%u, ridge %g; fit on %u rows: "
			 "residual ||fit - (y - x)||^2 / ||y - x||^2 = %.4f train, %.4f held-out "
			 "(%u rows)\n", best, best + len - 1, best_cos, E, rank, degree, -m.range,
			 m.range, topk, ridge, nfit, m.resid, held, n - nfit);
	cJSON_AddNumberToObject(obj, "first", best);
	cJSON_AddNumberToObject(obj, "last", best + len - 1);
	cJSON_AddNumberToObject(obj, "E", E);
	cJSON_AddNumberToObject(obj, "rank", rank);
	cJSON_AddNumberToObject(obj, "degree", degree);
	cJSON_AddNumberToObject(obj, "topk", topk);
	cJSON_AddNumberToObject(obj, "resid_train", m.resid);
	cJSON_AddNumberToObject(obj, "resid_heldout", held);
	snprintf(name, sizeof(name), "macro.l%u_l%u", best, best + len - 1);
	rc = write_node(c, &m, best == 0 ? L[0].res_in : L[best - 1].out, L[best + len - 1].out,
			name, err);
	pn_macro_fit_free(&m);
	return rc;
}
