// SPDX-License-Identifier: MIT
/*
 * test_graph: shape checks that only the op's meaning allows (the reader
 * has checked indices and enums). Each broken model must be refused with
 * a message naming the node and the weight or value at fault.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/graph.h"
#include "exec/exec.h"
#include "exec/model.h"

enum { V = 10, D = 8 };
static float zeros[4096];

enum fault { OK, LINEAR_ROWS, LINEAR_BIAS, HEADS, EMBED_ODD_POS, FFN_W2,
	     ADD_WIDTH, POOL_LAYOUT, LN_GAMMA, ACT_UNKNOWN };

/* A zero tensor of [d0] (d1 == 0) or [d0, d1]. */
static uint32_t tn(struct pnb_writer *w, const char *name, uint64_t d0, uint64_t d1)
{
	uint64_t s[2] = { d0, d1 };

	return pnb_w_tensor(w, name, PNB_DTYPE_F32, d1 ? 2 : 1, s, zeros);
}

/* ids -> embed -> layernorm -> linear(3D) -> attention -> add -> ffn -> pool */
static int build(enum fault fault, char *path, struct pn_err *err)
{
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint32_t ids, x, ln, q, a, sum, f, p;
	int fd, rc;

#define TN(name, d0, d1) tn(w, name, d0, d1)
	ids = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	x = pnb_w_value(w, "x", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(w, "embed"), x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 3; n.fattr[PNB_FA_EMBED_SCALE] = 1;
	n.w[PNB_W_EMBED_TABLE] = TN("E", V, D);
	n.w[PNB_W_EMBED_INV_FREQ] = TN("inv", fault == EMBED_ODD_POS ? D / 2 + 1 : D / 2, 0);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_SINCOS;
	pnb_w_node(w, &n);
	ln = pnb_w_value(w, "ln", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_LAYERNORM, pnb_w_string(w, "ln"), ln);
	n.n_in = 1; n.in[0] = x; n.n_w = 2; n.fattr[PNB_FA_NORM_EPS] = 1e-6f;
	n.w[PNB_W_NORM_GAMMA] = TN("g", fault == LN_GAMMA ? D - 1 : D, 0);
	n.w[PNB_W_NORM_BETA] = TN("b", D, 0);
	pnb_w_node(w, &n);
	q = pnb_w_value(w, "qkv", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 3 * D);
	pnb_node_init(&n, PNB_OP_LINEAR, pnb_w_string(w, "qkv"), q);
	n.n_in = 1; n.in[0] = ln; n.n_w = 2;
	n.iattr[PNB_IA_LINEAR_ACT] = fault == ACT_UNKNOWN ? 17 : 0;
	n.w[PNB_W_LINEAR_W] = TN("Wqkv", fault == LINEAR_ROWS ? D + 1 : D, 3 * D);
	n.w[PNB_W_LINEAR_B] = TN("bqkv", fault == LINEAR_BIAS ? 3 * D - 1 : 3 * D, 0);
	pnb_w_node(w, &n);
	a = pnb_w_value(w, "attn", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_ATTENTION, pnb_w_string(w, "attn"), a);
	n.n_in = 1; n.in[0] = q; n.iattr[PNB_IA_ATTN_HEADS] = fault == HEADS ? 3 : 2;
	n.fattr[PNB_FA_ATTN_SCALE] = 0.5f;
	pnb_w_node(w, &n);
	sum = pnb_w_value(w, "sum", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_ADD, pnb_w_string(w, "sum"), sum);
	n.n_in = 2; n.in[0] = x; n.in[1] = fault == ADD_WIDTH ? q : a;
	pnb_w_node(w, &n);
	f = pnb_w_value(w, "ffn", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	pnb_node_init(&n, PNB_OP_FFN, pnb_w_string(w, "ffn"), f);
	n.n_in = 1; n.in[0] = sum; n.n_w = 4; n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_GELU;
	n.w[PNB_W_FFN_W1] = TN("W1", D, 16);
	n.w[PNB_W_FFN_W2] = TN("W2", 16, fault == FFN_W2 ? D + 2 : D);
	pnb_w_node(w, &n);
	p = pnb_w_value(w, "pool", PNB_DTYPE_F32,
			fault == POOL_LAYOUT ? PNB_LAYOUT_TOKENS : PNB_LAYOUT_SEQ, D);
	pnb_node_init(&n, PNB_OP_POOL_MEAN, pnb_w_string(w, "pool"), p);
	n.n_in = 1; n.in[0] = f;
	pnb_w_node(w, &n);
#undef TN
	h.name = pnb_w_string(w, "shapes");
	h.input = ids;
	h.output = p;
	h.max_tokens = 16;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(w, &h);
	strcpy(path, "/tmp/test_graph_XXXXXX");
	fd = mkstemp(path);
	close(fd);
	rc = pnb_w_finish(w, path, err);
	pnb_writer_free(w);
	return rc;
}

/* Builds the faulty model and expects pn_cpu_model_new (the graph) to name these. */
static void expect(enum fault fault, const char *node, const char *what)
{
	char path[64];
	struct pn_err err = { "" };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	int r;

	assert_int_equal(build(fault, path, &err), 0);
	r = pn_model_open(path, &m, &err);
	/* opening reads the file and tokenizer only: a shape fault is the graph's to find */
	assert_int_equal(r, 0);
	if (!r && (r = pn_cpu_model_new(m, &cm, &err))) {
		assert_null(cm);
		pn_model_close(m);
		m = NULL;
	}
	unlink(path);
	if (!node) {
		if (r)
			fail_msg("valid model refused: %s", err.msg);
		assert_int_equal(m->out_width, D);
		pn_cpu_model_free(cm);
		pn_model_close(m);
		return;
	}
	assert_int_equal(r, -EINVAL);
	assert_null(m);
	if (!strstr(err.msg, node) || !strstr(err.msg, what))
		fail_msg("expected '%s' and '%s' in: %s", node, what, err.msg);
}

static void test_valid(void **s) { (void)s; expect(OK, NULL, NULL); }
static void test_linear_rows(void **s) { (void)s; expect(LINEAR_ROWS, "'qkv'", "Wqkv"); }
static void test_linear_bias(void **s) { (void)s; expect(LINEAR_BIAS, "'qkv'", "bqkv"); }
static void test_heads(void **s) { (void)s; expect(HEADS, "'attn'", "heads"); }
static void test_embed_pos(void **s) { (void)s; expect(EMBED_ODD_POS, "'embed'", "inv"); }
static void test_ffn_w2(void **s) { (void)s; expect(FFN_W2, "'ffn'", "W"); }
static void test_add_width(void **s) { (void)s; expect(ADD_WIDTH, "'sum'", "width"); }
static void test_pool_layout(void **s) { (void)s; expect(POOL_LAYOUT, "'pool'", "layout"); }
static void test_ln_gamma(void **s) { (void)s; expect(LN_GAMMA, "'ln'", "weight g"); }
/* An unknown activation is an enum the writer itself refuses to write. */
static void test_act(void **s)
{
	char path[64];
	struct pn_err err = { "" };

	(void)s;
	assert_int_equal(build(ACT_UNKNOWN, path, &err), -EINVAL);
	unlink(path);
	if (!strstr(err.msg, "activation"))
		fail_msg("expected 'activation' in: %s", err.msg);
}

static void test_flops(void **s)
{
	char path[64];
	struct pn_model *m;
	struct pn_cpu_model *cm;

	(void)s;
	assert_int_equal(build(OK, path, NULL), 0);
	assert_int_equal(pn_model_open(path, &m, NULL), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, NULL), 0);
	unlink(path);
	/* per token: qkv 2*8*24, ffn 2*8*16*2; attention 4*T*T*D per sequence */
	assert_true(fabs(pn_graph_flops(pn_cpu_model_graph(cm), 2, 5) -
			 (2 * 5 * (2.0 * 8 * 24 + 2.0 * 8 * 16 * 2) + 2 * 4.0 * 25 * 8))
		    < 1e-6);
	pn_cpu_model_free(cm);
	pn_model_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid), cmocka_unit_test(test_linear_rows),
		cmocka_unit_test(test_linear_bias), cmocka_unit_test(test_heads),
		cmocka_unit_test(test_embed_pos), cmocka_unit_test(test_ffn_w2),
		cmocka_unit_test(test_add_width), cmocka_unit_test(test_pool_layout),
		cmocka_unit_test(test_ln_gamma), cmocka_unit_test(test_act),
		cmocka_unit_test(test_flops),
	};

	return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
