// SPDX-License-Identifier: MIT
/*
 * pnb_write.c - build a .pnb file in memory and write it atomically.
 *
 * The writer only lays bytes out; whether the graph makes sense is decided
 * by the reader: pnb_w_finish() writes PATH.tmp, validates it with
 * pnb_open() and renames it over PATH only if it passes, so a writer never
 * leaves behind a file that readers reject.
 *
 * Failures inside pnb_w_* calls (out of memory, a tensor whose size cannot
 * be represented) are sticky: later calls do nothing and return PNB_NONE,
 * and pnb_w_finish() reports the first one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/pnb.h"

struct pnb_writer {
	int err;			/* first failure, 0 while none */
	char err_msg[256];

	char *str;			/* the strings section; offset 0 is "" */
	size_t str_len, str_cap;
	uint32_t *str_slot;		/* open addressing: string offset + 1, 0 empty */
	size_t slot_cap, n_str;

	struct pnb_tensor *tensors;
	size_t n_tensors, cap_tensors;
	struct pnb_value *values;
	size_t n_values, cap_values;
	struct pnb_node *nodes;
	size_t n_nodes, cap_nodes;

	uint8_t *data;
	size_t data_len, data_cap;

	struct pnb_header hdr;
};

__attribute__((format(printf, 3, 4)))
static void w_fail(struct pnb_writer *w, int code, const char *fmt, ...)
{
	va_list ap;

	if (w->err)
		return;
	w->err = code;
	va_start(ap, fmt);
	vsnprintf(w->err_msg, sizeof(w->err_msg), fmt, ap);
	va_end(ap);
}

/* Makes room for need elements of size elem in *p (capacity *cap). */
static int w_reserve(struct pnb_writer *w, void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * elem);
	if (!q) {
		w_fail(w, -ENOMEM, "out of memory growing a buffer to %zu bytes", n * elem);
		return -ENOMEM;
	}
	*p = q;
	*cap = n;
	return 0;
}

/* The table sections count entries in uint32_t, and PNB_NONE is not an index. */
static int w_room(struct pnb_writer *w, size_t n, const char *what)
{
	if (n < PNB_NONE)
		return 0;
	w_fail(w, -EINVAL, "too many %s (%zu)", what, n);
	return -EINVAL;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;	/* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static int slots_grow(struct pnb_writer *w)
{
	size_t cap = w->slot_cap ? w->slot_cap * 2 : 64;
	uint32_t *slot = calloc(cap, sizeof(*slot));

	if (!slot) {
		w_fail(w, -ENOMEM, "out of memory for the string index");
		return -ENOMEM;
	}
	for (size_t i = 0; i < w->slot_cap; i++) {
		size_t j;

		if (!w->str_slot[i])
			continue;
		j = str_hash(w->str + w->str_slot[i] - 1) & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = w->str_slot[i];
	}
	free(w->str_slot);
	w->str_slot = slot;
	w->slot_cap = cap;
	return 0;
}

uint32_t pnb_w_string(struct pnb_writer *w, const char *s)
{
	size_t len, j;

	if (w->err)
		return PNB_NONE;
	if (!s)
		s = "";
	if (2 * (w->n_str + 1) > w->slot_cap && slots_grow(w))
		return PNB_NONE;
	for (j = str_hash(s) & (w->slot_cap - 1); w->str_slot[j]; j = (j + 1) & (w->slot_cap - 1))
		if (!strcmp(w->str + w->str_slot[j] - 1, s))
			return w->str_slot[j] - 1;
	len = strlen(s) + 1;
	if (w->str_len + len >= PNB_NONE) {
		w_fail(w, -EINVAL, "strings section would exceed 4 GiB adding \"%.40s\"", s);
		return PNB_NONE;
	}
	if (w_reserve(w, (void **)&w->str, &w->str_cap, w->str_len + len, 1))
		return PNB_NONE;
	memcpy(w->str + w->str_len, s, len);
	w->str_slot[j] = (uint32_t)w->str_len + 1;
	w->n_str++;
	w->str_len += len;
	return w->str_slot[j] - 1;
}

struct pnb_writer *pnb_writer_new(void)
{
	struct pnb_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->hdr.input = PNB_NONE;
	w->hdr.output = PNB_NONE;
	w->hdr.tok_pieces = PNB_NONE;
	w->hdr.tok_scores = PNB_NONE;
	if (pnb_w_string(w, "") != 0) {
		pnb_writer_free(w);
		return NULL;
	}
	return w;
}

void pnb_writer_free(struct pnb_writer *w)
{
	if (!w)
		return;
	free(w->str);
	free(w->str_slot);
	free(w->tensors);
	free(w->values);
	free(w->nodes);
	free(w->data);
	free(w);
}

/* data NULL stores zeros. */
uint32_t pnb_w_tensor(struct pnb_writer *w, const char *name, uint32_t dtype,
		      uint32_t ndim, const uint64_t *shape, const void *data)
{
	struct pnb_tensor t = { .dtype = dtype, .ndim = ndim };
	uint64_t size = pnb_dtype_size(dtype);
	size_t off;

	if (w->err || w_room(w, w->n_tensors, "tensors"))
		return PNB_NONE;
	if (!size || ndim < 1 || ndim > PNB_MAX_DIMS) {
		w_fail(w, -EINVAL, "tensor '%s': dtype %" PRIu32 ", ndim %" PRIu32
		       ": expected a known dtype and 1..%u dims", name, dtype, ndim, PNB_MAX_DIMS);
		return PNB_NONE;
	}
	for (uint32_t d = 0; d < ndim; d++) {
		if (!shape[d] || __builtin_mul_overflow(size, shape[d], &size)) {
			w_fail(w, -EINVAL, "tensor '%s': shape[%" PRIu32 "] = %" PRIu64
			       ": expected >= 1 and a size that fits 64 bits", name, d, shape[d]);
			return PNB_NONE;
		}
		t.shape[d] = shape[d];
	}
	off = (w->data_len + PNB_TENSOR_ALIGN - 1) & ~(size_t)(PNB_TENSOR_ALIGN - 1);
	if (size > SIZE_MAX - off) {
		w_fail(w, -EINVAL, "tensor '%s': %" PRIu64 " bytes do not fit in memory", name, size);
		return PNB_NONE;
	}
	t.name = pnb_w_string(w, name);
	if (w->err ||
	    w_reserve(w, (void **)&w->data, &w->data_cap, off + size, 1) ||
	    w_reserve(w, (void **)&w->tensors, &w->cap_tensors, w->n_tensors + 1, sizeof(t)))
		return PNB_NONE;
	memset(w->data + w->data_len, 0, off - w->data_len);
	if (data)
		memcpy(w->data + off, data, size);
	else
		memset(w->data + off, 0, size);
	w->data_len = off + size;
	t.offset = off;
	t.size = size;
	w->tensors[w->n_tensors] = t;
	return (uint32_t)w->n_tensors++;
}

uint32_t pnb_w_value(struct pnb_writer *w, const char *name, uint32_t dtype,
		     uint32_t layout, uint32_t width)
{
	struct pnb_value v = { .dtype = dtype, .layout = layout, .width = width };

	if (w->err || w_room(w, w->n_values, "values"))
		return PNB_NONE;
	v.name = pnb_w_string(w, name);
	if (w->err ||
	    w_reserve(w, (void **)&w->values, &w->cap_values, w->n_values + 1, sizeof(v)))
		return PNB_NONE;
	w->values[w->n_values] = v;
	return (uint32_t)w->n_values++;
}

uint32_t pnb_w_node(struct pnb_writer *w, const struct pnb_node *n)
{
	if (w->err || w_room(w, w->n_nodes, "nodes") ||
	    w_reserve(w, (void **)&w->nodes, &w->cap_nodes, w->n_nodes + 1, sizeof(*n)))
		return PNB_NONE;
	w->nodes[w->n_nodes] = *n;
	return (uint32_t)w->n_nodes++;
}

void pnb_w_header(struct pnb_writer *w, const struct pnb_header *h)
{
	w->hdr.name = h->name;
	w->hdr.input = h->input;
	w->hdr.output = h->output;
	w->hdr.max_tokens = h->max_tokens;
	w->hdr.tokenizer = h->tokenizer;
	w->hdr.tok_pieces = h->tok_pieces;
	w->hdr.tok_scores = h->tok_scores;
}

void pnb_node_init(struct pnb_node *n, uint32_t op, uint32_t name, uint32_t out)
{
	memset(n, 0, sizeof(*n));
	n->op = op;
	n->name = name;
	n->out = out;
	for (unsigned i = 0; i < PNB_NODE_MAX_IN; i++)
		n->in[i] = PNB_NONE;
	for (unsigned i = 0; i < PNB_NODE_MAX_W; i++)
		n->w[i] = PNB_NONE;
}

/* ---- finish ------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_zeros(int fd, uint64_t len)
{
	static const uint8_t zeros[4096];
	int r = 0;

	while (len && !r) {
		size_t n = len < sizeof(zeros) ? len : sizeof(zeros);

		r = write_all(fd, zeros, n);
		len -= n;
	}
	return r;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Fills the layout and the CRCs of w->hdr: header | strings | tensors |
 * values | nodes, 8-aligned, then data on the next 4096 boundary. */
static void lay_out(struct pnb_writer *w)
{
	struct pnb_header *h = &w->hdr;
	const void *bytes[PNB_SEC_COUNT] = { w->str, w->tensors, w->values, w->nodes, w->data };
	const uint64_t size[PNB_SEC_COUNT] = {
		w->str_len, w->n_tensors * sizeof(struct pnb_tensor),
		w->n_values * sizeof(struct pnb_value), w->n_nodes * sizeof(struct pnb_node),
		w->data_len,
	};
	const uint32_t count[PNB_SEC_COUNT] = { 0, w->n_tensors, w->n_values, w->n_nodes, 0 };
	uint64_t pos = sizeof(*h);

	memcpy(h->magic, PNB_MAGIC, sizeof(h->magic));
	h->version = PNB_VERSION;
	h->header_size = sizeof(*h);
	for (int s = 0; s < PNB_SEC_COUNT; s++) {
		pos = align_up(pos, s == PNB_SEC_DATA ? PNB_DATA_ALIGN : 8);
		h->sec[s].offset = pos;
		h->sec[s].size = size[s];
		h->sec[s].count = count[s];
		h->sec[s].crc32c = pn_crc32c(0, bytes[s], size[s]);
		pos += size[s];
	}
	h->file_size = pos;
	h->header_crc32c = pn_crc32c(0, h, offsetof(struct pnb_header, header_crc32c));
}

static int write_file(struct pnb_writer *w, int fd)
{
	const void *bytes[PNB_SEC_COUNT] = { w->str, w->tensors, w->values, w->nodes, w->data };
	uint64_t pos = sizeof(w->hdr);
	int r = write_all(fd, &w->hdr, sizeof(w->hdr));

	for (int s = 0; s < PNB_SEC_COUNT && !r; s++) {
		r = write_zeros(fd, w->hdr.sec[s].offset - pos);
		if (!r)
			r = write_all(fd, bytes[s], w->hdr.sec[s].size);
		pos = w->hdr.sec[s].offset + w->hdr.sec[s].size;
	}
	return r;
}

/* Makes the rename durable; a failure here loses nothing already written. */
static void sync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1,
			 path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISCHR(m) ? "a character device" :
	       S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" :
	       S_ISLNK(m) ? "a symbolic link" : "not a regular file";
}

/*
 * The rename at the end replaces whatever path names: refuse anything but a
 * regular file (or nothing), so `-o /dev/full` never replaces a device node.
 */
static int check_replaceable(const char *path, const char *what, struct pn_err *err)
{
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return pn_errf(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return pn_errf(err, -EEXIST, "%s: %s is %s, expected a regular file or none: "
			       "not replaced", path, what, file_kind(st.st_mode));
	return 0;
}

int pnb_w_finish(struct pnb_writer *w, const char *path, struct pn_err *err)
{
	struct pnb_file f;
	struct pn_err verr;
	size_t tlen = strlen(path) + 5;
	char *tmp;
	int fd, r;

	if (w->err)
		return pn_errf(err, w->err, "%s: not written: %s", path, w->err_msg);
	tmp = malloc(tlen);
	if (!tmp)
		return pn_errf(err, -ENOMEM, "%s: out of memory", path);
	snprintf(tmp, tlen, "%s.tmp", path);
	r = check_replaceable(path, "the output", err) ?: check_replaceable(tmp, "its temporary", err);
	if (r)
		goto out;
	lay_out(w);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = pn_errf(err, -errno, "%s: cannot create: %s", tmp, strerror(errno));
		goto out;
	}
	r = write_file(w, fd);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (r) {
		pn_errf(err, r, "%s: write failed: %s", tmp, strerror(-r));
		goto out_unlink;
	}
	r = pnb_open(tmp, &f, &verr);
	if (r) {
		pn_errf(err, r, "%s: not written, it would be invalid: %s", path, verr.msg);
		goto out_unlink;
	}
	pnb_close(&f);
	if (rename(tmp, path)) {
		r = pn_errf(err, -errno, "%s: cannot rename %s over it: %s", path, tmp,
			    strerror(errno));
		goto out_unlink;
	}
	sync_parent_dir(path);
	goto out;
out_unlink:
	unlink(tmp);
out:
	free(tmp);
	return r;
}

/*
 * The smallest useful model: one EMBED of a 4 x 4 table (row i holds
 * 4i+1..4i+4), ids 0..3, output TOKENS width 4. The ring benchmarks and the
 * daemon tests use it as an "empty job" whose result is still checkable.
 */
int pnb_write_nop_model(const char *path, const char *name, uint32_t max_tokens,
			struct pn_err *err)
{
	static const float table[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	struct pnb_writer *w = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint64_t sh[2] = { 4, 4 };
	uint32_t ids, out;
	int r;

	if (!w)
		return pn_errf(err, -ENOMEM, "%s: out of memory", path);
	ids = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	out = pnb_w_value(w, "out", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 4);
	pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(w, "embed"), out);
	n.n_in = 1;
	n.in[0] = ids;
	n.n_w = 4;
	n.w[PNB_W_EMBED_TABLE] = pnb_w_tensor(w, "E", PNB_DTYPE_F32, 2, sh, table);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_NONE;
	n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	pnb_w_node(w, &n);
	h.name = pnb_w_string(w, name);
	h.input = ids;
	h.output = out;
	h.max_tokens = max_tokens;
	h.tokenizer = PNB_TOKENIZER_NONE;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(w, &h);
	r = pnb_w_finish(w, path, err);
	pnb_writer_free(w);
	return r;
}
