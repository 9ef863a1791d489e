/* SPDX-License-Identifier: MIT */
/*
 * core.h - the types every part of polynetd shares and nothing else: the
 * limits, the io_uring event tag, a loaded model, a job, and the loop's
 * services handed down to the parts below it (struct pnd_io). No part's
 * functions are declared here; each part has its header:
 *
 *   main.c -> loop.h -> control.h -> models.h, session.h, tenants.h
 *          -> worker.h -> backend.h -> sched/sched.h
 *
 * A part calls only the parts below it; what goes up (a load finished, a
 * session broke) goes through a callback the caller
 * handed down (struct pnd_io, struct pnd_load_done, struct pnd_worker_host).
 *
 * Threads: one io_uring loop thread owns connections and loads; N workers
 * drain submission rings, run jobs, post completions and, idle, sleep on
 * the sessions' doorbells in their own io_urings (waiter.h). Locks,
 * outermost first: the sessions' lock, the scheduler's lock (worker.h), a
 * session's cq_lock, the models' lock, a model's stat_lock.
 */
#ifndef PND_CORE_H
#define PND_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/model.h"
#include "hist.h"
#include "util/pn_err.h"
#include "transport/region.h"
#include "uapi/proto.h"
#include "uapi/ring.h"

#define PND_MAX_MODELS		64
#define PND_MAX_SESSIONS	1024
#define PND_MAX_TENANTS		256
#define PND_MAX_HOLDERS		32	/* tenants holding one model (a LOAD past it is refused) */
#define PND_LAT_SAMPLES		4096	/* per model: the latest, for STAT */
#define PND_ARENA_MAX		(256ull << 20)
#define PND_SEG_NAME_MAX	48

struct pnd_session;
struct pnd_models;
struct pnd_backend_model;
struct pnd_gen;

/* What an io_uring completion is about: its user_data points at one. */
enum pnd_ev_kind {
	PND_EV_ACCEPT = 1,
	PND_EV_CONN,
	PND_EV_SIGNAL,
	PND_EV_LOAD,
	PND_EV_NOTIFY,
	PND_EV_CANCEL,		/* the completion of a cancel request: ignored */
	PND_EV_BACKOFF,		/* out of fds: the accept waits this timeout out */
};

struct pnd_ev {
	enum pnd_ev_kind kind;
	void *obj;
};

/* A loaded model (models.c owns it; pnd_model_put in models.h drops a reference). */
struct pnd_model {
	uint32_t id, slot;
	atomic_int refs;		/* the table, jobs, sessions' caches, executors */
	atomic_bool gone;		/* unloaded: no new job may name it */
	struct pn_model *m;		/* over the sealed region's bytes */
	struct pnd_backend_model *bm;	/* the backend's derived state (prepare_model) */
	/*
	 * Executors made and prepared at LOAD (or reattach), one per worker,
	 * so that no job pays for them: worker i takes pre_ex[i] with an
	 * atomic exchange the first time it runs the model. The model frees
	 * those never taken.
	 */
	struct pnd_backend_exec **pre_ex;
	uint32_t n_pre_ex;
	struct pnd_models *owner;
	struct pn_region *region;
	void *map;
	size_t size;
	char region_name[PN_REGION_NAME_MAX];
	/* the backend's derived weights' region (derived.h), "" for none */
	char derived_name[PN_REGION_NAME_MAX];
	/* uids that loaded it: they, and every tenant when public, see it (models.lock) */
	uint32_t holders[PND_MAX_HOLDERS], n_holders;
	atomic_uint holders_gen;	/* bumped on each change: sessions' caches recheck */
	uint32_t vocab, max_batch;
	bool decoder;			/* a causal decoder (attn_cache nodes): PN_MODEL_F_DECODER */
	/* its continuous batching (gen_sched.h), NULL when not a decoder or the
	 * backend runs no decoder; freed with the model */
	struct pnd_gen *gen;
	bool reattached, transient;
	bool public;			/* PN_LOAD_F_PUBLIC: every tenant may resolve and run it */
	/* statistics, under stat_lock */
	pthread_mutex_t stat_lock;
	uint64_t jobs, errors, batched;
	double lat_us[PND_LAT_SAMPLES];	/* queue + run, a ring of the latest */
	uint64_t n_lat;
	/* Prometheus histograms (hist.h): atomics, no lock */
	struct pnd_hist lat_hist;	/* submit to completion, every job */
	struct pnd_hist rows_hist;	/* sequences per executor call */
};

/* Who asks, as models.c checks it (tenants.c's pnd_caller fills it). */
struct pnd_caller {
	uint32_t uid;
	bool admin;
	uint32_t max_models;		/* models it may hold */
	uint64_t max_model_bytes;	/* their bytes, summed */
};

/* One job's daemon-side state: a slot of its session's table (session.c). */
struct pnd_job {
	struct pnd_session *s;		/* opaque below session.h */
	struct pnd_model *model;	/* a reference, dropped at completion */
	uint8_t *arena;			/* the session's arena: in_off and out_off point in it */
	struct pn_sqe sqe;		/* the private copy: the ring's may change */
	uint64_t t_submit_ns;
	uint32_t next_free;
	/* PN_OP_GENERATE (session_gen.c, gen_sched.c) */
	bool gen_live;			/* a generation holds this slot (the session's cq_lock) */
	atomic_bool cancel;		/* a PN_OP_CANCEL named it: it ends -ECANCELED */
	struct pn_gen_args gen;		/* the private copy of its arguments, checked */
	struct pnd_job *gen_next;	/* gen_sched.c's queue of jobs waiting for a slot */
};

/* The event loop's services, handed down by loop.c (pnd_loop_init). */
struct pnd_io {
	void *arg;
	/* Queues a read on the loop's io_uring; ev gets the result (loop thread). */
	int (*read)(void *arg, struct pnd_ev *ev, int fd, void *buf, size_t len, uint64_t off);
	/* From any thread: the loop wakes up and reaps broken sessions. */
	void (*notify)(void *arg);
};

uint64_t pnd_now_ns(void);
/* Logs one line to stderr with the daemon's prefix. */
void pnd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* PND_CORE_H */
