// SPDX-License-Identifier: MIT
/* conn.c - a connection's requests in, replies out through its bounded outbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "control.h"

bool pnd_conn_full(const struct pnd_conn *c)
{
	return c->out.n >= PND_OUTBOX_MAX || c->out.bytes >= PND_OUTBOX_BYTES;
}

static void free_msg(struct pnd_out_msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->msg);
	free(m);
}

void pnd_conn_drop_outbox(struct pnd_conn *c)
{
	while (c->out.head) {
		struct pnd_out_msg *m = c->out.head;

		c->out.head = m->next;
		free_msg(m);
	}
	c->out.tail = NULL;
	c->out.n = 0;
	c->out.bytes = 0;
}

int pnd_conn_flush(struct pnd_conn *c)
{
	while (c->out.head) {
		struct pnd_out_msg *m = c->out.head;
		int r = pn_proto_send_msg(c->fd, m->msg, m->len, m->fds, m->nfds);

		if (r)
			return r;
		c->out.head = m->next;
		if (!c->out.head)
			c->out.tail = NULL;
		c->out.n--;
		c->out.bytes -= m->len;
		free_msg(m);
	}
	return 0;
}

int pnd_conn_reply(struct pnd_conn *c, uint16_t type, uint32_t seq, int status,
		   const void *body, size_t len, const char *msg, const int *fds, int nfds)
{
	struct pnd_out_msg *m;
	int r;

	if (c->dead)
		return -EPIPE;
	if (status)
		nfds = 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->msg = pn_proto_build_reply(type, seq, status, body, len, msg, &m->len);
	if (!m->msg) {
		free(m);
		return -ENOMEM;
	}
	/* in order: a reply may go out at once only when none waits before it */
	if (!c->out.head) {
		r = pn_proto_send_msg(c->fd, m->msg, m->len, fds, nfds);
		if (r != -EAGAIN) {
			free_msg(m);
			return r;	/* sent, or the peer is gone (the poll sees it) */
		}
	}
	/* the caller closes its fds after we return: the queued reply holds copies */
	for (int i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		if (m->fds[i] < 0) {
			char line[96];

			m->nfds = i;
			free_msg(m);
			snprintf(line, sizeof(line), "%s: out of file descriptors for the "
				 "reply's, expected %d free", pn_msg_name(type), nfds);
			return pnd_conn_reply(c, type, seq, -EMFILE, NULL, 0, line, NULL, 0);
		}
		m->nfds = i + 1;
	}
	if (c->out.tail)
		c->out.tail->next = m;
	else
		c->out.head = m;
	c->out.tail = m;
	c->out.n++;
	c->out.bytes += m->len;
	if (c->out.kick)
		c->out.kick(c->out.kick_arg, c);
	return 0;
}

ssize_t pnd_conn_recv(struct pnd_conn *c, void *buf, int *fds, int *nfds, struct pn_err *e)
{
	struct pn_msg_hdr *h = buf;
	ssize_t n;

	/* a datagram shorter than a header must not echo an older one's seq */
	memset(h, 0, sizeof(*h));
	n = pn_proto_recv(c->fd, buf, PN_MSG_MAX, fds, PN_PROTO_MAX_FDS, nfds, e);
	if (n == 0 && pn_proto_peer_closed(c->fd))
		return -ECONNRESET;
	if (n == -EMSGSIZE || n == -ETOOMANYREFS) {
		/* still framed: answer with what the header names, if it is one */
		bool hdr = h->magic == PN_PROTO_MAGIC;
		uint16_t type = hdr ? h->type & ~PN_MSG_REPLY : 0;

		pnd_conn_reply(c, type < PN_MSG_TYPE_COUNT ? type : 0, hdr ? h->seq : 0, (int)n,
			       NULL, 0, e->msg, NULL, 0);
		return PND_CONN_ANSWERED;
	}
	return n;
}
