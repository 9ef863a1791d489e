/* SPDX-License-Identifier: MIT */
/*
 * ptxi_parse.c - a .ptx module's structure: comments, directives, .entry
 * headers, kernel bodies, labels and statements. Declarations go to
 * ptxi_decl.c, each instruction statement to ptxi_decode_insn()
 * (ptxi_decode.c); labels are resolved once a kernel's body is complete.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_parse.h"

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
	ptxi_copy_name(p->labels[p->nlabels].name, sizeof p->labels[0].name, name);
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
			if (ptxi_decl_reg(p, k, b, line))
				return -EINVAL;
		} else if (!strncmp(b, ".shared", 7) || !strncmp(b, ".local", 6) ||
			   !strncmp(b, ".extern", 7)) {
			if (ptxi_decl_array(p, k, b, line))
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
		ptxi_align_up(k->shared_static, k->shared_extern_off ? k->shared_extern_off : 1) :
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
			s.off = ptxi_align_up(k->shared_static, s.align);
			k->shared_static = s.off + s.size;
		} else
			k->has_extern = 1;
		if (ptxi_add_sym(p, k, &s, line))
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
		if (ptxi_parse_params(p, k, list, line))
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
			if (ptxi_decl_array(p, &tmp, b, line)) {
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
	m->race_check = -1;	/* the default: PTXI_RACE_CHECK decides, on when unset */
	ptxi_copy_name(m->file, sizeof m->file, name);
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

int ptxi_entry_params(const struct ptxi_module *m, const char *kernel, uint32_t *n,
		      uint32_t *sizes, uint32_t *aligns, uint32_t cap)
{
	for (uint32_t i = 0; i < m->nk; i++) {
		const struct ptxi_kernel *k = &m->k[i];
		if (strcmp(k->name, kernel))
			continue;
		uint32_t w = 0;
		for (uint32_t s = 0; s < k->nsyms; s++) {
			if (k->syms[s].kind != SYM_PARAM)
				continue;
			if (w < cap) {
				sizes[w] = k->syms[s].size;
				aligns[w] = k->syms[s].align;
			}
			w++;
		}
		*n = w;
		return w > cap ? -ENOSPC : 0;
	}
	return -ENOENT;
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
