// SPDX-License-Identifier: MIT
/*
 * vm_perm: attach is checked like open(2) - owner, group, other bits of the
 * region's mode against the caller's fsuid/fsgid - and root (CAP_SYS_ADMIN)
 * overrides. A non-root user cannot give a region away (create with
 * another owner). Runs the denied side in setuid children.
 */
#include <grp.h>

#include "vmtest.h"

#define NOBODY	65534

/* In a child as uid/gid: attach name with flags, expect err (0 = success). */
static void attach_as(uid_t uid, gid_t gid, const char *name, uint32_t flags, int err)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		int fd;

		CHECK(setgroups(0, NULL) == 0);
		CHECK(setgid(gid) == 0 && setuid(uid) == 0);
		fd = dev_open();
		if (err)
			CHECK_ERR(dev_attach(fd, name, 0, flags), err);
		else
			CHECK(dev_attach(fd, name, 0, flags) == 0);
		_exit(0);
	}
	CHECK(wait_child(pid) == 0);
}

int main(void)
{
	int a = dev_open(), b = dev_open(), c = dev_open(), d = dev_open();
	struct polynet_create cr;
	struct polynet_info info;
	pid_t pid;

	CHECK(dev_create(a, "private", 4096, 0, 0600, NULL) == 0);
	attach_as(NOBODY, NOBODY, "private", 0, EACCES);
	attach_as(NOBODY, NOBODY, "private", POLYNET_ATTACH_RDWR, EACCES);

	CHECK(dev_create(b, "world-ro", 4096, 0, 0604, NULL) == 0);
	attach_as(NOBODY, NOBODY, "world-ro", 0, 0);
	attach_as(NOBODY, NOBODY, "world-ro", POLYNET_ATTACH_RDWR, EACCES);

	/* group bits: owner root, group nobody, 0060 */
	memset(&cr, 0, sizeof(cr));
	cr.size = 4096;
	cr.numa_node = POLYNET_NODE_ANY;
	cr.uid = 0;
	cr.gid = NOBODY;
	cr.mode = 0060;
	strcpy(cr.name, "group-rw");
	CHECK(ioctl(c, POLYNET_IOC_CREATE, &cr) == 0);
	CHECK(dev_info(c, 0, &info) == 0 && info.gid == NOBODY && info.mode == 0060);
	attach_as(NOBODY, NOBODY, "group-rw", POLYNET_ATTACH_RDWR, 0);
	attach_as(1000, 1000, "group-rw", 0, EACCES);

	/* owned by nobody, mode 0: even the owner is refused; root overrides */
	cr.uid = NOBODY;
	cr.mode = 0;
	strcpy(cr.name, "locked");
	CHECK(ioctl(d, POLYNET_IOC_CREATE, &cr) == 0);
	attach_as(NOBODY, NOBODY, "locked", 0, EACCES);
	{
		int e = dev_open();

		CHECK(dev_attach(e, "locked", 0, POLYNET_ATTACH_RDWR) == 0);
		close(e);
	}

	/* non-root: no giving away, no destroying others' regions */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd;

		CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
		fd = dev_open();
		cr.uid = 0;
		cr.gid = POLYNET_ID_OWNER;
		cr.mode = 0600;
		strcpy(cr.name, "theft");
		CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &cr), EPERM);
		cr.uid = POLYNET_ID_OWNER;
		cr.gid = 0;
		CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &cr), EPERM);
		CHECK_ERR(dev_destroy(fd, "private", 0), EPERM);
		/* its own region: created, owned, destroyed by itself */
		CHECK(dev_create(fd, "mine", 4096, 0, 0600, NULL) == 0);
		CHECK(dev_info(fd, 0, &info) == 0 && info.uid == NOBODY);
		CHECK(dev_destroy(fd, "mine", 0) == 0);
		_exit(0);
	}
	CHECK(wait_child(pid) == 0);
	close(a);
	close(b);
	close(c);
	close(d);
	CHECK(stats_zero());
	return T_PASS;
}
