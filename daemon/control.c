// SPDX-License-Identifier: MIT
/*
 * control.c - the control plane: one handler per request of uapi/proto.h.
 * Every request gets one reply; a malformed one gets an error reply naming
 * what was wrong and the connection stays. LIST and STAT answer with one
 * JSON document (docs/daemon.md). Cold path.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "metrics.h"
#include "transport/proto.h"
#include "transport/segment.h"
#include "util/stats.h"

void pnd_conn_release(struct pnd_conn *c)
{
	if (!c->loads)
		free(c);
}

static void reply_err(struct pnd_conn *c, const struct pn_msg_hdr *h, int r,
		      const struct pn_err *e)
{
	pnd_conn_reply(c, h->type, h->seq, r, NULL, 0, e->msg, NULL, 0);
}

static void reply_json(struct pnd_conn *c, const struct pn_msg_hdr *h, cJSON *doc)
{
	char *s = cJSON_PrintUnformatted(doc);
	struct pn_err e;

	if (!s) {
		pn_errf(&e, -ENOMEM, "%s: out of memory", pn_msg_name(h->type));
		reply_err(c, h, -ENOMEM, &e);
	} else if (strlen(s) + 1 > PN_MSG_MAX - 64) {
		pn_errf(&e, -EMSGSIZE, "%s: the document has %zu bytes, more than a message "
			"holds", pn_msg_name(h->type), strlen(s));
		reply_err(c, h, -EMSGSIZE, &e);
	} else {
		pnd_conn_reply(c, h->type, h->seq, 0, s, strlen(s) + 1, NULL, NULL, 0);
	}
	free(s);
	cJSON_Delete(doc);
}

static void on_hello(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h,
		     const struct pn_hello_req *q)
{
	struct pn_hello_rep rep = {
		.version = PN_PROTO_VERSION, .uid = c->uid, .pid = c->pid,
		.admin = pnd_is_admin(ctl->tenants, c->uid), .workers = ctl->nworkers,
		.idle_spin_us = ctl->idle_spin_us,
	};

	snprintf(c->client, sizeof(c->client), "%s", q->client);
	if (pnd_tenant(ctl->tenants, c->uid)->name[0])
		snprintf(rep.tenant, sizeof(rep.tenant), "%s", pnd_tenant(ctl->tenants, c->uid)->name);
	else
		snprintf(rep.tenant, sizeof(rep.tenant), "uid:%u", c->uid);
	snprintf(rep.backend, sizeof(rep.backend), "%s", ctl->bops->name);
	pnd_conn_reply(c, h->type, h->seq, 0, &rep, sizeof(rep), NULL, NULL, 0);
}

/* A decoder's generation counters (gen_sched.h): STAT's "gen" object. */
static void gen_json(cJSON *o, const struct pnd_gen *g)
{
	cJSON *j = cJSON_AddObjectToObject(o, "gen");
	struct pnd_gen_stat st;

	pnd_gen_stat(g, &st);
	cJSON_AddNumberToObject(j, "slots", st.slots);
	cJSON_AddNumberToObject(j, "slots_used", st.slots_used);
	cJSON_AddNumberToObject(j, "waiting", st.waiting);
	cJSON_AddNumberToObject(j, "jobs", (double)st.jobs);
	cJSON_AddNumberToObject(j, "tokens", (double)st.tokens);
	cJSON_AddNumberToObject(j, "prefills", (double)st.prefills);
	cJSON_AddNumberToObject(j, "steps", (double)st.steps);
	cJSON_AddNumberToObject(j, "step_sessions", (double)st.step_seqs);
	cJSON_AddNumberToObject(j, "sessions_per_step",
				st.steps ? (double)st.step_seqs / (double)st.steps : 0);
	cJSON_AddNumberToObject(j, "max_step_sessions", (double)st.max_step);
	cJSON_AddNumberToObject(j, "cancelled", (double)st.cancelled);
	cJSON_AddNumberToObject(j, "dropped", (double)st.dropped);
	cJSON_AddNumberToObject(j, "stalls", (double)st.stalls);
	cJSON_AddNumberToObject(j, "errors", (double)st.errors);
}

/* Holders other than the caller are shown to admins only: a uid is the other tenant's business. */
static cJSON *model_json(struct pnd_model *m, bool stats, const struct pnd_caller *who)
{
	cJSON *o = cJSON_CreateObject(), *hold = cJSON_AddArrayToObject(o, "holders");
	struct pn_model_desc dsc;
	char hash[20];

	pnd_model_desc(m, &dsc);
	snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)dsc.content_hash);
	cJSON_AddNumberToObject(o, "id", dsc.id);
	cJSON_AddStringToObject(o, "name", dsc.name);
	cJSON_AddStringToObject(o, "hash", hash);
	cJSON_AddNumberToObject(o, "bytes", (double)dsc.size);
	cJSON_AddNumberToObject(o, "out_width", dsc.out_width);
	cJSON_AddStringToObject(o, "layout", pnb_layout_name(dsc.out_layout));
	cJSON_AddNumberToObject(o, "max_tokens", dsc.max_tokens);
	cJSON_AddNumberToObject(o, "max_batch", dsc.max_batch);
	cJSON_AddStringToObject(o, "region", m->transient ? "" : m->region_name);
	cJSON_AddBoolToObject(o, "persistent", !m->transient);
	cJSON_AddBoolToObject(o, "reattached", m->reattached);
	cJSON_AddBoolToObject(o, "public", m->public);
	cJSON_AddBoolToObject(o, "decoder", m->decoder);
	cJSON_AddBoolToObject(o, "held", pnd_model_holds_locked(m, who->uid));
	for (uint32_t i = 0; i < m->n_holders; i++)
		if (who->admin || m->holders[i] == who->uid)
			cJSON_AddItemToArray(hold, cJSON_CreateNumber(m->holders[i]));
	if (stats) {
		struct pn_stats st = { 0 };
		uint64_t n;

		pthread_mutex_lock(&m->stat_lock);
		n = m->n_lat < PND_LAT_SAMPLES ? m->n_lat : PND_LAT_SAMPLES;
		if (!pn_stats_init(&st, n ? n : 1))
			for (uint64_t i = 0; i < n; i++)
				pn_stats_add(&st, m->lat_us[i]);
		cJSON_AddNumberToObject(o, "jobs", (double)m->jobs);
		cJSON_AddNumberToObject(o, "errors", (double)m->errors);
		cJSON_AddNumberToObject(o, "batched", (double)m->batched);
		pthread_mutex_unlock(&m->stat_lock);
		cJSON_AddNumberToObject(o, "lat_samples", (double)n);
		cJSON_AddNumberToObject(o, "p50_us", pn_stats_pct(&st, 50));
		cJSON_AddNumberToObject(o, "p99_us", pn_stats_pct(&st, 99));
		cJSON_AddNumberToObject(o, "p999_us", pn_stats_pct(&st, 99.9));
		pn_stats_free(&st);
		if (m->gen)
			gen_json(o, m->gen);
	}
	return o;
}

/* The models the caller sees (models.c's visibility), admins all of them. */
static cJSON *models_json(struct pnd_control *ctl, bool stats, const struct pnd_caller *who)
{
	cJSON *a = cJSON_CreateArray();

	pthread_mutex_lock(&ctl->models->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *m = ctl->models->tab[i];

		if (m && pnd_model_visible_locked(m, who))
			cJSON_AddItemToArray(a, model_json(m, stats, who));
	}
	pthread_mutex_unlock(&ctl->models->lock);
	return a;
}

static void on_list(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h)
{
	cJSON *doc = cJSON_CreateObject();
	struct pnd_caller who;

	pnd_caller(ctl->tenants, c->uid, &who);
	cJSON_AddItemToObject(doc, "models", models_json(ctl, false, &who));
	reply_json(c, h, doc);
}

static void on_stat(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h)
{
	static const char *const cls[PN_SCHED_NCLASS] = { "realtime", "interactive", "batch" };
	cJSON *doc = cJSON_CreateObject(), *ten, *dm = cJSON_AddObjectToObject(doc, "daemon");
	uint32_t queued, running;
	struct pnd_caller who;

	pnd_caller(ctl->tenants, c->uid, &who);
	pthread_mutex_lock(&ctl->work->lock);
	pn_sched_depth(ctl->work->sched, &queued, &running);
	pthread_mutex_unlock(&ctl->work->lock);
	cJSON_AddNumberToObject(dm, "pid", getpid());
	cJSON_AddNumberToObject(dm, "uptime_s", (double)(pnd_now_ns() - ctl->t_start_ns) / 1e9);
	cJSON_AddStringToObject(dm, "backend", ctl->bops->name);
	if (ctl->backend_why && ctl->backend_why[0])
		cJSON_AddStringToObject(dm, "backend_reason", ctl->backend_why);
	if (ctl->bops->devices_json) {
		cJSON *devs = ctl->bops->devices_json(ctl->be);

		if (devs)
			cJSON_AddItemToObject(doc, "devices", devs);
	}
	if (ctl->bops->stats) {
		char bs[512];

		if (ctl->bops->stats(ctl->be, bs, sizeof(bs)) > 0)
			cJSON_AddStringToObject(dm, "backend_stats", bs);
	}
	cJSON_AddNumberToObject(dm, "workers", ctl->nworkers);
	cJSON_AddNumberToObject(dm, "sessions", atomic_load(&ctl->sessions->n));
	cJSON_AddNumberToObject(dm, "connections", ctl->n_conns);
	cJSON_AddNumberToObject(dm, "queued", queued);
	cJSON_AddNumberToObject(dm, "running", running);
	cJSON_AddItemToObject(doc, "models", models_json(ctl, true, &who));
	ten = cJSON_AddArrayToObject(doc, "tenants");
	for (uint32_t i = 0; i < ctl->tenants->n; i++) {
		struct pnd_tenant *t = &ctl->tenants->tab[i];
		struct pn_sched_tenant_stat st = { 0 };
		cJSON *o, *q, *lim;

		/* another tenant's counters are its business: admins see every row */
		if (!who.admin && t->uid != c->uid)
			continue;
		o = cJSON_CreateObject();
		q = cJSON_AddObjectToObject(o, "queued");
		pthread_mutex_lock(&ctl->work->lock);
		pn_sched_tenant_stat(ctl->work->sched, t->uid, &st);
		pthread_mutex_unlock(&ctl->work->lock);
		cJSON_AddNumberToObject(o, "uid", t->uid);
		cJSON_AddStringToObject(o, "name", t->name);
		cJSON_AddNumberToObject(o, "sessions", t->sessions);
		cJSON_AddNumberToObject(o, "loads", (double)t->loads);
		cJSON_AddNumberToObject(o, "weight", st.weight);
		for (int k = 0; k < PN_SCHED_NCLASS; k++)
			cJSON_AddNumberToObject(q, cls[k], st.queued[k]);
		cJSON_AddNumberToObject(o, "running", st.running);
		cJSON_AddNumberToObject(o, "submitted", (double)st.submitted);
		cJSON_AddNumberToObject(o, "completed", (double)st.completed);
		cJSON_AddNumberToObject(o, "cancelled", (double)st.cancelled);
		cJSON_AddNumberToObject(o, "refused_deadline", (double)st.refused_deadline);
		cJSON_AddNumberToObject(o, "refused_quota", (double)st.refused_quota);
		cJSON_AddNumberToObject(o, "refused_rt", (double)st.refused_rt);
		cJSON_AddNumberToObject(o, "arena_bytes", (double)st.arena_bytes);
		cJSON_AddNumberToObject(o, "session_bytes", (double)t->session_bytes);
		lim = cJSON_AddObjectToObject(o, "limits");
		cJSON_AddNumberToObject(lim, "sessions", t->lim.sessions);
		cJSON_AddNumberToObject(lim, "session_bytes", (double)t->lim.session_bytes);
		cJSON_AddNumberToObject(lim, "models", t->lim.models);
		cJSON_AddNumberToObject(lim, "model_bytes", (double)t->lim.model_bytes);
		cJSON_AddNumberToObject(lim, "rt_permille", t->lim.rt_permille);
		cJSON_AddNumberToObject(lim, "conns", t->lim.conns);
		cJSON_AddItemToArray(ten, o);
	}
	reply_json(c, h, doc);
}

/* METRICS: the Prometheus text (metrics.c), filtered for the caller like STAT. */
static void on_metrics(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h)
{
	struct pnd_caller who;
	struct pn_err e;
	size_t n = 0;
	char *text;

	pnd_caller(ctl->tenants, c->uid, &who);
	text = pnd_metrics_render(ctl, &who, &n);
	if (!text) {
		pn_errf(&e, -ENOMEM, "METRICS: out of memory");
		reply_err(c, h, -ENOMEM, &e);
	} else if (n + 1 > PN_MSG_MAX - 64) {
		pn_errf(&e, -EMSGSIZE, "METRICS: the text has %zu bytes, more than a message "
			"holds (scrape --metrics instead)", n);
		reply_err(c, h, -EMSGSIZE, &e);
	} else {
		pnd_conn_reply(c, h->type, h->seq, 0, text, n + 1, NULL, NULL, 0);
	}
	free(text);
}

static void on_model_info(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h,
			  const struct pn_model_ref *ref)
{
	struct pn_model_desc desc;
	struct pn_region *ro = NULL;
	struct pn_err e;
	struct pnd_caller who;
	struct pnd_model *m;
	int fd, r = 0;

	/* the reply carries the weights' fd: only a tenant that sees the model gets it */
	pnd_caller(ctl->tenants, c->uid, &who);
	m = pnd_model_find(ctl->models, &who, ref, &e);
	if (!m) {
		reply_err(c, h, -ENOENT, &e);
		return;
	}
	pnd_model_desc(m, &desc);
	/* the client maps the weights read-only (it tokenizes with them) */
	if (m->region_name[0] && !m->transient)
		r = pn_region_attach(m->region_name, 0, PN_REGION_AUTO, &ro, &e);
	if (r) {
		reply_err(c, h, r, &e);
	} else {
		fd = ro ? pn_region_fd(ro) : pn_region_fd(m->region);
		pnd_conn_reply(c, h->type, h->seq, 0, &desc, sizeof(desc), NULL, &fd, 1);
	}
	pn_region_close(ro);
	pnd_model_put(m);
}

static void on_open_session(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h,
			    const struct pn_session_req *q)
{
	struct pnd_tenant *t = pnd_tenant(ctl->tenants, c->uid);
	struct pnd_session *s;
	struct pn_session_rep rep = { 0 };
	struct pn_seg_layout l;
	struct pn_err e;
	int fds[3], r;

	/* the quotas, before any memory: the segment's size follows from the request */
	pn_seg_layout(q->sq_entries, q->cq_entries, q->arena_size, &l);
	if (t->sessions >= t->lim.sessions) {
		pn_errf(&e, -EDQUOT, "OPEN_SESSION: uid %u has %u sessions open, its quota is %u "
			"(the admin map's sessions=)", c->uid, t->sessions, t->lim.sessions);
		reply_err(c, h, -EDQUOT, &e);
		return;
	}
	if (t->session_bytes + l.size > t->lim.session_bytes) {
		pn_errf(&e, -EDQUOT, "OPEN_SESSION: a segment of %llu bytes would bring uid %u's "
			"sessions to %llu bytes, its quota is %llu (the admin map's session_mb=)",
			(unsigned long long)l.size, c->uid,
			(unsigned long long)(t->session_bytes + l.size),
			(unsigned long long)t->lim.session_bytes);
		reply_err(c, h, -EDQUOT, &e);
		return;
	}
	r = pnd_session_open(ctl->sessions, c->uid, q, &s, &e);
	if (r) {
		reply_err(c, h, r, &e);
		return;
	}
	s->admin = pnd_is_admin(ctl->tenants, c->uid);
	s->conn = c;
	s->conn_next = c->sessions;
	c->sessions = s;
	t->sessions++;
	t->session_bytes += s->seg.size;
	rep.session_id = s->id;
	rep.seg_size = s->seg.size;
	fds[0] = s->seg.seg_fd;
	fds[1] = s->seg.db_fd;
	fds[2] = s->seg.cq_fd;
	pnd_conn_reply(c, h->type, h->seq, 0, &rep, sizeof(rep), NULL, fds, 3);
}

/* A LOAD in progress: the reply goes out when models.c reports the end. */
struct load_ctx {
	struct pnd_control *ctl;
	struct pnd_conn *c;
	uint32_t seq, uid;
};

static void load_done(void *arg, int r, const struct pn_model_desc *desc, const char *msg)
{
	struct load_ctx *x = arg;
	struct pnd_conn *c = x->c;

	if (!r)
		pnd_tenant(x->ctl->tenants, x->uid)->loads++;
	if (!c->dead)
		pnd_conn_reply(c, PN_MSG_LOAD, x->seq, r, r ? NULL : desc,
			       r ? 0 : sizeof(*desc), r ? msg : NULL, NULL, 0);
	c->loads--;
	if (c->dead)
		pnd_conn_release(c);
	free(x);
}

static int load_start(struct pnd_control *ctl, struct pnd_conn *c, const struct pn_msg_hdr *h,
		      const struct pn_load_req *req, int fd, struct pn_err *e)
{
	struct load_ctx *x = malloc(sizeof(*x));
	struct pnd_caller who;
	int r;

	if (!x)
		return pn_errf(e, -ENOMEM, "LOAD: out of memory");
	*x = (struct load_ctx){ .ctl = ctl, .c = c, .seq = h->seq, .uid = c->uid };
	pnd_caller(ctl->tenants, c->uid, &who);
	r = pnd_load_start(ctl->models, &who, req, fd,
			   (struct pnd_load_done){ .fn = load_done, .arg = x }, e);
	if (r) {
		free(x);
		return r;
	}
	c->loads++;
	return 0;
}

void pnd_control(struct pnd_control *ctl, struct pnd_conn *c, const void *buf, size_t n, int *fds,
		 int nfds)
{
	const struct pn_msg_hdr *h = NULL;
	const void *body;
	size_t blen;
	struct pn_err e;
	int r = pn_proto_check(buf, n, 0, &h, &body, &blen, &e);
	int want_fds = h && h->type == PN_MSG_LOAD ? 1 : 0;

	if (!r && nfds != want_fds)
		r = pn_errf(&e, -EINVAL, "%s: %d file descriptors attached, expected %d",
			    pn_msg_name(h->type), nfds, want_fds);
	if (r) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (!h) {
			/* no usable header: answer type 0, with its seq when there is one */
			struct pn_msg_hdr bad = { .type = 0 };

			if (n >= sizeof(bad))
				bad.seq = ((const struct pn_msg_hdr *)buf)->seq;
			reply_err(c, &bad, r, &e);
			return;
		}
		reply_err(c, h, r, &e);
		return;
	}
	if (atomic_load(&ctl->sessions->stopping) && h->type != PN_MSG_STAT && h->type != PN_MSG_LIST &&
	    h->type != PN_MSG_METRICS) {
		pn_errf(&e, -ESHUTDOWN, "%s: polynetd is shutting down", pn_msg_name(h->type));
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		reply_err(c, h, -ESHUTDOWN, &e);
		return;
	}
	switch (h->type) {
	case PN_MSG_HELLO:
		on_hello(ctl, c, h, body);
		break;
	case PN_MSG_LOAD:
		r = load_start(ctl, c, h, body, fds[0], &e);
		if (r) {
			close(fds[0]);
			reply_err(c, h, r, &e);
		}
		break;
	case PN_MSG_UNLOAD: {
		struct pnd_caller who;

		pnd_caller(ctl->tenants, c->uid, &who);
		r = pnd_unload(ctl->models, &who, body, &e);
		if (r)
			reply_err(c, h, r, &e);
		else
			pnd_conn_reply(c, h->type, h->seq, 0, NULL, 0, NULL, NULL, 0);
		break;
	}
	case PN_MSG_LIST:
		on_list(ctl, c, h);
		break;
	case PN_MSG_STAT:
		on_stat(ctl, c, h);
		break;
	case PN_MSG_METRICS:
		on_metrics(ctl, c, h);
		break;
	case PN_MSG_MODEL_INFO:
		on_model_info(ctl, c, h, body);
		break;
	case PN_MSG_OPEN_SESSION:
		on_open_session(ctl, c, h, body);
		break;
	}
}
