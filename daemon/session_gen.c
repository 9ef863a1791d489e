// SPDX-License-Identifier: MIT
/*
 * session_gen.c - the PN_OP_GENERATE half of a session (session_impl.h):
 * the SQE's checks, its hand-over to the model's continuous batching
 * (gen_sched.h), the token and last CQEs that batching posts through
 * struct pnd_gen_host, and the cancel of a generation already taken.
 *
 * Refusals, each in the SQE's one CQE at once (docs/daemon.md):
 *   -EINVAL      malformed: a field, a range, batch != 1, REALTIME class,
 *                flags, the args' reserved fields, temperature or top-p
 *   -ENOENT      no such model (or not this tenant's to see)
 *   -ENOEXEC     the model is not a causal decoder
 *   -EOPNOTSUPP  the backend runs no decoder (CUDA)
 *   -E2BIG       the prompt leaves no room in the context (T >= context)
 *   -ERANGE      max_tokens 0, or more than the context leaves (context - T)
 *   -ENOBUFS     the session already streams cq_entries - 1 generations: its
 *                CQ could not hold one more's token CQEs beside their last ones
 * A prompt id outside the vocabulary is found when the prompt is copied for
 * its prefill (the client may rewrite its arena until then): -EINVAL then.
 */
#include <errno.h>
#include <string.h>

#include "gen/sample.h"
#include "session_impl.h"

/* Checks q and copies its arguments into *a; 0 or the refusal. */
static int gen_check(const struct pnd_session *s, const struct pnd_model *m,
		     const struct pn_sqe *q, struct pn_gen_args *a)
{
	uint64_t asz = s->seg.arena_size, need_in = sizeof(*a) + 4ull * q->T;
	uint32_t ctx = m->m->max_tokens;
	struct pn_sampler smp;

	if (q->flags || q->arg || q->deadline_ns || q->batch != 1 || !q->T ||
	    q->prio == PN_PRIO_REALTIME || q->prio >= PN_PRIO_COUNT)
		return -EINVAL;
	if (q->in_len != need_in || q->in_off % 4 || q->in_off > asz || asz - q->in_off < need_in)
		return -EINVAL;
	/* the private copy: only it is checked and used */
	memcpy(a, s->seg.arena + q->in_off, sizeof(*a));
	if (a->flags || a->reserved || pn_sampler_init(&smp, a->temperature, a->top_p, 0, NULL))
		return -EINVAL;
	if (!m->decoder)
		return -ENOEXEC;
	if (!m->gen)
		return -EOPNOTSUPP;
	if (q->T >= ctx)
		return -E2BIG;
	if (!a->max_tokens || a->max_tokens > ctx - q->T)
		return -ERANGE;
	if (q->out_len < 4ull * a->max_tokens || q->out_off % 4 || q->out_off > asz ||
	    asz - q->out_off < q->out_len)
		return -EINVAL;
	return 0;
}

void pnd_session_gen_sqe(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_sqe *q)
{
	struct pnd_model *m = pnd_session_model(ss, s, q->model);
	struct pn_gen_args a;
	struct pnd_job *j;
	int r = m ? gen_check(s, m, q, &a) : -ENOENT;

	if (!r && a.stream_every) {
		pthread_mutex_lock(&s->cq_lock);
		if (s->gen_streams + 1 >= s->seg.cq.entries)
			r = -ENOBUFS;
		pthread_mutex_unlock(&s->cq_lock);
	}
	if (r) {
		struct pn_cqe cqe = { .user_data = q->user_data, .res = r, .flags = PN_CQE_F_GEN,
				      .gen = { .tokens = 0, .token = -1 } };

		pnd_session_post(ss, s, &cqe);
		return;
	}
	j = pnd_session_job_new(ss, s, q, m, true, &a);
	pnd_gen_submit(m->gen, j);
	pthread_mutex_lock(&ss->work->lock);
	pnd_work_kick_locked(ss->work);		/* as a submit: worker.c's worker_sleep */
	pthread_mutex_unlock(&ss->work->lock);
	s->submitted++;
}

bool pnd_session_gen_cancel(struct pnd_sessions *ss, struct pnd_session *s, uint64_t target)
{
	bool found = false;

	/* the drainer wrote each slot's sqe (this thread, sq_busy); gen_live is cq_lock's */
	pthread_mutex_lock(&s->cq_lock);
	for (uint32_t i = 0; i < s->seg.cq.entries; i++) {
		struct pnd_job *j = &s->jobs[i];

		if (j->gen_live && j->sqe.user_data == target) {
			atomic_store(&j->cancel, true);
			pnd_gen_poke(j->model->gen);
			found = true;
		}
	}
	pthread_mutex_unlock(&s->cq_lock);
	if (found)
		pnd_work_wake(ss->work);
	return found;
}

void pnd_session_gen_dead(struct pnd_sessions *ss, struct pnd_session *s)
{
	bool any = false;

	pthread_mutex_lock(&s->cq_lock);
	for (uint32_t i = 0; i < s->seg.cq.entries && s->gen_live; i++) {
		struct pnd_job *j = &s->jobs[i];

		if (j->gen_live) {
			pnd_gen_poke(j->model->gen);
			any = true;
		}
	}
	pthread_mutex_unlock(&s->cq_lock);
	if (any)
		pnd_work_wake(ss->work);
}

/* struct pnd_gen_host, for gen_sched.c */
static bool host_post_more(void *arg, struct pnd_job *j, const struct pn_cqe *cqe)
{
	return pnd_session_post_more(arg, j->s, cqe);
}

static void host_end(void *arg, struct pnd_job *j, const struct pn_cqe *cqe)
{
	pnd_job_end(arg, j, cqe);
}

static int host_gone(void *arg, const struct pnd_job *j)
{
	return atomic_load(&j->cancel) || atomic_load(&j->s->dead) ? -ECANCELED : 0;
}

static void host_model_put(void *arg, struct pnd_model *m)
{
	pnd_model_put(m);
}

void pnd_sessions_gen_host(struct pnd_sessions *ss, struct pnd_gen_host *h)
{
	*h = (struct pnd_gen_host){
		.arg = ss, .post_more = host_post_more, .end = host_end, .gone = host_gone,
		.model_put = host_model_put,
	};
}
