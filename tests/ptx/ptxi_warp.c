/* SPDX-License-Identifier: MIT */
/*
 * ptxi_warp.c - warp collectives: shfl.sync, vote.sync, mma.sync and
 * ldmatrix. A lane arriving checks its member mask (it must name itself
 * and only lanes that exist); the collective fires when every lane of the
 * mask waits at the same instruction with the same mask. Fragment layouts
 * are those of the PTX ISA, "Matrix fragments for mma.m16n8k16" (bf16) and
 * "for mma.m16n8k32" (s8), and "ldmatrix".
 */
#include <errno.h>
#include <string.h>

#include "ptxi_int.h"

static int member_mask(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		       uint32_t *mask)
{
	uint64_t v = 0xffffffffu;
	uint32_t base = t->warp * 32, have = c->nthreads - base >= 32 ? 32 : c->nthreads - base;
	uint32_t exist = have == 32 ? 0xffffffffu : (1u << have) - 1;

	if (in->op == OP_SHFL && ptxi_get(c, t, in, &in->o[4], T_B32, &v))
		return -EINVAL;
	if (in->op == OP_VOTE && ptxi_get(c, t, in, &in->o[2], T_B32, &v))
		return -EINVAL;
	*mask = (uint32_t)v;
	/* .aligned mma/ldmatrix: the whole warp, which must then be whole */
	if (!(*mask & (1u << t->lane)))
		return ptxi_fault(c, t, in, -EINVAL, "member mask 0x%08x does not include lane %u itself",
				  *mask, t->lane);
	if (*mask & ~exist)
		return ptxi_fault(c, t, in, -EINVAL, "member mask 0x%08x names lanes the warp lacks "
				  "(it has %u threads)", *mask, have);
	return 0;
}

static int shfl(struct ptxi_cta *c, struct ptxi_thread *w, const struct ptxi_insn *in, uint32_t mask)
{
	uint64_t val[32], pv[32];

	for (uint32_t l = 0; l < 32; l++) {
		if (!(mask & (1u << l)))
			continue;
		struct ptxi_thread *t = &w[l];
		uint64_t b, cc;
		if (ptxi_get(c, t, in, &in->o[2], T_B32, &b) || ptxi_get(c, t, in, &in->o[3], T_B32, &cc))
			return -EINVAL;
		uint32_t bval = b & 31, cval = cc & 31, seg = (cc >> 8) & 31;
		int32_t maxl = (int32_t)((l & seg) | (cval & ~seg)), minl = (int32_t)(l & seg), j;
		int p;
		switch (in->mode) {
		case M_UP: j = (int32_t)l - (int32_t)bval; p = j >= maxl; break;
		case M_DOWN: j = (int32_t)l + (int32_t)bval; p = j <= maxl; break;
		case M_BFLY: j = (int32_t)(l ^ bval); p = j <= maxl; break;
		default: j = minl | (int32_t)(bval & ~seg); p = j <= maxl; break;
		}
		if (!p)
			j = (int32_t)l;
		if (!(mask & (1u << j)))	/* undefined on the GPU: an error here */
			return ptxi_fault(c, t, in, -EINVAL, "shfl.sync reads lane %d, outside the member "
					  "mask 0x%08x", j, mask);
		if (ptxi_get(c, &w[j], in, &in->o[1], T_B32, &val[l]))
			return -EINVAL;
		pv[l] = (uint64_t)p;
	}
	for (uint32_t l = 0; l < 32; l++) {
		if (!(mask & (1u << l)))
			continue;
		ptxi_set(&w[l], in->o[0].r[0], val[l]);
		if (in->o[0].kind == K_VEC)
			ptxi_set(&w[l], in->o[0].r[1], pv[l]);
	}
	return 0;
}

static int vote(struct ptxi_cta *c, struct ptxi_thread *w, const struct ptxi_insn *in, uint32_t mask)
{
	uint32_t ballot = 0;
	for (uint32_t l = 0; l < 32; l++) {
		uint64_t p;
		if (!(mask & (1u << l)))
			continue;
		if (ptxi_get(c, &w[l], in, &in->o[1], T_PRED, &p))
			return -EINVAL;
		ballot |= (uint32_t)p << l;
	}
	uint64_t r = in->mode == M_ALL ? ballot == mask : in->mode == M_ANY ? ballot != 0 :
		     in->mode == M_UNI ? (ballot == mask || ballot == 0) : ballot;
	for (uint32_t l = 0; l < 32; l++)
		if (mask & (1u << l))
			ptxi_set(&w[l], in->o[0].r[0], r);
	return 0;
}

static int frag(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in, int op,
		uint32_t *v)
{
	for (int i = 0; i < in->o[op].n; i++) {
		uint64_t x;
		if (ptxi_get_reg(c, t, in, in->o[op].r[i], &x))
			return -EINVAL;
		v[i] = (uint32_t)x;
	}
	return 0;
}

/* D = A B + C over one warp; sums are exact in double, rounded once to f32. */
static int mma(struct ptxi_cta *c, struct ptxi_thread *w, const struct ptxi_insn *in)
{
	double A[16][32], B[32][8], C[16][8];
	int s8 = in->width == 32, K = s8 ? 32 : 16;

	for (uint32_t l = 0; l < 32; l++) {
		uint32_t a[4], b[2], cc[4], g = l >> 2, tg = l & 3;
		if (frag(c, &w[l], in, 1, a) || frag(c, &w[l], in, 2, b) || frag(c, &w[l], in, 3, cc))
			return -EINVAL;
		for (int r = 0; r < 4; r++) {
			uint32_t row = g + (r & 1) * 8, col0 = (r >> 1) * (K / 2);
			if (s8)
				for (int e = 0; e < 4; e++)
					A[row][col0 + tg * 4 + e] = (int8_t)(a[r] >> (8 * e));
			else
				for (int e = 0; e < 2; e++)
					A[row][col0 + tg * 2 + e] = ptxi_bf16_f((uint16_t)(a[r] >> (16 * e)));
		}
		for (int r = 0; r < 2; r++) {
			if (s8)
				for (int e = 0; e < 4; e++)
					B[r * 16 + tg * 4 + e][g] = (int8_t)(b[r] >> (8 * e));
			else
				for (int e = 0; e < 2; e++)
					B[r * 8 + tg * 2 + e][g] = ptxi_bf16_f((uint16_t)(b[r] >> (16 * e)));
		}
		for (int i = 0; i < 4; i++)
			C[g + (i >> 1) * 8][tg * 2 + (i & 1)] = s8 ? (double)(int32_t)cc[i] : ptxi_f(cc[i]);
	}
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t g = l >> 2, tg = l & 3;
		for (int i = 0; i < 4; i++) {
			uint32_t row = g + (i >> 1) * 8, col = tg * 2 + (i & 1);
			double s = C[row][col];
			for (int k = 0; k < K; k++)
				s += A[row][k] * B[k][col];
			/* s32 accumulation wraps (no .satfinite) */
			uint64_t d = s8 ? (uint32_t)(uint64_t)(int64_t)s : ptxi_fbits((float)s);
			ptxi_set(&w[l], in->o[0].r[i], d);
		}
	}
	return 0;
}

/* ldmatrix: lane 8i+r gives the address of row r of matrix i (16 bytes). */
static int ldmatrix(struct ptxi_cta *c, struct ptxi_thread *w, const struct ptxi_insn *in)
{
	uint16_t M[4][8][8];
	int n = in->width;

	for (int l = 0; l < 8 * n; l++) {
		uint64_t addr;
		uint8_t *p;
		if (ptxi_mem_addr(c, &w[l], in, &in->o[1], &addr))
			return -EINVAL;
		if (addr & 15)
			return ptxi_fault(c, &w[l], in, -EFAULT, "ldmatrix row address 0x%llx is not "
					  "16-byte aligned", (unsigned long long)addr);
		if (!(p = ptxi_addr(c, &w[l], in, SP_SHARED, addr, 16, 0)))
			return -EFAULT;
		if (c->race_on && ptxi_race_access(c, &w[l], in, (uint32_t)addr, 16, NULL))
			return -EAGAIN;
		memcpy(M[l / 8][l % 8], p, 16);
	}
	for (uint32_t l = 0; l < 32; l++) {
		uint32_t row = l / 4, col = 2 * (l % 4);
		for (int i = 0; i < n; i++) {
			uint32_t lo, hi;
			if (in->flags & F_TRANS) {
				lo = M[i][col][row];
				hi = M[i][col + 1][row];
			} else {
				lo = M[i][row][col];
				hi = M[i][row][col + 1];
			}
			int32_t r = in->o[0].kind == K_VEC ? in->o[0].r[i] : in->o[0].r[0];
			ptxi_set(&w[l], r, hi << 16 | lo);
		}
	}
	return 0;
}

int ptxi_collective_arrive(struct ptxi_cta *c, struct ptxi_thread *t,
			   const struct ptxi_insn *in)
{
	uint32_t mask;
	struct ptxi_thread *w = &c->t[t->warp * 32];
	int rc;

	if ((rc = member_mask(c, t, in, &mask)))
		return rc;
	t->cmask = mask;
	t->state = TS_COLL;
	for (uint32_t l = 0; l < 32; l++) {
		if (!(mask & (1u << l)))
			continue;
		int here = w[l].state == TS_COLL && w[l].pc == t->pc;
		if (here && w[l].cmask != mask)
			return ptxi_fault(c, t, in, -EINVAL, "lanes disagree on the member mask: lane %u "
					  "passes 0x%08x, lane %u 0x%08x", t->lane, mask, l, w[l].cmask);
	}
	for (uint32_t l = 0; l < 32; l++)
		if ((mask & (1u << l)) && !(w[l].state == TS_COLL && w[l].pc == t->pc))
			return 0;	/* not all there yet */
	switch (in->op) {
	case OP_SHFL: rc = shfl(c, w, in, mask); break;
	case OP_VOTE: rc = vote(c, w, in, mask); break;
	case OP_MMA: rc = mma(c, w, in); break;
	default: rc = ldmatrix(c, w, in); break;
	}
	if (rc)
		return rc;
	for (uint32_t l = 0; l < 32; l++)
		if (mask & (1u << l)) {
			w[l].state = TS_RUN;
			w[l].pc++;
		}
	c->m->last.collectives++;
	return 0;
}
