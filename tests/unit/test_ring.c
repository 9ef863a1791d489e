// SPDX-License-Identifier: MIT
/* test_ring.c - lib/ring.c: SPSC rings, their checks, and two processes. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/ring.h"
#include "transport/wake.h"

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
	h->version = PN_RING_VERSION + 1;
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

/*
 * Batched push and pop across two threads: the producer publishes bursts
 * of 1..BATCH_MAX items with pn_ring_push_n (one tail store each), the
 * consumer takes up to BATCH_MAX with pn_ring_peek_n and frees a random
 * part of them with pn_ring_advance (the rest it sees again), sleeping on
 * the ring's futex wake word now and then (ordering 3). Every item must
 * arrive exactly once, in order, untorn.
 */
#define BATCH_ENTRIES	64u
#define BATCH_MAX	48u
#define BATCH_ITEMS	400000u

struct batch_ctx {
	struct pn_ring_hdr *hdr;
	size_t bytes;
	uint64_t sleeps, wakes;
};

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void *batch_producer(void *arg)
{
	struct batch_ctx *b = arg;
	struct item buf[BATCH_MAX];
	struct pn_ring p;
	struct pn_err e;
	uint64_t seq = 0;
	uint32_t x = 12345;

	if (pn_ring_attach(&p, b->hdr, b->bytes, sizeof(struct item), &e))
		return (void *)1;
	while (seq < BATCH_ITEMS) {
		uint32_t n = 1 + xorshift(&x) % BATCH_MAX;
		int k;

		if (n > BATCH_ITEMS - seq)
			n = (uint32_t)(BATCH_ITEMS - seq);
		for (uint32_t i = 0; i < n; i++)
			buf[i] = (struct item){ .seq = seq + i, .check = check_of(seq + i) };
		k = pn_ring_push_n(&p, buf, n);
		if (k < 0)
			return (void *)2;
		seq += (uint32_t)k;
		if (k && pn_ring_needs_wakeup(&p)) {
			pn_wake_futex(&b->hdr->wake, false);
			b->wakes++;
		}
		if (!k)
			sched_yield();
	}
	return NULL;
}

static void test_batched_threads(void **state)
{
	struct batch_ctx b = { .bytes = pn_ring_bytes(BATCH_ENTRIES, sizeof(struct item)) };
	struct item got[BATCH_MAX];
	struct pn_ring c;
	struct pn_err e;
	pthread_t t;
	uint64_t expect = 0;
	uint32_t x = 777;
	void *ret;

	b.hdr = calloc(1, b.bytes);
	assert_non_null(b.hdr);
	assert_int_equal(pn_ring_format(b.hdr, b.bytes, BATCH_ENTRIES, sizeof(struct item), &e),
			 0);
	assert_int_equal(pn_ring_attach(&c, b.hdr, b.bytes, sizeof(struct item), &e), 0);
	assert_int_equal(pthread_create(&t, NULL, batch_producer, &b), 0);
	while (expect < BATCH_ITEMS) {
		uint32_t max = 1 + xorshift(&x) % BATCH_MAX, take;
		int k = pn_ring_peek_n(&c, got, max);

		assert_true(k >= 0 && (uint32_t)k <= max);
		if (!k) {
			uint32_t v = pn_ring_wake_value(&c);

			if ((xorshift(&x) & 3) == 0 && pn_ring_prepare_sleep(&c)) {
				/* the futex compares the word with v: a wake after the load
				 * is never lost (EAGAIN or woken); 10 s: a lost one fails */
				struct timespec ts = { .tv_sec = 10 };
				long r = syscall(SYS_futex, &b.hdr->wake, FUTEX_WAIT_PRIVATE, v,
						 &ts, NULL, 0);

				assert_true(r == 0 || errno == EAGAIN || errno == EINTR);
				pn_ring_clear_wakeup(&c);
				b.sleeps++;
			}
			continue;
		}
		for (int i = 0; i < k; i++) {
			assert_int_equal(got[i].seq, expect + (uint64_t)i);
			assert_int_equal(got[i].check, check_of(expect + (uint64_t)i));
		}
		/* free only part of them: the rest must come back, the same */
		take = 1 + xorshift(&x) % (uint32_t)k;
		pn_ring_advance(&c, take);
		expect += take;
	}
	assert_int_equal(pthread_join(t, &ret), 0);
	assert_null(ret);
	assert_int_equal(pn_ring_pop_n(&c, got, BATCH_MAX), 0);
	assert_true(b.sleeps > 0);
	free(b.hdr);
}

/* Batches wrap around the end of the slots and stop at full and empty. */
static void test_batched_wrap_full(void **state)
{
	size_t bytes;
	void *m = ring_mem(8, &bytes);
	struct item in[12], out[12];
	struct pn_ring p, c;
	struct pn_err e;

	for (int i = 0; i < 12; i++)
		in[i] = (struct item){ .seq = (uint64_t)i, .check = check_of((uint64_t)i) };
	assert_int_equal(pn_ring_format(m, bytes, 8, sizeof(struct item), &e), 0);
	assert_int_equal(pn_ring_attach(&p, m, bytes, sizeof(struct item), &e), 0);
	assert_int_equal(pn_ring_attach(&c, m, bytes, sizeof(struct item), &e), 0);
	assert_int_equal(pn_ring_push_n(&p, in, 5), 5);
	assert_int_equal(pn_ring_pop_n(&c, out, 3), 3);
	assert_int_equal(pn_ring_push_n(&p, in + 5, 7), 6);	/* 8 - 2 queued */
	assert_int_equal(((struct pn_ring_hdr *)m)->tail, 11);
	assert_int_equal(pn_ring_push_n(&p, in + 11, 1), 0);	/* full */
	assert_int_equal(pn_ring_pop_n(&c, out + 3, 12), 8);	/* across the end */
	for (int i = 0; i < 11; i++)
		assert_int_equal(out[i].seq, (uint64_t)i);
	assert_int_equal(pn_ring_pop_n(&c, out, 12), 0);
	((struct pn_ring_hdr *)m)->tail += 100;	/* a hostile producer */
	assert_int_equal(pn_ring_peek_n(&c, out, 12), -EPROTO);
	free(m);
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
		cmocka_unit_test(test_batched_threads),
		cmocka_unit_test(test_batched_wrap_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
