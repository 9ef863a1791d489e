/* SPDX-License-Identifier: MIT */
/*
 * loop.h - polynetd's one io_uring event loop (loop.c): accepts on the
 * control socket, polls connections (handing each message to control.c),
 * reads the signalfd (SIGTERM:
 * clean stop), the notify eventfd (a worker saw a session break) and the
 * model files being loaded. It hands its services down as loop->io
 * (struct pnd_io in core.h). Threads: the loop thread only, except
 * io.notify (any thread).
 */
#ifndef PND_LOOP_H
#define PND_LOOP_H

#include "control.h"
#include "core.h"
#include "models.h"
#include "session.h"
#include "tenants.h"
#include "worker.h"

struct pnd_loop {
	/* set by the caller */
	int listen_fd, sig_fd, notify_fd;
	struct pnd_control *ctl;
	struct pnd_sessions *sessions;
	struct pnd_models *models;
	struct pnd_tenants *tenants;
	struct pnd_work *work;
	uint32_t max_conns_per_uid;	/* --max-conns-per-uid: a tenant's default */
	/* the loop's */
	struct pnd_io io;		/* pnd_loop_init fills it */
	struct pnd_ev accept_ev, sig_ev, notify_ev, backoff_ev;
	int reserve_fd;			/* /dev/null, given up to refuse at the fd limit */
	uint64_t log_s, log_dropped;	/* accept errors: one line a second */
	uint64_t notify_buf;
	struct pnd_conn *conns;
	void *ring;			/* struct io_uring while running */
};

/* Fills l->io (before any part below uses it). */
void pnd_loop_init(struct pnd_loop *l);
/* Runs until SIGTERM/SIGINT and the queued jobs are done. */
int pnd_loop_run(struct pnd_loop *l, struct pn_err *e);

#endif /* PND_LOOP_H */
