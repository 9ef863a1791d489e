// SPDX-License-Identifier: MIT
/*
 * waiter.c - a worker's io_uring of doorbell and kick waits (waiter.h).
 * Cold next to a job: it runs only when the worker has found nothing to do
 * for idle_spin_us.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "sched/sched.h"
#include "transport/wake.h"
#include "waiter.h"

#define WAITER_SQ	256
#define WAITER_CQ	4096	/* every session's doorbell, the kick and cancels at once */

/* user_data: kind in the top bits, then the session id and the slot */
#define TAG_DOORBELL	(1ull << 62)
#define TAG_KICK	(2ull << 62)
#define TAG_IGNORE	(3ull << 62)
#define TAG_KIND	(3ull << 62)

static uint64_t tag(uint32_t slot, uint32_t id)
{
	return TAG_DOORBELL | (uint64_t)id << 16 | slot;
}

int pnd_waiter_init(struct pnd_waiter *wt, struct pn_err *e)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = WAITER_CQ };
	int r;

	memset(wt, 0, sizeof(*wt));
	r = io_uring_queue_init_params(WAITER_SQ, &wt->ring, &p);
	if (r)
		return pn_errf(e, r, "worker io_uring: %s", strerror(-r));
	wt->ready = true;
	return 0;
}

void pnd_waiter_fini(struct pnd_waiter *wt)
{
	if (wt->ready)
		io_uring_queue_exit(&wt->ring);	/* cancels every armed wait */
	wt->ready = false;
}

/* An SQE, submitting the queued ones first when the SQ is full. */
static struct io_uring_sqe *get_sqe(struct pnd_waiter *wt)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&wt->ring);

	if (!sqe) {
		io_uring_submit(&wt->ring);
		sqe = io_uring_get_sqe(&wt->ring);
	}
	return sqe;
}

void pnd_waiter_disarm(struct pnd_waiter *wt, uint32_t slot)
{
	struct io_uring_sqe *sqe;

	if (!wt->armed[slot])
		return;
	sqe = get_sqe(wt);
	if (!sqe)
		return;		/* cannot happen after a submit; the wait stays, harmless */
	io_uring_prep_cancel64(sqe, tag(slot, wt->armed[slot]), 0);
	io_uring_sqe_set_data64(sqe, TAG_IGNORE);
	wt->armed[slot] = 0;
	wt->fired[slot] = 0;
}

/* The slot's wait belongs to another session: cancel it first. */
static struct io_uring_sqe *arm_slot(struct pnd_waiter *wt, uint32_t slot, uint32_t id)
{
	struct io_uring_sqe *sqe;

	if (wt->armed[slot] == id)
		return NULL;
	pnd_waiter_disarm(wt, slot);
	sqe = get_sqe(wt);
	if (sqe)
		wt->armed[slot] = id;
	return sqe;
}

void pnd_waiter_arm_futex(struct pnd_waiter *wt, uint32_t slot, uint32_t id, uint32_t *word,
			  uint32_t val)
{
	struct io_uring_sqe *sqe = arm_slot(wt, slot, id);

	if (!sqe)
		return;
	/* shared: the word is in the session's memfd, the client wakes it */
	pn_wake_prep_wait(sqe, word, val, true);
	io_uring_sqe_set_data64(sqe, tag(slot, id));
}

void pnd_waiter_arm_poll(struct pnd_waiter *wt, uint32_t slot, uint32_t id, int fd)
{
	struct io_uring_sqe *sqe = arm_slot(wt, slot, id);

	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(slot, id));
}

uint32_t pnd_waiter_take_fired(struct pnd_waiter *wt, uint32_t slot, uint32_t id)
{
	uint32_t n = wt->armed[slot] == id || !wt->armed[slot] ? wt->fired[slot] : 0;

	wt->fired[slot] = 0;
	return n;
}

void pnd_waiter_arm_kick(struct pnd_waiter *wt, uint32_t *word, uint32_t val, int fd)
{
	struct io_uring_sqe *sqe;

	if (wt->kick_armed || !(sqe = get_sqe(wt)))
		return;
	if (fd >= 0)
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	else
		pn_wake_prep_wait(sqe, word, val, false);	/* the daemon's own memory */
	io_uring_sqe_set_data64(sqe, TAG_KICK);
	wt->kick_armed = true;
}

static void on_cqe(struct pnd_waiter *wt, const struct io_uring_cqe *cqe, int kick_fd)
{
	uint64_t ud = cqe->user_data;
	/* a multishot poll stays armed while the kernel says F_MORE */
	bool more = cqe->flags & IORING_CQE_F_MORE;

	switch (ud & TAG_KIND) {
	case TAG_KICK:
		if (kick_fd >= 0)
			pn_wake_eventfd_drain(kick_fd);
		if (!more)
			wt->kick_armed = false;
		break;
	case TAG_DOORBELL: {
		uint32_t slot = (uint32_t)(ud & 0xffff), id = (uint32_t)(ud >> 16);

		/* a cancelled wait of a slot's previous session: nothing to do */
		if (slot >= PND_MAX_SESSIONS || wt->armed[slot] != id)
			break;
		if (cqe->res != -ECANCELED)
			wt->fired[slot]++;
		if (!more)
			wt->armed[slot] = 0;
		break;
	}
	default:
		break;
	}
}

void pnd_waiter_reap(struct pnd_waiter *wt, int kick_fd)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&wt->ring, head, cqe) {
		on_cqe(wt, cqe, kick_fd);
		n++;
	}
	io_uring_cq_advance(&wt->ring, n);
}

void pnd_waiter_sleep(struct pnd_waiter *wt, uint64_t deadline_ns, int kick_fd)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t now = pnd_now_ns();

	if (deadline_ns != PN_SCHED_NEVER) {
		uint64_t d = deadline_ns > now ? deadline_ns - now : 0;

		ts.tv_sec = (long long)(d / 1000000000ull);
		ts.tv_nsec = (long long)(d % 1000000000ull);
	}
	/* one syscall: submit the new waits and sleep; -ETIME, -EINTR: look again */
	io_uring_submit_and_wait_timeout(&wt->ring, &cqe, 1,
					 deadline_ns == PN_SCHED_NEVER ? NULL : &ts, NULL);
	pnd_waiter_reap(wt, kick_fd);
}
