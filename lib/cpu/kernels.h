/* SPDX-License-Identifier: MIT */
/*
 * kernels.h - CPU kernels of the exact nodes (SPECS.md "Standard nodes").
 *
 * Matrices are row-major float32, [rows, features]. Batches are padded:
 * token rows are b * T + t, and lens[b] <= T gives the valid tokens of
 * sequence b (rows past it may hold anything and never reach a valid
 * output). Each pn_* kernel has a plain twin pn_ref_* (lib/cpu/ref.c),
 * written for clarity, that tests compare it against.
 *
 * Kernels do not allocate: scratch comes from the caller, sized by the
 * matching *_scratch() function (in floats). pool may be NULL.
 */
#ifndef PN_CPU_KERNELS_H
#define PN_CPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "util/pool.h"

/* C[M,N] = A[M,K] B[K,N] + beta * C, leading dimensions in elements (oneDNN). */
void pn_gemm(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
	     const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc);
/* Holds the calling thread to one OpenMP thread for oneDNN (once per thread). */
void pn_gemm_one_thread(void);
/* Same with B transposed: C = A B^T + beta C, B stored [N,K]. */
void pn_gemm_bt(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
		const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc);

/* y[rows,out] = act(x[rows,in] W[in,out] + b); b may be NULL. y != x. */
void pn_linear(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t in,
	       const float *W, const float *b, uint32_t out, uint32_t act,
	       float *y);
/* In place, n elements; act is enum pnb_act. */
void pn_act(uint32_t act, float *x, size_t n);
void pn_add(const float *a, const float *b, float *y, size_t n);	/* y may alias */
void pn_layernorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		  const float *b, float eps, float *y);
void pn_rmsnorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		float eps, float *y);

/*
 * out[b*T+t, :D] = scale * table[ids[b*T+t]] + pos(t) (+ type[0] if not NULL).
 * pos_kind is enum pnb_pos_kind: learned (pos [max_pos, D]) or sincos
 * (inv_freq [D/2]: first half sin(t * inv[i]), second half cos). Ids must
 * already be in range (the executor checks them).
 */
struct pn_embed_w {		/* an EMBED node's tables */
	const float *table;	/* [V, D] */
	uint32_t D;
	float scale;		/* of the token row */
	uint32_t pos_kind;	/* enum pnb_pos_kind */
	const float *pos;	/* LEARNED: [>= T, D] */
	const float *inv_freq;	/* SINCOS: [D/2] */
	const float *type;	/* [D] added to every token, or NULL */
};
void pn_embed(const int32_t *ids, uint32_t B, uint32_t T, const struct pn_embed_w *e,
	      float *out);

/*
 * Multi-head attention. qkv [B*T, 3D] = q | k | v, head h in columns
 * [h*hd, (h+1)*hd) of each third, hd = D / heads. s = scale * q k^T over
 * keys t' < lens[b] (and t' <= t when causal), softmax, times v.
 * out [B*T, D]; rows t >= lens[b] are left unspecified.
 */
size_t pn_attention_scratch(uint32_t T, uint32_t nthreads);
struct pn_attn {		/* an ATTENTION node's shape */
	uint32_t D, heads;	/* heads divides D */
	float scale;		/* of the logits, 1/sqrt(D / heads) normally */
	int causal;
};
void pn_attention(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
		  const uint32_t *lens, const struct pn_attn *a, float *out, float *scratch);

/*
 * FFN: plain out = act(x W1 + b1) W2 + b2 with W1 [D,ff]; gated (SwiGLU
 * family) W1 [D,2ff] = [gate | up], out = (act(x Wg + bg) * (x Wu + bu)) W2 + b2.
 * b1, b2 may be NULL. out [rows, D].
 */
struct pn_ffn_w {		/* an FFN's shape and weights (FFN, POLY_FFN) */
	uint32_t D, ff;
	int gated;
	const float *W1, *b1;	/* [D, ff] (gated [D, 2ff]), [ff] (gated [2ff]) or NULL */
	const float *W2, *b2;	/* [ff, D], [D] or NULL */
};
size_t pn_ffn_scratch(uint32_t rows, uint32_t ff, int gated);
/* h [rows, 2ff] = [gate | up] -> h [rows, ff] = act(gate) * up, in place. */
void pn_ffn_gate_rows(float *h, uint32_t rows, uint32_t ff, uint32_t act);
void pn_ffn(struct pn_pool *pool, const float *x, uint32_t rows, const struct pn_ffn_w *w,
	    uint32_t act, float *out, float *scratch);

/* y[b, :] = mean of x[b*T+t, :] over t < lens[b]; zeros when lens[b] == 0. */
void pn_pool_mean(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		  uint32_t d, float *y);
void pn_pool_cls(const float *x, uint32_t B, uint32_t T, uint32_t d, float *y);
/* x *= rsqrt(max(sum x^2, eps)) per row; in place. */
void pn_l2norm(float *x, uint32_t rows, uint32_t d, float eps);
void pn_softmax_rows(float *x, uint32_t rows, uint32_t d);	/* in place */
/* s = exp(s - max s) in place, n >= 1; returns their sum (>= 1): softmax
 * unnormalised. And a dot product. Both attention.c. */
float pn_exp_shifted(float *s, uint32_t n);
float pn_dot(const float *a, const float *b, uint32_t n);

/*
 * The causal decoder (lib/cpu/decoder.c). Row b*T+t is sequence b's token
 * t at position pos0[b] + t; rows t >= lens[b] are padding.
 *
 * ROPE: y = x with, in each of the first heads heads of hs columns, the
 * pairs (2i, 2i+1) turned by angle p * theta^(-2i/hs); cs [P, hs/2, 2]
 * holds {cos, sin} of those angles for p < P. y may equal x.
 */
struct pn_rope_w {
	uint32_t W, heads, hs;
	const float *cs;		/* [max positions, hs/2, 2] */
};
void pn_rope(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	     const uint32_t *pos0, const struct pn_rope_w *r, float *y);
/* cs[p][i] = {cos, sin}(p / theta^(2i/hs)) for p < P, computed in double. */
void pn_rope_table(float *cs, uint32_t P, uint32_t hs, float theta);

/*
 * A KV cache: per slot and layer, K transposed [kv heads][hs][len] (a
 * query's scores over the positions are then contiguous multiply-adds),
 * then V [len, width]; width = kv heads * hs. slots[b] is sequence b's slot.
 */
struct pn_kv {
	float *base;
	size_t slot_stride, layer_stride;	/* floats */
	uint32_t n_slots, layers, len, width;
};
struct pn_kv_run {
	const struct pn_kv *kv;
	const uint32_t *slots;		/* [B] */
	const uint32_t *pos0;		/* [B] */
};
/*
 * ATTN_CACHE: qkv [B*T, (H + 2 Hkv) hs] = q | k | v. Writes each valid
 * token's k, v at its position in layer's slice, then attends causally over
 * positions 0..p of its slot. out [B*T, H hs]; padding rows are zeroed.
 * Positions must be < kv->len (the executor checks). scratch:
 * pn_attn_cache_scratch floats.
 */
struct pn_attn_kv {
	uint32_t H, Hkv, hs, layer;
	float scale;
};
size_t pn_attn_cache_scratch(uint32_t max_pos, uint32_t hs, uint32_t nthreads);
void pn_attn_cache(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
		   const uint32_t *lens, const struct pn_kv_run *kr, const struct pn_attn_kv *a,
		   float *out, float *scratch);
/*
 * LOGITS: y = x table^T, table [V, D]; with last, only row b*T + lens[b]-1
 * of each sequence (y [B, V]), else every row (y [B*T, V]). scratch: B*D
 * floats (last only).
 */
void pn_logits(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	       const float *table, uint32_t V, uint32_t D, int last, float *y,
	       float *scratch);

/* Reference twins: same contracts, plain loops, no oneDNN, no pool. */
void pn_ref_gemm(uint32_t M, uint32_t N, uint32_t K, const float *A, uint32_t lda,
		 const float *B, uint32_t ldb, float beta, float *C, uint32_t ldc);
void pn_ref_linear(const float *x, uint32_t rows, uint32_t in, const float *W,
		   const float *b, uint32_t out, uint32_t act, float *y);
float pn_ref_act1(uint32_t act, float x);
void pn_ref_layernorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		      const float *b, float eps, float *y);
void pn_ref_rmsnorm(const float *x, uint32_t rows, uint32_t d, const float *g,
		    float eps, float *y);
void pn_ref_embed(const int32_t *ids, uint32_t B, uint32_t T, const float *table,
		  uint32_t D, float scale, uint32_t pos_kind, const float *pos,
		  const float *inv_freq, const float *type, float *out);
void pn_ref_attention(const float *qkv, uint32_t B, uint32_t T,
		      const uint32_t *lens, uint32_t D, uint32_t heads,
		      float scale, int causal, float *out);
void pn_ref_ffn(const float *x, uint32_t rows, uint32_t D, uint32_t ff,
		int gated, uint32_t act, const float *W1, const float *b1,
		const float *W2, const float *b2, float *out);
void pn_ref_pool_mean(const float *x, uint32_t B, uint32_t T,
		      const uint32_t *lens, uint32_t d, float *y);
void pn_ref_l2norm(float *x, uint32_t rows, uint32_t d, float eps);
void pn_ref_softmax_rows(float *x, uint32_t rows, uint32_t d);
/* The decoder's twins (lib/cpu/ref_decoder.c): double accumulation, angles
 * computed directly (no table). */
void pn_ref_rope(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		 const uint32_t *pos0, uint32_t W, uint32_t heads, uint32_t hs, float theta,
		 float *y);
void pn_ref_attn_cache(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		       const struct pn_kv_run *kr, const struct pn_attn_kv *a, float *out);
void pn_ref_logits(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
		   const float *table, uint32_t V, uint32_t D, int last, float *y);

#endif /* PN_CPU_KERNELS_H */
