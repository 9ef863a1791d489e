// SPDX-License-Identifier: MIT
/*
 * test_safetensors.c - the Hugging Face Llama importer's C parts, without
 * python (tests/integration/test_compile_safetensors.sh runs the real
 * model through tests/ref/llama_to_hf.py):
 *
 * - the safetensors container (lib/import/safetensors.c) on crafted
 *   buffers: a good one read back, and each malformation refused naming
 *   the offset and what was expected;
 * - tokenizer.json (hf_tokenizer.c): a small BPE vocab whose merges become
 *   scores that tokenize as the merges' ranks do, both merge spellings,
 *   and the tokenizers the runtime could not reproduce refused;
 * - config.json refusals, and a tiny synthetic model compiled end to end:
 *   q_proj/k_proj rows un-permuted as docs/compile.md says, checked on
 *   the .pnb's l0.attn.wqkv, and broken tensors refused.
 * Files go to a mkdtemp directory under /tmp.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "format/pnb.h"
#include "import/hf.h"
#include "import/import.h"
#include "text/tok_bpe.h"

#define SP "\xe2\x96\x81"	/* U+2581 */

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_safetensors_XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

static void expect_msg(int ret, const struct pn_err *err, const char *want, const char *what)
{
	if (ret == 0)
		fail_msg("%s: accepted, expected '%s'", what, want);
	if (!strstr(err->msg, want))
		fail_msg("%s: '%s', expected '%s'", what, err->msg, want);
}

/* --- the container ---------------------------------------------------------- */

/* u64 length, json, then data bytes 0, 1, 2, ... */
static uint8_t *st_buf(const char *json, size_t data, size_t *size)
{
	uint64_t n = strlen(json);
	uint8_t *b = malloc(8 + n + data + 1);

	assert_non_null(b);
	memcpy(b, &n, 8);
	memcpy(b + 8, json, n);
	for (size_t i = 0; i < data; i++)
		b[8 + n + i] = (uint8_t)i;
	*size = 8 + n + data;
	return b;
}

static void test_st_good(void **state)
{
	const char *json = "{\"__metadata__\":{\"format\":\"pt\"},"
			   "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
			   "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
			   "\"e\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[22,22]}}   ";
	struct pn_err err = { "" };
	struct pn_st st;
	size_t size;
	uint8_t *b = st_buf(json, 22, &size);
	const struct pn_st_tensor *t;

	(void)state;
	if (pn_st_parse(b, size, "x.safetensors", &st, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(st.n, 3);
	assert_int_equal(st.header_len, strlen(json));
	assert_int_equal(st.data_at, 8 + strlen(json));
	t = pn_st_find(&st, "a");
	assert_non_null(t);
	assert_string_equal(t->dtype, "F32");
	assert_int_equal(t->ndim, 2);
	assert_int_equal(t->shape[0], 2);
	assert_int_equal(t->shape[1], 2);
	assert_int_equal(t->begin, st.data_at);
	assert_int_equal(t->end, st.data_at + 16);
	t = pn_st_find(&st, "b");
	assert_non_null(t);
	assert_int_equal(t->begin, st.data_at + 16);
	assert_int_equal(b[t->begin], 16);
	assert_null(pn_st_find(&st, "__metadata__"));
	assert_null(pn_st_find(&st, "c"));
	assert_int_equal(pn_st_key_at(&st, "b"), 8 + (strstr(json, "\"b\"") - json));
	assert_int_equal(pn_st_key_at(&st, "nothere"), 8);
	pn_st_free(&st);
	free(b);
	/* no tensors at all is a valid file */
	b = st_buf("{}", 0, &size);
	assert_int_equal(pn_st_parse(b, size, "x.safetensors", &st, &err), 0);
	assert_int_equal(st.n, 0);
	pn_st_free(&st);
	free(b);
}

#define T32(name, a, b) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #a "," #b "]}"

static void test_st_bad(void **state)
{
	static const struct { const char *json; size_t data; const char *msg; } c[] = {
		{ "[]", 0, "offset 8: expected the header's JSON object" },
		{ "{\"a\":", 0, "invalid JSON in the header" },
		{ "{}  x", 0, "offset 12: bytes after the header's JSON, expected only spaces" },
		{ "{\"\xff\":1}", 0, "offset 10: the header is not UTF-8" },
		{ "{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		  "offset 9: tensor 'a': expected a \"dtype\" of the format's" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
		  "tensor 'a': expected \"shape\" of integers >= 0" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
		  "expected \"shape\" of integers" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
		  "at most 8 dimensions" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
		  4, "the shape's bytes overflow 64 bits" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
		  "expected \"data_offsets\" [begin, end], integers, begin <= end" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
		  "expected \"data_offsets\"" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
		  "data_offsets [0, 8] end at byte 70, past the end of the file (66 bytes: truncated?)" },
		{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
		  "shape [2] of F32 is 8 bytes, but data_offsets [0, 4] span 4" },
		{ "{\"a\":3}", 0, "tensor 'a': expected an object" },
		/* an escaped name: found nowhere verbatim, shown on one line */
		{ "{\"a\\nb\":3}", 0, "offset 8: tensor 'a?b': expected an object" },
		{ "{" T32("a", 0, 4) "," T32("b", 2, 6) "}", 6,
		  "offset 117: tensor 'b' (bytes 117..121) overlaps tensor 'a' (bytes 115..119)" },
		{ "{" T32("a", 0, 4) "," T32("b", 6, 10) "}", 10,
		  "offset 120: bytes 120..122 belong to no tensor (the next is 'b')" },
		{ "{" T32("a", 0, 4) "}", 5, "1 bytes after the last tensor's data" },
		{ "{" T32("a", 0, 4) "," T32("a", 4, 8) "}", 8, "tensor 'a': appears twice" },
		{ "{\"__metadata__\":{\"format\":1}}", 0, "\"__metadata__\" entry 'format' is not a string" },
		{ "{\"__metadata__\":[]}", 0, "\"__metadata__\" is not an object" },
	};
	struct pn_err err = { "" };
	struct pn_st st;
	uint8_t raw[16] = { 0 }, *b;
	size_t size;

	(void)state;
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		b = st_buf(c[k].json, c[k].data, &size);
		expect_msg(pn_st_parse(b, size, "bad.safetensors", &st, &err), &err, c[k].msg,
			   c[k].json);
		assert_non_null(strstr(err.msg, "bad.safetensors: offset "));
		pn_st_free(&st);
		free(b);
	}
	expect_msg(pn_st_parse(raw, 7, "f", &st, &err), &err, "f: offset 0: expected the 8-byte "
		   "header length, but the file ends at byte 7", "7 bytes");
	raw[0] = 9;
	expect_msg(pn_st_parse(raw, 16, "f", &st, &err), &err, "f: offset 0: header length 9 "
		   "runs past the end of the file (16 bytes): expected at most 8", "length past end");
	/* the format's 100 MB limit, in a file big enough to hold it */
	size = PN_ST_MAX_HEADER + 16;
	b = calloc(size, 1);
	assert_non_null(b);
	size -= 8;
	memcpy(b, &size, 8);
	expect_msg(pn_st_parse(b, size + 8, "f", &st, &err), &err, "expected at most 100000000",
		   "huge header");
	free(b);
}

/* --- tokenizer.json --------------------------------------------------------- */

static const char *const extra[] = { SP, "a", "b", "ab", SP "a", SP "ab" };
#define NEXTRA 6
#define VOCAB (259 + NEXTRA)

/* A sentencepiece-like tokenizer.json: the 259 fixed pieces, extra[], merges. */
static cJSON *tok_doc(void)
{
	static const char *const merges[][2] = {
		{ SP, "a" }, { "a", "b" }, { SP, "ab" }, { SP "a", "b" } };
	cJSON *doc = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(doc, "model");
	cJSON *v = cJSON_AddObjectToObject(m, "vocab"), *mg, *nm, *seq, *e, *added;
	char p[8];

	cJSON_AddStringToObject(m, "type", "BPE");
	cJSON_AddBoolToObject(m, "byte_fallback", 1);
	cJSON_AddNullToObject(m, "dropout");
	cJSON_AddStringToObject(m, "unk_token", "<unk>");
	cJSON_AddNumberToObject(v, "<unk>", 0);
	cJSON_AddNumberToObject(v, "<s>", 1);
	cJSON_AddNumberToObject(v, "</s>", 2);
	for (int i = 0; i < 256; i++) {
		snprintf(p, sizeof(p), "<0x%02X>", i);
		cJSON_AddNumberToObject(v, p, 3 + i);
	}
	for (int i = 0; i < NEXTRA; i++)
		cJSON_AddNumberToObject(v, extra[i], 259 + i);
	mg = cJSON_AddArrayToObject(m, "merges");
	for (int i = 0; i < 4; i++)
		cJSON_AddItemToArray(mg, cJSON_CreateStringArray(merges[i], 2));
	nm = cJSON_AddObjectToObject(doc, "normalizer");
	cJSON_AddStringToObject(nm, "type", "Sequence");
	seq = cJSON_AddArrayToObject(nm, "normalizers");
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "type", "Prepend");
	cJSON_AddStringToObject(e, "prepend", SP);
	cJSON_AddItemToArray(seq, e);
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "type", "Replace");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "pattern"), "String", " ");
	cJSON_AddStringToObject(e, "content", SP);
	cJSON_AddItemToArray(seq, e);
	cJSON_AddNullToObject(doc, "pre_tokenizer");
	added = cJSON_AddArrayToObject(doc, "added_tokens");
	for (int i = 0; i < 3; i++) {
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "id", i);
		cJSON_AddStringToObject(e, "content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
		cJSON_AddBoolToObject(e, "special", 1);
		cJSON_AddItemToArray(added, e);
	}
	return doc;
}

static int tok_read(cJSON *doc, uint32_t vocab, struct pn_hf_vocab *v, struct pn_err *err)
{
	char path[128], *s = cJSON_PrintUnformatted(doc);
	int ret;

	snprintf(path, sizeof(path), "%s/tokenizer.json", tmpdir);
	write_file(path, s, strlen(s));
	free(s);
	cJSON_Delete(doc);
	ret = pn_hf_tokenizer_read(path, vocab, v, err);
	if (ret)
		pn_hf_vocab_free(v);
	return ret;
}

/* The scores tokenize "ab a" as the merges' ranks do. */
static void check_encode(const struct pn_hf_vocab *v)
{
	size_t size = 0, off = 0, n;
	struct pn_err err = { "" };
	struct pn_bpe *bpe;
	int32_t ids[16];
	char *blob;

	for (uint32_t i = 0; i < v->n; i++)
		size += strlen(v->piece[i]) + 1;
	blob = malloc(size);
	assert_non_null(blob);
	for (uint32_t i = 0; i < v->n; i++) {
		memcpy(blob + off, v->piece[i], strlen(v->piece[i]) + 1);
		off += strlen(v->piece[i]) + 1;
	}
	if (pn_bpe_new(blob, size, v->score, v->n, &bpe, &err))
		fail_msg("%s", err.msg);
	/* ▁ a b ▁ a: ▁a (rank 0) twice, then ▁a b -> ▁ab (rank 2; ab, rank 1, no longer adjacent) */
	assert_int_equal(pn_bpe_encode(bpe, "ab a", 4, ids, 16, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 264);
	assert_int_equal(ids[2], 263);
	/* "b ab": ▁ b ▁ a b -> ▁a first (rank 0), then ▁a b -> ▁ab */
	assert_int_equal(pn_bpe_encode(bpe, "b ab", 4, ids, 16, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ids[1], 259);
	assert_int_equal(ids[2], 261);
	assert_int_equal(ids[3], 264);
	pn_bpe_free(bpe);
	free(blob);
}

static void test_tokenizer_good(void **state)
{
	struct pn_hf_vocab v;
	struct pn_err err = { "" };
	cJSON *doc, *m, *pt;

	(void)state;
	if (tok_read(tok_doc(), VOCAB, &v, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(v.n, VOCAB);
	assert_int_equal(v.merges, 4);
	assert_string_equal(v.piece[259 + 3], "ab");
	assert_true(v.score[263] == 0.0f);	/* ▁a: merge 0 */
	assert_true(v.score[262] == -1.0f);	/* ab: merge 1 */
	assert_true(v.score[264] == -2.0f);	/* ▁ab: merges 2 and 3 */
	for (uint32_t i = 0; i < 262; i++)
		assert_true(v.score[i] == -4.0f);	/* made by no merge: below all */
	check_encode(&v);
	pn_hf_vocab_free(&v);

	/* the older spelling of merges, "a b", and a Metaspace pre-tokenizer */
	doc = tok_doc();
	m = cJSON_GetObjectItem(doc, "model");
	cJSON_DeleteItemFromObject(m, "merges");
	cJSON_AddItemToObject(m, "merges", cJSON_CreateStringArray((const char *const[]){
		SP " a", "a b", SP " ab", SP "a b" }, 4));
	cJSON_DeleteItemFromObject(doc, "normalizer");
	cJSON_DeleteItemFromObject(doc, "pre_tokenizer");
	pt = cJSON_AddObjectToObject(doc, "pre_tokenizer");
	cJSON_AddStringToObject(pt, "type", "Metaspace");
	cJSON_AddStringToObject(pt, "replacement", SP);
	cJSON_AddStringToObject(pt, "prepend_scheme", "first");
	cJSON_AddFalseToObject(pt, "split");
	if (tok_read(doc, VOCAB, &v, &err))
		fail_msg("%s", err.msg);
	assert_true(v.score[264] == -2.0f);
	check_encode(&v);
	pn_hf_vocab_free(&v);
}

enum tok_bad { NO_BYTE, APART, NO_SPLIT, NOT_PIECE, NO_FALLBACK, UNIGRAM, NO_NORM, ADDED,
	       SPACE_PIECE, DUP, MERGE_FORM, N_TOK_BAD };

static void test_tokenizer_bad(void **state)
{
	static const char *const msg[N_TOK_BAD] = {
		[NO_BYTE] = "model.vocab: id 68 is missing, expected '<0x41>' (ids 0..2 are <unk>",
		[APART] = "model.merges[4] ('a' 'b') makes 'ab' again after merges of other "
			  "pieces (its first is merges[1])",
		[NO_SPLIT] = "piece 264 '" SP "ab' is '" SP "a' + 'b' (ids 263, 261), but no merge "
			     "makes it so",
		[NOT_PIECE] = "model.merges[4] ('b' 'a'): their concatenation is not in the vocab",
		[NO_FALLBACK] = "model.byte_fallback is not true",
		[UNIGRAM] = "model.type is not \"BPE\"",
		[NO_NORM] = "expected sentencepiece's text handling",
		[ADDED] = "added_tokens[3] is not one of <unk> (0), <s> (1), </s> (2)",
		[SPACE_PIECE] = "model.vocab: piece 262 is empty, not UTF-8 or holds a space",
		[DUP] = "model.vocab: id 261 is both",
		[MERGE_FORM] = "model.merges[4]: expected \"a b\" or [\"a\", \"b\"]",
	};
	struct pn_err err;
	struct pn_hf_vocab v;

	(void)state;
	for (int k = 0; k < N_TOK_BAD; k++) {
		cJSON *doc = tok_doc(), *m = cJSON_GetObjectItem(doc, "model");
		cJSON *voc = cJSON_GetObjectItem(m, "vocab"), *mg = cJSON_GetObjectItem(m, "merges");
		cJSON *e;

		switch (k) {
		case NO_BYTE:
			cJSON_DeleteItemFromObject(voc, "<0x41>");
			break;
		case APART:	/* ab's two merges around another piece's */
			cJSON_AddItemToArray(mg, cJSON_CreateStringArray(
				(const char *const[]){ "a", "b" }, 2));
			break;
		case NO_SPLIT:
			cJSON_DeleteItemFromArray(mg, 3);
			break;
		case NOT_PIECE:
			cJSON_AddItemToArray(mg, cJSON_CreateStringArray(
				(const char *const[]){ "b", "a" }, 2));
			break;
		case NO_FALLBACK:
			cJSON_ReplaceItemInObject(m, "byte_fallback", cJSON_CreateFalse());
			break;
		case UNIGRAM:
			cJSON_ReplaceItemInObject(m, "type", cJSON_CreateString("Unigram"));
			break;
		case NO_NORM:
			cJSON_ReplaceItemInObject(doc, "normalizer", cJSON_CreateNull());
			break;
		case ADDED:
			e = cJSON_CreateObject();
			cJSON_AddNumberToObject(e, "id", 260);
			cJSON_AddStringToObject(e, "content", "a");
			cJSON_AddItemToArray(cJSON_GetObjectItem(doc, "added_tokens"), e);
			break;
		case SPACE_PIECE:
			cJSON_DeleteItemFromObject(voc, "ab");
			cJSON_AddNumberToObject(voc, "a b", 262);
			break;
		case DUP:
			cJSON_AddNumberToObject(voc, "c", 261);
			break;
		case MERGE_FORM:
			cJSON_AddItemToArray(mg, cJSON_CreateString("a b c"));
			break;
		}
		expect_msg(tok_read(doc, VOCAB, &v, &err), &err, msg[k], msg[k]);
		assert_non_null(strstr(err.msg, "/tokenizer.json: "));
	}
	expect_msg(tok_read(tok_doc(), VOCAB + 1, &v, &err), &err,
		   "model.vocab has no piece of id 265, expected ids 0..265", "vocab too big");
	expect_msg(tok_read(tok_doc(), VOCAB - 1, &v, &err), &err,
		   "model.vocab['" SP "ab']: id is not an integer 0..263", "vocab too small");
}

/* --- config.json and a whole (tiny) model ---------------------------------- */

/* hidden 8, 2 query heads of 4, 1 KV head, FFN 4, 1 layer, vocab 265, tied. */
static cJSON *cfg_doc(void)
{
	cJSON *c = cJSON_CreateObject();

	cJSON_AddItemToObject(c, "architectures", cJSON_CreateStringArray(
		(const char *const[]){ "LlamaForCausalLM" }, 1));
	cJSON_AddStringToObject(c, "model_type", "llama");
	cJSON_AddNumberToObject(c, "hidden_size", 8);
	cJSON_AddNumberToObject(c, "intermediate_size", 4);
	cJSON_AddNumberToObject(c, "num_hidden_layers", 1);
	cJSON_AddNumberToObject(c, "num_attention_heads", 2);
	cJSON_AddNumberToObject(c, "num_key_value_heads", 1);
	cJSON_AddNumberToObject(c, "vocab_size", VOCAB);
	cJSON_AddNumberToObject(c, "max_position_embeddings", 16);
	cJSON_AddNumberToObject(c, "rms_norm_eps", 1e-5);
	cJSON_AddNumberToObject(c, "rope_theta", 10000);
	cJSON_AddNullToObject(c, "rope_scaling");
	cJSON_AddStringToObject(c, "hidden_act", "silu");
	cJSON_AddTrueToObject(c, "tie_word_embeddings");
	cJSON_AddNumberToObject(c, "bos_token_id", 1);
	cJSON_AddNumberToObject(c, "eos_token_id", 2);
	cJSON_AddStringToObject(c, "torch_dtype", "float32");
	return c;
}

struct tdef {
	const char *name;
	uint32_t rows, cols;	/* cols 0: 1-D */
};

static const struct tdef tiny[] = {
	{ "model.embed_tokens.weight", VOCAB, 8 },
	{ "model.layers.0.input_layernorm.weight", 8, 0 },
	{ "model.layers.0.self_attn.q_proj.weight", 8, 8 },
	{ "model.layers.0.self_attn.k_proj.weight", 4, 8 },
	{ "model.layers.0.self_attn.v_proj.weight", 4, 8 },
	{ "model.layers.0.self_attn.o_proj.weight", 8, 8 },
	{ "model.layers.0.post_attention_layernorm.weight", 8, 0 },
	{ "model.layers.0.mlp.gate_proj.weight", 4, 8 },
	{ "model.layers.0.mlp.up_proj.weight", 4, 8 },
	{ "model.layers.0.mlp.down_proj.weight", 8, 4 },
	{ "model.norm.weight", 8, 0 },
};
#define NTINY (sizeof(tiny) / sizeof(tiny[0]))

/* Tensor k's element i is k + i / 1024 (exact in f32). */
static float tval(uint32_t k, uint64_t i)
{
	return (float)k + (float)i / 1024.0f;
}

enum tiny_bad { OK, F16, SHAPE, MISSING, EXTRA, NAN_VALUE };

static void write_cfg(const char *dir, cJSON *c)
{
	char path[160], *s = cJSON_PrintUnformatted(c);

	snprintf(path, sizeof(path), "%s/config.json", dir);
	write_file(path, s, strlen(s));
	free(s);
	cJSON_Delete(c);
}

static void write_tiny(const char *dir, enum tiny_bad bad)
{
	char path[160], *h = malloc(8192);
	size_t hl = 0, data = 0, at = 0;
	uint8_t *b;

	assert_non_null(h);
	hl += (size_t)snprintf(h + hl, 8192 - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (uint32_t k = 0; k < NTINY + (bad == EXTRA); k++) {
		const struct tdef *t = k < NTINY ? &tiny[k] : &tiny[0];
		uint64_t n = (uint64_t)t->rows * (t->cols ? t->cols : 1);
		size_t bytes = n * (bad == F16 && k == 3 ? 2 : 4);
		char shape[32];

		if (bad == MISSING && k == 8)
			continue;
		if (t->cols)
			snprintf(shape, sizeof(shape), "%u,%u", t->rows + (bad == SHAPE && k == 5),
				 t->cols);
		else
			snprintf(shape, sizeof(shape), "%u", t->rows);
		if (bad == SHAPE && k == 5)
			bytes += 4 * t->cols;
		hl += (size_t)snprintf(h + hl, 8192 - hl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],"
				       "\"data_offsets\":[%zu,%zu]}",
				       k < NTINY ? t->name : "model.layers.0.self_attn.bias",
				       bad == F16 && k == 3 ? "F16" : "F32", shape, data, data + bytes);
		data += bytes;
	}
	hl += (size_t)snprintf(h + hl, 8192 - hl, "}");
	while ((8 + hl) % 8)
		h[hl++] = ' ';
	b = calloc(8 + hl + data, 1);
	assert_non_null(b);
	memcpy(b, &(uint64_t){ hl }, 8);
	memcpy(b + 8, h, hl);
	at = 8 + hl;
	for (uint32_t k = 0; k < NTINY + (bad == EXTRA); k++) {
		const struct tdef *t = k < NTINY ? &tiny[k] : &tiny[0];
		uint64_t n = (uint64_t)(t->rows + (bad == SHAPE && k == 5)) * (t->cols ? t->cols : 1);

		if (bad == MISSING && k == 8)
			continue;
		for (uint64_t i = 0; i < n; i++) {
			float f = bad == NAN_VALUE && k == 4 && i == 5 ? NAN : tval(k, i);

			if (bad == F16 && k == 3) {
				at += 2;
				continue;
			}
			memcpy(b + at, &f, 4);
			at += 4;
		}
	}
	assert_int_equal(at, 8 + hl + data);
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	write_file(path, b, at);
	free(b);
	free(h);
	write_cfg(dir, cfg_doc());
}

static void test_config_bad(void **state)
{
	struct pn_err err;
	char dir[128], out[160], idx[160];
	cJSON *c;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/cfg", tmpdir);
	mkdir(dir, 0755);
	snprintf(out, sizeof(out), "%s/out.pnb", tmpdir);
	c = cfg_doc();
	cJSON_DeleteItemFromObject(c, "num_key_value_heads");
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "cfg/config.json: no \"num_key_value_heads\", expected an integer", "missing key");
	c = cfg_doc();
	cJSON_ReplaceItemInObject(c, "hidden_size", cJSON_CreateString("8"));
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "cfg/config.json: \"hidden_size\" is not an integer", "mistyped key");
	c = cfg_doc();
	cJSON_DeleteItemFromObject(c, "tie_word_embeddings");
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "no \"tie_word_embeddings\", expected true or false", "no tie");
	c = cfg_doc();
	cJSON_ReplaceItemInObject(c, "rope_scaling", cJSON_Parse("{\"type\":\"linear\",\"factor\":2}"));
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "\"rope_scaling\" is set: not supported", "rope_scaling");
	c = cfg_doc();
	cJSON_ReplaceItemInObject(c, "hidden_act", cJSON_CreateString("gelu"));
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "\"hidden_act\" is not \"silu\"", "gelu");
	c = cfg_doc();
	cJSON_ReplaceItemInObject(c, "num_key_value_heads", cJSON_CreateNumber(3));
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "cfg/config.json: 3 kv heads do not divide the 2 query heads", "heads");
	c = cfg_doc();
	cJSON_AddNumberToObject(c, "head_dim", 2);
	write_cfg(dir, c);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "\"head_dim\" is not hidden_size / num_attention_heads = 4", "head_dim");
	/* a good config: then model.safetensors is what is missing */
	write_cfg(dir, cfg_doc());
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "cfg/model.safetensors: cannot open: No such file", "no model");
	snprintf(idx, sizeof(idx), "%s/model.safetensors.index.json", dir);
	write_file(idx, "{}", 2);
	expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err,
		   "sharded checkpoints are not supported", "sharded");
	assert_int_equal(access(out, F_OK), -1);
}

static void test_tiny_model(void **state)
{
	struct pn_err err = { "" };
	struct pnb_file f;
	char dir[128], out[160], path[160], *s;
	cJSON *doc = tok_doc();
	const float *w;
	uint32_t ti;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tiny", tmpdir);
	mkdir(dir, 0755);
	snprintf(out, sizeof(out), "%s/tiny.pnb", tmpdir);
	write_tiny(dir, OK);
	s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	write_file(path, s, strlen(s));
	free(s);
	if (pn_compile_safetensors(dir, out, NULL, &err))
		fail_msg("%s", err.msg);
	if (pnb_open(out, &f, &err))
		fail_msg("%s", err.msg);
	/* wqkv [in 8, out 8 + 4 + 4]: column o is llama2.c's row o of Wq | Wk | Wv */
	ti = pnb_find_tensor(&f, "l0.attn.wqkv");
	assert_true(ti < f.n_tensors);
	assert_int_equal(f.tensors[ti].shape[0], 8);
	assert_int_equal(f.tensors[ti].shape[1], 16);
	w = pnb_tensor_data(&f, ti);
	for (uint32_t o = 0; o < 16; o++) {
		/* llama2.c row h*4 + 2i + j is Hugging Face row h*4 + j*2 + i (hs 4) */
		uint32_t r = o < 12 ? (o % 8) : o - 12, h = r / 4, i = (r % 4) / 2, j = r % 2;
		uint32_t k = o < 8 ? 2 : o < 12 ? 3 : 4;
		uint32_t src = k == 4 ? r : h * 4 + j * 2 + i;

		for (uint32_t in = 0; in < 8; in++)
			if (w[in * 16 + o] != tval(k, (uint64_t)src * 8 + in))
				fail_msg("wqkv[%u][%u] = %g, expected HF %s row %u col %u = %g", in,
					 o, (double)w[in * 16 + o], k == 2 ? "q" : k == 3 ? "k" : "v",
					 src, in, (double)tval(k, (uint64_t)src * 8 + in));
	}
	ti = pnb_find_tensor(&f, "embed.table");
	assert_true(ti < f.n_tensors);
	w = pnb_tensor_data(&f, ti);
	for (uint64_t i = 0; i < (uint64_t)VOCAB * 8; i++)
		assert_true(w[i] == tval(0, i));
	ti = pnb_find_tensor(&f, "tokenizer.scores");
	assert_true(ti < f.n_tensors);
	w = pnb_tensor_data(&f, ti);
	assert_true(w[264] == -2.0f);
	pnb_close(&f);
	unlink(out);
}

static void test_tiny_bad(void **state)
{
	static const struct { enum tiny_bad bad; const char *msg; } c[] = {
		{ F16, "tensor 'model.layers.0.self_attn.k_proj.weight': dtype F16, expected F32 "
		       "(only float32 checkpoints are read)" },
		{ SHAPE, "tensor 'model.layers.0.self_attn.o_proj.weight': shape [9,8], expected "
			 "[8,8] (from config.json)" },
		{ MISSING, "no tensor 'model.layers.0.mlp.up_proj.weight', expected F32 [4,8]" },
		{ EXTRA, "tensor 'model.layers.0.self_attn.bias' is not one of a LlamaForCausalLM's" },
		{ NAN_VALUE, "tensor 'model.layers.0.self_attn.v_proj.weight' element 5 is nan, "
			     "expected a finite number" },
	};
	struct pn_err err;
	char dir[128], out[160];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tiny", tmpdir);
	snprintf(out, sizeof(out), "%s/tiny_bad.pnb", tmpdir);
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		write_tiny(dir, c[k].bad);
		expect_msg(pn_compile_safetensors(dir, out, NULL, &err), &err, c[k].msg, c[k].msg);
		assert_non_null(strstr(err.msg, "tiny/model.safetensors: "));
		assert_int_equal(access(out, F_OK), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_st_good),
		cmocka_unit_test(test_st_bad),
		cmocka_unit_test(test_tokenizer_good),
		cmocka_unit_test(test_tokenizer_bad),
		cmocka_unit_test(test_config_bad),
		cmocka_unit_test(test_tiny_model),
		cmocka_unit_test(test_tiny_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
