// SPDX-License-Identifier: MIT
/*
 * session_io.c - a client session's data plane (client.h): submit one or
 * many SQEs, poll, wait (spin, sleep, adaptive) and the wake-ups of both
 * rings in the session's wake mode (uapi/ring.h):
 *  - futex: the doorbell is an io_uring FUTEX_WAKE on the SQ's wake word
 *    (IOSQE_CQE_SKIP_SUCCESS: no CQE to reap); a sleep is an io_uring
 *    FUTEX_WAIT on the CQ's wake word next to a poll of the control socket,
 *    one io_uring_enter for both;
 *  - eventfd: write(2) the doorbell, poll(2) the completion eventfd.
 * Hot path: submit makes no syscall unless the daemon's workers sleep, a
 * wait none unless it sleeps.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "transport/client.h"
#include "transport/client_impl.h"
#include "transport/wake.h"

#define UD_CQ_WAIT	1ull	/* the FUTEX_WAIT on the CQ's wake word */
#define UD_SOCK		2ull	/* the poll of the control socket */
#define UD_WAKE		3ull	/* a doorbell FUTEX_WAKE that failed */

static int uring_create(struct pn_session *s)
{
	s->uring = calloc(1, sizeof(*s->uring));
	if (!s->uring || io_uring_queue_init(8, s->uring, 0)) {
		free(s->uring);
		s->uring = NULL;
		return -ENOMEM;
	}
	return 0;
}

int pn_session_wake_init(struct pn_session *s, struct pn_err *e)
{
	if (s->seg.sq.wake_mode != PN_WAKE_FUTEX)
		return 0;
	if (uring_create(s))
		return pn_errf(e, -ENOMEM, "session: io_uring_queue_init failed");
	s->uring_wake = pn_wake_futex_supported();
	return 0;
}

void pn_session_wake_fini(struct pn_session *s)
{
	if (s->uring) {
		io_uring_queue_exit(s->uring);
		free(s->uring);
	}
	s->uring = NULL;
}

/* -ESHUTDOWN / -EPROTO when the daemon marked the segment, else 0. */
static int seg_state(const struct pn_session *s)
{
	uint32_t st = __atomic_load_n(&s->seg.hdr->state, __ATOMIC_ACQUIRE);

	return st == PN_SEG_LIVE ? 0 : st == PN_SEG_SHUTDOWN ? -ESHUTDOWN : -EPROTO;
}

/* The daemon's workers sleep: wake them (after a push that saw NEED_WAKEUP). */
static int ring_doorbell(struct pn_session *s)
{
	struct io_uring_sqe *sqe;

	if (s->seg.sq.wake_mode != PN_WAKE_FUTEX)
		return pn_wake_eventfd(s->seg.db_fd);
	if (!s->uring_wake || !(sqe = io_uring_get_sqe(s->uring))) {
		pn_wake_futex(&s->seg.sq.hdr->wake, true);	/* futex(2): the same wake */
		return 0;
	}
	pn_wake_bump(&s->seg.sq.hdr->wake);		/* ring.c, ordering 3 */
	pn_wake_prep_wake(sqe, &s->seg.sq.hdr->wake);
	io_uring_sqe_set_data64(sqe, UD_WAKE);
	io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	if (s->defer_doorbell)
		return 0;	/* pn_run: submitted with the sleep's FUTEX_WAIT, one syscall */
	return io_uring_submit(s->uring) < 0 ? -EIO : 0;
}

int pn_submit_n(struct pn_session *s, const struct pn_sqe *q, uint32_t n)
{
	int r = seg_state(s), k;

	if (r)
		return r;
	k = pn_ring_push_n(&s->seg.sq, q, n);	/* one tail store for all */
	if (k <= 0)
		return k ? k : -EAGAIN;
	/* ring.c: the fence in needs_wakeup pairs with the daemon's prepare_sleep */
	if (pn_ring_needs_wakeup(&s->seg.sq) && (r = ring_doorbell(s)))
		return r;
	return k;
}

int pn_submit(struct pn_session *s, const struct pn_sqe *q)
{
	int r = pn_submit_n(s, q, 1);

	return r < 0 ? r : 0;
}

int pn_poll(struct pn_session *s, struct pn_cqe *cqe)
{
	return pn_ring_pop(&s->seg.cq, cqe);
}

int pn_poll_n(struct pn_session *s, struct pn_cqe *cqe, uint32_t max)
{
	return pn_ring_pop_n(&s->seg.cq, cqe, max);
}

void pn_session_wait_stats(const struct pn_session *s, struct pn_wait_stats *st)
{
	*st = s->wstats;
}

void pn_session_set_spin_us(struct pn_session *s, uint32_t us)
{
	s->spin_ns = us * 1000ull;
}

/* Has polynetd gone (the control socket hung up)? -ECONNRESET then. */
static int daemon_gone(struct pn_session *s)
{
	struct pollfd p = { .fd = s->c->fd, .events = POLLIN };

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLIN)))
		return seg_state(s) ? seg_state(s) : -ECONNRESET;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Futex sessions: one sleep of at most slice_ms in the session's io_uring,
 * on the CQ's wake word (armed with the value read before NEED_WAKEUP,
 * ring.c ordering 3) and on the control socket. 1: a CQE slipped in, do
 * not sleep; 0: woken or timed out; -errno: the daemon went.
 */
static int sleep_futex(struct pn_session *s, int slice_ms)
{
	struct __kernel_timespec ts = { .tv_sec = slice_ms / 1000,
					.tv_nsec = (slice_ms % 1000) * 1000000ll };
	uint32_t v = pn_ring_wake_value(&s->seg.cq);
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool sock = false;

	if (!pn_ring_prepare_sleep(&s->seg.cq))
		return 1;
	/* an armed wait from an earlier sleep is as good: any wake since completes it */
	if (!s->cq_wait_armed && (sqe = io_uring_get_sqe(s->uring))) {
		pn_wake_prep_wait(sqe, &s->seg.cq.hdr->wake, v, true);
		io_uring_sqe_set_data64(sqe, UD_CQ_WAIT);
		s->cq_wait_armed = true;
	}
	if (!s->sock_armed && (sqe = io_uring_get_sqe(s->uring))) {
		io_uring_prep_poll_add(sqe, s->c->fd, POLLIN | POLLRDHUP);
		io_uring_sqe_set_data64(sqe, UD_SOCK);
		s->sock_armed = true;
	}
	s->wstats.sleeps++;
	if (io_uring_submit_and_wait_timeout(s->uring, &cqe, 1, &ts, NULL) == -ETIME)
		s->wstats.timed_out++;
	io_uring_for_each_cqe(s->uring, head, cqe) {
		if (cqe->user_data == UD_CQ_WAIT)
			s->cq_wait_armed = false;
		else if (cqe->user_data == UD_SOCK)
			sock = true;
		else if (cqe->user_data == UD_WAKE)
			s->uring_wake = false;	/* refused: futex(2) from now on */
		n++;
	}
	io_uring_cq_advance(s->uring, n);
	pn_ring_clear_wakeup(&s->seg.cq);
	if (sock) {
		s->sock_armed = false;
		return daemon_gone(s);	/* or a reply we read since: re-armed next time */
	}
	return 0;
}

/* Eventfd sessions: poll(2) the completion eventfd and the control socket. */
static int sleep_eventfd(struct pn_session *s, int slice_ms)
{
	struct pollfd p[2] = {
		{ .fd = s->seg.cq_fd, .events = POLLIN },
		{ .fd = s->c->fd, .events = POLLIN },
	};
	int r;

	if ((r = daemon_gone(s)))
		return r;
	if (!pn_ring_prepare_sleep(&s->seg.cq))
		return 1;
	s->wstats.sleeps++;
	r = poll(p, 2, slice_ms);
	s->wstats.timed_out += r == 0;
	if (p[0].revents & POLLIN) {
		uint64_t v;

		if (read(s->seg.cq_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return -errno;
	}
	pn_ring_clear_wakeup(&s->seg.cq);
	if (r < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* PN_WAIT_URING on an eventfd session: a read of the eventfd in io_uring. */
static int sleep_uring_read(struct pn_session *s, int slice_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = slice_ms / 1000,
					.tv_nsec = (slice_ms % 1000) * 1000000ll };
	int r;

	if ((r = daemon_gone(s)))
		return r;
	if (!s->uring && uring_create(s))
		return -ENOMEM;
	r = pn_prep_wait_sqe(s->uring, s, 1);
	if (r)
		return r;
	s->wstats.sleeps++;
	r = io_uring_submit_and_wait_timeout(s->uring, &cqe, 1, &ts, NULL);
	s->wstats.timed_out += r == -ETIME;
	if (r < 0)	/* the read stays armed: the next wait completes at once */
		return r == -ETIME ? 0 : r;
	io_uring_cqe_seen(s->uring, cqe);
	return 0;
}

int pn_wait(struct pn_session *s, struct pn_cqe *cqe, enum pn_wait_mode mode, int timeout_ms)
{
	int64_t t0 = now_ns(), left_ns;
	int64_t until = timeout_ms < 0 ? INT64_MAX : t0 + timeout_ms * 1000000ll;
	int64_t spin_until = mode == PN_WAIT_ADAPTIVE ? t0 + (int64_t)s->spin_ns : 0;
	uint32_t spins = 0;
	int r, slice;

	for (;;) {
		r = pn_ring_pop(&s->seg.cq, cqe);
		if (r != -EAGAIN)
			return r;
		if (seg_state(s) == -EPROTO)
			return -EPROTO;	/* the daemon closed this session */
		if (mode == PN_WAIT_SPIN || (mode == PN_WAIT_ADAPTIVE && spin_until)) {
			/* a SIGKILLed daemon writes nothing: look at the socket now and then */
			if (++spins % 64 == 0) {
				int64_t t = now_ns();

				if (mode == PN_WAIT_ADAPTIVE && t >= spin_until)
					spin_until = 0;	/* spun long enough: sleep */
				if (spins % 65536 == 0 && (r = daemon_gone(s)))
					return r;
				if (t > until)
					return -ETIMEDOUT;
			}
			continue;
		}
		/* one reading of the clock per turn: two could disagree on the sign */
		left_ns = until - now_ns();
		if (left_ns < 0)
			return -ETIMEDOUT;
		/* wake at least every 100 ms to look at the daemon and the timeout */
		slice = timeout_ms < 0 || left_ns > 100000000 ? 100 :
			(int)(left_ns / 1000000) + 1;
		if (s->seg.sq.wake_mode == PN_WAKE_FUTEX)
			r = sleep_futex(s, slice);
		else if (mode == PN_WAIT_URING)
			r = sleep_uring_read(s, slice);
		else
			r = sleep_eventfd(s, slice);
		if (r < 0)
			return r;
	}
}

int pn_cancel(struct pn_session *s, uint64_t target, uint64_t user_data)
{
	struct pn_sqe q = { .user_data = user_data, .opcode = PN_OP_CANCEL, .arg = target };

	return pn_submit(s, &q);
}

int pn_run(struct pn_session *s, const struct pn_sqe *q, enum pn_wait_mode mode,
	   struct pn_cqe *cqe)
{
	int r;

	/*
	 * A sleeping round trip on a futex session: the doorbell's FUTEX_WAKE
	 * waits in the session's io_uring for the sleep, which submits it
	 * ahead of its FUTEX_WAIT in one io_uring_enter (in SQ order: the wake
	 * runs first). pn_wait sleeps at once here: the worker was asleep.
	 */
	s->defer_doorbell = mode == PN_WAIT_SLEEP && s->seg.sq.wake_mode == PN_WAKE_FUTEX;
	r = pn_submit(s, q);
	s->defer_doorbell = false;
	if (!r)
		r = pn_wait(s, cqe, mode, -1);
	/* a CQE that came before the sleep left the wake queued: a late wake is harmless */
	if (s->uring && io_uring_sq_ready(s->uring))
		io_uring_submit(s->uring);
	if (r)
		return r;
	if (cqe->user_data != q->user_data)
		return -EPROTO;
	return cqe->res;
}

int pn_prep_wait_sqe(struct io_uring *ring, struct pn_session *s, uint64_t user_data)
{
	struct io_uring_sqe *sqe;
	uint32_t v = pn_ring_wake_value(&s->seg.cq);	/* before NEED_WAKEUP: ordering 3 */

	if (!pn_ring_prepare_sleep(&s->seg.cq))
		return 1;
	sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		pn_ring_clear_wakeup(&s->seg.cq);
		return -EBUSY;
	}
	if (s->seg.cq.wake_mode == PN_WAKE_FUTEX)
		pn_wake_prep_wait(sqe, &s->seg.cq.hdr->wake, v, true);
	else
		io_uring_prep_read(sqe, s->seg.cq_fd, &s->efd_buf, sizeof(s->efd_buf), 0);
	io_uring_sqe_set_data64(sqe, user_data);
	return 0;
}
