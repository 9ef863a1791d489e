// SPDX-License-Identifier: MIT
/*
 * gen_sched.c - continuous batching of generations (gen_sched.h): a context
 * per decoder model, its wait queue and slots, and the one unit a worker
 * runs at a time (a prefill or a decode step of every ready session).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen/sample.h"
#include "gen_sched.h"
#include "text/tok_bpe.h"

/* A slot's job while it decodes (the owner's). */
struct gen_seq {
	struct pnd_job *j;		/* NULL: the slot is free */
	struct pn_sampler smp;
	int32_t *out;			/* the job's output ids, in its arena */
	uint32_t max_tokens, every;
	uint32_t n_out;			/* tokens written to out */
	uint32_t n_sent;		/* of them, covered by token CQEs */
	int32_t next;			/* the last token written: the next step's input */
	int32_t last_sent;		/* the last token a CQE covered (out[] is the client's) */
	bool done, eos, stalled;
	uint64_t t_start_ns;
};

struct pnd_gen {
	struct pnd_gens *gs;
	struct pnd_model *m;		/* its model (no reference: it owns us) */
	const struct pnd_backend_ops *ops;
	struct pnd_backend_gen *bg;
	uint32_t n_slots, vocab, ctx, slot_idx;
	atomic_flag owner;		/* a worker runs a unit */
	pthread_mutex_t lock;		/* the wait queue, busy */
	struct pnd_job *wait_head, *wait_tail;
	atomic_uint n_wait;		/* written under lock */
	atomic_bool purge;		/* pnd_gen_poke: look through the wait queue */
	atomic_bool busy;		/* written under lock: counted in gs->busy */
	/* the owner's */
	struct gen_seq *seq;		/* [n_slots] */
	uint32_t *act, n_act;		/* slots decoding, in no order */
	uint32_t *free, n_free;		/* free slots, a stack */
	bool prefill_turn;		/* a step ran last: a waiting job may join now */
	uint32_t *st_slots, *st_act;	/* [n_slots] a step's slots, and their act index */
	int32_t *st_ids, *prompt;	/* [n_slots] the step's ids; [ctx] a prompt's copy */
	float *logits;			/* [n_slots, vocab] */
	void *scratch;			/* the sampler's */
	/* counters (relaxed: statistics only) */
	_Atomic uint64_t jobs, tokens, prefills, steps, step_seqs, max_step, cancelled, dropped,
		stalls, errors;
	atomic_uint slots_used;
	struct pnd_hist step_hist;
};

#define ADD(c, v) atomic_fetch_add_explicit(&(c), (v), memory_order_relaxed)

void pnd_gens_init(struct pnd_gens *gs, uint32_t n_slots)
{
	pthread_mutex_init(&gs->lock, NULL);
	memset(gs->tab, 0, sizeof(gs->tab));
	gs->rr = 0;
	atomic_init(&gs->busy, 0);
	gs->n_slots = n_slots;
}

void pnd_gens_fini(struct pnd_gens *gs)
{
	pthread_mutex_destroy(&gs->lock);
}

/* A decoder's graph has attn_cache nodes (the backend checks the rest). */
static bool is_decoder(const struct pn_model *m)
{
	for (uint32_t i = 0; i < m->file.n_nodes; i++)
		if (m->file.nodes[i].op == PNB_OP_ATTN_CACHE)
			return true;
	return false;
}

static const char *model_name(const struct pnd_model *m)
{
	return pnb_str(&m->m->file, m->m->file.hdr->name);
}

static void gen_release(struct pnd_gen *g)
{
	if (g->bg)
		g->ops->gen_free(g->bg);
	free(g->seq);
	free(g->act);
	free(g->free);
	free(g->st_slots);
	free(g->st_act);
	free(g->st_ids);
	free(g->prompt);
	free(g->logits);
	free(g->scratch);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

int pnd_gen_new(struct pnd_gens *gs, const struct pnd_backend_ops *ops, struct pnd_backend *be,
		struct pnd_model *m, struct pn_err *e)
{
	uint32_t n = gs->n_slots;
	struct pnd_gen *g;
	int r;

	m->decoder = is_decoder(m->m);
	if (!m->decoder)
		return pn_errf(e, -ENOEXEC, "model '%s': not a causal decoder", model_name(m));
	if (!ops->gen_new)
		return pn_errf(e, -EOPNOTSUPP, "model '%s': a decoder, and the %s backend runs "
			       "no decoder: PN_OP_GENERATE is refused", model_name(m), ops->name);
	g = calloc(1, sizeof(*g));
	if (!g)
		return pn_errf(e, -ENOMEM, "model '%s': out of memory", model_name(m));
	pthread_mutex_init(&g->lock, NULL);
	atomic_flag_clear(&g->owner);
	g->gs = gs;
	g->m = m;
	g->ops = ops;
	g->n_slots = n;
	g->vocab = m->vocab;
	g->ctx = m->m->max_tokens;
	pnd_hist_init(&g->step_hist, PND_HIST_ROWS);
	g->seq = calloc(n, sizeof(*g->seq));
	g->act = calloc(n, sizeof(uint32_t));
	g->free = calloc(n, sizeof(uint32_t));
	g->st_slots = calloc(n, sizeof(uint32_t));
	g->st_act = calloc(n, sizeof(uint32_t));
	g->st_ids = calloc(n, sizeof(int32_t));
	g->prompt = calloc(g->ctx ? g->ctx : 1, sizeof(int32_t));
	g->logits = calloc((size_t)n * g->vocab, sizeof(float));
	g->scratch = malloc(pn_sample_scratch(g->vocab));
	if (!g->seq || !g->act || !g->free || !g->st_slots || !g->st_act || !g->st_ids ||
	    !g->prompt || !g->logits || !g->scratch) {
		gen_release(g);
		return pn_errf(e, -ENOMEM, "model '%s': out of memory", model_name(m));
	}
	for (uint32_t i = 0; i < n; i++)
		g->free[i] = n - 1 - i;		/* slot 0 on top */
	g->n_free = n;
	r = ops->gen_new(be, m, m->bm, n, &g->bg, e);
	if (r) {
		gen_release(g);
		return r;
	}
	pthread_mutex_lock(&gs->lock);
	for (g->slot_idx = 0; g->slot_idx < PND_GEN_MAX && gs->tab[g->slot_idx]; g->slot_idx++)
		;
	if (g->slot_idx < PND_GEN_MAX)
		gs->tab[g->slot_idx] = g;
	pthread_mutex_unlock(&gs->lock);
	if (g->slot_idx == PND_GEN_MAX) {
		gen_release(g);
		return pn_errf(e, -ENOSPC, "model '%s': %u decoders are alive (unloaded ones "
			       "finishing their jobs included), the most polynetd runs",
			       model_name(m), PND_GEN_MAX);
	}
	m->gen = g;
	return 0;
}

void pnd_gen_free(struct pnd_gens *gs, struct pnd_gen *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&gs->lock);
	if (g->slot_idx < PND_GEN_MAX && gs->tab[g->slot_idx] == g)
		gs->tab[g->slot_idx] = NULL;
	pthread_mutex_unlock(&gs->lock);
	/* no job holds the model: nothing waits or decodes, no unit runs */
	gen_release(g);
}

/* busy tracks "a job waits or decodes" in gs->busy (g->lock held). */
static void set_busy_locked(struct pnd_gen *g, bool busy)
{
	if (busy == atomic_load_explicit(&g->busy, memory_order_relaxed))
		return;
	atomic_store_explicit(&g->busy, busy, memory_order_relaxed);
	if (busy)
		atomic_fetch_add(&g->gs->busy, 1);
	else
		atomic_fetch_sub(&g->gs->busy, 1);
}

void pnd_gen_submit(struct pnd_gen *g, struct pnd_job *j)
{
	j->gen_next = NULL;
	pthread_mutex_lock(&g->lock);
	if (g->wait_tail)
		g->wait_tail->gen_next = j;
	else
		g->wait_head = j;
	g->wait_tail = j;
	atomic_store_explicit(&g->n_wait, atomic_load(&g->n_wait) + 1, memory_order_relaxed);
	set_busy_locked(g, true);
	pthread_mutex_unlock(&g->lock);
}

static struct pnd_job *wait_pop(struct pnd_gen *g)
{
	struct pnd_job *j;

	pthread_mutex_lock(&g->lock);
	j = g->wait_head;
	if (j) {
		g->wait_head = j->gen_next;
		if (!g->wait_head)
			g->wait_tail = NULL;
		atomic_store_explicit(&g->n_wait, atomic_load(&g->n_wait) - 1,
				      memory_order_relaxed);
	}
	pthread_mutex_unlock(&g->lock);
	return j;
}

static uint32_t us_between(uint64_t a, uint64_t b)
{
	return b > a ? (uint32_t)((b - a) / 1000) : 0;
}

/* The last CQE of a job that never took a slot (cancelled or refused while waiting). */
static void end_waiting(struct pnd_gen *g, struct pnd_job *j, int res, uint64_t now)
{
	struct pn_cqe cqe = {
		.user_data = j->sqe.user_data, .res = res, .flags = PN_CQE_F_GEN,
		.queue_us = us_between(j->t_submit_ns, now), .gen = { .tokens = 0, .token = -1 },
	};

	if (res == -ECANCELED)	/* a cancel names its job; a dead session cancels its jobs */
		ADD(*(atomic_load(&j->cancel) ? &g->cancelled : &g->dropped), 1);
	else
		ADD(g->errors, 1);
	g->gs->host.end(g->gs->host.arg, j, &cqe);
}

void pnd_gen_poke(struct pnd_gen *g)
{
	atomic_store(&g->purge, true);
}

/* Ends the waiting jobs that were cancelled or lost their session (after a poke). */
static bool purge_waiting(struct pnd_gen *g, uint64_t now)
{
	const struct pnd_gen_host *h = &g->gs->host;
	struct pnd_job *gone = NULL, **pp, *j;
	uint32_t n = 0;

	if (!atomic_exchange(&g->purge, false))
		return false;
	pthread_mutex_lock(&g->lock);
	g->wait_tail = NULL;
	for (pp = &g->wait_head; (j = *pp);) {
		if (h->gone(h->arg, j)) {
			*pp = j->gen_next;
			j->gen_next = gone;
			gone = j;
			n++;
		} else {
			g->wait_tail = j;
			pp = &j->gen_next;
		}
	}
	atomic_store_explicit(&g->n_wait, atomic_load(&g->n_wait) - n, memory_order_relaxed);
	pthread_mutex_unlock(&g->lock);
	while ((j = gone)) {
		gone = j->gen_next;
		end_waiting(g, j, -ECANCELED, now);
	}
	return n > 0;
}

/* A slot's job ends with res: its last CQE goes, the slot is free (act[ai] leaves). */
static void end_seq(struct pnd_gen *g, uint32_t ai, int res, bool dead, uint64_t now)
{
	uint32_t slot = g->act[ai];
	struct gen_seq *q = &g->seq[slot];
	uint32_t tokens = q->every ? q->n_sent : q->n_out;
	struct pn_cqe cqe = {
		.user_data = q->j->sqe.user_data, .res = res,
		.flags = PN_CQE_F_GEN | (q->eos && !res ? PN_CQE_F_EOS : 0),
		.queue_us = us_between(q->j->t_submit_ns, q->t_start_ns),
		.run_us = us_between(q->t_start_ns, now),
		.gen = { .tokens = tokens, .token = !tokens ? -1 : q->every ? q->last_sent : q->next },
	};

	if (res == -ECANCELED)
		ADD(*(dead ? &g->dropped : &g->cancelled), 1);
	else if (res)
		ADD(g->errors, 1);
	g->gs->host.end(g->gs->host.arg, q->j, &cqe);
	q->j = NULL;
	g->act[ai] = g->act[--g->n_act];
	g->free[g->n_free++] = slot;
	atomic_fetch_sub_explicit(&g->slots_used, 1, memory_order_relaxed);
}

/*
 * The token CQE a job owes now, if any (stream_every reached, or done with
 * tokens unsent). Returns false when its CQ is full: the job stalls.
 */
static bool flush(struct pnd_gen *g, struct gen_seq *q, uint64_t now)
{
	uint32_t n = q->n_out - q->n_sent;
	struct pn_cqe cqe;

	if (!q->every || !n || (n < q->every && !q->done)) {
		q->stalled = false;
		return true;
	}
	cqe = (struct pn_cqe){
		.user_data = q->j->sqe.user_data, .res = (int32_t)n,
		.flags = PN_CQE_F_GEN | PN_CQE_F_MORE,
		.queue_us = us_between(q->j->t_submit_ns, q->t_start_ns),
		.run_us = us_between(q->t_start_ns, now),
		.gen = { .tokens = q->n_out, .token = q->next },
	};
	/* out[] was written before: the CQ's tail store publishes it (ring.c) */
	if (!g->gs->host.post_more(g->gs->host.arg, q->j, &cqe)) {
		if (!q->stalled)
			ADD(g->stalls, 1);
		q->stalled = true;
		return false;
	}
	q->n_sent = q->n_out;
	q->last_sent = q->next;
	q->stalled = false;
	return true;
}

/* A sampled token for act[ai]: written, streamed; the job ends when done and flushed. */
static void take_token(struct pnd_gen *g, uint32_t ai, int32_t t, uint64_t now)
{
	struct gen_seq *q = &g->seq[g->act[ai]];

	if (t == PN_BPE_EOS) {
		q->done = q->eos = true;
	} else {
		q->out[q->n_out++] = t;
		q->next = t;
		ADD(g->tokens, 1);
		q->done = q->n_out == q->max_tokens;
	}
	if (flush(g, q, now) && q->done)
		end_seq(g, ai, 0, false, now);
}

/* Ends cancelled jobs and those of dead sessions, retries stalled CQEs. */
static bool sweep(struct pnd_gen *g, uint64_t now, uint32_t *ready, bool *stalled)
{
	const struct pnd_gen_host *h = &g->gs->host;
	bool moved = false;

	*ready = 0;
	*stalled = false;
	for (uint32_t ai = 0; ai < g->n_act;) {
		struct gen_seq *q = &g->seq[g->act[ai]];
		int why = h->gone(h->arg, q->j);

		if (why) {
			/* a cancel names its job; a dead session cancels its jobs */
			end_seq(g, ai, why, !atomic_load(&q->j->cancel), now);
			moved = true;
			continue;	/* act[ai] is another job now */
		}
		if (q->stalled) {
			if (!flush(g, q, now)) {
				*stalled = true;
				ai++;
				continue;
			}
			moved = true;
			if (q->done) {
				end_seq(g, ai, 0, false, now);
				continue;
			}
		}
		(*ready)++;
		ai++;
	}
	return moved;
}

/* Copies the job's prompt out of the arena (the client may rewrite it) and checks its ids. */
static int prompt_copy(struct pnd_gen *g, const struct pnd_job *j)
{
	const uint8_t *in = j->arena + j->sqe.in_off + sizeof(struct pn_gen_args);
	uint32_t T = j->sqe.T;

	memcpy(g->prompt, in, (size_t)T * sizeof(int32_t));
	for (uint32_t t = 0; t < T; t++)
		if (g->prompt[t] < 0 || (uint32_t)g->prompt[t] >= g->vocab)
			return -EINVAL;
	return 0;
}

/* The oldest waiting job takes a slot and its prompt runs. false: none waited. */
static bool prefill_one(struct pnd_gen *g, uint64_t now)
{
	const struct pnd_gen_host *h = &g->gs->host;
	struct pnd_job *j;
	struct gen_seq *q;
	struct pn_err e;
	uint32_t slot, ai;
	int r;

	while ((j = wait_pop(g))) {
		r = h->gone(h->arg, j);
		if (!r)
			r = prompt_copy(g, j);
		if (!r)
			break;
		end_waiting(g, j, r, now);
		now = pnd_now_ns();
	}
	if (!j)
		return false;
	slot = g->free[--g->n_free];
	ai = g->n_act++;
	g->act[ai] = slot;
	atomic_fetch_add_explicit(&g->slots_used, 1, memory_order_relaxed);
	q = &g->seq[slot];
	*q = (struct gen_seq){
		.j = j, .out = (int32_t *)(j->arena + j->sqe.out_off),
		.max_tokens = j->gen.max_tokens, .every = j->gen.stream_every, .t_start_ns = now,
	};
	/* checked at submit (session_gen.c): it cannot fail */
	pn_sampler_init(&q->smp, j->gen.temperature, j->gen.top_p, j->gen.seed, NULL);
	ADD(g->jobs, 1);
	ADD(g->prefills, 1);
	r = g->ops->gen_prefill(g->bg, slot, g->prompt, j->sqe.T, g->logits, &e);
	now = pnd_now_ns();
	if (r) {
		pnd_log("model %u: prefill of %u tokens: %s", g->m->id, j->sqe.T, e.msg);
		end_seq(g, ai, r, false, now);
		return true;
	}
	take_token(g, ai, pn_sample(&q->smp, g->logits, g->vocab, g->scratch), now);
	return true;
}

/* One decode step of every ready job, in one backend call. */
static void step(struct pnd_gen *g)
{
	uint32_t n = 0, V = g->vocab;
	struct pn_err e;
	uint64_t now;
	int r;

	for (uint32_t ai = 0; ai < g->n_act; ai++) {
		struct gen_seq *q = &g->seq[g->act[ai]];

		if (q->stalled || q->done)
			continue;
		g->st_slots[n] = g->act[ai];
		g->st_act[n] = ai;
		g->st_ids[n] = q->next;
		n++;
	}
	r = g->ops->gen_step(g->bg, n, g->st_slots, g->st_ids, g->logits, &e);
	now = pnd_now_ns();
	ADD(g->steps, 1);
	ADD(g->step_seqs, n);
	if (n > atomic_load_explicit(&g->max_step, memory_order_relaxed))
		atomic_store_explicit(&g->max_step, n, memory_order_relaxed);
	pnd_hist_add(&g->step_hist, n);
	if (r)
		pnd_log("model %u: decode step of %u sessions: %s", g->m->id, n, e.msg);
	/*
	 * Backwards: a job that ends moves the last of act[] into its place,
	 * and every job after it in this step was already taken.
	 */
	for (uint32_t k = n; k-- > 0;) {
		uint32_t ai = g->st_act[k];

		if (r)
			end_seq(g, ai, r, false, now);
		else
			take_token(g, ai, pn_sample(&g->seq[g->st_slots[k]].smp,
						    g->logits + (size_t)k * V, V, g->scratch),
				   now);
	}
}

/* One unit (the owner). true: it got on. *stalled: jobs wait for their clients. */
static bool unit(struct pnd_gen *g, uint64_t now, bool *stalled)
{
	uint32_t ready;
	bool join, moved = purge_waiting(g, now);

	moved |= sweep(g, now, &ready, stalled);
	join = g->n_free && atomic_load_explicit(&g->n_wait, memory_order_relaxed);
	if (join && (!ready || g->prefill_turn)) {
		g->prefill_turn = false;
		if (prefill_one(g, now))
			return true;
		moved = true;	/* the jobs that waited were cancelled: they ended */
	}
	if (ready) {
		step(g);
		g->prefill_turn = true;
		return true;
	}
	return moved;
}

/* A reference to m unless its last one already went (kref_get_unless_zero). */
static bool model_get(struct pnd_model *m)
{
	int v = atomic_load(&m->refs);

	while (v > 0)
		if (atomic_compare_exchange_weak(&m->refs, &v, v + 1))
			return true;
	return false;
}

bool pnd_gens_run(struct pnd_gens *gs, uint64_t now_ns, uint64_t *poll_ns)
{
	struct pnd_gen *g = NULL;
	bool ran, stalled = false;

	if (!pnd_gens_busy(gs))
		return false;
	pthread_mutex_lock(&gs->lock);
	for (uint32_t i = 0; i < PND_GEN_MAX && !g; i++) {
		uint32_t k = (gs->rr + i) % PND_GEN_MAX;
		struct pnd_gen *c = gs->tab[k];

		if (!c || !atomic_load_explicit(&c->busy, memory_order_relaxed) ||
		    atomic_flag_test_and_set(&c->owner))
			continue;
		if (!model_get(c->m)) {
			atomic_flag_clear(&c->owner);
			continue;
		}
		g = c;
		gs->rr = k + 1;
	}
	pthread_mutex_unlock(&gs->lock);
	if (!g)
		return false;
	ran = unit(g, now_ns, &stalled);
	pthread_mutex_lock(&g->lock);
	set_busy_locked(g, g->n_act || g->wait_head);
	pthread_mutex_unlock(&g->lock);
	/* the owner flag orders this unit's state before the next owner's (acq/rel) */
	atomic_flag_clear(&g->owner);
	gs->host.model_put(gs->host.arg, g->m);
	if (!ran && stalled && now_ns + PND_GEN_POLL_NS < *poll_ns)
		*poll_ns = now_ns + PND_GEN_POLL_NS;
	return ran;
}

void pnd_gen_stat(const struct pnd_gen *g, struct pnd_gen_stat *st)
{
	struct pnd_gen *w = (struct pnd_gen *)g;	/* atomics are read, not written */

#define LD(c) atomic_load_explicit(&w->c, memory_order_relaxed)
	*st = (struct pnd_gen_stat){
		.slots = g->n_slots, .slots_used = LD(slots_used), .waiting = LD(n_wait),
		.jobs = LD(jobs), .tokens = LD(tokens), .prefills = LD(prefills),
		.steps = LD(steps), .step_seqs = LD(step_seqs), .max_step = LD(max_step),
		.cancelled = LD(cancelled), .dropped = LD(dropped), .stalls = LD(stalls),
		.errors = LD(errors),
	};
#undef LD
}

const struct pnd_hist *pnd_gen_step_hist(const struct pnd_gen *g)
{
	return &g->step_hist;
}
