// SPDX-License-Identifier: MIT
/*
 * backend_cpu.c - the CPU backend (backend.h): a model's derived state is
 * what the CPU executor is built from, an executor is a pn_exec (lib/exec:
 * single-threaded, its arena planned once for max_batch x max_tokens).
 * Workers, pinning, batching and completions are worker.c's.
 *
 * The derived weights (packed GEMM layouts, sin/cos tables) of a model with
 * a persistent region live in one of their own (derived.h): sized by a
 * MEASURE build, filled by a FILL build, then sealed, and the model runs
 * from an ATTACH build over the read-only mapping, the same build a
 * restarted daemon makes without packing anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"
#include "derived.h"
#include "exec/exec.h"
#include "gen/gen.h"
#include "util/wstore.h"

struct pnd_backend {
	struct pnd_backend_config cfg;
};

/* Per model: the graph and its packed weights, built once at LOAD and
 * shared read-only by every worker's executor. */
struct pnd_backend_model {
	struct pn_cpu_model *cm;
	struct pnd_derived d;		/* d.r NULL: derived weights malloc'd */
	bool reattached;		/* the derived weights were there already */
};

static int cpu_init(const struct pnd_backend_config *cfg, struct pnd_backend **out,
		    struct pn_err *e)
{
	struct pnd_backend *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return pn_errf(e, -ENOMEM, "backend cpu: out of memory");
	b->cfg = *cfg;
	*out = b;
	return 0;
}

static void cpu_fini(struct pnd_backend *b)
{
	free(b);
}

static void derived_key(const struct pnd_model *m, struct pnd_derived_key *k)
{
	const dnnl_version_t *v = dnnl_version();

	memset(k, 0, sizeof(*k));
	k->content_hash = m->m->file.content_hash;
	snprintf(k->backend, sizeof(k->backend), "cpu");
	/* the packed layouts are oneDNN's choice for this ISA, in this version */
	snprintf(k->isa, sizeof(k->isa), "dnnl-isa-%d", (int)dnnl_get_effective_cpu_isa());
	k->lib_version = (uint32_t)v->major << 16 | (uint32_t)v->minor << 8 | v->patch;
}

/* An ATTACH build over d's payload: 0, or -ESTALE when it was laid out otherwise. */
static int attach_build(const struct pnd_model *m, struct pnd_backend_model *bm,
			struct pn_err *e)
{
	struct pn_wstore ws;
	int r;

	pn_wstore_init(&ws, PN_WSTORE_ATTACH, bm->d.payload, bm->d.payload_bytes);
	r = pn_cpu_model_new_in(m->m, &ws, &bm->cm, e);
	if (!r && (ws.overflow || ws.used != bm->d.payload_bytes ||
		   ws.fp != bm->d.fingerprint)) {
		pn_cpu_model_free(bm->cm);
		bm->cm = NULL;
		r = pn_errf(e, -ESTALE, "derived region %s: laid out by another build",
			    m->derived_name);
	}
	return r;
}

/* MEASURE, create, FILL, commit: the derived weights packed into a new region. */
static int derive(const struct pnd_model *m, struct pnd_backend_model *bm,
		  const struct pnd_derived_key *key, struct pn_err *e)
{
	struct pn_cpu_model *cm = NULL;
	struct pn_wstore ws;
	uint64_t fp;
	int r;

	pn_wstore_init(&ws, PN_WSTORE_MEASURE, NULL, 0);
	r = pn_cpu_model_new_in(m->m, &ws, &cm, e);
	pn_cpu_model_free(cm);
	if (r)
		return r;
	r = pnd_derived_create(m->derived_name, key, ws.used, &bm->d, e);
	if (r)
		return r;
	pn_wstore_init(&ws, PN_WSTORE_FILL, bm->d.payload, bm->d.payload_bytes);
	r = pn_cpu_model_new_in(m->m, &ws, &cm, e);
	fp = ws.fp;
	pn_cpu_model_free(cm);	/* its pointers are into the writable mapping */
	if (!r && ws.overflow)
		r = pn_errf(e, -EOVERFLOW, "derived region %s: the FILL build outgrew "
			    "its MEASURE", m->derived_name);
	if (!r)
		r = pnd_derived_commit(&bm->d, fp, e);
	if (!r)
		r = attach_build(m, bm, e);
	return r;
}

static int cpu_prepare_model(struct pnd_backend *b, const struct pnd_model *m,
			     struct pnd_backend_model **out, struct pn_err *e)
{
	struct pnd_backend_model *bm = calloc(1, sizeof(*bm));
	struct pnd_derived_key key;
	struct pn_err ae;
	int r;

	*out = NULL;
	if (!bm)
		return pn_errf(e, -ENOMEM, "model %u: out of memory", m->id);
	if (!m->derived_name[0]) {
		/* transient: no region to keep, the packed copies are private */
		r = pn_cpu_model_new(m->m, &bm->cm, e);
		goto out;
	}
	derived_key(m, &key);
	r = pnd_derived_attach(m->derived_name, &key, &bm->d, &ae);
	if (!r) {
		r = attach_build(m, bm, &ae);
		bm->reattached = !r;
		if (r) {
			pnd_derived_close(&bm->d);
			pn_region_destroy(m->derived_name, PN_REGION_AUTO, NULL);
		}
	}
	if (r && r != -ENOENT)
		pnd_log("%s", ae.msg);	/* stale: derived again below */
	if (r)
		r = derive(m, bm, &key, e);
	if (r && bm->d.r) {
		/* no region (/dev/shm full...): serve from private copies */
		pnd_log("model %u: derived region %s: %s; packing privately", m->id,
			m->derived_name, e->msg);
		pnd_derived_close(&bm->d);
		pn_region_destroy(m->derived_name, PN_REGION_AUTO, NULL);
		r = pn_cpu_model_new(m->m, &bm->cm, e);
	}
out:
	if (r) {
		if (bm->d.r) {
			pnd_derived_close(&bm->d);
			pn_region_destroy(m->derived_name, PN_REGION_AUTO, NULL);
		}
		free(bm);
		return r;
	}
	if (bm->d.r)
		pnd_log("model '%s': derived weights %s: %zu bytes, %s",
			pnb_str(&m->m->file, m->m->file.hdr->name), m->derived_name,
			bm->d.payload_bytes, bm->reattached ? "reattached, nothing packed" :
			"packed now");
	*out = bm;
	return 0;
}

static void cpu_release_model(struct pnd_backend *b, struct pnd_backend_model *bm)
{
	pn_cpu_model_free(bm->cm);
	if (bm->d.r)
		pnd_derived_close(&bm->d);
	free(bm);
}

static int cpu_exec_new(struct pnd_backend *b, const struct pnd_model *m,
			const struct pnd_backend_model *bm, uint32_t worker, uint32_t max_batch,
			uint32_t max_tokens, struct pnd_backend_exec **out, struct pn_err *e)
{
	struct pn_exec *x;
	int r = pn_exec_new(bm->cm, max_batch, max_tokens, NULL, &x, e);

	*out = r ? NULL : (struct pnd_backend_exec *)x;
	return r;
}

static void cpu_exec_free(struct pnd_backend_exec *x)
{
	pn_exec_free((struct pn_exec *)x);
}

static int cpu_prepare_exec(struct pnd_backend_exec *x, struct pn_err *e)
{
	struct pn_exec *px = (struct pn_exec *)x;
	int r = pn_exec_prepare(px, e);

	if (!r)
		pnd_log("model '%s': executor prepared, activation arena %zu bytes "
			"(with the largest node scratch, %zu bytes)",
			pnb_str(&pn_exec_model(px)->file, pn_exec_model(px)->file.hdr->name),
			pn_exec_arena_bytes(px, NULL), pn_exec_scratch_bytes(px));
	return r;
}

static int cpu_run_group(struct pnd_backend_exec *x, const int32_t *ids, const uint32_t *lens,
			 uint32_t B, uint32_t T, float *out, struct pn_err *e)
{
	return pn_exec_run((struct pn_exec *)x, ids, lens, B, T, out, e);
}

/* A pn_exec keeps no state across runs that an error could spoil. */
static bool cpu_recover(struct pnd_backend_exec *x, int err)
{
	return true;
}

/* A decoder's context: lib/gen's KV cache and executors over the model's shared pn_cpu_model. */
static int cpu_gen_new(struct pnd_backend *b, const struct pnd_model *m,
		       const struct pnd_backend_model *bm, uint32_t n_slots,
		       struct pnd_backend_gen **out, struct pn_err *e)
{
	uint32_t layers, width;
	struct pn_gen *g;
	int r;

	*out = NULL;
	if (pn_exec_kv_shape(bm->cm, &layers, &width) || !layers)
		return pn_errf(e, -ENOEXEC, "model '%s': not a causal decoder (no attn_cache nodes "
			       "of one width)", pnb_str(&m->m->file, m->m->file.hdr->name));
	r = pn_gen_new(bm->cm, n_slots, m->m->max_tokens, NULL, &g, e);
	if (r)
		return r;
	pnd_log("model '%s': generation: %u sessions of %u positions, KV cache %zu bytes",
		pnb_str(&m->m->file, m->m->file.hdr->name), n_slots, m->m->max_tokens,
		pn_gen_cache_bytes(g));
	*out = (struct pnd_backend_gen *)g;
	return 0;
}

static void cpu_gen_free(struct pnd_backend_gen *g)
{
	pn_gen_free((struct pn_gen *)g);
}

static int cpu_gen_prefill(struct pnd_backend_gen *g, uint32_t slot, const int32_t *ids,
			   uint32_t n, float *logits, struct pn_err *e)
{
	return pn_gen_prefill((struct pn_gen *)g, slot, ids, n, logits, e);
}

static int cpu_gen_step(struct pnd_backend_gen *g, uint32_t n, const uint32_t *slots,
			const int32_t *ids, float *logits, struct pn_err *e)
{
	return pn_gen_step((struct pn_gen *)g, n, slots, ids, logits, e);
}

const struct pnd_backend_ops pnd_backend_cpu = {
	.name = "cpu",
	.init = cpu_init,
	.fini = cpu_fini,
	.prepare_model = cpu_prepare_model,
	.release_model = cpu_release_model,
	.exec_new = cpu_exec_new,
	.exec_free = cpu_exec_free,
	.prepare_exec = cpu_prepare_exec,
	.run_group = cpu_run_group,
	.recover = cpu_recover,
	.gen_new = cpu_gen_new,
	.gen_free = cpu_gen_free,
	.gen_prefill = cpu_gen_prefill,
	.gen_step = cpu_gen_step,
};
