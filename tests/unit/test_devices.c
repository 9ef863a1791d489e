// SPDX-License-Identifier: MIT
/*
 * test_devices.c - daemon/devices.c: PCI addresses, sysfs NUMA nodes, the
 * enumeration over a fake CUDA table, the JSON object and libdrm's join.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <numa.h>

#include "daemon/devices.h"

/* ---- pnd_pci_parse ---- */

static void test_pci_parse(void **state)
{
	uint32_t dom = 99, bus = 99, dev = 99, fn = 99;

	assert_int_equal(pnd_pci_parse("0000:17:00.0", &dom, &bus, &dev, &fn), 0);
	assert_int_equal(dom, 0);
	assert_int_equal(bus, 0x17);
	assert_int_equal(dev, 0);
	assert_int_equal(fn, 0);

	assert_int_equal(pnd_pci_parse("00000001:ca:1f.7", &dom, &bus, &dev, &fn), 0);
	assert_int_equal(dom, 1);
	assert_int_equal(bus, 0xca);
	assert_int_equal(dev, 0x1f);
	assert_int_equal(fn, 7);

	assert_int_equal(pnd_pci_parse("ABCD:CA:1E.3", &dom, &bus, &dev, &fn), 0);
	assert_int_equal(dom, 0xabcd);
	assert_int_equal(bus, 0xca);
	assert_int_equal(dev, 0x1e);
	assert_int_equal(fn, 3);

	assert_int_equal(pnd_pci_parse("ffffffff:Ff:0a.1", &dom, &bus, &dev, &fn), 0);
	assert_int_equal(dom, 0xffffffffu);
	assert_int_equal(bus, 0xff);
	assert_int_equal(dev, 0x0a);

	assert_int_equal(pnd_pci_parse("3b:00.1", &dom, &bus, &dev, &fn), 0);	/* no domain */
	assert_int_equal(dom, 0);
	assert_int_equal(bus, 0x3b);
	assert_int_equal(dev, 0);
	assert_int_equal(fn, 1);
}

static void test_pci_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"", "garbage", "0000:17:00", "0000:17:00.", "0000:17.00.0", ":17:00.0",
		"0000::00.0", "0000:17:00.0 ", " 0000:17:00.0", "0000:17:00.0\n", "0000:17:00.00",
		"000000000:17:00.0",	/* a 9-digit domain overflows 32 bits */
		"0000:100:00.0",	/* bus past 0xff */
		"0000:17:20.0",		/* device past 0x1f */
		"0000:17:000.0", "0000:17:00.8", "0000:17:00.g", "0x00:17:00.0", "-000:17:00.0",
		"0000:0000:17:00.0", "0000:17:00:0", "+1:17:00.0",
	};
	uint32_t dom = 0x5a5a, bus = 0x5a5a, dev = 0x5a5a, fn = 0x5a5a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pnd_pci_parse(bad[i], &dom, &bus, &dev, &fn) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	assert_int_equal(pnd_pci_parse(NULL, &dom, &bus, &dev, &fn), -EINVAL);
	/* refusals leave the outputs alone */
	assert_int_equal(dom, 0x5a5a);
	assert_int_equal(bus, 0x5a5a);
	assert_int_equal(dev, 0x5a5a);
	assert_int_equal(fn, 0x5a5a);
}

/* ---- a fake sysfs ---- */

struct fake_sysfs {
	char root[64];
};

static void put_numa(const char *root, const char *bdf, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bus", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci/devices", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", root, bdf);
	assert_int_equal(mkdir(path, 0755), 0);
	if (!content)
		return;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/numa_node", root, bdf);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int sysfs_setup(void **state)
{
	struct fake_sysfs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -1;
	snprintf(fs->root, sizeof(fs->root), "/tmp/test_devices.XXXXXX");
	if (!mkdtemp(fs->root)) {
		free(fs);
		return -1;
	}
	put_numa(fs->root, "0000:17:00.0", "0\n");
	put_numa(fs->root, "0000:ca:00.0", "1\n");
	put_numa(fs->root, "0000:3b:00.0", "-1\n");
	put_numa(fs->root, "0000:3a:00.0", "-2\n");
	put_numa(fs->root, "0000:39:00.0", "99999999999\n");
	put_numa(fs->root, "0000:3c:00.0", "garbage\n");
	put_numa(fs->root, "0000:3d:00.0", "1x\n");
	put_numa(fs->root, "0000:3e:00.0", "");
	put_numa(fs->root, "0000:3f:00.0", NULL);	/* a device without the file */
	put_numa(fs->root, "0001:40:02.3", "3");
	*state = fs;
	return 0;
}

static int sysfs_teardown(void **state)
{
	struct fake_sysfs *fs = *state;
	char cmd[128];
	int rc;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fs->root);
	rc = system(cmd);
	free(fs);
	return rc ? -1 : 0;
}

static void test_numa_node(void **state)
{
	const char *root = ((struct fake_sysfs *)*state)->root;

	assert_int_equal(pnd_pci_numa_node(root, 0, 0x17, 0, 0), 0);
	assert_int_equal(pnd_pci_numa_node(root, 0, 0xca, 0, 0), 1);
	assert_int_equal(pnd_pci_numa_node(root, 1, 0x40, 2, 3), 3);	/* no newline */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3b, 0, 0), -1);	/* the kernel's "none" */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3a, 0, 0), -1);	/* any negative */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x39, 0, 0), -1);	/* past int */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3c, 0, 0), -1);	/* garbage */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3d, 0, 0), -1);	/* trailing garbage */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3e, 0, 0), -1);	/* empty */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x3f, 0, 0), -1);	/* no numa_node file */
	assert_int_equal(pnd_pci_numa_node(root, 0, 0x99, 0, 0), -1);	/* no device */
	assert_int_equal(pnd_pci_numa_node("/nonexistent-sysfs", 0, 0x17, 0, 0), -1);
}

/* ---- a fake CUDA driver: two devices ---- */

struct fake_gpu {
	const char *name, *bus_id;
	size_t mem;
	int major, minor, sms, optin;
	unsigned char uuid[16];
};

static const struct fake_gpu gpus[2] = {
	{ "NVIDIA H200", "00000000:17:00.0", 150ull << 30, 9, 0, 132, 232448,
	  { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0xfe,
	    0xff } },
	{ "NVIDIA L4", "0000:CA:00.0", 24ull << 30, 8, 9, 58, 101376,
	  { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	    0x0f } },
};

static struct {
	int n_devices;			/* what cuDeviceGetCount says */
	CUresult init_result;
	int fail_attr, fail_dev;	/* cuDeviceGetAttribute fails for this pair */
	const char *bus_override;	/* cuDeviceGetPCIBusId gives this for device 1 */
	int inits, attr_calls;
} drv;

static void drv_reset(void)
{
	memset(&drv, 0, sizeof(drv));
	drv.n_devices = 2;
	drv.fail_attr = -1;
	drv.fail_dev = -1;
}

static CUresult f_init(unsigned int flags)
{
	drv.inits++;
	return flags ? CUDA_ERROR_INVALID_VALUE : drv.init_result;
}

static CUresult f_error_name(CUresult r, const char **s)
{
	switch (r) {
	case CUDA_ERROR_INVALID_VALUE:
		*s = "CUDA_ERROR_INVALID_VALUE";
		return CUDA_SUCCESS;
	case CUDA_ERROR_NOT_INITIALIZED:
		*s = "CUDA_ERROR_NOT_INITIALIZED";
		return CUDA_SUCCESS;
	case CUDA_ERROR_INVALID_DEVICE:
		*s = "CUDA_ERROR_INVALID_DEVICE";
		return CUDA_SUCCESS;
	default:
		*s = NULL;
		return CUDA_ERROR_INVALID_VALUE;
	}
}

static CUresult f_count(int *n)
{
	if (!drv.inits)
		return CUDA_ERROR_NOT_INITIALIZED;
	*n = drv.n_devices;
	return CUDA_SUCCESS;
}

static CUresult f_get(CUdevice *d, int ordinal)
{
	if (ordinal < 0 || ordinal >= drv.n_devices || ordinal >= 2)
		return CUDA_ERROR_INVALID_DEVICE;
	*d = ordinal;
	return CUDA_SUCCESS;
}

static CUresult f_name(char *name, int len, CUdevice d)
{
	if (d < 0 || d > 1 || len <= 0)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(name, (size_t)len, "%s", gpus[d].name);
	return CUDA_SUCCESS;
}

static CUresult f_mem(size_t *bytes, CUdevice d)
{
	if (d < 0 || d > 1)
		return CUDA_ERROR_INVALID_DEVICE;
	*bytes = gpus[d].mem;
	return CUDA_SUCCESS;
}

static CUresult f_attr(int *v, CUdevice_attribute a, CUdevice d)
{
	drv.attr_calls++;
	if (d < 0 || d > 1)
		return CUDA_ERROR_INVALID_DEVICE;
	if (a == drv.fail_attr && d == drv.fail_dev)
		return CUDA_ERROR_INVALID_VALUE;
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
		*v = gpus[d].major;
		break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
		*v = gpus[d].minor;
		break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
		*v = gpus[d].sms;
		break;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
		*v = gpus[d].optin;
		break;
	default:
		return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}

static CUresult f_uuid(CUuuid *u, CUdevice d)
{
	if (d < 0 || d > 1)
		return CUDA_ERROR_INVALID_DEVICE;
	memcpy(u->bytes, gpus[d].uuid, 16);
	return CUDA_SUCCESS;
}

static CUresult f_bus(char *s, int len, CUdevice d)
{
	if (d < 0 || d > 1 || len < 13)
		return CUDA_ERROR_INVALID_VALUE;
	snprintf(s, (size_t)len, "%s", d == 1 && drv.bus_override ? drv.bus_override : gpus[d].bus_id);
	return CUDA_SUCCESS;
}

static struct pnd_cu fake_api(void)
{
	struct pnd_cu api;

	memset(&api, 0, sizeof(api));
	api.cuInit = f_init;
	api.cuGetErrorName = f_error_name;
	api.cuDeviceGetCount = f_count;
	api.cuDeviceGet = f_get;
	api.cuDeviceGetName = f_name;
	api.cuDeviceTotalMem = f_mem;
	api.cuDeviceGetAttribute = f_attr;
	api.cuDeviceGetUuid = f_uuid;
	api.cuDeviceGetPCIBusId = f_bus;
	return api;
}

static void test_enumerate(void **state)
{
	const char *root = ((struct fake_sysfs *)*state)->root;
	struct pnd_cu api = fake_api();
	struct pnd_device *d = NULL;
	struct pn_err e = { "" };
	uint32_t n = 0;

	drv_reset();
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), 0);
	assert_int_equal(drv.inits, 1);
	assert_int_equal(n, 2);
	assert_non_null(d);

	assert_int_equal(d[0].ordinal, 0);
	assert_string_equal(d[0].name, "NVIDIA H200");
	assert_int_equal(d[0].total_mem, 150ull << 30);
	assert_int_equal(d[0].cc_major, 9);
	assert_int_equal(d[0].cc_minor, 0);
	assert_int_equal(d[0].sm_count, 132);
	assert_int_equal(d[0].max_shared_optin, 232448);
	assert_string_equal(d[0].uuid, "GPU-deadbeef-0123-4567-89ab-cdef0011feff");
	assert_string_equal(d[0].pci_bus_id, "00000000:17:00.0");
	assert_int_equal(d[0].pci_domain, 0);
	assert_int_equal(d[0].pci_bus, 0x17);
	assert_int_equal(d[0].pci_dev, 0);
	assert_int_equal(d[0].pci_func, 0);
	assert_int_equal(d[0].numa_node, 0);

	assert_int_equal(d[1].ordinal, 1);
	assert_string_equal(d[1].name, "NVIDIA L4");
	assert_int_equal(d[1].total_mem, 24ull << 30);
	assert_int_equal(d[1].cc_major, 8);
	assert_int_equal(d[1].cc_minor, 9);
	assert_int_equal(d[1].sm_count, 58);
	assert_int_equal(d[1].max_shared_optin, 101376);
	assert_string_equal(d[1].uuid, "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f");
	assert_string_equal(d[1].pci_bus_id, "0000:CA:00.0");
	assert_int_equal(d[1].pci_bus, 0xca);
	assert_int_equal(d[1].numa_node, 1);	/* sysfs's lowercase name found from uppercase */
	free(d);

	/* a sysfs without those devices: unknown nodes, no error */
	d = NULL;
	assert_int_equal(pnd_devices_enumerate(&api, "/nonexistent-sysfs", &d, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].numa_node, -1);
	assert_int_equal(d[1].numa_node, -1);
	free(d);
}

static void test_enumerate_attribute_fails(void **state)
{
	const char *root = ((struct fake_sysfs *)*state)->root;
	struct pnd_cu api = fake_api();
	struct pnd_device *d = (struct pnd_device *)(uintptr_t)0x1234;
	struct pn_err e = { "" };
	uint32_t n = 77;

	drv_reset();
	drv.fail_attr = CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
	drv.fail_dev = 1;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -EIO);
	assert_non_null(strstr(e.msg, "cuDeviceGetAttribute"));
	assert_non_null(strstr(e.msg, "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT"));
	assert_non_null(strstr(e.msg, "device 1"));
	assert_non_null(strstr(e.msg, "CUDA_ERROR_INVALID_VALUE"));
	/* outputs untouched (and ASan's leak check sees the array freed) */
	assert_ptr_equal(d, (struct pnd_device *)(uintptr_t)0x1234);
	assert_int_equal(n, 77);

	/* without cuGetErrorName the code is still said */
	api.cuGetErrorName = NULL;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -EIO);
	assert_non_null(strstr(e.msg, "cuDeviceGetAttribute"));
	assert_non_null(strstr(e.msg, "CUDA error 1"));
}

static void test_enumerate_other_failures(void **state)
{
	const char *root = ((struct fake_sysfs *)*state)->root;
	struct pnd_cu api = fake_api();
	struct pnd_device *d = NULL;
	struct pn_err e = { "" };
	uint32_t n = 5;

	/* no device at cuInit: success, nothing */
	drv_reset();
	drv.init_result = CUDA_ERROR_NO_DEVICE;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), 0);
	assert_null(d);
	assert_int_equal(n, 0);

	/* a count of zero */
	drv_reset();
	drv.n_devices = 0;
	n = 5;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), 0);
	assert_null(d);
	assert_int_equal(n, 0);

	/* cuInit failing otherwise is named */
	drv_reset();
	drv.init_result = CUDA_ERROR_NOT_INITIALIZED;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -EIO);
	assert_non_null(strstr(e.msg, "cuInit"));
	assert_non_null(strstr(e.msg, "CUDA_ERROR_NOT_INITIALIZED"));

	/* a count past the devices that exist: cuDeviceGet's error, -ENODEV */
	drv_reset();
	drv.n_devices = 3;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -ENODEV);
	assert_non_null(strstr(e.msg, "cuDeviceGet(ordinal 2)"));
	assert_non_null(strstr(e.msg, "CUDA_ERROR_INVALID_DEVICE"));

	/* a bus id that does not parse */
	drv_reset();
	drv.bus_override = "17:00";
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "cuDeviceGetPCIBusId"));
	assert_non_null(strstr(e.msg, "\"17:00\""));

	/* a table lacking an entry, NULL arguments */
	drv_reset();
	api.cuDeviceGetUuid = NULL;
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, &n, &e), -EINVAL);
	assert_int_equal(drv.inits, 0);
	api = fake_api();
	assert_int_equal(pnd_devices_enumerate(NULL, root, &d, &n, &e), -EINVAL);
	assert_int_equal(pnd_devices_enumerate(&api, root, NULL, &n, &e), -EINVAL);
	assert_int_equal(pnd_devices_enumerate(&api, root, &d, NULL, NULL), -EINVAL);
	assert_null(d);
	assert_int_equal(n, 0);
}

/* ---- the JSON object ---- */

static struct pnd_device sample(void)
{
	struct pnd_device d;

	memset(&d, 0, sizeof(d));
	d.ordinal = 3;
	snprintf(d.name, sizeof(d.name), "NVIDIA H200");
	d.total_mem = 150ull << 30;
	d.cc_major = 9;
	d.cc_minor = 0;
	d.sm_count = 132;
	d.max_shared_optin = 232448;
	snprintf(d.uuid, sizeof(d.uuid), "GPU-deadbeef-0123-4567-89ab-cdef0011feff");
	snprintf(d.pci_bus_id, sizeof(d.pci_bus_id), "00000000:17:00.0");
	d.pci_bus = 0x17;
	d.numa_node = 1;
	return d;
}

static void test_json(void **state)
{
	struct pnd_device d = sample();
	cJSON *o, *x;

	assert_non_null(o = pnd_device_json(&d));
	assert_true(cJSON_IsObject(o));
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "ordinal"));
	assert_true(cJSON_IsNumber(x) && x->valuedouble == 3);
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "name"));
	assert_string_equal(cJSON_GetStringValue(x), "NVIDIA H200");
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "total_mem"));
	assert_true(cJSON_IsNumber(x) && x->valuedouble == (double)(150ull << 30));
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "cc"));
	assert_string_equal(cJSON_GetStringValue(x), "9.0");
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "sm_count"));
	assert_true(cJSON_IsNumber(x) && x->valuedouble == 132);
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "max_shared_optin"));
	assert_true(cJSON_IsNumber(x) && x->valuedouble == 232448);
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "uuid"));
	assert_string_equal(cJSON_GetStringValue(x), "GPU-deadbeef-0123-4567-89ab-cdef0011feff");
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "pci_bus_id"));
	assert_string_equal(cJSON_GetStringValue(x), "00000000:17:00.0");
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "numa_node"));
	assert_true(cJSON_IsNumber(x) && x->valuedouble == 1);
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "drm_node"));
	assert_true(cJSON_IsNull(x));
	assert_non_null(x = cJSON_GetObjectItemCaseSensitive(o, "drm_driver"));
	assert_true(cJSON_IsNull(x));
	cJSON_Delete(o);

	/* with a DRM node, an unknown NUMA node and another capability */
	snprintf(d.drm_node, sizeof(d.drm_node), "/dev/dri/renderD128");
	snprintf(d.drm_driver, sizeof(d.drm_driver), "nvidia-drm");
	d.numa_node = -1;
	d.cc_major = 8;
	d.cc_minor = 9;
	assert_non_null(o = pnd_device_json(&d));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "drm_node")),
			    "/dev/dri/renderD128");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "drm_driver")),
			    "nvidia-drm");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "cc")), "8.9");
	x = cJSON_GetObjectItemCaseSensitive(o, "numa_node");
	assert_true(cJSON_IsNumber(x) && x->valuedouble == -1);
	cJSON_Delete(o);
	assert_null(pnd_device_json(NULL));
}

/* ---- libdrm, on this machine ---- */

static void test_drm_join_without_drm(void **state)
{
	struct pnd_device d = sample();

	if (access("/dev/dri", F_OK) == 0)
		skip();		/* a machine with DRM nodes: the join may find one */
	snprintf(d.drm_node, sizeof(d.drm_node), "stale");
	snprintf(d.drm_driver, sizeof(d.drm_driver), "stale");
	pnd_device_drm_join(&d);
	assert_string_equal(d.drm_node, "");
	assert_string_equal(d.drm_driver, "");
	/* the rest untouched */
	assert_string_equal(d.pci_bus_id, "00000000:17:00.0");
	assert_int_equal(d.numa_node, 1);
}

/* ---- NUMA binding ---- */

static void test_bind_numa(void **state)
{
	struct pnd_device d = sample();

	d.numa_node = -1;
	assert_int_equal(pnd_device_bind_numa(&d), 0);
	assert_int_equal(pnd_device_bind_numa(NULL), -EINVAL);
	if (numa_available() < 0)
		skip();
	d.numa_node = numa_max_node() + 1;
	assert_int_equal(pnd_device_bind_numa(&d), -EINVAL);
	d.numa_node = 0;
	assert_int_equal(pnd_device_bind_numa(&d), 0);
	assert_int_equal(numa_preferred(), 0);
	numa_run_on_node(-1);		/* unbind again */
	numa_set_localalloc();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pci_parse),
		cmocka_unit_test(test_pci_parse_refuses),
		cmocka_unit_test(test_numa_node),
		cmocka_unit_test(test_enumerate),
		cmocka_unit_test(test_enumerate_attribute_fails),
		cmocka_unit_test(test_enumerate_other_failures),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_drm_join_without_drm),
		cmocka_unit_test(test_bind_numa),
	};

	return cmocka_run_group_tests(tests, sysfs_setup, sysfs_teardown);
}
