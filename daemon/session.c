// SPDX-License-Identifier: MIT
/*
 * session.c - one client's data plane: the segment (rings + arena), its
 * wake mode and eventfds, its job slots; draining the SQ into the scheduler
 * (many SQEs per head store), arming its doorbell in sleeping workers'
 * waiters and posting CQEs (waking the client by futex or eventfd).
 *
 * A client may scribble its doorbell word (or write its doorbell eventfd)
 * in a loop: every worker's wait then completes at once and, re-armed,
 * again. That is caught per session: doorbell completions counted against
 * the SQEs taken; past PND_DB_SLACK + PND_DB_PER_SQE per SQE in a window,
 * the doorbell is muted for PND_DB_MUTE_NS (not armed; the workers look at
 * that ring every PND_DB_POLL_NS instead). It costs that client latency,
 * nobody else anything; the daemon's memory is never in reach.
 *
 * Never lose a job, never overflow the CQ: an SQE is popped only with a CQ
 * slot reserved for its completion (inflight counts them), and an SQE the
 * scheduler refuses for lack of room (-EAGAIN) is held and retried, not
 * dropped. The client sees back-pressure as a full SQ.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "session_impl.h"
#include "transport/segment.h"
#include "transport/wake.h"

#define PND_DB_SLACK	256u		/* futile wakes a window forgives */
#define PND_DB_PER_SQE	8u		/* wakes per SQE: one per worker that sleeps */
#define PND_DB_WINDOW	4096u		/* SQEs after which the count starts over */
#define PND_DB_MUTE_NS	100000000ull	/* 100 ms */
#define PND_DB_POLL_NS	10000000ull	/* a muted ring is looked at every 10 ms */
#define PND_DRAIN_BATCH	32u		/* SQEs copied per head store */

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Lays out and formats a fresh segment (lib/transport/segment.c). */
static int seg_create(struct pnd_session *s, const struct pn_session_req *q, bool futex,
		      struct pn_err *e)
{
	struct pn_seg_layout l;
	int fd = memfd_create("polynet-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t size;
	uint8_t *p;

	pn_seg_layout(q->sq_entries, q->cq_entries, q->arena_size, &l);
	/* version 3 only for a client that reads it: older ones require 2 (uapi/ring.h) */
	l.version = q->flags & PN_SESSION_F_RING_V3 ? PN_RING_VERSION : PN_RING_VERSION_MIN;
	l.wake_mode = futex && !(q->flags & PN_SESSION_F_EVENTFD) ? PN_WAKE_FUTEX :
		      PN_WAKE_EVENTFD;
	s->wake_mode = l.wake_mode;
	size = (size_t)l.size;
	if (fd < 0)
		return pn_errf(e, -errno, "session: memfd_create: %s", strerror(errno));
	/* sealed size: a client cannot truncate the segment under the daemon (SIGBUS) */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int r = -errno;

		close(fd);
		return pn_errf(e, r, "session: segment of %zu bytes: %s", size, strerror(-r));
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int r = -errno;

		close(fd);
		return pn_errf(e, r, "session: mmap %zu bytes: %s", size, strerror(-r));
	}
	s->seg.seg_fd = fd;
	s->seg.mem = p;
	s->seg.size = size;
	if (pn_seg_format(p, &l, s->id, e) || pn_seg_attach(p, size, &s->seg, e))
		return -EINVAL;
	/* start asleep: the client's first submit rings the doorbell */
	s->seg.sq.hdr->flags = PN_RING_NEED_WAKEUP;
	return 0;
}

static void session_free(struct pnd_sessions *ss, struct pnd_session *s)
{
	if (s->seg.mem)
		munmap(s->seg.mem, s->seg.size);
	if (s->seg.seg_fd >= 0)
		close(s->seg.seg_fd);
	if (s->seg.db_fd >= 0)
		close(s->seg.db_fd);
	if (s->seg.cq_fd >= 0)
		close(s->seg.cq_fd);
	if (s->mcache)
		pnd_model_put(s->mcache);
	pthread_mutex_destroy(&s->cq_lock);
	if (s->jobs)
		munmap(s->jobs, s->jobs_size);
	free(s);
	atomic_fetch_sub(&ss->n, 1);
}

void pnd_session_put(struct pnd_sessions *ss, struct pnd_session *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1)
		session_free(ss, s);
}

int pnd_session_open(struct pnd_sessions *ss, uint32_t uid, const struct pn_session_req *q,
		     struct pnd_session **out, struct pn_err *e)
{
	struct pnd_session *s;
	int r;

	*out = NULL;
	if (!pow2(q->sq_entries) || q->sq_entries > 4096 || !pow2(q->cq_entries) ||
	    q->cq_entries < q->sq_entries || q->cq_entries > 2 * 4096)
		return pn_errf(e, -EINVAL, "OPEN_SESSION: %u SQ and %u CQ entries, expected "
			       "powers of two, SQ <= 4096, SQ <= CQ <= 8192",
			       q->sq_entries, q->cq_entries);
	if (q->arena_size < 4096 || q->arena_size > PND_ARENA_MAX)
		return pn_errf(e, -EINVAL, "OPEN_SESSION: arena of %llu bytes, expected "
			       "4096..%llu", (unsigned long long)q->arena_size,
			       (unsigned long long)PND_ARENA_MAX);
	if (atomic_load(&ss->n) >= PND_MAX_SESSIONS)
		return pn_errf(e, -EMFILE, "OPEN_SESSION: %u sessions open, the most "
			       "polynetd serves", PND_MAX_SESSIONS);
	s = calloc(1, sizeof(*s));
	if (!s)
		return pn_errf(e, -ENOMEM, "OPEN_SESSION: out of memory");
	s->seg.seg_fd = s->seg.db_fd = s->seg.cq_fd = -1;
	s->uid = uid;
	pthread_mutex_init(&s->cq_lock, NULL);
	atomic_flag_clear(&s->sq_busy);
	atomic_init(&s->refs, 1);
	atomic_fetch_add(&ss->n, 1);
	/* mapped, not malloc'd: ~1 MiB for a big CQ, and glibc keeps freed
	 * blocks of that size in its heap, so the daemon's RSS would never
	 * come back down after a burst of sessions */
	s->jobs_size = q->cq_entries * sizeof(*s->jobs);
	s->jobs = mmap(NULL, s->jobs_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (s->jobs == MAP_FAILED) {
		s->jobs = NULL;
		session_free(ss, s);
		return pn_errf(e, -ENOMEM, "OPEN_SESSION: out of memory");
	}
	for (uint32_t i = 0; i < q->cq_entries; i++) {
		s->jobs[i].s = s;
		s->jobs[i].next_free = i + 1;
	}
	pthread_mutex_lock(&ss->lock);
	s->id = ++ss->next_id;
	pthread_mutex_unlock(&ss->lock);
	r = seg_create(s, q, ss->work->futex, e);
	if (!r) {
		/* non-blocking: workers empty it after its poll fired, two may race */
		s->seg.db_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		s->seg.cq_fd = eventfd(0, EFD_CLOEXEC);
		if (s->seg.db_fd < 0 || s->seg.cq_fd < 0)
			r = pn_errf(e, -errno, "OPEN_SESSION: eventfd: %s", strerror(errno));
	}
	if (r) {
		session_free(ss, s);
		return r;
	}
	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS; i++) {
		if (!ss->tab[i]) {
			ss->tab[i] = s;
			break;
		}
	}
	pthread_mutex_unlock(&ss->lock);
	/* sleeping workers wait on the doorbells they knew: have them arm this one */
	pnd_work_wake(ss->work);
	*out = s;
	return 0;
}

/* The scheduler dropped a queued job of a closing session. */
static void drop_job(void *arg, const struct pn_sched_job_desc *jd)
{
	struct pnd_sessions *ss = arg;

	pnd_job_complete(ss, (struct pnd_job *)(uintptr_t)jd->user, -ECANCELED,
			 pnd_now_ns(), false);
}

void pnd_session_close(struct pnd_sessions *ss, struct pnd_session *s)
{
	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS; i++)
		if (ss->tab[i] == s)
			ss->tab[i] = NULL;
	atomic_store(&s->dead, true);
	pthread_mutex_unlock(&ss->lock);
	/* nobody drains it now; a worker may still hold sq_busy for a moment */
	while (atomic_flag_test_and_set(&s->sq_busy))
		sched_yield();
	if (s->has_held) {
		s->has_held = false;
		pthread_mutex_lock(&s->cq_lock);
		s->inflight--;
		pthread_mutex_unlock(&s->cq_lock);
	}
	pthread_mutex_lock(&ss->work->lock);
	pn_sched_drop_session(ss->work->sched, s->id, drop_job, ss, NULL);
	pthread_mutex_unlock(&ss->work->lock);
	/* its generations end at their next unit, their cache slots freed */
	pnd_session_gen_dead(ss, s);
	pnd_session_put(ss, s);
}

/* After a push: the client broke its CQ (r != 0), or wake it if it sleeps. */
static void posted(struct pnd_sessions *ss, struct pnd_session *s, int r)
{
	bool wake;

	if (r) {
		/* only a client rewriting the CQ head gets here (-EPROTO) */
		__atomic_store_n(&s->seg.hdr->state, PN_SEG_BROKEN, __ATOMIC_RELEASE);
		atomic_store(&s->dead, true);
		ss->io->notify(ss->io->arg);
		return;
	}
	/* ring.c: the fence in needs_wakeup pairs with the client's prepare_sleep */
	wake = pn_ring_needs_wakeup(&s->seg.cq);
	if (wake && s->wake_mode == PN_WAKE_FUTEX)
		pn_wake_futex(&s->seg.cq.hdr->wake, true);	/* ring.c, ordering 3 */
	else if (wake)
		pn_wake_eventfd(s->seg.cq_fd);
}

/* Posts one CQE; the caller reserved its slot (inflight). Wakes a sleeper. */
static void post(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_cqe *cqe,
		 struct pnd_job *slot)
{
	int r;

	pthread_mutex_lock(&s->cq_lock);
	r = pn_ring_push(&s->seg.cq, cqe);
	s->inflight--;
	if (slot) {
		if (slot->gen_live) {
			slot->gen_live = false;
			s->gen_live--;
			s->gen_streams -= slot->gen.stream_every != 0;
		}
		slot->next_free = s->free_job;
		s->free_job = (uint32_t)(slot - s->jobs);
	}
	s->completed++;
	pthread_mutex_unlock(&s->cq_lock);
	posted(ss, s, r);
}

bool pnd_session_post_more(struct pnd_sessions *ss, struct pnd_session *s,
			   const struct pn_cqe *cqe)
{
	int64_t space;
	int r;

	pthread_mutex_lock(&s->cq_lock);
	/* the slots reserved for completions are not ours: one beyond them or none */
	space = pn_ring_space(&s->seg.cq);
	if (space <= (int64_t)s->inflight) {
		pthread_mutex_unlock(&s->cq_lock);
		if (space < 0)
			posted(ss, s, -EPROTO);	/* a scribbled head */
		return false;
	}
	r = pn_ring_push(&s->seg.cq, cqe);
	pthread_mutex_unlock(&s->cq_lock);
	posted(ss, s, r);
	return !r;
}

void pnd_session_post(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_cqe *cqe)
{
	post(ss, s, cqe, NULL);
}

void pnd_session_post_error(struct pnd_sessions *ss, struct pnd_session *s, uint64_t user_data,
			    int res)
{
	struct pn_cqe cqe = { .user_data = user_data, .res = res };

	post(ss, s, &cqe, NULL);
}

void pnd_job_end(struct pnd_sessions *ss, struct pnd_job *j, const struct pn_cqe *cqe)
{
	struct pnd_session *s = j->s;
	struct pnd_model *m = j->model;

	j->model = NULL;
	post(ss, s, cqe, j);
	pnd_model_put(m);
	pnd_session_put(ss, s);
}

void pnd_job_complete(struct pnd_sessions *ss, struct pnd_job *j, int res, uint64_t t_run,
		      bool batched)
{
	struct pnd_session *s = j->s;
	struct pnd_model *m = j->model;
	uint64_t now = pnd_now_ns();
	struct pn_cqe cqe = {
		.user_data = j->sqe.user_data, .res = res,
		.flags = batched ? PN_CQE_F_BATCHED : 0,
		.queue_us = (uint32_t)((t_run - j->t_submit_ns) / 1000),
		.run_us = (uint32_t)((now - t_run) / 1000),
	};

	pnd_model_record(m, (double)(now - j->t_submit_ns) / 1e3, res, batched);
	j->model = NULL;
	post(ss, s, &cqe, j);
	pnd_model_put(m);
	pnd_session_put(ss, s);
}

/* Checks an SQE against the model and the arena; 0 or -EINVAL. */
static int check_sqe(const struct pnd_session *s, const struct pnd_model *m,
		     const struct pn_sqe *q)
{
	uint64_t rows, need_in, need_out;

	if (q->flags || q->prio >= PN_PRIO_COUNT)
		return -EINVAL;
	if (q->batch < 1 || q->batch > m->max_batch || q->T < 1 || q->T > m->m->max_tokens)
		return -EINVAL;
	need_in = 4ull * q->batch * (q->T + 1ull);
	rows = m->m->out_layout == PNB_LAYOUT_SEQ ? q->batch : (uint64_t)q->batch * q->T;
	need_out = rows * m->m->out_width * 4ull;
	if (q->in_len != need_in || q->out_len < need_out)
		return -EINVAL;
	/* each range inside the arena, without overflow; outputs 4-byte aligned */
	if (q->in_off > s->seg.arena_size || s->seg.arena_size - q->in_off < q->in_len ||
	    q->out_off > s->seg.arena_size || s->seg.arena_size - q->out_off < q->out_len ||
	    q->in_off % 4 || q->out_off % 4)
		return -EINVAL;
	return 0;
}

/*
 * The model an SQE names, if the session's tenant may run it, through the
 * session's one-entry cache. The cache is good while the model's holders do
 * not change (holders_gen): an UNLOAD of the tenant's hold ends its access.
 */
struct pnd_model *pnd_session_model(struct pnd_sessions *ss, struct pnd_session *s, uint32_t id)
{
	struct pnd_model *m = s->mcache;
	struct pnd_caller who = { .uid = s->uid, .admin = s->admin };

	if (m && m->id == id && !atomic_load(&m->gone) &&
	    atomic_load(&m->holders_gen) == s->mcache_gen)
		return m;
	if (m) {
		s->mcache = NULL;
		pnd_model_put(m);
	}
	m = pnd_model_get_id(ss->models, &who, id);	/* cold: first job or another model */
	if (m)
		s->mcache_gen = atomic_load(&m->holders_gen);
	s->mcache = m;
	return m;
}

struct pnd_job *pnd_session_job_new(struct pnd_sessions *ss, struct pnd_session *s,
				    const struct pn_sqe *q, struct pnd_model *m, bool gen,
				    const struct pn_gen_args *a)
{
	struct pnd_job *j;

	pthread_mutex_lock(&s->cq_lock);
	j = &s->jobs[s->free_job];	/* there is one: slots == CQ entries >= inflight */
	s->free_job = j->next_free;
	j->gen_live = gen;
	if (gen) {
		j->gen = *a;
		s->gen_live++;
		s->gen_streams += a->stream_every != 0;
	}
	pthread_mutex_unlock(&s->cq_lock);
	atomic_store(&j->cancel, false);
	j->sqe = *q;
	j->arena = s->seg.arena;
	j->t_submit_ns = pnd_now_ns();
	j->model = m;
	atomic_fetch_add(&m->refs, 1);
	atomic_fetch_add(&s->refs, 1);
	return j;
}

/* Returns 1 when the SQE was consumed, 0 when it must be held (-EAGAIN). */
static int handle_sqe(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_sqe *q)
{
	struct pn_sched_job_desc jd;
	struct pnd_model *m;
	struct pnd_job *j;
	int r;

	if (q->opcode == PN_OP_NOP) {
		pnd_session_post_error(ss, s, q->user_data, q->flags ? -EINVAL : 0);
		return 1;
	}
	if (q->opcode == PN_OP_CANCEL) {
		pthread_mutex_lock(&ss->work->lock);
		r = pn_sched_cancel(ss->work->sched, s->id, q->arg, &jd);
		pthread_mutex_unlock(&ss->work->lock);
		if (!r)
			pnd_job_complete(ss, (struct pnd_job *)(uintptr_t)jd.user, -ECANCELED,
					 pnd_now_ns(), false);
		/* not queued: a generation, waiting or decoding, ends at its next unit */
		else if (r == -ENOENT && pnd_session_gen_cancel(ss, s, q->arg))
			r = 0;
		pnd_session_post_error(ss, s, q->user_data, r);
		return 1;
	}
	if (q->opcode == PN_OP_GENERATE && s->seg.version >= 3) {
		pnd_session_gen_sqe(ss, s, q);
		return 1;
	}
	m = q->opcode == PN_OP_RUN ? pnd_session_model(ss, s, q->model) : NULL;
	if (!m || check_sqe(s, m, q)) {
		pnd_session_post_error(ss, s, q->user_data, m ? -EINVAL : q->opcode == PN_OP_RUN ?
				 -ENOENT : -EINVAL);
		return 1;
	}
	j = pnd_session_job_new(ss, s, q, m, false, NULL);
	jd = (struct pn_sched_job_desc){
		.id = q->user_data, .user = (uint64_t)(uintptr_t)j,
		.deadline_ns = q->deadline_ns, .arena_bytes = (uint64_t)q->in_len + q->out_len,
		.rows = q->batch,
		.session = s->id, .tenant = s->uid, .model = m->id, .klass = q->prio,
	};
	pthread_mutex_lock(&ss->work->lock);
	r = pn_sched_submit(ss->work->sched, &jd, j->t_submit_ns);
	if (!r)
		pnd_work_kick_locked(ss->work);	/* every submit: worker.c's worker_sleep */
	pthread_mutex_unlock(&ss->work->lock);
	if (!r) {
		atomic_fetch_add(&ss->work->submits, 1);
		s->submitted++;
		return 1;
	}
	if (r == -EAGAIN) {
		/* the scheduler is full: keep the SQE (and its CQ slot), retry later */
		pthread_mutex_lock(&s->cq_lock);
		j->next_free = s->free_job;
		s->free_job = (uint32_t)(j - s->jobs);
		pthread_mutex_unlock(&s->cq_lock);
		j->model = NULL;
		pnd_model_put(m);
		pnd_session_put(ss, s);
		return 0;
	}
	pnd_job_complete(ss, j, r, j->t_submit_ns, false);
	return 1;
}

static void broken(struct pnd_sessions *ss, struct pnd_session *s)
{
	__atomic_store_n(&s->seg.hdr->state, PN_SEG_BROKEN, __ATOMIC_RELEASE);
	atomic_store(&s->dead, true);
	ss->io->notify(ss->io->arg);
}

/* Drains one SQ (the caller holds sq_busy). Returns SQEs consumed. */
static uint32_t drain_one(struct pnd_sessions *ss, struct pnd_session *s)
{
	uint32_t done = 0;

	for (;;) {
		int64_t ready, space;
		uint32_t k;

		if (s->has_held) {
			if (!handle_sqe(ss, s, &s->held))
				return done;
			s->has_held = false;
			done++;
		}
		ready = pn_ring_ready(&s->seg.sq);
		if (ready <= 0) {
			if (ready < 0)
				broken(ss, s);
			return done;
		}
		pthread_mutex_lock(&s->cq_lock);
		space = pn_ring_space(&s->seg.cq);
		k = space > (int64_t)s->inflight ? (uint32_t)(space - s->inflight) : 0;
		if (k > ready)
			k = (uint32_t)ready;
		s->inflight += k;	/* reserved: one CQ slot per SQE popped below */
		pthread_mutex_unlock(&s->cq_lock);
		if (space < 0) {
			broken(ss, s);
			return done;
		}
		if (!k)
			return done;	/* the client is not reaping CQEs: wait for it */
		while (k) {
			struct pn_sqe q[PND_DRAIN_BATCH];
			int got = pn_ring_peek_n(&s->seg.sq, q, k < PND_DRAIN_BATCH ? k :
						 PND_DRAIN_BATCH);
			uint32_t i = 0, took;

			if (got <= 0) {
				pthread_mutex_lock(&s->cq_lock);
				s->inflight -= k;
				pthread_mutex_unlock(&s->cq_lock);
				broken(ss, s);	/* ready said k: only a scribbled tail shrinks */
				return done;
			}
			/* the copies in q are what we check and run (the ring's may change) */
			for (; i < (uint32_t)got; i++)
				if (!handle_sqe(ss, s, &q[i]))
					break;
			/* one head store for the batch: a held one was taken too */
			took = i < (uint32_t)got ? i + 1 : i;
			pn_ring_advance(&s->seg.sq, took);
			done += took;
			s->popped += took;
			k -= took;
			if (i < (uint32_t)got) {
				s->held = q[i];
				s->has_held = true;
				pthread_mutex_lock(&s->cq_lock);
				s->inflight -= k;	/* the held one keeps its slot */
				pthread_mutex_unlock(&s->cq_lock);
				return done;
			}
		}
	}
}

uint32_t pnd_sessions_drain(struct pnd_sessions *ss)
{
	uint32_t done = 0;

	if (atomic_load(&ss->stopping))
		return 0;
	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0, seen = 0; i < PND_MAX_SESSIONS &&
	     seen < atomic_load(&ss->n); i++) {
		struct pnd_session *s = ss->tab[i];

		if (!s)
			continue;
		seen++;
		if (atomic_load(&s->dead) || atomic_flag_test_and_set(&s->sq_busy))
			continue;
		done += drain_one(ss, s);
		atomic_flag_clear(&s->sq_busy);
	}
	pthread_mutex_unlock(&ss->lock);
	return done;
}

/*
 * Counts the doorbell completions wt saw for s since it last looked, and
 * mutes a doorbell that wakes workers far more often than its client
 * submits (ss->lock held). Returns false when s's doorbell must not be armed.
 */
static bool doorbell_ok_locked(struct pnd_session *s, uint32_t slot, struct pnd_waiter *wt,
			       uint64_t now)
{
	uint32_t fired = pnd_waiter_take_fired(wt, slot, s->id);

	if (fired && s->wake_mode == PN_WAKE_EVENTFD)
		pn_wake_eventfd_drain(s->seg.db_fd);
	s->db_fires += fired;
	if (s->muted_until_ns > now)
		return false;
	if (s->db_fires > PND_DB_SLACK + PND_DB_PER_SQE * (s->popped - s->db_base)) {
		s->muted_until_ns = now + PND_DB_MUTE_NS;
		if (!s->mute_logged)
			pnd_log("session %u of uid %u: its doorbell woke the workers %llu times "
				"for %llu SQEs: muted, its ring is polled every %llu ms",
				s->id, s->uid, (unsigned long long)s->db_fires,
				(unsigned long long)(s->popped - s->db_base),
				PND_DB_POLL_NS / 1000000ull);
		s->mute_logged = true;
		s->db_fires = 0;
		s->db_base = s->popped;
		return false;
	}
	if (s->popped - s->db_base > PND_DB_WINDOW) {
		s->db_fires = 0;
		s->db_base = s->popped;
	}
	return true;
}

bool pnd_sessions_prepare_sleep(struct pnd_sessions *ss, struct pnd_waiter *wt,
				uint64_t *poll_by)
{
	uint64_t now = pnd_now_ns();
	bool idle = true;

	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS && idle; i++) {
		struct pnd_session *s = ss->tab[i];
		uint32_t v;
		bool arm;

		if (!s || atomic_load(&s->dead)) {
			pnd_waiter_disarm(wt, i);	/* its session went */
			continue;
		}
		arm = doorbell_ok_locked(s, i, wt, now);
		if (!arm) {
			pnd_waiter_disarm(wt, i);
			if (*poll_by > now + PND_DB_POLL_NS)
				*poll_by = now + PND_DB_POLL_NS;
		}
		/* before NEED_WAKEUP and the last look at tail (ring.c, ordering 3) */
		v = pn_ring_wake_value(&s->seg.sq);
		if (atomic_flag_test_and_set(&s->sq_busy)) {
			idle = false;	/* another worker is draining it */
			break;
		}
		if (s->has_held || !pn_ring_prepare_sleep(&s->seg.sq))
			idle = false;
		atomic_flag_clear(&s->sq_busy);
		if (!idle || !arm)
			continue;
		if (s->wake_mode == PN_WAKE_FUTEX)
			pnd_waiter_arm_futex(wt, i, s->id, &s->seg.sq.hdr->wake, v);
		else
			pnd_waiter_arm_poll(wt, i, s->id, s->seg.db_fd);
	}
	pthread_mutex_unlock(&ss->lock);
	return idle;
}

void pnd_sessions_clear_wakeup(struct pnd_sessions *ss)
{
	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS; i++) {
		struct pnd_session *s = ss->tab[i];

		if (s && !atomic_load(&s->dead) && !atomic_flag_test_and_set(&s->sq_busy)) {
			pn_ring_clear_wakeup(&s->seg.sq);
			atomic_flag_clear(&s->sq_busy);
		}
	}
	pthread_mutex_unlock(&ss->lock);
}

void pnd_sessions_init(struct pnd_sessions *ss)
{
	pthread_mutex_init(&ss->lock, NULL);
	atomic_init(&ss->n, 0);
	atomic_init(&ss->stopping, false);
}

void pnd_sessions_fini(struct pnd_sessions *ss)
{
	pthread_mutex_destroy(&ss->lock);
}

struct pnd_session *pnd_sessions_find_dead(struct pnd_sessions *ss)
{
	struct pnd_session *s = NULL;

	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS && !s; i++)
		if (ss->tab[i] && atomic_load(&ss->tab[i]->dead))
			s = ss->tab[i];
	pthread_mutex_unlock(&ss->lock);
	return s;
}

void pnd_sessions_shutdown(struct pnd_sessions *ss)
{
	atomic_store(&ss->stopping, true);
	pthread_mutex_lock(&ss->lock);
	for (uint32_t i = 0; i < PND_MAX_SESSIONS; i++)
		if (ss->tab[i])
			__atomic_store_n(&ss->tab[i]->seg.hdr->state, PN_SEG_SHUTDOWN,
					 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ss->lock);
}
