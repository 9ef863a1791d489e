// SPDX-License-Identifier: GPL-2.0
/*
 * region.c - the region table: create, find, permission checks, destroy,
 * and freeing when the last reference goes. Locking: see polynet_drv.h.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "polynet_drv.h"

DEFINE_MUTEX(pn_lock);
static DEFINE_XARRAY_ALLOC1(pn_ids);	/* id -> region, CREATING or LINKED; pn_lock */
static LIST_HEAD(pn_all);		/* every region not yet freed; pn_lock */
static unsigned long pn_nregions;	/* pn_lock */
static unsigned long pn_pinned_pages;	/* pn_lock; reserved before allocation */
atomic_t pn_stat_attachments = ATOMIC_INIT(0);
atomic_t pn_stat_mappings = ATOMIC_INIT(0);

unsigned long pn_stat_regions(void)
{
	return READ_ONCE(pn_nregions);
}

unsigned long pn_stat_pinned_bytes(void)
{
	return READ_ONCE(pn_pinned_pages) << PAGE_SHIFT;
}

/* Caller holds pn_lock. Finds a region by name among the reserved ones. */
static bool pn_name_taken_locked(const char *name)
{
	struct pn_region *r;
	bool taken = false;

	lockdep_assert_held(&pn_lock);
	if (!name[0])
		goto out;
	list_for_each_entry(r, &pn_all, link) {
		if (r->state != PN_UNLINKED && !strcmp(r->name, name)) {
			taken = true;
			break;
		}
	}
out:
	return taken;
}

/* Caller holds pn_lock. Regions alive (in any state) charged to uid. */
static unsigned int pn_count_uid_locked(kuid_t uid)
{
	struct pn_region *r;
	unsigned int n = 0;

	lockdep_assert_held(&pn_lock);
	list_for_each_entry(r, &pn_all, link)
		n += uid_eq(r->charge_uid, uid);
	return n;
}

/*
 * Caller holds pn_lock. Checks the limits and the name, then reserves the
 * pages, an id and the name for r (state CREATING), so that concurrent
 * creators see them before r's pages exist.
 */
static int pn_reserve_locked(struct pn_region *r)
{
	unsigned long limit = READ_ONCE(pn_max_pinned_mb);
	int ret;

	lockdep_assert_held(&pn_lock);
	/* MiB to pages without overflow: clamp absurd limits to "everything" */
	if (limit > (ULONG_MAX >> 20))
		limit = ULONG_MAX >> PAGE_SHIFT;
	else
		limit <<= 20 - PAGE_SHIFT;
	ret = -EEXIST;
	if (pn_name_taken_locked(r->name))
		goto out;
	ret = -ENOSPC;
	if (r->npages > limit || pn_pinned_pages > limit - r->npages)
		goto out;
	ret = -EDQUOT;
	if (pn_count_uid_locked(r->charge_uid) >= READ_ONCE(pn_max_regions_per_uid))
		goto out;
	ret = xa_alloc(&pn_ids, &r->id, r, xa_limit_31b, GFP_KERNEL);
	if (ret)
		goto out;
	r->state = PN_CREATING;
	list_add_tail(&r->link, &pn_all);
	/* WRITE_ONCE: sysfs reads these without pn_lock */
	WRITE_ONCE(pn_pinned_pages, pn_pinned_pages + r->npages);
	WRITE_ONCE(pn_nregions, pn_nregions + 1);
out:
	return ret;
}

/* Caller holds pn_lock. Undoes pn_reserve_locked and the table's hold on r. */
static void pn_unreserve_locked(struct pn_region *r)
{
	lockdep_assert_held(&pn_lock);
	if (r->state != PN_UNLINKED)
		xa_erase(&pn_ids, r->id);
	r->state = PN_UNLINKED;
	list_del(&r->link);
	WRITE_ONCE(pn_pinned_pages, pn_pinned_pages - r->npages);
	WRITE_ONCE(pn_nregions, pn_nregions - 1);
}

/* No lock: r is unreachable (never reserved, or unreserved). */
static void pn_region_free(struct pn_region *r)
{
	unsigned long i;

	if (r->pages) {
		for (i = 0; i < r->npages && r->pages[i]; i++)
			put_page(r->pages[i]);
		kvfree(r->pages);
	}
	kfree(r);
}

/*
 * kref release. Called with pn_lock held (kref_put_mutex, or kref_put by a
 * holder of pn_lock) and drops it before freeing the pages, which can take
 * long for a big region.
 */
static void pn_region_release(struct kref *ref)
{
	struct pn_region *r = container_of(ref, struct pn_region, ref);

	lockdep_assert_held(&pn_lock);
	pn_unreserve_locked(r);
	mutex_unlock(&pn_lock);
	pn_region_free(r);
}

/* Any context that may sleep, pn_lock not held. */
void pn_region_put(struct pn_region *r)
{
	kref_put_mutex(&r->ref, pn_region_release, &pn_lock);
}

/*
 * No lock held. The pages are private to the driver: allocated here,
 * zeroed, and never put on an LRU list, so reclaim (which scans the LRU)
 * never swaps them out and compaction (which migrates LRU or movable pages
 * only) never moves them: they stay resident at one physical address for
 * the region's whole life, as pinned weights must.
 */
static int pn_alloc_pages(struct pn_region *r)
{
	const gfp_t gfp = GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN;
	unsigned long i;
	int ret = -ENOMEM;

	r->pages = kvcalloc(r->npages, sizeof(*r->pages), GFP_KERNEL | __GFP_NOWARN);
	if (!r->pages)
		goto out;
	for (i = 0; i < r->npages; i++) {
		r->pages[i] = alloc_pages_node(r->node, gfp, 0);
		if (!r->pages[i])
			goto out;
		if ((i & 1023) == 1023) {
			ret = -EINTR;
			if (fatal_signal_pending(current))
				goto out;
			ret = -ENOMEM;
			cond_resched();
		}
	}
	ret = 0;
out:
	return ret;
}

/*
 * No lock held; takes pn_lock twice, not across the page allocation.
 * On success *out holds one reference, for the caller's file.
 */
int pn_region_create(const struct pn_create_args *a, struct pn_region **out)
{
	struct pn_region *r;
	int ret = -ENOMEM;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		goto out;
	kref_init(&r->ref);
	INIT_LIST_HEAD(&r->link);
	spin_lock_init(&r->lock);
	atomic_set(&r->attachments, 0);
	atomic_set(&r->mappings, 0);
	r->state = PN_UNLINKED;
	r->npages = a->npages;
	r->node = a->node;
	r->uid = a->uid;
	r->gid = a->gid;
	r->mode = a->mode;
	r->charge_uid = current_fsuid();
	strscpy(r->name, a->name, sizeof(r->name));

	mutex_lock(&pn_lock);
	ret = pn_reserve_locked(r);
	mutex_unlock(&pn_lock);
	if (ret) {
		pn_region_free(r);
		goto out;
	}

	ret = pn_alloc_pages(r);

	mutex_lock(&pn_lock);
	if (ret) {
		pn_unreserve_locked(r);
	} else {
		r->state = PN_LINKED;
		if (a->persistent) {
			/* the table's reference; unload waits for DESTROY */
			kref_get(&r->ref);
			__module_get(THIS_MODULE);
			r->persistent = true;
		}
	}
	mutex_unlock(&pn_lock);
	if (ret)
		pn_region_free(r);
	else
		*out = r;
out:
	return ret;
}

/*
 * Caller holds pn_lock. The LINKED region with this id (id != 0) or this
 * name, without taking a reference, or NULL.
 */
struct pn_region *pn_region_find_locked(u32 id, const char *name)
{
	struct pn_region *r = NULL, *it;

	lockdep_assert_held(&pn_lock);
	if (id) {
		r = xa_load(&pn_ids, id);
	} else {
		list_for_each_entry(it, &pn_all, link) {
			if (it->state == PN_LINKED && !strcmp(it->name, name)) {
				r = it;
				break;
			}
		}
	}
	if (r && r->state != PN_LINKED)
		r = NULL;
	return r;
}

/*
 * No lock needed: uid, gid and mode never change. Checked like open(2):
 * the owner's bits for the owner, the group's for a member, else other's;
 * CAP_SYS_ADMIN overrides (root has it, a setuid child does not).
 */
bool pn_region_may_attach(const struct pn_region *r, bool rdwr)
{
	unsigned int want = rdwr ? 6 : 4;	/* rw- or r-- */
	unsigned int mode = r->mode;

	if (uid_eq(current_fsuid(), r->uid))
		mode >>= 6;
	else if (in_group_p(r->gid))
		mode >>= 3;
	return (mode & want) == want || capable(CAP_SYS_ADMIN);
}

/*
 * No lock held. Unlinks the region: it can no longer be found, and a
 * persistent one loses the table's reference. Its pages go when the last
 * file and mapping do. Only the owner or CAP_SYS_ADMIN may destroy.
 */
int pn_region_destroy(u32 id, const char *name)
{
	struct pn_region *r;
	int ret = -ENOENT;

	mutex_lock(&pn_lock);
	r = pn_region_find_locked(id, name);
	if (!r)
		goto out_unlock;
	ret = -EPERM;
	if (!uid_eq(current_fsuid(), r->uid) && !capable(CAP_SYS_ADMIN))
		goto out_unlock;
	ret = 0;
	xa_erase(&pn_ids, r->id);
	r->state = PN_UNLINKED;
	if (!r->persistent)
		goto out_unlock;
	r->persistent = false;
	/* an open file of ours still holds the module: this is not the last ref */
	module_put(THIS_MODULE);
	/* refcounts reach zero under pn_lock, which we hold: plain kref_put */
	if (kref_put(&r->ref, pn_region_release))
		goto out;	/* release dropped pn_lock */
out_unlock:
	mutex_unlock(&pn_lock);
out:
	return ret;
}

/* Caller holds pn_lock (state and persistent are read). */
void pn_region_fill_info(struct pn_region *r, struct polynet_info *info)
{
	lockdep_assert_held(&pn_lock);
	info->id = r->id;
	info->flags = 0;
	if (r->persistent)
		info->flags |= POLYNET_INFO_PERSISTENT;
	if (READ_ONCE(r->sealed))
		info->flags |= POLYNET_INFO_SEALED;
	if (r->state == PN_LINKED)
		info->flags |= POLYNET_INFO_LINKED;
	info->size = (u64)r->npages << PAGE_SHIFT;
	info->uid = from_kuid_munged(current_user_ns(), r->uid);
	info->gid = from_kgid_munged(current_user_ns(), r->gid);
	info->mode = r->mode;
	info->numa_node = r->node;
	info->attachments = atomic_read(&r->attachments);
	info->mappings = atomic_read(&r->mappings);
	memcpy(info->name, r->name, sizeof(info->name));
}

/* No lock held. Fills up to capacity ids of LINKED regions, returns how many exist. */
u32 pn_region_list(u32 *ids, u32 capacity)
{
	struct pn_region *r;
	unsigned long index;
	u32 n = 0;

	mutex_lock(&pn_lock);
	xa_for_each(&pn_ids, index, r) {
		if (r->state != PN_LINKED)
			continue;
		if (n < capacity)
			ids[n] = r->id;
		n++;
	}
	mutex_unlock(&pn_lock);
	return n;
}

/* Module exit only: nothing can reach the table any more. */
bool pn_regions_empty(void)
{
	bool empty;

	mutex_lock(&pn_lock);
	empty = list_empty(&pn_all) && xa_empty(&pn_ids);
	mutex_unlock(&pn_lock);
	return empty;
}
