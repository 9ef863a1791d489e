/* SPDX-License-Identifier: MIT */
/*
 * ptxi_parse.c - a .ptx module's structure: comments, directives, .entry
 * headers with their params, .reg/.shared/.local declarations, labels and
 * statements. Each instruction statement goes to ptxi_decode_insn()
 * (ptxi_decode.c); labels are resolved once a kernel's body is complete.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_parse.h"

/* strncpy that always terminates (names longer than the field are cut) */
static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int ptxi_perr(struct ptxi_pctx *p, int line, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (!p->failed)
		snprintf(p->e->msg, sizeof p->e->msg, "%s:%d: %s", p->file, line, buf);
	p->failed = 1;
	return -EINVAL;
}

/* Blanks comments (keeping newlines, so line numbers stay true). */
static void strip_comments(char *s)
{
	for (; *s; s++) {
		if (s[0] == '/' && s[1] == '/') {
			while (*s && *s != '\n')
				*s++ = ' ';
			if (!*s)
				return;
		} else if (s[0] == '/' && s[1] == '*') {
			while (*s && !(s[0] == '*' && s[1] == '/')) {
				if (*s != '\n')
					*s = ' ';
				s++;
			}
			if (*s) {
				s[0] = ' ';
				s[1] = ' ';
				s++;
			}
		}
	}
}

static void skip_ws(struct ptxi_pctx *p)
{
	while (*p->s && isspace((unsigned char)*p->s)) {
		if (*p->s == '\n')
			p->line++;
		p->s++;
	}
}

/* The statement up to ';' (not included) into buf; *line its first line. */
static int read_stmt(struct ptxi_pctx *p, char *buf, size_t cap, int *line)
{
	size_t n = 0;

	*line = p->line;
	while (*p->s && *p->s != ';') {
		char ch = *p->s++;
		if (ch == '\n') {
			p->line++;
			ch = ' ';
		}
		if (n + 1 >= cap)
			return ptxi_perr(p, *line, "statement too long");
		buf[n++] = ch;
	}
	if (!*p->s)
		return ptxi_perr(p, *line, "missing ';'");
	p->s++;
	buf[n] = 0;
	return 0;
}

static int ident_char(int ch)
{
	return isalnum(ch) || ch == '_' || ch == '$' || ch == '.' || ch == '%';
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

static int add_sym(struct ptxi_pctx *p, struct ptxi_kernel *k, const struct ptxi_sym *s, int line)
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

static uint32_t align_up(uint32_t v, uint32_t a)
{
	return a ? (v + a - 1) / a * a : v;
}

/* ".shared .align A .b8 name[N]" / ".extern .shared ..." / ".local ..." */
static int decl_array(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line)
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
	copy_name(s.name, sizeof s.name, rest);
	if (br[1] == ']') {
		if (!ext || space != SYM_SHARED)
			return ptxi_perr(p, line, "an unsized array must be .extern .shared");
		s.kind = SYM_EXTERN_SHARED;
		k->has_extern = 1;
		if (s.align > k->shared_extern_off)
			k->shared_extern_off = s.align;	/* the alignment, until layout */
		return add_sym(p, k, &s, line);
	}
	if (ext)
		return ptxi_perr(p, line, ".extern needs an unsized array");
	s.size = (uint32_t)strtoul(br + 1, NULL, 0) * (uint32_t)elem;
	s.kind = (uint8_t)space;
	if (space == SYM_SHARED) {
		s.off = align_up(k->shared_static, s.align);
		k->shared_static = s.off + s.size;
	} else {
		s.off = align_up(k->local_bytes, s.align);
		k->local_bytes = s.off + s.size;
	}
	return add_sym(p, k, &s, line);
}

/* ".reg .b32 %r<10>, %x;" */
static int decl_reg(struct ptxi_pctx *p, struct ptxi_kernel *k, char *st, int line)
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
		copy_name(r.name, sizeof r.name, tok);
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
static int parse_params(struct ptxi_pctx *p, struct ptxi_kernel *k, char *list, int line)
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
		s.off = align_up(k->param_bytes, s.align);
		k->param_bytes = s.off + s.size;
		copy_name(s.name, sizeof s.name, name);
		if (add_sym(p, k, &s, line))
			return -EINVAL;
		k->nparams++;
	}
	return 0;
}

static int parse_ntid(struct ptxi_pctx *p, uint32_t *v, const char *args, int line)
{
	v[0] = v[1] = v[2] = 1;
	int n = sscanf(args, " %u , %u , %u", &v[0], &v[1], &v[2]);
	return n < 1 ? ptxi_perr(p, line, "bad thread count") : 0;
}

static int resolve_labels(struct ptxi_pctx *p, struct ptxi_kernel *k)
{
	for (uint32_t i = 0; i < k->ncode; i++) {
		struct ptxi_insn *in = &k->code[i];
		for (int j = 0; j < in->nops; j++) {
			if (in->o[j].kind != K_LABEL)
				continue;
			uint32_t l;
			for (l = 0; l < p->nlabels; l++)
				if (!strcmp(p->labels[l].name, p->pending[in->o[j].sym]))
					break;
			if (l == p->nlabels)
				return ptxi_perr(p, in->line, "unknown label '%s'",
						 p->pending[in->o[j].sym]);
			in->o[j].sym = (int32_t)p->labels[l].pc;
		}
	}
	return 0;
}

static void reset_labels(struct ptxi_pctx *p)
{
	for (uint32_t i = 0; i < p->npending; i++)
		free(p->pending[i]);
	free(p->pending);
	free(p->labels);
	p->pending = NULL;
	p->labels = NULL;
	p->npending = p->nlabels = 0;
}

static int add_label(struct ptxi_pctx *p, struct ptxi_kernel *k, const char *name, int line)
{
	for (uint32_t i = 0; i < p->nlabels; i++)
		if (!strcmp(p->labels[i].name, name))
			return ptxi_perr(p, line, "label '%s' defined twice", name);
	void *nl = realloc(p->labels, (p->nlabels + 1) * sizeof *p->labels);
	if (!nl)
		return ptxi_perr(p, line, "out of memory");
	p->labels = nl;
	copy_name(p->labels[p->nlabels].name, sizeof p->labels[0].name, name);
	p->labels[p->nlabels++].pc = k->ncode;
	return 0;
}

/* The body of one kernel, from after '{' to its matching '}'. */
static int parse_body(struct ptxi_pctx *p, struct ptxi_kernel *k)
{
	char st[1024];
	int depth = 1, line;

	for (;;) {
		skip_ws(p);
		if (!*p->s)
			return ptxi_perr(p, p->line, "kernel %s: missing '}'", k->name);
		if (*p->s == '{') {	/* a nested scope: declarations stay kernel-wide */
			depth++;
			p->s++;
			continue;
		}
		if (*p->s == '}') {
			p->s++;
			if (--depth == 0)
				break;
			continue;
		}
		/* a label? */
		const char *q = p->s;
		while (ident_char((unsigned char)*q) && *q != '%')
			q++;
		if (q > p->s && *q == ':') {
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)(q - p->s), p->s);
			if (add_label(p, k, name, p->line))
				return -EINVAL;
			p->s = q + 1;
			continue;
		}
		if (read_stmt(p, st, sizeof st, &line))
			return -EINVAL;
		char *b = st;
		while (isspace((unsigned char)*b))
			b++;
		if (!strncmp(b, ".reg", 4) && isspace((unsigned char)b[4])) {
			if (decl_reg(p, k, b, line))
				return -EINVAL;
		} else if (!strncmp(b, ".shared", 7) || !strncmp(b, ".local", 6) ||
			   !strncmp(b, ".extern", 7)) {
			if (decl_array(p, k, b, line))
				return -EINVAL;
		} else if (b[0] == '.') {
			return ptxi_perr(p, line, "unsupported directive '%.40s'", b);
		} else {
			struct ptxi_insn *nc = realloc(k->code, (k->ncode + 1) * sizeof *nc);
			if (!nc)
				return ptxi_perr(p, line, "out of memory");
			k->code = nc;
			memset(&k->code[k->ncode], 0, sizeof *k->code);
			if (ptxi_decode_insn(p, k, b, line, &k->code[k->ncode]))
				return -EINVAL;
			k->ncode++;
		}
	}
	if (resolve_labels(p, k))
		return -EINVAL;
	reset_labels(p);
	k->shared_extern_off = k->has_extern ?
		align_up(k->shared_static, k->shared_extern_off ? k->shared_extern_off : 1) :
		k->shared_static;
	for (uint32_t i = 0; i < k->nsyms; i++)
		if (k->syms[i].kind == SYM_EXTERN_SHARED)
			k->syms[i].off = k->shared_extern_off;
	return 0;
}

/* ".visible .entry name(params) .maxntid 128,1,1 {" */
static int parse_entry(struct ptxi_pctx *p, struct ptxi_module *m, int line)
{
	struct ptxi_kernel *nk = realloc(m->k, (m->nk + 1) * sizeof *nk);
	if (!nk)
		return ptxi_perr(p, line, "out of memory");
	m->k = nk;
	struct ptxi_kernel *k = &m->k[m->nk++];
	memset(k, 0, sizeof *k);
	k->line = line;
	/* module-level .shared symbols are visible to every kernel */
	for (uint32_t i = 0; i < p->nmodsyms; i++) {
		struct ptxi_sym s = p->modsyms[i];
		if (s.kind == SYM_SHARED) {
			s.off = align_up(k->shared_static, s.align);
			k->shared_static = s.off + s.size;
		} else
			k->has_extern = 1;
		if (add_sym(p, k, &s, line))
			return -EINVAL;
	}
	skip_ws(p);
	const char *q = p->s;
	while (ident_char((unsigned char)*q))
		q++;
	snprintf(k->name, sizeof k->name, "%.*s", (int)(q - p->s), p->s);
	p->s = q;
	skip_ws(p);
	if (*p->s == '(') {
		char list[1024];
		size_t n = 0;
		p->s++;
		while (*p->s && *p->s != ')' && n + 1 < sizeof list) {
			if (*p->s == '\n')
				p->line++;
			list[n++] = *p->s == '\n' ? ' ' : *p->s;
			p->s++;
		}
		list[n] = 0;
		if (*p->s != ')')
			return ptxi_perr(p, line, "kernel %s: bad parameter list", k->name);
		p->s++;
		if (parse_params(p, k, list, line))
			return -EINVAL;
	}
	for (;;) {
		skip_ws(p);
		if (*p->s == '{') {
			p->s++;
			return parse_body(p, k);
		}
		char dir[16], args[64] = "";
		int dline = p->line, n = 0;
		while (*p->s && !isspace((unsigned char)*p->s) && n < 15)
			dir[n++] = *p->s++;
		dir[n] = 0;
		n = 0;
		while (*p->s && (isdigit((unsigned char)*p->s) || *p->s == ',' || *p->s == ' ') && n < 63)
			args[n++] = *p->s++;
		args[n] = 0;
		if (!strcmp(dir, ".maxntid")) {
			if (parse_ntid(p, k->maxntid, args, dline))
				return -EINVAL;
		} else if (!strcmp(dir, ".reqntid")) {
			if (parse_ntid(p, k->reqntid, args, dline))
				return -EINVAL;
		} else
			return ptxi_perr(p, dline, "kernel %s: unsupported '%s'", k->name, dir);
	}
}

static int parse_module(struct ptxi_pctx *p, struct ptxi_module *m)
{
	char st[512];
	int line;

	for (;;) {
		skip_ws(p);
		if (!*p->s)
			return 0;
		line = p->line;
		if (!strncmp(p->s, ".visible", 8) && isspace((unsigned char)p->s[8])) {
			p->s += 8;
			continue;
		}
		if (!strncmp(p->s, ".entry", 6) && isspace((unsigned char)p->s[6])) {
			p->s += 6;
			if (parse_entry(p, m, line))
				return -EINVAL;
			continue;
		}
		if (!strncmp(p->s, ".version", 8) || !strncmp(p->s, ".target", 7) ||
		    !strncmp(p->s, ".address_size", 13)) {
			/* these end at the end of the line, not at a ';' */
			size_t n = strcspn(p->s, "\n");
			if (n >= sizeof st)
				return ptxi_perr(p, line, "directive too long");
			memcpy(st, p->s, n);
			st[n] = 0;
			p->s += n;
		} else if (read_stmt(p, st, sizeof st, &line))
			return -EINVAL;
		char *b = st;
		while (isspace((unsigned char)*b))
			b++;
		char d0[24] = "", d1[24] = "";
		sscanf(b, "%23s %23s", d0, d1);
		if (!strcmp(d0, ".version")) {
			if (strncmp(d1, "8.", 2))
				return ptxi_perr(p, line, "unsupported .version %s (8.x)", d1);
		} else if (!strcmp(d0, ".target")) {
			if (strncmp(d1, "sm_", 3))
				return ptxi_perr(p, line, "unsupported .target %s", d1);
		} else if (!strcmp(d0, ".address_size")) {
			if (strcmp(d1, "64"))
				return ptxi_perr(p, line, "only .address_size 64");
		} else if (!strcmp(d0, ".shared") || !strcmp(d0, ".extern")) {
			/* parse into a scratch kernel to reuse decl_array */
			struct ptxi_kernel tmp = { 0 };
			if (decl_array(p, &tmp, b, line)) {
				free(tmp.syms);
				return -EINVAL;
			}
			void *ns = realloc(p->modsyms, (p->nmodsyms + 1) * sizeof *p->modsyms);
			if (!ns) {
				free(tmp.syms);
				return ptxi_perr(p, line, "out of memory");
			}
			p->modsyms = ns;
			p->modsyms[p->nmodsyms++] = tmp.syms[0];
			free(tmp.syms);
		} else
			return ptxi_perr(p, line, "unsupported module directive '%.40s'", b);
	}
}

int ptxi_load_text(const char *text, const char *name, struct ptxi_module **out,
		   struct ptxi_err *e)
{
	struct ptxi_module *m = calloc(1, sizeof *m);
	char *buf = strdup(text);
	struct ptxi_pctx p = { .e = e, .line = 1 };
	int rc;

	e->msg[0] = 0;
	*out = NULL;
	if (!m || !buf) {
		free(m);
		free(buf);
		snprintf(e->msg, sizeof e->msg, "%s: out of memory", name);
		return -ENOMEM;
	}
	copy_name(m->file, sizeof m->file, name);
	p.file = m->file;
	strip_comments(buf);
	p.s = buf;
	rc = parse_module(&p, m);
	reset_labels(&p);
	free(p.modsyms);
	free(buf);
	if (rc) {
		ptxi_free(m);
		return -EINVAL;
	}
	*out = m;
	return 0;
}

int ptxi_load(const char *path, struct ptxi_module **out, struct ptxi_err *e)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long n;
	int rc;

	if (!f) {
		snprintf(e->msg, sizeof e->msg, "%s: cannot open", path);
		return -ENOENT;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc((size_t)n + 1);
	if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		fclose(f);
		snprintf(e->msg, sizeof e->msg, "%s: cannot read", path);
		return -EIO;
	}
	text[n] = 0;
	fclose(f);
	rc = ptxi_load_text(text, path, out, e);
	free(text);
	return rc;
}

void ptxi_free(struct ptxi_module *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nk; i++) {
		free(m->k[i].code);
		free(m->k[i].regtype);
		free(m->k[i].regs);
		free(m->k[i].syms);
	}
	free(m->k);
	free(m);
}
