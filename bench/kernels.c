// SPDX-License-Identifier: MIT
/*
 * bench/kernels.c - microbenchmark of the hot CPU kernels at the USE lite
 * shapes: GFLOP/s of pn_gemm and pn_linear (bias + ReLU) at 16, 128 and
 * 4096 rows of 512 -> 1536, the FFN 512 -> 1536 -> 512, and attention time
 * at batch 1 x 16 tokens and batch 32 x 128 tokens, each on one thread and
 * over a pool of all cores. Then, one thread, the same linear with f32,
 * int8 and bf16 weights (lib/cpu/qgemm.h), the three interleaved within
 * each repetition so they see the same load, with int8's and bf16's
 * speedup over f32. Prints one line per measurement; the best of several
 * repetitions (the least disturbed), per call.
 *
 *   bench_kernels [threads]     (default: the number of online CPUs)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/qgemm.h"
#include "uapi/pnb.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *buf(size_t n)
{
	float *p = malloc(n * sizeof(*p));

	if (!p) {
		fprintf(stderr, "bench_kernels: out of memory (%zu floats)\n", n);
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
	return p;
}

/* Calls per repetition so that one repetition lasts about 50 ms. */
static int calls_for(double seconds_per_call)
{
	int n = (int)(0.05 / seconds_per_call);

	return n < 1 ? 1 : n;
}

#define REPS 7

struct lin { struct pn_pool *pool; const float *x, *W, *b; float *y; uint32_t rows, in, out; };

static void run_linear(const struct lin *l)
{
	pn_linear(l->pool, l->x, l->rows, l->in, l->W, l->b, l->out, PNB_ACT_RELU, l->y);
}

static double best_linear(const struct lin *l)
{
	double t = now(), best = 1e30;

	run_linear(l);
	int calls = calls_for(now() - t);

	for (int r = 0; r < REPS; r++) {
		t = now();
		for (int c = 0; c < calls; c++)
			run_linear(l);
		t = (now() - t) / calls;
		best = t < best ? t : best;
	}
	return best;
}

static void bench_linear(struct pn_pool *pool, uint32_t rows)
{
	uint32_t in = 512, out = 1536;
	struct lin l = { pool, buf((size_t)rows * in), buf((size_t)in * out), buf(out),
			 buf((size_t)rows * out), rows, in, out };
	double t = best_linear(&l), flop = 2.0 * rows * in * out;
	double tg = now(), bg = 1e30;

	for (int r = 0; r < REPS; r++) {	/* the bare GEMM, one thread, for reference */
		int calls = calls_for(t * pn_pool_size(pool));

		tg = now();
		for (int c = 0; c < calls; c++)
			pn_gemm(rows, out, in, l.x, in, l.W, out, 0.0f, l.y, out);
		tg = (now() - tg) / calls;
		bg = tg < bg ? tg : bg;
	}
	printf("linear %4ux512->1536 +bias+relu  threads %u: %8.1f us  %6.1f GFLOP/s"
	       "   (bare pn_gemm, 1 thread: %6.1f GFLOP/s)\n",
	       rows, pn_pool_size(pool), t * 1e6, flop / t * 1e-9, flop / bg * 1e-9);
	free((void *)l.x);
	free((void *)l.W);
	free((void *)l.b);
	free(l.y);
}

static void bench_ffn(struct pn_pool *pool, uint32_t rows)
{
	uint32_t D = 512, ff = 1536;
	float *x = buf((size_t)rows * D), *W1 = buf((size_t)D * ff), *W2 = buf((size_t)ff * D);
	float *b1 = buf(ff), *b2 = buf(D), *y = buf((size_t)rows * D);
	float *h = buf(pn_ffn_scratch(rows, ff, 0));
	double t = now(), best = 1e30, flop = 4.0 * rows * D * ff;

	pn_ffn(pool, x, rows, &(struct pn_ffn_w){
		.D = D, .ff = ff, .gated = 0,
		.W1 = W1, .b1 = b1,
		.W2 = W2, .b2 = b2 }, PNB_ACT_RELU, y, h);
	int calls = calls_for(now() - t);

	for (int r = 0; r < REPS; r++) {
		t = now();
		for (int c = 0; c < calls; c++)
			pn_ffn(pool, x, rows, &(struct pn_ffn_w){
				.D = D, .ff = ff, .gated = 0,
				.W1 = W1, .b1 = b1,
				.W2 = W2, .b2 = b2 }, PNB_ACT_RELU, y, h);
		t = (now() - t) / calls;
		best = t < best ? t : best;
	}
	printf("ffn    %4ux512->1536->512 relu    threads %u: %8.1f us  %6.1f GFLOP/s\n", rows,
	       pn_pool_size(pool), best * 1e6, flop / best * 1e-9);
	free(x);
	free(W1);
	free(W2);
	free(b1);
	free(b2);
	free(y);
	free(h);
}

static void bench_attention(struct pn_pool *pool, uint32_t B, uint32_t T, uint32_t D)
{
	uint32_t heads = 4, *lens = malloc(B * sizeof(*lens));
	float *qkv = buf((size_t)B * T * 3 * D), *out = buf((size_t)B * T * D);
	float *s = buf(pn_attention_scratch(T, pn_pool_size(pool)));
	float scale = 1.0f / 8.0f;
	struct pn_attn a = { .D = D, .heads = heads, .scale = scale };
	double t = now(), best = 1e30;

	for (uint32_t b = 0; b < B; b++)
		lens[b] = T;
	pn_attention(pool, qkv, B, T, lens, &a, out, s);
	int calls = calls_for(now() - t);

	for (int r = 0; r < REPS; r++) {
		t = now();
		for (int c = 0; c < calls; c++)
			pn_attention(pool, qkv, B, T, lens, &a, out, s);
		t = (now() - t) / calls;
		best = t < best ? t : best;
	}
	printf("attention B %2u T %3u D %3u heads 4   threads %u: %8.1f us  %6.1f GFLOP/s\n", B, T,
	       D, pn_pool_size(pool), best * 1e6, 4.0 * B * T * T * D / best * 1e-9);
	free(lens);
	free(qkv);
	free(out);
	free(s);
}

/* f32 (packed up to PN_PACKED_MAX_ROWS rows, as the executor runs it), int8, bf16. */
static void bench_qlinear(uint32_t rows)
{
	uint32_t K = 512, N = 1536;
	float *x = buf((size_t)rows * K), *W = buf((size_t)K * N), *b = buf(N);
	float *y = buf((size_t)rows * N), *sw = buf(N);
	int8_t *q = malloc((size_t)K * N);
	uint16_t *h = malloc((size_t)K * N * 2);
	int32_t *colsum = malloc(N * sizeof(int32_t));
	struct pn_packed_ctx *c = pn_packed_ctx_new();
	struct pn_packed_w *pf = pn_packed_w_new(W, K, N, NULL);
	struct pn_qgemm g8 = { .K = K, .N = N, .dtype = PNB_DTYPE_I8, .W = q, .scale = sw,
			       .colsum = colsum };
	struct pn_qgemm g16 = { .K = K, .N = N, .dtype = PNB_DTYPE_BF16, .W = h };
	double best[3] = { 1e30, 1e30, 1e30 };
	char why[200], why16[200] = "";
	void *s = NULL;
	int calls, has16;

	if (!q || !h || !colsum || !c || pn_qgemm_isa_check(PNB_DTYPE_I8, why, sizeof(why))) {
		printf("qlinear %4ux512->1536: skipped (%s)\n", rows, q && c ? why : "no memory");
		goto out;
	}
	/* bf16 where the CPU has it: oneDNN emulates it elsewhere, not worth timing */
	has16 = !pn_qgemm_isa_check(PNB_DTYPE_BF16, why16, sizeof(why16));
	g8.levels = pn_q8_levels();
	pn_q8_weights(W, K, N, q, sw);
	pn_q8_colsum(q, K, N, colsum);
	pn_bf16_row(W, (size_t)K * N, h);
	g8.pk = pn_packed_w_new_dt(q, PNB_DTYPE_I8, K, N, NULL);
	g16.pk = has16 ? pn_packed_w_new_dt(h, PNB_DTYPE_BF16, K, N, NULL) : NULL;
	if (posix_memalign(&s, 64, pn_qlinear_scratch_bytes(&g8) > pn_qlinear_scratch_bytes(&g16) ?
			   pn_qlinear_scratch_bytes(&g8) : pn_qlinear_scratch_bytes(&g16)))
		goto out;
	{
		double t = now();

		pn_linear(NULL, x, rows, K, W, b, N, PNB_ACT_RELU, y);
		calls = calls_for(now() - t);
	}
	for (int r = 0; r < REPS; r++)
		for (int e = 0; e < 2 + has16; e++) {
			double t = now();

			for (int k = 0; k < calls; k++) {
				if (e == 0 && pn_packed_linear(c, pf, rows, x, b, PNB_ACT_RELU, y))
					pn_linear(NULL, x, rows, K, W, b, N, PNB_ACT_RELU, y);
				else if (e)
					pn_qlinear(c, e == 1 ? &g8 : &g16, rows, x, b, PNB_ACT_RELU, y,
						   s);
			}
			t = (now() - t) / calls;
			best[e] = t < best[e] ? t : best[e];
		}
	printf("qlinear %4ux512->1536 +bias+relu 1 thread: f32 %8.1f us  int8 (%u levels) %8.1f us "
	       "(%.2fx)  ", rows, best[0] * 1e6, g8.levels, best[1] * 1e6, best[0] / best[1]);
	if (has16)
		printf("bf16 %8.1f us (%.2fx)\n", best[2] * 1e6, best[0] / best[2]);
	else
		printf("bf16 skipped (%s)\n", why16);
out:
	pn_packed_w_free((struct pn_packed_w *)g8.pk);
	pn_packed_w_free((struct pn_packed_w *)g16.pk);
	pn_packed_w_free(pf);
	pn_packed_ctx_free(c);
	free(s); free(x); free(W); free(b); free(y); free(sw); free(q); free(h); free(colsum);
}

int main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t nthreads = argc > 1 ? (uint32_t)atoi(argv[1]) : (uint32_t)(ncpu > 0 ? ncpu : 1);
	struct pn_pool *pools[2] = { NULL, NULL };

	if (nthreads > 1) {
		pools[1] = pn_pool_new(nthreads, 1);
		if (!pools[1]) {
			fprintf(stderr, "bench_kernels: cannot start a pool of %u threads\n", nthreads);
			return 1;
		}
	}
	for (int p = 0; p < 2; p++) {
		if (p == 1 && !pools[1])
			break;
		for (uint32_t rows = 16; rows <= 4096; rows *= rows < 128 ? 8 : 32)
			bench_linear(pools[p], rows);
		bench_ffn(pools[p], 16);
		bench_ffn(pools[p], 4096);
		bench_attention(pools[p], 1, 16, 256);
		bench_attention(pools[p], 1, 16, 512);
		bench_attention(pools[p], 32, 128, 256);
		bench_attention(pools[p], 32, 128, 512);
	}
	for (uint32_t rows = 16; rows <= 4096; rows *= rows < 128 ? 8 : 32)
		bench_qlinear(rows);
	pn_pool_free(pools[1]);
	return 0;
}
