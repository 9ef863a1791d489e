// SPDX-License-Identifier: MIT
/*
 * tenants.c - the admin map (--tenants FILE): names, weights, quotas and
 * admin rights by uid. A tenant is a uid (SO_PEERCRED); the map only names
 * it and sets its share. One line per tenant, '#' starts a comment:
 *
 *   UID NAME [WEIGHT [MAX_INFLIGHT [MAX_ARENA_MB]]] [KEY=VALUE ...] [admin]
 *   * [KEY=VALUE ...]		the defaults, for every tenant that does not set a key
 *
 * KEY is one of sessions, session_mb, models, model_mb, rt, conns (struct
 * pnd_limits; docs/daemon.md "Quotas"). Cold path: read once at start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenants.h"

#define UNSET	UINT64_MAX	/* a key the line did not give: the default applies */

static const struct pnd_limits builtin = {
	.sessions = 64, .session_bytes = 2048ull << 20, .models = 16,
	.model_bytes = 4096ull << 20, .rt_permille = 250, .conns = 0,
};

/* The keys, as offsets in struct pnd_limits with their scale. */
static const struct key {
	const char *name;
	size_t off;
	bool wide;			/* uint64_t, else uint32_t */
	unsigned shift;			/* MiB in the file, bytes in the struct */
	unsigned long long max;
} keys[] = {
	{ "sessions", offsetof(struct pnd_limits, sessions), false, 0, PND_MAX_SESSIONS },
	{ "session_mb", offsetof(struct pnd_limits, session_bytes), true, 20, 1ull << 24 },
	{ "models", offsetof(struct pnd_limits, models), false, 0, PND_MAX_MODELS },
	{ "model_mb", offsetof(struct pnd_limits, model_bytes), true, 20, 1ull << 24 },
	{ "rt", offsetof(struct pnd_limits, rt_permille), false, 0, 1000 },
	{ "conns", offsetof(struct pnd_limits, conns), false, 0, 1u << 20 },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

void pnd_tenants_init(struct pnd_tenants *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->defaults = builtin;
}

bool pnd_is_admin(struct pnd_tenants *ts, uint32_t uid)
{
	return uid == 0 || uid == ts->admin_uid || pnd_tenant(ts, uid)->admin;
}

static bool idle(const struct pnd_tenant *t)
{
	return !t->listed && !t->sessions && !t->session_bytes && !t->conns;
}

/* The uid's entry, a fresh or reused one, or NULL when none is free. */
static struct pnd_tenant *find_or_add(struct pnd_tenants *ts, uint32_t uid)
{
	struct pnd_tenant *t = NULL;

	for (uint32_t i = 0; i < ts->n; i++)
		if (ts->tab[i].uid == uid)
			return &ts->tab[i];
	if (ts->n < PND_MAX_TENANTS)
		t = &ts->tab[ts->n++];
	/* full: an unlisted uid with nothing open gives its entry up (its
	 * counters are statistics only; the scheduler keeps its own table) */
	for (uint32_t i = 0; i < ts->n && !t; i++)
		if (idle(&ts->tab[i]))
			t = &ts->tab[i];
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->uid = uid;
	t->lim = ts->defaults;
	return t;
}

struct pnd_tenant *pnd_tenant(struct pnd_tenants *ts, uint32_t uid)
{
	/* Shared by every uid that finds the table full of busy entries. It
	 * never carries a name or admin rights: the admin map cannot reach it
	 * (a map that does not fit is refused at start). */
	static struct pnd_tenant overflow;
	struct pnd_tenant *t = find_or_add(ts, uid);

	if (t)
		return t;
	overflow.uid = uid;
	overflow.admin = false;
	overflow.listed = false;
	overflow.name[0] = '\0';
	overflow.lim = ts->defaults;
	return &overflow;
}

void pnd_caller(struct pnd_tenants *ts, uint32_t uid, struct pnd_caller *out)
{
	const struct pnd_tenant *t = pnd_tenant(ts, uid);

	*out = (struct pnd_caller){ .uid = uid, .admin = pnd_is_admin(ts, uid),
				    .max_models = t->lim.models,
				    .max_model_bytes = t->lim.model_bytes };
}

/* KEY=VALUE into set[] (UNSET where not given). */
static int parse_key(char *tok, uint64_t set[NKEYS], const char *path, unsigned lineno,
		     struct pn_err *e)
{
	char *eq = strchr(tok, '='), *end;
	unsigned long long v;

	*eq = '\0';
	for (size_t k = 0; k < NKEYS; k++) {
		if (strcmp(tok, keys[k].name))
			continue;
		v = strtoull(eq + 1, &end, 10);
		if (!eq[1] || *end || eq[1] == '-' || v > keys[k].max)
			return pn_errf(e, -EINVAL, "%s:%u: %s=%s: expected a number 0..%llu", path,
				       lineno, tok, eq + 1, keys[k].max);
		set[k] = (uint64_t)v << keys[k].shift;
		return 0;
	}
	return pn_errf(e, -EINVAL, "%s:%u: unknown key '%s', expected sessions, session_mb, "
		       "models, model_mb, rt or conns", path, lineno, tok);
}

static void apply_keys(struct pnd_limits *l, const uint64_t set[NKEYS])
{
	for (size_t k = 0; k < NKEYS; k++) {
		char *p = (char *)l + keys[k].off;

		if (set[k] == UNSET)
			continue;
		if (keys[k].wide)
			*(uint64_t *)p = set[k];
		else
			*(uint32_t *)p = (uint32_t)set[k];
	}
}

/* Tokens: positional ones first, then KEY=VALUE ones, "admin" anywhere after the name. */
static int parse_line(struct pnd_tenants *ts, struct pn_sched *sched, char *line,
		      uint64_t (*sets)[NKEYS], const char *path, unsigned lineno,
		      struct pn_err *e)
{
	char *tok[5], *save = NULL, *p = strchr(line, '#');
	uint64_t set[NKEYS];
	unsigned long v[5] = { 0 };
	struct pnd_tenant *t;
	bool admin = false;
	int n = 0, r;

	for (size_t k = 0; k < NKEYS; k++)
		set[k] = UNSET;
	if (p)
		*p = '\0';
	for (p = strtok_r(line, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
		if (n >= 1 && !strcmp(p, "admin")) {
			admin = true;
		} else if (n >= 1 && strchr(p, '=')) {
			r = parse_key(p, set, path, lineno, e);
			if (r)
				return r;
		} else if (n < 5) {
			tok[n++] = p;
		} else {
			return pn_errf(e, -EINVAL, "%s:%u: '%s': expected KEY=VALUE or admin after "
				       "MAX_ARENA_MB", path, lineno, p);
		}
	}
	if (!n)
		return 0;
	if (!strcmp(tok[0], "*")) {
		if (n > 1 || admin)
			return pn_errf(e, -EINVAL, "%s:%u: the defaults line takes KEY=VALUE only",
				       path, lineno);
		apply_keys(&ts->defaults, set);
		return 0;
	}
	if (n < 2)
		return pn_errf(e, -EINVAL, "%s:%u: expected UID NAME [WEIGHT [MAX_INFLIGHT "
			       "[MAX_ARENA_MB]]] [KEY=VALUE ...] [admin]", path, lineno);
	for (int i = 0; i < n; i++) {
		char *end;

		if (i == 1)
			continue;
		v[i] = strtoul(tok[i], &end, 10);
		if (*end || tok[i][0] == '-' || (i >= 2 && !v[i]) || (!i && v[i] >= UINT32_MAX))
			return pn_errf(e, -EINVAL, "%s:%u: '%s': expected a %s", path, lineno,
				       tok[i], i ? "number >= 1" : "uid");
	}
	if (strlen(tok[1]) >= sizeof(t->name))
		return pn_errf(e, -EINVAL, "%s:%u: name '%s' longer than %zu bytes", path,
			       lineno, tok[1], sizeof(t->name) - 1);
	for (uint32_t i = 0; i < ts->n; i++)
		if (ts->tab[i].listed && ts->tab[i].uid == v[0])
			return pn_errf(e, -EINVAL, "%s:%u: uid %lu listed twice", path, lineno,
				       v[0]);
	t = find_or_add(ts, (uint32_t)v[0]);
	if (!t)
		return pn_errf(e, -E2BIG, "%s:%u: uid %lu: the map holds at most %u tenants, "
			       "this is one more", path, lineno, v[0], PND_MAX_TENANTS);
	t->listed = true;
	snprintf(t->name, sizeof(t->name), "%s", tok[1]);
	t->admin = admin;
	memcpy(sets[t - ts->tab], set, sizeof(set));
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
	static uint64_t sets[PND_MAX_TENANTS][NKEYS];	/* main thread, once */
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned lineno = 0;
	int r = 0;

	if (!f)
		return pn_errf(e, -errno, "--tenants %s: %s", path, strerror(errno));
	while (!r && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			r = pn_errf(e, -EINVAL, "%s:%u: line longer than %zu bytes", path, lineno,
				    sizeof(line) - 2);
		else
			r = parse_line(ts, sched, line, sets, path, lineno, e);
	}
	if (!r && ferror(f))
		r = pn_errf(e, -EIO, "--tenants %s: read error after line %u", path, lineno);
	fclose(f);
	/* the defaults first, then what each line set: the "*" line may come last */
	for (uint32_t i = 0; !r && i < ts->n; i++) {
		ts->tab[i].lim = ts->defaults;
		apply_keys(&ts->tab[i].lim, sets[i]);
		r = pn_sched_set_tenant_rt(sched, ts->tab[i].uid, ts->tab[i].lim.rt_permille);
		if (r)
			r = pn_errf(e, r, "%s: uid %u: rt=%u refused by the scheduler", path,
				    ts->tab[i].uid, ts->tab[i].lim.rt_permille);
	}
	if (!r)
		r = pn_sched_set_default_rt(sched, ts->defaults.rt_permille);
	return r;
}
