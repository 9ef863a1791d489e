// SPDX-License-Identifier: MIT
/*
 * generate.c - polyctl generate M.pnb --prompt-file F [--max-tokens N]
 *              [--temperature T] [--top-p P] [--seed S] [--json]
 *
 * Continues each line of F (one prompt per line) with the decoder M,
 * in process, one session at a time. Text: each continuation on one line
 * of stdout as it is generated (newlines in it written \n, backslashes
 * \\), then a latency summary on stderr. --json: one object per prompt
 * and a last summary object, one per line (docs/generate.md). A prompt
 * that does not fit the context, or is not UTF-8, fails naming its line
 * and nothing of it is generated; the other prompts still run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "exec/exec.h"
#include "exec/model.h"
#include "gen/gen.h"
#include "gen/sample.h"
#include "text/tok_bpe.h"
#include "util/lines.h"
#include "util/stats.h"
#include "polyctl.h"

static const char usage_text[] =
	"usage: polyctl generate M.pnb --prompt-file F [--max-tokens N] [--temperature T]\n"
	"                        [--top-p P] [--seed S] [--json] [--socket PATH | --daemon]\n"
	"  --socket PATH     through polynetd there (--daemon: the default socket), the same\n"
	"                    output (its options: polyctl generate --daemon --help)\n"
	"  --prompt-file F   one prompt per line (- for stdin)\n"
	"  --max-tokens N    tokens to generate per prompt, 1..context-1 (default 64); fewer\n"
	"                    at EOS or where the context ends\n"
	"  --temperature T   0 greedy (default), else softmax(logits / T) sampling\n"
	"  --top-p P         keep the most probable tokens up to mass P, 0 < P <= 1 (default 1)\n"
	"  --seed S          the sampler's seed (default 0): a run repeats exactly\n"
	"  --json            one JSON object per prompt, then a summary object\n";

struct opts {
	const char *model, *prompts;
	long max_tokens;
	double temperature, top_p;
	unsigned long long seed;
	int json;
};

struct run {
	const struct opts *o;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_gen *g;
	float *logits;
	void *scratch;
	int32_t *ids;			/* prompt then continuation, context long */
	struct pn_stats ttft, tok;	/* microseconds */
	uint64_t tokens;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "polyctl generate: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
			continue;
		} else if (a[0] != '-') {
			if (o->model)
				return usage_error("one model expected, got another: '%s'", a);
			o->model = a;
			continue;
		}
		if (!v)
			return usage_error("%s needs a value", a);
		i++;
		errno = 0;
		if (!strcmp(a, "--prompt-file"))
			o->prompts = v, end = "";
		else if (!strcmp(a, "--max-tokens"))
			o->max_tokens = strtol(v, &end, 10);
		else if (!strcmp(a, "--temperature"))
			o->temperature = strtod(v, &end);
		else if (!strcmp(a, "--top-p"))
			o->top_p = strtod(v, &end);
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, &end, 10);
		else
			return usage_error("unknown option '%s'", a);
		if (errno || !end || *end || !*v)
			return usage_error("bad number '%s'", v);
	}
	if (!o->model)
		return usage_error("%s", "no model given");
	if (!o->prompts)
		return usage_error("%s", "--prompt-file F is required");
	return -1;
}

/* A continuation's bytes on one line: \n and \\ escaped. */
static void put_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			fputs("\\n", stdout);
		else if (s[i] == '\\')
			fputs("\\\\", stdout);
		else
			putchar(s[i]);
	}
}

/* One prompt: prefill, then sample and step until EOS, N tokens or the context's end. */
static int generate(struct run *R, uint64_t lineno, const char *text, size_t len,
		    struct pn_sampler *smp, struct pn_err *err)
{
	uint32_t ctx = pn_gen_max_len(R->g), V = pn_gen_vocab(R->g), n_out = 0, slot = 0;
	const char *stop = "length";
	cJSON *doc = NULL, *ids = NULL, *lat = NULL;
	size_t np;
	char *textbuf = NULL;
	size_t tlen = 0, tcap = 256;
	double t0 = now_us(), t, ttft = 0;
	int32_t id, prev;
	int r;

	r = pn_bpe_encode(R->m->bpe, text, len, R->ids, ctx, &np, err);
	if (r == -ENOSPC || (!r && np >= ctx))
		return pn_errf(err, -ENOSPC, "%s line %llu: prompt of %zu tokens, expected at most "
			       "%u (the model's context of %u leaves room for one more)",
			       R->o->prompts, (unsigned long long)lineno, np, ctx - 1, ctx);
	if (r) {
		char inner[sizeof(err->msg)];

		memcpy(inner, err->msg, sizeof(inner));
		return pn_errf(err, r, "%s line %llu: %s", R->o->prompts,
			       (unsigned long long)lineno, inner);
	}
	r = pn_gen_prefill(R->g, slot, R->ids, (uint32_t)np, R->logits, err);
	textbuf = malloc(tcap);
	if (!r && !textbuf)
		r = pn_errf(err, -ENOMEM, "out of memory");
	if (R->o->json) {
		doc = cJSON_CreateObject();
		cJSON_AddNumberToObject(doc, "line", (double)lineno);
		cJSON_AddStringToObject(doc, "prompt", text);
		ids = cJSON_AddArrayToObject(doc, "prompt_ids");
		for (size_t i = 0; i < np; i++)
			cJSON_AddItemToArray(ids, cJSON_CreateNumber(R->ids[i]));
		ids = cJSON_AddArrayToObject(doc, "ids");
		lat = cJSON_AddArrayToObject(doc, "token_us");
	}
	prev = R->ids[np - 1];
	while (!r) {
		const char *s;
		char byte;
		size_t n;

		id = pn_sample(smp, R->logits, V, R->scratch);
		t = now_us();
		if (n_out == 0) {
			ttft = t - t0;
			pn_stats_add(&R->ttft, ttft);
		} else {
			pn_stats_add(&R->tok, t - t0);
			if (lat)
				cJSON_AddItemToArray(lat, cJSON_CreateNumber(round((t - t0) * 10) / 10));
		}
		t0 = t;
		if (id == PN_BPE_EOS) {
			stop = "eos";
			break;
		}
		R->ids[np + n_out++] = id;
		R->tokens++;
		n = pn_bpe_piece(R->m->bpe, prev, id, &s, &byte);
		if (tlen + n + 1 > tcap) {
			char *nb = realloc(textbuf, 2 * tcap + n);

			if (!nb) {
				r = pn_errf(err, -ENOMEM, "out of memory");
				break;
			}
			textbuf = nb;
			tcap = 2 * tcap + n;
		}
		memcpy(textbuf + tlen, s, n);
		tlen += n;
		prev = id;
		if (ids)
			cJSON_AddItemToArray(ids, cJSON_CreateNumber(id));
		else {
			put_text(s, n);
			fflush(stdout);
		}
		if (n_out == (uint32_t)R->o->max_tokens)
			break;
		if (np + n_out >= ctx) {
			stop = "context";
			break;
		}
		r = pn_gen_step(R->g, 1, &slot, &id, R->logits, err);
	}
	if (!r && doc) {
		char *out;

		textbuf[tlen] = 0;
		cJSON_AddItemToObject(doc, "text", cJSON_CreateString(textbuf));
		cJSON_AddStringToObject(doc, "stop", stop);
		cJSON_AddNumberToObject(doc, "ttft_us", round(ttft * 10) / 10);
		out = cJSON_PrintUnformatted(doc);
		if (out)
			puts(out);
		free(out);
	} else if (!r) {
		putchar('\n');
	}
	cJSON_Delete(doc);
	free(textbuf);
	return r;
}

static void summary(struct run *R, uint64_t prompts, uint64_t failed)
{
	if (R->o->json) {
		printf("{\"summary\":{\"prompts\":%llu,\"failed\":%llu,\"tokens\":%llu,"
		       "\"ttft_us_p50\":%.1f,\"token_us_p50\":%.1f,\"token_us_p99\":%.1f,"
		       "\"token_us_p999\":%.1f}}\n", (unsigned long long)prompts,
		       (unsigned long long)failed, (unsigned long long)R->tokens,
		       pn_stats_pct(&R->ttft, 50), pn_stats_pct(&R->tok, 50),
		       pn_stats_pct(&R->tok, 99), pn_stats_pct(&R->tok, 99.9));
		return;
	}
	fprintf(stderr, "%llu prompts (%llu failed), %llu tokens: time to first token p50 %.1f us; "
		"per token p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n", (unsigned long long)prompts,
		(unsigned long long)failed, (unsigned long long)R->tokens,
		pn_stats_pct(&R->ttft, 50), pn_stats_pct(&R->tok, 50), pn_stats_pct(&R->tok, 99),
		pn_stats_pct(&R->tok, 99.9));
}

static int open_run(struct run *R, struct pn_err *err)
{
	uint32_t ctx;
	int r;

	r = pn_model_open(R->o->model, &R->m, err);
	if (!r && !R->m->bpe)
		r = pn_errf(err, -EINVAL, "%s: no Llama tokenizer: not a decoder model",
			    R->o->model);
	if (!r)
		r = pn_cpu_model_new(R->m, &R->cm, err);
	if (!r)
		r = pn_gen_new(R->cm, 1, R->m->max_tokens, NULL, &R->g, err);
	if (r)
		return r;
	ctx = pn_gen_max_len(R->g);
	if (R->o->max_tokens < 1 || R->o->max_tokens >= ctx)
		return pn_errf(err, -EINVAL, "--max-tokens %ld: expected 1..%u (the model's "
			       "context of %u, less one prompt token)", R->o->max_tokens,
			       ctx - 1, ctx);
	R->logits = malloc((size_t)pn_gen_vocab(R->g) * sizeof(float));
	R->scratch = malloc(pn_sample_scratch(pn_gen_vocab(R->g)));
	R->ids = malloc((size_t)ctx * sizeof(int32_t));
	if (!R->logits || !R->scratch || !R->ids || pn_stats_init(&R->ttft, 64) ||
	    pn_stats_init(&R->tok, 1024))
		return pn_errf(err, -ENOMEM, "out of memory");
	return 0;
}

static void close_run(struct run *R)
{
	pn_gen_free(R->g);
	pn_cpu_model_free(R->cm);
	pn_model_close(R->m);
	free(R->logits);
	free(R->scratch);
	free(R->ids);
	pn_stats_free(&R->ttft);
	pn_stats_free(&R->tok);
}

int cmd_generate(int argc, char **argv)
{
	struct opts o = { .max_tokens = 64, .top_p = 1 };
	struct run R = { .o = &o };
	struct pn_err err = { "" };
	struct pn_sampler smp;
	struct pn_lines L;
	uint64_t prompts = 0, failed = 0;
	const char *line;
	size_t len;
	int r, status = 0;

	/* through the daemon: the same verb, generate_daemon.c */
	if (polyctl_generate_daemon_args(argc, argv))
		return cmd_generate_daemon(argc, argv);
	if ((r = parse(argc, argv, &o)) >= 0)
		return r;
	if (pn_sampler_init(&smp, (float)o.temperature, (float)o.top_p, o.seed, &err))
		return usage_error("%s", err.msg);
	if (open_run(&R, &err) || pn_lines_open(&L, o.prompts, PN_LINE_MAX_DEFAULT, &err)) {
		close_run(&R);
		return polyctl_fail("generate", "%s", err.msg);
	}
	while ((r = pn_lines_next(&L, &line, &len, &err)) != 1) {
		prompts++;
		/* each prompt samples from the seed afresh: its output does not
		 * depend on the prompts before it */
		pn_sampler_init(&smp, (float)o.temperature, (float)o.top_p, o.seed, &err);
		if (r == 0)
			r = generate(&R, L.lineno, line, len, &smp, &err);
		if (r) {
			failed++;
			status = 1;
			polyctl_fail("generate", "%s", err.msg);
			if (r != -E2BIG && r != -ENOSPC && r != -EILSEQ)
				break;	/* a read error: nothing more to read */
		}
	}
	pn_lines_close(&L);
	fflush(stdout);		/* the last continuation before the summary on stderr */
	if (prompts)
		summary(&R, prompts, failed);
	close_run(&R);
	return status;
}
