// SPDX-License-Identifier: MIT
/*
 * vm_uring_wake: the wake-up probe and the eventfd fallback on the VM's
 * kernel (Debian 12's 6.1, where io_uring has no futex ops; issue 11):
 *  - pn_wake_futex_supported() agrees with the kernel version (futex ops
 *    since 6.7);
 *  - a FUTEX_WAIT SQE, filled as lib/transport/wake.c fills it, completes
 *    -EINVAL before 6.7 (so the probe is what keeps the daemon off it), and
 *    arms and is woken by a FUTEX_WAKE SQE from 6.7 on;
 *  - the fallback as polynetd's workers use it: a multishot poll on an
 *    eventfd stays armed (IORING_CQE_F_MORE) across three write(2)s, one
 *    CQE each after each drain.
 */
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>

#include "transport/wake.h"
#include "vmtest.h"

static int kernel_has_futex_ops(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	CHECK(uname(&u) == 0);
	CHECK(sscanf(u.release, "%d.%d", &maj, &min) == 2);
	return maj > 6 || (maj == 6 && min >= 7);
}

static struct io_uring_cqe *wait_one(struct io_uring *r)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe = NULL;

	CHECK(io_uring_wait_cqe_timeout(r, &cqe, &ts) == 0);
	return cqe;
}

static void futex_sqes(struct io_uring *r, int expect_ops)
{
	static uint32_t word;
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);
	struct io_uring_cqe *cqe;

	pn_wake_prep_wait(sqe, &word, 0, true);	/* shared, as prep_wake wakes */
	io_uring_sqe_set_data64(sqe, 1);
	CHECK(io_uring_submit(r) == 1);
	if (!expect_ops) {
		cqe = wait_one(r);
		CHECK(cqe->user_data == 1 && cqe->res == -EINVAL);
		io_uring_cqe_seen(r, cqe);
		return;
	}
	/* armed: nothing completes until the word moves and is woken */
	CHECK(io_uring_peek_cqe(r, &cqe) == -EAGAIN);
	pn_wake_bump(&word);
	sqe = io_uring_get_sqe(r);
	pn_wake_prep_wake(sqe, &word);
	io_uring_sqe_set_data64(sqe, 2);
	CHECK(io_uring_submit(r) == 1);
	for (int seen = 0; seen != 3;) {
		cqe = wait_one(r);
		CHECK(cqe->user_data == 1 || cqe->user_data == 2);
		if (cqe->user_data == 1)
			CHECK(cqe->res == 0);
		else
			CHECK(cqe->res == 1);	/* one waiter woken */
		seen |= (int)cqe->user_data;
		io_uring_cqe_seen(r, cqe);
	}
}

static void eventfd_multishot(struct io_uring *r)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);
	uint64_t one = 1, v;

	CHECK(efd >= 0);
	io_uring_prep_poll_multishot(sqe, efd, POLLIN);
	io_uring_sqe_set_data64(sqe, 7);
	CHECK(io_uring_submit(r) == 1);
	for (int i = 0; i < 3; i++) {
		struct io_uring_cqe *cqe;

		CHECK(write(efd, &one, sizeof(one)) == sizeof(one));	/* never IORING_OP_WRITE */
		cqe = wait_one(r);
		CHECK(cqe->user_data == 7 && (cqe->res & POLLIN));
		CHECK(cqe->flags & IORING_CQE_F_MORE);	/* still armed */
		io_uring_cqe_seen(r, cqe);
		CHECK(read(efd, &v, sizeof(v)) == sizeof(v) && v == 1);
	}
	close(efd);
}

int main(void)
{
	int ops = kernel_has_futex_ops();
	struct io_uring r;

	CHECK(pn_wake_futex_supported() == (ops != 0));
	CHECK(io_uring_queue_init(8, &r, 0) == 0);
	futex_sqes(&r, ops);
	eventfd_multishot(&r);
	io_uring_queue_exit(&r);
	printf("vm_uring_wake: kernel %s futex ops; probe agrees; multishot eventfd poll ok\n",
	       ops ? "has" : "lacks");
	return T_PASS;
}
