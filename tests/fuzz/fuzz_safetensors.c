// SPDX-License-Identifier: MIT
/*
 * fuzz_safetensors - libFuzzer target for the safetensors container parser
 * (lib/import/safetensors.c, pn_st_parse): the u64 header length, the JSON
 * header, every tensor's dtype, shape and data_offsets, and the tiling of
 * the data. Each input is the whole file. When it is accepted, the tensors
 * must lie inside the file, in order, without gaps or overlaps, their
 * sizes match their shapes, and their first and last bytes are read (an
 * ASan report if not); when refused, the message must name the file.
 *
 * The Makefile links safetensors.c, utf8.c and libcjson into it.
 *
 *   make build/fuzz/fuzz_safetensors
 *   build/fuzz/fuzz_safetensors -max_total_time=60 WORKDIR tests/fuzz/corpus_safetensors
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/hf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- the target --------------------------------------------------------------- */

static volatile uint64_t sink;

static int by_begin(const void *a, const void *b)
{
	const struct pn_st_tensor *x = *(const struct pn_st_tensor *const *)a;
	const struct pn_st_tensor *y = *(const struct pn_st_tensor *const *)b;

	return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 :
	       x->end < y->end ? -1 : x->end > y->end;
}

static void check(const uint8_t *b, size_t size, const struct pn_st *st)
{
	const struct pn_st_tensor **s = malloc((st->n ? st->n : 1) * sizeof(*s));
	uint64_t at = st->data_at;

	if (!s)
		return;
	if (st->data_at != 8 + st->header_len || st->data_at > size)
		abort();
	for (uint32_t i = 0; i < st->n; i++) {
		const struct pn_st_tensor *t = &st->t[i];
		uint64_t bytes = pn_st_dtype_size(t->dtype);

		if (!bytes || t->ndim > PN_ST_MAX_DIM || t->begin > t->end || t->end > size ||
		    t->begin < st->data_at || pn_st_find(st, t->name) != t)
			abort();
		for (uint32_t d = 0; d < t->ndim; d++)
			bytes *= t->shape[d];
		if (bytes != t->end - t->begin)
			abort();
		if (t->end > t->begin)
			sink += b[t->begin] + b[t->end - 1];
		sink += pn_st_key_at(st, t->name);
		s[i] = t;
	}
	qsort(s, st->n, sizeof(*s), by_begin);
	for (uint32_t i = 0; i < st->n; i++) {
		if (s[i]->begin != at)
			abort();	/* a gap or an overlap was accepted */
		at = s[i]->end;
	}
	if (at != size)
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a private copy of exactly size bytes: reads past it are ASan reports */
	uint8_t *b = malloc(size ? size : 1);
	struct pn_err err;
	struct pn_st st;

	if (!b)
		return 0;
	memcpy(b, data, size);
	if (pn_st_parse(b, size, "fuzz.safetensors", &st, &err) == 0)
		check(b, size, &st);
	else if (strncmp(err.msg, "fuzz.safetensors: ", 18))
		abort();	/* every error names the file */
	pn_st_free(&st);
	free(b);
	return 0;
}
