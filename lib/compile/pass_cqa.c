// SPDX-License-Identifier: MIT
/*
 * pass_cqa.c - Clustered Query Attention: every non-causal ATTENTION node
 * (of the selected layers) becomes a CQA node reading the same qkv, with
 * --cqa-bits random Gaussian hyperplanes per head width (cosine LSH),
 * --cqa clusters per (sequence, head) and the improved top-k variant when
 * --cqa-topk is set. A sequence no longer than C tokens is served exactly
 * (every query its own cluster), so the report gives how many calibration
 * texts are longer than C: only those are approximated.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"


static void length_stats(struct pn_pass_ctx *c, uint32_t C, cJSON *o)
{
	uint32_t longer = 0;
	double sum = 0;

	if (!c->cal || !c->cal->texts) {
		pn_report_printf(c->rep, "  (no calibration: sequence statistics unknown)\n");
		return;
	}
	for (uint32_t i = 0; i < c->cal->texts; i++) {
		sum += c->cal->lens[i];
		longer += c->cal->lens[i] > C;
	}
	pn_report_printf(c->rep, "  calibration: %u texts, mean %.1f tokens; %u (%.1f%%) longer "
			 "than C = %u are clustered, the rest are exact\n", c->cal->texts,
			 sum / c->cal->texts, longer, 100.0 * longer / c->cal->texts, C);
	cJSON_AddNumberToObject(o, "mean_tokens", sum / c->cal->texts);
	cJSON_AddNumberToObject(o, "texts_clustered", longer);
	cJSON_AddNumberToObject(o, "texts", c->cal->texts);
}

int pn_pass_cqa(struct pn_pass_ctx *c, struct pn_err *err)
{
	const struct pn_poly_opts *o = c->o;
	uint32_t bits = o->cqa_bits ? o->cqa_bits : 32, done = 0;
	uint64_t rng = o->seed ^ 0xc0a11e5ull;
	cJSON *obj = cJSON_AddObjectToObject(c->rep->json, "cqa");
	cJSON *arr = cJSON_AddArrayToObject(obj, "nodes");

	pn_report_printf(c->rep, "Clustered Query Attention: C %u per head, %s, %u LSH bits, "
			 "10 Hamming k-means iterations\n", o->cqa,
			 o->cqa_topk ? "improved top-k" : "plain", bits);
	if (bits > 64)
		return pn_errf(err, -EINVAL, "cqa: %u LSH bits, expected 1..64", bits);
	cJSON_AddNumberToObject(obj, "clusters", o->cqa);
	cJSON_AddNumberToObject(obj, "topk", o->cqa_topk);
	cJSON_AddNumberToObject(obj, "bits", bits);
	length_stats(c, o->cqa, obj);
	for (uint32_t i = 0; i < pn_rw_n_nodes(c->rw); i++) {
		const struct pnb_node *a = pn_rw_node(c->rw, i);
		char nm[96];
		uint32_t layer, D, hd;
		struct pnb_node n;
		uint64_t sh[2];
		char tname[160], name[128];
		float *planes;
		int r;

		/* copied: replacing the node frees its name */
		snprintf(nm, sizeof(nm), "%s", pn_rw_node_name(c->rw, i));
		layer = pn_layer_of(nm);
		if (a->op != PNB_OP_ATTENTION || !pn_layer_on(o->cqa_layers, layer))
			continue;
		if (a->iattr[PNB_IA_ATTN_CAUSAL]) {
			pn_report_printf(c->rep, "  %s: causal, left exact (CQA is non-causal)\n",
					 nm);
			continue;
		}
		D = pn_rw_value_info(c->rw, a->out)->width;
		hd = D / (uint32_t)a->iattr[PNB_IA_ATTN_HEADS];
		planes = malloc((size_t)bits * hd * sizeof(float));
		if (!planes)
			return pn_errf(err, -ENOMEM, "cqa: out of memory");
		for (size_t k = 0; k < (size_t)bits * hd; k++)
			planes[k] = pn_rand_gauss(&rng);
		sh[0] = bits;
		sh[1] = hd;
		snprintf(tname, sizeof(tname), "%s.cqa.planes", nm);
		n = *a;
		n.op = PNB_OP_CQA;
		n.n_w = 1;
		n.w[PNB_W_CQA_PLANES] = pn_rw_tensor(c->rw, tname, 2, sh, planes);
		free(planes);
		if (n.w[PNB_W_CQA_PLANES] == PNB_NONE)
			return pn_errf(err, -ENOMEM, "cqa: out of memory");
		n.iattr[PNB_IA_CQA_CLUSTERS] = (int32_t)o->cqa;
		n.iattr[PNB_IA_CQA_TOPK] = (int32_t)o->cqa_topk;
		n.iattr[PNB_IA_CQA_ITERS] = 10;
		snprintf(name, sizeof(name), "%s.cqa", nm);
		{
			const char *names[1] = { name };

			r = pn_rw_replace(c->rw, i, &n, names, 1);
		}
		if (r)
			return pn_errf(err, r, "rewrite: out of memory");
		pn_report_printf(c->rep, "  %s (layer %d): %d heads of %u -> CQA\n", nm,
				 (int)layer, n.iattr[PNB_IA_CQA_HEADS], hd);
		{
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "node", nm);
			cJSON_AddNumberToObject(e, "layer", (int)layer);
			cJSON_AddItemToArray(arr, e);
		}
		done++;
	}
	if (!done)
		pn_report_printf(c->rep, "  no attention node selected\n");
	return 0;
}
