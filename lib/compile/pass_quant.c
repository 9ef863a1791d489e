// SPDX-License-Identifier: MIT
/*
 * pass_quant.c - --int8 / --bf16: the GEMM weights of the LINEAR and FFN
 * nodes that remain after the other passes are stored quantized
 * (docs/quant.md): int8 symmetric per output channel with an F32 scale per
 * channel, optionally a static input quantization calibrated on --calib
 * (quantile clipping), or bf16. The graph is unchanged; only weight slots
 * change.
 *
 * Each GEMM's error is measured alone, on the calibration rows of its own
 * input (for an FFN's W2, the exact hidden activations of those rows):
 * rel_err = ||y_q - y|| / ||y|| over the pre-activation outputs, y_q from
 * the runtime's plain twin (pn_ref_qlinear), so the number is the one the
 * model will see. With --int8-budget a GEMM whose rel_err exceeds the
 * budget keeps its f32 weights. Errors compound through the layers; the
 * frontier measures the whole model (bench/frontier.sh).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"
#include "cpu/qgemm.h"

/* Rows of calibration input each GEMM's error is measured on. */
#define ERR_ROWS 1024u

/* One GEMM of a node: where its weights sit and the rows of its input. */
struct qsite {
	uint32_t node;
	const char *what;		/* "W", "W1", "W2" */
	uint32_t sw, sb, ss, sqp;	/* slots: weight, bias, scale, static input */
	uint32_t K, N;
	const float *W, *b;
	const float *X;			/* [n, K] input rows, or NULL (not calibrated) */
	uint32_t n;
};

/* What became of one GEMM. */
struct qresult {
	uint32_t dtype;			/* what the weight is stored as */
	int is_static;
	float qp[2];
	double rel_err;			/* NAN: not measured */
};

static const char *dtype_word(uint32_t dt)
{
	return dt == PNB_DTYPE_I8 ? "int8" : dt == PNB_DTYPE_BF16 ? "bf16" : "f32";
}

/* ||y_q - y|| / ||y|| of the pre-activation outputs of rows X (0 when y is 0). */
static double gemm_rel_err(const struct pn_qgemm *g, const float *W, const float *b,
			   const float *X, uint32_t n)
{
	float *y = malloc((size_t)n * g->N * sizeof(float));
	float *yq = malloc((size_t)n * g->N * sizeof(float));
	double num = 0, den = 0;

	if (!y || !yq) {
		free(y);
		free(yq);
		return NAN;
	}
	pn_linear(NULL, X, n, g->K, W, b, g->N, PNB_ACT_NONE, y);
	pn_ref_qlinear(g, n, X, b, PNB_ACT_NONE, yq);
	for (size_t i = 0; i < (size_t)n * g->N; i++) {
		double d = (double)yq[i] - y[i];

		num += d * d;
		den += (double)y[i] * y[i];
	}
	free(y);
	free(yq);
	return den > 0 ? sqrt(num / den) : 0;
}

/* {sx, z} of the static input quantization: the clip quantiles of every element. */
static void static_qp(const float *X, uint32_t n, uint32_t K, double clip, float qp[2])
{
	size_t cnt = (size_t)n * K;
	double hi = pn_quantile(X, cnt, clip), lo = pn_quantile(X, cnt, 1 - clip);

	pn_q8_params((float)lo, (float)hi, 255, qp);	/* the file's levels */
}

/* Quantizes one GEMM into the tensors it needs; fills node slots and r. */
static int quant_site(struct pn_pass_ctx *c, const struct qsite *s, struct pnb_node *nd,
		      struct qresult *r, struct pn_err *err)
{
	const struct pn_poly_opts *o = c->o;
	const char *wname = pnb_str(c->f, pn_rw_tensor_info(c->rw, nd->w[s->sw])->name);
	uint64_t shape[2] = { s->K, s->N }, one[1] = { s->N }, two[1] = { 2 };
	size_t kn = (size_t)s->K * s->N;
	/* this CPU's input levels: the error is the one the model will have here */
	struct pn_qgemm g = { .K = s->K, .N = s->N, .dtype = o->quant, .levels = pn_q8_levels() };
	int8_t *q = NULL;
	uint16_t *h = NULL;
	float *sw = NULL;
	uint32_t tw, ts = PNB_NONE, tq = PNB_NONE;
	char name[512];
	int ret = 0;

	r->dtype = o->quant;
	r->is_static = 0;
	r->rel_err = NAN;
	if (o->quant == PNB_DTYPE_I8) {
		q = malloc(kn);
		sw = malloc(s->N * sizeof(*sw));
		if (!q || !sw) {
			ret = pn_errf(err, -ENOMEM, "int8: out of memory for %s", wname);
			goto out;
		}
		pn_q8_weights(s->W, s->K, s->N, q, sw);
		g.W = q;
		g.scale = sw;
		if (o->quant_static && s->X) {
			static_qp(s->X, s->n, s->K, o->quant_clip ? o->quant_clip : 0.9999, r->qp);
			g.qp = r->qp;
			r->is_static = 1;
		}
	} else {
		h = malloc(kn * sizeof(*h));
		if (!h) {
			ret = pn_errf(err, -ENOMEM, "bf16: out of memory for %s", wname);
			goto out;
		}
		pn_bf16_row(s->W, kn, h);
		g.W = h;
	}
	if (s->X)
		r->rel_err = gemm_rel_err(&g, s->W, s->b, s->X, s->n);
	if (o->quant_budget > 0 && !(r->rel_err <= o->quant_budget)) {
		r->dtype = PNB_DTYPE_F32;	/* over budget (or unmeasurable): stays exact */
		r->is_static = 0;
		goto out;
	}
	snprintf(name, sizeof(name), "%s.%s", wname, o->quant == PNB_DTYPE_I8 ? "q8" : "bf16");
	tw = pn_rw_tensor_typed(c->rw, name, o->quant, 2, shape, q ? (const void *)q : h);
	if (q) {
		snprintf(name, sizeof(name), "%s.scale", wname);
		ts = pn_rw_tensor(c->rw, name, 1, one, sw);
		if (r->is_static) {
			snprintf(name, sizeof(name), "%s.%s_qp", wname,
				 s->sw == PNB_W_FFN_W2 && nd->op == PNB_OP_FFN ? "h" : "x");
			tq = pn_rw_tensor(c->rw, name, 1, two, r->qp);
		}
	}
	if (tw == PNB_NONE || (q && ts == PNB_NONE) || (r->is_static && tq == PNB_NONE)) {
		ret = pn_errf(err, -ENOMEM, "quantize: out of memory for %s", wname);
		goto out;
	}
	nd->w[s->sw] = tw;
	if (q) {
		if (nd->n_w < s->sqp + 1)
			nd->n_w = s->sqp + 1;
		nd->w[s->ss] = ts;
		nd->w[s->sqp] = tq;
	}
out:
	free(q);
	free(sw);
	free(h);
	return ret;
}

static void report_site(struct pn_pass_ctx *c, const struct qsite *s, const struct qresult *r,
			cJSON *arr)
{
	const char *node = pn_rw_node_name(c->rw, s->node);
	const char *act = r->dtype != PNB_DTYPE_I8 ? "-" : r->is_static ? "static" : "per-row";
	cJSON *e = cJSON_CreateObject();
	char err_s[32];

	if (isnan(r->rel_err))
		snprintf(err_s, sizeof(err_s), "not measured");
	else
		snprintf(err_s, sizeof(err_s), "%.5f", r->rel_err);
	pn_report_printf(c->rep, "  %-18s %-2s [%4u x %4u]  %-4s  input %-7s  rel_err %s%s\n",
			 node, s->what, s->K, s->N, dtype_word(r->dtype), act, err_s,
			 r->dtype == PNB_DTYPE_F32 ? "  (over the budget: kept f32)" : "");
	cJSON_AddStringToObject(e, "node", node);
	cJSON_AddStringToObject(e, "gemm", s->what);
	cJSON_AddNumberToObject(e, "K", s->K);
	cJSON_AddNumberToObject(e, "N", s->N);
	cJSON_AddStringToObject(e, "dtype", dtype_word(r->dtype));
	cJSON_AddStringToObject(e, "input", act);
	if (r->is_static) {
		cJSON *qp = cJSON_AddArrayToObject(e, "x_qp");

		cJSON_AddItemToArray(qp, cJSON_CreateNumber(r->qp[0]));
		cJSON_AddItemToArray(qp, cJSON_CreateNumber(r->qp[1]));
	}
	if (isnan(r->rel_err))
		cJSON_AddNullToObject(e, "rel_err");
	else
		cJSON_AddNumberToObject(e, "rel_err", r->rel_err);
	cJSON_AddItemToArray(arr, e);
}

/* The calibration rows of value v (at most ERR_ROWS), or NULL. */
static const float *calib_rows(const struct pn_pass_ctx *c, uint32_t v, uint32_t *n)
{
	const struct pn_calib_value *cv = c->cal ? pn_calib_find(c->cal, v) : NULL;

	*n = 0;
	if (!cv || !cv->n_rows)
		return NULL;
	*n = cv->n_rows < ERR_ROWS ? cv->n_rows : ERR_ROWS;
	return cv->sample;
}

/* The exact hidden activations act(x W1 + b1) (gated: act(gate) * up) of rows X. */
static float *ffn_hidden(const struct qsite *w1, uint32_t act, int gated, uint32_t ff)
{
	float *H = malloc((size_t)w1->n * w1->N * sizeof(float));

	if (!H)
		return NULL;
	pn_linear(NULL, w1->X, w1->n, w1->K, w1->W, w1->b, w1->N,
		  gated ? PNB_ACT_NONE : act, H);
	if (gated)
		pn_ffn_gate_rows(H, w1->n, ff, act);
	return H;
}

/* A weight slot worth quantizing: an F32 matrix. */
static int f32_matrix(const struct pn_pass_ctx *c, uint32_t t, uint32_t *K, uint32_t *N)
{
	const struct pnb_tensor *ti = t == PNB_NONE ? NULL : pn_rw_tensor_info(c->rw, t);

	if (!ti || ti->dtype != PNB_DTYPE_F32 || ti->ndim != 2)
		return 0;
	*K = (uint32_t)ti->shape[0];
	*N = (uint32_t)ti->shape[1];
	return 1;
}

static const float *opt_f32(const struct pn_pass_ctx *c, uint32_t t)
{
	return t == PNB_NONE ? NULL : pn_rw_tensor_f32(c->rw, t);
}

static int quant_node(struct pn_pass_ctx *c, uint32_t i, cJSON *arr, uint64_t *bytes,
		      struct pn_err *err)
{
	struct pnb_node nd = *pn_rw_node(c->rw, i);
	struct qsite s[2];
	struct qresult r[2];
	uint32_t ns = 0, ff = 0;
	float *H = NULL;
	int ret = 0;

	memset(s, 0, sizeof(s));
	if (nd.op == PNB_OP_LINEAR) {
		s[0] = (struct qsite){ .node = i, .what = "W", .sw = PNB_W_LINEAR_W,
				       .sb = PNB_W_LINEAR_B, .ss = PNB_W_LINEAR_W_SCALE,
				       .sqp = PNB_W_LINEAR_X_QP };
		ns = f32_matrix(c, nd.w[PNB_W_LINEAR_W], &s[0].K, &s[0].N);
	} else if (nd.op == PNB_OP_FFN) {
		s[0] = (struct qsite){ .node = i, .what = "W1", .sw = PNB_W_FFN_W1,
				       .sb = PNB_W_FFN_B1, .ss = PNB_W_FFN_W1_SCALE,
				       .sqp = PNB_W_FFN_X_QP };
		s[1] = (struct qsite){ .node = i, .what = "W2", .sw = PNB_W_FFN_W2,
				       .sb = PNB_W_FFN_B2, .ss = PNB_W_FFN_W2_SCALE,
				       .sqp = PNB_W_FFN_H_QP };
		ns = f32_matrix(c, nd.w[PNB_W_FFN_W1], &s[0].K, &s[0].N) &&
		     f32_matrix(c, nd.w[PNB_W_FFN_W2], &s[1].K, &s[1].N) ? 2 : 0;
	}
	for (uint32_t k = 0; k < ns; k++) {
		s[k].W = pn_rw_tensor_f32(c->rw, nd.w[s[k].sw]);
		s[k].b = nd.n_w > s[k].sb ? opt_f32(c, nd.w[s[k].sb]) : NULL;
	}
	if (!ns)
		return 0;
	s[0].X = calib_rows(c, nd.in[0], &s[0].n);
	if (ns == 2 && s[0].X) {
		int gated = nd.iattr[PNB_IA_FFN_GATED];

		ff = s[1].K;
		if (!(H = ffn_hidden(&s[0], (uint32_t)nd.iattr[PNB_IA_FFN_ACT], gated, ff)))
			return pn_errf(err, -ENOMEM, "quantize: out of memory");
		/* gate_rows compacted [n, 2ff] to [n, ff] rows in place */
		s[1].X = H;
		s[1].n = s[0].n;
	}
	for (uint32_t k = 0; !ret && k < ns; k++) {
		ret = quant_site(c, &s[k], &nd, &r[k], err);
		if (!ret) {
			report_site(c, &s[k], &r[k], arr);
			if (r[k].dtype != PNB_DTYPE_F32)
				bytes[0] += (uint64_t)s[k].K * s[k].N * 4;
			bytes[1] += (uint64_t)s[k].K * s[k].N *
				    (r[k].dtype == PNB_DTYPE_F32 ? 4 :
				     r[k].dtype == PNB_DTYPE_BF16 ? 2 : 1) +
				    (r[k].dtype == PNB_DTYPE_I8 ? 4ull * s[k].N : 0);
		}
	}
	if (!ret)
		pn_rw_set_node(c->rw, i, &nd);
	free(H);
	return ret;
}

int pn_pass_quant(struct pn_pass_ctx *c, struct pn_err *err)
{
	const struct pn_poly_opts *o = c->o;
	cJSON *q = cJSON_AddObjectToObject(c->rep->json, "quant");
	cJSON *arr = cJSON_AddArrayToObject(q, "gemms");
	uint64_t bytes[2] = { 0, 0 };	/* f32 bytes of the quantized GEMMs; all GEMMs after */
	int r = 0;

	cJSON_AddStringToObject(q, "dtype", dtype_word(o->quant));
	cJSON_AddStringToObject(q, "input", o->quant != PNB_DTYPE_I8 ? "-" :
				o->quant_static ? "static" : "per-row");
	if (o->quant_budget > 0)
		cJSON_AddNumberToObject(q, "budget", o->quant_budget);
	pn_report_printf(c->rep, "%s weights%s%s (rel_err: ||y_q - y|| / ||y|| of each GEMM "
			 "alone, on %s):\n", dtype_word(o->quant),
			 o->quant == PNB_DTYPE_I8 ?
			 (o->quant_static ? ", static inputs" : ", per-row inputs") : "",
			 o->quant_budget > 0 ? ", f32 where over the budget" : "",
			 o->calib ? "calibration rows" : "nothing: no --calib");
	for (uint32_t i = 0; !r && i < pn_rw_n_nodes(c->rw); i++) {
		uint32_t layer = pn_layer_of(pn_rw_node_name(c->rw, i));

		if (!o->quant_layers || pn_layer_on(o->quant_layers, layer))
			r = quant_node(c, i, arr, bytes, err);
	}
	if (!r) {
		pn_report_printf(c->rep, "  GEMM weights: %.2f MB of f32 quantized; %.2f MB "
				 "stored for every GEMM with its scales\n", bytes[0] / 1e6,
				 bytes[1] / 1e6);
		cJSON_AddNumberToObject(q, "quantized_f32_bytes", (double)bytes[0]);
		cJSON_AddNumberToObject(q, "gemm_bytes", (double)bytes[1]);
	}
	return r;
}
