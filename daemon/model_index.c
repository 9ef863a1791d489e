// SPDX-License-Identifier: MIT
/*
 * model_index.c - the persistent index: each model lives in a persistent
 * named region "<prefix>.m<id>" and the index region "<prefix>.index" lists
 * them (id, content hash, holders, public), so a restarted daemon
 * reattaches every model from memory without opening a file.
 *
 * A region named like a model but not listed is half-written: a daemon was
 * killed during its LOAD (the entry is written only once the model is
 * validated). pnd_index_reattach destroys those. The daemon holds an flock
 * on the index's shm object for its lifetime, so two daemons never share a
 * state and `polyctl regions` can tell a live state from an abandoned one.
 * Cold path; loop thread (and main before it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>

#include "models_impl.h"
#include "transport/region_list.h"

#define INDEX_MAGIC	0x58444e50u	/* "PNDX" */
#define INDEX_VERSION	2u		/* 2: 32 holders, flags */
#define ENTRY_F_PUBLIC	1u

struct index_entry {
	uint32_t used, id;
	uint64_t hash, size;
	char region[PN_REGION_NAME_MAX];
	char path[256];
	uint32_t holders[PND_MAX_HOLDERS];
	uint32_t n_holders, flags;	/* ENTRY_F_* */
};

struct index {
	uint32_t magic, version, next_id, pad;
	struct index_entry e[PND_MAX_MODELS];
};

static struct index *index_of(struct pnd_models *ms)
{
	return ms->index_map;
}

void pnd_index_save_next_id_locked(struct pnd_models *ms)
{
	if (index_of(ms))
		index_of(ms)->next_id = ms->next_id;
}

void pnd_index_update_locked(struct pnd_models *ms, const struct pnd_model *m, const char *path)
{
	struct index *x = index_of(ms);
	struct index_entry *e;

	pnd_index_save_next_id_locked(ms);
	if (!x || m->transient)
		return;
	e = &x->e[m->slot];
	memset(e, 0, sizeof(*e));
	if (!m->n_holders || atomic_load(&m->gone))
		return;
	e->id = m->id;
	e->hash = m->m->file.content_hash;
	e->size = m->size;
	snprintf(e->region, sizeof(e->region), "%s", m->region_name);
	snprintf(e->path, sizeof(e->path), "%s", path ? path : m->m->file.path);
	memcpy(e->holders, m->holders, sizeof(e->holders));
	e->n_holders = m->n_holders;
	e->flags = m->public ? ENTRY_F_PUBLIC : 0;
	__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
}

static void reattach(struct pnd_models *ms, struct index_entry *ie)
{
	struct pn_region *rg = NULL;
	struct pnd_model *m;
	struct pn_err e;
	void *map = NULL;

	if (pn_region_attach(ie->region, 0, PN_REGION_AUTO, &rg, &e) ||
	    pn_region_map(rg, PROT_READ, &map, &e) ||
	    pnd_model_new(ms, rg, map, ie->size, ie->path, false, &m, &e)) {
		pnd_log("index: model %u (%s) not reattached: %s", ie->id, ie->region, e.msg);
		if (map)
			munmap(map, pn_region_size(rg));
		pn_region_close(rg);
		memset(ie, 0, sizeof(*ie));
		return;
	}
	if (m->m->file.content_hash != ie->hash) {
		pnd_log("index: region %s: content hash changed, dropped", ie->region);
		pnd_model_free(m);
		memset(ie, 0, sizeof(*ie));
		return;
	}
	snprintf(m->region_name, sizeof(m->region_name), "%s", ie->region);
	memcpy(m->holders, ie->holders, sizeof(m->holders));
	m->n_holders = ie->n_holders < PND_MAX_HOLDERS ? ie->n_holders : PND_MAX_HOLDERS;
	m->public = ie->flags & ENTRY_F_PUBLIC;
	m->reattached = true;
	if (pnd_model_insert_locked(ms, m, ie->id, &e)) {
		pnd_model_free(m);
		return;
	}
	pnd_log("model %u '%s' reattached from region %s (no file read)", m->id,
		pnd_model_name(m), ie->region);
}

int pnd_index_open(struct pnd_models *ms, struct pn_err *e)
{
	char name[PN_REGION_NAME_MAX];
	struct pn_region_opts o;
	struct index *x;
	int r;

	snprintf(name, sizeof(name), "%s.index", ms->state_prefix);
	r = pn_region_attach(name, PN_REGION_RDWR, PN_REGION_AUTO, &ms->index_region, NULL);
	if (r == -ENOENT) {
		pn_region_opts_init(&o, sizeof(struct index));
		o.flags = PN_REGION_PERSISTENT | PN_REGION_NOHUGE;
		r = pn_region_create(name, &o, &ms->index_region, e);
	}
	if (r)
		return pn_errf(e, r, "index region %s: %s", name, strerror(-r));
	/* one daemon per state: a second one would destroy the first's loads */
	if (pn_region_backend(ms->index_region) == PN_REGION_MEMFD &&
	    flock(pn_region_fd(ms->index_region), LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		pn_region_close(ms->index_region);
		ms->index_region = NULL;
		return pn_errf(e, r == -EWOULDBLOCK ? -EBUSY : r, "--state %s: %s",
			       ms->state_prefix, r == -EWOULDBLOCK ?
			       "in use by another polynetd (its index region is locked)" :
			       strerror(-r));
	}
	r = pn_region_map(ms->index_region, PROT_READ | PROT_WRITE, &ms->index_map, e);
	if (r)
		return r;
	x = ms->index_map;
	if (pn_region_size(ms->index_region) < sizeof(*x) || (x->magic && (x->magic != INDEX_MAGIC ||
	    x->version != INDEX_VERSION))) {
		pnd_log("index region %s: not a version %u index, starting empty", name,
			INDEX_VERSION);
		memset(x, 0, sizeof(*x));
	}
	if (!x->magic) {
		x->magic = INDEX_MAGIC;
		x->version = INDEX_VERSION;
	}
	ms->next_id = x->next_id;
	return 0;
}

/* "<prefix>.m<digits>": a model region of this state. */
static bool model_region_id(const char *prefix, const char *name, uint32_t *id)
{
	size_t n = strlen(prefix);
	char *end;

	if (strncmp(name, prefix, n) || name[n] != '.' || name[n + 1] != 'm' ||
	    name[n + 2] < '0' || name[n + 2] > '9')
		return false;
	*id = (uint32_t)strtoul(name + n + 2, &end, 10);
	return !*end;
}

struct reclaim {
	struct pnd_models *ms;
	uint32_t n;
	uint64_t bytes;
};

/* "<prefix>.x<hash>": derived weights (derived.h) of a model no longer here. */
static bool derived_orphan(struct pnd_models *ms, const char *name)
{
	size_t n = strlen(ms->state_prefix);

	if (strncmp(name, ms->state_prefix, n) || name[n] != '.' || name[n + 1] != 'x')
		return false;
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (ms->tab[i] && !strcmp(ms->tab[i]->derived_name, name))
			return false;
	return true;
}

static int reclaim_one(void *arg, const struct pn_region_entry *re)
{
	struct reclaim *rc = arg;
	struct index *x = index_of(rc->ms);
	uint32_t id;

	if (derived_orphan(rc->ms, re->name)) {
		pnd_log("region %s: derived weights of no model (%" PRIu64 " bytes resident): "
			"destroyed", re->name, re->resident);
		pn_region_destroy(re->name, PN_REGION_MEMFD, NULL);
		rc->n++;
		rc->bytes += re->resident;
		return 0;
	}
	if (!model_region_id(rc->ms->state_prefix, re->name, &id))
		return 0;
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (x->e[i].used && !strcmp(x->e[i].region, re->name))
			return 0;
	pnd_log("region %s: half-written by a LOAD that never finished (%" PRIu64
		" bytes resident): destroyed", re->name, re->resident);
	pn_region_destroy(re->name, PN_REGION_MEMFD, NULL);
	if (id > rc->ms->next_id)
		rc->ms->next_id = id;	/* never reuse the name of a region in doubt */
	rc->n++;
	rc->bytes += re->resident;
	return 0;
}

void pnd_index_reattach(struct pnd_models *ms)
{
	struct index *x = index_of(ms);
	struct reclaim rc = { .ms = ms };
	struct pn_err e;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		if (x->e[i].used) {
			struct index_entry ie = x->e[i];

			/* slots may move: rewrite the entry where the model lands */
			memset(&x->e[i], 0, sizeof(x->e[i]));
			reattach(ms, &ie);
		}
	}
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (ms->tab[i])
			pnd_index_update_locked(ms, ms->tab[i], NULL);
	if (pn_region_backend(ms->index_region) == PN_REGION_MEMFD &&
	    pn_region_list(ms->state_prefix, reclaim_one, &rc, &e))
		pnd_log("reclaim: %s", e.msg);
	x->next_id = ms->next_id;
	pthread_mutex_unlock(&ms->lock);
	if (rc.n)
		pnd_log("reclaimed %u orphan region(s), %" PRIu64 " bytes", rc.n, rc.bytes);
}

void pnd_index_close(struct pnd_models *ms)
{
	if (ms->index_map)
		munmap(ms->index_map, pn_region_size(ms->index_region));
	pn_region_close(ms->index_region);	/* the flock goes with the fd */
}
