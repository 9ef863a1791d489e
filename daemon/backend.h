/* SPDX-License-Identifier: MIT */
/*
 * backend.h - where polynetd runs jobs. A backend owns worker threads that
 * take batches from the scheduler (pn_sched_pick), run them and post the
 * completions (pnd_job_complete). The CPU backend is backend_cpu.c; a CUDA
 * backend fills the same table.
 */
#ifndef PND_BACKEND_H
#define PND_BACKEND_H

#include "daemon.h"

struct pnd_backend_ops {
	const char *name;
	/* Starts the workers (cold). */
	int (*start)(struct pnd *d, struct pnd_backend **out, struct pn_err *e);
	/* Workers finish the batch in hand, drop their executors and exit. */
	void (*stop)(struct pnd *d, struct pnd_backend *b);
};

extern const struct pnd_backend_ops pnd_backend_cpu;

#endif /* PND_BACKEND_H */
