// SPDX-License-Identifier: MIT
/*
 * polyctl bench --ring [--socket PATH] [--model NAME] [--iters N] [--cpu N] [--json]
 *
 * Round trip of an empty job through polynetd's rings, one client, and in
 * the same run the same request/response over a plain Unix socket:
 *  - polling:  submit, spin on the CQ; the daemon's worker is hot (it polls
 *              the SQ while busy);
 *  - sleeping: wait longer than the daemon's idle spin before each job, so
 *              its worker sleeps: the doorbell eventfd wakes it; the client
 *              sleeps on its completion eventfd;
 *  - unix_socket: a forked echo process on CPU 0 (the worker's), a 64-byte
 *              request (an SQE) and a 32-byte reply (a CQE) over
 *              SOCK_SEQPACKET, blocking reads;
 *  - polling_nop: as polling with PN_OP_NOP, answered by the worker at once
 *              without the scheduler or the executor: the rings' own cost.
 * The client pins itself to --cpu (default: the last CPU; polynetd pins its
 * first worker to CPU 0), so a spinning client never shares a core with the
 * spinning worker it waits for.
 * The empty job runs a one-node model (EMBED of a 4 x 4 table, 1 token),
 * written here and loaded transient unless --model names another.
 * Percentiles are nearest-rank (lib/stats.h) in microseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
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

struct mode_res {
	const char *name;
	uint32_t iters;
	double p50, p99, p999, mean;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void finish(struct mode_res *m, struct pn_stats *st)
{
	m->iters = (uint32_t)st->n;
	m->mean = pn_stats_mean(st);
	m->p50 = pn_stats_pct(st, 50);
	m->p99 = pn_stats_pct(st, 99);
	m->p999 = pn_stats_pct(st, 99.9);
}

static int ring_mode(struct pn_session *s, const struct pn_sqe *tmpl, enum pn_wait_mode wm,
		     uint32_t iters, double gap_us, struct mode_res *res)
{
	struct pn_stats st;
	struct pn_sqe q = *tmpl;
	struct pn_cqe cqe;
	uint32_t warm = iters / 10 + 10;
	int r = 0;

	if (pn_stats_init(&st, iters))
		return -ENOMEM;
	for (uint32_t i = 0; i < warm + iters && !r; i++) {
		double t0, t1;

		if (gap_us > 0) {
			/* idle longer than the daemon's spin: its worker is asleep */
			double until = now_us() + gap_us;

			usleep((useconds_t)gap_us);
			while (now_us() < until)
				;
		}
		q.user_data = i;
		t0 = now_us();
		r = pn_run(s, &q, wm, &cqe);
		t1 = now_us();
		if (i >= warm)
			pn_stats_add(&st, t1 - t0);
	}
	finish(res, &st);
	pn_stats_free(&st);
	return r;
}

/*
 * The baseline: an echo process across a Unix socket, request 64 B, reply
 * 32 B. The echo process runs on server_cpu (where polynetd's worker runs,
 * idle by then) and the client where it ran the rings: the same placement.
 */
static int socket_mode(uint32_t iters, int server_cpu, struct mode_res *res)
{
	struct pn_sqe req = { 0 };
	struct pn_cqe rep = { 0 };
	struct pn_stats st;
	uint32_t warm = iters / 10 + 10;
	int sv[2], status, r = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
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
	if (pn_stats_init(&st, iters))
		return -ENOMEM;
	for (uint32_t i = 0; i < warm + iters; i++) {
		double t0 = now_us();

		req.user_data = i;
		if (write(sv[0], &req, sizeof(req)) != sizeof(req) ||
		    read(sv[0], &rep, sizeof(rep)) != sizeof(rep) || rep.user_data != i) {
			r = -EIO;
			break;
		}
		if (i >= warm)
			pn_stats_add(&st, now_us() - t0);
	}
	close(sv[0]);
	waitpid(pid, &status, 0);
	finish(res, &st);
	pn_stats_free(&st);
	return r;
}

static void print_json(const struct mode_res *m, int n, const char *sock)
{
	printf("{\"bench\":\"ring\",\"socket\":\"%s\"", sock);
	for (int i = 0; i < n; i++)
		printf(",\"%s\":{\"iters\":%u,\"p50_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,"
		       "\"mean_us\":%.3f}", m[i].name, m[i].iters, m[i].p50, m[i].p99, m[i].p999,
		       m[i].mean);
	printf(",\"socket_over_polling_p50\":%.2f,\"targets\":{\"polling_p50_le_2us\":%s,"
	       "\"polling_p999_le_10us\":%s,\"polling_10x_below_socket\":%s}}\n",
	       m[2].p50 / m[0].p50, m[0].p50 <= 2 ? "true" : "false",
	       m[0].p999 <= 10 ? "true" : "false", m[2].p50 >= 10 * m[0].p50 ? "true" : "false");
}

int cmd_bench_ring(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ring", no_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "model", required_argument, NULL, 'm' },
		{ "iters", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct mode_res res[4] = { { .name = "polling" }, { .name = "sleeping" },
				   { .name = "unix_socket" }, { .name = "polling_nop" } };
	const char *sock = NULL, *model = NULL;
	struct pn_client *c = NULL;
	struct pn_client_model *cm = NULL;
	struct pn_session *s = NULL;
	struct pn_model_desc d;
	struct pn_sqe q;
	struct pn_err e;
	uint32_t iters = 20000;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int json = 0, o, r = 1, cpu = ncpu > 1 ? (int)ncpu - 1 : -1;
	cpu_set_t set;
	char ref[16], tmp[] = "/tmp/polyctl-ring-XXXXXX";
	int32_t *in;

	optind = 1;
	while ((o = getopt_long(argc, argv, "rs:m:n:c:jh", lo, NULL)) != -1) {
		switch (o) {
		case 'r': break;
		case 's': sock = optarg; break;
		case 'm': model = optarg; break;
		case 'n': iters = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': cpu = atoi(optarg); break;
		case 'j': json = 1; break;
		case 'h':
			printf("usage: polyctl bench --ring [--socket PATH] [--model NAME] "
			       "[--iters N] [--cpu N] [--json]\n");
			return 0;
		default: return 2;
		}
	}
	if (iters < 100 || optind != argc)
		return polyctl_fail("bench", "--ring: expected --iters >= 100 and no operand");
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return polyctl_fail("bench", "--cpu %d: %s", cpu, strerror(errno));
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail("bench", "%s", e.msg);
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
	    pn_session_open(c, 16, 16, 1 << 16, &s, &e)) {
		polyctl_fail("bench", "%s", e.msg);
		goto out;
	}
	d = *pn_client_model_desc(cm);
	in = pn_session_arena(s, NULL);
	in[0] = 0;	/* id */
	in[1] = 1;	/* len */
	pn_sqe_run(&q, d.id, 0, 1, 1, 64, d.out_width * 4, 0);
	if (ring_mode(s, &q, PN_WAIT_SPIN, iters, 0, &res[0]) ||
	    ring_mode(s, &q, PN_WAIT_SLEEP, iters / 10 > 100 ? iters / 10 : 100,
		      2.0 * pn_client_hello(c)->idle_spin_us + 200, &res[1]) ||
	    socket_mode(iters, cpu > 0 ? 0 : -1, &res[2]) ||
	    ring_mode(s, &(struct pn_sqe){ .opcode = PN_OP_NOP }, PN_WAIT_SPIN, iters, 0,
		      &res[3])) {
		polyctl_fail("bench", "--ring: a round trip failed");
		goto out;
	}
	if (json) {
		print_json(res, 4, pn_client_socket(c));
	} else {
		printf("round trip of an empty job (%s, 1 client), microseconds:\n",
		       pn_client_socket(c));
		printf("%-12s %8s %9s %9s %9s %9s\n", "mode", "iters", "p50", "p99", "p99.9",
		       "mean");
		for (int i = 0; i < 4; i++)
			printf("%-12s %8u %9.2f %9.2f %9.2f %9.2f\n", res[i].name, res[i].iters,
			       res[i].p50, res[i].p99, res[i].p999, res[i].mean);
		printf("unix socket p50 / polling p50 = %.1fx\n", res[2].p50 / res[0].p50);
	}
	r = 0;
out:
	if (model == ref)
		pn_client_unload(c, d.id, NULL, NULL);	/* our hold on the transient model */
	pn_session_close(s);
	pn_client_model_close(cm);
	pn_disconnect(c);
	return r;
}
