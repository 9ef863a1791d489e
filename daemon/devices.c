// SPDX-License-Identifier: MIT
/*
 * devices.c - enumerating the GPUs through the CUDA driver's table and
 * joining each with sysfs and libdrm (devices.h). Stateless; every
 * function is reentrant.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <numa.h>
#include <xf86drm.h>

#include "devices.h"

static int cu_errno(CUresult r)
{
	switch (r) {
	case CUDA_ERROR_OUT_OF_MEMORY:
		return -ENOMEM;
	case CUDA_ERROR_NO_DEVICE:
	case CUDA_ERROR_INVALID_DEVICE:
		return -ENODEV;
	default:
		return -EIO;
	}
}

static int cu_fail(const struct pnd_cu *api, struct pn_err *e, CUresult r, const char *call)
{
	const char *name = NULL;

	if (api->cuGetErrorName && api->cuGetErrorName(r, &name) != CUDA_SUCCESS)
		name = NULL;
	if (name)
		return pn_errf(e, cu_errno(r), "%s: %s (%d)", call, name, r);
	return pn_errf(e, cu_errno(r), "%s: CUDA error %d", call, r);
}

static const struct {
	int attr;
	const char *name;
	size_t off;
} attrs[] = {
	{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "COMPUTE_CAPABILITY_MAJOR",
	  offsetof(struct pnd_device, cc_major) },
	{ CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "COMPUTE_CAPABILITY_MINOR",
	  offsetof(struct pnd_device, cc_minor) },
	{ CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT",
	  offsetof(struct pnd_device, sm_count) },
	{ CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN",
	  offsetof(struct pnd_device, max_shared_optin) },
};

static void format_uuid(char out[41], const CUuuid *u)
{
	const unsigned char *b = (const unsigned char *)u->bytes;

	snprintf(out, 41,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
		 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int describe(const struct pnd_cu *api, const char *sysfs_root, int ordinal,
		    struct pnd_device *d, struct pn_err *e)
{
	char call[128];
	CUdevice dev;
	CUuuid u;
	CUresult r;

	memset(d, 0, sizeof(*d));
	if ((r = api->cuDeviceGet(&dev, ordinal)) != CUDA_SUCCESS) {
		snprintf(call, sizeof(call), "cuDeviceGet(ordinal %d)", ordinal);
		return cu_fail(api, e, r, call);
	}
	d->ordinal = dev;
	if ((r = api->cuDeviceGetName(d->name, (int)sizeof(d->name), dev)) != CUDA_SUCCESS) {
		snprintf(call, sizeof(call), "cuDeviceGetName(device %d)", dev);
		return cu_fail(api, e, r, call);
	}
	d->name[sizeof(d->name) - 1] = '\0';
	if ((r = api->cuDeviceTotalMem(&d->total_mem, dev)) != CUDA_SUCCESS) {
		snprintf(call, sizeof(call), "cuDeviceTotalMem(device %d)", dev);
		return cu_fail(api, e, r, call);
	}
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		int *v = (int *)((char *)d + attrs[i].off);

		if ((r = api->cuDeviceGetAttribute(v, attrs[i].attr, dev)) != CUDA_SUCCESS) {
			snprintf(call, sizeof(call), "cuDeviceGetAttribute(CU_DEVICE_ATTRIBUTE_%s, device %d)",
				 attrs[i].name, dev);
			return cu_fail(api, e, r, call);
		}
	}
	if ((r = api->cuDeviceGetUuid(&u, dev)) != CUDA_SUCCESS) {
		snprintf(call, sizeof(call), "cuDeviceGetUuid(device %d)", dev);
		return cu_fail(api, e, r, call);
	}
	format_uuid(d->uuid, &u);
	r = api->cuDeviceGetPCIBusId(d->pci_bus_id, (int)sizeof(d->pci_bus_id), dev);
	if (r != CUDA_SUCCESS) {
		snprintf(call, sizeof(call), "cuDeviceGetPCIBusId(device %d)", dev);
		return cu_fail(api, e, r, call);
	}
	d->pci_bus_id[sizeof(d->pci_bus_id) - 1] = '\0';
	if (pnd_pci_parse(d->pci_bus_id, &d->pci_domain, &d->pci_bus, &d->pci_dev, &d->pci_func))
		return pn_errf(e, -EPROTO, "cuDeviceGetPCIBusId(device %d) gave \"%s\", not dddd:bb:dd.f",
			       dev, d->pci_bus_id);
	d->numa_node = pnd_pci_numa_node(sysfs_root, d->pci_domain, d->pci_bus, d->pci_dev,
					 d->pci_func);
	pnd_device_drm_join(d);
	return 0;
}

int pnd_devices_enumerate(const struct pnd_cu *api, const char *sysfs_root,
			  struct pnd_device **out, uint32_t *n, struct pn_err *e)
{
	struct pnd_device *devs;
	int count = 0, ret;
	CUresult r;

	if (!api || !out || !n)
		return pn_errf(e, -EINVAL, "pnd_devices_enumerate: NULL argument");
	if (!api->cuInit || !api->cuDeviceGetCount || !api->cuDeviceGet || !api->cuDeviceGetName ||
	    !api->cuDeviceTotalMem || !api->cuDeviceGetAttribute || !api->cuDeviceGetUuid ||
	    !api->cuDeviceGetPCIBusId)
		return pn_errf(e, -EINVAL, "pnd_devices_enumerate: the CUDA table lacks an entry");
	r = api->cuInit(0);
	if (r == CUDA_ERROR_NO_DEVICE) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (r != CUDA_SUCCESS)
		return cu_fail(api, e, r, "cuInit(0)");
	if ((r = api->cuDeviceGetCount(&count)) != CUDA_SUCCESS)
		return cu_fail(api, e, r, "cuDeviceGetCount");
	if (count < 0)
		return pn_errf(e, -EIO, "cuDeviceGetCount gave %d", count);
	if (count == 0) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	if (!(devs = calloc((size_t)count, sizeof(*devs))))
		return pn_errf(e, -ENOMEM, "pnd_devices_enumerate: %d devices", count);
	for (int i = 0; i < count; i++) {
		if ((ret = describe(api, sysfs_root, i, &devs[i], e))) {
			free(devs);
			return ret;
		}
	}
	*out = devs;
	*n = (uint32_t)count;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 1 to max hex digits at *p, and no further digit (so "100" is no bus). */
static int hexfield(const char **p, int max, uint32_t *v)
{
	uint32_t x = 0;
	int k = 0;

	while (hexval((*p)[k]) >= 0) {
		if (k == max)
			return -EINVAL;
		x = x << 4 | (uint32_t)hexval((*p)[k]);
		k++;
	}
	if (!k)
		return -EINVAL;
	*p += k;
	*v = x;
	return 0;
}

int pnd_pci_parse(const char *s, uint32_t *domain, uint32_t *bus, uint32_t *dev, uint32_t *func)
{
	uint32_t dom = 0, b, d, f;
	const char *p = s;
	int colons = 0;

	if (!s || !domain || !bus || !dev || !func)
		return -EINVAL;
	for (const char *q = s; *q; q++)
		colons += *q == ':';
	if (colons == 2) {
		if (hexfield(&p, 8, &dom) || *p++ != ':')
			return -EINVAL;
	} else if (colons != 1) {
		return -EINVAL;
	}
	if (hexfield(&p, 2, &b) || *p++ != ':' || hexfield(&p, 2, &d) || *p++ != '.' ||
	    hexfield(&p, 1, &f) || *p)
		return -EINVAL;
	if (d > 0x1f || f > 7)
		return -EINVAL;
	*domain = dom;
	*bus = b;
	*dev = d;
	*func = f;
	return 0;
}

int pnd_pci_numa_node(const char *sysfs_root, uint32_t domain, uint32_t bus, uint32_t dev,
		      uint32_t func)
{
	char path[PATH_MAX], buf[32], *end;
	ssize_t len;
	long v;
	int fd;

	if (snprintf(path, sizeof(path), "%s/bus/pci/devices/%04x:%02x:%02x.%x/numa_node",
		     sysfs_root ? sysfs_root : "/sys", domain, bus, dev, func) >= (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && strcmp(end, "\n")) || v < 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

void pnd_device_drm_join(struct pnd_device *d)
{
	drmDevicePtr devs[64];
	int n, fd;

	d->drm_node[0] = '\0';
	d->drm_driver[0] = '\0';
	n = drmGetDevices2(0, devs, (int)(sizeof(devs) / sizeof(devs[0])));
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++) {
		const drmDevice *x = devs[i];
		drmVersionPtr ver;

		if (x->bustype != DRM_BUS_PCI || !x->businfo.pci ||
		    !(x->available_nodes & (1 << DRM_NODE_RENDER)) ||
		    x->businfo.pci->domain != d->pci_domain || x->businfo.pci->bus != d->pci_bus ||
		    x->businfo.pci->dev != d->pci_dev || x->businfo.pci->func != d->pci_func)
			continue;
		snprintf(d->drm_node, sizeof(d->drm_node), "%s", x->nodes[DRM_NODE_RENDER]);
		/* The node's driver name ("nvidia-drm") needs it open; one we may not open stays "". */
		if ((fd = open(d->drm_node, O_RDWR | O_CLOEXEC)) >= 0) {
			if ((ver = drmGetVersion(fd))) {
				if (ver->name)
					snprintf(d->drm_driver, sizeof(d->drm_driver), "%s", ver->name);
				drmFreeVersion(ver);
			}
			close(fd);
		}
		break;
	}
	drmFreeDevices(devs, n);
}

static int add_str_or_null(cJSON *o, const char *key, const char *v)
{
	return (*v ? cJSON_AddStringToObject(o, key, v) : cJSON_AddNullToObject(o, key)) != NULL;
}

struct cJSON *pnd_device_json(const struct pnd_device *d)
{
	char cc[24];
	cJSON *o;

	if (!d || !(o = cJSON_CreateObject()))
		return NULL;
	snprintf(cc, sizeof(cc), "%d.%d", d->cc_major, d->cc_minor);
	if (!cJSON_AddNumberToObject(o, "ordinal", d->ordinal) ||
	    !cJSON_AddStringToObject(o, "name", d->name) ||
	    !cJSON_AddNumberToObject(o, "total_mem", (double)d->total_mem) ||
	    !cJSON_AddStringToObject(o, "cc", cc) ||
	    !cJSON_AddNumberToObject(o, "sm_count", d->sm_count) ||
	    !cJSON_AddNumberToObject(o, "max_shared_optin", d->max_shared_optin) ||
	    !cJSON_AddStringToObject(o, "uuid", d->uuid) ||
	    !cJSON_AddStringToObject(o, "pci_bus_id", d->pci_bus_id) ||
	    !cJSON_AddNumberToObject(o, "numa_node", d->numa_node) ||
	    !add_str_or_null(o, "drm_node", d->drm_node) ||
	    !add_str_or_null(o, "drm_driver", d->drm_driver)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int pnd_device_bind_numa(const struct pnd_device *d)
{
	if (!d)
		return -EINVAL;
	if (d->numa_node < 0 || numa_available() < 0)
		return 0;
	if (d->numa_node > numa_max_node())
		return -EINVAL;
	if (numa_run_on_node(d->numa_node) < 0)
		return errno ? -errno : -EINVAL;
	numa_set_preferred(d->numa_node);
	return 0;
}
