// SPDX-License-Identifier: MIT
/*
 * llama2c.c - llama2.c's single-file Llama decoder (the llama2.ts layout,
 * docs/compile.md): a 256-byte config block, the vocab as {f32 score, i32
 * len, bytes}, then every f32 weight in a fixed order; nothing follows.
 * Everything is checked before it is used: errors name the file, the
 * byte offset and what was expected.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/llama.h"
#include "text/utf8.h"

#define CONFIG_BYTES 256u

struct reader {
	const char *path;
	const uint8_t *b;
	size_t size, off;
	struct pn_err *err;
};

static int need(struct reader *r, size_t n, const char *what)
{
	if (r->size - r->off < n)
		return pn_errf(r->err, -EINVAL, "%s: offset %zu: expected %s (%zu bytes), but the "
			       "file ends at byte %zu", r->path, r->off, what, n, r->size);
	return 0;
}

static int rd_i32(struct reader *r, const char *what, int32_t *v)
{
	int ret = need(r, 4, what);

	if (!ret) {
		memcpy(v, r->b + r->off, 4);
		r->off += 4;
	}
	return ret;
}

/* The dimensions: i32 each, >= 1 (shared_output is a byte, 0 or 1). */
static int read_config(struct reader *r, struct pn_llama_config *c)
{
	static const char *const names[] = { "hidden", "ffn", "max_seq", "vocab", "layers",
					     "q_heads", "kv_heads" };
	uint32_t *dst[] = { &c->hidden, &c->ffn, &c->max_seq, &c->vocab, &c->layers,
			    &c->q_heads, &c->kv_heads };
	int32_t n, v;
	int ret;

	if ((ret = need(r, CONFIG_BYTES, "the 256-byte config block")))
		return ret;
	if (r->b[0] != 1)
		return pn_errf(r->err, -EINVAL, "%s: offset 0: version %u, expected 1", r->path,
			       r->b[0]);
	r->off = 1;
	if ((ret = rd_i32(r, "the model type's length", &n)))
		return ret;
	if (n != 5 || memcmp(r->b + r->off, "llama", 5))
		return pn_errf(r->err, -EINVAL, "%s: offset 1: model type of %d bytes, expected "
			       "5 bytes \"llama\"", r->path, n);
	r->off += 5;
	for (int k = 0; k < 7; k++) {
		size_t at = r->off;

		if ((ret = rd_i32(r, names[k], &v)))
			return ret;
		if (v < 1)
			return pn_errf(r->err, -EINVAL, "%s: offset %zu: %s %d, expected >= 1",
				       r->path, at, names[k], v);
		*dst[k] = (uint32_t)v;
	}
	if (r->b[r->off] > 1)
		return pn_errf(r->err, -EINVAL, "%s: offset %zu: shared_output %u, expected 0 or 1",
			       r->path, r->off, r->b[r->off]);
	c->shared_output = r->b[r->off];
	c->rope_theta = 10000.0f;
	c->norm_eps = 1e-5f;
	c->bos = 1;
	c->eos = 2;
	r->off = CONFIG_BYTES;
	return pn_llama_check(c, r->path, r->err);
}

struct vocab_mem {
	char **piece;
	float *score;
};

static int read_vocab(struct reader *r, uint32_t n, struct vocab_mem *v)
{
	int ret = 0;

	v->piece = calloc(n, sizeof(char *));
	v->score = calloc(n, sizeof(float));
	if (!v->piece || !v->score)
		return pn_errf(r->err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; !ret && i < n; i++) {
		size_t at = r->off;
		int32_t len = 0;

		if ((ret = need(r, 8, "a vocab entry's score and length")))
			break;
		memcpy(&v->score[i], r->b + r->off, 4);
		r->off += 4;
		rd_i32(r, "", &len);
		if (!isfinite(v->score[i]))
			ret = pn_errf(r->err, -EINVAL, "%s: offset %zu: vocab entry %u: score %g, "
				      "expected a finite number", r->path, at, i,
				      (double)v->score[i]);
		else if (len < 0 || (size_t)len > r->size - r->off)
			ret = pn_errf(r->err, -EINVAL, "%s: offset %zu: vocab entry %u of %d bytes "
				      "runs past the end of the file (%zu bytes)", r->path, at, i,
				      len, r->size);
		else if (memchr(r->b + r->off, 0, (size_t)len) ||
			 pn_utf8_invalid_at(r->b + r->off, (size_t)len) != (size_t)len)
			ret = pn_errf(r->err, -EILSEQ, "%s: offset %zu: vocab entry %u: expected "
				      "UTF-8 text without NUL", r->path, r->off, i);
		else if (!(v->piece[i] = strndup((const char *)r->b + r->off, (size_t)len)))
			ret = pn_errf(r->err, -ENOMEM, "out of memory");
		r->off += len > 0 ? (size_t)len : 0;
	}
	return ret;
}

/*
 * Points each weight at its place in wb, an aligned copy of the file's
 * bytes from r->off on (the vocab's lengths leave them unaligned in the
 * file); the file's size must be exactly the weights'.
 */
static int map_weights(struct reader *r, const struct pn_llama_config *c,
		       struct pn_llama_weights *w, uint8_t **wb)
{
	uint64_t D = c->hidden, L = c->layers, kvw = c->kv_heads * (D / c->q_heads), F = c->ffn;
	struct { const float **p; uint64_t n; } part[] = {
		{ &w->embed, c->vocab * D }, { &w->rms_att, L * D }, { &w->wq, L * D * D },
		{ &w->wk, L * kvw * D }, { &w->wv, L * kvw * D }, { &w->wo, L * D * D },
		{ &w->rms_ffn, L * D }, { &w->w_gate, L * F * D }, { &w->w_up, L * F * D },
		{ &w->w_down, L * D * F }, { &w->rms_final, D },
		{ &w->wcls, c->shared_output ? 0 : c->vocab * D },
	};
	uint64_t total = 0, off = 0;

	for (size_t k = 0; k < sizeof(part) / sizeof(part[0]); k++)
		total += part[k].n * 4;
	if (r->size - r->off != total)
		return pn_errf(r->err, -EINVAL, "%s: %zu bytes, expected %llu: the vocab ends at "
			       "offset %zu and the configuration's weights take %llu bytes",
			       r->path, r->size, (unsigned long long)(r->off + total), r->off,
			       (unsigned long long)total);
	*wb = malloc(total);
	if (!*wb)
		return pn_errf(r->err, -ENOMEM, "out of memory for %llu bytes of weights",
			       (unsigned long long)total);
	memcpy(*wb, r->b + r->off, total);
	for (size_t k = 0; k < sizeof(part) / sizeof(part[0]); k++) {
		*part[k].p = part[k].n ? (const float *)(*wb + off) : NULL;
		off += part[k].n * 4;
	}
	for (uint64_t i = 0; i < total / 4; i++) {
		const float f = ((const float *)*wb)[i];

		if (!isfinite(f))
			return pn_errf(r->err, -EINVAL, "%s: offset %llu: weight %g, expected a "
				       "finite number", r->path,
				       (unsigned long long)(r->off + 4 * i), (double)f);
	}
	return 0;
}

static int read_all(const char *path, uint8_t **buf, size_t *size, struct pn_err *err)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return pn_errf(err, -errno, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return pn_errf(err, -EIO, "%s: cannot seek", path);
	}
	*buf = malloc((size_t)n + 1);
	if (!*buf) {
		fclose(f);
		return pn_errf(err, -ENOMEM, "%s: out of memory for %ld bytes", path, n);
	}
	if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*buf);
		return pn_errf(err, -EIO, "%s: short read", path);
	}
	fclose(f);
	*size = (size_t)n;
	return 0;
}

int pn_llama2c_read(const uint8_t *buf, size_t size, const char *what, struct pn_llama2c *m,
		    struct pn_err *err)
{
	struct reader r = { .path = what, .b = buf, .size = size, .err = err };
	struct vocab_mem vm = { 0 };
	int ret;

	memset(m, 0, sizeof(*m));
	ret = read_config(&r, &m->c);
	if (!ret)
		ret = read_vocab(&r, m->c.vocab, &vm);
	m->piece = vm.piece;
	m->v = (struct pn_llama_vocab){ .n = m->c.vocab, .piece = (const char *const *)vm.piece,
					.score = vm.score };
	if (!ret)
		ret = map_weights(&r, &m->c, &m->w, &m->mem);
	if (ret)
		pn_llama2c_free(m);
	return ret;
}

void pn_llama2c_free(struct pn_llama2c *m)
{
	for (uint32_t i = 0; m->piece && i < m->c.vocab; i++)
		free(m->piece[i]);
	free(m->piece);
	free((void *)m->v.score);
	free(m->mem);
	memset(m, 0, sizeof(*m));
}

int pn_compile_llama2c(const char *file, const char *out, const struct pn_compile_opts *o,
		       struct pn_err *err)
{
	struct pn_llama2c m;
	uint8_t *buf = NULL;
	size_t size = 0;
	int ret;

	if (o && o->progress)
		o->progress(o->progress_arg, "reading the llama2.c file");
	ret = read_all(file, &buf, &size, err);
	if (!ret)
		ret = pn_llama2c_read(buf, size, file, &m, err);
	free(buf);
	if (ret)
		return ret;
	ret = pn_llama_build(&m.c, &m.w, &m.v, out, o, err);
	pn_llama2c_free(&m);
	return ret;
}
