// SPDX-License-Identifier: MIT
/*
 * models.c - the table of loaded models: lookups, visibility, UNLOAD,
 * descriptions and per-model statistics. LOAD is model_load.c; the
 * persistent index is model_index.c.
 *
 * Visibility (docs/daemon.md, "Isolation"): a model is seen by the tenants
 * that hold it (each LOAD of the same bytes adds one holder: one copy in
 * memory, by content hash) and, when an admin loaded it PN_LOAD_F_PUBLIC,
 * by every tenant. Names are per tenant: a name resolves to the caller's
 * own model first, then to a public one, never to another tenant's private
 * one. Ids resolve only to what the caller sees (admins: to every model).
 * A model the caller cannot see is "not loaded", so nothing leaks.
 */
#include <errno.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exec/model.h"
#include "models_impl.h"
#include "worker.h"

const char *pnd_model_name(const struct pnd_model *m)
{
	return pnb_str(&m->m->file, m->m->file.hdr->name);
}

void pnd_model_destroy_names(struct pnd_model *m)
{
	if (!m->transient && m->region_name[0])
		pn_region_destroy(m->region_name, PN_REGION_AUTO, NULL);
	if (m->derived_name[0])
		pn_region_destroy(m->derived_name, PN_REGION_AUTO, NULL);
	m->region_name[0] = m->derived_name[0] = '\0';
}

void pnd_model_free(struct pnd_model *m)
{
	/* before release_model: the context runs over the backend's model */
	pnd_gen_free(&m->owner->work->gens, m->gen);
	for (uint32_t i = 0; i < m->n_pre_ex; i++)
		if (m->pre_ex[i])
			m->owner->ops->exec_free(m->pre_ex[i]);
	free(m->pre_ex);
	if (m->bm)
		m->owner->ops->release_model(m->owner->be, m->bm);
	pn_model_close(m->m);
	if (m->map)
		munmap(m->map, m->size);
	if (m->region)
		pn_region_close(m->region);
	pnd_model_destroy_names(m);
	pthread_mutex_destroy(&m->stat_lock);
	free(m);
}

void pnd_model_put(struct pnd_model *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		pnd_model_free(m);
}

struct prep_run {
	struct pnd_models *ms;
	struct pnd_model *m;
	atomic_uint next;		/* the next executor to make */
	atomic_int r;			/* the first error, 0 for none */
	pthread_mutex_t lock;		/* err */
	struct pn_err err;
	int *cpu, *node;		/* executor i's worker's; NULL: not pinned */
};

/*
 * Runs this thread where executor i's worker will, so that the executor's
 * pages (arena, scratch, primitives) are first touched on that worker's
 * NUMA node, not on the loop thread's.
 */
static void prep_place(const struct prep_run *p, uint32_t i)
{
	cpu_set_t set;

	if (!p->cpu)
		return;
	if (p->node[i] >= 0)
		numa_set_preferred(p->node[i]);
	CPU_ZERO(&set);
	CPU_SET(p->cpu[i], &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *prep_thread(void *arg)
{
	struct prep_run *p = arg;
	struct pnd_models *ms = p->ms;
	struct pnd_model *m = p->m;
	struct pn_err e;
	uint32_t i;
	int r = 0;

	while (!r && !atomic_load(&p->r) && (i = atomic_fetch_add(&p->next, 1)) < m->n_pre_ex) {
		prep_place(p, i);
		r = ms->ops->exec_new(ms->be, m, m->bm, i, m->max_batch, m->m->max_tokens,
				      &m->pre_ex[i], &e);
		if (!r && ms->ops->prepare_exec)
			r = ms->ops->prepare_exec(m->pre_ex[i], &e);
		if (!r && p->cpu)
			pnd_log("model '%s': executor %u placed on CPU %d (node %d), its worker's",
				pnd_model_name(m), i, p->cpu[i], p->node[i]);
	}
	if (r) {
		int zero = 0;

		pthread_mutex_lock(&p->lock);
		if (atomic_compare_exchange_strong(&p->r, &zero, r))
			p->err = e;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/*
 * Every worker's executor, made and prepared now (backend.h prepare_exec):
 * the LOAD is answered, or the daemon says ready, only after it, so no job
 * pays for a primitive, an arena page or a kernel's first run. One thread
 * per online CPU makes them side by side (measured: preparing USE lite's is
 * ~165 ms each, one after the other they were most of a restart), and the
 * caller waits for all.
 */
static int prepare_execs(struct pnd_models *ms, struct pnd_model *m, struct pn_err *e)
{
	struct prep_run p = { .ms = ms, .m = m, .lock = PTHREAD_MUTEX_INITIALIZER };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t nt = ms->nexec < (ncpu > 0 ? (uint32_t)ncpu : 1) ? ms->nexec :
		      (ncpu > 0 ? (uint32_t)ncpu : 1);
	pthread_t th[64];
	uint32_t started = 0;
	cpu_set_t own;
	int r;

	m->pre_ex = calloc(ms->nexec ? ms->nexec : 1, sizeof(*m->pre_ex));
	if (!m->pre_ex)
		return pn_errf(e, -ENOMEM, "out of memory");
	m->n_pre_ex = ms->nexec;
	/* placement here, on one thread: libnuma fills its masks lazily, unsafely */
	if (ms->pin && ms->nexec && !pthread_getaffinity_np(pthread_self(), sizeof(own), &own)) {
		p.cpu = calloc(ms->nexec, sizeof(int));
		p.node = calloc(ms->nexec, sizeof(int));
		for (uint32_t i = 0; p.cpu && p.node && i < ms->nexec; i++) {
			p.cpu[i] = pnd_worker_cpu(i, ms->nworkers, numa_num_configured_cpus());
			p.node[i] = numa_available() >= 0 ? numa_node_of_cpu(p.cpu[i]) : -1;
		}
		if (!p.cpu || !p.node) {	/* unplaced is slower, not wrong */
			free(p.cpu);
			free(p.node);
			p.cpu = p.node = NULL;
		}
	}
	atomic_init(&p.next, 0);
	atomic_init(&p.r, 0);
	if (nt > 64)
		nt = 64;
	for (uint32_t i = 1; i < nt; i++)
		if (!pthread_create(&th[started], NULL, prep_thread, &p))
			started++;
	prep_thread(&p);	/* this thread too: with no helper thread it does all */
	for (uint32_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (p.cpu) {	/* this thread is the loop's: back where it was */
		pthread_setaffinity_np(pthread_self(), sizeof(own), &own);
		numa_set_localalloc();
	}
	free(p.cpu);
	free(p.node);
	pthread_mutex_destroy(&p.lock);
	r = atomic_load(&p.r);
	if (r)
		*e = p.err;
	return r;
}

int pnd_model_open(struct pnd_models *ms, struct pn_region *region, void *map, size_t size,
		   const char *what, bool transient, struct pnd_model **out, struct pn_err *e)
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
	m->transient = transient;
	/* keyed by the bytes: one live model per content hash (load_finish) */
	if (!transient)
		snprintf(m->derived_name, sizeof(m->derived_name), "%s.x%016" PRIx64,
			 ms->state_prefix, m->m->file.content_hash);
	atomic_init(&m->refs, 1);
	pthread_mutex_init(&m->stat_lock, NULL);
	pnd_hist_init(&m->lat_hist, PND_HIST_LATENCY);
	pnd_hist_init(&m->rows_hist, PND_HIST_ROWS);
	*out = m;
	return 0;
}

/*
 * A decoder's generation context (gen_sched.h). A decoder the backend cannot
 * run still loads (PN_OP_RUN scores prompts) and PN_OP_GENERATE is refused
 * -EOPNOTSUPP, with this logged once.
 */
static int prepare_gen(struct pnd_models *ms, struct pnd_model *m, struct pn_err *e)
{
	struct pn_err ge;
	int r = pnd_gen_new(&ms->work->gens, ms->ops, ms->be, m, &ge);

	if (r == -ENOEXEC)
		return 0;	/* not a decoder */
	if (r == -EOPNOTSUPP) {
		pnd_log("%s", ge.msg);
		return 0;
	}
	if (r)
		*e = ge;
	return r;
}

int pnd_model_prepare(struct pnd_models *ms, struct pnd_model *m, struct pn_err *e)
{
	int r = ms->ops->prepare_model(ms->be, m, &m->bm, e);

	if (!r)
		r = prepare_execs(ms, m, e);
	return r ? r : prepare_gen(ms, m, e);
}

int pnd_model_new(struct pnd_models *ms, struct pn_region *region, void *map, size_t size,
		  const char *what, bool transient, struct pnd_model **out, struct pn_err *e)
{
	struct pnd_model *m;
	int r = pnd_model_open(ms, region, map, size, what, transient, &m, e);

	if (r)
		return r;
	r = pnd_model_prepare(ms, m, e);
	if (r) {
		/* the caller keeps the region and the mapping */
		m->region = NULL;
		m->map = NULL;
		pnd_model_free(m);
		return r;
	}
	*out = m;
	return 0;
}

int pnd_model_insert_locked(struct pnd_models *ms, struct pnd_model *m, uint32_t id,
			    struct pn_err *e)
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

bool pnd_model_holds_locked(const struct pnd_model *m, uint32_t uid)
{
	for (uint32_t i = 0; i < m->n_holders; i++)
		if (m->holders[i] == uid)
			return true;
	return false;
}

bool pnd_model_visible_locked(const struct pnd_model *m, const struct pnd_caller *who)
{
	return !atomic_load(&m->gone) &&
	       (who->admin || m->public || pnd_model_holds_locked(m, who->uid));
}

int pnd_models_init(struct pnd_models *ms, struct pn_err *e)
{
	int r;

	if (!ms->max_models || ms->max_models > PND_MAX_MODELS)
		ms->max_models = PND_MAX_MODELS;
	r = pnd_index_open(ms, e);
	if (!r)
		pnd_index_reattach(ms);
	return r;
}

void pnd_models_fini(struct pnd_models *ms)
{
	/* persistent regions stay: the next daemon reattaches them */
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *m = ms->tab[i];

		if (!m)
			continue;
		ms->tab[i] = NULL;
		if (!m->transient)	/* keep the regions: not destroyed */
			m->region_name[0] = m->derived_name[0] = '\0';
		pnd_model_put(m);
	}
	pnd_index_close(ms);
}

struct pnd_model *pnd_model_get_id(struct pnd_models *ms, const struct pnd_caller *who,
				   uint32_t id)
{
	struct pnd_model *m = NULL;

	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS && !m; i++)
		if (ms->tab[i] && ms->tab[i]->id == id &&
		    pnd_model_visible_locked(ms->tab[i], who))
			m = ms->tab[i];
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&ms->lock);
	return m;
}

/* By name: the caller's own model, else a public one (at most one each, see model_load.c). */
static struct pnd_model *find_name_locked(struct pnd_models *ms, uint32_t uid, const char *name)
{
	struct pnd_model *pub = NULL;

	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *c = ms->tab[i];

		if (!c || atomic_load(&c->gone) || strcmp(pnd_model_name(c), name))
			continue;
		if (pnd_model_holds_locked(c, uid))
			return c;
		if (c->public && !pub)
			pub = c;
	}
	return pub;
}

struct pnd_model *pnd_model_find(struct pnd_models *ms, const struct pnd_caller *who,
				 const struct pn_model_ref *ref, struct pn_err *e)
{
	struct pnd_model *m;

	if (ref->id)
		m = pnd_model_get_id(ms, who, ref->id);
	else {
		pthread_mutex_lock(&ms->lock);
		m = find_name_locked(ms, who->uid, ref->name);
		if (m)
			atomic_fetch_add(&m->refs, 1);
		pthread_mutex_unlock(&ms->lock);
	}
	if (!m) {
		/* the same words whether it exists for another tenant or not at all */
		if (ref->id)
			pn_errf(e, -ENOENT, "model id %u: not loaded", ref->id);
		else
			pn_errf(e, -ENOENT, "model '%s': not loaded (by uid %u, or public)",
				ref->name, who->uid);
	}
	return m;
}

void pnd_model_desc(const struct pnd_model *m, struct pn_model_desc *o)
{
	memset(o, 0, sizeof(*o));
	o->id = m->id;
	o->flags = (m->reattached ? PN_MODEL_F_REATTACHED : 0) | (m->public ? PN_MODEL_F_PUBLIC : 0) |
		   (m->decoder ? PN_MODEL_F_DECODER : 0);
	o->out_width = m->m->out_width;
	o->out_layout = m->m->out_layout;
	o->max_tokens = m->m->max_tokens;
	o->max_batch = m->max_batch;
	o->content_hash = m->m->file.content_hash;
	o->size = m->size;
	o->vocab = m->vocab;
	snprintf(o->name, sizeof(o->name), "%s", pnd_model_name(m));
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
	pnd_hist_add(&m->lat_hist, (uint64_t)(lat_us * 1e3));
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

int pnd_unload(struct pnd_models *ms, const struct pnd_caller *who,
	       const struct pn_model_ref *ref, struct pn_err *e)
{
	struct pnd_model *m = pnd_model_find(ms, who, ref, e);
	bool held = false, last;

	if (!m)
		return -ENOENT;
	pthread_mutex_lock(&ms->lock);
	for (uint32_t i = 0; i < m->n_holders; i++) {
		if (m->holders[i] == who->uid) {
			held = true;
			m->holders[i] = m->holders[--m->n_holders];
			atomic_fetch_add(&m->holders_gen, 1);
			break;
		}
	}
	if (!held && !who->admin) {
		pthread_mutex_unlock(&ms->lock);
		pnd_model_put(m);
		return pn_errf(e, -EPERM, "model %u '%s': public, loaded by another tenant: "
			       "only its loaders or the admin may unload it", m->id,
			       pnd_model_name(m));
	}
	if (who->admin && !held)
		m->n_holders = 0;
	last = !m->n_holders;
	if (last) {
		atomic_store(&m->gone, true);
		ms->tab[m->slot] = NULL;
		pnd_work_models_changed(ms->work);
		pnd_work_forget_model(ms->work, m->id);
	}
	pnd_index_update_locked(ms, m, NULL);
	pthread_mutex_unlock(&ms->lock);
	if (last) {
		/* the names go now; the memory when the last executor lets go */
		pnd_model_destroy_names(m);
		/* sleeping workers wake to drop their executors of it */
		pnd_work_wake(ms->work);
		pnd_log("model %u '%s' unloaded by uid %u", m->id, pnd_model_name(m), who->uid);
		pnd_model_put(m);	/* the table's reference */
	}
	pnd_model_put(m);
	return 0;
}
