// SPDX-License-Identifier: MIT
/*
 * loop.c - polynetd's one io_uring event loop: accepts on the control
 * socket, polls connections, reads the signalfd (SIGTERM: clean stop), the notify eventfd (a worker saw a
 * session break) and the model files being loaded. Single-threaded: only
 * this thread touches the ring and the connections.
 *
 * Fairness: a readiness event of a connection handles at most
 * PND_CONN_BUDGET requests, then its poll is re-armed behind every other
 * completion (the accept too). At the fd limit the accept backs off for
 * PND_BACKOFF_MS instead of spinning.
 *
 * Doorbells are not read here: each worker waits on them in its own
 * io_uring (waiter.c), so a client's wake-up reaches a worker directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "loop.h"
#include "transport/proto.h"

#define RING_ENTRIES	256
#define PND_CONN_BUDGET	8	/* requests per readiness event: STAT is costly */
#define PND_BACKOFF_MS	100	/* no accept for this long after EMFILE/ENFILE */

static struct pnd_ev cancel_ev = { .kind = PND_EV_CANCEL };

static struct io_uring *ring_of(struct pnd_loop *d)
{
	return d->ring;
}

/* An SQE, submitting the queued ones first when the ring is full. */
static struct io_uring_sqe *get_sqe(struct pnd_loop *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring_of(d));

	if (!sqe) {
		io_uring_submit(ring_of(d));
		sqe = io_uring_get_sqe(ring_of(d));
	}
	return sqe;
}

static int loop_read(struct pnd_loop *d, struct pnd_ev *ev, int fd, void *buf, size_t len,
		     uint64_t off)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, fd, buf, (unsigned)len, off);
	io_uring_sqe_set_data(sqe, ev);
	return 0;
}

/* One poll per connection at a time: POLLIN unless the outbox is full, POLLOUT while it holds any. */
static void arm_conn(struct pnd_loop *d, struct pnd_conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	c->poll_mask = (pnd_conn_full(c) ? 0 : POLLIN) | (c->out.head ? POLLOUT : 0);
	io_uring_prep_poll_add(sqe, c->fd, c->poll_mask);
	io_uring_sqe_set_data(sqe, &c->ev);
}

/* A reply got queued outside on_conn (a load's): have the poll re-armed with POLLOUT. */
static void kick_conn(void *arg, struct pnd_conn *c)
{
	struct pnd_loop *d = arg;
	struct io_uring_sqe *sqe;

	if (!c->poll_mask || (c->poll_mask & POLLOUT))
		return;		/* in on_conn (it re-arms), or POLLOUT is armed */
	c->poll_mask = 0;
	sqe = get_sqe(d);
	/* the poll completes -ECANCELED and on_conn re-arms it */
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&c->ev);
	io_uring_sqe_set_data(sqe, &cancel_ev);
}

/* accept errors: at most one line a second, with the count of those left out */
static void log_accept(struct pnd_loop *d, int err)
{
	uint64_t s = pnd_now_ns() / 1000000000ull;

	if (s == d->log_s) {
		d->log_dropped++;
		return;
	}
	if (d->log_dropped)
		pnd_log("accept: %s (%llu more in the second before)", strerror(err),
			(unsigned long long)d->log_dropped);
	else
		pnd_log("accept: %s", strerror(err));
	d->log_s = s;
	d->log_dropped = 0;
}

/* A connection refused before it is one: an error reply of type 0, then close. */
static void refuse(int fd, int err, const char *line)
{
	static uint8_t buf[PN_MSG_MAX];	/* loop thread only */
	struct pn_err e;
	int fds[PN_PROTO_MAX_FDS], nfds;

	pn_proto_reply(fd, 0, 0, err, NULL, 0, line, NULL, 0);
	/* a close with requests unread resets the peer, which then never reads the reply */
	for (int i = 0; i < 8; i++) {
		if (pn_proto_recv(fd, buf, sizeof(buf), fds, PN_PROTO_MAX_FDS, &nfds, &e) < 0)
			break;
		while (nfds)
			close(fds[--nfds]);
	}
	close(fd);
}

/*
 * Out of fds: the reserve fd makes room to accept the waiting connection
 * and refuse it cleanly (else it would wake the accept again and again);
 * then the accept waits PND_BACKOFF_MS.
 */
static void backoff(struct pnd_loop *d, int err)
{
	static struct __kernel_timespec ts = { .tv_nsec = PND_BACKOFF_MS * 1000000ll };
	struct io_uring_sqe *sqe;

	log_accept(d, err);
	if (d->reserve_fd >= 0) {
		int fd;

		close(d->reserve_fd);
		fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			refuse(fd, -err, "polynetd is out of file descriptors, expected a "
			       "free one: try again later");
		d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	sqe = get_sqe(d);
	io_uring_prep_timeout(sqe, &ts, 0, 0);
	io_uring_sqe_set_data(sqe, &d->backoff_ev);
}

static void arm_accept(struct pnd_loop *d)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	io_uring_prep_accept(sqe, d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	io_uring_sqe_set_data(sqe, &d->accept_ev);
}

static int io_read(void *arg, struct pnd_ev *ev, int fd, void *buf, size_t len, uint64_t off)
{
	return loop_read(arg, ev, fd, buf, len, off);
}

static void notify(void *arg)
{
	struct pnd_loop *d = arg;
	uint64_t one = 1;

	if (write(d->notify_fd, &one, sizeof(one)) < 0) {
		/* overflow only: the loop has a wakeup pending anyway */
	}
}

void pnd_loop_init(struct pnd_loop *d)
{
	d->io = (struct pnd_io){ .arg = d, .read = io_read, .notify = notify };
}

/* Unlinks s from its connection and closes it (loop thread). */
static void close_session(struct pnd_loop *d, struct pnd_session *s)
{
	struct pnd_conn *c = s->conn;
	struct pnd_tenant *t;

	for (struct pnd_session **p = &c->sessions; *p; p = &(*p)->conn_next) {
		if (*p == s) {
			*p = s->conn_next;
			break;
		}
	}
	t = pnd_tenant(d->tenants, s->uid);
	t->sessions--;
	t->session_bytes -= s->seg.size;
	atomic_store(&s->dead, true);
	pnd_session_close(d->sessions, s);
}

static void conn_close(struct pnd_loop *d, struct pnd_conn *c)
{
	while (c->sessions)
		close_session(d, c->sessions);
	pnd_conn_drop_outbox(c);
	pnd_tenant(d->tenants, c->uid)->conns--;
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	d->ctl->n_conns--;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pnd_conn_release(c);
}

static void on_accept(struct pnd_loop *d, int res)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct pnd_tenant *t;
	struct pnd_conn *c;
	uint32_t max;

	if (res == -EMFILE || res == -ENFILE) {
		if (!atomic_load(&d->sessions->stopping))
			backoff(d, -res);
		return;
	}
	if (!atomic_load(&d->sessions->stopping))
		arm_accept(d);
	if (res < 0) {
		if (res != -EAGAIN && res != -EINTR && res != -ECANCELED)
			log_accept(d, -res);
		return;
	}
	if (getsockopt(res, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    atomic_load(&d->sessions->stopping)) {
		close(res);
		return;
	}
	t = pnd_tenant(d->tenants, cred.uid);
	max = t->lim.conns ? t->lim.conns : d->max_conns_per_uid;
	if (t->conns >= max) {
		char line[128];

		snprintf(line, sizeof(line), "uid %u has %u connections open, expected at most "
			 "%u (--max-conns-per-uid, or the admin map's conns=)", cred.uid, t->conns,
			 max);
		refuse(res, -EUSERS, line);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(res, -ENOMEM, "polynetd is out of memory for a connection");
		return;
	}
	t->conns++;
	c->fd = res;
	c->uid = cred.uid;
	c->pid = (uint32_t)cred.pid;
	c->ev.kind = PND_EV_CONN;
	c->ev.obj = c;
	c->out.kick = kick_conn;
	c->out.kick_arg = d;
	d->ctl->n_conns++;
	c->next = d->conns;
	if (c->next)
		c->next->prev = c;
	d->conns = c;
	arm_conn(d, c);
}

/* Flushes the outbox, then reads at most PND_CONN_BUDGET requests while it has room. */
static void on_conn(struct pnd_loop *d, struct pnd_conn *c, int res)
{
	static uint8_t buf[PN_MSG_MAX];	/* loop thread only */
	int r;

	c->poll_mask = 0;
	if (res < 0 && res != -EINTR && res != -ECANCELED) {
		conn_close(d, c);
		return;
	}
	r = pnd_conn_flush(c);
	if (r && r != -EAGAIN) {
		conn_close(d, c);	/* the peer is gone: nothing can reach it */
		return;
	}
	for (int i = 0; i < PND_CONN_BUDGET && !pnd_conn_full(c); i++) {
		struct pn_err e;
		int fds[PN_PROTO_MAX_FDS], nfds;
		ssize_t n = pnd_conn_recv(c, buf, fds, &nfds, &e);

		if (n == -EAGAIN)
			break;
		if (n == PND_CONN_ANSWERED)
			continue;
		if (n < 0) {
			/* the peer closed, or the read failed: drop it */
			if (n != -ECONNRESET)
				pnd_log("connection of pid %u: %s", c->pid, e.msg);
			conn_close(d, c);
			return;
		}
		pnd_control(d->ctl, c, buf, (size_t)n, fds, nfds);
		if (c->dead)
			return;
	}
	arm_conn(d, c);
}

/* Closes sessions a worker found broken (their client scribbled on a ring). */
static void reap_broken(struct pnd_loop *d)
{
	for (;;) {
		struct pnd_session *s = pnd_sessions_find_dead(d->sessions);

		if (!s)
			return;
		pnd_log("session %u of uid %u broke the ring protocol: closed", s->id, s->uid);
		close_session(d, s);
	}
}

static void begin_stop(struct pnd_loop *d)
{
	if (atomic_load(&d->sessions->stopping))
		return;
	pnd_log("stopping: finishing queued jobs");
	pnd_sessions_shutdown(d->sessions);
}

/* Queued and running jobs are done: the loop may end. */
static bool drained(struct pnd_loop *d)
{
	uint32_t q, r;

	pthread_mutex_lock(&d->work->lock);
	pn_sched_depth(d->work->sched, &q, &r);
	pthread_mutex_unlock(&d->work->lock);
	/* generations waiting or decoding finish too */
	return !q && !r && !pnd_gens_busy(&d->work->gens);
}

static void dispatch(struct pnd_loop *d, struct io_uring_cqe *cqe)
{
	struct pnd_ev *ev = io_uring_cqe_get_data(cqe);
	int res = cqe->res;

	switch (ev->kind) {
	case PND_EV_ACCEPT:
		on_accept(d, res);
		break;
	case PND_EV_CONN:
		on_conn(d, ev->obj, res);
		break;
	case PND_EV_SIGNAL:
		begin_stop(d);
		break;
	case PND_EV_LOAD:
		pnd_load_event(ev->obj, res);
		break;
	case PND_EV_NOTIFY:
		reap_broken(d);
		pnd_http_answer(d->ctl->http);	/* a --metrics scrape waits (http.h) */
		loop_read(d, &d->notify_ev, d->notify_fd, &d->notify_buf,
			      sizeof(d->notify_buf), 0);
		break;
	case PND_EV_CANCEL:
		break;
	case PND_EV_BACKOFF:
		if (!atomic_load(&d->sessions->stopping))
			arm_accept(d);
		break;
	}
}

int pnd_loop_run(struct pnd_loop *d, struct pn_err *e)
{
	static struct signalfd_siginfo si;
	struct io_uring ring;
	struct pnd_conn *grave = NULL;
	uint64_t stop_since = 0;
	int r;

	r = io_uring_queue_init(RING_ENTRIES, &ring, 0);
	if (r)
		return pn_errf(e, r, "io_uring_queue_init: %s", strerror(-r));
	d->ring = &ring;
	d->accept_ev.kind = PND_EV_ACCEPT;
	d->sig_ev.kind = PND_EV_SIGNAL;
	d->notify_ev.kind = PND_EV_NOTIFY;
	d->backoff_ev.kind = PND_EV_BACKOFF;
	d->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* the reserve fd's accept4 must not block when the waiting peer is gone */
	fcntl(d->listen_fd, F_SETFL, fcntl(d->listen_fd, F_GETFL) | O_NONBLOCK);
	arm_accept(d);
	loop_read(d, &d->sig_ev, d->sig_fd, &si, sizeof(si), 0);
	loop_read(d, &d->notify_ev, d->notify_fd, &d->notify_buf, sizeof(d->notify_buf), 0);
	for (;;) {
		struct __kernel_timespec ts = { .tv_nsec = 2000000 };
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		if (atomic_load(&d->sessions->stopping)) {
			if (!stop_since)
				stop_since = pnd_now_ns();
			/* finish queued jobs, but never hang on a stuck one: 10 s at most */
			if (drained(d) || pnd_now_ns() - stop_since > 10000000000ull)
				break;
			r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		} else {
			r = io_uring_submit_and_wait(&ring, 1);
		}
		if (r < 0 && r != -ETIME && r != -EINTR) {
			pn_errf(e, r, "io_uring wait: %s", strerror(-r));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			dispatch(d, cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		r = 0;
	}
	/* the connections go now: clients see the socket close after their CQEs.
	 * Their memory goes after the ring: a poll armed on one may still complete
	 * below, and its CQE points into it (pinned like a LOAD in progress). */
	while (d->conns) {
		struct pnd_conn *c = d->conns;

		c->loads++;
		conn_close(d, c);
		c->next = grave;
		grave = c;
	}
	io_uring_queue_exit(&ring);
	d->ring = NULL;
	while (grave) {
		struct pnd_conn *c = grave;

		grave = c->next;
		c->loads--;
		pnd_conn_release(c);
	}
	if (d->reserve_fd >= 0)
		close(d->reserve_fd);
	return r;
}
