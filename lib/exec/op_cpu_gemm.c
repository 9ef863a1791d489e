// SPDX-License-Identifier: MIT
/*
 * op_cpu_gemm.c - the GEMM weights of LINEAR and FFN on the CPU, whatever
 * their dtype (op_cpu.h): F32 through packed.h for small batches and sgemm
 * otherwise, I8 and BF16 through qgemm.h for every batch.
 *
 * A quantized weight is refused at load, not at the first job, where the
 * CPU (as oneDNN sees it) lacks the ISA for it: the same file then runs
 * elsewhere or is recompiled without --int8/--bf16 (docs/quant.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cpu/kernels.h"
#include "cpu/packed.h"
#include "cpu/qgemm.h"
#include "exec/op_cpu.h"

int pn_cpu_gemm_prepare(const struct pnb_file *f, const struct pn_gnode *n,
			const struct pn_cpu_gemm *g, struct pn_cpu_node *cn,
			struct pn_wstore *store, struct pn_err *err)
{
	uint32_t dt = n->w_dtype[g->w];
	struct pn_qgemm *q = &cn->q[g->k];
	char why[200];

	if (!pn_w_quantized(n, g->w)) {
		/* a failure only costs the fast path */
		cn->packed[g->k] = pn_packed_w_new(n->w[g->w], g->K, g->N, store);
		return 0;
	}
	if (pn_qgemm_isa_check(dt, why, sizeof(why)))
		return pn_errf(err, -ENOTSUP, "%s: node %u '%s' (%s): weight slot %u: %s", f->path,
			       n->index, n->name, pnb_op_name(n->op), g->w, why);
	*q = (struct pn_qgemm){
		.K = g->K, .N = g->N, .dtype = dt, .W = n->w[g->w],
		.scale = dt == PNB_DTYPE_I8 ? n->w[g->s] : NULL,
		.qp = dt == PNB_DTYPE_I8 ? n->w[g->qp] : NULL,
		.levels = dt == PNB_DTYPE_I8 ? pn_q8_levels() : 0,
	};
	if (dt == PNB_DTYPE_I8) {
		cn->colsum[g->k] = malloc((size_t)g->N * sizeof(int32_t));
		if (!cn->colsum[g->k])
			return pn_errf(err, -ENOMEM, "out of memory");
		pn_q8_colsum(q->W, g->K, g->N, cn->colsum[g->k]);
		q->colsum = cn->colsum[g->k];
	}
	/* NULL (a store only measuring, or no room in it): the plain twin's sums */
	cn->packed[g->k] = pn_packed_w_new_dt(q->W, dt, g->K, g->N, store);
	q->pk = cn->packed[g->k];
	return 0;
}

size_t pn_cpu_gemm_scratch(const struct pn_gnode *n, const struct pn_cpu_gemm *g)
{
	struct pn_qgemm q = { .K = g->K, .N = g->N, .dtype = n->w_dtype[g->w] };

	/* + 64: the arena's scratch is float-aligned, qgemm wants 64 bytes */
	return pn_w_quantized(n, g->w) ? pn_qlinear_scratch_bytes(&q) + 64 : 0;
}

static void *align64(void *p)
{
	return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

void pn_cpu_gemm_run(const struct pn_op_run *r, const struct pn_cpu_gemm *g, uint32_t M,
		     const float *x, const float *b, uint32_t act, float *y, void *scratch)
{
	const struct pn_cpu_node *cn = r->cn;

	if (cn && cn->q[g->k].dtype) {
		pn_qlinear(r->pk, &cn->q[g->k], M, x, b, act, y, align64(scratch));
		return;
	}
	if (pn_packed_linear(r->pk, cn ? cn->packed[g->k] : NULL, M, x, b, act, y))
		pn_linear(r->pool, x, M, g->K, r->n->w[g->w], b, g->N, act, y);
}

void pn_cpu_gemm_ref(const struct pn_op_run *r, const struct pn_cpu_gemm *g, uint32_t M,
		     const float *x, const float *b, uint32_t act, float *y)
{
	const struct pn_gnode *n = r->n;
	uint32_t dt = n->w_dtype[g->w];

	if (!pn_w_quantized(n, g->w)) {
		pn_ref_linear(x, M, g->K, n->w[g->w], b, g->N, act, y);
		return;
	}
	pn_ref_qlinear(&(struct pn_qgemm){
			       .K = g->K, .N = g->N, .dtype = dt, .W = n->w[g->w],
			       .scale = dt == PNB_DTYPE_I8 ? n->w[g->s] : NULL,
			       .qp = dt == PNB_DTYPE_I8 ? n->w[g->qp] : NULL,
			       .levels = dt == PNB_DTYPE_I8 ? pn_q8_levels() : 0,
		       }, M, x, b, act, y);
}
