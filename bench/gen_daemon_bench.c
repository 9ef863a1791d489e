// SPDX-License-Identifier: MIT
/*
 * gen_daemon_bench - generation latency through polynetd against in process,
 * in one run, alternating (bench/gen_daemon_bench.sh starts the daemon).
 *
 *   gen_daemon_bench SOCK MODEL.pnb PROMPTS.txt ROUNDS MAX_TOKENS [spin|sleep
 *                    [INPROC_CPU CLIENT_CPU]]
 *   gen_daemon_bench load SOCK MODEL SECONDS SESSIONS
 *        (the load of the realtime part: SESSIONS generations of 200 tokens kept
 *        running on one session for SECONDS; prints "load JOBS TOKENS SECONDS")
 *
 * Each round runs every prompt (tokenized here with the model's tokenizer,
 * BOS first) greedy for MAX_TOKENS tokens twice, one after the other:
 *   inprocess  pn_gen_prefill, then pn_sample + pn_gen_step per token, in this
 *              process (lib/gen, the executor polyctl generate runs);
 *   daemon     one PN_OP_GENERATE to polynetd (a token CQE per token), this
 *              process waiting on its CQ (spin by default, like the in-process
 *              loop that never sleeps).
 * Which goes first alternates per prompt. With INPROC_CPU and CLIENT_CPU
 * (>= 0) this process moves to INPROC_CPU for the in-process runs (the CPU of
 * the daemon's worker: the same core computes in both modes) and to
 * CLIENT_CPU while it waits for the daemon. Measured the same way for both:
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
#include <sched.h>
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

static int g_cpu[2] = { -1, -1 };	/* in process, client */

static void move_to(int which)
{
	cpu_set_t set;

	if (g_cpu[which] < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(g_cpu[which], &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		FAIL("sched_setaffinity CPU %d: %s", g_cpu[which], strerror(errno));
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
	double t0, t;
	int32_t id;

	move_to(0);
	t0 = now_us();
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

	move_to(1);
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

/* Keeps n generations running on one session (one process: few to schedule). */
static void load(const char *sock, const char *model, double secs, uint32_t n)
{
	static const int32_t prompt[] = { 1, 403, 407, 261, 378 };
	struct pn_client *c;
	struct pn_client_model *m;
	struct pn_session *s;
	struct pn_err e;
	double t0 = now_us();
	uint64_t ud = 0, toks = 0, jobs = 0;
	uint32_t live = 0;

	if (n < 1 || n > 64)
		FAIL("load: 1..64 sessions");
	if (pn_connect(sock, &c, &e) || pn_client_model_open(c, model, &m, &e) ||
	    pn_session_open(c, 64, 1024, 1 << 20, &s, &e))
		FAIL("load: %s", e.msg);
	for (;;) {
		struct pn_cqe cq;
		int r;

		while (live < n && now_us() - t0 < secs * 1e6) {
			struct pn_gen_args a;
			struct pn_sqe q;
			uint32_t i = (uint32_t)(ud % n);

			pn_gen_args_default(&a, 200);
			if (pn_gen_prep(s, &q, pn_client_model_desc(m)->id, &a, prompt, 5, i * 8192,
					524288 + i * 4096, ud, &e) || pn_submit(s, &q))
				FAIL("load: submit");
			ud++;
			live++;
		}
		if (!live)
			break;
		if ((r = pn_wait(s, &cq, PN_WAIT_SLEEP, 10000)))
			FAIL("load: wait: %s", pn_strerror(r));
		if (pn_cqe_gen_more(&cq)) {
			toks += (uint32_t)cq.res;
			continue;
		}
		if (cq.res)
			FAIL("load: a generation ended %s", pn_strerror(cq.res));
		live--;
		jobs++;
	}
	printf("load %llu %llu %.2f\n", (unsigned long long)jobs, (unsigned long long)toks,
	       (now_us() - t0) / 1e6);
	pn_session_close(s);
	pn_client_model_close(m);
	pn_disconnect(c);
}

int main(int argc, char **argv)
{
	static struct bench B;
	uint32_t rounds;

	if (argc == 6 && !strcmp(argv[1], "load")) {
		load(argv[2], argv[3], atof(argv[4]), (uint32_t)atoi(argv[5]));
		return 0;
	}
	if (argc != 6 && argc != 7 && argc != 9)
		FAIL("usage: gen_daemon_bench SOCK MODEL.pnb PROMPTS.txt ROUNDS MAX_TOKENS "
		     "[spin|sleep [INPROC_CPU CLIENT_CPU]]");
	if (argc == 9) {
		g_cpu[0] = atoi(argv[7]);
		g_cpu[1] = atoi(argv[8]);
	}
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
