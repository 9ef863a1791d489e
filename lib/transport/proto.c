// SPDX-License-Identifier: MIT
/* proto.c - control messages: send/receive with SCM_RIGHTS, and checks. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/proto.h"

static const char *const names[PN_MSG_TYPE_COUNT] = {
	[PN_MSG_HELLO] = "HELLO", [PN_MSG_LOAD] = "LOAD", [PN_MSG_UNLOAD] = "UNLOAD",
	[PN_MSG_LIST] = "LIST", [PN_MSG_STAT] = "STAT",
	[PN_MSG_OPEN_SESSION] = "OPEN_SESSION", [PN_MSG_MODEL_INFO] = "MODEL_INFO",
	[PN_MSG_METRICS] = "METRICS",
};

const char *pn_msg_name(uint32_t type)
{
	type &= ~PN_MSG_REPLY;
	return type < PN_MSG_TYPE_COUNT && names[type] ? names[type] : "?";
}

const char *pn_strerror(int code)
{
	switch (-code) {
	case ETIME: return "deadline cannot be met";
	case EDQUOT: return "tenant quota exceeded";
	case ESHUTDOWN: return "polynetd is shutting down";
	}
	return strerror(-code);
}

/* One datagram of iovs with fds attached (SCM_RIGHTS): the sent length, or -errno. */
static ssize_t send_fds(int sock, struct iovec *iov, int niov, const int *fds, int nfds,
			int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * PN_PROTO_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)niov };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

int pn_proto_send(int sock, uint16_t type, uint32_t seq, const void *body, size_t len,
		  const int *fds, int nfds, struct pn_err *e)
{
	struct pn_msg_hdr h = {
		.magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION, .type = type,
		.len = (uint32_t)(sizeof(h) + len), .seq = seq,
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)body, .iov_len = len },
	};
	ssize_t n;

	if (sizeof(h) + len > PN_MSG_MAX || nfds > PN_PROTO_MAX_FDS)
		return pn_errf(e, -EMSGSIZE, "%s: %zu bytes and %d fds, expected at most "
			       "%u and %d", pn_msg_name(type), sizeof(h) + len, nfds,
			       PN_MSG_MAX, PN_PROTO_MAX_FDS);
	n = send_fds(sock, iov, len ? 2 : 1, fds, nfds, MSG_NOSIGNAL);
	if (n < 0)
		return pn_errf(e, (int)n, "%s: send: %s", pn_msg_name(type), strerror((int)-n));
	return 0;
}

void *pn_proto_build_reply(uint16_t type, uint32_t seq, int status, const void *body,
			   size_t len, const char *msg, size_t *out_len)
{
	size_t ml = status ? strnlen(msg ? msg : "", 1024) + 1 : 0;
	size_t n = sizeof(struct pn_msg_hdr) + sizeof(struct pn_reply) + (status ? ml : len);
	struct pn_msg_hdr *h = malloc(n);	/* cold path */
	struct pn_reply *r = (struct pn_reply *)(h + 1);

	if (!h)
		return NULL;
	*h = (struct pn_msg_hdr){ .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION,
				  .type = type | PN_MSG_REPLY, .len = (uint32_t)n, .seq = seq };
	memset(r, 0, sizeof(*r));
	r->status = status;
	if (status) {
		memcpy(r + 1, msg ? msg : "", ml - 1);
		((char *)(r + 1))[ml - 1] = '\0';
	} else if (len) {
		memcpy(r + 1, body, len);
	}
	*out_len = n;
	return h;
}

int pn_proto_send_msg(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	ssize_t n;

	if (len > PN_MSG_MAX || nfds > PN_PROTO_MAX_FDS)
		return -EMSGSIZE;
	n = send_fds(sock, &iov, 1, fds, nfds, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	return 0;
}

int pn_proto_reply(int sock, uint16_t type, uint32_t seq, int status, const void *body,
		   size_t len, const char *msg, const int *fds, int nfds)
{
	size_t n;
	void *m = pn_proto_build_reply(type, seq, status, body, len, msg, &n);
	int ret;

	if (!m)
		return -ENOMEM;
	ret = pn_proto_send_msg(sock, m, n, fds, status ? 0 : nfds);
	free(m);
	return ret;
}

int pn_proto_peer_closed(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN | POLLRDHUP };

	/* an empty datagram leaves no RDHUP; a shut-down peer does */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

ssize_t pn_proto_recv(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds,
		      struct pn_err *e)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * PN_PROTO_RECV_FDS)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	ssize_t n;
	int got = 0;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN :
		       pn_errf(e, -errno, "control socket: recv: %s", strerror(errno));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int tmp[PN_PROTO_RECV_FDS];

		if (k > PN_PROTO_RECV_FDS)
			k = PN_PROTO_RECV_FDS;
		memcpy(tmp, CMSG_DATA(c), sizeof(int) * (size_t)k);
		for (int i = 0; i < k; i++) {
			if (got < maxfds)
				fds[got++] = tmp[i];
			else
				close(tmp[i]);
		}
	}
	*nfds = got;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_fds(fds, got);
		*nfds = 0;
		if (mh.msg_flags & MSG_TRUNC)
			return pn_errf(e, -EMSGSIZE, "message over %zu bytes, expected at most "
				       "%u", cap, PN_MSG_MAX);
		return pn_errf(e, -ETOOMANYREFS, "message with more than %d file descriptors, "
			       "expected at most %d", PN_PROTO_RECV_FDS, PN_PROTO_MAX_FDS);
	}
	return n;
}

/* A string field must hold its NUL within the field. */
static int check_str(const char *s, size_t cap, const char *what, struct pn_err *e)
{
	if (memchr(s, '\0', cap))
		return 0;
	return pn_errf(e, -EINVAL, "%s: no NUL within %zu bytes", what, cap);
}

/* The fixed body size of a request type; -1: variable (none so far). */
static size_t req_size(uint32_t type)
{
	switch (type) {
	case PN_MSG_HELLO: return sizeof(struct pn_hello_req);
	case PN_MSG_LOAD: return sizeof(struct pn_load_req);
	case PN_MSG_UNLOAD:
	case PN_MSG_MODEL_INFO: return sizeof(struct pn_model_ref);
	case PN_MSG_OPEN_SESSION: return sizeof(struct pn_session_req);
	default: return 0;
	}
}

static int check_request(uint32_t type, const void *b, size_t n, struct pn_err *e)
{
	if (n != req_size(type))
		return pn_errf(e, -EINVAL, "%s: body of %zu bytes, expected %zu",
			       pn_msg_name(type), n, req_size(type));
	switch (type) {
	case PN_MSG_HELLO: {
		const struct pn_hello_req *r = b;

		if (r->flags)
			return pn_errf(e, -EINVAL, "HELLO: flags 0x%x, expected 0", r->flags);
		return check_str(r->client, sizeof(r->client), "HELLO: client", e);
	}
	case PN_MSG_LOAD: {
		const struct pn_load_req *r = b;

		if (r->flags & ~PN_LOAD_F_ALL || r->pad)
			return pn_errf(e, -EINVAL, "LOAD: flags 0x%x pad %u, expected "
				       "flags within 0x%x and pad 0", r->flags, r->pad,
				       PN_LOAD_F_ALL);
		return check_str(r->path, sizeof(r->path), "LOAD: path", e);
	}
	case PN_MSG_UNLOAD:
	case PN_MSG_MODEL_INFO: {
		const struct pn_model_ref *r = b;

		if (r->pad)
			return pn_errf(e, -EINVAL, "%s: pad %u, expected 0",
				       pn_msg_name(type), r->pad);
		if (!r->id && !r->name[0])
			return pn_errf(e, -EINVAL, "%s: neither an id nor a name",
				       pn_msg_name(type));
		return check_str(r->name, sizeof(r->name), "model name", e);
	}
	case PN_MSG_OPEN_SESSION: {
		const struct pn_session_req *r = b;

		if (r->flags & ~PN_SESSION_F_ALL || r->pad)
			return pn_errf(e, -EINVAL, "OPEN_SESSION: flags 0x%x pad %u, "
				       "expected flags within 0x%x and pad 0", r->flags, r->pad,
				       PN_SESSION_F_ALL);
		return 0;
	}
	}
	return 0;
}

static size_t rep_size(uint32_t type)
{
	switch (type) {
	case PN_MSG_HELLO: return sizeof(struct pn_hello_rep);
	case PN_MSG_LOAD:
	case PN_MSG_MODEL_INFO: return sizeof(struct pn_model_desc);
	case PN_MSG_OPEN_SESSION: return sizeof(struct pn_session_rep);
	default: return 0;
	}
}

static int check_reply(uint32_t type, const void *b, size_t n, struct pn_err *e)
{
	const struct pn_reply *r = b;
	const char *rest = (const char *)(r + 1);
	size_t left;

	if (n < sizeof(*r))
		return pn_errf(e, -EPROTO, "%s reply: %zu bytes, expected at least %zu",
			       pn_msg_name(type), n, sizeof(*r));
	left = n - sizeof(*r);
	if (r->status > 0)
		return pn_errf(e, -EPROTO, "%s reply: status %d, expected <= 0",
			       pn_msg_name(type), r->status);
	if (!type && !r->status)
		return pn_errf(e, -EPROTO, "reply of type 0 with status 0, expected an error");
	if (r->status || type == PN_MSG_LIST || type == PN_MSG_STAT ||
	    type == PN_MSG_METRICS) {
		if (!left || rest[left - 1] != '\0')
			return pn_errf(e, -EPROTO, "%s reply: text not NUL-terminated",
				       pn_msg_name(type));
		return 0;
	}
	if (left != rep_size(type))
		return pn_errf(e, -EPROTO, "%s reply: body of %zu bytes, expected %zu",
			       pn_msg_name(type), left, rep_size(type));
	return 0;
}

int pn_proto_check(const void *buf, size_t n, int reply, const struct pn_msg_hdr **hdr,
		   const void **body, size_t *body_len, struct pn_err *e)
{
	const struct pn_msg_hdr *h = buf;
	uint32_t type;

	if (n < sizeof(*h))
		return pn_errf(e, -EPROTO, "message of %zu bytes, expected at least the "
			       "%zu-byte header", n, sizeof(*h));
	if (h->magic != PN_PROTO_MAGIC)
		return pn_errf(e, -EPROTO, "message header: magic 0x%08x, expected 0x%08x",
			       h->magic, PN_PROTO_MAGIC);
	if (h->version != PN_PROTO_VERSION)
		return pn_errf(e, -EPROTONOSUPPORT, "message header: version %u, expected %u",
			       h->version, PN_PROTO_VERSION);
	if (h->len != n)
		return pn_errf(e, -EPROTO, "message header: len %u, the datagram has %zu "
			       "bytes", h->len, n);
	type = h->type & ~PN_MSG_REPLY;
	/* type 0 only in an error reply to a request too broken to name its type */
	if (!(h->type & PN_MSG_REPLY) != !reply || (!type && !reply) ||
	    type >= PN_MSG_TYPE_COUNT)
		return pn_errf(e, -EINVAL, "message header: type 0x%x, expected a %s of "
			       "1..%u", h->type, reply ? "reply" : "request",
			       PN_MSG_TYPE_COUNT - 1);
	*hdr = h;
	*body = h + 1;
	*body_len = n - sizeof(*h);
	return reply ? check_reply(type, *body, *body_len, e) :
		       check_request(type, *body, *body_len, e);
}
