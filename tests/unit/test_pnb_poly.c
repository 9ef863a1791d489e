// SPDX-License-Identifier: MIT
/*
 * test_pnb_poly: the PolyNet ops (32..35) in the .pnb reader (lib/pnb.c)
 * and the graph builder (lib/graph.c): the fixture_poly.h model is
 * accepted; then one attribute, index or weight at a time is broken and
 * the writer (which validates with the reader) or pn_model_open must
 * refuse it with a message naming the node and what was expected.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "fixture_poly.h"
#include "exec/exec.h"
#include "exec/model.h"

struct mut {
	const char *node;	/* the node to change */
	void (*fn)(struct pnb_node *n);
	int code;
	const char *msg;	/* expected in the error */
};

static void hook(const char *node, struct pnb_node *n, void *arg)
{
	const struct mut *m = arg;

	if (m && !strcmp(node, m->node))
		m->fn(n);
}

static char path[64];

static int setup(void **state)
{
	int fd;

	strcpy(path, "/tmp/test_pnb_poly_XXXXXX");
	fd = mkstemp(path);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static void test_accepts_the_poly_ops(void **state)
{
	static struct fp_weights w;
	struct pnb_file f;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_err err;
	uint32_t n[4] = { 0 };

	fp_init(&w, 1);
	assert_int_equal(fp_write(&w, path, NULL, NULL, &err), 0);
	assert_int_equal(pnb_open(path, &f, &err), 0);
	for (uint32_t i = 0; i < f.n_nodes; i++)
		if (f.nodes[i].op >= PNB_OP_POLY_FFN && f.nodes[i].op <= PNB_OP_MACRO)
			n[f.nodes[i].op - PNB_OP_POLY_FFN]++;
	assert_true(n[0] == 2 && n[1] == 3 && n[2] == 1 && n[3] == 1);
	pnb_close(&f);
	assert_int_equal(pn_model_open(path, &m, &err), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	assert_string_equal(pnb_op_name(PNB_OP_POLY_FFN), "poly_ffn");
	assert_string_equal(pnb_op_name(PNB_OP_MACRO), "macro");
}

#define M(name, body) static void name(struct pnb_node *n) { body; }
M(act_tanh, n->iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_TANH)
M(deg0, n->iattr[PNB_IA_POLYFFN_DEGREE] = 0)
M(deg_big, n->iattr[PNB_IA_POLYFFN_DEGREE] = PNB_POLY_MAX_DEGREE + 1)
M(deg_odd_even, n->iattr[PNB_IA_POLYFFN_DEGREE] = 11)
M(even_asym, n->fattr[PNB_FA_POLYFFN_A] = -3)
M(range_rev, n->fattr[PNB_FA_POLYFFN_A] = 5; n->fattr[PNB_FA_POLYFFN_B] = -3)
M(gated2, n->iattr[PNB_IA_POLYFFN_GATED] = 2)
M(codebook_no_w5, n->iattr[PNB_IA_POLYFFN_CODEBOOK] = 1)
M(even2, n->iattr[PNB_IA_POLYFFN_EVEN] = 2)
M(vq_mode3, n->iattr[PNB_IA_VQ_MODE] = 3)
M(vq_cache_no_table, n->iattr[PNB_IA_VQ_MODE] = 2)
M(cqa_c0, n->iattr[PNB_IA_CQA_CLUSTERS] = 0)
M(cqa_iters0, n->iattr[PNB_IA_CQA_ITERS] = 0)
M(cqa_topk_neg, n->iattr[PNB_IA_CQA_TOPK] = -1)
M(cqa_heads0, n->iattr[PNB_IA_CQA_HEADS] = 0)
M(macro_topk3, n->iattr[PNB_IA_MACRO_TOPK] = 3)
M(macro_router2, n->iattr[PNB_IA_MACRO_ROUTER] = 2)
M(macro_tau0, n->fattr[PNB_FA_MACRO_TAU] = 0)
M(macro_e0, n->iattr[PNB_IA_MACRO_EXPERTS] = 0)
M(macro_bias_on_centroid, n->w[PNB_W_MACRO_ROUTER_B] = n->w[PNB_W_MACRO_ROUTER])
M(macro_act_none, n->iattr[PNB_IA_MACRO_ACT] = PNB_ACT_NONE)
M(op_polyglu, n->op = PNB_OP_POLYGLU)
M(pffn_deg10, n->iattr[PNB_IA_POLYFFN_DEGREE] = 10)
M(pffn_f32_codes, n->in[0] -= 1)
M(cqa_heads4, n->iattr[PNB_IA_CQA_HEADS] = 4)
M(macro_e2, n->iattr[PNB_IA_MACRO_EXPERTS] = 2)
#undef M

/* Refused by the reader: the writer validates with it and does not write. */
static void test_reader_rejects_bad_attributes(void **state)
{
	static const struct mut muts[] = {
		{ "pffn2", act_tanh, -EINVAL, "poly_ffn base activation 4, expected relu" },
		{ "pffn2", deg0, -EINVAL, "poly_ffn series degree 0, expected 1..128" },
		{ "pffn2", deg_big, -EINVAL, "series degree 129" },
		{ "pffn1", deg_odd_even, -EINVAL, "even series of odd degree 11" },
		{ "pffn1", even_asym, -EINVAL, "expected a symmetric range" },
		{ "pffn2", range_rev, -EINVAL, "series range [5, -3], expected fattr[0] < fattr[1]" },
		{ "pffn2", gated2, -EINVAL, "poly_ffn gated flag 2" },
		{ "pffn2", codebook_no_w5, -EINVAL, "expected w[5] (codebook) exactly in codebook" },
		{ "pffn1", even2, -EINVAL, "even flag 2" },
		{ "vq1", vq_mode3, -EINVAL, "vq mode 3, expected 0 (codes)" },
		{ "vq2", vq_cache_no_table, -EINVAL, "expected w[2] (table) exactly in cache mode" },
		{ "cqa", cqa_c0, -EINVAL, "cqa clusters 0" },
		{ "cqa", cqa_iters0, -EINVAL, "cqa k-means iterations 0, expected 1..64" },
		{ "cqa", cqa_topk_neg, -EINVAL, "cqa top-k -1" },
		{ "cqa", cqa_heads0, -EINVAL, "cqa heads 0" },
		{ "macro", macro_topk3, -EINVAL, "macro top-k 3, expected 1 or 2" },
		{ "macro", macro_router2, -EINVAL, "macro router 2" },
		{ "macro", macro_tau0, -EINVAL, "macro router temperature 0, expected > 0" },
		{ "macro", macro_e0, -EINVAL, "macro experts 0" },
		{ "macro", macro_bias_on_centroid, -EINVAL, "centroid router with a bias" },
		{ "macro", macro_act_none, -EINVAL, "macro base activation 0" },
		{ "cqa", op_polyglu, -ENOTSUP, "op 36 (polyglu) is a PolyNet op this reader does not" },
	};
	static struct fp_weights w;
	struct pn_err err;

	fp_init(&w, 1);
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		int r = fp_write(&w, path, hook, (void *)&muts[i], &err);

		if (r != muts[i].code || !strstr(err.msg, muts[i].msg))
			fail_msg("%s: got %d '%s', expected %d '%s'", muts[i].node, r, err.msg,
				 muts[i].code, muts[i].msg);
		assert_non_null(strstr(err.msg, "nodes["));	/* names the entry */
	}
}

/* Valid for the reader, refused by the graph (shapes, data). */
static void graph_rejects(struct fp_weights *w, const struct mut *m)
{
	struct pn_model *model = NULL;
	struct pn_cpu_model *cm = NULL;
	struct pn_err err;
	int r;

	assert_int_equal(fp_write(w, path, hook, (void *)m, &err), 0);
	r = pn_model_open(path, &model, &err);
	if (!r && (r = pn_cpu_model_new(model, &cm, &err))) {
		assert_null(cm);
		pn_model_close(model);
		model = NULL;
	}
	if (r != m->code || !strstr(err.msg, m->msg) || !strstr(err.msg, m->node))
		fail_msg("%s: got %d '%s', expected %d '%s'", m->node, r, err.msg, m->code, m->msg);
	assert_null(model);
}

static void test_graph_rejects_bad_shapes_and_data(void **state)
{
	static const struct mut muts[] = {
		{ "pffn2", pffn_deg10, -EINVAL, "expected 11 elements, has 10" },
		{ "pffn1", pffn_f32_codes, -EINVAL, "in[0] must be the I32 codes of a VQ node" },
		{ "cqa", cqa_heads4, -EINVAL, "expected 4 columns, has 8" },
		{ "macro", macro_e2, -EINVAL, "expected a matrix of 2 rows" },
	};
	static struct fp_weights w;

	fp_init(&w, 1);
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++)
		graph_rejects(&w, &muts[i]);
}

static void nothing(struct pnb_node *n)
{
}

/*
 * A non-finite weight is refused by the reader itself (every F32 tensor is
 * scanned at open), so the writer's closing validation refuses the file and
 * names the tensor and element; stale VQ norms are data only the graph checks.
 */
static void reader_rejects(struct fp_weights *w, const char *msg)
{
	struct pn_err err;

	assert_int_equal(fp_write(w, path, hook, (void *)&(struct mut){ "", nothing, 0, "" },
				  &err), -EINVAL);
	if (!strstr(err.msg, msg) || !strstr(err.msg, "expected a finite number"))
		fail_msg("got '%s', expected '%s'", err.msg, msg);
}

static void test_graph_rejects_nan_and_stale_norms(void **state)
{
	static struct fp_weights w;

	fp_init(&w, 1);
	w.c2[3] = NAN;
	reader_rejects(&w, "'c2' element 3 is NaN");
	fp_init(&w, 1);
	w.mc[7] = INFINITY;
	reader_rejects(&w, "'mc' element 7 is Inf");
	fp_init(&w, 1);
	w.cb1[5] = NAN;
	reader_rejects(&w, "'cb1' element 5 is NaN");
	fp_init(&w, 1);
	w.n2[3] += 0.5f;
	graph_rejects(&w, &(struct mut){ "vq2", nothing, -EINVAL, "norms: entry 3" });
	fp_init(&w, 1);
	w.planes[0] = -INFINITY;
	reader_rejects(&w, "'planes' element 0 is -Inf");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_the_poly_ops),
		cmocka_unit_test(test_reader_rejects_bad_attributes),
		cmocka_unit_test(test_graph_rejects_bad_shapes_and_data),
		cmocka_unit_test(test_graph_rejects_nan_and_stale_norms),
	};

	return cmocka_run_group_tests_name("pnb_poly", tests, setup, teardown);
}
