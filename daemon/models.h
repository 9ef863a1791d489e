/* SPDX-License-Identifier: MIT */
/*
 * models.h - loaded models: the table, lookups and visibility, UNLOAD and
 * statistics (models.c), LOAD (model_load.c), the persistent index
 * (model_index.c). Every lookup is on behalf of a caller (struct
 * pnd_caller) and sees only what that tenant may see. A model is prepared for the
 * backend once at load (prepare_model) and released with its last
 * reference. Loads read through the loop's io (struct pnd_io) and report
 * through the caller's struct pnd_load_done: models.c never replies to a
 * client. Threads: loads and unloads on the loop thread; lookups, puts and
 * pnd_model_record from any thread (lock: struct pnd_models.lock).
 */
#ifndef PND_MODELS_H
#define PND_MODELS_H

#include "backend.h"
#include "core.h"
#include "worker.h"

struct pnd_models {
	pthread_mutex_t lock;
	struct pnd_model *tab[PND_MAX_MODELS];
	uint32_t next_id;
	struct pn_region *index_region;
	void *index_map;
	struct pnd_load *loading;	/* loads in progress (loop thread) */
	/* set by the caller before pnd_models_init */
	const char *state_prefix;	/* names the persistent regions */
	uint32_t max_models;		/* --max-models: all tenants together (0: the table) */
	uint32_t max_batch;
	uint32_t nexec;			/* executors prepared per model: one per worker */
	uint32_t nworkers;		/* of which general (the rest realtime) */
	bool pin;			/* workers pinned: prepare each on its worker's CPU */
	uint64_t batch_delay_ns;
	struct pnd_work *work;		/* the scheduler learns each model */
	const struct pnd_backend_ops *ops;
	struct pnd_backend *be;
	const struct pnd_io *io;	/* the loop's reads */
};

/* How a load ends: r 0 and desc, or r < 0 and msg (loop thread). */
struct pnd_load_done {
	void (*fn)(void *arg, int r, const struct pn_model_desc *desc, const char *msg);
	void *arg;
};

struct pnd_load;

int pnd_models_init(struct pnd_models *ms, struct pn_err *e);	/* reattaches persistent ones */
void pnd_models_fini(struct pnd_models *ms);
/*
 * Starts reading fd (loop thread); done.fn runs when the reads end, never
 * when this returns an error (then the caller still owns fd).
 */
int pnd_load_start(struct pnd_models *ms, const struct pnd_caller *who,
		   const struct pn_load_req *req, int fd, struct pnd_load_done done,
		   struct pn_err *e);
/* A read of the load completed with res (loop thread, PND_EV_LOAD). */
void pnd_load_event(struct pnd_load *l, int res);
/* Drops the caller's hold; an admin's UNLOAD of a model it does not hold drops every hold. */
int pnd_unload(struct pnd_models *ms, const struct pnd_caller *who,
	       const struct pn_model_ref *ref, struct pn_err *e);
/* A reference to the model the caller sees by that id or name, or NULL (-ENOENT in e). */
struct pnd_model *pnd_model_find(struct pnd_models *ms, const struct pnd_caller *who,
				 const struct pn_model_ref *ref, struct pn_err *e);
struct pnd_model *pnd_model_get_id(struct pnd_models *ms, const struct pnd_caller *who,
				   uint32_t id);
/* uid is one of m's holders (models.lock held). */
bool pnd_model_holds_locked(const struct pnd_model *m, uint32_t uid);
/* The caller holds m, or m is public, or the caller is an admin, and m is not gone
 * (models.lock held). */
bool pnd_model_visible_locked(const struct pnd_model *m, const struct pnd_caller *who);
void pnd_model_put(struct pnd_model *m);
void pnd_model_desc(const struct pnd_model *m, struct pn_model_desc *out);
void pnd_model_record(struct pnd_model *m, double lat_us, int res, bool batched);
/* Models listed now (loop thread). */
uint32_t pnd_models_count(struct pnd_models *ms);

#endif /* PND_MODELS_H */
