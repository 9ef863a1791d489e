// SPDX-License-Identifier: MIT
/* client.c - polynetd's client library (client.h). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "transport/client.h"
#include "transport/client_impl.h"
#include "exec/model.h"
#include "transport/proto.h"
#include "transport/ring.h"
#include "transport/segment.h"
#include "transport/wake.h"

struct pn_client_model {
	struct pn_model_desc desc;
	void *map;
	struct pn_model *local;
};

int pn_connect(const char *path, struct pn_client **out, struct pn_err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pn_hello_req hq = { .version = PN_PROTO_VERSION };
	struct pn_client *c;
	void *body = NULL;
	size_t n;
	int r;

	*out = NULL;
	if (!path)
		path = getenv("POLYNET_SOCKET") ? getenv("POLYNET_SOCKET") : PN_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(a.sun_path))
		return pn_errf(e, -ENAMETOOLONG, "%s: socket path too long", path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return pn_errf(e, -ENOMEM, "out of memory");
	strcpy(a.sun_path, path);
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		pn_disconnect(c);
		return pn_errf(e, r, "%s: %s (is polynetd running?)", path, strerror(-r));
	}
	snprintf(hq.client, sizeof(hq.client), "%s", program_invocation_short_name);
	r = pn_client_call(c, PN_MSG_HELLO, &hq, sizeof(hq), NULL, 0, &body, &n, NULL, 0, NULL,
			   e);
	if (r) {
		pn_disconnect(c);
		return r;
	}
	memcpy(&c->hello, body, sizeof(c->hello));
	free(body);
	*out = c;
	return 0;
}

void pn_disconnect(struct pn_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

const struct pn_hello_rep *pn_client_hello(const struct pn_client *c)
{
	return &c->hello;
}

const char *pn_client_socket(const struct pn_client *c)
{
	return c->path;
}

int pn_client_call(struct pn_client *c, uint16_t type, const void *req, size_t len,
		   const int *fds, int nfds, void **body, size_t *body_len, int *rfds,
		   int maxrfds, int *nrfds, struct pn_err *e)
{
	const struct pn_msg_hdr *h;
	const struct pn_reply *rep;
	const void *b;
	uint8_t *buf;
	int got_fds[PN_PROTO_MAX_FDS], ngot = 0;
	uint32_t seq = ++c->seq;
	size_t bl;
	ssize_t n;
	int r;

	if (body)
		*body = NULL;
	if (nrfds)
		*nrfds = 0;
	r = pn_proto_send(c->fd, type, seq, req, len, fds, nfds, e);
	if (r && r != -EPIPE && r != -ECONNRESET)
		return r;
	buf = malloc(PN_MSG_MAX);	/* cold path */
	if (!buf)
		return pn_errf(e, -ENOMEM, "out of memory");
	/* after a failed send too: a daemon that refused the connection has closed
	 * it, and its refusal may still wait to be read */
	n = pn_proto_recv(c->fd, buf, PN_MSG_MAX, got_fds, PN_PROTO_MAX_FDS, &ngot, e);
	if (r && (n < (ssize_t)sizeof(*h) || ((const struct pn_msg_hdr *)buf)->seq)) {
		for (int i = 0; n > 0 && i < ngot; i++)
			close(got_fds[i]);
		free(buf);
		return pn_errf(e, -ECONNRESET, "%s: polynetd went away", c->path);
	}
	if (n <= 0) {
		free(buf);
		return n ? (int)n : pn_errf(e, -ECONNRESET, "%s: polynetd closed the connection "
					    "(stopped or killed)", c->path);
	}
	r = pn_proto_check(buf, (size_t)n, 1, &h, &b, &bl, e);
	/* type 0, seq 0: the daemon refused the connection itself before reading this
	 * request (connection limit, out of fds); its line says why */
	if (!r && h->type == PN_MSG_REPLY && !h->seq && ((const struct pn_reply *)b)->status)
		r = pn_errf(e, ((const struct pn_reply *)b)->status, "%s: %s", c->path,
			    (const char *)((const struct pn_reply *)b + 1));
	else if (!r && ((h->type & ~PN_MSG_REPLY) != type || h->seq != seq))
		r = pn_errf(e, -EPROTO, "%s: reply type 0x%x seq %u, expected 0x%x seq %u",
			    c->path, h->type, h->seq, type | PN_MSG_REPLY, seq);
	if (!r) {
		rep = b;
		if (rep->status) {
			r = pn_errf(e, rep->status, "%s", (const char *)(rep + 1));
		} else {
			bl -= sizeof(*rep);
			if (body) {
				*body = malloc(bl + 1);
				if (!*body) {
					r = pn_errf(e, -ENOMEM, "out of memory");
				} else {
					memcpy(*body, rep + 1, bl);
					((char *)*body)[bl] = '\0';
					*body_len = bl;
				}
			}
		}
	}
	for (int i = 0; i < ngot; i++) {
		if (!r && rfds && i < maxrfds)
			rfds[(*nrfds)++] = got_fds[i];
		else
			close(got_fds[i]);
	}
	free(buf);
	return r;
}

int pn_client_load(struct pn_client *c, const char *path, uint32_t flags,
		   struct pn_model_desc *out, struct pn_err *e)
{
	struct pn_load_req q = { .flags = flags };
	void *body;
	size_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return pn_errf(e, -errno, "%s: %s", path, strerror(errno));
	snprintf(q.path, sizeof(q.path), "%s", path);
	r = pn_client_call(c, PN_MSG_LOAD, &q, sizeof(q), &fd, 1, &body, &n, NULL, 0, NULL, e);
	close(fd);
	if (r)
		return r;
	memcpy(out, body, sizeof(*out));
	free(body);
	return 0;
}

static void model_ref(struct pn_model_ref *ref, uint32_t id, const char *name)
{
	memset(ref, 0, sizeof(*ref));
	ref->id = id;
	if (!id && name && name[0] == '#')
		ref->id = (uint32_t)strtoul(name + 1, NULL, 10);
	else if (!id && name)
		snprintf(ref->name, sizeof(ref->name), "%s", name);
}

int pn_client_unload(struct pn_client *c, uint32_t id, const char *name, struct pn_err *e)
{
	struct pn_model_ref ref;

	model_ref(&ref, id, name);
	return pn_client_call(c, PN_MSG_UNLOAD, &ref, sizeof(ref), NULL, 0, NULL, NULL, NULL, 0,
			      NULL, e);
}

/* LIST, STAT, METRICS: an empty request, one NUL-terminated text back */
static int call_text(struct pn_client *c, uint32_t type, char **text, struct pn_err *e)
{
	size_t n;

	return pn_client_call(c, type, NULL, 0, NULL, 0, (void **)text, &n, NULL, 0, NULL, e);
}

int pn_client_list(struct pn_client *c, char **json, struct pn_err *e)
{
	return call_text(c, PN_MSG_LIST, json, e);
}

int pn_client_stat(struct pn_client *c, char **json, struct pn_err *e)
{
	return call_text(c, PN_MSG_STAT, json, e);
}

int pn_client_metrics(struct pn_client *c, char **text, struct pn_err *e)
{
	return call_text(c, PN_MSG_METRICS, text, e);
}

int pn_client_model_open(struct pn_client *c, const char *name,
			 struct pn_client_model **out, struct pn_err *e)
{
	struct pn_client_model *m;
	struct pn_model_ref ref;
	void *body;
	size_t n;
	int fd, nfd, r;

	*out = NULL;
	model_ref(&ref, 0, name);
	r = pn_client_call(c, PN_MSG_MODEL_INFO, &ref, sizeof(ref), NULL, 0, &body, &n, &fd, 1,
			   &nfd, e);
	if (r)
		return r;
	m = calloc(1, sizeof(*m));
	if (!m || nfd != 1) {
		free(body);
		free(m);
		if (nfd == 1)
			close(fd);
		return pn_errf(e, m ? -EPROTO : -ENOMEM, "MODEL_INFO %s: %s", name,
			       m ? "reply without the region's fd" : "out of memory");
	}
	memcpy(&m->desc, body, sizeof(m->desc));
	free(body);
	m->map = mmap(NULL, m->desc.size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m->map == MAP_FAILED) {
		r = pn_errf(e, -errno, "model %s: mmap of its region: %s", name, strerror(errno));
		free(m);
		return r;
	}
	r = pn_model_open_buf(m->map, m->desc.size, m->desc.name, &m->local, e);
	if (r) {
		munmap(m->map, m->desc.size);
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

void pn_client_model_close(struct pn_client_model *m)
{
	if (!m)
		return;
	pn_model_close(m->local);
	munmap(m->map, m->desc.size);
	free(m);
}

const struct pn_model_desc *pn_client_model_desc(const struct pn_client_model *m)
{
	return &m->desc;
}

const struct pn_model *pn_client_model_local(const struct pn_client_model *m)
{
	return m->local;
}

/* The segment header is the daemon's word: check it before using an offset. */
static int seg_check(struct pn_session *s, struct pn_err *e)
{
	return pn_seg_attach(s->seg.mem, s->seg.size, &s->seg, e);
}

int pn_session_open(struct pn_client *c, uint32_t sq_entries, uint32_t cq_entries,
		    uint64_t arena_bytes, struct pn_session **out, struct pn_err *e)
{
	/* ring version 3 (generation): a daemon before it ignores the flag and says 2 */
	struct pn_session_req q = { .sq_entries = sq_entries, .cq_entries = cq_entries,
				    .arena_size = arena_bytes, .flags = PN_SESSION_F_RING_V3 };
	const char *wake = getenv("PN_WAKE");
	struct pn_session_rep rep;
	struct pn_session *s;
	struct pn_err oe = { "" };
	void *body;
	size_t n;
	int fds[3], nfd, r;

	*out = NULL;
	/* PN_WAKE=eventfd, or a kernel without io_uring futexes: ask for eventfds */
	if ((wake && !strcmp(wake, "eventfd")) || !pn_wake_futex_supported())
		q.flags |= PN_SESSION_F_EVENTFD;
	r = pn_client_call(c, PN_MSG_OPEN_SESSION, &q, sizeof(q), NULL, 0, &body, &n, fds, 3,
			   &nfd, &oe);
	if (r == -EINVAL && strstr(oe.msg, "expected flags within 0x1 ")) {
		/* a daemon before ring version 3: a version 2 session (uapi/proto.h) */
		q.flags &= ~PN_SESSION_F_RING_V3;
		r = pn_client_call(c, PN_MSG_OPEN_SESSION, &q, sizeof(q), NULL, 0, &body, &n,
				   fds, 3, &nfd, &oe);
	}
	if (r)
		return pn_errf(e, r, "%s", oe.msg);
	memcpy(&rep, body, sizeof(rep));
	free(body);
	s = calloc(1, sizeof(*s));
	if (!s || nfd != 3) {
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		free(s);
		return pn_errf(e, s ? -EPROTO : -ENOMEM, "OPEN_SESSION: %s",
			       s ? "expected 3 fds with the reply" : "out of memory");
	}
	s->c = c;
	s->seg.seg_fd = fds[0];
	s->seg.db_fd = fds[1];
	s->seg.cq_fd = fds[2];
	s->seg.size = rep.seg_size;
	s->seg.mem = mmap(NULL, s->seg.size, PROT_READ | PROT_WRITE, MAP_SHARED, s->seg.seg_fd, 0);
	if (s->seg.mem == MAP_FAILED) {
		r = pn_errf(e, -errno, "session segment: mmap %zu bytes: %s", s->seg.size,
			    strerror(errno));
		s->seg.mem = NULL;
		pn_session_close(s);
		return r;
	}
	s->seg.hdr = s->seg.mem;
	s->spin_ns = PN_SPIN_US_DEFAULT * 1000ull;
	r = seg_check(s, e);
	if (!r)
		r = pn_session_wake_init(s, e);
	if (r) {
		pn_session_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void pn_session_close(struct pn_session *s)
{
	if (!s)
		return;
	pn_session_wake_fini(s);
	if (s->seg.mem)
		munmap(s->seg.mem, s->seg.size);
	close(s->seg.seg_fd);
	close(s->seg.db_fd);
	close(s->seg.cq_fd);
	free(s);
}

void *pn_session_arena(const struct pn_session *s, uint64_t *size)
{
	if (size)
		*size = s->seg.arena_size;
	return s->seg.arena;
}

enum pn_wake_mode pn_session_wake_mode(const struct pn_session *s)
{
	return (enum pn_wake_mode)s->seg.sq.wake_mode;
}

int pn_session_completion_fd(const struct pn_session *s)
{
	return s->seg.cq_fd;
}

struct pn_seg_hdr *pn_session_seg(const struct pn_session *s)
{
	return s->seg.hdr;
}

void pn_sqe_run(struct pn_sqe *q, uint32_t model, uint64_t in_off, uint32_t batch, uint32_t T,
		uint64_t out_off, uint32_t out_len, uint64_t user_data)
{
	memset(q, 0, sizeof(*q));
	q->user_data = user_data;
	q->opcode = PN_OP_RUN;
	q->prio = PN_PRIO_INTERACTIVE;
	q->model = model;
	q->in_off = in_off;
	q->in_len = (uint32_t)pn_run_in_bytes(batch, T);
	q->out_off = out_off;
	q->out_len = out_len;
	q->batch = batch;
	q->T = T;
}
