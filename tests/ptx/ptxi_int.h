/* SPDX-License-Identifier: MIT */
/*
 * ptxi_int.h - the PTX interpreter's internals: the decoded program (what
 * ptxi_parse.c produces once per module) and the execution state that
 * ptxi_exec.c, ptxi_alu.c, ptxi_warp.c and ptxi_mem.c share.
 */
#ifndef PTXI_INT_H
#define PTXI_INT_H

#include <stdint.h>
#include <stddef.h>

#include "ptxi.h"

enum ptxi_op {
	OP_MOV, OP_CVTA, OP_CVT, OP_ADD, OP_SUB, OP_MUL, OP_MAD, OP_FMA, OP_DIV,
	OP_REM, OP_MIN, OP_MAX, OP_ABS, OP_NEG, OP_AND, OP_OR, OP_XOR, OP_NOT,
	OP_SHL, OP_SHR, OP_SELP, OP_SETP, OP_POPC, OP_CLZ, OP_BFE, OP_BFI,
	OP_PRMT, OP_SQRT, OP_RSQRT, OP_RCP, OP_EX2, OP_LG2, OP_SIN, OP_COS,
	OP_TANH, OP_TESTP, OP_LD, OP_ST, OP_ATOM, OP_RED, OP_BRA, OP_RET,
	OP_EXIT, OP_BAR, OP_SHFL, OP_VOTE, OP_ACTIVEMASK, OP_MMA, OP_LDMATRIX,
	OP_CPASYNC, OP_CPCOMMIT, OP_CPWAIT, OP_CPWAITALL, OP__COUNT
};

enum ptxi_type {
	T_NONE, T_PRED, T_B8, T_B16, T_B32, T_B64, T_U8, T_U16, T_U32, T_U64,
	T_S8, T_S16, T_S32, T_S64, T_F32, T_F64, T_BF16, T_BF16X2, T__COUNT
};

/* Modifier values (one field each in struct ptxi_insn). */
enum { CMP_NONE, CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_LO,
       CMP_LS, CMP_HI, CMP_HS, CMP_EQU, CMP_NEU, CMP_LTU, CMP_LEU, CMP_GTU,
       CMP_GEU, CMP_NUM, CMP_NAN };
enum { RND_NONE, RND_RN, RND_RZ, RND_RM, RND_RP, RND_RNI, RND_RZI, RND_RMI,
       RND_RPI };
enum { SP_NONE, SP_PARAM, SP_GLOBAL, SP_SHARED, SP_LOCAL };
/* .mode: shfl modes, vote modes, atom ops, mul halves, setp bool ops, testp. */
enum { M_NONE, M_UP, M_DOWN, M_BFLY, M_IDX, M_ALL, M_ANY, M_UNI, M_BALLOT,
       M_ADD, M_MINOP, M_MAXOP, M_EXCH, M_CAS, M_LO, M_HI, M_WIDE, M_AND,
       M_OR, M_FINITE, M_INFINITE, M_NAN, M_NUMBER, M_CA, M_CG };
enum {
	F_FTZ = 1u << 0, F_SAT = 1u << 1, F_APPROX = 1u << 2, F_FULL = 1u << 3,
	F_NC = 1u << 4, F_UNI = 1u << 5, F_TRANS = 1u << 6, F_TO = 1u << 7,
	F_BOOL = 1u << 8,	/* setp.cmp.and/.or: a third predicate operand */
};

enum { K_NONE, K_REG, K_IMM, K_FIMM, K_SPECIAL, K_SYM, K_VEC, K_MEM, K_LABEL };
/* Special registers: SR_TID + 0..2 etc. */
enum { SR_TID = 0, SR_NTID = 3, SR_CTAID = 6, SR_NCTAID = 9, SR_LANEID = 12,
       SR_WARPID = 13 };

#define PTXI_MAXVEC 4
struct ptxi_opnd {
	uint8_t kind;
	uint8_t n;		/* K_VEC: element count */
	uint8_t neg;		/* !%p */
	int32_t r[PTXI_MAXVEC];	/* K_REG r[0], K_VEC r[0..n), K_MEM base (-1: none); -1 in a vector is `_` */
	int32_t sym;		/* K_SYM / K_MEM symbol (-1: none), K_LABEL target pc, K_SPECIAL id */
	int64_t imm;		/* K_IMM value, K_MEM offset */
	double fimm;		/* K_FIMM (a decimal float literal) */
};

#define PTXI_MAXOPS 5
struct ptxi_insn {
	uint8_t op, type, type2, type3, cmp, rnd, space, mode, vec, nops;
	uint16_t flags;
	uint8_t guard_neg, width;	/* cp.async bytes, ldmatrix .x count */
	int32_t guard;			/* predicate register, -1 none */
	int32_t line;
	struct ptxi_opnd o[PTXI_MAXOPS];
	char text[56];			/* the mnemonic, for messages */
};

enum { SYM_SHARED, SYM_EXTERN_SHARED, SYM_LOCAL, SYM_PARAM };
struct ptxi_sym {
	char name[64];
	uint8_t kind;
	uint8_t type;		/* SYM_PARAM */
	uint32_t align, size, off;
};

struct ptxi_regdecl {
	char name[48];		/* "%r" of %r<N>, or the full name */
	int32_t count;		/* N of <N>; -1: a single register */
	int32_t base;		/* first slot */
	uint8_t type;
};

struct ptxi_kernel {
	char name[96];
	struct ptxi_insn *code;
	uint32_t ncode;
	uint32_t nregs;
	uint8_t *regtype;	/* per slot */
	struct ptxi_regdecl *regs;
	uint32_t nregdecl;
	struct ptxi_sym *syms;	/* this kernel's params, locals, shared and the module's shared */
	uint32_t nsyms;
	uint32_t nparams, param_bytes;
	uint32_t shared_static, shared_extern_off, local_bytes;
	int has_extern;
	uint32_t maxntid[3], reqntid[3];
	int line;
};

struct ptxi_module {
	char file[128];
	struct ptxi_kernel *k;
	uint32_t nk;
	struct ptxi_stats last;
	uint64_t budget;	/* 0: PTXI_BUDGET_ALL */
	int race_check;		/* -1: as the environment says (default on) */
};

/* ---- memory (ptxi_mem.c) ---- */
/* Generic windows: shared and local addresses live above these bases. */
#define PTXI_SHARED_WIN 0x7e0000000000ull
#define PTXI_LOCAL_WIN  0x7f0000000000ull
#define PTXI_WIN_SIZE   0x10000000000ull

struct ptxi_alloc {
	uint64_t base;
	size_t size;
	uint8_t *data;
	/* the race check's shadow, made on first use: per byte, writer CTA + 1 and launch */
	uint32_t *wcta, *wlaunch;
};
struct ptxi_dev {
	struct ptxi_alloc *a;
	size_t n, cap;
	uint64_t next;
	size_t last;		/* index of the last allocation hit */
	uint32_t launch;	/* launches so far: the global race check's epoch */
};
/* The bytes of [addr, addr+n) of one allocation, or NULL. */
uint8_t *ptxi_dev_span(struct ptxi_dev *d, uint64_t addr, size_t n);

/* ---- execution state ---- */
/* Instructions per launch: enough for any kernel of ours, catches one that never ends. */
#define PTXI_BUDGET_ALL 4000000000ull

enum { TS_RUN, TS_BAR, TS_COLL, TS_EXIT };

struct ptxi_cpa {		/* one pending cp.async */
	uint32_t dst; uint64_t src; uint32_t n, srcn; uint32_t group;
};

struct ptxi_thread {
	uint32_t pc;
	uint8_t state;
	uint32_t tid[3];
	uint32_t ltid, lane, warp;
	uint32_t cmask;		/* the member mask it arrived with (TS_COLL) */
	uint64_t *r;
	uint8_t *ri;		/* initialised bits, one byte per slot */
	uint8_t *local;
	struct ptxi_cpa *cpa;
	uint32_t ncpa, cpacap, cpa_group;
	uint32_t exit_line;
};

struct ptxi_cta {
	struct ptxi_module *m;
	struct ptxi_kernel *k;
	struct ptxi_dev *dev;
	struct ptxi_err *e;
	const struct ptxi_launch *l;
	uint32_t ctaid[3], ntid[3], nctaid[3];
	uint32_t nthreads;
	struct ptxi_thread *t;
	uint8_t *shared;
	uint32_t shared_bytes;
	uint8_t *param;
	uint64_t *regs;
	uint8_t *regi;
	int failed;
	uint64_t budget;	/* instructions left before "runaway" */
	/* where the last ptxi_addr() landed: the space after generic resolution */
	int last_space;
	uint32_t last_off;
	uint64_t last_addr;
	/* the optional race check (ptxi_race.c); epoch: barrier phases over the launch */
	int race_on;
	uint32_t epoch;
	uint16_t *race_wt, *race_rw;
	uint32_t *race_wep, *race_rep;
};

int ptxi_race_init(struct ptxi_cta *c);
void ptxi_race_free(struct ptxi_cta *c);
int ptxi_race_access(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		     uint32_t off, uint32_t n, const void *wdata);
/* The same for global memory across CTAs; addr must be the last span ptxi_dev_span hit. */
int ptxi_grace_access(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		      uint64_t addr, uint32_t n, const void *wdata);

/* Fault: formats the message with kernel, CTA, thread and file:line. Returns -EFAULT-ish code. */
int ptxi_fault(struct ptxi_cta *c, const struct ptxi_thread *t,
	       const struct ptxi_insn *in, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Operand access (ptxi_alu.c). 0 or -errno after ptxi_fault. */
int ptxi_get(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
	     const struct ptxi_opnd *o, int type, uint64_t *v);
int ptxi_get_reg(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		 int32_t reg, uint64_t *v);
void ptxi_set(struct ptxi_thread *t, int32_t reg, uint64_t v);

/* One non-collective instruction (ptxi_alu.c): 0, or -errno. Sets *jump. */
int ptxi_step(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in);

/* Memory access of one thread (ptxi_mem.c): resolves and bounds-checks. */
uint8_t *ptxi_addr(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		   int space, uint64_t addr, uint32_t n, int write);
int ptxi_mem_addr(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		  const struct ptxi_opnd *o, uint64_t *addr);
int ptxi_ldst(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in);
int ptxi_atom(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in);
int ptxi_cp_async(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in);
int ptxi_cp_wait(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		 int64_t keep, int all);

/* Collectives (ptxi_warp.c): called when thread t arrives at one. */
int ptxi_collective_arrive(struct ptxi_cta *c, struct ptxi_thread *t,
			   const struct ptxi_insn *in);

/* Floats (ptxi_float.c). */
float ptxi_f(uint64_t v);
uint64_t ptxi_fbits(float f);
float ptxi_ftz(float f);
float ptxi_round_f(double x, int rnd);	/* double -> float in a rounding mode */
float ptxi_approx(int op, float x, int ftz, uint64_t salt);
uint16_t ptxi_bf16_rn(float f);
float ptxi_bf16_f(uint16_t h);
uint64_t ptxi_hash(uint64_t x);

/* Type helpers (ptxi_parse.c). */
int ptxi_type_bits(int type);
int ptxi_type_signed(int type);
const char *ptxi_op_name(int op);

#endif /* PTXI_INT_H */
