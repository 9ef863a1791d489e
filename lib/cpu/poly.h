/* SPDX-License-Identifier: MIT */
/*
 * poly.h - CPU kernels of the PolyNet nodes (SPECS.md; formats in
 * uapi/pnb.h, guide in docs/polynodes.md): PackedPolyFFN, VQ codebook and
 * CacheNode, Clustered Query Attention, Macro-Operator.
 *
 * Same conventions as kernels.h: row-major float32, padded token rows
 * b * T + t with lens[b] valid, scratch from the caller sized by the
 * matching *_scratch() (in floats), no allocation, pool may be NULL. Each
 * kernel has a pn_ref_* twin in lib/cpu/ref_poly.c.
 */
#ifndef PN_CPU_POLY_H
#define PN_CPU_POLY_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/cheb.h"
#include "cpu/kernels.h"
#include "util/pool.h"

/* ---- PackedPolyFFN (PNB_OP_POLY_FFN) ------------------------------------ */

/*
 * pn_ffn with the activation replaced by the series p: plain
 * out = p(x W1 + b1) W2 + b2, W1 [D,ff]; gated W1 [D,2ff] = [gate | up],
 * out = (p(x Wg + bg) * (x Wu + bu)) W2 + b2. b1, b2 may be NULL.
 */
size_t pn_polyffn_scratch(uint32_t rows, uint32_t ff, int gated);
void pn_polyffn(struct pn_pool *pool, const float *x, uint32_t rows, const struct pn_ffn_w *w,
		const struct pn_cheb *p, float *out, float *scratch);

/*
 * Codebook-driven: out[r] = polyffn(codebook[codes[r]]), with the FFN run
 * once per distinct code present among the rows and the results gathered.
 * codes[r] in [0, K) (a VQ node's output). Exact for the quantized input.
 * *n_present (may be NULL) receives the number of distinct codes.
 */
size_t pn_polyffn_codes_scratch(uint32_t rows, uint32_t K, uint32_t D,
				uint32_t ff, int gated);
void pn_polyffn_codes(struct pn_pool *pool, const int32_t *codes, uint32_t rows,
		      const float *codebook, uint32_t K, const struct pn_ffn_w *w,
		      const struct pn_cheb *p, float *out, float *scratch, uint32_t *n_present);

/* ---- VQ codebook / CacheNode (PNB_OP_VQ) -------------------------------- */

/*
 * codes[r] = argmin_k ||x_r - e_k||^2, computed as argmin(||e_k||^2 - 2 x_r.e_k)
 * with a GEMM against the codebook [K, D]; enorm[k] = ||e_k||^2. Ties and
 * NaN rows go to the lowest index, so a code is always in [0, K).
 * dist2 (may be NULL) receives ||x_r - e_code||^2 (clamped at 0).
 */
size_t pn_vq_scratch(uint32_t K);
void pn_vq_assign(const float *x, uint32_t rows, uint32_t D, const float *codebook,
		  const float *enorm, uint32_t K, int32_t *codes, float *dist2,
		  float *scratch);

/* What a VQ node outputs (iattr[PNB_IA_VQ_MODE]). */
enum pn_vq_mode {
	PN_VQ_CODES = 0,	/* I32 [rows, 1]: the code ids */
	PN_VQ_QUANTIZE = 1,	/* F32 [rows, D]: codebook[code] */
	PN_VQ_CACHE = 2,	/* F32 [rows, W]: table[code], table [K, W] (CacheNode) */
};

/* Rows of the table (codebook for QUANTIZE, table for CACHE, width W) gathered by code. */
void pn_vq_gather(const int32_t *codes, uint32_t rows, const float *table,
		  uint32_t W, float *out);

/* ---- Clustered Query Attention (PNB_OP_CQA) ----------------------------- */

struct pn_cqa {
	uint32_t heads;
	uint32_t clusters;	/* C per (sequence, head); C >= len: exact attention */
	uint32_t bits;		/* LSH hyperplanes, 1..64 */
	uint32_t topk;		/* 0: plain clustered; k: the improved top-k variant */
	uint32_t iters;		/* Hamming k-means iterations */
	float scale;		/* 1/sqrt(hd) */
	const float *planes;	/* [bits, hd], shared by the heads */
};

/*
 * Non-causal multi-head attention over qkv [B*T, 3D] as pn_attention, with
 * each (sequence, head)'s queries hashed (sign of q . plane_j), clustered in
 * Hamming space and served by their centroid's attention (SPECS.md). Keys
 * t >= lens[b] are masked; out rows t >= lens[b] are left unspecified.
 */
size_t pn_cqa_scratch(uint32_t T, uint32_t D, const struct pn_cqa *c,
		      uint32_t nthreads);
void pn_cqa(struct pn_pool *pool, const float *qkv, uint32_t B, uint32_t T,
	    const uint32_t *lens, uint32_t D, const struct pn_cqa *c, float *out,
	    float *scratch);

/*
 * k-means in Hamming space on n hashes of `bits` bits: up to iters rounds
 * of (assign each hash to its nearest centroid by popcount(h ^ c), ties to
 * the lowest index; stop if no assignment changed; set each centroid bit to
 * the majority of its members' bits, ties 0; an empty cluster keeps its
 * centroid). cent [k]: the initial centroids on entry, the final ones on
 * return; assign [n] is the last assignment made. count: k * (bits + 1)
 * uint32 of scratch. Returns the assignment rounds run (iters >= 1).
 */
uint32_t pn_hamming_lloyd(const uint64_t *h, uint32_t n, uint32_t bits,
			  uint64_t *cent, uint32_t k, uint32_t iters,
			  uint32_t *assign, uint32_t *count);

/* ---- Macro-Operator (PNB_OP_MACRO) -------------------------------------- */

enum pn_router {
	PN_ROUTER_CENTROID = 0,	/* score_e = -||x - c_e||^2 (+ ||x||^2), router [E, D] */
	PN_ROUTER_LINEAR = 1,	/* score_e = x Wg + bg, router [D, E] */
};

struct pn_macro {
	uint32_t E, rank;	/* experts; hidden width of each */
	uint32_t router;	/* enum pn_router */
	uint32_t topk;		/* 1 or 2 */
	float temperature;	/* gates = softmax(chosen scores / temperature) */
	const float *router_w;	/* centroids [E, D] or Wg [D, E] */
	const float *router_b;	/* [E] or NULL (linear only) */
	const float *W1;	/* [E * D, rank]: expert e's rows e*D.. */
	const float *b1;	/* [E * rank] or NULL */
	const float *coefs;	/* [E, ncoef]: expert e's series */
	const float *W2;	/* [E * rank, D] */
	const float *b2;	/* [E * D] or NULL */
	struct pn_cheb cheb;	/* degree, act, even, range; .c unused */
};

/*
 * y = x + sum over the top-k experts e of g_e(x) * (p_e(x W1_e + b1_e) W2_e + b2_e),
 * rows grouped by expert so each expert runs two GEMMs on its own rows.
 */
size_t pn_macro_scratch(uint32_t rows, uint32_t D, const struct pn_macro *m);
void pn_macro(struct pn_pool *pool, const float *x, uint32_t rows, uint32_t D,
	      const struct pn_macro *m, float *out, float *scratch);

/* ---- reference twins (lib/cpu/ref_poly.c) ------------------------------- */

void pn_ref_polyffn(const float *x, uint32_t rows, uint32_t D, uint32_t ff,
		    int gated, const struct pn_cheb *p, const float *W1,
		    const float *b1, const float *W2, const float *b2, float *out);
void pn_ref_vq_assign(const float *x, uint32_t rows, uint32_t D,
		      const float *codebook, uint32_t K, int32_t *codes, float *dist2);
void pn_ref_cqa(const float *qkv, uint32_t B, uint32_t T, const uint32_t *lens,
		uint32_t D, const struct pn_cqa *c, float *out);
void pn_ref_macro(const float *x, uint32_t rows, uint32_t D,
		  const struct pn_macro *m, float *out);

#endif /* PN_CPU_POLY_H */
