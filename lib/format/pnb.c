// SPDX-License-Identifier: MIT
/*
 * pnb.c - open and validate .pnb model files (format: uapi/pnb.h), and the
 * names of the format's enums. The node table's checks are in pnb_nodes.c,
 * the content hash in pnb_hash.c.
 *
 * Everything is checked before anything is used: the header, then where the
 * sections lie, then their CRC32Cs, then every entry of every table. After
 * pnb_open() succeeds, every offset, index, string and size may be used
 * without further checks.
 *
 * Return codes: -EINVAL malformed file, -EBADMSG a CRC32C mismatch,
 * -ENOTSUP a version or op this reader does not implement, -ENOMEM, or the
 * -errno of open/fstat/mmap. The message says: WHAT: WHERE, byte N: problem,
 * expected what.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/pnb.h"
#include "format/pnb_check.h"

#define HDR_SIZE	((uint64_t)sizeof(struct pnb_header))

/* ---- names -------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[PNB_DTYPE_F32] = { "f32", 4 },
	[PNB_DTYPE_F16] = { "f16", 2 },
	[PNB_DTYPE_BF16] = { "bf16", 2 },
	[PNB_DTYPE_I32] = { "i32", 4 },
	[PNB_DTYPE_U8] = { "u8", 1 },
	[PNB_DTYPE_I8] = { "i8", 1 },
};
#define N_DTYPES (sizeof(dtypes) / sizeof(dtypes[0]))

static const char *const act_names[PNB_ACT_COUNT] = {
	"none", "relu", "gelu", "silu", "tanh", "gelu_tanh",
};

size_t pnb_dtype_size(uint32_t dtype)
{
	return dtype < N_DTYPES ? dtypes[dtype].size : 0;
}

const char *pnb_dtype_name(uint32_t dtype)
{
	return dtype < N_DTYPES && dtypes[dtype].name ? dtypes[dtype].name : "?";
}

const char *pnb_act_name(uint32_t act)
{
	return act < PNB_ACT_COUNT ? act_names[act] : "?";
}

const char *pnb_layout_name(uint32_t layout)
{
	switch (layout) {
	case PNB_LAYOUT_TOKENS: return "tokens";
	case PNB_LAYOUT_SEQ: return "seq";
	}
	return "?";
}

/* ---- validation --------------------------------------------------------- */


static int check_header(struct vctx *c)
{
	const struct pnb_header *h = &c->h;
	uint32_t crc;

	if (c->size < HDR_SIZE)
		return pnb_bad(c, -EINVAL, "header", 0,
			   "file is %" PRIu64 " bytes, expected at least the %" PRIu64 "-byte header",
			   c->size, HDR_SIZE);
	memcpy(&c->h, c->base, sizeof(c->h));
	if (memcmp(h->magic, PNB_MAGIC, sizeof(h->magic)))
		return pnb_bad(c, -EINVAL, "header", 0,
			   "bad magic, expected \"POLYNET\\x1a\": not a .pnb file");
	if (h->version != PNB_VERSION)
		return pnb_bad(c, -ENOTSUP, "header", offsetof(struct pnb_header, version),
			   "version %" PRIu32 " not supported, this reader supports version %u",
			   h->version, PNB_VERSION);
	if (h->header_size != HDR_SIZE)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, header_size),
			   "header_size %" PRIu32 ", expected %" PRIu64, h->header_size, HDR_SIZE);
	if (h->file_size != c->size)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, file_size),
			   "file_size %" PRIu64 " but the file is %" PRIu64
			   " bytes: truncated or extended", h->file_size, c->size);
	crc = pn_crc32c(0, c->base, offsetof(struct pnb_header, header_crc32c));
	if (crc != h->header_crc32c)
		return pnb_bad(c, -EBADMSG, "header", offsetof(struct pnb_header, header_crc32c),
			   "header CRC32C 0x%08" PRIx32 ", computed 0x%08" PRIx32
			   ": the header is corrupt", h->header_crc32c, crc);
	if (h->flags)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, flags),
			   "flags 0x%" PRIx32 ", expected 0 (none defined)", h->flags);
	for (unsigned i = 0; i < sizeof(h->reserved) / sizeof(h->reserved[0]); i++)
		if (h->reserved[i])
			return pnb_bad(c, -EINVAL, "header",
				   offsetof(struct pnb_header, reserved) + 4 * i,
				   "reserved[%u] = 0x%" PRIx32 ", expected 0", i, h->reserved[i]);
	if (h->pad)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, pad),
			   "pad 0x%" PRIx32 ", expected 0", h->pad);
	return 0;
}

/* Bytes outside the header and the sections must be zero: then no byte of
 * the file escapes both the CRCs and this check. */
static int check_gaps(const struct vctx *c)
{
	uint64_t start[PNB_SEC_COUNT + 1], end[PNB_SEC_COUNT + 1], pos = 0;
	int n = 0;

	start[n] = 0;
	end[n++] = HDR_SIZE;
	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		int j = n++;

		/* insertion sort by start */
		for (; j > 0 && start[j - 1] > c->h.sec[s].offset; j--) {
			start[j] = start[j - 1];
			end[j] = end[j - 1];
		}
		start[j] = c->h.sec[s].offset;
		end[j] = c->h.sec[s].offset + c->h.sec[s].size;
	}
	for (int i = 0; i <= n; i++) {
		uint64_t stop = i < n ? start[i] : c->size;

		for (; pos < stop; pos++)
			if (c->base[pos])
				return pnb_bad(c, -EINVAL, "padding", pos,
					   "byte 0x%02x outside every section, expected 0",
					   c->base[pos]);
		if (i < n && end[i] > pos)
			pos = end[i];
	}
	return 0;
}

static int check_sections(struct vctx *c)
{
	const struct pnb_section *sec = c->h.sec;

	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		uint64_t esz = pnb_sec_entry_size[s];

		if (sec[s].offset < HDR_SIZE)
			return pnb_bad_sec(c, -EINVAL, s, 0,
				       "offset %" PRIu64 " inside the header, expected >= %" PRIu64,
				       sec[s].offset, HDR_SIZE);
		if (sec[s].offset > c->size || sec[s].size > c->size - sec[s].offset)
			return pnb_bad_sec(c, -EINVAL, s, 0,
				       "offset %" PRIu64 " + size %" PRIu64
				       " past the end of the file (%" PRIu64 " bytes)",
				       sec[s].offset, sec[s].size, c->size);
		if (esz) {
			if ((uint64_t)sec[s].count * esz != sec[s].size)
				return pnb_bad_sec(c, -EINVAL, s, offsetof(struct pnb_section, count),
					       "count %" PRIu32 " * %" PRIu64 "-byte entries != size %"
					       PRIu64, sec[s].count, esz, sec[s].size);
			/* entries are read in place through struct pointers */
			if (sec[s].offset % 8)
				return pnb_bad_sec(c, -EINVAL, s, 0, "offset %" PRIu64
					       " not 8-byte aligned", sec[s].offset);
		} else if (sec[s].count) {
			return pnb_bad_sec(c, -EINVAL, s, offsetof(struct pnb_section, count),
				       "count %" PRIu32 ", expected 0 for a byte section",
				       sec[s].count);
		}
	}
	if (!sec[PNB_SEC_STRINGS].size)
		return pnb_bad_sec(c, -EINVAL, PNB_SEC_STRINGS, offsetof(struct pnb_section, size),
			       "empty, expected at least the empty string");
	if (sec[PNB_SEC_DATA].offset % PNB_DATA_ALIGN)
		return pnb_bad_sec(c, -EINVAL, PNB_SEC_DATA, 0, "offset %" PRIu64
			       " not a multiple of %u", sec[PNB_SEC_DATA].offset, PNB_DATA_ALIGN);
	for (int a = 0; a < PNB_SEC_COUNT; a++)
		for (int b = a + 1; b < PNB_SEC_COUNT; b++) {
			uint64_t a0 = sec[a].offset, a1 = a0 + sec[a].size;
			uint64_t b0 = sec[b].offset, b1 = b0 + sec[b].size;

			if (sec[a].size && sec[b].size && a0 < b1 && b0 < a1)
				return pnb_bad_sec(c, -EINVAL, b, 0,
					       "[%" PRIu64 ", %" PRIu64 ") overlaps section %s [%"
					       PRIu64 ", %" PRIu64 "), expected disjoint sections",
					       b0, b1, pnb_sec_names[a], a0, a1);
		}
	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		uint32_t crc = pn_crc32c(0, c->base + sec[s].offset, sec[s].size);

		if (crc != sec[s].crc32c)
			return pnb_bad_sec(c, -EBADMSG, s, offsetof(struct pnb_section, crc32c),
				       "CRC32C 0x%08" PRIx32 ", computed 0x%08" PRIx32
				       ": section %s (bytes %" PRIu64 "..%" PRIu64 ") is corrupt",
				       sec[s].crc32c, crc, pnb_sec_names[s], sec[s].offset,
				       sec[s].offset + sec[s].size);
	}
	return check_gaps(c);
}

/* Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static uint64_t utf8_valid_prefix(const uint8_t *s, uint64_t n)
{
	uint64_t i = 0;

	while (i < n) {
		uint8_t b = s[i];
		unsigned len;
		uint8_t lo = 0x80, hi = 0xbf;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			len = 2;
		} else if (b >= 0xe0 && b <= 0xef) {
			len = 3;
			if (b == 0xe0)
				lo = 0xa0;
			else if (b == 0xed)
				hi = 0x9f;
		} else if (b >= 0xf0 && b <= 0xf4) {
			len = 4;
			if (b == 0xf0)
				lo = 0x90;
			else if (b == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (unsigned k = 2; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += len;
	}
	return n;
}

static int check_strings(struct vctx *c)
{
	const struct pnb_section *s = &c->h.sec[PNB_SEC_STRINGS];
	const uint8_t *p = c->base + s->offset;
	uint64_t ok;

	if (p[s->size - 1])
		return pnb_bad(c, -EINVAL, "strings", s->offset + s->size - 1,
			   "last byte 0x%02x, expected NUL: the last string is unterminated",
			   p[s->size - 1]);
	ok = utf8_valid_prefix(p, s->size);
	if (ok != s->size)
		return pnb_bad(c, -EINVAL, "strings", s->offset + ok,
			   "invalid UTF-8 byte 0x%02x at string offset %" PRIu64, p[ok], ok);
	c->f->strings = (const char *)p;
	c->f->strings_size = s->size;
	return 0;
}

/*
 * Every F32 weight is finite: a NaN or Inf in a weight reaches every output
 * silently (and JSON has no word for it). Exponent bits all set is both.
 */
static int check_finite(const struct vctx *c, uint32_t i, const struct pnb_tensor *t)
{
	uint64_t at = c->h.sec[PNB_SEC_DATA].offset + t->offset;
	const uint8_t *p = c->base + at;

	for (uint64_t k = 0; k < t->size / 4; k++) {
		uint32_t u;

		memcpy(&u, p + 4 * k, 4);
		if ((u & 0x7f800000u) != 0x7f800000u)
			continue;
		if (c->flags & PNB_OPEN_ALLOW_NONFINITE) {
			if (!c->f->nonfinite++) {
				c->f->nonfinite_tensor = i;
				c->f->nonfinite_elem = k;
			}
			continue;
		}
		return pnb_bad(c, -EINVAL, "data", at + 4 * k, "tensor %" PRIu32 " '%s' "
				   "element %" PRIu64 " is %s, expected a finite number", i,
				   c->f->strings + t->name, k, u & 0x007fffffu ? "NaN" :
				   u >> 31 ? "-Inf" : "Inf");
	}
	return 0;
}

static int check_tensor(const struct vctx *c, uint32_t i, const struct pnb_tensor *t)
{
	const int S = PNB_SEC_TENSORS;
	uint64_t n;
	int r;

	r = pnb_check_str_ref(c, S, i, offsetof(struct pnb_tensor, name), "name", t->name);
	if (r)
		return r;
	if (!pnb_dtype_size(t->dtype))
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, dtype),
				 "unknown dtype %" PRIu32 ", expected 1..6 (f32 f16 bf16 i32 u8 i8)",
				 t->dtype);
	if (t->ndim < 1 || t->ndim > PNB_MAX_DIMS)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, ndim),
				 "ndim %" PRIu32 ", expected 1..%u", t->ndim, PNB_MAX_DIMS);
	if (t->flags)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, flags),
				 "flags 0x%" PRIx32 ", expected 0", t->flags);
	n = pnb_dtype_size(t->dtype);
	for (uint32_t d = 0; d < PNB_MAX_DIMS; d++) {
		uint64_t off = offsetof(struct pnb_tensor, shape) + 8 * d;

		if (d >= t->ndim) {
			if (t->shape[d])
				return pnb_bad_entry(c, -EINVAL, S, i, off, "shape[%" PRIu32 "] = %"
						 PRIu64 " past ndim %" PRIu32 ", expected 0",
						 d, t->shape[d], t->ndim);
			continue;
		}
		if (!t->shape[d])
			return pnb_bad_entry(c, -EINVAL, S, i, off,
					 "shape[%" PRIu32 "] = 0, expected >= 1", d);
		if (__builtin_mul_overflow(n, t->shape[d], &n))
			return pnb_bad_entry(c, -EINVAL, S, i, off,
					 "shape product * dtype size overflows 64 bits at shape[%"
					 PRIu32 "] = %" PRIu64, d, t->shape[d]);
	}
	if (n != t->size)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, size),
				 "size %" PRIu64 ", expected %" PRIu64 " (shape product * %zu-byte %s)",
				 t->size, n, pnb_dtype_size(t->dtype), pnb_dtype_name(t->dtype));
	if (t->offset % PNB_TENSOR_ALIGN)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, offset),
				 "data offset %" PRIu64 " not a multiple of %u",
				 t->offset, PNB_TENSOR_ALIGN);
	if (t->offset > c->f->data_size || t->size > c->f->data_size - t->offset)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_tensor, offset),
				 "data offset %" PRIu64 " + size %" PRIu64
				 " past the end of the data section (%" PRIu64 " bytes)",
				 t->offset, t->size, c->f->data_size);
	return t->dtype == PNB_DTYPE_F32 ? check_finite(c, i, t) : 0;
}

static int check_value(const struct vctx *c, uint32_t i, const struct pnb_value *v)
{
	const int S = PNB_SEC_VALUES;
	int r;

	r = pnb_check_str_ref(c, S, i, offsetof(struct pnb_value, name), "name", v->name);
	if (r)
		return r;
	if (v->dtype != PNB_DTYPE_F32 && v->dtype != PNB_DTYPE_I32)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_value, dtype),
				 "dtype %" PRIu32 " (%s), expected f32 (1) or i32 (4)",
				 v->dtype, pnb_dtype_name(v->dtype));
	if (v->layout != PNB_LAYOUT_TOKENS && v->layout != PNB_LAYOUT_SEQ)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_value, layout),
				 "unknown layout %" PRIu32 ", expected 1 (tokens) or 2 (seq)",
				 v->layout);
	if (!v->width)
		return pnb_bad_entry(c, -EINVAL, S, i, offsetof(struct pnb_value, width),
				 "width 0, expected >= 1");
	return 0;
}

/* A Chebyshev series' attributes (POLY_FFN, MACRO): act, degree, even, range a < b. */
static int check_tok_tensor(const struct vctx *c, const char *field, uint64_t off,
			    uint32_t idx, uint32_t dtype)
{
	const struct pnb_tensor *t;

	if (idx >= c->f->n_tensors)
		return pnb_bad(c, -EINVAL, "header", off, "%s = %" PRIu32 " out of range, expected < %"
			   PRIu32 " (tensors)", field, idx, c->f->n_tensors);
	t = &c->f->tensors[idx];
	if (t->dtype != dtype || t->ndim != 1)
		return pnb_bad(c, -EINVAL, "header", off, "%s = tensor %" PRIu32 " '%s' is %s with %"
			   PRIu32 " dims, expected 1-dim %s", field, idx, c->f->strings + t->name,
			   pnb_dtype_name(t->dtype), t->ndim, pnb_dtype_name(dtype));
	return 0;
}

/* The tokenizer tables: pieces a NUL-terminated blob, one score per piece. */
static int check_tokenizer(const struct vctx *c)
{
	const struct pnb_header *h = &c->h;
	const uint64_t kind_off = offsetof(struct pnb_header, tokenizer);
	const uint64_t p_off = offsetof(struct pnb_header, tok_pieces);
	const uint64_t s_off = offsetof(struct pnb_header, tok_scores);
	const struct pnb_tensor *pt;
	const uint8_t *pieces;
	uint64_t n_pieces = 0;
	int r;

	if (h->tokenizer == PNB_TOKENIZER_NONE) {
		if (h->tok_pieces != PNB_NONE || h->tok_scores != PNB_NONE)
			return pnb_bad(c, -EINVAL, "header", p_off, "tokenizer none but tok_pieces %"
				   PRIu32 " / tok_scores %" PRIu32 ", expected PNB_NONE",
				   h->tok_pieces, h->tok_scores);
		return 0;
	}
	if (h->tokenizer != PNB_TOKENIZER_SPM_UNIGRAM && h->tokenizer != PNB_TOKENIZER_LLAMA_BPE)
		return pnb_bad(c, -EINVAL, "header", kind_off, "unknown tokenizer kind %" PRIu32
			   ", expected 0 (none), 1 (spm_unigram) or 2 (llama_bpe)", h->tokenizer);
	r = check_tok_tensor(c, "tok_pieces", p_off, h->tok_pieces, PNB_DTYPE_U8);
	if (!r)
		r = check_tok_tensor(c, "tok_scores", s_off, h->tok_scores, PNB_DTYPE_F32);
	if (r)
		return r;
	pt = &c->f->tensors[h->tok_pieces];
	pieces = c->f->data + pt->offset;
	if (pieces[pt->size - 1])
		return pnb_bad(c, -EINVAL, "header", p_off, "tok_pieces tensor %" PRIu32
			   " does not end with NUL, expected NUL-terminated pieces", h->tok_pieces);
	for (uint64_t k = 0; k < pt->size; k++)
		n_pieces += !pieces[k];
	if (n_pieces != c->f->tensors[h->tok_scores].shape[0])
		return pnb_bad(c, -EINVAL, "header", s_off, "tok_scores has %" PRIu64
			   " entries but tok_pieces holds %" PRIu64 " pieces, expected equal",
			   c->f->tensors[h->tok_scores].shape[0], n_pieces);
	return 0;
}

static int check_graph_ends(const struct vctx *c)
{
	const struct pnb_header *h = &c->h;
	const struct pnb_value *in;

	if (h->name >= c->f->strings_size || ((uint8_t)c->f->strings[h->name] & 0xc0) == 0x80)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, name),
			   "name string offset %" PRIu32 " invalid, expected the start of a string"
			   " below %" PRIu64, h->name, c->f->strings_size);
	if (!h->max_tokens)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, max_tokens),
			   "max_tokens 0, expected >= 1");
	if (h->max_tokens > PNB_MAX_TOKENS)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, max_tokens),
			   "max_tokens %" PRIu32 ", expected at most %u (PNB_MAX_TOKENS)",
			   h->max_tokens, PNB_MAX_TOKENS);
	if (h->input >= c->f->n_values)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, input),
			   "input = %" PRIu32 " out of range, expected < %" PRIu32 " (values)",
			   h->input, c->f->n_values);
	in = &c->f->values[h->input];
	if (in->dtype != PNB_DTYPE_I32 || in->layout != PNB_LAYOUT_TOKENS || in->width != 1)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, input),
			   "input = value %" PRIu32 " '%s' is %s %s width %" PRIu32
			   ", expected i32 tokens width 1 (token ids)", h->input,
			   c->f->strings + in->name, pnb_dtype_name(in->dtype),
			   pnb_layout_name(in->layout), in->width);
	if (h->output >= c->f->n_values)
		return pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, output),
			   "output = %" PRIu32 " out of range, expected < %" PRIu32 " (values)",
			   h->output, c->f->n_values);
	return check_tokenizer(c);
}

static int check_tables(struct vctx *c)
{
	const struct pnb_header *h = &c->h;
	struct pnb_file *f = c->f;
	uint8_t *produced;
	int r;

	f->data = c->base + h->sec[PNB_SEC_DATA].offset;
	f->data_size = h->sec[PNB_SEC_DATA].size;
	f->tensors = (const struct pnb_tensor *)(c->base + h->sec[PNB_SEC_TENSORS].offset);
	f->n_tensors = h->sec[PNB_SEC_TENSORS].count;
	f->values = (const struct pnb_value *)(c->base + h->sec[PNB_SEC_VALUES].offset);
	f->n_values = h->sec[PNB_SEC_VALUES].count;
	f->nodes = (const struct pnb_node *)(c->base + h->sec[PNB_SEC_NODES].offset);
	f->n_nodes = h->sec[PNB_SEC_NODES].count;

	r = check_strings(c);
	for (uint32_t i = 0; !r && i < f->n_tensors; i++)
		r = check_tensor(c, i, &f->tensors[i]);
	for (uint32_t i = 0; !r && i < f->n_values; i++)
		r = check_value(c, i, &f->values[i]);
	if (!r)
		r = check_graph_ends(c);
	if (r)
		return r;

	produced = calloc(f->n_values, 1);
	if (!produced)
		return pn_errf(c->err, -ENOMEM, "%s: out of memory checking %" PRIu32 " values",
			       c->what, f->n_values);
	produced[h->input] = 1;
	for (uint32_t i = 0; !r && i < f->n_nodes; i++)
		r = pnb_check_node(c, i, &f->nodes[i], produced);
	if (!r && (h->output == h->input || !produced[h->output]))
		r = pnb_bad(c, -EINVAL, "header", offsetof(struct pnb_header, output),
			"output = value %" PRIu32 " '%s' is produced by no node, expected a "
			"node's out", h->output, f->strings + f->values[h->output].name);
	free(produced);
	return r;
}

static int open_mem(const void *buf, size_t size, const char *what, unsigned flags,
		    struct pnb_file *f, struct pn_err *err)
{
	struct vctx c = { .base = buf, .size = size, .what = what ? what : "<memory>",
			  .err = err, .f = f, .flags = flags };
	int r;

	memset(f, 0, sizeof(*f));
	/* tables are used in place through struct pointers */
	if ((uintptr_t)buf % 8)
		return pn_errf(err, -EINVAL, "%s: buffer at %p not 8-byte aligned, expected "
			       "an aligned copy or mapping", c.what, buf);
	r = check_header(&c);
	if (!r)
		r = check_sections(&c);
	if (!r)
		r = check_tables(&c);
	if (r) {
		memset(f, 0, sizeof(*f));
		return r;
	}
	f->base = buf;
	f->size = size;
	f->hdr = (const struct pnb_header *)buf;
	f->content_hash = pnb_xxh64(buf, size);
	snprintf(f->path, sizeof(f->path), "%s", c.what);
	return 0;
}

int pnb_check_header(const void *hdr, uint64_t file_size, const char *what, struct pn_err *err)
{
	/* check_header reads the first HDR_SIZE bytes only and compares the
	 * declared file_size with the one given: the caller has the rest unread */
	struct vctx c = { .base = hdr, .size = file_size, .what = what ? what : "<memory>",
			  .err = err };

	return check_header(&c);
}

int pnb_open_mem(const void *buf, size_t size, const char *what, struct pnb_file *f,
		 struct pn_err *err)
{
	return open_mem(buf, size, what, 0, f, err);
}

int pnb_open(const char *path, struct pnb_file *f, struct pn_err *err)
{
	return pnb_open_flags(path, 0, f, err);
}

int pnb_open_flags(const char *path, unsigned flags, struct pnb_file *f, struct pn_err *err)
{
	struct stat st;
	void *map;
	int fd, r;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		r = pn_errf(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pn_errf(err, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size < HDR_SIZE) {
		close(fd);
		return pn_errf(err, -EINVAL, "%s: header, byte 0: file is %lld bytes, expected at "
			       "least the %" PRIu64 "-byte header", path, (long long)st.st_size,
			       HDR_SIZE);
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	r = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return pn_errf(err, r, "%s: cannot map %lld bytes: %s", path,
			       (long long)st.st_size, strerror(-r));
	r = open_mem(map, st.st_size, path, flags, f, err);
	if (r) {
		munmap(map, st.st_size);
		return r;
	}
	f->mapped = 1;
	return 0;
}

void pnb_close(struct pnb_file *f)
{
	if (f->mapped && f->base)
		munmap((void *)f->base, f->size);
	memset(f, 0, sizeof(*f));
}

/* ---- accessors ---------------------------------------------------------- */

const char *pnb_str(const struct pnb_file *f, uint32_t off)
{
	return off < f->strings_size ? f->strings + off : NULL;
}

const void *pnb_tensor_data(const struct pnb_file *f, uint32_t idx)
{
	return idx < f->n_tensors ? f->data + f->tensors[idx].offset : NULL;
}

uint64_t pnb_tensor_elems(const struct pnb_tensor *t)
{
	uint64_t n = 1;

	for (uint32_t d = 0; d < t->ndim && d < PNB_MAX_DIMS; d++)
		n *= t->shape[d];
	return n;
}

uint32_t pnb_find_tensor(const struct pnb_file *f, const char *name)
{
	for (uint32_t i = 0; i < f->n_tensors; i++)
		if (!strcmp(f->strings + f->tensors[i].name, name))
			return i;
	return PNB_NONE;
}
