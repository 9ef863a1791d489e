// SPDX-License-Identifier: MIT
/*
 * inspect_quant.c - the "quantized GEMMs" part of polyctl inspect: for each
 * LINEAR and FFN GEMM whose weight is not F32, its dtype, its per-channel
 * scales (count, range) and how its input is quantized (docs/quant.md).
 * The reader validated every slot already; this only describes them.
 */
#include <cjson/cJSON.h>
#include <stdio.h>

#include "format/pnb.h"
#include "polyctl.h"

struct gemm_slots {
	const char *what;
	uint32_t w, s, qp;
};

static const struct gemm_slots linear_slots[] = {
	{ "W", PNB_W_LINEAR_W, PNB_W_LINEAR_W_SCALE, PNB_W_LINEAR_X_QP },
};
static const struct gemm_slots ffn_slots[] = {
	{ "W1", PNB_W_FFN_W1, PNB_W_FFN_W1_SCALE, PNB_W_FFN_X_QP },
	{ "W2", PNB_W_FFN_W2, PNB_W_FFN_W2_SCALE, PNB_W_FFN_H_QP },
};

static uint32_t slot(const struct pnb_node *n, uint32_t i)
{
	return i < n->n_w ? n->w[i] : PNB_NONE;
}

/* Calls fn for every quantized GEMM of the file. */
static void each_gemm(const struct pnb_file *f,
		      void (*fn)(const struct pnb_file *f, uint32_t node, const char *what,
				 const struct pnb_tensor *w, const float *s, const float *qp,
				 void *arg),
		      void *arg)
{
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct pnb_node *n = &f->nodes[i];
		const struct gemm_slots *gs = n->op == PNB_OP_LINEAR ? linear_slots :
					      n->op == PNB_OP_FFN ? ffn_slots : NULL;
		uint32_t ng = n->op == PNB_OP_LINEAR ? 1 : n->op == PNB_OP_FFN ? 2 : 0;

		for (uint32_t k = 0; gs && k < ng; k++) {
			uint32_t w = slot(n, gs[k].w), s = slot(n, gs[k].s), q = slot(n, gs[k].qp);

			if (w == PNB_NONE || f->tensors[w].dtype == PNB_DTYPE_F32)
				continue;
			fn(f, i, gs[k].what, &f->tensors[w],
			   s == PNB_NONE ? NULL : pnb_tensor_data(f, s),
			   q == PNB_NONE ? NULL : pnb_tensor_data(f, q), arg);
		}
	}
}

static void range(const struct pnb_tensor *w, const float *s, float *lo, float *hi)
{
	*lo = *hi = s ? s[0] : 0;
	for (uint64_t i = 1; s && i < w->shape[1]; i++) {
		*lo = s[i] < *lo ? s[i] : *lo;
		*hi = s[i] > *hi ? s[i] : *hi;
	}
}

static void text_row(const struct pnb_file *f, uint32_t node, const char *what,
		     const struct pnb_tensor *w, const float *s, const float *qp, void *arg)
{
	float lo, hi;

	++*(uint32_t *)arg;
	range(w, s, &lo, &hi);
	printf("%6u  %-18s %-2s %-4s [%5llu x %5llu]", node, pnb_str(f, f->nodes[node].name),
	       what, pnb_dtype_name(w->dtype), (unsigned long long)w->shape[0],
	       (unsigned long long)w->shape[1]);
	if (w->dtype != PNB_DTYPE_I8) {
		printf("  no scales          input f32\n");
		return;
	}
	printf("  scales %.3g..%.3g", lo, hi);
	if (qp)
		printf("  input static {%.4g, %g}\n", qp[0], qp[1]);
	else
		printf("  input per row\n");
}

void polyctl_inspect_quant_text(const struct pnb_file *f)
{
	uint32_t n = 0;

	printf("\nquantized GEMMs:\n  node  name               gemm dtype shape           "
	       "per-channel scales  input\n");
	each_gemm(f, text_row, &n);
	if (!n)
		printf("  (none: every GEMM weight is f32)\n");
}

static void json_row(const struct pnb_file *f, uint32_t node, const char *what,
		     const struct pnb_tensor *w, const float *s, const float *qp, void *arg)
{
	cJSON *o = cJSON_CreateObject();
	float lo, hi;

	cJSON_AddNumberToObject(o, "node", node);
	cJSON_AddStringToObject(o, "name", pnb_str(f, f->nodes[node].name));
	cJSON_AddStringToObject(o, "gemm", what);
	cJSON_AddStringToObject(o, "dtype", pnb_dtype_name(w->dtype));
	cJSON_AddNumberToObject(o, "K", (double)w->shape[0]);
	cJSON_AddNumberToObject(o, "N", (double)w->shape[1]);
	if (s) {
		range(w, s, &lo, &hi);
		cJSON_AddNumberToObject(o, "scales", (double)w->shape[1]);
		cJSON_AddNumberToObject(o, "scale_min", lo);
		cJSON_AddNumberToObject(o, "scale_max", hi);
	}
	if (w->dtype == PNB_DTYPE_I8 && qp) {
		cJSON *a = cJSON_AddArrayToObject(o, "input_qp");

		cJSON_AddItemToArray(a, cJSON_CreateNumber(qp[0]));
		cJSON_AddItemToArray(a, cJSON_CreateNumber(qp[1]));
	}
	cJSON_AddStringToObject(o, "input", w->dtype != PNB_DTYPE_I8 ? "f32" :
				qp ? "static" : "per-row");
	cJSON_AddItemToArray((cJSON *)arg, o);
}

void polyctl_inspect_quant_json(const struct pnb_file *f, struct cJSON *doc)
{
	each_gemm(f, json_row, cJSON_AddArrayToObject(doc, "quantized_gemms"));
}
