// SPDX-License-Identifier: MIT
/* test_ring.c - lib/ring.c: SPSC rings, their checks, and two processes. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/ring.h"

struct item {
	uint64_t seq;
	uint64_t check;		/* a function of seq: catches torn or stale slots */
};

static uint64_t check_of(uint64_t seq)
{
	return seq * 0x9e3779b97f4a7c15ull ^ 0x5bd1e995u;
}

static void *ring_mem(uint32_t entries, size_t *bytes)
{
	void *m;

	*bytes = pn_ring_bytes(entries, sizeof(struct item));
	m = calloc(1, *bytes);
	assert_non_null(m);
	return m;
}

static void test_format_and_attach_checks(void **state)
{
	struct pn_ring r;
	struct pn_err e;
	size_t bytes;
	void *m = ring_mem(8, &bytes);
	struct pn_ring_hdr *h = m;

	assert_int_equal(pn_ring_format(m, bytes, 6, sizeof(struct item), &e), -EINVAL);
	assert_int_equal(pn_ring_format(m, bytes, 8, 12, &e), -EINVAL);
	assert_int_equal(pn_ring_format(m, bytes - 1, 8, sizeof(struct item), &e), -EINVAL);
	assert_int_equal(pn_ring_format(m, bytes, 8, sizeof(struct item), &e), 0);
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), 0);
	assert_int_equal(r.entries, 8);
	/* the peer is untrusted: every constant is checked */
	assert_int_equal(pn_ring_attach(&r, m, bytes, 32, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "entry size 16, expected 32"));
	h->entries = 16;	/* would run past the memory */
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), -EPROTO);
	h->entries = 7;
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), -EPROTO);
	h->entries = 8;
	h->version = 2;
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), -EPROTO);
	h->version = PN_RING_VERSION;
	h->magic = 0;
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), -EPROTO);
	assert_non_null(strstr(e.msg, "magic"));
	h->magic = PN_RING_MAGIC;
	h->tail = 9;
	assert_int_equal(pn_ring_attach(&r, m, bytes, sizeof(struct item), &e), -EPROTO);
	free(m);
}

/* Pushes and pops n items through a ring of 8 whose indices start at start. */
static void roundtrip(uint32_t start, uint32_t n)
{
	struct pn_ring p, c;
	struct pn_err e;
	struct item it;
	size_t bytes;
	void *m = ring_mem(8, &bytes);
	uint64_t next_in = 0, next_out = 0;

	assert_int_equal(pn_ring_format(m, bytes, 8, sizeof(it), &e), 0);
	((struct pn_ring_hdr *)m)->head = start;
	((struct pn_ring_hdr *)m)->tail = start;
	assert_int_equal(pn_ring_attach(&p, m, bytes, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&c, m, bytes, sizeof(it), &e), 0);
	while (next_out < n) {
		/* fill until full, then drain a varying amount */
		while (next_in < n) {
			it.seq = next_in;
			it.check = check_of(next_in);
			int r = pn_ring_push(&p, &it);

			if (r == -EAGAIN) {
				assert_int_equal(pn_ring_space(&p), 0);
				break;
			}
			assert_int_equal(r, 0);
			next_in++;
		}
		for (uint64_t k = 0; k <= next_out % 5; k++) {
			int r = pn_ring_pop(&c, &it);

			if (r == -EAGAIN) {
				assert_int_equal(next_out, next_in);
				break;
			}
			assert_int_equal(r, 0);
			assert_int_equal(it.seq, next_out);
			assert_int_equal(it.check, check_of(next_out));
			next_out++;
		}
	}
	assert_int_equal(pn_ring_pop(&c, &it), -EAGAIN);
	free(m);
}

static void test_fifo_full_empty(void **state)
{
	roundtrip(0, 1000);
}

static void test_index_wraps_past_uint32(void **state)
{
	roundtrip(UINT32_MAX - 20, 1000);
}

static void test_bad_peer_index_is_eproto(void **state)
{
	struct pn_ring p, c;
	struct pn_err e;
	struct item it = { 0 };
	size_t bytes;
	void *m = ring_mem(8, &bytes);
	struct pn_ring_hdr *h = m;

	assert_int_equal(pn_ring_format(m, bytes, 8, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&p, m, bytes, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&c, m, bytes, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_push(&p, &it), 0);
	h->tail = 1000;		/* a producer lying about its tail */
	assert_int_equal(pn_ring_pop(&c, &it), -EPROTO);
	h->tail = 1;
	assert_int_equal(pn_ring_pop(&c, &it), 0);
	h->head = 5;		/* a consumer claiming entries never pushed */
	assert_int_equal(pn_ring_push(&p, &it), -EPROTO);
	/* the private copies are untouched: the ring recovers when the peer does */
	h->head = 1;
	assert_int_equal(pn_ring_push(&p, &it), 0);
	assert_int_equal(pn_ring_pop(&c, &it), 0);
	free(m);
}

static void test_need_wakeup(void **state)
{
	struct pn_ring p, c;
	struct pn_err e;
	struct item it = { 0 };
	size_t bytes;
	void *m = ring_mem(4, &bytes);

	assert_int_equal(pn_ring_format(m, bytes, 4, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&p, m, bytes, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&c, m, bytes, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_push(&p, &it), 0);
	assert_false(pn_ring_needs_wakeup(&p));
	/* an entry is waiting: going to sleep is refused, the flag is left clear */
	assert_false(pn_ring_prepare_sleep(&c));
	assert_false(pn_ring_needs_wakeup(&p));
	assert_int_equal(pn_ring_pop(&c, &it), 0);
	assert_true(pn_ring_prepare_sleep(&c));
	assert_int_equal(pn_ring_push(&p, &it), 0);
	assert_true(pn_ring_needs_wakeup(&p));
	pn_ring_clear_wakeup(&c);
	assert_false(pn_ring_needs_wakeup(&p));
	free(m);
}

enum { STRESS_ITEMS = 300000, STRESS_ENTRIES = 64, STRESS_PAUSE = 1024 };

/*
 * The child: pushes every item once, rings the eventfd when asked to. Every
 * STRESS_PAUSE items (after an odd count, when the consumer is willing to
 * sleep) it stops until the consumer has drained the ring and gone to sleep,
 * so the wakeup path runs however the two processes are scheduled; without
 * the pauses a slow consumer (ASan, a loaded machine) may never find the
 * ring empty.
 */
static int stress_producer(void *m, size_t bytes, int efd)
{
	struct pn_ring p;
	struct item it;
	uint64_t one = 1;

	if (pn_ring_attach(&p, m, bytes, sizeof(it), NULL))
		return 2;
	for (uint64_t s = 0; s < STRESS_ITEMS; s++) {
		int r;

		it.seq = s;
		it.check = check_of(s);
		while ((r = pn_ring_push(&p, &it)) == -EAGAIN)
			sched_yield();	/* full: back-pressure, never drop */
		if (r)
			return 3;
		if (pn_ring_needs_wakeup(&p) && write(efd, &one, sizeof(one)) != sizeof(one))
			return 4;
		if (s % STRESS_PAUSE == 0) {	/* s + 1 items pushed: odd */
			time_t end = time(NULL) + 10;

			while (!pn_ring_needs_wakeup(&p)) {
				if (time(NULL) > end)
					return 5;	/* the consumer never slept */
				sched_yield();
			}
		}
	}
	return 0;
}

/*
 * Two processes through a memfd: every item arrives once, in order, intact,
 * while the consumer keeps falling asleep on the eventfd. A lost wakeup
 * shows up as a 10 s poll timeout with entries in the ring.
 */
static void test_two_process_stress(void **state)
{
	int mfd = memfd_create("test_ring", MFD_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	size_t bytes = pn_ring_bytes(STRESS_ENTRIES, sizeof(struct item));
	struct pn_ring c;
	struct pn_err e;
	struct item it;
	uint64_t expect = 0, sleeps = 0, cnt;
	void *m;
	pid_t pid;
	int status;

	assert_true(mfd >= 0 && efd >= 0);
	assert_int_equal(ftruncate(mfd, (off_t)bytes), 0);
	m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(pn_ring_format(m, bytes, STRESS_ENTRIES, sizeof(it), &e), 0);
	assert_int_equal(pn_ring_attach(&c, m, bytes, sizeof(it), &e), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(stress_producer(m, bytes, efd));
	while (expect < STRESS_ITEMS) {
		int r = pn_ring_pop(&c, &it);

		if (r == -EAGAIN) {
			/* sleep every other time we find the ring empty */
			if ((expect & 1) && pn_ring_prepare_sleep(&c)) {
				struct pollfd pfd = { .fd = efd, .events = POLLIN };

				assert_int_equal(poll(&pfd, 1, 10000), 1);
				assert_int_equal(read(efd, &cnt, sizeof(cnt)), sizeof(cnt));
				pn_ring_clear_wakeup(&c);
				sleeps++;
			}
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(it.seq, expect);
		assert_int_equal(it.check, check_of(expect));
		expect++;
	}
	assert_int_equal(pn_ring_pop(&c, &it), -EAGAIN);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(sleeps > 0);	/* the wakeup path was exercised */
	munmap(m, bytes);
	close(mfd);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_and_attach_checks),
		cmocka_unit_test(test_fifo_full_empty),
		cmocka_unit_test(test_index_wraps_past_uint32),
		cmocka_unit_test(test_bad_peer_index_is_eproto),
		cmocka_unit_test(test_need_wakeup),
		cmocka_unit_test(test_two_process_stress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
