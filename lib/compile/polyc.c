// SPDX-License-Identifier: MIT
/*
 * polyc.c - the PolyNet compiler driver: calibrate the exact model once on
 * the values the chosen passes need, then run the passes on one rewriter
 * (Macro-Operator first, since it removes whole layers; then VQ, PolyFFN
 * on the FFN sites VQ left, then CQA, and last the precision of the
 * GEMM weights that remain), write the file and check that it
 * opens as a model (reader + graph shape checks).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "exec/graph.h"
#include "exec/model.h"

#define MAX_CALIB 128u

struct progress_fwd {
	const struct pn_poly_opts *o;
};

static void calib_progress(void *arg, uint32_t done, uint32_t total)
{
	const struct pn_poly_opts *o = ((struct progress_fwd *)arg)->o;

	o->progress(o->progress_arg, "calibrating", done, total);
}

static void stage(const struct pn_poly_opts *o, const char *what)
{
	if (o->progress)
		o->progress(o->progress_arg, what, 0, 0);
}

static void add_value(uint32_t *v, uint32_t *n, uint32_t x)
{
	for (uint32_t i = 0; i < *n; i++)
		if (v[i] == x)
			return;
	if (*n < MAX_CALIB && x != PNB_NONE)
		v[(*n)++] = x;
}

/* The values to calibrate: FFN site inputs for VQ/PolyFFN, the layers' for Macro. */
static uint32_t calib_values(const struct pn_rw *rw, const struct pn_poly_opts *o, uint32_t *v)
{
	struct pn_ffn_site s[64];
	uint32_t ns = pn_ffn_sites(rw, s, 64), n = 0, mv[MAX_CALIB], nm;

	for (uint32_t i = 0; i < ns; i++)
		if ((o->poly_ffn && pn_layer_on(o->poly_layers, s[i].layer)) ||
		    (o->vq && pn_layer_on(o->vq_layers, s[i].layer)) ||
		    (o->ffn_keep && pn_layer_on(o->ffn_keep_layers, s[i].layer)))
			add_value(v, &n, s[i].in);
	/* The inputs of every GEMM: static int8 ranges and each GEMM's error. */
	for (uint32_t i = 0; o->quant && i < pn_rw_n_nodes(rw); i++) {
		const struct pnb_node *nd = pn_rw_node(rw, i);

		if (nd->op == PNB_OP_LINEAR || nd->op == PNB_OP_FFN)
			add_value(v, &n, nd->in[0]);
	}
	if (o->macro) {
		nm = pn_macro_calib_values(rw, mv, MAX_CALIB);
		for (uint32_t i = 0; i < nm; i++)
			add_value(v, &n, mv[i]);
	}
	return n;
}

static int calibrate(const char *in, const struct pn_rw *rw, const struct pn_poly_opts *o,
		     struct pn_calib *cal, struct pn_poly_report *rep, struct pn_err *err)
{
	struct pn_textset ts;
	struct progress_fwd fwd = { o };
	struct pn_calib_opts co = {
		.rows = o->calib_rows, .seed = o->seed,
		.progress = o->progress ? calib_progress : NULL, .progress_arg = &fwd,
	};
	uint32_t v[MAX_CALIB], nv = calib_values(rw, o, v);
	cJSON *j;
	int r;

	if (!o->calib) {
		if (o->poly_ffn || o->vq || o->macro || o->ffn_keep)
			return pn_errf(err, -EINVAL, "--calib FILE is required for --poly-ffn, "
				       "--vq, --macro and --ffn-keep (the passes fit to calibration "
				       "data)");
		if (o->quant_static || o->quant_budget > 0)
			return pn_errf(err, -EINVAL, "--calib FILE is required for --int8-act "
				       "static and --int8-budget (they read the GEMMs' inputs on "
				       "calibration text)");
		return 0;
	}
	r = pn_textset_load(o->calib, &ts, err);
	if (r)
		return r;
	if (o->calib_max && ts.n > o->calib_max) {
		for (uint32_t i = o->calib_max; i < ts.n; i++)
			free(ts.text[i]);
		ts.n = o->calib_max;
	}
	r = pn_calib_run(in, &ts, v, nv, &co, cal, err);
	pn_textset_free(&ts);
	if (r)
		return r;
	pn_report_printf(rep, "Calibration: %s: %u texts, %llu tokens, %u sampled token rows, "
			 "%u values\n", o->calib, cal->texts, (unsigned long long)cal->tokens,
			 cal->n_sample, cal->n_values);
	for (uint32_t i = 0; i < cal->n_values; i++)
		pn_report_printf(rep, "  %-16s range [%.4g, %.4g] over %llu rows\n",
				 pn_rw_value_name(rw, cal->v[i].value), cal->v[i].min, cal->v[i].max,
				 (unsigned long long)cal->v[i].seen);
	j = cJSON_AddObjectToObject(rep->json, "calibration");
	cJSON_AddStringToObject(j, "file", o->calib);
	cJSON_AddNumberToObject(j, "texts", cal->texts);
	cJSON_AddNumberToObject(j, "tokens", (double)cal->tokens);
	cJSON_AddNumberToObject(j, "rows", cal->n_sample);
	{
		cJSON *arr = cJSON_AddArrayToObject(j, "values");

		for (uint32_t i = 0; i < cal->n_values; i++) {
			const struct pn_calib_value *cv = &cal->v[i];
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "value", pn_rw_value_name(rw, cv->value));
			cJSON_AddNumberToObject(e, "min", cv->min);
			cJSON_AddNumberToObject(e, "max", cv->max);
			cJSON_AddItemToArray(arr, e);
		}
	}
	return 0;
}

int pn_compile_poly(const char *in, const char *out, const struct pn_poly_opts *opts,
		    struct pn_poly_report *report, struct pn_err *err)
{
	struct pn_poly_opts o = *opts;
	struct pn_poly_report local = { 0 };
	struct pn_poly_report *rep = report ? report : &local;
	struct pnb_file f;
	struct pn_calib cal = { 0 };
	struct pn_rw *rw = NULL;
	struct pn_pass_ctx c;
	struct pn_model *m = NULL;
	uint32_t nn = 0;
	uint64_t bytes = 0;
	int r;

	if (!o.seed)
		o.seed = 1;
	memset(rep, 0, sizeof(*rep));
	rep->json = cJSON_CreateObject();
	if (!rep->json)
		return pn_errf(err, -ENOMEM, "out of memory");
	cJSON_AddStringToObject(rep->json, "input", in);
	cJSON_AddStringToObject(rep->json, "output", out);
	r = pnb_open(in, &f, err);
	if (r)
		goto done;
	r = pn_rw_new(&f, &rw, err);
	if (!r)
		r = calibrate(in, rw, &o, &cal, rep, err);
	c = (struct pn_pass_ctx){ .rw = rw, .f = &f, .cal = &cal, .o = &o, .rep = rep };
	if (!r && o.attn_mean) {
		stage(&o, "mean mixing");
		r = pn_pass_attn_mean(&c, err);
	}
	/* Before the macro: a seeded macro after a pruned layer fits to its output. */
	if (!r && o.ffn_keep) {
		stage(&o, "ffn neuron selection");
		r = pn_pass_ffn_keep(&c, err);
	}
	if (!r && o.macro) {
		stage(&o, "macro-operator");
		r = pn_pass_macro(&c, err);
	}
	if (!r && o.vq) {
		stage(&o, "vq codebooks");
		r = pn_pass_vq(&c, err);
	}
	if (!r && o.poly_ffn) {
		stage(&o, "poly-ffn");
		r = pn_pass_polyffn(&c, err);
	}
	if (!r && o.cqa) {
		stage(&o, "clustered attention");
		r = pn_pass_cqa(&c, err);
	}
	if (!r && o.quant) {
		stage(&o, o.quant == PNB_DTYPE_I8 ? "int8 weights" : "bf16 weights");
		r = pn_pass_quant(&c, err);
	}
	if (!r) {
		stage(&o, "writing");
		r = pn_rw_finish(rw, out, &nn, &bytes, err);
	}
	/* The graph's shape checks too: a file the executor refuses is a pass bug. */
	if (!r && !(r = pn_model_open(out, &m, err))) {
		struct pn_graph *g = NULL;

		r = pn_graph_build(&m->file, &g, err);
		pn_graph_free(g);
		pn_model_close(m);
	}
	if (!r) {
		pn_report_printf(rep, "Wrote %s: %u nodes, %llu bytes\n", out, nn,
				 (unsigned long long)bytes);
		cJSON_AddNumberToObject(rep->json, "nodes", nn);
		cJSON_AddNumberToObject(rep->json, "file_bytes", (double)bytes);
	}
	pn_rw_free(rw);
	pn_calib_free(&cal);
	pnb_close(&f);
done:
	if (!report)
		pn_report_free(&local);
	return r;
}
