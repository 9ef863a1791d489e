/* SPDX-License-Identifier: MIT */
/*
 * ptxi_check.c - the dialect's shape of each decoded instruction: operand
 * counts, the types and modifiers each opcode takes. What fails here is
 * refused at load time ("outside the dialect"), so the executor can trust
 * the shape of what it runs.
 */
#include "ptxi_parse.h"

#define TB(t) (1u << (t))
static const uint32_t INT32 = TB(T_U32) | TB(T_S32) | TB(T_B32);
static const uint32_t INT64 = TB(T_U64) | TB(T_S64) | TB(T_B64);
static const uint32_t INTS = TB(T_U16) | TB(T_B16) | TB(T_U32) | TB(T_S32) | TB(T_B32) |
			     TB(T_U64) | TB(T_S64) | TB(T_B64);

static int has(uint32_t set, int t)
{
	return (set >> t) & 1u;
}

static int all_regs(const struct ptxi_opnd *o)
{
	return o->kind == K_VEC;
}

static int check_mem(const struct ptxi_insn *in, int ntypes)
{
	uint32_t ok = TB(T_U8) | TB(T_U16) | TB(T_U32) | TB(T_S32) | TB(T_U64) | TB(T_B32) |
		      TB(T_B64) | TB(T_F32) | TB(T_B16) | TB(T_S8) | TB(T_B8) | TB(T_S64);
	int data = in->op == OP_LD ? 0 : 1, addr = in->op == OP_LD ? 1 : 0;

	if (in->nops != 2 || ntypes != 1 || !has(ok, in->type))
		return -1;
	if (in->op == OP_ST && in->space == SP_PARAM)
		return -1;
	if (in->o[addr].kind != K_MEM)
		return -1;
	if (in->vec) {
		uint32_t vok = in->vec == 4 ? (TB(T_B32) | TB(T_U32) | TB(T_F32) | TB(T_S32))
					    : (TB(T_B32) | TB(T_U32) | TB(T_F32) | TB(T_S32) |
					       TB(T_B64) | TB(T_U64));
		if (!has(vok, in->type) || !all_regs(&in->o[data]) || in->o[data].n != in->vec)
			return -1;
	} else if (in->o[data].kind == K_VEC)
		return -1;
	if (in->op == OP_LD && !in->vec && in->o[0].kind != K_REG)
		return -1;
	return 0;
}

static int check_float1(const struct ptxi_insn *in, int ntypes)
{
	return in->nops == 2 && ntypes == 1 && in->type == T_F32 ? 0 : -1;
}

int ptxi_check_insn(const struct ptxi_insn *in, int nt, const struct ptxi_kernel *k)
{
	int t = in->type, n = in->nops;
	int isf = t == T_F32;
	uint32_t movt = INTS | TB(T_PRED) | TB(T_F32);

	/* the first operand is written by most opcodes: a register, not an immediate */
	switch (in->op) {
	case OP_ST: case OP_RED: case OP_BRA: case OP_RET: case OP_EXIT: case OP_BAR:
	case OP_CPASYNC: case OP_CPCOMMIT: case OP_CPWAIT: case OP_CPWAITALL:
		break;
	default:
		if (n < 1 || (in->o[0].kind != K_REG && in->o[0].kind != K_VEC))
			return -1;
	}
	switch (in->op) {
	case OP_MOV:
		if (n != 2 || nt != 1 || !has(movt, t))
			return -1;
		if (in->o[0].kind == K_VEC || in->o[1].kind == K_VEC) {
			/* b32 = {b16, b16}; b64 = {b32, b32} or four b16 */
			int nv = in->o[0].kind == K_VEC ? in->o[0].n : in->o[1].n;
			return (t == T_B32 && nv == 2) || (t == T_B64 && (nv == 2 || nv == 4)) ? 0 : -1;
		}
		return in->o[1].kind == K_MEM || in->o[1].kind == K_LABEL ? -1 : 0;
	case OP_CVTA:
		return n == 2 && nt == 1 && (t == T_U64 || t == T_U32) &&
		       in->space >= SP_GLOBAL && in->space <= SP_LOCAL ? 0 : -1;
	case OP_CVT:
		if (nt != 2)
			return -1;
		if (t == T_BF16X2)
			return n == 3 && in->type2 == T_F32 && in->rnd == RND_RN ? 0 : -1;
		if (t == T_BF16)
			return n == 2 && in->type2 == T_F32 && in->rnd == RND_RN ? 0 : -1;
		if (in->type2 == T_BF16)
			return n == 2 && t == T_F32 ? 0 : -1;
		{
			uint32_t cv = TB(T_U16) | TB(T_U32) | TB(T_U64) | TB(T_S32) | TB(T_S64) |
				      TB(T_F32) | TB(T_S16) | TB(T_U8) | TB(T_S8);
			if (n != 2 || !has(cv, t) || !has(cv, in->type2))
				return -1;
			/* float destinations take .rn-style, float->int .rni-style rounding */
			if (t == T_F32 && in->type2 != T_F32)
				return in->rnd >= RND_RN && in->rnd <= RND_RP ? 0 : -1;
			if (t != T_F32 && in->type2 == T_F32)
				return in->rnd >= RND_RNI ? 0 : -1;
			if (t == T_F32 && in->type2 == T_F32)
				return in->rnd == RND_NONE || in->rnd >= RND_RNI ? 0 : -1;
			return in->rnd == RND_NONE ? 0 : -1;
		}
	case OP_ADD: case OP_SUB:
		return n == 3 && nt == 1 && (isf || has(INTS, t)) && (isf || !in->rnd) ? 0 : -1;
	case OP_MUL:
		if (n != 3 || nt != 1)
			return -1;
		if (isf)
			return in->mode == M_NONE ? 0 : -1;
		if (in->mode == M_WIDE)
			return t == T_U32 || t == T_S32 ? 0 : -1;
		return has(INT32 | INT64, t) && in->mode && !in->rnd ? 0 : -1;
	case OP_MAD:
		if (n != 4 || nt != 1 || isf)
			return -1;
		if (in->mode == M_WIDE)
			return t == T_U32 || t == T_S32 ? 0 : -1;
		return has(INT32 | INT64, t) && in->mode ? 0 : -1;
	case OP_FMA:
		return n == 4 && nt == 1 && isf && in->rnd >= RND_RN && in->rnd <= RND_RP ? 0 : -1;
	case OP_DIV:
		if (n != 3 || nt != 1)
			return -1;
		if (isf)
			return (in->rnd == RND_RN) + !!(in->flags & F_APPROX) + !!(in->flags & F_FULL) == 1 ? 0 : -1;
		return has(INT32 | INT64, t) ? 0 : -1;
	case OP_REM:
		return n == 3 && nt == 1 && has(INT32 | INT64, t) ? 0 : -1;
	case OP_MIN: case OP_MAX:
		return n == 3 && nt == 1 && (isf || has(INT32 | INT64, t)) ? 0 : -1;
	case OP_ABS: case OP_NEG:
		return n == 2 && nt == 1 && (isf || t == T_S32 || t == T_S64) ? 0 : -1;
	case OP_AND: case OP_OR: case OP_XOR:
		return n == 3 && nt == 1 && (t == T_B32 || t == T_B64 || t == T_PRED || t == T_B16) ? 0 : -1;
	case OP_NOT:
		return n == 2 && nt == 1 && (t == T_B32 || t == T_B64 || t == T_PRED || t == T_B16) ? 0 : -1;
	case OP_SHL:
		return n == 3 && nt == 1 && (t == T_B32 || t == T_B64 || t == T_B16) ? 0 : -1;
	case OP_SHR:
		return n == 3 && nt == 1 && has(INT32 | INT64 | TB(T_B16) | TB(T_U16), t) ? 0 : -1;
	case OP_SELP:
		return n == 4 && nt == 1 && has(INTS | TB(T_F32), t) ? 0 : -1;
	case OP_SETP:
		if (nt != 1 || !in->cmp || n != ((in->flags & F_BOOL) ? 4 : 3))
			return -1;
		if (in->cmp >= CMP_EQU)
			return isf ? 0 : -1;
		if (in->cmp >= CMP_LO && in->cmp <= CMP_HS)
			return has(INTS, t) ? 0 : -1;
		return isf || has(INTS, t) ? 0 : -1;
	case OP_POPC: case OP_CLZ:
		return n == 2 && nt == 1 && (t == T_B32 || t == T_B64) ? 0 : -1;
	case OP_BFE:
		return n == 4 && nt == 1 && (t == T_U32 || t == T_S32 || t == T_U64 || t == T_S64) ? 0 : -1;
	case OP_BFI:
		return n == 5 && nt == 1 && (t == T_B32 || t == T_B64) ? 0 : -1;
	case OP_PRMT:
		return n == 4 && nt == 1 && t == T_B32 && !in->mode ? 0 : -1;
	case OP_SQRT: case OP_RCP:
		return !check_float1(in, nt) && ((in->rnd == RND_RN) ^ !!(in->flags & F_APPROX)) ? 0 : -1;
	case OP_RSQRT: case OP_EX2: case OP_LG2: case OP_SIN: case OP_COS: case OP_TANH:
		return !check_float1(in, nt) && (in->flags & F_APPROX) && !in->rnd ? 0 : -1;
	case OP_TESTP:
		return !check_float1(in, nt) && in->mode ? 0 : -1;
	case OP_LD: case OP_ST:
		return check_mem(in, nt);
	case OP_ATOM: case OP_RED: {
		int data = in->op == OP_ATOM;
		if (nt != 1 || (in->space != SP_GLOBAL && in->space != SP_SHARED) || !in->mode)
			return -1;
		if (in->o[data].kind != K_MEM || n != data + 2 + (in->mode == M_CAS))
			return -1;
		if (in->op == OP_RED)
			return in->mode == M_ADD && (t == T_U32 || t == T_F32) ? 0 : -1;
		if (t == T_F32)
			return in->mode == M_ADD ? 0 : -1;
		if (t == T_U64 || t == T_B64)
			return in->mode == M_ADD || in->mode == M_EXCH || in->mode == M_CAS ? 0 : -1;
		return t == T_U32 || t == T_S32 || t == T_B32 ? 0 : -1;
	}
	case OP_BRA:
		return n == 1 && in->o[0].kind == K_LABEL ? 0 : -1;
	case OP_RET: case OP_EXIT: case OP_CPCOMMIT: case OP_CPWAITALL:
		return n == 0 ? 0 : -1;
	case OP_CPWAIT:
		return n == 1 && in->o[0].kind == K_IMM ? 0 : -1;
	case OP_BAR:
		return (n == 1 || n == 2) && in->o[0].kind == K_IMM && in->o[0].imm >= 0 &&
		       in->o[0].imm < 16 ? 0 : -1;
	case OP_SHFL:
		return n == 5 && nt == 1 && t == T_B32 && in->mode >= M_UP && in->mode <= M_IDX &&
		       (in->o[0].kind == K_REG || in->o[0].n == 2) ? 0 : -1;
	case OP_VOTE:
		if (n != 3 || nt != 1 || !in->mode)
			return -1;
		return in->mode == M_BALLOT ? (t == T_B32 ? 0 : -1) : (t == T_PRED ? 0 : -1);
	case OP_ACTIVEMASK:
		return n == 1 && nt == 1 && t == T_B32 ? 0 : -1;
	case OP_MMA:
		if (n != 4 || nt != 4)
			return -1;
		for (int i = 0; i < 4; i++)
			if (in->o[i].kind != K_VEC || in->o[i].n != (i == 2 ? 2 : 4))
				return -1;
		if (in->width == 16)
			return t == T_F32 && in->type2 == T_BF16 && in->type3 == T_BF16 ? 0 : -1;
		if (in->width == 32)
			return t == T_S32 && in->type2 == T_S8 && in->type3 == T_S8 ? 0 : -1;
		return -1;
	case OP_LDMATRIX:
		return n == 2 && nt == 1 && t == T_B16 && in->space == SP_SHARED && in->width &&
		       (in->width == 1 ? in->o[0].kind == K_VEC || in->o[0].kind == K_REG
				       : in->o[0].kind == K_VEC) &&
		       (in->o[0].kind == K_REG ? 1 : in->o[0].n) == in->width &&
		       in->o[1].kind == K_MEM ? 0 : -1;
	case OP_CPASYNC:
		if ((n != 3 && n != 4) || in->o[0].kind != K_MEM || in->o[1].kind != K_MEM ||
		    in->o[2].kind != K_IMM)
			return -1;
		if (in->mode == M_CG)
			return in->o[2].imm == 16 ? 0 : -1;
		return in->mode == M_CA && (in->o[2].imm == 4 || in->o[2].imm == 8 || in->o[2].imm == 16) ? 0 : -1;
	}
	(void)k;
	return -1;
}
