// SPDX-License-Identifier: MIT
/*
 * test_pass_ffnkeep: FFN neuron selection (lib/compile/pass_ffnkeep.c) and
 * the FFN-seeded Macro-Operator (pass_macro_ffn.c) on the fixture
 * transformer, with known answers:
 *  - layer 1's FFN made of 24 neurons and 24 weak twins (same W1 column and
 *    b1, W2 row scaled by 0.05): keeping 24 must keep the originals, and the
 *    ridge refit must fold each twin's W2 row into its original's, which
 *    reproduces the FFN exactly where dropping alone misses by the twins'
 *    share. The written file opens; layer 0 is untouched.
 *  - the seeded macro fitted to y = x + FFN(LN(x)) where only 24 neurons
 *    have a W2 row recovers the map (held-out residual ~ 0).
 *  - a K that keeps every neuron, too few calibration rows, --macro 2 with
 *    the seed: clear errors naming the node.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "compile/polyc.h"
#include "fixture_model.h"
#include "exec/exec.h"
#include "exec/model.h"

enum { HALF = FX_FF / 2, ROWS = 1000 };

struct setup {
	char in[64], out[64];
	struct fx_weights *w;
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_calib cal;
	struct pn_calib_value cv;
	struct pn_poly_report rep;
};

/* Layer 1's neurons HALF.. are weak twins of 0..HALF-1; all are active. */
static void twin_weights(struct fx_weights *w)
{
	for (int j = 0; j < HALF; j++) {
		w->b1[1][j] = 1.0f + fabsf(w->b1[1][j]);
		w->b1[1][j + HALF] = w->b1[1][j];
		for (int d = 0; d < FX_D; d++) {
			w->w1[1][d * FX_FF + j + HALF] = w->w1[1][d * FX_FF + j];
			w->w2[1][(j + HALF) * FX_D + d] = 0.05f * w->w2[1][j * FX_D + d];
		}
	}
}

static void setup_open(struct setup *s, int twins)
{
	struct pn_err err;
	uint32_t seed = 7;

	s->w = malloc(sizeof(*s->w));
	snprintf(s->in, sizeof(s->in), "/tmp/test_ffnkeep_in_%d.pnb", getpid());
	snprintf(s->out, sizeof(s->out), "/tmp/test_ffnkeep_out_%d.pnb", getpid());
	fx_init(s->w, 3);
	if (twins)
		twin_weights(s->w);
	assert_int_equal(fx_write(s->w, s->in, &err), 0);
	assert_int_equal(pnb_open(s->in, &s->f, &err), 0);
	assert_int_equal(pn_rw_new(&s->f, &s->rw, &err), 0);
	s->cv.value = pn_rw_find_value(s->rw, "l1.ln2");
	s->cv.width = FX_D;
	s->cv.sample = malloc((size_t)ROWS * FX_D * sizeof(float));
	fx_fill(s->cv.sample, (size_t)ROWS * FX_D, &seed, 4.0f);
	memset(&s->cal, 0, sizeof(s->cal));
	s->cal.n_values = 1;
	s->cal.v = &s->cv;
	s->cal.n_sample = ROWS;
	s->rep = (struct pn_poly_report){ .json = cJSON_CreateObject() };
}

static void setup_close(struct setup *s)
{
	pn_rw_free(s->rw);
	free(s->cv.sample);
	pn_report_free(&s->rep);
	pnb_close(&s->f);
	unlink(s->in);
	unlink(s->out);
	free(s->w);
}

static void twins_refit_exactly(void **state)
{
	struct setup s;
	struct pn_poly_opts o = { .ffn_keep = HALF, .ffn_keep_layers = 1u << 1,
				  .ffn_keep_ridge = 1e-9 };
	struct pn_pass_ctx c;
	struct pn_err err;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	cJSON *e;

	(void)state;
	setup_open(&s, 1);
	c = (struct pn_pass_ctx){ .rw = s.rw, .f = &s.f, .cal = &s.cal, .o = &o, .rep = &s.rep };
	assert_int_equal(pn_pass_ffn_keep(&c, &err), 0);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(s.rep.json, "ffn_keep"), 0);
	assert_non_null(e);
	assert_int_equal(cJSON_GetObjectItem(e, "layer")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(e, "kept")->valueint, HALF);
	/* the twins' W2 rows are 0.05x: their share of the energy is 0.25% */
	assert_true(cJSON_GetObjectItem(e, "energy_share")->valuedouble > 0.99);
	assert_true(cJSON_GetObjectItem(e, "rel_err_heldout")->valuedouble < 1e-3);
	assert_true(cJSON_GetObjectItem(e, "rel_err_dropped_only")->valuedouble > 0.01);
	assert_int_equal(pn_rw_find_node(s.rw, "l1.ffn"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(s.rw, "l1.ffn.keep"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(s.rw, "l0.ffn"), PNB_NONE);
	assert_int_equal(pn_rw_finish(s.rw, s.out, NULL, NULL, &err), 0);
	assert_int_equal(pn_model_open(s.out, &m, &err), 0);	/* graph shape checks */
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	setup_close(&s);
}

static void bad_keep(void **state)
{
	struct setup s;
	struct pn_poly_opts o = { .ffn_keep = FX_FF, .ffn_keep_layers = 1u << 1 };
	struct pn_pass_ctx c;
	struct pn_err err;

	(void)state;
	setup_open(&s, 0);
	c = (struct pn_pass_ctx){ .rw = s.rw, .f = &s.f, .cal = &s.cal, .o = &o, .rep = &s.rep };
	assert_int_equal(pn_pass_ffn_keep(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "l1.ffn"));
	assert_non_null(strstr(err.msg, "keeps them all"));
	o.ffn_keep = 10;
	s.cal.n_sample = 12;	/* 10 fit rows, 22 wanted for 11 unknowns */
	assert_int_equal(pn_pass_ffn_keep(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "12 calibration rows"));
	setup_close(&s);
}

/* y = x + FFN(LN(x)) of layer 1, only its first HALF neurons with a W2 row. */
static void seeded_macro_recovers(void **state)
{
	struct setup s;
	struct pn_poly_opts o = { .macro = 1, .macro_rank = HALF, .macro_ridge = 1e-9 };
	struct pn_ffn_site sites[4];
	struct pn_pass_ctx c;
	struct pn_err err;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	uint32_t ns, ln, in, out, seed = 11;
	float *X = malloc((size_t)ROWS * FX_D * sizeof(float));
	float *U = malloc((size_t)ROWS * FX_D * sizeof(float));
	float *Y = malloc((size_t)ROWS * FX_D * sizeof(float));
	cJSON *obj = cJSON_CreateObject();

	(void)state;
	setup_open(&s, 0);
	memset(s.w->w2[1] + HALF * FX_D, 0, HALF * FX_D * sizeof(float));
	pnb_close(&s.f);
	pn_rw_free(s.rw);
	assert_int_equal(fx_write(s.w, s.in, &err), 0);
	assert_int_equal(pnb_open(s.in, &s.f, &err), 0);
	assert_int_equal(pn_rw_new(&s.f, &s.rw, &err), 0);
	fx_fill(X, (size_t)ROWS * FX_D, &seed, 3.0f);
	pn_ref_layernorm(X, ROWS, FX_D, s.w->ln[1][1], s.w->lnb[1][1], 1e-6f, U);
	pn_ref_ffn(U, ROWS, FX_D, FX_FF, 0, PNB_ACT_RELU, s.w->w1[1], s.w->b1[1], s.w->w2[1],
		   s.w->b2[1], Y);
	for (size_t i = 0; i < (size_t)ROWS * FX_D; i++)
		Y[i] += X[i];
	ns = pn_ffn_sites(s.rw, sites, 4);
	assert_int_equal(ns, 2);
	assert_int_equal(sites[1].layer, 1);
	ln = pn_rw_find_node(s.rw, "l1.ln2");
	in = pn_rw_find_value(s.rw, "l0.out");
	out = pn_rw_find_value(s.rw, "l1.out");
	c = (struct pn_pass_ctx){ .rw = s.rw, .f = &s.f, .cal = &s.cal, .o = &o, .rep = &s.rep };
	assert_int_equal(pn_macro_seeded(&c, &sites[1], ln, X, Y, ROWS, FX_D, in, out, "mx",
					 obj, &err), 0);
	assert_true(cJSON_GetObjectItem(obj, "resid_heldout")->valuedouble < 1e-6);
	assert_true(fabs(cJSON_GetObjectItem(obj, "energy_share")->valuedouble - 1) < 1e-9);
	assert_int_not_equal(pn_rw_find_node(s.rw, "mx.ln"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(s.rw, "mx.up"), PNB_NONE);
	assert_int_equal(pn_rw_find_node(s.rw, "l1.attn"), PNB_NONE);	/* the run is gone */
	assert_int_equal(pn_rw_finish(s.rw, s.out, NULL, NULL, &err), 0);
	assert_int_equal(pn_model_open(s.out, &m, &err), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	setup_close(&s);
	setup_open(&s, 0);
	o.macro = 2;	/* one expert only */
	c = (struct pn_pass_ctx){ .rw = s.rw, .f = &s.f, .cal = &s.cal, .o = &o, .rep = &s.rep };
	ns = pn_ffn_sites(s.rw, sites, 4);
	assert_int_equal(pn_macro_seeded(&c, &sites[1], pn_rw_find_node(s.rw, "l1.ln2"), X, Y,
					 ROWS, FX_D, pn_rw_find_value(s.rw, "l0.out"),
					 pn_rw_find_value(s.rw, "l1.out"), "mx", obj, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "--macro 1"));
	setup_close(&s);
	cJSON_Delete(obj);
	free(X);
	free(U);
	free(Y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twins_refit_exactly),
		cmocka_unit_test(bad_keep),
		cmocka_unit_test(seeded_macro_recovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
