// SPDX-License-Identifier: MIT
/*
 * test_rewrite: the rewriter (lib/compile/rewrite.c). A round trip with no
 * substitution computes bit-identical outputs; a substitution (an FFN
 * replaced by an identical FFN node under a new name, plus an unused added
 * tensor) keeps the outputs and drops what nothing reads; the FFN-site
 * finder sees the fixture's two FFNs; the exec tap sees every node's value.
 */
#include <errno.h>
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

enum { B = 3, T = 7 };

static void run_model(const char *path, float *out, uint32_t *n_nodes)
{
	static const int32_t ids[B * T] = { 1, 5, 9, 2, 3, 0, 0, 7, 7, 7, 1, 2, 3, 4,
					    30, 31, 32, 33, 34, 35, 36 };
	static const uint32_t lens[B] = { 5, 7, 7 };
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_exec *x;
	struct pn_err err;

	assert_int_equal(pn_model_open(path, &m, &err), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, &err), 0);
	assert_int_equal(pn_exec_new(cm, B, T, NULL, &x, &err), 0);
	assert_int_equal(pn_exec_run(x, ids, lens, B, T, out, &err), 0);
	*n_nodes = m->file.n_nodes;
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
}

struct paths {
	char in[64], out[64];
};

static int setup(void **state)
{
	static struct paths p;
	struct fx_weights *w = malloc(sizeof(*w));
	struct pn_err err;

	snprintf(p.in, sizeof(p.in), "/tmp/test_rewrite_in_%d.pnb", getpid());
	snprintf(p.out, sizeof(p.out), "/tmp/test_rewrite_out_%d.pnb", getpid());
	fx_init(w, 77);
	if (fx_write(w, p.in, &err))
		return -1;
	free(w);
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct paths *p = *state;

	unlink(p->in);
	unlink(p->out);
	return 0;
}

static void round_trip_identical(void **state)
{
	struct paths *p = *state;
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_err err;
	float a[B * FX_D], b[B * FX_D];
	uint32_t na, nb, nn;

	assert_int_equal(pnb_open(p->in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	assert_int_equal(pn_rw_finish(rw, p->out, &nn, NULL, &err), 0);
	assert_int_equal(nn, f.n_nodes);
	pn_rw_free(rw);
	pnb_close(&f);
	run_model(p->in, a, &na);
	run_model(p->out, b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, sizeof(a));	/* same nodes, same weights: same bits */
}

static void substitution_and_dead_code(void **state)
{
	struct paths *p = *state;
	struct pn_ffn_site s[8];
	struct pnb_file f, g;
	struct pn_rw *rw;
	struct pn_err err;
	struct pnb_node n;
	float a[B * FX_D], b[B * FX_D], junk[4] = { 1, 2, 3, 4 };
	uint64_t sh[1] = { 4 };
	uint32_t na, nb, ns, i;

	assert_int_equal(pnb_open(p->in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	ns = pn_ffn_sites(rw, s, 8);
	assert_int_equal(ns, 2);
	assert_int_equal(s[0].layer, 0);
	assert_int_equal(s[1].layer, 1);
	assert_int_equal(s[1].ff, FX_FF);
	i = pn_rw_find_node(rw, "l1.ffn");
	assert_int_not_equal(i, PNB_NONE);
	n = *pn_rw_node(rw, i);
	assert_int_not_equal(pn_rw_tensor(rw, "unused", 1, sh, junk), PNB_NONE);
	assert_int_equal(pn_ffn_site_replace(rw, &s[1], &n, "l1.ffn.copy", &err), 0);
	assert_int_equal(pn_rw_find_node(rw, "l1.ffn"), PNB_NONE);
	assert_int_not_equal(pn_rw_find_node(rw, "l1.ffn.copy"), PNB_NONE);
	assert_int_equal(pn_rw_finish(rw, p->out, NULL, NULL, &err), 0);
	pn_rw_free(rw);
	assert_int_equal(pnb_open(p->out, &g, &err), 0);
	assert_int_equal(pnb_find_tensor(&g, "unused"), PNB_NONE);	/* dead: dropped */
	assert_int_equal(g.n_tensors, f.n_tensors);
	pnb_close(&g);
	pnb_close(&f);
	run_model(p->in, a, &na);
	run_model(p->out, b, &nb);
	assert_memory_equal(a, b, sizeof(a));
}

static void deleting_the_output_producer_fails_cleanly(void **state)
{
	struct paths *p = *state;
	struct pnb_file f;
	struct pn_rw *rw;
	struct pn_err err;

	assert_int_equal(pnb_open(p->in, &f, &err), 0);
	assert_int_equal(pn_rw_new(&f, &rw, &err), 0);
	/* No node writes the output any more: the reader must refuse what we wrote. */
	assert_int_equal(pn_rw_replace(rw, pn_rw_n_nodes(rw) - 1, NULL, NULL, 0), 0);
	assert_int_not_equal(pn_rw_finish(rw, p->out, NULL, NULL, &err), 0);
	assert_true(strlen(err.msg) > 0);
	pn_rw_free(rw);
	pnb_close(&f);
}

struct tap_count {
	uint32_t calls, last_value;
};

static void count_tap(void *arg, uint32_t value, const float *data, uint32_t rows,
		      uint32_t width, uint32_t batch, uint32_t t, const uint32_t *lens)
{
	struct tap_count *c = arg;

	c->calls++;
	c->last_value = value;
	assert_non_null(data);
	assert_true(rows == batch || rows == batch * t);
	assert_true(width >= 1);
	assert_non_null(lens);
}

static void tap_sees_every_node(void **state)
{
	static const int32_t ids[2] = { 3, 4 };
	static const uint32_t lens[1] = { 2 };
	struct paths *p = *state;
	struct tap_count c = { 0 };
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_exec *x;
	float out[FX_D];

	assert_int_equal(pn_model_open(p->in, &m, NULL), 0);
	assert_int_equal(pn_cpu_model_new(m, &cm, NULL), 0);
	assert_int_equal(pn_exec_new(cm, 1, 2, NULL, &x, NULL), 0);
	pn_exec_set_tap(x, count_tap, &c);
	assert_int_equal(pn_exec_run(x, ids, lens, 1, 2, out, NULL), 0);
	assert_int_equal(c.calls, m->file.n_nodes);
	assert_int_equal(c.last_value, m->file.hdr->output);
	pn_exec_set_tap(x, NULL, NULL);
	assert_int_equal(pn_exec_run(x, ids, lens, 1, 2, out, NULL), 0);
	assert_int_equal(c.calls, m->file.n_nodes);
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_identical),
		cmocka_unit_test(substitution_and_dead_code),
		cmocka_unit_test(deleting_the_output_producer_fails_cleanly),
		cmocka_unit_test(tap_sees_every_node),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
