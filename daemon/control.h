/* SPDX-License-Identifier: MIT */
/*
 * control.h - the control plane (control.c): one handler per request of
 * uapi/proto.h, and the only part of polynetd that replies to clients
 * (a load's reply too: models.c reports through struct pnd_load_done).
 * Threads: the loop thread only.
 */
#ifndef PND_CONTROL_H
#define PND_CONTROL_H

#include "backend.h"
#include "conn.h"
#include "core.h"
#include "models.h"
#include "session.h"
#include "tenants.h"
#include "worker.h"

struct pnd_http;

/* A client connection (the loop accepts and polls it, control owns it). */
struct pnd_conn {
	struct pnd_ev ev;
	int fd;
	uint32_t uid, pid;
	bool dead;			/* closed by the loop: no more replies */
	uint32_t loads;			/* in progress: the conn outlives them */
	struct pnd_session *sessions;
	struct pnd_conn *prev, *next;	/* the loop's list */
	char client[32];
	struct pnd_outbox out;		/* conn.c's */
	uint32_t poll_mask;		/* the loop's armed poll, 0 when none */
};

struct pnd_control {
	/* set by the caller */
	struct pnd_models *models;
	struct pnd_sessions *sessions;
	struct pnd_tenants *tenants;
	struct pnd_work *work;
	const struct pnd_io *io;
	const struct pnd_backend_ops *bops;
	struct pnd_backend *be;
	uint32_t nworkers, idle_spin_us;
	uint64_t t_start_ns;
	const char *backend_why;	/* why auto chose the CPU ("" or NULL: it did not) */
	/* the loop's count, for STAT */
	uint32_t n_conns;
	/* the --metrics listener, or NULL; the loop answers its requests (http.h) */
	struct pnd_http *http;
};

/* One request from a connection; replies itself. */
void pnd_control(struct pnd_control *ctl, struct pnd_conn *c, const void *buf, size_t n,
		 int *fds, int nfds);
/* The loop closed c (c->dead set): frees it once no load refers to it. */
void pnd_conn_release(struct pnd_conn *c);

#endif /* PND_CONTROL_H */
