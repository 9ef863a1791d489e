/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * polynet.h - the ABI of /dev/polynet (driver/polynet.ko).
 *
 * One open of /dev/polynet is one attachment: CREATE or ATTACH binds the
 * file to a region, mmap(MAP_SHARED) on that file maps the region, close
 * drops the attachment. See docs/driver.md for lifetime and permissions.
 *
 * Rules of this file: fixed-width types, explicit padding, every struct
 * size asserted, reserved fields must be zero (else -EINVAL). A struct is
 * never changed once released: new behaviour gets a new ioctl number and
 * a new struct, and POLYNET_ABI_VERSION is bumped.
 */
#ifndef _UAPI_POLYNET_H
#define _UAPI_POLYNET_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define POLYNET_ABI_VERSION	1
#define POLYNET_DEV_PATH	"/dev/polynet"

/* Region names: [A-Za-z0-9._-], 1..63 bytes, NUL-terminated in the array. */
#define POLYNET_NAME_MAX	64

/* polynet_create.flags */
#define POLYNET_CREATE_PERSISTENT	(1U << 0) /* lives until DESTROY, not last user */
#define POLYNET_CREATE_FLAGS		(POLYNET_CREATE_PERSISTENT)

/* polynet_attach.flags */
#define POLYNET_ATTACH_RDWR		(1U << 0) /* else read-only */
#define POLYNET_ATTACH_FLAGS		(POLYNET_ATTACH_RDWR)

/* polynet_info.flags (out) */
#define POLYNET_INFO_PERSISTENT		(1U << 0)
#define POLYNET_INFO_SEALED		(1U << 1)
#define POLYNET_INFO_LINKED		(1U << 2) /* still findable by name/id */
#define POLYNET_INFO_RDWR		(1U << 3) /* this file's attachment is RW */

#define POLYNET_ID_OWNER	0xffffffffU /* create: uid/gid of the caller */
#define POLYNET_NODE_ANY	(-1)	    /* create: any NUMA node */
#define POLYNET_LIST_MAX	4096	    /* list: capacity clamp */

struct polynet_version {
	__u32 abi_version;	/* out: POLYNET_ABI_VERSION */
	__u32 page_size;	/* out: the granule of sizes and offsets */
	__u64 features;		/* out: 0 for version 1 */
};

struct polynet_create {
	__u64 size;		/* in: bytes, > 0, rounded up to page_size */
	__u32 flags;		/* in: POLYNET_CREATE_* */
	__s32 numa_node;	/* in: preferred node or POLYNET_NODE_ANY */
	__u32 uid;		/* in: owner or POLYNET_ID_OWNER */
	__u32 gid;		/* in: group or POLYNET_ID_OWNER */
	__u32 mode;		/* in: permission bits, 0..0777 */
	__u32 id;		/* out: region id (> 0) */
	char name[POLYNET_NAME_MAX]; /* in: unique name, or "" for anonymous */
};

struct polynet_attach {
	__u32 id;		/* in: region id, or 0 to attach by name */
	__u32 flags;		/* in: POLYNET_ATTACH_* */
	char name[POLYNET_NAME_MAX]; /* in: name when id == 0, else "" */
	__u64 size;		/* out: region bytes */
	__u32 out_id;		/* out: region id */
	__u32 reserved;		/* must be 0 */
};

struct polynet_info {
	__u32 id;		/* in: region id, or 0 for this file's region */
	__u32 flags;		/* out: POLYNET_INFO_* */
	__u64 size;		/* out */
	__u32 uid;		/* out: owner, in the caller's user namespace */
	__u32 gid;		/* out */
	__u32 mode;		/* out */
	__s32 numa_node;	/* out: as requested at create */
	__u32 attachments;	/* out: files attached now */
	__u32 mappings;		/* out: vmas mapping it now */
	char name[POLYNET_NAME_MAX]; /* out */
};

struct polynet_list {
	__u64 ids;		/* in: user pointer to __u32[capacity] */
	__u32 capacity;		/* in: entries at ids (clamped to POLYNET_LIST_MAX) */
	__u32 count;		/* out: linked regions (may exceed capacity) */
};

struct polynet_destroy {
	__u32 id;		/* in: region id, or 0 to destroy by name */
	__u32 reserved;		/* must be 0 */
	char name[POLYNET_NAME_MAX]; /* in: name when id == 0, else "" */
};

_Static_assert(sizeof(struct polynet_version) == 16, "polynet_version ABI");
_Static_assert(sizeof(struct polynet_create) == 96, "polynet_create ABI");
_Static_assert(sizeof(struct polynet_attach) == 88, "polynet_attach ABI");
_Static_assert(sizeof(struct polynet_info) == 104, "polynet_info ABI");
_Static_assert(sizeof(struct polynet_list) == 16, "polynet_list ABI");
_Static_assert(sizeof(struct polynet_destroy) == 72, "polynet_destroy ABI");

#define POLYNET_IOC_MAGIC	0xB7

#define POLYNET_IOC_VERSION	_IOR(POLYNET_IOC_MAGIC, 0x00, struct polynet_version)
#define POLYNET_IOC_CREATE	_IOWR(POLYNET_IOC_MAGIC, 0x01, struct polynet_create)
#define POLYNET_IOC_ATTACH	_IOWR(POLYNET_IOC_MAGIC, 0x02, struct polynet_attach)
#define POLYNET_IOC_SEAL	_IO(POLYNET_IOC_MAGIC, 0x03)
#define POLYNET_IOC_INFO	_IOWR(POLYNET_IOC_MAGIC, 0x04, struct polynet_info)
#define POLYNET_IOC_LIST	_IOWR(POLYNET_IOC_MAGIC, 0x05, struct polynet_list)
#define POLYNET_IOC_DESTROY	_IOW(POLYNET_IOC_MAGIC, 0x06, struct polynet_destroy)

#endif /* _UAPI_POLYNET_H */
