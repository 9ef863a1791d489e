// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - statistics as attributes of the misc device,
 * /sys/class/misc/polynet/{regions,bytes_pinned,attachments,mappings}.
 * Lock-free reads of counters: a snapshot, not a transaction.
 */
#include <linux/device.h>
#include <linux/sysfs.h>

#include "polynet_drv.h"

/* regions alive, including destroyed ones still mapped or attached */
static ssize_t regions_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", pn_stat_regions());
}
static DEVICE_ATTR_RO(regions);

static ssize_t bytes_pinned_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", pn_stat_pinned_bytes());
}
static DEVICE_ATTR_RO(bytes_pinned);

/* open files bound to a region */
static ssize_t attachments_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&pn_stat_attachments));
}
static DEVICE_ATTR_RO(attachments);

/* vmas mapping a region */
static ssize_t mappings_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&pn_stat_mappings));
}
static DEVICE_ATTR_RO(mappings);

static struct attribute *pn_attrs[] = {
	&dev_attr_regions.attr,
	&dev_attr_bytes_pinned.attr,
	&dev_attr_attachments.attr,
	&dev_attr_mappings.attr,
	NULL,
};

static const struct attribute_group pn_group = {
	.attrs = pn_attrs,
};

const struct attribute_group *pn_groups[] = {
	&pn_group,
	NULL,
};
