/* SPDX-License-Identifier: MIT */
/*
 * gen_sched.h - continuous batching of generations (PN_OP_GENERATE, uapi/ring.h)
 * on causal decoders (gen_sched.c).
 *
 * One struct pnd_gen per decoder model, made at LOAD: the backend's
 * generation context (backend.h, gen_*: a KV cache of n_slots sequences of
 * the model's context and the executors over it), the jobs waiting for a
 * slot (FIFO) and the jobs decoding, one per slot. struct pnd_gens lists
 * them for the workers (worker.h embeds it in struct pnd_work).
 *
 * Work comes in units, each ONE backend call, so that a worker never holds
 * a model longer than that:
 *   prefill  the oldest waiting job takes a free slot, its prompt runs
 *            (1 x T), its first token is sampled and streamed;
 *   step     every decoding job not held back by its client's full CQ
 *            appends its last token, all of them in ONE gen_step call (B =
 *            those jobs, <= n_slots); each samples its next token and
 *            streams it; a job that is done leaves, and its slot is free
 *            for the next prefill.
 * Jobs join (prefill) and leave between steps: continuous batching. While
 * jobs decode, prefills and steps alternate: a joining job delays the
 * others by one prefill at most, and joins never starve them. With nothing
 * decoding, prefills run back to back.
 *
 * Realtime: a worker runs one unit and goes back to its loop (worker.c),
 * which takes a queued realtime job before the next unit; so a realtime
 * job that arrives while generations run waits at most for the unit in
 * hand: one short executor call.
 *
 * Streaming and back-pressure: a token CQE needs a CQ slot beyond those
 * reserved for completions (host.post_more says false when there is none).
 * Then the job stalls: it sits out the steps, its tokens kept, until its
 * client reaps; the CQE is tried again on every unit and at least every
 * PND_GEN_POLL_NS. Nothing is lost and the other jobs go on. A job's last
 * CQE always has its slot, reserved when its SQE was read (session.c).
 *
 * Ending: EOS (PN_CQE_F_EOS), max_tokens, a cancel or a dead session
 * (host.gone: -ECANCELED, with the tokens sent so far), a bad prompt id
 * (-EINVAL) or a backend error (its -errno, for every job of the failed
 * call). The slot is free once the job's last CQE is posted.
 *
 * Threading: pnd_gen_submit from any thread (a worker draining a ring),
 * under the context's lock. pnd_gens_run from any general worker: one unit
 * of a context at a time (an owner flag; a worker that finds it taken goes
 * on with other work); the decoding state is the owner's. pnd_gen_stat from
 * any thread (relaxed atomics). pnd_gen_new on the loop thread (LOAD,
 * reattach); pnd_gen_free from whoever drops the model's last reference (no
 * job holds it then). Locks: the list's lock, then a context's; neither is
 * held while a unit runs or calls the host.
 */
#ifndef PND_GEN_SCHED_H
#define PND_GEN_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "core.h"
#include "hist.h"

/* Decoder contexts alive at once: loaded ones, and unloaded ones finishing their jobs. */
#define PND_GEN_MAX		(2 * PND_MAX_MODELS)
/* A stalled job's CQ is looked at at least this often (a reap wakes nobody). */
#define PND_GEN_POLL_NS		200000ull

/* What the contexts need from the sessions (session_gen.c fills it). */
struct pnd_gen_host {
	void *arg;
	/* Posts a token CQE of j: false when its CQ has no free slot beyond the
	 * reserved ones (the job stalls and tries again later). */
	bool (*post_more)(void *arg, struct pnd_job *j, const struct pn_cqe *cqe);
	/* Posts j's last CQE in the slot reserved for it and drops j (its model
	 * and session references). */
	void (*end)(void *arg, struct pnd_job *j, const struct pn_cqe *cqe);
	/* 0 to go on; -ECANCELED: a PN_OP_CANCEL named j, or its session went away. */
	int (*gone)(void *arg, const struct pnd_job *j);
	/* Drops the model reference pnd_gens_run took for its unit. */
	void (*model_put)(void *arg, struct pnd_model *m);
};

/* A context's counters (STAT's "gen", metrics.c). */
struct pnd_gen_stat {
	uint32_t slots, slots_used, waiting;
	uint64_t jobs;			/* started: a slot taken */
	uint64_t tokens;		/* generated (written to an output) */
	uint64_t prefills;		/* prefill calls */
	uint64_t steps;			/* decode step calls */
	uint64_t step_seqs;		/* sessions in them, summed: / steps = sessions per step */
	uint64_t max_step;		/* the most sessions one step has run */
	uint64_t cancelled;		/* ended by PN_OP_CANCEL */
	uint64_t dropped;		/* ended because their session went away (slot freed) */
	uint64_t stalls;		/* token CQEs that found the client's CQ full */
	uint64_t errors;		/* ended by an error */
};

struct pnd_gen;

struct pnd_gens {
	pthread_mutex_t lock;			/* tab, rr */
	struct pnd_gen *tab[PND_GEN_MAX];	/* in no order, NULL: free */
	uint32_t rr;				/* where the next scan starts */
	atomic_uint busy;			/* contexts with a job waiting or decoding */
	uint32_t n_slots;			/* --gen-slots: sessions per context */
	struct pnd_gen_host host;		/* set before any job */
};

void pnd_gens_init(struct pnd_gens *gs, uint32_t n_slots);
void pnd_gens_fini(struct pnd_gens *gs);

/*
 * Cold (LOAD): the context of decoder m (m->gen), listed in gs.
 * -EOPNOTSUPP when the backend runs no decoder (no gen_new), -ENOEXEC when
 * m is not one; other errors are the backend's (memory).
 */
int pnd_gen_new(struct pnd_gens *gs, const struct pnd_backend_ops *ops, struct pnd_backend *be,
		struct pnd_model *m, struct pn_err *e);
/* Unlists and frees g (its model's last reference went: no job is left). */
void pnd_gen_free(struct pnd_gens *gs, struct pnd_gen *g);

/* Queues j, a checked PN_OP_GENERATE of g's model holding its references, for a slot.
 * The caller then kicks the workers (pnd_work_kick_locked). */
void pnd_gen_submit(struct pnd_gen *g, struct pnd_job *j);

/* A job of g was cancelled or lost its session: the next unit also looks
 * through the jobs waiting for a slot (they end at once, not when one frees). */
void pnd_gen_poke(struct pnd_gen *g);

/*
 * A general worker: runs one unit of a context with work that no other
 * worker holds (round robin over the contexts). true when it got on: a
 * unit ran, or a stalled job's CQE went out, or a job ended. false when
 * there was nothing to do; *poll_ns then gets (when earlier) the time to
 * look again if stalled jobs wait for their clients to reap.
 */
bool pnd_gens_run(struct pnd_gens *gs, uint64_t now_ns, uint64_t *poll_ns);

/* Some context has a job waiting or decoding (a relaxed load: a hint). */
static inline bool pnd_gens_busy(struct pnd_gens *gs)
{
	return atomic_load_explicit(&gs->busy, memory_order_relaxed) != 0;
}

void pnd_gen_stat(const struct pnd_gen *g, struct pnd_gen_stat *st);
/* Sessions per decode step (a PND_HIST_ROWS histogram). */
const struct pnd_hist *pnd_gen_step_hist(const struct pnd_gen *g);

#endif /* PND_GEN_SCHED_H */
