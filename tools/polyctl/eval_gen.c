// SPDX-License-Identifier: MIT
/*
 * eval_gen.c - polyctl eval-gen VARIANT.pnb --exact EXACT.pnb --prompts F
 *              [--tokens N] [--json]
 *
 * A decoder variant's fidelity to the exact model, per token, on the
 * prompts of F (one per line): the exact model continues each prompt
 * greedily for N tokens; the variant, fed the same tokens (teacher
 * forcing), is compared at every one of those N positions: mean KL
 * divergence KL(exact || variant) of the next-token distributions, and
 * top-1 agreement. Then the variant continues each prompt greedily on its
 * own: the share of prompts whose N tokens equal the exact model's, and
 * the mean length of the common prefix. Per-token decode latency (p50) of
 * both, alternated prompt by prompt, gives the speedup. Output: a text
 * report, or with --json one object (docs/generate.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "exec/model.h"
#include "gen/gen.h"
#include "gen/sample.h"
#include "text/tok_bpe.h"
#include "util/lines.h"
#include "util/stats.h"
#include "polyctl.h"

static const char usage_text[] =
	"usage: polyctl eval-gen VARIANT.pnb --exact EXACT.pnb --prompts F [--tokens N] [--json]\n"
	"  --prompts F   one prompt per line (held-out: never the calibration texts)\n"
	"  --tokens N    positions compared per prompt (default 64)\n";

struct dec {
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_gen *g;
	struct pn_stats tok;	/* per-token decode us */
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int dec_open(struct dec *d, const char *path, uint32_t ctx, struct pn_err *err)
{
	int r = pn_model_open(path, &d->m, err);

	if (!r && !d->m->bpe)
		r = pn_errf(err, -EINVAL, "%s: not a decoder (no Llama tokenizer)", path);
	if (!r)
		r = pn_cpu_model_new(d->m, &d->cm, err);
	if (!r)
		r = pn_gen_new(d->cm, 1, ctx ? ctx : d->m->max_tokens, NULL, &d->g, err);
	if (!r && pn_stats_init(&d->tok, 4096))
		r = pn_errf(err, -ENOMEM, "out of memory");
	return r;
}

static void dec_close(struct dec *d)
{
	pn_gen_free(d->g);
	pn_cpu_model_free(d->cm);
	pn_model_close(d->m);
	pn_stats_free(&d->tok);
}

/* KL(p || q) of the softmaxes of logits a (p) and b (q), in double. */
static double kl(const float *a, const float *b, uint32_t V)
{
	double ma = a[pn_argmax(a, V)], mb = b[pn_argmax(b, V)], za = 0, zb = 0, s = 0;

	for (uint32_t i = 0; i < V; i++) {
		za += exp(a[i] - ma);
		zb += exp(b[i] - mb);
	}
	for (uint32_t i = 0; i < V; i++) {
		double lp = a[i] - ma - log(za), lq = b[i] - mb - log(zb);

		s += exp(lp) * (lp - lq);
	}
	return s > 0 ? s : 0;
}

/* Greedy: ids[np..np+N) from the model; logits of every position into L [N, V] if not NULL. */
static int greedy(struct dec *d, int32_t *ids, uint32_t np, uint32_t N, float *L, float *lg,
		  struct pn_err *err)
{
	uint32_t V = pn_gen_vocab(d->g), slot = 0;
	int r = pn_gen_prefill(d->g, 0, ids, np, lg, err);

	for (uint32_t t = 0; !r && t < N; t++) {
		double t0;

		if (L)
			memcpy(L + (size_t)t * V, lg, V * sizeof(float));
		ids[np + t] = pn_argmax(lg, V);
		if (t + 1 == N)
			break;
		t0 = now_us();
		r = pn_gen_step(d->g, 1, &slot, &ids[np + t], lg, err);
		pn_stats_add(&d->tok, now_us() - t0);
	}
	return r;
}

struct totals {
	double kl, kl_max;
	uint64_t positions, top1, prompts, match, prefix;
};

static int one_prompt(struct dec *ex, struct dec *va, const char *text, size_t len,
		      uint32_t N, float *L, float *lg, int32_t *ids, int32_t *own,
		      struct totals *t, struct pn_err *err)
{
	uint32_t V = pn_gen_vocab(ex->g), ctx = pn_gen_max_len(ex->g), slot = 0, k;
	size_t np;
	int r = pn_bpe_encode(ex->m->bpe, text, len, ids, ctx, &np, err);

	if (!r && np + N > ctx)
		r = pn_errf(err, -ENOSPC, "prompt of %zu tokens + %u leaves the context of %u", np,
			    N, ctx);
	if (!r)
		r = greedy(ex, ids, (uint32_t)np, N, L, lg, err);
	/* teacher forcing: the variant reads the exact model's tokens */
	if (!r)
		r = pn_gen_prefill(va->g, 0, ids, (uint32_t)np, lg, err);
	for (uint32_t s = 0; !r && s < N; s++) {
		double d = kl(L + (size_t)s * V, lg, V);

		t->kl += d;
		t->kl_max = d > t->kl_max ? d : t->kl_max;
		t->top1 += pn_argmax(lg, V) == ids[np + s];
		t->positions++;
		if (s + 1 < N)
			r = pn_gen_step(va->g, 1, &slot, &ids[np + s], lg, err);
	}
	if (!r) {
		memcpy(own, ids, np * sizeof(*own));
		r = greedy(va, own, (uint32_t)np, N, NULL, lg, err);
	}
	if (r)
		return r;
	for (k = 0; k < N && own[np + k] == ids[np + k]; k++)
		;
	t->prompts++;
	t->match += k == N;
	t->prefix += k;
	return 0;
}

int cmd_eval_gen(int argc, char **argv)
{
	const char *variant = NULL, *exact = NULL, *prompts = NULL;
	struct dec ex = { 0 }, va = { 0 };
	struct totals t = { 0 };
	struct pn_err err = { "" };
	struct pn_lines Ls;
	uint32_t N = 64, V;
	int json = 0, r = 0, opened = 0;
	float *L = NULL, *lg = NULL;
	int32_t *ids = NULL, *own = NULL;
	const char *line;
	size_t len;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json"))
			json = 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return fputs(usage_text, stdout), 0;
		else if (i + 1 < argc && !strcmp(a, "--exact"))
			exact = argv[++i];
		else if (i + 1 < argc && !strcmp(a, "--prompts"))
			prompts = argv[++i];
		else if (i + 1 < argc && !strcmp(a, "--tokens"))
			N = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (a[0] == '-' || variant)
			return fprintf(stderr, "polyctl eval-gen: unexpected '%s'\n%s", a, usage_text), 2;
		else
			variant = a;
	}
	if (!variant || !exact || !prompts || N < 1)
		return fprintf(stderr, "polyctl eval-gen: VARIANT, --exact, --prompts and --tokens "
			       ">= 1 are required\n%s", usage_text), 2;
	r = dec_open(&ex, exact, 0, &err);
	if (!r)
		r = dec_open(&va, variant, pn_gen_max_len(ex.g), &err);
	if (!r && pn_gen_vocab(va.g) != pn_gen_vocab(ex.g))
		r = pn_errf(&err, -EINVAL, "%s: vocab %u, the exact model's is %u", variant,
			    pn_gen_vocab(va.g), pn_gen_vocab(ex.g));
	if (!r) {
		V = pn_gen_vocab(ex.g);
		L = malloc((size_t)N * V * sizeof(float));
		lg = malloc((size_t)V * sizeof(float));
		ids = malloc((size_t)pn_gen_max_len(ex.g) * sizeof(int32_t));
		own = malloc((size_t)pn_gen_max_len(ex.g) * sizeof(int32_t));
		if (!L || !lg || !ids || !own)
			r = pn_errf(&err, -ENOMEM, "out of memory");
	}
	if (!r)
		opened = !(r = pn_lines_open(&Ls, prompts, PN_LINE_MAX_DEFAULT, &err));
	while (!r && (r = pn_lines_next(&Ls, &line, &len, &err)) == 0) {
		r = one_prompt(&ex, &va, line, len, N, L, lg, ids, own, &t, &err);
		if (r) {
			char inner[sizeof(err.msg)];

			memcpy(inner, err.msg, sizeof(inner));
			pn_errf(&err, r, "%s line %llu: %s", prompts, (unsigned long long)Ls.lineno,
				inner);
		}
	}
	if (r == 1)
		r = 0;
	if (!r && !t.prompts)
		r = pn_errf(&err, -EINVAL, "%s: no prompts", prompts);
	if (!r) {
		double e50 = pn_stats_pct(&ex.tok, 50), v50 = pn_stats_pct(&va.tok, 50);

		if (json)
			printf("{\"variant\":\"%s\",\"exact\":\"%s\",\"prompts\":%llu,\"tokens\":%u,"
			       "\"kl_mean\":%.6g,\"kl_max\":%.6g,\"top1\":%.6f,\"greedy_match\":%.6f,"
			       "\"greedy_prefix_mean\":%.3f,\"exact_token_us_p50\":%.2f,"
			       "\"token_us_p50\":%.2f,\"speedup\":%.4f}\n", variant, exact,
			       (unsigned long long)t.prompts, N, t.kl / t.positions, t.kl_max,
			       (double)t.top1 / t.positions, (double)t.match / t.prompts,
			       (double)t.prefix / t.prompts, e50, v50, e50 / v50);
		else
			printf("%s vs %s: %llu prompts x %u tokens\n"
			       "  next-token KL(exact || variant): mean %.4g, max %.4g\n"
			       "  top-1 agreement (teacher-forced): %.4f\n"
			       "  greedy continuations identical: %.4f (mean common prefix %.1f tokens)\n"
			       "  decode per token p50: exact %.1f us, variant %.1f us (%.2fx)\n",
			       variant, exact, (unsigned long long)t.prompts, N, t.kl / t.positions,
			       t.kl_max, (double)t.top1 / t.positions, (double)t.match / t.prompts,
			       (double)t.prefix / t.prompts, e50, v50, e50 / v50);
	}
	if (opened)
		pn_lines_close(&Ls);
	free(L);
	free(lg);
	free(ids);
	free(own);
	dec_close(&ex);
	dec_close(&va);
	return r ? polyctl_fail("eval-gen", "%s", err.msg) : 0;
}
