// SPDX-License-Identifier: MIT
/*
 * polyctl regions [--remove STATE] [--json]
 *
 * Lists polynetd's persistent regions in /dev/shm (the memfd backend), by
 * state (polynetd --state; default pnd-<hash of the socket path>): the index
 * and the models, their bytes in memory, and whether a daemon holds that
 * state now (the flock polynetd keeps on its index). --remove STATE destroys
 * every region of a state no daemon holds: the way to reclaim the memory of
 * a --state that will never be started again. A live state is refused.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "polyctl.h"
#include "transport/region_list.h"

#define MAX_ROWS	4096

struct rows {
	struct pn_region_entry r[MAX_ROWS];
	unsigned n;
};

static int collect(void *arg, const struct pn_region_entry *re)
{
	struct rows *rs = arg;

	if (re->persistent && rs->n < MAX_ROWS)
		rs->r[rs->n++] = *re;
	return 0;
}

/* The state of a region: its name up to the last '.'. */
static void state_of(const char *name, char *out, size_t n)
{
	const char *dot = strrchr(name, '.');
	size_t len = dot ? (size_t)(dot - name) : strlen(name);

	snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), name);
}

/* 1 when a daemon holds the state (its index is flocked), 0 when none, -1 no index. */
static int state_live(const char *state)
{
	char name[PN_REGION_NAME_MAX + 8];
	struct pn_region *r;
	int live;

	snprintf(name, sizeof(name), "%s.index", state);
	if (pn_region_attach(name, 0, PN_REGION_MEMFD, &r, NULL))
		return -1;
	live = flock(pn_region_fd(r), LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	pn_region_close(r);
	return live;
}

static int remove_state(const struct rows *rs, const char *state)
{
	char st[PN_REGION_NAME_MAX];
	unsigned n = 0;
	uint64_t bytes = 0;

	if (state_live(state) == 1)
		return polyctl_fail("regions", "--remove %s: a polynetd holds this state now; "
				    "stop it first", state);
	for (unsigned i = 0; i < rs->n; i++) {
		state_of(rs->r[i].name, st, sizeof(st));
		if (strcmp(st, state))
			continue;
		if (pn_region_destroy(rs->r[i].name, PN_REGION_MEMFD, NULL))
			return polyctl_fail("regions", "--remove %s: region %s: %s", state,
					    rs->r[i].name, strerror(errno));
		n++;
		bytes += rs->r[i].resident;
	}
	if (!n)
		return polyctl_fail("regions", "--remove %s: no persistent region of that state",
				    state);
	printf("removed %u region(s) of state %s, %" PRIu64 " bytes\n", n, state, bytes);
	return 0;
}

int cmd_regions(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "remove", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct rows *rs = calloc(1, sizeof(*rs));
	const char *rm = NULL;
	struct pn_err e;
	int json = 0, o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "r:jh", lo, NULL)) != -1) {
		switch (o) {
		case 'r': rm = optarg; break;
		case 'j': json = 1; break;
		case 'h':
			printf("usage: polyctl regions [--remove STATE] [--json]\n");
			free(rs);
			return 0;
		default: free(rs); return 2;
		}
	}
	if (!rs || optind != argc) {
		free(rs);
		fprintf(stderr, "usage: polyctl regions [--remove STATE] [--json]\n");
		return 2;
	}
	r = pn_region_list("", collect, rs, &e);
	if (r) {
		free(rs);
		return polyctl_fail("regions", "%s", e.msg);
	}
	if (rm) {
		r = remove_state(rs, rm);
		free(rs);
		return r;
	}
	if (!json)
		printf("%-32s %-6s %12s %12s  %s\n", "REGION", "DAEMON", "BYTES", "RESIDENT", "UID");
	else
		printf("[");
	for (unsigned i = 0; i < rs->n; i++) {
		char st[PN_REGION_NAME_MAX];
		int live;

		state_of(rs->r[i].name, st, sizeof(st));
		live = state_live(st);
		if (json)
			printf("%s{\"name\":\"%s\",\"state\":\"%s\",\"live\":%s,\"bytes\":%" PRIu64
			       ",\"resident\":%" PRIu64 ",\"uid\":%u}", i ? "," : "", rs->r[i].name,
			       st, live == 1 ? "true" : "false", rs->r[i].size,
			       rs->r[i].resident, rs->r[i].uid);
		else
			printf("%-32s %-6s %12" PRIu64 " %12" PRIu64 "  %u\n", rs->r[i].name,
			       live == 1 ? "live" : live ? "no-idx" : "gone", rs->r[i].size,
			       rs->r[i].resident, rs->r[i].uid);
	}
	if (json)
		printf("]\n");
	free(rs);
	return 0;
}
