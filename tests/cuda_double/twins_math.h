/* SPDX-License-Identifier: MIT */
/*
 * twins_math.h - the few formulas the CPU twins share, in one place: the
 * activations of enum pnb_act in the two forms the kernels compute them
 * (elementwise.ptx / glu.ptx follow lib/cpu/act.c's 0.5 x (1 + erf) and
 * 0.5 v (1 + tanh) forms, unknown values copy; gemm_f32.ptx's epilogue uses
 * the cancellation-free v Phi(v) and v sigmoid(2u) forms, unknown values
 * fall into its SiLU branch), and lib/cpu/attention.c's exp_nonpos, whose
 * bits softmax_f32 reproduces. libm (erff, erfcf, expf, tanhf) stands in
 * for the kernels' FMA polynomials: both are within a few 1e-7, far inside
 * the 1e-4 the kernels are held to.
 */
#ifndef CUD_TWINS_MATH_H
#define CUD_TWINS_MATH_H

#include <math.h>
#include <stdint.h>

#include "uapi/pnb.h"

#define TW_SQRT1_2 0.70710678118654752440f
#define TW_SQRT_2_PI 0.79788456080286535588f	/* sqrt(2/pi) */

/* act_f32 / glu_f32: lib/cpu/act.c's forms; values outside enum pnb_act copy. */
static inline float tw_act_elem(uint32_t act, float x)
{
	switch (act) {
	case PNB_ACT_RELU:
		return x > 0.0f ? x : 0.0f;	/* NaN and -0 give +0 */
	case PNB_ACT_GELU:
		return 0.5f * x * (1.0f + erff(x * TW_SQRT1_2));
	case PNB_ACT_SILU:
		return x / (1.0f + expf(-x));
	case PNB_ACT_TANH:
		return tanhf(x);
	case PNB_ACT_GELU_TANH:
		return 0.5f * x * (1.0f + tanhf(TW_SQRT_2_PI * (x + 0.044715f * x * x * x)));
	default:
		return x;
	}
}

/* gemm_f32 / gemm_bf16 epilogue: 0 none, 1 relu, 2 gelu, 4 tanh, 5 gelu tanh, any other SiLU. */
static inline float tw_act_gemm(uint32_t act, float v)
{
	float z, e;

	switch (act) {
	case PNB_ACT_NONE:
		return v;
	case PNB_ACT_RELU:
		return v > 0.0f ? v : 0.0f;	/* max.f32(NaN, 0) = 0 */
	case PNB_ACT_GELU:
		/* v Phi(v) through erfc: no cancellation for v < 0 */
		z = fabsf(v) * TW_SQRT1_2;
		e = erfcf(z);
		return v < 0.0f ? 0.5f * v * e : v * (1.0f - 0.5f * e);
	case PNB_ACT_TANH:
		return tanhf(v);
	case PNB_ACT_GELU_TANH:
		/* 0.5 v (1 + tanh u) = v / (1 + exp(-2u)) */
		z = 2.0f * TW_SQRT_2_PI * (v + 0.044715f * v * v * v);
		return v / (1.0f + expf(-z));
	default:
		return v / (1.0f + expf(-v));
	}
}

/* lib/cpu/attention.c's exp(x) for x <= 0 (0 below -87), operation for operation. */
static inline float tw_exp_nonpos(float x)
{
	const float log2e = 1.44269504088896341f;
	const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723212e-6f;
	const float round = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float xc = x < -87.0f ? -87.0f : x;
	float n = (xc * log2e + round) - round;
	float r = fmaf(-n, ln2_lo, fmaf(-n, ln2_hi, xc));
	float p = 1.0f / 5040;
	union { float f; uint32_t u; } s;

	if (x != x)	/* NaN: never cast to int below */
		return x;
	p = fmaf(p, r, 1.0f / 720);
	p = fmaf(p, r, 1.0f / 120);
	p = fmaf(p, r, 1.0f / 24);
	p = fmaf(p, r, 1.0f / 6);
	p = fmaf(p, r, 0.5f);
	p = fmaf(p, r, 1.0f);
	p = fmaf(p, r, 1.0f);
	s.u = (uint32_t)((int32_t)n + 127) << 23;
	return x < -87.0f ? 0.0f : p * s.f;
}

/*
 * The Chebyshev series of cheb.ptx (and polyffn_codes.ptx, macro_experts.ptx)
 * op for op, fmaf where they fma.rn: bit-identical. c[0..m], m = ncoef - 1;
 * sc = 2/(b-a), sh = -(a+b)/(b-a) from tw_cheb_scale.
 */
struct tw_cheb {
	const float *c;
	uint32_t m;
	int even;
	float a, b, sc, sh;
};

static inline void tw_cheb_init(struct tw_cheb *s, const float *c, uint32_t degree, int even,
				float a, float b)
{
	float w = b - a;

	s->c = c;
	s->m = even ? degree / 2 : degree;
	s->even = even;
	s->a = a;
	s->b = b;
	s->sc = 2.0f / w;
	s->sh = -(a + b) / w;
}

static inline float tw_cheb_eval(const struct tw_cheb *s, float v)
{
	float t = fmaf(v, s->sc, s->sh), u, u2, b1 = 0.0f, b2 = 0.0f, r;
	uint32_t k = s->m;

	if (t == t)	/* min/max, but a NaN t goes through (the kernel's setp.nan) */
		t = t > 1.0f ? 1.0f : t < -1.0f ? -1.0f : t;
	u = s->even ? fmaf(t + t, t, -1.0f) : t;
	u2 = u + u;
	for (; k >= 2; k -= 2) {
		b2 = fmaf(u2, b1, s->c[k] - b2);
		b1 = fmaf(u2, b2, s->c[k - 1] - b1);
	}
	if (k == 1) {
		float n = fmaf(u2, b1, s->c[1] - b2);

		b2 = b1;
		b1 = n;
	}
	r = fmaf(u, b1, s->c[0] - b2);
	if (s->even)
		r = fmaf(0.5f, v, r);
	if (v < s->a)
		r = 0.0f;
	if (v > s->b)
		r = v;
	return r;
}

#endif /* CUD_TWINS_MATH_H */
