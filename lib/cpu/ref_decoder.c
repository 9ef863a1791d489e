// SPDX-License-Identifier: MIT
/*
 * ref_decoder.c - plain twins of decoder.c: one loop per formula, double
 * accumulation, RoPE angles computed from theta directly (no table).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "util/pn_err.h"

void pn_ref_rope(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		 const uint32_t *pos0, uint32_t W, uint32_t heads, uint32_t hs, float theta,
		 float *y)
{
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < T; t++) {
			const float *xr = x + ((size_t)b * T + t) * W;
			float *yr = y + ((size_t)b * T + t) * W;
			double p = (double)pos0[b] + t;

			for (uint32_t c = 0; c < W; c++)
				yr[c] = t < lens[b] ? xr[c] : 0.0f;
			if (t >= lens[b])
				continue;
			for (uint32_t h = 0; h < heads; h++)
				for (uint32_t i = 0; i < hs / 2; i++) {
					double ang = p / pow((double)theta, 2.0 * i / hs);
					double a = xr[h * hs + 2 * i], bb = xr[h * hs + 2 * i + 1];

					yr[h * hs + 2 * i] = (float)(a * cos(ang) - bb * sin(ang));
					yr[h * hs + 2 * i + 1] = (float)(a * sin(ang) + bb * cos(ang));
				}
		}
}

void pn_ref_attn_cache(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		       const struct pn_kv_run *kr, const struct pn_attn_kv *a, float *out)
{
	const struct pn_kv *kv = kr->kv;
	uint32_t hs = a->hs, D = a->H * hs, ld = D + 2 * a->Hkv * hs;
	double *s = malloc(((size_t)kv->len + 1) * sizeof(*s));

	PN_ASSERT(s);
	for (uint32_t b = 0; b < B; b++) {
		float *K = kv->base + kr->slots[b] * kv->slot_stride + a->layer * kv->layer_stride;
		float *Vc = K + (size_t)kv->len * kv->width;

		for (uint32_t t = 0; t < T; t++) {
			const float *row = qkv + ((size_t)b * T + t) * ld;

			if (t >= lens[b])
				continue;
			for (uint32_t c = 0; c < kv->width; c++) {
				K[(size_t)c * kv->len + kr->pos0[b] + t] = row[D + c];
				Vc[(size_t)(kr->pos0[b] + t) * kv->width + c] = row[D + kv->width + c];
			}
		}
		for (uint32_t t = 0; t < T; t++)
			for (uint32_t h = 0; h < a->H; h++) {
				const float *q = qkv + ((size_t)b * T + t) * ld + h * hs;
				uint32_t g = h / (a->H / a->Hkv), nk = kr->pos0[b] + t + 1;
				double m = -INFINITY, sum = 0;
				float *o = out + ((size_t)b * T + t) * D + h * hs;

				if (t >= lens[b]) {
					memset(o, 0, hs * sizeof(*o));
					continue;
				}
				for (uint32_t u = 0; u < nk; u++) {
					double d = 0;

					for (uint32_t c = 0; c < hs; c++)
						d += (double)q[c] * K[(size_t)(g * hs + c) * kv->len + u];
					s[u] = d * a->scale;
					m = s[u] > m ? s[u] : m;
				}
				for (uint32_t u = 0; u < nk; u++)
					sum += s[u] = exp(s[u] - m);
				for (uint32_t c = 0; c < hs; c++) {
					double acc = 0;

					for (uint32_t u = 0; u < nk; u++)
						acc += s[u] / sum * Vc[(size_t)u * kv->width + g * hs + c];
					o[c] = (float)acc;
				}
			}
	}
	free(s);
}

void pn_ref_logits(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		   const float *table, uint32_t V, uint32_t D, int last, float *y)
{
	uint32_t rows = last ? B : B * T;

	for (uint32_t r = 0; r < rows; r++) {
		const float *xr = x + (last ? ((size_t)r * T + lens[r] - 1) : r) * D;

		for (uint32_t v = 0; v < V; v++) {
			double acc = 0;

			for (uint32_t c = 0; c < D; c++)
				acc += (double)xr[c] * table[(size_t)v * D + c];
			y[(size_t)r * V + v] = (float)acc;
		}
	}
}
