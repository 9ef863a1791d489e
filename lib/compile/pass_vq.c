// SPDX-License-Identifier: MIT
/*
 * pass_vq.c - VQ CacheNode: per FFN site, a k-means++ codebook of K rows on
 * the calibrated FFN inputs and a table of the exact FFN output of each
 * code; the site becomes one VQ node in cache mode (nearest code by one
 * GEMM, then a gather). The report gives the input distortion and the FFN
 * output error the quantization costs on the calibration rows.
 *
 * --vq-mode codebook writes the codebook-driven form instead: a VQ
 * node in codes mode and a POLY_FFN in codebook mode that evaluates the
 * FFN (activation as the fitted series, --poly-tol / --poly-max-degree, the
 * best fit when the tolerance is missed) once per code present in the
 * batch and gathers. It needs no table (K x D floats less in the file) and
 * follows weight edits, but pays the FFN per present code at run time.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/kmeans.h"
#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"

/* The series of the site's activation over the calibrated pre-activations. */
static int fit_series(struct pn_pass_ctx *c, const struct pn_ffn_site *s,
		      const struct pn_calib_value *cv, struct pn_cheb *p, float *coef,
		      double *fit_err, struct pn_err *err)
{
	const struct pn_poly_opts *o = c->o;
	float *u = pn_ffn_pre_activations(c->rw, s, cv->sample, c->cal->n_sample);
	int rc;

	if (!u)
		return pn_errf(err, -ENOMEM, "vq: out of memory");
	rc = pn_polyffn_fit(s->act, u, (size_t)c->cal->n_sample * s->ff,
			    o->poly_clip > 0 ? o->poly_clip : 0.999,
			    o->poly_tol > 0 ? o->poly_tol : 0.01,
			    o->poly_max_degree ? o->poly_max_degree : PN_CHEB_MAX_DEGREE, p, coef,
			    fit_err, err);
	free(u);
	return rc == -ERANGE ? 1 : rc;	/* 1: tolerance missed, the best fit in p */
}

/* VQ (codes) -> POLY_FFN (codebook mode) in place of the site. */
static int write_codebook(struct pn_pass_ctx *c, const struct pn_ffn_site *s, const char *nm,
			  uint32_t cb, uint32_t norms, const struct pn_cheb *p,
			  const float *coef, struct pn_err *err)
{
	struct pn_rw *rw = c->rw;
	uint32_t nc = pn_cheb_ncoef(p->degree, p->even), codes, tc;
	char names[2][160];
	const char *nv[2] = { names[0], names[1] };
	struct pnb_node n[2];

	snprintf(names[0], sizeof(names[0]), "%s.vq.codes", nm);
	snprintf(names[1], sizeof(names[1]), "%s.vq.pffn", nm);
	codes = pn_rw_value(rw, names[0], PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	tc = pn_rw_tensor_named(rw, nm, ".vq.coefs", nc, 0, coef);
	if (codes == PNB_NONE || tc == PNB_NONE)
		return pn_errf(err, -ENOMEM, "vq: out of memory");
	pn_node1(&n[0], PNB_OP_VQ, codes, s->in);
	n[0].n_w = 2;
	n[0].w[PNB_W_VQ_CODEBOOK] = cb;
	n[0].w[PNB_W_VQ_NORMS] = norms;
	n[0].iattr[PNB_IA_VQ_MODE] = 0;	/* codes */
	pn_node1(&n[1], PNB_OP_POLY_FFN, PNB_NONE, codes);
	n[1].n_w = 6;
	n[1].w[PNB_W_FFN_W1] = s->W1;
	n[1].w[PNB_W_FFN_B1] = s->b1;
	n[1].w[PNB_W_FFN_W2] = s->W2;
	n[1].w[PNB_W_FFN_B2] = s->b2;
	n[1].w[PNB_W_POLYFFN_COEFS] = tc;
	n[1].w[PNB_W_POLYFFN_CODEBOOK] = cb;		/* the VQ node's codebook, shared */
	n[1].iattr[PNB_IA_POLYFFN_ACT] = (int32_t)s->act;
	n[1].iattr[PNB_IA_POLYFFN_GATED] = s->gated;
	n[1].iattr[PNB_IA_POLYFFN_DEGREE] = (int32_t)p->degree;
	n[1].iattr[PNB_IA_POLYFFN_EVEN] = p->even;
	n[1].iattr[PNB_IA_POLYFFN_CODEBOOK] = 1;	/* codebook mode */
	n[1].fattr[PNB_FA_POLYFFN_A] = p->a;
	n[1].fattr[PNB_FA_POLYFFN_B] = p->b;
	return pn_ffn_site_replace_n(rw, s, n, nv, 2, err);
}

static int one_site(struct pn_pass_ctx *c, const struct pn_ffn_site *s, cJSON *arr,
		    struct pn_err *err)
{
	const struct pn_calib_value *cv = pn_calib_find(c->cal, s->in);
	const char *nm = pn_rw_node_name(c->rw, s->node);
	uint32_t K = c->o->vq, n = c->cal->n_sample, D = s->D;
	uint32_t Dout = (uint32_t)pn_rw_tensor_info(c->rw, s->W2)->shape[1];
	struct pn_kmeans_result res = { 0 };
	float *C = malloc((size_t)K * D * sizeof(float)), *norms = malloc(K * sizeof(float));
	float *table = malloc((size_t)K * Dout * sizeof(float));
	float *ye = malloc((size_t)n * Dout * sizeof(float));
	int32_t *assign = malloc((size_t)n * sizeof(int32_t));
	double num = 0, den = 0, rel, fit_err = NAN;
	float coef[PN_CHEB_MAX_DEGREE + 1];
	struct pn_cheb p = { 0 };
	int missed = 0;
	uint32_t present = 0;
	char name[128], tname[160];
	struct pnb_node node;
	uint64_t sh[2];
	cJSON *o;
	int r = 0;

	if (!cv)
		r = pn_errf(err, -EINVAL, "vq: node '%s': no calibration of its input", nm);
	else if (!C || !norms || !table || !ye || !assign)
		r = pn_errf(err, -ENOMEM, "vq: out of memory");
	if (!r && (r = pn_kmeans(cv->sample, n, D, K, 0, c->o->seed, C, assign, &res, err))) {
		char inner[sizeof(err->msg)];

		memcpy(inner, err->msg, sizeof(inner));
		r = pn_errf(err, r, "vq: node '%s' (layer %d), %u calibration rows: %s", nm,
			    (int)s->layer, n, inner);
	}
	if (r)
		goto out;
	if (c->o->vq_codebook) {	/* the table the POLY_FFN computes: the error is its */
		float *scr = malloc(pn_polyffn_scratch(K, s->ff, s->gated) * sizeof(float) + 64);

		if (!scr) {
			r = pn_errf(err, -ENOMEM, "vq: out of memory");
			goto out;
		}
		missed = fit_series(c, s, cv, &p, coef, &fit_err, err);
		if (missed < 0) {
			free(scr);
			r = missed;
			goto out;
		}
		pn_polyffn(NULL, C, K, &(struct pn_ffn_w){
			.D = D, .ff = s->ff, .gated = s->gated,
			.W1 = pn_rw_tensor_f32(c->rw, s->W1),
			.b1 = s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(c->rw, s->b1),
			.W2 = pn_rw_tensor_f32(c->rw, s->W2),
			.b2 = s->b2 == PNB_NONE ? NULL : pn_rw_tensor_f32(c->rw, s->b2) }, &p, table, scr);
		free(scr);
	} else {
		pn_ffn_site_eval(c->rw, s, C, K, table);
	}
	pn_ffn_site_eval(c->rw, s, cv->sample, n, ye);
	for (uint32_t k = 0; k < K; k++) {
		double q = 0;

		for (uint32_t j = 0; j < D; j++)
			q += (double)C[(size_t)k * D + j] * C[(size_t)k * D + j];
		norms[k] = (float)q;
	}
	for (uint32_t i = 0; i < n; i++) {
		const float *t = table + (size_t)assign[i] * Dout, *y = ye + (size_t)i * Dout;

		for (uint32_t j = 0; j < Dout; j++) {
			num += ((double)t[j] - y[j]) * ((double)t[j] - y[j]);
			den += (double)y[j] * y[j];
		}
	}
	for (uint32_t k = 0; k < K; k++)	/* codes the calibration rows use */
		for (uint32_t i = 0; i < n; i++)
			if ((uint32_t)assign[i] == k) {
				present++;
				break;
			}
	rel = den > 0 ? sqrt(num / den) : sqrt(num);
	pn_report_printf(c->rep, "  %s (layer %d%s): K %u on %u rows, %u Lloyd iterations, "
			 "%u re-seeded, %u codes used; input distortion %.4g (%.1f%% of "
			 "mean ||x||^2); FFN output rel err %.3g -> ", nm,
			 (int)s->layer, s->folded ? ", pool-folded" : "", K, n, res.iters,
			 res.reseeded, present, res.distortion, 100 * res.rel_distortion, rel);
	if (c->o->vq_codebook)
		pn_report_printf(c->rep, "VQ codes + codebook POLY_FFN (%s series degree %u on "
				 "[%.3g, %.3g], max act err %.2e%s)\n", pnb_act_name(s->act),
				 p.degree, p.a, p.b, fit_err, missed ? ", tol MISSED" : "");
	else
		pn_report_printf(c->rep, "VQ cache [%u, %u]\n", K, Dout);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", nm);
	cJSON_AddNumberToObject(o, "layer", (int)s->layer);
	cJSON_AddNumberToObject(o, "K", K);
	cJSON_AddNumberToObject(o, "rows", n);
	cJSON_AddNumberToObject(o, "iters", res.iters);
	cJSON_AddNumberToObject(o, "codes_used", present);
	cJSON_AddNumberToObject(o, "distortion", res.distortion);
	cJSON_AddNumberToObject(o, "rel_distortion", res.rel_distortion);
	cJSON_AddNumberToObject(o, "ffn_out_rel_err", rel);
	cJSON_AddStringToObject(o, "mode", c->o->vq_codebook ? "codebook" : "cache");
	if (c->o->vq_codebook) {
		cJSON_AddNumberToObject(o, "degree", p.degree);
		cJSON_AddNumberToObject(o, "max_act_err", fit_err);
		cJSON_AddBoolToObject(o, "tol_met", !missed);
	}
	cJSON_AddItemToArray(arr, o);

	if (c->o->vq_codebook) {
		uint64_t shc[2] = { K, D };
		uint32_t cb, nt;

		snprintf(tname, sizeof(tname), "%s.vq.codebook", nm);
		cb = pn_rw_tensor(c->rw, tname, 2, shc, C);
		snprintf(tname, sizeof(tname), "%s.vq.norms", nm);
		nt = pn_rw_tensor(c->rw, tname, 1, shc, norms);
		r = cb == PNB_NONE || nt == PNB_NONE ? pn_errf(err, -ENOMEM, "vq: out of memory") :
		    write_codebook(c, s, nm, cb, nt, &p, coef, err);
		goto out;
	}
	pnb_node_init(&node, PNB_OP_VQ, 0, PNB_NONE);
	node.n_in = 1;
	node.in[0] = s->in;
	node.n_w = 3;
	node.iattr[PNB_IA_VQ_MODE] = 2;	/* cache: out = table[code] */
	sh[0] = K;
	sh[1] = D;
	snprintf(tname, sizeof(tname), "%s.vq.codebook", nm);
	node.w[PNB_W_VQ_CODEBOOK] = pn_rw_tensor(c->rw, tname, 2, sh, C);
	snprintf(tname, sizeof(tname), "%s.vq.norms", nm);
	node.w[PNB_W_VQ_NORMS] = pn_rw_tensor(c->rw, tname, 1, sh, norms);
	sh[1] = Dout;
	snprintf(tname, sizeof(tname), "%s.vq.table", nm);
	node.w[PNB_W_VQ_TABLE] = pn_rw_tensor(c->rw, tname, 2, sh, table);
	if (node.w[PNB_W_VQ_CODEBOOK] == PNB_NONE || node.w[PNB_W_VQ_NORMS] == PNB_NONE ||
	    node.w[PNB_W_VQ_TABLE] == PNB_NONE) {
		r = pn_errf(err, -ENOMEM, "vq: out of memory");
		goto out;
	}
	snprintf(name, sizeof(name), "%s.vq", nm);
	r = pn_ffn_site_replace(c->rw, s, &node, name, err);
out:
	free(C);
	free(norms);
	free(table);
	free(ye);
	free(assign);
	return r;
}

int pn_pass_vq(struct pn_pass_ctx *c, struct pn_err *err)
{
	return pn_ffn_sites_rewrite(c, "VQ CacheNode", "vq", c->o->vq_layers, NULL, one_site, err);
}
