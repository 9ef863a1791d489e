// SPDX-License-Identifier: GPL-2.0
/*
 * polynet_main.c - polynet.ko: the misc device /dev/polynet, its file
 * operations and module parameters. One open file is one attachment to at
 * most one region (docs/driver.md). Locking: see polynet_drv.h.
 *
 * Unload: every open file pins the module (fops.owner), every mapping pins
 * its file, and every persistent region holds a module reference until it
 * is destroyed. So rmmod is refused (-EBUSY) while any region exists, and
 * module exit always finds the table empty.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "polynet_drv.h"

unsigned long pn_max_pinned_mb = 2048;
module_param_named(max_pinned_mb, pn_max_pinned_mb, ulong, 0644);
MODULE_PARM_DESC(max_pinned_mb, "Total MiB all regions may pin (default 2048)");

unsigned int pn_max_regions_per_uid = 128;
module_param_named(max_regions_per_uid, pn_max_regions_per_uid, uint, 0644);
MODULE_PARM_DESC(max_regions_per_uid, "Regions one uid may have alive (default 128)");

/* No lock: the file is new and private. */
static int pn_open(struct inode *inode, struct file *file)
{
	struct pn_file *pf;
	int ret = -ENOMEM;

	pf = kzalloc(sizeof(*pf), GFP_KERNEL);
	if (!pf)
		goto out;
	mutex_init(&pf->bind_lock);
	file->private_data = pf;
	ret = 0;
out:
	return ret;
}

/* No lock: the last reference to the file; may take pn_lock to free the region. */
static int pn_release(struct inode *inode, struct file *file)
{
	struct pn_file *pf = file->private_data;

	if (pf->region) {
		atomic_dec(&pf->region->attachments);
		atomic_dec(&pn_stat_attachments);
		pn_region_put(pf->region);
	}
	mutex_destroy(&pf->bind_lock);
	kfree(pf);
	return 0;
}

static const struct file_operations pn_fops = {
	.owner = THIS_MODULE,
	.open = pn_open,
	.release = pn_release,
	.unlocked_ioctl = pn_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = pn_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice pn_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "polynet",
	.fops = &pn_fops,
	.groups = pn_groups,
	/* anyone may open; each region's owner/group/mode decides attach */
	.mode = 0666,
};

static int __init pn_init(void)
{
	int ret = misc_register(&pn_misc);

	if (ret)
		pr_err("polynet: misc_register failed: %d\n", ret);
	return ret;
}

static void __exit pn_exit(void)
{
	misc_deregister(&pn_misc);
	/* module refs make this impossible; a leak here is a bug */
	WARN_ON(!pn_regions_empty());
}

module_init(pn_init);
module_exit(pn_exit);

MODULE_DESCRIPTION("PolyNet pinned, shared memory regions for model weights");
MODULE_LICENSE("GPL");
