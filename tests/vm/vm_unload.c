// SPDX-License-Identifier: MIT
/*
 * vm_unload: rmmod is refused while a region exists (an open file, a
 * mapping, or a persistent region nobody uses) and succeeds once the last
 * one is gone; then the module loads again. Needs busybox rmmod/insmod
 * and the module at /polynet.ko.
 */
#include "vmtest.h"

static int rmmod(void)
{
	return system("rmmod polynet 2>/dev/null");
}

int main(void)
{
	uint8_t *p;
	pid_t pid;
	int fd;

	if (access("/polynet.ko", R_OK))
		return printf("skip: /polynet.ko not found\n"), T_SKIP;
	fd = dev_open();
	CHECK(dev_create(fd, "unload", 4096, 0, 0600, NULL) == 0);
	CHECK(rmmod() != 0);
	p = map(fd, 4096, PROT_READ);
	close(fd);
	CHECK(rmmod() != 0);		/* only the mapping holds it */
	munmap(p, 4096);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int f = dev_open();

		_exit(dev_create(f, "keep", 4096, POLYNET_CREATE_PERSISTENT, 0600, NULL) ? 2 : 0);
	}
	CHECK(wait_child(pid) == 0);
	CHECK(stat_read("attachments") == 0 && stat_read("regions") == 1);
	CHECK(rmmod() != 0);		/* a persistent region holds the module */
	fd = dev_open();
	CHECK(dev_destroy(fd, "keep", 0) == 0);
	close(fd);
	CHECK(stats_zero());
	CHECK(rmmod() == 0);
	CHECK(access(POLYNET_DEV_PATH, F_OK) != 0);
	CHECK(system("insmod /polynet.ko") == 0);
	CHECK(stats_zero());
	return T_PASS;
}
