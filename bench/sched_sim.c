// SPDX-License-Identifier: MIT
/*
 * sched_sim.c - the scheduler (daemon/sched*.c) driving real worker threads that
 * execute synthetic jobs: each job spins on the CPU for its cost, the worker measures
 * the time it really took and feeds it back through pn_sched_complete, exactly as
 * polynetd's workers do. Two figures from the issue:
 *
 *   fairness   8 equal-weight BATCH tenants, each saturating (closed loop, 8 jobs
 *              queued), each on its own model with a different job cost (40..320 us
 *              per job), so per-job round robin would be unfair and only cost-aware
 *              DRR is fair. Jain's index over the CPU time each tenant received.
 *              Target >= 0.95.
 *   isolation  a REALTIME tenant (100 us jobs, one every 0.5..1.5 ms, latency =
 *              submit to end of run) alone, then with a saturating BATCH tenant
 *              (2 ms jobs, batches of 4); 1 general worker and 1 dedicated realtime
 *              worker (pn_sched_pick_realtime) at SCHED_FIFO.
 *              p99 with / p99 alone. Target <= 1.2.
 *
 * Each figure is the median over --runs runs (alone and loaded runs alternate).
 *
 * Build and run (it links libpnsched.a, the daemon's scheduler):
 *   make build/rel/bench/sched_sim
 *   build/rel/bench/sched_sim [--runs 5] [--seconds 2] [--results bench/RESULTS.md]
 * --results rewrites only the section "## Scheduler (issue 4)" of that file.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/sched/sched.h"

#define US 1000ull
#define MS 1000000ull
#define NT 8			/* fairness tenants */
#define DEPTH 8			/* jobs a saturating tenant keeps queued */
#define RT_TENANT 100
#define BATCH_TENANT 200
#define MAX_RT 100000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void spin_until(uint64_t t)
{
	while (now_ns() < t)
		;
}

struct sim {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pn_sched *s;
	bool stop;
	uint64_t next_id;
	uint64_t job_ns[256];		/* per model: cost of one job */
	uint64_t served[256];		/* per tenant (fairness: tenant = model) */
	uint64_t rt_submit[MAX_RT];
	uint64_t rt_lat[MAX_RT];
	uint32_t nrt_done;
};

/* A batch of n costs one job plus half a job per extra job: batching pays. */
static uint64_t batch_cost(const struct sim *m, uint32_t model, uint32_t n)
{
	return m->job_ns[model] + (n - 1) * m->job_ns[model] / 2;
}

/* Called with the lock held. */
static void submit_locked(struct sim *m, uint32_t tenant, uint32_t model, uint32_t klass,
			  uint64_t deadline, uint64_t now)
{
	struct pn_sched_job_desc d = {
		.id = m->next_id++, .tenant = tenant, .model = model, .klass = klass,
		.deadline_ns = deadline, .session = tenant,
	};
	int rc = pn_sched_submit(m->s, &d, now);

	if (rc) {
		fprintf(stderr, "sched_sim: submit tenant %u class %u: error %d\n", tenant, klass,
			rc);
		exit(1);
	}
	pthread_cond_signal(&m->cv);
}

static void work(struct sim *m, bool rt_only)
{
	struct pn_sched_batch *b = malloc(sizeof(*b));

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		uint64_t next = PN_SCHED_NEVER, t0 = now_ns(), t1;
		int n = rt_only ? pn_sched_pick_realtime(m->s, b) : pn_sched_pick(m->s, t0, b, &next);

		if (n == 0) {
			if (next == PN_SCHED_NEVER) {
				pthread_cond_wait(&m->cv, &m->mu);
			} else {
				struct timespec ts = { (time_t)(next / 1000000000ull),
						       (long)(next % 1000000000ull) };

				pthread_cond_timedwait(&m->cv, &m->mu, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&m->mu);
		spin_until(t0 + batch_cost(m, b->model, (uint32_t)n));
		t1 = now_ns();
		pthread_mutex_lock(&m->mu);
		pn_sched_complete(m->s, b, t1 - t0);
		if (b->klass == PN_SCHED_REALTIME) {
			uint64_t id = b->job[0].user;

			m->rt_lat[id] = t1 - m->rt_submit[id];
			m->nrt_done++;
			continue;
		}
		m->served[b->tenant == BATCH_TENANT ? 255 : b->tenant] += t1 - t0;
		for (int i = 0; i < n && !m->stop; i++)	/* closed loop: stay saturated */
			submit_locked(m, b->tenant, b->model, b->klass, 0, t1);
	}
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	free(b);
}

static void *worker(void *arg)
{
	work(arg, false);
	return NULL;
}

/* The dedicated realtime worker runs at SCHED_FIFO when allowed (root), as polynetd's
 * would: on a machine with as few cores as workers, a spinning batch worker or any other
 * process would otherwise hold its core for a whole CFS slice (milliseconds). */
static _Atomic int fifo_ok = 1;

static void *rt_worker(void *arg)
{
	struct sched_param sp = { .sched_priority = 10 };

	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp))
		atomic_store(&fifo_ok, 0);
	work(arg, true);
	return NULL;
}

static struct sim *sim_new(uint32_t nworkers, uint32_t rt_workers)
{
	struct sim *m = calloc(1, sizeof(*m));
	struct pn_sched_config c;
	struct pn_err e = { { 0 } };
	pthread_condattr_t ca;

	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* pick's times are monotonic */
	pthread_cond_init(&m->cv, &ca);
	pn_sched_config_default(&c);
	c.max_jobs = 1024;
	c.nworkers = nworkers;
	c.rt_workers = rt_workers;
	c.quantum_ns = 1 * MS;
	c.default_service_ns = 200 * US;
	m->s = pn_sched_create(&c, &e);
	if (!m->s) {
		fprintf(stderr, "sched_sim: %s\n", e.msg);
		exit(1);
	}
	return m;
}

static void sim_free(struct sim *m)
{
	pn_sched_destroy(m->s);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void run_workers(struct sim *m, pthread_t *th, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, m);
}

static void stop_workers(struct sim *m, pthread_t *th, uint32_t n)
{
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	for (uint32_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static double fairness_run(double seconds, uint32_t nworkers, double *share_min,
			   double *share_max)
{
	struct sim *m = sim_new(nworkers, 0);
	pthread_t th[16];
	double sum = 0, sq = 0;

	pthread_mutex_lock(&m->mu);
	for (uint32_t t = 0; t < NT; t++) {
		m->job_ns[t] = (40 + 40 * t) * US;
		pn_sched_set_model(m->s, t, 4, 200 * US);
		for (int i = 0; i < DEPTH; i++)
			submit_locked(m, t, t, PN_SCHED_BATCH, 0, now_ns());
	}
	pthread_mutex_unlock(&m->mu);
	run_workers(m, th, nworkers);
	/* Warm-up: let the estimates learn the costs, then measure from zero. */
	struct timespec w = { 0, 200 * 1000000L };

	nanosleep(&w, NULL);
	pthread_mutex_lock(&m->mu);
	memset(m->served, 0, sizeof(m->served));
	pthread_mutex_unlock(&m->mu);
	struct timespec d = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };

	nanosleep(&d, NULL);
	pthread_mutex_lock(&m->mu);
	uint64_t served[NT];

	memcpy(served, m->served, sizeof(served));
	pthread_mutex_unlock(&m->mu);
	stop_workers(m, th, nworkers);
	*share_min = 1, *share_max = 0;
	for (int t = 0; t < NT; t++) {
		sum += (double)served[t];
		sq += (double)served[t] * (double)served[t];
	}
	for (int t = 0; t < NT; t++) {
		double sh = (double)served[t] / sum * NT;	/* 1 = exactly fair */

		*share_min = sh < *share_min ? sh : *share_min;
		*share_max = sh > *share_max ? sh : *share_max;
	}
	sim_free(m);
	return sum * sum / (NT * sq);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n-1] (sorted in place). */
static uint64_t pct(uint64_t *v, uint32_t n, double p)
{
	uint32_t r;

	qsort(v, n, sizeof(*v), cmp_u64);
	r = (uint32_t)(p * n + 0.999999);
	return v[r ? r - 1 : 0];
}

/* Returns realtime p99 in ns; *p50 and *batch_jobs_per_s filled. */
static uint64_t isolation_run(double seconds, bool with_batch, uint64_t *p50, double *batch_tput)
{
	struct sim *m = sim_new(1, 1);
	pthread_t th[2];
	uint64_t end, seed = 0x1234567 + (uint64_t)with_batch, sent = 0, lat99;
	uint64_t *lat;

	m->job_ns[1] = 100 * US;	/* realtime model */
	m->job_ns[2] = 2 * MS;		/* batch model */
	pthread_mutex_lock(&m->mu);
	pn_sched_set_model(m->s, 2, 4, 1 * MS);
	if (with_batch)
		for (int i = 0; i < DEPTH; i++)
			submit_locked(m, BATCH_TENANT, 2, PN_SCHED_BATCH, 0, now_ns());
	pthread_mutex_unlock(&m->mu);
	pthread_create(&th[0], NULL, worker, m);
	pthread_create(&th[1], NULL, rt_worker, m);
	end = now_ns() + (uint64_t)(seconds * 1e9);
	for (uint64_t t = now_ns(); t < end && sent < MAX_RT; t = now_ns()) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t gap = 500 * US + (seed >> 33) % (1000 * US);
		struct timespec ts = { (time_t)((t + gap) / 1000000000ull),
				       (long)((t + gap) % 1000000000ull) };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		pthread_mutex_lock(&m->mu);
		uint64_t now = now_ns();
		struct pn_sched_job_desc d = {
			.id = sent, .user = sent, .tenant = RT_TENANT, .model = 1,
			.klass = PN_SCHED_REALTIME, .deadline_ns = now + 20 * MS,
			.session = RT_TENANT,
		};

		m->rt_submit[sent] = now;
		if (pn_sched_submit(m->s, &d, now) == 0)
			sent++;
		pthread_cond_broadcast(&m->cv);	/* the realtime worker must hear it */
		pthread_mutex_unlock(&m->mu);
	}
	/* Let the last realtime jobs finish before stopping. */
	for (;;) {
		pthread_mutex_lock(&m->mu);
		bool done = m->nrt_done == sent;

		pthread_mutex_unlock(&m->mu);
		if (done)
			break;
		struct timespec w = { 0, 1000000 };

		nanosleep(&w, NULL);
	}
	stop_workers(m, th, 2);
	lat = malloc(sent * sizeof(*lat));
	memcpy(lat, m->rt_lat, sent * sizeof(*lat));
	lat99 = pct(lat, (uint32_t)sent, 0.99);
	*p50 = pct(lat, (uint32_t)sent, 0.50);
	*batch_tput = (double)m->served[255] / 1e9 / seconds;	/* busy fraction of a worker */
	free(lat);
	sim_free(m);
	return lat99;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Replaces (or appends) the section "## Scheduler (issue 4)" of path with sec. */
static int write_section(const char *path, const char *sec)
{
	const char *title = "## Scheduler (issue 4)";
	char *old = NULL, *start, *end;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		fseek(f, 0, SEEK_SET);
		old = calloc(1, len + 1);
		if (fread(old, 1, len, f) != len)
			len = 0;
		fclose(f);
	}
	if (!old)
		old = calloc(1, 1);
	old[len] = 0;
	start = strstr(old, title);
	end = start ? strstr(start + strlen(title), "\n## ") : NULL;
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "sched_sim: cannot write %s\n", path);
		free(old);
		return 1;
	}
	if (start) {
		fwrite(old, 1, (size_t)(start - old), f);
		fputs(sec, f);
		if (end)
			fputs(end + 1, f);
	} else {
		fputs(old, f);
		fputs(len && old[len - 1] != '\n' ? "\n\n" : (len ? "\n" : ""), f);
		fputs(sec, f);
	}
	fclose(f);
	free(old);
	return 0;
}

int main(int argc, char **argv)
{
	int runs = 5;
	double seconds = 2;
	const char *results = NULL;
	uint32_t nw_fair = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--results") && i + 1 < argc)
			results = argv[++i];
		else if (!strcmp(argv[i], "--workers") && i + 1 < argc)
			nw_fair = (uint32_t)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: sched_sim [--runs N] [--seconds S] [--workers N] "
				"[--results FILE.md]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 50 || seconds <= 0 || nw_fair < 1 || nw_fair > 16) {
		fprintf(stderr, "sched_sim: --runs 1..50, --seconds > 0, --workers 1..16\n");
		return 2;
	}

	double jain[50], smin[50], smax[50], a99[50], b99[50], a50[50], b50[50], busy[50];

	for (int r = 0; r < runs; r++) {
		uint64_t p50, p99;

		jain[r] = fairness_run(seconds, nw_fair, &smin[r], &smax[r]);
		p99 = isolation_run(seconds, false, &p50, &busy[r]);
		a99[r] = (double)p99 / 1e3, a50[r] = (double)p50 / 1e3;
		p99 = isolation_run(seconds, true, &p50, &busy[r]);
		b99[r] = (double)p99 / 1e3, b50[r] = (double)p50 / 1e3;
		printf("run %d: jain %.4f (shares %.3f..%.3f)  rt p99 alone %.1f us, with batch "
		       "%.1f us (ratio %.3f)\n", r + 1, jain[r], smin[r], smax[r], a99[r], b99[r],
		       b99[r] / a99[r]);
		fflush(stdout);
	}
	double mj = median(jain, runs), mmin = median(smin, runs), mmax = median(smax, runs);
	double ma99 = median(a99, runs), mb99 = median(b99, runs);
	double ma50 = median(a50, runs), mb50 = median(b50, runs), mbusy = median(busy, runs);
	char sec[4096];

	snprintf(sec, sizeof(sec),
		 "## Scheduler (issue 4)\n\n"
		 "`bench/sched_sim.c`: the real scheduler (daemon/sched*.c) with real worker "
		 "threads that spin for each job's cost and report the measured time back "
		 "(pn_sched_complete), as polynetd's workers do. Median of %d runs of %.1f s "
		 "each; %ld online CPUs.\n\n"
		 "| figure | result | target |\n|---|---:|---:|\n"
		 "| fairness: Jain's index, 8 equal-weight saturating BATCH tenants, job costs "
		 "40..320 us, %u workers | %.4f (CPU share per tenant %.3f..%.3f of fair) | "
		 ">= 0.95 |\n"
		 "| isolation: realtime p99 with a saturating batch tenant / alone | %.3f | "
		 "<= 1.2 |\n"
		 "| realtime p50 / p99 alone (us) | %.1f / %.1f | |\n"
		 "| realtime p50 / p99 with batch (us) | %.1f / %.1f | |\n"
		 "| batch worker busy with batch jobs (fraction) | %.2f | |\n\n"
		 "Isolation setup: 1 general worker and 1 dedicated realtime worker "
		 "(pn_sched_pick_realtime, SCHED_FIFO: %s); realtime jobs of 100 us arriving "
		 "every 0.5..1.5 ms (latency = submit to end of run); the batch tenant keeps 8 "
		 "jobs of 2 ms queued (max batch 4, max delay 1 ms). Fairness: each tenant its "
		 "own model, job cost 40 + 40 t us, batch of n costs (1 + (n-1)/2) jobs, max "
		 "batch 4, max delay 200 us, quantum 1 ms, 200 ms warm-up not counted.\n\n"
		 "Reproduce: `make build/rel/bench/sched_sim && build/rel/bench/sched_sim "
		 "--runs %d --seconds %.1f --results bench/RESULTS.md`\n",
		 runs, seconds, sysconf(_SC_NPROCESSORS_ONLN), nw_fair, mj, mmin, mmax,
		 mb99 / ma99, ma50, ma99, mb50, mb99, mbusy,
		 atomic_load(&fifo_ok) ? "yes" : "refused, normal priority", runs, seconds);
	printf("\n%s", sec);
	if (results)
		return write_section(results, sec);
	return 0;
}
