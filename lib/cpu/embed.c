// SPDX-License-Identifier: MIT
/*
 * embed.c - token embedding plus position (learned or sin/cos) plus type.
 *
 * The position vector depends on t only, so with sin/cos it is computed
 * once per t, into the b = 0 row, and reused for every sequence before that
 * row gets its own token added last: sinf/cosf dominate otherwise.
 */
#include <math.h>

#include "cpu/kernels.h"
#include "uapi/pnb.h"

/* pos(t) into p[D]; zeros for PNB_POS_NONE. */
static void position(uint32_t t, uint32_t D, uint32_t pos_kind, const float *pos,
		     const float *inv_freq, float *p)
{
	uint32_t i, half = D / 2;

	switch (pos_kind) {
	case PNB_POS_LEARNED:
		for (i = 0; i < D; i++)
			p[i] = pos[(size_t)t * D + i];
		break;
	case PNB_POS_SINCOS:
		/* The angle is a float32 product, as in the TF graph. */
		for (i = 0; i < half; i++) {
			float a = (float)t * inv_freq[i];

			p[i] = sinf(a);
			p[half + i] = cosf(a);
		}
		for (i = 2 * half; i < D; i++)	/* odd D: the last column has no pair */
			p[i] = 0.0f;
		break;
	default:
		for (i = 0; i < D; i++)
			p[i] = 0.0f;
	}
}

/* o = scale * e + p (+ type), in that order of additions. p may alias o. */
static void add_token(float *o, const float *e, float scale, const float *p,
		      const float *type, uint32_t D)
{
	for (uint32_t i = 0; i < D; i++)
		o[i] = scale * e[i] + p[i];
	if (type)
		for (uint32_t i = 0; i < D; i++)
			o[i] += type[i];
}

void pn_embed(const int32_t *ids, uint32_t B, uint32_t T, const struct pn_embed_w *e,
	      float *out)
{
	const float *table = e->table, *pos = e->pos, *inv_freq = e->inv_freq, *type = e->type;
	uint32_t D = e->D, pos_kind = e->pos_kind;
	float scale = e->scale;

	if (B == 0)
		return;
	for (uint32_t t = 0; t < T; t++) {
		float *p = out + (size_t)t * D;	/* row (b = 0, t) holds pos(t) meanwhile */

		position(t, D, pos_kind, pos, inv_freq, p);
		for (uint32_t b = B; b-- > 0;) {
			size_t row = (size_t)b * T + t;

			add_token(out + row * D, table + (size_t)ids[row] * D, scale, p,
				  type, D);
		}
	}
}
