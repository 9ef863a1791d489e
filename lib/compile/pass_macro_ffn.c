// SPDX-License-Identifier: MIT
/*
 * pass_macro_ffn.c - the FFN-seeded Macro-Operator (--macro-seed ffn): one
 * expert whose first projection is not random but the --macro-rank most
 * energetic neurons of the run's own last FFN, read through that layer's
 * LayerNorm, with the exact activation; [W2; b2] is refitted by ridge to
 * the whole run's residual y - x (so it absorbs the attention the run
 * drops, and any error of the layers before it). Random features have to
 * rediscover directions the model already learned; these start from them.
 *
 *   y = x + act(LN(x) W1[:, S] + b1[S]) W2' + LN(x) Wl' + b2'
 *
 * The linear term LN(x) Wl' is the part of the dropped attention that is
 * linear in the tokens (v Wo under near-uniform weights): on USE lite it
 * lifts the held-out residual and the embedding cosine for 1/3 more
 * columns in the fit and, with the fold, one D x D GEMM per sequence.
 * Written as ordinary nodes (LAYERNORM, LINEAR, ADD; with the pool fold at
 * the end of the model, POOL_MEAN before W2' as in the exact graph), so
 * every backend runs it and W2' costs one row per sequence there.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"

struct seeded {
	uint32_t ln_g, ln_b;		/* tensors of the layer's LayerNorm */
	float eps;
	uint32_t W1, b1, W2, b2, Wl;	/* tensors written for the expert */
};

static uint32_t put_value(struct pn_rw *rw, const char *name, uint32_t layout, uint32_t width)
{
	return pn_rw_value(rw, name, PNB_DTYPE_F32, layout, width);
}

/*
 * The expert's nodes in place of the run's last node (the producer of out).
 * With the fold (out is SEQ) the pools come before W2' and Wl': both then
 * run once per sequence, exactly as the exact graph's W2 does.
 */
static int write_nodes(struct pn_rw *rw, const struct seeded *e, uint32_t in, uint32_t out,
		       uint32_t r, uint32_t D, uint32_t act, const char *name, struct pn_err *err)
{
	int seq = pn_rw_value_info(rw, out)->layout == PNB_LAYOUT_SEQ;
	uint32_t lay = seq ? PNB_LAYOUT_SEQ : PNB_LAYOUT_TOKENS, k = 0, v[9];
	static const char *const sfx[9] = { ".ln", ".up", ".up.pool", ".down", ".ln.pool", ".lin",
					    ".sum", ".pool", "" };
	static const uint32_t width_is_r[9] = { 0, 1, 1, 0, 0, 0, 0, 0, 0 };
	char nm[9][96];
	const char *names[9];
	struct pnb_node n[9];

	for (int i = 0; i < 9; i++) {
		uint32_t l = i < 2 ? PNB_LAYOUT_TOKENS : lay;

		snprintf(nm[i], sizeof(nm[i]), "%s%s", name, sfx[i]);
		if (!seq && (i == 2 || i == 4 || i == 7)) {	/* the pools */
			v[i] = PNB_NONE;
			continue;
		}
		v[i] = i == 8 ? out : put_value(rw, nm[i], l, width_is_r[i] ? r : D);
		if (v[i] == PNB_NONE)
			return pn_errf(err, -ENOMEM, "macro: out of memory");
	}
	pn_node1(&n[k], PNB_OP_LAYERNORM, v[0], in);
	n[k].n_w = 2;
	n[k].w[PNB_W_NORM_GAMMA] = e->ln_g;
	n[k].w[PNB_W_NORM_BETA] = e->ln_b;
	n[k].fattr[PNB_FA_NORM_EPS] = e->eps;
	names[k++] = nm[0];
	pn_node_linear(&n[k], v[1], v[0], e->W1, e->b1, act);
	names[k++] = nm[1];
	if (seq) {
		pn_node1(&n[k], PNB_OP_POOL_MEAN, v[2], v[1]);
		names[k++] = nm[2];
	}
	pn_node_linear(&n[k], v[3], seq ? v[2] : v[1], e->W2, e->b2, PNB_ACT_NONE);
	names[k++] = nm[3];
	if (seq) {
		pn_node1(&n[k], PNB_OP_POOL_MEAN, v[4], v[0]);
		names[k++] = nm[4];
	}
	pn_node_linear(&n[k], v[5], seq ? v[4] : v[0], e->Wl, PNB_NONE, PNB_ACT_NONE);
	names[k++] = nm[5];
	pn_node_add(&n[k], v[6], v[3], v[5]);
	names[k++] = nm[6];
	if (seq) {
		pn_node1(&n[k], PNB_OP_POOL_MEAN, v[7], in);
		names[k++] = nm[7];
	}
	pn_node_add(&n[k], out, v[6], seq ? v[7] : in);
	names[k++] = nm[8];
	if (pn_rw_replace(rw, pn_rw_producer(rw, out), n, names, k) || pn_rw_prune(rw))
		return pn_errf(err, -ENOMEM, "macro: out of memory");
	return 0;
}

int pn_macro_seeded(struct pn_pass_ctx *c, const struct pn_ffn_site *ffn, uint32_t ln_node,
		    const float *X, const float *Y, uint32_t n, uint32_t D, uint32_t in,
		    uint32_t out, const char *name, struct cJSON *obj, struct pn_err *err)
{
	struct pn_rw *rw = c->rw;
	const struct pnb_node *lnn = pn_rw_node(rw, ln_node);
	uint32_t r = c->o->macro_rank ? c->o->macro_rank : 128, ff = ffn->ff, nfit = n - n / 5;
	double lambda = c->o->macro_ridge > 0 ? c->o->macro_ridge : 1e-3, share, num = 0, den = 0;
	const float *W1 = pn_rw_tensor_f32(rw, ffn->W1), *W2 = pn_rw_tensor_f32(rw, ffn->W2);
	const float *b1 = ffn->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(rw, ffn->b1);
	float *U = NULL, *H = NULL, *Hs = NULL, *R = NULL, *W1s = NULL, *b1s = NULL;
	float *W2s = NULL, *b2s = NULL, *Yh = NULL;
	uint32_t *keep = NULL, F;
	struct seeded e;
	int rc = 0;

	if (c->o->macro != 1)
		return pn_errf(err, -EINVAL, "macro: --macro-seed ffn fits one expert, got "
			       "--macro %u: expected --macro 1", c->o->macro);
	if (ffn->gated || ffn->D != D || lnn->op != PNB_OP_LAYERNORM)
		return pn_errf(err, -EINVAL, "macro: --macro-seed ffn needs the run's last layer "
			       "to end in a plain FFN of width %u after a LayerNorm", D);
	F = r + D;	/* features: the r neurons, then LN(x) itself */
	if (r >= ff || nfit < 2 * (F + 1))
		return pn_errf(err, -EINVAL, "macro: --macro-seed ffn with rank %u: expected "
			       "fewer than the FFN's %u neurons and at least %u calibration "
			       "rows, got %u", r, ff, (5 * 2 * (F + 1) + 3) / 4, n);
	U = malloc((size_t)n * D * sizeof(float));
	H = malloc((size_t)n * ff * sizeof(float));
	Hs = malloc((size_t)n * (F + 1) * sizeof(float));
	R = malloc((size_t)n * D * sizeof(float));
	Yh = malloc((size_t)n * D * sizeof(float));
	W1s = malloc((size_t)D * r * sizeof(float));
	b1s = calloc(r, sizeof(float));
	W2s = malloc((size_t)(F + 1) * D * sizeof(float));
	b2s = malloc((size_t)D * sizeof(float));
	keep = malloc((size_t)r * sizeof(*keep));
	if (!U || !H || !Hs || !R || !Yh || !W1s || !b1s || !W2s || !b2s || !keep) {
		rc = pn_errf(err, -ENOMEM, "macro: out of memory");
		goto out;
	}
	pn_layernorm(X, n, D, pn_rw_tensor_f32(rw, lnn->w[PNB_W_NORM_GAMMA]),
		     pn_rw_tensor_f32(rw, lnn->w[PNB_W_NORM_BETA]), lnn->fattr[PNB_FA_NORM_EPS], U);
	pn_linear(NULL, U, n, D, W1, b1, ff, ffn->act, H);
	share = pn_ffn_select(H, nfit, ff, W2, D, r, keep);
	if (share < 0) {
		rc = pn_errf(err, -ENOMEM, "macro: out of memory");
		goto out;
	}
	pn_ffn_gather(H, n, ff, keep, r, F + 1, Hs);
	pn_ffn_gather_w1(W1, b1, D, ff, keep, r, W1s, b1s);
	for (uint32_t i = 0; i < n; i++) {
		memcpy(Hs + (size_t)i * (F + 1) + r, U + (size_t)i * D, D * sizeof(float));
		for (uint32_t d = 0; d < D; d++)
			R[(size_t)i * D + d] = Y[(size_t)i * D + d] - X[(size_t)i * D + d];
	}
	rc = pn_ridge_fit(Hs, R, nfit, F + 1, D, lambda, W2s, b2s);
	if (rc) {
		rc = pn_errf(err, rc == -ENOMEM ? rc : -EDOM, "macro: the seeded expert's ridge "
			     "system on %u rows is not positive definite (lambda %g)", nfit,
			     lambda);
		goto out;
	}
	/* Held-out residual, the random-feature macro's metric: ||fit - (y-x)||^2 / ||y-x||^2. */
	memcpy(W2s + (size_t)F * D, b2s, D * sizeof(float));
	pn_linear(NULL, Hs, n, F + 1, W2s, NULL, D, PNB_ACT_NONE, Yh);
	for (size_t i = (size_t)nfit * D; i < (size_t)n * D; i++) {
		num += ((double)Yh[i] - R[i]) * ((double)Yh[i] - R[i]);
		den += (double)R[i] * R[i];
	}
	pn_report_printf(c->rep, "  seeded expert: %u of the FFN's %u neurons (%.1f%% of its "
			 "output energy) after the layer's LayerNorm, exact %s, + a linear term in "
			 "the LayerNorm; W2 by ridge %g "
			 "on %u rows; residual on %u held-out rows %.4f\n", r, ff, 100 * share,
			 pnb_act_name(ffn->act), lambda, nfit, n - nfit,
			 den > 0 ? num / den : num);
	cJSON_AddStringToObject(obj, "seed", "ffn");
	cJSON_AddNumberToObject(obj, "rank", r);
	cJSON_AddNumberToObject(obj, "energy_share", share);
	cJSON_AddNumberToObject(obj, "resid_heldout", den > 0 ? num / den : num);
	e.ln_g = lnn->w[PNB_W_NORM_GAMMA];
	e.ln_b = lnn->w[PNB_W_NORM_BETA];
	e.eps = lnn->fattr[PNB_FA_NORM_EPS];
	e.W1 = pn_rw_tensor_named(rw, name, ".W1", D, r, W1s);
	e.b1 = pn_rw_tensor_named(rw, name, ".b1", r, 0, b1s);
	e.W2 = pn_rw_tensor_named(rw, name, ".W2", r, D, W2s);
	e.b2 = pn_rw_tensor_named(rw, name, ".b2", D, 0, b2s);
	e.Wl = pn_rw_tensor_named(rw, name, ".Wl", D, D, W2s + (size_t)r * D);
	if (e.W1 == PNB_NONE || e.b1 == PNB_NONE || e.W2 == PNB_NONE || e.b2 == PNB_NONE ||
	    e.Wl == PNB_NONE)
		rc = pn_errf(err, -ENOMEM, "macro: out of memory");
	else
		rc = write_nodes(rw, &e, in, out, r, D, ffn->act, name, err);
out:
	free(U);
	free(H);
	free(Hs);
	free(R);
	free(Yh);
	free(W1s);
	free(b1s);
	free(W2s);
	free(b2s);
	free(keep);
	return rc;
}
