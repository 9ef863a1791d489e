// SPDX-License-Identifier: MIT
/*
 * compile.c - polyctl compile --from tfjs|llama2c|safetensors SRC -o OUT.pnb [--name NAME]
 *             [--no-fold] [-q]
 *
 * Builds a .pnb from a TF.js graph model directory, a llama2.c file or a
 * Hugging Face Llama directory (lib/import/). Progress
 * goes to stderr when it is a terminal; one summary line to stdout at the end.
 */
#include <stdio.h>
#include <string.h>

#include "import/import.h"
#include "polyctl.h"

static const char usage_text[] =
	"usage: polyctl compile --from tfjs|llama2c|safetensors SRC -o OUT.pnb [--name NAME]\n"
	"                        [--no-fold] [-q]\n"
	"  --from tfjs   SRC is a TF.js graph model (model.json, shards, vocab.json)\n"
	"  --from llama2c  SRC is llama2.c's single-file Llama decoder (.bin)\n"
	"  --from safetensors  SRC is a Hugging Face Llama directory (config.json,\n"
	"                model.safetensors, tokenizer.json)\n"
	"  -o OUT.pnb    the file to write (atomically)\n"
	"  --name NAME   model name in the header (default use-lite; llama for decoders)\n"
	"  --no-fold     keep the graph as read: no exact rewrites (pool fold)\n"
	"  -q            no progress and no summary line\n"
	"       polyctl compile --from pnb EXACT.pnb -o OUT.pnb [passes]: see --from pnb --help\n";

static void progress(void *arg, const char *stage)
{
	(void)arg;
	fprintf(stderr, "polyctl compile: %s...\n", stage);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "polyctl compile: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

int cmd_compile(int argc, char **argv)
{
	const char *from = NULL, *dir = NULL, *out = NULL, *name = NULL;
	struct pn_compile_stats st = { 0 };
	struct pn_compile_opts o = { .stats = &st };
	struct pn_err err = { "" };
	int quiet = 0;

	for (int i = 1; i + 1 < argc; i++)	/* --from pnb: the PolyNet passes (compile_poly.c) */
		if (!strcmp(argv[i], "--from") && !strcmp(argv[i + 1], "pnb"))
			return cmd_compile_poly(argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **val = !strcmp(a, "--from") ? &from : !strcmp(a, "-o") ? &out :
				   !strcmp(a, "--name") ? &name : NULL;

		if (val) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			*val = argv[++i];
		} else if (!strcmp(a, "-q")) {
			quiet = 1;
		} else if (!strcmp(a, "--no-fold")) {
			o.no_pool_fold = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (dir) {
			return usage_error("one model directory expected, got another: '%s'", a);
		} else {
			dir = a;
		}
	}
	if (!from)
		return usage_error("%s", "--from FORMAT is required (tfjs, llama2c, safetensors)");
	if (strcmp(from, "tfjs") && strcmp(from, "llama2c") && strcmp(from, "safetensors"))
		return polyctl_fail("compile", "--from %s: unsupported format (supported: tfjs, "
				    "llama2c, safetensors)", from);
	if (!dir)
		return usage_error("%s", "no model file or directory given");
	if (!out)
		return usage_error("%s", "-o OUT.pnb is required");
	if (!name)
		name = strcmp(from, "tfjs") ? "llama" : "use-lite";
	if (!*name)
		return usage_error("%s", "--name must not be empty");
	o.name = name;
	if (!quiet && polyctl_tty())
		o.progress = progress;
	if ((!strcmp(from, "tfjs") ? pn_compile_tfjs(dir, out, &o, &err) :
	     !strcmp(from, "llama2c") ? pn_compile_llama2c(dir, out, &o, &err) :
	     pn_compile_safetensors(dir, out, &o, &err)))
		return polyctl_fail("compile", "%s", err.msg);
	if (!quiet)
		printf("compiled %s: %u nodes, %u tensors, %llu parameters, %llu bytes -> %s\n",
		       name, st.nodes, st.tensors, (unsigned long long)st.params,
		       (unsigned long long)st.file_bytes, out);
	return 0;
}
