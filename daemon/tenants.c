// SPDX-License-Identifier: MIT
/*
 * tenants.c - the admin map (--tenants FILE): names, weights, quotas and
 * admin rights by uid. A tenant is a uid (SO_PEERCRED); the map only names
 * it and sets its share. One line per tenant, '#' starts a comment:
 *
 *   UID NAME [WEIGHT [MAX_INFLIGHT [MAX_ARENA_MB]]] [admin]
 *
 * Cold path: read once at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenants.h"

bool pnd_is_admin(struct pnd_tenants *ts, uint32_t uid)
{
	return uid == 0 || uid == ts->admin_uid || pnd_tenant(ts, uid)->admin;
}

/* The uid's entry, or NULL when it has none and the table is full. */
static struct pnd_tenant *find_or_add(struct pnd_tenants *ts, uint32_t uid)
{
	for (uint32_t i = 0; i < ts->n; i++)
		if (ts->tab[i].uid == uid)
			return &ts->tab[i];
	if (ts->n == PND_MAX_TENANTS)
		return NULL;
	ts->tab[ts->n].uid = uid;
	return &ts->tab[ts->n++];
}

struct pnd_tenant *pnd_tenant(struct pnd_tenants *ts, uint32_t uid)
{
	/* Counts of the uids past PND_MAX_TENANTS, all unlisted. It is shared, so
	 * it never carries a name or admin rights: the admin map cannot reach it
	 * (a map that does not fit is refused at start). */
	static struct pnd_tenant overflow;
	struct pnd_tenant *t = find_or_add(ts, uid);

	if (t)
		return t;
	overflow.uid = uid;
	overflow.admin = false;
	overflow.name[0] = '\0';
	return &overflow;
	ts->tab[ts->n].uid = uid;
	return &ts->tab[ts->n++];
}

static int parse_line(struct pnd_tenants *ts, struct pn_sched *sched, char *line,
		      const char *path, unsigned lineno, struct pn_err *e)
{
	char *tok[7], *save = NULL, *p = strchr(line, '#');
	unsigned long v[5] = { 0 };
	struct pnd_tenant *t;
	bool admin = false;
	int n = 0;

	if (p)
		*p = '\0';
	for (p = strtok_r(line, " \t\r\n", &save); p && n < 7; p = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = p;
	if (!n)
		return 0;
	if (n > 1 && !strcmp(tok[n - 1], "admin")) {
		admin = true;
		n--;
	}
	if (n < 2 || n > 5)
		return pn_errf(e, -EINVAL, "%s:%u: expected UID NAME [WEIGHT [MAX_INFLIGHT "
			       "[MAX_ARENA_MB]]] [admin]", path, lineno);
	for (int i = 0; i < n; i++) {
		char *end;

		if (i == 1)
			continue;
		v[i] = strtoul(tok[i], &end, 10);
		if (*end || (i >= 2 && !v[i]))
			return pn_errf(e, -EINVAL, "%s:%u: '%s': expected a %s", path, lineno,
				       tok[i], i ? "number >= 1" : "uid");
	}
	if (strlen(tok[1]) >= sizeof(t->name))
		return pn_errf(e, -EINVAL, "%s:%u: name '%s' longer than %zu bytes", path,
			       lineno, tok[1], sizeof(t->name) - 1);
	t = find_or_add(ts, (uint32_t)v[0]);
	if (!t)
		return pn_errf(e, -E2BIG, "%s:%u: uid %lu: the map holds at most %u tenants, "
			       "this is one more", path, lineno, v[0], PND_MAX_TENANTS);
	snprintf(t->name, sizeof(t->name), "%s", tok[1]);
	t->admin = admin;
	if (n > 2 && pn_sched_set_tenant_weight(sched, t->uid, (uint32_t)v[2]))
		return pn_errf(e, -EINVAL, "%s:%u: weight %lu refused by the scheduler", path,
			       lineno, v[2]);
	if (n > 3 && pn_sched_set_tenant_quota(sched, t->uid, (uint32_t)v[3],
					       (uint64_t)v[4] << 20))
		return pn_errf(e, -EINVAL, "%s:%u: quota refused by the scheduler", path, lineno);
	return 0;
}

int pnd_tenants_load(struct pnd_tenants *ts, struct pn_sched *sched, const char *path,
		     struct pn_err *e)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;
	int r = 0;

	if (!f)
		return pn_errf(e, -errno, "--tenants %s: %s", path, strerror(errno));
	while (!r && fgets(line, sizeof(line), f)) {
		lineno++;
		r = parse_line(ts, sched, line, path, lineno, e);
	}
	fclose(f);
	return r;
}
