// SPDX-License-Identifier: MIT
/*
 * gen_client.c - the client's side of generation (client.h, PN_OP_GENERATE):
 * laying out a job's input in the arena, reading its token CQEs, and the
 * one-stream convenience (start, next, cancel) that polyctl generate uses.
 */
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#include "transport/client_impl.h"
#include "transport/proto.h"

/* A stream's cancel is tagged so: its CQE is told apart from the stream's own. */
static uint64_t cancel_tag(uint64_t user_data)
{
	return ~user_data;
}

void pn_gen_args_default(struct pn_gen_args *a, uint32_t max_tokens)
{
	memset(a, 0, sizeof(*a));
	a->max_tokens = max_tokens;
	a->stream_every = 1;
	a->top_p = 1;
}

uint32_t pn_session_ring_version(const struct pn_session *s)
{
	return s->seg.version;
}

/* [off, off + len) inside the arena, 4-byte aligned. */
static bool in_arena(const struct pn_session *s, uint64_t off, uint64_t len)
{
	return !(off % 4) && off <= s->seg.arena_size && s->seg.arena_size - off >= len;
}

int pn_gen_prep(struct pn_session *s, struct pn_sqe *q, uint32_t model,
		const struct pn_gen_args *a, const int32_t *ids, uint32_t T, uint64_t in_off,
		uint64_t out_off, uint64_t user_data, struct pn_err *e)
{
	uint64_t in_len = pn_gen_in_bytes(T), out_len = 4ull * a->max_tokens;

	if (s->seg.version < 3)
		return pn_errf(e, -EOPNOTSUPP, "the daemon's session is ring version %u: it "
			       "generates from version 3 on (upgrade polynetd)", s->seg.version);
	if (in_len > UINT32_MAX || out_len > UINT32_MAX || !in_arena(s, in_off, in_len) ||
	    !in_arena(s, out_off, out_len))
		return pn_errf(e, -EINVAL, "generation of %u prompt and %u output tokens: "
			       "input at %llu (%llu bytes), output at %llu (%llu bytes), expected "
			       "4-byte aligned ranges inside the arena of %llu bytes", T,
			       a->max_tokens, (unsigned long long)in_off,
			       (unsigned long long)in_len, (unsigned long long)out_off,
			       (unsigned long long)out_len, (unsigned long long)s->seg.arena_size);
	memcpy(s->seg.arena + in_off, a, sizeof(*a));
	memcpy(s->seg.arena + in_off + sizeof(*a), ids, (size_t)T * 4);
	memset(q, 0, sizeof(*q));
	q->user_data = user_data;
	q->opcode = PN_OP_GENERATE;
	q->prio = PN_PRIO_INTERACTIVE;
	q->model = model;
	q->in_off = in_off;
	q->in_len = (uint32_t)in_len;
	q->out_off = out_off;
	q->out_len = (uint32_t)out_len;
	q->batch = 1;
	q->T = T;
	return 0;
}

const int32_t *pn_gen_cqe_ids(const struct pn_session *s, const struct pn_cqe *c,
			      uint64_t out_off, uint32_t *n)
{
	uint32_t k = c->res > 0 ? (uint32_t)c->res : 0;

	*n = 0;
	/* the daemon's word, checked like any peer's before it names memory */
	if (!pn_cqe_gen_more(c) || !k || k > c->gen.tokens ||
	    !in_arena(s, out_off, 4ull * c->gen.tokens))
		return NULL;
	*n = k;
	return (const int32_t *)(s->seg.arena + out_off) + (c->gen.tokens - k);
}

int pn_gen_stream_start(struct pn_gen_stream *g, struct pn_session *s, uint32_t model,
			const struct pn_gen_args *a, const int32_t *ids, uint32_t T,
			uint64_t in_off, uint64_t out_off, uint64_t user_data, struct pn_err *e)
{
	struct pn_sqe q;
	int r;

	memset(g, 0, sizeof(*g));
	g->s = s;
	g->user_data = user_data;
	g->out_off = out_off;
	r = pn_gen_prep(s, &q, model, a, ids, T, in_off, out_off, user_data, e);
	if (r)
		return r;
	r = pn_submit(s, &q);
	return r ? pn_errf(e, r, "generation: submit: %s", pn_strerror(r)) : 0;
}

int pn_gen_stream_next(struct pn_gen_stream *g, const int32_t **ids, enum pn_wait_mode mode,
		       int timeout_ms)
{
	struct pn_cqe c;
	uint32_t n;
	int r;

	*ids = NULL;
	/* the cancel's CQE may come after the stream's last: the session is left clean */
	while (!g->done || (g->cancel_sent && !g->cancel_seen)) {
		r = pn_wait(g->s, &c, mode, timeout_ms);
		if (r)
			return r;
		if (g->cancel_sent && c.user_data == cancel_tag(g->user_data)) {
			g->cancel_res = c.res;
			g->cancel_seen = true;
			continue;
		}
		if (g->done)
			return -EPROTO;
		if (c.user_data != g->user_data)
			return -EPROTO;
		g->last = c;
		if (!pn_cqe_gen_more(&c)) {
			g->done = true;
			g->res = c.res;
			g->eos = c.flags & PN_CQE_F_EOS;
			/* a refusal carries no gen (an SQE the daemon could not read as one) */
			if (c.flags & PN_CQE_F_GEN)
				g->tokens = c.gen.tokens;
			continue;
		}
		*ids = pn_gen_cqe_ids(g->s, &c, g->out_off, &n);
		if (!*ids || c.gen.tokens != g->tokens + n)
			return -EPROTO;		/* tokens out of order, or outside the output */
		g->tokens = c.gen.tokens;
		return (int)n;
	}
	return 0;
}

int pn_gen_stream_cancel(struct pn_gen_stream *g)
{
	int r;

	if (g->done || g->cancel_sent)
		return 0;
	r = pn_cancel(g->s, g->user_data, cancel_tag(g->user_data));
	if (!r)
		g->cancel_sent = true;
	return r;
}
