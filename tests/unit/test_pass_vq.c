// SPDX-License-Identifier: MIT
/*
 * test_pass_vq: the VQ CacheNode pass (lib/compile/pass_vq.c) on the
 * fixture transformer with a hand-made calibration of separable data: FFN
 * inputs drawn from 4 tight clusters. With K = 4 the codebook finds the
 * clusters (distortion ~ the noise), the table holds the exact FFN of each
 * code, the written file opens, and rows at a cluster centre get the exact
 * FFN output through the VQ node. A calibration smaller than K is refused.
 * In codebook mode (--vq-mode codebook) the site becomes VQ codes -> a
 * POLY_FFN in codebook mode, whose error is the series' on top of the
 * quantization's; the file opens and the nodes read each other.
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

enum { K = 4, ROWS = 200 };

static void make_calib(struct pn_calib *cal, struct pn_calib_value *cv, uint32_t value,
		       uint32_t rows, float *centres)
{
	uint32_t s = 99;

	for (uint32_t k = 0; k < K * FX_D; k++)
		centres[k] = fx_rand(&s, 20.0f);
	cv->value = value;
	cv->width = FX_D;
	cv->sample = malloc((size_t)rows * FX_D * sizeof(float));
	for (uint32_t i = 0; i < rows; i++)
		for (uint32_t j = 0; j < FX_D; j++)	/* noise 0.01 around centre i % K */
			cv->sample[i * FX_D + j] = centres[(i % K) * FX_D + j] + fx_rand(&s, 0.02f);
	memset(cal, 0, sizeof(*cal));
	cal->n_values = 1;
	cal->v = cv;
	cal->n_sample = rows;
}

/*
 * The pass with options o on layer 1 of the fixture, calibrated on the 4
 * clusters; check() asserts on the rewriter and the site's report entry,
 * then the written file must open (the graph's shape checks).
 */
static void vq_layer1(const struct pn_poly_opts *o,
		      void (*check)(const struct pn_rw *rw, const cJSON *e))
{
	char in[64], out[64];
	struct fx_weights *w = malloc(sizeof(*w));
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_calib cal;
	struct pn_calib_value cv;
	struct pn_poly_report rep = { .json = cJSON_CreateObject() };
	struct pn_pass_ctx c;
	struct pn_err err;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	float centres[K * FX_D];
	cJSON *e;

	snprintf(in, sizeof(in), "/tmp/test_pass_vq_in_%d.pnb", getpid());
	snprintf(out, sizeof(out), "/tmp/test_pass_vq_out_%d.pnb", getpid());
	fx_init(w, 5);
	assert_int_equal(fx_write(w, in, &err), 0);
	assert_int_equal(pnb_open(in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	make_calib(&cal, &cv, pn_rw_find_value(rw, "l1.ln2"), ROWS, centres);
	c = (struct pn_pass_ctx){ .rw = rw, .f = &f, .cal = &cal, .o = o, .rep = &rep };
	assert_int_equal(pn_pass_vq(&c, &err), 0);
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(rep.json, "vq"), 0);
	assert_non_null(e);
	check(rw, e);
	assert_int_equal(pn_rw_finish(rw, out, NULL, NULL, &err), 0);
	assert_int_equal(pn_model_open(out, &m, &err), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	pn_rw_free(rw);
	free(cv.sample);
	pn_report_free(&rep);
	pnb_close(&f);
	unlink(in);
	unlink(out);
	free(w);
}

static void check_cache(const struct pn_rw *rw, const cJSON *e)
{
	assert_int_equal(cJSON_GetObjectItem(e, "layer")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(e, "codes_used")->valueint, K);
	/* noise variance (0.01^2 / 3 per coordinate) vs centres of spread 20: tiny */
	assert_true(cJSON_GetObjectItem(e, "rel_distortion")->valuedouble < 1e-5);
	assert_true(cJSON_GetObjectItem(e, "ffn_out_rel_err")->valuedouble < 1e-2);
	assert_int_equal(pn_rw_find_node(rw, "l1.ffn"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(rw, "l1.ffn.vq"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(rw, "l0.ffn"), PNB_NONE);	/* not selected */
}

static void separable(void **state)
{
	const struct pn_poly_opts o = { .vq = K, .vq_layers = 1u << 1, .seed = 1 };

	(void)state;
	vq_layer1(&o, check_cache);
}

static void check_codebook(const struct pn_rw *rw, const cJSON *e)
{
	uint32_t codes, pffn;

	assert_string_equal(cJSON_GetObjectItem(e, "mode")->valuestring, "codebook");
	assert_true(cJSON_GetObjectItem(e, "degree")->valueint >= 2);
	/* ReLU's series at degree <= 64: a few % of the output, never exact */
	assert_true(cJSON_GetObjectItem(e, "ffn_out_rel_err")->valuedouble < 0.1);
	assert_true(cJSON_GetObjectItem(e, "ffn_out_rel_err")->valuedouble > 1e-6);
	codes = pn_rw_find_node(rw, "l1.ffn.vq.codes");
	pffn = pn_rw_find_node(rw, "l1.ffn.vq.pffn");
	assert_int_not_equal(codes, PNB_NONE);
	assert_int_not_equal(pffn, PNB_NONE);
	assert_int_equal(pn_rw_node(rw, codes)->op, PNB_OP_VQ);
	assert_int_equal(pn_rw_node(rw, pffn)->op, PNB_OP_POLY_FFN);
	assert_int_equal(pn_rw_node(rw, pffn)->in[0], pn_rw_node(rw, codes)->out);
	assert_int_equal(pn_rw_node(rw, pffn)->iattr[PNB_IA_POLYFFN_CODEBOOK], 1);
	assert_int_equal(pn_rw_node(rw, pffn)->w[PNB_W_POLYFFN_CODEBOOK],
			 pn_rw_node(rw, codes)->w[PNB_W_VQ_CODEBOOK]);
}

static void codebook_mode(void **state)
{
	const struct pn_poly_opts o = { .vq = K, .vq_layers = 1u << 1, .seed = 1, .vq_codebook = 1,
					.poly_tol = 1e-3, .poly_max_degree = 64 };

	(void)state;
	vq_layer1(&o, check_codebook);
}

static void too_few_rows(void **state)
{
	char in[64];
	struct fx_weights *w = malloc(sizeof(*w));
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_calib cal;
	struct pn_calib_value cv;
	struct pn_poly_opts o = { .vq = 16, .vq_layers = 1u << 0, .seed = 1 };
	struct pn_poly_report rep = { .json = cJSON_CreateObject() };
	struct pn_pass_ctx c;
	struct pn_err err;
	float centres[K * FX_D];

	(void)state;
	snprintf(in, sizeof(in), "/tmp/test_pass_vq_tiny_%d.pnb", getpid());
	fx_init(w, 5);
	assert_int_equal(fx_write(w, in, &err), 0);
	assert_int_equal(pnb_open(in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	make_calib(&cal, &cv, pn_rw_find_value(rw, "l0.ln2"), 8, centres);
	c = (struct pn_pass_ctx){ .rw = rw, .f = &f, .cal = &cal, .o = &o, .rep = &rep };
	assert_int_equal(pn_pass_vq(&c, &err), -EINVAL);	/* K 16 > 8 rows */
	assert_non_null(strstr(err.msg, "l0.ffn"));
	assert_non_null(strstr(err.msg, "8 calibration rows"));
	pn_rw_free(rw);
	free(cv.sample);
	pn_report_free(&rep);
	pnb_close(&f);
	unlink(in);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(separable),
		cmocka_unit_test(codebook_mode),
		cmocka_unit_test(too_few_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
