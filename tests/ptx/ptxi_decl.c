/* SPDX-License-Identifier: MIT */
/*
 * ptxi_decl.c - declarations of a kernel: types, .param lists, .reg
 * (with %name<N> ranges), .shared / .extern .shared / .local arrays and
 * their layout, and the lookups of registers and symbols by name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_parse.h"

/* strncpy that always terminates (names longer than the field are cut) */
void ptxi_copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}


int ptxi_type_of(const char *t)
{
	static const char *const names[T__COUNT] = {
		[T_PRED] = "pred", [T_B8] = "b8", [T_B16] = "b16", [T_B32] = "b32",
		[T_B64] = "b64", [T_U8] = "u8", [T_U16] = "u16", [T_U32] = "u32",
		[T_U64] = "u64", [T_S8] = "s8", [T_S16] = "s16", [T_S32] = "s32",
		[T_S64] = "s64", [T_F32] = "f32", [T_F64] = "f64", [T_BF16] = "bf16",
		[T_BF16X2] = "bf16x2",
	};
	for (int i = 1; i < T__COUNT; i++)
		if (names[i] && !strcmp(names[i], t))
			return i;
	return T_NONE;
}

int ptxi_type_bits(int type)
{
	switch (type) {
	case T_PRED: return 1;
	case T_B8: case T_U8: case T_S8: return 8;
	case T_B16: case T_U16: case T_S16: case T_BF16: return 16;
	case T_B64: case T_U64: case T_S64: case T_F64: return 64;
	default: return 32;
	}
}

int ptxi_type_signed(int type)
{
	return type == T_S8 || type == T_S16 || type == T_S32 || type == T_S64;
}

struct ptxi_sym *ptxi_find_sym(struct ptxi_kernel *k, const char *name)
{
	for (uint32_t i = 0; i < k->nsyms; i++)
		if (!strcmp(k->syms[i].name, name))
			return &k->syms[i];
	return NULL;
}

int ptxi_find_reg(struct ptxi_kernel *k, const char *name)
{
	size_t len = strlen(name), pre = len;

	for (uint32_t i = 0; i < k->nregdecl; i++)
		if (k->regs[i].count < 0 && !strcmp(k->regs[i].name, name))
			return k->regs[i].base;
	while (pre > 0 && isdigit((unsigned char)name[pre - 1]))
		pre--;
	if (pre == len || pre == 0)
		return -1;
	long idx = strtol(name + pre, NULL, 10);
	/* %r01 is not %r1: PTX names registers by their exact spelling */
	if (name[pre] == '0' && len - pre > 1)
		return -1;
	for (uint32_t i = 0; i < k->nregdecl; i++) {
		const struct ptxi_regdecl *r = &k->regs[i];
		if (r->count >= 0 && strlen(r->name) == pre && !strncmp(r->name, name, pre) &&
		    idx < r->count)
			return r->base + (int)idx;
	}
	return -1;
}

int ptxi_add_sym(struct ptxi_pctx *p, struct ptxi_kernel *k, const struct ptxi_sym *s, int line)
{
	if (ptxi_find_sym(k, s->name))
		return ptxi_perr(p, line, "'%s' declared twice", s->name);
	struct ptxi_sym *ns = realloc(k->syms, (k->nsyms + 1) * sizeof *ns);
	if (!ns)
		return ptxi_perr(p, line, "out of memory");
	k->syms = ns;
	k->syms[k->nsyms++] = *s;
	return 0;
}

uint32_t ptxi_align_up(uint32_t v, uint32_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

/* ".shared .align A .b8 name[N]" / ".extern .shared ..." / ".local ..." */
int ptxi_decl_array(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line)
{
	struct ptxi_sym s = { .align = 1 };
	int ext = 0, space = -1, elem = 0;
	char *tok, *save = NULL;

	for (tok = strtok_r(st, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, ".extern"))
			ext = 1;
		else if (!strcmp(tok, ".shared"))
			space = SYM_SHARED;
		else if (!strcmp(tok, ".local"))
			space = SYM_LOCAL;
		else if (!strcmp(tok, ".align")) {
			tok = strtok_r(NULL, " \t", &save);
			s.align = tok ? (uint32_t)strtoul(tok, NULL, 0) : 0;
			if (!s.align || (s.align & (s.align - 1)))
				return ptxi_perr(p, line, "bad .align");
		} else if (tok[0] == '.') {
			int ty = ptxi_type_of(tok + 1);
			if (!ty || ty == T_PRED)
				return ptxi_perr(p, line, "unsupported in a declaration: %s", tok);
			elem = ptxi_type_bits(ty) / 8;
		} else
			break;
	}
	if (!tok || space < 0 || !elem)
		return ptxi_perr(p, line, "unsupported declaration");
	/* the rest is name[N] or name[] (possibly split by spaces) */
	char rest[128] = "";
	for (; tok; tok = strtok_r(NULL, " \t", &save))
		strncat(rest, tok, sizeof rest - strlen(rest) - 1);
	char *br = strchr(rest, '[');
	if (!br || rest[strlen(rest) - 1] != ']')
		return ptxi_perr(p, line, "a .shared/.local declaration must be an array");
	*br = 0;
	ptxi_copy_name(s.name, sizeof s.name, rest);
	if (br[1] == ']') {
		if (!ext || space != SYM_SHARED)
			return ptxi_perr(p, line, "an unsized array must be .extern .shared");
		s.kind = SYM_EXTERN_SHARED;
		k->has_extern = 1;
		if (s.align > k->shared_extern_off)
			k->shared_extern_off = s.align;	/* the alignment, until layout */
		return ptxi_add_sym(p, k, &s, line);
	}
	if (ext)
		return ptxi_perr(p, line, ".extern needs an unsized array");
	s.size = (uint32_t)strtoul(br + 1, NULL, 0) * (uint32_t)elem;
	s.kind = (uint8_t)space;
	if (space == SYM_SHARED) {
		s.off = ptxi_align_up(k->shared_static, s.align);
		k->shared_static = s.off + s.size;
	} else {
		s.off = ptxi_align_up(k->local_bytes, s.align);
		k->local_bytes = s.off + s.size;
	}
	return ptxi_add_sym(p, k, &s, line);
}

/* ".reg .b32 %r<10>, %x;" */
int ptxi_decl_reg(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line)
{
	char *save = NULL, *tok = strtok_r(st, " \t,", &save);	/* .reg */
	tok = strtok_r(NULL, " \t,", &save);
	int ty = tok && tok[0] == '.' ? ptxi_type_of(tok + 1) : T_NONE;
	if (!ty || ty == T_F64 || ty == T_B8 || ty == T_U8 || ty == T_S8)
		return ptxi_perr(p, line, "unsupported register type %s", tok ? tok : "");
	while ((tok = strtok_r(NULL, " \t,", &save))) {
		struct ptxi_regdecl r = { .count = -1, .type = (uint8_t)ty };
		char *lt = strchr(tok, '<');
		if (lt) {
			*lt = 0;
			r.count = atoi(lt + 1);
			if (r.count <= 0 || r.count > 100000)
				return ptxi_perr(p, line, "bad register count");
		}
		if (tok[0] != '%' || strlen(tok) >= sizeof r.name)
			return ptxi_perr(p, line, "bad register name '%s'", tok);
		ptxi_copy_name(r.name, sizeof r.name, tok);
		r.base = (int32_t)k->nregs;
		uint32_t cnt = r.count < 0 ? 1 : (uint32_t)r.count;
		struct ptxi_regdecl *nr = realloc(k->regs, (k->nregdecl + 1) * sizeof *nr);
		uint8_t *nt = realloc(k->regtype, k->nregs + cnt);
		if (!nr || !nt) {
			free(nr ? NULL : nt);
			return ptxi_perr(p, line, "out of memory");
		}
		k->regs = nr;
		k->regtype = nt;
		memset(k->regtype + k->nregs, ty, cnt);
		k->regs[k->nregdecl++] = r;
		k->nregs += cnt;
	}
	return 0;
}

/* "(.param .u64 a, .param .u32 n)" */
int ptxi_parse_params(struct ptxi_pctx *p, struct ptxi_kernel *k, char *list, int line)
{
	char *save = NULL;
	for (char *one = strtok_r(list, ",", &save); one; one = strtok_r(NULL, ",", &save)) {
		char sp[16], ty[16], name[64];
		if (sscanf(one, " %15s %15s %63s", sp, ty, name) != 3 || strcmp(sp, ".param"))
			return ptxi_perr(p, line, "bad parameter '%s'", one);
		int t = ptxi_type_of(ty + 1);
		if (t != T_U32 && t != T_S32 && t != T_U64 && t != T_F32 && t != T_B32 && t != T_B64)
			return ptxi_perr(p, line, "unsupported parameter type %s", ty);
		struct ptxi_sym s = { .kind = SYM_PARAM, .type = (uint8_t)t };
		s.size = s.align = (uint32_t)ptxi_type_bits(t) / 8;
		s.off = ptxi_align_up(k->param_bytes, s.align);
		k->param_bytes = s.off + s.size;
		ptxi_copy_name(s.name, sizeof s.name, name);
		if (ptxi_add_sym(p, k, &s, line))
			return -EINVAL;
		k->nparams++;
	}
	return 0;
}

