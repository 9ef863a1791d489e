/* SPDX-License-Identifier: MIT */
/*
 * session.h - one client's data plane (session.c): the segment (laid out by
 * lib/transport/segment.c), its wake mode and eventfds, its job slots;
 * draining the SQ into the scheduler, arming its doorbell in a sleeping
 * worker's waiter, and posting CQEs. The loop is reached only through
 * struct pnd_io (notify a broken session).
 *
 * Threads: open on the loop thread; close on the loop thread; drain,
 * prepare_sleep, clear_wakeup and job completion from any worker.
 * session_gen.c is its PN_OP_GENERATE half (session_impl.h): the checks,
 * the token and last CQEs of a generation, its cancel.
 */
#ifndef PND_SESSION_H
#define PND_SESSION_H

#include "core.h"
#include "models.h"
#include "transport/ring.h"
#include "transport/segment.h"
#include "worker.h"

struct pnd_conn;

struct pnd_session {
	uint32_t id;
	uint32_t uid;
	bool admin;			/* its tenant's, at OPEN_SESSION: runs any model */
	atomic_int refs;		/* the table, queued/running jobs */
	atomic_bool dead;		/* client gone: drain no more */
	struct pnd_conn *conn;		/* loop thread only (control.c's) */
	struct pnd_session *conn_next;	/* loop thread only */
	struct pn_seg_map seg;		/* the segment, its fds and rings */
	atomic_flag sq_busy;		/* one worker drains the SQ at a time */
	pthread_mutex_t cq_lock;	/* the CQ producer side, job slots */
	uint32_t inflight;		/* popped SQEs not yet completed (cq_lock) */
	uint32_t gen_live, gen_streams;	/* generations, and those streaming (cq_lock) */
	struct pn_sqe held;		/* refused with -EAGAIN by the scheduler: retried */
	bool has_held;			/* (sq_busy) */
	struct pnd_model *mcache;	/* last model looked up (sq_busy) */
	uint32_t mcache_gen;		/* its holders_gen then (sq_busy) */
	struct pnd_job *jobs;		/* cq_entries slots */
	size_t jobs_size;
	uint32_t free_job;
	uint32_t wake_mode;		/* enum pn_wake_mode, both rings */
	/* a doorbell that wakes workers for nothing is muted (ss->lock) */
	uint64_t db_fires;		/* doorbell completions in this window */
	uint64_t db_base;		/* popped at the window's start */
	uint64_t popped;		/* SQEs taken from the SQ */
	uint64_t muted_until_ns;
	bool mute_logged;
	uint64_t submitted, completed;
};

struct pnd_sessions {
	pthread_mutex_t lock;
	struct pnd_session *tab[PND_MAX_SESSIONS];
	uint32_t next_id;
	atomic_uint n;
	atomic_bool stopping;		/* pnd_sessions_shutdown: no SQ is drained */
	/* set by the caller */
	struct pnd_work *work;
	struct pnd_models *models;
	const struct pnd_io *io;
};

void pnd_sessions_init(struct pnd_sessions *ss);
void pnd_sessions_fini(struct pnd_sessions *ss);
int pnd_session_open(struct pnd_sessions *ss, uint32_t uid, const struct pn_session_req *req,
		     struct pnd_session **out, struct pn_err *e);
/* The client went away or broke the protocol: drops queued jobs, unlists. */
void pnd_session_close(struct pnd_sessions *ss, struct pnd_session *s);
void pnd_session_put(struct pnd_sessions *ss, struct pnd_session *s);
/* A session a worker marked dead (broken ring), still listed, or NULL. */
struct pnd_session *pnd_sessions_find_dead(struct pnd_sessions *ss);
/* Stopping: every segment says PN_SEG_SHUTDOWN, no SQ is read any more. */
void pnd_sessions_shutdown(struct pnd_sessions *ss);
/* Drains every live session's SQ into the scheduler; returns jobs queued. */
uint32_t pnd_sessions_drain(struct pnd_sessions *ss);
/*
 * Before a worker sleeps: NEED_WAKEUP on every SQ and each doorbell armed
 * in wt; false if one has work. A muted doorbell is not armed: *poll_by
 * then says when to look at the rings again.
 */
bool pnd_sessions_prepare_sleep(struct pnd_sessions *ss, struct pnd_waiter *wt,
				uint64_t *poll_by);
void pnd_sessions_clear_wakeup(struct pnd_sessions *ss);
/* The generation contexts' view of the sessions (session_gen.c): fills h. */
void pnd_sessions_gen_host(struct pnd_sessions *ss, struct pnd_gen_host *h);
/* Posts the CQE of a job and frees its slot (any worker). */
void pnd_job_complete(struct pnd_sessions *ss, struct pnd_job *j, int res, uint64_t t_run,
		      bool batched);

#endif /* PND_SESSION_H */
