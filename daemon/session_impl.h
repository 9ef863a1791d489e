/* SPDX-License-Identifier: MIT */
/*
 * session_impl.h - what session.c (rings, job slots, CQ posts) and
 * session_gen.c (PN_OP_GENERATE: its checks, CQEs and cancel) share; the
 * rest of the daemon uses session.h only.
 */
#ifndef PND_SESSION_IMPL_H
#define PND_SESSION_IMPL_H

#include "session.h"

/* The model an SQE names, if the session's tenant may run it (the session's cache). */
struct pnd_model *pnd_session_model(struct pnd_sessions *ss, struct pnd_session *s, uint32_t id);
/*
 * A job slot for q on model m (its CQ slot was reserved by the drain),
 * holding references to m and s. gen: a generation (counted in gen_live,
 * and in gen_streams when it streams). The caller fills j->gen first.
 */
struct pnd_job *pnd_session_job_new(struct pnd_sessions *ss, struct pnd_session *s,
				    const struct pn_sqe *q, struct pnd_model *m, bool gen,
				    const struct pn_gen_args *a);
/* A CQE with no job slot behind it (a refused SQE, NOP, CANCEL): the reserved slot. */
void pnd_session_post(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_cqe *cqe);
/* The same with only user_data and res. */
void pnd_session_post_error(struct pnd_sessions *ss, struct pnd_session *s, uint64_t user_data,
			    int res);
/* A CQE beyond the reserved ones (a token CQE): false when the CQ has no free slot. */
bool pnd_session_post_more(struct pnd_sessions *ss, struct pnd_session *s,
			   const struct pn_cqe *cqe);
/* The job's last CQE in its reserved slot; drops the job and its references. */
void pnd_job_end(struct pnd_sessions *ss, struct pnd_job *j, const struct pn_cqe *cqe);

/* session_gen.c: a PN_OP_GENERATE SQE (sq_busy held); always consumed. */
void pnd_session_gen_sqe(struct pnd_sessions *ss, struct pnd_session *s, const struct pn_sqe *q);
/* PN_OP_CANCEL of a generation: true when one with that user_data was live. */
bool pnd_session_gen_cancel(struct pnd_sessions *ss, struct pnd_session *s, uint64_t target);
/* The session went away: its generations end at their next unit. */
void pnd_session_gen_dead(struct pnd_sessions *ss, struct pnd_session *s);

#endif /* PND_SESSION_IMPL_H */
