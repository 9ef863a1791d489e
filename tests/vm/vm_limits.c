// SPDX-License-Identifier: MIT
/*
 * vm_limits: the module parameters bound what user space can pin. The VM's
 * /init loads the module with max_pinned_mb=8 max_regions_per_uid=4 for
 * this test; it also changes them at run time through sysfs.
 */
#include "vmtest.h"

#define PARAMS "/sys/module/polynet/parameters/"

static long param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void set_param(const char *name, long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fprintf(f, "%ld\n", v);
	CHECK(fclose(f) == 0);
}

int main(void)
{
	int fds[6];
	char name[8];

	if (param("max_pinned_mb") != 8 || param("max_regions_per_uid") != 4)
		return printf("skip: needs insmod polynet.ko max_pinned_mb=8 max_regions_per_uid=4\n"),
		       T_SKIP;
	for (int i = 0; i < 6; i++)
		fds[i] = dev_open();

	/* pinned bytes: 8 MiB in all, whichever way it is split */
	CHECK_ERR(dev_create(fds[0], "big", (8 << 20) + 1, 0, 0600, NULL), ENOSPC);
	CHECK(dev_create(fds[0], "six", 6 << 20, 0, 0600, NULL) == 0);
	CHECK_ERR(dev_create(fds[1], "three", 3 << 20, 0, 0600, NULL), ENOSPC);
	CHECK(dev_create(fds[1], "two", 2 << 20, 0, 0600, NULL) == 0);
	CHECK(stat_read("bytes_pinned") == 8 << 20);
	close(fds[0]);
	fds[0] = dev_open();
	CHECK(dev_create(fds[0], "three", 3 << 20, 0, 0600, NULL) == 0);
	close(fds[0]);
	close(fds[1]);
	CHECK(stats_zero());

	/* regions per uid: the 5th is refused, a freed slot is reusable */
	for (int i = 0; i < 6; i++) {
		close(fds[i]);
		fds[i] = dev_open();
	}
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		CHECK(dev_create(fds[i], name, 4096, 0, 0600, NULL) == 0);
	}
	CHECK_ERR(dev_create(fds[4], "r4", 4096, 0, 0600, NULL), EDQUOT);
	close(fds[0]);
	CHECK(dev_create(fds[4], "r4", 4096, 0, 0600, NULL) == 0);
	/* another uid has its own count */
	{
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0) {
			CHECK(setgid(65534) == 0 && setuid(65534) == 0);
			CHECK(dev_create(dev_open(), "nobody1", 4096, 0, 0600, NULL) == 0);
			_exit(0);
		}
		CHECK(wait_child(pid) == 0);
	}

	/* raised at run time through sysfs */
	set_param("max_regions_per_uid", 5);
	CHECK(dev_create(fds[5], "r5", 4096, 0, 0600, NULL) == 0);
	set_param("max_regions_per_uid", 4);
	for (int i = 1; i < 6; i++)
		close(fds[i]);
	CHECK(stats_zero());
	return T_PASS;
}
