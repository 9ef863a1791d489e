// SPDX-License-Identifier: MIT
/*
 * vm_share_fork: a mapping inherited across fork is the same memory, both
 * ways; the child's copy of the vma holds its own reference (stats count it).
 */
#include "vmtest.h"

int main(void)
{
	const size_t size = 1 << 20;
	int fd = dev_open();
	uint8_t *p;
	pid_t pid;
	int up[2], down[2];
	char c;

	CHECK(dev_create(fd, "fork", size, 0, 0600, NULL) == 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	fill(p, size, 1);
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fd);
		if (!check(p, size, 1))
			_exit(2);
		fill(p, size, 2);
		/* tell the parent, then keep the mapping until it has looked */
		if (write(up[1], "x", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(3);
		_exit(0);
	}
	CHECK(read(up[0], &c, 1) == 1);
	CHECK(check(p, size, 2));
	CHECK(stat_read("mappings") == 2);
	CHECK(stat_read("attachments") == 1);
	CHECK(write(down[1], "y", 1) == 1);
	CHECK(wait_child(pid) == 0);
	CHECK(stat_read("mappings") == 1);
	munmap(p, size);
	close(fd);
	CHECK(stats_zero());
	return T_PASS;
}
