// SPDX-License-Identifier: MIT
/*
 * act.c - element-wise activations (enum pnb_act) and residual add.
 *
 * One loop per activation, the switch outside it, so each loop is a
 * plain map the compiler can vectorize. GELU and tanh call libm's erff and
 * tanhf: the model has to match TF.js to 1e-4, and accuracy comes first.
 */
#include <math.h>

#include "cpu/kernels.h"
#include "util/pn_err.h"
#include "uapi/pnb.h"

#define SQRT1_2 0.70710678118654752440f
#define SQRT_2_PI 0.79788456080286535588f	/* sqrt(2/pi), GELU tanh form */

void pn_act(uint32_t act, float *x, size_t n)
{
	size_t i;

	switch (act) {
	case PNB_ACT_NONE:
		break;
	case PNB_ACT_RELU:
		for (i = 0; i < n; i++)
			x[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case PNB_ACT_GELU:
		for (i = 0; i < n; i++)
			x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * SQRT1_2));
		break;
	case PNB_ACT_SILU:
		for (i = 0; i < n; i++)
			x[i] = x[i] / (1.0f + expf(-x[i]));
		break;
	case PNB_ACT_TANH:
		for (i = 0; i < n; i++)
			x[i] = tanhf(x[i]);
		break;
	case PNB_ACT_GELU_TANH:
		for (i = 0; i < n; i++) {
			float v = x[i];

			x[i] = 0.5f * v * (1.0f + tanhf(SQRT_2_PI * (v + 0.044715f * v * v * v)));
		}
		break;
	default:
		/* The .pnb reader rejects unknown activations: reaching here is a bug. */
		PN_ASSERT(act < PNB_ACT_COUNT);
	}
}

void pn_add(const float *a, const float *b, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}
