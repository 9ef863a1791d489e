// SPDX-License-Identifier: MIT
/*
 * tfjs_use.c - recognise Universal Sentence Encoder lite in a TF.js graph
 * and write it as PolyNet nodes (docs/compile.md has the pattern).
 *
 * Recognition walks the graph: the layers are the Layer_<n> name scopes of
 * the transformer stack, each op the pattern relies on is looked up by its
 * scoped name, its op type and its data inputs are checked, and the
 * weights are the tensors those ops consume. Widths come from the weight
 * shapes; epsilons, attention scales, heads, the maximum length and the
 * embedding doubling from the graph's Const nodes and edges. Anything else
 * is refused with the node or tensor named: a different model is never
 * compiled approximately.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import/tfjs.h"
#include "format/pnb.h"
#include "text/tokenizer.h"

#define APPLY	"module_apply_default/Encoder_en/KonaTransformer/"
#define STACK	APPLY "Encode/TransformerStack/"
#define VARS	APPLY "Encode/"		/* layer norms, biases, residual dense */
#define KERNELS	"module/Encoder_en/KonaTransformer/Encode/"	/* attention kernels */
#define HIDDEN	"module_apply_default/Encoder_en/hidden_layers/"
#define HIDDEN_VARS "module/Encoder_en/hidden_layers/"
#define EMBED_TABLE "module/Embeddings_en"

#define MAX_LAYERS	64u
#define MAX_HIDDEN	8u
#define NAME_SLOTS	64u	/* nm() buffers: enough for every name one step holds */
#define NAME_LEN	512u

struct ln {
	const struct tfjs_tensor *g, *b;
	float eps;
};

struct layer {
	uint32_t d_in, d, d_out, ff, heads;
	float scale;
	struct ln ln1, ln2;
	const struct tfjs_tensor *wqkv, *bqkv, *wo, *bo, *w1, *b1, *w2, *b2;
	const struct tfjs_tensor *wr, *br;	/* projected residual, or NULL: identity */
	char in[NAME_LEN], out[NAME_LEN];	/* graph nodes of the layer's input, output */
};

struct use_graph {
	const struct tfjs_tensor *table, *inv_freq;
	float token_scale;
	int32_t max_len;
	uint32_t n_layers, n_hidden;
	struct layer layer[MAX_LAYERS];
	const struct tfjs_tensor *wt[MAX_HIDDEN], *bt[MAX_HIDDEN];
	float l2_eps;
};

/* Recogniser state. The first error sticks: later checks are no-ops, so
 * the walk reads as a straight list of expectations. */
struct rec {
	const struct tfjs_model *m;
	struct pn_err *err;
	int ret;
	uint32_t next;
	char names[NAME_SLOTS][NAME_LEN];
};

static void fail(struct rec *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct rec *r, int code, const char *fmt, ...)
{
	char msg[sizeof(((struct pn_err *)0)->msg)];
	va_list ap;

	if (r->ret)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->ret = pn_errf(r->err, code, "%s: %s", r->m->json_path, msg);
}

/* A formatted name in a rotating buffer, valid for the next NAME_SLOTS calls. */
static const char *nm(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *nm(struct rec *r, const char *fmt, ...)
{
	char *s = r->names[r->next++ % NAME_SLOTS];
	va_list ap;

	va_start(ap, fmt);
	if ((unsigned)vsnprintf(s, NAME_LEN, fmt, ap) >= NAME_LEN)
		fail(r, -ENAMETOOLONG, "node name too long: '%.60s...'", s);
	va_end(ap);
	return s;
}

/* A name scope the caller keeps across many nm() calls. */
static void scope(struct rec *r, char *dst, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void scope(struct rec *r, char *dst, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if ((unsigned)vsnprintf(dst, NAME_LEN, fmt, ap) >= NAME_LEN)
		fail(r, -ENAMETOOLONG, "node name too long: '%.60s...'", dst);
	va_end(ap);
}

/* Node `name` of op type `op`. */
static const struct tfjs_node *node(struct rec *r, const char *name, const char *op)
{
	const struct tfjs_node *n;

	if (r->ret)
		return NULL;
	n = tfjs_node(r->m, name);
	if (!n)
		fail(r, -EINVAL, "no node '%s' (expected a %s of the USE-lite pattern)", name, op);
	else if (strcmp(n->op, op))
		fail(r, -EINVAL, "node '%s' is a %s, expected a %s", name, n->op, op);
	return r->ret ? NULL : n;
}

static int same_edge(const char *in, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(in, name, len) && (!in[len] || !strcmp(in + len, ":0"));
}

/* Data input i of n must be `want`. */
static void input(struct rec *r, const struct tfjs_node *n, uint32_t i, const char *want)
{
	if (r->ret || !n)
		return;
	if (i >= n->n_in)
		fail(r, -EINVAL, "node '%s' has %u inputs, expected input %u to be '%s'",
		     n->name, n->n_in, i, want);
	else if (!same_edge(n->in[i], want))
		fail(r, -EINVAL, "node '%s' input %u is '%s', expected '%s'", n->name, i,
		     n->in[i], want);
}

/* Node `name` of type `op` whose input 0 is in0. */
static const struct tfjs_node *node1(struct rec *r, const char *name, const char *op,
				     const char *in0)
{
	const struct tfjs_node *n = node(r, name, op);

	input(r, n, 0, in0);
	return n;
}

static void shape_str(char *s, size_t cap, uint32_t ndim, const uint64_t *shape)
{
	size_t k = (size_t)snprintf(s, cap, "[");

	for (uint32_t i = 0; i < ndim && k < cap; i++)
		k += (size_t)snprintf(s + k, cap - k, "%s%llu", i ? "," : "",
				      (unsigned long long)shape[i]);
	if (k < cap)
		snprintf(s + k, cap - k, "]");
}

/*
 * The float32 weight consumed as input i of n: the input must be a Const
 * whose values are in the manifest under the name the pattern expects,
 * with ndim dims; shape[d] == 0 reads that dim, other values must match.
 */
static const struct tfjs_tensor *weight(struct rec *r, const struct tfjs_node *n, uint32_t i,
					const char *name, uint32_t ndim, uint64_t *shape)
{
	const struct tfjs_tensor *t;
	char want[96], got[96];

	input(r, n, i, name);
	node(r, name, "Const");
	if (r->ret)
		return NULL;
	t = tfjs_weight(r->m, name);
	if (!t) {
		fail(r, -EINVAL, "Const '%s' has no values in weightsManifest", name);
		return NULL;
	}
	if (t->dtype != PNB_DTYPE_F32) {
		fail(r, -EINVAL, "weight '%s' is int32, expected float32", name);
		return NULL;
	}
	shape_str(want, sizeof(want), ndim, shape);
	shape_str(got, sizeof(got), t->ndim, t->shape);
	for (uint32_t d = 0; d < ndim && t->ndim == ndim; d++)
		if (shape[d] && shape[d] != t->shape[d])
			goto mismatch;
	if (t->ndim != ndim || !t->elems)
		goto mismatch;
	for (uint32_t d = 0; d < ndim; d++)
		shape[d] = t->shape[d];
	return t;
mismatch:
	for (char *c = want; *c; c++)	/* 0 means "any" in the expectation */
		if (*c == '0' && (c[-1] == '[' || c[-1] == ',') && (c[1] == ',' || c[1] == ']'))
			*c = '*';
	fail(r, -EINVAL, "weight '%s': expected shape %s, found %s", name, want, got);
	return NULL;
}

static float const_f32(struct rec *r, const struct tfjs_node *n, uint32_t i, const char *what)
{
	float v = 0;

	if (r->ret || !n)
		return 0;
	if (i >= n->n_in)
		fail(r, -EINVAL, "node '%s' has no input %u (%s)", n->name, i, what);
	else
		r->ret = tfjs_const_f32(r->m, n->in[i], &v, r->err);
	return v;
}

static int32_t const_i32(struct rec *r, const struct tfjs_node *n, uint32_t i, const char *what)
{
	int32_t v = 0;

	if (r->ret || !n)
		return 0;
	if (i >= n->n_in)
		fail(r, -EINVAL, "node '%s' has no input %u (%s)", n->name, i, what);
	else
		r->ret = tfjs_const_i32(r->m, n->in[i], &v, r->err);
	return v;
}

/* x: the LN's input node. Scopes: graph ops and variables. Returns the output node. */
static const char *layer_norm(struct rec *r, const char *ops, const char *vars, const char *x,
			      uint32_t width, struct ln *ln)
{
	const struct tfjs_node *n;
	uint64_t shape[1] = { width };
	int32_t axis;

	n = node1(r, nm(r, "%sMean", ops), "Mean", x);
	axis = const_i32(r, n, 1, "reduction axis");
	if (!r->ret && axis != -1 && axis != 2)
		fail(r, -EINVAL, "node '%s' reduces axis %d, expected the last (-1)", n->name, axis);
	n = node1(r, nm(r, "%ssub_1", ops), "Sub", x);
	input(r, n, 1, nm(r, "%sMean", ops));
	node1(r, nm(r, "%sSquare", ops), "Square", nm(r, "%ssub_1", ops));
	node1(r, nm(r, "%sMean_1", ops), "Mean", nm(r, "%sSquare", ops));
	n = node1(r, nm(r, "%sadd", ops), "Add", nm(r, "%sMean_1", ops));
	ln->eps = const_f32(r, n, 1, "layer norm epsilon");
	node1(r, nm(r, "%sRsqrt", ops), "Rsqrt", nm(r, "%sadd", ops));
	n = node(r, nm(r, "%smul", ops), "Mul");
	ln->g = weight(r, n, 0, nm(r, "%slayer_norm_scale/ConcatPartitions/concat", vars), 1, shape);
	input(r, n, 1, nm(r, "%sRsqrt", ops));
	n = node1(r, nm(r, "%smul_1", ops), "Mul", nm(r, "%smul", ops));
	input(r, n, 1, nm(r, "%ssub_1", ops));
	n = node1(r, nm(r, "%sadd_1", ops), "Add", nm(r, "%smul_1", ops));
	ln->b = weight(r, n, 1, nm(r, "%slayer_norm_bias/ConcatPartitions/concat", vars), 1, shape);
	if (!r->ret && !(ln->eps > 0 && ln->eps < 1e-2f))
		fail(r, -EINVAL, "layer norm epsilon in '%sadd' is %g, expected a small positive "
		     "number", ops, ln->eps);
	return nm(r, "%sadd_1", ops);
}

/* The heads and head width from a split_heads Pack [batch, T, heads, hd]. */
static void split_heads(struct rec *r, const char *att, const char *which, const char *from,
			struct layer *L)
{
	const struct tfjs_node *pack;
	int32_t heads, hd;

	node1(r, nm(r, "%s%s/split_last_dimension/Reshape", att, which), "Reshape", from);
	pack = node(r, nm(r, "%s%s/split_last_dimension/Reshape/shape", att, which), "Pack");
	heads = const_i32(r, pack, 2, "number of heads");
	hd = const_i32(r, pack, 3, "head width");
	if (r->ret)
		return;
	if (heads <= 0 || hd <= 0 || (uint64_t)heads * (uint64_t)hd != L->d)
		fail(r, -EINVAL, "node '%s': %d heads x %d != attention width %u", pack->name,
		     heads, hd, L->d);
	else if (L->heads && L->heads != (uint32_t)heads)
		fail(r, -EINVAL, "node '%s': %d heads, but q has %u", pack->name, heads, L->heads);
	L->heads = (uint32_t)heads;
	node1(r, nm(r, "%s%s/transpose", att, which), "Transpose",
	      nm(r, "%s%s/split_last_dimension/Reshape", att, which));
}

static void attention(struct rec *r, uint32_t l, const char *ln_out, struct layer *L)
{
	char att[NAME_LEN], dpa[NAME_LEN], kvar[NAME_LEN], bvar[NAME_LEN];
	uint64_t wqkv[4] = { 1, 1, L->d_in, 0 }, bqkv[1], wo[4] = { 1, 1, 0, 0 }, bo[1];
	const struct tfjs_node *n;
	int32_t sizes[3];

	scope(r, att, STACK "Layer_%u/TransformerLayer/MultiheadAttention/", l);
	scope(r, dpa, "%sDotProductAttention/BaseDotProductAttention/", att);
	scope(r, kvar, KERNELS "Layer_%u/TransformerLayer/MultiheadAttention/", l);
	scope(r, bvar, VARS "Layer_%u/TransformerLayer/MultiheadAttention/", l);
	node1(r, nm(r, "%sExpandDims", att), "ExpandDims", ln_out);
	n = node1(r, nm(r, "%sqkv_transform_single/Conv2D", att), "Conv2D",
		  nm(r, "%sExpandDims", att));
	L->wqkv = weight(r, n, 1, nm(r, "%sqkv_transform_single/kernel/part_0", kvar), 4, wqkv);
	if (!r->ret && wqkv[3] % 3)
		fail(r, -EINVAL, "weight '%s': %llu outputs, expected q|k|v thirds", L->wqkv->name,
		     (unsigned long long)wqkv[3]);
	L->d = (uint32_t)(wqkv[3] / 3);
	bqkv[0] = wqkv[3];
	n = node1(r, nm(r, "%sqkv_transform_single/BiasAdd", att), "BiasAdd",
		  nm(r, "%sqkv_transform_single/Conv2D", att));
	L->bqkv = weight(r, n, 1, nm(r, "%sqkv_transform_single/bias/ConcatPartitions/concat",
				     bvar), 1, bqkv);
	node1(r, nm(r, "%sSqueeze", att), "Squeeze", nm(r, "%sqkv_transform_single/BiasAdd", att));
	n = node1(r, nm(r, "%ssplit", att), "SplitV", nm(r, "%sSqueeze", att));
	if (!r->ret && n->n_in >= 2)
		r->ret = tfjs_const_i32_vec(r->m, n->in[1], sizes, 3, r->err);
	if (!r->ret && (sizes[0] != (int32_t)L->d || sizes[1] != sizes[0] || sizes[2] != sizes[0]))
		fail(r, -EINVAL, "node '%s' splits %d|%d|%d, expected q|k|v of %u each", n->name,
		     sizes[0], sizes[1], sizes[2], L->d);
	split_heads(r, att, "split_heads", nm(r, "%ssplit", att), L);
	split_heads(r, att, "split_heads_1", nm(r, "%ssplit:1", att), L);
	split_heads(r, att, "split_heads_2", nm(r, "%ssplit:2", att), L);

	n = node1(r, nm(r, "%smul", att), "Mul", nm(r, "%ssplit_heads/transpose", att));
	L->scale = const_f32(r, n, 1, "attention scale");
	n = node1(r, nm(r, "%sMatMul", dpa), "BatchMatMul", nm(r, "%smul", att));
	input(r, n, 1, nm(r, "%ssplit_heads_1/transpose", att));
	if (!r->ret && (tfjs_attr_int(n, "adj_x", 0) || !tfjs_attr_int(n, "adj_y", 0)))
		fail(r, -EINVAL, "node '%s': expected q k^T (adj_x false, adj_y true)", n->name);
	n = node1(r, nm(r, "%sadd", dpa), "Add", nm(r, "%sMatMul", dpa));
	/* Only a key-padding bias is supported: a causal one would change the math. */
	if (!r->ret && (n->n_in < 2 || !strstr(n->in[1], "/attention_bias_ignore_padding/")))
		fail(r, -EINVAL, "node '%s': expected a padding bias "
		     "(attention_bias_ignore_padding) as input 1, found '%s'", n->name,
		     n->n_in > 1 ? n->in[1] : "nothing");
	node1(r, nm(r, "%sReshape", dpa), "Reshape", nm(r, "%sadd", dpa));
	node1(r, nm(r, "%sSoftmax", dpa), "Softmax", nm(r, "%sReshape", dpa));
	node1(r, nm(r, "%sattention_weights", dpa), "Reshape", nm(r, "%sSoftmax", dpa));
	n = node1(r, nm(r, "%sMatMul_1", dpa), "BatchMatMul", nm(r, "%sattention_weights", dpa));
	input(r, n, 1, nm(r, "%ssplit_heads_2/transpose", att));
	if (!r->ret && (tfjs_attr_int(n, "adj_x", 0) || tfjs_attr_int(n, "adj_y", 0)))
		fail(r, -EINVAL, "node '%s': expected p v (no adjoints)", n->name);
	node1(r, nm(r, "%scombine_heads/transpose", att), "Transpose", nm(r, "%sMatMul_1", dpa));
	node1(r, nm(r, "%scombine_heads/combine_last_two_dimensions/Reshape", att), "Reshape",
	      nm(r, "%scombine_heads/transpose", att));
	node1(r, nm(r, "%sExpandDims_1", att), "ExpandDims",
	      nm(r, "%scombine_heads/combine_last_two_dimensions/Reshape", att));
	n = node1(r, nm(r, "%soutput_transform_single/Conv2D", att), "Conv2D",
		  nm(r, "%sExpandDims_1", att));
	wo[2] = L->d;
	L->wo = weight(r, n, 1, nm(r, "%soutput_transform_single/kernel/part_0", kvar), 4, wo);
	L->d_out = (uint32_t)wo[3];
	bo[0] = wo[3];
	n = node1(r, nm(r, "%soutput_transform_single/BiasAdd", att), "BiasAdd",
		  nm(r, "%soutput_transform_single/Conv2D", att));
	L->bo = weight(r, n, 1, nm(r, "%soutput_transform_single/bias/ConcatPartitions/concat",
				   bvar), 1, bo);
	node1(r, nm(r, "%sSqueeze_1", att), "Squeeze",
	      nm(r, "%soutput_transform_single/BiasAdd", att));
}

/* The residual branch of the attention block: a dense projection when the
 * width changes (AdjustResidualInput), else the layer input itself. */
static void residual(struct rec *r, uint32_t l, struct layer *L)
{
	char lay[NAME_LEN], adj[NAME_LEN], var[NAME_LEN];
	uint64_t wr[2] = { L->d_in, L->d_out }, br[1] = { L->d_out };
	const struct tfjs_node *add, *n;

	scope(r, lay, STACK "Layer_%u/TransformerLayer/", l);
	scope(r, adj, "%sAdjustResidualInput/", lay);
	scope(r, var, VARS "Layer_%u/TransformerLayer/dense/", l);
	add = node1(r, nm(r, "%slayer_postprocess/add", lay), "Add",
		    nm(r, "%sMultiheadAttention/Squeeze_1", lay));
	if (r->ret)
		return;
	if (add->n_in > 1 && same_edge(add->in[1], L->in)) {
		if (L->d_in != L->d_out)
			fail(r, -EINVAL, "node '%s': identity residual but width %u -> %u",
			     add->name, L->d_in, L->d_out);
		return;
	}
	input(r, add, 1, nm(r, "%sScatter/ScatterNd", adj));
	n = node(r, nm(r, "%sScatter/ScatterNd", adj), "ScatterNd");
	input(r, n, 1, nm(r, "%sdense/BiasAdd", adj));
	node1(r, nm(r, "%sGather/GatherNd", adj), "GatherNd", L->in);
	n = node1(r, nm(r, "%sdense/MatMul", adj), "MatMul", nm(r, "%sGather/GatherNd", adj));
	L->wr = weight(r, n, 1, nm(r, "%skernel/ConcatPartitions/concat", var), 2, wr);
	if (!r->ret && (tfjs_attr_int(n, "transpose_a", 0) || tfjs_attr_int(n, "transpose_b", 0)))
		fail(r, -EINVAL, "node '%s': expected x W without transposes", n->name);
	n = node1(r, nm(r, "%sdense/BiasAdd", adj), "BiasAdd", nm(r, "%sdense/MatMul", adj));
	L->br = weight(r, n, 1, nm(r, "%sbias/ConcatPartitions/concat", var), 1, br);
}

/* One position-wise conv (Tensordot x W + b) of the FFN. */
static const struct tfjs_tensor *ffn_conv(struct rec *r, const char *ffn, const char *var,
					  const char *conv, const char *from, uint64_t *w_shape,
					  const struct tfjs_tensor **bias)
{
	const struct tfjs_tensor *w;
	const struct tfjs_node *n;
	uint64_t b_shape[1];

	node1(r, nm(r, "%s%s/Tensordot/Reshape", ffn, conv), "Reshape", from);
	n = node1(r, nm(r, "%s%s/Tensordot/MatMul", ffn, conv), "MatMul",
		  nm(r, "%s%s/Tensordot/Reshape", ffn, conv));
	w = weight(r, n, 1, nm(r, "%s%s/Tensordot/Reshape_1", ffn, conv), 2, w_shape);
	if (!r->ret && (tfjs_attr_int(n, "transpose_a", 0) || tfjs_attr_int(n, "transpose_b", 0)))
		fail(r, -EINVAL, "node '%s': expected x W without transposes", n->name);
	node1(r, nm(r, "%s%s/Tensordot", ffn, conv), "Reshape",
	      nm(r, "%s%s/Tensordot/MatMul", ffn, conv));
	n = node1(r, nm(r, "%s%s/BiasAdd", ffn, conv), "BiasAdd",
		  nm(r, "%s%s/Tensordot", ffn, conv));
	b_shape[0] = w_shape[1];
	*bias = weight(r, n, 1, nm(r, "%s%s/bias/ConcatPartitions/concat", var, conv), 1, b_shape);
	return w;
}

static void ffn(struct rec *r, uint32_t l, const char *ln_out, struct layer *L)
{
	char lay[NAME_LEN], f[NAME_LEN], var[NAME_LEN];
	uint64_t w1[2] = { L->d_out, 0 }, w2[2] = { 0, L->d_out };
	const struct tfjs_node *n;

	scope(r, lay, STACK "Layer_%u/TransformerLayer/", l);
	scope(r, f, "%sFFN/", lay);
	scope(r, var, VARS "Layer_%u/TransformerLayer/FFN/", l);
	node1(r, nm(r, "%sGather/GatherNd", f), "GatherNd", ln_out);
	node1(r, nm(r, "%sExpandDims", f), "ExpandDims", nm(r, "%sGather/GatherNd", f));
	L->w1 = ffn_conv(r, f, var, "conv1", nm(r, "%sExpandDims", f), w1, &L->b1);
	n = node(r, nm(r, "%sconv1/Relu", f), "Relu");	/* PolyNet's FFN here: ReLU only */
	input(r, n, 0, nm(r, "%sconv1/BiasAdd", f));
	L->ff = (uint32_t)w1[1];
	w2[0] = w1[1];
	L->w2 = ffn_conv(r, f, var, "conv2", nm(r, "%sconv1/Relu", f), w2, &L->b2);
	node1(r, nm(r, "%sSqueeze", f), "Squeeze", nm(r, "%sconv2/BiasAdd", f));
	n = node(r, nm(r, "%sScatter/ScatterNd", f), "ScatterNd");
	input(r, n, 1, nm(r, "%sSqueeze", f));
	n = node1(r, nm(r, "%slayer_postprocess/add", f), "Add", nm(r, "%sScatter/ScatterNd", f));
	input(r, n, 1, nm(r, "%slayer_postprocess/add", lay));
}

static void layer(struct rec *r, uint32_t l, struct layer *L)
{
	char ops[NAME_LEN], vars[NAME_LEN], x[NAME_LEN], out[NAME_LEN];

	scope(r, ops, STACK "Layer_%u/TransformerLayer/layer_prepostprocess/layer_norm/", l);
	scope(r, vars, VARS "Layer_%u/TransformerLayer/layer_prepostprocess/layer_norm/", l);
	scope(r, out, "%s", layer_norm(r, ops, vars, L->in, L->d_in, &L->ln1));
	attention(r, l, out, L);
	residual(r, l, L);
	scope(r, ops, STACK "Layer_%u/TransformerLayer/FFN/layer_prepostprocess/layer_norm/", l);
	scope(r, vars, VARS "Layer_%u/TransformerLayer/FFN/layer_prepostprocess/layer_norm/", l);
	scope(r, x, STACK "Layer_%u/TransformerLayer/layer_postprocess/add", l);
	scope(r, out, "%s", layer_norm(r, ops, vars, x, L->d_out, &L->ln2));
	ffn(r, l, out, L);
	snprintf(L->out, sizeof(L->out), STACK "Layer_%u/TransformerLayer/FFN/layer_postprocess/add",
		 l);
}

/* Layers are the Layer_<n> scopes of the stack: n = 0..count-1, no gaps. */
static uint32_t count_layers(struct rec *r)
{
	static const char pre[] = STACK "Layer_";
	uint8_t seen[MAX_LAYERS] = { 0 };
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->m->n_nodes; i++) {
		const char *s = r->m->nodes[i].name;
		char *end;
		unsigned long k;

		if (strncmp(s, pre, sizeof(pre) - 1))
			continue;
		k = strtoul(s + sizeof(pre) - 1, &end, 10);
		if (end == s + sizeof(pre) - 1 || *end != '/')
			continue;
		if (k >= MAX_LAYERS) {
			fail(r, -ENOTSUP, "node '%s': more than %u layers", s, MAX_LAYERS);
			return 0;
		}
		seen[k] = 1;
		n = k + 1 > n ? (uint32_t)k + 1 : n;
	}
	if (!n)
		fail(r, -EINVAL, "no '%sLayer_<n>/' nodes: not the USE-lite transformer", STACK);
	for (uint32_t k = 0; k < n && !r->ret; k++)
		if (!seen[k])
			fail(r, -EINVAL, "layers 0..%u expected, no '%sLayer_%u/' nodes", n - 1,
			     STACK, k);
	return n;
}

/* ids -> 2*E[id] + PE: the graph adds the scattered embeddings to the
 * timing signal's output, which already holds the embeddings + PE. */
static void embedding(struct rec *r, struct use_graph *g, char *out, size_t cap)
{
	static const char ts[] = STACK "Layer_0/AddTimingSignal/";
	const char *emb = APPLY "Encode/Scatter/ScatterNd";
	uint64_t table[2] = { 0, 0 }, inv[2] = { 1, 0 };
	const struct tfjs_node *n;

	n = node(r, APPLY "Encode/embedding_lookup", "GatherV2");
	g->table = weight(r, n, 0, EMBED_TABLE, 2, table);
	n = node(r, emb, "ScatterNd");
	input(r, n, 1, APPLY "Encode/embedding_lookup");
	node1(r, nm(r, "%sGather/GatherNd", ts), "GatherNd", emb);
	n = node1(r, nm(r, "%sadd", ts), "Add", nm(r, "%sGather/GatherNd", ts));
	input(r, n, 1, nm(r, "%sTimingSignal/concat", ts));
	/* [sin | cos] halves, in that order: PNB_POS_SINCOS. */
	n = node1(r, nm(r, "%sTimingSignal/concat", ts), "ConcatV2", nm(r, "%sTimingSignal/Sin", ts));
	input(r, n, 1, nm(r, "%sTimingSignal/Cos", ts));
	node1(r, nm(r, "%sTimingSignal/Sin", ts), "Sin", nm(r, "%sTimingSignal/mul_2", ts));
	node1(r, nm(r, "%sTimingSignal/Cos", ts), "Cos", nm(r, "%sTimingSignal/mul_2", ts));
	n = node1(r, nm(r, "%sTimingSignal/mul_2", ts), "Mul",
		  nm(r, "%sTimingSignal/ExpandDims", ts));
	inv[1] = table[1] / 2;
	g->inv_freq = weight(r, n, 1, nm(r, "%sTimingSignal/ExpandDims_1", ts), 2, inv);
	if (!r->ret && table[1] % 2)
		fail(r, -EINVAL, "weight '%s': odd width %llu, the timing signal needs pairs",
		     EMBED_TABLE, (unsigned long long)table[1]);
	n = node(r, nm(r, "%sScatter/ScatterNd", ts), "ScatterNd");
	input(r, n, 1, nm(r, "%sadd", ts));
	if (r->ret)
		return;
	if (tfjs_node(r->m, STACK "Layer_0/add")) {
		n = node1(r, STACK "Layer_0/add", "Add", emb);
		input(r, n, 1, nm(r, "%sScatter/ScatterNd", ts));
		g->token_scale = 2.0f;
		snprintf(out, cap, "%s", STACK "Layer_0/add");
	} else {
		g->token_scale = 1.0f;
		snprintf(out, cap, "%sScatter/ScatterNd", ts);
	}
	n = node1(r, APPLY "ClipToMaxLength/Less", "Less", APPLY "ClipToMaxLength/strided_slice");
	g->max_len = const_i32(r, n, 1, "maximum length");
	if (!r->ret && (g->max_len <= 0 || g->max_len > 1 << 20))
		fail(r, -EINVAL, "node '%s': maximum length %d out of range", n->name, g->max_len);
}

/* Mean over the valid prefix, tanh dense layer(s), L2 normalisation. */
static void head(struct rec *r, struct use_graph *g, const char *last)
{
	const char *l2 = HIDDEN "l2_normalize";
	uint64_t w[2] = { g->layer[g->n_layers - 1].d_out, 0 }, b[1];
	const struct tfjs_node *n;
	char prev[NAME_LEN] = APPLY "div";

	n = node1(r, APPLY "mul", "Mul", last);
	input(r, n, 1, APPLY "ExpandDims");
	node1(r, APPLY "ExpandDims", "ExpandDims", APPLY "ToFloat");
	node1(r, APPLY "ToFloat", "Cast", APPLY "SequenceMask/Less");
	node1(r, APPLY "SequenceMask/Less", "Less", APPLY "SequenceMask/Range");
	node1(r, APPLY "Sum", "Sum", APPLY "mul");
	n = node1(r, APPLY "div", "RealDiv", APPLY "Sum");
	input(r, n, 1, APPLY "ExpandDims_1");
	node1(r, APPLY "ExpandDims_1", "ExpandDims", APPLY "ToFloat_1");
	node1(r, APPLY "ToFloat_1", "Cast", APPLY "Maximum");	/* max(len, 1) */
	for (g->n_hidden = 0; !r->ret && g->n_hidden < MAX_HIDDEN; g->n_hidden++) {
		uint32_t k = g->n_hidden;
		const char *h = nm(r, HIDDEN "tanh_layer_%u/", k);

		if (k && !tfjs_node(r->m, nm(r, "%sMatMul", h)))
			break;
		n = node1(r, nm(r, "%sMatMul", h), "MatMul", prev);
		g->wt[k] = weight(r, n, 1, nm(r, HIDDEN_VARS "tanh_layer_%u/weights", k), 2, w);
		n = node1(r, nm(r, "%sBiasAdd", h), "BiasAdd", nm(r, "%sMatMul", h));
		b[0] = w[1];
		g->bt[k] = weight(r, n, 1, nm(r, HIDDEN_VARS "tanh_layer_%u/bias", k), 1, b);
		scope(r, prev, "%sTanh", h);
		node1(r, prev, "Tanh", nm(r, "%sBiasAdd", h));
		w[0] = w[1];
		w[1] = 0;
	}
	node1(r, nm(r, "%s/Square", l2), "Square", prev);
	node1(r, nm(r, "%s/Sum", l2), "Sum", nm(r, "%s/Square", l2));
	n = node1(r, nm(r, "%s/Maximum", l2), "Maximum", nm(r, "%s/Sum", l2));
	g->l2_eps = const_f32(r, n, 1, "l2 epsilon");
	node1(r, nm(r, "%s/Rsqrt", l2), "Rsqrt", nm(r, "%s/Maximum", l2));
	n = node1(r, l2, "Mul", prev);
	input(r, n, 1, nm(r, "%s/Rsqrt", l2));
	if (!r->ret && !(g->l2_eps > 0 && g->l2_eps < 1e-3f))
		fail(r, -EINVAL, "node '%s/Maximum': epsilon %g, expected a small positive number",
		     l2, g->l2_eps);
	/* The normalised vector must be the graph's result, not an intermediate. */
	for (uint32_t i = 0; i < r->m->n_nodes && !r->ret; i++)
		for (uint32_t k = 0; k < r->m->nodes[i].n_in; k++)
			if (same_edge(r->m->nodes[i].in[k], l2))
				fail(r, -EINVAL, "node '%s' consumes '%s': expected it to be the "
				     "output", r->m->nodes[i].name, l2);
}

static int recognise(const struct tfjs_model *m, struct use_graph *g, struct pn_err *err)
{
	struct rec *r = calloc(1, sizeof(*r));
	char x[NAME_LEN];
	int ret;

	if (!r)
		return pn_errf(err, -ENOMEM, "out of memory");
	r->m = m;
	r->err = err;
	g->n_layers = count_layers(r);
	embedding(r, g, x, sizeof(x));
	for (uint32_t l = 0; l < g->n_layers && !r->ret; l++) {
		struct layer *L = &g->layer[l];

		snprintf(L->in, sizeof(L->in), "%s", x);
		L->d_in = l ? g->layer[l - 1].d_out : (uint32_t)g->table->shape[1];
		layer(r, l, L);
		snprintf(x, sizeof(x), "%s", L->out);
	}
	if (!r->ret)
		head(r, g, x);
	ret = r->ret;
	free(r);
	return ret;
}

/* --- emission ------------------------------------------------------------ */

struct emit {
	struct pnb_writer *w;
	struct pn_compile_stats st;
};

/* A weight, its bytes copied unchanged; ndim/shape may flatten leading 1s. */
static uint32_t put_w(struct emit *e, const struct tfjs_tensor *t, uint32_t ndim,
		      const uint64_t *shape)
{
	e->st.tensors++;
	e->st.params += t->elems;
	return pnb_w_tensor(e->w, t->name, PNB_DTYPE_F32, ndim, shape ? shape : t->shape, t->data);
}

static uint32_t put_v(struct emit *e, const char *name, uint32_t layout, uint32_t width)
{
	e->st.values++;
	return pnb_w_value(e->w, name, PNB_DTYPE_F32, layout, width);
}

/* A node and its output value, both called name; returns the value. */
static uint32_t put_n(struct emit *e, uint32_t op, const char *name, uint32_t layout,
		      uint32_t width, struct pnb_node *n)
{
	uint32_t out = put_v(e, name, layout, width);

	n->op = op;
	n->name = pnb_w_string(e->w, name);
	n->out = out;
	e->st.nodes++;
	pnb_w_node(e->w, n);
	return out;
}

static uint32_t put_ln(struct emit *e, const char *name, uint32_t x, const struct ln *ln)
{
	struct pnb_node n;

	pnb_node_init(&n, PNB_OP_LAYERNORM, 0, 0);
	n.n_in = 1;
	n.in[0] = x;
	n.n_w = 2;
	n.w[PNB_W_NORM_GAMMA] = put_w(e, ln->g, 1, NULL);
	n.w[PNB_W_NORM_BETA] = put_w(e, ln->b, 1, NULL);
	n.fattr[PNB_FA_NORM_EPS] = ln->eps;
	return put_n(e, PNB_OP_LAYERNORM, name, PNB_LAYOUT_TOKENS, (uint32_t)ln->g->shape[0], &n);
}

/* y = act(x W + b); W given as [.., in, out] with leading 1s (1x1 convs). */
static uint32_t put_linear(struct emit *e, const char *name, uint32_t layout, uint32_t x,
			   const struct tfjs_tensor *W, const struct tfjs_tensor *b, int act)
{
	uint64_t shape[2] = { W->shape[W->ndim - 2], W->shape[W->ndim - 1] };
	struct pnb_node n;

	pnb_node_init(&n, PNB_OP_LINEAR, 0, 0);
	n.n_in = 1;
	n.in[0] = x;
	n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = put_w(e, W, 2, shape);
	n.w[PNB_W_LINEAR_B] = put_w(e, b, 1, NULL);
	n.iattr[PNB_IA_LINEAR_ACT] = act;
	return put_n(e, PNB_OP_LINEAR, name, layout, (uint32_t)shape[1], &n);
}

static uint32_t put_add(struct emit *e, const char *name, uint32_t layout, uint32_t a,
			uint32_t b, uint32_t width)
{
	struct pnb_node n;

	pnb_node_init(&n, PNB_OP_ADD, 0, 0);
	n.n_in = 2;
	n.in[0] = a;
	n.in[1] = b;
	return put_n(e, PNB_OP_ADD, name, layout, width, &n);
}

static uint32_t put_pool(struct emit *e, const char *name, uint32_t x, uint32_t width)
{
	struct pnb_node n;

	pnb_node_init(&n, PNB_OP_POOL_MEAN, 0, 0);
	n.n_in = 1;
	n.in[0] = x;
	return put_n(e, PNB_OP_POOL_MEAN, name, PNB_LAYOUT_SEQ, width, &n);
}

/*
 * The last layer's FFN with mean pooling folded in (see import.h):
 * pool(h) + pool(relu(u W1 + b1)) W2 + b2, a SEQ value. W2 then costs one
 * row per sequence instead of one per token: a sixth of the model's FLOPs.
 */
static uint32_t put_ffn_pooled(struct emit *e, uint32_t l, uint32_t u, uint32_t h,
			       const struct layer *L)
{
	char name[64];
	uint32_t v, ph;

	snprintf(name, sizeof(name), "l%u.ffn.up", l);
	v = put_linear(e, name, PNB_LAYOUT_TOKENS, u, L->w1, L->b1, PNB_ACT_RELU);
	snprintf(name, sizeof(name), "l%u.ffn.up.pool", l);
	v = put_pool(e, name, v, (uint32_t)L->w1->shape[1]);
	snprintf(name, sizeof(name), "l%u.ffn.down", l);
	v = put_linear(e, name, PNB_LAYOUT_SEQ, v, L->w2, L->b2, PNB_ACT_NONE);
	snprintf(name, sizeof(name), "l%u.pool", l);
	ph = put_pool(e, name, h, L->d_out);
	snprintf(name, sizeof(name), "l%u.ffn.add", l);
	return put_add(e, name, PNB_LAYOUT_SEQ, v, ph, L->d_out);
}

/* One layer; with pool set (the last layer), returns the pooled SEQ value. */
static uint32_t put_layer(struct emit *e, uint32_t l, uint32_t x, const struct layer *L,
			  int pool)
{
	char name[64];
	struct pnb_node n;
	uint32_t v, res, h;

	snprintf(name, sizeof(name), "l%u.ln1", l);
	v = put_ln(e, name, x, &L->ln1);
	snprintf(name, sizeof(name), "l%u.attn.qkv", l);
	v = put_linear(e, name, PNB_LAYOUT_TOKENS, v, L->wqkv, L->bqkv, PNB_ACT_NONE);
	pnb_node_init(&n, PNB_OP_ATTENTION, 0, 0);
	n.n_in = 1;
	n.in[0] = v;
	n.iattr[PNB_IA_ATTN_HEADS] = (int32_t)L->heads;
	n.iattr[PNB_IA_ATTN_CAUSAL] = 0;	/* the graph's bias masks padding keys only */
	n.fattr[PNB_FA_ATTN_SCALE] = L->scale;
	snprintf(name, sizeof(name), "l%u.attn", l);
	v = put_n(e, PNB_OP_ATTENTION, name, PNB_LAYOUT_TOKENS, L->d, &n);
	snprintf(name, sizeof(name), "l%u.attn.out", l);
	v = put_linear(e, name, PNB_LAYOUT_TOKENS, v, L->wo, L->bo, PNB_ACT_NONE);
	res = x;
	if (L->wr) {
		snprintf(name, sizeof(name), "l%u.attn.residual", l);
		res = put_linear(e, name, PNB_LAYOUT_TOKENS, x, L->wr, L->br, PNB_ACT_NONE);
	}
	snprintf(name, sizeof(name), "l%u.attn.add", l);
	h = put_add(e, name, PNB_LAYOUT_TOKENS, v, res, L->d_out);
	snprintf(name, sizeof(name), "l%u.ln2", l);
	v = put_ln(e, name, h, &L->ln2);
	if (pool)
		return put_ffn_pooled(e, l, v, h, L);
	pnb_node_init(&n, PNB_OP_FFN, 0, 0);
	n.n_in = 1;
	n.in[0] = v;
	n.n_w = 4;
	n.w[PNB_W_FFN_W1] = put_w(e, L->w1, 2, NULL);
	n.w[PNB_W_FFN_B1] = put_w(e, L->b1, 1, NULL);
	n.w[PNB_W_FFN_W2] = put_w(e, L->w2, 2, NULL);
	n.w[PNB_W_FFN_B2] = put_w(e, L->b2, 1, NULL);
	n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_RELU;
	n.iattr[PNB_IA_FFN_GATED] = 0;
	snprintf(name, sizeof(name), "l%u.ffn", l);
	v = put_n(e, PNB_OP_FFN, name, PNB_LAYOUT_TOKENS, L->d_out, &n);
	snprintf(name, sizeof(name), "l%u.ffn.add", l);
	return put_add(e, name, PNB_LAYOUT_TOKENS, v, h, L->d_out);
}

static int put_tokenizer(struct emit *e, const char *dir, const struct use_graph *g,
			 struct pnb_header *h, struct pn_err *err)
{
	struct pn_tokenizer *tok;
	const char *pieces;
	const float *scores;
	size_t pieces_size;
	uint32_t count;
	uint64_t shape[1];
	char path[1200];
	int ret;

	snprintf(path, sizeof(path), "%s/vocab.json", dir);
	ret = pn_tok_load_json(path, &tok, err);
	if (ret)
		return ret;
	pn_tok_pieces(tok, &pieces, &pieces_size, &scores, &count);
	if (!count || count > g->table->shape[0]) {
		ret = pn_errf(err, -EINVAL, "%s: %u pieces, but the embedding table '%s' has %llu "
			      "rows", path, count, g->table->name,
			      (unsigned long long)g->table->shape[0]);
	} else {
		shape[0] = pieces_size;
		h->tok_pieces = pnb_w_tensor(e->w, "tokenizer.pieces", PNB_DTYPE_U8, 1, shape,
					     pieces);
		shape[0] = count;
		h->tok_scores = pnb_w_tensor(e->w, "tokenizer.scores", PNB_DTYPE_F32, 1, shape,
					     scores);
		h->tokenizer = PNB_TOKENIZER_SPM_UNIGRAM;
		e->st.tensors += 2;
	}
	pn_tok_free(tok);
	return ret;
}

static int emit(const struct use_graph *g, const char *dir, const char *out, const char *name,
		int fold, struct pn_compile_stats *st, struct pn_err *err)
{
	struct emit e = { .w = pnb_writer_new() };
	uint64_t inv_shape[1] = { g->inv_freq->elems };
	struct pnb_header h;
	struct pnb_node n;
	struct stat sb;
	uint32_t ids, x;
	int ret;

	if (!e.w)
		return pn_errf(err, -ENOMEM, "%s: out of memory", out);
	memset(&h, 0, sizeof(h));
	ids = pnb_w_value(e.w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	e.st.values++;
	pnb_node_init(&n, PNB_OP_EMBED, 0, 0);
	n.n_in = 1;
	n.in[0] = ids;
	n.n_w = 4;
	n.w[PNB_W_EMBED_TABLE] = put_w(&e, g->table, 2, NULL);
	n.w[PNB_W_EMBED_INV_FREQ] = put_w(&e, g->inv_freq, 1, inv_shape); /* stored [1, D/2] */
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_SINCOS;
	n.fattr[PNB_FA_EMBED_SCALE] = g->token_scale;
	x = put_n(&e, PNB_OP_EMBED, "embed", PNB_LAYOUT_TOKENS, (uint32_t)g->table->shape[1], &n);
	for (uint32_t l = 0; l < g->n_layers; l++)
		x = put_layer(&e, l, x, &g->layer[l], fold && l + 1 == g->n_layers);
	if (!fold)
		x = put_pool(&e, "pool", x, g->layer[g->n_layers - 1].d_out);
	for (uint32_t k = 0; k < g->n_hidden; k++) {
		char hn[32];

		snprintf(hn, sizeof(hn), "head.tanh%u", k);
		x = put_linear(&e, hn, PNB_LAYOUT_SEQ, x, g->wt[k], g->bt[k], PNB_ACT_TANH);
	}
	pnb_node_init(&n, PNB_OP_L2NORM, 0, 0);
	n.n_in = 1;
	n.in[0] = x;
	n.fattr[PNB_FA_L2NORM_EPS] = g->l2_eps;
	h.output = put_n(&e, PNB_OP_L2NORM, "l2norm", PNB_LAYOUT_SEQ,
			 (uint32_t)g->wt[g->n_hidden - 1]->shape[1], &n);
	h.name = pnb_w_string(e.w, name);
	h.input = ids;
	h.max_tokens = (uint32_t)g->max_len;
	h.tok_pieces = PNB_NONE;
	h.tok_scores = PNB_NONE;
	ret = put_tokenizer(&e, dir, g, &h, err);
	if (!ret) {
		pnb_w_header(e.w, &h);
		ret = pnb_w_finish(e.w, out, err);
	}
	pnb_writer_free(e.w);
	if (!ret && stat(out, &sb) == 0)
		e.st.file_bytes = (uint64_t)sb.st_size;
	if (!ret && st)
		*st = e.st;
	return ret;
}

int tfjs_use_compile(const struct tfjs_model *m, const char *dir, const char *out,
		     const struct pn_compile_opts *o, struct pn_err *err)
{
	struct use_graph *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return pn_errf(err, -ENOMEM, "out of memory");
	if (o && o->progress)
		o->progress(o->progress_arg, "recognising the USE-lite graph");
	ret = recognise(m, g, err);
	if (!ret && o && o->progress)
		o->progress(o->progress_arg, "writing the .pnb");
	if (!ret)
		ret = emit(g, dir, out, o && o->name ? o->name : "use-lite",
			   !(o && o->no_pool_fold), o ? o->stats : NULL, err);
	free(g);
	return ret;
}
