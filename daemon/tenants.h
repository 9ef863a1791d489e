/* SPDX-License-Identifier: MIT */
/*
 * tenants.h - tenants (tenants.c): a tenant is a uid (SO_PEERCRED); the
 * admin map (--tenants FILE) names it, sets its scheduler weight and quotas
 * and its admin right. Threads: the loop thread only (and main before it).
 */
#ifndef PND_TENANTS_H
#define PND_TENANTS_H

#include "core.h"
#include "sched/sched.h"

struct pnd_tenant {
	uint32_t uid;
	uint32_t sessions;
	uint64_t loads;
	uint32_t conns;			/* open connections (loop.c) */
	uint32_t max_conns;		/* 0: --max-conns-per-uid */
	char name[32];			/* from the admin map, else "" */
	bool admin;			/* from the admin map */
};

struct pnd_tenants {
	struct pnd_tenant tab[PND_MAX_TENANTS];
	uint32_t n;
	uint32_t admin_uid;		/* --admin-uid */
};

/* Reads the admin map; weights and quotas go to sched (before any worker runs). */
int pnd_tenants_load(struct pnd_tenants *t, struct pn_sched *sched, const char *path,
		     struct pn_err *e);
/* uid's entry, made on first use (past PND_MAX_TENANTS: one unlisted overflow entry). */
struct pnd_tenant *pnd_tenant(struct pnd_tenants *t, uint32_t uid);
/* Root, --admin-uid, or "admin" in the map. */
bool pnd_is_admin(struct pnd_tenants *t, uint32_t uid);

#endif /* PND_TENANTS_H */
