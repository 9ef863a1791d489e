// SPDX-License-Identifier: MIT
/*
 * compile_poly.c - polyctl compile --from pnb EXACT.pnb -o OUT.pnb [passes]
 *
 * Applies the PolyNet passes (lib/compile/polyc.h) to an exact .pnb: every
 * variant is one command line (docs/compile.md, "PolyNet passes"). The
 * per-pass report goes to stdout (unless -q), as JSON to --report FILE;
 * a progress bar to stderr when it is a terminal.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "polyctl.h"

static const char usage_text[] =
	"usage: polyctl compile --from pnb EXACT.pnb -o OUT.pnb [--calib FILE] [options]\n"
	"  --calib FILE         calibration texts: JSON list of {\"text\"} or one per line\n"
	"  --calib-max N        use the first N texts    --calib-rows N  reservoir rows (4096)\n"
	"  --seed S             k-means, LSH planes, reservoir (1)\n"
	"  --poly-ffn           PackedPolyFFN on the FFNs   --poly-tol X  max act error (0.01)\n"
	"  --poly-clip Q        range = quantile Q of |pre-activation| (0.999)\n"
	"  --poly-max-degree N  (128)    --poly-force  apply the best fit when tol is missed\n"
	"  --vq K               VQ CacheNode of K codes per FFN\n"
	"  --vq-mode codebook   VQ codes + codebook POLY_FFN (series per --poly-tol) instead\n"
	"  --cqa C              clustered query attention, C clusters per head\n"
	"  --cqa-topk K         the improved top-k variant   --cqa-bits B  LSH planes (32)\n"
	"  --macro E            Macro-Operator of E experts over the most alike run of layers\n"
	"  --macro-rank R (128) --macro-len N (all) --macro-topk K (1) --macro-degree D (8)\n"
	"  --macro-ridge X      ridge lambda relative to the mean diagonal (1e-3)\n"
	"  --macro-first L      replace the run starting at layer L (default: the most alike)\n"
	"  --macro-seed ffn     one expert seeded from the run's own FFN neurons (exact act,\n"
	"                       --macro-rank of them, W2 refitted); default random features\n"
	"  --attn-mean L        mean mixing: layers L's attention with uniform weights (the\n"
	"                       mean of the values, one row per sequence)\n"
	"  --ffn-keep K         FFN neuron selection: keep K hidden neurons, refit W2 by ridge\n"
	"                       (K0,K1,...: Ki in layer i, 0 leaves it)\n"
	"  --ffn-keep-ridge X   its ridge lambda (1e-4)\n"
	"  --int8               int8 GEMM weights (LINEAR, FFN), per-channel scales; inputs\n"
	"                       quantized per row at run time (docs/quant.md)\n"
	"  --int8-act static    one calibrated input quantization per GEMM instead (--calib)\n"
	"  --int8-clip Q        static: input range = quantiles 1-Q..Q (0.9999)\n"
	"  --int8-budget X      keep a GEMM f32 where its rel_err on --calib exceeds X\n"
	"  --bf16               bf16 GEMM weights, f32 accumulation\n"
	"  --poly-layers L, --vq-layers L, --cqa-layers L, --ffn-keep-layers L,\n"
	"  --int8-layers L      comma-separated layers (all; --int8-layers also leaves the\n"
	"                       nodes of no layer, the head, in f32)\n"
	"  --report FILE        the report as JSON     -q  no report on stdout\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "polyctl compile: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

static void progress(void *arg, const char *stage, uint32_t done, uint32_t total)
{
	(void)arg;
	if (total) {
		int w = 30, k = (int)((uint64_t)done * w / total);

		fprintf(stderr, "\rpolyctl compile: %s [%.*s%*s] %u/%u", stage, k,
			"##############################", w - k, "", done, total);
		if (done == total)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "polyctl compile: %s...\n", stage);
	}
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || end == s || *end || x > 0xffffffffu || s[0] == '-')
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int parse_layers(const char *s, uint32_t *mask)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t l;

		if (parse_u32(tok, &l) || l >= 32)
			return -1;
		*mask |= 1u << l;
	}
	return *mask ? 0 : -1;
}

/* "--ffn-keep K" (every layer) or "K0,K1,..." (layer i keeps Ki; 0 leaves it). */
static int parse_keep(const char *s, struct pn_poly_opts *o)
{
	char buf[128], *tok, *save = NULL;
	uint32_t l = 0, k, n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), l++) {
		if (parse_u32(tok, &k) || l >= 32)
			return -1;
		o->ffn_keep_per[l] = k;
		o->ffn_keep = k > o->ffn_keep ? k : o->ffn_keep;
		n++;
	}
	if (!o->ffn_keep)
		return -1;
	if (n > 1)	/* a list names its layers: those with a K */
		for (l = 0; l < n; l++)
			o->ffn_keep_layers |= o->ffn_keep_per[l] ? 1u << l : 0;
	else
		o->ffn_keep_per[0] = 0;
	return 0;
}

static int write_report(const char *path, const struct pn_poly_report *rep)
{
	char *s = cJSON_Print(rep->json);
	FILE *fp = s ? fopen(path, "w") : NULL;
	int ok = fp && fputs(s, fp) >= 0 && fputc('\n', fp) != EOF;

	if (fp && fclose(fp))
		ok = 0;
	free(s);
	return ok ? 0 : -1;
}

/* A two-word option: *flag = (v is yes); 1, or -1 when v is neither word. */
static int choice(const char *v, const char *yes, const char *no, int *flag)
{
	if (strcmp(v, yes) && strcmp(v, no))
		return -1;
	*flag = !strcmp(v, yes);
	return 1;
}

/* One option with a value; 1 if a consumed, 0 if not ours, -1 on a bad value. */
static int option(struct pn_poly_opts *o, const char *a, const char *v)
{
	static const struct { const char *name; size_t off; } u32s[] = {
		{ "--calib-max", offsetof(struct pn_poly_opts, calib_max) },
		{ "--calib-rows", offsetof(struct pn_poly_opts, calib_rows) },
		{ "--poly-max-degree", offsetof(struct pn_poly_opts, poly_max_degree) },
		{ "--vq", offsetof(struct pn_poly_opts, vq) },
		{ "--cqa", offsetof(struct pn_poly_opts, cqa) },
		{ "--cqa-topk", offsetof(struct pn_poly_opts, cqa_topk) },
		{ "--cqa-bits", offsetof(struct pn_poly_opts, cqa_bits) },
		{ "--macro", offsetof(struct pn_poly_opts, macro) },
		{ "--macro-rank", offsetof(struct pn_poly_opts, macro_rank) },
		{ "--macro-len", offsetof(struct pn_poly_opts, macro_len) },
		{ "--macro-topk", offsetof(struct pn_poly_opts, macro_topk) },
		{ "--macro-degree", offsetof(struct pn_poly_opts, macro_degree) },
	};
	char *end;

	for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
		if (!strcmp(a, u32s[i].name))
			return parse_u32(v, (uint32_t *)((char *)o + u32s[i].off)) ? -1 : 1;
	if (!strcmp(a, "--poly-layers"))
		return parse_layers(v, &o->poly_layers) ? -1 : 1;
	if (!strcmp(a, "--vq-layers"))
		return parse_layers(v, &o->vq_layers) ? -1 : 1;
	if (!strcmp(a, "--macro-first")) {	/* stored + 1: 0 means "choose" */
		if (parse_u32(v, &o->macro_first) || o->macro_first >= 32)
			return -1;
		o->macro_first++;
		return 1;
	}
	if (!strcmp(a, "--ffn-keep"))
		return parse_keep(v, o) ? -1 : 1;
	if (!strcmp(a, "--attn-mean")) {
		o->attn_mean = 1;
		return parse_layers(v, &o->attn_mean_layers) ? -1 : 1;
	}
	if (!strcmp(a, "--ffn-keep-layers"))
		return parse_layers(v, &o->ffn_keep_layers) ? -1 : 1;
	if (!strcmp(a, "--vq-mode"))
		return choice(v, "codebook", "cache", &o->vq_codebook);
	if (!strcmp(a, "--macro-seed"))
		return choice(v, "ffn", "random", &o->macro_seed_ffn);
	if (!strcmp(a, "--cqa-layers"))
		return parse_layers(v, &o->cqa_layers) ? -1 : 1;
	if (!strcmp(a, "--int8-layers"))
		return parse_layers(v, &o->quant_layers) ? -1 : 1;
	if (!strcmp(a, "--int8-act"))
		return choice(v, "static", "dynamic", &o->quant_static);
	if (!strcmp(a, "--int8-clip")) {
		o->quant_clip = strtod(v, &end);
		return *end || end == v || !(o->quant_clip > 0.5 && o->quant_clip <= 1) ? -1 : 1;
	}
	if (!strcmp(a, "--seed")) {
		o->seed = strtoull(v, &end, 10);
		return *end || end == v ? -1 : 1;
	}
	{
		double *d = !strcmp(a, "--poly-tol") ? &o->poly_tol :
			    !strcmp(a, "--poly-clip") ? &o->poly_clip :
			    !strcmp(a, "--macro-ridge") ? &o->macro_ridge :
			    !strcmp(a, "--ffn-keep-ridge") ? &o->ffn_keep_ridge :
			    !strcmp(a, "--int8-budget") ? &o->quant_budget : NULL;

		if (d) {
			*d = strtod(v, &end);
			return *end || end == v || !(*d > 0) ? -1 : 1;
		}
	}
	return 0;
}

int cmd_compile_poly(int argc, char **argv)
{
	const char *from = NULL, *in = NULL, *out = NULL, *report = NULL;
	struct pn_poly_opts o = { 0 };
	struct pn_poly_report rep;
	struct pn_err err = { "" };
	int quiet = 0, r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **val = !strcmp(a, "--from") ? &from : !strcmp(a, "-o") ? &out :
				   !strcmp(a, "--calib") ? &o.calib :
				   !strcmp(a, "--report") ? &report : NULL;

		if (!strcmp(a, "-q")) {
			quiet = 1;
		} else if (!strcmp(a, "--poly-ffn")) {
			o.poly_ffn = 1;
		} else if (!strcmp(a, "--poly-force")) {
			o.poly_force = 1;
		} else if (!strcmp(a, "--int8") || !strcmp(a, "--bf16")) {
			if (o.quant)
				return usage_error("%s", "--int8 and --bf16 exclude each other");
			o.quant = !strcmp(a, "--int8") ? PNB_DTYPE_I8 : PNB_DTYPE_BF16;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value or is unknown", a);
			if (val) {
				*val = argv[++i];
				continue;
			}
			r = option(&o, a, argv[i + 1]);
			if (r == 0)
				return usage_error("unknown option '%s'", a);
			if (r < 0)
				return usage_error("bad value for %s", a);
			i++;
		} else if (in) {
			return usage_error("one input .pnb expected, got another: '%s'", a);
		} else {
			in = a;
		}
	}
	if (!in)
		return usage_error("%s", "no input .pnb given");
	if (!out)
		return usage_error("%s", "-o OUT.pnb is required");
	if (o.quant != PNB_DTYPE_I8 &&
	    (o.quant_static || o.quant_budget > 0 || o.quant_layers || o.quant_clip))
		return usage_error("%s", "--int8-act, --int8-clip, --int8-budget and --int8-layers "
				   "need --int8");
	if (!o.poly_ffn && !o.vq && !o.cqa && !o.macro && !o.ffn_keep && !o.attn_mean &&
	    !o.quant)
		fprintf(stderr, "polyctl compile: no pass selected: writing a copy of %s\n", in);
	if (!quiet && polyctl_tty())
		o.progress = progress;
	r = pn_compile_poly(in, out, &o, &rep, &err);
	if (!r && !quiet && rep.text)
		fputs(rep.text, stdout);
	if (!r && report && write_report(report, &rep))
		r = polyctl_fail("compile", "%s: cannot write the report", report) ? -EIO : 0;
	else if (r)
		polyctl_fail("compile", "%s", err.msg);
	pn_report_free(&rep);
	(void)from;
	return r ? 1 : 0;
}
