/* SPDX-License-Identifier: MIT */
/*
 * ptxi_mem.c - the simulated address spaces: global memory as ptxi_dev
 * allocations (each bounds-checked, a red zone between them), the CTA's
 * shared memory, each thread's .local and the kernel's params; and the
 * memory instructions: ld, st, atom, red, cp.async.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_int.h"

#define DEV_BASE 0x10000000ull
#define RED_ZONE 4096u		/* unmapped bytes after every allocation */

struct ptxi_dev *ptxi_dev_new(void)
{
	struct ptxi_dev *d = calloc(1, sizeof *d);
	if (d)
		d->next = DEV_BASE;
	return d;
}

void ptxi_dev_free(struct ptxi_dev *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->a[i].data);
		free(d->a[i].wcta);
		free(d->a[i].wlaunch);
	}
	free(d->a);
	free(d);
}

uint64_t ptxi_alloc(struct ptxi_dev *d, size_t bytes)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct ptxi_alloc *na = realloc(d->a, cap * sizeof *na);
		if (!na)
			return 0;
		d->a = na;
		d->cap = cap;
	}
	/* fresh device memory holds garbage on a GPU; 0xcd makes that visible */
	uint8_t *data = malloc(bytes ? bytes : 1);
	if (!data)
		return 0;
	memset(data, 0xcd, bytes ? bytes : 1);
	struct ptxi_alloc *a = &d->a[d->n++];
	*a = (struct ptxi_alloc){ .base = d->next, .size = bytes, .data = data };
	d->next = (a->base + bytes + RED_ZONE + 255) & ~255ull;
	return a->base;
}

/* Allocations are made in increasing address order: a binary search finds one. */
static size_t find_index(const struct ptxi_dev *d, uint64_t addr)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->a[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;	/* 1 + the last allocation starting at or below addr; 0: none */
}

/* Removing keeps the array sorted; d->next only grows, so no address comes back. */
int ptxi_dev_release(struct ptxi_dev *d, uint64_t addr)
{
	size_t i = find_index(d, addr);
	if (!i || d->a[i - 1].base != addr)
		return -EINVAL;
	struct ptxi_alloc *a = &d->a[i - 1];
	free(a->data);
	free(a->wcta);
	free(a->wlaunch);
	memmove(a, a + 1, (d->n - i) * sizeof *a);
	d->n--;
	d->last = 0;
	return 0;
}

uint8_t *ptxi_dev_span(struct ptxi_dev *d, uint64_t addr, size_t n)
{
	if (d->n && addr >= d->a[d->last].base && addr - d->a[d->last].base + n <= d->a[d->last].size)
		return d->a[d->last].data + (addr - d->a[d->last].base);
	size_t lo = find_index(d, addr);
	if (!lo)
		return NULL;
	struct ptxi_alloc *a = &d->a[lo - 1];
	if (addr - a->base > a->size || addr - a->base + n > a->size)
		return NULL;
	d->last = lo - 1;
	return a->data + (addr - a->base);
}

int ptxi_write(struct ptxi_dev *d, uint64_t addr, const void *src, size_t n)
{
	uint8_t *p = ptxi_dev_span(d, addr, n);
	if (!p)
		return -EFAULT;
	memcpy(p, src, n);
	return 0;
}

int ptxi_read(struct ptxi_dev *d, uint64_t addr, void *dst, size_t n)
{
	uint8_t *p = ptxi_dev_span(d, addr, n);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, n);
	return 0;
}

static const char *const space_name[] = { "generic", "param", "global", "shared", "local" };

/* The host bytes behind [addr, addr+n) of a state space, or NULL after a fault. */
uint8_t *ptxi_addr(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		   int space, uint64_t addr, uint32_t n, int write)
{
	uint8_t *p = NULL;

	if (space == SP_NONE) {	/* generic: the window decides */
		if (addr >= PTXI_SHARED_WIN && addr < PTXI_SHARED_WIN + PTXI_WIN_SIZE) {
			space = SP_SHARED;
			addr -= PTXI_SHARED_WIN;
		} else if (addr >= PTXI_LOCAL_WIN && addr < PTXI_LOCAL_WIN + PTXI_WIN_SIZE) {
			space = SP_LOCAL;
			addr -= PTXI_LOCAL_WIN;
		} else
			space = SP_GLOBAL;
	}
	if (n > 1 && (addr & (n - 1))) {
		ptxi_fault(c, t, in, -EFAULT, "misaligned %u-byte %s access at 0x%llx", n,
			   space_name[space], (unsigned long long)addr);
		return NULL;
	}
	switch (space) {
	case SP_GLOBAL:
		p = ptxi_dev_span(c->dev, addr, n);
		break;
	case SP_SHARED:
		if (addr < c->shared_bytes && addr + n <= c->shared_bytes)
			p = c->shared + addr;
		break;
	case SP_LOCAL:
		if (addr < c->k->local_bytes && addr + n <= c->k->local_bytes)
			p = t->local + addr;
		break;
	case SP_PARAM:
		if (!write && addr < c->k->param_bytes && addr + n <= c->k->param_bytes)
			p = c->param + addr;
		break;
	}
	c->last_space = space;
	c->last_off = (uint32_t)addr;
	c->last_addr = addr;
	if (!p) {
		uint64_t size = space == SP_SHARED ? c->shared_bytes :
				space == SP_LOCAL ? c->k->local_bytes :
				space == SP_PARAM ? c->k->param_bytes : 0;
		if (space == SP_GLOBAL)
			ptxi_fault(c, t, in, -EFAULT, "out-of-bounds global %s of %u bytes at 0x%llx "
				   "(no allocation holds it)", write ? "write" : "read", n,
				   (unsigned long long)addr);
		else
			ptxi_fault(c, t, in, -EFAULT, "out-of-bounds %s %s of %u bytes at offset %llu "
				   "(%llu bytes exist)", space_name[space], write ? "write" : "read",
				   n, (unsigned long long)addr, (unsigned long long)size);
	}
	return p;
}

/* The address an operand [reg+imm] / [sym+imm] names, in its state space. */
int ptxi_mem_addr(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		  const struct ptxi_opnd *o, uint64_t *addr)
{
	uint64_t base = 0;

	if (o->r[0] >= 0) {
		if (ptxi_get_reg(c, t, in, o->r[0], &base))
			return -EFAULT;
	} else if (o->sym >= 0) {
		const struct ptxi_sym *s = &c->k->syms[o->sym];
		base = s->off;
		if (in->space == SP_NONE)	/* a symbol in a generic access: its window */
			base += s->kind == SYM_LOCAL ? PTXI_LOCAL_WIN :
				s->kind == SYM_PARAM ? 0 : PTXI_SHARED_WIN;
	}
	*addr = base + (uint64_t)o->imm;
	return 0;
}

int ptxi_ldst(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	int ld = in->op == OP_LD;
	const struct ptxi_opnd *data = &in->o[ld ? 0 : 1], *ao = &in->o[ld ? 1 : 0];
	uint32_t esz = (uint32_t)ptxi_type_bits(in->type) / 8, nv = in->vec ? in->vec : 1;
	uint64_t addr, v;
	uint8_t *p;

	if (ptxi_mem_addr(c, t, in, ao, &addr))
		return -EFAULT;
	if (!(p = ptxi_addr(c, t, in, in->space, addr, esz * nv, !ld)))
		return -EFAULT;
	int race = c->race_on && c->last_space == SP_SHARED;
	int grace = c->race_on && c->last_space == SP_GLOBAL;
	uint32_t off = c->last_off;
	uint64_t gaddr = c->last_addr;
	if (race && ld && ptxi_race_access(c, t, in, off, esz * nv, NULL))
		return -EAGAIN;
	if (grace && ld && ptxi_grace_access(c, t, in, gaddr, esz * nv, NULL))
		return -EAGAIN;
	for (uint32_t i = 0; i < nv; i++) {
		int32_t r = data->kind == K_VEC ? data->r[i] : data->r[0];
		if (ld) {
			uint64_t raw = 0;
			memcpy(&raw, p + i * esz, esz);	/* little endian, as the GPU */
			if (in->type == T_S8)	/* into a 32-bit register, sign-extended */
				raw = (uint32_t)(int32_t)(int8_t)raw;
			if (r >= 0)
				ptxi_set(t, r, raw);
		} else {
			if (data->kind == K_VEC) {
				if (r < 0)
					continue;
				if (ptxi_get_reg(c, t, in, r, &v))
					return -EFAULT;
			} else if (ptxi_get(c, t, in, data, in->type, &v))
				return -EFAULT;
			if (race && ptxi_race_access(c, t, in, off + i * esz, esz, &v))
				return -EAGAIN;
			if (grace && ptxi_grace_access(c, t, in, gaddr + i * esz, esz, &v))
				return -EAGAIN;
			memcpy(p + i * esz, &v, esz);
		}
	}
	return 0;
}

int ptxi_atom(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	int atom = in->op == OP_ATOM;
	const struct ptxi_opnd *ao = &in->o[atom];
	uint32_t sz = (uint32_t)ptxi_type_bits(in->type) / 8;
	uint64_t addr, b, cv = 0, old = 0, nv;
	uint8_t *p;

	if (ptxi_mem_addr(c, t, in, ao, &addr) || ptxi_get(c, t, in, &in->o[atom + 1], in->type, &b))
		return -EFAULT;
	if (in->mode == M_CAS && ptxi_get(c, t, in, &in->o[atom + 2], in->type, &cv))
		return -EFAULT;
	if (!(p = ptxi_addr(c, t, in, in->space, addr, sz, 1)))
		return -EFAULT;
	memcpy(&old, p, sz);
	/* threads run one at a time, so the read-modify-write is atomic by construction */
	switch (in->mode) {
	case M_ADD:
		nv = in->type == T_F32 ? ptxi_fbits(ptxi_f(old) + ptxi_f(b)) : old + b;
		break;
	case M_MINOP: case M_MAXOP: {
		int lt = in->type == T_S32 ? (int32_t)old < (int32_t)b : (uint32_t)old < (uint32_t)b;
		nv = (in->mode == M_MINOP) == lt ? old : b;
		break;
	}
	case M_EXCH:
		nv = b;
		break;
	default:	/* M_CAS: b is the compare value, cv the new one */
		nv = old == b ? cv : old;
		break;
	}
	memcpy(p, &nv, sz);
	if (atom)
		ptxi_set(t, in->o[0].r[0], old);
	return 0;
}

/*
 * cp.async: the addresses are checked now (the fault names this
 * instruction), the copy is made when the group is waited for.
 */
int ptxi_cp_async(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in)
{
	uint64_t dst, src, srcn = (uint64_t)in->o[2].imm;
	uint32_t n = (uint32_t)in->o[2].imm;

	if (ptxi_mem_addr(c, t, in, &in->o[0], &dst) || ptxi_mem_addr(c, t, in, &in->o[1], &src))
		return -EFAULT;
	if (in->nops == 4 && ptxi_get(c, t, in, &in->o[3], T_U32, &srcn))
		return -EFAULT;
	if (srcn > n)
		return ptxi_fault(c, t, in, -EINVAL, "cp.async src-size %llu > %u",
				  (unsigned long long)srcn, n);
	if (!ptxi_addr(c, t, in, SP_SHARED, dst, n, 1))
		return -EFAULT;
	if (srcn && !ptxi_addr(c, t, in, SP_GLOBAL, src, (uint32_t)srcn, 0))
		return -EFAULT;
	if ((src & (n - 1)))
		return ptxi_fault(c, t, in, -EFAULT, "misaligned cp.async source 0x%llx",
				  (unsigned long long)src);
	if (t->ncpa == t->cpacap) {
		uint32_t cap = t->cpacap ? t->cpacap * 2 : 8;
		struct ptxi_cpa *na = realloc(t->cpa, cap * sizeof *na);
		if (!na)
			return ptxi_fault(c, t, in, -ENOMEM, "out of memory");
		t->cpa = na;
		t->cpacap = cap;
	}
	t->cpa[t->ncpa++] = (struct ptxi_cpa){ .dst = (uint32_t)dst, .src = src, .n = n,
					       .srcn = (uint32_t)srcn, .group = t->cpa_group };
	return 0;
}

/* Completes the copies of groups older than `keep` most recent committed ones. */
int ptxi_cp_wait(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		 int64_t keep, int all)
{
	uint32_t w = 0;
	for (uint32_t i = 0; i < t->ncpa; i++) {
		struct ptxi_cpa *a = &t->cpa[i];
		int done = all || (a->group < t->cpa_group &&
				   (int64_t)(t->cpa_group - a->group) > keep);
		if (!done) {
			t->cpa[w++] = *a;
			continue;
		}
		uint8_t bytes[16] = { 0 };	/* past src-size: the zero fill */
		if (a->srcn) {
			memcpy(bytes, ptxi_dev_span(c->dev, a->src, a->srcn), a->srcn);
			if (c->race_on && ptxi_grace_access(c, t, in, a->src, a->srcn, NULL))
				return -EAGAIN;
		}
		/* the copy is the issuing thread's write, made now */
		if (c->race_on && ptxi_race_access(c, t, in, a->dst, a->n, bytes))
			return -EAGAIN;
		memcpy(c->shared + a->dst, bytes, a->n);
	}
	t->ncpa = w;
	return 0;
}
