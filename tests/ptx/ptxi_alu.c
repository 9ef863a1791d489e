/* SPDX-License-Identifier: MIT */
/*
 * ptxi_alu.c - operand access (with the uninitialised-register check) and
 * the scalar instructions of one thread: moves, integer and f32 arithmetic,
 * comparisons, bit operations. Conversions are in ptxi_cvt.c.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ptxi_int.h"

static uint64_t wmask(int bits)
{
	return bits >= 64 ? ~0ull : (1ull << bits) - 1;
}

static int64_t sext(uint64_t v, int bits)
{
	return bits >= 64 ? (int64_t)v : (int64_t)(v << (64 - bits)) >> (64 - bits);
}

void ptxi_set(struct ptxi_thread *t, int32_t reg, uint64_t v)
{
	if (reg < 0)
		return;	/* `_`: a sink */
	t->r[reg] = v;
	t->ri[reg] = 1;
}

int ptxi_get_reg(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		 int32_t reg, uint64_t *v)
{
	if (reg < 0)
		return ptxi_fault(c, t, in, -EINVAL, "'_' (the sink) read as a source");
	if (!t->ri[reg]) {
		const struct ptxi_kernel *k = c->k;
		const char *name = "?";
		int idx = -1;
		for (uint32_t i = 0; i < k->nregdecl; i++) {
			const struct ptxi_regdecl *d = &k->regs[i];
			uint32_t cnt = d->count < 0 ? 1 : (uint32_t)d->count;
			if (reg >= d->base && (uint32_t)(reg - d->base) < cnt) {
				name = d->name;
				idx = d->count < 0 ? -1 : reg - d->base;
				break;
			}
		}
		if (idx >= 0)
			return ptxi_fault(c, t, in, -EINVAL, "read of uninitialised register %s%d",
					  name, idx);
		return ptxi_fault(c, t, in, -EINVAL, "read of uninitialised register %s", name);
	}
	*v = t->r[reg];
	return 0;
}

static uint64_t special(struct ptxi_cta *c, struct ptxi_thread *t, int sr)
{
	if (sr == SR_LANEID)
		return t->lane;
	if (sr == SR_WARPID)
		return t->warp;
	const uint32_t *v = sr < SR_NTID ? t->tid : sr < SR_CTAID ? c->ntid :
			    sr < SR_NCTAID ? c->ctaid : c->nctaid;
	return v[sr % 3];
}

int ptxi_get(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
	     const struct ptxi_opnd *o, int type, uint64_t *v)
{
	int bits = ptxi_type_bits(type);

	switch (o->kind) {
	case K_REG:
		if (ptxi_get_reg(c, t, in, o->r[0], v))
			return -EINVAL;
		if (type == T_PRED)
			*v = (*v & 1) ^ o->neg;
		else
			*v &= wmask(bits);
		return 0;
	case K_IMM:
		*v = type == T_F32 ? ptxi_fbits((float)o->imm) : (uint64_t)o->imm & wmask(bits);
		return 0;
	case K_FIMM:
		/* 0fXXXXXXXX / 0dX... are bit patterns: mov.b32 %r, 0f3F800000 is fine */
		if (bits == 32) {
			*v = ptxi_fbits((float)o->fimm);
			return 0;
		}
		if (bits == 64) {
			memcpy(v, &o->fimm, 8);
			return 0;
		}
		return ptxi_fault(c, t, in, -EINVAL, "a float literal as a .%d-bit value", bits);
	case K_SPECIAL:
		*v = special(c, t, o->sym);
		return 0;
	case K_SYM:
		*v = c->k->syms[o->sym].off;	/* an address in the symbol's state space */
		return 0;
	}
	return ptxi_fault(c, t, in, -EINVAL, "operand of unexpected kind");
}

static float fin(uint64_t v, const struct ptxi_insn *in)
{
	float f = ptxi_f(v);
	return (in->flags & F_FTZ) ? ptxi_ftz(f) : f;
}

static uint64_t fout(float f, const struct ptxi_insn *in)
{
	if (in->flags & F_FTZ)
		f = ptxi_ftz(f);
	if (in->flags & F_SAT)
		f = isnan(f) ? 0.0f : f < 0 ? 0.0f : f > 1 ? 1.0f : f;
	return ptxi_fbits(f);
}

static int fcmp(int cmp, float a, float b)
{
	int un = isnan(a) || isnan(b);
	switch (cmp) {
	case CMP_EQ: return !un && a == b;
	case CMP_NE: return !un && a != b;
	case CMP_LT: return !un && a < b;
	case CMP_LE: return !un && a <= b;
	case CMP_GT: return !un && a > b;
	case CMP_GE: return !un && a >= b;
	case CMP_EQU: return un || a == b;
	case CMP_NEU: return un || a != b;
	case CMP_LTU: return un || a < b;
	case CMP_LEU: return un || a <= b;
	case CMP_GTU: return un || a > b;
	case CMP_GEU: return un || a >= b;
	case CMP_NUM: return !un;
	case CMP_NAN: return un;
	}
	return 0;
}

static int icmp(int cmp, uint64_t a, uint64_t b, int bits, int sgn)
{
	int64_t sa = sext(a, bits), sb = sext(b, bits);
	switch (cmp) {
	case CMP_EQ: return a == b;
	case CMP_NE: return a != b;
	case CMP_LT: return sgn ? sa < sb : a < b;
	case CMP_LE: return sgn ? sa <= sb : a <= b;
	case CMP_GT: return sgn ? sa > sb : a > b;
	case CMP_GE: return sgn ? sa >= sb : a >= b;
	case CMP_LO: return a < b;
	case CMP_LS: return a <= b;
	case CMP_HI: return a > b;
	case CMP_HS: return a >= b;
	}
	return 0;
}

static uint64_t bfe(uint64_t a, uint32_t pos, uint32_t len, int bits, int sgn)
{
	uint32_t msb = (uint32_t)bits - 1;
	if (!len)
		return 0;
	uint32_t top = pos + len - 1 > msb ? msb : pos + len - 1;
	uint64_t sbit = sgn ? (a >> top) & 1 : 0;
	uint64_t d = pos > msb ? 0 : a >> pos;
	uint32_t have = pos > msb ? 0 : (msb - pos + 1 < len ? msb - pos + 1 : len);
	d &= wmask((int)have);
	if (sbit)
		d |= ~wmask((int)have);
	return d & wmask(bits);
}

static uint64_t prmt(uint32_t a, uint32_t b, uint32_t sel)
{
	uint64_t bytes = (uint64_t)b << 32 | a;
	uint32_t d = 0;
	for (int i = 0; i < 4; i++) {
		uint32_t s = (sel >> (4 * i)) & 0xf;
		uint32_t byte = (uint32_t)(bytes >> (8 * (s & 7))) & 0xff;
		if (s & 8)	/* replicate the byte's sign */
			byte = (byte & 0x80) ? 0xff : 0;
		d |= byte << (8 * i);
	}
	return d;
}

/* Integer ops of 2-3 sources; 0 or a fault. */
static int int_op(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		  const uint64_t *s, uint64_t *d)
{
	int bits = ptxi_type_bits(in->type), sgn = ptxi_type_signed(in->type);
	uint64_t m = wmask(bits), a = s[0], b = s[1];

	switch (in->op) {
	case OP_ADD: *d = (a + b) & m; return 0;
	case OP_SUB: *d = (a - b) & m; return 0;
	case OP_MUL: case OP_MAD: {
		uint64_t p;
		if (in->mode == M_WIDE)
			p = sgn ? (uint64_t)((int64_t)(int32_t)a * (int32_t)b) : a * b;
		else if (in->mode == M_HI) {
			if (bits == 64)
				p = sgn ? (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64)
					: (uint64_t)(((unsigned __int128)a * b) >> 64);
			else
				p = sgn ? (uint64_t)(((int64_t)(int32_t)a * (int32_t)b) >> 32)
					: (a * b) >> 32;
		} else
			p = a * b;
		if (in->op == OP_MAD)
			p += s[2];
		*d = in->mode == M_WIDE ? p : p & m;
		return 0;
	}
	case OP_DIV: case OP_REM:
		if (!b)
			return ptxi_fault(c, t, in, -EDOM, "integer division by zero");
		if (sgn) {
			int64_t sa = sext(a, bits), sb = sext(b, bits);
			if (sb == -1)	/* INT_MIN / -1 wraps, as on the GPU */
				*d = in->op == OP_DIV ? (uint64_t)(-(uint64_t)sa) & m : 0;
			else
				*d = (uint64_t)(in->op == OP_DIV ? sa / sb : sa % sb) & m;
		} else
			*d = in->op == OP_DIV ? a / b : a % b;
		return 0;
	case OP_MIN: case OP_MAX: {
		int lt = sgn ? sext(a, bits) < sext(b, bits) : a < b;
		*d = (in->op == OP_MIN) == lt ? a : b;
		return 0;
	}
	case OP_ABS: *d = (uint64_t)(sext(a, bits) < 0 ? -(uint64_t)a : a) & m; return 0;
	case OP_NEG: *d = (-a) & m; return 0;
	case OP_AND: *d = a & b; return 0;
	case OP_OR: *d = a | b; return 0;
	case OP_XOR: *d = a ^ b; return 0;
	case OP_NOT: *d = ~a & m; return 0;
	case OP_SHL: *d = b >= (uint64_t)bits ? 0 : (a << b) & m; return 0;
	case OP_SHR:
		if (sgn)
			*d = (uint64_t)(sext(a, bits) >> (b >= (uint64_t)bits ? bits - 1 : (int)b)) & m;
		else
			*d = b >= (uint64_t)bits ? 0 : a >> b;
		return 0;
	case OP_POPC: *d = (uint64_t)__builtin_popcountll(a); return 0;
	case OP_CLZ: *d = a ? (uint64_t)(__builtin_clzll(a) - (64 - bits)) : (uint64_t)bits; return 0;
	case OP_BFE: *d = bfe(a, (uint32_t)b & 0xff, (uint32_t)s[2] & 0xff, bits, sgn); return 0;
	case OP_BFI: {
		uint32_t pos = (uint32_t)s[2] & 0xff, len = (uint32_t)s[3] & 0xff;
		uint64_t r = b;	/* s[0] is the field, s[1] the base */
		for (uint32_t i = 0; i < len && pos + i < (uint32_t)bits; i++)
			r = (r & ~(1ull << (pos + i))) | (((a >> i) & 1) << (pos + i));
		*d = r;
		return 0;
	}
	case OP_PRMT: *d = prmt((uint32_t)a, (uint32_t)b, (uint32_t)s[2]); return 0;
	}
	return ptxi_fault(c, t, in, -EINVAL, "no integer form");
}

static uint64_t salt(struct ptxi_cta *c, struct ptxi_thread *t)
{
	uint64_t cta = c->ctaid[0] + (uint64_t)c->nctaid[0] * (c->ctaid[1] + (uint64_t)c->nctaid[1] * c->ctaid[2]);
	return cta << 40 ^ (uint64_t)t->ltid << 20 ^ t->pc;
}

static int float_op(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		    const uint64_t *s, uint64_t *d)
{
	float a = fin(s[0], in), b = fin(s[1], in), r;
	int rn = in->rnd == RND_RN || in->rnd == RND_NONE;

	switch (in->op) {
	case OP_ADD: r = rn ? a + b : ptxi_round_f((double)a + b, in->rnd); break;
	case OP_SUB: r = rn ? a - b : ptxi_round_f((double)a - b, in->rnd); break;
	case OP_MUL: r = rn ? a * b : ptxi_round_f((double)a * b, in->rnd); break;
	case OP_FMA: {
		float cc = fin(s[2], in);
		r = rn ? fmaf(a, b, cc) : ptxi_round_f(fma((double)a, b, cc), in->rnd);
		break;
	}
	case OP_DIV:
		if (in->rnd == RND_RN)
			r = a / b;
		else
			r = ptxi_approx(OP_DIV, a / b, 0, salt(c, t));
		break;
	case OP_MIN: r = fminf(a, b); break;
	case OP_MAX: r = fmaxf(a, b); break;
	case OP_ABS: *d = ptxi_fbits(a) & 0x7fffffffu; return 0;
	case OP_NEG: *d = ptxi_fbits(a) ^ 0x80000000u; return 0;
	case OP_SQRT: r = rn && in->rnd ? sqrtf(a) : ptxi_approx(OP_SQRT, a, 0, salt(c, t)); break;
	case OP_RCP: r = rn && in->rnd ? 1.0f / a : ptxi_approx(OP_RCP, a, 0, salt(c, t)); break;
	case OP_RSQRT: case OP_EX2: case OP_LG2: case OP_SIN: case OP_COS: case OP_TANH:
		r = ptxi_approx(in->op, a, 0, salt(c, t));
		break;
	case OP_TESTP:
		*d = in->mode == M_FINITE ? isfinite(a) : in->mode == M_INFINITE ? isinf(a) != 0 :
		     in->mode == M_NAN ? isnan(a) : !isnan(a);
		return 0;
	default:
		return ptxi_fault(c, t, in, -EINVAL, "no f32 form");
	}
	*d = fout(r, in);
	return 0;
}

/* mov.b32 {lo, hi}, %r (unpack) and mov.b32 %r, {lo, hi} (pack). */
static int mov_vec(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	int bits = ptxi_type_bits(in->type);
	uint64_t v = 0, e;

	if (in->o[1].kind == K_VEC) {
		int w = bits / in->o[1].n;
		for (int i = 0; i < in->o[1].n; i++) {
			if (ptxi_get_reg(c, t, in, in->o[1].r[i], &e))
				return -EINVAL;
			v |= (e & wmask(w)) << (w * i);
		}
		ptxi_set(t, in->o[0].r[0], v);
		return 0;
	}
	if (ptxi_get(c, t, in, &in->o[1], in->type, &v))
		return -EINVAL;
	int w = bits / in->o[0].n;
	for (int i = 0; i < in->o[0].n; i++)
		ptxi_set(t, in->o[0].r[i], (v >> (w * i)) & wmask(w));
	return 0;
}

int ptxi_cvt(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in);

int ptxi_step(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	uint64_t s[4] = { 0 }, d = 0;
	int nsrc = in->nops - 1;

	switch (in->op) {
	case OP_MOV:
		if (in->o[0].kind == K_VEC || in->o[1].kind == K_VEC)
			return mov_vec(c, t, in);
		if (ptxi_get(c, t, in, &in->o[1], in->type, &d))
			return -EINVAL;
		ptxi_set(t, in->o[0].r[0], d);
		return 0;
	case OP_CVTA: {
		uint64_t win = in->space == SP_SHARED ? PTXI_SHARED_WIN :
			       in->space == SP_LOCAL ? PTXI_LOCAL_WIN : 0;
		if (ptxi_get(c, t, in, &in->o[1], in->type, &d))
			return -EINVAL;
		d = (in->flags & F_TO) ? d - win : d + win;
		ptxi_set(t, in->o[0].r[0], d & wmask(ptxi_type_bits(in->type)));
		return 0;
	}
	case OP_CVT:
		return ptxi_cvt(c, t, in);
	case OP_LD: case OP_ST:
		return ptxi_ldst(c, t, in);
	case OP_ATOM: case OP_RED:
		return ptxi_atom(c, t, in);
	case OP_CPASYNC:
		return ptxi_cp_async(c, t, in);
	case OP_SELP:
		if (ptxi_get(c, t, in, &in->o[3], T_PRED, &s[2]) ||
		    ptxi_get(c, t, in, &in->o[s[2] ? 1 : 2], in->type, &d))
			return -EINVAL;
		ptxi_set(t, in->o[0].r[0], d);
		return 0;
	case OP_SETP: {
		int r;
		if (ptxi_get(c, t, in, &in->o[1], in->type, &s[0]) ||
		    ptxi_get(c, t, in, &in->o[2], in->type, &s[1]))
			return -EINVAL;
		r = in->type == T_F32 ? fcmp(in->cmp, fin(s[0], in), fin(s[1], in))
				      : icmp(in->cmp, s[0], s[1], ptxi_type_bits(in->type),
					     ptxi_type_signed(in->type));
		int q = !r;
		if (in->flags & F_BOOL) {
			if (ptxi_get(c, t, in, &in->o[3], T_PRED, &s[2]))
				return -EINVAL;
			r = in->mode == M_AND ? r && s[2] : r || s[2];
			q = in->mode == M_AND ? q && s[2] : q || s[2];
		}
		ptxi_set(t, in->o[0].r[0], (uint64_t)r);
		if (in->o[0].kind == K_VEC)
			ptxi_set(t, in->o[0].r[1], (uint64_t)q);
		return 0;
	}
	}
	/* the rest: d = op(sources) */
	int stype = in->type;
	for (int i = 0; i < nsrc && i < 4; i++) {
		int ty = stype;
		/* shift amounts, bfe/bfi positions and prmt selectors are .u32 */
		if ((in->op == OP_SHL || in->op == OP_SHR) && i == 1)
			ty = T_U32;
		if ((in->op == OP_BFE && i >= 1) || (in->op == OP_BFI && i >= 2))
			ty = T_U32;
		if (in->op == OP_MAD && in->mode == M_WIDE && i == 2)
			ty = in->type == T_S32 ? T_S64 : T_U64;
		if (ptxi_get(c, t, in, &in->o[1 + i], ty, &s[i]))
			return -EINVAL;
	}
	int rc = in->type == T_F32 ? float_op(c, t, in, s, &d) : int_op(c, t, in, s, &d);
	if (rc)
		return rc;
	ptxi_set(t, in->o[0].r[0], d);
	return 0;
}
