// SPDX-License-Identifier: MIT
/* vm_version: VERSION answers, the sysfs stats exist and start at zero, LIST is empty. */
#include "vmtest.h"

int main(void)
{
	struct polynet_version v;
	struct polynet_list l;
	uint32_t ids[4];
	int fd = dev_open();

	memset(&v, 0xff, sizeof(v));
	CHECK(ioctl(fd, POLYNET_IOC_VERSION, &v) == 0);
	CHECK(v.abi_version == POLYNET_ABI_VERSION);
	CHECK(v.page_size == (uint32_t)getpagesize());
	CHECK(v.features == 0);
	CHECK(stats_zero());
	memset(&l, 0, sizeof(l));
	l.ids = (uintptr_t)ids;
	l.capacity = 4;
	CHECK(ioctl(fd, POLYNET_IOC_LIST, &l) == 0);
	CHECK(l.count == 0);
	/* an unbound file has no region to map, seal or describe */
	CHECK_ERR(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? -1 : 0, ENXIO);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_SEAL), ENXIO);
	{
		struct polynet_info info;

		CHECK_ERR(dev_info(fd, 0, &info), ENXIO);
	}
	close(fd);
	return T_PASS;
}
