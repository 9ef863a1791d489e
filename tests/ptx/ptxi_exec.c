/* SPDX-License-Identifier: MIT */
/*
 * ptxi_exec.c - launches: the CTA scheduler and fault reporting.
 *
 * Each thread has its own pc and runs until it blocks (bar.sync, or a warp
 * collective whose lanes have not all arrived) or exits; the threads of a
 * CTA run round-robin. A collective fires as its last lane arrives
 * (ptxi_warp.c); a barrier releases when every thread of the CTA waits at
 * it. When nothing can run and the CTA has not finished, that is a barrier
 * divergence or a collective deadlock, reported with who waits where.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_int.h"

int ptxi_fault(struct ptxi_cta *c, const struct ptxi_thread *t,
	       const struct ptxi_insn *in, int err, const char *fmt, ...)
{
	char buf[320];
	va_list ap;

	if (c->failed)
		return err;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* a long message is cut, never overflows */
	int n = snprintf(c->e->msg, sizeof c->e->msg,
		 "kernel %s, CTA (%u,%u,%u), thread (%u,%u,%u): %s:%d: %s: ", c->k->name,
		 c->ctaid[0], c->ctaid[1], c->ctaid[2], t ? t->tid[0] : 0, t ? t->tid[1] : 0,
		 t ? t->tid[2] : 0, c->m->file, in ? in->line : c->k->line,
		 in ? in->text : "launch");
	size_t used = n < 0 ? 0 : (size_t)n < sizeof c->e->msg ? (size_t)n : sizeof c->e->msg - 1;
	size_t room = sizeof c->e->msg - 1 - used, bl = strlen(buf);
	memcpy(c->e->msg + used, buf, bl < room ? bl : room);
	c->e->msg[used + (bl < room ? bl : room)] = 0;
	c->failed = 1;
	return err;
}

static void thread_exit(struct ptxi_thread *t, uint32_t line)
{
	t->state = TS_EXIT;
	t->exit_line = line;	/* for the divergence message of those who wait for it */
}

/* Runs one thread until it blocks or exits. */
static int run_thread(struct ptxi_cta *c, struct ptxi_thread *t)
{
	const struct ptxi_insn *code = c->k->code;
	uint32_t n = c->k->ncode;
	uint64_t count = 0;
	int rc = 0;

	for (;;) {
		if (t->pc >= n) {	/* falling off the end is an exit */
			thread_exit(t, n ? (uint32_t)code[n - 1].line : 0);
			break;
		}
		const struct ptxi_insn *in = &code[t->pc];
		if (++count > c->budget) {
			rc = ptxi_fault(c, t, in, -ELOOP, "instruction budget exhausted (a loop that never ends?)");
			break;
		}
		if (in->guard >= 0) {
			if (!t->ri[in->guard]) {
				uint64_t v;
				rc = ptxi_get_reg(c, t, in, in->guard, &v);
				break;
			}
			if ((t->r[in->guard] & 1) == in->guard_neg) {
				t->pc++;
				continue;
			}
		}
		switch (in->op) {
		case OP_BRA:
			t->pc = (uint32_t)in->o[0].sym;
			continue;
		case OP_RET: case OP_EXIT:
			thread_exit(t, (uint32_t)in->line);
			goto out;
		case OP_BAR:
			t->state = TS_BAR;
			goto out;
		case OP_CPCOMMIT:
			t->cpa_group++;
			break;
		case OP_CPWAIT:
			if ((rc = ptxi_cp_wait(c, t, in, in->o[0].imm, 0)))
				goto out;
			break;
		case OP_CPWAITALL:
			if ((rc = ptxi_cp_wait(c, t, in, 0, 1)))
				goto out;
			break;
		case OP_SHFL: case OP_VOTE: case OP_MMA: case OP_LDMATRIX:
			if ((rc = ptxi_collective_arrive(c, t, in)))
				goto out;
			if (t->state == TS_COLL)
				goto out;
			continue;	/* it fired: every lane's pc has moved on */
		case OP_ACTIVEMASK: {
			uint32_t base = t->warp * 32, mask = 0;
			for (uint32_t l = 0; l < 32 && base + l < c->nthreads; l++)
				if (c->t[base + l].state != TS_EXIT)
					mask |= 1u << l;
			ptxi_set(t, in->o[0].r[0], mask);
			break;
		}
		default:
			if ((rc = ptxi_step(c, t, in)))
				goto out;
		}
		t->pc++;
	}
out:
	c->budget -= count < c->budget ? count : c->budget;
	c->m->last.instructions += count;
	return rc;
}

static const struct ptxi_thread *find_state(struct ptxi_cta *c, int state)
{
	for (uint32_t i = 0; i < c->nthreads; i++)
		if (c->t[i].state == state)
			return &c->t[i];
	return NULL;
}

/* Nothing can run: say who waits where, and why it cannot go on. */
static int diagnose(struct ptxi_cta *c)
{
	const struct ptxi_insn *code = c->k->code;
	const struct ptxi_thread *w = find_state(c, TS_BAR);

	if (w) {
		const struct ptxi_insn *bar = &code[w->pc];
		for (uint32_t i = 0; i < c->nthreads; i++) {
			const struct ptxi_thread *o = &c->t[i];
			if (o->state == TS_BAR && code[o->pc].o[0].imm == bar->o[0].imm)
				continue;
			if (o->state == TS_EXIT)
				return ptxi_fault(c, w, bar, -EDEADLK,
						  "barrier divergence: thread (%u,%u,%u) exited at %s:%u "
						  "and never reaches this barrier", o->tid[0], o->tid[1],
						  o->tid[2], c->m->file, o->exit_line);
			return ptxi_fault(c, w, bar, -EDEADLK,
					  "barrier divergence: thread (%u,%u,%u) waits at %s at %s:%d instead",
					  o->tid[0], o->tid[1], o->tid[2], code[o->pc].text, c->m->file,
					  code[o->pc].line);
		}
	}
	const struct ptxi_thread *cw = find_state(c, TS_COLL);
	if (cw) {
		const struct ptxi_insn *in = &code[cw->pc];
		for (uint32_t l = 0; l < 32; l++) {
			if (!(cw->cmask & (1u << l)))
				continue;
			const struct ptxi_thread *o = &c->t[cw->warp * 32 + l];
			if (o->state == TS_COLL && o->pc == cw->pc)
				continue;
			if (o->state == TS_EXIT)
				return ptxi_fault(c, cw, in, -EDEADLK,
						  "collective deadlock: lane %u of the member mask 0x%08x "
						  "exited at %s:%u", l, cw->cmask, c->m->file, o->exit_line);
			return ptxi_fault(c, cw, in, -EDEADLK,
					  "collective deadlock: lane %u of the member mask 0x%08x waits "
					  "at %s at %s:%d", l, cw->cmask, code[o->pc].text, c->m->file,
					  code[o->pc].line);
		}
	}
	return ptxi_fault(c, NULL, NULL, -EDEADLK, "deadlock");
}

int ptxi_run_cta(struct ptxi_cta *c)
{
	for (;;) {
		int again;
		do {
			again = 0;
			for (uint32_t i = 0; i < c->nthreads; i++) {
				if (c->t[i].state != TS_RUN)
					continue;
				if (run_thread(c, &c->t[i]))
					return -EFAULT;
				again = 1;
			}
		} while (again);
		uint32_t nexit = 0, nbar = 0;
		for (uint32_t i = 0; i < c->nthreads; i++) {
			nexit += c->t[i].state == TS_EXIT;
			nbar += c->t[i].state == TS_BAR;
		}
		if (nexit == c->nthreads)
			return 0;
		if (nbar != c->nthreads)
			return diagnose(c);
		int64_t id = c->k->code[c->t[0].pc].o[0].imm;
		for (uint32_t i = 0; i < c->nthreads; i++)
			if (c->k->code[c->t[i].pc].o[0].imm != id)
				return diagnose(c);
		for (uint32_t i = 0; i < c->nthreads; i++) {
			c->t[i].state = TS_RUN;
			c->t[i].pc++;
		}
		c->m->last.barriers++;
		c->epoch++;	/* a new phase for the race check */
	}
}
