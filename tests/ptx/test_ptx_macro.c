// SPDX-License-Identifier: MIT
/*
 * test_ptx_macro: kernels/ptx/macro.ptx (macro_route) run in the PTX
 * interpreter against the routing of its CPU twin pn_macro and of the plain
 * twin pn_ref_macro: E 1, 2, 7, 40 (two experts per lane), centroid and
 * linear routers (bias or not), top-1 and top-2, duplicated experts (exact
 * ties) and a NaN row.
 *
 * The twins do not expose their routing, so it is read from their output:
 * with W1 = 0 and all-zero series coefficients every expert's hidden layer
 * is series(0) = 0, its output is its bias b2_e, and b2_e is the one-hot
 * row of column e (D >= E): out[r, e] - x[r, e] is then the gate the twin
 * gave expert e (0 when not picked).
 *
 * What is asserted and why: the scores are D-term float dot products in
 * another order than the twin's GEMM, so a near tie may go either way.
 *  - a kernel gate differing from a twin's must come from a near tie
 *    across the kernel's pick boundary (e picked and e' not, or the
 *    reverse, exact scores within 2 sb: the pick sets may differ there),
 *    sb = 2 D 2^-24 max_e (2 sum_i |x_i w_ie| + ||c_e||^2 + |bias_e|), a
 *    bound on the float rounding of one score;
 *  - exact ties (an expert duplicated bit for bit: the kernel computes the
 *    same score twice) go to the lower index: the first pick is never a
 *    copy of a lower expert, the second never a copy of a lower one other
 *    than the first pick;
 *  - gates within 4.2e-7 (the interpreter's ex2.approx bound, 2^-22.5
 *    absolute + 2^-22 relative, through g = 1 / (1 + e), dg <= de) +
 *    sb / (2 temperature) (a score error moves g by at most |ds| / (4 tau),
 *    two scores) + 2.4e-7 (reading the twin's gate back as out - x, |x| <=
 *    1); gate rows must sum to 1 to float rounding.
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

#include <cmocka.h>

#include "cpu/poly.h"
#include "tests/ptx/ptxi.h"
#include "tests/ptx/ptx_suite.h"
#include "uapi/pnb.h"

#define PTX_FILE "kernels/ptx/macro.ptx"

static int setup(void **state)
{
	return ptx_suite_setup_module(state, PTX_FILE);
}

struct rcase {
	uint32_t rows, D, E, router, topk, warps, bias, dup;
	int nan_row;		/* -1: none */
	float temperature;
};

static void run_route(struct ptx_suite *f, const struct rcase *c, const float *x, const float *w,
		      const float *b, uint32_t *pick, float *gate)
{
	struct ptxi_dev *d = ptxi_dev_new();
	size_t nw = (size_t)c->E * c->D, rk = (size_t)c->rows * c->topk;
	uint64_t a_x, a_w, a_b = 0, a_pick, a_gate;

	assert_non_null(d);
	a_x = ptxi_alloc(d, (size_t)c->rows * c->D * sizeof(float));
	a_w = ptxi_alloc(d, nw * sizeof(float));
	if (b)
		a_b = ptxi_alloc(d, c->E * sizeof(float));
	a_pick = ptxi_alloc(d, rk * sizeof(uint32_t));
	a_gate = ptxi_alloc(d, rk * sizeof(float));
	assert_true(a_x && a_w && (!b || a_b) && a_pick && a_gate);
	assert_int_equal(ptxi_write(d, a_x, x, (size_t)c->rows * c->D * sizeof(float)), 0);
	assert_int_equal(ptxi_write(d, a_w, w, nw * sizeof(float)), 0);
	if (b)
		assert_int_equal(ptxi_write(d, a_b, b, c->E * sizeof(float)), 0);

	void *params[] = { &a_x, (void *)&c->rows, (void *)&c->D, &a_w, &a_b, (void *)&c->E,
			   (void *)&c->router, (void *)&c->topk, (void *)&c->temperature,
			   &a_pick, &a_gate };
	struct ptxi_launch l = {
		.grid = { (c->rows + c->warps - 1) / c->warps, 1, 1 },
		.block = { 32 * c->warps, 1, 1 }, .params = params, .n_params = 11,
	};

	ptx_launch_on(f->m, d, "macro_route", &l);
	ptx_download(d, a_pick, pick, rk * sizeof(uint32_t));
	ptx_download(d, a_gate, gate, rk * sizeof(float));
	ptxi_dev_free(d);
}

/* Expert e's weights as a vector over i (a centroid row, or column e of Wg). */
static float wv(const struct rcase *c, const float *w, uint32_t e, uint32_t i)
{
	return c->router ? w[(size_t)i * c->E + e] : w[(size_t)e * c->D + i];
}

static double score_exact(const struct rcase *c, const float *x, const float *w, const float *b,
			  uint32_t e)
{
	double s = b ? b[e] : 0;

	for (uint32_t i = 0; i < c->D; i++)
		s += c->router ? (double)x[i] * wv(c, w, e, i)
			       : 2.0 * x[i] * wv(c, w, e, i) - (double)wv(c, w, e, i) * wv(c, w, e, i);
	return s;
}

static int same_expert(const struct rcase *c, const float *w, const float *b, uint32_t e1,
		       uint32_t e2)
{
	for (uint32_t i = 0; i < c->D; i++)
		if (wv(c, w, e1, i) != wv(c, w, e2, i))
			return 0;
	return !b || b[e1] == b[e2];
}

/* The twins' gates [rows, E] read back from their outputs (see the header). */
static void twin_gates(const struct rcase *c, const float *x, const float *w, const float *b,
		       float *tg, float *rg)
{
	uint32_t E = c->E, D = c->D, rows = c->rows;
	float *W1 = calloc((size_t)E * D, sizeof(float)), *W2 = calloc(E, (size_t)D * sizeof(float));
	float *b2 = calloc((size_t)E * D, sizeof(float)), *coefs = calloc((size_t)E * 2, sizeof(float));
	float *out = malloc((size_t)rows * D * sizeof(float));
	float *ref = malloc((size_t)rows * D * sizeof(float));
	struct pn_macro m = {
		.E = E, .rank = 1, .router = c->router, .topk = c->topk,
		.temperature = c->temperature, .router_w = w, .router_b = b, .W1 = W1,
		.coefs = coefs, .W2 = W2, .b2 = b2,
		.cheb = { .degree = 1, .act = PNB_ACT_GELU, .even = 0, .a = -1.0f, .b = 1.0f },
	};
	float *scr;

	assert_true(W1 && W2 && b2 && coefs && out && ref);
	for (uint32_t e = 0; e < E; e++)
		b2[(size_t)e * D + e] = 1.0f;
	scr = malloc(pn_macro_scratch(rows, D, &m) * sizeof(float) + 1);
	assert_non_null(scr);
	pn_macro(NULL, x, rows, D, &m, out, scr);
	pn_ref_macro(x, rows, D, &m, ref);
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t e = 0; e < E; e++) {
			size_t i = (size_t)r * D + e;

			tg[(size_t)r * E + e] = out[i] - x[i];
			rg[(size_t)r * E + e] = ref[i] - x[i];
		}
	free(W1);
	free(W2);
	free(b2);
	free(coefs);
	free(out);
	free(ref);
	free(scr);
}

static int is_pick(const uint32_t *pick, uint32_t topk, uint32_t e)
{
	return pick[0] == e || (topk == 2 && pick[1] == e);
}

/* The kernel's gates of row r (picks pick, gates gate) against a twin's gates g [E]. */
static void check_against(const struct rcase *c, const float *x, const float *w, const float *b,
			  uint32_t r, const uint32_t *pick, const float *gate, const float *g,
			  double sb, const char *who)
{
	double tol_g = 4.2e-7 + sb / (2 * c->temperature) + 2.4e-7;

	for (uint32_t e = 0; e < c->E; e++) {
		double mine = 0;

		for (uint32_t t = 0; t < c->topk; t++)
			if (pick[t] == e)
				mine += gate[t];
		if (fabs(mine - g[e]) <= tol_g)
			continue;
		/*
		 * A differing gate is only right where the pick sets may differ:
		 * a near tie between e and an expert on the other side of the
		 * kernel's pick boundary.
		 */
		int near = 0, e_in = is_pick(pick, c->topk, e);

		for (uint32_t o = 0; o < c->E; o++)
			if (o != e && is_pick(pick, c->topk, o) != e_in)
				near |= fabs(score_exact(c, x, w, b, o) - score_exact(c, x, w, b, e)) <=
					2 * sb;
		if (!near)
			fail_msg("E %u router %u topk %u row %u expert %u: kernel gate %.7g, %s %.7g "
				 "(tol %.2g), picks %u %u", c->E, c->router, c->topk, r, e, mine, who,
				 g[e], tol_g, pick[0], c->topk > 1 ? pick[1] : 0);
	}
}

static void check(struct ptx_suite *f, const struct rcase *c, uint32_t seed)
{
	size_t rk = (size_t)c->rows * c->topk, nw = (size_t)c->E * c->D;
	float *x = malloc((size_t)c->rows * c->D * sizeof(float)), *w = malloc(nw * sizeof(float));
	float *b = c->bias ? malloc(c->E * sizeof(float)) : NULL;
	float *gate = malloc(rk * sizeof(float));
	float *tg = malloc((size_t)c->rows * c->E * sizeof(float));
	float *rg = malloc((size_t)c->rows * c->E * sizeof(float));
	uint32_t *pick = malloc(rk * sizeof(uint32_t));

	assert_true(x && w && (!c->bias || b) && gate && tg && rg && pick);
	for (size_t i = 0; i < (size_t)c->rows * c->D; i++)
		x[i] = ptx_unit32(&seed);
	for (size_t i = 0; i < nw; i++)
		w[i] = ptx_unit32(&seed);
	for (uint32_t e = 0; b && e < c->E; e++)
		b[e] = ptx_unit32(&seed);
	for (uint32_t e = c->E - c->dup; e < c->E; e++)	/* copies of the first experts */
		for (uint32_t i = 0; i < c->D; i++) {
			uint32_t src = e - (c->E - c->dup);

			if (c->router)
				w[(size_t)i * c->E + e] = w[(size_t)i * c->E + src];
			else
				w[(size_t)e * c->D + i] = w[(size_t)src * c->D + i];
			if (b)
				b[e] = b[src];
		}
	if (c->dup && c->rows > 1)	/* a row right on expert 0, whose copy then ties it */
		for (uint32_t i = 0; i < c->D; i++)
			x[c->D + i] = wv(c, w, 0, i);
	if (c->nan_row >= 0)
		x[(size_t)c->nan_row * c->D] = NAN;
	run_route(f, c, x, w, b, pick, gate);
	twin_gates(c, x, w, b, tg, rg);

	for (uint32_t r = 0; r < c->rows; r++) {
		const float *xr = x + (size_t)r * c->D;
		const uint32_t *pr = pick + (size_t)r * c->topk;
		const float *gr = gate + (size_t)r * c->topk;
		double sb = 0;

		if ((int)r == c->nan_row) {	/* the twin's scans keep their first candidates */
			assert_int_equal(pr[0], 0);
			if (c->topk == 2)
				assert_int_equal(pr[1], 1);
			continue;
		}
		for (uint32_t t = 0; t < c->topk; t++)
			assert_true(pr[t] < c->E);
		if (c->topk == 2) {
			assert_true(pr[0] != pr[1]);
			assert_true(fabs(gr[0] + gr[1] - 1.0) <= 1.2e-7);
			assert_true(gr[0] >= 0.5f - 4.2e-7f);	/* the first pick scores higher */
		} else {
			assert_true(gr[0] == 1.0f);
		}
		for (uint32_t e = 0; e < c->E; e++) {
			double s = b ? fabs(b[e]) : 0;

			for (uint32_t i = 0; i < c->D; i++)
				s += 2 * fabs((double)xr[i] * wv(c, w, e, i)) +
				     (c->router ? 0 : (double)wv(c, w, e, i) * wv(c, w, e, i));
			sb = s > sb ? s : sb;
		}
		sb = 2.0 * c->D * ldexp(sb, -24);
		for (uint32_t e = 0; e < pr[0]; e++)
			if (same_expert(c, w, b, e, pr[0]))
				fail_msg("row %u: first pick %u copies %u: ties go low", r, pr[0], e);
		for (uint32_t e = 0; c->topk == 2 && e < pr[1]; e++)
			if (e != pr[0] && same_expert(c, w, b, e, pr[1]))
				fail_msg("row %u: second pick %u copies %u: ties go low", r, pr[1], e);
		check_against(c, x, w, b, r, pr, gr, tg + (size_t)r * c->E, sb, "twin");
		check_against(c, x, w, b, r, pr, gr, rg + (size_t)r * c->E, sb, "reference");
	}
	free(x);
	free(w);
	free(b);
	free(gate);
	free(tg);
	free(rg);
	free(pick);
}

/* E 1, 2, 7, 40 x both routers x top-1, top-2 (E >= 2), ragged rows and blocks. */
static void test_routes(void **state)
{
	static const uint32_t Es[] = { 1, 2, 7, 40 };
	uint32_t seed = 13;

	for (size_t i = 0; i < sizeof(Es) / sizeof(*Es); i++)
		for (uint32_t router = 0; router < 2; router++)
			for (uint32_t topk = 1; topk <= 2; topk++) {
				struct rcase c = { .rows = 9 + (uint32_t)i * 7, .D = 48, .E = Es[i],
						   .router = router, .topk = topk,
						   .warps = 1 + (uint32_t)i % 4, .bias = router && i % 2,
						   .nan_row = -1, .temperature = i % 2 ? 0.5f : 2.0f };

				if (topk > Es[i])
					continue;
				check(*state, &c, seed++);
			}
}

/* Duplicated experts (exact ties, across lanes too) and a NaN row. */
static void test_ties_and_nan(void **state)
{
	uint32_t seed = 29;

	for (uint32_t router = 0; router < 2; router++)
		for (uint32_t topk = 1; topk <= 2; topk++) {
			struct rcase c = { .rows = 12, .D = 40, .E = 40, .router = router,
					   .topk = topk, .warps = 4, .bias = router, .dup = 20,
					   .nan_row = 5, .temperature = 1.0f };

			check(*state, &c, seed++);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_ties_and_nan),
	};

	return cmocka_run_group_tests(tests, setup, ptx_suite_teardown);
}
