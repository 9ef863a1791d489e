// SPDX-License-Identifier: MIT
/*
 * pass_vq.c - VQ CacheNode: per FFN site, a k-means++ codebook of K rows on
 * the calibrated FFN inputs and a table of the exact FFN output of each
 * code; the site becomes one VQ node in cache mode (nearest code by one
 * GEMM, then a gather). The report gives the input distortion and the FFN
 * output error the quantization costs on the calibration rows.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/kmeans.h"
#include "compile/polyc.h"

static int one_site(struct pn_pass_ctx *c, const struct pn_ffn_site *s, cJSON *arr,
		    struct pn_err *err)
{
	const struct pn_calib_value *cv = pn_calib_find(c->cal, s->in);
	const char *nm = pn_rw_node_name(c->rw, s->node);
	uint32_t K = c->o->vq, n = c->cal->n_sample, D = s->D;
	uint32_t Dout = (uint32_t)pn_rw_tensor_info(c->rw, s->W2)->shape[1];
	struct pn_kmeans_result res = { 0 };
	float *C = malloc((size_t)K * D * sizeof(float)), *norms = malloc(K * sizeof(float));
	float *table = malloc((size_t)K * Dout * sizeof(float));
	float *ye = malloc((size_t)n * Dout * sizeof(float));
	int32_t *assign = malloc((size_t)n * sizeof(int32_t));
	double num = 0, den = 0, rel;
	uint32_t present = 0;
	char name[128], tname[160];
	struct pnb_node node;
	uint64_t sh[2];
	cJSON *o;
	int r = 0;

	if (!cv)
		r = pn_errf(err, -EINVAL, "vq: node '%s': no calibration of its input", nm);
	else if (!C || !norms || !table || !ye || !assign)
		r = pn_errf(err, -ENOMEM, "vq: out of memory");
	if (!r && (r = pn_kmeans(cv->sample, n, D, K, 0, c->o->seed, C, assign, &res, err))) {
		char inner[sizeof(err->msg)];

		memcpy(inner, err->msg, sizeof(inner));
		r = pn_errf(err, r, "vq: node '%s' (layer %d), %u calibration rows: %s", nm,
			    (int)s->layer, n, inner);
	}
	if (r)
		goto out;
	pn_ffn_site_eval(c->rw, s, C, K, table);
	pn_ffn_site_eval(c->rw, s, cv->sample, n, ye);
	for (uint32_t k = 0; k < K; k++) {
		double q = 0;

		for (uint32_t j = 0; j < D; j++)
			q += (double)C[(size_t)k * D + j] * C[(size_t)k * D + j];
		norms[k] = (float)q;
	}
	for (uint32_t i = 0; i < n; i++) {
		const float *t = table + (size_t)assign[i] * Dout, *y = ye + (size_t)i * Dout;

		for (uint32_t j = 0; j < Dout; j++) {
			num += ((double)t[j] - y[j]) * ((double)t[j] - y[j]);
			den += (double)y[j] * y[j];
		}
	}
	for (uint32_t k = 0; k < K; k++)	/* codes the calibration rows use */
		for (uint32_t i = 0; i < n; i++)
			if ((uint32_t)assign[i] == k) {
				present++;
				break;
			}
	rel = den > 0 ? sqrt(num / den) : sqrt(num);
	pn_report_printf(c->rep, "  %s (layer %d%s): K %u on %u rows, %u Lloyd iterations, "
			 "%u re-seeded, %u codes used; input distortion %.4g (%.1f%% of "
			 "mean ||x||^2); FFN output rel err %.3g -> VQ cache [%u, %u]\n", nm,
			 (int)s->layer, s->folded ? ", pool-folded" : "", K, n, res.iters,
			 res.reseeded, present, res.distortion, 100 * res.rel_distortion, rel, K,
			 Dout);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", nm);
	cJSON_AddNumberToObject(o, "layer", (int)s->layer);
	cJSON_AddNumberToObject(o, "K", K);
	cJSON_AddNumberToObject(o, "rows", n);
	cJSON_AddNumberToObject(o, "iters", res.iters);
	cJSON_AddNumberToObject(o, "codes_used", present);
	cJSON_AddNumberToObject(o, "distortion", res.distortion);
	cJSON_AddNumberToObject(o, "rel_distortion", res.rel_distortion);
	cJSON_AddNumberToObject(o, "ffn_out_rel_err", rel);
	cJSON_AddItemToArray(arr, o);

	pnb_node_init(&node, PNB_OP_VQ, 0, PNB_NONE);
	node.n_in = 1;
	node.in[0] = s->in;
	node.n_w = 3;
	node.iattr[0] = 2;	/* cache: out = table[code] */
	sh[0] = K;
	sh[1] = D;
	snprintf(tname, sizeof(tname), "%s.vq.codebook", nm);
	node.w[0] = pn_rw_tensor(c->rw, tname, 2, sh, C);
	snprintf(tname, sizeof(tname), "%s.vq.norms", nm);
	node.w[1] = pn_rw_tensor(c->rw, tname, 1, sh, norms);
	sh[1] = Dout;
	snprintf(tname, sizeof(tname), "%s.vq.table", nm);
	node.w[2] = pn_rw_tensor(c->rw, tname, 2, sh, table);
	if (node.w[0] == PNB_NONE || node.w[1] == PNB_NONE || node.w[2] == PNB_NONE) {
		r = pn_errf(err, -ENOMEM, "vq: out of memory");
		goto out;
	}
	snprintf(name, sizeof(name), "%s.vq", nm);
	r = pn_ffn_site_replace(c->rw, s, &node, name, err);
out:
	free(C);
	free(norms);
	free(table);
	free(ye);
	free(assign);
	return r;
}

int pn_pass_vq(struct pn_pass_ctx *c, struct pn_err *err)
{
	return pn_ffn_sites_rewrite(c, "VQ CacheNode", "vq", c->o->vq_layers, NULL, one_site, err);
}
