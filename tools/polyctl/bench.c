// SPDX-License-Identifier: MIT
/*
 * polyctl bench MODEL.pnb [--json] [--iters N] [--warmup N] [--batch B]
 *               [--tokens T] [--threads N] [--ids FILE] [--max-s S] [--nodes]
 *
 * Latency of pn_exec_run() on token ids (no tokenizer in the loop) for
 * batch 1 and 32 at 16 and 128 tokens, or the configurations --batch and
 * --tokens narrow it to. Every row is full length. The ids are those the JS
 * peers use (bench/bench_common.js): row b of a [B, T] run is line b mod
 * #lines of --ids FILE (jsonl, "ids" arrays) repeated to exactly T, or,
 * without --ids, a fixed LCG sequence.
 *
 * Output: a readable line per configuration, or with --json one object each:
 *   {"engine":"polynet","batch","tokens","iters","threads","p50_us","p99_us",
 *    "p999_us","seq_per_s","gflop_per_run","gflops"}
 * Percentiles are nearest-rank over the timed runs; seq_per_s is sequences
 * over the timed wall time; gflops is the graph's FLOPs (pn_graph_flops:
 * 2*M*N*K per GEMM plus attention's QK^T and PV) over the p50 latency.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec.h"
#include "exec/graph.h"
#include "polyctl.h"
#include "util/lines.h"
#include "util/stats.h"

#define LCG_LEN 4096u		/* fallback ids: one line this long */
#define LCG_SEED 12345u
#define LCG_VOCAB 8000u		/* real pieces of USE lite; clipped to the table */

static const uint32_t def_batch[] = { 1, 32 };
static const uint32_t def_tokens[] = { 16, 128 };

struct bench_opts {
	const char *model, *ids_file;
	const char *engine;		/* the JSON "engine" label */
	int json, nodes;
	uint32_t iters, warmup;		/* 0 / UINT32_MAX: per-batch default */
	uint32_t batch, tokens;		/* 0: both defaults */
	uint32_t threads;
	double max_s;
};

/* Token id lines; each line non-empty. */
struct id_lines {
	int32_t **ids;
	size_t *len;
	size_t n;
};

static void id_lines_free(struct id_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ids[i]);
	free(l->ids);
	free(l->len);
}

static int id_lines_push(struct id_lines *l, int32_t *ids, size_t len)
{
	int32_t **ni = realloc(l->ids, (l->n + 1) * sizeof(*ni));
	size_t *nl;

	if (!ni)
		return -ENOMEM;
	l->ids = ni;
	nl = realloc(l->len, (l->n + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	l->len = nl;
	l->ids[l->n] = ids;
	l->len[l->n++] = len;
	return 0;
}

/*
 * The same LCG as bench_common.js: ids (s >> 16) % 8000, folded into a
 * smaller table for a model other than USE lite.
 */
static int id_lines_lcg(struct id_lines *l, uint32_t vocab)
{
	int32_t *ids = malloc(LCG_LEN * sizeof(*ids));
	uint32_t s = LCG_SEED;

	if (!ids)
		return -ENOMEM;
	for (uint32_t i = 0; i < LCG_LEN; i++) {
		s = s * 1664525u + 1013904223u;
		ids[i] = (int32_t)((s >> 16) % LCG_VOCAB % vocab);
	}
	if (id_lines_push(l, ids, LCG_LEN)) {
		free(ids);
		return -ENOMEM;
	}
	return 0;
}

/* One jsonl line's "ids" into a new array; a message in why on failure. */
static int32_t *parse_ids_line(const char *text, uint32_t vocab, size_t *len,
			       const char **why)
{
	cJSON *j = cJSON_Parse(text), *a, *e;
	int32_t *ids = NULL;
	size_t n = 0;

	a = cJSON_GetObjectItemCaseSensitive(j, "ids");
	*why = !j ? "not JSON" : "expected a non-empty \"ids\" array";
	if (!cJSON_IsArray(a) || !cJSON_GetArraySize(a))
		goto out;
	ids = malloc((size_t)cJSON_GetArraySize(a) * sizeof(*ids));
	if (!ids) {
		*why = "out of memory";
		goto out;
	}
	cJSON_ArrayForEach(e, a) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 ||
		    e->valuedouble >= vocab || e->valuedouble != floor(e->valuedouble)) {
			*why = "an id is not an integer in [0, vocab)";
			free(ids);
			ids = NULL;
			goto out;
		}
		ids[n++] = (int32_t)e->valuedouble;
	}
	*len = n;
out:
	cJSON_Delete(j);
	return ids;
}

static int id_lines_load(struct id_lines *l, const char *path, uint32_t vocab)
{
	struct pn_lines in;
	struct pn_err e;
	const char *line;
	size_t got;
	int r = pn_lines_open(&in, path, PN_LINE_MAX_DEFAULT, &e), n;

	if (r)
		return polyctl_fail("bench", "--ids %s", e.msg);
	while (!r && !(n = pn_lines_next(&in, &line, &got, &e))) {
		const char *why;
		int32_t *ids;
		size_t len;

		if (strspn(line, " \t\r") == got)
			continue;
		ids = parse_ids_line(line, vocab, &len, &why);
		if (!ids)
			r = polyctl_fail("bench", "%s:%llu: %s", path,
					 (unsigned long long)in.lineno, why);
		else if (id_lines_push(l, ids, len)) {
			free(ids);
			r = polyctl_fail("bench", "out of memory");
		}
	}
	if (!r && n < 0)
		r = polyctl_fail("bench", "--ids %s", e.msg);	/* a line too long, or unread */
	if (!r && !l->n)
		r = polyctl_fail("bench", "%s: no lines with \"ids\"", path);
	pn_lines_close(&in);
	return r;
}

/* Row b: line b mod #lines, repeated to exactly T (as bench_common.js). */
static void fill_ids(const struct id_lines *l, uint32_t batch, uint32_t T,
		     int32_t *ids, uint32_t *lens)
{
	for (uint32_t b = 0; b < batch; b++) {
		const int32_t *src = l->ids[b % l->n];
		size_t n = l->len[b % l->n];

		for (uint32_t t = 0; t < T; t++)
			ids[(size_t)b * T + t] = src[t % n];
		lens[b] = T;
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct bench_buf {
	int32_t *ids;
	uint32_t *lens;
	float *out;
};

static int bench_one(const struct bench_opts *o, struct pn_exec *x,
		     const struct pn_cpu_model *cm, const struct id_lines *l,
		     struct bench_buf *buf, uint32_t batch, uint32_t T)
{
	uint32_t iters = o->iters ? o->iters : batch == 1 ? 2000 : 300;
	uint32_t warmup = o->warmup != UINT32_MAX ? o->warmup : batch == 1 ? 20 : 3;
	int tty = polyctl_tty();
	double t0, t1, last_draw = 0, wall, flop, p50;
	struct pn_stats st;
	struct pn_err err;
	uint32_t i;

	fill_ids(l, batch, T, buf->ids, buf->lens);
	if (pn_stats_init(&st, iters))
		return polyctl_fail("bench", "out of memory");
	for (i = 0; i < warmup; i++)
		if (pn_exec_run(x, buf->ids, buf->lens, batch, T, buf->out, &err))
			goto fail;
	t0 = now_us();
	for (i = 0; i < iters; i++) {
		double a = now_us(), b;

		if (pn_exec_run(x, buf->ids, buf->lens, batch, T, buf->out, &err))
			goto fail;
		b = now_us();
		pn_stats_add(&st, b - a);
		if (tty && b - last_draw > 2e5) {	/* progress: 5 redraws a second */
			fprintf(stderr, "\r  batch %u x %u tokens: %u/%u", batch, T, i + 1, iters);
			last_draw = b;
		}
		if (b - t0 > o->max_s * 1e6) {
			i++;
			break;
		}
	}
	t1 = now_us();
	if (tty && last_draw)
		fprintf(stderr, "\r%60s\r", "");
	wall = (t1 - t0) / 1e6;
	flop = pn_graph_flops(pn_cpu_model_graph(cm), batch, T);
	p50 = pn_stats_pct(&st, 50);
	if (o->json)
		printf("{\"engine\":\"%s\",\"batch\":%u,\"tokens\":%u,\"iters\":%u,"
		       "\"threads\":%u,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
		       "\"seq_per_s\":%.1f,\"gflop_per_run\":%.4f,\"gflops\":%.2f}\n",
		       o->engine, batch, T, i, o->threads, p50, pn_stats_pct(&st, 99),
		       pn_stats_pct(&st, 99.9), batch * i / wall, flop / 1e9,
		       flop / (p50 * 1e3));
	else
		printf("batch %3u x %3u tokens: p50 %10.1f us  p99 %10.1f us  "
		       "p99.9 %10.1f us  %9.1f seq/s  %6.2f GFLOP/s  (%u runs)\n",
		       batch, T, p50, pn_stats_pct(&st, 99), pn_stats_pct(&st, 99.9),
		       batch * i / wall, flop / (p50 * 1e3), i);
	fflush(stdout);
	pn_stats_free(&st);
	return 0;
fail:
	pn_stats_free(&st);
	return polyctl_fail("bench", "batch %u x %u tokens: %s", batch, T, err.msg);
}

/* Per-node time of every run above (warm-up included); on stderr under --json. */
static void print_nodes(FILE *f, const struct pn_exec *x)
{
	const struct pn_node_time *nt;
	double total = 0;
	uint32_t n;

	nt = pn_exec_node_times(x, &n);
	for (uint32_t i = 0; i < n; i++)
		total += nt[i].total_us;
	fprintf(f, "%-40s %12s %8s %6s\n", "node", "total_us", "calls", "share");
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%-40s %12.0f %8llu %5.1f%%\n", nt[i].name ? nt[i].name : "?",
		       nt[i].total_us, (unsigned long long)nt[i].calls,
		       total > 0 ? 100 * nt[i].total_us / total : 0);
}

static int parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *v)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(s, &end, 10);
	if (errno || *end || !*s || x < lo || x > hi)
		return polyctl_fail("bench", "--%s %s: expected an integer in %u..%u",
				    opt, s, lo, hi) + 1;
	*v = (uint32_t)x;
	return 0;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: polyctl bench MODEL.pnb [--json] [--iters N] [--warmup N]\n"
		   "         [--batch B] [--tokens T] [--threads N] [--ids FILE]\n"
		   "         [--max-s S] [--nodes] [--engine LABEL]\n");
	return f == stdout ? 0 : 2;
}

static int parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "iters", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "batch", required_argument, NULL, 'b' },
		{ "tokens", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'p' },
		{ "ids", required_argument, NULL, 'i' },
		{ "max-s", required_argument, NULL, 's' },
		{ "nodes", no_argument, NULL, 'N' },
		{ "engine", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c, r = 0;

	*o = (struct bench_opts){ .warmup = UINT32_MAX, .threads = 1, .max_s = INFINITY,
				  .engine = "polynet" };
	optind = 1;
	while (!r && (c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = 1; break;
		case 'N': o->nodes = 1; break;
		case 'e':
			if (!*optarg || strpbrk(optarg, "\"\\"))
				r = polyctl_fail("bench", "--engine: expected a label "
						 "without quotes or backslashes") + 1;
			o->engine = optarg;
			break;
		case 'i': o->ids_file = optarg; break;
		case 'n': r = parse_u32("iters", optarg, 1, 100000000, &o->iters); break;
		case 'w': r = parse_u32("warmup", optarg, 0, 1000000, &o->warmup); break;
		case 'b': r = parse_u32("batch", optarg, 1, 4096, &o->batch); break;
		case 't': r = parse_u32("tokens", optarg, 1, 1u << 20, &o->tokens); break;
		case 'p': r = parse_u32("threads", optarg, 1, 1024, &o->threads); break;
		case 's':
			o->max_s = strtod(optarg, &end);
			if (*end || !(o->max_s > 0))
				r = polyctl_fail("bench", "--max-s %s: expected seconds > 0",
						 optarg) + 1;
			break;
		case 'h': exit(usage(stdout));
		default: return usage(stderr);
		}
	}
	if (r)
		return r;
	if (optind != argc - 1)
		return usage(stderr);
	o->model = argv[optind];
	return 0;
}

/* bench_ring.c: --ring measures polynetd's rings instead of the executor. */
int cmd_bench_ring(int argc, char **argv);

int cmd_bench(int argc, char **argv)
{
	uint32_t batches[2], tokens[2], nb, nt, max_b = 0, max_t = 0;
	struct id_lines lines = { 0 };
	struct bench_buf buf = { 0 };
	struct pn_pool *pool = NULL;
	struct pn_exec *x = NULL;
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	struct bench_opts o;
	struct pn_err err;
	int r;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--ring"))
			return cmd_bench_ring(argc, argv);
	r = parse(argc, argv, &o);
	if (r)
		return r;
	nb = o.batch ? 1 : 2;
	nt = o.tokens ? 1 : 2;
	for (uint32_t i = 0; i < 2; i++) {
		batches[i] = o.batch ? o.batch : def_batch[i];
		tokens[i] = o.tokens ? o.tokens : def_tokens[i];
		max_b = batches[i] > max_b ? batches[i] : max_b;
		max_t = tokens[i] > max_t ? tokens[i] : max_t;
	}
	if (pn_model_open(o.model, &m, &err))
		return polyctl_fail("bench", "%s", err.msg);
	r = 1;
	if (max_t > m->max_tokens) {
		polyctl_fail("bench", "--tokens %u: the model takes at most %u", max_t,
			     m->max_tokens);
		goto out;
	}
	if (o.ids_file) {
		if (id_lines_load(&lines, o.ids_file, pn_model_vocab(m)))
			goto out;	/* reported */
	} else if (id_lines_lcg(&lines, pn_model_vocab(m))) {
		polyctl_fail("bench", "out of memory");
		goto out;
	}
	if (o.threads > 1 && !(pool = pn_pool_new(o.threads, 1))) {
		polyctl_fail("bench", "cannot start %u threads", o.threads);
		goto out;
	}
	if (pn_cpu_model_new(m, &cm, &err) || pn_exec_new(cm, max_b, max_t, pool, &x, &err)) {
		polyctl_fail("bench", "%s", err.msg);
		goto out;
	}
	buf.ids = malloc((size_t)max_b * max_t * sizeof(*buf.ids));
	buf.lens = malloc(max_b * sizeof(*buf.lens));
	buf.out = malloc((size_t)max_b * (m->out_layout == PNB_LAYOUT_TOKENS ? max_t : 1) *
			 m->out_width * sizeof(*buf.out));
	if (!buf.ids || !buf.lens || !buf.out) {
		polyctl_fail("bench", "out of memory");
		goto out;
	}
	if (o.nodes)
		pn_exec_profile(x, 1);
	for (uint32_t i = 0; i < nb; i++)
		for (uint32_t j = 0; j < nt; j++)
			if (bench_one(&o, x, cm, &lines, &buf, batches[i], tokens[j]))
				goto out;
	if (o.nodes)
		print_nodes(o.json ? stderr : stdout, x);
	r = 0;
out:
	free(buf.ids);
	free(buf.lens);
	free(buf.out);
	if (x)
		pn_exec_free(x);
	if (pool)
		pn_pool_free(pool);
	id_lines_free(&lines);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	return r;
}
