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
 * The Makefile's fuzz rule links the parser sources it lists and no
 * library, so safetensors.c and utf8.c are compiled in here, and the few
 * cJSON functions the parser calls are resolved from libcjson.so.1 at
 * run time (dlopen is in glibc's libc since 2.34).
 *
 *   make build/fuzz/fuzz_safetensors
 *   build/fuzz/fuzz_safetensors -max_total_time=60 WORKDIR tests/fuzz/corpus_safetensors
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/safetensors.c"
#include "text/utf8.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- cJSON, resolved from the shared library --------------------------------- */

static void *sym(const char *name)
{
	static void *lib;
	void *p;

	if (!lib && !(lib = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL))) {
		fprintf(stderr, "fuzz_safetensors: %s\n", dlerror());
		abort();
	}
	if (!(p = dlsym(lib, name))) {
		fprintf(stderr, "fuzz_safetensors: libcjson.so.1 lacks %s\n", name);
		abort();
	}
	return p;
}

#define FWD(ret, name, params, args)					\
	ret name params							\
	{								\
		static ret (*fn) params;				\
		if (!fn)						\
			*(void **)&fn = sym(#name);			\
		return fn args;						\
	}

FWD(cJSON *, cJSON_ParseWithLengthOpts,
    (const char *value, size_t length, const char **end, cJSON_bool null_terminated),
    (value, length, end, null_terminated))
FWD(cJSON *, cJSON_GetObjectItemCaseSensitive, (const cJSON *const object, const char *const string),
    (object, string))
FWD(cJSON *, cJSON_GetArrayItem, (const cJSON *array, int index), (array, index))
FWD(int, cJSON_GetArraySize, (const cJSON *array), (array))
FWD(cJSON_bool, cJSON_IsObject, (const cJSON *const item), (item))
FWD(cJSON_bool, cJSON_IsArray, (const cJSON *const item), (item))
FWD(cJSON_bool, cJSON_IsString, (const cJSON *const item), (item))
FWD(cJSON_bool, cJSON_IsNumber, (const cJSON *const item), (item))

void cJSON_Delete(cJSON *item)
{
	static void (*fn)(cJSON *);

	if (!fn)
		*(void **)&fn = sym("cJSON_Delete");
	fn(item);
}

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
