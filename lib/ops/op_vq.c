// SPDX-License-Identifier: MIT
/* op_vq.c - VQ: nearest codebook row; codes, quantized rows or a cached table. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "ops/op_impl.h"

static int check_vq(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t mode = n->iattr[PNB_IA_VQ_MODE];

	if (mode < 0 || mode > 2)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_VQ_MODE), "vq mode %" PRId32
				 ", expected 0 (codes), 1 (quantize) or 2 (cache)", mode);
	if ((mode == 2) != (n->n_w == PNB_W_VQ_TABLE + 1))
		return pnb_bad_entry(c, -EINVAL, S, i, PN_W_OFF(PNB_W_VQ_TABLE), "vq mode %" PRId32
				 " with n_w %" PRIu32 ", expected w[2] (table) exactly in cache "
				 "mode", mode, n->n_w);
	return 0;
}

static int build_vq(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_value *x = pn_op_val(b, n->in[0]), *o = pn_op_val(b, n->out);
	const struct pnb_tensor *cb = pn_op_tensor(b, PNB_W_VQ_CODEBOOK);
	const float *e, *norms;
	uint32_t D = x->width;
	uint64_t K = cb->ndim == 2 ? cb->shape[0] : 0;
	int r;

	if (!K || K > INT32_MAX)
		return pn_op_node_err(b, "codebook: expected a matrix [K, %u], K <= 2^31 - 1", D);
	n->d_in = D;
	n->ff = (uint32_t)K;
	n->flops_per_row = 2.0 * D * K;
	if ((r = pn_op_want_width(b, n->in[0], "in", 0, D)) ||
	    (r = pn_op_want_w(b, PNB_W_VQ_CODEBOOK, 2, K, D)) ||
	    (r = pn_op_want_w(b, PNB_W_VQ_NORMS, 1, K, 0)) ||
	    (r = pn_op_finite_w(b, PNB_W_VQ_CODEBOOK, "codebook")))
		return r;
	/* The norms are derived data: a stale or corrupt vector would pick wrong codes. */
	e = n->w[PNB_W_VQ_CODEBOOK];
	norms = n->w[PNB_W_VQ_NORMS];
	for (uint64_t k = 0; k < K; k++) {
		double s = 0;

		for (uint32_t i = 0; i < D; i++)
			s += (double)e[k * D + i] * e[k * D + i];
		if (!(fabs(norms[k] - s) <= 1e-4 * (1 + s)))
			return pn_op_node_err(b, "norms: entry %llu is %g, ||codebook row||^2 is %g",
					      (unsigned long long)k, norms[k], s);
	}
	switch (n->iattr[PNB_IA_VQ_MODE]) {
	case 0:
		n->d_out = 1;
		if (o->dtype != PNB_DTYPE_I32 || o->width != 1 || o->layout != x->layout)
			return pn_op_node_err(b, "out: codes mode writes I32 width 1 in the input's "
					      "layout");
		return 0;
	case 1:
		n->d_out = D;
		return pn_op_want_width(b, n->out, "out", x->layout, D);
	}
	n->d_out = o->width;
	return pn_op_want_width(b, n->out, "out", x->layout, o->width) ?:
	       pn_op_want_w(b, PNB_W_VQ_TABLE, 2, K, o->width);
}

const struct pn_op pn_op_vq = {
	.code = PNB_OP_VQ, .name = "vq", .n_in = 1, .min_w = 2, .max_w = 3,
	.in = { "x" },
	.w = {
		[PNB_W_VQ_CODEBOOK] = { "codebook", "[K, D]" },
		[PNB_W_VQ_NORMS] = { "norms", "||e_k||^2 [K]" },
		[PNB_W_VQ_TABLE] = { "table", "[K, W] (cache mode only)" },
	},
	.ia = { [PNB_IA_VQ_MODE] = { "mode", "0 codes, 1 quantize, 2 cache" } },
	.check = check_vq,
	.build = build_vq,
	.ptx = "vq_assign vq_gather",
};
