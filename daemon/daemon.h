/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - polynetd's shared state: the event loop (loop.c), control
 * messages (control.c), models (models.c), sessions (session.c) and the
 * backend's workers (backend.h, backend_cpu.c).
 *
 * Threads: one io_uring loop thread owns connections, loads and doorbells;
 * N workers drain submission rings, run jobs and post completions. Locks,
 * outermost first: sessions_lock, sched_lock, a session's cq_lock,
 * models_lock, a model's stat_lock. Hot path (a busy worker): sched_lock
 * and a session's cq_lock, both uncontended with one worker.
 */
#ifndef PND_DAEMON_H
#define PND_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/model.h"
#include "util/pn_err.h"
#include "transport/proto.h"
#include "transport/region.h"
#include "transport/ring.h"
#include "sched/sched.h"
#include "uapi/proto.h"
#include "uapi/ring.h"

#define PND_MAX_MODELS		64
#define PND_MAX_SESSIONS	1024
#define PND_MAX_TENANTS		256
#define PND_MAX_HOLDERS		8
#define PND_LAT_SAMPLES		4096	/* per model: the latest, for STAT */
#define PND_ARENA_MAX		(256ull << 20)
#define PND_SEG_NAME_MAX	48

struct pnd_conn;
struct pnd_backend;

/* What an io_uring completion is about: its user_data points at one. */
enum pnd_ev_kind {
	PND_EV_ACCEPT = 1,
	PND_EV_CONN,
	PND_EV_SIGNAL,
	PND_EV_DOORBELL,
	PND_EV_LOAD,
	PND_EV_NOTIFY,
	PND_EV_CANCEL,		/* the completion of a cancel request: ignored */
};

struct pnd_ev {
	enum pnd_ev_kind kind;
	void *obj;
};

struct pnd_model {
	uint32_t id, slot;
	atomic_int refs;		/* the table, jobs, sessions' caches, executors */
	atomic_bool gone;		/* unloaded: no new job may name it */
	struct pn_model *m;		/* over the sealed region's bytes */
	struct pn_region *region;
	void *map;
	size_t size;
	char region_name[PN_REGION_NAME_MAX];
	uint32_t holders[PND_MAX_HOLDERS], n_holders;	/* uids that loaded it */
	uint32_t vocab, max_batch;
	bool reattached, transient;
	/* statistics, under stat_lock */
	pthread_mutex_t stat_lock;
	uint64_t jobs, errors, batched;
	double lat_us[PND_LAT_SAMPLES];	/* queue + run, a ring of the latest */
	uint64_t n_lat;
};

/* One job's daemon-side state: a slot of its session's table. */
struct pnd_job {
	struct pnd_session *s;
	struct pnd_model *model;	/* a reference, dropped at completion */
	struct pn_sqe sqe;		/* the private copy: the ring's may change */
	uint64_t t_submit_ns;
	uint32_t next_free;
};

struct pnd_session {
	uint32_t id;
	uint32_t uid;
	atomic_int refs;		/* the table, queued/running jobs, the doorbell read */
	atomic_bool dead;		/* client gone: drain no more */
	struct pnd_conn *conn;		/* loop thread only */
	struct pnd_session *conn_next;	/* loop thread only */
	int seg_fd, db_fd, cq_fd;
	void *seg;
	size_t seg_size;
	struct pn_seg_hdr *hdr;
	uint8_t *arena;
	uint64_t arena_size;
	struct pn_ring sq, cq;
	atomic_flag sq_busy;		/* one worker drains the SQ at a time */
	pthread_mutex_t cq_lock;	/* the CQ producer side, job slots */
	uint32_t inflight;		/* popped SQEs not yet completed (cq_lock) */
	struct pn_sqe held;		/* refused with -EAGAIN by the scheduler: retried */
	bool has_held;			/* (sq_busy) */
	struct pnd_model *mcache;	/* last model looked up (sq_busy) */
	struct pnd_job *jobs;		/* cq_entries slots */
	uint32_t free_job;
	struct pnd_ev db_ev;
	uint64_t db_buf;
	uint64_t submitted, completed;
};

struct pnd_tenant {
	uint32_t uid;
	uint32_t sessions;
	uint64_t loads;
	char name[32];			/* from the admin map, else "" */
	bool admin;			/* from the admin map */
};

struct pnd {
	/* configuration */
	const char *socket_path;
	const char *tenants_path;		/* --tenants, or NULL */
	char state_prefix[32];		/* names this daemon's persistent regions */
	uint32_t nworkers, idle_spin_us, max_batch;
	uint32_t rt_workers;		/* dedicated realtime workers, beyond nworkers */
	uint64_t batch_delay_ns;		/* dynamic batching: the most a job waits */
	uint32_t admin_uid;
	bool pin;
	/* loop thread */
	int listen_fd, sig_fd, notify_fd;
	struct pnd_ev accept_ev, sig_ev, notify_ev;
	uint64_t notify_buf;
	atomic_bool stopping;
	uint32_t n_conns;
	struct pnd_conn *conns;		/* loop thread only */
	uint32_t doorbells;		/* armed doorbell reads (loop thread) */
	void *ring;			/* struct io_uring, loop thread only */
	/* models */
	pthread_mutex_t models_lock;
	struct pnd_model *models[PND_MAX_MODELS];
	uint32_t next_model_id;
	atomic_uint models_gen;		/* bumped on unload: workers drop executors */
	struct pn_region *index_region;
	void *index_map;
	/* sessions */
	pthread_mutex_t sessions_lock;
	struct pnd_session *sessions[PND_MAX_SESSIONS];
	uint32_t next_session_id;
	atomic_uint n_sessions;
	struct pnd_tenant tenants[PND_MAX_TENANTS];
	uint32_t n_tenants;
	/* scheduler and workers */
	pthread_mutex_t sched_lock;
	pthread_cond_t sched_cond;
	struct pn_sched *sched;
	uint64_t wake_gen;		/* sched_lock: doorbells and submits */
	uint32_t sleeping;		/* sched_lock: workers waiting on sched_cond */
	atomic_bool workers_stop;
	struct pnd_backend *backend;
	uint64_t t_start_ns;
};

uint64_t pnd_now_ns(void);
/* Logs one line to stderr with the daemon's prefix. */
void pnd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* SQEs accepted by the scheduler: a spinning worker picks only when it moved. */
extern atomic_uint_fast64_t pnd_submits;

/* loop.c */
int pnd_loop_run(struct pnd *d, struct pn_err *e);
/* Arms a read of the session's doorbell (loop thread). */
int pnd_loop_arm_doorbell(struct pnd *d, struct pnd_session *s);
/* From any thread: the loop wakes up and reaps dead sessions. */
void pnd_loop_notify(struct pnd *d);
/* Queues a read on the loop's io_uring; ev gets the result (loop thread). */
int pnd_loop_read(struct pnd *d, struct pnd_ev *ev, int fd, void *buf, size_t len,
		  uint64_t off);
/* The connection is gone and no load refers to it: frees it. */
void pnd_conn_release(struct pnd_conn *c);

/* control.c: one request from a connection; replies itself. */
struct pnd_conn {
	struct pnd_ev ev;
	int fd;
	uint32_t uid, pid;
	bool dead;
	uint32_t loads;			/* in progress: the conn outlives them */
	struct pnd_session *sessions;
	struct pnd_conn *prev, *next;	/* d->conns */
	char client[32];
};
void pnd_control(struct pnd *d, struct pnd_conn *c, const void *buf, size_t n, int *fds,
		 int nfds);
bool pnd_is_admin(struct pnd *d, uint32_t uid);
struct pnd_tenant *pnd_tenant(struct pnd *d, uint32_t uid);

/* tenants.c: the admin map (--tenants FILE) */
int pnd_tenants_load(struct pnd *d, const char *path, struct pn_err *e);

/* models.c */
struct pnd_load;
int pnd_models_init(struct pnd *d, struct pn_err *e);	/* reattaches persistent ones */
void pnd_models_fini(struct pnd *d);
/* Starts reading fd (loop thread); the reply goes out when the reads end. */
int pnd_load_start(struct pnd *d, struct pnd_conn *c, uint32_t seq,
		   const struct pn_load_req *req, int fd, struct pn_err *e);
void pnd_load_event(struct pnd *d, struct pnd_load *l, int res);
int pnd_unload(struct pnd *d, uint32_t uid, const struct pn_model_ref *ref, struct pn_err *e);
/* A reference to the model, or NULL (-ENOENT in e). */
struct pnd_model *pnd_model_find(struct pnd *d, const struct pn_model_ref *ref,
				 struct pn_err *e);
struct pnd_model *pnd_model_get_id(struct pnd *d, uint32_t id);
void pnd_model_put(struct pnd *d, struct pnd_model *m);
void pnd_model_desc(const struct pnd_model *m, struct pn_model_desc *out);
void pnd_model_record(struct pnd_model *m, double lat_us, int res, bool batched);

/* session.c */
int pnd_session_open(struct pnd *d, struct pnd_conn *c, const struct pn_session_req *req,
		     struct pnd_session **out, struct pn_err *e);
/* The client went away or broke the protocol: drops queued jobs, unlists. */
void pnd_session_close(struct pnd *d, struct pnd_session *s);
void pnd_session_put(struct pnd *d, struct pnd_session *s);
/* Drains every live session's SQ into the scheduler; returns jobs queued. */
uint32_t pnd_sessions_drain(struct pnd *d);
/* Before a worker sleeps: NEED_WAKEUP on every SQ; false if one has work. */
bool pnd_sessions_prepare_sleep(struct pnd *d);
void pnd_sessions_clear_wakeup(struct pnd *d);
/* Posts the CQE of a job and frees its slot (any worker). */
void pnd_job_complete(struct pnd *d, struct pnd_job *j, int res, uint64_t t_start_run,
		      bool batched);
/* Posts a CQE that has no job slot behind it (NOP, CANCEL, a refused SQE). */
void pnd_session_post(struct pnd *d, struct pnd_session *s, uint64_t user_data, int res);

#endif /* PND_DAEMON_H */
