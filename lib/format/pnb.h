/* SPDX-License-Identifier: MIT */
/*
 * pnb.h - read and write .pnb model files (format: uapi/pnb.h).
 *
 * Reading: pnb_open() maps the file read-only and validates all of it
 * before returning; afterwards every offset, index, string and size in the
 * struct may be used without further checks. Errors name the file, the
 * section, the entry and what was expected.
 *
 * Writing: build tensors, values and nodes with the pnb_w_* calls, then
 * pnb_w_finish() writes the file atomically (temporary file + rename).
 */
#ifndef PN_PNB_H
#define PN_PNB_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "uapi/pnb.h"

struct pnb_file {
	const uint8_t *base;		/* the whole file */
	size_t size;
	int mapped;			/* 1: base is our mmap, unmap on close */
	const struct pnb_header *hdr;
	const char *strings;
	uint64_t strings_size;
	const struct pnb_tensor *tensors;
	uint32_t n_tensors;
	const struct pnb_value *values;
	uint32_t n_values;
	const struct pnb_node *nodes;
	uint32_t n_nodes;
	const uint8_t *data;
	uint64_t data_size;
	uint64_t content_hash;		/* over the whole file: models compare by it */
	/* PNB_OPEN_ALLOW_NONFINITE: the NaN/Inf F32 weights found, and the first */
	uint64_t nonfinite;
	uint32_t nonfinite_tensor;
	uint64_t nonfinite_elem;
	char path[256];			/* for error messages */
};

int pnb_open(const char *path, struct pnb_file *f, struct pn_err *err);
/* Counts NaN/Inf F32 weights in f->nonfinite instead of refusing the file (inspect only:
 * polyctl inspect --allow-nonfinite; run and LOAD never pass it). */
#define PNB_OPEN_ALLOW_NONFINITE	(1u << 0)
int pnb_open_flags(const char *path, unsigned flags, struct pnb_file *f, struct pn_err *err);
/*
 * The header alone (its first sizeof(struct pnb_header) bytes), for a file of
 * file_size bytes: magic, version, sizes, CRC, reserved fields. Lets a reader
 * refuse a file before it reads the rest; pnb_open_mem checks it again.
 */
int pnb_check_header(const void *hdr, uint64_t file_size, const char *what,
		     struct pn_err *err);
/* Validates a buffer in place (no copy; buf must outlive f). */
int pnb_open_mem(const void *buf, size_t size, const char *what,
		 struct pnb_file *f, struct pn_err *err);
void pnb_close(struct pnb_file *f);

/* Accessors for a validated file. */
const char *pnb_str(const struct pnb_file *f, uint32_t off);
const void *pnb_tensor_data(const struct pnb_file *f, uint32_t idx);
uint64_t pnb_tensor_elems(const struct pnb_tensor *t);
/* Index of the tensor named name, or PNB_NONE. */
uint32_t pnb_find_tensor(const struct pnb_file *f, const char *name);

/* Names for enums; "?" for an unknown number. */
size_t pnb_dtype_size(uint32_t dtype);	/* 0 when unknown */
const char *pnb_dtype_name(uint32_t dtype);
const char *pnb_op_name(uint32_t op);
const char *pnb_act_name(uint32_t act);
const char *pnb_layout_name(uint32_t layout);

/* CRC32C (Castagnoli), the checksum of every section. */
uint32_t pn_crc32c(uint32_t crc, const void *buf, size_t len);

/* Writer. Calls after an allocation failure are no-ops; finish reports it. */
struct pnb_writer;
struct pnb_writer *pnb_writer_new(void);
void pnb_writer_free(struct pnb_writer *w);
uint32_t pnb_w_string(struct pnb_writer *w, const char *s);	/* deduplicated */
/* Copies data (product(shape) * dtype size bytes); returns the tensor index. */
uint32_t pnb_w_tensor(struct pnb_writer *w, const char *name, uint32_t dtype,
		      uint32_t ndim, const uint64_t *shape, const void *data);
uint32_t pnb_w_value(struct pnb_writer *w, const char *name, uint32_t dtype,
		     uint32_t layout, uint32_t width);
/* n->name is a string offset from pnb_w_string; unused in[]/w[] are PNB_NONE. */
uint32_t pnb_w_node(struct pnb_writer *w, const struct pnb_node *n);
/* Header fields other than the layout: name, input, output, max_tokens,
 * tokenizer, tok_pieces, tok_scores are taken from h; the rest is ignored. */
void pnb_w_header(struct pnb_writer *w, const struct pnb_header *h);
int pnb_w_finish(struct pnb_writer *w, const char *path, struct pn_err *err);

/* One EMBED of a 4 x 4 table (row i = 4i+1..4i+4): the "empty job" model of
 * the ring benchmarks and the daemon tests. */
int pnb_write_nop_model(const char *path, const char *name, uint32_t max_tokens,
			struct pn_err *err);

/* A node with every index PNB_NONE and attributes 0: fill what the op uses. */
void pnb_node_init(struct pnb_node *n, uint32_t op, uint32_t name, uint32_t out);

#endif /* PN_PNB_H */
