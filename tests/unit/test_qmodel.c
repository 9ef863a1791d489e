// SPDX-License-Identifier: MIT
/*
 * test_qmodel: quantized GEMM weights in a .pnb (uapi/pnb.h, the W_SCALE
 * and QP slots) through the real writer, reader, graph and executor: a
 * valid file runs and matches the plain twins composed by hand; every bad
 * variant is refused at load with the file, the tensor and what was
 * expected.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpu/kernels.h"
#include "cpu/qgemm.h"
#include "exec/exec.h"
#include "exec/model.h"
#include "format/pnb.h"
#include "gpu/plan.h"
#include "test_rand.h"

enum { V = 11, D = 24, N = 40, FF = 32, T = 7 };

enum fault { OK, SCALE_COUNT, SCALE_ZERO, SCALE_NAN, NO_SCALE, F32_WITH_SCALE, BAD_DTYPE,
	     QP_ZERO_POINT, BF16_WITH_SCALE };

struct qw {
	float E[V * D], W[D * N], b[N], W1[N * FF], b1[FF], W2[FF * N], b2[N];
	int8_t q[D * N], q1[N * FF];
	float sw[N], sw1[FF], qp1[2];
	uint16_t w2[FF * N];
};

/* W2 is BF16 where this CPU runs bf16 GEMMs, else F32 (main sets it). */
static int has_bf16;

static void make_weights(struct qw *w)
{
	float *r;

	r = rand_buf(V * D); memcpy(w->E, r, sizeof(w->E)); free(r);
	r = rand_buf(D * N); memcpy(w->W, r, sizeof(w->W)); free(r);
	r = rand_buf(N); memcpy(w->b, r, sizeof(w->b)); free(r);
	r = rand_buf(N * FF); memcpy(w->W1, r, sizeof(w->W1)); free(r);
	r = rand_buf(FF); memcpy(w->b1, r, sizeof(w->b1)); free(r);
	r = rand_buf(FF * N); memcpy(w->W2, r, sizeof(w->W2)); free(r);
	r = rand_buf(N); memcpy(w->b2, r, sizeof(w->b2)); free(r);
	pn_q8_weights(w->W, D, N, w->q, w->sw);
	pn_q8_weights(w->W1, N, FF, w->q1, w->sw1);
	pn_q8_params(-8, 8, 255, w->qp1);		/* the LINEAR's outputs stay well inside */
	pn_bf16_row(w->W2, FF * N, w->w2);
}

/* ids -> EMBED (no positions) -> LINEAR (I8) -> FFN (W1 I8 with a static QP, W2 BF16 or F32) */
static int build(const struct qw *w, enum fault fault, char *path, struct pn_err *err)
{
	struct pnb_writer *wr = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint64_t s[2];
	float sw[N], qp[2] = { w->qp1[0], fault == QP_ZERO_POINT ? 300 : w->qp1[1] };
	uint32_t ids, x, y, f;
	int fd, rc;

	memcpy(sw, w->sw, sizeof(sw));
	if (fault == SCALE_ZERO)
		sw[17] = 0;
	if (fault == SCALE_NAN)
		sw[3] = NAN;
	ids = pnb_w_value(wr, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	x = pnb_w_value(wr, "x", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(wr, "embed"), x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 1; n.fattr[PNB_FA_EMBED_SCALE] = 1;
	s[0] = V; s[1] = D;
	n.w[PNB_W_EMBED_TABLE] = pnb_w_tensor(wr, "E", PNB_DTYPE_F32, 2, s, w->E);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_NONE;
	pnb_w_node(wr, &n);

	y = pnb_w_value(wr, "y", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, N);
	pnb_node_init(&n, PNB_OP_LINEAR, pnb_w_string(wr, "proj"), y);
	n.n_in = 1; n.in[0] = x; n.n_w = 3;
	s[0] = D; s[1] = N;
	if (fault == F32_WITH_SCALE)
		n.w[PNB_W_LINEAR_W] = pnb_w_tensor(wr, "W", PNB_DTYPE_F32, 2, s, w->W);
	else if (fault == BAD_DTYPE)
		n.w[PNB_W_LINEAR_W] = pnb_w_tensor(wr, "W", PNB_DTYPE_U8, 2, s, w->q);
	else
		n.w[PNB_W_LINEAR_W] = pnb_w_tensor(wr, "W", PNB_DTYPE_I8, 2, s, w->q);
	s[0] = N;
	n.w[PNB_W_LINEAR_B] = pnb_w_tensor(wr, "b", PNB_DTYPE_F32, 1, s, w->b);
	s[0] = fault == SCALE_COUNT ? N - 1 : N;
	n.w[PNB_W_LINEAR_W_SCALE] = fault == NO_SCALE ? PNB_NONE :
				    pnb_w_tensor(wr, "W.scale", PNB_DTYPE_F32, 1, s, sw);
	pnb_w_node(wr, &n);

	f = pnb_w_value(wr, "f", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, N);
	pnb_node_init(&n, PNB_OP_FFN, pnb_w_string(wr, "ffn"), f);
	n.n_in = 1; n.in[0] = y; n.n_w = 8; n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_RELU;
	for (int k = 0; k < 8; k++)
		n.w[k] = PNB_NONE;
	s[0] = N; s[1] = FF;
	n.w[PNB_W_FFN_W1] = pnb_w_tensor(wr, "W1", PNB_DTYPE_I8, 2, s, w->q1);
	s[0] = FF;
	n.w[PNB_W_FFN_B1] = pnb_w_tensor(wr, "b1", PNB_DTYPE_F32, 1, s, w->b1);
	n.w[PNB_W_FFN_W1_SCALE] = pnb_w_tensor(wr, "W1.scale", PNB_DTYPE_F32, 1, s, w->sw1);
	s[0] = 2;
	n.w[PNB_W_FFN_X_QP] = pnb_w_tensor(wr, "x.qp", PNB_DTYPE_F32, 1, s, qp);
	s[0] = FF; s[1] = N;
	if (has_bf16 || fault == BF16_WITH_SCALE)
		n.w[PNB_W_FFN_W2] = pnb_w_tensor(wr, "W2", PNB_DTYPE_BF16, 2, s, w->w2);
	else
		n.w[PNB_W_FFN_W2] = pnb_w_tensor(wr, "W2", PNB_DTYPE_F32, 2, s, w->W2);
	s[0] = N;
	n.w[PNB_W_FFN_B2] = pnb_w_tensor(wr, "b2", PNB_DTYPE_F32, 1, s, w->b2);
	if (fault == BF16_WITH_SCALE)
		n.w[PNB_W_FFN_W2_SCALE] = pnb_w_tensor(wr, "W2.scale", PNB_DTYPE_F32, 1, s, w->sw);
	pnb_w_node(wr, &n);

	h.name = pnb_w_string(wr, "qmodel");
	h.input = ids;
	h.output = f;
	h.max_tokens = 16;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(wr, &h);
	strcpy(path, "/tmp/test_qmodel_XXXXXX");
	fd = mkstemp(path);
	close(fd);
	rc = pnb_w_finish(wr, path, err);
	pnb_writer_free(wr);
	return rc;
}

static struct qw *weights(void)
{
	static struct qw w;
	static int made;

	if (!made++)
		make_weights(&w);
	return &w;
}

/* The file is refused at open or at load, with every piece of want in the message. */
static void expect(enum fault fault, const char *const *want)
{
	char path[64];
	struct pn_err err = { "" };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	int r;

	/* the writer runs the reader on what it wrote: a NaN never reaches a file */
	r = build(weights(), fault, path, &err);
	if (!r)
		r = pn_model_open(path, &m, &err);
	if (!r) {
		r = pn_cpu_model_new(m, &cm, &err);
		pn_model_close(m);
	}
	unlink(path);
	assert_int_not_equal(r, 0);
	assert_null(cm);
	for (; *want; want++)
		if (!strstr(err.msg, *want))
			fail_msg("fault %d: \"%s\" lacks \"%s\"", fault, err.msg, *want);
}

static void test_refusals(void **state)
{
	(void)state;
	expect(SCALE_COUNT, (const char *[]){ "/tmp/test_qmodel_", "W.scale",
					       "expected 40 elements, has 39", NULL });
	expect(SCALE_ZERO, (const char *[]){ "W.scale (data at file offset", "element 17 is 0",
					      "expected a scale > 0", NULL });
	expect(SCALE_NAN, (const char *[]){ "W.scale", "element 3 is NaN",
					     "expected a finite number", NULL });
	expect(NO_SCALE, (const char *[]){ "weight W is I8 but its scale slot 2 is empty",
					    "expected F32 [40]", NULL });
	expect(F32_WITH_SCALE, (const char *[]){ "holds W.scale, expected none",
						  "the weight is F32", NULL });
	expect(BAD_DTYPE, (const char *[]){ "weight W: dtype", "expected F32, BF16, or I8",
					     NULL });
	expect(QP_ZERO_POINT, (const char *[]){ "x.qp (data at file offset", "300",
						 "zero point an integer in 0..255", NULL });
	expect(BF16_WITH_SCALE, (const char *[]){ "W2.scale", "BF16 weights have no scales",
						   NULL });
}

/*
 * The executor against the twins composed by hand: the embedding rows,
 * pn_ref_qlinear for the LINEAR, W1 (ReLU) and W2. Equal integer sums and
 * epilogues for I8, bf16 products summed in another order for W2: 1e-5
 * relative to the output's magnitude.
 */
static void test_runs_like_the_twins(void **state)
{
	struct qw *w = weights();
	char path[64];
	struct pn_err err = { "" };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	struct pn_exec *x = NULL;
	int32_t ids[2 * T];
	uint32_t lens[2] = { T, T - 2 };
	float out[2 * T * N], e[2 * T * D], y[2 * T * N], h[2 * T * FF], ref[2 * T * N];
	struct pn_qgemm g = { .K = D, .N = N, .dtype = PNB_DTYPE_I8, .W = w->q, .scale = w->sw,
			      .levels = pn_q8_levels() };
	struct pn_qgemm g1 = { .K = N, .N = FF, .dtype = PNB_DTYPE_I8, .W = w->q1,
			       .scale = w->sw1, .qp = w->qp1, .levels = pn_q8_levels() };
	struct pn_qgemm g2 = { .K = FF, .N = N, .dtype = PNB_DTYPE_BF16, .W = w->w2 };

	(void)state;
	assert_int_equal(build(w, OK, path, &err), 0);
	if (pn_model_open(path, &m, &err) || pn_cpu_model_new(m, &cm, &err) ||
	    pn_exec_new(cm, 2, T, NULL, &x, &err))
		fail_msg("%s", err.msg);
	unlink(path);
	for (int i = 0; i < 2 * T; i++)
		ids[i] = (i * 7 + 3) % V;
	assert_int_equal(pn_exec_run(x, ids, lens, 2, T, out, &err), 0);
	for (int i = 0; i < 2 * T; i++)
		memcpy(e + i * D, w->E + ids[i] * D, D * sizeof(float));
	pn_ref_qlinear(&g, 2 * T, e, w->b, PNB_ACT_NONE, y);
	pn_ref_qlinear(&g1, 2 * T, y, w->b1, PNB_ACT_RELU, h);
	if (has_bf16)
		pn_ref_qlinear(&g2, 2 * T, h, w->b2, PNB_ACT_NONE, ref);
	else
		pn_ref_linear(h, 2 * T, FF, w->W2, w->b2, N, PNB_ACT_NONE, ref);
	for (int b = 0; b < 2; b++)
		for (uint32_t t = 0; t < lens[b]; t++)
			for (int n = 0; n < N; n++) {
				size_t i = ((size_t)b * T + t) * N + n;

				if (!(fabsf(out[i] - ref[i]) <= 1e-5f * (1 + fabsf(ref[i]))))
					fail_msg("row %d.%u col %d: %g, twins %g", b, t, n,
						 out[i], ref[i]);
			}
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
}

/* The PTX backend has no int8 GEMM: planning the model for it is refused by name. */
static void test_gpu_plan_refuses(void **state)
{
	char path[64];
	struct pn_err err = { "" };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	struct pn_gpu_plan *p = NULL;

	(void)state;
	assert_int_equal(build(weights(), OK, path, &err), 0);
	if (pn_model_open(path, &m, &err) || pn_cpu_model_new(m, &cm, &err))
		fail_msg("%s", err.msg);
	unlink(path);
	assert_int_not_equal(pn_gpu_plan_new(pn_cpu_model_graph(cm), 2, T, &p, &err), 0);
	assert_null(p);
	if (!strstr(err.msg, "'proj'") || !strstr(err.msg, "weight slot 0 is i8") ||
	    !strstr(err.msg, "no int8 GEMM yet") || !strstr(err.msg, "CPU backend"))
		fail_msg("unexpected refusal: %s", err.msg);
	pn_cpu_model_free(cm);
	pn_model_close(m);
}

/* The child: loads path under the ISA its environment forces, prints the error. */
static int load_child(const char *path)
{
	struct pn_err err = { "" };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	int r = pn_model_open(path, &m, &err) ?: pn_cpu_model_new(m, &cm, &err);

	printf("%d %s\n", r, err.msg);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	return 0;
}

/* With oneDNN held to AVX2 the valid file is refused at load, naming file, node and ISA. */
static void test_isa_refusal_at_load(void **state)
{
	char path[64], exe[256], cmd[512], out[700] = "";
	struct pn_err err = { "" };
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;

	(void)state;
	assert_true(k > 0);
	exe[k] = 0;
	assert_int_equal(build(weights(), OK, path, &err), 0);
	snprintf(cmd, sizeof(cmd), "ONEDNN_MAX_CPU_ISA=SSE41 '%s' --load '%s'", exe, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	assert_int_equal(pclose(p), 0);
	unlink(path);
	assert_int_equal(atoi(out), -ENOTSUP);
	if (!strstr(out, path) || !strstr(out, "node 1 'proj' (linear): weight slot 0: int8 "
			"weights need a CPU with AVX2 or newer") || !strstr(out, "at SSE41"))
		fail_msg("unexpected refusal: %s", out);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_runs_like_the_twins),
		cmocka_unit_test(test_isa_refusal_at_load),
		cmocka_unit_test(test_gpu_plan_refuses),
	};

	char why[200];

	has_bf16 = !pn_qgemm_isa_check(PNB_DTYPE_BF16, why, sizeof(why));
	if (argc == 3 && !strcmp(argv[1], "--load"))
		return load_child(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
