// SPDX-License-Identifier: MIT
/* op_embed.c - EMBED: token table lookup, positions, token type (uapi/pnb.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "ops/op_impl.h"

static int check_embed(const struct vctx *c, uint32_t i, const struct pnb_node *n)
{
	const int S = PNB_SEC_NODES;
	int32_t pos = n->iattr[PNB_IA_EMBED_POS_KIND];

	if (pos == PNB_POS_LEARNED && n->w[PNB_W_EMBED_POS] == PNB_NONE)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_W_OFF(PNB_W_EMBED_POS),
				 "embed with learned positions needs w[1] (position table)");
	if (pos == PNB_POS_SINCOS && n->w[PNB_W_EMBED_INV_FREQ] == PNB_NONE)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_W_OFF(PNB_W_EMBED_INV_FREQ),
				 "embed with sin/cos positions needs w[2] (inv_freq)");
	if (pos < PNB_POS_NONE || pos > PNB_POS_SINCOS)
		return pnb_bad_entry(c, -EINVAL, S, i, PN_IA_OFF(PNB_IA_EMBED_POS_KIND),
				 "embed position kind %" PRId32 ", expected 0 (none), 1 (learned) "
				 "or 2 (sincos)", pos);
	return 0;
}

static int build_embed(struct pn_build *b)
{
	struct pn_gnode *n = b->n;
	const struct pnb_node *pn = &b->f->nodes[n->index];
	const struct pnb_tensor *table, *pos;
	const struct pnb_value *ids = pn_op_val(b, n->in[0]);
	uint32_t D = pn_op_val(b, n->out)->width;
	int r;

	if (ids->dtype != PNB_DTYPE_I32 || ids->layout != PNB_LAYOUT_TOKENS ||
	    ids->width != 1)
		return pn_op_node_err(b, "input ids: expected I32, TOKENS, width 1");
	if (pn->w[PNB_W_EMBED_TABLE] == PNB_NONE)
		return pn_op_node_err(b, "token table (w[0]) missing");
	table = pn_op_tensor(b, PNB_W_EMBED_TABLE);
	if ((r = pn_op_want_w(b, PNB_W_EMBED_TABLE, 2, table->shape[0], D)))
		return r;
	if (table->shape[0] > INT32_MAX)
		return pn_op_node_err(b, "token table: %llu rows, more than ids can name",
				      (unsigned long long)table->shape[0]);
	n->d_in = 1;
	n->d_out = D;
	switch (n->iattr[PNB_IA_EMBED_POS_KIND]) {
	case PNB_POS_NONE:
		break;
	case PNB_POS_LEARNED:
		if (!(pos = pn_op_tensor(b, PNB_W_EMBED_POS)))
			return pn_op_node_err(b, "position table (w[1]) missing");
		r = pn_op_want_w(b, PNB_W_EMBED_POS, 2, pos->shape[0], D);
		if (!r && pos->shape[0] < b->f->hdr->max_tokens)
			return pn_op_node_err(b, "position table: %llu rows, fewer than max_tokens %u",
					      (unsigned long long)pos->shape[0],
					      b->f->hdr->max_tokens);
		break;
	case PNB_POS_SINCOS:	/* the CPU tabulates it (lib/exec/op_cpu_std.c) */
		if (D % 2)
			return pn_op_node_err(b, "sincos positions need an even width, out has %u", D);
		r = pn_op_want_w(b, PNB_W_EMBED_INV_FREQ, 1, D / 2, 0);
		break;
	default:
		return pn_op_node_err(b, "iattr[0]: unknown position kind %d (expected 0..2)",
				      n->iattr[PNB_IA_EMBED_POS_KIND]);
	}
	if (r)
		return r;
	if (pn->w[PNB_W_EMBED_TYPE] != PNB_NONE && (r = pn_op_want_w(b, PNB_W_EMBED_TYPE, 1, D, 0)))
		return r;
	if (!isfinite(n->fattr[PNB_FA_EMBED_SCALE]) || n->fattr[PNB_FA_EMBED_SCALE] == 0.0f)
		return pn_op_node_err(b, "fattr[0]: token scale must be finite and non-zero");
	return pn_op_want_width(b, n->out, "out", PNB_LAYOUT_TOKENS, D);
}

const struct pn_op pn_op_embed = {
	.code = PNB_OP_EMBED, .name = "embed", .n_in = 1, .min_w = 1, .max_w = 4,
	.in = { "ids" },
	.w = {
		[PNB_W_EMBED_TABLE] = { "table", "token table [V, D]" },
		[PNB_W_EMBED_POS] = { "pos", "learned position table [max_pos, D]", .optional = 1 },
		[PNB_W_EMBED_INV_FREQ] = { "inv_freq", "sin/cos inverse frequencies [D/2]",
					   .optional = 1 },
		[PNB_W_EMBED_TYPE] = { "type", "token type row [1, D] added to every token",
				       .optional = 1 },
	},
	.ia = { [PNB_IA_EMBED_POS_KIND] = { "pos", "enum pnb_pos_kind", PN_SLOT_POS } },
	.fa = { [PNB_FA_EMBED_SCALE] = { "scale", "token scale (1.0 normally)", PN_SLOT_FLOAT } },
	.check = check_embed,
	.build = build_embed,
	.ptx = "embed_f32",
};
