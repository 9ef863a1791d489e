// SPDX-License-Identifier: MIT
/*
 * ref.c - the reference twins of the kernels: the contracts of kernels.h
 * written as plainly as possible (naive loops, double arithmetic, no
 * oneDNN, no pool, no tricks). Tests take them as the ground truth, so
 * clarity beats speed here; they may allocate.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "util/pn_err.h"
#include "uapi/pnb.h"

void pn_ref_gemm(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
		 const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc)
{
	for (uint32_t i = 0; i < M; i++)
		for (uint32_t j = 0; j < N; j++) {
			double s = 0.0;

			for (uint32_t k = 0; k < K; k++)
				s += (double)A[(size_t)i * lda + k] * B[(size_t)k * ldb + j];
			if (beta != 0.0f)
				s += (double)beta * C[(size_t)i * ldc + j];
			C[(size_t)i * ldc + j] = (float)s;
		}
}

float pn_ref_act1(uint32_t act, float x)
{
	double v = x;

	switch (act) {
	case PNB_ACT_NONE:
		return x;
	case PNB_ACT_RELU:
		return x > 0.0f ? x : 0.0f;
	case PNB_ACT_GELU:
		return (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
	case PNB_ACT_SILU:
		return (float)(v / (1.0 + exp(-v)));
	case PNB_ACT_TANH:
		return (float)tanh(v);
	case PNB_ACT_GELU_TANH:
		return (float)(0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
	}
	PN_ASSERT(act < PNB_ACT_COUNT);
	return x;
}

void pn_ref_linear(const float *x, uint32_t rows, uint32_t in, const float *W,
		   const float *b, uint32_t out, uint32_t act, float *y)
{
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t o = 0; o < out; o++) {
			double s = b ? b[o] : 0.0;

			for (uint32_t i = 0; i < in; i++)
				s += (double)x[(size_t)r * in + i] * W[(size_t)i * out + o];
			y[(size_t)r * out + o] = pn_ref_act1(act, (float)s);
		}
}

void pn_ref_layernorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		      const float *b, float eps, float *y)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		double mean = 0.0, var = 0.0;

		for (uint32_t i = 0; i < d; i++)
			mean += xr[i];
		mean /= d;
		for (uint32_t i = 0; i < d; i++)
			var += (xr[i] - mean) * (xr[i] - mean);
		var /= d;
		for (uint32_t i = 0; i < d; i++)
			y[(size_t)r * d + i] = (float)(g[i] * (xr[i] - mean) / sqrt(var + eps) + b[i]);
	}
}

void pn_ref_rmsnorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		    float eps, float *y)
{
	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (size_t)r * d;
		double ms = 0.0;

		for (uint32_t i = 0; i < d; i++)
			ms += (double)xr[i] * xr[i];
		ms /= d;
		for (uint32_t i = 0; i < d; i++)
			y[(size_t)r * d + i] = (float)(g[i] * xr[i] / sqrt(ms + eps));
	}
}

void pn_ref_embed(const int32_t *ids, uint32_t B, uint32_t T, const float *table,
		  uint32_t D, float scale, uint32_t pos_kind, const float *pos,
		  const float *inv_freq, const float *type, float *out)
{
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < T; t++) {
			size_t row = (size_t)b * T + t;

			for (uint32_t i = 0; i < D; i++) {
				double v = (double)scale * table[(size_t)ids[row] * D + i];

				if (pos_kind == PNB_POS_LEARNED) {
					v += pos[(size_t)t * D + i];
				} else if (pos_kind == PNB_POS_SINCOS && i < D / 2 * 2) {
					/* The angle is a float32 product, as in the model. */
					float a = (float)t * inv_freq[i % (D / 2)];

					v += i < D / 2 ? sin(a) : cos(a);
				}
				if (type)
					v += type[i];
				out[row * D + i] = (float)v;
			}
		}
}

void pn_ref_attention(const float *qkv, uint32_t B, uint32_t T,
		      const uint32_t *lens, uint32_t D, uint32_t heads,
		      float scale, int causal, float *out)
{
	uint32_t hd = D / heads;
	double *p = malloc(((size_t)T + 1) * sizeof(*p));

	PN_ASSERT(p);
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t h = 0; h < heads; h++)
			for (uint32_t t = 0; t < lens[b] && t < T; t++) {
				const float *q = qkv + ((size_t)b * T + t) * 3 * D + h * hd;
				uint32_t nk = causal ? t + 1 : (lens[b] < T ? lens[b] : T);
				double m = -INFINITY, sum = 0.0;

				for (uint32_t u = 0; u < nk; u++) {
					const float *k = qkv + ((size_t)b * T + u) * 3 * D + D + h * hd;
					double s = 0.0;

					for (uint32_t c = 0; c < hd; c++)
						s += (double)q[c] * k[c];
					p[u] = s * scale;
					if (p[u] > m)
						m = p[u];
				}
				for (uint32_t u = 0; u < nk; u++) {
					p[u] = exp(p[u] - m);
					sum += p[u];
				}
				for (uint32_t c = 0; c < hd; c++) {
					double o = 0.0;

					for (uint32_t u = 0; u < nk; u++)
						o += p[u] / sum *
						     qkv[((size_t)b * T + u) * 3 * D + 2 * D + h * hd + c];
					out[((size_t)b * T + t) * D + h * hd + c] = (float)o;
				}
			}
	free(p);
}

void pn_ref_ffn(const float *x, uint32_t rows, uint32_t D, uint32_t ff,
		int gated, uint32_t act, const float *W1, const float *b1,
		const float *W2, const float *b2, float *out)
{
	uint32_t hw = gated ? 2 * ff : ff;
	float *h = malloc((size_t)rows * hw * sizeof(*h) + 1);

	PN_ASSERT(h);
	pn_ref_linear(x, rows, D, W1, b1, hw, gated ? PNB_ACT_NONE : act, h);
	if (gated)	/* h[r, j] = act(gate) * up, written to a ff-wide matrix in place */
		for (uint32_t r = 0; r < rows; r++)
			for (uint32_t j = 0; j < ff; j++)
				h[(size_t)r * ff + j] = pn_ref_act1(act, h[(size_t)r * hw + j]) *
							h[(size_t)r * hw + ff + j];
	pn_ref_linear(h, rows, ff, W2, b2, D, PNB_ACT_NONE, out);
	free(h);
}

void pn_ref_pool_mean(const float *x, uint32_t B, uint32_t T,
		      const uint32_t *lens, uint32_t d, float *y)
{
	for (uint32_t b = 0; b < B; b++) {
		uint32_t L = lens[b] < T ? lens[b] : T;

		for (uint32_t i = 0; i < d; i++) {
			double s = 0.0;

			for (uint32_t t = 0; t < L; t++)
				s += x[((size_t)b * T + t) * d + i];
			y[(size_t)b * d + i] = L ? (float)(s / L) : 0.0f;
		}
	}
}

void pn_ref_l2norm(float *x, uint32_t rows, uint32_t d, float eps)
{
	for (uint32_t r = 0; r < rows; r++) {
		float *xr = x + (size_t)r * d;
		double s = 0.0;

		for (uint32_t i = 0; i < d; i++)
			s += (double)xr[i] * xr[i];
		if (s < eps)
			s = eps;
		for (uint32_t i = 0; i < d; i++)
			xr[i] = (float)(xr[i] / sqrt(s));
	}
}

void pn_ref_softmax_rows(float *x, uint32_t rows, uint32_t d)
{
	for (uint32_t r = 0; r < rows; r++) {
		float *xr = x + (size_t)r * d;
		double m = -INFINITY, sum = 0.0;

		for (uint32_t i = 0; i < d; i++)
			if (xr[i] > m)
				m = xr[i];
		for (uint32_t i = 0; i < d; i++)
			sum += exp(xr[i] - m);
		for (uint32_t i = 0; i < d; i++)
			xr[i] = (float)(exp(xr[i] - m) / sum);
	}
}
