// SPDX-License-Identifier: MIT
/*
 * vm_readonly: a read-only attachment cannot produce a writable mapping:
 * mmap(PROT_WRITE) fails, mprotect cannot upgrade, a write faults (SIGSEGV),
 * MAP_PRIVATE is refused (a private writable copy would dodge the rule).
 */
#include <signal.h>

#include "vmtest.h"

int main(void)
{
	const size_t size = 64 << 10;
	int rw = dev_open(), ro = dev_open();
	uint8_t *p, *q;
	pid_t pid;

	CHECK(dev_create(rw, "ro-test", size, 0, 0644, NULL) == 0);
	p = map(rw, size, PROT_READ | PROT_WRITE);
	fill(p, size, 5);
	CHECK(dev_attach(ro, "ro-test", 0, 0) == 0);
	CHECK_ERR(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ?
		  -1 : 0, EACCES);
	CHECK_ERR(mmap(NULL, size, PROT_READ, MAP_PRIVATE, ro, 0) == MAP_FAILED ? -1 : 0,
		  EINVAL);
	q = map(ro, size, PROT_READ);
	CHECK(check(q, size, 5));
	CHECK_ERR(mprotect(q, size, PROT_READ | PROT_WRITE), EACCES);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		q[100] = 1;	/* must fault */
		_exit(0);
	}
	CHECK(wait_child(pid) == -SIGSEGV);
	CHECK(check(q, size, 5));
	/* a read-only attachment cannot seal either */
	CHECK_ERR(ioctl(ro, POLYNET_IOC_SEAL), EPERM);
	/* a read-only mapping of a read-write attachment cannot be upgraded either */
	munmap(p, size);
	p = map(rw, size, PROT_READ);
	CHECK_ERR(mprotect(p, size, PROT_READ | PROT_WRITE), EACCES);
	munmap(p, size);
	munmap(q, size);
	close(ro);
	close(rw);
	CHECK(stats_zero());
	return T_PASS;
}
