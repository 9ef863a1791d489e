/* SPDX-License-Identifier: MIT */
/*
 * op_impl.h - private to lib/ops/: the helpers the descriptors' check and
 * build share (lib/ops/op_common.c), and the descriptors themselves.
 */
#ifndef PN_OPS_OP_IMPL_H
#define PN_OPS_OP_IMPL_H

#include <stddef.h>

#include "format/pnb_check.h"
#include "ops/op.h"

/* Offsets in struct pnb_node of a slot, for pnb_bad_entry. */
#define PN_IA_OFF(k) (offsetof(struct pnb_node, iattr) + 4u * (k))
#define PN_FA_OFF(k) (offsetof(struct pnb_node, fattr) + 4u * (k))
#define PN_W_OFF(k) (offsetof(struct pnb_node, w) + 4u * (k))

/* check: a Chebyshev series' base act, degree, even flag and range [a, b]. */
int pn_op_check_series(const struct vctx *c, uint32_t i, const struct pnb_node *n,
		       uint32_t act_at, uint32_t deg_at, uint32_t even_at,
		       uint32_t a_at, uint32_t b_at);
/* check: nothing beyond the arity the descriptor states. */
int pn_op_check_none(const struct vctx *c, uint32_t i, const struct pnb_node *n);
/* check: iattr[at] is an enum pnb_act. */
int pn_op_check_act_enum(const struct vctx *c, uint32_t i, const struct pnb_node *n,
			 uint32_t at);

/* build: "FILE: node I 'NAME' (OP): detail" */
int pn_op_node_err(struct pn_build *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const struct pnb_value *pn_op_val(struct pn_build *b, uint32_t v);
/* The weight in slot i must be F32 with ndim dims equal to d0 (and d1). */
int pn_op_want_w(struct pn_build *b, uint32_t i, uint32_t ndim, uint64_t d0, uint64_t d1);
/*
 * A GEMM weight [K, N] in slot w: F32, BF16, or I8 with its F32 [N] scales
 * in slot s (finite and > 0) and optionally the static {sx, z} of its input
 * in slot qp (uapi/pnb.h). Slots s and qp must be empty otherwise.
 */
int pn_op_want_gemm_w(struct pn_build *b, uint32_t w, uint32_t s, uint32_t qp, uint64_t K,
		      uint64_t N);
/* An optional vector: absent is fine, present must have d0 elements. */
int pn_op_opt_w(struct pn_build *b, uint32_t i, uint64_t d0);
int pn_op_want_width(struct pn_build *b, uint32_t v, const char *what, uint32_t layout,
		     uint32_t width);
/* Output keeps the input's layout and width. */
int pn_op_same_shape(struct pn_build *b);
int pn_op_build_act(struct pn_build *b, int32_t act);
/* The tensor in weight slot, or NULL. */
const struct pnb_tensor *pn_op_tensor(struct pn_build *b, uint32_t slot);
/* Every element of the (resolved) weight slot is finite. */
int pn_op_finite_w(struct pn_build *b, uint32_t slot, const char *what);
/* Series coefficients: E rows (E = 0: a vector) of ncoef. */
int pn_op_want_coefs(struct pn_build *b, uint32_t slot, uint32_t E, int32_t degree,
		     int32_t even);
/* The node before this one whose output is value v, or NULL. */
const struct pnb_node *pn_op_producer(struct pn_build *b, uint32_t v);

extern const struct pn_op pn_op_embed, pn_op_layernorm, pn_op_rmsnorm, pn_op_l2norm,
	pn_op_softmax, pn_op_linear, pn_op_act, pn_op_add, pn_op_ffn, pn_op_attention,
	pn_op_pool_mean, pn_op_pool_cls, pn_op_poly_ffn, pn_op_vq, pn_op_cqa, pn_op_macro,
	pn_op_rope, pn_op_attn_cache, pn_op_logits;

#endif /* PN_OPS_OP_IMPL_H */
