/* SPDX-License-Identifier: MIT */
/*
 * twins_int.h - what the CPU twins (tests/cuda_double/twins_*.c) share: one
 * launch's context (struct tw), its parameter readers, the checked device
 * spans every twin takes its host pointers from, the launch-shape checks,
 * and the twins' prototypes (the table of twins.c names them).
 */
#ifndef CUD_TWINS_INT_H
#define CUD_TWINS_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ptxi_dev;

/* One launch as cud_twin_run got it; grid and block with 0 read as 1 (as ptxi does). */
struct tw {
	struct ptxi_dev *d;
	const char *entry;
	uint32_t grid[3], block[3];
	uint32_t dyn_shared;
	void *const *params;
	char *msg;
	size_t msg_len;
};

static inline uint64_t tw_u64(const struct tw *t, unsigned i)
{
	uint64_t v;

	memcpy(&v, t->params[i], sizeof v);
	return v;
}

static inline uint32_t tw_u32(const struct tw *t, unsigned i)
{
	uint32_t v;

	memcpy(&v, t->params[i], sizeof v);
	return v;
}

static inline float tw_f32(const struct tw *t, unsigned i)
{
	float v;

	memcpy(&v, t->params[i], sizeof v);
	return v;
}

/*
 * The host bytes of [addr, addr + bytes) of one allocation, addr a multiple
 * of align; NULL with t->msg naming the entry, param, address and bytes
 * otherwise. bytes == 0 gives a non-NULL pointer that must not be read (an
 * empty range touches nothing, whatever its address).
 */
void *tw_span(struct tw *t, const char *param, uint64_t addr, uint64_t bytes, uint32_t align);

/* n * size in bytes, or UINT64_MAX on overflow (which no span has). */
static inline uint64_t tw_bytes(uint64_t n, uint64_t size)
{
	uint64_t r;

	return __builtin_mul_overflow(n, size, &r) ? UINT64_MAX : r;
}

/* -EINVAL with t->msg "entry: ..." */
int tw_inval(struct tw *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The block is (x, 1, 1) with x a multiple of mult and at most max: the row
 * kernels' warp reductions need whole warps. 0 or -EINVAL.
 */
int tw_block_1d(struct tw *t, uint32_t mult, uint32_t max);

/* The block has at most max threads in all (a .maxntid): 0 or -EINVAL. */
int tw_block_max(struct tw *t, uint32_t max);

/* Bytes of rows of cols elements at a pitch of pitch elements: the last row ends early. */
static inline uint64_t tw_extent(uint64_t rows, uint64_t pitch, uint64_t cols, uint64_t size)
{
	uint64_t n = tw_bytes(rows - 1, pitch);

	if (!rows || !cols)
		return 0;
	return n > UINT64_MAX - cols ? UINT64_MAX : tw_bytes(n + cols, size);
}

/* Takes ptr = tw_span(...) or returns -EFAULT from the calling twin. */
#define TW_SPAN(ptr, t, param, addr, bytes, align)                                      \
	do {                                                                            \
		if (!((ptr) = tw_span((t), (param), (addr), (bytes), (align))))          \
			return -EFAULT;                                                 \
	} while (0)

/* The twins, by .entry (kernels/ptx/<file>.ptx). */
int tw_embed_f32(struct tw *t);
int tw_gemm_f32(struct tw *t);
int tw_gemm_f32_rows(struct tw *t);
int tw_gemm_bf16(struct tw *t);
int tw_layernorm_f32(struct tw *t);
int tw_rmsnorm_f32(struct tw *t);
int tw_act_f32(struct tw *t);
int tw_add_f32(struct tw *t);
int tw_add_rows_f32(struct tw *t);
int tw_l2norm_f32(struct tw *t);
int tw_softmax_f32(struct tw *t);
int tw_glu_f32(struct tw *t);
int tw_pool_mean_f32(struct tw *t);
int tw_pool_cls_f32(struct tw *t);
int tw_attention_fwd(struct tw *t);
int tw_attention_tiled(struct tw *t);
int tw_cheb_series(struct tw *t);
int tw_vq_assign(struct tw *t);
int tw_vq_gather(struct tw *t);
int tw_polyffn_code_table(struct tw *t);
int tw_cqa_hash(struct tw *t);
int tw_cqa_attend(struct tw *t);
int tw_macro_route(struct tw *t);
int tw_macro_expert_fwd(struct tw *t);

#endif /* CUD_TWINS_INT_H */
