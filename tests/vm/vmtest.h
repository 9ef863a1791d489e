/* SPDX-License-Identifier: MIT */
/*
 * vmtest.h - helpers for the driver tests that run inside the VM.
 * One program per feature (liburing's test/ style): exit 0 pass, 1 fail,
 * 77 skip with the reason printed. Every failed check prints its line.
 */
#ifndef VMTEST_H
#define VMTEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/polynet.h"

#define T_PASS	0
#define T_FAIL	1
#define T_SKIP	77

#define SYSFS_DIR	"/sys/class/misc/polynet/"

#define CHECK(c)								\
	do {									\
		if (!(c)) {							\
			fprintf(stderr, "%s:%d: CHECK(%s) failed, errno %d (%s)\n", \
				__FILE__, __LINE__, #c, errno, strerror(errno)); \
			exit(T_FAIL);						\
		}								\
	} while (0)

/* expr must fail with -1 and errno err */
#define CHECK_ERR(expr, err)							\
	do {									\
		long _r;							\
		errno = 0;							\
		_r = (long)(expr);						\
		if (_r != -1 || errno != (err)) {				\
			fprintf(stderr, "%s:%d: %s = %ld, errno %d (%s); expected -1, errno %d (%s)\n", \
				__FILE__, __LINE__, #expr, _r, errno, strerror(errno), \
				(err), strerror(err));				\
			exit(T_FAIL);						\
		}								\
	} while (0)

static inline int dev_open(void)
{
	int fd = open(POLYNET_DEV_PATH, O_RDWR | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

/* CREATE on fd; returns the ioctl's result, the id in *id when given. */
static inline int dev_create(int fd, const char *name, uint64_t size, uint32_t flags,
			     uint32_t mode, uint32_t *id)
{
	struct polynet_create c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.flags = flags;
	c.numa_node = POLYNET_NODE_ANY;
	c.uid = POLYNET_ID_OWNER;
	c.gid = POLYNET_ID_OWNER;
	c.mode = mode;
	snprintf(c.name, sizeof(c.name), "%s", name);
	ret = ioctl(fd, POLYNET_IOC_CREATE, &c);
	if (id)
		*id = c.id;
	return ret;
}

static inline int dev_attach(int fd, const char *name, uint32_t id, uint32_t flags)
{
	struct polynet_attach at;

	memset(&at, 0, sizeof(at));
	at.id = id;
	at.flags = flags;
	snprintf(at.name, sizeof(at.name), "%s", name);
	return ioctl(fd, POLYNET_IOC_ATTACH, &at);
}

static inline int dev_destroy(int fd, const char *name, uint32_t id)
{
	struct polynet_destroy d;

	memset(&d, 0, sizeof(d));
	d.id = id;
	snprintf(d.name, sizeof(d.name), "%s", name);
	return ioctl(fd, POLYNET_IOC_DESTROY, &d);
}

static inline int dev_info(int fd, uint32_t id, struct polynet_info *info)
{
	memset(info, 0, sizeof(*info));
	info->id = id;
	return ioctl(fd, POLYNET_IOC_INFO, info);
}

/* One number from /sys/class/misc/polynet/<file>, or -1. */
static inline long stat_read(const char *file)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSFS_DIR "%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* No region, pin, attachment or mapping left anywhere. */
static inline int stats_zero(void)
{
	long r = stat_read("regions"), b = stat_read("bytes_pinned");
	long a = stat_read("attachments"), m = stat_read("mappings");

	if (r || b || a || m)
		fprintf(stderr, "stats: regions %ld bytes_pinned %ld attachments %ld mappings %ld\n",
			r, b, a, m);
	return !r && !b && !a && !m;
}

/* Exit status of a child, or -signal when it was killed. */
static inline int wait_child(pid_t pid)
{
	int st = 0;

	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static inline void *map(int fd, size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	CHECK(p != MAP_FAILED);
	return p;
}

static inline void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static inline int check(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed + i * 13))
			return 0;
	return 1;
}

#endif /* VMTEST_H */
