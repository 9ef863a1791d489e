/* SPDX-License-Identifier: MIT */
/*
 * qgemm.h - GEMMs on quantized weights: int8 (u8 activations x s8 weights,
 * s32 accumulation) and bf16 (f32 accumulation). docs/quant.md.
 *
 * int8 numbers. Weights are quantized once, symmetric per output channel:
 * W[k][n] ~ sw[n] * q[k][n], q in -127..127, sw[n] = max_k |W[k][n]| / 127
 * (1 for an all-zero channel). Activations are quantized per row at run
 * time, asymmetric u8 over the row's range widened to hold 0:
 * x[k] ~ sx * (u[k] - z), u in 0..255, so a post-ReLU row (min 0) gets all
 * 256 levels and a zero stays exact. Or statically, with one calibrated
 * {sx, z} for every row, clipping. Then, exactly in integers,
 *
 *   y[m][n] = sx[m] * sw[n] * (sum_k u[m][k] q[k][n] - z[m] * colsum[n]) + b[n]
 *
 * with colsum[n] = sum_k q[k][n]. u8 x s8 is what VNNI's vpdpbusd and AMX
 * multiply natively. Without VNNI (AVX2, AVX512_CORE) oneDNN multiplies
 * with vpmaddubsw, which adds pairs of u8 x s8 products into a saturating
 * s16: 2 * 255 * 127 overflows it, so there activations take 128 levels
 * (0..127; 2 * 127 * 127 fits) and the weights keep their 8 bits
 * (pn_q8_levels, g->levels). The file is the same on every CPU: oneDNN needs no compensation pass and no runtime
 * scales or zero points (either drops it off its brgemm kernels to a
 * gemm ~4x slower, measured), so the zero point and both scales live in
 * the epilogue here.
 *
 * The fast path runs oneDNN's matmul on weights packed once (packed.h) in
 * blocks of up to PN_PACKED_MAX_ROWS rows on the calling thread; the plain
 * twin pn_ref_qlinear quantizes the same way and sums in int32 loops, so
 * the two agree to float rounding of the epilogue.
 */
#ifndef PN_CPU_QGEMM_H
#define PN_CPU_QGEMM_H

#include <stddef.h>
#include <stdint.h>

struct pn_packed_w;
struct pn_packed_ctx;

/* One GEMM's quantized weights as a kernel sees them. */
struct pn_qgemm {
	uint32_t K, N;
	uint32_t dtype;			/* PNB_DTYPE_I8 or PNB_DTYPE_BF16 */
	const void *W;			/* [K, N] row-major: int8_t or uint16_t (bf16 bits) */
	const float *scale;		/* I8: sw [N] */
	const float *qp;		/* I8: static {sx, z}, or NULL: per row */
	const int32_t *colsum;		/* I8: [N], pn_q8_colsum; NULL: summed on the fly (ref) */
	uint32_t levels;		/* I8: top input level, 255 or 127 (pn_q8_levels); 0: 255 */
	const struct pn_packed_w *pk;	/* oneDNN's packed copy, or NULL: the plain twin */
};

/* ---- quantization (also the compiler's, lib/compile/pass_quant.c) ---------- */

/* q [K, N], sw [N] from W [K, N]: symmetric per column (see above). */
void pn_q8_weights(const float *W, uint32_t K, uint32_t N, int8_t *q, float *sw);
void pn_q8_colsum(const int8_t *q, uint32_t K, uint32_t N, int32_t *colsum);
/*
 * One row x [K] to u [K] in 0..levels (0: 255): qp NULL, per row (sx, z
 * from its range); else qp = {sx, z} as the file stores it (256 levels),
 * clipped, and rescaled to the same range when levels is 127. Writes *sx
 * and *z either way.
 */
void pn_q8_row(const float *x, uint32_t K, const float *qp, uint32_t levels, uint8_t *u,
	       float *sx, int32_t *z);
/* {sx, z} of a quantization of values in [lo, hi] (widened to hold 0) to 0..levels. */
void pn_q8_params(float lo, float hi, uint32_t levels, float qp[2]);
/* The input levels this CPU's int8 GEMM takes exactly: 255 with VNNI or AMX, else 127. */
uint32_t pn_q8_levels(void);
/* bf16 bits of f (round to nearest even; NaN stays NaN) and back. */
uint16_t pn_bf16_from_f32(float f);
float pn_bf16_to_f32(uint16_t h);
void pn_bf16_row(const float *x, size_t n, uint16_t *out);

/* ---- the GEMM ---------------------------------------------------------------- */

/* Scratch bytes pn_qlinear needs for any row count (blocks are bounded). */
size_t pn_qlinear_scratch_bytes(const struct pn_qgemm *g);
/*
 * y [M, N] = act(x [M, K] W + b), b may be NULL, act enum pnb_act; x, y
 * dense f32, y != x. scratch: pn_qlinear_scratch_bytes, 64-byte aligned.
 * With c and g->pk: oneDNN on the calling thread; a block whose primitive
 * cannot be made (out of memory) runs the plain twin, same result.
 */
void pn_qlinear(struct pn_packed_ctx *c, const struct pn_qgemm *g, uint32_t M, const float *x,
		const float *b, uint32_t act, float *y, void *scratch);
/* The plain twin: same quantization, int32 (I8) or f32 (BF16) loops; allocates nothing. */
void pn_ref_qlinear(const struct pn_qgemm *g, uint32_t M, const float *x, const float *b,
		    uint32_t act, float *y);

/*
 * Whether this CPU, as oneDNN sees it (ONEDNN_MAX_CPU_ISA included), runs
 * dtype's GEMMs: 0, or -ENOTSUP with why ("int8 weights need ...").
 */
int pn_qgemm_isa_check(uint32_t dtype, char *why, size_t n);

#endif /* PN_CPU_QGEMM_H */
