// SPDX-License-Identifier: MIT
/*
 * region_bench: what sharing one region buys, measured in one run.
 *  1. PSS: N processes map one region of S MiB and touch every page; the
 *     sum of their Pss (/proc/PID/smaps_rollup) against N x S (private
 *     copies) and against S (the ideal: one copy).
 *  2. create + attach + map latency of a small region, p50 and p99.
 *  3. first-touch (memset of a fresh mapping) and sequential read bandwidth
 *     of a region against plain anonymous memory of the same size.
 * Usage: region_bench [--backend driver|memfd|driver+memfd] [--size MiB]
 *                     [--procs N] [--iters N] [--lat-kib KiB]
 * Prints "bench: key=value" lines (bench/region_bench.sh collects them).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transport/region.h"

struct cfg {
	uint64_t size;
	int procs, iters;
	uint64_t lat_size;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int ret, const struct pn_err *e)
{
	fprintf(stderr, "region_bench: %s: %s (%s)\n", what, e ? e->msg : "", strerror(-ret));
	exit(1);
}

static struct pn_region *make(const char *name, uint64_t size, enum pn_region_backend b)
{
	struct pn_region_opts o;
	struct pn_region *r;
	struct pn_err e = { "" };
	int ret;

	pn_region_destroy(name, b, NULL);	/* a crashed earlier run's leftover */
	pn_region_opts_init(&o, size);
	o.backend = b;
	o.mode = 0644;
	o.flags = PN_REGION_NOHUGE;	/* compare like with like: 4 KiB pages */
	ret = pn_region_create(name, &o, &r, &e);
	if (ret)
		die("create", ret, &e);
	return r;
}

static void *map_or_die(struct pn_region *r, int prot)
{
	struct pn_err e = { "" };
	void *p;
	int ret = pn_region_map(r, prot, &p, &e);

	if (ret)
		die("map", ret, &e);
	return p;
}

/* kB of Pss in /proc/pid/smaps_rollup, -1 when unreadable */
static long pss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void touch_pages(const volatile uint8_t *p, uint64_t size)
{
	uint8_t s = 0;

	for (uint64_t i = 0; i < size; i += 4096)
		s += p[i];
	(void)s;
}

static void bench_pss(const struct cfg *c, enum pn_region_backend b)
{
	int ready[2], go[2];
	struct pn_region *r;
	pid_t *pids = calloc(c->procs, sizeof(*pids));
	double total = 0;
	char ch;
	void *p;

	r = make("bench.pss", c->size, b);
	p = map_or_die(r, PROT_READ | PROT_WRITE);
	memset(p, 0x5a, c->size);
	pn_region_unmap(r, p, NULL);	/* only the children map it */
	if (pipe(ready) || pipe(go))
		die("pipe", -errno, NULL);
	for (int i = 0; i < c->procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct pn_region *a;
			void *q;

			close(go[1]);	/* else no child ever sees the parent's EOF */
			if (pn_region_attach("bench.pss", 0, b, &a, NULL) ||
			    pn_region_map(a, PROT_READ, &q, NULL))
				_exit(2);
			touch_pages(q, c->size);
			if (write(ready[1], "r", 1) != 1 || read(go[0], &ch, 1) < 0)
				_exit(3);
			_exit(0);
		}
	}
	close(go[0]);
	for (int i = 0; i < c->procs; i++)
		if (read(ready[0], &ch, 1) != 1)
			die("child ready", -EIO, NULL);
	for (int i = 0; i < c->procs; i++) {
		long kb = pss_kb(pids[i]);

		if (kb < 0)
			die("smaps_rollup", -errno, NULL);
		total += kb * 1024.0;
	}
	close(go[1]);
	for (int i = 0; i < c->procs; i++)
		waitpid(pids[i], NULL, 0);
	printf("bench: pss procs=%d region_mib=%.0f total_pss_mib=%.1f ratio_to_one_copy=%.3f "
	       "ratio_to_private=%.4f\n", c->procs, c->size / 1048576.0, total / 1048576.0,
	       total / c->size, total / ((double)c->procs * c->size));
	pn_region_close(r);
	free(pids);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_latency(const struct cfg *c, enum pn_region_backend b)
{
	double *t = calloc(c->iters, sizeof(*t));
	char name[32];

	for (int i = 0; i < c->iters; i++) {
		struct pn_region *r, *a;
		struct pn_err e = { "" };
		double t0 = now();
		void *p;
		int ret;

		snprintf(name, sizeof(name), "bench.lat.%d", i);
		r = make(name, c->lat_size, b);
		ret = pn_region_attach(name, 0, b, &a, &e);
		if (ret)
			die("attach", ret, &e);
		p = map_or_die(a, PROT_READ);
		t[i] = now() - t0;
		pn_region_unmap(a, p, NULL);
		pn_region_close(a);
		pn_region_close(r);
	}
	qsort(t, c->iters, sizeof(*t), cmp_double);
	printf("bench: latency create+attach+map region_kib=%llu n=%d p50_us=%.1f p99_us=%.1f\n",
	       (unsigned long long)(c->lat_size >> 10), c->iters, t[c->iters / 2] * 1e6,
	       t[(int)(c->iters * 0.99)] * 1e6);
	free(t);
}

static double seq_read(const uint64_t *p, uint64_t size)
{
	double best = 1e30;

	for (int rep = 0; rep < 3; rep++) {
		volatile uint64_t sink;
		uint64_t s = 0;
		double t0 = now();

		for (uint64_t i = 0; i < size / 8; i++)
			s += p[i];
		sink = s;
		(void)sink;
		if (now() - t0 < best)
			best = now() - t0;
	}
	return size / best / 1e9;
}

static void bench_bandwidth(const struct cfg *c, enum pn_region_backend b)
{
	double t0, t_create, ft_region, ft_anon, rd_region, rd_anon;
	struct pn_region *r;
	void *p, *a;

	t0 = now();
	r = make("bench.bw", c->size, b);
	t_create = now() - t0;
	p = map_or_die(r, PROT_READ | PROT_WRITE);
	t0 = now();
	memset(p, 1, c->size);
	ft_region = c->size / (now() - t0) / 1e9;
	rd_region = seq_read(p, c->size);
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);

	a = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		die("mmap anon", -errno, NULL);
	madvise(a, c->size, MADV_NOHUGEPAGE);	/* like with like: 4 KiB pages */
	t0 = now();
	memset(a, 1, c->size);
	ft_anon = c->size / (now() - t0) / 1e9;
	rd_anon = seq_read(a, c->size);
	munmap(a, c->size);
	printf("bench: bandwidth region_mib=%.0f create_ms=%.1f first_touch_gbs=%.2f anon_first_touch_gbs=%.2f "
	       "ratio=%.2f seq_read_gbs=%.2f anon_seq_read_gbs=%.2f ratio=%.2f\n",
	       c->size / 1048576.0, t_create * 1e3, ft_region, ft_anon, ft_region / ft_anon,
	       rd_region, rd_anon, rd_region / rd_anon);
}

int main(int argc, char **argv)
{
	struct cfg c = { .size = 1024ULL << 20, .procs = 16, .iters = 200, .lat_size = 1 << 20 };
	const char *backends = "memfd";

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--backend"))
			backends = argv[i + 1];
		else if (!strcmp(argv[i], "--size"))
			c.size = strtoull(argv[i + 1], NULL, 0) << 20;
		else if (!strcmp(argv[i], "--procs"))
			c.procs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--iters"))
			c.iters = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--lat-kib"))
			c.lat_size = strtoull(argv[i + 1], NULL, 0) << 10;
		else
			return fprintf(stderr, "region_bench: unknown option %s\n", argv[i]), 2;
	}
	if (!c.size || c.procs < 1 || c.iters < 1 || !c.lat_size)
		return fprintf(stderr, "region_bench: sizes and counts must be positive\n"), 2;
	for (const char *s = backends; *s;) {
		enum pn_region_backend b = !strncmp(s, "driver", 6) ? PN_REGION_DRIVER :
					   PN_REGION_MEMFD;
		double t0 = now();

		printf("bench: backend=%s\n", b == PN_REGION_DRIVER ? "driver" : "memfd");
		fflush(stdout);
		bench_pss(&c, b);
		bench_latency(&c, b);
		bench_bandwidth(&c, b);
		printf("bench: backend_seconds=%.1f\n", now() - t0);
		fflush(stdout);
		s = strchr(s, '+') ? strchr(s, '+') + 1 : s + strlen(s);
	}
	return 0;
}
