// SPDX-License-Identifier: MIT
/*
 * pass_polyffn.c - PackedPolyFFN: per FFN site, the calibrated
 * pre-activations u = x W1 + b1 (gate columns when gated) give a symmetric
 * range [-r, r] (r: a quantile of |u|; outside it the series returns the
 * activation's asymptotes), and the lowest even degree whose series meets
 * --poly-tol there is fused into a POLY_FFN node with the same weights.
 *
 * ReLU's kink makes the series converge only as ~1/degree: the report
 * gives the error at degrees 8..128 for every site so this is measured,
 * and a site whose tolerance no degree meets is left exact (unless forced).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/poly.h"

#define ERR_ROWS 512u	/* sample rows the output error is measured on */

int pn_polyffn_fit(uint32_t act, const float *u, size_t n, double clip, double tol,
		   uint32_t max_degree, struct pn_cheb *p, float *c, double *fit_err,
		   struct pn_err *err)
{
	float *a;
	double r;
	int rc;

	if (!n)
		return pn_errf(err, -EINVAL, "poly-ffn: no calibration samples, expected at "
			       "least one pre-activation");
	if (!pn_cheb_act_ok(act))
		return pn_errf(err, -EINVAL, "poly-ffn: activation %s has no series form, "
			       "expected relu, gelu, silu or gelu_tanh", pnb_act_name(act));
	a = malloc(n * sizeof(*a));
	if (!a)
		return pn_errf(err, -ENOMEM, "poly-ffn: out of memory");
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(u[i])) {
			free(a);
			return pn_errf(err, -EINVAL, "poly-ffn: pre-activation %zu is %g (NaN or "
				       "infinite weights or inputs), expected a finite value",
				       i, u[i]);
		}
		a[i] = fabsf(u[i]);
	}
	/* widened a little: the series' range is half-open at its ends (the asymptote
	 * takes over at |x| = r), so the largest calibrated |u| must fall inside */
	r = pn_quantile(a, n, clip) * (1 + 1e-4);
	free(a);
	if (!(r > 1e-6) || !isfinite(r))
		return pn_errf(err, -EINVAL, "poly-ffn: degenerate range [%g, %g] (every "
			       "calibrated pre-activation is ~0), expected a < b", -r, r);
	rc = pn_cheb_choose(act, -r, r, 1, tol, max_degree & ~1u, p, c, fit_err, err);
	return rc;
}

float *pn_ffn_pre_activations(const struct pn_rw *rw, const struct pn_ffn_site *s,
			      const float *x, uint32_t rows)
{
	uint32_t cols = s->gated ? 2 * s->ff : s->ff;
	float *u = malloc((size_t)rows * cols * sizeof(float)), *g;
	const float *b1 = s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b1);

	if (!u)
		return NULL;
	pn_linear(NULL, x, rows, s->D, pn_rw_tensor_f32(rw, s->W1), b1, cols, PNB_ACT_NONE, u);
	if (!s->gated)
		return u;
	g = u;	/* compact the gate columns to the front */
	for (uint32_t r = 0; r < rows; r++)
		memmove(g + (size_t)r * s->ff, u + (size_t)r * cols, s->ff * sizeof(float));
	return u;
}

/* ||poly(x) - ffn(x)|| / ||ffn(x)|| over up to ERR_ROWS sample rows. */
static double output_rel_err(const struct pn_rw *rw, const struct pn_ffn_site *s,
			     const struct pn_cheb *p, const float *x, uint32_t rows)
{
	uint32_t Dout = (uint32_t)pn_rw_tensor_info(rw, s->W2)->shape[1];
	float *ye = malloc((size_t)rows * Dout * sizeof(float));
	float *yp = malloc((size_t)rows * Dout * sizeof(float));
	float *scr = malloc(pn_polyffn_scratch(rows, s->ff, s->gated) * sizeof(float) + 64);
	double num = 0, den = 0;

	if (!ye || !yp || !scr) {
		free(ye);
		free(yp);
		free(scr);
		return NAN;
	}
	pn_ffn_site_eval(rw, s, x, rows, ye);
	pn_polyffn(NULL, x, rows, &(struct pn_ffn_w){
		.D = s->D, .ff = s->ff, .gated = s->gated,
		.W1 = pn_rw_tensor_f32(rw, s->W1),
		.b1 = s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b1),
		.W2 = pn_rw_tensor_f32(rw, s->W2),
		.b2 = s->b2 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, s->b2) }, p, yp, scr);
	for (size_t i = 0; i < (size_t)rows * Dout; i++) {
		num += ((double)yp[i] - ye[i]) * ((double)yp[i] - ye[i]);
		den += (double)ye[i] * ye[i];
	}
	free(ye);
	free(yp);
	free(scr);
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The error of the degree-d series on [-r, r] for d = 8..128: how fast it converges. */
static void convergence(struct pn_pass_ctx *c, uint32_t act, double r, cJSON *site)
{
	cJSON *arr = cJSON_AddArrayToObject(site, "error_vs_degree");
	float coef[PN_CHEB_MAX_DEGREE / 2 + 1];

	pn_report_printf(c->rep, "    error vs degree on [%.3g, %.3g]:", -r, r);
	for (uint32_t d = 8; d <= PN_CHEB_MAX_DEGREE; d *= 2) {
		struct pn_cheb p = { coef, d, act, 1, (float)-r, (float)r };
		cJSON *o;
		double e;

		if (pn_cheb_fit(act, -r, r, d, 1, 0, coef, NULL))
			continue;
		e = pn_cheb_max_error(&p, -r, r, 4097);
		pn_report_printf(c->rep, " %u:%.2e", d, e);
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "degree", d);
		cJSON_AddNumberToObject(o, "max_err", e);
		cJSON_AddItemToArray(arr, o);
	}
	pn_report_printf(c->rep, "\n");
}

static int one_site(struct pn_pass_ctx *c, const struct pn_ffn_site *s, cJSON *arr,
		    struct pn_err *err)
{
	const struct pn_calib_value *cv = pn_calib_find(c->cal, s->in);
	const struct pn_poly_opts *o = c->o;
	float coef[PN_CHEB_MAX_DEGREE + 1];
	const char *nm = pn_rw_node_name(c->rw, s->node);
	uint32_t maxd = o->poly_max_degree ? o->poly_max_degree : PN_CHEB_MAX_DEGREE;
	double tol = o->poly_tol > 0 ? o->poly_tol : 0.01;
	double clip = o->poly_clip > 0 ? o->poly_clip : 0.999;
	struct pn_cheb p;
	double fit_err = NAN, umin, umax, rel;
	size_t nu;
	float *u;
	int rc, apply;
	cJSON *site;
	char name[128];

	if (!cv || !c->cal->n_sample)
		return pn_errf(err, -EINVAL, "poly-ffn: node '%s': no calibration of its input",
			       nm);
	u = pn_ffn_pre_activations(c->rw, s, cv->sample, c->cal->n_sample);
	if (!u)
		return pn_errf(err, -ENOMEM, "poly-ffn: out of memory");
	nu = (size_t)c->cal->n_sample * s->ff;
	umin = INFINITY;
	umax = -INFINITY;
	for (size_t i = 0; i < nu; i++) {
		umin = u[i] < umin ? u[i] : umin;
		umax = u[i] > umax ? u[i] : umax;
	}
	rc = pn_polyffn_fit(s->act, u, nu, clip, tol, maxd, &p, coef, &fit_err, err);
	free(u);
	if (rc && rc != -ERANGE) {
		char inner[sizeof(err->msg)];

		memcpy(inner, err->msg, sizeof(inner));
		return pn_errf(err, rc, "node '%s' (layer %d): %s", nm, (int)s->layer, inner);
	}
	apply = !rc || o->poly_force;
	rel = output_rel_err(c->rw, s, &p, cv->sample,
			     c->cal->n_sample < ERR_ROWS ? c->cal->n_sample : ERR_ROWS);
	pn_report_printf(c->rep, "  %s (layer %d, %s%s): pre-activation [%.3g, %.3g], range "
			 "[%.3g, %.3g] (|u| quantile %.4g), degree %u even, max act err %.2e "
			 "(tol %.2e%s), FFN output rel err %.2e -> %s\n", nm, (int)s->layer,
			 pnb_act_name(s->act), s->folded ? ", pool-folded" : "", umin, umax,
			 p.a, p.b, clip, p.degree, fit_err, tol, rc ? " MISSED" : " met", rel,
			 apply ? "POLY_FFN" : "left exact");
	if (rc)
		pn_report_printf(c->rep, "    %s\n", err->msg);
	site = cJSON_CreateObject();
	cJSON_AddStringToObject(site, "node", nm);
	cJSON_AddNumberToObject(site, "layer", (int)s->layer);
	cJSON_AddStringToObject(site, "act", pnb_act_name(s->act));
	cJSON_AddNumberToObject(site, "pre_min", umin);
	cJSON_AddNumberToObject(site, "pre_max", umax);
	cJSON_AddNumberToObject(site, "a", p.a);
	cJSON_AddNumberToObject(site, "b", p.b);
	cJSON_AddNumberToObject(site, "degree", p.degree);
	cJSON_AddNumberToObject(site, "max_act_err", fit_err);
	cJSON_AddNumberToObject(site, "tol", tol);
	cJSON_AddBoolToObject(site, "tol_met", !rc);
	cJSON_AddNumberToObject(site, "ffn_out_rel_err", rel);
	cJSON_AddBoolToObject(site, "applied", apply);
	convergence(c, s->act, p.b, site);
	cJSON_AddItemToArray(arr, site);
	if (!apply)
		return 0;
	{
		uint64_t sh[1] = { pn_cheb_ncoef(p.degree, 1) };
		struct pnb_node n;
		char tname[160];

		snprintf(tname, sizeof(tname), "%s.poly.coefs", nm);
		pnb_node_init(&n, PNB_OP_POLY_FFN, 0, PNB_NONE);
		n.n_in = 1;
		n.in[0] = s->in;
		n.n_w = 5;
		n.w[PNB_W_FFN_W1] = s->W1;
		n.w[PNB_W_FFN_B1] = s->b1;
		n.w[PNB_W_FFN_W2] = s->W2;
		n.w[PNB_W_FFN_B2] = s->b2;
		n.w[PNB_W_POLYFFN_COEFS] = pn_rw_tensor(c->rw, tname, 1, sh, coef);
		if (n.w[PNB_W_POLYFFN_COEFS] == PNB_NONE)
			return pn_errf(err, -ENOMEM, "poly-ffn: out of memory");
		n.iattr[PNB_IA_POLYFFN_ACT] = (int32_t)s->act;
		n.iattr[PNB_IA_POLYFFN_GATED] = s->gated;
		n.iattr[PNB_IA_POLYFFN_DEGREE] = (int32_t)p.degree;
		n.iattr[PNB_IA_POLYFFN_EVEN] = 1;
		n.fattr[PNB_FA_POLYFFN_A] = p.a;
		n.fattr[PNB_FA_POLYFFN_B] = p.b;
		snprintf(name, sizeof(name), "%s.poly", nm);
		return pn_ffn_site_replace(c->rw, s, &n, name, err);
	}
}

static int site_act_ok(const struct pn_ffn_site *s)
{
	return pn_cheb_act_ok(s->act);
}

int pn_pass_polyffn(struct pn_pass_ctx *c, struct pn_err *err)
{
	return pn_ffn_sites_rewrite(c, "PackedPolyFFN", "poly_ffn", c->o->poly_layers, site_act_ok, one_site, err);
}
