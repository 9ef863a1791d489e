// SPDX-License-Identifier: MIT
/*
 * wake_client.c - the client side of tests/integration/test_daemon_wake.sh
 * (issue 11: wake-ups through io_uring). One verb per run:
 *
 *   wake_client jobs SOCK MODEL N WAIT GAP_US MODE
 *       N empty jobs, each after GAP_US of idling (longer than the daemon's
 *       idle spin: its worker sleeps), waited for with WAIT (spin, sleep,
 *       uring, adaptive); each must complete within 3 s. MODE (futex or
 *       eventfd) is the wake mode the session must have been given.
 *   wake_client batch SOCK MODEL N
 *       N jobs through a 16-entry SQ with pn_submit_n in bursts of 64: the
 *       ring fills (a partial submit must be seen), every job completes once.
 *   wake_client scribble SOCK MODEL SECS
 *       for SECS, bumps and wakes its SQ's doorbell word and scribbles its
 *       CQ's wake word and flags without submitting; then one job, which
 *       must still complete (the misbehaviour costs only this client).
 *
 * Prints one line; exits 0 on success, 1 with a reason on failure.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport/client.h"
#include "uapi/ring.h"

#define DIE(...) do { fprintf(stderr, "wake_client: " __VA_ARGS__); \
		      fputc('\n', stderr); exit(1); } while (0)

struct sess {
	struct pn_client *c;
	struct pn_client_model *m;
	struct pn_session *s;
	struct pn_sqe tmpl;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void sess_open(struct sess *k, const char *sock, const char *model, uint32_t sq,
		      uint32_t cq)
{
	const struct pn_model_desc *d;
	struct pn_err e;
	int32_t *in;

	if (pn_connect(sock, &k->c, &e) || pn_client_model_open(k->c, model, &k->m, &e) ||
	    pn_session_open(k->c, sq, cq, 1 << 16, &k->s, &e))
		DIE("%s", e.msg);
	d = pn_client_model_desc(k->m);
	in = pn_session_arena(k->s, NULL);
	in[0] = 1;	/* id */
	in[1] = 1;	/* len */
	pn_sqe_run(&k->tmpl, d->id, 0, 1, 1, 64, d->out_width * 4, 0);
}

static void sess_close(struct sess *k)
{
	pn_session_close(k->s);
	pn_client_model_close(k->m);
	pn_disconnect(k->c);
}

static struct pn_ring_hdr *ring_hdr(struct sess *k, int cq)
{
	struct pn_seg_hdr *h = pn_session_seg(k->s);

	return (struct pn_ring_hdr *)((uint8_t *)h + (cq ? h->cq_off : h->sq_off));
}

static enum pn_wait_mode wait_mode(const char *w)
{
	if (!strcmp(w, "spin"))
		return PN_WAIT_SPIN;
	if (!strcmp(w, "sleep"))
		return PN_WAIT_SLEEP;
	if (!strcmp(w, "uring"))
		return PN_WAIT_URING;
	if (!strcmp(w, "adaptive"))
		return PN_WAIT_ADAPTIVE;
	DIE("wait mode %s: expected spin, sleep, uring or adaptive", w);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void jobs(const char *sock, const char *model, uint32_t n, const char *w,
		 uint32_t gap_us, const char *mode)
{
	enum pn_wait_mode wm = wait_mode(w);
	double *lat = calloc(n, sizeof(*lat));
	struct pn_wait_stats ws;
	struct sess k;

	sess_open(&k, sock, model, 16, 16);
	if (ring_hdr(&k, 0)->wake_mode != (strcmp(mode, "futex") ? PN_WAKE_EVENTFD :
					   PN_WAKE_FUTEX))
		DIE("the session's wake mode is %u, expected %s", ring_hdr(&k, 0)->wake_mode,
		    mode);
	for (uint32_t i = 0; i < n; i++) {
		struct pn_sqe q = k.tmpl;
		struct pn_cqe cqe;
		double t0;
		int r;

		usleep(gap_us);
		q.user_data = i;
		t0 = now_us();
		if (i % 2) {	/* pn_run: a sleep's doorbell rides on its FUTEX_WAIT */
			if ((r = pn_run(k.s, &q, wm, &cqe)) < 0)
				DIE("job %u: pn_run (%s wait, %s wake-ups): %s", i, w, mode,
				    strerror(-r));
		} else {
			if ((r = pn_submit(k.s, &q)))
				DIE("job %u: submit: %s", i, strerror(-r));
			/* 3 s: a lost wake-up leaves a sleeping worker or client asleep */
			if ((r = pn_wait(k.s, &cqe, wm, 3000)))
				DIE("job %u (%s wait, %s wake-ups): %s", i, w, mode, strerror(-r));
		}
		lat[i] = now_us() - t0;
		if (cqe.user_data != i || cqe.res)
			DIE("job %u: CQE user_data %llu res %d", i,
			    (unsigned long long)cqe.user_data, cqe.res);
	}
	qsort(lat, n, sizeof(*lat), cmp_d);
	pn_session_wait_stats(k.s, &ws);
	/*
	 * Each sleep ends by a wake or after 100 ms: an empty job that long is
	 * a lost completion wake-up (a worker that slept through its doorbell
	 * fails the 3 s above instead). n / 10 forgives a loaded machine.
	 */
	if (ws.timed_out > n / 10)
		DIE("%s wait, %s wake-ups: %llu of %llu sleeps ran out instead of being woken",
		    w, mode, (unsigned long long)ws.timed_out, (unsigned long long)ws.sleeps);
	/*
	 * Sleep and uring waits sleep on (nearly) every job after idle. An
	 * adaptive wait first spins its 20 us: a job that completes inside it
	 * need not sleep (on a fast CPU wake-ups take about that long), but one
	 * that takes twice that must have slept. So adaptive is held to half
	 * of its jobs past 40 us, the others to half of all jobs.
	 */
	uint32_t need = n / 2;

	if (wm == PN_WAIT_ADAPTIVE) {
		need = 0;
		for (uint32_t i = 0; i < n; i++)
			need += lat[i] > 40.0;
		need /= 2;
	}
	if (wm != PN_WAIT_SPIN && ws.sleeps < need)
		DIE("%s wait: only %llu sleeps in %u jobs after %u us idle (expected %u)", w,
		    (unsigned long long)ws.sleeps, n, gap_us, need);
	printf("jobs: %u %s-waited jobs after %u us idle, %s wake-ups: p50 %.1f us, max %.1f us, "
	       "%llu sleeps, %llu ran out\n", n, w, gap_us, mode, lat[n / 2], lat[n - 1],
	       (unsigned long long)ws.sleeps, (unsigned long long)ws.timed_out);
	free(lat);
	sess_close(&k);
}

static void batch(const char *sock, const char *model, uint32_t n)
{
	uint8_t *seen = calloc(n, 1);
	struct pn_sqe q[64];
	struct pn_cqe cqe[32];
	uint32_t sent = 0, done = 0, partial = 0;
	struct sess k;

	sess_open(&k, sock, model, 16, 32);
	while (done < n) {
		uint32_t want = n - sent < 64 ? n - sent : 64;
		int r = 0, got;

		for (uint32_t i = 0; i < want; i++) {
			q[i] = k.tmpl;
			q[i].user_data = sent + i;
		}
		if (want) {
			r = pn_submit_n(k.s, q, want);
			if (r < 0 && r != -EAGAIN)
				DIE("submit_n: %s", strerror(-r));
			if (r > 0) {
				partial += (uint32_t)r < want;
				sent += (uint32_t)r;
			}
		}
		got = pn_poll_n(k.s, cqe, 32);
		if (!got && done < sent) {
			if ((r = pn_wait(k.s, cqe, PN_WAIT_SLEEP, 3000)))
				DIE("wait with %u of %u done: %s", done, sent, strerror(-r));
			got = 1;
		}
		for (int i = 0; i < got; i++) {
			if (cqe[i].user_data >= n || seen[cqe[i].user_data]++)
				DIE("CQE %llu: unknown or twice", (unsigned long long)cqe[i].user_data);
			if (cqe[i].res)
				DIE("job %llu: %s", (unsigned long long)cqe[i].user_data,
				    strerror(-cqe[i].res));
		}
		done += (uint32_t)got;
	}
	if (!partial)
		DIE("no submit was cut short: the ring never filled, the test tested nothing");
	printf("batch: %u jobs in bursts of 64 through a 16-entry SQ, each completed once, "
	       "%u partial submits\n", n, partial);
	free(seen);
	sess_close(&k);
}

static void scribble(const char *sock, const char *model, double secs)
{
	struct sess k;
	struct pn_ring_hdr *sq, *cq;
	struct pn_sqe q;
	struct pn_cqe cqe;
	uint64_t n = 0;
	double t0 = now_us(), t;
	int r;

	sess_open(&k, sock, model, 16, 16);
	sq = ring_hdr(&k, 0);
	cq = ring_hdr(&k, 1);
	while (now_us() - t0 < secs * 1e6) {
		/* the doorbell with nothing behind it, as fast as we can */
		__atomic_fetch_add(&sq->wake, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &sq->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
		/* the daemon never waits on the CQ's words: they only cost us */
		cq->wake = (uint32_t)rand();
		cq->flags ^= PN_RING_NEED_WAKEUP;
		n++;
	}
	cq->flags = 0;
	q = k.tmpl;
	q.user_data = 42;
	t = now_us();
	if ((r = pn_submit(k.s, &q)) || (r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 3000)))
		DIE("the scribbler's own job after scribbling: %s", strerror(-r));
	printf("scribble: %llu doorbells for nothing in %.1f s; its own job then took %.0f us\n",
	       (unsigned long long)n, secs, now_us() - t);
	sess_close(&k);
}

int main(int argc, char **argv)
{
	alarm(60);	/* a lost wake-up in pn_run (it waits forever) fails, not hangs */
	if (argc == 8 && !strcmp(argv[1], "jobs"))
		jobs(argv[2], argv[3], (uint32_t)atoi(argv[4]), argv[5], (uint32_t)atoi(argv[6]),
		     argv[7]);
	else if (argc == 5 && !strcmp(argv[1], "batch"))
		batch(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 5 && !strcmp(argv[1], "scribble"))
		scribble(argv[2], argv[3], atof(argv[4]));
	else
		DIE("usage: see the top of tests/integration/wake_client.c");
	return 0;
}
