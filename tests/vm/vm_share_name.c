// SPDX-License-Identifier: MIT
/*
 * vm_share_name: an unrelated process (fork + exec, no inherited fd or
 * mapping) attaches by name and by id, reads what the creator wrote, and
 * its writes are seen by the creator.
 */
#include "vmtest.h"

static const size_t size = 3 << 20;

static int child(const char *how, const char *arg)
{
	int fd = dev_open();
	uint8_t *p;

	if (!strcmp(how, "name"))
		CHECK(dev_attach(fd, arg, 0, POLYNET_ATTACH_RDWR) == 0);
	else
		CHECK(dev_attach(fd, "", (uint32_t)atoi(arg), POLYNET_ATTACH_RDWR) == 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	CHECK(check(p, size, 40));
	fill(p, size, 41);
	return T_PASS;
}

static void spawn(const char *self, const char *how, const char *arg)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		execl(self, self, how, arg, (char *)NULL);
		_exit(4);
	}
	CHECK(wait_child(pid) == 0);
}

int main(int argc, char **argv)
{
	struct polynet_info info;
	char idbuf[16];
	uint32_t id;
	uint8_t *p;
	int fd;

	if (argc == 3)
		return child(argv[1], argv[2]);
	fd = dev_open();
	CHECK(dev_create(fd, "weights.shared", size, 0, 0600, &id) == 0);
	CHECK(id > 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	fill(p, size, 40);
	spawn(argv[0], "name", "weights.shared");
	CHECK(check(p, size, 41));
	fill(p, size, 40);
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	spawn(argv[0], "id", idbuf);
	CHECK(check(p, size, 41));
	CHECK(dev_info(fd, 0, &info) == 0);
	CHECK(info.id == id && info.size == size && !strcmp(info.name, "weights.shared"));
	CHECK(info.attachments == 1 && info.mappings == 1);
	CHECK(info.flags == (POLYNET_INFO_LINKED | POLYNET_INFO_RDWR));
	munmap(p, size);
	close(fd);
	CHECK(stats_zero());
	return T_PASS;
}
