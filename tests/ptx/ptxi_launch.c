/* SPDX-License-Identifier: MIT */
/*
 * ptxi_launch.c - ptxi_run: checks a launch against the kernel (params,
 * .reqntid/.maxntid, shared size), builds the param buffer, then runs the
 * CTAs one after another, each with fresh registers, shared and local
 * memory (ptxi_exec.c schedules the threads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptxi_int.h"

int ptxi_run_cta(struct ptxi_cta *c);

static uint32_t dim(uint32_t v)
{
	return v ? v : 1;
}

static int launch_err(struct ptxi_err *e, const struct ptxi_module *m, const struct ptxi_kernel *k,
		      const char *what)
{
	snprintf(e->msg, sizeof e->msg, "kernel %s (%s:%d): launch: %s", k ? k->name : "?", m->file,
		 k ? k->line : 0, what);
	return -EINVAL;
}

void ptxi_last_stats(const struct ptxi_module *m, struct ptxi_stats *st)
{
	*st = m->last;
}

void ptxi_set_budget(struct ptxi_module *m, uint64_t instructions)
{
	m->budget = instructions;
}

void ptxi_set_race_check(struct ptxi_module *m, int on)
{
	m->race_check = on != 0;
}

/*
 * PTXI_RUN_LOG=FILE: one line "MODULE KERNEL" per launch that ran without a
 * fault, so that tests/run_all.sh can say which kernels of kernels/ptx/ ran
 * in suites that passed. Cold: a launch interprets far more than an fopen.
 */
static void log_run(const struct ptxi_module *m, const struct ptxi_kernel *k)
{
	const char *path = getenv("PTXI_RUN_LOG");
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "a")))
		return;
	fprintf(f, "%s %s\n", m->file, k->name);
	fclose(f);
}

static void setup_threads(struct ptxi_cta *c)
{
	uint32_t nr = c->k->nregs;
	memset(c->regi, 0, (size_t)c->nthreads * nr);
	for (uint32_t i = 0; i < c->nthreads; i++) {
		struct ptxi_thread *t = &c->t[i];
		struct ptxi_cpa *cpa = t->cpa;
		uint32_t cap = t->cpacap;
		uint8_t *local = t->local;
		memset(t, 0, sizeof *t);
		t->cpa = cpa;
		t->cpacap = cap;
		t->local = local;
		t->ltid = i;
		t->tid[0] = i % c->ntid[0];
		t->tid[1] = i / c->ntid[0] % c->ntid[1];
		t->tid[2] = i / (c->ntid[0] * c->ntid[1]);
		t->lane = i % 32;
		t->warp = i / 32;
		t->r = c->regs + (size_t)i * nr;
		t->ri = c->regi + (size_t)i * nr;
	}
}

int ptxi_run(struct ptxi_module *m, struct ptxi_dev *d, const char *kernel,
	     const struct ptxi_launch *l, struct ptxi_err *e)
{
	struct ptxi_kernel *k = NULL;
	struct ptxi_cta c = { .m = m, .dev = d, .e = e, .l = l };
	int rc = 0;

	e->msg[0] = 0;
	memset(&m->last, 0, sizeof m->last);
	for (uint32_t i = 0; i < m->nk; i++)
		if (!strcmp(m->k[i].name, kernel))
			k = &m->k[i];
	if (!k) {
		snprintf(e->msg, sizeof e->msg, "%s: no kernel '%s'", m->file, kernel);
		return -ENOENT;
	}
	c.k = k;
	for (int i = 0; i < 3; i++) {
		c.ntid[i] = dim(l->block[i]);
		c.nctaid[i] = dim(l->grid[i]);
		if (k->reqntid[0] && c.ntid[i] != k->reqntid[i])
			return launch_err(e, m, k, "block does not match .reqntid");
	}
	c.nthreads = c.ntid[0] * c.ntid[1] * c.ntid[2];
	if (c.nthreads > 1024 || (k->maxntid[0] &&
	    c.nthreads > k->maxntid[0] * k->maxntid[1] * k->maxntid[2]))
		return launch_err(e, m, k, "too many threads per CTA (.maxntid or 1024)");
	if (l->n_params != k->nparams || (k->nparams && !l->params))
		return launch_err(e, m, k, "parameter count differs from the kernel's");
	if (l->dyn_shared && !k->has_extern)
		return launch_err(e, m, k, "dyn_shared without an .extern .shared array");
	c.shared_bytes = k->has_extern ? k->shared_extern_off + l->dyn_shared : k->shared_static;
	if (c.shared_bytes > 228 * 1024)
		return launch_err(e, m, k, "more shared memory than an sm_90 CTA has");

	c.param = calloc(1, k->param_bytes + 1);
	c.shared = malloc(c.shared_bytes + 1);
	c.t = calloc(c.nthreads, sizeof *c.t);
	c.regs = malloc((size_t)c.nthreads * k->nregs * sizeof *c.regs + 1);
	c.regi = malloc((size_t)c.nthreads * k->nregs + 1);
	uint8_t *local = calloc((size_t)c.nthreads, k->local_bytes + 1);
	if (!c.param || !c.shared || !c.t || !c.regs || !c.regi || !local) {
		rc = launch_err(e, m, k, "out of memory");
		goto done;
	}
	for (uint32_t i = 0, p = 0; i < k->nsyms; i++)
		if (k->syms[i].kind == SYM_PARAM)
			memcpy(c.param + k->syms[i].off, l->params[p++], k->syms[i].size);
	for (uint32_t i = 0; i < c.nthreads; i++)
		c.t[i].local = local + (size_t)i * (k->local_bytes + 1);
	c.budget = m->budget ? m->budget : PTXI_BUDGET_ALL;
	d->launch++;	/* a new epoch for the global race check */
	const char *env = getenv("PTXI_RACE_CHECK");
	c.race_on = m->race_check >= 0 ? m->race_check : !(env && env[0] == '0');
	if (c.race_on && ptxi_race_init(&c)) {
		rc = launch_err(e, m, k, "out of memory");
		goto done;
	}
	for (uint32_t z = 0; z < c.nctaid[2] && !rc; z++)
		for (uint32_t y = 0; y < c.nctaid[1] && !rc; y++)
			for (uint32_t x = 0; x < c.nctaid[0] && !rc; x++) {
				c.ctaid[0] = x;
				c.ctaid[1] = y;
				c.ctaid[2] = z;
				/* shared memory starts as garbage on a GPU: so it does here */
				memset(c.shared, 0xcd, c.shared_bytes);
				memset(local, 0, (size_t)c.nthreads * (k->local_bytes + 1));
				setup_threads(&c);
				c.epoch++;	/* CTAs never share an epoch: no reset needed */
				rc = ptxi_run_cta(&c);
			}
	if (!rc)
		log_run(m, k);
done:
	ptxi_race_free(&c);
	if (c.t)
		for (uint32_t i = 0; i < c.nthreads; i++)
			free(c.t[i].cpa);
	free(local);
	free(c.param);
	free(c.shared);
	free(c.t);
	free(c.regs);
	free(c.regi);
	return rc;
}
