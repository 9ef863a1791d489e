/* SPDX-License-Identifier: MIT */
/*
 * ptxi_race.c - the shared-memory race check (on unless ptxi_set_race_check
 * or PTXI_RACE_CHECK=0 in the environment turns it off). The interpreter runs threads
 * one after another, so a missing bar.sync would go unseen: here every
 * shared byte remembers the thread that last wrote it and the warp(s) that
 * read it, with the barrier epoch of each. Two threads of different warps
 * touching one byte in the same epoch, at least one of them writing, is a
 * race. Accesses within a warp are not checked (its lanes are ordered by
 * the collectives the kernel uses), nor atomics (they are meant to race),
 * nor a write of the byte a write of this epoch left there (the benign
 * "every writer stores 1" flag).
 *
 * Global memory gets the same between CTAs of one launch (there is no grid
 * barrier in the dialect): a CTA reading a byte another CTA wrote in the
 * launch, or overwriting it with a different value, faults. CTAs run one
 * after another here, so such a kernel would pass on the CPU and depend
 * on scheduling on the GPU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_int.h"

#define MULTI_WARP 0xffffu

int ptxi_race_init(struct ptxi_cta *c)
{
	size_t n = (size_t)c->shared_bytes + 1;
	c->race_wt = calloc(n, sizeof *c->race_wt);
	c->race_wep = calloc(n, sizeof *c->race_wep);
	c->race_rw = calloc(n, sizeof *c->race_rw);
	c->race_rep = calloc(n, sizeof *c->race_rep);
	return c->race_wt && c->race_wep && c->race_rw && c->race_rep ? 0 : -ENOMEM;
}

void ptxi_race_free(struct ptxi_cta *c)
{
	free(c->race_wt);
	free(c->race_wep);
	free(c->race_rw);
	free(c->race_rep);
}

static int race(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		uint32_t off, const char *what, uint32_t other, uint32_t warp)
{
	if (other != UINT32_MAX) {
		const struct ptxi_thread *o = &c->t[other];
		return ptxi_fault(c, t, in, -EAGAIN, "shared-memory race at offset %u: thread "
				  "(%u,%u,%u) of warp %u %s it since the last barrier", off,
				  o->tid[0], o->tid[1], o->tid[2], o->warp, what);
	}
	if (warp == MULTI_WARP)
		return ptxi_fault(c, t, in, -EAGAIN, "shared-memory race at offset %u: threads of "
				  "other warps %s it since the last barrier", off, what);
	return ptxi_fault(c, t, in, -EAGAIN, "shared-memory race at offset %u: a thread of warp "
			  "%u %s it since the last barrier", off, warp, what);
}

/*
 * Records an access of [off, off+n) by t in the current epoch; a race
 * faults. wdata: the bytes a write stores (NULL for a read).
 */
int ptxi_race_access(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		     uint32_t off, uint32_t n, const void *wdata)
{
	uint32_t ep = c->epoch;
	const uint8_t *wd = wdata;
	int write = wd != NULL;

	for (uint32_t i = off; i < off + n; i++) {
		uint32_t w = c->race_wt[i];	/* writer + 1 */
		int same = write && c->shared[i] == wd[i - off];
		if (c->race_wep[i] == ep && w && w - 1 != t->ltid && c->t[w - 1].warp != t->warp &&
		    !same)
			return race(c, t, in, i, "wrote", w - 1, 0);
		if (write) {
			if (c->race_rep[i] == ep && c->race_rw[i] != t->warp)
				return race(c, t, in, i, "read", UINT32_MAX, c->race_rw[i]);
			c->race_wt[i] = (uint16_t)(t->ltid + 1);
			c->race_wep[i] = ep;
		} else if (c->race_rep[i] != ep) {
			c->race_rw[i] = (uint16_t)t->warp;
			c->race_rep[i] = ep;
		} else if (c->race_rw[i] != t->warp)
			c->race_rw[i] = MULTI_WARP;
	}
	return 0;
}

int ptxi_grace_access(struct ptxi_cta *c, struct ptxi_thread *t, const struct ptxi_insn *in,
		      uint64_t addr, uint32_t n, const void *wdata)
{
	struct ptxi_dev *d = c->dev;
	struct ptxi_alloc *a = &d->a[d->last];
	const uint8_t *wd = wdata;
	uint32_t me = 1 + c->ctaid[0] + c->nctaid[0] * (c->ctaid[1] + c->nctaid[1] * c->ctaid[2]);

	if (!a->wcta) {
		a->wcta = calloc(a->size + 1, sizeof *a->wcta);
		a->wlaunch = calloc(a->size + 1, sizeof *a->wlaunch);
		if (!a->wcta || !a->wlaunch)
			return ptxi_fault(c, t, in, -ENOMEM, "out of memory (race check)");
	}
	for (uint64_t i = addr - a->base; i < addr - a->base + n; i++) {
		uint32_t w = a->wcta[i];
		if (a->wlaunch[i] == d->launch && w != me && (!wd || a->data[i] != wd[i - (addr - a->base)])) {
			uint32_t o = w - 1, x = o % c->nctaid[0], y = o / c->nctaid[0] % c->nctaid[1],
				 z = o / (c->nctaid[0] * c->nctaid[1]);
			return ptxi_fault(c, t, in, -EAGAIN, "global-memory race at 0x%llx: CTA "
					  "(%u,%u,%u) wrote it in this launch, and this CTA %s it",
					  (unsigned long long)(a->base + i), x, y, z,
					  wd ? "overwrites" : "reads");
		}
		if (wd) {
			a->wcta[i] = me;
			a->wlaunch[i] = d->launch;
		}
	}
	return 0;
}
