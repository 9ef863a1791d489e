// SPDX-License-Identifier: MIT
/*
 * region.c - shared memory regions over /dev/polynet or memfd/shm.
 * The backends and their differences are described in region.h and
 * docs/driver.md. Cold path only: nothing here runs per inference.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "transport/region.h"
#include "uapi/polynet.h"

#define SHM_PREFIX	"/polynet."
#define WIRE_MAGIC	0x4e524750u	/* "PGRN": a region on the wire */

struct pn_region {
	int fd;
	enum pn_region_backend backend;
	uint32_t id;		/* driver only */
	uint64_t size;
	bool writable;		/* attachment is read-write */
	bool named;		/* memfd backend: a shm object, else a memfd */
	bool unlink_on_close;	/* memfd backend: non-persistent creator */
	bool hugetlb;
	char name[PN_REGION_NAME_MAX];
};

/* What pn_region_send puts next to the fd. */
struct pn_region_wire {
	uint32_t magic;
	uint32_t backend;
	uint64_t size;
	uint32_t id;
	uint32_t flags;		/* 1: writable, 2: named, 4: hugetlb */
	char name[PN_REGION_NAME_MAX];
};

static const char *backend_name(enum pn_region_backend b)
{
	return b == PN_REGION_DRIVER ? "driver" : "memfd";
}

void pn_region_opts_init(struct pn_region_opts *o, uint64_t size)
{
	memset(o, 0, sizeof(*o));
	o->size = size;
	o->numa_node = PN_REGION_NODE_ANY;
	o->uid = PN_REGION_ID_SELF;
	o->gid = PN_REGION_ID_SELF;
	o->mode = 0600;
	o->backend = PN_REGION_AUTO;
}

/* The driver's rule, applied in both backends so names mean the same. */
static int check_name(const char *name, bool may_be_empty, struct pn_err *e)
{
	size_t len = name ? strnlen(name, PN_REGION_NAME_MAX) : 0;

	if (len >= PN_REGION_NAME_MAX)
		return pn_errf(e, -EINVAL, "region name: longer than %d bytes",
			       PN_REGION_NAME_MAX - 1);
	if (!len && !may_be_empty)
		return pn_errf(e, -EINVAL, "region name: empty, expected 1..%d bytes",
			       PN_REGION_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return pn_errf(e, -EINVAL,
				       "region name '%.*s': byte %zu is 0x%02x, expected [A-Za-z0-9._-]",
				       (int)len, name, i, (unsigned char)c);
	}
	return 0;
}

/*
 * Picks the backend. For the driver, leaves an open /dev/polynet in *devfd.
 * AUTO falls back to memfd only when the device does not exist.
 */
static int pick_backend(enum pn_region_backend want, enum pn_region_backend *got, int *devfd,
			struct pn_err *e)
{
	*devfd = -1;
	*got = PN_REGION_MEMFD;
	if (want == PN_REGION_MEMFD)
		return 0;
	*devfd = open(POLYNET_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (*devfd >= 0) {
		*got = PN_REGION_DRIVER;
		return 0;
	}
	if (want == PN_REGION_AUTO && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		return 0;
	return pn_errf(e, -errno, "%s: open: %s", POLYNET_DEV_PATH, strerror(errno));
}

static struct pn_region *region_new(int fd, enum pn_region_backend b, const char *name)
{
	struct pn_region *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = fd;
	r->backend = b;
	if (name)
		snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

static void shm_path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s%s", SHM_PREFIX, name);
}

/* Free huge pages are enough for size bytes (rounded up to *hpage). */
static bool huge_pages_free(uint64_t size, uint64_t *hpage)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long free_pages = 0, kb = 0;
	char line[128];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %llu", &free_pages);
		sscanf(line, "Hugepagesize: %llu kB", &kb);
	}
	fclose(f);
	*hpage = kb * 1024;
	return kb && free_pages * kb * 1024 >= (size + kb * 1024 - 1) / (kb * 1024) * kb * 1024;
}

/* Anonymous memfd region: hugetlb when the pool has room, size sealed at once. */
static int memfd_create_anon(struct pn_region *r, const struct pn_region_opts *o, struct pn_err *e)
{
	uint64_t hpage = 0, size = o->size;
	int fd = -1;

	if (!(o->flags & PN_REGION_NOHUGE) && huge_pages_free(size, &hpage)) {
		fd = memfd_create("polynet", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
		if (fd >= 0) {
			size = (size + hpage - 1) / hpage * hpage;
			r->hugetlb = true;
		}
	}
	if (fd < 0)
		fd = memfd_create("polynet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return pn_errf(e, -errno, "region (memfd): memfd_create: %s", strerror(errno));
	r->fd = fd;
	if (!r->hugetlb) {
		long pg = sysconf(_SC_PAGESIZE);

		size = (size + pg - 1) / pg * pg;
	}
	if (ftruncate(fd, (off_t)size) < 0)
		return pn_errf(e, -errno, "region (memfd): ftruncate to %llu bytes: %s",
			       (unsigned long long)size, strerror(errno));
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0)
		return pn_errf(e, -errno, "region (memfd): F_ADD_SEALS grow/shrink: %s",
			       strerror(errno));
	r->size = size;
	return 0;
}

/* Named memfd-backend region: a shm object; the persistent mark is S_ISVTX. */
static int memfd_create_named(struct pn_region *r, const struct pn_region_opts *o,
			      struct pn_err *e)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t size = (o->size + pg - 1) / pg * pg;
	mode_t mode = o->mode | ((o->flags & PN_REGION_PERSISTENT) ? S_ISVTX : 0);
	char path[PN_REGION_NAME_MAX + sizeof(SHM_PREFIX)];
	int ret = 0;

	shm_path(path, sizeof(path), r->name);
	r->fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->fd < 0)
		return pn_errf(e, -errno, "region '%s' (memfd): shm_open %s: %s", r->name, path,
			       strerror(errno));
	if (ftruncate(r->fd, (off_t)size) < 0)
		ret = pn_errf(e, -errno, "region '%s' (memfd): ftruncate to %llu bytes: %s",
			      r->name, (unsigned long long)size, strerror(errno));
	else if ((o->uid != PN_REGION_ID_SELF || o->gid != PN_REGION_ID_SELF) &&
		 fchown(r->fd, o->uid, o->gid) < 0)
		ret = pn_errf(e, -errno, "region '%s' (memfd): owner %d:%d: %s", r->name,
			      (int)o->uid, (int)o->gid, strerror(errno));
	else if (fchmod(r->fd, mode) < 0)
		ret = pn_errf(e, -errno, "region '%s' (memfd): mode %o: %s", r->name,
			      (unsigned int)o->mode, strerror(errno));
	if (ret) {
		shm_unlink(path);
		return ret;
	}
	r->size = size;
	r->named = true;
	r->unlink_on_close = !(o->flags & PN_REGION_PERSISTENT);
	return 0;
}

static int driver_create(struct pn_region *r, const struct pn_region_opts *o, struct pn_err *e)
{
	struct polynet_create c;

	memset(&c, 0, sizeof(c));
	c.size = o->size;
	c.flags = (o->flags & PN_REGION_PERSISTENT) ? POLYNET_CREATE_PERSISTENT : 0;
	c.numa_node = o->numa_node;
	c.uid = o->uid;
	c.gid = o->gid;
	c.mode = o->mode;
	memcpy(c.name, r->name, sizeof(c.name));
	if (ioctl(r->fd, POLYNET_IOC_CREATE, &c) < 0)
		return pn_errf(e, -errno, "region '%s' (driver): create of %llu bytes: %s",
			       r->name, (unsigned long long)o->size, strerror(errno));
	r->id = c.id;
	r->size = (o->size + getpagesize() - 1) / getpagesize() * getpagesize();
	return 0;
}

int pn_region_create(const char *name, const struct pn_region_opts *o,
		     struct pn_region **out, struct pn_err *e)
{
	enum pn_region_backend b;
	struct pn_region *r;
	int fd, ret;

	*out = NULL;
	ret = check_name(name, true, e);
	if (ret)
		return ret;
	if (!o->size || o->mode > 0777 || (o->flags & ~(PN_REGION_PERSISTENT | PN_REGION_NOHUGE)))
		return pn_errf(e, -EINVAL,
			       "region '%s': size %llu, mode %o, flags 0x%x: expected size > 0, mode <= 0777, known flags",
			       name ? name : "", (unsigned long long)o->size,
			       (unsigned int)o->mode, (unsigned int)o->flags);
	if ((o->flags & PN_REGION_PERSISTENT) && !(name && name[0]))
		return pn_errf(e, -EINVAL, "region: a persistent region needs a name");
	ret = pick_backend(o->backend, &b, &fd, e);
	if (ret)
		return ret;
	r = region_new(fd, b, name);
	if (!r) {
		if (fd >= 0)
			close(fd);
		return pn_errf(e, -ENOMEM, "region '%s': out of memory", name ? name : "");
	}
	r->writable = true;
	if (b == PN_REGION_DRIVER)
		ret = driver_create(r, o, e);
	else if (r->name[0])
		ret = memfd_create_named(r, o, e);
	else
		ret = memfd_create_anon(r, o, e);
	if (ret) {
		r->unlink_on_close = false;
		pn_region_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

int pn_region_attach(const char *name, uint32_t flags, enum pn_region_backend backend,
		     struct pn_region **out, struct pn_err *e)
{
	bool rdwr = flags & PN_REGION_RDWR;
	enum pn_region_backend b;
	struct pn_region *r;
	int fd, ret;

	*out = NULL;
	ret = check_name(name, false, e);
	if (ret)
		return ret;
	if (flags & ~PN_REGION_RDWR)
		return pn_errf(e, -EINVAL, "region '%s': attach flags 0x%x unknown", name,
			       (unsigned int)flags);
	ret = pick_backend(backend, &b, &fd, e);
	if (ret)
		return ret;
	if (b == PN_REGION_DRIVER) {
		struct polynet_attach at;

		memset(&at, 0, sizeof(at));
		at.flags = rdwr ? POLYNET_ATTACH_RDWR : 0;
		snprintf(at.name, sizeof(at.name), "%s", name);
		if (ioctl(fd, POLYNET_IOC_ATTACH, &at) < 0) {
			ret = pn_errf(e, -errno, "region '%s' (driver): attach %s: %s", name,
				      rdwr ? "rw" : "ro", strerror(errno));
			close(fd);
			return ret;
		}
		r = region_new(fd, b, name);
		if (r) {
			r->id = at.out_id;
			r->size = at.size;
		}
	} else {
		char path[PN_REGION_NAME_MAX + sizeof(SHM_PREFIX)];
		struct stat st;

		shm_path(path, sizeof(path), name);
		fd = shm_open(path, (rdwr ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
		if (fd < 0)
			return pn_errf(e, -errno, "region '%s' (memfd): attach %s: %s", name,
				       rdwr ? "rw" : "ro", strerror(errno));
		if (fstat(fd, &st) < 0) {
			ret = pn_errf(e, -errno, "region '%s' (memfd): fstat: %s", name,
				      strerror(errno));
			close(fd);
			return ret;
		}
		r = region_new(fd, b, name);
		if (r) {
			r->size = (uint64_t)st.st_size;
			r->named = true;
		}
	}
	if (!r) {
		close(fd);
		return pn_errf(e, -ENOMEM, "region '%s': out of memory", name);
	}
	r->writable = rdwr;
	*out = r;
	return 0;
}

/* Named shm objects cannot carry F_SEAL_*: sealed means no write bit left. */
static int seal_named(struct pn_region *r, struct pn_err *e)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0)
		return pn_errf(e, -errno, "region '%s' (memfd): fstat: %s", r->name,
			       strerror(errno));
	if (fchmod(r->fd, st.st_mode & 07555) < 0)
		return pn_errf(e, -errno, "region '%s' (memfd): seal (chmod a-w): %s", r->name,
			       strerror(errno));
	return 0;
}

int pn_region_seal(struct pn_region *r, struct pn_err *e)
{
	if (!r->writable)
		return pn_errf(e, -EPERM, "region '%s' (%s): seal needs a read-write attachment",
			       r->name, backend_name(r->backend));
	if (r->backend == PN_REGION_DRIVER) {
		if (ioctl(r->fd, POLYNET_IOC_SEAL) < 0)
			return pn_errf(e, -errno, "region '%s' (driver): seal: %s", r->name,
				       errno == EBUSY ? "a writable mapping exists" : strerror(errno));
		return 0;
	}
	if (r->named)
		return seal_named(r, e);
	if (fcntl(r->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		/* sealing twice is not an error: F_SEAL_SEAL refuses the second call */
		int seals = fcntl(r->fd, F_GET_SEALS);

		if (errno == EPERM && seals >= 0 && (seals & F_SEAL_WRITE))
			return 0;
		return pn_errf(e, -errno, "region (memfd): seal: %s",
			       errno == EBUSY ? "a writable mapping exists" : strerror(errno));
	}
	return 0;
}

int pn_region_map(struct pn_region *r, int prot, void **addr, struct pn_err *e)
{
	void *p;

	*addr = NULL;
	if (prot & ~(PROT_READ | PROT_WRITE))
		return pn_errf(e, -EINVAL, "region '%s': map prot 0x%x, expected PROT_READ|PROT_WRITE",
			       r->name, (unsigned int)prot);
	if ((prot & PROT_WRITE) && r->named) {
		struct stat st;

		if (fstat(r->fd, &st) == 0 && !(st.st_mode & 0222))
			return pn_errf(e, -EPERM, "region '%s' (memfd): map writable: sealed",
				       r->name);
	}
	p = mmap(NULL, r->size, prot, MAP_SHARED, r->fd, 0);
	if (p == MAP_FAILED)
		return pn_errf(e, -errno, "region '%s' (%s): map %llu bytes %s: %s", r->name,
			       backend_name(r->backend), (unsigned long long)r->size,
			       (prot & PROT_WRITE) ? "rw" : "ro", strerror(errno));
	*addr = p;
	return 0;
}

int pn_region_unmap(struct pn_region *r, void *addr, struct pn_err *e)
{
	if (addr && munmap(addr, r->size) < 0)
		return pn_errf(e, -errno, "region '%s': unmap: %s", r->name, strerror(errno));
	return 0;
}

static int driver_info(struct pn_region *r, struct pn_region_info *info, struct pn_err *e)
{
	struct polynet_info pi;

	memset(&pi, 0, sizeof(pi));
	if (ioctl(r->fd, POLYNET_IOC_INFO, &pi) < 0)
		return pn_errf(e, -errno, "region '%s' (driver): info: %s", r->name,
			       strerror(errno));
	info->id = pi.id;
	info->size = pi.size;
	info->uid = pi.uid;
	info->gid = pi.gid;
	info->mode = pi.mode;
	info->numa_node = pi.numa_node;
	info->persistent = pi.flags & POLYNET_INFO_PERSISTENT;
	info->sealed = pi.flags & POLYNET_INFO_SEALED;
	info->attachments = pi.attachments;
	info->mappings = pi.mappings;
	memcpy(info->name, pi.name, sizeof(info->name));
	info->name[sizeof(info->name) - 1] = '\0';
	return 0;
}

static int memfd_info(struct pn_region *r, struct pn_region_info *info, struct pn_err *e)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0)
		return pn_errf(e, -errno, "region '%s' (memfd): fstat: %s", r->name,
			       strerror(errno));
	info->size = (uint64_t)st.st_size;
	info->uid = st.st_uid;
	info->gid = st.st_gid;
	info->mode = st.st_mode & 0777;
	info->numa_node = PN_REGION_NODE_ANY;
	if (r->named) {
		info->persistent = st.st_mode & S_ISVTX;
		info->sealed = !(st.st_mode & 0222);
	} else {
		int seals = fcntl(r->fd, F_GET_SEALS);

		info->sealed = seals >= 0 && (seals & F_SEAL_WRITE);
	}
	memcpy(info->name, r->name, sizeof(info->name));
	return 0;
}

int pn_region_info(struct pn_region *r, struct pn_region_info *info, struct pn_err *e)
{
	memset(info, 0, sizeof(*info));
	info->backend = r->backend;
	info->writable = r->writable;
	info->hugetlb = r->hugetlb;
	return r->backend == PN_REGION_DRIVER ? driver_info(r, info, e) : memfd_info(r, info, e);
}

int pn_region_destroy(const char *name, enum pn_region_backend backend, struct pn_err *e)
{
	enum pn_region_backend b;
	int fd, ret;

	ret = check_name(name, false, e);
	if (ret)
		return ret;
	ret = pick_backend(backend, &b, &fd, e);
	if (ret)
		return ret;
	if (b == PN_REGION_DRIVER) {
		struct polynet_destroy d;

		memset(&d, 0, sizeof(d));
		snprintf(d.name, sizeof(d.name), "%s", name);
		if (ioctl(fd, POLYNET_IOC_DESTROY, &d) < 0)
			ret = pn_errf(e, -errno, "region '%s' (driver): destroy: %s", name,
				      strerror(errno));
		close(fd);
	} else {
		char path[PN_REGION_NAME_MAX + sizeof(SHM_PREFIX)];

		shm_path(path, sizeof(path), name);
		if (shm_unlink(path) < 0)
			ret = pn_errf(e, -errno, "region '%s' (memfd): destroy (shm_unlink %s): %s",
				      name, path, strerror(errno));
	}
	return ret;
}

void pn_region_close(struct pn_region *r)
{
	if (!r)
		return;
	if (r->unlink_on_close) {
		char path[PN_REGION_NAME_MAX + sizeof(SHM_PREFIX)];

		shm_path(path, sizeof(path), r->name);
		shm_unlink(path);
	}
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

size_t pn_region_size(const struct pn_region *r)
{
	return (size_t)r->size;
}

int pn_region_fd(const struct pn_region *r)
{
	return r->fd;
}

enum pn_region_backend pn_region_backend(const struct pn_region *r)
{
	return r->backend;
}

int pn_region_send(int sock, const struct pn_region *r, struct pn_err *e)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct pn_region_wire w;
	struct iovec iov = { .iov_base = &w, .iov_len = sizeof(w) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	memset(&w, 0, sizeof(w));
	memset(cbuf, 0, sizeof(cbuf));
	w.magic = WIRE_MAGIC;
	w.backend = r->backend;
	w.size = r->size;
	w.id = r->id;
	w.flags = (r->writable ? 1 : 0) | (r->named ? 2 : 0) | (r->hugetlb ? 4 : 0);
	memcpy(w.name, r->name, sizeof(w.name));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &r->fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(w))
		return pn_errf(e, errno ? -errno : -EIO, "region '%s': send: %s", r->name,
			       strerror(errno));
	return 0;
}

int pn_region_recv(int sock, struct pn_region **out, struct pn_err *e)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct pn_region_wire w;
	struct iovec iov = { .iov_base = &w, .iov_len = sizeof(w) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	struct pn_region *r;
	ssize_t n;
	int fd = -1;

	*out = NULL;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return pn_errf(e, -errno, "region: recv: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(w) || w.magic != WIRE_MAGIC || fd < 0 ||
	    (w.backend != PN_REGION_DRIVER && w.backend != PN_REGION_MEMFD) ||
	    memchr(w.name, '\0', sizeof(w.name)) == NULL) {
		if (fd >= 0)
			close(fd);
		return pn_errf(e, -EPROTO,
			       "region: recv: %zd bytes%s, expected a %zu-byte region message with one fd",
			       n, fd < 0 ? " without an fd" : "", sizeof(w));
	}
	r = region_new(fd, (enum pn_region_backend)w.backend, w.name);
	if (!r) {
		close(fd);
		return pn_errf(e, -ENOMEM, "region: recv: out of memory");
	}
	r->size = w.size;
	r->id = w.id;
	if (w.backend == PN_REGION_MEMFD) {
		struct stat st;

		/* a size beyond the object would SIGBUS the mapper: trust fstat */
		if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < w.size) {
			pn_region_close(r);
			return pn_errf(e, -EPROTO, "region '%s': recv: size %llu exceeds the object's",
				       w.name, (unsigned long long)w.size);
		}
	}
	r->writable = w.flags & 1;
	r->named = w.flags & 2;
	r->hugetlb = w.flags & 4;
	*out = r;
	return 0;
}
