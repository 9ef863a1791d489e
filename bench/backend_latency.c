// SPDX-License-Identifier: MIT
/*
 * bench/backend_latency.c - one of polynetd's backends driven in process,
 * with no daemon around it: the model prepared, one executor, and N runs of
 * B sequences of T tokens through run_group, timed one by one. It is the
 * in-process side of bench/gpu.sh's daemon round trip, and with
 * POLYNET_CUDA_GRAPHS=0 the CUDA backend's launches without graphs.
 *
 *   backend_latency cpu|cuda MODEL.pnb [B] [T] [RUNS]   (defaults 1 16 1000)
 *
 * Prints one line (bench/RESULTS.md quotes them):
 *   backend=cuda graphs=1 B=1 T=16 runs=1000 p50_us=.. p99_us=.. p999_us=.. seq_per_s=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/backend.h"
#include "exec/model.h"
#include "util/stats.h"

static void die(const char *what, const struct pn_err *e)
{
	fprintf(stderr, "backend_latency: %s: %s\n", what, e->msg);
	exit(1);
}

int main(int argc, char **argv)
{
	const struct pnd_backend_ops *ops;
	struct pnd_backend_config cfg = { .nworkers = 1 };
	struct pnd_backend *be;
	struct pnd_backend_model *bm;
	struct pnd_backend_exec *x;
	struct pnd_model pm;
	struct pn_model *m;
	struct pn_stats st;
	struct pn_err e;
	uint32_t B = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;
	uint32_t T = argc > 4 ? (uint32_t)atoi(argv[4]) : 16;
	uint32_t runs = argc > 5 ? (uint32_t)atoi(argv[5]) : 1000;
	const char *g = getenv("POLYNET_CUDA_GRAPHS");
	double t_all = 0;

	if (argc < 3 || !B || !T || !runs) {
		fprintf(stderr, "usage: backend_latency cpu|cuda MODEL.pnb [B] [T] [RUNS]\n");
		return 2;
	}
	ops = !strcmp(argv[1], "cuda") ? &pnd_backend_cuda : &pnd_backend_cpu;
	cfg.max_batch = B;
	if (pn_model_open(argv[2], &m, &e))
		die(argv[2], &e);
	if (T > m->max_tokens)
		T = m->max_tokens;
	memset(&pm, 0, sizeof(pm));
	pm.id = 1;
	pm.m = m;
	pm.vocab = m->vocab;
	pm.max_batch = B;
	if (ops->init(&cfg, &be, &e))
		die("init", &e);
	if (ops->prepare_model(be, &pm, &bm, &e))
		die("prepare_model", &e);
	if (ops->thread_init && ops->thread_init(be, 0, &e))
		die("thread_init", &e);
	if (ops->exec_new(be, &pm, bm, 0, B, T, &x, &e) ||
	    (ops->prepare_exec && ops->prepare_exec(x, &e)))
		die("exec_new", &e);

	int32_t *ids = malloc((size_t)B * T * sizeof(*ids));
	uint32_t *lens = malloc(B * sizeof(*lens));
	float *out = malloc((size_t)B * T * m->out_width * sizeof(*out));

	if (!ids || !lens || !out || pn_stats_init(&st, runs))
		return 1;
	for (uint32_t i = 0; i < B * T; i++)
		ids[i] = (int32_t)((i * 2654435761u) % m->vocab);
	for (uint32_t b = 0; b < B; b++)
		lens[b] = T;
	for (uint32_t i = 0; i < runs + runs / 10; i++) {
		uint64_t t0 = pnd_now_ns();

		if (ops->run_group(x, ids, lens, B, T, out, &e))
			die("run_group", &e);
		if (i >= runs / 10) {	/* the first tenth warms caches and clocks */
			double us = (double)(pnd_now_ns() - t0) / 1e3;

			pn_stats_add(&st, us);
			t_all += us;
		}
	}
	/* graphs=-: the CPU has none */
	printf("backend=%s graphs=%s B=%u T=%u runs=%u p50_us=%.1f p99_us=%.1f p999_us=%.1f "
	       "seq_per_s=%.0f\n", ops->name,
	       ops == &pnd_backend_cpu ? "-" : !g || strcmp(g, "0") ? "1" : "0", B, T, runs,
	       pn_stats_pct(&st, 50), pn_stats_pct(&st, 99), pn_stats_pct(&st, 99.9),
	       (double)B * runs / (t_all / 1e6));
	pn_stats_free(&st);
	ops->exec_free(x);
	if (ops->thread_fini)
		ops->thread_fini(be, 0);
	ops->release_model(be, bm);
	ops->fini(be);
	pn_model_close(m);
	free(ids);
	free(lens);
	free(out);
	return 0;
}
