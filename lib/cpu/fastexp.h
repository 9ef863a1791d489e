/* SPDX-License-Identifier: MIT */
/*
 * fastexp.h - the vectorizable exp of the softmax kernels (attention.c,
 * flash_attn.c), shared here so that both round the same way.
 */
#ifndef PN_CPU_FASTEXP_H
#define PN_CPU_FASTEXP_H

#include <math.h>
#include <stdint.h>

/*
 * exp(x) for x <= 0: 2^n * p(r), x = n ln2 + r, |r| <= ln2/2, p the degree-7
 * Taylor polynomial (truncation 5.6e-9 relative; a few ulp in all). Plain
 * arithmetic and a bit cast, so a loop of it vectorizes. Below -87 the
 * result would leave the normal range: 0 (also for x = -inf).
 */
static inline float pn_exp_nonpos(float x)
{
	const float log2e = 1.44269504088896341f;
	const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723212e-6f;
	const float round = 12582912.0f;	/* 1.5 * 2^23: adding it rounds to an integer */
	float xc = x < -87.0f ? -87.0f : x;
	float n = (xc * log2e + round) - round;
	float r = fmaf(-n, ln2_lo, fmaf(-n, ln2_hi, xc));
	float p = 1.0f / 5040;
	union { float f; uint32_t u; } s;

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

#endif /* PN_CPU_FASTEXP_H */
