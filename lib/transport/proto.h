/* SPDX-License-Identifier: MIT */
/*
 * proto.h - framing and checking of control messages (uapi/proto.h),
 * shared by polynetd, the client library and the fuzzer. Cold path.
 */
#ifndef PN_PROTO_H
#define PN_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "uapi/proto.h"

#define PN_PROTO_MAX_FDS	4
#define PN_PROTO_RECV_FDS	16	/* a message's fds that recv can see at all */

/* Sends one message (header filled here) with nfds descriptors. */
int pn_proto_send(int sock, uint16_t type, uint32_t seq, const void *body, size_t len,
		  const int *fds, int nfds, struct pn_err *e);
/* Sends a reply: status 0 and body, or an error status and the line msg. */
int pn_proto_reply(int sock, uint16_t type, uint32_t seq, int status, const void *body,
		   size_t len, const char *msg, const int *fds, int nfds);

/*
 * A reply as one malloc'd message (header, struct pn_reply, body or line):
 * *len gets its size. NULL when out of memory. For a sender that may queue.
 */
void *pn_proto_build_reply(uint16_t type, uint32_t seq, int status, const void *body,
			   size_t len, const char *msg, size_t *out_len);
/* Sends a built message without blocking: 0, -EAGAIN when the socket is full, or -errno. */
int pn_proto_send_msg(int sock, const void *msg, size_t len, const int *fds, int nfds);

/*
 * Receives one message into buf (cap >= PN_MSG_MAX). Returns its length,
 * 0 when the peer closed, or -errno (-EAGAIN on a non-blocking socket).
 * Descriptors beyond maxfds, or sent with a malformed message, are closed.
 * A datagram over cap bytes is -EMSGSIZE, one of more than PN_PROTO_RECV_FDS
 * descriptors -ETOOMANYREFS (e says which, its fds closed); the connection
 * is still framed. On SOCK_SEQPACKET a 0-byte datagram also reads as 0:
 * pn_proto_peer_closed tells the two apart.
 */
ssize_t pn_proto_recv(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
		      struct pn_err *e);

/* After a 0-byte read: whether the peer shut down (else it sent an empty datagram). */
int pn_proto_peer_closed(int sock);

/*
 * Checks a received message (untrusted): header magic, version, len equal
 * to the datagram, a known type, the body size the type needs, reserved
 * fields zero and strings NUL-terminated. reply: whether a reply is
 * expected (1) or a request (0). On success *body points into buf.
 */
int pn_proto_check(const void *buf, size_t n, int reply, const struct pn_msg_hdr **hdr,
		   const void **body, size_t *body_len, struct pn_err *e);

/* "HELLO", "LOAD", ...; "?" for an unknown type. */
const char *pn_msg_name(uint32_t type);
/* A line for -errno or -PN_E_*: strerror or PolyNet's own text. */
const char *pn_strerror(int code);

#endif /* PN_PROTO_H */
