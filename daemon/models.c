// SPDX-License-Identifier: MIT
/*
 * models.c - loaded models: LOAD reads the client's .pnb fd with io_uring
 * into a shared region, seals it, validates it in place; a file whose
 * content hash is already loaded is shared (one more holder), not loaded
 * twice. UNLOAD drops the caller's hold (any hold for the admin).
 *
 * Persistence: each model lives in a persistent named region
 * "<prefix>.m<id>" and an index region "<prefix>.index" lists them, so a
 * restarted daemon reattaches every model from memory without opening a
 * file (PN_LOAD_F_TRANSIENT models use an anonymous memfd and die with the
 * daemon). Cold path throughout, except pnd_model_record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/model.h"
#include "models.h"

#define INDEX_MAGIC	0x58444e50u	/* "PNDX" */
#define INDEX_VERSION	1u
#define READ_CHUNK	(8u << 20)

struct index_entry {
	uint32_t used, id;
	uint64_t hash, size;
	char region[PN_REGION_NAME_MAX];
	char path[256];
	uint32_t holders[PND_MAX_HOLDERS];
	uint32_t n_holders, pad;
};

struct index {
	uint32_t magic, version, next_id, pad;
	struct index_entry e[PND_MAX_MODELS];
};

struct pnd_load {
	struct pnd_ev ev;
	struct pnd_models *ms;
	struct pnd_load_done done;
	uint32_t uid;
	int fd;
	struct pn_load_req req;
	struct pn_region *region;
	uint8_t *map;
	size_t size, off;
	uint32_t id;
	char rname[PN_REGION_NAME_MAX];
};

static struct index *index_of(struct pnd_models *ms)
{
	return ms->index_map;
}

/* Rewrites the model's index entry (models_lock held). */
static void index_update(struct pnd_models *ms, const struct pnd_model *m, const char *path)
{
	struct index *x = index_of(ms);
	struct index_entry *e;

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
	x->next_id = ms->next_id;
	__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
}

static void model_free(struct pnd_model *m)
{
	if (m->bm)
		m->owner->ops->release_model(m->owner->be, m->bm);
	pn_model_close(m->m);
	if (m->map)
		munmap(m->map, m->size);
	if (m->region) {
		pn_region_close(m->region);
		if (!m->transient && m->region_name[0])
			pn_region_destroy(m->region_name, PN_REGION_AUTO, NULL);
	}
	pthread_mutex_destroy(&m->stat_lock);
	free(m);
}

void pnd_model_put(struct pnd_model *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		model_free(m);
}

/* A model over a read-only mapping of region; takes the region. */
static int model_new(struct pnd_models *ms, struct pn_region *region, void *map, size_t size,
		     const char *what, struct pnd_model **out, struct pn_err *e)
{
	struct pnd_model *m = calloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (!m)
		return pn_errf(e, -ENOMEM, "%s: out of memory", what);
	r = pn_model_open_buf(map, size, what, &m->m, e);
	if (r) {
		free(m);
		return r;
	}
	m->region = region;
	m->map = map;
	m->size = size;
	m->vocab = pn_model_vocab(m->m);
	m->max_batch = ms->max_batch;
	m->owner = ms;
	atomic_init(&m->refs, 1);
	pthread_mutex_init(&m->stat_lock, NULL);
	r = ms->ops->prepare_model(ms->be, m, &m->bm, e);
	if (r) {
		/* the caller keeps the region and the mapping */
		m->region = NULL;
		m->map = NULL;
		model_free(m);
		return r;
	}
	*out = m;
	return 0;
}

/* Puts m in a free slot under a fresh id (models_lock held). */
static int model_insert(struct pnd_models *ms, struct pnd_model *m, uint32_t id, struct pn_err *e)
{
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		if (ms->tab[i])
			continue;
		m->slot = i;
		m->id = id ? id : ++ms->next_id;
		if (m->id > ms->next_id)
			ms->next_id = m->id;
		ms->tab[i] = m;
		pthread_mutex_lock(&ms->work->lock);
		pn_sched_set_model(ms->work->sched, m->id, m->max_batch < PN_SCHED_BATCH_MAX ?
				   m->max_batch : PN_SCHED_BATCH_MAX, ms->batch_delay_ns);
		pthread_mutex_unlock(&ms->work->lock);
		return 0;
	}
	return pn_errf(e, -ENOSPC, "%u models loaded, the most polynetd holds", PND_MAX_MODELS);
}

static void reattach(struct pnd_models *ms, struct index_entry *ie)
{
	struct pn_region *rg = NULL;
	struct pnd_model *m;
	struct pn_err e;
	void *map = NULL;

	if (pn_region_attach(ie->region, 0, PN_REGION_AUTO, &rg, &e) ||
	    pn_region_map(rg, PROT_READ, &map, &e) ||
	    model_new(ms, rg, map, ie->size, ie->path, &m, &e)) {
		pnd_log("index: model %u (%s) not reattached: %s", ie->id, ie->region, e.msg);
		if (map)
			munmap(map, pn_region_size(rg));
		pn_region_close(rg);
		memset(ie, 0, sizeof(*ie));
		return;
	}
	if (m->m->file.content_hash != ie->hash) {
		pnd_log("index: region %s: content hash changed, dropped", ie->region);
		model_free(m);
		memset(ie, 0, sizeof(*ie));
		return;
	}
	snprintf(m->region_name, sizeof(m->region_name), "%s", ie->region);
	memcpy(m->holders, ie->holders, sizeof(m->holders));
	m->n_holders = ie->n_holders < PND_MAX_HOLDERS ? ie->n_holders : PND_MAX_HOLDERS;
	m->reattached = true;
	if (model_insert(ms, m, ie->id, &e)) {
		model_free(m);
		return;
	}
	pnd_log("model %u '%s' reattached from region %s (no file read)", m->id,
		pnb_str(&m->m->file, m->m->file.hdr->name), ie->region);
}

int pnd_models_init(struct pnd_models *ms, struct pn_err *e)
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
		return r ? pn_errf(e, r, "index region %s: %s", name, strerror(-r)) : 0;
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
			index_update(ms, ms->tab[i], NULL);
	pthread_mutex_unlock(&ms->lock);
	return 0;
}

void pnd_models_fini(struct pnd_models *ms)
{
	/* persistent regions stay: the next daemon reattaches them */
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *m = ms->tab[i];

		if (!m)
			continue;
		ms->tab[i] = NULL;
		if (!m->transient)
			m->region_name[0] = '\0';	/* keep the region: not destroyed */
		pnd_model_put(m);
	}
	if (ms->index_map)
		munmap(ms->index_map, pn_region_size(ms->index_region));
	pn_region_close(ms->index_region);
}

struct pnd_model *pnd_model_get_id(struct pnd_models *ms, uint32_t id)
{
	struct pnd_model *m = NULL;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS && !m; i++)
		if (ms->tab[i] && ms->tab[i]->id == id && !atomic_load(&ms->tab[i]->gone))
			m = ms->tab[i];
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&ms->lock);
	return m;
}

static const char *model_name(const struct pnd_model *m)
{
	return pnb_str(&m->m->file, m->m->file.hdr->name);
}

struct pnd_model *pnd_model_find(struct pnd_models *ms, const struct pn_model_ref *ref,
				 struct pn_err *e)
{
	struct pnd_model *m = NULL;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS && !m; i++) {
		struct pnd_model *c = ms->tab[i];

		if (c && !atomic_load(&c->gone) &&
		    (ref->id ? c->id == ref->id : !strcmp(model_name(c), ref->name)))
			m = c;
	}
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&ms->lock);
	if (!m) {
		if (ref->id)
			pn_errf(e, -ENOENT, "model id %u: not loaded", ref->id);
		else
			pn_errf(e, -ENOENT, "model '%s': not loaded", ref->name);
	}
	return m;
}

void pnd_model_desc(const struct pnd_model *m, struct pn_model_desc *o)
{
	memset(o, 0, sizeof(*o));
	o->id = m->id;
	o->flags = m->reattached ? PN_MODEL_F_REATTACHED : 0;
	o->out_width = m->m->out_width;
	o->out_layout = m->m->out_layout;
	o->max_tokens = m->m->max_tokens;
	o->max_batch = m->max_batch;
	o->content_hash = m->m->file.content_hash;
	o->size = m->size;
	o->vocab = m->vocab;
	snprintf(o->name, sizeof(o->name), "%s", model_name(m));
}

void pnd_model_record(struct pnd_model *m, double lat_us, int res, bool batched)
{
	pthread_mutex_lock(&m->stat_lock);
	m->jobs++;
	m->errors += res != 0;
	m->batched += batched;
	if (!res)
		m->lat_us[m->n_lat++ % PND_LAT_SAMPLES] = lat_us;
	pthread_mutex_unlock(&m->stat_lock);
}

static void load_free(struct pnd_load *l, bool destroy)
{
	if (l->map)
		munmap(l->map, l->size);
	if (l->region) {
		pn_region_close(l->region);
		if (destroy && l->rname[0])
			pn_region_destroy(l->rname, PN_REGION_AUTO, NULL);
	}
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

/* The load ended: tells the caller, frees it. */
static void load_end(struct pnd_load *l, int r, const struct pn_model_desc *desc,
		     const char *msg)
{
	struct pnd_load_done done = l->done;

	load_free(l, r != 0);
	done.fn(done.arg, r, desc, msg);
}

static int load_read(struct pnd_load *l)
{
	const struct pnd_io *io = l->ms->io;
	size_t n = l->size - l->off;

	return io->read(io->arg, &l->ev, l->fd, l->map + l->off, n < READ_CHUNK ? n : READ_CHUNK,
			l->off);
}

int pnd_load_start(struct pnd_models *ms, uint32_t uid, const struct pn_load_req *req, int fd,
		   struct pnd_load_done done, struct pn_err *e)
{
	struct pn_region_opts o;
	struct pnd_load *l;
	struct stat st;
	void *map;
	int r;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(struct pnb_header))
		return pn_errf(e, -EINVAL, "%s: not a regular file of at least %zu bytes",
			       req->path, sizeof(struct pnb_header));
	l = calloc(1, sizeof(*l));
	if (!l)
		return pn_errf(e, -ENOMEM, "LOAD: out of memory");
	l->ev.kind = PND_EV_LOAD;
	l->ev.obj = l;
	l->ms = ms;
	l->done = done;
	l->uid = uid;
	l->fd = -1;	/* the caller closes it on an error here */
	l->req = *req;
	l->size = (size_t)st.st_size;
	pthread_mutex_lock(&ms->lock);
	l->id = ++ms->next_id;
	pthread_mutex_unlock(&ms->lock);
	pn_region_opts_init(&o, l->size);
	o.flags = PN_REGION_NOHUGE;
	if (!(req->flags & PN_LOAD_F_TRANSIENT)) {
		o.flags |= PN_REGION_PERSISTENT;
		snprintf(l->rname, sizeof(l->rname), "%s.m%u", ms->state_prefix, l->id);
	}
	r = pn_region_create(l->rname[0] ? l->rname : NULL, &o, &l->region, e);
	if (!r)
		r = pn_region_map(l->region, PROT_READ | PROT_WRITE, &map, e);
	if (r) {
		load_free(l, true);
		return r;
	}
	l->map = map;
	l->fd = fd;
	r = load_read(l);
	if (r) {
		l->fd = -1;
		load_free(l, true);
		return pn_errf(e, r, "LOAD: io_uring read: %s", strerror(-r));
	}
	return 0;
}

/* The reads are done: seal, validate, share or insert, report. */
static void load_finish(struct pnd_load *l)
{
	struct pnd_models *ms = l->ms;
	struct pn_model_desc desc;
	struct pnd_model *m = NULL, *dup = NULL;
	struct pn_err e;
	void *ro;
	int r;

	munmap(l->map, l->size);
	l->map = NULL;
	/* sealed before it is validated: what was checked is what runs */
	r = pn_region_seal(l->region, &e);
	if (!r)
		r = pn_region_map(l->region, PROT_READ, &ro, &e);
	if (r)
		goto fail;
	r = model_new(ms, l->region, ro, l->size, l->req.path, &m, &e);
	if (r) {
		munmap(ro, l->size);
		goto fail;
	}
	l->region = NULL;	/* the model owns it now */
	snprintf(m->region_name, sizeof(m->region_name), "%s", l->rname);
	m->transient = l->req.flags & PN_LOAD_F_TRANSIENT;
	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS && !dup; i++)
		if (ms->tab[i] && !atomic_load(&ms->tab[i]->gone) &&
		    ms->tab[i]->m->file.content_hash == m->m->file.content_hash)
			dup = ms->tab[i];
	if (dup) {
		bool held = false;

		for (uint32_t i = 0; i < dup->n_holders; i++)
			held |= dup->holders[i] == l->uid;
		if (!held && dup->n_holders < PND_MAX_HOLDERS)
			dup->holders[dup->n_holders++] = l->uid;
		index_update(ms, dup, NULL);
		pnd_model_desc(dup, &desc);
		desc.flags |= PN_MODEL_F_SHARED;
	} else {
		m->holders[0] = l->uid;
		m->n_holders = 1;
		r = model_insert(ms, m, l->id, &e);
		if (!r) {
			index_update(ms, m, l->req.path);
			pnd_model_desc(m, &desc);
		}
	}
	pthread_mutex_unlock(&ms->lock);
	if (dup || r) {
		model_free(m);	/* destroys the new region: the first copy serves */
		if (r)
			goto fail;
	} else {
		pnd_log("model %u '%s' loaded from %s (%zu bytes, uid %u)", desc.id, desc.name,
			l->req.path, l->size, l->uid);
	}
	load_end(l, 0, &desc, NULL);
	return;
fail:
	load_end(l, r, NULL, e.msg);
}

void pnd_load_event(struct pnd_load *l, int res)
{
	char msg[512];

	if (res <= 0) {
		snprintf(msg, sizeof(msg), "%s: read at offset %zu: %s", l->req.path, l->off,
			 res ? strerror(-res) : "end of file, the file shrank while loading");
		load_end(l, res ? res : -EIO, NULL, msg);
		return;
	}
	l->off += (size_t)res;
	if (l->off < l->size) {
		if (load_read(l))
			load_end(l, -EBUSY, NULL, "LOAD: io_uring read failed");
		return;
	}
	load_finish(l);
}

uint32_t pnd_models_count(struct pnd_models *ms)
{
	uint32_t n = 0;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		n += ms->tab[i] != NULL;
	pthread_mutex_unlock(&ms->lock);
	return n;
}

int pnd_unload(struct pnd_models *ms, uint32_t uid, bool admin, const struct pn_model_ref *ref,
	       struct pn_err *e)
{
	struct pnd_model *m = pnd_model_find(ms, ref, e);
	bool held = false, last;

	if (!m)
		return -ENOENT;
	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < m->n_holders; i++) {
		if (m->holders[i] == uid) {
			held = true;
			m->holders[i] = m->holders[--m->n_holders];
			break;
		}
	}
	if (!held && !admin) {
		pthread_mutex_unlock(&ms->lock);
		pnd_model_put(m);
		return pn_errf(e, -EPERM, "model %u '%s': loaded by another tenant, only its "
			       "loaders or the admin may unload it", m->id, model_name(m));
	}
	if (admin && !held)
		m->n_holders = 0;
	last = !m->n_holders;
	if (last) {
		atomic_store(&m->gone, true);
		ms->tab[m->slot] = NULL;
		pnd_work_models_changed(ms->work);
		pnd_work_forget_model(ms->work, m->id);
	}
	index_update(ms, m, NULL);
	pthread_mutex_unlock(&ms->lock);
	if (last) {
		/* the name goes now; the memory when the last executor lets go */
		if (!m->transient && m->region_name[0])
			pn_region_destroy(m->region_name, PN_REGION_AUTO, NULL);
		m->region_name[0] = '\0';
		/* sleeping workers wake to drop their executors of it */
		pnd_work_wake(ms->work);
		pnd_log("model %u '%s' unloaded by uid %u", m->id, model_name(m), uid);
		pnd_model_put(m);	/* the table's reference */
	}
	pnd_model_put(m);
	return 0;
}
