// SPDX-License-Identifier: MIT
/*
 * fuzz_pnb: libFuzzer target for the .pnb reader (lib/pnb.c).
 *
 * Each input is validated twice: as given (the header and CRC checks), and
 * with its CRC32Cs recomputed, since random mutations almost never keep a
 * CRC valid and everything behind the checksums would go untested. When a
 * file is accepted, everything the accessors hand out is read, so a reader
 * that accepts an inconsistent file shows up as an ASan report.
 *
 *   make B=build/pnb build/pnb/fuzz/fuzz_pnb
 *   build/pnb/fuzz/fuzz_pnb -max_total_time=60 WORKDIR tests/fuzz/corpus_pnb
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/pnb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch(const void *p, uint64_t n)
{
	const uint8_t *b = p;

	if (n)
		sink += b[0] + b[n - 1];
}

static const char *name(const struct pnb_file *f, uint32_t off)
{
	const char *s = pnb_str(f, off);

	if (!s)
		abort();	/* a validated reference must resolve */
	sink += strlen(s);
	return s;
}

static void walk(const struct pnb_file *f)
{
	const struct pnb_header *h = f->hdr;

	name(f, h->name);
	name(f, f->values[h->input].name);
	name(f, f->values[h->output].name);
	sink += f->content_hash;
	for (uint32_t i = 0; i < f->n_tensors; i++) {
		const struct pnb_tensor *t = &f->tensors[i];

		touch(pnb_tensor_data(f, i), t->size);
		if (pnb_tensor_elems(t) * pnb_dtype_size(t->dtype) != t->size)
			abort();
		sink += strlen(pnb_dtype_name(t->dtype));
		/* the first tensor of that name: at or before i */
		if (i < 16 && pnb_find_tensor(f, name(f, t->name)) > i)
			abort();
	}
	for (uint32_t i = 0; i < f->n_values; i++) {
		name(f, f->values[i].name);
		sink += strlen(pnb_layout_name(f->values[i].layout));
	}
	for (uint32_t i = 0; i < f->n_nodes; i++) {
		const struct pnb_node *n = &f->nodes[i];

		name(f, n->name);
		sink += strlen(pnb_op_name(n->op)) + strlen(pnb_act_name((uint32_t)n->iattr[0]));
		for (uint32_t k = 0; k < n->n_in; k++)
			name(f, f->values[n->in[k]].name);
		for (uint32_t k = 0; k < n->n_w; k++)
			if (n->w[k] != PNB_NONE)
				touch(pnb_tensor_data(f, n->w[k]), f->tensors[n->w[k]].size);
		name(f, f->values[n->out].name);
	}
	if (h->tokenizer != PNB_TOKENIZER_NONE) {
		touch(pnb_tensor_data(f, h->tok_pieces), f->tensors[h->tok_pieces].size);
		touch(pnb_tensor_data(f, h->tok_scores), f->tensors[h->tok_scores].size);
	}
}

static void try_open(const uint8_t *buf, size_t size)
{
	struct pnb_file f;
	struct pn_err err;

	if (pnb_open_mem(buf, size, "fuzz.pnb", &f, &err) == 0) {
		walk(&f);
		pnb_close(&f);
	} else if (!strstr(err.msg, "fuzz.pnb")) {
		abort();	/* every error names the file */
	}
}

/* Recomputes the section CRCs that lie inside the buffer, then the header's. */
static void fix_crcs(uint8_t *b, size_t size)
{
	struct pnb_header h;

	memcpy(&h, b, sizeof(h));
	for (int s = 0; s < PNB_SEC_COUNT; s++)
		if (h.sec[s].offset <= size && h.sec[s].size <= size - h.sec[s].offset)
			h.sec[s].crc32c = pn_crc32c(0, b + h.sec[s].offset, h.sec[s].size);
	h.header_crc32c = pn_crc32c(0, &h, offsetof(struct pnb_header, header_crc32c));
	memcpy(b, &h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an aligned private copy: the reader needs 8-byte alignment and we edit it */
	uint8_t *b = aligned_alloc(64, (size + 64) & ~(size_t)63);

	if (!b)
		return 0;
	memcpy(b, data, size);
	try_open(b, size);
	if (size >= sizeof(struct pnb_header)) {
		fix_crcs(b, size);
		try_open(b, size);
	}
	free(b);
	return 0;
}
