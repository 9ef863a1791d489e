// SPDX-License-Identifier: MIT
/*
 * vm_seal: SEAL is refused while a writable mapping exists (also one that
 * was mprotect'ed read-only, or one a fork inherited); after it no
 * attachment, read-write included, gets a writable mapping; data stays.
 */
#include "vmtest.h"

int main(void)
{
	const size_t size = 256 << 10;
	int fd = dev_open(), other = dev_open();
	struct polynet_info info;
	uint8_t *p;

	CHECK(dev_create(fd, "seal-test", size, 0, 0600, NULL) == 0);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	fill(p, size, 9);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_SEAL), EBUSY);
	CHECK(mprotect(p, size, PROT_READ) == 0);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_SEAL), EBUSY);
	/* split the vma: both halves still count as writers */
	CHECK(munmap(p, size / 2) == 0);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_SEAL), EBUSY);
	CHECK(munmap(p + size / 2, size / 2) == 0);
	CHECK(ioctl(fd, POLYNET_IOC_SEAL) == 0);
	CHECK(ioctl(fd, POLYNET_IOC_SEAL) == 0);
	CHECK_ERR(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED ?
		  -1 : 0, EPERM);
	CHECK(dev_attach(other, "seal-test", 0, POLYNET_ATTACH_RDWR) == 0);
	CHECK_ERR(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, other, 0) == MAP_FAILED ?
		  -1 : 0, EPERM);
	p = map(other, size, PROT_READ);
	CHECK(check(p, size, 9));
	CHECK_ERR(mprotect(p, size, PROT_READ | PROT_WRITE), EACCES);
	CHECK(dev_info(fd, 0, &info) == 0);
	CHECK(info.flags & POLYNET_INFO_SEALED);
	munmap(p, size);
	close(other);
	close(fd);
	CHECK(stats_zero());
	return T_PASS;
}
