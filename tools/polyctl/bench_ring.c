// SPDX-License-Identifier: MIT
/*
 * polyctl bench --ring [--socket PATH] [--model NAME] [--iters N] [--cpu N]
 *                      [--wait LIST] [--gap-us N] [--json]
 *
 * Round trip of an empty job through polynetd's rings, one client, next to
 * the same request/response over a plain Unix socket in the same run.
 * LIST is a comma-separated choice of wait modes (default
 * poll,sleep,adaptive:20); each brings its rows:
 *  - poll:  "polling" (submit, spin on the CQ; the daemon's worker is hot:
 *           it polls the SQ while busy), "polling_nop" (PN_OP_NOP, answered
 *           by the worker without the scheduler or the executor: the rings'
 *           own cost) and "unix_socket" (back to back, as polling);
 *  - sleep: "sleeping" (an idle gap longer than the daemon's idle spin
 *           before each job, so the worker sleeps: the doorbell wakes it, the
 *           client sleeps until the completion wakes it) and
 *           "unix_socket_idle" (the socket after the same gap), the two
 *           alternated job by job: both pay two wake-ups after the same idle;
 *  - adaptive[:US]: "adaptive" (the client spins US microseconds, default
 *           20, then sleeps; back to back as polling, so the jobs are shorter
 *           than its spin).
 * The back-to-back rows run in alternated blocks (polling, adaptive, nop,
 * socket, again), each after a warm-up; the socket block after the gap, so
 * the worker's idle spin is over and leaves the echo's CPU alone.
 * --gap-us defaults to 2 x the daemon's idle spin + 200.
 * The socket peer is a forked echo process on CPU 0 (polynetd's first
 * worker), a 64-byte request (an SQE) and a 32-byte reply (a CQE) over
 * SOCK_SEQPACKET, blocking reads. The client pins itself to --cpu (default:
 * the last CPU), so a spinning client never shares a core with the
 * spinning worker it waits for.
 * The empty job runs a one-node model (EMBED of a 4 x 4 table, 1 token),
 * written here and loaded transient unless --model names another.
 * Output: a table, or with --json one object: "socket", "wake" ("futex" or
 * "eventfd": the session's wake mode), "gap_us", "adaptive_spin_us", one
 * object per row {iters, p50_us, p99_us, p999_us, mean_us} (nearest-rank
 * percentiles, lib/util/stats.h), "socket_over_polling_p50",
 * "sleeping_over_socket_p50", "adaptive_over_polling_p50" and "targets"
 * (issue 11's, true or false; only those whose rows ran).
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transport/client.h"
#include "format/pnb.h"
#include "polyctl.h"
#include "transport/proto.h"
#include "util/stats.h"

enum row { POLLING, ADAPTIVE, POLLING_NOP, SOCKET, SLEEPING, SOCKET_IDLE, NROWS };
static const char *const row_name[NROWS] = {
	"polling", "adaptive", "polling_nop", "unix_socket", "sleeping", "unix_socket_idle",
};

struct row_res {
	struct pn_stats st;
	bool on;
	double p50, p99, p999, mean;
};

struct bench {
	struct pn_session *s;
	struct pn_sqe job, nop;
	int sock;		/* the echo peer */
	uint64_t seq;
	double gap_us;
	struct row_res r[NROWS];
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Idle for gap_us: sleep most of it, spin the rest (usleep overshoots). */
static void idle_gap(double gap_us)
{
	double until = now_us() + gap_us;

	usleep((useconds_t)gap_us);
	while (now_us() < until)
		;
}

static int ring_once(struct bench *b, const struct pn_sqe *tmpl, enum pn_wait_mode wm,
		     double *us)
{
	struct pn_sqe q = *tmpl;
	struct pn_cqe cqe;
	double t0;
	int r;

	q.user_data = ++b->seq;
	t0 = now_us();
	r = pn_run(b->s, &q, wm, &cqe);
	*us = now_us() - t0;
	return r;
}

static int socket_once(struct bench *b, double *us)
{
	struct pn_sqe req = { .user_data = ++b->seq };
	struct pn_cqe rep;
	double t0 = now_us();

	if (write(b->sock, &req, sizeof(req)) != sizeof(req) ||
	    read(b->sock, &rep, sizeof(rep)) != sizeof(rep) || rep.user_data != req.user_data)
		return -EIO;
	*us = now_us() - t0;
	return 0;
}

/* One round trip of row w; measured unless warm-up. */
static int once(struct bench *b, enum row w, bool measure)
{
	double us = 0;
	int r;

	switch (w) {
	case POLLING: r = ring_once(b, &b->job, PN_WAIT_SPIN, &us); break;
	case ADAPTIVE: r = ring_once(b, &b->job, PN_WAIT_ADAPTIVE, &us); break;
	case POLLING_NOP: r = ring_once(b, &b->nop, PN_WAIT_SPIN, &us); break;
	case SLEEPING: r = ring_once(b, &b->job, PN_WAIT_SLEEP, &us); break;
	default: r = socket_once(b, &us); break;
	}
	if (!r && measure)
		pn_stats_add(&b->r[w].st, us);
	return r;
}

/* The back-to-back rows, in 10 alternated blocks of iters / 10 each. */
static int run_back_to_back(struct bench *b, uint32_t iters)
{
	static const enum row order[] = { POLLING, ADAPTIVE, POLLING_NOP, SOCKET };
	uint32_t per = iters / 10;

	for (int blk = 0; blk < 10; blk++)
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
			enum row w = order[k];

			if (!b->r[w].on)
				continue;
			if (w == SOCKET)
				idle_gap(b->gap_us);	/* the worker's spin ends */
			for (uint32_t i = 0; i < per / 10 + 10; i++)
				if (once(b, w, false))
					return -EIO;
			for (uint32_t i = 0; i < per; i++)
				if (once(b, w, true))
					return -EIO;
		}
	return 0;
}

/* Sleeping and the socket after the same idle gap, alternated job by job. */
static int run_after_idle(struct bench *b, uint32_t iters)
{
	for (uint32_t i = 0; i < iters + 20; i++)
		for (enum row w = SLEEPING; w <= SOCKET_IDLE; w++) {
			idle_gap(b->gap_us);
			if (once(b, w, i >= 20))
				return -EIO;
		}
	return 0;
}

/* The echo peer on server_cpu: returns its pid, the client end in *fd. */
static pid_t echo_start(int server_cpu, int *fd)
{
	struct pn_sqe req;
	struct pn_cqe rep = { 0 };
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (server_cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(server_cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		close(sv[0]);
		while (read(sv[1], &req, sizeof(req)) == sizeof(req)) {
			rep.user_data = req.user_data;
			if (write(sv[1], &rep, sizeof(rep)) != sizeof(rep))
				_exit(1);
		}
		_exit(0);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

/* --wait LIST: the rows it turns on; -1 on a word it does not know. */
static int parse_wait(char *list, struct bench *b, uint32_t *spin_us)
{
	for (char *w = strtok(list, ","); w; w = strtok(NULL, ",")) {
		char *end;

		if (!strcmp(w, "poll")) {
			b->r[POLLING].on = b->r[POLLING_NOP].on = b->r[SOCKET].on = true;
		} else if (!strcmp(w, "sleep")) {
			b->r[SLEEPING].on = b->r[SOCKET_IDLE].on = true;
		} else if (!strncmp(w, "adaptive", 8) && (w[8] == 0 || w[8] == ':')) {
			b->r[ADAPTIVE].on = true;
			if (w[8] == ':') {
				unsigned long v = strtoul(w + 9, &end, 10);

				if (end == w + 9 || *end || v > 1000000)
					return -1;
				*spin_us = (uint32_t)v;
			}
		} else {
			return -1;
		}
	}
	return 0;
}

static double ratio(const struct bench *b, enum row num, enum row den)
{
	return b->r[num].on && b->r[den].on ? b->r[num].p50 / b->r[den].p50 : 0;
}

static void print_json(const struct bench *b, const char *sock, uint32_t spin_us)
{
	const struct row_res *r = b->r;
	const char *sep = "";

	printf("{\"bench\":\"ring\",\"socket\":\"%s\",\"wake\":\"%s\",\"gap_us\":%.0f,"
	       "\"adaptive_spin_us\":%u", sock,
	       pn_session_wake_mode(b->s) == PN_WAKE_FUTEX ? "futex" : "eventfd", b->gap_us,
	       spin_us);
	for (int i = 0; i < NROWS; i++)
		if (r[i].on)
			printf(",\"%s\":{\"iters\":%zu,\"p50_us\":%.3f,\"p99_us\":%.3f,"
			       "\"p999_us\":%.3f,\"mean_us\":%.3f}", row_name[i], r[i].st.n,
			       r[i].p50, r[i].p99, r[i].p999, r[i].mean);
	printf(",\"socket_over_polling_p50\":%.2f,\"sleeping_over_socket_p50\":%.3f,"
	       "\"adaptive_over_polling_p50\":%.3f,\"targets\":{", ratio(b, SOCKET, POLLING),
	       ratio(b, SLEEPING, SOCKET_IDLE), ratio(b, ADAPTIVE, POLLING));
	if (r[POLLING].on) {
		printf("\"polling_p50_le_1us\":%s", r[POLLING].p50 <= 1 ? "true" : "false");
		sep = ",";
	}
	if (r[SLEEPING].on) {
		printf("%s\"sleeping_p50_le_socket\":%s,\"sleeping_p999_le_socket\":%s", sep,
		       r[SLEEPING].p50 <= r[SOCKET_IDLE].p50 ? "true" : "false",
		       r[SLEEPING].p999 <= r[SOCKET_IDLE].p999 ? "true" : "false");
		sep = ",";
	}
	if (r[ADAPTIVE].on && r[POLLING].on)
		printf("%s\"adaptive_p50_within_2x_polling\":%s", sep,
		       r[ADAPTIVE].p50 <= 2 * r[POLLING].p50 ? "true" : "false");
	printf("}}\n");
}

static void print_table(const struct bench *b, const char *sock, uint32_t spin_us)
{
	printf("round trip of an empty job (%s, 1 client, %s wake-ups, idle gap %.0f us, "
	       "adaptive spin %u us), microseconds:\n", sock,
	       pn_session_wake_mode(b->s) == PN_WAKE_FUTEX ? "futex" : "eventfd", b->gap_us,
	       spin_us);
	printf("%-16s %8s %9s %9s %9s %9s\n", "mode", "iters", "p50", "p99", "p99.9", "mean");
	for (int i = 0; i < NROWS; i++)
		if (b->r[i].on)
			printf("%-16s %8zu %9.2f %9.2f %9.2f %9.2f\n", row_name[i], b->r[i].st.n,
			       b->r[i].p50, b->r[i].p99, b->r[i].p999, b->r[i].mean);
	if (b->r[POLLING].on)
		printf("unix socket p50 / polling p50 = %.1fx\n", ratio(b, SOCKET, POLLING));
	if (b->r[SLEEPING].on)
		printf("sleeping p50 / unix socket (same idle gap) p50 = %.2fx\n",
		       ratio(b, SLEEPING, SOCKET_IDLE));
	if (b->r[ADAPTIVE].on && b->r[POLLING].on)
		printf("adaptive p50 / polling p50 = %.2fx\n", ratio(b, ADAPTIVE, POLLING));
}

static int measure(struct bench *b, uint32_t iters, int cpu)
{
	pid_t echo;
	int st, r = 0;

	for (int i = 0; i < NROWS; i++)
		if (b->r[i].on && pn_stats_init(&b->r[i].st, iters))
			return -ENOMEM;
	echo = echo_start(cpu > 0 ? 0 : -1, &b->sock);
	if (echo < 0)
		return -errno;
	r = run_back_to_back(b, iters);
	if (!r && b->r[SLEEPING].on)
		r = run_after_idle(b, iters / 10 > 1000 ? iters / 10 : 1000);
	close(b->sock);
	waitpid(echo, &st, 0);
	for (int i = 0; i < NROWS; i++) {
		struct row_res *m = &b->r[i];

		if (!m->on)
			continue;
		m->mean = pn_stats_mean(&m->st);
		m->p50 = pn_stats_pct(&m->st, 50);
		m->p99 = pn_stats_pct(&m->st, 99);
		m->p999 = pn_stats_pct(&m->st, 99.9);
	}
	return r;
}

int cmd_bench_ring(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ring", no_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "model", required_argument, NULL, 'm' },
		{ "iters", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "wait", required_argument, NULL, 'w' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .gap_us = -1 };
	const char *sock = NULL, *model = NULL;
	struct pn_client *c = NULL;
	struct pn_client_model *cm = NULL;
	struct pn_model_desc d;
	struct pn_err e;
	uint32_t iters = 20000, spin_us = 20;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int json = 0, o, r = 1, cpu = ncpu > 1 ? (int)ncpu - 1 : -1;
	cpu_set_t set;
	char ref[16], tmp[] = "/tmp/polyctl-ring-XXXXXX", waits[64] = "poll,sleep,adaptive", tmp_w[64];
	int32_t *in;

	optind = 1;
	while ((o = getopt_long(argc, argv, "rs:m:n:c:w:g:jh", lo, NULL)) != -1) {
		switch (o) {
		case 'r': break;
		case 's': sock = optarg; break;
		case 'm': model = optarg; break;
		case 'n': iters = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': cpu = atoi(optarg); break;
		case 'w': snprintf(waits, sizeof(waits), "%s", optarg); break;
		case 'g': b.gap_us = atof(optarg); break;
		case 'j': json = 1; break;
		case 'h':
			printf("usage: polyctl bench --ring [--socket PATH] [--model NAME] "
			       "[--iters N] [--cpu N]\n                     "
			       "[--wait poll,sleep,adaptive[:US]] [--gap-us N] [--json]\n");
			return 0;
		default: return 2;
		}
	}
	if (iters < 1000 || optind != argc)
		return polyctl_fail("bench", "--ring: expected --iters >= 1000 and no operand");
	snprintf(tmp_w, sizeof(tmp_w), "%s", waits);	/* strtok cuts waits */
	if (parse_wait(waits, &b, &spin_us))
		return polyctl_fail("bench", "--wait %s: expected a comma-separated list of "
				    "poll, sleep, adaptive[:US]", tmp_w);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return polyctl_fail("bench", "--cpu %d: %s", cpu, strerror(errno));
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail("bench", "%s", e.msg);
	if (b.gap_us < 0)
		b.gap_us = 2.0 * pn_client_hello(c)->idle_spin_us + 200;
	if (!model) {
		int fd = mkstemp(tmp);

		if (fd < 0 || (close(fd), pnb_write_nop_model(tmp, "ring-bench-empty", 1, &e)) ||
		    pn_client_load(c, tmp, PN_LOAD_F_TRANSIENT, &d, &e)) {
			unlink(tmp);
			polyctl_fail("bench", "%s", fd < 0 ? "mkstemp failed" : e.msg);
			goto out;
		}
		unlink(tmp);
		snprintf(ref, sizeof(ref), "#%u", d.id);
		model = ref;
	}
	if (pn_client_model_open(c, model, &cm, &e) ||
	    pn_session_open(c, 16, 16, 1 << 16, &b.s, &e)) {
		polyctl_fail("bench", "%s", e.msg);
		goto out;
	}
	pn_session_set_spin_us(b.s, spin_us);
	d = *pn_client_model_desc(cm);
	in = pn_session_arena(b.s, NULL);
	in[0] = 0;	/* id */
	in[1] = 1;	/* len */
	pn_sqe_run(&b.job, d.id, 0, 1, 1, 64, d.out_width * 4, 0);
	b.nop.opcode = PN_OP_NOP;
	if (measure(&b, iters, cpu)) {
		polyctl_fail("bench", "--ring: a round trip failed");
		goto out;
	}
	if (json)
		print_json(&b, pn_client_socket(c), spin_us);
	else
		print_table(&b, pn_client_socket(c), spin_us);
	r = 0;
out:
	for (int i = 0; i < NROWS; i++)
		if (b.r[i].on)
			pn_stats_free(&b.r[i].st);
	if (model == ref)
		pn_client_unload(c, d.id, NULL, NULL);	/* our hold on the transient model */
	pn_session_close(b.s);
	pn_client_model_close(cm);
	pn_disconnect(c);
	return r;
}
