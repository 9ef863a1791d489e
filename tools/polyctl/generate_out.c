// SPDX-License-Identifier: MIT
/* generate_out.c - polyctl generate's options, tokenizing and output (generate.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "text/tok_bpe.h"
#include "generate.h"

double gen_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int gen_usage_error(const char *usage, const char *fmt, const char *arg)
{
	fprintf(stderr, "polyctl generate: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return 2;
}

int gen_parse(int argc, char **argv, struct gen_opts *o, const char *usage, int daemon)
{
	*o = (struct gen_opts){ .max_tokens = 64, .top_p = 1, .every = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
			continue;
		} else if (daemon && !strcmp(a, "--daemon")) {
			o->socket = o->socket ? o->socket : "";
			continue;
		} else if (daemon && !strncmp(a, "--socket=", 9)) {
			o->socket = a + 9;
			continue;
		} else if (a[0] != '-') {
			if (o->model)
				return gen_usage_error(usage, "one model expected, got another: '%s'", a);
			o->model = a;
			continue;
		}
		if (!v)
			return gen_usage_error(usage, "%s needs a value", a);
		i++;
		errno = 0;
		if (!strcmp(a, "--prompt-file"))
			o->prompts = v, end = "";
		else if (daemon && !strcmp(a, "--socket"))
			o->socket = v, end = "";
		else if (!strcmp(a, "--max-tokens"))
			o->max_tokens = strtol(v, &end, 10);
		else if (daemon && !strcmp(a, "--stream-every"))
			o->every = strtol(v, &end, 10);
		else if (!strcmp(a, "--temperature"))
			o->temperature = strtod(v, &end);
		else if (!strcmp(a, "--top-p"))
			o->top_p = strtod(v, &end);
		else if (!strcmp(a, "--seed"))
			o->seed = strtoull(v, &end, 10);
		else
			return gen_usage_error(usage, "unknown option '%s'", a);
		if (errno || !end || *end || !*v)
			return gen_usage_error(usage, "bad number '%s'", v);
	}
	if (!o->model)
		return gen_usage_error(usage, "%s", "no model given");
	if (!o->prompts)
		return gen_usage_error(usage, "%s", "--prompt-file F is required");
	if (o->every < 1 || o->every > 1 << 20)
		return gen_usage_error(usage, "%s", "--stream-every N: expected 1..1048576");
	return -1;
}

int gen_encode(const struct pn_bpe *t, const struct gen_opts *o, uint64_t lineno,
	       const char *text, size_t len, int32_t *ids, uint32_t ctx, size_t *np,
	       struct pn_err *err)
{
	int r = pn_bpe_encode(t, text, len, ids, ctx, np, err);

	if (r == -ENOSPC || (!r && *np >= ctx))
		return pn_errf(err, -ENOSPC, "%s line %llu: prompt of %zu tokens, expected at most "
			       "%u (the model's context of %u leaves room for one more)",
			       o->prompts, (unsigned long long)lineno, *np, ctx - 1, ctx);
	if (r) {
		char inner[sizeof(err->msg)];

		/* not err->msg itself: pn_errf writes where it reads */
		memcpy(inner, err->msg, sizeof(inner));
		return pn_errf(err, r, "%s line %llu: %s", o->prompts, (unsigned long long)lineno,
			       inner);
	}
	return 0;
}

int gen_out_init(struct gen_out *g, const struct gen_opts *o, const struct pn_bpe *tok,
		 struct pn_err *err)
{
	*g = (struct gen_out){ .o = o, .tok = tok };
	if (pn_stats_init(&g->ttft, 64) || pn_stats_init(&g->tok_us, 1024))
		return pn_errf(err, -ENOMEM, "out of memory");
	return 0;
}

void gen_out_free(struct gen_out *g)
{
	cJSON_Delete(g->doc);
	free(g->text);
	pn_stats_free(&g->ttft);
	pn_stats_free(&g->tok_us);
}

void gen_begin(struct gen_out *g, uint64_t lineno, const char *prompt, const int32_t *ids,
	       size_t np)
{
	g->len = 0;
	g->n = 0;
	g->ttft_prompt = 0;
	g->first = 1;
	g->prev = ids[np - 1];
	if (!g->o->json)
		return;
	g->doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(g->doc, "line", (double)lineno);
	cJSON_AddStringToObject(g->doc, "prompt", prompt);
	g->ids = cJSON_AddArrayToObject(g->doc, "prompt_ids");
	for (size_t i = 0; i < np; i++)
		cJSON_AddItemToArray(g->ids, cJSON_CreateNumber(ids[i]));
	g->ids = cJSON_AddArrayToObject(g->doc, "ids");
	g->lat = cJSON_AddArrayToObject(g->doc, "token_us");
}

void gen_time(struct gen_out *g, double us)
{
	if (g->first) {
		g->first = 0;
		g->ttft_prompt = us;
		pn_stats_add(&g->ttft, us);
		return;
	}
	pn_stats_add(&g->tok_us, us);
	if (g->lat)
		cJSON_AddItemToArray(g->lat, cJSON_CreateNumber(round(us * 10) / 10));
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

int gen_token(struct gen_out *g, int32_t id, struct pn_err *err)
{
	const char *s;
	char byte;
	size_t n = pn_bpe_piece(g->tok, g->prev, id, &s, &byte);

	if (g->len + n + 1 > g->cap) {
		char *nb = realloc(g->text, 2 * g->cap + n + 256);

		if (!nb)
			return pn_errf(err, -ENOMEM, "out of memory");
		g->text = nb;
		g->cap = 2 * g->cap + n + 256;
	}
	memcpy(g->text + g->len, s, n);
	g->len += n;
	g->text[g->len] = 0;
	g->prev = id;
	g->n++;
	g->tokens++;
	if (g->ids) {
		cJSON_AddItemToArray(g->ids, cJSON_CreateNumber(id));
	} else {
		put_text(s, n);
		fflush(stdout);
	}
	return 0;
}

void gen_end(struct gen_out *g, const char *stop, int ok)
{
	if (ok && g->doc) {
		char *out;

		cJSON_AddItemToObject(g->doc, "text", cJSON_CreateString(g->len ? g->text : ""));
		cJSON_AddStringToObject(g->doc, "stop", stop);
		cJSON_AddNumberToObject(g->doc, "ttft_us", round(g->ttft_prompt * 10) / 10);
		out = cJSON_PrintUnformatted(g->doc);
		if (out)
			puts(out);
		free(out);
	} else if (ok) {
		putchar('\n');
	}
	cJSON_Delete(g->doc);
	g->doc = g->ids = g->lat = NULL;
}

void gen_summary(struct gen_out *g, uint64_t prompts, uint64_t failed)
{
	fflush(stdout);		/* the last continuation before the summary on stderr */
	if (g->o->json) {
		printf("{\"summary\":{\"prompts\":%llu,\"failed\":%llu,\"tokens\":%llu,"
		       "\"ttft_us_p50\":%.1f,\"token_us_p50\":%.1f,\"token_us_p99\":%.1f,"
		       "\"token_us_p999\":%.1f}}\n", (unsigned long long)prompts,
		       (unsigned long long)failed, (unsigned long long)g->tokens,
		       pn_stats_pct(&g->ttft, 50), pn_stats_pct(&g->tok_us, 50),
		       pn_stats_pct(&g->tok_us, 99), pn_stats_pct(&g->tok_us, 99.9));
		return;
	}
	fprintf(stderr, "%llu prompts (%llu failed), %llu tokens: time to first token p50 %.1f us; "
		"per token p50 %.1f us, p99 %.1f us, p99.9 %.1f us\n", (unsigned long long)prompts,
		(unsigned long long)failed, (unsigned long long)g->tokens,
		pn_stats_pct(&g->ttft, 50), pn_stats_pct(&g->tok_us, 50),
		pn_stats_pct(&g->tok_us, 99), pn_stats_pct(&g->tok_us, 99.9));
}
