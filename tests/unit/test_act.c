// SPDX-License-Identifier: MIT
/*
 * test_act.c - pn_act / pn_add against pn_ref_act1, and pn_ref_act1 itself
 * against closed-form values, so the reference is anchored too.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "cpu/kernels.h"
#include "uapi/pnb.h"

/* Values to 7+ digits from the definitions (Python math.erf/tanh/exp). */
static void test_ref_closed_form(void **state)
{
	static const struct { uint32_t act; float x, y; } known[] = {
		{ PNB_ACT_NONE, -1.5f, -1.5f },
		{ PNB_ACT_RELU, -2.0f, 0.0f },
		{ PNB_ACT_RELU, 3.0f, 3.0f },
		{ PNB_ACT_GELU, 1.0f, 0.8413447461f },
		{ PNB_ACT_GELU, -1.0f, -0.1586552539f },
		{ PNB_ACT_GELU, 3.0f, 2.9959503059f },
		{ PNB_ACT_SILU, 1.0f, 0.7310585786f },
		{ PNB_ACT_SILU, -1.0f, -0.2689414214f },
		{ PNB_ACT_TANH, 0.5f, 0.4621171573f },
		{ PNB_ACT_GELU_TANH, 1.0f, 0.8411919906f },
		{ PNB_ACT_GELU_TANH, -1.0f, -0.1588080094f },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		float y = pn_ref_act1(known[i].act, known[i].x);

		/* The reference is double math rounded once: within 1 float ulp. */
		if (!(fabsf(y - known[i].y) <= 1.2e-7f * fmaxf(1.0f, fabsf(known[i].y))))
			fail_msg("act %u (%g) = %.9g, want %.9g", known[i].act, known[i].x, y,
				 known[i].y);
	}
}

/*
 * Tolerance: libm's erff/expf/tanhf are within ~2 ulp, and the formulas
 * add a few roundings: 1e-6 relative. Near the lower asymptotes GELU is
 * x * (1 + erf) with 1 + erf cancelling, so the float result is off by up
 * to |x| * eps / 2 absolute: 1e-6 absolute covers it for |x| <= 10. The
 * model's own bar is 1e-4.
 */
static void test_act_vs_ref(void **state)
{
	enum { N = 4001 };
	static float x[N + 8], y[N + 8];
	static const float extremes[8] = { 0.0f, -0.0f, 1e-30f, -1e-30f, 80.0f, -80.0f, 100.0f,
					   -100.0f };

	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++) {
		for (int i = 0; i < N; i++)
			x[i] = -10.0f + 20.0f * i / (N - 1);
		for (int i = 0; i < 8; i++)
			x[N + i] = extremes[i];
		for (int i = 0; i < N + 8; i++)
			y[i] = x[i];
		pn_act(act, y, N + 8);
		for (int i = 0; i < N + 8; i++) {
			float want = pn_ref_act1(act, x[i]);

			if (!(fabsf(y[i] - want) <= 1e-6f + 1e-6f * fabsf(want)))
				fail_msg("act %u (%.9g) = %.9g, ref %.9g", act, x[i], y[i], want);
		}
	}
}

static void test_act_empty(void **state)
{
	float x = 5.0f;

	for (uint32_t act = 0; act < PNB_ACT_COUNT; act++)
		pn_act(act, &x, 0);
	assert_true(x == 5.0f);
}

/* Exact: one float addition, same as the definition. Also in place. */
static void test_add(void **state)
{
	float a[37], b[37], y[37];

	for (int i = 0; i < 37; i++) {
		a[i] = i * 0.37f - 3.0f;
		b[i] = 1.0f / (i + 1);
	}
	pn_add(a, b, y, 37);
	for (int i = 0; i < 37; i++)
		assert_true(y[i] == a[i] + b[i]);
	pn_add(a, b, a, 37);
	for (int i = 0; i < 37; i++)
		assert_true(a[i] == y[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_closed_form),
		cmocka_unit_test(test_act_vs_ref),
		cmocka_unit_test(test_act_empty),
		cmocka_unit_test(test_add),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
