// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl.c - the ioctls of /dev/polynet. Every argument from user space is
 * copied once, validated here (sizes, overflow, flags, reserved fields,
 * names), and only then acted on. Locking: see polynet_drv.h.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/nodemask.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "polynet_drv.h"

/*
 * A name is NUL-terminated inside its array and made of ASCII [A-Za-z0-9._-]
 * (not isalnum(): the kernel's ctype says Latin-1 letters are alphanumeric).
 */
static bool pn_name_valid(const char *name, bool may_be_empty)
{
	size_t len = strnlen(name, POLYNET_NAME_MAX);
	bool ok = len < POLYNET_NAME_MAX && (len || may_be_empty);
	size_t i;
	char c;

	for (i = 0; ok && i < len; i++) {
		c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '.' || c == '_' || c == '-';
	}
	return ok;
}

/* Exactly one of id and name designates a region. */
static bool pn_ref_valid(u32 id, const char *name)
{
	return id ? name[0] == '\0' : pn_name_valid(name, false);
}

static long pn_ioc_version(void __user *uarg)
{
	struct polynet_version v = {
		.abi_version = POLYNET_ABI_VERSION,
		.page_size = PAGE_SIZE,
	};

	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/* No lock held. Turns polynet_create into checked arguments. */
static int pn_create_args(const struct polynet_create *c, struct pn_create_args *a)
{
	int ret = -EINVAL;

	if (c->flags & ~POLYNET_CREATE_FLAGS)
		goto out;
	/* size + PAGE_SIZE - 1 must not wrap */
	if (!c->size || c->size > U64_MAX - PAGE_SIZE + 1)
		goto out;
	if (c->mode & ~0777U)
		goto out;
	if (!pn_name_valid(c->name, true))
		goto out;
	if (c->numa_node != POLYNET_NODE_ANY &&
	    (c->numa_node < 0 || c->numa_node >= MAX_NUMNODES || !node_online(c->numa_node)))
		goto out;
	a->npages = DIV_ROUND_UP_ULL(c->size, PAGE_SIZE);
	a->persistent = c->flags & POLYNET_CREATE_PERSISTENT;
	a->node = c->numa_node;
	a->mode = c->mode;
	a->name = c->name;
	a->uid = c->uid == POLYNET_ID_OWNER ? current_fsuid() :
		 make_kuid(current_user_ns(), c->uid);
	a->gid = c->gid == POLYNET_ID_OWNER ? current_fsgid() :
		 make_kgid(current_user_ns(), c->gid);
	if (!uid_valid(a->uid) || !gid_valid(a->gid))
		goto out;
	/* giving a region away is chown(2): a group of ours, else CAP_CHOWN */
	ret = -EPERM;
	if ((!uid_eq(a->uid, current_fsuid()) || !in_group_p(a->gid)) && !capable(CAP_CHOWN))
		goto out;
	ret = 0;
out:
	return ret;
}

/* No lock held; takes pf->bind_lock, then pn_lock inside pn_region_create. */
static long pn_ioc_create(struct pn_file *pf, void __user *uarg)
{
	struct polynet_create c;
	struct pn_create_args a;
	struct pn_region *r;
	long ret = -EFAULT;

	if (copy_from_user(&c, uarg, sizeof(c)))
		goto out;
	ret = pn_create_args(&c, &a);
	if (ret)
		goto out;
	mutex_lock(&pf->bind_lock);
	ret = -EBUSY;
	if (pf->region)
		goto out_unlock;
	ret = pn_region_create(&a, &r);
	if (ret)
		goto out_unlock;
	atomic_inc(&r->attachments);
	atomic_inc(&pn_stat_attachments);
	pf->rdwr = true;
	/* pairs with smp_load_acquire in pn_mmap and pn_ioctl: rdwr is seen */
	smp_store_release(&pf->region, r);
	if (put_user(r->id, &((struct polynet_create __user *)uarg)->id))
		ret = -EFAULT;	/* created and bound all the same */
out_unlock:
	mutex_unlock(&pf->bind_lock);
out:
	return ret;
}

/* No lock held; takes pf->bind_lock, then pn_lock. */
static long pn_ioc_attach(struct pn_file *pf, void __user *uarg)
{
	struct polynet_attach at;
	struct pn_region *r;
	bool rdwr;
	long ret = -EFAULT;

	if (copy_from_user(&at, uarg, sizeof(at)))
		goto out;
	ret = -EINVAL;
	if ((at.flags & ~POLYNET_ATTACH_FLAGS) || at.reserved || !pn_ref_valid(at.id, at.name))
		goto out;
	rdwr = at.flags & POLYNET_ATTACH_RDWR;
	mutex_lock(&pf->bind_lock);
	ret = -EBUSY;
	if (pf->region)
		goto out_bind;
	mutex_lock(&pn_lock);
	ret = -ENOENT;
	r = pn_region_find_locked(at.id, at.name);
	if (!r)
		goto out_table;
	ret = -EACCES;
	if (!pn_region_may_attach(r, rdwr))
		goto out_table;
	ret = 0;
	kref_get(&r->ref);
	atomic_inc(&r->attachments);
	atomic_inc(&pn_stat_attachments);
	at.size = (u64)r->npages << PAGE_SHIFT;
	at.out_id = r->id;
	pf->rdwr = rdwr;
	smp_store_release(&pf->region, r);
out_table:
	mutex_unlock(&pn_lock);
	if (!ret && copy_to_user(uarg, &at, sizeof(at)))
		ret = -EFAULT;	/* attached all the same */
out_bind:
	mutex_unlock(&pf->bind_lock);
out:
	return ret;
}

/* No lock held; takes r->lock. Needs a read-write attachment. */
static long pn_ioc_seal(struct pn_file *pf)
{
	struct pn_region *r = smp_load_acquire(&pf->region);
	long ret = -ENXIO;

	if (!r)
		goto out;
	ret = -EPERM;
	if (!pf->rdwr)
		goto out;
	spin_lock(&r->lock);
	/* like F_SEAL_WRITE: refused while a mapping may still write */
	ret = r->writers ? -EBUSY : 0;
	if (!ret)
		WRITE_ONCE(r->sealed, true);
	spin_unlock(&r->lock);
out:
	return ret;
}

/* No lock held; takes pn_lock. id 0 means this file's region. */
static long pn_ioc_info(struct pn_file *pf, void __user *uarg)
{
	struct polynet_info info;
	struct pn_region *r, *mine = smp_load_acquire(&pf->region);
	long ret = -EFAULT;
	u32 id;

	if (get_user(id, &((struct polynet_info __user *)uarg)->id))
		goto out;
	memset(&info, 0, sizeof(info));
	mutex_lock(&pn_lock);
	/* our own region may be unlinked already: reach it through the file */
	r = id ? pn_region_find_locked(id, NULL) : mine;
	ret = id ? -ENOENT : -ENXIO;
	if (r) {
		pn_region_fill_info(r, &info);
		if (r == mine && pf->rdwr)
			info.flags |= POLYNET_INFO_RDWR;
		ret = 0;
	}
	mutex_unlock(&pn_lock);
	if (!ret && copy_to_user(uarg, &info, sizeof(info)))
		ret = -EFAULT;
out:
	return ret;
}

/* No lock held; pn_region_list takes pn_lock; user copies happen outside it. */
static long pn_ioc_list(void __user *uarg)
{
	struct polynet_list l;
	u32 *ids = NULL, cap;
	long ret = -EFAULT;

	if (copy_from_user(&l, uarg, sizeof(l)))
		goto out;
	cap = min_t(u32, l.capacity, POLYNET_LIST_MAX);
	ret = -ENOMEM;
	if (cap) {
		ids = kmalloc_array(cap, sizeof(*ids), GFP_KERNEL);
		if (!ids)
			goto out;
	}
	l.count = pn_region_list(ids, cap);
	ret = -EFAULT;
	if (cap && copy_to_user(u64_to_user_ptr(l.ids), ids, min(cap, l.count) * sizeof(*ids)))
		goto out;
	if (copy_to_user(uarg, &l, sizeof(l)))
		goto out;
	ret = 0;
out:
	kfree(ids);
	return ret;
}

/* No lock held; pn_region_destroy takes pn_lock. */
static long pn_ioc_destroy(void __user *uarg)
{
	struct polynet_destroy d;
	long ret = -EFAULT;

	if (copy_from_user(&d, uarg, sizeof(d)))
		goto out;
	ret = -EINVAL;
	if (d.reserved || !pn_ref_valid(d.id, d.name))
		goto out;
	ret = pn_region_destroy(d.id, d.name);
out:
	return ret;
}

/* No lock held. The command number encodes the struct size: a wrong size is -ENOTTY. */
long pn_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pn_file *pf = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case POLYNET_IOC_VERSION:
		ret = pn_ioc_version(uarg);
		break;
	case POLYNET_IOC_CREATE:
		ret = pn_ioc_create(pf, uarg);
		break;
	case POLYNET_IOC_ATTACH:
		ret = pn_ioc_attach(pf, uarg);
		break;
	case POLYNET_IOC_SEAL:
		ret = pn_ioc_seal(pf);
		break;
	case POLYNET_IOC_INFO:
		ret = pn_ioc_info(pf, uarg);
		break;
	case POLYNET_IOC_LIST:
		ret = pn_ioc_list(uarg);
		break;
	case POLYNET_IOC_DESTROY:
		ret = pn_ioc_destroy(uarg);
		break;
	default:
		ret = -ENOTTY;
		break;
	}
	return ret;
}
