/* SPDX-License-Identifier: GPL-2.0 */
/*
 * polynet_drv.h - what the files of polynet.ko share.
 *
 * Locking, outermost first:
 *   pf->bind_lock (mutex, per open file): serialises CREATE/ATTACH so a file
 *	is bound to at most one region.
 *   mmap_lock (the mm's): held by the core around ->mmap and vm_ops.
 *   pn_lock (global mutex): the region table (pn_ids, pn_all), every
 *	region's state and persistent fields, the per-uid counts and the
 *	pinned-pages total. A region's refcount only reaches zero under
 *	pn_lock (kref_put_mutex), so a lookup under pn_lock may kref_get.
 *	vm_ops->close drops references under mmap_lock, so pn_lock is never
 *	held across copy_{from,to}_user (a fault there takes mmap_lock).
 *   r->lock (spinlock): r->sealed and r->writers.
 * Stats that are only counted, never decided on, are atomics.
 */
#ifndef POLYNET_DRV_H
#define POLYNET_DRV_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/version.h>

#include "../uapi/polynet.h"

enum pn_state {
	PN_CREATING,	/* id and name reserved, pages being allocated */
	PN_LINKED,	/* findable by id and name */
	PN_UNLINKED,	/* destroyed or never linked: alive only through refs */
};

struct pn_region {
	struct kref ref;	/* files, vmas, and the table when persistent */
	struct list_head link;	/* on pn_all while alive; pn_lock */
	enum pn_state state;	/* pn_lock */
	bool persistent;	/* the table holds a ref and a module ref; pn_lock */

	spinlock_t lock;
	bool sealed;		/* r->lock; never cleared once set */
	unsigned int writers;	/* vmas with VM_MAYWRITE; r->lock */

	atomic_t attachments;	/* files bound to it */
	atomic_t mappings;	/* vmas mapping it */

	u32 id;
	kuid_t uid;		/* owner: attach and destroy checks */
	kgid_t gid;
	umode_t mode;
	kuid_t charge_uid;	/* creator, for max_regions_per_uid */
	int node;
	unsigned long npages;
	struct page **pages;
	char name[POLYNET_NAME_MAX];
};

/* file->private_data of an open /dev/polynet */
struct pn_file {
	struct mutex bind_lock;
	struct pn_region *region; /* set once under bind_lock, read with acquire */
	bool rdwr;		  /* written before region is published */
};

/* Validated CREATE arguments (ioctl.c checks, region.c allocates). */
struct pn_create_args {
	unsigned long npages;
	bool persistent;
	int node;
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	const char *name;	/* "" for anonymous */
};

/* polynet_main.c: module parameters */
extern unsigned long pn_max_pinned_mb;
extern unsigned int pn_max_regions_per_uid;

/* region.c */
extern struct mutex pn_lock;
extern atomic_t pn_stat_attachments;
extern atomic_t pn_stat_mappings;
unsigned long pn_stat_regions(void);
unsigned long pn_stat_pinned_bytes(void);
int pn_region_create(const struct pn_create_args *a, struct pn_region **out);
struct pn_region *pn_region_find_locked(u32 id, const char *name);
bool pn_region_may_attach(const struct pn_region *r, bool rdwr);
int pn_region_destroy(u32 id, const char *name);
void pn_region_fill_info(struct pn_region *r, struct polynet_info *info);
u32 pn_region_list(u32 *ids, u32 capacity);
void pn_region_put(struct pn_region *r);
bool pn_regions_empty(void);

/* ioctl.c */
long pn_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* mmap.c */
int pn_mmap(struct file *file, struct vm_area_struct *vma);

/* sysfs.c */
extern const struct attribute_group *pn_groups[];

/* vm_flags became write-protected in 6.3. */
static inline void pn_vm_flags_mod(struct vm_area_struct *vma, unsigned long set,
				   unsigned long clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

#endif /* POLYNET_DRV_H */
