// SPDX-License-Identifier: MIT
/*
 * model_load.c - LOAD: the client's .pnb fd is read with io_uring, header
 * first. The header is checked (magic, version, declared size = the file's
 * size, CRC) and the caller's quotas are charged before any shared memory is
 * made, so a file that is not a model, or is bigger than the tenant may
 * hold, costs nothing. Then the rest is read in chunks into a region, which
 * is sealed and validated in place. A file whose content hash is already
 * loaded adds one holder to that model instead of a second copy.
 *
 * Names are per tenant (models.c): a tenant holds at most one model of a
 * name, and public models have distinct names. Loop thread; cold path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/model.h"
#include "models_impl.h"

#define READ_CHUNK	(8u << 20)

struct pnd_load {
	struct pnd_ev ev;
	struct pnd_models *ms;
	struct pnd_load_done done;
	struct pnd_caller who;
	struct pnd_load *next;		/* ms->loading */
	int fd;
	struct pn_load_req req;
	struct pnb_header hdr;		/* read first, checked before the region exists */
	struct pn_region *region;
	uint8_t *map;
	size_t size, off;
	uint32_t id;
	char rname[PN_REGION_NAME_MAX];
};

static void unlist(struct pnd_load *l)
{
	for (struct pnd_load **p = &l->ms->loading; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			return;
		}
	}
}

static void load_free(struct pnd_load *l, bool destroy)
{
	unlist(l);
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

/*
 * The quotas, for a file of size bytes: the tenant's models and bytes (held
 * plus loading), and the admin-set total. Holding the same bytes twice is
 * free; this counts conservatively (a load that turns out a duplicate).
 */
static int charge(struct pnd_models *ms, const struct pnd_caller *who, uint64_t size,
		  const char *path, struct pn_err *e)
{
	uint32_t held = 0, total = 0;
	uint64_t bytes = size;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *m = ms->tab[i];

		if (!m)
			continue;
		total++;
		if (pnd_model_holds_locked(m, who->uid)) {
			held++;
			bytes += m->size;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	for (const struct pnd_load *l = ms->loading; l; l = l->next) {
		total++;
		if (l->who.uid == who->uid) {
			held++;
			bytes += l->size;
		}
	}
	if (held >= who->max_models)
		return pn_errf(e, -EDQUOT, "%s: uid %u holds or is loading %u models, its quota "
			       "is %u (the admin map's models=)", path, who->uid, held,
			       who->max_models);
	if (bytes > who->max_model_bytes)
		return pn_errf(e, -EDQUOT, "%s: %llu bytes would bring uid %u's models to %llu "
			       "bytes, its quota is %llu (the admin map's model_mb=)", path,
			       (unsigned long long)size, who->uid, (unsigned long long)bytes,
			       (unsigned long long)who->max_model_bytes);
	if (total >= ms->max_models)
		return pn_errf(e, -ENOSPC, "%s: %u models loaded or loading, the most this "
			       "polynetd holds (--max-models %u)", path, total, ms->max_models);
	return 0;
}

static int load_read(struct pnd_load *l)
{
	const struct pnd_io *io = l->ms->io;
	size_t n = l->size - l->off;

	if (l->off < sizeof(l->hdr))
		return io->read(io->arg, &l->ev, l->fd, (uint8_t *)&l->hdr + l->off,
				sizeof(l->hdr) - l->off, l->off);
	return io->read(io->arg, &l->ev, l->fd, l->map + l->off, n < READ_CHUNK ? n : READ_CHUNK,
			l->off);
}

int pnd_load_start(struct pnd_models *ms, const struct pnd_caller *who,
		   const struct pn_load_req *req, int fd, struct pnd_load_done done,
		   struct pn_err *e)
{
	struct pnd_load *l;
	struct stat st;
	int r;

	if (req->flags & PN_LOAD_F_PUBLIC && !who->admin)
		return pn_errf(e, -EPERM, "%s: a public model is loaded by an admin only (uid %u "
			       "is none: the admin map's 'admin')", req->path, who->uid);
	if (req->flags & PN_LOAD_F_PUBLIC && req->flags & PN_LOAD_F_TRANSIENT)
		return pn_errf(e, -EINVAL, "%s: public and transient together, expected one",
			       req->path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(struct pnb_header))
		return pn_errf(e, -EINVAL, "%s: not a regular file of at least %zu bytes",
			       req->path, sizeof(struct pnb_header));
	r = charge(ms, who, (uint64_t)st.st_size, req->path, e);
	if (r)
		return r;
	l = calloc(1, sizeof(*l));
	if (!l)
		return pn_errf(e, -ENOMEM, "LOAD: out of memory");
	l->ev.kind = PND_EV_LOAD;
	l->ev.obj = l;
	l->ms = ms;
	l->done = done;
	l->who = *who;
	l->fd = fd;
	l->req = *req;
	l->size = (size_t)st.st_size;
	l->next = ms->loading;
	ms->loading = l;
	r = load_read(l);
	if (r) {
		l->fd = -1;	/* the caller closes it on an error here */
		load_free(l, true);
		return pn_errf(e, r, "LOAD: io_uring read: %s", strerror(-r));
	}
	return 0;
}

/* The header is in: check it, then make the region and read the rest into it. */
static int header_done(struct pnd_load *l, struct pn_err *e)
{
	struct pnd_models *ms = l->ms;
	struct pn_region_opts o;
	void *map;
	int r = pnb_check_header(&l->hdr, l->size, l->req.path, e);

	if (r)
		return r;
	pthread_mutex_lock(&ms->lock);
	l->id = ++ms->next_id;
	/* the id is spent before its region exists: a restart never reuses it */
	pnd_index_save_next_id_locked(ms);
	pthread_mutex_unlock(&ms->lock);
	pn_region_opts_init(&o, l->size);
	o.flags = PN_REGION_NOHUGE;
	if (!(l->req.flags & PN_LOAD_F_TRANSIENT)) {
		o.flags |= PN_REGION_PERSISTENT;
		snprintf(l->rname, sizeof(l->rname), "%s.m%u", ms->state_prefix, l->id);
	}
	r = pn_region_create(l->rname[0] ? l->rname : NULL, &o, &l->region, e);
	if (r) {
		l->rname[0] = '\0';	/* not ours to destroy */
		return r;
	}
	r = pn_region_map(l->region, PROT_READ | PROT_WRITE, &map, e);
	if (r)
		return r;
	l->map = map;
	memcpy(l->map, &l->hdr, sizeof(l->hdr));
	return 0;
}

/* A model of this name the tenant holds, or a public one of it, that is not m. */
static int name_taken_locked(struct pnd_models *ms, const struct pnd_model *m, uint32_t uid,
			     bool public, struct pn_err *e)
{
	const char *name = pnd_model_name(m);

	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *c = ms->tab[i];

		if (!c || c == m || atomic_load(&c->gone) || strcmp(pnd_model_name(c), name) ||
		    c->m->file.content_hash == m->m->file.content_hash)
			continue;
		if (pnd_model_holds_locked(c, uid))
			return pn_errf(e, -EEXIST, "model '%s': uid %u already holds another model "
				       "of that name (id %u): unload it first", name, uid, c->id);
		if (public && c->public)
			return pn_errf(e, -EEXIST, "model '%s': a public model of that name "
				       "exists (id %u)", name, c->id);
	}
	return 0;
}

/* The same bytes are loaded: the caller becomes one more holder. */
static int share_locked(struct pnd_models *ms, struct pnd_model *dup, const struct pnd_load *l,
			struct pn_err *e)
{
	if (!pnd_model_holds_locked(dup, l->who.uid)) {
		if (dup->n_holders == PND_MAX_HOLDERS)
			return pn_errf(e, -ENOSPC, "model %u '%s': held by %u tenants, the most "
				       "one model has", dup->id, pnd_model_name(dup),
				       PND_MAX_HOLDERS);
		dup->holders[dup->n_holders++] = l->who.uid;
		atomic_fetch_add(&dup->holders_gen, 1);
	}
	if (l->req.flags & PN_LOAD_F_PUBLIC)
		dup->public = true;
	pnd_index_update_locked(ms, dup, NULL);
	return 0;
}

static struct pnd_model *find_dup_locked(struct pnd_models *ms, const struct pnd_model *m)
{
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (ms->tab[i] && !atomic_load(&ms->tab[i]->gone) &&
		    ms->tab[i]->m->file.content_hash == m->m->file.content_hash)
			return ms->tab[i];
	return NULL;
}

/*
 * The reads are done: seal, validate, share or prepare and insert, report.
 * A duplicate (the same bytes as a live model) is shared before anything
 * is prepared for it. LOADs finish one at a time on the loop thread, so no
 * other LOAD inserts between the checks and the insert; the preparation
 * (hundreds of ms) runs outside the lock, and jobs of other models go on.
 */
static void load_finish(struct pnd_load *l)
{
	struct pnd_models *ms = l->ms;
	bool public = l->req.flags & PN_LOAD_F_PUBLIC;
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
	r = pnd_model_open(ms, l->region, ro, l->size, l->req.path,
			   l->req.flags & PN_LOAD_F_TRANSIENT, &m, &e);
	if (r) {
		munmap(ro, l->size);
		goto fail;
	}
	l->region = NULL;	/* the model owns it now, and destroys it if it is not kept */
	snprintf(m->region_name, sizeof(m->region_name), "%s", l->rname);
	l->rname[0] = '\0';
	pthread_mutex_lock(&ms->lock);
	dup = find_dup_locked(ms, m);
	r = name_taken_locked(ms, dup ? dup : m, l->who.uid, public || (dup && dup->public), &e);
	if (!r && dup) {
		r = share_locked(ms, dup, l, &e);
		if (!r) {
			pnd_model_desc(dup, &desc);
			desc.flags |= PN_MODEL_F_SHARED;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	if (!r && !dup) {
		r = pnd_model_prepare(ms, m, &e);
		pthread_mutex_lock(&ms->lock);
		m->holders[0] = l->who.uid;
		m->n_holders = 1;
		m->public = public;
		if (!r)
			r = pnd_model_insert_locked(ms, m, l->id, &e);
		if (!r) {
			pnd_index_update_locked(ms, m, l->req.path);
			pnd_model_desc(m, &desc);
		}
		pthread_mutex_unlock(&ms->lock);
	}
	if (dup || r) {
		if (dup)	/* the same bytes, the same derived region: dup's */
			m->derived_name[0] = '\0';
		pnd_model_free(m);	/* destroys the new region: the first copy serves */
		if (r)
			goto fail;
	} else {
		pnd_log("model %u '%s' loaded from %s (%zu bytes, uid %u%s)", desc.id, desc.name,
			l->req.path, l->size, l->who.uid, public ? ", public" : "");
	}
	load_end(l, 0, &desc, NULL);
	return;
fail:
	load_end(l, r, NULL, e.msg);
}

void pnd_load_event(struct pnd_load *l, int res)
{
	struct pn_err e;
	char msg[512];
	int r;

	if (res <= 0) {
		snprintf(msg, sizeof(msg), "%s: read at offset %zu: %s", l->req.path, l->off,
			 res ? strerror(-res) : "end of file, the file shrank while loading");
		load_end(l, res ? res : -EIO, NULL, msg);
		return;
	}
	l->off += (size_t)res;
	if (l->off >= sizeof(l->hdr) && !l->map) {
		r = header_done(l, &e);
		if (r) {
			load_end(l, r, NULL, e.msg);
			return;
		}
	}
	if (l->off == l->size) {
		load_finish(l);
		return;
	}
	if (load_read(l))
		load_end(l, -EBUSY, NULL, "LOAD: io_uring read failed");
}
