// SPDX-License-Identifier: MIT
/*
 * twins.c - cud_twin_run's table (.entry name, parameter count, twin) and
 * dispatch, and the helpers of twins_int.h: checked device spans and the
 * launch-shape refusals. The twins themselves live in twins_<family>.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/cuda_double/twins.h"
#include "tests/cuda_double/twins_int.h"
#include "tests/ptx/ptxi_int.h"

struct twin {
	const char *entry;
	uint32_t n_params;	/* the kernel's .param count */
	int (*run)(struct tw *t);
};

static const struct twin twins[] = {
	{ "embed_f32", 11, tw_embed_f32 },
	{ "gemm_f32", 8, tw_gemm_f32 },
	{ "gemm_f32_rows", 8, tw_gemm_f32_rows },
	{ "layernorm_f32", 7, tw_layernorm_f32 },
	{ "rmsnorm_f32", 6, tw_rmsnorm_f32 },
	{ "act_f32", 4, tw_act_f32 },
	{ "add_f32", 4, tw_add_f32 },
	{ "add_rows_f32", 6, tw_add_rows_f32 },
	{ "l2norm_f32", 5, tw_l2norm_f32 },
	{ "softmax_f32", 4, tw_softmax_f32 },
	{ "glu_f32", 5, tw_glu_f32 },
	{ "pool_mean_f32", 6, tw_pool_mean_f32 },
	{ "pool_cls_f32", 5, tw_pool_cls_f32 },
	{ "attention_fwd", 8, tw_attention_fwd },
	{ "attention_tiled", 8, tw_attention_tiled },
	{ "gemm_bf16", 10, tw_gemm_bf16 },
	{ "cheb_series", 10, tw_cheb_series },
	{ "vq_assign", 8, tw_vq_assign },
	{ "vq_gather", 5, tw_vq_gather },
	{ "polyffn_code_table", 15, tw_polyffn_code_table },
	{ "cqa_hash", 8, tw_cqa_hash },
	{ "cqa_attend", 12, tw_cqa_attend },
	{ "macro_route", 11, tw_macro_route },
	{ "macro_expert_fwd", 17, tw_macro_expert_fwd },
};

static const struct twin *find(const char *entry)
{
	if (!entry)
		return NULL;
	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++)
		if (!strcmp(twins[i].entry, entry))
			return &twins[i];
	return NULL;
}

int cud_twin_has(const char *entry)
{
	return find(entry) != NULL;
}

static void set_msg(struct tw *t, const char *fmt, va_list ap)
{
	int n;

	if (!t->msg || !t->msg_len)
		return;
	n = snprintf(t->msg, t->msg_len, "%s: ", t->entry);
	if (n >= 0 && (size_t)n < t->msg_len)
		vsnprintf(t->msg + n, t->msg_len - (size_t)n, fmt, ap);
}

static void msgf(struct tw *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msgf(struct tw *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_msg(t, fmt, ap);
	va_end(ap);
}

int tw_inval(struct tw *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_msg(t, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void *tw_span(struct tw *t, const char *param, uint64_t addr, uint64_t bytes, uint32_t align)
{
	/* An empty range is touched by no load: any address will do, as on the GPU. */
	static uint8_t empty[16] __attribute__((aligned(16)));
	uint8_t *p;

	if (bytes == 0)
		return empty;
	if (align > 1 && addr % align) {
		msgf(t, "param %s: address 0x%llx is not %u-byte aligned", param,
		     (unsigned long long)addr, align);
		return NULL;
	}
	p = bytes == UINT64_MAX || bytes > SIZE_MAX ? NULL : ptxi_dev_span(t->d, addr, (size_t)bytes);
	if (!p)
		msgf(t, "param %s: [0x%llx, +%llu bytes) is outside every allocation", param,
		     (unsigned long long)addr, (unsigned long long)bytes);
	return p;
}

int tw_block_1d(struct tw *t, uint32_t mult, uint32_t max)
{
	if (t->block[1] != 1 || t->block[2] != 1 || t->block[0] % mult || t->block[0] > max)
		return tw_inval(t, "block (%u, %u, %u): the kernel takes (%u k, 1, 1) up to %u threads",
				t->block[0], t->block[1], t->block[2], mult, max);
	return 0;
}

int tw_block_max(struct tw *t, uint32_t max)
{
	uint64_t n = (uint64_t)t->block[0] * t->block[1] * t->block[2];

	if (n > max)
		return tw_inval(t, "block (%u, %u, %u): more than the kernel's %u threads",
				t->block[0], t->block[1], t->block[2], max);
	return 0;
}

int cud_twin_run(struct ptxi_dev *d, const char *entry, const uint32_t grid[3],
		 const uint32_t block[3], uint32_t dyn_shared, void *const *params,
		 uint32_t n_params, char *msg, size_t msg_len)
{
	const struct twin *w = find(entry);
	struct tw t = { .d = d, .entry = entry ? entry : "(null)", .dyn_shared = dyn_shared,
			.params = params, .msg = msg, .msg_len = msg_len };

	if (msg && msg_len)
		msg[0] = '\0';
	if (!w) {
		msgf(&t, "no CPU twin");
		return -ENOENT;
	}
	if (n_params != w->n_params || (n_params && !params))
		return tw_inval(&t, "%u params, the kernel takes %u", n_params, w->n_params);
	for (uint32_t i = 0; i < n_params; i++)
		if (!params[i])
			return tw_inval(&t, "param %u is NULL", i);
	for (int i = 0; i < 3; i++) {
		t.grid[i] = grid && grid[i] ? grid[i] : 1;
		t.block[i] = block && block[i] ? block[i] : 1;
	}
	return w->run(&t);
}
