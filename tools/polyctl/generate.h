/* SPDX-License-Identifier: MIT */
/*
 * generate.h - what polyctl generate's two paths share (generate_out.c):
 * in process (generate.c) and through polynetd (generate_daemon.c) take
 * the same options, tokenize the same way and print the same output
 * (docs/generate.md), so both go through these.
 */
#ifndef POLYCTL_GENERATE_H
#define POLYCTL_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "util/stats.h"

struct cJSON;
struct pn_bpe;

struct gen_opts {
	const char *model, *prompts;
	const char *socket;		/* through polynetd: --socket PATH, or "" for --daemon */
	long max_tokens, every;		/* every: --stream-every (daemon only) */
	double temperature, top_p;
	unsigned long long seed;
	int json;
};

/*
 * Parses argv into o (defaults set here). Returns -1 to go on, else the
 * exit status (0 after --help, 2 after a usage error on stderr). usage is
 * the path's own help; --socket, --daemon and --stream-every are refused
 * unless daemon.
 */
int gen_parse(int argc, char **argv, struct gen_opts *o, const char *usage, int daemon);
int gen_usage_error(const char *usage, const char *fmt, const char *arg);
double gen_now_us(void);

/*
 * BOS + the prompt's ids into ids (ctx of room): the errors name the
 * prompt file and line; a prompt that leaves no room for one token is
 * -ENOSPC.
 */
int gen_encode(const struct pn_bpe *t, const struct gen_opts *o, uint64_t lineno,
	       const char *text, size_t len, int32_t *ids, uint32_t ctx, size_t *np,
	       struct pn_err *err);

/* One run's output: per prompt, as tokens arrive, and the summary. */
struct gen_out {
	const struct gen_opts *o;
	const struct pn_bpe *tok;
	struct pn_stats ttft, tok_us;	/* microseconds */
	uint64_t tokens;
	/* the prompt being generated */
	struct cJSON *doc, *ids, *lat;
	char *text;
	size_t len, cap;
	double ttft_prompt;
	int first;			/* the next gen_time is the time to first token */
	int32_t prev;
	uint32_t n;			/* its tokens so far */
};

int gen_out_init(struct gen_out *g, const struct gen_opts *o, const struct pn_bpe *tok,
		 struct pn_err *err);
void gen_out_free(struct gen_out *g);
void gen_begin(struct gen_out *g, uint64_t lineno, const char *prompt, const int32_t *ids,
	       size_t np);
/* The time to the first token, then the time of each later one. */
void gen_time(struct gen_out *g, double us);
/* A token: its text (streamed in text mode), its id (--json). */
int gen_token(struct gen_out *g, int32_t id, struct pn_err *err);
/* stop: "length", "eos" or "context"; ok 0 drops the prompt's output (it failed). */
void gen_end(struct gen_out *g, const char *stop, int ok);
void gen_summary(struct gen_out *g, uint64_t prompts, uint64_t failed);

#endif /* POLYCTL_GENERATE_H */
