// SPDX-License-Identifier: MIT
/*
 * bench/flash_attn_bench.c - the exact causal attention baseline of issue 16:
 * pn_flash_attn_causal (lib/cpu/flash_attn.h) against pn_attention (the
 * existing kernel: full T x T scores, then masked softmax, two GEMMs) in the
 * same run, one thread, d = 512 in heads of 64, causal, batch 1, T = 1k, 4k,
 * 16k (and 32k, flash only, with "32k" as argument), on the same inputs.
 *
 *   flash_attn_bench [32k | quick]    (quick: flash only, T = 1k and 4k, for tile sweeps)
 *
 * FLOP count (the same for both kernels, the useful work): QK^T and PV over
 * the causal half, 2 * T^2 * D / 2 each, i.e. flop = 2 * T * T * D per layer
 * (pn_attention computes the full square, so does twice that).
 *
 * Prints JSON lines, one per measurement:
 *   {"bench":"gemm_peak","M":512,"N":512,"K":512,"threads":1,"ms":..,"gflops":..}
 *   {"bench":"attn","kernel":"flash"|"pn_attention","T":..,"D":512,"heads":8,
 *    "hd":64,"threads":1,"reps":..,"ms":..,"gflops":..,"flop":..}
 *   {"bench":"attn_diff","T":..,"max_abs_diff":..}    flash vs pn_attention
 * ms is the best of reps calls (the least disturbed), per layer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/flash_attn.h"
#include "cpu/kernels.h"

#define DIM 512
#define HDIM 64

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
		fprintf(stderr, "flash_attn_bench: out of memory (%zu floats)\n", n);
		exit(1);
	}
	for (size_t i = 0; i < n; i++)
		p[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
	return p;
}

static void gemm_peak(void)
{
	uint32_t n = 512;
	float *a = buf((size_t)n * n), *b = buf((size_t)n * n), *c = buf((size_t)n * n);
	double best = 1e30, flop = 2.0 * n * n * n;

	for (int r = 0; r < 20; r++) {
		double t = now();

		for (int i = 0; i < 5; i++)
			pn_gemm(n, n, n, a, n, b, n, 0.0f, c, n);
		t = (now() - t) / 5;
		best = t < best ? t : best;
	}
	printf("{\"bench\":\"gemm_peak\",\"M\":%u,\"N\":%u,\"K\":%u,\"threads\":1,"
	       "\"ms\":%.4f,\"gflops\":%.1f}\n", n, n, n, best * 1e3, flop / best * 1e-9);
	free(a);
	free(b);
	free(c);
}

static double time_flash(const float *qkv, uint32_t T, float *y, float *scratch, int reps)
{
	double best = 1e30;

	for (int r = 0; r < reps; r++) {
		double t = now();

		pn_flash_attn_causal(NULL, qkv, qkv + DIM, qkv + 2 * DIM, 3 * DIM, T, DIM / HDIM, HDIM,
				     1.0f / sqrtf((float)HDIM), y, DIM, scratch);
		t = now() - t;
		best = t < best ? t : best;
	}
	return best;
}

static double time_ref(const float *qkv, uint32_t T, float *y, float *scratch, int reps)
{
	struct pn_attn a = { .D = DIM, .heads = DIM / HDIM, .scale = 1.0f / sqrtf((float)HDIM),
			     .causal = 1 };
	uint32_t lens[1] = { T };
	double best = 1e30;

	for (int r = 0; r < reps; r++) {
		double t = now();

		pn_attention(NULL, qkv, 1, T, lens, &a, y, scratch);
		t = now() - t;
		best = t < best ? t : best;
	}
	return best;
}

static void report(const char *kernel, uint32_t T, int reps, double s)
{
	double flop = 2.0 * T * T * DIM;

	printf("{\"bench\":\"attn\",\"kernel\":\"%s\",\"T\":%u,\"D\":%u,\"heads\":%u,\"hd\":%u,"
	       "\"threads\":1,\"reps\":%d,\"ms\":%.3f,\"gflops\":%.1f,\"flop\":%.4g}\n",
	       kernel, T, DIM, DIM / HDIM, HDIM, reps, s * 1e3, flop / s * 1e-9, flop);
	fflush(stdout);
}

static void bench_T(uint32_t T, int reps, int with_ref)
{
	float *qkv = buf((size_t)T * 3 * DIM), *y = buf((size_t)T * DIM);
	float *fs = buf(pn_flash_attn_scratch(HDIM, 1));

	report("flash", T, reps, time_flash(qkv, T, y, fs, reps));
	if (with_ref) {
		float *yr = buf((size_t)T * DIM), *rs = buf(pn_attention_scratch(T, 1));
		double diff = 0.0;

		report("pn_attention", T, reps, time_ref(qkv, T, yr, rs, reps));
		for (size_t i = 0; i < (size_t)T * DIM; i++)
			diff = fmax(diff, fabs(y[i] - yr[i]));
		printf("{\"bench\":\"attn_diff\",\"T\":%u,\"max_abs_diff\":%.3g}\n", T, diff);
		free(yr);
		free(rs);
	}
	free(qkv);
	free(y);
	free(fs);
}

int main(int argc, char **argv)
{
	pn_gemm_one_thread();
	if (argc > 1 && strcmp(argv[1], "quick") == 0) {
		bench_T(1024, 5, 0);
		bench_T(4096, 3, 0);
		return 0;
	}
	gemm_peak();
	bench_T(1024, 5, 1);
	bench_T(4096, 3, 1);
	bench_T(16384, 1, 1);
	if (argc > 1 && strcmp(argv[1], "32k") == 0)
		bench_T(32768, 1, 0);
	return 0;
}
