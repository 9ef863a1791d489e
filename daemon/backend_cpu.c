// SPDX-License-Identifier: MIT
/*
 * backend_cpu.c - the CPU backend (backend.h): a model's derived state is
 * what the CPU executor is built from, an executor is a pn_exec (lib/exec:
 * single-threaded, its arena planned once for max_batch x max_tokens).
 * Workers, pinning, batching and completions are worker.c's.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend.h"
#include "exec/exec.h"

struct pnd_backend {
	struct pnd_backend_config cfg;
};

/* Per model: the graph and its packed weights, built once at LOAD and
 * shared read-only by every worker's executor. */
struct pnd_backend_model {
	struct pn_cpu_model *cm;
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

static int cpu_prepare_model(struct pnd_backend *b, const struct pnd_model *m,
			     struct pnd_backend_model **out, struct pn_err *e)
{
	struct pnd_backend_model *bm = calloc(1, sizeof(*bm));
	int r;

	*out = NULL;
	if (!bm)
		return pn_errf(e, -ENOMEM, "model %u: out of memory", m->id);
	/* shape checks and packing: a bad model is refused here, at LOAD */
	r = pn_cpu_model_new(m->m, &bm->cm, e);
	if (r) {
		free(bm);
		return r;
	}
	*out = bm;
	return 0;
}

static void cpu_release_model(struct pnd_backend *b, struct pnd_backend_model *bm)
{
	pn_cpu_model_free(bm->cm);
	free(bm);
}

static int cpu_exec_new(struct pnd_backend *b, const struct pnd_model *m,
			const struct pnd_backend_model *bm, uint32_t max_batch, uint32_t max_tokens,
			struct pnd_backend_exec **out, struct pn_err *e)
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

const struct pnd_backend_ops pnd_backend_cpu = {
	.name = "cpu",
	.init = cpu_init,
	.fini = cpu_fini,
	.prepare_model = cpu_prepare_model,
	.release_model = cpu_release_model,
	.exec_new = cpu_exec_new,
	.exec_free = cpu_exec_free,
	.run_group = cpu_run_group,
	.recover = cpu_recover,
};
