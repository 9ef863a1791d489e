/* SPDX-License-Identifier: MIT */
/*
 * gen.h - token-by-token generation on a causal decoder (docs/generate.md).
 *
 * A struct pn_gen is a KV cache for n_slots sequences of up to max_len
 * positions each, planned and allocated once (64-byte aligned, every page
 * touched in pn_gen_new), plus two executors over one CPU model: a prefill
 * executor (1 sequence x max_len tokens) and a decode executor (n_slots
 * sequences x 1 token). Nothing is allocated after pn_gen_new.
 *
 * A slot is one session's cache. pn_gen_prefill resets a slot and fills
 * positions 0..n-1; pn_gen_step appends one token to each listed slot
 * (the decode steps of many sessions in one executor call: continuous
 * batching). A slot's next position is pn_gen_pos; running past max_len
 * fails with -ENOSPC naming the slot and the length, and changes nothing.
 *
 * Threading: one thread at a time per struct pn_gen (the executors may own
 * a pool). The CPU model is shared, read-only, and must outlive it.
 */
#ifndef PN_GEN_H
#define PN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "util/pool.h"

struct pn_cpu_model;
struct pn_gen;

/*
 * -EINVAL (with err) where the model is not a causal decoder (no
 * attn_cache node, output not [batch, vocab] logits) or max_len is 0 or
 * past the model's context.
 */
int pn_gen_new(const struct pn_cpu_model *cm, uint32_t n_slots, uint32_t max_len,
	       struct pn_pool *pool, struct pn_gen **out, struct pn_err *err);
void pn_gen_free(struct pn_gen *g);
uint32_t pn_gen_vocab(const struct pn_gen *g);	/* floats per logits row */
uint32_t pn_gen_max_len(const struct pn_gen *g);
size_t pn_gen_cache_bytes(const struct pn_gen *g);	/* the KV cache, all slots */
uint32_t pn_gen_pos(const struct pn_gen *g, uint32_t slot);	/* positions filled */
void pn_gen_reset(struct pn_gen *g, uint32_t slot);	/* frees the slot's positions */

/* Resets slot, runs ids[0..n) at positions 0..n-1; logits [vocab] of the last. */
int pn_gen_prefill(struct pn_gen *g, uint32_t slot, const int32_t *ids, uint32_t n,
		   float *logits, struct pn_err *err);
/*
 * One token per listed slot (distinct slots, each already prefilled) at
 * its next position; logits [n, vocab] in the order given. All or nothing:
 * a full slot, a repeated slot or a bad id fails before anything runs.
 */
int pn_gen_step(struct pn_gen *g, uint32_t n, const uint32_t *slots, const int32_t *ids,
		float *logits, struct pn_err *err);

#endif /* PN_GEN_H */
