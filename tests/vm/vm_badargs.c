// SPDX-License-Identifier: MIT
/*
 * vm_badargs: every ioctl refuses bad arguments with the documented error
 * and changes nothing: unknown commands and wrong struct sizes (-ENOTTY),
 * bad pointers (-EFAULT), unknown flags, nonzero reserved fields, bad
 * sizes, unterminated or ill-formed names, bad nodes and modes (-EINVAL),
 * out-of-range mmap offsets and lengths.
 */
#include "vmtest.h"

struct wrong { char b[12]; };

static void bad_creates(int fd)
{
	struct polynet_create c;

#define RESET() do { memset(&c, 0, sizeof(c)); c.size = 4096; c.numa_node = -1; \
		c.uid = POLYNET_ID_OWNER; c.gid = POLYNET_ID_OWNER; c.mode = 0600; \
		strcpy(c.name, "bad"); } while (0)
	RESET(); c.size = 0;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.size = UINT64_MAX;			/* rounding would wrap */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.size = UINT64_MAX - 4095;		/* fits, but no limit allows it */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), ENOSPC);
	RESET(); c.flags = 1U << 1;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.flags = 1U << 31;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.mode = 01000;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); memset(c.name, 'a', sizeof(c.name));	/* no NUL inside the array */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); strcpy(c.name, "a/b");
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); strcpy(c.name, "sp ace");
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.name[0] = '\xff';
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.numa_node = 9999;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	RESET(); c.numa_node = -2;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, &c), EINVAL);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, NULL), EFAULT);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_CREATE, (void *)16), EFAULT);
#undef RESET
}

static void bad_attaches(int fd)
{
	struct polynet_attach at;

	memset(&at, 0, sizeof(at));
	strcpy(at.name, "target");
	at.flags = 1U << 2;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), EINVAL);
	at.flags = 0;
	at.reserved = 1;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), EINVAL);
	at.reserved = 0;
	at.id = 1;				/* both id and name */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), EINVAL);
	memset(&at, 0, sizeof(at));		/* neither */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), EINVAL);
	memset(at.name, 'x', sizeof(at.name));	/* unterminated */
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), EINVAL);
	memset(&at, 0, sizeof(at));
	at.id = 0x7fffffff;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), ENOENT);
	strcpy(at.name, "nope");
	at.id = 0;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, &at), ENOENT);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_ATTACH, NULL), EFAULT);
}

static void bad_destroys(int fd)
{
	struct polynet_destroy d;

	memset(&d, 0, sizeof(d));
	strcpy(d.name, "target");
	d.reserved = 7;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, &d), EINVAL);
	d.reserved = 0;
	d.id = 3;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, &d), EINVAL);
	memset(&d, 0, sizeof(d));
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, &d), EINVAL);
	memset(d.name, 'y', sizeof(d.name));
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, &d), EINVAL);
	memset(&d, 0, sizeof(d));
	strcpy(d.name, "nope");
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, &d), ENOENT);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_DESTROY, NULL), EFAULT);
}

int main(void)
{
	int fd = dev_open(), owner = dev_open();
	struct polynet_info info;
	struct polynet_list l;
	uint32_t id;
	void *p;

	/* commands: unknown numbers, and known numbers with the wrong size or direction */
	CHECK_ERR(ioctl(fd, 0), ENOTTY);
	CHECK_ERR(ioctl(fd, _IO(POLYNET_IOC_MAGIC, 0x7f)), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(POLYNET_IOC_MAGIC, 0x01, struct wrong), &l), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOR(POLYNET_IOC_MAGIC, 0x01, struct polynet_create), &l), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(POLYNET_IOC_MAGIC + 1, 0x04, struct polynet_info), &info), ENOTTY);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_VERSION, NULL), EFAULT);

	bad_creates(fd);
	bad_attaches(fd);
	bad_destroys(fd);
	CHECK(stats_zero());

	CHECK(dev_create(owner, "target", 8192, 0, 0600, &id) == 0);
	CHECK_ERR(dev_create(fd, "target", 4096, 0, 0600, NULL), EEXIST);
	CHECK_ERR(dev_create(owner, "other", 4096, 0, 0600, NULL), EBUSY);
	CHECK_ERR(dev_attach(owner, "target", 0, 0), EBUSY);
	CHECK_ERR(dev_info(fd, 0x7ffffff0, &info), ENOENT);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_INFO, NULL), EFAULT);

	memset(&l, 0, sizeof(l));
	l.ids = 16;				/* unmapped user address */
	l.capacity = 4;
	CHECK_ERR(ioctl(fd, POLYNET_IOC_LIST, &l), EFAULT);
	CHECK_ERR(ioctl(fd, POLYNET_IOC_LIST, NULL), EFAULT);
	l.ids = 0;
	l.capacity = 0;				/* count only */
	CHECK(ioctl(fd, POLYNET_IOC_LIST, &l) == 0 && l.count == 1);

	/* mmap: offset and length must stay inside the region */
	CHECK_ERR(mmap(NULL, 12288, PROT_READ, MAP_SHARED, owner, 0) == MAP_FAILED ? -1 : 0,
		  EINVAL);
	CHECK_ERR(mmap(NULL, 4096, PROT_READ, MAP_SHARED, owner, 8192) == MAP_FAILED ? -1 : 0,
		  EINVAL);
	CHECK_ERR(mmap(NULL, 8192, PROT_READ, MAP_SHARED, owner, 4096) == MAP_FAILED ? -1 : 0,
		  EINVAL);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, owner, 4096);
	CHECK(p != MAP_FAILED);
	((volatile char *)p)[0] = 1;
	munmap(p, 4096);
	/* mremap cannot grow it (VM_DONTEXPAND) */
	p = map(owner, 4096, PROT_READ);
	CHECK(mremap(p, 4096, 8192, 0) == MAP_FAILED);
	munmap(p, 4096);

	close(owner);
	close(fd);
	CHECK(stats_zero());
	return T_PASS;
}
