// SPDX-License-Identifier: MIT
/*
 * region_list.c - walks /dev/shm for the memfd backend's named regions. A
 * region's shm object is "polynet.<name>"; its persistent mark is S_ISVTX
 * (region.c). Cold path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/region_list.h"

#define SHM_DIR		"/dev/shm"
#define SHM_STEM	"polynet."

int pn_region_list(const char *prefix, int (*fn)(void *arg, const struct pn_region_entry *r),
		   void *arg, struct pn_err *e)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *de;
	int r = 0;

	if (!d)
		return pn_errf(e, -errno, "%s: %s", SHM_DIR, strerror(errno));
	while (!r && (de = readdir(d))) {
		const char *name = de->d_name + strlen(SHM_STEM);
		struct pn_region_entry re = { 0 };
		struct stat st;

		if (strncmp(de->d_name, SHM_STEM, strlen(SHM_STEM)) ||
		    strncmp(name, prefix, strlen(prefix)) || strlen(name) >= sizeof(re.name))
			continue;
		/* gone between readdir and here, or not ours to stat: skip it */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		snprintf(re.name, sizeof(re.name), "%s", name);
		re.size = (uint64_t)st.st_size;
		re.resident = (uint64_t)st.st_blocks * 512;
		re.uid = st.st_uid;
		re.mode = st.st_mode & 07777;
		re.persistent = st.st_mode & S_ISVTX;
		re.mtime = st.st_mtime;
		r = fn(arg, &re);
	}
	closedir(d);
	return r;
}
