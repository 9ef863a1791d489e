// SPDX-License-Identifier: MIT
/*
 * test_pnb: the .pnb writer and reader (lib/pnb.c, lib/pnb_write.c) and
 * CRC32C (lib/crc32c.c).
 *
 * A small model is written with the writer and read back field by field;
 * then copies of its bytes are damaged (truncated, flipped, or edited and
 * their CRCs recomputed so that only the validation can catch them) and
 * each must fail with the right code and a message naming the file, the
 * section and the entry.
 *
 *   test_pnb                  run the suite
 *   test_pnb --write DIR      write the seed files (tests/fuzz/corpus_pnb/)
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

#include "format/pnb.h"

uint32_t pn_crc32c_portable(uint32_t crc, const void *buf, size_t len);	/* crc32c.c */

enum { V = 6, D = 8, FF = 4, MAXT = 16 };

/* Everything the model was written from, to compare the file with. */
struct model {
	char pieces[32];
	size_t pieces_size;
	float scores[4];
	float emb[V * D], pos[MAXT * D], g[D], b[D], wqkv[D * 3 * D], bqkv[3 * D];
	float w1[D * 2 * FF], w2[FF * D], b2[D];
	uint16_t half[2 * 3];
	int8_t i8[5];
	struct pnb_node nodes[8];
	uint32_t n_nodes;
	uint32_t values[9];
};

struct fx {
	char dir[64], path[96];
	struct model m;
	uint8_t *img;		/* the valid file's bytes, 4096-aligned */
	size_t size;
};

static const char *const sec_names[PNB_SEC_COUNT] = {
	"strings", "tensors", "values", "nodes", "data",
};

static void fill(float *p, size_t n, uint32_t *s)
{
	for (size_t i = 0; i < n; i++) {
		*s = *s * 1664525u + 1013904223u;
		p[i] = (float)(*s >> 8) / 16777216.0f - 0.5f;
	}
}

static uint32_t add_node(struct pnb_writer *w, struct model *m, struct pnb_node *n)
{
	m->nodes[m->n_nodes++] = *n;
	return pnb_w_node(w, n);
}

/*
 * ids -> embed (learned positions) -> x -> layernorm -> ln -> linear -> qkv
 * -> attention -> attn; add(x, attn) -> h -> gated ffn -> f -> pool_mean ->
 * pool -> l2norm -> out. Tensors 0/1 are the tokenizer's; a f16 and an i8
 * tensor no node uses cover the other dtypes.
 */
static int write_model(struct model *m, const char *path, struct pn_err *err)
{
	static const char pieces[] = "<unk>\0a\0b\0\xe2\x96\x81hello";
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint32_t *v = m->values, tp, ts, t[12], s = 7;
	uint64_t sh[2];
	int r;

	memset(m, 0, sizeof(*m));
	memcpy(m->pieces, pieces, sizeof(pieces));
	m->pieces_size = sizeof(pieces);
	fill(m->scores, 4, &s);
	fill((float *)&m->emb, (offsetof(struct model, half) - offsetof(struct model, emb)) / 4,
	     &s);
	for (int i = 0; i < 6; i++)
		m->half[i] = (uint16_t)(0x3c00 + i);
	for (int i = 0; i < 5; i++)
		m->i8[i] = (int8_t)(i * 50 - 100);
	if (!w)
		return -ENOMEM;

#define TN(name, dt, d0, d1, p) (sh[0] = (d0), sh[1] = (d1), \
	pnb_w_tensor(w, name, dt, (d1) ? 2 : 1, sh, p))
	tp = TN("tok.pieces", PNB_DTYPE_U8, m->pieces_size, 0, m->pieces);
	ts = TN("tok.scores", PNB_DTYPE_F32, 4, 0, m->scores);
	t[0] = TN("emb.gr\xc3\xb6\xc3\x9f" "e", PNB_DTYPE_F32, V, D, m->emb);
	t[1] = TN("emb.pos", PNB_DTYPE_F32, MAXT, D, m->pos);
	t[2] = TN("ln.g", PNB_DTYPE_F32, D, 0, m->g);
	t[3] = TN("ln.b", PNB_DTYPE_F32, D, 0, m->b);
	t[4] = TN("qkv.w", PNB_DTYPE_F32, D, 3 * D, m->wqkv);
	t[5] = TN("qkv.b", PNB_DTYPE_F32, 3 * D, 0, m->bqkv);
	t[6] = TN("ffn.w1", PNB_DTYPE_F32, D, 2 * FF, m->w1);
	t[7] = TN("ffn.w2", PNB_DTYPE_F32, FF, D, m->w2);
	t[8] = TN("ffn.b2", PNB_DTYPE_F32, D, 0, m->b2);
	t[9] = TN("unused.half", PNB_DTYPE_F16, 2, 3, m->half);
	t[10] = TN("unused.i8", PNB_DTYPE_I8, 5, 0, m->i8);
#undef TN

	v[0] = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	v[1] = pnb_w_value(w, "x", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	v[2] = pnb_w_value(w, "ln", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	v[3] = pnb_w_value(w, "qkv", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 3 * D);
	v[4] = pnb_w_value(w, "attn", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	v[5] = pnb_w_value(w, "h", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	v[6] = pnb_w_value(w, "f", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, D);
	v[7] = pnb_w_value(w, "pool", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, D);
	v[8] = pnb_w_value(w, "out", PNB_DTYPE_F32, PNB_LAYOUT_SEQ, D);

	pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(w, "embed"), v[1]);
	n.n_in = 1; n.in[0] = v[0]; n.n_w = 2;
	n.w[PNB_W_EMBED_TABLE] = t[0]; n.w[PNB_W_EMBED_POS] = t[1];
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_LEARNED; n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_LAYERNORM, pnb_w_string(w, "ln"), v[2]);
	n.n_in = 1; n.in[0] = v[1]; n.n_w = 2;
	n.w[PNB_W_NORM_GAMMA] = t[2]; n.w[PNB_W_NORM_BETA] = t[3];
	n.fattr[PNB_FA_NORM_EPS] = 1e-6f;
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_LINEAR, pnb_w_string(w, "qkv"), v[3]);
	n.n_in = 1; n.in[0] = v[2]; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = t[4]; n.w[PNB_W_LINEAR_B] = t[5];
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_ATTENTION, pnb_w_string(w, "attn"), v[4]);
	n.n_in = 1; n.in[0] = v[3];
	n.iattr[PNB_IA_ATTN_HEADS] = 2; n.fattr[PNB_FA_ATTN_SCALE] = 0.5f;
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_ADD, pnb_w_string(w, "res"), v[5]);
	n.n_in = 2; n.in[0] = v[1]; n.in[1] = v[4];
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_FFN, pnb_w_string(w, "ffn"), v[6]);
	n.n_in = 1; n.in[0] = v[5]; n.n_w = 4;
	/* b1 (w[PNB_W_FFN_B1]) absent */
	n.w[PNB_W_FFN_W1] = t[6]; n.w[PNB_W_FFN_W2] = t[7]; n.w[PNB_W_FFN_B2] = t[8];
	n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_SILU; n.iattr[PNB_IA_FFN_GATED] = 1;
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_POOL_MEAN, pnb_w_string(w, "pool"), v[7]);
	n.n_in = 1; n.in[0] = v[6];
	add_node(w, m, &n);
	pnb_node_init(&n, PNB_OP_L2NORM, pnb_w_string(w, "l2"), v[8]);
	n.n_in = 1; n.in[0] = v[7]; n.fattr[PNB_FA_L2NORM_EPS] = 1e-12f;
	add_node(w, m, &n);

	h.name = pnb_w_string(w, "test-model \xe2\x9c\x93");
	h.input = v[0];
	h.output = v[8];
	h.max_tokens = MAXT;
	h.tokenizer = PNB_TOKENIZER_SPM_UNIGRAM;
	h.tok_pieces = tp;
	h.tok_scores = ts;
	pnb_w_header(w, &h);
	r = pnb_w_finish(w, path, err);
	pnb_writer_free(w);
	return r;
}

static uint8_t *read_aligned(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = aligned_alloc(4096, ((size_t)n + 4095) & ~(size_t)4095);
	if (buf && fread(buf, 1, n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	*size = n;
	return buf;
}

static int write_bytes(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	int ok;

	if (!fp)
		return -1;
	ok = fwrite(p, 1, n, fp) == n;
	return fclose(fp) || !ok ? -1 : 0;
}

static uint8_t *copy_img(const struct fx *f)
{
	uint8_t *b = aligned_alloc(4096, (f->size + 4095) & ~(size_t)4095);

	assert_non_null(b);
	memcpy(b, f->img, f->size);
	return b;
}

/* Recomputes every in-range section CRC and then the header CRC, so an
 * edited copy fails validation, not the checksums. */
static void refix(uint8_t *b, size_t size)
{
	struct pnb_header *h = (struct pnb_header *)b;

	for (int s = 0; s < PNB_SEC_COUNT; s++)
		if (h->sec[s].offset <= size && h->sec[s].size <= size - h->sec[s].offset)
			h->sec[s].crc32c = pn_crc32c(0, b + h->sec[s].offset, h->sec[s].size);
	h->header_crc32c = pn_crc32c(0, b, offsetof(struct pnb_header, header_crc32c));
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pn_err err;

	strcpy(f->dir, "/tmp/test_pnb_XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/m.pnb", f->dir);
	if (write_model(&f->m, f->path, &err)) {
		fprintf(stderr, "fixture: %s\n", err.msg);
		return -1;
	}
	f->img = read_aligned(f->path, &f->size);
	if (!f->img)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f->img);
	free(f);
	return 0;
}

/* ---- CRC32C --------------------------------------------------------------- */

/* Bit at a time, straight from the definition: the reference. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c(void **state)
{
	uint8_t buf[600];
	uint32_t s = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		s = s * 1664525u + 1013904223u;
		buf[i] = (uint8_t)(s >> 24);
	}
	/* the published CRC-32C check value (RFC 3720 appendix B.4's polynomial) */
	assert_int_equal(crc32c_bitwise(0, (const uint8_t *)"123456789", 9), 0xe3069283u);
	/* every alignment and length through the 8-byte loops and their tails */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 300; len++) {
			uint32_t ref = crc32c_bitwise(0, buf + off, len);

			assert_int_equal(pn_crc32c(0, buf + off, len), ref);
			assert_int_equal(pn_crc32c_portable(0, buf + off, len), ref);
			/* chaining: CRC of a then b == CRC of a||b */
			assert_int_equal(pn_crc32c(pn_crc32c(0, buf + off, len / 3),
						   buf + off + len / 3, len - len / 3), ref);
		}
}

/* ---- round trip ------------------------------------------------------------ */

static void check_tensor(const struct pnb_file *pf, const char *name, uint32_t dtype,
			 uint64_t d0, uint64_t d1, const void *data)
{
	uint32_t i = pnb_find_tensor(pf, name);
	const struct pnb_tensor *t;
	size_t bytes;

	assert_int_not_equal(i, PNB_NONE);
	t = &pf->tensors[i];
	assert_string_equal(pnb_str(pf, t->name), name);
	assert_int_equal(t->dtype, dtype);
	assert_int_equal(t->ndim, d1 ? 2 : 1);
	assert_int_equal(t->shape[0], d0);
	assert_int_equal(t->shape[1], d1);
	assert_int_equal(t->shape[2], 0);
	assert_int_equal(pnb_tensor_elems(t), d0 * (d1 ? d1 : 1));
	bytes = pnb_tensor_elems(t) * pnb_dtype_size(dtype);
	assert_int_equal(t->size, bytes);
	assert_int_equal(t->offset % PNB_TENSOR_ALIGN, 0);
	assert_memory_equal(pnb_tensor_data(pf, i), data, bytes);
}

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	const struct model *m = &f->m;
	static const char *const vnames[9] = {
		"ids", "x", "ln", "qkv", "attn", "h", "f", "pool", "out",
	};
	struct pnb_file pf, pm;
	struct pn_err err;
	const struct pnb_header *h;

	assert_int_equal(pnb_open(f->path, &pf, &err), 0);
	h = pf.hdr;
	assert_int_equal(pf.mapped, 1);
	assert_int_equal(pf.size, f->size);
	assert_memory_equal(h->magic, PNB_MAGIC, 8);
	assert_int_equal(h->version, PNB_VERSION);
	assert_int_equal(h->file_size, f->size);
	assert_string_equal(pnb_str(&pf, h->name), "test-model \xe2\x9c\x93");
	assert_int_equal(h->input, m->values[0]);
	assert_int_equal(h->output, m->values[8]);
	assert_int_equal(h->max_tokens, MAXT);
	assert_int_equal(h->tokenizer, PNB_TOKENIZER_SPM_UNIGRAM);
	assert_string_equal(pf.path, f->path);

	/* layout: sections in writer order, tables 8-aligned, data page-aligned */
	assert_string_equal(pnb_str(&pf, 0), "");
	assert_int_equal(h->sec[PNB_SEC_STRINGS].offset, sizeof(*h));
	for (int s = 1; s < PNB_SEC_COUNT; s++) {
		assert_true(h->sec[s].offset >= h->sec[s - 1].offset + h->sec[s - 1].size);
		assert_int_equal(h->sec[s].offset % 8, 0);
	}
	assert_int_equal(h->sec[PNB_SEC_DATA].offset % PNB_DATA_ALIGN, 0);
	assert_int_equal(h->sec[PNB_SEC_DATA].offset + h->sec[PNB_SEC_DATA].size, f->size);

	assert_int_equal(pf.n_tensors, 13);
	check_tensor(&pf, "tok.pieces", PNB_DTYPE_U8, m->pieces_size, 0, m->pieces);
	check_tensor(&pf, "tok.scores", PNB_DTYPE_F32, 4, 0, m->scores);
	check_tensor(&pf, "emb.gr\xc3\xb6\xc3\x9f" "e", PNB_DTYPE_F32, V, D, m->emb);
	check_tensor(&pf, "emb.pos", PNB_DTYPE_F32, MAXT, D, m->pos);
	check_tensor(&pf, "ln.g", PNB_DTYPE_F32, D, 0, m->g);
	check_tensor(&pf, "ln.b", PNB_DTYPE_F32, D, 0, m->b);
	check_tensor(&pf, "qkv.w", PNB_DTYPE_F32, D, 3 * D, m->wqkv);
	check_tensor(&pf, "qkv.b", PNB_DTYPE_F32, 3 * D, 0, m->bqkv);
	check_tensor(&pf, "ffn.w1", PNB_DTYPE_F32, D, 2 * FF, m->w1);
	check_tensor(&pf, "ffn.w2", PNB_DTYPE_F32, FF, D, m->w2);
	check_tensor(&pf, "ffn.b2", PNB_DTYPE_F32, D, 0, m->b2);
	check_tensor(&pf, "unused.half", PNB_DTYPE_F16, 2, 3, m->half);
	check_tensor(&pf, "unused.i8", PNB_DTYPE_I8, 5, 0, m->i8);
	assert_int_equal(pnb_find_tensor(&pf, "tok.pieces"), h->tok_pieces);
	assert_int_equal(pnb_find_tensor(&pf, "tok.scores"), h->tok_scores);
	assert_int_equal(pnb_find_tensor(&pf, "no such tensor"), PNB_NONE);
	assert_null(pnb_tensor_data(&pf, pf.n_tensors));

	assert_int_equal(pf.n_values, 9);
	for (uint32_t i = 0; i < 9; i++) {
		assert_int_equal(m->values[i], i);
		assert_string_equal(pnb_str(&pf, pf.values[i].name), vnames[i]);
		assert_int_equal(pf.values[i].dtype, i ? PNB_DTYPE_F32 : PNB_DTYPE_I32);
		assert_int_equal(pf.values[i].layout, i >= 7 ? PNB_LAYOUT_SEQ : PNB_LAYOUT_TOKENS);
	}
	assert_int_equal(pf.values[3].width, 3 * D);
	assert_int_equal(pf.n_nodes, m->n_nodes);
	assert_memory_equal(pf.nodes, m->nodes, m->n_nodes * sizeof(struct pnb_node));

	/* the same bytes in memory: same content hash; one byte more: another */
	assert_int_equal(pnb_open_mem(f->img, f->size, "copy", &pm, &err), 0);
	assert_int_equal(pm.mapped, 0);
	assert_true(pm.content_hash == pf.content_hash);
	assert_string_equal(pm.path, "copy");
	f->img[h->sec[PNB_SEC_DATA].offset] ^= 1;
	refix(f->img, f->size);
	assert_int_equal(pnb_open_mem(f->img, f->size, "copy", &pm, &err), 0);
	assert_true(pm.content_hash != pf.content_hash);
	f->img[h->sec[PNB_SEC_DATA].offset] ^= 1;
	refix(f->img, f->size);
	pnb_close(&pf);
	assert_null(pf.base);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(pnb_dtype_size(PNB_DTYPE_F32), 4);
	assert_int_equal(pnb_dtype_size(PNB_DTYPE_BF16), 2);
	assert_int_equal(pnb_dtype_size(PNB_DTYPE_I8), 1);
	assert_int_equal(pnb_dtype_size(0), 0);
	assert_int_equal(pnb_dtype_size(7), 0);
	assert_string_equal(pnb_dtype_name(PNB_DTYPE_F16), "f16");
	assert_string_equal(pnb_dtype_name(99), "?");
	assert_string_equal(pnb_op_name(PNB_OP_EMBED), "embed");
	assert_string_equal(pnb_op_name(PNB_OP_SOFTMAX), "softmax");
	assert_string_equal(pnb_op_name(PNB_OP_STD_END), "?");
	assert_string_equal(pnb_op_name(PNB_OP_VQ), "vq");
	assert_string_equal(pnb_op_name(PNB_OP_POLYSKETCH), "polysketch");
	assert_string_equal(pnb_op_name(PNB_OP_POLYSKETCH + 1), "?");
	assert_string_equal(pnb_op_name(0), "?");
	assert_string_equal(pnb_act_name(PNB_ACT_GELU_TANH), "gelu_tanh");
	assert_string_equal(pnb_act_name(PNB_ACT_COUNT), "?");
	assert_string_equal(pnb_layout_name(PNB_LAYOUT_SEQ), "seq");
	assert_string_equal(pnb_layout_name(0), "?");
}

/* ---- the writer's own failures ------------------------------------------- */

static void test_writer_dedup_and_errors(void **state)
{
	struct fx *f = *state;
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	struct pn_err err;
	char path[128], tmp[140], name[16];
	uint32_t a, x, y, offs[200];
	uint64_t sh[2] = { 1ull << 40, 1ull << 40 };

	/* dedup: the same string is stored once, "" is offset 0, growth keeps it */
	assert_int_equal(pnb_w_string(w, ""), 0);
	assert_int_equal(pnb_w_string(w, NULL), 0);
	a = pnb_w_string(w, "abc");
	assert_int_equal(a, 1);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		offs[i] = pnb_w_string(w, name);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(pnb_w_string(w, name), offs[i]);
	}
	assert_int_equal(pnb_w_string(w, "abc"), a);

	/* a graph the reader rejects is not written, and no .tmp is left */
	snprintf(path, sizeof(path), "%s/bad.pnb", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	x = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	y = pnb_w_value(w, "y", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 4);
	pnb_node_init(&n, PNB_OP_SOFTMAX, pnb_w_string(w, "sm"), y);
	n.n_in = 1;
	n.in[0] = y;	/* its own output: used before it is produced */
	pnb_w_node(w, &n);
	h.input = x;
	h.output = y;
	h.max_tokens = 4;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(w, &h);
	assert_int_equal(pnb_w_finish(w, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not written"));
	assert_non_null(strstr(err.msg, "nodes[0]"));
	assert_non_null(strstr(err.msg, "used before"));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(tmp, F_OK), -1);

	pnb_writer_free(w);

	/* the same graph, fixed, is written */
	w = pnb_writer_new();
	x = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	y = pnb_w_value(w, "y", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 1);
	pnb_node_init(&n, PNB_OP_SOFTMAX, pnb_w_string(w, "sm"), y);
	n.n_in = 1;
	n.in[0] = x;
	pnb_w_node(w, &n);
	h.input = x;
	h.output = y;
	pnb_w_header(w, &h);
	assert_int_equal(pnb_w_finish(w, path, &err), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(tmp, F_OK), -1);

	/* a tensor whose size overflows is a sticky error reported at finish */
	assert_int_equal(pnb_w_tensor(w, "huge", PNB_DTYPE_F32, 2, sh, NULL), PNB_NONE);
	assert_int_equal(pnb_w_string(w, "later"), PNB_NONE);
	assert_int_equal(pnb_w_finish(w, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "huge"));
	assert_non_null(strstr(err.msg, path));
	pnb_writer_free(w);

	w = pnb_writer_new();
	assert_int_equal(pnb_w_tensor(w, "bad", 42, 1, sh, NULL), PNB_NONE);
	assert_int_equal(pnb_w_finish(w, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "dtype 42"));
	pnb_writer_free(w);
}

/* ---- damaged files -------------------------------------------------------- */

static int open_copy(const uint8_t *b, size_t size, struct pn_err *err)
{
	struct pnb_file pf;
	int r;

	err->msg[0] = 0;
	r = pnb_open_mem(b, size, "m.pnb", &pf, err);
	if (!r) {
		pnb_close(&pf);
		snprintf(err->msg, sizeof(err->msg), "(accepted)");
	}
	return r;
}

static void expect_msg(const struct pn_err *err, const char *a, const char *b, const char *c)
{
	if (!strstr(err->msg, a) || (b && !strstr(err->msg, b)) || (c && !strstr(err->msg, c)))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"", err->msg, a,
			 b ? b : "", c ? c : "");
}

/* The writer never replaces what is not a regular file (a FIFO, a directory,
 * a device such as /dev/full): the rename would swap the node for a file. */
static void test_writer_refuses_non_regular(void **state)
{
	struct fx *f = *state;
	struct pn_err err;
	char fifo[512], dir[512], tmpdir[520];
	struct stat st;

	snprintf(fifo, sizeof(fifo), "%s/out.fifo", f->dir);
	snprintf(dir, sizeof(dir), "%s/out.d", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(pnb_write_nop_model(fifo, "nop", 4, &err), -EEXIST);
	assert_non_null(strstr(err.msg, fifo));
	assert_non_null(strstr(err.msg, "a FIFO"));
	assert_int_equal(lstat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(pnb_write_nop_model(dir, "nop", 4, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "a directory"));
	assert_int_equal(lstat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* a non-regular temporary is not written through either */
	snprintf(tmpdir, sizeof(tmpdir), "%s/x.pnb.tmp", f->dir);
	assert_int_equal(mkdir(tmpdir, 0700), 0);
	snprintf(fifo, sizeof(fifo), "%s/x.pnb", f->dir);
	assert_int_equal(pnb_write_nop_model(fifo, "nop", 4, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "temporary"));
	assert_int_equal(rmdir(tmpdir), 0);
	/* a regular file is replaced as before */
	assert_int_equal(pnb_write_nop_model(fifo, "nop", 4, &err), 0);
	assert_int_equal(pnb_write_nop_model(fifo, "nop", 4, &err), 0);
	unlink(fifo);
	snprintf(fifo, sizeof(fifo), "%s/out.fifo", f->dir);
	unlink(fifo);
	rmdir(dir);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	const struct pnb_header *h = (const struct pnb_header *)f->img;
	uint8_t *b = copy_img(f);
	struct pn_err err;
	size_t cuts[64], n = 0;
	char path[128];

	for (int s = 0; s < PNB_SEC_COUNT; s++)
		for (int d = -1; d <= 1; d++) {
			cuts[n++] = h->sec[s].offset + d;
			cuts[n++] = h->sec[s].offset + h->sec[s].size + d;
		}
	cuts[n++] = 0;
	cuts[n++] = sizeof(*h) - 1;
	cuts[n++] = sizeof(*h);
	cuts[n++] = f->size - 1;
	for (size_t i = 0; i < n; i++) {
		if (cuts[i] >= f->size)
			continue;
		assert_int_equal(open_copy(b, cuts[i], &err), -EINVAL);
		expect_msg(&err, "m.pnb: header", cuts[i] < sizeof(*h) ? "-byte header" :
			   "truncated", NULL);
	}
	for (size_t cut = 0; cut < f->size; cut += 61) {
		assert_int_equal(open_copy(b, cut, &err), -EINVAL);
		expect_msg(&err, "m.pnb: header", NULL, NULL);
	}
	/* one byte too many */
	b[f->size] = 0;
	assert_int_equal(open_copy(b, f->size + 1, &err), -EINVAL);
	expect_msg(&err, "file_size", NULL, NULL);

	/* the same through pnb_open: the error names the path */
	snprintf(path, sizeof(path), "%s/trunc.pnb", f->dir);
	assert_int_equal(write_bytes(path, b, h->sec[PNB_SEC_DATA].offset + 10), 0);
	{
		struct pnb_file pf;

		assert_int_equal(pnb_open(path, &pf, &err), -EINVAL);
		expect_msg(&err, path, "truncated", NULL);
		assert_int_equal(write_bytes(path, b, 100), 0);
		assert_int_equal(pnb_open(path, &pf, &err), -EINVAL);
		expect_msg(&err, path, "header", NULL);
		assert_int_equal(pnb_open(f->dir, &pf, &err), -EINVAL);
		expect_msg(&err, f->dir, "not a regular file", NULL);
		snprintf(path, sizeof(path), "%s/absent.pnb", f->dir);
		assert_int_equal(pnb_open(path, &pf, &err), -ENOENT);
		expect_msg(&err, path, NULL, NULL);
	}
	/* misaligned buffers are refused, not read through bad pointers */
	memmove(b + 4, b, f->size);
	assert_int_equal(open_copy(b + 4, f->size, &err), -EINVAL);
	expect_msg(&err, "m.pnb", "aligned", NULL);
	free(b);
}

static void test_flipped(void **state)
{
	struct fx *f = *state;
	const struct pnb_header *h = (const struct pnb_header *)f->img;
	struct pn_err err;
	char want[32];

	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		/* first, middle and last byte of each section */
		uint64_t at[3] = { h->sec[s].offset, h->sec[s].offset + h->sec[s].size / 2,
				   h->sec[s].offset + h->sec[s].size - 1 };

		assert_true(h->sec[s].size > 0);
		for (int k = 0; k < 3; k++) {
			uint8_t *b = copy_img(f);

			b[at[k]] ^= 0x10;
			assert_int_equal(open_copy(b, f->size, &err), -EBADMSG);
			snprintf(want, sizeof(want), "sec[%s]", sec_names[s]);
			expect_msg(&err, "m.pnb: header", want, "CRC32C");
			free(b);
		}
	}
	/* in the header: the header's own CRC */
	for (size_t at = offsetof(struct pnb_header, name);
	     at < offsetof(struct pnb_header, header_crc32c); at += 7) {
		uint8_t *b = copy_img(f);

		b[at] ^= 0x01;
		assert_int_equal(open_copy(b, f->size, &err), -EBADMSG);
		expect_msg(&err, "m.pnb: header", "header CRC32C", NULL);
		free(b);
	}
	/* in the padding before the data section: no CRC covers it, it must be 0 */
	{
		uint8_t *b = copy_img(f);
		uint64_t at = h->sec[PNB_SEC_DATA].offset - 1;
		char byte[32];

		b[at] = 0x55;
		assert_int_equal(open_copy(b, f->size, &err), -EINVAL);
		snprintf(byte, sizeof(byte), "byte %llu", (unsigned long long)at);
		expect_msg(&err, "m.pnb: padding", byte, "expected 0");
		free(b);
	}
}

/* Crafted files: edited, CRCs recomputed. */
#define HDR		((struct pnb_header *)b)
#define SEC(s)		(HDR->sec[PNB_SEC_##s])
#define TEN(i)		((struct pnb_tensor *)(b + SEC(TENSORS).offset) + (i))
#define VAL(i)		((struct pnb_value *)(b + SEC(VALUES).offset) + (i))
#define NODE(i)		((struct pnb_node *)(b + SEC(NODES).offset) + (i))
#define STRS		((char *)b + SEC(STRINGS).offset)
#define MUT(nm, body)	static void mut_##nm(uint8_t *b) { body; }

MUT(magic, HDR->magic[0] = 'X')
MUT(version, HDR->version = 2)
MUT(header_size, HDR->header_size = 200)
MUT(flags, HDR->flags = 1)
MUT(reserved, HDR->reserved[3] = 9)
MUT(hpad, HDR->pad = 1)
MUT(sec_past_end, SEC(TENSORS).offset = HDR->file_size)
MUT(sec_wrap, SEC(VALUES).offset = 4096; SEC(VALUES).size = UINT64_MAX - 4000)
MUT(sec_in_header, SEC(STRINGS).offset = 100)
MUT(sec_overlap, SEC(VALUES).offset = SEC(TENSORS).offset)
MUT(sec_count, SEC(NODES).count += 1)
MUT(sec_misaligned, SEC(NODES).offset += 4)
MUT(sec_data_align, SEC(DATA).offset -= 64)
MUT(sec_strings_count, SEC(STRINGS).count = 1)
MUT(strings_empty, SEC(STRINGS).size = 0)
MUT(strings_no_nul, STRS[SEC(STRINGS).size - 1] = 'x')
MUT(strings_bad_utf8, STRS[1] = (char)0xff)
MUT(strings_overlong, STRS[1] = (char)0xc0; STRS[2] = (char)0x80)
MUT(shape_overflow, TEN(2)->shape[0] = 1ull << 40; TEN(2)->shape[1] = 1ull << 40)
MUT(shape_size, TEN(2)->shape[0] += 1)
MUT(shape_zero, TEN(2)->shape[1] = 0)
MUT(shape_past_ndim, TEN(2)->shape[3] = 1)
MUT(ndim_zero, TEN(3)->ndim = 0)
MUT(ndim_five, TEN(3)->ndim = 5)
MUT(dtype, TEN(4)->dtype = 9)
MUT(tflags, TEN(4)->flags = 2)
MUT(toffset_align, TEN(5)->offset += 4)
MUT(toffset_past, TEN(5)->offset = (SEC(DATA).size + 63) & ~63ull)
MUT(tname_past, TEN(1)->name = (uint32_t)SEC(STRINGS).size)
MUT(tname_midchar, TEN(2)->name += 7)	/* "emb.gr" then 0xc3 0xb6: +7 is 0xb6 */
MUT(vdtype, VAL(3)->dtype = PNB_DTYPE_U8)
MUT(vlayout, VAL(3)->layout = 3)
MUT(vwidth, VAL(4)->width = 0)
MUT(vname, VAL(4)->name = 0xfffffff0u)
MUT(op_unknown, NODE(2)->op = PNB_OP_STD_END)
MUT(op_zero, NODE(2)->op = 0)
MUT(op_poly, NODE(3)->op = PNB_OP_POLYGLU)	/* 32..35 are implemented */
MUT(op_poly_far, NODE(3)->op = 1000)
MUT(npad, NODE(1)->pad = 1)
MUT(n_in, NODE(4)->n_in = 1; NODE(4)->in[1] = PNB_NONE)
MUT(n_in_big, NODE(4)->n_in = 5)
MUT(n_w_big, NODE(5)->n_w = 9)
MUT(in_range, NODE(2)->in[0] = 9)
MUT(in_past_n_in, NODE(2)->in[1] = 0)
MUT(w_range, NODE(2)->w[PNB_W_LINEAR_W] = 13)
MUT(w_past_n_w, NODE(2)->w[2] = 0)
MUT(w_required, NODE(5)->w[PNB_W_FFN_W2] = PNB_NONE)
MUT(out_range, NODE(7)->out = 9)
MUT(out_twice, NODE(3)->out = NODE(2)->out)
MUT(out_input, NODE(3)->out = 0)
MUT(use_before_def, NODE(1)->in[0] = NODE(2)->out)
MUT(fattr_nan, NODE(1)->fattr[PNB_FA_NORM_EPS] = NAN)
MUT(fattr_inf, NODE(1)->fattr[5] = INFINITY)
MUT(act_unknown, NODE(5)->iattr[PNB_IA_FFN_ACT] = PNB_ACT_COUNT)
MUT(pos_kind, NODE(0)->iattr[PNB_IA_EMBED_POS_KIND] = 7)
MUT(pos_table_missing, NODE(0)->w[PNB_W_EMBED_POS] = PNB_NONE)
MUT(heads_zero, NODE(3)->iattr[PNB_IA_ATTN_HEADS] = 0)
MUT(h_input_range, HDR->input = 9)
MUT(h_input_dtype, HDR->input = 1)
MUT(h_output_range, HDR->output = 99)
MUT(h_output_unproduced, HDR->output = 0)
MUT(h_name, HDR->name = 0x7fffffff)
MUT(h_max_tokens, HDR->max_tokens = 0)
MUT(h_max_tokens_huge, HDR->max_tokens = 0x7fffffff)
/* Element k of the first F32 tensor of at least 16 elements (a weight). */
static float *f32_elem(uint8_t *b, uint32_t k)
{
	for (uint32_t i = 0; i < SEC(TENSORS).count; i++)
		if (TEN(i)->dtype == PNB_DTYPE_F32 && TEN(i)->size >= 64)
			return (float *)(b + SEC(DATA).offset + TEN(i)->offset) + k;
	return (float *)b;	/* no such tensor: breaks the magic, the test says so */
}
MUT(w_nan, *f32_elem(b, 3) = NAN)
MUT(ln_eps_negative, NODE(1)->fattr[PNB_FA_NORM_EPS] = -1)
MUT(w_inf, *f32_elem(b, 0) = -INFINITY)
MUT(h_tok_kind, HDR->tokenizer = 3)
MUT(h_tok_pieces_dtype, HDR->tok_pieces = 2)
MUT(h_tok_scores_range, HDR->tok_scores = 13)
MUT(h_tok_none_with_tables, HDR->tokenizer = PNB_TOKENIZER_NONE)
MUT(h_tok_count, TEN(1)->shape[0] = 3; TEN(1)->size = 12)
MUT(gap, b[SEC(DATA).offset - 8] = 1)

static const struct crafted {
	const char *name;
	void (*mut)(uint8_t *b);
	int code;
	const char *where, *what;	/* both must appear in the message */
} crafted[] = {
#define C(nm, code, where, what) { #nm, mut_##nm, code, where, what }
	C(magic, -EINVAL, "header", "magic"),
	C(version, -ENOTSUP, "header", "version 2 not supported, this reader supports version 1"),
	C(header_size, -EINVAL, "header", "header_size 200"),
	C(flags, -EINVAL, "header", "flags"),
	C(reserved, -EINVAL, "header", "reserved[3]"),
	C(hpad, -EINVAL, "header", "pad"),
	C(sec_past_end, -EINVAL, "header sec[tensors]", "past the end of the file"),
	C(sec_wrap, -EINVAL, "header sec[values]", "past the end of the file"),
	C(sec_in_header, -EINVAL, "header sec[strings]", "inside the header"),
	C(sec_overlap, -EINVAL, "header sec[values]", "overlaps section tensors"),
	C(sec_count, -EINVAL, "header sec[nodes]", "136-byte entries != size"),
	C(sec_misaligned, -EINVAL, "header sec[nodes]", "not 8-byte aligned"),
	C(sec_data_align, -EINVAL, "header sec[data]", "not a multiple of 4096"),
	C(sec_strings_count, -EINVAL, "header sec[strings]", "count 1"),
	C(strings_empty, -EINVAL, "header sec[strings]", "empty"),
	C(strings_no_nul, -EINVAL, "strings", "expected NUL"),
	C(strings_bad_utf8, -EINVAL, "strings", "invalid UTF-8 byte 0xff"),
	C(strings_overlong, -EINVAL, "strings", "invalid UTF-8 byte 0xc0"),
	C(shape_overflow, -EINVAL, "tensors[2]", "overflows"),
	C(shape_size, -EINVAL, "tensors[2]", "size 192, expected 224"),
	C(shape_zero, -EINVAL, "tensors[2]", "shape[1] = 0"),
	C(shape_past_ndim, -EINVAL, "tensors[2]", "shape[3] = 1 past ndim"),
	C(ndim_zero, -EINVAL, "tensors[3]", "ndim 0"),
	C(ndim_five, -EINVAL, "tensors[3]", "ndim 5"),
	C(dtype, -EINVAL, "tensors[4]", "unknown dtype 9"),
	C(tflags, -EINVAL, "tensors[4]", "flags"),
	C(toffset_align, -EINVAL, "tensors[5]", "not a multiple of 64"),
	C(toffset_past, -EINVAL, "tensors[5]", "past the end of the data section"),
	C(tname_past, -EINVAL, "tensors[1]", "name string offset"),
	C(tname_midchar, -EINVAL, "tensors[2]", "inside a UTF-8 character"),
	C(vdtype, -EINVAL, "values[3]", "dtype 5 (u8)"),
	C(vlayout, -EINVAL, "values[3]", "unknown layout 3"),
	C(vwidth, -EINVAL, "values[4]", "width 0"),
	C(vname, -EINVAL, "values[4]", "string offset 4294967280"),
	C(op_unknown, -EINVAL, "nodes[2]", "node 'qkv': unknown op 16"),
	C(op_zero, -EINVAL, "nodes[2]", "unknown op 0"),
	C(op_poly, -ENOTSUP, "nodes[3]", "node 'attn': op 36 (polyglu) is a PolyNet op"),
	C(op_poly_far, -ENOTSUP, "nodes[3]", "op 1000 (?)"),
	C(npad, -EINVAL, "nodes[1]", "pad"),
	C(n_in, -EINVAL, "nodes[4]", "add node has n_in 1, expected 2"),
	C(n_in_big, -EINVAL, "nodes[4]", "n_in 5"),
	C(n_w_big, -EINVAL, "nodes[5]", "ffn node has n_w 9, expected 3..8"),
	C(in_range, -EINVAL, "nodes[2]", "in[0] = 9 out of range"),
	C(in_past_n_in, -EINVAL, "nodes[2]", "in[1] = 0 past n_in"),
	C(w_range, -EINVAL, "nodes[2]", "w[0] = 13 out of range"),
	C(w_past_n_w, -EINVAL, "nodes[2]", "w[2] = 0 past n_w"),
	C(w_required, -EINVAL, "nodes[5]", "w[2] is PNB_NONE"),
	C(out_range, -EINVAL, "nodes[7]", "out = 9 out of range"),
	C(out_twice, -EINVAL, "nodes[3]", "already produced"),
	C(out_input, -EINVAL, "nodes[3]", "graph input"),
	C(use_before_def, -EINVAL, "nodes[1]", "value 3 'qkv' used before"),
	C(fattr_nan, -EINVAL, "nodes[1]", "fattr[0] is not finite"),
	C(fattr_inf, -EINVAL, "nodes[1]", "fattr[5] is not finite"),
	C(act_unknown, -EINVAL, "nodes[5]", "ffn activation 6"),
	C(pos_kind, -EINVAL, "nodes[0]", "position kind 7"),
	C(pos_table_missing, -EINVAL, "nodes[0]", "needs w[1]"),
	C(heads_zero, -EINVAL, "nodes[3]", "heads 0"),
	C(h_input_range, -EINVAL, "header", "input = 9 out of range"),
	C(h_input_dtype, -EINVAL, "header", "expected i32 tokens width 1"),
	C(h_output_range, -EINVAL, "header", "output = 99 out of range"),
	C(h_output_unproduced, -EINVAL, "header", "produced by no node"),
	C(h_name, -EINVAL, "header", "name string offset"),
	C(h_max_tokens, -EINVAL, "header", "max_tokens 0"),
	C(ln_eps_negative, -EINVAL, "nodes[1]", "layernorm eps -1, expected >= 0"),
	C(w_nan, -EINVAL, "data", "element 3 is NaN, expected a finite number"),
	C(w_inf, -EINVAL, "data", "element 0 is -Inf"),
	C(h_max_tokens_huge, -EINVAL, "header", "max_tokens 2147483647, expected at most 65536"),
	C(h_tok_kind, -EINVAL, "header", "unknown tokenizer kind 3"),
	C(h_tok_pieces_dtype, -EINVAL, "header", "tok_pieces = tensor 2"),
	C(h_tok_scores_range, -EINVAL, "header", "tok_scores = 13 out of range"),
	C(h_tok_none_with_tables, -EINVAL, "header", "tokenizer none"),
	C(h_tok_count, -EINVAL, "header", "tok_scores has 3 entries but tok_pieces holds 4"),
	C(gap, -EINVAL, "padding", "outside every section"),
#undef C
};

static void test_crafted(void **state)
{
	struct fx *f = *state;
	struct pn_err err;
	int bad = 0;

	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		const struct crafted *c = &crafted[i];
		uint8_t *b = copy_img(f);
		char where[64];
		int r;

		c->mut(b);
		refix(b, f->size);
		r = open_copy(b, f->size, &err);
		snprintf(where, sizeof(where), "m.pnb: %s", c->where);
		if (r != c->code || !strstr(err.msg, where) || !strstr(err.msg, c->what)) {
			print_error("%s: got %d \"%s\", expected %d with \"%s\" and \"%s\"\n",
				    c->name, r, err.msg, c->code, where, c->what);
			bad++;
		}
		free(b);
	}
	assert_int_equal(bad, 0);
}

/* --allow-nonfinite (inspect): the NaN and the Inf are counted, the first named, not refused. */
static void test_allow_nonfinite(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/pn-nonfinite.XXXXXX";
	struct pnb_file pf;
	struct pn_err err;
	uint8_t *b = copy_img(f);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	mut_w_nan(b);
	*f32_elem(b, 5) = -INFINITY;
	refix(b, f->size);
	assert_int_equal(write(fd, b, f->size), (ssize_t)f->size);
	close(fd);
	assert_int_equal(pnb_open(path, &pf, &err), -EINVAL);	/* strict by default */
	assert_non_null(strstr(err.msg, "element 3 is NaN"));
	assert_int_equal(pnb_open_flags(path, PNB_OPEN_ALLOW_NONFINITE, &pf, &err), 0);
	assert_int_equal(pf.nonfinite, 2);
	assert_int_equal(pf.nonfinite_elem, 3);
	assert_true(pf.nonfinite_tensor < pf.n_tensors);
	pnb_close(&pf);
	unlink(path);
	free(b);
}

/* ---- seed files for the fuzzer and the integration test ------------------ */

/* The smallest useful file: ids -> embed -> x, no tokenizer. */
static int write_minimal(const char *dir)
{
	static const float table[4 * 2] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	struct pn_err err;
	uint64_t sh[2] = { 4, 2 };
	char path[512];
	int r;

	h.input = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	h.output = pnb_w_value(w, "x", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 2);
	pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(w, "embed"), h.output);
	n.n_in = 1;
	n.in[0] = h.input;
	n.n_w = 1;
	n.w[PNB_W_EMBED_TABLE] = pnb_w_tensor(w, "table", PNB_DTYPE_F32, 2, sh, table);
	n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	pnb_w_node(w, &n);
	h.max_tokens = 8;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(w, &h);
	snprintf(path, sizeof(path), "%s/minimal.pnb", dir);
	r = pnb_w_finish(w, path, &err);
	if (r)
		fprintf(stderr, "test_pnb: %s\n", err.msg);
	pnb_writer_free(w);
	return r;
}

static int write_seeds(const char *dir)
{
	struct model m;
	struct pn_err err;
	char path[512];
	uint8_t *b;
	size_t size;
	int r = 0;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/model.pnb", dir);
	if (write_model(&m, path, &err)) {
		fprintf(stderr, "test_pnb: %s\n", err.msg);
		return 1;
	}
	b = read_aligned(path, &size);
	if (!b)
		return 1;
	/* one variant per stage of validation, CRCs fixed so the fuzzer starts past them */
	{
		static const struct { const char *name; void (*mut)(uint8_t *); } v[] = {
			{ "op_poly", mut_op_poly }, { "use_before_def", mut_use_before_def },
			{ "shape_overflow", mut_shape_overflow }, { "h_tok_count", mut_h_tok_count },
			{ "strings_bad_utf8", mut_strings_bad_utf8 }, { "sec_overlap", mut_sec_overlap },
		};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]) && !r; i++) {
			uint8_t *c = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);

			memcpy(c, b, size);
			v[i].mut(c);
			refix(c, size);
			snprintf(path, sizeof(path), "%s/%s.pnb", dir, v[i].name);
			r = write_bytes(path, c, size);
			free(c);
		}
	}
	snprintf(path, sizeof(path), "%s/truncated.pnb", dir);
	r |= write_bytes(path, b, size / 2);
	free(b);
	return r || write_minimal(dir) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_writer_dedup_and_errors),
		cmocka_unit_test(test_writer_refuses_non_regular),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flipped),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_allow_nonfinite),
	};

	if (argc == 3 && !strcmp(argv[1], "--write"))
		return write_seeds(argv[2]);
	return cmocka_run_group_tests(tests, setup, teardown);
}
