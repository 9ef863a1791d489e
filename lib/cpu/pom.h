/* SPDX-License-Identifier: MIT */
/*
 * pom.h - CPU kernels of the Polynomial Mixer, PoM (SPECS.md "Polynomial
 * Mixer"; arXiv 2604.06129, davidpicard/pom), and their plain twin
 * pn_ref_pom (lib/cpu/ref_pom.c).
 *
 *   h_t = x_t W_h                      W_h [D, E]
 *   s_t = hardsigmoid(x_t W_s + b_s)   W_s [D, G], b_s [G],  hardsigmoid(z) = clamp(z/6 + 1/2, 0, 1)
 *   a   = act(h) = clamp(leaky_relu(h, 0.01), -0.1, 6)
 *   p(h)_e = sum_{j=1..k} C[e, j] a_e^j                       C [E, k]
 *   H   = mean_t p(h_t) (non-causal),  H_t = (1/t) sum_{i<=t} p(h_i) (causal)
 *   y_t = (s_t (.) H_t) W_o            W_o [E, D]
 * where s_t (.) H scales group g = features [g*E/G, (g+1)*E/G) by s_t[g]
 * (selection heads; G = E is one gate per feature, G = 1 one per token).
 *
 * Storage, as the repo's GEMM weights (LINEAR's W [in, out]): every matrix
 * row-major [in, out]: W_h [D, E], W_s [D, G], W_o [E, D]. C is row-major
 * [E, k]: C[e*k + (j-1)] multiplies act(h_e)^j.
 *
 * Same conventions as kernels.h: float32, padded token rows b*T + t with
 * t < lens[b] valid (padding rows of x may hold anything, are left out of
 * every mean and are zeroed in y), no allocation, scratch from the caller
 * in floats, pool may be NULL.
 */
#ifndef PN_CPU_POM_H
#define PN_CPU_POM_H

#include <stddef.h>
#include <stdint.h>

#include "util/pool.h"

#define PN_POM_MAX_DEGREE 16u

struct pn_pom_w {		/* a PoM node's shape and weights */
	uint32_t D;		/* model width */
	uint32_t E;		/* hidden width, expand * D */
	uint32_t k;		/* degree, 1..PN_POM_MAX_DEGREE */
	uint32_t G;		/* selection heads, divides E */
	const float *W_h;	/* [D, E] */
	const float *W_s;	/* [D, G] */
	const float *b_s;	/* [G], or NULL for zeros */
	const float *C;		/* [E, k] */
	const float *W_o;	/* [E, D] */
};

enum pn_pom_mode {
	PN_POM_NONCAUSAL = 0,	/* one mean over the sequence, the same H for every t */
	PN_POM_CAUSAL = 1,	/* prefix means */
};

/*
 * 0, or -EINVAL with a one-line reason in msg (cap bytes; msg may be NULL):
 * zero D/E/G, degree 0 or > PN_POM_MAX_DEGREE, E not a multiple of G, a
 * NULL weight (b_s excepted), NaN/Inf in C.
 */
int pn_pom_check(const struct pn_pom_w *w, char *msg, size_t cap);

/* Floats of scratch pn_pom needs for B*T rows. */
size_t pn_pom_scratch(const struct pn_pom_w *w, uint32_t B, uint32_t T);

/*
 * y [B*T, D] from x [B*T, D]; y != x. Returns 0, or -EINVAL (bad weights
 * per pn_pom_check, bad mode, lens[b] > T, NULL buffers) with y untouched.
 */
int pn_pom(struct pn_pool *pool, const float *x, uint32_t B, uint32_t T,
	   const uint32_t *lens, enum pn_pom_mode mode, const struct pn_pom_w *w,
	   float *y, float *scratch);

/*
 * Recurrent decode: the state is pn_pom_state_size(w) floats: S [E] then
 * the token count n as a uint64_t in the next two floats (read by
 * pn_pom_state_count). All-zero bytes are the empty state, so calloc or
 * pn_pom_state_reset makes one. pn_pom_step takes one token x_row [D],
 * does S += p(h), n += 1 and writes y_row [D] = (s (.) S/n) W_o: the
 * causal output of that token. Scratch: pn_pom_step_scratch(w) floats.
 * pn_pom_step returns 0 or -EINVAL (as pn_pom, state untouched).
 */
size_t pn_pom_state_size(const struct pn_pom_w *w);
size_t pn_pom_step_scratch(const struct pn_pom_w *w);
void pn_pom_state_reset(const struct pn_pom_w *w, float *state);
uint64_t pn_pom_state_count(const struct pn_pom_w *w, const float *state);
int pn_pom_step(const struct pn_pom_w *w, float *state, const float *x_row,
		float *y_row, float *scratch);

/* The plain twin: the formula as written, in double. Same contract as pn_pom. */
int pn_ref_pom(const float *x, uint32_t B, uint32_t T, const uint32_t *lens,
	       enum pn_pom_mode mode, const struct pn_pom_w *w, float *y);

#endif /* PN_CPU_POM_H */
