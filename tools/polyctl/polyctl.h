/* SPDX-License-Identifier: MIT */
/* polyctl.h - the CLI's verbs, one file each (tools/polyctl/VERB.c). */
#ifndef POLYCTL_H
#define POLYCTL_H

/* Each returns the process exit status: 0 ok, 1 failure, 2 usage error. */
int cmd_compile(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_stat(int argc, char **argv);
/* polyctl regions [--remove STATE] [--json]: persistent regions in /dev/shm */
int cmd_regions(int argc, char **argv);
/* polyctl eval MODEL.pnb --train FILE --test FILE [--exact EXACT.pnb] [--json] */
int cmd_eval(int argc, char **argv);
/* generate M.pnb --prompt-file F [sampling options] [--json]: continue each prompt */
int cmd_generate(int argc, char **argv);
/* the same through polynetd (generate_daemon.c), chosen by --socket PATH or --daemon */
int cmd_generate_daemon(int argc, char **argv);
int polyctl_generate_daemon_args(int argc, char **argv);
/* eval-gen VARIANT.pnb --exact EXACT.pnb --prompts F: a decoder's per-token fidelity */
int cmd_eval_gen(int argc, char **argv);
/* compile --from pnb EXACT.pnb -o OUT.pnb [pass options]: the PolyNet passes */
int cmd_compile_poly(int argc, char **argv);

/*
 * list and stat: parse --json/--socket, fetch one JSON document from the
 * daemon, print it or its table. With fetch_text (stat), --prometheus
 * prints that text instead. Returns the exit status.
 */
struct pn_client;
struct pn_err;
struct cJSON;
int polyctl_daemon_json(const char *verb, int argc, char **argv,
			int (*fetch)(struct pn_client *, char **, struct pn_err *),
			void (*table)(const struct cJSON *),
			int (*fetch_text)(struct pn_client *, char **, struct pn_err *));

/* polyctl inspect's quantized GEMMs: a text section / "quantized_gemms" (inspect_quant.c). */
struct pnb_file;
void polyctl_inspect_quant_text(const struct pnb_file *f);
void polyctl_inspect_quant_json(const struct pnb_file *f, struct cJSON *doc);

/* polyctl inspect --ops: the op table as Markdown (inspect_ops.c). */
int polyctl_inspect_ops(void);

/* Shared by verbs: is stderr a terminal (progress bars only then). */
int polyctl_tty(void);
/* Prints "polyctl VERB: msg" to stderr; returns 1. */
int polyctl_fail(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* POLYCTL_H */
