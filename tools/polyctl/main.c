// SPDX-License-Identifier: MIT
/*
 * polyctl - the PolyNet command line: one verb per file, dispatched here.
 *
 *   polyctl [--socket PATH] VERB [ARGS]
 *
 * Global options come before the verb (as git's and docker's do) or after
 * it among the verb's own: --socket PATH is passed on to the verbs that talk
 * to polynetd (sock in the table below); another verb refuses it by name.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "polyctl.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	bool sock;		/* takes --socket PATH (talks to polynetd) */
} verbs[] = {
	{ "compile", cmd_compile, "compile --from FORMAT SRC -o OUT.pnb  build a .pnb from a model", false },
	{ "eval",    cmd_eval,    "eval MODEL.pnb --train F --test F     accuracy, cosine, latency", false },
	{ "inspect", cmd_inspect, "inspect FILE.pnb [--json]              header, tensors, nodes", false },
	{ "eval-gen", cmd_eval_gen, "eval-gen M.pnb --exact E.pnb --prompts F  decoder fidelity (KL, top-1)", false },
	{ "generate", cmd_generate, "generate M.pnb --prompt-file F [--json] continue prompts (decoders)", true },
	{ "run",     cmd_run,     "run FILE.pnb --text-file F [--json]    embed each line of F", true },
	{ "bench",   cmd_bench,   "bench FILE.pnb [--json]                latency percentiles", true },
	{ "load",    cmd_load,    "load FILE.pnb [--json]                 load into polynetd", true },
	{ "unload",  cmd_unload,  "unload NAME|#ID                        drop a loaded model", true },
	{ "list",    cmd_list,    "list [--json]                          polynetd's models", true },
	{ "stat",    cmd_stat,    "stat [--json | --prometheus]           polynetd's counters", true },
	{ "regions", cmd_regions, "regions [--remove STATE] [--json]      persistent regions", false },
};

int polyctl_tty(void)
{
	return isatty(STDERR_FILENO);
}

int polyctl_fail(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "polyctl %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: polyctl [--socket PATH] VERB [ARGS]\n"
		"  --socket PATH  polynetd's control socket (default $POLYNET_SOCKET, else %s),\n"
		"                 before or after the verb, for the verbs that talk to polynetd\n",
		"/run/polynet/polynetd.sock");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  polyctl %s\n", verbs[i].help);
	return f == stdout ? 0 : 2;
}

/*
 * The global options before the verb; *sock gets --socket's PATH. Returns the
 * verb's index in argv, or -1 after printing why (exit 2), or 0 for --help.
 */
static int globals(int argc, char **argv, const char **sock)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 0;
		if (!strcmp(a, "--socket") || !strcmp(a, "-s")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "polyctl: %s needs a PATH\n", a);
				return -1;
			}
			*sock = argv[i + 1];
			i += 2;
		} else if (!strncmp(a, "--socket=", 9)) {
			*sock = a + 9;
			i++;
		} else {
			fprintf(stderr, "polyctl: unknown global option '%s' (the global options "
				"are --socket PATH and --help; a verb's options go after it)\n", a);
			return -1;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "polyctl: no verb given%s\n", i > 1 ? " after the global options" : "");
		return -1;
	}
	return i;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int v = globals(argc, argv, &sock);

	if (v == 0)
		return usage(stdout);
	if (v < 0) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[v], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char **va;
		int n = argc - v, r;

		if (strcmp(argv[v], verbs[i].name))
			continue;
		if (!sock)
			return verbs[i].fn(n, argv + v);
		if (!verbs[i].sock) {
			fprintf(stderr, "polyctl: --socket does not apply to '%s' (it does not "
				"talk to polynetd)\n", verbs[i].name);
			return 2;
		}
		/* VERB --socket PATH ARGS...: a --socket among ARGS comes later and wins */
		va = calloc((size_t)n + 3, sizeof(*va));
		if (!va)
			return polyctl_fail(verbs[i].name, "out of memory");
		va[0] = argv[v];
		va[1] = "--socket";
		va[2] = (char *)sock;
		memcpy(va + 3, argv + v + 1, sizeof(*va) * (size_t)(n - 1));
		r = verbs[i].fn(n + 2, va);
		free(va);
		return r;
	}
	fprintf(stderr, "polyctl: unknown verb '%s'\n", argv[v]);
	return usage(stderr);
}
