// SPDX-License-Identifier: MIT
/*
 * test_pass_attnmean: mean mixing (lib/compile/pass_attnmean.c) on the
 * fixture transformer. Layer 1's attention becomes POOL_MEAN -> LINEAR
 * (Wv Wo folded) -> a broadcast ADD (a SEQ row into every token of its
 * sequence); the rewritten model, run by the executor on sequences of
 * several lengths in one padded batch, equals the reference forward pass
 * with layer 1's attention weights made uniform (1e-4, float vs a double
 * mean and a refolded product), and differs from the exact model. Layer 0
 * (named otherwise in the fixture) is refused with the nodes expected.
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
#include "exec/exec.h"
#include "fixture_model.h"
#include "exec/model.h"

enum { B = 3 };

static void uniform_layer1(void **state)
{
	char in[64], out[64];
	struct fx_weights *w = malloc(sizeof(*w));
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_calib cal = { 0 };
	struct pn_poly_opts o = { .attn_mean = 1, .attn_mean_layers = 1u << 1 };
	struct pn_poly_report rep = { .json = cJSON_CreateObject() };
	struct pn_pass_ctx c;
	struct pn_err err;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_exec *x;
	const uint32_t lens[B] = { 7, 1, FX_MAXT };
	int32_t ids[B * FX_MAXT];
	float got[B * FX_D], want[FX_D], exact[FX_D];
	uint32_t seed = 5;
	double far = 0;

	(void)state;
	snprintf(in, sizeof(in), "/tmp/test_attnmean_in_%d.pnb", getpid());
	snprintf(out, sizeof(out), "/tmp/test_attnmean_out_%d.pnb", getpid());
	fx_init(w, 9);
	assert_int_equal(fx_write(w, in, &err), 0);
	assert_int_equal(pnb_open(in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	c = (struct pn_pass_ctx){ .rw = rw, .f = &f, .cal = &cal, .o = &o, .rep = &rep };
	assert_int_equal(pn_pass_attn_mean(&c, &err), 0);
	assert_int_equal(pn_rw_find_node(rw, "l1.attn"), PNB_NONE);
	assert_int_equal(pn_rw_find_node(rw, "l1.attn.qkv"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(rw, "l1.attn.mean"), PNB_NONE);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(rep.json,
			 "attn_mean"), 0), "layer")->valueint, 1);
	assert_int_equal(pn_rw_finish(rw, out, NULL, NULL, &err), 0);
	assert_int_equal(pn_model_open(out, &m, &err), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	assert_int_equal(pn_exec_new(cm, B, FX_MAXT, NULL, &x, &err), 0);
	for (uint32_t i = 0; i < B * FX_MAXT; i++) {
		seed = seed * 1664525u + 1013904223u;
		ids[i] = (int32_t)(seed >> 8) % FX_V;
	}
	assert_int_equal(pn_exec_run(x, ids, lens, B, FX_MAXT, got, &err), 0);
	for (uint32_t b = 0; b < B; b++) {
		fx_reference_opt(w, ids + b * FX_MAXT, lens[b], want, 1);
		fx_reference(w, ids + b * FX_MAXT, lens[b], exact);
		for (uint32_t j = 0; j < FX_D; j++) {
			assert_float_equal(got[b * FX_D + j], want[j], 1e-4);
			far += fabs((double)exact[j] - want[j]);
		}
	}
	assert_true(far > 1e-2);	/* uniform weights are not the model's own */
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	pn_rw_free(rw);
	pn_report_free(&rep);
	pnb_close(&f);
	unlink(in);
	unlink(out);
	free(w);
}

static void wrong_names(void **state)
{
	char in[64];
	struct fx_weights *w = malloc(sizeof(*w));
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_calib cal = { 0 };
	struct pn_poly_opts o = { .attn_mean = 1, .attn_mean_layers = 1u << 0 };
	struct pn_poly_report rep = { .json = cJSON_CreateObject() };
	struct pn_pass_ctx c;
	struct pn_err err;

	(void)state;
	snprintf(in, sizeof(in), "/tmp/test_attnmean_bad_%d.pnb", getpid());
	fx_init(w, 9);
	assert_int_equal(fx_write(w, in, &err), 0);
	assert_int_equal(pnb_open(in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	c = (struct pn_pass_ctx){ .rw = rw, .f = &f, .cal = &cal, .o = &o, .rep = &rep };
	/* the fixture's layer 0 is l0.qkv / l0.attn / l0.o: not the compiler's names */
	assert_int_equal(pn_pass_attn_mean(&c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "l0.attn.qkv"));
	pn_rw_free(rw);
	pn_report_free(&rep);
	pnb_close(&f);
	unlink(in);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uniform_layer1),
		cmocka_unit_test(wrong_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
