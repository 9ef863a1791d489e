// SPDX-License-Identifier: MIT
/*
 * test_ops.c - the op table (lib/ops/op.h) and its CPU half
 * (lib/exec/op_cpu.h): every implemented op has a name, named inputs and
 * slots, check, build and a CPU run; and every op with a reference twin
 * runs a tiny random node through run and ref with the same arguments and
 * agrees with it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/kernels.h"
#include "exec/op_cpu.h"
#include "ops/op.h"

#include "test_rand.h"

static void test_table(void **state)
{
	uint32_t n_ops = 0;

	(void)state;
	for (uint32_t op = 0; op < 256; op++) {
		const struct pn_op *d = pn_op_get(op);
		const struct pn_op_cpu *c = pn_op_cpu_get(op);

		if (!d) {
			assert_null(c);
			continue;
		}
		n_ops++;
		assert_int_equal(d->code, op);
		assert_non_null(d->name);
		assert_string_equal(pn_op_name(op), d->name);
		assert_non_null(d->check);
		assert_non_null(d->build);
		assert_true(d->ptx && d->ptx[0]);	/* every op runs from PTX (test_ops_doc: they exist) */
		assert_true(d->n_in >= 1 && d->n_in <= PNB_NODE_MAX_IN);
		assert_true(d->min_w <= d->max_w && d->max_w <= PNB_NODE_MAX_W);
		for (uint32_t k = 0; k < PNB_NODE_MAX_IN; k++)
			assert_true((d->in[k] != NULL) == (k < d->n_in));
		/* every weight slot the op may use is named, and none past it */
		for (uint32_t k = 0; k < PNB_NODE_MAX_W; k++) {
			assert_true((d->w[k].name != NULL) == (k < d->max_w));
			assert_true(!d->w[k].name || d->w[k].meaning);
		}
		assert_int_equal(pn_op_n_slots(d->w, PNB_NODE_MAX_W), d->max_w);
		for (uint32_t k = 0; k < PNB_NODE_MAX_ATTR; k++) {
			assert_true(!d->ia[k].name || (d->ia[k].meaning && d->ia[k].kind != PN_SLOT_FLOAT));
			assert_true(!d->fa[k].name || (d->fa[k].meaning && d->fa[k].kind == PN_SLOT_FLOAT));
		}
		assert_non_null(c);
		assert_int_equal(c->code, op);
		assert_non_null(c->run);
	}
	assert_int_equal(n_ops, 19);
	assert_null(pn_op_get(PNB_OP_POLYGLU));
	assert_string_equal(pn_op_name(PNB_OP_POLYGLU), "polyglu");
	assert_string_equal(pn_op_name(PNB_OP_STD_END), "?");
}

/* A tiny node: D = 8 features, B = 2 sequences of T = 3 tokens (the second 2 long). */
enum { D = 8, FF = 6, B = 2, T = 3, ROWS = B * T, K = 5, V = 11, WN = 1024, SCRATCH = 1 << 16,
       KVLEN = 8 };

struct tiny {
	struct pn_gnode n;
	float w[PNB_NODE_MAX_W][WN];
	float x[ROWS * 3 * D];
	int32_t ids[ROWS];
	uint32_t lens[B];
	float y_run[ROWS * 3 * D], y_ref[ROWS * 3 * D];
	float *scratch;
	/* the decoder ops: positions, a KV cache (slot 0 holds 2 positions
	 * already), RoPE's table, a file header for the context length */
	uint32_t pos0[B], slots[B];
	float cache[2 * 2 * KVLEN * D];
	struct pn_kv kv;
	struct pn_kv_run kr;
	struct pn_cpu_node cn;
	float cs[KVLEN * D];
	struct pnb_header hdr;
	struct pnb_file f;
};

/* Attributes and shapes per op; returns the output floats to compare, 0 to skip. */
static uint32_t setup_node(struct tiny *t, uint32_t op, uint32_t *out_rows_valid)
{
	struct pn_gnode *n = &t->n;

	memset(n, 0, sizeof(*n));
	n->op = op;
	n->n_in = 1;
	n->d_in = n->d_out = D;
	n->ff = FF;
	for (uint32_t k = 0; k < PNB_NODE_MAX_W; k++)
		n->w[k] = t->w[k];
	*out_rows_valid = 0;	/* 1: TOKENS rows past a sequence's length are unspecified */
	switch (op) {
	case PNB_OP_EMBED:
		n->d_in = 1;
		n->iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_LEARNED;
		n->fattr[PNB_FA_EMBED_SCALE] = 1.5f;
		n->w[PNB_W_EMBED_INV_FREQ] = NULL;
		return ROWS * D;
	case PNB_OP_LAYERNORM:
	case PNB_OP_RMSNORM:
		n->fattr[PNB_FA_NORM_EPS] = 1e-5f;
		return ROWS * D;
	case PNB_OP_L2NORM:
		n->fattr[PNB_FA_L2NORM_EPS] = 1e-12f;
		return ROWS * D;
	case PNB_OP_SOFTMAX:
		return ROWS * D;
	case PNB_OP_LINEAR:
		n->d_out = 5;
		n->iattr[PNB_IA_LINEAR_ACT] = PNB_ACT_GELU;
		return ROWS * 5;
	case PNB_OP_FFN:
		n->iattr[PNB_IA_FFN_ACT] = PNB_ACT_SILU;
		n->iattr[PNB_IA_FFN_GATED] = 1;
		return ROWS * D;
	case PNB_OP_ATTENTION:
		n->d_in = 3 * D;
		n->heads = 2;
		n->iattr[PNB_IA_ATTN_HEADS] = 2;
		n->fattr[PNB_FA_ATTN_SCALE] = 0.5f;
		*out_rows_valid = 1;
		return ROWS * D;
	case PNB_OP_POOL_MEAN:
		return B * D;
	case PNB_OP_ROPE:	/* one head of 4 turned, 4 columns copied */
		n->heads = 1;
		n->iattr[PNB_IA_ROPE_HEADS] = 1;
		n->iattr[PNB_IA_ROPE_HS] = 4;
		n->fattr[PNB_FA_ROPE_THETA] = 10000.0f;
		pn_rope_table(t->cs, KVLEN, 4, 10000.0f);
		t->cn.pos_table = t->cs;
		return ROWS * D;
	case PNB_OP_ATTN_CACHE:	/* 2 query heads of 4 share 1 KV head */
		n->heads = 2;
		n->d_in = 16;
		n->iattr[PNB_IA_KV_HEADS] = 2;
		n->iattr[PNB_IA_KV_KV_HEADS] = 1;
		n->fattr[PNB_FA_KV_SCALE] = 0.5f;
		return ROWS * D;
	case PNB_OP_LOGITS:
		n->d_out = V;
		n->iattr[PNB_IA_LOGITS_LAST] = 1;
		return B * V;
	case PNB_OP_POLY_FFN:
		n->iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_GELU;
		n->iattr[PNB_IA_POLYFFN_DEGREE] = 6;
		n->fattr[PNB_FA_POLYFFN_A] = -3.0f;
		n->fattr[PNB_FA_POLYFFN_B] = 3.0f;
		n->w[PNB_W_POLYFFN_CODEBOOK] = NULL;
		return ROWS * D;
	case PNB_OP_VQ:	/* quantize: the nearest of K rows, norms derived as build requires */
		n->ff = K;
		n->iattr[PNB_IA_VQ_MODE] = 1;
		for (uint32_t k = 0; k < K; k++) {
			double s = 0;

			for (uint32_t i = 0; i < D; i++)
				s += (double)t->w[PNB_W_VQ_CODEBOOK][k * D + i] *
				     t->w[PNB_W_VQ_CODEBOOK][k * D + i];
			t->w[PNB_W_VQ_NORMS][k] = (float)s;
		}
		return ROWS * D;
	}
	return 0;
}

static void run_one(const struct pn_op_cpu *c, void (*fn)(const struct pn_op_run *),
		    struct tiny *t, float *y)
{
	struct pn_op_run r = {
		.n = &t->n, .ids = t->ids, .lens = t->lens, .B = B, .T = T,
		.rows = ROWS, .y = y, .scratch = t->scratch, .f = &t->f, .cn = &t->cn,
		.kv = &t->kr,
	};

	(void)c;
	r.in[0] = t->n.op == PNB_OP_EMBED ? NULL : t->x;
	r.in_layout[0] = PNB_LAYOUT_TOKENS;
	memset(y, 0, sizeof(t->y_run));
	fn(&r);
}

/*
 * Tolerance: |run - ref| <= 1e-4 * (1 + |ref|). The kernels and their twins
 * compute the same formulas in float with different summation orders
 * (oneDNN's blocked GEMM, vectorised exp/erf against plain loops): on
 * these sizes (sums of at most 3D = 24 products of values in [-1, 1]) that
 * differs by a few ulp, about 1e-6; 1e-4 leaves two orders of margin and
 * still catches any wrong slot, index or formula, which errs by O(1).
 */
static void test_run_matches_ref(void **state)
{
	struct tiny *t = calloc(1, sizeof(*t));
	uint32_t tested = 0;

	(void)state;
	assert_non_null(t);
	t->scratch = calloc(SCRATCH, sizeof(float));
	assert_non_null(t->scratch);
	for (uint32_t op = 0; op <= PN_OP_MAX; op++) {
		const struct pn_op_cpu *c = pn_op_cpu_get(op);
		uint32_t n_out, valid_only;

		if (!c || !c->ref)
			continue;
		for (uint32_t k = 0; k < PNB_NODE_MAX_W; k++)
			for (uint32_t i = 0; i < WN; i++)
				t->w[k][i] = frand();
		for (uint32_t i = 0; i < ROWS * 3 * D; i++)
			t->x[i] = 2 * frand();
		for (uint32_t i = 0; i < ROWS; i++)
			t->ids[i] = (int32_t)((frand() + 1) * 0.5f * V) % V;
		t->lens[0] = T;
		t->lens[1] = T - 1;
		memset(&t->cn, 0, sizeof(t->cn));
		for (uint32_t i = 0; i < 2 * 2 * KVLEN * D; i++)
			t->cache[i] = frand();
		t->hdr.max_tokens = KVLEN;
		t->f.hdr = &t->hdr;
		t->kv = (struct pn_kv){ .base = t->cache, .slot_stride = 2 * KVLEN * 4,
					.layer_stride = 0, .n_slots = 2, .layers = 1,
					.len = KVLEN, .width = 4 };
		t->pos0[0] = 2, t->pos0[1] = 0;
		t->slots[0] = 0, t->slots[1] = 1;
		t->kr = (struct pn_kv_run){ .kv = &t->kv, .slots = t->slots, .pos0 = t->pos0 };
		n_out = setup_node(t, op, &valid_only);
		if (!n_out)
			fail_msg("op %s has a ref twin but no tiny node in this test", pn_op_name(op));
		if (c->scratch)
			assert_true(c->scratch(&t->f, &t->n, ROWS, T, 1) <= SCRATCH);
		run_one(c, c->run, t, t->y_run);
		run_one(c, c->ref, t, t->y_ref);
		for (uint32_t i = 0; i < n_out; i++) {
			uint32_t row = i / t->n.d_out;

			if (valid_only && row % T >= t->lens[row / T])
				continue;
			if (!(fabsf(t->y_run[i] - t->y_ref[i]) <= 1e-4f * (1 + fabsf(t->y_ref[i]))))
				fail_msg("%s: output %u: run %g, ref %g", pn_op_name(op), i,
					 t->y_run[i], t->y_ref[i]);
		}
		tested++;
	}
	assert_true(tested >= 10);
	free(t->scratch);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_run_matches_ref),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
