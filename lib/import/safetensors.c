// SPDX-License-Identifier: MIT
/*
 * safetensors.c - the safetensors container (hf.h): a u64 little-endian
 * header length N, N bytes of JSON (an object: tensor name -> {"dtype",
 * "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__"
 * of strings; space-padded), then the data, the offsets relative to its
 * start. As the format requires, the tensors' spans tile the data exactly:
 * no overlap, no hole, nothing after the last. Only the container is
 * checked here; which tensors a model needs is hf_llama.c's business.
 * Uses cJSON and lib/util, lib/text/utf8.c only (tests/fuzz/fuzz_safetensors.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/hf.h"
#include "text/utf8.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors is little-endian");

#define MAX_INT 9007199254740992.0	/* 2^53: every integer below is exact in a double */

static const struct { const char *name; uint32_t size; } dtypes[] = {
	{ "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
	{ "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 }, { "I32", 4 }, { "U32", 4 },
	{ "F32", 4 }, { "F64", 8 }, { "I64", 8 }, { "U64", 8 },
};

uint32_t pn_st_dtype_size(const char *dtype)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (!strcmp(dtype, dtypes[i].name))
			return dtypes[i].size;
	return 0;
}

const char *pn_st_shape_str(const uint64_t *shape, uint32_t ndim, char *buf, size_t cap)
{
	size_t o = 0;

	o += (size_t)snprintf(buf, cap, "[");
	for (uint32_t d = 0; d < ndim && o < cap; d++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%llu", d ? "," : "",
				      (unsigned long long)shape[d]);
	if (o < cap)
		snprintf(buf + o, cap - o, "]");
	return buf;
}

const char *pn_hf_shown(const char *s, char *buf, size_t cap)
{
	size_t n = strlen(s), i;

	for (i = 0; i < n && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	if (i < n && cap >= 4)
		memcpy(buf + cap - 4, "...", 3), i = cap - 1;
	buf[i] = 0;
	return buf;
}

uint64_t pn_st_key_at(const struct pn_st *st, const char *name)
{
	const uint8_t *h = st->b + 8;
	size_t n = strlen(name);

	for (uint64_t i = 0; st->b && i + n + 2 <= st->header_len; i++)
		if (h[i] == '"' && h[i + n + 1] == '"' && !memcmp(h + i + 1, name, n))
			return 8 + i;
	return 8;
}

const struct pn_st_tensor *pn_st_find(const struct pn_st *st, const char *name)
{
	for (uint32_t i = 0; i < st->n; i++)
		if (!strcmp(st->t[i].name, name))
			return &st->t[i];
	return NULL;
}

void pn_st_free(struct pn_st *st)
{
	for (uint32_t i = 0; st->t && i < st->n; i++)
		free(st->t[i].name);
	free(st->t);
	st->t = NULL;
	st->n = 0;
}

/* An integer 0..2^53 (JSON numbers are doubles in cJSON). */
static int get_u64(const cJSON *v, uint64_t *out)
{
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > MAX_INT ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble)
		return -1;
	*out = (uint64_t)v->valuedouble;
	return 0;
}

static int bad(const struct pn_st *st, struct pn_err *err, const char *name, const char *what)
{
	char nm[96];

	return pn_errf(err, -EINVAL, "%s: offset %llu: tensor '%s': %s", st->path,
		       (unsigned long long)pn_st_key_at(st, name), pn_hf_shown(name, nm, sizeof(nm)),
		       what);
}

/* One header entry: its dtype, shape and span, checked against each other and the file. */
static int read_tensor(struct pn_st *st, const cJSON *j, struct pn_st_tensor *t,
		       struct pn_err *err)
{
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets"), *e;
	uint64_t b, end, bytes, data = st->size - st->data_at;
	uint32_t es;
	char s[160], msg[320];

	if (!cJSON_IsObject(j))
		return bad(st, err, t->name, "expected an object of dtype, shape and data_offsets");
	if (!cJSON_IsString(dt) || !(es = pn_st_dtype_size(dt->valuestring)))
		return bad(st, err, t->name, "expected a \"dtype\" of the format's (F32, F16, "
			   "BF16, F64, I8..I64, U8..U64, BOOL, F8_E5M2, F8_E4M3)");
	snprintf(t->dtype, sizeof(t->dtype), "%s", dt->valuestring);
	if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > PN_ST_MAX_DIM)
		return bad(st, err, t->name, "expected a \"shape\" array of at most 8 dimensions");
	bytes = es;
	cJSON_ArrayForEach(e, sh) {
		uint64_t d;

		if (get_u64(e, &d))
			return bad(st, err, t->name, "expected \"shape\" of integers >= 0");
		t->shape[t->ndim++] = d;
		if (__builtin_mul_overflow(bytes, d, &bytes))
			return bad(st, err, t->name, "the shape's bytes overflow 64 bits");
	}
	if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
	    get_u64(cJSON_GetArrayItem(off, 0), &b) || get_u64(cJSON_GetArrayItem(off, 1), &end) ||
	    b > end)
		return bad(st, err, t->name, "expected \"data_offsets\" [begin, end], integers, "
			   "begin <= end");
	if (end > data) {
		snprintf(msg, sizeof(msg), "data_offsets [%llu, %llu] end at byte %llu, past the "
			 "end of the file (%llu bytes: truncated?)", (unsigned long long)b,
			 (unsigned long long)end, (unsigned long long)(st->data_at + end),
			 (unsigned long long)st->size);
		return bad(st, err, t->name, msg);
	}
	if (bytes != end - b) {
		snprintf(msg, sizeof(msg), "shape %s of %s is %llu bytes, but data_offsets [%llu, "
			 "%llu] span %llu", pn_st_shape_str(t->shape, t->ndim, s, sizeof(s)),
			 t->dtype, (unsigned long long)bytes, (unsigned long long)b,
			 (unsigned long long)end, (unsigned long long)(end - b));
		return bad(st, err, t->name, msg);
	}
	t->begin = st->data_at + b;
	t->end = st->data_at + end;
	return 0;
}

static int by_span(const void *a, const void *b, void *arg)
{
	const struct pn_st_tensor *x = (const struct pn_st_tensor *)arg + *(const uint32_t *)a;
	const struct pn_st_tensor *y = (const struct pn_st_tensor *)arg + *(const uint32_t *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b, void *arg)
{
	const struct pn_st_tensor *t = arg;

	return strcmp(t[*(const uint32_t *)a].name, t[*(const uint32_t *)b].name);
}

/* The spans tile [data_at, size) in order, and no name appears twice. */
static int check_tiling(struct pn_st *st, struct pn_err *err)
{
	uint32_t *ix = malloc((st->n ? st->n : 1) * sizeof(uint32_t));
	uint64_t at = st->data_at;
	char n1[96], n2[96];
	int ret = 0;

	if (!ix)
		return pn_errf(err, -ENOMEM, "%s: out of memory", st->path);
	for (uint32_t i = 0; i < st->n; i++)
		ix[i] = i;
	qsort_r(ix, st->n, sizeof(*ix), by_name, st->t);
	for (uint32_t i = 1; !ret && i < st->n; i++)
		if (!strcmp(st->t[ix[i - 1]].name, st->t[ix[i]].name))
			ret = bad(st, err, st->t[ix[i]].name, "appears twice in the header");
	qsort_r(ix, st->n, sizeof(*ix), by_span, st->t);
	for (uint32_t i = 0; !ret && i < st->n; i++) {
		const struct pn_st_tensor *t = &st->t[ix[i]];

		if (t->begin < at)
			ret = pn_errf(err, -EINVAL, "%s: offset %llu: tensor '%s' (bytes %llu..%llu) "
				      "overlaps tensor '%s' (bytes %llu..%llu): expected spans that "
				      "do not overlap", st->path, (unsigned long long)t->begin,
				      pn_hf_shown(t->name, n1, sizeof(n1)), (unsigned long long)t->begin,
				      (unsigned long long)t->end,
				      pn_hf_shown(st->t[ix[i - 1]].name, n2, sizeof(n2)),
				      (unsigned long long)st->t[ix[i - 1]].begin,
				      (unsigned long long)st->t[ix[i - 1]].end);
		else if (t->begin > at)
			ret = pn_errf(err, -EINVAL, "%s: offset %llu: bytes %llu..%llu belong to no "
				      "tensor (the next is '%s'): expected the tensors to cover the "
				      "data without holes", st->path, (unsigned long long)at,
				      (unsigned long long)at, (unsigned long long)t->begin,
				      pn_hf_shown(t->name, n1, sizeof(n1)));
		at = t->end;
	}
	if (!ret && at != st->size)
		ret = pn_errf(err, -EINVAL, "%s: offset %llu: %llu bytes after the last tensor's "
			      "data, expected the file to end there", st->path,
			      (unsigned long long)at, (unsigned long long)(st->size - at));
	free(ix);
	return ret;
}

static int parse_header(struct pn_st *st, cJSON *root, struct pn_err *err)
{
	const cJSON *j;
	uint32_t n = 0;
	char nm[96];

	if (!cJSON_IsObject(root))
		return pn_errf(err, -EINVAL, "%s: offset 8: the header is not a JSON object, "
			       "expected {\"tensor name\": {...}, ...}", st->path);
	cJSON_ArrayForEach(j, root)
		n++;
	st->t = calloc(n ? n : 1, sizeof(*st->t));
	if (!st->t)
		return pn_errf(err, -ENOMEM, "%s: out of memory", st->path);
	cJSON_ArrayForEach(j, root) {
		struct pn_st_tensor *t = &st->t[st->n];
		int ret;

		if (!strcmp(j->string, "__metadata__")) {
			const cJSON *m;

			if (!cJSON_IsObject(j))
				return pn_errf(err, -EINVAL, "%s: offset %llu: \"__metadata__\" is "
					       "not an object, expected {\"key\": \"value\", ...}",
					       st->path,
					       (unsigned long long)pn_st_key_at(st, j->string));
			cJSON_ArrayForEach(m, j)
				if (!cJSON_IsString(m))
					return pn_errf(err, -EINVAL, "%s: offset %llu: \"__metadata__\""
						       " entry '%s' is not a string, expected string "
						       "values", st->path,
						       (unsigned long long)pn_st_key_at(st, m->string),
						       pn_hf_shown(m->string, nm, sizeof(nm)));
			continue;
		}
		if (!(t->name = strdup(j->string)))
			return pn_errf(err, -ENOMEM, "%s: out of memory", st->path);
		st->n++;
		if ((ret = read_tensor(st, j, t, err)))
			return ret;
	}
	return check_tiling(st, err);
}

int pn_st_parse(const uint8_t *b, size_t size, const char *path, struct pn_st *st,
		struct pn_err *err)
{
	const char *end = NULL;
	char *text;
	cJSON *root;
	size_t at, bad_at;
	int ret;

	memset(st, 0, sizeof(*st));
	st->path = path;
	st->size = size;
	if (size < 8)
		return pn_errf(err, -EINVAL, "%s: offset 0: expected the 8-byte header length, "
			       "but the file ends at byte %zu", path, size);
	memcpy(&st->header_len, b, 8);
	if (st->header_len > size - 8)
		return pn_errf(err, -EINVAL, "%s: offset 0: header length %llu runs past the end "
			       "of the file (%zu bytes): expected at most %zu (truncated, or not "
			       "a safetensors file?)", path, (unsigned long long)st->header_len,
			       size, size - 8);
	if (st->header_len > PN_ST_MAX_HEADER)
		return pn_errf(err, -EINVAL, "%s: offset 0: header length %llu, expected at most "
			       "%llu", path, (unsigned long long)st->header_len, PN_ST_MAX_HEADER);
	if (st->header_len < 2 || b[8] != '{')
		return pn_errf(err, -EINVAL, "%s: offset 8: expected the header's JSON object "
			       "('{'), found %s", path, st->header_len ? "another byte" : "none");
	st->b = b;
	st->data_at = 8 + st->header_len;
	bad_at = pn_utf8_invalid_at(b + 8, st->header_len);
	if (bad_at != st->header_len)
		return pn_errf(err, -EILSEQ, "%s: offset %zu: the header is not UTF-8 there, "
			       "expected UTF-8 JSON", path, 8 + bad_at);
	/* a NUL-terminated copy: cJSON then never needs the length to stop */
	if (!(text = malloc(st->header_len + 1)))
		return pn_errf(err, -ENOMEM, "%s: out of memory for a header of %llu bytes", path,
			       (unsigned long long)st->header_len);
	memcpy(text, b + 8, st->header_len);
	text[st->header_len] = 0;
	root = cJSON_ParseWithLengthOpts(text, st->header_len, &end, 0);
	at = end ? (size_t)(end - text) : 0;
	if (!root) {
		ret = pn_errf(err, -EINVAL, "%s: offset %zu: invalid JSON in the header (bytes 8.."
			      "%llu)", path, 8 + at, (unsigned long long)st->data_at);
	} else {
		while (at < st->header_len && strchr(" \t\r\n", text[at]) && text[at])
			at++;
		ret = at != st->header_len ?
		      pn_errf(err, -EINVAL, "%s: offset %zu: bytes after the header's JSON, "
			      "expected only spaces up to byte %llu", path, 8 + at,
			      (unsigned long long)st->data_at) :
		      parse_header(st, root, err);
	}
	cJSON_Delete(root);
	free(text);
	return ret;
}
