// SPDX-License-Identifier: MIT
/*
 * gen_daemon_bench - generation latency through polynetd against in process,
 * in one run, alternating (bench/gen_daemon_bench.sh starts the daemon).
 *
 *   gen_daemon_bench SOCK MODEL.pnb PROMPTS.txt ROUNDS MAX_TOKENS [spin|sleep]
 *
 * Each round runs every prompt (tokenized here with the model's tokenizer,
 * BOS first) greedy for MAX_TOKENS tokens twice, one after the other:
 *   inprocess  pn_gen_prefill, then pn_sample + pn_gen_step per token, in this
 *              process (lib/gen, the executor polyctl generate runs);
 *   daemon     one PN_OP_GENERATE to polynetd (a token CQE per token), this
 *              process waiting on its CQ (spin by default, like the in-process
 *              loop that never sleeps).
 * Which goes first alternates per prompt. Measured the same way for both:
 *   ttft       from the start of the job (prefill call / SQE submit) to the
 *              first token in hand;
 *   token      between two consecutive tokens in hand (per token latency).
 * Both continue the same prompts and must give the same tokens (checked).
 *
 * Output, JSON lines on stdout (bench/gen_daemon_bench.sh documents them):
 *   {"bench":"gen_daemon","mode":"inprocess"|"daemon","prompts":P,"tokens":N,
 *    "ttft_us_p50":..,"ttft_us_p99":..,"token_us_p50":..,"token_us_p99":..,
 *    "token_us_p999":..,"token_us_mean":..}
 *   {"bench":"gen_daemon","mode":"delta", the daemon's figures less the
 *    in-process ones: "ttft_us_p50", "token_us_p50", "token_us_p99",
 *    "token_us_p999", "token_us_mean"; "target_token_us":5,
 *    "met": token_us_p50 delta <= 5, "same_tokens": true}
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "exec/model.h"
#include "gen/gen.h"
#include "gen/sample.h"
#include "text/tok_bpe.h"
#include "transport/client.h"
#include "transport/proto.h"
#include "util/lines.h"
#include "util/stats.h"

#define FAIL(...) do { fprintf(stderr, "gen_daemon_bench: " __VA_ARGS__); \
		       fputc('\n', stderr); exit(1); } while (0)
#define MAXP 256

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct mode {
	struct pn_stats ttft, tok;
	double tok_sum;
	uint64_t tokens;
};

struct bench {
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_gen *g;
	float *logits;
	void *scratch;
	struct pn_client *c;
	struct pn_client_model *dm;
	struct pn_session *s;
	enum pn_wait_mode wait;
	uint32_t max_tokens;
	int32_t *prompt[MAXP];
	uint32_t np[MAXP], n;
	int32_t *ref[MAXP];		/* each prompt's tokens, from an untimed in-process run */
	uint32_t nref[MAXP];
	struct mode in, dmn;
};

/* A token of prompt p's run: the reference's, or the first run makes the reference. */
static void check(struct bench *B, const char *who, uint32_t p, uint32_t k, int32_t id,
		  bool first)
{
	if (first)
		B->ref[p][k] = id;
	else if (k >= B->nref[p] || B->ref[p][k] != id)
		FAIL("prompt %u token %u: %s gives %d, the first run %d", p, k, who, id,
		     k < B->nref[p] ? B->ref[p][k] : -1);
}

/* m NULL: untimed (the reference run, and the warm-up). */
static void run_inprocess(struct bench *B, uint32_t p, struct mode *m, bool first)
{
	uint32_t V = pn_gen_vocab(B->g), slot = 0;
	struct pn_sampler smp;
	struct pn_err e;
	double t0 = now_us(), t;
	int32_t id;

	pn_sampler_init(&smp, 0, 1, 0, NULL);
	if (pn_gen_prefill(B->g, slot, B->prompt[p], B->np[p], B->logits, &e))
		FAIL("prefill: %s", e.msg);
	for (uint32_t k = 0;; k++) {
		id = pn_sample(&smp, B->logits, V, B->scratch);
		t = now_us();
		if (m && k == 0) {
			pn_stats_add(&m->ttft, t - t0);
		} else if (m) {
			pn_stats_add(&m->tok, t - t0);
			m->tok_sum += t - t0;
		}
		t0 = t;
		if (id == PN_BPE_EOS)
			break;
		check(B, "in process", p, k, id, first);
		if (m)
			m->tokens++;
		if (first)
			B->nref[p] = k + 1;
		if (k + 1 == B->max_tokens)
			break;
		if (pn_gen_step(B->g, 1, &slot, &id, B->logits, &e))
			FAIL("step: %s", e.msg);
	}
}

static void run_daemon(struct bench *B, uint32_t p, struct mode *m)
{
	const uint64_t out_off = 65536;
	struct pn_gen_stream gs;
	struct pn_gen_args a;
	struct pn_err e;
	const int32_t *ids;
	uint32_t k = 0;
	double t0, t;
	int r;

	pn_gen_args_default(&a, B->max_tokens);
	t0 = now_us();
	if (pn_gen_stream_start(&gs, B->s, pn_client_model_desc(B->dm)->id, &a, B->prompt[p],
				B->np[p], 0, out_off, p + 1, &e))
		FAIL("daemon: %s", e.msg);
	while ((r = pn_gen_stream_next(&gs, &ids, B->wait, 10000)) > 0) {
		t = now_us();
		if (m && k == 0) {
			pn_stats_add(&m->ttft, t - t0);
		} else if (m) {
			pn_stats_add(&m->tok, t - t0);
			m->tok_sum += t - t0;
		}
		t0 = t;
		for (int i = 0; i < r; i++)
			check(B, "the daemon", p, k + (uint32_t)i, ids[i], false);
		k += (uint32_t)r;
		if (m)
			m->tokens += (uint32_t)r;
	}
	if (r < 0 || gs.res)
		FAIL("daemon: prompt %u: %s", p, pn_strerror(r < 0 ? r : gs.res));
	if (k != B->nref[p])
		FAIL("prompt %u: the daemon gave %u tokens, in process %u", p, k, B->nref[p]);
	/* in process the EOS is timed as a token: so here too */
	if (m && gs.eos) {
		t = now_us();
		pn_stats_add(&m->tok, t - t0);
		m->tok_sum += t - t0;
	}
}

static void report(const char *mode, struct mode *m, uint32_t prompts)
{
	printf("{\"bench\":\"gen_daemon\",\"mode\":\"%s\",\"prompts\":%u,\"tokens\":%llu,"
	       "\"ttft_us_p50\":%.2f,\"ttft_us_p99\":%.2f,\"token_us_p50\":%.2f,"
	       "\"token_us_p99\":%.2f,\"token_us_p999\":%.2f,\"token_us_mean\":%.2f}\n", mode,
	       prompts, (unsigned long long)m->tokens, pn_stats_pct(&m->ttft, 50),
	       pn_stats_pct(&m->ttft, 99), pn_stats_pct(&m->tok, 50), pn_stats_pct(&m->tok, 99),
	       pn_stats_pct(&m->tok, 99.9), m->tok.n ? m->tok_sum / (double)m->tok.n : 0);
}

static void setup(struct bench *B, const char *sock, const char *path, const char *prompts)
{
	struct pn_model_desc d;
	struct pn_lines L;
	struct pn_err e;
	const char *line;
	char ref[16];
	size_t len, n;
	int r;

	if (pn_model_open(path, &B->m, &e) || pn_cpu_model_new(B->m, &B->cm, &e) ||
	    pn_gen_new(B->cm, 1, B->m->max_tokens, NULL, &B->g, &e))
		FAIL("%s", e.msg);
	if (!B->m->bpe)
		FAIL("%s: not a decoder", path);
	B->logits = malloc((size_t)pn_gen_vocab(B->g) * sizeof(float));
	B->scratch = malloc(pn_sample_scratch(pn_gen_vocab(B->g)));
	if (pn_connect(sock, &B->c, &e) || pn_client_load(B->c, path, 0, &d, &e))
		FAIL("%s", e.msg);
	snprintf(ref, sizeof(ref), "#%u", d.id);
	if (pn_client_model_open(B->c, ref, &B->dm, &e) ||
	    pn_session_open(B->c, 4, 4096, 1 << 20, &B->s, &e))
		FAIL("%s", e.msg);
	if (pn_lines_open(&L, prompts, PN_LINE_MAX_DEFAULT, &e))
		FAIL("%s", e.msg);
	while ((r = pn_lines_next(&L, &line, &len, &e)) != 1 && B->n < MAXP) {
		if (r)
			FAIL("%s", e.msg);
		B->prompt[B->n] = malloc((size_t)B->m->max_tokens * sizeof(int32_t));
		B->ref[B->n] = malloc((size_t)B->max_tokens * sizeof(int32_t));
		if (pn_bpe_encode(B->m->bpe, line, len, B->prompt[B->n], B->m->max_tokens, &n, &e))
			FAIL("%s", e.msg);
		if (n + B->max_tokens > B->m->max_tokens)
			continue;
		B->np[B->n++] = (uint32_t)n;
	}
	pn_lines_close(&L);
	if (!B->n)
		FAIL("%s: no prompt fits", prompts);
	if (pn_stats_init(&B->in.ttft, 4096) || pn_stats_init(&B->in.tok, 1 << 20) ||
	    pn_stats_init(&B->dmn.ttft, 4096) || pn_stats_init(&B->dmn.tok, 1 << 20))
		FAIL("out of memory");
}

int main(int argc, char **argv)
{
	static struct bench B;
	uint32_t rounds;

	if (argc != 6 && argc != 7)
		FAIL("usage: gen_daemon_bench SOCK MODEL.pnb PROMPTS.txt ROUNDS MAX_TOKENS "
		     "[spin|sleep]");
	rounds = (uint32_t)atoi(argv[4]);
	B.max_tokens = (uint32_t)atoi(argv[5]);
	B.wait = argc == 7 && !strcmp(argv[6], "sleep") ? PN_WAIT_SLEEP : PN_WAIT_SPIN;
	if (!rounds || !B.max_tokens || B.max_tokens > 4096)
		FAIL("ROUNDS >= 1, MAX_TOKENS 1..4096");
	setup(&B, argv[1], argv[2], argv[3]);
	/* the reference tokens (untimed), then a warm-up of the daemon path */
	for (uint32_t p = 0; p < B.n; p++)
		run_inprocess(&B, p, NULL, true);
	run_daemon(&B, 0, NULL);
	/* alternating, each prompt both ways, which goes first flips every turn */
	for (uint32_t r = 0; r < rounds; r++)
		for (uint32_t p = 0; p < B.n; p++) {
			if ((r + p) % 2 == 0) {
				run_inprocess(&B, p, &B.in, false);
				run_daemon(&B, p, &B.dmn);
			} else {
				run_daemon(&B, p, &B.dmn);
				run_inprocess(&B, p, &B.in, false);
			}
		}
	report("inprocess", &B.in, B.n * rounds);
	report("daemon", &B.dmn, B.n * rounds);
	printf("{\"bench\":\"gen_daemon\",\"mode\":\"delta\",\"ttft_us_p50\":%.2f,"
	       "\"token_us_p50\":%.2f,\"token_us_p99\":%.2f,\"token_us_p999\":%.2f,"
	       "\"token_us_mean\":%.2f,\"target_token_us\":5,\"met\":%s,\"same_tokens\":true}\n",
	       pn_stats_pct(&B.dmn.ttft, 50) - pn_stats_pct(&B.in.ttft, 50),
	       pn_stats_pct(&B.dmn.tok, 50) - pn_stats_pct(&B.in.tok, 50),
	       pn_stats_pct(&B.dmn.tok, 99) - pn_stats_pct(&B.in.tok, 99),
	       pn_stats_pct(&B.dmn.tok, 99.9) - pn_stats_pct(&B.in.tok, 99.9),
	       B.dmn.tok_sum / (double)(B.dmn.tok.n ? B.dmn.tok.n : 1) -
	       B.in.tok_sum / (double)(B.in.tok.n ? B.in.tok.n : 1),
	       pn_stats_pct(&B.dmn.tok, 50) - pn_stats_pct(&B.in.tok, 50) <= 5 ? "true" : "false");
	return 0;
}
