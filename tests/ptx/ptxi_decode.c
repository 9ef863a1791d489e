/* SPDX-License-Identifier: MIT */
/*
 * ptxi_decode.c - one instruction statement into a struct ptxi_insn: the
 * guard, the mnemonic's modifiers (checked against the dialect of
 * docs/ptx_dialect.md, anything else is refused) and the operands, with
 * registers and symbols resolved to indices.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_parse.h"

static const struct { const char *name; int op; } ops[] = {
	{ "mov", OP_MOV }, { "cvta", OP_CVTA }, { "cvt", OP_CVT }, { "add", OP_ADD },
	{ "sub", OP_SUB }, { "mul", OP_MUL }, { "mad", OP_MAD }, { "fma", OP_FMA },
	{ "div", OP_DIV }, { "rem", OP_REM }, { "min", OP_MIN }, { "max", OP_MAX },
	{ "abs", OP_ABS }, { "neg", OP_NEG }, { "and", OP_AND }, { "or", OP_OR },
	{ "xor", OP_XOR }, { "not", OP_NOT }, { "shl", OP_SHL }, { "shr", OP_SHR },
	{ "selp", OP_SELP }, { "setp", OP_SETP }, { "popc", OP_POPC }, { "clz", OP_CLZ },
	{ "bfe", OP_BFE }, { "bfi", OP_BFI }, { "prmt", OP_PRMT }, { "sqrt", OP_SQRT },
	{ "rsqrt", OP_RSQRT }, { "rcp", OP_RCP }, { "ex2", OP_EX2 }, { "lg2", OP_LG2 },
	{ "sin", OP_SIN }, { "cos", OP_COS }, { "tanh", OP_TANH }, { "testp", OP_TESTP },
	{ "ld", OP_LD }, { "st", OP_ST }, { "atom", OP_ATOM }, { "red", OP_RED },
	{ "bra", OP_BRA }, { "ret", OP_RET }, { "exit", OP_EXIT }, { "bar", OP_BAR },
	{ "barrier", OP_BAR }, { "shfl", OP_SHFL }, { "vote", OP_VOTE },
	{ "activemask", OP_ACTIVEMASK }, { "mma", OP_MMA }, { "ldmatrix", OP_LDMATRIX },
	{ "cp", OP_CPASYNC },
};

const char *ptxi_op_name(int op)
{
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

static int word(const char *w, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (list[i] && !strcmp(w, list[i]))
			return i;
	return -1;
}

static const char *const cmps[] = { NULL, "eq", "ne", "lt", "le", "gt", "ge", "lo", "ls",
	"hi", "hs", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan" };
static const char *const rnds[] = { NULL, "rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi" };
static const char *const spaces[] = { NULL, "param", "global", "shared", "local" };

/* The modifiers after the base op; refuses what the dialect lacks. */
static int modifiers(struct ptxi_pctx *p, struct ptxi_insn *in, char *mods, int line,
		     const char *mn)
{
	int nt = 0, i;
	uint8_t *types[3] = { &in->type, &in->type2, &in->type3 };
	char *save = NULL;

	for (char *w = strtok_r(mods, ".", &save); w; w = strtok_r(NULL, ".", &save)) {
		int op = in->op;
		if ((i = ptxi_type_of(w)) != T_NONE) {
			if (nt < 3)
				*types[nt] = (uint8_t)i;
			nt++;
		} else if (op == OP_SETP && (i = word(w, cmps, 19)) > 0 && !in->cmp)
			in->cmp = (uint8_t)i;
		else if (op == OP_SETP && (!strcmp(w, "and") || !strcmp(w, "or")) && in->cmp) {
			in->mode = w[0] == 'a' ? M_AND : M_OR;
			in->flags |= F_BOOL;
		} else if ((i = word(w, rnds, 9)) > 0 && op != OP_SETP)
			in->rnd = (uint8_t)i;
		else if ((i = word(w, spaces, 5)) > 0 && (op == OP_LD || op == OP_ST || op == OP_ATOM ||
			 op == OP_RED || op == OP_CVTA || op == OP_LDMATRIX || op == OP_CPASYNC)) {
			if (op == OP_CPASYNC && in->space)
				continue;	/* cp.async.ca.shared.global: dst then src */
			in->space = (uint8_t)i;
		} else if (!strcmp(w, "v2") || !strcmp(w, "v4"))
			in->vec = (uint8_t)(w[1] - '0');
		else if (!strcmp(w, "ftz"))
			in->flags |= F_FTZ;
		else if (!strcmp(w, "sat"))
			in->flags |= F_SAT;
		else if (!strcmp(w, "approx"))
			in->flags |= F_APPROX;
		else if (!strcmp(w, "full") && op == OP_DIV)
			in->flags |= F_FULL;
		else if (!strcmp(w, "nc") && op == OP_LD)
			in->flags |= F_NC;
		else if (!strcmp(w, "uni") && op == OP_BRA)
			in->flags |= F_UNI;
		else if (!strcmp(w, "to") && op == OP_CVTA)
			in->flags |= F_TO;
		else if (!strcmp(w, "trans") && op == OP_LDMATRIX)
			in->flags |= F_TRANS;
		else if ((op == OP_MUL || op == OP_MAD) && !strcmp(w, "lo"))
			in->mode = M_LO;
		else if ((op == OP_MUL || op == OP_MAD) && !strcmp(w, "hi"))
			in->mode = M_HI;
		else if ((op == OP_MUL || op == OP_MAD) && !strcmp(w, "wide"))
			in->mode = M_WIDE;
		else if (op == OP_SHFL && (i = word(w, (const char *const[]){ "up", "down", "bfly", "idx" }, 4)) >= 0)
			in->mode = (uint8_t)(M_UP + i);
		else if (op == OP_VOTE && (i = word(w, (const char *const[]){ "all", "any", "uni", "ballot" }, 4)) >= 0)
			in->mode = (uint8_t)(M_ALL + i);
		else if ((op == OP_ATOM || op == OP_RED) &&
			 (i = word(w, (const char *const[]){ "add", "min", "max", "exch", "cas" }, 5)) >= 0)
			in->mode = (uint8_t)(M_ADD + i);
		/* ptxas spells NaN tests .notanumber (.nan is refused there too) */
		else if (op == OP_TESTP && (i = word(w, (const char *const[]){ "finite", "infinite",
				"notanumber", "number" }, 4)) >= 0)
			in->mode = (uint8_t)(M_FINITE + i);
		else if (!strcmp(w, "sync") && (op == OP_BAR || op == OP_SHFL || op == OP_VOTE ||
						 op == OP_MMA || op == OP_LDMATRIX))
			;
		else if (!strcmp(w, "aligned") && (op == OP_MMA || op == OP_LDMATRIX || op == OP_BAR))
			;
		else if (op == OP_MMA && (!strcmp(w, "m16n8k16") || !strcmp(w, "m16n8k32")))
			in->width = (uint8_t)(strcmp(w, "m16n8k16") ? 32 : 16);
		else if (op == OP_MMA && (!strcmp(w, "row") || !strcmp(w, "col")))
			;
		else if (op == OP_LDMATRIX && !strcmp(w, "m8n8"))
			;
		else if (op == OP_LDMATRIX && (!strcmp(w, "x1") || !strcmp(w, "x2") || !strcmp(w, "x4")))
			in->width = (uint8_t)(w[1] - '0');
		else if (op == OP_CPASYNC && !strcmp(w, "async"))
			;
		else if (op == OP_CPASYNC && (!strcmp(w, "ca") || !strcmp(w, "cg")))
			in->mode = w[1] == 'a' ? M_CA : M_CG;
		else if (op == OP_CPASYNC && !strcmp(w, "commit_group"))
			in->op = OP_CPCOMMIT;
		else if (op == OP_CPASYNC && !strcmp(w, "wait_group"))
			in->op = OP_CPWAIT;
		else if (op == OP_CPASYNC && !strcmp(w, "wait_all"))
			in->op = OP_CPWAITALL;
		else
			return ptxi_perr(p, line, "'%s': modifier .%s is outside the dialect", mn, w);
	}
	return nt;
}

static int parse_int(const char *s, int64_t *v)
{
	char *end;
	int neg = *s == '-';
	if (neg)
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	uint64_t u = strtoull(s, &end, 0);
	if (*end == 'U')
		end++;
	if (*end)
		return -1;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int special(const char *s)
{
	static const char *const names[] = { "%tid", "%ntid", "%ctaid", "%nctaid" };
	if (!strcmp(s, "%laneid"))
		return SR_LANEID;
	if (!strcmp(s, "%warpid"))
		return SR_WARPID;
	const char *dot = strrchr(s, '.');
	if (!dot || dot[2] || dot[1] < 'x' || dot[1] > 'z')
		return -1;
	for (int i = 0; i < 4; i++)
		if ((size_t)(dot - s) == strlen(names[i]) && !strncmp(s, names[i], (size_t)(dot - s)))
			return i * 3 + (dot[1] - 'x');
	return -1;
}

static int reg_or_err(struct ptxi_pctx *p, struct ptxi_kernel *k, const char *s, int line,
		      int32_t *r)
{
	if (!strcmp(s, "_")) {
		*r = -1;
		return 0;
	}
	*r = ptxi_find_reg(k, s);
	return *r < 0 ? ptxi_perr(p, line, "undeclared register '%s'", s) : 0;
}

static int operand(struct ptxi_pctx *p, struct ptxi_kernel *k, struct ptxi_insn *in,
		   char *s, int line, struct ptxi_opnd *o)
{
	int64_t iv;

	s = trim(s);
	o->r[0] = -1;
	o->sym = -1;
	if (*s == '{' || strchr(s, '|')) {
		char *body = s, *save = NULL;
		if (*s == '{') {
			size_t n = strlen(s);
			if (s[n - 1] != '}')
				return ptxi_perr(p, line, "bad vector operand '%s'", s);
			s[n - 1] = 0;
			body = s + 1;
		}
		o->kind = K_VEC;
		for (char *e = strtok_r(body, ",|", &save); e; e = strtok_r(NULL, ",|", &save)) {
			if (o->n >= PTXI_MAXVEC)
				return ptxi_perr(p, line, "vector operand too long");
			if (reg_or_err(p, k, trim(e), line, &o->r[o->n++]))
				return -EINVAL;
		}
		return o->n ? 0 : ptxi_perr(p, line, "empty vector operand");
	}
	if (*s == '[') {
		size_t n = strlen(s);
		if (s[n - 1] != ']')
			return ptxi_perr(p, line, "bad address '%s'", s);
		s[n - 1] = 0;
		char *a = trim(s + 1), *sep = strchr(a, '+');
		o->kind = K_MEM;
		if (!sep)
			sep = strchr(a + 1, '-');
		if (sep) {
			char off[48];
			snprintf(off, sizeof off, "%s", *sep == '+' ? sep + 1 : sep);
			*sep = 0;
			if (parse_int(trim(off), &o->imm))
				return ptxi_perr(p, line, "bad address offset '%s'", off);
			a = trim(a);
		}
		if (*a == '%')
			return reg_or_err(p, k, a, line, &o->r[0]);
		struct ptxi_sym *sym = ptxi_find_sym(k, a);
		if (!sym)
			return ptxi_perr(p, line, "unknown symbol '%s'", a);
		o->sym = (int32_t)(sym - k->syms);
		return 0;
	}
	if (*s == '!') {
		o->neg = 1;
		s = trim(s + 1);
	}
	if (*s == '%') {
		int sr = special(s);
		if (sr >= 0) {
			o->kind = K_SPECIAL;
			o->sym = sr;
			return 0;
		}
		o->kind = K_REG;
		return reg_or_err(p, k, s, line, &o->r[0]);
	}
	if ((s[0] == '0' && (s[1] == 'f' || s[1] == 'F') && strlen(s) == 10) ||
	    (s[0] == '0' && (s[1] == 'd' || s[1] == 'D') && strlen(s) == 18)) {
		uint64_t bits = strtoull(s + 2, NULL, 16);
		o->kind = K_FIMM;
		if (s[1] == 'f' || s[1] == 'F') {
			uint32_t b32 = (uint32_t)bits;
			float f;
			memcpy(&f, &b32, 4);
			o->fimm = f;
		} else
			memcpy(&o->fimm, &bits, 8);
		return 0;
	}
	if (!parse_int(s, &iv)) {
		o->kind = K_IMM;
		o->imm = iv;
		return 0;
	}
	if (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '.') && s[1])) {
		char *end;
		o->fimm = strtod(s, &end);
		if (!*end) {
			o->kind = K_FIMM;
			return 0;
		}
	}
	if (in->op == OP_BRA) {
		char **np = realloc(p->pending, (p->npending + 1) * sizeof *np);
		if (!np || !(np[p->npending] = strdup(s)))
			return ptxi_perr(p, line, "out of memory");
		p->pending = np;
		o->kind = K_LABEL;
		o->sym = (int32_t)p->npending++;
		return 0;
	}
	struct ptxi_sym *sym = ptxi_find_sym(k, s);
	if (!sym)
		return ptxi_perr(p, line, "unknown operand '%s'", s);
	o->kind = K_SYM;
	o->sym = (int32_t)(sym - k->syms);
	return 0;
}

/* Splits operands at top-level commas (not inside {} or []). */
static int split_ops(char *s, char **out, int max)
{
	int n = 0, depth = 0;
	char *start = s;

	if (!*trim(s))
		return 0;
	for (;; s++) {
		if (*s == '{' || *s == '[')
			depth++;
		else if (*s == '}' || *s == ']')
			depth--;
		else if ((*s == ',' && depth == 0) || !*s) {
			int end = !*s;
			*s = 0;
			if (n >= max)
				return -1;
			out[n++] = start;
			start = s + 1;
			if (end)
				return n;
		}
	}
}

int ptxi_decode_insn(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line,
		     struct ptxi_insn *in)
{
	char *s = trim(st), *opsv[PTXI_MAXOPS + 1];
	size_t i;

	in->line = line;
	in->guard = -1;
	if (*s == '@') {
		s++;
		if (*s == '!') {
			in->guard_neg = 1;
			s++;
		}
		char *sp = s;
		while (*sp && !isspace((unsigned char)*sp))
			sp++;
		if (!*sp)
			return ptxi_perr(p, line, "guard without an instruction");
		*sp = 0;
		in->guard = ptxi_find_reg(k, s);
		if (in->guard < 0 || k->regtype[in->guard] != T_PRED)
			return ptxi_perr(p, line, "guard '%s' is not a declared .pred", s);
		s = trim(sp + 1);
	}
	char *mn = s;
	while (*s && !isspace((unsigned char)*s))
		s++;
	if (*s)
		*s++ = 0;
	char mnemonic[64];
	snprintf(mnemonic, sizeof mnemonic, "%s", mn);
	size_t tl = strlen(mnemonic) < sizeof in->text ? strlen(mnemonic) : sizeof in->text - 1;
	memcpy(in->text, mnemonic, tl);
	in->text[tl] = 0;
	char *dot = strchr(mn, '.');
	if (dot)
		*dot = 0;
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(ops[i].name, mn))
			break;
	if (i == sizeof ops / sizeof ops[0])
		return ptxi_perr(p, line, "instruction '%s' is outside the dialect", mnemonic);
	in->op = (uint8_t)ops[i].op;
	int nt = dot ? modifiers(p, in, dot + 1, line, mnemonic) : 0;
	if (nt < 0)
		return -EINVAL;
	if (in->op == OP_CPASYNC && !dot)
		return ptxi_perr(p, line, "instruction '%s' is outside the dialect", mnemonic);
	int n = split_ops(s, opsv, PTXI_MAXOPS);
	if (n < 0)
		return ptxi_perr(p, line, "'%s': too many operands", mnemonic);
	in->nops = (uint8_t)n;
	for (int j = 0; j < n; j++)
		if (operand(p, k, in, opsv[j], line, &in->o[j]))
			return -EINVAL;
	if (ptxi_check_insn(in, nt, k)) {
		return ptxi_perr(p, line, "'%s' with %d operand%s is outside the dialect",
				 mnemonic, n, n == 1 ? "" : "s");
	}
	return 0;
}
