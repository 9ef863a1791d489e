// SPDX-License-Identifier: GPL-2.0
/*
 * mmap.c - mapping a region. Pages are inserted lazily by .fault; every
 * vma holds a reference on its region (vm_ops open/close), so a region
 * outlives the file that mapped it. Locking: see polynet_drv.h; the core
 * holds mmap_lock around all of these.
 */
#include <linux/fs.h>
#include <linux/mm.h>

#include "polynet_drv.h"

/* mmap_lock held (read). The page is the region's, with an extra ref for the pte. */
static vm_fault_t pn_vm_fault(struct vm_fault *vmf)
{
	struct pn_region *r = vmf->vma->vm_private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	if (vmf->pgoff < r->npages) {
		vmf->page = r->pages[vmf->pgoff];
		get_page(vmf->page);
		ret = 0;
	}
	return ret;
}

/* mmap_lock held; takes r->lock. A vma may write iff it has VM_MAYWRITE. */
static void pn_vm_account(struct pn_region *r, struct vm_area_struct *vma, int delta)
{
	if (vma->vm_flags & VM_MAYWRITE) {
		spin_lock(&r->lock);
		r->writers += delta;
		spin_unlock(&r->lock);
	}
	atomic_add(delta, &r->mappings);
	atomic_add(delta, &pn_stat_mappings);
}

/* mmap_lock held: a copy of a vma (fork, split, mremap) shares the region. */
static void pn_vm_open(struct vm_area_struct *vma)
{
	struct pn_region *r = vma->vm_private_data;

	kref_get(&r->ref);
	pn_vm_account(r, vma, 1);
}

/* mmap_lock held; may take pn_lock and free the region. */
static void pn_vm_close(struct vm_area_struct *vma)
{
	struct pn_region *r = vma->vm_private_data;

	pn_vm_account(r, vma, -1);
	pn_region_put(r);
}

static const struct vm_operations_struct pn_vm_ops = {
	.open = pn_vm_open,
	.close = pn_vm_close,
	.fault = pn_vm_fault,
};

/*
 * mmap_lock held (write); takes r->lock. MAP_SHARED only (a private
 * writable copy would defeat read-only attachments). A mapping that is not
 * writable now loses VM_MAYWRITE, so mprotect(PROT_WRITE) fails on it:
 * "may write" is decided once, at mmap, and that is what SEAL counts.
 */
int pn_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pn_file *pf = file->private_data;
	/* pairs with smp_store_release at bind: pf->rdwr is valid */
	struct pn_region *r = smp_load_acquire(&pf->region);
	bool write = vma->vm_flags & VM_WRITE;
	int ret = -ENXIO;

	if (!r)
		goto out;
	ret = -EINVAL;
	if (!(vma->vm_flags & VM_SHARED))
		goto out;
	if (vma->vm_pgoff >= r->npages || vma_pages(vma) > r->npages - vma->vm_pgoff)
		goto out;
	ret = -EACCES;
	if (write && !pf->rdwr)
		goto out;
	ret = 0;
	spin_lock(&r->lock);
	if (write && r->sealed)
		ret = -EPERM;
	else if (write)
		r->writers++;
	spin_unlock(&r->lock);
	if (ret)
		goto out;
	/* no growth by mremap, no weights in core dumps */
	pn_vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, write ? 0 : VM_MAYWRITE);
	vma->vm_ops = &pn_vm_ops;
	vma->vm_private_data = r;
	kref_get(&r->ref);
	atomic_inc(&r->mappings);
	atomic_inc(&pn_stat_mappings);
out:
	return ret;
}
