// SPDX-License-Identifier: MIT
/*
 * polynetd - runs PolyNet models for many client processes.
 *
 *   polynetd [--socket PATH] [--foreground] [--workers N] [--rt-workers N] [--idle-spin-us N]
 *            [--max-batch N] [--batch-delay-us N] [--admin-uid UID]
 *            [--tenants FILE] [--state NAME] [--max-models N] [--no-pin]
 *            [--max-conns-per-uid N] [--rt-permille N] [--metrics ADDR:PORT]
 *
 * Prints "ready socket=PATH pid=N ..." on stdout once it accepts clients
 * (and READY=1 to $NOTIFY_SOCKET when set); SIGTERM or SIGINT: finishes
 * the queued jobs, closes every session and exits 0. docs/daemon.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "http.h"
#include "loop.h"
#include "transport/proto.h"

/* The daemon: its configuration and every part, wired in setup(). */
struct pnd {
	/* configuration */
	const char *socket_path;
	const char *tenants_path;	/* --tenants, or NULL */
	const char *metrics_spec;	/* --metrics ADDR:PORT, or NULL */
	uint16_t metrics_port;		/* the port bound (ADDR:0: the kernel's pick) */
	char state_prefix[32];		/* names this daemon's persistent regions */
	uint32_t nworkers, idle_spin_us, max_batch;
	uint32_t rt_workers;		/* dedicated realtime workers, beyond nworkers */
	uint64_t batch_delay_ns;	/* dynamic batching: the most a job waits */
	uint32_t rt_permille;		/* each tenant's realtime budget (sched.h) */
	uint32_t admin_uid;
	uint32_t max_models;		/* --max-models: all tenants together */
	uint32_t gen_slots;		/* --gen-slots: sessions a decoder generates for at once */
	bool pin;
	bool wake_futex;		/* --wake futex|auto (the default) vs eventfd */
	/* the parts, top down */
	struct pnd_loop loop;
	struct pnd_control ctl;
	struct pnd_models models;
	struct pnd_sessions sessions;
	struct pnd_tenants tenants;
	struct pnd_work work;
	struct pnd_workers *workers;
	const struct pnd_backend_ops *bops;
	struct pnd_backend *be;
	const char *backend_arg;	/* --backend auto|cpu|cuda */
	char backend_why[512];		/* auto's fallback to the CPU, "" otherwise */
	uint64_t t_start_ns;
};

/* The workers' view of the sessions and the models (struct pnd_worker_host). */
static uint32_t host_drain(void *arg)
{
	return pnd_sessions_drain(arg);
}

static bool host_prepare_sleep(void *arg, struct pnd_waiter *wt, uint64_t *poll_by)
{
	return pnd_sessions_prepare_sleep(arg, wt, poll_by);
}

static void host_clear_wakeup(void *arg)
{
	pnd_sessions_clear_wakeup(arg);
}

static void host_complete(void *arg, struct pnd_job *j, int res, uint64_t t_run, bool batched)
{
	pnd_job_complete(arg, j, res, t_run, batched);
}

static void host_model_put(void *arg, struct pnd_model *m)
{
	pnd_model_put(m);
}

static int usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: polynetd [--socket PATH] [--foreground] [--workers N] [--rt-workers N] "
		"[--idle-spin-us N]\n                [--max-batch N] [--batch-delay-us N] "
		"[--admin-uid UID] [--max-conns-per-uid N] [--rt-permille N] "
		"[--tenants FILE] [--state NAME] [--max-models N] [--no-pin]\n"
		"                [--wake auto|eventfd] [--metrics ADDR:PORT] [--backend auto|cpu|cuda]\n"
		"                [--gen-slots N]\n");
	return rc;
}

static int parse_u32(const char *opt, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || !*s || v < lo || v > hi) {
		fprintf(stderr, "polynetd: %s %s: expected %u..%u\n", opt, s, lo, hi);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Names persistent regions after the socket, so two daemons never share them. */
static void default_state(struct pnd *d)
{
	uint32_t h = 2166136261u;

	for (const char *p = d->socket_path; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(d->state_prefix, sizeof(d->state_prefix), "pnd-%08x", h);
}

static int parse(int argc, char **argv, struct pnd *d)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rt-workers", required_argument, NULL, 'R' },
		{ "idle-spin-us", required_argument, NULL, 'i' },
		{ "max-batch", required_argument, NULL, 'b' },
		{ "batch-delay-us", required_argument, NULL, 'd' },
		{ "admin-uid", required_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 'S' },
		{ "tenants", required_argument, NULL, 'T' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "max-models", required_argument, NULL, 'M' },
		{ "max-conns-per-uid", required_argument, NULL, 'C' },
		{ "rt-permille", required_argument, NULL, 'r' },
		{ "wake", required_argument, NULL, 'W' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "backend", required_argument, NULL, 'B' },
		{ "gen-slots", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	d->socket_path = getenv("POLYNET_SOCKET") ? getenv("POLYNET_SOCKET") : PN_SOCKET_DEFAULT;
	/* leave a core to the clients that spin on their completions */
	d->nworkers = ncpu > 2 ? (uint32_t)ncpu - 1 : 1;
	d->idle_spin_us = 50;
	d->max_batch = 16;
	d->admin_uid = 0;
	d->pin = true;
	d->wake_futex = true;
	d->loop.max_conns_per_uid = 64;
	d->rt_permille = 250;
	d->gen_slots = 16;
	while ((c = getopt_long(argc, argv, "s:fw:R:i:b:d:a:S:T:PM:C:r:W:m:B:G:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': d->socket_path = optarg; break;
		case 'f': break;	/* polynetd never forks: foreground is the only mode */
		case 'w':
			if (parse_u32("--workers", optarg, 1, 256, &d->nworkers))
				return 2;
			break;
		case 'R':
			if (parse_u32("--rt-workers", optarg, 0, 64, &d->rt_workers))
				return 2;
			break;
		case 'i':
			if (parse_u32("--idle-spin-us", optarg, 0, 1000000, &d->idle_spin_us))
				return 2;
			break;
		case 'b':
			if (parse_u32("--max-batch", optarg, 1, 1024, &d->max_batch))
				return 2;
			break;
		case 'd': {
			uint32_t us;

			if (parse_u32("--batch-delay-us", optarg, 0, 1000000, &us))
				return 2;
			d->batch_delay_ns = us * 1000ull;
			break;
		}
		case 'a':
			if (parse_u32("--admin-uid", optarg, 0, UINT32_MAX - 1, &d->admin_uid))
				return 2;
			break;
		case 'S':
			snprintf(d->state_prefix, sizeof(d->state_prefix), "%s", optarg);
			break;
		case 'T': d->tenants_path = optarg; break;
		case 'm': d->metrics_spec = optarg; break;
		case 'B':
			if (strcmp(optarg, "auto") && strcmp(optarg, "cpu") && strcmp(optarg, "cuda")) {
				fprintf(stderr, "polynetd: --backend %s: expected auto, cpu or cuda\n",
					optarg);
				return 2;
			}
			d->backend_arg = optarg;
			break;
		case 'P': d->pin = false; break;
		case 'M':
			if (parse_u32("--max-models", optarg, 1, PND_MAX_MODELS, &d->max_models))
				return 2;
			break;
		case 'C':
			if (parse_u32("--max-conns-per-uid", optarg, 1, 1000000,
				      &d->loop.max_conns_per_uid))
				return 2;
			break;
		case 'r':
			if (parse_u32("--rt-permille", optarg, 0, 1000, &d->rt_permille))
				return 2;
			break;
		case 'G':
			if (parse_u32("--gen-slots", optarg, 1, 4096, &d->gen_slots))
				return 2;
			break;
		case 'W':
			/* auto: io_uring futexes where the kernel has them (6.7+) */
			if (strcmp(optarg, "auto") && strcmp(optarg, "futex") &&
			    strcmp(optarg, "eventfd")) {
				fprintf(stderr, "polynetd: --wake %s: expected auto or eventfd\n",
					optarg);
				return 2;
			}
			d->wake_futex = strcmp(optarg, "eventfd") != 0;
			break;
		case 'h': exit(usage(0));
		default: return usage(2);
		}
	}
	if (optind != argc)
		return usage(2);
	if (!d->state_prefix[0])
		default_state(d);
	return 0;
}

/* Binds the control socket; a stale socket file (nobody answers) is replaced. */
static int listen_on(struct pnd *d, struct pn_err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(d->socket_path) >= sizeof(a.sun_path))
		return pn_errf(e, -ENAMETOOLONG, "--socket %s: longer than %zu bytes",
			       d->socket_path, sizeof(a.sun_path) - 1);
	strcpy(a.sun_path, d->socket_path);
	if (!strcmp(d->socket_path, PN_SOCKET_DEFAULT))
		mkdir("/run/polynet", 0755);
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && !connect(probe, (struct sockaddr *)&a, sizeof(a))) {
		close(probe);
		return pn_errf(e, -EADDRINUSE, "%s: another polynetd answers there",
			       d->socket_path);
	}
	if (probe >= 0)
		close(probe);
	unlink(d->socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 256) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		return pn_errf(e, r, "%s: %s", d->socket_path, strerror(-r));
	}
	/* every uid may connect: the tenant is whoever SO_PEERCRED names */
	chmod(d->socket_path, 0666);
	d->loop.listen_fd = fd;
	return 0;
}

static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(a.sun_path))
		return;
	strcpy(a.sun_path, path);
	if (a.sun_path[0] == '@')
		a.sun_path[0] = '\0';	/* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&a,
	       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path)));
	close(fd);
}

/*
 * --backend: cuda or cpu as asked (cuda failing is fatal: the operator
 * asked for it), auto (the default) cuda where it comes up, else the CPU
 * with the reason kept for the ready line and STAT.
 */
static int backend_init(struct pnd *d, const struct pnd_backend_config *bc, struct pn_err *e)
{
	const char *want = d->backend_arg ? d->backend_arg : "auto";
	struct pn_err ce;
	int r;

	if (!strcmp(want, "cpu")) {
		d->bops = &pnd_backend_cpu;
		return d->bops->init(bc, &d->be, e);
	}
	d->bops = &pnd_backend_cuda;
	r = d->bops->init(bc, &d->be, &ce);
	if (!r)
		return 0;
	if (!strcmp(want, "cuda"))
		return pn_errf(e, r, "--backend cuda: %s", ce.msg);
	snprintf(d->backend_why, sizeof(d->backend_why), "%s", ce.msg);
	d->bops = &pnd_backend_cpu;
	return d->bops->init(bc, &d->be, e);
}

static int setup(struct pnd *d, struct pn_err *e)
{
	struct pn_sched_config sc;
	struct pnd_backend_config bc = { .nworkers = d->nworkers + d->rt_workers,
					 .rt_workers = d->rt_workers, .max_batch = d->max_batch };
	struct pn_sched *sched;
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* blocked in every thread (workers inherit the mask): only the signalfd sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->loop.sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	d->loop.notify_fd = eventfd(0, EFD_CLOEXEC);
	if (d->loop.sig_fd < 0 || d->loop.notify_fd < 0)
		return pn_errf(e, -errno, "signalfd/eventfd: %s", strerror(errno));
	pn_sched_config_default(&sc);
	sc.nworkers = d->nworkers;
	sc.rt_workers = d->rt_workers;
	sc.max_models = 1024;	/* loaded models, and unloaded ones with jobs left */
	sc.default_rt_permille = d->rt_permille;
	sc.default_max_delay_ns = d->batch_delay_ns;
	sc.default_max_batch = d->max_batch < PN_SCHED_BATCH_MAX ? d->max_batch :
			       PN_SCHED_BATCH_MAX;
	sched = pn_sched_create(&sc, e);
	if (!sched)
		return -EINVAL;
	if (pnd_work_init(&d->work, sched, d->wake_futex, d->gen_slots, e))
		return -EINVAL;
	/* wiring: each part learns the parts below it and the loop's io */
	pnd_loop_init(&d->loop);
	d->loop.ctl = &d->ctl;
	d->loop.sessions = &d->sessions;
	d->loop.models = &d->models;
	d->loop.tenants = &d->tenants;
	d->loop.work = &d->work;
	pnd_tenants_init(&d->tenants);
	d->tenants.defaults.rt_permille = d->rt_permille;	/* the map's '*' line may change it */
	d->tenants.admin_uid = d->admin_uid;
	pnd_sessions_init(&d->sessions);
	d->sessions.work = &d->work;
	d->sessions.models = &d->models;
	d->sessions.io = &d->loop.io;
	/* generations post their CQEs into the sessions (before any model is reattached) */
	pnd_sessions_gen_host(&d->sessions, &d->work.gens.host);
	pthread_mutex_init(&d->models.lock, NULL);
	d->models.state_prefix = d->state_prefix;
	d->models.max_models = d->max_models;
	d->models.max_batch = d->max_batch;
	d->models.nexec = d->nworkers + d->rt_workers;
	d->models.nworkers = d->nworkers;
	d->models.pin = d->pin;
	d->models.batch_delay_ns = d->batch_delay_ns;
	d->models.work = &d->work;
	d->models.io = &d->loop.io;
	r = d->tenants_path ? pnd_tenants_load(&d->tenants, sched, d->tenants_path, e) : 0;
	/* the backend first: reattached models are prepared for it */
	if (!r)
		r = backend_init(d, &bc, e);
	d->ctl = (struct pnd_control){
		.models = &d->models, .sessions = &d->sessions, .tenants = &d->tenants,
		.work = &d->work, .io = &d->loop.io, .bops = d->bops,
		.nworkers = d->nworkers, .idle_spin_us = d->idle_spin_us,
		.t_start_ns = d->t_start_ns, .backend_why = d->backend_why,
	};
	if (!r) {
		d->models.ops = d->bops;
		d->models.be = d->be;
		d->ctl.be = d->be;
		r = pnd_models_init(&d->models, e);
	}
	if (!r)
		r = listen_on(d, e);
	if (!r && d->metrics_spec)
		r = pnd_http_start(d->metrics_spec, &d->ctl, &d->ctl.http, &d->metrics_port, e);
	return r;
}

int main(int argc, char **argv)
{
	static struct pnd d;
	struct pnd_workers_config wc;
	struct pnd_worker_host host = {
		.arg = &d.sessions, .drain = host_drain, .prepare_sleep = host_prepare_sleep,
		.clear_wakeup = host_clear_wakeup, .complete = host_complete,
		.model_put = host_model_put,
	};
	struct pn_err e;
	int r;

	if ((r = parse(argc, argv, &d)))
		return r;
	d.t_start_ns = pnd_now_ns();
	d.loop.listen_fd = -1;
	r = setup(&d, &e);
	wc = (struct pnd_workers_config){ .nworkers = d.nworkers, .rt_workers = d.rt_workers,
					  .idle_spin_us = d.idle_spin_us, .pin = d.pin };
	if (!r)
		r = pnd_workers_start(&d.work, &wc, d.bops, d.be, &host, &d.workers, &e);
	if (r) {
		pnd_log("%s", e.msg);
		return 1;
	}
	{
		char info[128] = "";

		if (d.bops->ready_info)
			d.bops->ready_info(d.be, info, sizeof(info));
		printf("ready socket=%s pid=%d workers=%u rt_workers=%u backend=%s%s models=%u "
		       "wake=%s", d.socket_path, (int)getpid(), d.nworkers, d.rt_workers,
		       d.bops->name, info, pnd_models_count(&d.models),
		       d.work.futex ? "futex" : "eventfd");
	}
	if (d.ctl.http)
		printf(" metrics_port=%u", d.metrics_port);
	/* last: the reason is free text */
	if (d.backend_why[0])
		printf(" (%s)", d.backend_why);
	printf("\n");
	fflush(stdout);
	notify_ready();
	r = pnd_loop_run(&d.loop, &e);
	if (r)
		pnd_log("%s", e.msg);
	pnd_http_stop(d.ctl.http);
	pnd_workers_stop(d.workers);
	close(d.loop.listen_fd);
	unlink(d.socket_path);
	pnd_models_fini(&d.models);
	d.bops->fini(d.be);
	pn_sched_destroy(d.work.sched);
	pnd_work_fini(&d.work);
	pnd_sessions_fini(&d.sessions);
	pnd_log("stopped");
	return r ? 1 : 0;
}
