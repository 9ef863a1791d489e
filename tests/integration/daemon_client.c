// SPDX-License-Identifier: MIT
/*
 * daemon_client - a test client of polynetd for tests/integration/test_daemon_*.sh
 * and bench/ring_bench.sh. The Makefile builds it (build/rel/tests/daemon_client).
 *
 *   daemon_client mkmodel fixture|nan|huge|empty|badshape|nop:NAME:MAXTOK OUT.pnb   (nan: a
 *                NaN weight; huge: finite weights whose outputs overflow; badshape:
 *                valid to the reader, a LINEAR weight of the wrong shape for the graph;
 *                nop: a model named NAME, its bytes differing with MAXTOK)
 *   daemon_client stress SOCK MODEL REF.pnb JOBS DEPTH SEED [POISON_ID EVERY]
 *                (every EVERY-th job holds token POISON_ID and must fail with EIO: a
 *                device fault the CUDA double raises on that id; the others never hold
 *                it and must not; EVERY 0: no job holds it)
 *   daemon_client flood SOCK MODEL JOBS
 *   daemon_client hang SOCK MODEL
 *   daemon_client waitdeath SOCK MODEL
 *   daemon_client malformed SOCK MODEL
 *   daemon_client tenant SOCK MODEL UID
 *   daemon_client throughput SOCK MODEL SECONDS DEPTH [batched]
 *   daemon_client api SOCK MODEL        (io_uring waits, cancel)
 *   daemon_client idlewait SOCK MODEL N MS   (N timed waits on an idle session, each mode)
 *   daemon_client lenscheck SOCK MODEL N   (a bad short job next to a long one, N times)
 *   daemon_client saturate SOCK MODEL SECONDS DEPTH UID PRIO   (prints jobs done)
 *   daemon_client rtlat SOCK MODEL SECONDS PERIOD_US   (prints p50 p99 p99.9 n refused)
 *   daemon_client info SOCK ID|NAME      (MODEL_INFO: prints "ok ID NAME" or "err ERRNO MSG")
 *   daemon_client rtflood SOCK MODEL SECONDS   (realtime jobs back to back: first one with
 *                deadline UINT64_MAX, then now + 5 s; prints "einval E ok N edquot Q etime T")
 *   daemon_client fairjob SOCK MODEL SECONDS PRIO BATCH T DEPTH   (DEPTH jobs of BATCH x T
 *                tokens of class PRIO in flight; prints "jobs N rate R p50 P p99 P p999 P
 *                refused N", latencies in ms; realtime jobs get deadline now + 5 s)
 *   daemon_client jobid SOCK ID          (one job naming model ID: prints its CQE result)
 *   daemon_client sessions SOCK N ARENA_MB CQ   (opens N sessions of CQ entries: prints
 *                "opened K" and the first refusal, then closes them)
 *   daemon_client badgrams SOCK        (empty, oversized, 20-fd datagrams: each answered)
 *   daemon_client pipeline SOCK N      (N requests unread, then N replies in order)
 *   daemon_client statflood SOCK SECONDS
 *   daemon_client hello SOCK DELAY     (connect, wait DELAY s, HELLO answered)
 *   daemon_client hog SOCK N SECONDS   (holds up to N bare connections)
 *   daemon_client connlimit SOCK N SECONDS   (N connections, the next refused, held)
 *
 * Exit 0 when the checked behaviour holds, 1 with one line on stderr when not.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "transport/client.h"
#include "exec/exec.h"
#include "util/stats.h"
#include "fixture_model.h"
#include "transport/proto.h"

#define FAIL(...) do { fprintf(stderr, "daemon_client: " __VA_ARGS__); \
		       fputc('\n', stderr); exit(1); } while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void mkmodel(const char *kind, const char *path)
{
	struct fx_weights fw;
	struct pn_err e;

	if (!strcmp(kind, "badshape")) {
		static const float table[16], W[12];
		struct pnb_writer *w = pnb_writer_new();
		struct pnb_header h = { 0 };
		struct pnb_node n;
		uint64_t sh[2] = { 4, 4 }, shw[2] = { 3, 4 };	/* W must be [4, 4] */
		uint32_t ids, x, y;

		if (!w)
			FAIL("out of memory");
		ids = pnb_w_value(w, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
		x = pnb_w_value(w, "x", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 4);
		y = pnb_w_value(w, "y", PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, 4);
		pnb_node_init(&n, PNB_OP_EMBED, pnb_w_string(w, "embed"), x);
		n.n_in = 1;
		n.in[0] = ids;
		n.n_w = 1;
		n.w[PNB_W_EMBED_TABLE] = pnb_w_tensor(w, "E", PNB_DTYPE_F32, 2, sh, table);
		n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
		pnb_w_node(w, &n);
		pnb_node_init(&n, PNB_OP_LINEAR, pnb_w_string(w, "proj"), y);
		n.n_in = 1;
		n.in[0] = x;
		n.n_w = 1;
		n.w[PNB_W_LINEAR_W] = pnb_w_tensor(w, "W", PNB_DTYPE_F32, 2, shw, W);
		pnb_w_node(w, &n);
		h.name = pnb_w_string(w, "badshape");
		h.input = ids;
		h.output = y;
		h.max_tokens = 8;
		h.tok_pieces = h.tok_scores = PNB_NONE;
		pnb_w_header(w, &h);
		if (pnb_w_finish(w, path, &e))
			FAIL("%s", e.msg);
		pnb_writer_free(w);
		return;
	}
	if (!strncmp(kind, "nop:", 4)) {
		char name[64];
		unsigned maxtok = 8;

		if (sscanf(kind + 4, "%63[^:]:%u", name, &maxtok) < 1 ||
		    pnb_write_nop_model(path, name, maxtok, &e))
			FAIL("mkmodel %s: %s", kind, e.msg);
		return;
	}
	if (!strcmp(kind, "empty")) {
		if (pnb_write_nop_model(path, "empty", 8, &e))
			FAIL("%s", e.msg);
		return;
	}
	fx_init(&fw, 7);
	if (!strcmp(kind, "nan"))
		fw.wt[5] = NAN;		/* the reader refuses it (inspect --allow-nonfinite reports) */
	if (!strcmp(kind, "huge"))	/* finite weights, an output that overflows to inf/NaN */
		for (size_t i = 0; i < sizeof(fw.wt) / sizeof(fw.wt[0]); i++)
			fw.wt[i] = 3e38f;
	if (fx_write(&fw, path, &e))
		FAIL("%s", e.msg);
}

struct conn {
	struct pn_client *c;
	struct pn_client_model *m;
	struct pn_session *s;
	const struct pn_model_desc *d;
	uint8_t *arena;
	uint64_t arena_size;
};

static void open_all(struct conn *k, const char *sock, const char *model, uint32_t sq,
		     uint32_t cq)
{
	struct pn_err e;

	if (pn_connect(sock, &k->c, &e) || pn_client_model_open(k->c, model, &k->m, &e) ||
	    pn_session_open(k->c, sq, cq, 1 << 20, &k->s, &e))
		FAIL("%s", e.msg);
	k->d = pn_client_model_desc(k->m);
	k->arena = pn_session_arena(k->s, &k->arena_size);
}

static void close_all(struct conn *k)
{
	pn_session_close(k->s);
	pn_client_model_close(k->m);
	pn_disconnect(k->c);
}

struct slot {
	uint64_t user_data;	/* 0: free */
	uint32_t batch, T;
	bool poisoned;		/* holds the poison id: expects -EIO */
	float ref[4 * 12 * 64];
};

enum { SLOT_BYTES = 16384 };

/* stress's poison id: random jobs never hold it (-1: none) */
static int32_t g_poison = -1;

/* Writes a random job into slot i's arena space; its reference output too. */
static void make_job(struct conn *k, struct pn_exec *x, struct slot *sl, uint32_t i,
		     uint32_t *seed, struct pn_sqe *q, uint64_t ud)
{
	uint8_t *base = k->arena + (size_t)i * SLOT_BYTES;
	uint32_t batch = 1 + (fx_rand(seed, 1.0f) + 0.5f) * 3.99f;
	uint32_t T = 1 + (uint32_t)((fx_rand(seed, 1.0f) + 0.5f) * (k->d->max_tokens - 0.01f));
	int32_t *ids = (int32_t *)base;
	uint32_t *lens = (uint32_t *)(ids + batch * T);
	uint32_t out_off = (uint32_t)(i * SLOT_BYTES + 8192);
	struct pn_err e;

	for (uint32_t b = 0; b < batch; b++) {
		lens[b] = 1 + (uint32_t)((fx_rand(seed, 1.0f) + 0.5f) * (T - 0.01f));
		for (uint32_t t = 0; t < T; t++)
			ids[b * T + t] = t < lens[b] ?
				(int32_t)((fx_rand(seed, 1.0f) + 0.5f) * (k->d->vocab - 0.01f)) : 0;
		for (uint32_t t = 0; t < T; t++)
			if (ids[b * T + t] == g_poison)
				ids[b * T + t] = (g_poison + 1) % (int32_t)k->d->vocab;
	}
	if (pn_exec_run(x, ids, lens, batch, T, sl->ref, &e))
		FAIL("reference run: %s", e.msg);
	sl->batch = batch;
	sl->T = T;
	sl->user_data = ud;
	pn_sqe_run(q, k->d->id, (uint64_t)i * SLOT_BYTES, batch, T, out_off,
		   batch * k->d->out_width * 4, ud);
	q->prio = PN_PRIO_BATCH;
}

/*
 * Many jobs, DEPTH in flight, each checked against the in-process executor
 * on the same ids. Tolerance 1e-4 absolute on unit-norm outputs: the daemon
 * may run a job coalesced with other clients' jobs (another batch size and
 * padding), which reorders float sums in the GEMMs; 1e-4 is far above that
 * rounding (~1e-6) and far below any real error (wrong row, wrong ids).
 */
static void stress(const char *sock, const char *model, const char *ref, uint32_t jobs,
		   uint32_t depth, uint32_t seed, int32_t poison, uint32_t every)
{
	uint32_t n_poisoned = 0;

	g_poison = poison;	/* -1: none */
	struct conn k;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_exec *x;
	struct pn_err e;
	struct slot *sl;
	uint32_t sent = 0, done = 0, inflight = 0;

	open_all(&k, sock, model, 16, 16);
	if (pn_model_open(ref, &m, &e) || pn_cpu_model_new(m, &cm, &e) ||
	    pn_exec_new(cm, 4, m->max_tokens, NULL, &x, &e))
		FAIL("%s", e.msg);
	if (depth > 16 || depth * SLOT_BYTES > k.arena_size)
		FAIL("depth %u too large", depth);
	sl = calloc(depth, sizeof(*sl));
	while (done < jobs) {
		struct pn_cqe cqe;

		for (uint32_t i = 0; i < depth && sent < jobs; i++) {
			struct pn_sqe q;

			if (sl[i].user_data)
				continue;
			make_job(&k, x, &sl[i], i, &seed, &q, ((uint64_t)sent << 8) | i | 0x80);
			sl[i].poisoned = every && sent % every == every - 1;
			if (sl[i].poisoned)
				((int32_t *)(k.arena + (size_t)i * SLOT_BYTES))[0] = poison;
			if (pn_submit(k.s, &q))
				FAIL("submit: unexpected refusal");
			sent++;
			inflight++;
		}
		int r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 20000);

		if (r)
			FAIL("wait: %s", pn_strerror(r));
		uint32_t i = cqe.user_data & 0x7f;

		if (i >= depth || sl[i].user_data != cqe.user_data)
			FAIL("CQE user_data 0x%llx: not in flight (duplicate or unknown)",
			     (unsigned long long)cqe.user_data);
		if (sl[i].poisoned) {
			if (cqe.res != -EIO)
				FAIL("poisoned job 0x%llx: %s, expected EIO",
				     (unsigned long long)cqe.user_data,
				     cqe.res ? pn_strerror(cqe.res) : "success");
			n_poisoned++;
			sl[i].user_data = 0;
			inflight--;
			done++;
			continue;
		}
		if (cqe.res)
			FAIL("job 0x%llx: %s", (unsigned long long)cqe.user_data,
			     pn_strerror(cqe.res));
		const float *out = (const float *)(k.arena + i * SLOT_BYTES + 8192);

		for (uint32_t j = 0; j < sl[i].batch * k.d->out_width; j++)
			if (!(fabsf(out[j] - sl[i].ref[j]) <= 1e-4f))
				FAIL("job 0x%llx: output[%u] %g, in-process %g",
				     (unsigned long long)cqe.user_data, j, out[j], sl[i].ref[j]);
		sl[i].user_data = 0;
		inflight--;
		done++;
	}
	if (pn_poll(k.s, &(struct pn_cqe){ 0 }) != -EAGAIN)
		FAIL("an extra CQE after the last job");
	if (every)
		printf("ok %u poisoned %u\n", jobs - n_poisoned, n_poisoned);
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	free(sl);
	close_all(&k);
}

/* One tiny job at arena offset 0 (the empty model's shape) with user_data ud. */
static void tiny_sqe(struct conn *k, struct pn_sqe *q, uint64_t ud)
{
	int32_t *in = (int32_t *)k->arena;

	in[0] = 1;	/* id */
	in[1] = 1;	/* len */
	pn_sqe_run(q, k->d->id, 0, 1, 1, 64, k->d->out_width * 4, ud);
}

/* Submits JOBS without reaping until the SQ pushes back; every job completes once. */
static void flood(const char *sock, const char *model, uint32_t jobs)
{
	struct conn k;
	uint8_t *seen = calloc(jobs, 1);
	uint32_t sent = 0, done = 0, pushed_back = 0;

	open_all(&k, sock, model, 8, 8);
	while (done < jobs) {
		struct pn_sqe q;
		struct pn_cqe cqe;
		int r = 0;

		while (sent < jobs) {
			tiny_sqe(&k, &q, sent);
			r = pn_submit(k.s, &q);
			if (r == -EAGAIN) {
				pushed_back++;
				break;
			}
			if (r)
				FAIL("submit: %s", pn_strerror(r));
			sent++;
		}
		/* let the daemon fill the CQ and stall on it before reaping */
		usleep(200);
		while ((r = pn_poll(k.s, &cqe)) == 0) {
			if (cqe.user_data >= jobs || seen[cqe.user_data]++)
				FAIL("CQE %llu: unknown or twice",
				     (unsigned long long)cqe.user_data);
			if (cqe.res)
				FAIL("job %llu: %s", (unsigned long long)cqe.user_data,
				     pn_strerror(cqe.res));
			done++;
		}
		if (done < sent && pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 0) == 0) {
			if (cqe.user_data >= jobs || seen[cqe.user_data]++)
				FAIL("CQE %llu: unknown or twice",
				     (unsigned long long)cqe.user_data);
			done++;
		}
	}
	if (!pushed_back)
		FAIL("the SQ never pushed back: the test did not test back-pressure");
	printf("flood: %u jobs, all completed once, %u push-backs\n", jobs, pushed_back);
	close_all(&k);
	free(seen);
}

/* Keeps jobs in flight forever (the test SIGKILLs it). */
static void hang(const char *sock, const char *model)
{
	struct conn k;
	uint64_t ud = 0;

	open_all(&k, sock, model, 8, 8);
	printf("hanging\n");
	fflush(stdout);
	for (;;) {
		struct pn_sqe q;
		struct pn_cqe cqe;

		tiny_sqe(&k, &q, ud++);
		while (pn_submit(k.s, &q) == 0)
			tiny_sqe(&k, &q, ud++);
		pn_poll(k.s, &cqe);
	}
}

/* Runs jobs until the daemon dies: the error must say so. */
static void waitdeath(const char *sock, const char *model)
{
	struct conn k;
	uint64_t ud = 0;

	open_all(&k, sock, model, 8, 8);
	printf("waiting\n");
	fflush(stdout);
	for (;;) {
		struct pn_sqe q;
		struct pn_cqe cqe;
		int r;

		tiny_sqe(&k, &q, ud++);
		r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe);
		if (r == -ECONNRESET || r == -ESHUTDOWN) {
			printf("client saw: %s\n", r == -ECONNRESET ?
			       "polynetd went away (ECONNRESET)" : "polynetd shut down");
			exit(0);
		}
		if (r)
			FAIL("job: %s", pn_strerror(r));
		usleep(1000);
	}
}

/* Raw control messages: each bad one gets an error reply, the connection lives. */
static void malformed(const char *sock, const char *model)
{
	struct conn k, k2;
	struct pn_err e;
	struct pn_msg_hdr h = { .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION };
	uint8_t buf[PN_MSG_MAX];
	int fds[4], nfd;
	struct {
		const char *what;
		uint32_t magic, version, type, len_delta, body;
	} bad[] = {
		{ "bad magic", 0xdeadbeef, PN_PROTO_VERSION, PN_MSG_HELLO, 0, 40 },
		{ "bad version", PN_PROTO_MAGIC, 99, PN_MSG_HELLO, 0, 40 },
		{ "unknown type", PN_PROTO_MAGIC, PN_PROTO_VERSION, 77, 0, 0 },
		{ "len lies", PN_PROTO_MAGIC, PN_PROTO_VERSION, PN_MSG_LIST, 5, 0 },
		{ "short HELLO", PN_PROTO_MAGIC, PN_PROTO_VERSION, PN_MSG_HELLO, 0, 3 },
		{ "LOAD without fd", PN_PROTO_MAGIC, PN_PROTO_VERSION, PN_MSG_LOAD, 0, 264 },
		{ "a reply as request", PN_PROTO_MAGIC, PN_PROTO_VERSION,
		  PN_MSG_LIST | PN_MSG_REPLY, 0, 0 },
	};

	open_all(&k, sock, model, 8, 8);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		FAIL("connect: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0, sizeof(buf));
		h.magic = bad[i].magic;
		h.version = (uint16_t)bad[i].version;
		h.type = (uint16_t)bad[i].type;
		h.len = (uint32_t)(sizeof(h) + bad[i].body + bad[i].len_delta);
		h.seq = (uint32_t)i + 100;
		memcpy(buf, &h, sizeof(h));
		if (send(fd, buf, sizeof(h) + bad[i].body, 0) < 0)
			FAIL("%s: send: %s", bad[i].what, strerror(errno));
		ssize_t n = pn_proto_recv(fd, buf, sizeof(buf), fds, 4, &nfd, &e);
		const struct pn_msg_hdr *rh;
		const void *body;
		size_t bl;

		if (n <= 0 || pn_proto_check(buf, (size_t)n, 1, &rh, &body, &bl, &e))
			FAIL("%s: no well-formed reply (%zd)", bad[i].what, n);
		if (((const struct pn_reply *)body)->status >= 0)
			FAIL("%s: accepted", bad[i].what);
		printf("  %-20s -> %s\n", bad[i].what,
		       (const char *)((const struct pn_reply *)body + 1));
	}
	close(fd);
	/* the daemon serves the well-behaved connection as before */
	char *json;

	if (pn_client_list(k.c, &json, &e))
		FAIL("after malformed messages: %s", e.msg);
	free(json);
	/* malformed SQEs: each answered -EINVAL/-ENOENT, the session goes on */
	struct pn_sqe q;
	struct pn_cqe cqe;
	int r;

	tiny_sqe(&k, &q, 1);
	q.opcode = 9;
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EINVAL)
		FAIL("bad opcode: %d", r);
	tiny_sqe(&k, &q, 2);
	q.out_off = k.arena_size - 4;	/* runs past this session's arena */
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EINVAL)
		FAIL("output past the arena: %d", r);
	tiny_sqe(&k, &q, 3);
	q.in_off = UINT64_MAX - 3;	/* wraps */
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EINVAL)
		FAIL("wrapping input offset: %d", r);
	tiny_sqe(&k, &q, 4);
	q.model = 999999;
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -ENOENT)
		FAIL("unknown model: %d", r);
	tiny_sqe(&k, &q, 5);
	((int32_t *)k.arena)[0] = 1 << 30;	/* id outside the table */
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EINVAL)
		FAIL("id outside the vocabulary: %d", r);
	tiny_sqe(&k, &q, 6);
	q.T = 1000;
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EINVAL)
		FAIL("T past max_tokens: %d", r);
	tiny_sqe(&k, &q, 7);
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != 0)
		FAIL("a good SQE after the bad ones: %d", r);
	printf("  malformed SQEs answered -EINVAL/-ENOENT, the session goes on\n");
	/* a client scribbling on its ring's tail breaks its own session only */
	{
		struct pn_seg_hdr *sh = pn_session_seg(k.s);
		struct pn_ring_hdr *cqh = (struct pn_ring_hdr *)((uint8_t *)sh + sh->cq_off);

		cqh->head += 100000;	/* claims CQEs the daemon never posted */
		tiny_sqe(&k, &q, 8);
		if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)) != -EPROTO)
			FAIL("scribbled CQ head: %d, expected -EPROTO", r);
		printf("  a scribbled ring breaks its own session (-EPROTO)\n");
	}
	open_all(&k2, sock, model, 8, 8);
	tiny_sqe(&k2, &q, 9);
	if ((r = pn_run(k2.s, &q, PN_WAIT_SLEEP, &cqe)) != 0)
		FAIL("a new session after a broken one: %d", r);
	close_all(&k2);
	close_all(&k);
	printf("malformed: ok\n");
}

/* Another uid: cannot unload root's public model, can run it in its own session. */
static void tenant(const char *sock, const char *model, uint32_t uid)
{
	struct conn k;
	struct pn_err e;
	struct pn_sqe q;
	struct pn_cqe cqe;
	int r;

	if (setgid(uid) || setuid(uid))
		FAIL("setuid %u: %s", uid, strerror(errno));
	open_all(&k, sock, model, 8, 8);
	if (pn_client_hello(k.c)->uid != uid)
		FAIL("the daemon saw uid %u, expected %u", pn_client_hello(k.c)->uid, uid);
	r = pn_client_unload(k.c, 0, model, &e);
	if (r != -EPERM)
		FAIL("unload of another tenant's model: %d, expected -EPERM", r);
	printf("  unload refused: %s\n", e.msg);
	tiny_sqe(&k, &q, 1);
	if ((r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe)))
		FAIL("run as uid %u: %s", uid, pn_strerror(r));
	close_all(&k);
	printf("tenant: ok (the daemon calls uid %u '%s')\n", uid, pn_client_hello(k.c)->tenant);
}

/*
 * The rest of the client API: PN_WAIT_URING, pn_prep_wait_sqe on the
 * application's own io_uring next to a timer, and pn_cancel (consistent
 * outcome: a cancelled job says -ECANCELED and its cancel 0, or the job ran
 * and its cancel says -EBUSY/-ENOENT; one CQE per SQE either way).
 */
static void api(const char *sock, const char *model)
{
	struct io_uring ring;
	struct conn k;
	struct pn_sqe q;
	struct pn_cqe cqe;
	int r, seen_ring = 0;

	open_all(&k, sock, model, 32, 32);
	for (int i = 0; i < 50; i++) {
		tiny_sqe(&k, &q, (uint64_t)i);
		if ((r = pn_run(k.s, &q, PN_WAIT_URING, &cqe)))
			FAIL("PN_WAIT_URING job %d: %s", i, pn_strerror(r));
	}
	if (io_uring_queue_init(8, &ring, 0))
		FAIL("io_uring_queue_init");
	for (int i = 0; i < 50; i++) {
		struct io_uring_cqe *c;
		struct __kernel_timespec ts = { .tv_sec = 5 };
		struct io_uring_sqe *t;

		/* the wait first, then the job: the read cannot find it done already */
		r = pn_prep_wait_sqe(&ring, k.s, 0xc0ffee);
		if (r < 0)
			FAIL("pn_prep_wait_sqe: %d", r);
		tiny_sqe(&k, &q, 1000 + (uint64_t)i);
		if (pn_submit(k.s, &q))
			FAIL("submit");
		for (int tries = 0;; tries++) {
			if (tries > 100)
				FAIL("the CQE never came behind the io_uring read");
			if (r == 0) {
				/* the application's other I/O: a timeout that must not fire first */
				t = io_uring_get_sqe(&ring);
				io_uring_prep_timeout(t, &ts, 0, 0);
				io_uring_sqe_set_data64(t, 0x7);
				io_uring_submit(&ring);
				if (io_uring_wait_cqe(&ring, &c) || c->user_data != 0xc0ffee)
					FAIL("io_uring: expected the completion read first");
				io_uring_cqe_seen(&ring, c);
				seen_ring++;
				t = io_uring_get_sqe(&ring);
				io_uring_prep_timeout_remove(t, 0x7, 0);
				io_uring_submit(&ring);
				while (io_uring_wait_cqe(&ring, &c) == 0) {
					uint64_t ud = c->user_data;

					io_uring_cqe_seen(&ring, c);
					if (ud == 0x7)
						break;
				}
			}
			if (pn_poll(k.s, &cqe) == 0)
				break;
			/* a stale wakeup (an earlier eventfd count): prepare again */
			r = pn_prep_wait_sqe(&ring, k.s, 0xc0ffee);
			if (r < 0)
				FAIL("pn_prep_wait_sqe: %d", r);
		}
		if (cqe.user_data != 1000 + (uint64_t)i || cqe.res)
			FAIL("the CQE behind the io_uring read: 0x%llx res %d",
			     (unsigned long long)cqe.user_data, cqe.res);
	}
	io_uring_queue_exit(&ring);
	if (!seen_ring)
		FAIL("the completion eventfd was never read through io_uring");
	/* cancel: 16 jobs, then cancel the last one */
	for (int i = 0; i < 16; i++) {
		tiny_sqe(&k, &q, 2000 + (uint64_t)i);
		if (pn_submit(k.s, &q))
			FAIL("submit");
	}
	if (pn_cancel(k.s, 2015, 3000))
		FAIL("cancel submit");
	int job_res = 1, cancel_res = 1;

	for (int n = 0; n < 17; n++) {
		if ((r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 5000)))
			FAIL("wait: %s", pn_strerror(r));
		if (cqe.user_data == 2015)
			job_res = cqe.res;
		else if (cqe.user_data == 3000)
			cancel_res = cqe.res;
	}
	if (pn_poll(k.s, &cqe) != -EAGAIN || job_res == 1 || cancel_res == 1)
		FAIL("cancel: missing or extra CQEs");
	if (!(cancel_res == 0 && job_res == -ECANCELED) &&
	    !((cancel_res == -EBUSY || cancel_res == -ENOENT) && job_res == 0))
		FAIL("cancel %d with job %d: inconsistent", cancel_res, job_res);
	/* realtime: a deadline that can be met runs, one already past is refused */
	{
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		tiny_sqe(&k, &q, 4000);
		q.prio = PN_PRIO_REALTIME;
		q.deadline_ns = now + 2000000000ull;
		if ((r = pn_run(k.s, &q, PN_WAIT_SPIN, &cqe)))
			FAIL("realtime job with 2 s of slack: %s", pn_strerror(r));
		tiny_sqe(&k, &q, 4001);
		q.prio = PN_PRIO_REALTIME;
		q.deadline_ns = now - 1000;
		if ((r = pn_run(k.s, &q, PN_WAIT_SPIN, &cqe)) != -ETIME)
			FAIL("realtime job past its deadline: %d, expected -ETIME", r);
		tiny_sqe(&k, &q, 4002);
		q.prio = PN_PRIO_REALTIME;	/* no deadline */
		if ((r = pn_run(k.s, &q, PN_WAIT_SPIN, &cqe)) != -EINVAL)
			FAIL("realtime job without a deadline: %d, expected -EINVAL", r);
	}
	printf("api: io_uring waits %d, cancel %s\n", seen_ring,
	       cancel_res == 0 ? "took the queued job" : "came after the job ran");
	close_all(&k);
}

/*
 * Jobs completed in SECONDS with DEPTH in flight, sleeping for completions:
 * one line "JOBS SECONDS". batched: the refill is published by one
 * pn_submit_n (one tail store, at most one doorbell) and completions reaped
 * by pn_poll_n (one head store); else one pn_submit / pn_poll per job.
 */
static void throughput(const char *sock, const char *model, double secs, uint32_t depth,
		       bool batched)
{
	struct conn k;
	struct pn_sqe q[64];
	struct pn_cqe cqe[64];
	uint64_t sent = 0, done = 0;
	double t0, t1;

	if (depth > 64)
		FAIL("depth > 64");
	open_all(&k, sock, model, 64, 64);
	t0 = now_s();
	while ((t1 = now_s()) - t0 < secs) {
		uint32_t want = depth - (uint32_t)(sent - done);
		int n;

		for (uint32_t i = 0; i < want; i++)
			tiny_sqe(&k, &q[i], sent + i);
		if (batched) {
			for (uint32_t i = 0; i < want; i += (uint32_t)n) {
				n = pn_submit_n(k.s, q + i, want - i);
				if (n < 0)
					break;
				sent += (uint64_t)n;
			}
		} else {
			for (uint32_t i = 0; i < want && !pn_submit(k.s, &q[i]); i++)
				sent++;
		}
		if (pn_wait(k.s, cqe, PN_WAIT_SLEEP, 5000))
			FAIL("wait failed");
		done++;
		if (batched)
			while ((n = pn_poll_n(k.s, cqe, 64)) > 0)
				done += (uint64_t)n;
		else
			while (pn_poll(k.s, cqe) == 0)
				done++;
	}
	printf("%llu %.3f\n", (unsigned long long)done, t1 - t0);
	close_all(&k);
}

/* A full-length job of the model (batch 1, T = max_tokens) at arena offset 0. */
static void full_sqe(struct conn *k, struct pn_sqe *q, uint64_t ud, uint8_t prio)
{
	int32_t *in = (int32_t *)k->arena;
	uint32_t T = k->d->max_tokens;

	for (uint32_t t = 0; t < T; t++)
		in[t] = (int32_t)(t % k->d->vocab);
	in[T] = T;
	pn_sqe_run(q, k->d->id, 0, 1, T, 8192, k->d->out_width * 4 *
		   (k->d->out_layout == PNB_LAYOUT_TOKENS ? T : 1), ud);
	q->prio = prio;
}

/* Keeps DEPTH full-length jobs of class PRIO in flight for SECONDS as UID. */
static void saturate(const char *sock, const char *model, double secs, uint32_t depth,
		     uint32_t uid, uint32_t prio)
{
	struct conn k;
	uint64_t sent = 0, done = 0;
	double t0;

	if (uid != getuid() && (setgid(uid) || setuid(uid)))
		FAIL("setuid %u: %s", uid, strerror(errno));
	open_all(&k, sock, model, 64, 64);
	t0 = now_s();
	while (now_s() - t0 < secs) {
		struct pn_sqe q;
		struct pn_cqe cqe;

		while (sent - done < depth) {
			full_sqe(&k, &q, sent, (uint8_t)prio);
			if (pn_submit(k.s, &q))
				break;
			sent++;
		}
		int r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 5000);

		if (r)
			FAIL("wait after %llu jobs: %s", (unsigned long long)done, pn_strerror(r));
		if (cqe.res)
			FAIL("job: %s", pn_strerror(cqe.res));
		done++;
	}
	printf("%u %llu\n", uid, (unsigned long long)done);
	fflush(stdout);
	/* leave without draining: the daemon reaps what is still queued */
	_exit(0);
}

/* Realtime full-length jobs every PERIOD_US (deadline 50 ms), round trips. */
static void rtlat(const char *sock, const char *model, double secs, uint32_t period_us)
{
	struct pn_stats st;
	struct conn k;
	double t0 = now_s();
	uint64_t ud = 0, refused = 0;

	open_all(&k, sock, model, 8, 8);
	pn_stats_init(&st, 1 << 16);
	while (now_s() - t0 < secs) {
		struct pn_sqe q;
		struct pn_cqe cqe;
		struct timespec ts;
		double a, b;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		full_sqe(&k, &q, ud++, PN_PRIO_REALTIME);
		q.deadline_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
				50000000ull;
		a = now_s();
		r = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe);
		b = now_s();
		if (r == -ETIME || r == -EDQUOT)
			refused++;	/* admission (deadline or budget) said no at once: not a latency */
		else if (r)
			FAIL("realtime job: %s", pn_strerror(r));
		else
			pn_stats_add(&st, (b - a) * 1e6);
		usleep(period_us);
	}
	printf("%.1f %.1f %.1f %zu %llu\n", pn_stats_pct(&st, 50), pn_stats_pct(&st, 99),
	       pn_stats_pct(&st, 99.9), st.n, (unsigned long long)refused);
	pn_stats_free(&st);
	close_all(&k);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Timed waits on an idle session: each must end with -ETIMEDOUT, not before
 * ms and not long after it (a wait that computed a negative poll timeout
 * slept forever; the script runs this under timeout(1)).
 */
static void idlewait(const char *sock, const char *model, uint32_t n, int ms)
{
	static const enum pn_wait_mode modes[] = { PN_WAIT_SLEEP, PN_WAIT_URING };
	struct conn k;
	struct pn_cqe cqe;

	open_all(&k, sock, model, 8, 8);
	for (uint32_t m = 0; m < 2; m++) {
		for (uint32_t i = 0; i < n; i++) {
			double t0 = mono_ms(), dt;
			int r = pn_wait(k.s, &cqe, modes[m], ms);

			dt = mono_ms() - t0;
			if (r != -ETIMEDOUT)
				FAIL("idlewait: mode %u wait %u returned %d, expected -ETIMEDOUT", m, i, r);
			if (dt < ms - 1 || dt > ms + 500)
				FAIL("idlewait: mode %u wait %u took %.1f ms for a %d ms timeout", m, i,
				     dt, ms);
		}
	}
	close_all(&k);
}

/*
 * A job whose lens[0] is its T + 1, submitted right behind a longer good job
 * of the same model: both are likely to run as one padded group (the daemon
 * of the test batches with a delay), where the bad length still fits the
 * group's T. It must be refused like the same job alone: -EINVAL, and the
 * good one 0. Prints how many pairs shared a run.
 */
static void lenscheck(const char *sock, const char *model, uint32_t n)
{
	struct conn k;
	uint32_t W, shared = 0;

	open_all(&k, sock, model, 8, 8);
	W = k.d->out_width;
	if (k.d->max_tokens < 4 || k.d->out_layout != PNB_LAYOUT_TOKENS)
		FAIL("lenscheck: expected a TOKENS model of max_tokens >= 4 (the empty model)");
	for (uint32_t i = 0; i < n; i++) {
		int32_t *good = (int32_t *)k.arena, *bad = (int32_t *)(k.arena + 1024);
		struct pn_sqe q[2];
		struct pn_cqe cqe;
		int res[2] = { 1, 1 };

		for (uint32_t t = 0; t < 4; t++)
			good[t] = 1;
		good[4] = 4;			/* lens: T = 4, all valid */
		bad[0] = bad[1] = 1;
		bad[2] = 3;			/* lens 3 for T = 2 */
		pn_sqe_run(&q[0], k.d->id, 0, 1, 4, 4096, 4 * W * 4, 2 * i + 1);
		pn_sqe_run(&q[1], k.d->id, 1024, 1, 2, 8192, 2 * W * 4, 2 * i + 2);
		if (pn_submit(k.s, &q[0]) || pn_submit(k.s, &q[1]))
			FAIL("lenscheck: submit");
		for (int got = 0; got < 2; got++) {
			int r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 5000);

			if (r)
				FAIL("lenscheck: wait: %d", r);
			res[(cqe.user_data - 1) % 2] = cqe.res;
			if (cqe.flags & PN_CQE_F_BATCHED)
				shared++;
		}
		if (res[0] != 0)
			FAIL("lenscheck: pair %u: the good job got %d", i, res[0]);
		if (res[1] != -EINVAL)
			FAIL("lenscheck: pair %u: lens T + 1 got %d, expected -EINVAL", i, res[1]);
	}
	printf("lenscheck: %u pairs, %u completions batched, every bad length refused\n", n, shared);
	close_all(&k);
}

/* MODEL_INFO by id (a number) or name, as this uid: what the daemon says. */
static void info(const char *sock, const char *what)
{
	struct pn_model_ref ref = { 0 };
	struct pn_model_desc d = { 0 };
	struct pn_client *c;
	struct pn_err e;
	char *end;
	void *body = NULL;
	size_t n = 0;
	int fd = -1, nfd = 0, r;

	ref.id = (uint32_t)strtoul(what, &end, 10);
	if (*end)
		snprintf(ref.name, sizeof(ref.name), "%s", what);
	if (*end)
		ref.id = 0;
	if (pn_connect(sock, &c, &e))
		FAIL("%s", e.msg);
	r = pn_client_call(c, PN_MSG_MODEL_INFO, &ref, sizeof(ref), NULL, 0, &body, &n, &fd, 1,
			   &nfd, &e);
	if (!r && body && n >= sizeof(d))
		memcpy(&d, body, sizeof(d));
	free(body);
	if (r)
		printf("err %d %s\n", -r, e.msg);
	else
		printf("ok %u %s\n", d.id, d.name);
	if (nfd && fd >= 0)
		close(fd);
	pn_disconnect(c);
}

/* One job naming model id, with no MODEL_INFO first (a client may guess ids). */
static void jobid(const char *sock, uint32_t id)
{
	struct pn_client *c;
	struct pn_session *s;
	struct pn_err e;
	struct pn_sqe q;
	struct pn_cqe cqe;
	int32_t *in;
	int r;

	if (pn_connect(sock, &c, &e) || pn_session_open(c, 8, 8, 1 << 20, &s, &e))
		FAIL("%s", e.msg);
	in = pn_session_arena(s, NULL);
	in[0] = 1;
	in[1] = 1;
	pn_sqe_run(&q, id, 0, 1, 1, 4096, 65536, 1);
	r = pn_run(s, &q, PN_WAIT_SLEEP, &cqe);
	printf("%d\n", r);
	pn_session_close(s);
	pn_disconnect(c);
}

static void sessions(const char *sock, uint32_t n, uint32_t arena_mb, uint32_t cq)
{
	struct pn_session **s = calloc(n, sizeof(*s));
	struct pn_client *c;
	struct pn_err e = { 0 };
	uint32_t k = 0;

	if (pn_connect(sock, &c, &e))
		FAIL("%s", e.msg);
	while (k < n && !pn_session_open(c, 8, cq, (uint64_t)arena_mb << 20, &s[k], &e))
		k++;
	printf("opened %u%s%s\n", k, k < n ? ": " : "", k < n ? e.msg : "");
	while (k)
		pn_session_close(s[--k]);
	pn_disconnect(c);
	free(s);
}

/* One tenant's load for bench/fairness.sh: the victim (depth 1, short) or the flood. */
static void fairjob(const char *sock, const char *model, double secs, uint32_t prio,
		    uint32_t batch, uint32_t T, uint32_t depth)
{
	enum { SLOT = 128 << 10, MAXD = 16 };
	double sent_at[MAXD], t0;
	uint64_t jobs = 0, refused = 0;
	struct pn_client *c;
	struct pn_client_model *cm;
	const struct pn_model_desc *d;
	struct pn_session *s;
	struct pn_stats st;
	struct pn_err e;
	uint8_t *arena;
	uint32_t inflight = 0, busy = 0;	/* busy: bit i, slot i in flight */

	if (pn_connect(sock, &c, &e) || pn_client_model_open(c, model, &cm, &e) ||
	    pn_session_open(c, 16, 16, (uint64_t)SLOT * MAXD, &s, &e))
		FAIL("%s", e.msg);
	d = pn_client_model_desc(cm);
	arena = pn_session_arena(s, NULL);
	if (depth > MAXD || T > d->max_tokens ||
	    4ull * batch * (T + 1) + 4ull * batch * d->out_width > SLOT)
		FAIL("fairjob: depth %u, %u x %u tokens do not fit", depth, batch, T);
	pn_stats_init(&st, 1 << 20);
	t0 = now_s();
	while (now_s() - t0 < secs) {
		struct pn_cqe cqe;
		int r;

		while (inflight < depth) {
			uint32_t i = (uint32_t)__builtin_ctz(~busy);
			int32_t *ids = (int32_t *)(arena + (size_t)i * SLOT);
			uint32_t *lens = (uint32_t *)(ids + batch * T);
			struct pn_sqe q;
			struct timespec ts;

			for (uint32_t b = 0; b < batch; b++) {
				lens[b] = T;
				for (uint32_t t = 0; t < T; t++)
					ids[b * T + t] = (int32_t)((t * 7 + b) % d->vocab);
			}
			pn_sqe_run(&q, d->id, (uint64_t)i * SLOT, batch, T,
				   (uint64_t)i * SLOT + 4ull * batch * (T + 1),
				   4ull * batch * d->out_width, i);
			q.prio = (uint8_t)prio;
			if (prio == PN_PRIO_REALTIME) {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				q.deadline_ns = (uint64_t)ts.tv_sec * 1000000000ull +
						(uint64_t)ts.tv_nsec + 5000000000ull;
			}
			if (pn_submit(s, &q))
				break;
			sent_at[i] = now_s();
			busy |= 1u << i;
			inflight++;
		}
		r = pn_wait(s, &cqe, PN_WAIT_SLEEP, 10000);
		if (r)
			FAIL("fairjob wait: %s", pn_strerror(r));
		busy &= ~(1u << cqe.user_data);
		inflight--;
		if (cqe.res) {
			refused++;
			if (cqe.res != -EDQUOT && cqe.res != -ETIME)
				FAIL("fairjob job: %s", pn_strerror(cqe.res));
			continue;
		}
		jobs++;
		pn_stats_add(&st, (now_s() - sent_at[cqe.user_data]) * 1e3);
	}
	printf("jobs %llu rate %.1f p50 %.3f p99 %.3f p999 %.3f refused %llu\n",
	       (unsigned long long)jobs, jobs / secs, st.n ? pn_stats_pct(&st, 50) : 0,
	       st.n ? pn_stats_pct(&st, 99) : 0, st.n ? pn_stats_pct(&st, 99.9) : 0,
	       (unsigned long long)refused);
	fflush(stdout);
	_exit(0);
}

/* The realtime attacker: as many realtime jobs as it can, 8 in flight. */
static void rtflood(const char *sock, const char *model, double secs)
{
	uint64_t ok = 0, edquot = 0, etime = 0, inflight = 0, ud = 0;
	struct conn k;
	struct pn_sqe q;
	struct pn_cqe cqe;
	struct timespec ts;
	double t0 = now_s();
	int einval, r;

	open_all(&k, sock, model, 16, 16);
	full_sqe(&k, &q, ud++, PN_PRIO_REALTIME);
	q.deadline_ns = UINT64_MAX;
	einval = pn_run(k.s, &q, PN_WAIT_SLEEP, &cqe) == -EINVAL;
	while (now_s() - t0 < secs) {
		while (inflight < 8) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			full_sqe(&k, &q, ud++, PN_PRIO_REALTIME);
			q.deadline_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
					5000000000ull;
			if (pn_submit(k.s, &q))
				break;
			inflight++;
		}
		r = pn_wait(k.s, &cqe, PN_WAIT_SLEEP, 5000);
		if (r)
			FAIL("rtflood wait: %s", pn_strerror(r));
		inflight--;
		ok += cqe.res == 0;
		edquot += cqe.res == -EDQUOT;
		etime += cqe.res == -ETIME;
	}
	printf("einval %d ok %llu edquot %llu etime %llu\n", einval, (unsigned long long)ok,
	       (unsigned long long)edquot, (unsigned long long)etime);
	fflush(stdout);
	_exit(0);
}

/* Raw control-socket checks (issue 10, items 5, 8, 19): no client library, a bare socket. */
static int raw_connect(const char *sock)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		FAIL("connect %s: %s", sock, strerror(errno));
	/* a reply that never comes fails the check instead of hanging it */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int raw_send(int fd, uint16_t type, uint32_t seq, int flags)
{
	struct {
		struct pn_msg_hdr h;
		struct pn_hello_req q;
	} m = { .h = { .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION, .type = type,
		       .seq = seq } };

	m.h.len = (uint32_t)sizeof(m.h) + (type == PN_MSG_HELLO ? (uint32_t)sizeof(m.q) : 0);
	snprintf(m.q.client, sizeof(m.q.client), "daemon_client");
	return send(fd, &m, m.h.len, MSG_NOSIGNAL | flags) < 0 ? -errno : 0;
}

/* One reply: its status; *line gets an error's text. Fails on none or a malformed one. */
static int raw_reply(int fd, const char *what, uint32_t *seq, uint16_t *type, char *line,
		     size_t cap)
{
	static uint8_t buf[PN_MSG_MAX];
	const struct pn_msg_hdr *h;
	const void *body;
	struct pn_err e;
	size_t bl;
	int fds[PN_PROTO_MAX_FDS], nfd;
	ssize_t n = pn_proto_recv(fd, buf, sizeof(buf), fds, PN_PROTO_MAX_FDS, &nfd, &e);

	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	if (n <= 0)
		FAIL("%s: no reply (%s)", what, n ? e.msg : "the daemon closed the connection");
	if (pn_proto_check(buf, (size_t)n, 1, &h, &body, &bl, &e))
		FAIL("%s: malformed reply: %s", what, e.msg);
	if (seq)
		*seq = h->seq;
	if (type)
		*type = h->type & ~PN_MSG_REPLY;
	if (line && ((const struct pn_reply *)body)->status)
		snprintf(line, cap, "%s", (const char *)((const struct pn_reply *)body + 1));
	return ((const struct pn_reply *)body)->status;
}

static void raw_hello(int fd, uint32_t seq, const char *after)
{
	uint32_t got;
	char line[256];
	int r;

	if (raw_send(fd, PN_MSG_HELLO, seq, 0))
		FAIL("after %s: HELLO: send: %s", after, strerror(errno));
	r = raw_reply(fd, after, &got, NULL, line, sizeof(line));
	if (r || got != seq)
		FAIL("after %s: HELLO got status %d seq %u (%s), expected 0 and %u", after, r,
		     got, r ? line : "", seq);
}

/* An empty datagram, one over PN_MSG_MAX, one of 20 fds: each an error reply, the conn stays. */
static void badgrams(const char *sock)
{
	int fd = raw_connect(sock), devnull[20];
	size_t big = PN_MSG_MAX + 4096;
	uint8_t *buf = calloc(1, big);
	struct pn_msg_hdr h = { .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION,
				.type = PN_MSG_LIST, .len = (uint32_t)big, .seq = 5 };
	union {
		char b[CMSG_SPACE(sizeof(devnull))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = &h, .iov_len = sizeof(h) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	char line[256];
	int r;

	if (!buf)
		FAIL("out of memory");
	raw_hello(fd, 1, "connecting");
	if (send(fd, buf, 0, MSG_NOSIGNAL) < 0)
		FAIL("empty datagram: send: %s", strerror(errno));
	r = raw_reply(fd, "empty datagram", NULL, NULL, line, sizeof(line));
	if (r >= 0)
		FAIL("empty datagram: status %d, expected an error", r);
	printf("  %-22s -> %s\n", "empty datagram", line);
	raw_hello(fd, 2, "an empty datagram");

	memcpy(buf, &h, sizeof(h));
	/* past net.core.wmem_max the kernel refuses to send it at all: root may force */
	r = (int)big * 2;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &r, sizeof(r)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &r, sizeof(r));
	if (send(fd, buf, big, MSG_NOSIGNAL) < 0)
		FAIL("oversized datagram: send: %s", strerror(errno));
	r = raw_reply(fd, "oversized datagram", NULL, NULL, line, sizeof(line));
	if (r != -EMSGSIZE)
		FAIL("oversized datagram: status %d, expected -EMSGSIZE", r);
	printf("  %-22s -> %s\n", "oversized datagram", line);
	raw_hello(fd, 3, "an oversized datagram");

	for (int i = 0; i < 20; i++)
		if ((devnull[i] = open("/dev/null", O_RDONLY)) < 0)
			FAIL("/dev/null: %s", strerror(errno));
	h.len = sizeof(h);
	h.seq = 6;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(devnull));
	memcpy(CMSG_DATA(c), devnull, sizeof(devnull));
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		FAIL("20 fds: sendmsg: %s", strerror(errno));
	r = raw_reply(fd, "20 fds", NULL, NULL, line, sizeof(line));
	if (r >= 0)
		FAIL("20 fds: status %d, expected an error", r);
	printf("  %-22s -> %s\n", "a message of 20 fds", line);
	raw_hello(fd, 4, "a message of 20 fds");
	for (int i = 0; i < 20; i++)
		close(devnull[i]);
	free(buf);
	close(fd);
	printf("badgrams: every malformed datagram answered, the connection kept\n");
}

/*
 * N requests (STAT and HELLO in turn) sent without reading until the daemon
 * stops taking them, then all replies read: exactly one each, in order.
 */
static void pipeline(const char *sock, uint32_t n)
{
	int fd = raw_connect(sock);
	uint32_t sent = 0, got = 0;
	double idle_since = now_s();

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* phase 1: no reads, until the socket refuses for a whole second */
	while (sent < n && now_s() - idle_since < 1.0) {
		int r = raw_send(fd, sent % 2 ? PN_MSG_HELLO : PN_MSG_STAT, sent + 1, 0);

		if (r == -EAGAIN) {
			usleep(10000);
			continue;
		}
		if (r)
			FAIL("pipeline: send %u: %s", sent + 1, strerror(-r));
		sent++;
		idle_since = now_s();
	}
	printf("pipeline: %u requests sent before reading\n", sent);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	while (got < n) {
		uint32_t seq;
		uint16_t type;
		int r;

		/* keep the rest coming while reading */
		while (sent < n && !raw_send(fd, sent % 2 ? PN_MSG_HELLO : PN_MSG_STAT, sent + 1,
					     MSG_DONTWAIT))
			sent++;
		r = raw_reply(fd, "pipeline", &seq, &type, NULL, 0);
		if (seq != got + 1)
			FAIL("pipeline: reply %u has seq %u, expected %u (replies lost)", got + 1,
			     seq, got + 1);
		if (r || type != (got % 2 ? PN_MSG_HELLO : PN_MSG_STAT))
			FAIL("pipeline: reply %u: status %d type %u", seq, r, type);
		got++;
	}
	close(fd);
	printf("pipeline: %u requests, %u replies, in order\n", n, got);
}

/* STAT requests as fast as the socket takes them (sendmmsg), replies drained, for secs. */
static void statflood(const char *sock, double secs)
{
	static uint8_t buf[PN_MSG_MAX];
	static struct pn_msg_hdr h[256];
	static struct iovec iov[256];
	static struct mmsghdr mm[256];
	int fd = raw_connect(sock);
	uint64_t sent = 0, got = 0;
	double t0 = now_s();

	for (int i = 0; i < 256; i++) {
		h[i] = (struct pn_msg_hdr){ .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION,
					    .type = PN_MSG_STAT, .len = sizeof(h[i]) };
		iov[i] = (struct iovec){ .iov_base = &h[i], .iov_len = sizeof(h[i]) };
		mm[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	while (now_s() - t0 < secs) {
		int n;

		for (int i = 0; i < 256; i++)
			h[i].seq = (uint32_t)(sent + (uint64_t)i + 1);
		n = sendmmsg(fd, mm, 256, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			sent += (uint64_t)n;
		for (int i = 0; i < 256 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0; i++)
			got++;
	}
	close(fd);
	printf("statflood: %llu sent, %llu replies\n", (unsigned long long)sent,
	       (unsigned long long)got);
}

/* HELLO on a connection made before (connect, wait delay, HELLO) or now: 0 or FAIL. */
static void hello(const char *sock, double delay)
{
	int fd = raw_connect(sock);

	usleep((useconds_t)(delay * 1e6));
	raw_hello(fd, 1, "connecting");
	close(fd);
	printf("hello: answered\n");
}

/* Opens up to n connections and holds them secs (the fd-limit check). */
static void hog(const char *sock, uint32_t n, double secs)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint32_t ok = 0;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	for (uint32_t i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)))
			ok++;
	}
	printf("hog: %u of %u connections made\n", ok, n);
	fflush(stdout);
	usleep((useconds_t)(secs * 1e6));
}

/* n connections answer HELLO, the (n+1)th is refused naming the limit; held secs. */
static void connlimit(const char *sock, uint32_t n, double secs)
{
	char line[256];
	int fd, r;

	for (uint32_t i = 0; i < n; i++)
		raw_hello(raw_connect(sock), 1, "connecting");
	fd = raw_connect(sock);
	raw_send(fd, PN_MSG_HELLO, 1, 0);
	r = raw_reply(fd, "connection over the limit", NULL, NULL, line, sizeof(line));
	if (r != -EUSERS || !strstr(line, "max-conns-per-uid"))
		FAIL("connection %u: status %d (%s), expected -EUSERS naming the limit", n + 1,
		     r, r ? line : "accepted");
	printf("connlimit: connection %u refused: %s\n", n + 1, line);
	fflush(stdout);
	usleep((useconds_t)(secs * 1e6));
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "mkmodel"))
		mkmodel(argv[2], argv[3]);
	else if ((argc == 8 || argc == 10) && !strcmp(argv[1], "stress"))
		stress(argv[2], argv[3], argv[4], (uint32_t)atoi(argv[5]), (uint32_t)atoi(argv[6]),
		       (uint32_t)atoi(argv[7]), argc == 10 ? atoi(argv[8]) : -1,
		       argc == 10 ? (uint32_t)atoi(argv[9]) : 0);
	else if (argc == 5 && !strcmp(argv[1], "flood"))
		flood(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 4 && !strcmp(argv[1], "hang"))
		hang(argv[2], argv[3]);
	else if (argc == 4 && !strcmp(argv[1], "waitdeath"))
		waitdeath(argv[2], argv[3]);
	else if (argc == 4 && !strcmp(argv[1], "malformed"))
		malformed(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "tenant"))
		tenant(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 8 && !strcmp(argv[1], "saturate"))
		saturate(argv[2], argv[3], atof(argv[4]), (uint32_t)atoi(argv[5]),
			 (uint32_t)atoi(argv[6]), (uint32_t)atoi(argv[7]));
	else if (argc == 6 && !strcmp(argv[1], "rtlat"))
		rtlat(argv[2], argv[3], atof(argv[4]), (uint32_t)atoi(argv[5]));
	else if (argc == 4 && !strcmp(argv[1], "api"))
		api(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "lenscheck"))
		lenscheck(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 6 && !strcmp(argv[1], "idlewait"))
		idlewait(argv[2], argv[3], (uint32_t)atoi(argv[4]), atoi(argv[5]));
	else if ((argc == 6 || argc == 7) && !strcmp(argv[1], "throughput"))
		throughput(argv[2], argv[3], atof(argv[4]), (uint32_t)atoi(argv[5]),
			   argc == 7 && !strcmp(argv[6], "batched"));
	else if (argc == 4 && !strcmp(argv[1], "info"))
		info(argv[2], argv[3]);
	else if (argc == 5 && !strcmp(argv[1], "rtflood"))
		rtflood(argv[2], argv[3], atof(argv[4]));
	else if (argc == 9 && !strcmp(argv[1], "fairjob"))
		fairjob(argv[2], argv[3], atof(argv[4]), (uint32_t)atoi(argv[5]),
			(uint32_t)atoi(argv[6]), (uint32_t)atoi(argv[7]), (uint32_t)atoi(argv[8]));
	else if (argc == 4 && !strcmp(argv[1], "jobid"))
		jobid(argv[2], (uint32_t)atoi(argv[3]));
	else if (argc == 6 && !strcmp(argv[1], "sessions"))
		sessions(argv[2], (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
			 (uint32_t)atoi(argv[5]));
	else if (argc == 3 && !strcmp(argv[1], "badgrams"))
		badgrams(argv[2]);
	else if (argc == 4 && !strcmp(argv[1], "pipeline"))
		pipeline(argv[2], (uint32_t)atoi(argv[3]));
	else if (argc == 4 && !strcmp(argv[1], "statflood"))
		statflood(argv[2], atof(argv[3]));
	else if (argc == 4 && !strcmp(argv[1], "hello"))
		hello(argv[2], atof(argv[3]));
	else if (argc == 5 && !strcmp(argv[1], "hog"))
		hog(argv[2], (uint32_t)atoi(argv[3]), atof(argv[4]));
	else if (argc == 5 && !strcmp(argv[1], "connlimit"))
		connlimit(argv[2], (uint32_t)atoi(argv[3]), atof(argv[4]));
	else
		FAIL("usage: see the top of tests/integration/daemon_client.c");
	return 0;
}
