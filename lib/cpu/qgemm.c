// SPDX-License-Identifier: MIT
/*
 * qgemm.c - int8 and bf16 GEMMs (qgemm.h says the numbers and why).
 *
 * A call works in blocks of at most PN_PACKED_MAX_ROWS rows, so its scratch
 * is bounded whatever the batch: quantize (or convert) the block's rows,
 * run oneDNN's primitive for that row count on the packed weights, then
 * the epilogue turns s32 sums into f32 with the zero point, both scales,
 * the bias and the activation in one pass over the block.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/qgemm.h"
#include "uapi/pnb.h"

#define BLOCK PN_PACKED_MAX_ROWS
#define LANES 16	/* independent min/max lanes: the compiler vectorizes them */

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* ---- quantization ------------------------------------------------------------ */

void pn_q8_weights(const float *W, uint32_t K, uint32_t N, int8_t *q, float *sw)
{
	for (uint32_t n = 0; n < N; n++)
		sw[n] = 0;
	for (uint32_t k = 0; k < K; k++)
		for (uint32_t n = 0; n < N; n++) {
			float a = fabsf(W[(size_t)k * N + n]);

			sw[n] = a > sw[n] ? a : sw[n];
		}
	for (uint32_t n = 0; n < N; n++)
		sw[n] = sw[n] > 0 ? sw[n] / 127.0f : 1.0f;	/* an all-zero channel: q = 0 */
	for (uint32_t k = 0; k < K; k++)
		for (uint32_t n = 0; n < N; n++) {
			float v = rintf(W[(size_t)k * N + n] / sw[n]);

			/* |W| / (max|W| / 127) may round to 127.00001: clamp */
			q[(size_t)k * N + n] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
		}
}

void pn_q8_colsum(const int8_t *q, uint32_t K, uint32_t N, int32_t *colsum)
{
	for (uint32_t n = 0; n < N; n++)
		colsum[n] = 0;
	for (uint32_t k = 0; k < K; k++)
		for (uint32_t n = 0; n < N; n++)
			colsum[n] += q[(size_t)k * N + n];
}

void pn_q8_params(float lo, float hi, uint32_t levels, float qp[2])
{
	float s, z, L = (float)(levels ? levels : 255);

	lo = lo < 0 ? lo : 0;
	hi = hi > 0 ? hi : 0;
	s = (hi - lo) / L;
	if (!(s > 0) || !isfinite(s)) {		/* an all-zero (or broken) range */
		qp[0] = 1;
		qp[1] = 0;
		return;
	}
	z = rintf(-lo / s);
	qp[0] = s;
	qp[1] = z < 0 ? 0 : z > L ? L : z;
}

uint32_t pn_q8_levels(void)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();

	/* the ISA enum is a bit set: each level holds the ones below it */
	return (isa & (dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core)) ||
	       (isa & (dnnl_cpu_isa_avx2_vnni & ~dnnl_cpu_isa_avx2)) ? 255 : 127;
}

void pn_q8_row(const float *x, uint32_t K, const float *qp, uint32_t levels, uint8_t *u,
	       float *sx, int32_t *z)
{
	float p[2], inv, zf, L = (float)(levels ? levels : 255);
	uint32_t k = 0;

	if (qp && L == 255) {
		p[0] = qp[0];
		p[1] = qp[1];
	} else if (qp) {	/* the file's 256-level range, on fewer levels */
		pn_q8_params(-qp[1] * qp[0], (255 - qp[1]) * qp[0], levels, p);
	} else {
		/* lanes start at 0: the range always holds 0, so zero is a level */
		float lo[LANES] = { 0 }, hi[LANES] = { 0 }, l = 0, h = 0;

		for (; k + LANES <= K; k += LANES)
			for (uint32_t j = 0; j < LANES; j++) {
				lo[j] = x[k + j] < lo[j] ? x[k + j] : lo[j];
				hi[j] = x[k + j] > hi[j] ? x[k + j] : hi[j];
			}
		for (; k < K; k++) {
			l = x[k] < l ? x[k] : l;
			h = x[k] > h ? x[k] : h;
		}
		for (uint32_t j = 0; j < LANES; j++) {
			l = lo[j] < l ? lo[j] : l;
			h = hi[j] > h ? hi[j] : h;
		}
		pn_q8_params(l, h, levels, p);
	}
	inv = 1.0f / p[0];
	zf = p[1];
	for (k = 0; k < K; k++) {
		float v = rintf(x[k] * inv) + zf;

		u[k] = (uint8_t)(v < 0 ? 0 : v > L ? L : v);	/* static: clip */
	}
	*sx = p[0];
	*z = (int32_t)zf;
}

uint16_t pn_bf16_from_f32(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(u >> 16 | 0x40);	/* keep a NaN a NaN (quiet) */
	u += 0x7fffu + (u >> 16 & 1);		/* round to nearest, ties to even */
	return (uint16_t)(u >> 16);
}

float pn_bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, 4);
	return f;
}

void pn_bf16_row(const float *x, size_t n, uint16_t *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = pn_bf16_from_f32(x[i]);
}

/* ---- the epilogues --------------------------------------------------------------- */

/*
 * y [mb, N] = sx[m] sw[n] (acc - z[m] colsum[n]) + b, then act; z NULL: the
 * sums hold the zero point already (q8_sums). Equal integers either way, so
 * the fast path and the twin round alike.
 */
static void q8_epilogue(const struct pn_qgemm *g, uint32_t mb, const int32_t *acc,
			const float *sx, const int32_t *z, const float *b, uint32_t act, float *y)
{
	uint32_t N = g->N;

	for (uint32_t m = 0; m < mb; m++) {
		const int32_t *a = acc + (size_t)m * N;
		float *o = y + (size_t)m * N, s = sx[m];

		if (z)
			for (uint32_t n = 0; n < N; n++)
				o[n] = (float)(a[n] - z[m] * g->colsum[n]) * (s * g->scale[n]);
		else
			for (uint32_t n = 0; n < N; n++)
				o[n] = (float)a[n] * (s * g->scale[n]);
		if (b)
			for (uint32_t n = 0; n < N; n++)
				o[n] += b[n];
		pn_act(act, o, N);
	}
}

static void bias_act(float *y, uint32_t mb, uint32_t N, const float *b, uint32_t act)
{
	for (uint32_t m = 0; m < mb; m++, y += N) {
		if (b)
			for (uint32_t n = 0; n < N; n++)
				y[n] += b[n];
		pn_act(act, y, N);
	}
}

/* ---- the plain sums (the twin, and the fast path's fallback) ------------------------ */

/* acc [mb, N] = (u - z) q in int32, rows of u [mb, K]. */
static void q8_sums(const struct pn_qgemm *g, uint32_t mb, const uint8_t *u, const int32_t *z,
		    int32_t *acc)
{
	const int8_t *q = g->W;

	for (uint32_t m = 0; m < mb; m++) {
		int32_t *a = acc + (size_t)m * g->N;

		memset(a, 0, g->N * sizeof(*a));
		for (uint32_t k = 0; k < g->K; k++) {
			int32_t xv = (int32_t)u[(size_t)m * g->K + k] - z[m];
			const int8_t *qr = q + (size_t)k * g->N;

			for (uint32_t n = 0; n < g->N; n++)
				a[n] += xv * qr[n];
		}
	}
}

/* y [mb, N] = xb W in f32 over bf16 operands. */
static void bf16_sums(const struct pn_qgemm *g, uint32_t mb, const uint16_t *xb, float *y)
{
	const uint16_t *W = g->W;

	for (uint32_t m = 0; m < mb; m++) {
		float *o = y + (size_t)m * g->N;

		memset(o, 0, g->N * sizeof(*o));
		for (uint32_t k = 0; k < g->K; k++) {
			float xv = pn_bf16_to_f32(xb[(size_t)m * g->K + k]);
			const uint16_t *wr = W + (size_t)k * g->N;

			for (uint32_t n = 0; n < g->N; n++)
				o[n] += xv * pn_bf16_to_f32(wr[n]);
		}
	}
}

/* ---- the GEMM ------------------------------------------------------------------- */

/* I8 scratch: u [BLOCK, K] | acc [BLOCK, N] | sx [BLOCK] | z [BLOCK]. */
size_t pn_qlinear_scratch_bytes(const struct pn_qgemm *g)
{
	if (g->dtype == PNB_DTYPE_BF16)
		return align64((size_t)BLOCK * g->K * sizeof(uint16_t));
	return align64((size_t)BLOCK * g->K) + align64((size_t)BLOCK * g->N * sizeof(int32_t)) +
	       2 * align64(BLOCK * sizeof(float));
}

static void q8_block(struct pn_packed_ctx *c, const struct pn_qgemm *g, uint32_t mb,
		     const float *x, const float *b, uint32_t act, float *y, uint8_t *s)
{
	uint8_t *u = s;
	int32_t *acc = (int32_t *)(s + align64((size_t)BLOCK * g->K));
	float *sx = (float *)((uint8_t *)acc + align64((size_t)BLOCK * g->N * sizeof(int32_t)));
	int32_t *z = (int32_t *)((uint8_t *)sx + align64(BLOCK * sizeof(float)));

	for (uint32_t m = 0; m < mb; m++)
		pn_q8_row(x + (size_t)m * g->K, g->K, g->qp, g->levels, u + (size_t)m * g->K,
			  &sx[m], &z[m]);
	if (c && g->pk && g->colsum && !pn_packed_gemm(c, g->pk, mb, u, acc)) {
		q8_epilogue(g, mb, acc, sx, z, b, act, y);
		return;
	}
	q8_sums(g, mb, u, z, acc);
	q8_epilogue(g, mb, acc, sx, NULL, b, act, y);
}

static void bf16_block(struct pn_packed_ctx *c, const struct pn_qgemm *g, uint32_t mb,
		       const float *x, const float *b, uint32_t act, float *y, uint16_t *xb)
{
	pn_bf16_row(x, (size_t)mb * g->K, xb);
	if (!c || !g->pk || pn_packed_gemm(c, g->pk, mb, xb, y))
		bf16_sums(g, mb, xb, y);
	bias_act(y, mb, g->N, b, act);
}

void pn_qlinear(struct pn_packed_ctx *c, const struct pn_qgemm *g, uint32_t M, const float *x,
		const float *b, uint32_t act, float *y, void *scratch)
{
	for (uint32_t r0 = 0; r0 < M; r0 += BLOCK) {
		uint32_t mb = M - r0 < BLOCK ? M - r0 : BLOCK;
		const float *xr = x + (size_t)r0 * g->K;
		float *yr = y + (size_t)r0 * g->N;

		if (g->dtype == PNB_DTYPE_BF16)
			bf16_block(c, g, mb, xr, b, act, yr, scratch);
		else
			q8_block(c, g, mb, xr, b, act, yr, scratch);
	}
}

void pn_ref_qlinear(const struct pn_qgemm *g, uint32_t M, const float *x, const float *b,
		    uint32_t act, float *y)
{
	struct pn_qgemm plain = *g;
	void *s = NULL;

	plain.pk = NULL;	/* the plain sums, whatever g was packed for */
	if (posix_memalign(&s, 64, pn_qlinear_scratch_bytes(g))) {
		/* the twin is for tests and the compiler: no result is louder than a wrong one */
		for (size_t i = 0; i < (size_t)M * g->N; i++)
			y[i] = NAN;
		return;
	}
	pn_qlinear(NULL, &plain, M, x, b, act, y, s);
	free(s);
}

/* ---- the CPU ---------------------------------------------------------------------- */

static const char *isa_name(dnnl_cpu_isa_t isa)
{
	switch (isa) {
	case dnnl_cpu_isa_sse41: return "SSE41";
	case dnnl_cpu_isa_avx: return "AVX";
	case dnnl_cpu_isa_avx2: return "AVX2";
	case dnnl_cpu_isa_avx2_vnni: return "AVX2_VNNI";
	case dnnl_cpu_isa_avx512_core: return "AVX512_CORE";
	case dnnl_cpu_isa_avx512_core_vnni: return "AVX512_CORE_VNNI";
	case dnnl_cpu_isa_avx512_core_bf16: return "AVX512_CORE_BF16";
	case dnnl_cpu_isa_avx512_core_amx: return "AVX512_CORE_AMX";
	default: return "another ISA";
	}
}

int pn_qgemm_isa_check(uint32_t dtype, char *why, size_t n)
{
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
	int ok;

	/* the ISA enum is a bit set: each level holds the ones below it */
	if (dtype == PNB_DTYPE_I8)	/* oneDNN's int8 gemm:jit starts at AVX2 */
		ok = !!(isa & (dnnl_cpu_isa_avx2 & ~dnnl_cpu_isa_avx));
	else if (dtype == PNB_DTYPE_BF16)
		ok = !!(isa & (dnnl_cpu_isa_avx512_core_bf16 & ~dnnl_cpu_isa_avx512_core_vnni));
	else
		ok = 1;
	if (ok)
		return 0;
	snprintf(why, n, "%s weights need a CPU with %s; oneDNN runs this one at %s%s%s%s",
		 dtype == PNB_DTYPE_I8 ? "int8" : "bf16",
		 dtype == PNB_DTYPE_I8 ? "AVX2 or newer (full 8-bit inputs with VNNI or AMX)" :
		 "AVX512_CORE_BF16 or AMX", isa_name(isa), cap ? " (ONEDNN_MAX_CPU_ISA=" : "",
		 cap ? cap : "", cap ? ")" : "");
	return -ENOTSUP;
}
