// SPDX-License-Identifier: MIT
/*
 * op_common.c - the checks and shape helpers the op descriptors share.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "ops/op_impl.h"

int pn_op_check_series(const struct vctx *c, uint32_t i, const struct pnb_node *n,
		       uint32_t act_at, uint32_t deg_at, uint32_t even_at,
		       uint32_t a_at, uint32_t b_at)
{
	const int S = PNB_SEC_NODES;
	const char *op = pn_op_name(n->op);
	int32_t act = n->iattr[act_at], deg = n->iattr[deg_at], even = n->iattr[even_at];
	float a = n->fattr[a_at], b = n->fattr[b_at];

	if (act != PNB_ACT_RELU && act != PNB_ACT_GELU && act != PNB_ACT_SILU &&
	    act != PNB_ACT_GELU_TANH)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(act_at), "%s base activation %"
				 PRId32 ", expected relu (1), gelu (2), silu (3) or gelu_tanh (5)",
				 op, act);
	if (deg < 1 || deg > (int32_t)PNB_POLY_MAX_DEGREE)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(deg_at), "%s series degree %"
				 PRId32 ", expected 1..%u", op, deg, PNB_POLY_MAX_DEGREE);
	if (even < 0 || even > 1)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(even_at), "%s even flag %" PRId32
				 ", expected 0 or 1", op, even);
	if (!(a < b))
		return pnb_bad_entry(c, -EINVAL, S, i, PN_FA_OFF(a_at), "%s series range [%g, %g], "
				 "expected fattr[0] < fattr[1]", op, a, b);
	if (even && deg % 2)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(deg_at), "%s even series of odd "
				 "degree %" PRId32 ", expected an even degree", op, deg);
	if (even && a != -b)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_FA_OFF(a_at), "%s even series on [%g, %g], "
				 "expected a symmetric range [-b, b]", op, a, b);
	return 0;
}

int pn_op_check_none(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	(void)c;
	(void)i;
	(void)n;
	return 0;
}

int pn_op_check_act_enum(const struct vctx *c, uint32_t i, const struct pnb_node *n,
			 uint32_t at)
{
	if (n->iattr[at] < 0 || n->iattr[at] >= PNB_ACT_COUNT)
		return pnb_bad_entry(c, -EINVAL, PNB_SEC_NODES, i, PN_IA_OFF(at), "%s activation %"
				 PRId32 ", expected 0..%d", pn_op_name(n->op), n->iattr[at],
				 PNB_ACT_COUNT - 1);
	return 0;
}

int pn_op_node_err(struct pn_build *b, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return pn_errf(b->err, -EINVAL, "%s: node %u '%s' (%s): %s",
		       b->f->path, b->n->index, b->n->name,
		       pnb_op_name(b->n->op), detail);
}

const struct pnb_value *pn_op_val(struct pn_build *b, uint32_t v)
{
	return &b->f->values[v];
}

int pn_op_want_w(struct pn_build *b, uint32_t i, uint32_t ndim, uint64_t d0, uint64_t d1)
{
	const struct pnb_node *pn = &b->f->nodes[b->n->index];
	const struct pnb_tensor *t;

	if (pn->w[i] == PNB_NONE)
		return pn_op_node_err(b, "weight slot %u missing (expected %llu x %llu)",
				      i, (unsigned long long)d0, (unsigned long long)d1);
	t = &b->f->tensors[pn->w[i]];
	if (t->dtype != PNB_DTYPE_F32)
		return pn_op_node_err(b, "weight %s: dtype %s, expected F32",
				      pnb_str(b->f, t->name), pnb_dtype_name(t->dtype));
	if (ndim == 1 && pnb_tensor_elems(t) != d0)
		return pn_op_node_err(b, "weight %s: expected %llu elements, has %llu",
				      pnb_str(b->f, t->name), (unsigned long long)d0,
				      (unsigned long long)pnb_tensor_elems(t));
	if (ndim == 2 && (t->ndim != 2 || t->shape[0] != d0))
		return pn_op_node_err(b, "weight %s: expected a matrix of %llu rows, has %u dims, "
				      "%llu rows", pnb_str(b->f, t->name), (unsigned long long)d0,
				      t->ndim, (unsigned long long)t->shape[0]);
	if (ndim == 2 && t->shape[1] != d1)
		return pn_op_node_err(b, "weight %s: expected %llu columns, has %llu",
				      pnb_str(b->f, t->name), (unsigned long long)d1,
				      (unsigned long long)t->shape[1]);
	b->n->w[i] = pnb_tensor_data(b->f, pn->w[i]);
	b->n->w_dtype[i] = PNB_DTYPE_F32;
	return 0;
}

/* "tensor 'NAME' (data at file offset N)" for errors about a tensor's contents. */
static const char *tensor_at(struct pn_build *b, uint32_t slot, char *buf, size_t n)
{
	uint32_t ti = b->f->nodes[b->n->index].w[slot];
	const struct pnb_tensor *t = &b->f->tensors[ti];

	snprintf(buf, n, "%s (data at file offset %llu)", pnb_str(b->f, t->name),
		 (unsigned long long)((const uint8_t *)pnb_tensor_data(b->f, ti) - b->f->base));
	return buf;
}

static int want_empty(struct pn_build *b, uint32_t slot, const char *why)
{
	if (b->f->nodes[b->n->index].w[slot] == PNB_NONE)
		return 0;
	return pn_op_node_err(b, "weight slot %u holds %s, expected none: %s", slot,
			      pnb_str(b->f, pn_op_tensor(b, slot)->name), why);
}

/* The I8 weight's scales: [N], each > 0 (the reader refused NaN and Inf). */
static int want_scales(struct pn_build *b, uint32_t w, uint32_t s, uint64_t N)
{
	char at[320];
	const float *sc;
	int r;

	if (b->f->nodes[b->n->index].w[s] == PNB_NONE)
		return pn_op_node_err(b, "weight %s is I8 but its scale slot %u is empty, "
				      "expected F32 [%llu] per-channel scales",
				      pnb_str(b->f, pn_op_tensor(b, w)->name), s,
				      (unsigned long long)N);
	if ((r = pn_op_want_w(b, s, 1, N, 0)))
		return r;
	sc = b->n->w[s];
	for (uint64_t k = 0; k < N; k++)
		if (!(sc[k] > 0))
			return pn_op_node_err(b, "scale tensor %s: element %llu is %g, expected "
					      "a scale > 0", tensor_at(b, s, at, sizeof(at)),
					      (unsigned long long)k, (double)sc[k]);
	return 0;
}

/* The static input quantization {sx > 0, z an integer in 0..255}, if present. */
static int want_qp(struct pn_build *b, uint32_t qp)
{
	char at[320];
	const float *p;
	int r;

	if (b->f->nodes[b->n->index].w[qp] == PNB_NONE)
		return 0;
	if ((r = pn_op_want_w(b, qp, 1, 2, 0)))
		return r;
	p = b->n->w[qp];
	if (!(p[0] > 0) || !(p[1] >= 0 && p[1] <= 255 && p[1] == (float)(int)p[1]))
		return pn_op_node_err(b, "activation quantization %s is {%g, %g}, expected "
				      "{scale > 0, zero point an integer in 0..255}",
				      tensor_at(b, qp, at, sizeof(at)), (double)p[0],
				      (double)p[1]);
	return 0;
}

int pn_op_want_gemm_w(struct pn_build *b, uint32_t w, uint32_t s, uint32_t qp, uint64_t K,
		      uint64_t N)
{
	const struct pnb_tensor *t = pn_op_tensor(b, w);
	int r;

	if (!t || t->dtype == PNB_DTYPE_F32)
		return pn_op_want_w(b, w, 2, K, N) ?:
		       want_empty(b, s, "the weight is F32, not I8") ?:
		       want_empty(b, qp, "the weight is F32, not I8");
	if (t->dtype != PNB_DTYPE_I8 && t->dtype != PNB_DTYPE_BF16)
		return pn_op_node_err(b, "weight %s: dtype %s, expected F32, BF16, or I8 with "
				      "per-channel scales", pnb_str(b->f, t->name),
				      pnb_dtype_name(t->dtype));
	if (t->ndim != 2 || t->shape[0] != K || t->shape[1] != N)
		return pn_op_node_err(b, "weight %s: expected a %s matrix [%llu, %llu]",
				      pnb_str(b->f, t->name), pnb_dtype_name(t->dtype),
				      (unsigned long long)K, (unsigned long long)N);
	if (t->dtype == PNB_DTYPE_BF16)
		r = want_empty(b, s, "BF16 weights have no scales") ?:
		    want_empty(b, qp, "BF16 weights take f32 inputs");
	else
		r = want_scales(b, w, s, N) ?: want_qp(b, qp);
	if (r)
		return r;
	b->n->w[w] = pnb_tensor_data(b->f, b->f->nodes[b->n->index].w[w]);
	b->n->w_dtype[w] = (uint8_t)t->dtype;
	return 0;
}

int pn_op_opt_w(struct pn_build *b, uint32_t i, uint64_t d0)
{
	if (b->f->nodes[b->n->index].w[i] == PNB_NONE)
		return 0;
	return pn_op_want_w(b, i, 1, d0, 0);
}

int pn_op_want_width(struct pn_build *b, uint32_t v, const char *what, uint32_t layout,
		     uint32_t width)
{
	const struct pnb_value *pv = pn_op_val(b, v);

	if (pv->dtype != PNB_DTYPE_F32)
		return pn_op_node_err(b, "value %s: dtype %s, expected F32", what,
				      pnb_dtype_name(pv->dtype));
	if (layout && pv->layout != layout)
		return pn_op_node_err(b, "value %s: layout %s, expected %s", what,
				      pnb_layout_name(pv->layout), pnb_layout_name(layout));
	if (pv->width != width)
		return pn_op_node_err(b, "value %s: width %u, expected %u", what,
				      pv->width, width);
	return 0;
}

int pn_op_same_shape(struct pn_build *b)
{
	const struct pnb_value *x = pn_op_val(b, b->n->in[0]);

	b->n->d_in = b->n->d_out = x->width;
	return pn_op_want_width(b, b->n->out, "out", x->layout, x->width) ?:
	       pn_op_want_width(b, b->n->in[0], "in", 0, x->width);
}

int pn_op_build_act(struct pn_build *b, int32_t act)
{
	if (act < 0 || act >= PNB_ACT_COUNT)
		return pn_op_node_err(b, "iattr[0]: unknown activation %d (expected 0..%d)",
				      act, PNB_ACT_COUNT - 1);
	return 0;
}

const struct pnb_tensor *pn_op_tensor(struct pn_build *b, uint32_t slot)
{
	uint32_t t = b->f->nodes[b->n->index].w[slot];

	return t == PNB_NONE ? NULL : &b->f->tensors[t];
}

int pn_op_finite_w(struct pn_build *b, uint32_t slot, const char *what)
{
	const struct pnb_tensor *t = pn_op_tensor(b, slot);
	uint64_t n = pnb_tensor_elems(t);

	for (uint64_t i = 0; i < n; i++)
		if (!isfinite(b->n->w[slot][i]))
			return pn_op_node_err(b, "%s %s: element %llu is not finite", what,
					      pnb_str(b->f, t->name), (unsigned long long)i);
	return 0;
}

int pn_op_want_coefs(struct pn_build *b, uint32_t slot, uint32_t E, int32_t degree,
		     int32_t even)
{
	uint32_t ncoef = even ? (uint32_t)degree / 2 + 1 : (uint32_t)degree + 1;

	return (E ? pn_op_want_w(b, slot, 2, E, ncoef) : pn_op_want_w(b, slot, 1, ncoef, 0)) ?:
	       pn_op_finite_w(b, slot, "series coefficients");
}

const struct pnb_node *pn_op_producer(struct pn_build *b, uint32_t v)
{
	for (uint32_t j = b->n->index; j-- > 0;)
		if (b->f->nodes[j].out == v)
			return &b->f->nodes[j];
	return NULL;
}
