// SPDX-License-Identifier: MIT
/* polyctl - the PolyNet command line: one verb per file, dispatched here. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "polyctl.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} verbs[] = {
	{ "compile", cmd_compile, "compile --from tfjs DIR -o OUT.pnb    build a .pnb from a model" },
	{ "eval",    cmd_eval,    "eval MODEL.pnb --train F --test F     accuracy, cosine, latency" },
	{ "inspect", cmd_inspect, "inspect FILE.pnb [--json]              header, tensors, nodes" },
	{ "run",     cmd_run,     "run FILE.pnb --text-file F [--json]    embed each line of F" },
	{ "bench",   cmd_bench,   "bench FILE.pnb [--json]                latency percentiles" },
	{ "load",    cmd_load,    "load FILE.pnb [--json]                 load into polynetd" },
	{ "unload",  cmd_unload,  "unload NAME|#ID                        drop a loaded model" },
	{ "list",    cmd_list,    "list [--json]                          polynetd's models" },
	{ "stat",    cmd_stat,    "stat [--json]                          polynetd's counters" },
	{ "regions", cmd_regions, "regions [--remove STATE] [--json]      persistent regions" },
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
	fprintf(f, "usage: polyctl VERB [ARGS]\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  polyctl %s\n", verbs[i].help);
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "polyctl: unknown verb '%s'\n", argv[1]);
	return usage(stderr);
}
