// SPDX-License-Identifier: MIT
/*
 * vm_persistent: a PERSISTENT region outlives every process that used it
 * (a daemon restart finds its weights), until its owner or root destroys
 * it; another uid may not destroy it.
 */
#include "vmtest.h"

static const size_t size = 1 << 20;

static void creator(void)
{
	int fd = dev_open();
	uint8_t *p;

	CHECK(dev_create(fd, "model.w", size, POLYNET_CREATE_PERSISTENT, 0644, NULL) == 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	fill(p, size, 60);
	munmap(p, size);
	CHECK(ioctl(fd, POLYNET_IOC_SEAL) == 0);
	_exit(0);
}

int main(void)
{
	struct polynet_info info;
	struct polynet_list l;
	uint32_t ids[8];
	uint8_t *p;
	pid_t pid;
	int fd;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		creator();
	CHECK(wait_child(pid) == 0);
	/* nobody holds it, yet it is there */
	CHECK(stat_read("regions") == 1 && stat_read("bytes_pinned") == (long)size);
	CHECK(stat_read("attachments") == 0 && stat_read("mappings") == 0);
	memset(&l, 0, sizeof(l));
	l.ids = (uintptr_t)ids;
	l.capacity = 8;
	fd = dev_open();
	CHECK(ioctl(fd, POLYNET_IOC_LIST, &l) == 0 && l.count == 1);
	CHECK(dev_info(fd, ids[0], &info) == 0);
	CHECK(!strcmp(info.name, "model.w") && info.size == size && info.mode == 0644);
	CHECK(info.flags == (POLYNET_INFO_PERSISTENT | POLYNET_INFO_SEALED | POLYNET_INFO_LINKED));
	CHECK(info.uid == 0 && info.attachments == 0);

	/* "the daemon restarts": attach again, the data is there */
	CHECK(dev_attach(fd, "model.w", 0, 0) == 0);
	p = map(fd, size, PROT_READ);
	CHECK(check(p, size, 60));

	/* another uid may read (0644) but not destroy */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int f2;

		CHECK(setgid(65534) == 0 && setuid(65534) == 0);
		f2 = dev_open();
		CHECK_ERR(dev_destroy(f2, "model.w", 0), EPERM);
		CHECK(dev_attach(f2, "model.w", 0, 0) == 0);
		_exit(0);
	}
	CHECK(wait_child(pid) == 0);

	/* destroyed while mapped: unlinked now, freed when we let go */
	{
		int f3 = dev_open();

		CHECK(dev_destroy(f3, "model.w", 0) == 0);
		CHECK_ERR(dev_attach(f3, "model.w", 0, 0), ENOENT);
		close(f3);
	}
	CHECK(stat_read("regions") == 1);
	CHECK(check(p, size, 60));
	munmap(p, size);
	close(fd);
	CHECK(stats_zero());

	/* destroy with no user at all frees at once */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		creator();
	CHECK(wait_child(pid) == 0);
	CHECK(stat_read("regions") == 1);
	fd = dev_open();
	CHECK(dev_destroy(fd, "model.w", 0) == 0);
	CHECK(stats_zero());
	close(fd);
	return T_PASS;
}
