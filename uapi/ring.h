/* SPDX-License-Identifier: MIT */
/*
 * ring.h - the data plane between polynetd and a client: stable ABI.
 *
 * OPEN_SESSION (uapi/proto.h) hands the client, by SCM_RIGHTS, one sealed
 * memfd (the session segment) and two eventfds (doorbell, completion; used
 * only by sessions whose rings say PN_WAKE_EVENTFD):
 *
 *   [pn_seg_hdr][pad to 4096][SQ: pn_ring_hdr + sq_entries * pn_sqe]
 *   [pad to 4096][CQ: pn_ring_hdr + cq_entries * pn_cqe][pad][arena]
 *
 * Both rings are single-producer single-consumer, indices free-running
 * uint32 (entry = index & (entries - 1)), as in io_uring:
 *  - SQ: the client produces (tail), the daemon consumes (head).
 *  - CQ: the daemon produces, the client consumes.
 * A producer publishes entries with a release store of tail; a consumer
 * frees slots with a release store of head (lib/ring.c documents every
 * barrier). Neither side trusts the other's index: each keeps its own
 * copy and checks the other's (0 <= tail - head <= entries).
 *
 * Wakeups (as SQPOLL's IORING_SQ_NEED_WAKEUP): a consumer about to sleep
 * reads its ring's wake word, sets PN_RING_NEED_WAKEUP in its ring's flags
 * and looks at tail once more; a producer that sees the flag after
 * publishing wakes it. A busy consumer clears the flag and nobody makes a
 * syscall. How it wakes is the ring's wake mode (pn_ring_hdr.wake_mode,
 * written by the daemon before the segment is shared, the same on both
 * rings; docs/daemon.md "Wake-ups"):
 *  - PN_WAKE_FUTEX (Linux 6.7+: io_uring FUTEX_WAIT/FUTEX_WAKE): the
 *    producer increments the ring's wake word (pn_ring_hdr.wake, in the
 *    producer's line) and does a FUTEX_WAKE on it (shared, not private: the
 *    word is in a memfd mapping); the consumer sleeps in FUTEX_WAIT on the
 *    value it read before setting the flag. SQ: the client wakes the
 *    daemon's workers with an io_uring FUTEX_WAKE; CQ: a worker wakes the
 *    client with futex(2).
 *  - PN_WAKE_EVENTFD (older kernels, or asked for with
 *    PN_SESSION_F_EVENTFD): the producer writes the ring's eventfd (SQ:
 *    doorbell, CQ: completion); the wake word is not used.
 *
 * Inputs and outputs live in the arena at offsets the SQE names: the client
 * writes ids there, the daemon writes results there, nothing is copied
 * through a socket. All fields little-endian (the host's); each struct is
 * never changed once released: new fields take reserved space and bump
 * PN_RING_VERSION.
 *
 * Versions: 2 added the wake word and wake mode; 3 added PN_OP_GENERATE
 * (struct pn_gen_args), its token CQEs (PN_CQE_F_MORE) and pn_cqe.gen in
 * what was pn_cqe.reserved. A version 3 layout is version 2's with more
 * meanings, so polynetd still lays out version 2 segments for clients that
 * do not ask for 3 (PN_SESSION_F_RING_V3, uapi/proto.h): a client built
 * before version 3 checks for 2 and keeps working; such a session has no
 * PN_OP_GENERATE (-EINVAL, as before). A client of version 3 accepts either.
 */
#ifndef PN_UAPI_RING_H
#define PN_UAPI_RING_H

#include <stdint.h>

#define PN_RING_MAGIC		0x474e5250u	/* "PRNG" */
#define PN_SEG_MAGIC		0x47455350u	/* "PSEG" */
#define PN_RING_VERSION		3u	/* 3: PN_OP_GENERATE and its CQEs */
#define PN_RING_VERSION_MIN	2u	/* the oldest a peer may still lay out or accept */
#define PN_RING_ALIGN		4096u		/* SQ, CQ and arena offsets */
#define PN_RING_MAX_ENTRIES	32768u

/* pn_ring_hdr.flags */
#define PN_RING_NEED_WAKEUP	(1u << 0)	/* the consumer sleeps: wake it */

/* pn_ring_hdr.wake_mode */
enum pn_wake_mode {
	PN_WAKE_EVENTFD = 0,	/* write(2) the ring's eventfd */
	PN_WAKE_FUTEX = 1,	/* increment pn_ring_hdr.wake, FUTEX_WAKE it */
};

/*
 * Three cache lines so that the producer's and the consumer's stores never
 * share a line (false sharing would cost a transfer per entry).
 */
struct pn_ring_hdr {
	/* line 0: written by the producer only */
	uint32_t tail;			/* next index the producer will fill */
	uint32_t wake;			/* PN_WAKE_FUTEX: the futex word, bumped to wake */
	uint32_t pad0[14];
	/* line 1: written by the consumer only */
	uint32_t head;			/* next index the consumer will read */
	uint32_t flags;			/* PN_RING_NEED_WAKEUP */
	uint32_t pad1[14];
	/* line 2: written by the daemon before the segment is shared */
	uint32_t magic;			/* PN_RING_MAGIC */
	uint32_t version;		/* PN_RING_VERSION */
	uint32_t entries;		/* power of two, 1..PN_RING_MAX_ENTRIES */
	uint32_t entry_size;		/* sizeof(struct pn_sqe) or (struct pn_cqe) */
	uint32_t wake_mode;		/* enum pn_wake_mode */
	uint32_t pad2[11];
	/* entries * entry_size bytes of entries follow */
};

/* pn_seg_hdr.state, written by the daemon */
enum pn_seg_state {
	PN_SEG_LIVE = 1,
	PN_SEG_SHUTDOWN = 2,	/* the daemon is stopping: no new SQE is read */
	PN_SEG_BROKEN = 3,	/* the client broke the protocol: session closed */
};

struct pn_seg_hdr {
	uint32_t magic;			/* PN_SEG_MAGIC */
	uint32_t version;		/* PN_RING_VERSION */
	uint64_t size;			/* the whole segment, bytes */
	uint64_t sq_off;		/* struct pn_ring_hdr of the SQ */
	uint64_t cq_off;		/* struct pn_ring_hdr of the CQ */
	uint64_t arena_off;
	uint64_t arena_size;
	uint32_t session_id;
	uint32_t state;			/* enum pn_seg_state */
	uint32_t sq_entries;
	uint32_t cq_entries;
};

/* pn_sqe.opcode */
enum pn_sqe_op {
	PN_OP_NOP = 0,		/* completes at once: measures the rings alone */
	PN_OP_RUN = 1,		/* run model on the input, write the output */
	PN_OP_CANCEL = 2,	/* cancel the queued job (or generation) whose user_data is in arg */
	PN_OP_GENERATE = 3,	/* version 3: continue a prompt on a decoder, a CQE per N tokens */
	PN_OP_COUNT = 4,
};

/* pn_sqe.prio: scheduling class */
enum pn_prio {
	PN_PRIO_REALTIME = 0,	/* earliest deadline first, before everything */
	PN_PRIO_INTERACTIVE = 1,
	PN_PRIO_BATCH = 2,
	PN_PRIO_COUNT = 3,
};

/*
 * One job. PN_OP_RUN input at in_off (in_len bytes):
 *   int32 ids[batch * T] (row-major, padded) then uint32 lens[batch]
 * so in_len == 4 * batch * (T + 1). Output at out_off: float rows
 * [batch, out_width] (SEQ model) or [batch * T, out_width] (TOKENS model);
 * out_len must be at least that. Offsets are from the arena's start.
 */
struct pn_sqe {
	uint64_t user_data;		/* returned in the CQE */
	uint8_t opcode;			/* enum pn_sqe_op */
	uint8_t prio;			/* enum pn_prio */
	uint16_t flags;			/* none defined: must be 0 */
	uint32_t model;			/* model id (LOAD/MODEL_INFO reply) */
	uint64_t in_off;
	uint64_t out_off;
	uint32_t in_len;
	uint32_t out_len;
	uint32_t batch;			/* sequences, >= 1 */
	uint32_t T;			/* padded tokens per sequence, >= 1 */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC, 0: none (realtime needs one) */
	uint64_t arg;			/* PN_OP_CANCEL: the target's user_data */
};

/*
 * PN_OP_GENERATE (version 3): continues one prompt on a causal decoder
 * (PN_MODEL_F_DECODER), its decode steps batched with other sessions'.
 *   in_off:  struct pn_gen_args, then int32 prompt ids[T] (BOS first, as the
 *            model's tokenizer makes them: the client tokenizes, MODEL_INFO
 *            maps the tokenizer); in_len == sizeof(struct pn_gen_args) + 4 * T
 *   out_off: int32 ids[max_tokens]: the daemon writes each generated token
 *            there before the CQE that covers it; out_len >= 4 * max_tokens
 *   batch 1; T the prompt's tokens, 1..context - 1; prio INTERACTIVE or BATCH
 *   (a generation has no deadline: REALTIME is -EINVAL); deadline_ns, arg 0.
 * CQEs, all with the SQE's user_data: a token CQE (PN_CQE_F_MORE) every
 * stream_every tokens and for the last ones, then one last CQE without
 * PN_CQE_F_MORE (see struct pn_cqe).
 */
struct pn_gen_args {
	uint32_t max_tokens;		/* 1..context - T: the job's tokens at most */
	uint32_t stream_every;		/* a token CQE per N tokens; 0: only the last CQE */
	float temperature;		/* 0: greedy (argmax); else > 0, softmax(logits / t) */
	float top_p;			/* (0, 1]; 1: off (lib/gen/sample.h) */
	uint64_t seed;			/* the sampler's: a job repeats exactly */
	uint32_t flags;			/* none defined: 0 */
	uint32_t reserved;		/* 0 */
};

/* pn_cqe.flags */
#define PN_CQE_F_BATCHED	(1u << 0)	/* ran coalesced with other jobs */
#define PN_CQE_F_MORE		(1u << 1)	/* version 3: a token CQE, more CQEs follow */
#define PN_CQE_F_EOS		(1u << 2)	/* version 3, last CQE: the model ended it (EOS) */
#define PN_CQE_F_GEN		(1u << 3)	/* version 3: a PN_OP_GENERATE CQE (gen is valid) */

/*
 * One completion: res is 0 or -errno; -ETIME: a realtime deadline that
 * cannot be met, -EDQUOT: a tenant quota, -ECANCELED: cancelled, -EINVAL: a
 * malformed SQE (uapi/proto.h and docs/daemon.md list them).
 *
 * PN_OP_GENERATE's CQEs carry PN_CQE_F_GEN and fill gen:
 *   token CQE (PN_CQE_F_MORE): res = n >= 1 tokens this CQE covers, the
 *     ids out[gen.tokens - n .. gen.tokens) of the job's output;
 *     gen.token = the last of them (with stream_every 1: the token itself)
 *   last CQE: res 0 (max_tokens reached, or PN_CQE_F_EOS: the model's EOS,
 *     which is not written), -ECANCELED (PN_OP_CANCEL, or the session went
 *     away), or another -errno (docs/daemon.md); gen.tokens = the tokens
 *     sent before it (all of them in token CQEs, or with stream_every 0
 *     all of them here: out[0 .. gen.tokens)), gen.token the last or -1.
 *   queue_us: waiting for a cache slot; run_us: since the slot was taken.
 */
struct pn_cqe {
	uint64_t user_data;
	int32_t res;
	uint32_t flags;			/* PN_CQE_F_* */
	uint32_t queue_us;		/* time spent queued in the daemon */
	uint32_t run_us;		/* time spent executing */
	union {
		uint64_t reserved;	/* version 2: 0 */
		struct {
			uint32_t tokens;	/* PN_CQE_F_GEN: tokens sent, this CQE's included */
			int32_t token;		/* the last of them, -1 for none */
		} gen;
	};
};

_Static_assert(sizeof(struct pn_ring_hdr) == 192, "pn_ring_hdr ABI");
_Static_assert(sizeof(struct pn_seg_hdr) == 64, "pn_seg_hdr ABI");
_Static_assert(sizeof(struct pn_sqe) == 64, "pn_sqe ABI");
_Static_assert(sizeof(struct pn_cqe) == 32, "pn_cqe ABI");
_Static_assert(sizeof(struct pn_gen_args) == 32, "pn_gen_args ABI");
_Static_assert(__builtin_offsetof(struct pn_cqe, gen.tokens) == 24 &&
	       __builtin_offsetof(struct pn_cqe, gen.token) == 28, "pn_cqe.gen ABI");

#endif /* PN_UAPI_RING_H */
