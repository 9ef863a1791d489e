/* SPDX-License-Identifier: MIT */
/*
 * tenants.h - tenants (tenants.c): a tenant is a uid (SO_PEERCRED); the
 * admin map (--tenants FILE) names it, sets its scheduler weight, its quotas
 * and its admin right. Entries of unlisted uids are made on first use and
 * reused once nothing of theirs is open. Threads: the loop thread only (and
 * main before it).
 */
#ifndef PND_TENANTS_H
#define PND_TENANTS_H

#include "core.h"
#include "sched/sched.h"

/* What one tenant may hold at once (docs/daemon.md, "Quotas"). */
struct pnd_limits {
	uint32_t sessions;		/* open sessions */
	uint64_t session_bytes;		/* their segments (rings + arenas), summed */
	uint32_t models;		/* models it holds (LOAD) */
	uint64_t model_bytes;		/* their .pnb bytes, summed */
	uint32_t rt_permille;		/* realtime budget, per mille of one worker */
	uint32_t conns;			/* open control connections (0: --max-conns-per-uid) */
};

struct pnd_tenant {
	uint32_t uid;
	bool listed;			/* named by the admin map: never reused */
	bool admin;			/* from the admin map */
	char name[32];			/* from the admin map, else "" */
	struct pnd_limits lim;
	/* what it holds now */
	uint32_t sessions;
	uint64_t session_bytes;
	uint32_t conns;			/* open control connections (loop.c) */
	uint64_t loads;			/* LOADs that succeeded, ever */
};

struct pnd_tenants {
	struct pnd_tenant tab[PND_MAX_TENANTS];
	uint32_t n;
	uint32_t admin_uid;		/* --admin-uid */
	struct pnd_limits defaults;	/* the map's "*" line, else pnd_tenants_init's */
};

void pnd_tenants_init(struct pnd_tenants *t);
/* Reads the admin map; weights and quotas go to sched (before any worker runs). */
int pnd_tenants_load(struct pnd_tenants *t, struct pn_sched *sched, const char *path,
		     struct pn_err *e);
/*
 * uid's entry, made on first use. With the table full of listed tenants and
 * tenants holding something, the one shared overflow entry: no name, no
 * admin right, the default limits.
 */
struct pnd_tenant *pnd_tenant(struct pnd_tenants *t, uint32_t uid);
/* Root, --admin-uid, or "admin" in the map. */
bool pnd_is_admin(struct pnd_tenants *t, uint32_t uid);
/* Who asks: uid, admin right and limits, for models.c's checks. */
void pnd_caller(struct pnd_tenants *t, uint32_t uid, struct pnd_caller *out);

#endif /* PND_TENANTS_H */
