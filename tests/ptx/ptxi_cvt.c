/* SPDX-License-Identifier: MIT */
/*
 * ptxi_cvt.c - cvt: between the integer widths, int <-> f32 with the
 * rounding modifiers (float -> int saturates, NaN gives 0, as PTX says),
 * f32 -> f32 rounding to integral, and the bf16 / bf16x2 forms.
 */
#include <errno.h>
#include <math.h>

#include "ptxi_int.h"

static uint64_t mask_of(int bits)
{
	return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static double round_int(double x, int rnd)
{
	switch (rnd) {
	case RND_RZI: return trunc(x);
	case RND_RMI: return floor(x);
	case RND_RPI: return ceil(x);
	default: return nearbyint(x);	/* .rni: to nearest even (the default FPU mode) */
	}
}

/* The range of an integer type, as doubles (exact for the bounds we clamp to). */
static void range(int type, double *lo, double *hi)
{
	int bits = ptxi_type_bits(type);
	if (ptxi_type_signed(type)) {
		*lo = -ldexp(1.0, bits - 1);
		*hi = ldexp(1.0, bits - 1) - 1;
	} else {
		*lo = 0;
		*hi = ldexp(1.0, bits) - 1;
	}
}

static uint64_t f_to_int(float f, int type, int rnd)
{
	double lo, hi, x = round_int(f, rnd);
	int bits = ptxi_type_bits(type);

	if (isnan(f))
		return 0;
	range(type, &lo, &hi);
	if (x <= lo)
		return ptxi_type_signed(type) ? (uint64_t)(1ull << (bits - 1)) & mask_of(bits) : 0;
	if (x >= hi)	/* hi of 64 bits is not a double: compare, then return the max */
		return ptxi_type_signed(type) ? mask_of(bits - 1) : mask_of(bits);
	return ptxi_type_signed(type) ? (uint64_t)(int64_t)x & mask_of(bits) : (uint64_t)x;
}

int ptxi_cvt(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	int dt = in->type, st = in->type2;
	uint64_t a, b, d;
	int ftz = (in->flags & F_FTZ) != 0;

	if (dt == T_BF16X2) {	/* d = {hi: a, lo: b} */
		if (ptxi_get(c, t, in, &in->o[1], T_F32, &a) || ptxi_get(c, t, in, &in->o[2], T_F32, &b))
			return -EINVAL;
		d = (uint64_t)ptxi_bf16_rn(ptxi_f(a)) << 16 | ptxi_bf16_rn(ptxi_f(b));
		ptxi_set(t, in->o[0].r[0], d);
		return 0;
	}
	if (ptxi_get(c, t, in, &in->o[1], st == T_BF16 ? T_B16 : st, &a))
		return -EINVAL;
	if (dt == T_BF16)
		d = ptxi_bf16_rn(ptxi_f(a));
	else if (st == T_BF16)
		d = ptxi_fbits(ptxi_bf16_f((uint16_t)a));
	else if (dt == T_F32 && st == T_F32) {
		float f = ftz ? ptxi_ftz(ptxi_f(a)) : ptxi_f(a);
		if (in->rnd >= RND_RNI)
			f = (float)round_int(f, in->rnd);
		if (in->flags & F_SAT)
			f = isnan(f) ? 0.0f : f < 0 ? 0.0f : f > 1 ? 1.0f : f;
		d = ptxi_fbits(ftz ? ptxi_ftz(f) : f);
	} else if (dt == T_F32) {
		int bits = ptxi_type_bits(st);
		/* 32-bit sources are exact in a double; 64-bit ones may round twice (documented) */
		double x = ptxi_type_signed(st) ? (double)((int64_t)(a << (64 - bits)) >> (64 - bits))
						: (double)a;
		float f = ptxi_round_f(x, in->rnd);
		if (in->flags & F_SAT)
			f = f < 0 ? 0.0f : f > 1 ? 1.0f : f;
		d = ptxi_fbits(f);
	} else if (st == T_F32) {
		float f = ftz ? ptxi_ftz(ptxi_f(a)) : ptxi_f(a);
		d = f_to_int(f, dt, in->rnd);
	} else {
		int sb = ptxi_type_bits(st), db = ptxi_type_bits(dt);
		int64_t v = ptxi_type_signed(st) ? (int64_t)(a << (64 - sb)) >> (64 - sb) : (int64_t)a;
		if (in->flags & F_SAT) {
			double lo, hi;
			range(dt, &lo, &hi);
			if (!ptxi_type_signed(st) && a > (uint64_t)hi && db < 64)
				v = (int64_t)hi;
			else if (ptxi_type_signed(st) && (double)v < lo)
				v = (int64_t)lo;
			else if (db < 64 && (double)v > hi)
				v = (int64_t)hi;
		}
		d = (uint64_t)v & mask_of(db);
		/* a narrow destination in a 32-bit register stays zero/sign-extended to 32 */
		if (db < 32 && ptxi_type_signed(dt))
			d = (uint32_t)(int32_t)((int64_t)(d << (64 - db)) >> (64 - db));
	}
	ptxi_set(t, in->o[0].r[0], d);
	return 0;
}
