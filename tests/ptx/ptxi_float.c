/* SPDX-License-Identifier: MIT */
/*
 * ptxi_float.c - f32 details: bit casts, .ftz, directed rounding of a
 * double into a float, bf16 conversion, and the approximate instructions
 * (computed exactly in double, then perturbed deterministically within the
 * bound docs/ptx_dialect.md gives, so tests cannot rely on exact results).
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "ptxi_int.h"

float ptxi_f(uint64_t v)
{
	uint32_t u = (uint32_t)v;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

uint64_t ptxi_fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

float ptxi_ftz(float f)
{
	return fpclassify(f) == FP_SUBNORMAL ? copysignf(0.0f, f) : f;
}

/* double -> float in a rounding mode, without touching the FPU's mode. */
float ptxi_round_f(double x, int rnd)
{
	float f = (float)x;	/* round to nearest even */

	if (rnd == RND_RN || rnd == RND_NONE || isnan(x) || (double)f == x)
		return f;
	int up = rnd == RND_RP || (rnd == RND_RZ && x < 0);
	int down = rnd == RND_RM || (rnd == RND_RZ && x > 0);
	if (up && (double)f < x)
		f = nextafterf(f, INFINITY);
	else if (down && (double)f > x)
		f = nextafterf(f, -INFINITY);
	return f;
}

uint16_t ptxi_bf16_rn(float f)
{
	uint32_t u = (uint32_t)ptxi_fbits(f);
	if (isnan(f))
		return 0x7fff;	/* the canonical NaN cvt.rn.bf16 produces */
	u += 0x7fffu + ((u >> 16) & 1u);	/* round to nearest, ties to even */
	return (uint16_t)(u >> 16);
}

float ptxi_bf16_f(uint16_t h)
{
	return ptxi_f((uint64_t)h << 16);
}

uint64_t ptxi_hash(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* A deterministic u in [-1, 1] from the salt (thread, CTA, pc). */
static double unit(uint64_t salt)
{
	return (double)(ptxi_hash(salt) >> 11) / (double)(1ull << 52) - 1.0;
}

/*
 * The bound is split: 3/4 of it is the perturbation, the last quarter is
 * left for the final rounding to f32 (half an ulp, 2^-24 relative), so that
 * |result - exact| stays within the documented bound.
 */
float ptxi_approx(int op, float x, int ftz, uint64_t salt)
{
	double ex, rel = 0, abs_ = 0;

	if (ftz)
		x = ptxi_ftz(x);
	switch (op) {
	case OP_RCP: ex = 1.0 / x; rel = 0x1p-22; break;
	case OP_RSQRT: ex = 1.0 / sqrt(x); rel = 0x1p-22; break;
	case OP_SQRT: ex = sqrt(x); rel = 0x1p-22; break;
	case OP_DIV: ex = x; rel = 0x1p-22; break;	/* the quotient, from the caller */
	case OP_EX2: ex = exp2(x); rel = 0x1p-22; abs_ = 0x1.6a09e667f3bcdp-23; break;
	case OP_LG2: ex = log2(x); rel = 0x1p-22; abs_ = 0x1.6a09e667f3bcdp-23; break;
	case OP_SIN: ex = sin(x); rel = 0x1p-22; abs_ = 0x1.6a09e667f3bcdp-23; break;
	case OP_COS: ex = cos(x); rel = 0x1p-22; abs_ = 0x1.6a09e667f3bcdp-23; break;
	case OP_TANH: ex = tanh(x); abs_ = 0x1p-11; break;	/* < 2^-10.987 with rounding */
	default: return NAN;
	}
	if (!isfinite(ex) || ex == 0)
		return (float)ex;	/* inf, nan, exact zeros stay exact */
	/* the input joins the salt: a loop at one pc gets no systematic bias */
	double r = ex + unit(salt ^ ptxi_fbits(x) * 0x9e3779b97f4a7c15ull) * 0.75 * (rel * fabs(ex) + abs_);
	/* the hardware never leaves the function's range; neither do we */
	if (op == OP_EX2 && r < 0)
		r = 0;
	if ((op == OP_SIN || op == OP_COS || op == OP_TANH) && fabs(r) > 1)
		r = r > 0 ? 1 : -1;
	float f = (float)r;
	return ftz ? ptxi_ftz(f) : f;
}
