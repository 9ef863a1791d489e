/* SPDX-License-Identifier: MIT */
/*
 * proto.h - the control plane between polynetd and its clients: stable ABI.
 *
 * A SOCK_SEQPACKET Unix socket (PN_SOCKET_DEFAULT, or --socket PATH, or
 * $POLYNET_SOCKET): one datagram is one message, a struct pn_msg_hdr then
 * len - sizeof(hdr) bytes of body; file descriptors travel with the message
 * as SCM_RIGHTS. The daemon learns the peer's uid and pid with SO_PEERCRED:
 * the tenant is the uid (docs/daemon.md).
 *
 * Every request gets exactly one reply, with type | PN_MSG_REPLY and the
 * request's seq. A reply body starts with struct pn_reply: status 0 and the
 * type's reply body, or a negative error and a NUL-terminated line saying
 * what was wrong. A malformed request gets an error reply and the
 * connection stays usable; a peer that breaks framing is disconnected.
 *
 * Rules: fixed-width types, explicit padding, sizes asserted, reserved
 * fields zero (else -EINVAL). A released struct never changes: new
 * behaviour takes a new message type and PN_PROTO_VERSION is bumped.
 */
#ifndef PN_UAPI_PROTO_H
#define PN_UAPI_PROTO_H

#include <stdint.h>

#define PN_PROTO_MAGIC		0x4f52504eu	/* "NPRO" */
#define PN_PROTO_VERSION	2u	/* 2: PN_MSG_METRICS */
#define PN_SOCKET_DEFAULT	"/run/polynet/polynetd.sock"
#define PN_MSG_MAX		(256u * 1024u)	/* a whole message, header included */
#define PN_NAME_MAX		64u		/* model and tenant names, with the NUL */

/*
 * Errors (replies and CQEs) are negative errno values; three have a fixed
 * PolyNet meaning: -ETIME a realtime deadline that cannot be met (refused at
 * once), -EDQUOT a tenant quota (in-flight jobs, arena bytes), -ESHUTDOWN
 * the daemon is stopping. docs/daemon.md lists them all.
 */

enum pn_msg_type {
	PN_MSG_HELLO = 1,
	PN_MSG_LOAD = 2,	/* + 1 fd: the .pnb, opened by the client */
	PN_MSG_UNLOAD = 3,
	PN_MSG_LIST = 4,
	PN_MSG_STAT = 5,
	PN_MSG_OPEN_SESSION = 6,	/* reply + 3 fds: segment, doorbell, completion */
	PN_MSG_MODEL_INFO = 7,	/* reply + 1 fd: the model's region, read-only */
	PN_MSG_METRICS = 8,	/* version 2: the counters as Prometheus text */
	PN_MSG_TYPE_COUNT = 9,
	PN_MSG_REPLY = 0x8000,
};

struct pn_msg_hdr {
	uint32_t magic;		/* PN_PROTO_MAGIC */
	uint16_t version;	/* PN_PROTO_VERSION */
	uint16_t type;		/* enum pn_msg_type, | PN_MSG_REPLY in replies */
	uint32_t len;		/* the whole message, header included */
	uint32_t seq;		/* chosen by the client, echoed in the reply */
};

struct pn_reply {
	int32_t status;		/* 0 or -errno */
	uint32_t pad;
	/* status 0: the type's reply body; else a NUL-terminated error line */
};

/* HELLO */
struct pn_hello_req {
	uint32_t version;	/* the client's PN_PROTO_VERSION */
	uint32_t flags;		/* none defined: 0 */
	char client[32];	/* a name for logs and STAT ("polyctl") */
};

struct pn_hello_rep {
	uint32_t version;	/* the daemon's PN_PROTO_VERSION */
	uint32_t uid;		/* the tenant, as SO_PEERCRED saw it */
	uint32_t pid;
	uint32_t admin;		/* 1: this tenant may unload anything */
	uint32_t workers;	/* CPU worker threads */
	uint32_t idle_spin_us;	/* how long an idle worker polls before it sleeps */
	char tenant[32];	/* the admin map's name for uid, or "uid:N" */
	char backend[16];	/* "cpu" */
};

/* LOAD: the .pnb arrives as an fd (SCM_RIGHTS), read by the daemon */
#define PN_LOAD_F_TRANSIENT	(1u << 0)	/* not kept across daemon restarts */
#define PN_LOAD_F_PUBLIC	(1u << 1)	/* every tenant may see it (admins only) */
#define PN_LOAD_F_ALL		(PN_LOAD_F_TRANSIENT | PN_LOAD_F_PUBLIC)
struct pn_load_req {
	uint32_t flags;		/* PN_LOAD_F_* */
	uint32_t pad;
	char path[256];		/* for messages only */
};

/* A loaded model: the reply to LOAD and MODEL_INFO. */
#define PN_MODEL_F_SHARED	(1u << 0)	/* LOAD found it already loaded */
#define PN_MODEL_F_REATTACHED	(1u << 1)	/* came back from a persistent region */
#define PN_MODEL_F_PUBLIC	(1u << 2)	/* visible to every tenant */
#define PN_MODEL_F_DECODER	(1u << 3)	/* a causal decoder: PN_OP_GENERATE runs it
						 * (ring version 3); max_tokens is its context */
struct pn_model_desc {
	uint32_t id;		/* pn_sqe.model */
	uint32_t flags;		/* PN_MODEL_F_* */
	uint32_t out_width;	/* floats per output row */
	uint32_t out_layout;	/* enum pnb_layout */
	uint32_t max_tokens;	/* longer inputs must be clipped by the client */
	uint32_t max_batch;	/* sequences per SQE */
	uint64_t content_hash;
	uint64_t size;		/* bytes of the .pnb */
	uint32_t vocab;		/* rows of the embedding table: ids < vocab */
	uint32_t pad;
	char name[PN_NAME_MAX];
};

/* UNLOAD and MODEL_INFO: by id when id != 0, else by name */
struct pn_model_ref {
	uint32_t id;
	uint32_t pad;
	char name[PN_NAME_MAX];
};

/* LIST and STAT have an empty request body; the reply body is one JSON
 * document (docs/daemon.md), NUL-terminated. METRICS (version 2) has an
 * empty request body too; its reply body is the Prometheus text exposition
 * format 0.0.4 (docs/daemon.md), NUL-terminated, filtered like STAT. */

/* OPEN_SESSION */
struct pn_session_req {
	uint32_t sq_entries;	/* power of two, 1..PN_RING_MAX_ENTRIES */
	uint32_t cq_entries;	/* power of two, >= sq_entries */
	uint64_t arena_size;	/* bytes, <= the tenant's arena quota */
	uint32_t flags;		/* PN_SESSION_F_* */
	uint32_t pad;
};

/*
 * pn_session_req.flags. PN_SESSION_F_RING_V3: the client reads ring version
 * 3 (uapi/ring.h: PN_OP_GENERATE), so the segment may say 3; without it the
 * segment says 2, which clients built before version 3 require. A flag bit
 * is no new message (PN_PROTO_VERSION stays 2, old clients are served as
 * before); a daemon before it refuses it (-EINVAL, "expected flags within
 * 0x1"), and the client library then asks again without it and gets a
 * version 2 session (no generation).
 */
#define PN_SESSION_F_EVENTFD	(1u << 0)	/* wake-ups by eventfd even where futexes work */
#define PN_SESSION_F_RING_V3	(1u << 1)	/* the client speaks ring version 3 */
#define PN_SESSION_F_ALL	(PN_SESSION_F_EVENTFD | PN_SESSION_F_RING_V3)

struct pn_session_rep {
	uint32_t session_id;
	uint32_t pad;
	uint64_t seg_size;	/* mmap the segment fd with this length */
};

_Static_assert(sizeof(struct pn_msg_hdr) == 16, "pn_msg_hdr ABI");
_Static_assert(sizeof(struct pn_reply) == 8, "pn_reply ABI");
_Static_assert(sizeof(struct pn_hello_req) == 40, "pn_hello_req ABI");
_Static_assert(sizeof(struct pn_hello_rep) == 72, "pn_hello_rep ABI");
_Static_assert(sizeof(struct pn_load_req) == 264, "pn_load_req ABI");
_Static_assert(sizeof(struct pn_model_desc) == 112, "pn_model_desc ABI");
_Static_assert(sizeof(struct pn_model_ref) == 72, "pn_model_ref ABI");
_Static_assert(sizeof(struct pn_session_req) == 24, "pn_session_req ABI");
_Static_assert(sizeof(struct pn_session_rep) == 16, "pn_session_rep ABI");

#endif /* PN_UAPI_PROTO_H */
