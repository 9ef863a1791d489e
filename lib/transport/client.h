/* SPDX-License-Identifier: MIT */
/*
 * client.h - talk to polynetd: the control plane (connect, load, list,
 * stat, open a model) and the data plane (a session: rings + arena in
 * shared memory; submit, poll, wait, cancel). Protocol: uapi/proto.h and
 * uapi/ring.h; docs/daemon.md.
 *
 * A job's input and output live in the session's arena: write the ids at
 * some offset (pn_run_in_bytes: int32 ids[batch * T] then uint32
 * lens[batch]), submit an SQE naming the offsets, read the output there
 * when its CQE arrives. Nothing is copied through a socket.
 *
 * Threads: a client and its sessions are used by one thread at a time.
 * Every call returns 0 or -errno and fills e (when given) with one line;
 * -ECONNRESET means polynetd went away, -ESHUTDOWN that it is stopping.
 */
#ifndef PN_CLIENT_H
#define PN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec/model.h"
#include "util/pn_err.h"
#include "uapi/proto.h"
#include "uapi/ring.h"

struct pn_client;
struct pn_session;
struct pn_client_model;
struct io_uring;

/* path NULL: $POLYNET_SOCKET, else PN_SOCKET_DEFAULT. Says HELLO. */
int pn_connect(const char *path, struct pn_client **out, struct pn_err *e);
void pn_disconnect(struct pn_client *c);
const struct pn_hello_rep *pn_client_hello(const struct pn_client *c);
const char *pn_client_socket(const struct pn_client *c);

/* One request, one reply. *body (malloc'd, NUL-terminated) for the caller. */
int pn_client_call(struct pn_client *c, uint16_t type, const void *req, size_t len,
		   const int *fds, int nfds, void **body, size_t *body_len, int *rfds,
		   int maxrfds, int *nrfds, struct pn_err *e);

/* The daemon reads the file through an fd we open: it needs no access to it. */
int pn_client_load(struct pn_client *c, const char *path, uint32_t flags,
		   struct pn_model_desc *out, struct pn_err *e);
/* By id when id != 0, else by name. */
int pn_client_unload(struct pn_client *c, uint32_t id, const char *name, struct pn_err *e);
/* One JSON document each (docs/daemon.md); free() it. */
int pn_client_list(struct pn_client *c, char **json, struct pn_err *e);
int pn_client_stat(struct pn_client *c, char **json, struct pn_err *e);
/* The counters as Prometheus text (METRICS, protocol version 2); free() it. */
int pn_client_metrics(struct pn_client *c, char **text, struct pn_err *e);

/*
 * A loaded model by name (or "#ID"): its description, and its weights
 * mapped read-only from the daemon's region, opened as a pn_model so the
 * client can tokenize (the daemon's hot path takes ids).
 */
int pn_client_model_open(struct pn_client *c, const char *name,
			 struct pn_client_model **out, struct pn_err *e);
void pn_client_model_close(struct pn_client_model *m);
const struct pn_model_desc *pn_client_model_desc(const struct pn_client_model *m);
const struct pn_model *pn_client_model_local(const struct pn_client_model *m);

/* A session with sq/cq entries (powers of two) and an arena of arena bytes. */
int pn_session_open(struct pn_client *c, uint32_t sq_entries, uint32_t cq_entries,
		    uint64_t arena_bytes, struct pn_session **out, struct pn_err *e);
void pn_session_close(struct pn_session *s);
void *pn_session_arena(const struct pn_session *s, uint64_t *size);
/* How this session's rings wake their sleepers (uapi/ring.h). */
enum pn_wake_mode pn_session_wake_mode(const struct pn_session *s);
int pn_session_completion_fd(const struct pn_session *s);
/* The segment's header (for tools and tests: offsets, state). */
struct pn_seg_hdr *pn_session_seg(const struct pn_session *s);

/* Bytes of a PN_OP_RUN input: ids [batch, T] then lens [batch]. */
static inline uint64_t pn_run_in_bytes(uint32_t batch, uint32_t T)
{
	return 4ull * batch * (T + 1ull);
}
/* Fills q for PN_OP_RUN (interactive class, no deadline). */
void pn_sqe_run(struct pn_sqe *q, uint32_t model, uint64_t in_off, uint32_t batch, uint32_t T,
		uint64_t out_off, uint32_t out_len, uint64_t user_data);

/* -EAGAIN when the SQ is full (back-pressure: reap completions, retry). */
int pn_submit(struct pn_session *s, const struct pn_sqe *q);
/*
 * Publishes up to n SQEs with one tail store and at most one wake-up (as
 * io_uring_submit). Returns how many were queued (>= 1), -EAGAIN when the
 * SQ is full, or -errno.
 */
int pn_submit_n(struct pn_session *s, const struct pn_sqe *q, uint32_t n);
/* One completion if there is one: 0, or -EAGAIN. */
int pn_poll(struct pn_session *s, struct pn_cqe *cqe);
/* Up to max completions with one head store: how many (0: none). */
int pn_poll_n(struct pn_session *s, struct pn_cqe *cqe, uint32_t max);

/*
 * How pn_wait waits. Sleeping is in the session's wake mode (uapi/ring.h):
 * an io_uring FUTEX_WAIT on the CQ's wake word where the daemon chose
 * futexes, else the completion eventfd.
 */
enum pn_wait_mode {
	PN_WAIT_SPIN = 0,	/* poll the CQ: the lowest latency, a core busy */
	PN_WAIT_SLEEP = 1,	/* sleep (futex in io_uring, or poll(2) on the eventfd) */
	PN_WAIT_URING = 2,	/* sleep in io_uring (futex, or a read of the eventfd) */
	PN_WAIT_ADAPTIVE = 3,	/* spin for the session's spin time, then sleep */
};
/* PN_WAIT_ADAPTIVE's spin for this session (default 20 us). */
void pn_session_set_spin_us(struct pn_session *s, uint32_t us);
/*
 * How this session's sleeps in pn_wait ended. A sleep lasts at most 100 ms
 * (pn_wait looks at the daemon and the timeout that often); one that ran
 * out while a job was in flight is a lost wake-up, or a job that long.
 */
struct pn_wait_stats {
	uint64_t sleeps;	/* sleeps begun (after the CQ was found empty) */
	uint64_t timed_out;	/* ... that ended by running out, not by a wake */
};
void pn_session_wait_stats(const struct pn_session *s, struct pn_wait_stats *st);
/* Waits for one completion; timeout_ms < 0: forever (-ETIMEDOUT after it). */
int pn_wait(struct pn_session *s, struct pn_cqe *cqe, enum pn_wait_mode mode, int timeout_ms);
/* Asks to cancel the queued job (or the generation, waiting or decoding) target; its
 * CQE says -ECANCELED if it was. */
int pn_cancel(struct pn_session *s, uint64_t target, uint64_t user_data);
/* Submits q and waits for its CQE (no other job of s may be in flight). */
int pn_run(struct pn_session *s, const struct pn_sqe *q, enum pn_wait_mode mode,
	   struct pn_cqe *cqe);

/*
 * Generation (PN_OP_GENERATE, ring version 3; docs/daemon.md "Generation"):
 * a decoder (PN_MODEL_F_DECODER) continues a prompt, its tokens streamed
 * as CQEs. The prompt goes as token ids, BOS first: tokenize it with the
 * model's own tokenizer (pn_client_model_local(m)->bpe), so the daemon
 * takes ids only and the client owns text. The tokens arrive as int32 at
 * the SQE's out_off, each before the CQE that covers it.
 */
/* Bytes of a PN_OP_GENERATE input: struct pn_gen_args, then T prompt ids. */
static inline uint64_t pn_gen_in_bytes(uint32_t T)
{
	return sizeof(struct pn_gen_args) + 4ull * T;
}
/* Greedy, max_tokens tokens, a token CQE per token, seed 0. */
void pn_gen_args_default(struct pn_gen_args *a, uint32_t max_tokens);
/* The session's ring version (uapi/ring.h): 3 generates, 2 (an older daemon) does not. */
uint32_t pn_session_ring_version(const struct pn_session *s);
/*
 * Writes a and ids[0..T) into the arena at in_off and fills q (interactive
 * class) for the tokens at out_off (4 * a->max_tokens bytes). -EINVAL (with
 * e) for a range outside the arena or not 4-byte aligned, -EOPNOTSUPP when
 * the session is ring version 2. Submit q with pn_submit.
 */
int pn_gen_prep(struct pn_session *s, struct pn_sqe *q, uint32_t model,
		const struct pn_gen_args *a, const int32_t *ids, uint32_t T, uint64_t in_off,
		uint64_t out_off, uint64_t user_data, struct pn_err *e);
/* A generation CQE: a token CQE (more follow) or its last one. */
static inline bool pn_cqe_gen_more(const struct pn_cqe *c)
{
	return (c->flags & (PN_CQE_F_GEN | PN_CQE_F_MORE)) == (PN_CQE_F_GEN | PN_CQE_F_MORE);
}
/*
 * The tokens a token CQE covers: *n of them at the returned pointer (into
 * the arena: the SQE's out_off), NULL with *n 0 for any other CQE or one
 * whose range lies outside the arena.
 */
const int32_t *pn_gen_cqe_ids(const struct pn_session *s, const struct pn_cqe *c,
			      uint64_t out_off, uint32_t *n);

/*
 * One generation read as a stream: the session runs nothing else meanwhile
 * (as pn_run). Start it, then call next until it returns 0.
 */
struct pn_gen_stream {
	struct pn_session *s;
	uint64_t user_data, out_off;
	uint32_t tokens;		/* received so far */
	bool done;			/* the last CQE came */
	bool eos;			/* ... and said the model ended it (PN_CQE_F_EOS) */
	int res;			/* ... its res: 0, -ECANCELED, another -errno */
	bool cancel_sent, cancel_seen;
	int cancel_res;			/* the cancel's own CQE, once it came (pn_cancel) */
	struct pn_cqe last;		/* the stream's CQE last read */
};
int pn_gen_stream_start(struct pn_gen_stream *g, struct pn_session *s, uint32_t model,
			const struct pn_gen_args *a, const int32_t *ids, uint32_t T,
			uint64_t in_off, uint64_t out_off, uint64_t user_data, struct pn_err *e);
/*
 * Waits for the stream's next CQE. > 0: that many new tokens at *ids (the
 * arena; they stay there until the session's next job); 0: the stream
 * ended (g->res, g->tokens, g->eos say how; a refusal at submit ends it
 * at once with its error in g->res). < 0: the wait failed (-ETIMEDOUT,
 * -ECONNRESET, -EPROTO for a CQE of another job).
 */
int pn_gen_stream_next(struct pn_gen_stream *g, const int32_t **ids, enum pn_wait_mode mode,
		       int timeout_ms);
/*
 * Asks the daemon to cancel the stream between two tokens: keep calling
 * next; it ends with g->res -ECANCELED (or 0, had it finished first) and
 * g->tokens the tokens sent before it. The cancel's own CQE is read by next.
 */
int pn_gen_stream_cancel(struct pn_gen_stream *g);

/*
 * For an application with its own io_uring: prepares a wait tagged
 * user_data, after telling the daemon to wake it: a FUTEX_WAIT on the CQ's
 * wake word (futex sessions; it may complete -EAGAIN at once: the word
 * moved) or a read of the completion eventfd. Returns 1 (nothing prepared)
 * when completions are already waiting: pn_poll them. When the wait
 * completes, pn_poll until -EAGAIN, then prepare again (a wait may also
 * complete for an earlier wakeup and find no CQE: prepare again then).
 * -EBUSY when the ring has no free SQE.
 */
int pn_prep_wait_sqe(struct io_uring *ring, struct pn_session *s, uint64_t user_data);

#endif /* PN_CLIENT_H */
