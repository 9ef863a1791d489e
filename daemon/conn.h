/* SPDX-License-Identifier: MIT */
/*
 * conn.h - a connection's I/O (conn.c): receiving one request, and replies
 * through a bounded outbox. A reply the socket cannot take now is queued
 * (with duplicates of its fds) and flushed when the loop sees POLLOUT; while
 * PND_OUTBOX_MAX replies or PND_OUTBOX_BYTES wait the loop reads no request
 * of that connection
 * (back-pressure): no reply is ever dropped while the peer is connected.
 * Threads: the loop thread only.
 */
#ifndef PND_CONN_H
#define PND_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "transport/proto.h"

#define PND_OUTBOX_MAX	64		/* queued replies before the conn's reads stop */
#define PND_OUTBOX_BYTES	(1u << 20)	/* or queued bytes (STAT documents are big) */

struct pnd_conn;

struct pnd_out_msg {
	struct pnd_out_msg *next;
	void *msg;
	size_t len;
	int fds[PN_PROTO_MAX_FDS], nfds;	/* ours: duplicates, closed once sent */
};

struct pnd_outbox {
	struct pnd_out_msg *head, *tail;
	uint32_t n;
	size_t bytes;
	/* set by the loop: a reply was queued while no POLLOUT is armed */
	void (*kick)(void *arg, struct pnd_conn *c);
	void *kick_arg;
};

/* Sends a reply now, else queues it; never drops it unless the peer is gone. */
int pnd_conn_reply(struct pnd_conn *c, uint16_t type, uint32_t seq, int status,
		   const void *body, size_t len, const char *msg, const int *fds, int nfds);
/* Sends queued replies: 0 when all went, -EAGAIN when some wait, else -errno. */
int pnd_conn_flush(struct pnd_conn *c);
/* The outbox is at PND_OUTBOX_MAX or PND_OUTBOX_BYTES: read no request. */
bool pnd_conn_full(const struct pnd_conn *c);
/* Frees queued replies and closes their fds (the conn is closing). */
void pnd_conn_drop_outbox(struct pnd_conn *c);

#define PND_CONN_ANSWERED	(-EBADMSG)	/* a malformed datagram got its reply */
/*
 * Receives one request into buf (PN_MSG_MAX): its length (0: an empty
 * datagram, for control.c to refuse), -EAGAIN, -ECONNRESET when the peer
 * closed, PND_CONN_ANSWERED for an oversized datagram or one of too many
 * fds (answered here), or another -errno.
 */
ssize_t pnd_conn_recv(struct pnd_conn *c, void *buf, int *fds, int *nfds, struct pn_err *e);

#endif /* PND_CONN_H */
