// SPDX-License-Identifier: MIT
/*
 * pass_ffnkeep.c - FFN neuron selection (--ffn-keep K): per FFN site of the
 * chosen layers, keep the K hidden neurons that carry the most output
 * energy on the calibration rows and refit [W2; b2] by ridge regression so
 * that the K neurons reproduce the full FFN's output. Dropping neurons
 * alone loses their mean contribution and everything they share with the
 * kept ones; the refit moves the mean into b2 and the shared part into the
 * kept rows of W2 (the report gives both errors). The site stays a plain
 * FFN (or the pool-folded LINEAR -> POOL -> LINEAR) with a narrower hidden
 * layer, so every backend runs it; the cost falls by K / ff.
 *
 * Also the neuron choice of the FFN-seeded Macro-Operator (pass_macro_ffn.c).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "cpu/kernels.h"

struct ranked {
	double score;
	uint32_t j;
};

static int by_score_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->j < y->j ? -1 : x->j > y->j;	/* ties: the lower index, deterministic */
}

static int by_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

double pn_ffn_select(const float *H, uint32_t n, uint32_t ff, const float *W2, uint32_t D,
		     uint32_t k, uint32_t *keep)
{
	struct ranked *r = calloc(ff, sizeof(*r));
	double total = 0, kept = 0;

	if (!r)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < ff; j++)
			r[j].score += (double)H[(size_t)i * ff + j] * H[(size_t)i * ff + j];
	for (uint32_t j = 0; j < ff; j++) {
		double w = 0;

		for (uint32_t d = 0; d < D; d++)
			w += (double)W2[(size_t)j * D + d] * W2[(size_t)j * D + d];
		r[j].score *= w / (n ? n : 1);
		r[j].j = j;
		total += r[j].score;
	}
	qsort(r, ff, sizeof(*r), by_score_desc);
	for (uint32_t i = 0; i < k && i < ff; i++) {
		keep[i] = r[i].j;
		kept += r[i].score;
	}
	qsort(keep, k < ff ? k : ff, sizeof(*keep), by_u32);
	free(r);
	return total > 0 ? kept / total : 1;
}

void pn_ffn_gather(const float *H, uint32_t n, uint32_t ff, const uint32_t *keep, uint32_t k,
		   uint32_t stride, float *Hs)
{
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t j = 0; j < k; j++)
			Hs[(size_t)i * stride + j] = H[(size_t)i * ff + keep[j]];
		Hs[(size_t)i * stride + stride - 1] = 1.0f;
	}
}

void pn_ffn_gather_w1(const float *W1, const float *b1, uint32_t D, uint32_t ff,
		      const uint32_t *keep, uint32_t k, float *W1k, float *b1k)
{
	for (uint32_t d = 0; d < D; d++)
		for (uint32_t j = 0; j < k; j++)
			W1k[(size_t)d * k + j] = W1[(size_t)d * ff + keep[j]];
	for (uint32_t j = 0; j < k; j++)
		b1k[j] = b1 ? b1[keep[j]] : 0;
}

/* Relative error ||A - B|| / ||B|| over rows [from, to) of [*, D]. */
static double rel_err(const float *A, const float *B, uint32_t from, uint32_t to, uint32_t D)
{
	double num = 0, den = 0;

	for (size_t i = (size_t)from * D; i < (size_t)to * D; i++) {
		num += ((double)A[i] - B[i]) * ((double)A[i] - B[i]);
		den += (double)B[i] * B[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

struct kept {
	float *W1, *b1, *W2, *b2;	/* [D, K], [K], [K, Dout], [Dout] */
};

/* The narrower site: an FFN node, or up LINEAR -> POOL_MEAN -> down LINEAR. */
static int write_site(struct pn_pass_ctx *c, const struct pn_ffn_site *s, const char *nm,
		      const struct kept *w, uint32_t K, uint32_t Dout, struct pn_err *err)
{
	struct pn_rw *rw = c->rw;
	char name[3][160];
	const char *names[3] = { name[0], name[1], name[2] };
	struct pnb_node nodes[3];
	uint32_t W1, b1, W2, b2, up, pool;
	int r;

	W1 = pn_rw_tensor_named(rw, nm, ".keep.W1", s->D, K, w->W1);
	b1 = pn_rw_tensor_named(rw, nm, ".keep.b1", K, 0, w->b1);
	W2 = pn_rw_tensor_named(rw, nm, ".keep.W2", K, Dout, w->W2);
	b2 = pn_rw_tensor_named(rw, nm, ".keep.b2", Dout, 0, w->b2);
	if (W1 == PNB_NONE || b1 == PNB_NONE || W2 == PNB_NONE || b2 == PNB_NONE)
		return pn_errf(err, -ENOMEM, "ffn-keep: out of memory");
	if (!s->folded) {
		pn_node1(&nodes[0], PNB_OP_FFN, PNB_NONE, s->in);
		nodes[0].n_w = 4;
		nodes[0].w[PNB_W_FFN_W1] = W1;
		nodes[0].w[PNB_W_FFN_B1] = b1;
		nodes[0].w[PNB_W_FFN_W2] = W2;
		nodes[0].w[PNB_W_FFN_B2] = b2;
		nodes[0].iattr[PNB_IA_FFN_ACT] = (int32_t)s->act;
		snprintf(name[0], sizeof(name[0]), "%s.keep", nm);
		return pn_ffn_site_replace(rw, s, &nodes[0], name[0], err);
	}
	/* Folded: keep the fold, so W2 still runs once per sequence. */
	snprintf(name[0], sizeof(name[0]), "%s.keep.up", nm);
	snprintf(name[1], sizeof(name[1]), "%s.keep.up.pool", nm);
	snprintf(name[2], sizeof(name[2]), "%s.keep", nm);
	up = pn_rw_value(rw, name[0], PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, K);
	pool = pn_rw_value(rw, name[1], PNB_DTYPE_F32, PNB_LAYOUT_SEQ, K);
	if (up == PNB_NONE || pool == PNB_NONE)
		return pn_errf(err, -ENOMEM, "ffn-keep: out of memory");
	pn_node_linear(&nodes[0], up, s->in, W1, b1, s->act);
	pn_node1(&nodes[1], PNB_OP_POOL_MEAN, pool, up);
	pn_node_linear(&nodes[2], s->out, pool, W2, b2, PNB_ACT_NONE);
	r = pn_rw_replace(rw, s->node, nodes, names, 3);
	return r ? pn_errf(err, r, "ffn-keep: out of memory") : 0;
}

static int one_site(struct pn_pass_ctx *c, const struct pn_ffn_site *s, cJSON *arr,
		    struct pn_err *err)
{
	const struct pn_calib_value *cv = pn_calib_find(c->cal, s->in);
	const char *nm = pn_rw_node_name(c->rw, s->node);
	const float *W1 = pn_rw_tensor_f32(c->rw, s->W1), *W2 = pn_rw_tensor_f32(c->rw, s->W2);
	const float *b1 = s->b1 == PNB_NONE ? NULL : pn_rw_tensor_f32(c->rw, s->b1);
	const float *b2 = s->b2 == PNB_NONE ? NULL : pn_rw_tensor_f32(c->rw, s->b2);
	uint32_t K = s->layer < 32 && c->o->ffn_keep_per[s->layer] ? c->o->ffn_keep_per[s->layer] :
		     c->o->ffn_keep;
	uint32_t n = c->cal->n_sample, D = s->D, ff = s->ff;
	uint32_t Dout = (uint32_t)pn_rw_tensor_info(c->rw, s->W2)->shape[1], nfit = n - n / 5;
	double lambda = c->o->ffn_keep_ridge > 0 ? c->o->ffn_keep_ridge : 1e-4;
	float *H = NULL, *Y = NULL, *Hs = NULL, *Yk = NULL, *W2x = NULL;
	uint32_t *keep = NULL;
	struct kept w = { 0 };
	double share, e_fit, e_drop;
	cJSON *o;
	int r = 0;

	if (K >= ff)
		return pn_errf(err, -EINVAL, "ffn-keep: node '%s' has %u hidden neurons, "
			       "--ffn-keep %u keeps them all: expected fewer", nm, ff, K);
	if (!cv)
		return pn_errf(err, -EINVAL, "ffn-keep: node '%s': no calibration of its input",
			       nm);
	if (nfit < 2 * (K + 1))
		return pn_errf(err, -EINVAL, "ffn-keep: node '%s': %u calibration rows fit %u "
			       "neurons poorly: expected at least %u (--calib-rows or a larger "
			       "--calib file)", nm, n, K, (5 * 2 * (K + 1) + 3) / 4);
	H = malloc((size_t)n * ff * sizeof(float));
	Y = malloc((size_t)n * Dout * sizeof(float));
	Hs = malloc((size_t)n * (K + 1) * sizeof(float));
	Yk = malloc((size_t)n * Dout * sizeof(float));
	W2x = malloc((size_t)(K + 1) * Dout * sizeof(float));
	keep = malloc((size_t)K * sizeof(*keep));
	w.W1 = malloc((size_t)D * K * sizeof(float));
	w.b1 = calloc(K, sizeof(float));
	w.W2 = malloc((size_t)K * Dout * sizeof(float));
	w.b2 = malloc((size_t)Dout * sizeof(float));
	if (!H || !Y || !Hs || !Yk || !W2x || !keep || !w.W1 || !w.b1 || !w.W2 || !w.b2) {
		r = pn_errf(err, -ENOMEM, "ffn-keep: out of memory");
		goto out;
	}
	pn_linear(NULL, cv->sample, n, D, W1, b1, ff, s->act, H);
	pn_linear(NULL, H, n, ff, W2, b2, Dout, PNB_ACT_NONE, Y);
	share = pn_ffn_select(H, nfit, ff, W2, Dout, K, keep);
	if (share < 0) {
		r = pn_errf(err, -ENOMEM, "ffn-keep: out of memory");
		goto out;
	}
	pn_ffn_gather(H, n, ff, keep, K, K + 1, Hs);
	pn_ffn_gather_w1(W1, b1, D, ff, keep, K, w.W1, w.b1);
	for (uint32_t k = 0; k < K; k++)
		memcpy(w.W2 + (size_t)k * Dout, W2 + (size_t)keep[k] * Dout, Dout * sizeof(float));
	/*
	 * Yk = Hs [W2x] with W2x [K + 1, Dout]: the kept rows of W2 over the
	 * original b2 first (dropping alone), then the ridge refit on 80% of the
	 * rows; both measured on the other 20%.
	 */
	memcpy(W2x, w.W2, (size_t)K * Dout * sizeof(float));
	for (uint32_t d = 0; d < Dout; d++)
		W2x[(size_t)K * Dout + d] = b2 ? b2[d] : 0;
	pn_linear(NULL, Hs, n, K + 1, W2x, NULL, Dout, PNB_ACT_NONE, Yk);
	e_drop = rel_err(Yk, Y, nfit, n, Dout);
	r = pn_ridge_fit(Hs, Y, nfit, K + 1, Dout, lambda, w.W2, w.b2);
	if (r) {
		r = pn_errf(err, r == -ENOMEM ? r : -EDOM, "ffn-keep: node '%s': the ridge "
			    "system on %u rows is not positive definite (lambda %g): expected "
			    "finite, varied calibration rows", nm, nfit, lambda);
		goto out;
	}
	memcpy(W2x, w.W2, (size_t)K * Dout * sizeof(float));
	memcpy(W2x + (size_t)K * Dout, w.b2, Dout * sizeof(float));
	pn_linear(NULL, Hs, n, K + 1, W2x, NULL, Dout, PNB_ACT_NONE, Yk);
	e_fit = rel_err(Yk, Y, nfit, n, Dout);
	pn_report_printf(c->rep, "  %s (layer %d%s): keeps %u of %u neurons (%.1f%% of the "
			 "output energy); FFN output rel err on %u held-out rows: %.4g with "
			 "W2 refitted (ridge %g on %u rows), %.4g dropped only\n", nm,
			 (int)s->layer, s->folded ? ", pool-folded" : "", K, ff, 100 * share,
			 n - nfit, e_fit, lambda, nfit, e_drop);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", nm);
	cJSON_AddNumberToObject(o, "layer", (int)s->layer);
	cJSON_AddNumberToObject(o, "kept", K);
	cJSON_AddNumberToObject(o, "hidden", ff);
	cJSON_AddNumberToObject(o, "energy_share", share);
	cJSON_AddNumberToObject(o, "rel_err_heldout", e_fit);
	cJSON_AddNumberToObject(o, "rel_err_dropped_only", e_drop);
	cJSON_AddItemToArray(arr, o);
	r = write_site(c, s, nm, &w, K, Dout, err);
out:
	free(H);
	free(Y);
	free(Hs);
	free(Yk);
	free(W2x);
	free(keep);
	free(w.W1);
	free(w.b1);
	free(w.W2);
	free(w.b2);
	return r;
}

/* Gated FFNs (SwiGLU) keep a neuron as a gate/up pair: not done here. */
static int plain_ffn(const struct pn_ffn_site *s)
{
	return !s->gated;
}

int pn_pass_ffn_keep(struct pn_pass_ctx *c, struct pn_err *err)
{
	return pn_ffn_sites_rewrite(c, "FFN neuron selection", "ffn_keep", c->o->ffn_keep_layers,
				    plain_ffn, one_site, err);
}
