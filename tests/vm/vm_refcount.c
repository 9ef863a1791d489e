// SPDX-License-Identifier: MIT
/*
 * vm_refcount: a region lives while any file or mapping holds it, in any
 * order of release, and the sysfs stats drop to zero with the last user.
 * A mapping keeps its file open (vm_file), so closing the fd of a mapped
 * attachment releases nothing until the munmap.
 * DESTROY of a plain region only unlinks it: users keep working.
 */
#include "vmtest.h"

int main(void)
{
	const size_t size = 2 << 20;
	struct polynet_info info;
	int fd = dev_open(), fd2 = dev_open(), fd3 = dev_open();
	uint8_t *p, *q;
	uint32_t id;
	pid_t pid;

	CHECK(dev_create(fd, "ref", size, 0, 0600, &id) == 0);
	CHECK(stat_read("regions") == 1 && stat_read("bytes_pinned") == (long)size);
	CHECK(stat_read("attachments") == 1 && stat_read("mappings") == 0);

	/* mapping outlives the file */
	p = map(fd, size, PROT_READ | PROT_WRITE);
	fill(p, size, 3);
	close(fd);
	CHECK(stat_read("regions") == 1 && stat_read("attachments") == 1);
	CHECK(dev_attach(fd2, "ref", 0, 0) == 0);	/* still findable: it is alive */
	q = map(fd2, size, PROT_READ);
	CHECK(check(q, size, 3));
	CHECK(stat_read("mappings") == 2);
	CHECK(dev_info(fd2, 0, &info) == 0 && info.attachments == 2 && info.mappings == 2);
	munmap(p, size);
	CHECK(stat_read("attachments") == 1);	/* fd's file went with its mapping */
	close(fd2);
	CHECK(stat_read("regions") == 1 && stat_read("mappings") == 1);

	/* a forked copy of the mapping holds it after the parent unmaps */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		munmap(q, size);
		_exit(stat_read("mappings") == 1 ? 0 : 2);
	}
	CHECK(wait_child(pid) == 0);
	munmap(q, size);
	CHECK(stats_zero());
	CHECK_ERR(dev_attach(fd3, "ref", 0, 0), ENOENT);
	CHECK_ERR(dev_attach(fd3, "", id, 0), ENOENT);

	/* DESTROY unlinks; the creator keeps using it; last close frees it */
	fd = dev_open();
	CHECK(dev_create(fd, "ref2", size, 0, 0600, &id) == 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	CHECK(dev_destroy(fd3, "ref2", 0) == 0);
	CHECK_ERR(dev_attach(fd3, "ref2", 0, 0), ENOENT);
	CHECK_ERR(dev_destroy(fd3, "ref2", 0), ENOENT);
	fill(p, size, 4);
	CHECK(check(p, size, 4));
	CHECK(dev_info(fd, 0, &info) == 0 && !(info.flags & POLYNET_INFO_LINKED));
	CHECK(stat_read("regions") == 1);
	/* the name is free again at once */
	CHECK(dev_create(fd3, "ref2", 4096, 0, 0600, NULL) == 0);
	CHECK(stat_read("regions") == 2);
	close(fd3);
	munmap(p, size);
	close(fd);
	CHECK(stats_zero());
	return T_PASS;
}
