/* SPDX-License-Identifier: MIT */
/*
 * client_impl.h - the client library's private state, shared by its two
 * halves: client.c (control plane, opening a session) and session_io.c
 * (the data plane: submit, wait, wake-ups). Not installed, not an API.
 */
#ifndef PN_CLIENT_IMPL_H
#define PN_CLIENT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/client.h"
#include "transport/ring.h"
#include "transport/segment.h"
#include "uapi/proto.h"
#include "uapi/ring.h"

#define PN_SPIN_US_DEFAULT	20	/* PN_WAIT_ADAPTIVE's spin before it sleeps */

struct io_uring;

struct pn_client {
	int fd;
	uint32_t seq;
	struct pn_hello_rep hello;
	char path[108];
};

struct pn_session {
	struct pn_client *c;
	struct pn_seg_map seg;		/* the segment, its fds and rings */
	uint64_t spin_ns;		/* PN_WAIT_ADAPTIVE */
	uint64_t efd_buf;		/* pn_prep_wait_sqe's read target (eventfd) */
	/*
	 * The session's own io_uring: futex sessions submit their doorbell
	 * FUTEX_WAKE and sleep in FUTEX_WAIT on the CQ's wake word there (with
	 * a poll on the control socket: a daemon that dies wakes it);
	 * eventfd sessions use it for PN_WAIT_URING. Created at open for futex
	 * sessions, on first use otherwise.
	 */
	struct io_uring *uring;
	bool cq_wait_armed;		/* a FUTEX_WAIT (or eventfd read) is pending */
	bool sock_armed;		/* the poll on the control socket is pending */
	bool uring_wake;		/* io_uring FUTEX_WAKE works (else futex(2)) */
	bool defer_doorbell;		/* pn_run: the sleep's io_uring_enter submits it */
	struct pn_wait_stats wstats;	/* pn_session_wait_stats */
};

/* Futex sessions: their io_uring (session_io.c). Cold. */
int pn_session_wake_init(struct pn_session *s, struct pn_err *e);
void pn_session_wake_fini(struct pn_session *s);

#endif /* PN_CLIENT_IMPL_H */
