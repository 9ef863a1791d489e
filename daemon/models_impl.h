/* SPDX-License-Identifier: MIT */
/*
 * models_impl.h - what models.c, model_load.c and model_index.c share; the
 * rest of the daemon uses models.h only. "_locked": struct pnd_models.lock
 * held by the caller.
 */
#ifndef PND_MODELS_IMPL_H
#define PND_MODELS_IMPL_H

#include "models.h"

/*
 * A model over a read-only mapping of region, checked but not yet prepared
 * for the backend; takes the region and the mapping on success. A transient
 * model keeps no derived region.
 */
int pnd_model_open(struct pnd_models *ms, struct pn_region *region, void *map, size_t size,
		   const char *what, bool transient, struct pnd_model **out, struct pn_err *e);
/* Derived weights and every worker's executor, made and prepared (slow). */
int pnd_model_prepare(struct pnd_models *ms, struct pnd_model *m, struct pn_err *e);
/* pnd_model_open, then pnd_model_prepare; the caller keeps both on failure. */
int pnd_model_new(struct pnd_models *ms, struct pn_region *region, void *map, size_t size,
		  const char *what, bool transient, struct pnd_model **out, struct pn_err *e);
/* Destroys the names of m's persistent regions (unload): memory goes with
 * the last mapping. Clears them, so pnd_model_free leaves them alone. */
void pnd_model_destroy_names(struct pnd_model *m);
void pnd_model_free(struct pnd_model *m);
/* Puts m in a free slot under id (0: a fresh one). */
int pnd_model_insert_locked(struct pnd_models *ms, struct pnd_model *m, uint32_t id,
			    struct pn_err *e);
const char *pnd_model_name(const struct pnd_model *m);

/* The persistent index (model_index.c). */
int pnd_index_open(struct pnd_models *ms, struct pn_err *e);
/* Reattaches every model the index lists, then reclaims unlisted regions. */
void pnd_index_reattach(struct pnd_models *ms);
/* Rewrites m's entry; path names its file (NULL: keep the model's). */
void pnd_index_update_locked(struct pnd_models *ms, const struct pnd_model *m,
			     const char *path);
/* Persists next_id: an id handed to a LOAD is never handed out again. */
void pnd_index_save_next_id_locked(struct pnd_models *ms);
void pnd_index_close(struct pnd_models *ms);

#endif /* PND_MODELS_IMPL_H */
