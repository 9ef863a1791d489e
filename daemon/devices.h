/* SPDX-License-Identifier: MIT */
/*
 * devices.h - the GPUs polynetd sees: what the CUDA driver says of each
 * device, where it sits (PCI address, NUMA node from sysfs, DRM render node
 * from libdrm), its `polyctl stat --json` object, and binding a thread to
 * its NUMA node.
 *
 * The driver is reached only through a resolved table (cuda_api.h): this
 * part neither loads libcuda nor keeps any state, so tests hand it a table
 * of their own functions and a fake sysfs tree.
 *
 * Errors: 0 or -errno; where a struct pn_err is taken, its line names the
 * failing call, its argument and the CUDA error's name (cuGetErrorName).
 *   -EINVAL   a NULL argument, or a table lacking an entry used here
 *   -ENODEV   the driver said CUDA_ERROR_INVALID_DEVICE or NO_DEVICE later
 *             than cuInit
 *   -ENOMEM   out of host memory, or CUDA_ERROR_OUT_OF_MEMORY
 *   -EPROTO   the driver gave a PCI bus id pnd_pci_parse refuses
 *   -EIO      any other CUDA error
 *
 * Threading: every function is reentrant and takes no lock; the driver's
 * entries are thread safe. pnd_device_bind_numa changes the calling thread
 * only.
 */
#ifndef PND_DEVICES_H
#define PND_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"
#include "util/pn_err.h"

struct cJSON;

struct pnd_device {
	int ordinal;			/* CUdevice */
	char name[128];
	size_t total_mem;		/* bytes */
	int cc_major, cc_minor, sm_count;
	int max_shared_optin;		/* bytes of shared memory a block may opt in to */
	/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" as nvidia-smi prints: 4 + 36 + NUL */
	char uuid[41];
	char pci_bus_id[32];		/* as the driver gives it, e.g. "0000:17:00.0" */
	uint32_t pci_domain, pci_bus, pci_dev, pci_func;	/* parsed from pci_bus_id */
	int numa_node;			/* from sysfs, -1 unknown */
	char drm_node[64];		/* "/dev/dri/renderD128" or "" */
	char drm_driver[32];		/* "nvidia-drm" or "" */
};

/*
 * Calls cuInit(0) then describes every device, in ordinal order, joined
 * with sysfs (numa_node) and libdrm (pnd_device_drm_join). *out is
 * malloc'd (free() it), NULL when *n is 0: cuInit saying
 * CUDA_ERROR_NO_DEVICE, or a count of 0, is success with no device.
 * sysfs_root: "/sys" (or NULL for it); tests pass a directory of their own.
 * On failure *out and *n are left as they were.
 */
int pnd_devices_enumerate(const struct pnd_cu *api, const char *sysfs_root,
			  struct pnd_device **out, uint32_t *n, struct pn_err *e);

/*
 * Parses "dddd:bb:dd.f": hex, either case, the domain optional and of 1 to
 * 8 digits (the driver prints "00000000:17:00.0" too), bus and device of 1
 * or 2 digits (device at most 0x1f), function one digit at most 7, nothing
 * before or after. 0, or -EINVAL with the outputs untouched.
 */
int pnd_pci_parse(const char *s, uint32_t *domain, uint32_t *bus, uint32_t *dev, uint32_t *func);

/*
 * <sysfs_root>/bus/pci/devices/<dddd:bb:dd.f>/numa_node (lowercase, as the
 * kernel names it): the node, or -1 when the file is absent, unreadable,
 * not one decimal integer, or negative (the kernel's "no node").
 */
int pnd_pci_numa_node(const char *sysfs_root, uint32_t domain, uint32_t bus, uint32_t dev,
		      uint32_t func);

/*
 * libdrm's drmGetDevices2: the PCI device at d's address with a render
 * node fills drm_node and, when the node opens, drm_driver (drmGetVersion's
 * name). Otherwise both are left "": compute servers often have no DRM
 * nodes, which is never an error.
 */
void pnd_device_drm_join(struct pnd_device *d);

/*
 * One object for `polyctl stat --json`: ordinal, name, total_mem, cc
 * ("9.0"), sm_count, max_shared_optin, uuid, pci_bus_id, numa_node (-1
 * unknown), drm_node and drm_driver (null when ""). NULL when out of memory.
 */
struct cJSON *pnd_device_json(const struct pnd_device *d);

/*
 * Binds the calling thread and its future allocations to d's NUMA node
 * (libnuma: numa_run_on_node, numa_set_preferred). A no-op returning 0 when
 * the node is -1 or numa_available() < 0. 0, -EINVAL (a node past
 * numa_max_node) or the -errno of numa_run_on_node.
 */
int pnd_device_bind_numa(const struct pnd_device *d);

#endif /* PND_DEVICES_H */
