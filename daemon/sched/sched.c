// SPDX-License-Identifier: MIT
/*
 * sched.c - the scheduler's front: configuration, the tenant and model tables, the
 * job pool, quotas and admission at submit, pick (realtime first, then DRR classes),
 * complete, cancel and dropping a session. The policies live in sched_edf.c,
 * sched_batch.c and sched_drr.c; estimates in sched_est.c. Contract in sched.h.
 *
 * Every table is sized at create: the submit/pick/complete path never allocates.
 * Tenant and model ids map to slots through open-addressing hash tables. Slots are
 * reused: a model's when the daemon forgets it (pn_sched_forget_model) and its last
 * job has left; a tenant's when the table is full and a new id needs one, taken from
 * a tenant with nothing queued or running that the admin map never configured (a
 * daemon meets an unbounded stream of model ids and uids over its life).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void pn_sched_config_default(struct pn_sched_config *c)
{
	*c = (struct pn_sched_config){
		.max_jobs = 4096,
		.max_tenants = 256,
		.max_models = 64,
		.nworkers = 1,
		.rt_reserve = 0,
		.quantum_ns = 1000000,
		.default_service_ns = 1000000,
		.default_weight = 1,
		.default_max_inflight = 1024,
		.default_max_arena = 1ull << 30,
		.default_max_batch = 8,
		.default_max_delay_ns = 1000000,
		.rt_max_horizon_ns = 10000000000ull,
		.default_rt_permille = 250,
		.rt_window_ns = 1000000000ull,
	};
}

/* --- hashing ------------------------------------------------------------ */

static uint32_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/*
 * The id -> slot tables hold slot + 1 (0 = empty bucket), linear probing; at most half
 * full, so a probe ends quickly. Each probe returns the slot holding id, or SCHED_NIL
 * with *bucket the empty bucket where it would go.
 */
static uint32_t probe_tenant(const struct pn_sched *s, uint32_t id, uint32_t *bucket)
{
	for (uint32_t i = mix64(id) & s->tenant_mask;; i = (i + 1) & s->tenant_mask) {
		uint32_t v = s->tenant_hash[i];

		if (!v || s->tenants[v - 1].id == id) {
			*bucket = i;
			return v ? v - 1 : SCHED_NIL;
		}
	}
}

static uint32_t probe_model(const struct pn_sched *s, uint32_t id, uint32_t *bucket)
{
	for (uint32_t i = mix64(id) & s->model_mask;; i = (i + 1) & s->model_mask) {
		uint32_t v = s->model_hash[i];

		if (!v || s->models[v - 1].id == id) {
			*bucket = i;
			return v ? v - 1 : SCHED_NIL;
		}
	}
}

/*
 * Deletes bucket i of a linear-probing table: later entries of the same probe run
 * shift back into the hole (no tombstones, so probes stay short after many frees).
 */
static void hash_delete(uint32_t *hash, uint32_t mask, uint32_t i,
			uint32_t (*id_of)(const struct pn_sched *, uint32_t),
			const struct pn_sched *s)
{
	for (uint32_t j = (i + 1) & mask; hash[j]; j = (j + 1) & mask) {
		uint32_t home = mix64(id_of(s, hash[j] - 1)) & mask;

		/* it may fill the hole only if its home is not in (i, j] cyclically */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		hash[i] = hash[j];
		i = j;
	}
	hash[i] = 0;
}

static uint32_t tenant_id_of(const struct pn_sched *s, uint32_t slot)
{
	return s->tenants[slot].id;
}

static uint32_t model_id_of(const struct pn_sched *s, uint32_t slot)
{
	return s->models[slot].id;
}

/* An idle tenant the admin map never configured, out of the hash; SCHED_NIL if none. */
static uint32_t tenant_reclaim(struct pn_sched *s)
{
	for (uint32_t i = 0; i < s->ntenants; i++) {
		struct sched_tenant *t = &s->tenants[i];
		uint32_t bucket;

		/*
		 * Debts (DRR, realtime) go with the slot: an idle tenant never repays
		 * them, so keeping such slots would fill the table again.
		 */
		if (t->configured || t->inflight)
			continue;
		probe_tenant(s, t->id, &bucket);
		hash_delete(s->tenant_hash, s->tenant_mask, bucket, tenant_id_of, s);
		return i;
	}
	return SCHED_NIL;
}

/* The realtime bucket's size: rt_window_ns of refill at permille. */
static int64_t rt_cap(const struct pn_sched *s, uint32_t permille)
{
	return (int64_t)(s->c.rt_window_ns / 1000 * permille);
}

/*
 * The tenant's slot, made with the defaults on first sight (reclaiming an idle one when
 * the table is full); SCHED_NIL if every slot is busy or configured.
 */
static uint32_t tenant_slot(struct pn_sched *s, uint32_t id)
{
	uint32_t bucket, slot = probe_tenant(s, id, &bucket);
	struct sched_tenant *t;

	if (slot != SCHED_NIL)
		return slot;
	if (s->ntenants < s->c.max_tenants) {
		slot = s->ntenants++;
	} else {
		slot = tenant_reclaim(s);
		if (slot == SCHED_NIL)
			return SCHED_NIL;
		probe_tenant(s, id, &bucket);	/* the delete may have moved the hole */
	}
	s->tenant_hash[bucket] = slot + 1;
	t = &s->tenants[slot];
	*t = (struct sched_tenant){
		.id = id,
		.weight = s->c.default_weight,
		.max_inflight = s->c.default_max_inflight,
		.max_arena = s->c.default_max_arena,
		.rt_permille = s->c.default_rt_permille,
		.rt_tokens = rt_cap(s, s->c.default_rt_permille),
		.rt_last_ns = 0,
	};
	for (uint32_t k = 0; k < SCHED_NDRR; k++) {
		sched_list_init(&t->tc[k].ready);
		sched_list_init(&t->tc[k].ring);
		t->tc[k].tenant = slot;
	}
	return slot;
}

uint32_t sched_model_slot(struct pn_sched *s, uint32_t id)
{
	uint32_t bucket, slot = probe_model(s, id, &bucket);
	struct sched_model *m;

	if (slot != SCHED_NIL)
		return slot;
	if (s->model_free != SCHED_NIL) {
		slot = s->model_free;
		s->model_free = s->models[slot].next_free;
	} else if (s->nmodels < s->c.max_models) {
		slot = s->nmodels++;
	} else {
		return SCHED_NIL;
	}
	s->model_hash[bucket] = slot + 1;
	m = &s->models[slot];
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->max_batch = s->c.default_max_batch;
	m->max_delay_ns = s->c.default_max_delay_ns;
	return slot;
}

static void model_free_slot(struct pn_sched *s, uint32_t slot)
{
	s->models[slot].next_free = s->model_free;
	s->model_free = slot;
}

int pn_sched_forget_model(struct pn_sched *s, uint32_t model)
{
	uint32_t bucket, slot = probe_model(s, model, &bucket);

	if (slot == SCHED_NIL)
		return -ENOENT;
	hash_delete(s->model_hash, s->model_mask, bucket, model_id_of, s);
	s->models[slot].gone = true;
	/* queued jobs still run (the daemon fails them); the slot goes with the last */
	if (!s->models[slot].jobs)
		model_free_slot(s, slot);
	return 0;
}

/* --- the job pool and its (session, id) index ---------------------------- */

static uint32_t *id_bucket(struct pn_sched *s, uint32_t session, uint64_t id)
{
	return &s->id_hash[mix64(id * 0x9e3779b97f4a7c15ull ^ session) & s->id_mask];
}

static struct sched_job *job_find(struct pn_sched *s, uint32_t session, uint64_t id)
{
	for (uint32_t i = *id_bucket(s, session, id); i != SCHED_NIL; i = s->jobs[i].next) {
		struct sched_job *j = &s->jobs[i];

		if (j->d.session == session && j->d.id == id)
			return j;
	}
	return NULL;
}

void sched_job_release(struct pn_sched *s, struct sched_job *j)
{
	uint32_t slot = (uint32_t)(j - s->jobs);
	uint32_t *p = id_bucket(s, j->d.session, j->d.id);

	while (*p != slot)
		p = &s->jobs[*p].next;
	*p = j->next;
	if (!--s->models[j->model].jobs && s->models[j->model].gone)
		model_free_slot(s, j->model);
	j->state = JOB_FREE;
	j->next = s->free_head;
	s->free_head = slot;
}

/* --- create / destroy / admin (cold) ------------------------------------- */

void sched_flow_init(struct pn_sched *s, size_t i)
{
	struct sched_flow *f = &s->flows[i];
	uint32_t nm = s->c.max_models, nt = s->c.max_tenants;

	sched_list_init(&f->jobs);
	sched_list_init(&f->ready);
	f->wait.pos = SCHED_NIL;
	f->model = (uint32_t)(i % nm);
	f->tenant = (uint32_t)(i / nm % nt);
	f->klass = (uint32_t)(i / nm / nt) + 1;
	s->flow_used[i / 64] |= 1ull << (i % 64);
}

struct pn_sched *pn_sched_create(const struct pn_sched_config *c, struct pn_err *e)
{
	struct pn_sched *s;
	size_t nflows;

	if (!c->max_jobs || c->max_jobs > (1u << 24) || !c->max_tenants ||
	    c->max_tenants > (1u << 16) || !c->max_models || c->max_models > (1u << 16))
		return pn_errf(e, -EINVAL, "sched config: max_jobs %u (1..2^24), max_tenants %u "
			       "and max_models %u (1..65536) out of range", c->max_jobs,
			       c->max_tenants, c->max_models), NULL;
	nflows = (size_t)SCHED_NDRR * c->max_tenants * c->max_models;
	if (nflows > (1u << 22))
		return pn_errf(e, -EINVAL, "sched config: max_tenants %u x max_models %u needs "
			       "%zu flows, expected at most 2^22", c->max_tenants, c->max_models,
			       nflows), NULL;
	if (!c->nworkers || c->rt_reserve >= c->nworkers)
		return pn_errf(e, -EINVAL, "sched config: rt_reserve %u must be below nworkers %u",
			       c->rt_reserve, c->nworkers), NULL;
	if (!c->rt_max_horizon_ns || !c->rt_window_ns || c->rt_window_ns > (1ull << 40) ||
	    c->default_rt_permille > 1000u * c->nworkers)
		return pn_errf(e, -EINVAL, "sched config: rt_max_horizon_ns and rt_window_ns "
			       "(at most 2^40) must be > 0, default_rt_permille %u at most "
			       "1000 x nworkers (%u)", c->default_rt_permille, c->nworkers), NULL;
	if (!c->quantum_ns || !c->default_weight || !c->default_max_inflight ||
	    !c->default_max_batch || c->default_max_batch > PN_SCHED_BATCH_MAX)
		return pn_errf(e, -EINVAL, "sched config: quantum_ns, default_weight and "
			       "default_max_inflight must be > 0, default_max_batch 1..%d (got %u)",
			       PN_SCHED_BATCH_MAX, c->default_max_batch), NULL;

	s = calloc(1, sizeof(*s));
	if (!s)
		return pn_errf(e, -ENOMEM, "sched: out of memory"), NULL;
	s->c = *c;
	s->id_mask = pow2_at_least(c->max_jobs) - 1;
	s->tenant_mask = pow2_at_least(2 * c->max_tenants) - 1;
	s->model_mask = pow2_at_least(2 * c->max_models) - 1;
	s->model_free = SCHED_NIL;
	s->jobs = calloc(c->max_jobs, sizeof(*s->jobs));
	s->id_hash = malloc(((size_t)s->id_mask + 1) * sizeof(*s->id_hash));
	s->tenants = calloc(c->max_tenants, sizeof(*s->tenants));
	s->tenant_hash = calloc((size_t)s->tenant_mask + 1, sizeof(*s->tenant_hash));
	s->models = calloc(c->max_models, sizeof(*s->models));
	s->model_hash = calloc((size_t)s->model_mask + 1, sizeof(*s->model_hash));
	s->flows = calloc(nflows, sizeof(*s->flows));
	s->flow_used = calloc((nflows + 63) / 64, sizeof(*s->flow_used));
	if (!s->jobs || !s->id_hash || !s->tenants || !s->tenant_hash || !s->models ||
	    !s->model_hash || !s->flows || !s->flow_used || sched_heap_init(&s->edf, c->max_jobs) ||
	    sched_heap_init(&s->drr[0].release, (uint32_t)(nflows / 2)) ||
	    sched_heap_init(&s->drr[1].release, (uint32_t)(nflows / 2))) {
		pn_sched_destroy(s);
		return pn_errf(e, -ENOMEM, "sched: out of memory for %u jobs, %zu flows",
			       c->max_jobs, nflows), NULL;
	}
	memset(s->id_hash, 0xff, ((size_t)s->id_mask + 1) * sizeof(*s->id_hash));
	for (uint32_t i = 0; i < c->max_jobs; i++) {
		s->jobs[i].next = i + 1 < c->max_jobs ? i + 1 : SCHED_NIL;
		s->jobs[i].edf.pos = SCHED_NIL;
		sched_list_init(&s->jobs[i].link);
	}
	for (uint32_t k = 0; k < SCHED_NDRR; k++)
		sched_list_init(&s->drr[k].ring);
	return s;
}

void pn_sched_destroy(struct pn_sched *s)
{
	if (!s)
		return;
	sched_heap_free(&s->edf);
	sched_heap_free(&s->drr[0].release);
	sched_heap_free(&s->drr[1].release);
	free(s->flows);
	free(s->flow_used);
	free(s->model_hash);
	free(s->models);
	free(s->tenant_hash);
	free(s->tenants);
	free(s->id_hash);
	free(s->jobs);
	free(s);
}

int pn_sched_set_tenant_weight(struct pn_sched *s, uint32_t tenant, uint32_t weight)
{
	uint32_t t;

	if (!weight)
		return -EINVAL;
	t = tenant_slot(s, tenant);
	if (t == SCHED_NIL)
		return -ENOSPC;
	s->tenants[t].weight = weight;	/* from the tenant's next turn on */
	s->tenants[t].configured = true;
	return 0;
}

int pn_sched_set_tenant_quota(struct pn_sched *s, uint32_t tenant, uint32_t max_inflight,
			      uint64_t max_arena)
{
	uint32_t t = tenant_slot(s, tenant);

	if (t == SCHED_NIL)
		return -ENOSPC;
	s->tenants[t].configured = true;
	if (max_inflight)
		s->tenants[t].max_inflight = max_inflight;
	if (max_arena)
		s->tenants[t].max_arena = max_arena;
	return 0;
}

int pn_sched_set_tenant_rt(struct pn_sched *s, uint32_t tenant, uint32_t rt_permille)
{
	uint32_t t;

	if (rt_permille > 1000u * s->c.nworkers)
		return -EINVAL;
	t = tenant_slot(s, tenant);
	if (t == SCHED_NIL)
		return -ENOSPC;
	s->tenants[t].configured = true;
	s->tenants[t].rt_permille = rt_permille;
	if (s->tenants[t].rt_tokens > rt_cap(s, rt_permille))
		s->tenants[t].rt_tokens = rt_cap(s, rt_permille);
	return 0;
}

int pn_sched_set_default_rt(struct pn_sched *s, uint32_t rt_permille)
{
	if (rt_permille > 1000u * s->c.nworkers)
		return -EINVAL;
	s->c.default_rt_permille = rt_permille;
	return 0;
}

int pn_sched_set_model(struct pn_sched *s, uint32_t model, uint32_t max_batch,
		       uint64_t max_delay_ns)
{
	uint32_t m;

	if (!max_batch || max_batch > PN_SCHED_BATCH_MAX)
		return -EINVAL;
	m = sched_model_slot(s, model);
	if (m == SCHED_NIL)
		return -ENOSPC;
	/* Flows already waiting keep their due time; new ones use these. */
	s->models[m].max_batch = max_batch;
	s->models[m].max_delay_ns = max_delay_ns;
	return 0;
}

/* --- hot path: submit, pick, complete ------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/*
 * Can the job finish by its deadline? Realtime: it runs after the queued realtime jobs
 * with a deadline not later than its own and after the running realtime jobs (counted
 * whole, though partly done: conservative), spread over the workers that only realtime
 * may use (rt_reserve + rt_workers, at least 1). Other classes: the service estimate alone.
 */
static bool feasible(const struct pn_sched *s, const struct pn_sched_job_desc *d,
		     const struct sched_model *m, uint64_t now)
{
	uint64_t done = sat_add(now, sched_est_bound(s, m, 1));

	if (d->klass == PN_SCHED_REALTIME) {
		uint64_t ahead = sched_edf_work_before(s, d->deadline_ns) + s->rt_running_est;

		uint32_t rt = s->c.rt_reserve + s->c.rt_workers;

		done = sat_add(done, ahead / (rt ? rt : 1));
	}
	return done <= d->deadline_ns;
}

/*
 * Refills the tenant's realtime bucket to now and takes cost from it; false (nothing
 * taken) when the budget does not cover cost. Time before rt_last_ns (a caller's
 * clocks read out of order under the lock) refills nothing.
 */
static bool rt_take(const struct pn_sched *s, struct sched_tenant *t, uint64_t now,
		    uint64_t cost)
{
	int64_t cap = rt_cap(s, t->rt_permille);

	if (now > t->rt_last_ns) {
		uint64_t dt = now - t->rt_last_ns;

		if (dt > s->c.rt_window_ns)
			dt = s->c.rt_window_ns;	/* a full bucket's worth at most */
		t->rt_tokens += (int64_t)(dt / 1000 * t->rt_permille);
		if (t->rt_tokens > cap)
			t->rt_tokens = cap;
		t->rt_last_ns = now;
	}
	if (!t->rt_permille || t->rt_tokens < (int64_t)cost)
		return false;
	t->rt_tokens -= (int64_t)cost;
	return true;
}

int pn_sched_submit(struct pn_sched *s, const struct pn_sched_job_desc *d, uint64_t now_ns)
{
	uint64_t rt_cost = 0;
	uint32_t ts, ms;
	struct sched_tenant *t;
	struct sched_job *j;
	uint32_t *bucket;

	if (d->klass >= PN_SCHED_NCLASS)
		return -EINVAL;
	/* a deadline already past is left to feasible(): PN_SCHED_EDEADLINE */
	if (d->klass == PN_SCHED_REALTIME && (!d->deadline_ns || (d->deadline_ns > now_ns &&
	    d->deadline_ns - now_ns > s->c.rt_max_horizon_ns)))
		return -EINVAL;
	ts = tenant_slot(s, d->tenant);
	ms = sched_model_slot(s, d->model);
	if (ts == SCHED_NIL || ms == SCHED_NIL)
		return -ENOSPC;
	if (job_find(s, d->session, d->id))
		return -EEXIST;
	t = &s->tenants[ts];
	if (t->inflight >= t->max_inflight || d->arena_bytes > t->max_arena ||
	    t->st.arena_bytes > t->max_arena - d->arena_bytes) {
		t->st.refused_quota++;
		return -EDQUOT;
	}
	if (d->deadline_ns && !feasible(s, d, &s->models[ms], now_ns)) {
		t->st.refused_deadline++;
		return PN_SCHED_EDEADLINE;
	}
	if (s->free_head == SCHED_NIL)
		return -EAGAIN;
	/* last: a refusal above must not spend the budget */
	if (d->klass == PN_SCHED_REALTIME) {
		rt_cost = sched_est_bound(s, &s->models[ms], 1);
		if (!rt_take(s, t, now_ns, rt_cost)) {
			t->st.refused_rt++;
			return -EDQUOT;
		}
	}

	j = &s->jobs[s->free_head];
	s->free_head = j->next;
	j->d = *d;
	j->submit_ns = now_ns;
	j->tenant = ts;
	j->model = ms;
	j->state = JOB_QUEUED;
	j->rt_charge = rt_cost;
	bucket = id_bucket(s, d->session, d->id);
	j->next = *bucket;
	*bucket = (uint32_t)(j - s->jobs);

	t->inflight++;
	s->models[ms].jobs++;
	t->st.arena_bytes += d->arena_bytes;
	t->st.queued[d->klass]++;
	t->st.submitted++;
	s->queued++;
	if (d->klass == PN_SCHED_REALTIME)
		sched_edf_push(s, j);
	else
		sched_batch_add(s, j, now_ns);
	return 0;
}

static void mark_running(struct pn_sched *s, const struct pn_sched_batch *b)
{
	for (uint32_t i = 0; i < b->n; i++) {
		struct sched_job *j = &s->jobs[b->slot[i]];
		struct sched_tenant *t = &s->tenants[j->tenant];

		j->state = JOB_RUNNING;
		t->st.queued[j->d.klass]--;
		t->st.running++;
	}
	s->queued -= b->n;
	s->running += b->n;
}

int pn_sched_pick_realtime(struct pn_sched *s, struct pn_sched_batch *b)
{
	struct sched_job *j = sched_edf_pop(s);

	if (!j)
		return 0;
	b->n = 1;
	b->model = j->d.model;
	b->klass = PN_SCHED_REALTIME;
	b->tenant = j->d.tenant;
	b->est_ns = sched_est_bound(s, &s->models[j->model], 1);
	b->job[0] = j->d;
	b->slot[0] = (uint32_t)(j - s->jobs);
	s->rt_running_est += b->est_ns;
	mark_running(s, b);
	return 1;
}

int pn_sched_pick(struct pn_sched *s, uint64_t now_ns, struct pn_sched_batch *b,
		  uint64_t *next_ns)
{
	if (pn_sched_pick_realtime(s, b))
		return 1;
	for (uint32_t k = PN_SCHED_INTERACTIVE; k <= PN_SCHED_BATCH; k++)
		sched_batch_release_due(s, k, now_ns);
	/* The reserve stays free for realtime work that may arrive while these run. */
	if (s->running_nonrt + s->c.rt_reserve >= s->c.nworkers) {
		if (next_ns)
			*next_ns = PN_SCHED_NEVER;
		return 0;
	}
	for (uint32_t k = PN_SCHED_INTERACTIVE; k <= PN_SCHED_BATCH; k++) {
		struct sched_flow *f = sched_drr_next(s, k);
		const struct sched_model *m;
		uint32_t n;

		if (!f)
			continue;
		m = &s->models[f->model];
		n = f->n < m->max_batch ? f->n : m->max_batch;
		b->est_ns = sched_est_mean(s, m, n);
		sched_drr_charge(s, k, f->tenant, b->est_ns);
		sched_batch_take(s, f, now_ns, b);
		b->model = m->id;
		b->klass = k;
		b->tenant = s->tenants[f->tenant].id;
		s->running_nonrt++;
		mark_running(s, b);
		return (int)b->n;
	}
	if (next_ns)
		*next_ns = sched_batch_next_due(s);
	return 0;
}

void pn_sched_complete(struct pn_sched *s, const struct pn_sched_batch *b, uint64_t service_ns)
{
	uint32_t ms, ts;

	PN_ASSERT(b->n >= 1 && b->n <= PN_SCHED_BATCH_MAX);
	ms = s->jobs[b->slot[0]].model;
	ts = s->jobs[b->slot[0]].tenant;
	/* before the jobs go: the last of a forgotten model frees its slot */
	if (service_ns && !s->models[ms].gone)
		sched_est_observe(&s->models[ms], b->n, service_ns);
	for (uint32_t i = 0; i < b->n; i++) {
		struct sched_job *j = &s->jobs[b->slot[i]];
		struct sched_tenant *t = &s->tenants[j->tenant];

		PN_ASSERT(j->state == JOB_RUNNING && j->model == ms);
		/* the budget pays what the job really took (an overrun is debt) */
		if (j->d.klass == PN_SCHED_REALTIME && service_ns)
			t->rt_tokens += (int64_t)j->rt_charge - (int64_t)(service_ns / b->n);
		t->inflight--;
		t->st.arena_bytes -= j->d.arena_bytes;
		t->st.running--;
		t->st.completed++;
		t->st.served_ns += service_ns / b->n;
		sched_job_release(s, j);
	}
	s->running -= b->n;
	if (b->klass == PN_SCHED_REALTIME)
		s->rt_running_est -= b->est_ns;
	else
		s->running_nonrt--;
	/* DRR pays measured time: the estimate does not see a job's token count */
	if (b->klass != PN_SCHED_REALTIME && service_ns)
		sched_drr_settle(s, b->klass, ts, (int64_t)service_ns - (int64_t)b->est_ns);
}

/* --- cancel, drop (cold) --------------------------------------------------- */

static void dequeue(struct pn_sched *s, struct sched_job *j)
{
	struct sched_tenant *t = &s->tenants[j->tenant];

	if (j->d.klass == PN_SCHED_REALTIME)
		sched_edf_remove(s, j);
	else
		sched_batch_remove(s, j);
	t->inflight--;
	t->st.arena_bytes -= j->d.arena_bytes;
	t->st.queued[j->d.klass]--;
	t->st.cancelled++;
	/* never ran: the budget comes back */
	t->rt_tokens += (int64_t)j->rt_charge;
	if (t->rt_tokens > rt_cap(s, t->rt_permille))
		t->rt_tokens = rt_cap(s, t->rt_permille);
	s->queued--;
	sched_job_release(s, j);
}

int pn_sched_cancel(struct pn_sched *s, uint32_t session, uint64_t id,
		    struct pn_sched_job_desc *out)
{
	struct sched_job *j = job_find(s, session, id);

	if (!j)
		return -ENOENT;
	if (j->state == JOB_RUNNING)
		return -EBUSY;
	if (out)
		*out = j->d;
	dequeue(s, j);
	return 0;
}

uint32_t pn_sched_drop_session(struct pn_sched *s, uint32_t session,
			       void (*fn)(void *arg, const struct pn_sched_job_desc *d),
			       void *arg, uint32_t *running)
{
	uint32_t dropped = 0, busy = 0;

	for (uint32_t i = 0; i < s->c.max_jobs; i++) {
		struct sched_job *j = &s->jobs[i];

		if (j->state == JOB_FREE || j->d.session != session)
			continue;
		if (j->state == JOB_RUNNING) {
			busy++;
			continue;
		}
		if (fn)
			fn(arg, &j->d);
		dequeue(s, j);
		dropped++;
	}
	if (running)
		*running = busy;
	return dropped;
}

/* --- estimates and statistics -------------------------------------------- */

void pn_sched_observe(struct pn_sched *s, uint32_t model, uint32_t n, uint64_t service_ns)
{
	uint32_t m = sched_model_slot(s, model);

	if (m != SCHED_NIL && n >= 1 && n <= PN_SCHED_BATCH_MAX)
		sched_est_observe(&s->models[m], n, service_ns);
}

uint64_t pn_sched_estimate(const struct pn_sched *s, uint32_t model, uint32_t n)
{
	uint32_t bucket, m = probe_model(s, model, &bucket);

	if (n < 1 || n > PN_SCHED_BATCH_MAX)
		return 0;
	return m == SCHED_NIL ? s->c.default_service_ns * n : sched_est_bound(s, &s->models[m], n);
}

int pn_sched_tenant_stat(const struct pn_sched *s, uint32_t tenant,
			 struct pn_sched_tenant_stat *st)
{
	uint32_t bucket, t = probe_tenant(s, tenant, &bucket);

	if (t == SCHED_NIL)
		return -ENOENT;
	*st = s->tenants[t].st;
	st->weight = s->tenants[t].weight;
	return 0;
}

void pn_sched_depth(const struct pn_sched *s, uint32_t *queued, uint32_t *running)
{
	*queued = s->queued;
	*running = s->running;
}
