// SPDX-License-Identifier: MIT
/*
 * vm_stress: many processes create, attach, map, seal, destroy and close
 * regions at once, in random orders, some dying without cleaning up;
 * afterwards nothing is left (stats all zero).
 */
#include <signal.h>

#include "vmtest.h"

#define WORKERS	8
#define ROUNDS	400
#define NAMES	6

static unsigned int rnd(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void worker(int w)
{
	unsigned int seed = 0x9e3779b9u * (unsigned int)(w + 1);
	/* mappings left behind, bounded so max_regions_per_uid (128) is not hit */
	struct { uint8_t *p; size_t size; } kept[8] = { { NULL, 0 } };
	char name[16];

	for (int i = 0; i < ROUNDS; i++) {
		int fd = dev_open();
		size_t size = (1 + rnd(&seed) % 16) * 4096;
		uint8_t *p = NULL;

		snprintf(name, sizeof(name), "s%u", rnd(&seed) % NAMES);
		if (rnd(&seed) % 2) {
			if (dev_create(fd, name, size, 0, 0600, NULL) < 0 && errno != EEXIST) {
				fprintf(stderr, "worker %d: create: %s\n", w, strerror(errno));
				_exit(2);
			}
		} else if (dev_attach(fd, name, 0, POLYNET_ATTACH_RDWR) == 0) {
			struct polynet_info info;

			if (dev_info(fd, 0, &info) < 0)
				_exit(3);
			size = info.size;
		} else if (errno != ENOENT) {
			_exit(4);
		}
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED) {
			p[rnd(&seed) % size] ^= 1;
			if (rnd(&seed) % 3 == 0) {
				munmap(p, size);	/* before the close */
				p = MAP_FAILED;
			}
		}
		if (rnd(&seed) % 4 == 0)
			ioctl(fd, POLYNET_IOC_SEAL);	/* EBUSY or not: both fine */
		if (rnd(&seed) % 5 == 0)
			dev_destroy(fd, name, 0);
		close(fd);
		/* mappings left behind die with the process or a later munmap */
		if (p != MAP_FAILED && rnd(&seed) % 2) {
			munmap(p, size);
		} else if (p != MAP_FAILED) {
			int k = i % 8;

			if (kept[k].p)
				munmap(kept[k].p, kept[k].size);
			kept[k].p = p;
			kept[k].size = size;
		}
	}
	if (w % 3 == 0)
		raise(SIGKILL);	/* die holding whatever is still mapped */
	_exit(0);
}

int main(void)
{
	pid_t pids[WORKERS];
	int bad = 0;

	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		CHECK(pids[w] >= 0);
		if (pids[w] == 0)
			worker(w);
	}
	for (int w = 0; w < WORKERS; w++) {
		int rc = wait_child(pids[w]);

		if (rc != 0 && rc != -SIGKILL) {
			fprintf(stderr, "worker %d: %d\n", w, rc);
			bad = 1;
		}
	}
	CHECK(!bad);
	CHECK(stats_zero());
	return T_PASS;
}
