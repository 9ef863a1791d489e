// SPDX-License-Identifier: MIT
/*
 * twins_attn.c - CPU twins of kernels/ptx/attention.ptx: attention_fwd and
 * attention_tiled, which compute the same thing (the second stages k and v
 * in dynamic shared memory, so it also needs the bytes its header states).
 * qkv [B*T, 3D] = q | k | v, head h in columns h*hd .. of each third; for
 * b = ctaid.z, h = ctaid.y and the query rows t < min(grid.x * 4 warps, L),
 * L = min(lens[b], T): out[b T + t, h hd + c] = sum_u p_u v_u[c] over keys
 * u < L (u <= t when causal), p = softmax(scale q_t . k_u). Rows t >= L and
 * heads past grid.y are not written. Two passes (max, then expf) instead of
 * the kernels' online softmax with ex2.approx: the same weights to ~1e-6.
 */
#include <math.h>
#include <stdlib.h>

#include "tests/cuda_double/twins_int.h"

enum { P_QKV, P_OUT, P_LENS, P_T, P_D, P_HD, P_SCALE, P_CAUSAL };

static int attention(struct tw *t, int tiled)
{
	uint64_t qkv_a = tw_u64(t, P_QKV), out_a = tw_u64(t, P_OUT);
	uint32_t T = tw_u32(t, P_T), D = tw_u32(t, P_D), hd = tw_u32(t, P_HD);
	uint32_t causal = tw_u32(t, P_CAUSAL) != 0;
	float scale = tw_f32(t, P_SCALE);
	uint32_t warps = t->block[0] / 32, R = 4 * warps, heads = t->grid[1], B = t->grid[2];
	uint64_t span_cols = 2ull * D + (uint64_t)heads * hd;	/* q, k, v of the last head */
	const uint32_t *lens;
	float *buf;
	int rc = tw_block_1d(t, 32, 128);

	if (rc)
		return rc;
	if (hd < 1 || hd > 128)
		return tw_inval(t, "hd %u: the kernel takes 1..128 (a lane owns 4 columns)", hd);
	if (tiled) {
		uint64_t need = 4ull * (32ull * (2 * hd + 1) + 2ull * R * hd + 64ull * R);

		if (t->dyn_shared < need)
			return tw_inval(t, "dynamic shared %u bytes, the kernel needs %llu for hd %u, %u warps",
					t->dyn_shared, (unsigned long long)need, hd, warps);
	}
	TW_SPAN(lens, t, "lens", tw_u64(t, P_LENS), (uint64_t)B * 4, 4);
	buf = malloc(((size_t)T + hd + 1) * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	for (uint32_t b = 0; b < B; b++) {
		uint32_t L = lens[b] < T ? lens[b] : T;
		uint64_t rows_q = (uint64_t)t->grid[0] * R < L ? (uint64_t)t->grid[0] * R : L;
		uint64_t rows_kv = causal ? rows_q : L;
		uint32_t bT = b * T;	/* mul.lo.u32, as the kernel */
		const float *qkv;
		float *out, *s = buf, *o = buf + T;

		if (!rows_q)
			continue;
		/* not TW_SPAN: buf is freed on the way out */
		qkv = tw_span(t, "qkv", qkv_a + (uint64_t)bT * (uint32_t)(12 * D),
			      tw_extent(rows_kv, 3ull * D, span_cols, 4), 4);
		out = qkv ? tw_span(t, "out", out_a + (uint64_t)bT * (uint32_t)(4 * D),
				    tw_extent(rows_q, D, (uint64_t)heads * hd, 4), 4)
			  : NULL;
		if (!qkv || !out) {
			rc = -EFAULT;
			break;
		}
		for (uint32_t h = 0; h < heads; h++)
			for (uint32_t q = 0; q < rows_q; q++) {
				const float *qr = qkv + (size_t)q * 3 * D + (size_t)h * hd;
				uint32_t nk = causal ? q + 1 : L;
				float m = -INFINITY, l = 0.0f, inv;

				for (uint32_t u = 0; u < nk; u++) {
					const float *kr = qkv + (size_t)u * 3 * D + D + (size_t)h * hd;
					float dot = 0.0f;

					for (uint32_t c = 0; c < hd; c++)
						dot += qr[c] * kr[c];
					s[u] = dot * scale;
					m = fmaxf(m, s[u]);
				}
				for (uint32_t c = 0; c < hd; c++)
					o[c] = 0.0f;
				for (uint32_t u = 0; u < nk; u++) {
					const float *vr = qkv + (size_t)u * 3 * D + 2 * (size_t)D + (size_t)h * hd;
					float p = expf(s[u] - m);

					l += p;
					for (uint32_t c = 0; c < hd; c++)
						o[c] += p * vr[c];
				}
				inv = 1.0f / l;
				for (uint32_t c = 0; c < hd; c++)
					out[(size_t)q * D + (size_t)h * hd + c] = o[c] * inv;
			}
	}
	free(buf);
	return rc;
}

int tw_attention_fwd(struct tw *t)
{
	return attention(t, 0);
}

int tw_attention_tiled(struct tw *t)
{
	return attention(t, 1);
}
