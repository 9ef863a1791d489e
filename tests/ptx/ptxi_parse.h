/* SPDX-License-Identifier: MIT */
/*
 * ptxi_parse.h - the parser's context, shared by ptxi_parse.c (module
 * structure) and ptxi_decode.c (one instruction).
 */
#ifndef PTXI_PARSE_H
#define PTXI_PARSE_H

#include "ptxi_int.h"

struct ptxi_label { char name[64]; uint32_t pc; };

struct ptxi_pctx {
	const char *file;
	struct ptxi_err *e;
	const char *s;		/* the (comment-stripped) text left */
	int line;
	int failed;
	struct ptxi_label *labels;	/* of the kernel being parsed */
	uint32_t nlabels;
	char **pending;			/* label names used by branches, by K_LABEL .sym */
	uint32_t npending;
	struct ptxi_sym *modsyms;	/* module-level .shared */
	uint32_t nmodsyms;
};

int ptxi_perr(struct ptxi_pctx *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ptxi_type_of(const char *t);
/* Declarations (ptxi_decl.c). */
void ptxi_copy_name(char *dst, size_t cap, const char *src);
uint32_t ptxi_align_up(uint32_t v, uint32_t a);
int ptxi_add_sym(struct ptxi_pctx *p, struct ptxi_kernel *k, const struct ptxi_sym *s, int line);
int ptxi_decl_array(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line);
int ptxi_decl_reg(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line);
int ptxi_parse_params(struct ptxi_pctx *p, struct ptxi_kernel *k, char *list, int line);
struct ptxi_sym *ptxi_find_sym(struct ptxi_kernel *k, const char *name);
int ptxi_find_reg(struct ptxi_kernel *k, const char *name);
/* Decodes one instruction statement (guard, mnemonic, operands) into *in. */
int ptxi_decode_insn(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line,
		     struct ptxi_insn *in);
/* The dialect's shape of an instruction (ptxi_check.c): 0, or -1 to refuse. */
int ptxi_check_insn(const struct ptxi_insn *in, int ntypes, const struct ptxi_kernel *k);

#endif /* PTXI_PARSE_H */
