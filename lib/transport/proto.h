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

/* Sends one message (header filled here) with nfds descriptors. */
int pn_proto_send(int sock, uint16_t type, uint32_t seq, const void *body, size_t len,
		  const int *fds, int nfds, struct pn_err *e);
/* Sends a reply: status 0 and body, or an error status and the line msg. */
int pn_proto_reply(int sock, uint16_t type, uint32_t seq, int status, const void *body,
		   size_t len, const char *msg, const int *fds, int nfds);

/*
 * Receives one message into buf (cap >= PN_MSG_MAX). Returns its length,
 * 0 when the peer closed, or -errno (-EAGAIN on a non-blocking socket).
 * Descriptors beyond maxfds, or sent with a malformed message, are closed.
 */
ssize_t pn_proto_recv(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
		      struct pn_err *e);

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
