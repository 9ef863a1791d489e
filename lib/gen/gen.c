// SPDX-License-Identifier: MIT
/*
 * gen.c - prefill and batched decode steps over one KV cache (gen.h).
 *
 * The cache is one 64-byte aligned block: slot-major, then layer, then K
 * [max_len, width] and V [max_len, width]. The prefill executor (1 x
 * max_len) and the decode executor (n_slots x 1) both run over it, so a
 * session prefilled by one decodes in the other with no copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/kernels.h"
#include "exec/exec.h"
#include "exec/graph.h"
#include "gen/gen.h"

struct pn_gen {
	const struct pn_cpu_model *cm;
	struct pn_exec *prefill, *decode;
	struct pn_kv kv;
	uint32_t vocab, max_len;
	uint32_t *pos;			/* [n_slots] positions filled */
	uint32_t *lens, *pos0;		/* [n_slots] scratch for a step */
	uint8_t *used;			/* [n_slots] scratch: repeated slots */
};

static void *alloc64(size_t bytes)
{
	void *p = NULL;

	return posix_memalign(&p, 64, bytes ? bytes : 64) ? NULL : p;
}

int pn_gen_new(const struct pn_cpu_model *cm, uint32_t n_slots, uint32_t max_len,
	       struct pn_pool *pool, struct pn_gen **out, struct pn_err *err)
{
	const struct pn_model *m = pn_cpu_model_model(cm);
	uint32_t layers, width;
	struct pn_gen *g;
	size_t bytes;
	int r;

	*out = NULL;
	if (pn_exec_kv_shape(cm, &layers, &width) || !layers)
		return pn_errf(err, -EINVAL, "%s: not a causal decoder: expected attn_cache nodes "
			       "of one width", m->file.path);
	if (m->out_layout != PNB_LAYOUT_SEQ || m->out_width != m->vocab)
		return pn_errf(err, -EINVAL, "%s: output is %u floats per %s, expected the %u "
			       "logits of each sequence's last token", m->file.path, m->out_width,
			       m->out_layout == PNB_LAYOUT_SEQ ? "sequence" : "token", m->vocab);
	if (!n_slots || n_slots > 4096 || !max_len || max_len > m->max_tokens)
		return pn_errf(err, -EINVAL, "generation for %u sessions of %u positions: expected "
			       "1..4096 sessions of 1..%u positions (the model's context)",
			       n_slots, max_len, m->max_tokens);
	g = calloc(1, sizeof(*g));
	if (!g)
		return pn_errf(err, -ENOMEM, "out of memory");
	g->cm = cm;
	g->vocab = m->vocab;
	g->max_len = max_len;
	g->kv = (struct pn_kv){
		.layer_stride = 2 * (size_t)max_len * width, .n_slots = n_slots,
		.layers = layers, .len = max_len, .width = width,
	};
	g->kv.slot_stride = g->kv.layer_stride * layers;
	bytes = g->kv.slot_stride * n_slots * sizeof(float);
	g->kv.base = alloc64(bytes);
	g->pos = calloc(n_slots, sizeof(uint32_t));
	g->lens = calloc(n_slots, sizeof(uint32_t));
	g->pos0 = calloc(n_slots, sizeof(uint32_t));
	g->used = calloc(n_slots, 1);
	if (!g->kv.base || !g->pos || !g->lens || !g->pos0 || !g->used) {
		pn_gen_free(g);
		return pn_errf(err, -ENOMEM, "out of memory: KV cache of %zu bytes for %u "
			       "sessions of %u positions", bytes, n_slots, max_len);
	}
	memset(g->kv.base, 0, bytes);	/* every page now, not on a session's first token */
	r = pn_exec_new_kv(cm, 1, max_len, &g->kv, pool, &g->prefill, err);
	if (!r)
		r = pn_exec_new_kv(cm, n_slots, 1, &g->kv, pool, &g->decode, err);
	if (!r)
		r = pn_exec_prepare(g->prefill, err);
	if (!r)
		r = pn_exec_prepare(g->decode, err);
	if (r) {
		pn_gen_free(g);
		return r;
	}
	*out = g;
	return 0;
}

void pn_gen_free(struct pn_gen *g)
{
	if (!g)
		return;
	pn_exec_free(g->prefill);
	pn_exec_free(g->decode);
	free(g->kv.base);
	free(g->pos);
	free(g->lens);
	free(g->pos0);
	free(g->used);
	free(g);
}

uint32_t pn_gen_vocab(const struct pn_gen *g)
{
	return g->vocab;
}

uint32_t pn_gen_max_len(const struct pn_gen *g)
{
	return g->max_len;
}

size_t pn_gen_cache_bytes(const struct pn_gen *g)
{
	return g->kv.slot_stride * g->kv.n_slots * sizeof(float);
}

uint32_t pn_gen_pos(const struct pn_gen *g, uint32_t slot)
{
	return slot < g->kv.n_slots ? g->pos[slot] : 0;
}

void pn_gen_reset(struct pn_gen *g, uint32_t slot)
{
	if (slot < g->kv.n_slots)
		g->pos[slot] = 0;
}

int pn_gen_prefill(struct pn_gen *g, uint32_t slot, const int32_t *ids, uint32_t n,
		   float *logits, struct pn_err *err)
{
	uint32_t zero = 0;
	int r;

	if (slot >= g->kv.n_slots)
		return pn_errf(err, -EINVAL, "session slot %u, expected 0..%u", slot,
			       g->kv.n_slots - 1);
	if (!n || n > g->max_len)
		return pn_errf(err, n ? -ENOSPC : -EINVAL, "prompt of %u tokens: expected 1..%u "
			       "(the session's length)", n, g->max_len);
	g->pos[slot] = 0;
	r = pn_exec_run_kv(g->prefill, ids, &n, 1, n, &zero, &slot, logits, err);
	if (!r)
		g->pos[slot] = n;
	return r;
}

int pn_gen_step(struct pn_gen *g, uint32_t n, const uint32_t *slots, const int32_t *ids,
		float *logits, struct pn_err *err)
{
	int r = 0;

	if (!n || n > g->kv.n_slots)
		return pn_errf(err, -EINVAL, "decode step of %u sessions, expected 1..%u", n,
			       g->kv.n_slots);
	for (uint32_t i = 0; !r && i < n; i++) {
		uint32_t s = slots[i];

		if (s >= g->kv.n_slots)
			r = pn_errf(err, -EINVAL, "entry %u: session slot %u, expected 0..%u", i, s,
				    g->kv.n_slots - 1);
		else if (g->used[s])
			r = pn_errf(err, -EINVAL, "entry %u: session slot %u appears twice", i, s);
		else if (!g->pos[s])
			r = pn_errf(err, -EINVAL, "entry %u: session slot %u has no prompt: "
				    "prefill it first", i, s);
		else if (g->pos[s] >= g->max_len)
			r = pn_errf(err, -ENOSPC, "entry %u: session slot %u is full: %u positions "
				    "of %u", i, s, g->pos[s], g->max_len);
		else
			g->used[s] = 1;
		g->lens[i] = 1;
		g->pos0[i] = s < g->kv.n_slots ? g->pos[s] : 0;
	}
	for (uint32_t i = 0; i < n; i++)
		if (slots[i] < g->kv.n_slots)
			g->used[slots[i]] = 0;
	if (!r)
		r = pn_exec_run_kv(g->decode, ids, g->lens, n, 1, g->pos0, slots, logits, err);
	for (uint32_t i = 0; !r && i < n; i++)
		g->pos[slots[i]]++;
	return r;
}
