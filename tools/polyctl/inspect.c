// SPDX-License-Identifier: MIT
/*
 * polyctl inspect FILE.pnb [--json]: what a .pnb holds - header, sections,
 * tensors, values, nodes and totals - as text or as one JSON document
 * (its shape: docs/inspect.md). The file is fully validated first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "exec/graph.h"
#include "format/pnb.h"
#include "ops/op.h"
#include "polyctl.h"

static const char *const sec_names[PNB_SEC_COUNT] = {
	"strings", "tensors", "values", "nodes", "data",
};

/*
 * The attributes each op uses, shown by the names its descriptor gives its
 * slots (lib/ops/): every named iattr slot in index order, then every
 * named fattr slot.
 */
struct attr {
	const char *key;
	uint8_t kind;		/* enum pn_slot_kind */
	int32_t i;		/* iattr value (INT, ACT, POS) */
	float f;		/* fattr value (FLOAT) */
};

#define MAX_ATTRS (2 * PNB_NODE_MAX_ATTR)

static uint32_t attrs_of(const struct pnb_node *n, struct attr *a)
{
	const struct pn_op *op = pn_op_get(n->op);
	uint32_t k = 0;

	if (!op)
		return 0;
	for (uint32_t s = 0; s < PNB_NODE_MAX_ATTR; s++)
		if (op->ia[s].name)
			a[k++] = (struct attr){ op->ia[s].name, op->ia[s].kind, n->iattr[s], 0 };
	for (uint32_t s = 0; s < PNB_NODE_MAX_ATTR; s++)
		if (op->fa[s].name)
			a[k++] = (struct attr){ op->fa[s].name, PN_SLOT_FLOAT, 0, n->fattr[s] };
	return k;
}

static const char *pos_name(int32_t kind)
{
	static const char *const names[] = { "none", "learned", "sincos" };

	return kind >= 0 && kind <= PNB_POS_SINCOS ? names[kind] : "?";
}

static const char *tok_name(uint32_t kind)
{
	return kind == PNB_TOKENIZER_NONE ? "none" :
	       kind == PNB_TOKENIZER_SPM_UNIGRAM ? "spm_unigram" :
	       kind == PNB_TOKENIZER_LLAMA_BPE ? "llama_bpe" : "?";
}

static const char *vname(const struct pnb_file *f, uint32_t v)
{
	return pnb_str(f, f->values[v].name);
}

static const char *tname(const struct pnb_file *f, uint32_t t)
{
	return pnb_str(f, f->tensors[t].name);
}

/* Parameters exclude the tokenizer's tables: they are vocabulary, not weights. */
static void totals(const struct pnb_file *f, uint64_t *params, uint64_t *bytes)
{
	*params = *bytes = 0;
	for (uint32_t i = 0; i < f->n_tensors; i++) {
		*bytes += f->tensors[i].size;
		if (i != f->hdr->tok_pieces && i != f->hdr->tok_scores)
			*params += pnb_tensor_elems(&f->tensors[i]);
	}
}

/* ---- text ----------------------------------------------------------------- */

static void print_shape(const struct pnb_tensor *t, char *buf, size_t cap)
{
	size_t n = snprintf(buf, cap, "[");

	for (uint32_t d = 0; d < t->ndim && n < cap; d++)
		n += snprintf(buf + n, cap - n, "%s%" PRIu64, d ? ", " : "", t->shape[d]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

static void print_attrs(const struct pnb_node *n)
{
	struct attr a[MAX_ATTRS];
	uint32_t na = attrs_of(n, a);

	for (uint32_t k = 0; k < na; k++) {
		switch (a[k].kind) {
		case PN_SLOT_INT:
			printf(" %s=%" PRId32, a[k].key, a[k].i);
			break;
		case PN_SLOT_FLOAT:
			printf(" %s=%g", a[k].key, a[k].f);
			break;
		case PN_SLOT_ACT:
			printf(" %s=%s", a[k].key, pnb_act_name((uint32_t)a[k].i));
			break;
		case PN_SLOT_POS:
			printf(" %s=%s", a[k].key, pos_name(a[k].i));
			break;
		}
	}
}

static void print_value_ref(const struct pnb_file *f, const char *label, uint32_t v)
{
	const struct pnb_value *val = &f->values[v];

	printf("%-13s value %" PRIu32 " '%s' (%s %s x%" PRIu32 ")\n", label, v, vname(f, v),
	       pnb_dtype_name(val->dtype), pnb_layout_name(val->layout), val->width);
}

static void print_text(const struct pnb_file *f)
{
	const struct pnb_header *h = f->hdr;
	uint64_t params, bytes;
	char shape[96];

	printf("%-13s %s\n", "file", f->path);
	printf("%-13s POLYNET\\x1a\n", "magic");
	printf("%-13s %" PRIu32 "\n", "version", h->version);
	printf("%-13s %" PRIu64 " bytes\n", "size", h->file_size);
	printf("%-13s %s\n", "name", pnb_str(f, h->name));
	print_value_ref(f, "input", h->input);
	print_value_ref(f, "output", h->output);
	printf("%-13s %" PRIu32 "\n", "max_tokens", h->max_tokens);
	if (h->tokenizer == PNB_TOKENIZER_NONE)
		printf("%-13s none\n", "tokenizer");
	else
		printf("%-13s %s (pieces: tensor %" PRIu32 " '%s', scores: tensor %" PRIu32
		       " '%s', %" PRIu64 " pieces)\n", "tokenizer", tok_name(h->tokenizer),
		       h->tok_pieces, tname(f, h->tok_pieces), h->tok_scores,
		       tname(f, h->tok_scores), f->tensors[h->tok_scores].shape[0]);
	printf("%-13s %016" PRIx64 "\n", "content hash", f->content_hash);
	printf("%-13s 0x%08" PRIx32 "\n", "header crc", h->header_crc32c);

	printf("\n%-8s %12s %12s %8s  %s\n", "section", "offset", "size", "count", "crc32c");
	for (int s = 0; s < PNB_SEC_COUNT; s++)
		printf("%-8s %12" PRIu64 " %12" PRIu64 " %8" PRIu32 "  0x%08" PRIx32 "\n",
		       sec_names[s], h->sec[s].offset, h->sec[s].size, h->sec[s].count,
		       h->sec[s].crc32c);

	printf("\ntensors: %" PRIu32 "\n", f->n_tensors);
	printf("%6s  %-5s %-22s %12s %12s  %s\n", "index", "dtype", "shape", "offset", "bytes",
	       "name");
	for (uint32_t i = 0; i < f->n_tensors; i++) {
		const struct pnb_tensor *t = &f->tensors[i];

		print_shape(t, shape, sizeof(shape));
		printf("%6" PRIu32 "  %-5s %-22s %12" PRIu64 " %12" PRIu64 "  %s\n", i,
		       pnb_dtype_name(t->dtype), shape, t->offset, t->size, tname(f, i));
	}

	printf("\nvalues: %" PRIu32 "\n", f->n_values);
	printf("%6s  %-5s %-7s %8s  %s\n", "index", "dtype", "layout", "width", "name");
	for (uint32_t i = 0; i < f->n_values; i++) {
		const struct pnb_value *v = &f->values[i];

		printf("%6" PRIu32 "  %-5s %-7s %8" PRIu32 "  %s\n", i, pnb_dtype_name(v->dtype),
		       pnb_layout_name(v->layout), v->width, vname(f, i));
	}

	printf("\nnodes: %" PRIu32 "\n", f->n_nodes);
	printf("%6s  %-10s %s\n", "index", "op", "name: inputs -> out [weights] attrs");
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct pnb_node *n = &f->nodes[i];

		printf("%6" PRIu32 "  %-10s %s: ", i, pnb_op_name(n->op), pnb_str(f, n->name));
		for (uint32_t k = 0; k < n->n_in; k++)
			printf("%s%s", k ? ", " : "", vname(f, n->in[k]));
		printf(" -> %s [", vname(f, n->out));
		for (uint32_t k = 0; k < n->n_w; k++)
			printf("%s%s", k ? ", " : "", n->w[k] == PNB_NONE ? "-" : tname(f, n->w[k]));
		printf("]");
		print_attrs(n);
		printf("\n");
	}
	polyctl_inspect_quant_text(f);

	totals(f, &params, &bytes);
	printf("\ntotals: %" PRIu64 " parameters, %" PRIu64 " tensor bytes, %zu file bytes\n",
	       params, bytes, f->size);
}

/* ---- JSON ------------------------------------------------------------------ */

static cJSON *json_ref(const char *name, uint32_t idx)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "index", idx);
	cJSON_AddStringToObject(o, "name", name);
	return o;
}

static cJSON *json_attrs(const struct pnb_node *n)
{
	struct attr a[MAX_ATTRS];
	uint32_t na = attrs_of(n, a);
	cJSON *o = cJSON_CreateObject();

	for (uint32_t k = 0; k < na; k++) {
		switch (a[k].kind) {
		case PN_SLOT_INT:
			cJSON_AddNumberToObject(o, a[k].key, a[k].i);
			break;
		case PN_SLOT_FLOAT:
			cJSON_AddNumberToObject(o, a[k].key, a[k].f);
			break;
		case PN_SLOT_ACT:
			cJSON_AddStringToObject(o, a[k].key, pnb_act_name((uint32_t)a[k].i));
			break;
		case PN_SLOT_POS:
			cJSON_AddStringToObject(o, a[k].key, pos_name(a[k].i));
			break;
		}
	}
	return o;
}

static cJSON *json_header(const struct pnb_file *f, cJSON *doc)
{
	const struct pnb_header *h = f->hdr;
	cJSON *tok = cJSON_CreateObject();
	char hex[24];

	cJSON_AddStringToObject(doc, "file", f->path);
	cJSON_AddStringToObject(doc, "magic", PNB_MAGIC);
	cJSON_AddNumberToObject(doc, "version", h->version);
	cJSON_AddNumberToObject(doc, "file_size", (double)h->file_size);
	cJSON_AddStringToObject(doc, "name", pnb_str(f, h->name));
	cJSON_AddItemToObject(doc, "input", json_ref(vname(f, h->input), h->input));
	cJSON_AddItemToObject(doc, "output", json_ref(vname(f, h->output), h->output));
	cJSON_AddNumberToObject(doc, "max_tokens", h->max_tokens);
	cJSON_AddStringToObject(tok, "kind", tok_name(h->tokenizer));
	if (h->tokenizer != PNB_TOKENIZER_NONE) {
		cJSON_AddItemToObject(tok, "pieces", json_ref(tname(f, h->tok_pieces),
							      h->tok_pieces));
		cJSON_AddItemToObject(tok, "scores", json_ref(tname(f, h->tok_scores),
							      h->tok_scores));
		cJSON_AddNumberToObject(tok, "count", (double)f->tensors[h->tok_scores].shape[0]);
	}
	cJSON_AddItemToObject(doc, "tokenizer", tok);
	snprintf(hex, sizeof(hex), "%016" PRIx64, f->content_hash);
	cJSON_AddStringToObject(doc, "content_hash", hex);
	cJSON_AddNumberToObject(doc, "header_crc32c", h->header_crc32c);
	return doc;
}

static cJSON *json_doc(const struct pnb_file *f)
{
	const struct pnb_header *h = f->hdr;
	cJSON *doc = json_header(f, cJSON_CreateObject());
	cJSON *secs = cJSON_AddArrayToObject(doc, "sections");
	cJSON *tens = cJSON_AddArrayToObject(doc, "tensors");
	cJSON *vals = cJSON_AddArrayToObject(doc, "values");
	cJSON *nodes = cJSON_AddArrayToObject(doc, "nodes");
	cJSON *tot = cJSON_AddObjectToObject(doc, "totals");
	uint64_t params, bytes;

	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", sec_names[s]);
		cJSON_AddNumberToObject(o, "offset", (double)h->sec[s].offset);
		cJSON_AddNumberToObject(o, "size", (double)h->sec[s].size);
		cJSON_AddNumberToObject(o, "count", h->sec[s].count);
		cJSON_AddNumberToObject(o, "crc32c", h->sec[s].crc32c);
		cJSON_AddItemToArray(secs, o);
	}
	for (uint32_t i = 0; i < f->n_tensors; i++) {
		const struct pnb_tensor *t = &f->tensors[i];
		cJSON *o = json_ref(tname(f, i), i), *shape;

		cJSON_AddStringToObject(o, "dtype", pnb_dtype_name(t->dtype));
		shape = cJSON_AddArrayToObject(o, "shape");
		for (uint32_t d = 0; d < t->ndim; d++)
			cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
		cJSON_AddNumberToObject(o, "offset", (double)t->offset);
		cJSON_AddNumberToObject(o, "bytes", (double)t->size);
		cJSON_AddItemToArray(tens, o);
	}
	for (uint32_t i = 0; i < f->n_values; i++) {
		const struct pnb_value *v = &f->values[i];
		cJSON *o = json_ref(vname(f, i), i);

		cJSON_AddStringToObject(o, "dtype", pnb_dtype_name(v->dtype));
		cJSON_AddStringToObject(o, "layout", pnb_layout_name(v->layout));
		cJSON_AddNumberToObject(o, "width", v->width);
		cJSON_AddItemToArray(vals, o);
	}
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct pnb_node *n = &f->nodes[i];
		cJSON *o = json_ref(pnb_str(f, n->name), i), *in, *w;

		cJSON_AddStringToObject(o, "op", pnb_op_name(n->op));
		in = cJSON_AddArrayToObject(o, "inputs");
		for (uint32_t k = 0; k < n->n_in; k++)
			cJSON_AddItemToArray(in, json_ref(vname(f, n->in[k]), n->in[k]));
		w = cJSON_AddArrayToObject(o, "weights");
		for (uint32_t k = 0; k < n->n_w; k++)
			cJSON_AddItemToArray(w, n->w[k] == PNB_NONE ? cJSON_CreateNull() :
					     json_ref(tname(f, n->w[k]), n->w[k]));
		cJSON_AddItemToObject(o, "out", json_ref(vname(f, n->out), n->out));
		cJSON_AddItemToObject(o, "attrs", json_attrs(n));
		cJSON_AddItemToArray(nodes, o);
	}
	polyctl_inspect_quant_json(f, doc);
	totals(f, &params, &bytes);
	cJSON_AddNumberToObject(tot, "tensors", f->n_tensors);
	cJSON_AddNumberToObject(tot, "values", f->n_values);
	cJSON_AddNumberToObject(tot, "nodes", f->n_nodes);
	cJSON_AddNumberToObject(tot, "parameters", (double)params);
	cJSON_AddNumberToObject(tot, "tensor_bytes", (double)bytes);
	cJSON_AddNumberToObject(tot, "file_bytes", (double)f->size);
	return doc;
}

static int print_json(const struct pnb_file *f)
{
	cJSON *doc = json_doc(f);
	char *s = cJSON_Print(doc);

	cJSON_Delete(doc);
	if (!s)
		return polyctl_fail("inspect", "%s: out of memory building JSON", f->path);
	puts(s);
	cJSON_free(s);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	const char *path = NULL;
	struct pnb_file f;
	struct pn_graph *g;
	struct pn_err err;
	size_t plen;
	unsigned flags = 0;
	int json = 0, r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--allow-nonfinite")) {
			flags |= PNB_OPEN_ALLOW_NONFINITE;
		} else if (!strcmp(argv[i], "--ops") && argc == 2) {
			return polyctl_inspect_ops();
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: polyctl inspect FILE.pnb [--json] [--allow-nonfinite] | polyctl inspect --ops\n");
			return 0;
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: polyctl inspect FILE.pnb [--json] [--allow-nonfinite] | polyctl inspect --ops\n");
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fprintf(stderr, "usage: polyctl inspect FILE.pnb [--json] [--allow-nonfinite] | polyctl inspect --ops\n");
		return 2;
	}
	if (pnb_open_flags(path, flags, &f, &err)) {
		/* the reader's messages start with the file name already */
		plen = strlen(path);
		if (!strncmp(err.msg, path, plen) && err.msg[plen] == ':')
			return polyctl_fail("inspect", "%s", err.msg);
		return polyctl_fail("inspect", "%s: %s", path, err.msg);
	}
	/* the checks run and load make: every shape against its op (no packing) */
	if (pn_graph_build(&f, &g, &err)) {
		r = polyctl_fail("inspect", "%s", err.msg);
		pnb_close(&f);
		return r;
	}
	pn_graph_free(g);
	/* reported, not refused: on stderr, so --json's document stays the same */
	if (f.nonfinite)
		fprintf(stderr, "polyctl inspect: %s: %llu non-finite F32 weights, the first tensor "
			"%u '%s' element %llu: run and load refuse this file\n", path,
			(unsigned long long)f.nonfinite, f.nonfinite_tensor,
			pnb_str(&f, f.tensors[f.nonfinite_tensor].name),
			(unsigned long long)f.nonfinite_elem);
	if (json) {
		r = print_json(&f);
	} else {
		print_text(&f);
		r = 0;
	}
	if (fflush(stdout))
		r = polyctl_fail("inspect", "writing output failed");
	pnb_close(&f);
	return r;
}
