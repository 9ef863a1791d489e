/* SPDX-License-Identifier: MIT */
/*
 * flash_attn.h - exact causal softmax attention, tiled FlashAttention style
 * (lib/cpu/flash_attn.c): the baseline the sequence mixers are measured
 * against. One sequence of T tokens; for a padded batch call it once per
 * sequence.
 *
 * Layout: row-major float32. Head h of token t reads
 *   q[t * ld + h * hd + c], k[t * ld + h * hd + c], v[t * ld + h * hd + c]
 * for c < hd, and writes out[t * ldo + h * hd + c]. With qkv [T, 3D] as
 * pn_attention takes it: q = qkv, k = qkv + D, v = qkv + 2D, ld = 3D,
 * ldo = D, D = heads * hd. ld, ldo >= heads * hd; out must not overlap
 * q, k or v.
 *
 * Result: out[t] = sum_{u <= t} softmax_u(scale * q_t . k_u) v_u, exactly
 * (no approximation beyond float32 rounding and the few-ulp exp). scale > 0.
 * Rows u > t never change row t, as long as they are finite: in a block
 * that crosses the diagonal, masked keys get weight exactly 0 and their v
 * rows are multiplied by that 0 (a NaN there would still show).
 *
 * Threading: work items are (head, query block) pairs, the longest (last)
 * query blocks first, taken from an atomic counter by pn_pool_size(pool)
 * tasks; NULL pool = the calling thread. No allocation: scratch holds
 * pn_flash_attn_scratch(hd, nthreads) floats, nthreads >= pn_pool_size(pool).
 */
#ifndef PN_CPU_FLASH_ATTN_H
#define PN_CPU_FLASH_ATTN_H

#include <stddef.h>
#include <stdint.h>

#include "util/pool.h"

/* Tile sizes (rows of queries, of keys): 128 x 128 measured best at hd 64
 * (bench/flash_attn_bench.c; 64 x 64 was 1.6x slower, 256 x 128 within noise).
 * -D overrides are for measuring only. */
#ifndef PN_FLASH_BQ
#define PN_FLASH_BQ 128
#endif
#ifndef PN_FLASH_BK
#define PN_FLASH_BK 128
#endif

size_t pn_flash_attn_scratch(uint32_t hd, uint32_t nthreads);
void pn_flash_attn_causal(struct pn_pool *pool, const float *q, const float *k,
			  const float *v, uint32_t ld, uint32_t T, uint32_t heads,
			  uint32_t hd, float scale, float *out, uint32_t ldo,
			  float *scratch);

#endif /* PN_CPU_FLASH_ATTN_H */
