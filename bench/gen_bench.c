// SPDX-License-Identifier: MIT
/*
 * bench/gen_bench.c - a decoder's generation costs, in process, one
 * thread: prefill latency, per-token decode latency at batch 1, and
 * tokens/s with B sessions decoding together (one pn_gen_step per token
 * for all of them: continuous batching as polynetd runs it).
 *
 *   gen_bench MODEL.pnb [--prompt N] [--tokens N] [--runs N] [--sessions 1,8,32]
 *
 * Prompts are seeded random ids in 3..vocab-1 (no text: the cost does not
 * depend on which ids). Each decode step's time includes the greedy pick.
 * One JSON object per line on stdout (docs/bench.md):
 *   {"engine":"polynet","model":M,"metric":"prefill","prompt":N,"runs":R,
 *    "p50_us":..,"p99_us":..}
 *   {"engine":"polynet","model":M,"metric":"decode","batch":1,"prompt":N,"steps":S,
 *    "p50_us":..,"p99_us":..,"p999_us":..,"tokens_per_s":..}
 *   {"engine":"polynet","model":M,"metric":"throughput","batch":B,"steps":S,
 *    "step_p50_us":..,"tokens_per_s":..}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/kernels.h"
#include "exec/exec.h"
#include "exec/model.h"
#include "gen/gen.h"
#include "gen/sample.h"
#include "util/stats.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, const struct pn_err *e)
{
	fprintf(stderr, "gen_bench: %s: %s\n", what, e->msg);
	exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static int32_t rand_id(uint32_t V)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return 3 + (int32_t)(rng % (V - 3));
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

int main(int argc, char **argv)
{
	uint32_t prompt = 32, tokens = 256, runs = 4, sess[8] = { 1, 8, 32 }, nsess = 3, maxs = 32;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_gen *g;
	struct pn_stats st;
	struct pn_err e = { "" };
	const char *path = NULL, *name;
	int32_t *ids, *cur;
	uint32_t *slots, V;
	float *logits;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--prompt"))
			prompt = (uint32_t)atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--tokens"))
			tokens = (uint32_t)atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--runs"))
			runs = (uint32_t)atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--sessions")) {
			char *s = argv[++i];

			for (nsess = 0, maxs = 1; *s && nsess < 8; nsess++) {
				sess[nsess] = (uint32_t)strtoul(s, &s, 10);
				maxs = sess[nsess] > maxs ? sess[nsess] : maxs;
				s += *s == ',';
			}
		} else
			path = argv[i];
	}
	if (!path || !prompt || !tokens || !runs) {
		fprintf(stderr, "usage: gen_bench MODEL.pnb [--prompt N] [--tokens N] [--runs N] "
			"[--sessions 1,8,32]\n");
		return 2;
	}
	pn_gemm_one_thread();
	name = base(path);
	if (pn_model_open(path, &m, &e) || pn_cpu_model_new(m, &cm, &e))
		die(path, &e);
	if (prompt + tokens > m->max_tokens) {
		fprintf(stderr, "gen_bench: prompt %u + tokens %u past the context %u\n", prompt,
			tokens, m->max_tokens);
		return 2;
	}
	if (pn_gen_new(cm, maxs, prompt + tokens, NULL, &g, &e))
		die("pn_gen_new", &e);
	V = pn_gen_vocab(g);
	ids = malloc((size_t)prompt * sizeof(*ids));
	cur = malloc((size_t)maxs * sizeof(*cur));
	slots = malloc((size_t)maxs * sizeof(*slots));
	logits = malloc((size_t)maxs * V * sizeof(float));
	if (!ids || !cur || !slots || !logits || pn_stats_init(&st, (size_t)runs * tokens))
		return 1;
	for (uint32_t i = 0; i < maxs; i++)
		slots[i] = i;

	/* prefill: runs x the prompt, a fresh one each time */
	for (uint32_t r = 0; r < runs * 8; r++) {
		double t0;

		for (uint32_t i = 0; i < prompt; i++)
			ids[i] = rand_id(V);
		t0 = now_us();
		if (pn_gen_prefill(g, 0, ids, prompt, logits, &e))
			die("prefill", &e);
		pn_stats_add(&st, now_us() - t0);
	}
	printf("{\"engine\":\"polynet\",\"model\":\"%s\",\"metric\":\"prefill\",\"prompt\":%u,"
	       "\"runs\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", name, prompt, runs * 8,
	       pn_stats_pct(&st, 50), pn_stats_pct(&st, 99));
	fflush(stdout);

	for (uint32_t k = 0; k < nsess; k++) {
		uint32_t B = sess[k];
		double total = 0;

		st.n = 0;
		for (uint32_t r = 0; r < runs; r++) {
			for (uint32_t s = 0; s < B; s++) {
				for (uint32_t i = 0; i < prompt; i++)
					ids[i] = rand_id(V);
				if (pn_gen_prefill(g, s, ids, prompt, logits + (size_t)s * V, &e))
					die("prefill", &e);
				cur[s] = pn_argmax(logits + (size_t)s * V, V);
			}
			for (uint32_t t = 0; t + 1 < tokens; t++) {
				double t0 = now_us(), dt;

				if (pn_gen_step(g, B, slots, cur, logits, &e))
					die("step", &e);
				for (uint32_t s = 0; s < B; s++)
					cur[s] = pn_argmax(logits + (size_t)s * V, V);
				dt = now_us() - t0;
				total += dt;
				pn_stats_add(&st, dt);
			}
		}
		if (B == 1)
			printf("{\"engine\":\"polynet\",\"model\":\"%s\",\"metric\":\"decode\","
			       "\"batch\":1,\"prompt\":%u,\"steps\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,"
			       "\"p999_us\":%.1f,\"tokens_per_s\":%.1f}\n", name, prompt, st.n,
			       pn_stats_pct(&st, 50), pn_stats_pct(&st, 99), pn_stats_pct(&st, 99.9),
			       st.n / total * 1e6);
		else
			printf("{\"engine\":\"polynet\",\"model\":\"%s\",\"metric\":\"throughput\","
			       "\"batch\":%u,\"steps\":%zu,\"step_p50_us\":%.1f,\"tokens_per_s\":%.1f}\n",
			       name, B, st.n, pn_stats_pct(&st, 50), B * (double)st.n / total * 1e6);
		fflush(stdout);
	}
	pn_stats_free(&st);
	free(ids);
	free(cur);
	free(slots);
	free(logits);
	pn_gen_free(g);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	return 0;
}
