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

#include "backend.h"
#include "daemon.h"
#include "transport/proto.h"
#include "util/stats.h"

bool pnd_is_admin(struct pnd *d, uint32_t uid)
{
	return uid == 0 || uid == d->admin_uid || pnd_tenant(d, uid)->admin;
}

struct pnd_tenant *pnd_tenant(struct pnd *d, uint32_t uid)
{
	static struct pnd_tenant overflow;	/* counts past PND_MAX_TENANTS, unlisted */

	for (uint32_t i = 0; i < d->n_tenants; i++)
		if (d->tenants[i].uid == uid)
			return &d->tenants[i];
	if (d->n_tenants == PND_MAX_TENANTS)
		return &overflow;
	d->tenants[d->n_tenants].uid = uid;
	return &d->tenants[d->n_tenants++];
}

static void reply_err(struct pnd_conn *c, const struct pn_msg_hdr *h, int r,
		      const struct pn_err *e)
{
	pn_proto_reply(c->fd, h->type, h->seq, r, NULL, 0, e->msg, NULL, 0);
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
		pn_proto_reply(c->fd, h->type, h->seq, 0, s, strlen(s) + 1, NULL, NULL, 0);
	}
	free(s);
	cJSON_Delete(doc);
}

static void on_hello(struct pnd *d, struct pnd_conn *c, const struct pn_msg_hdr *h,
		     const struct pn_hello_req *q)
{
	struct pn_hello_rep rep = {
		.version = PN_PROTO_VERSION, .uid = c->uid, .pid = c->pid,
		.admin = pnd_is_admin(d, c->uid), .workers = d->nworkers,
		.idle_spin_us = d->idle_spin_us,
	};

	snprintf(c->client, sizeof(c->client), "%s", q->client);
	if (pnd_tenant(d, c->uid)->name[0])
		snprintf(rep.tenant, sizeof(rep.tenant), "%s", pnd_tenant(d, c->uid)->name);
	else
		snprintf(rep.tenant, sizeof(rep.tenant), "uid:%u", c->uid);
	snprintf(rep.backend, sizeof(rep.backend), "%s", pnd_backend_cpu.name);
	pn_proto_reply(c->fd, h->type, h->seq, 0, &rep, sizeof(rep), NULL, NULL, 0);
}

static cJSON *model_json(struct pnd_model *m, bool stats)
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
	for (uint32_t i = 0; i < m->n_holders; i++)
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
	}
	return o;
}

static cJSON *models_json(struct pnd *d, bool stats)
{
	cJSON *a = cJSON_CreateArray();

	pthread_mutex_lock(&d->models_lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++)
		if (d->models[i])
			cJSON_AddItemToArray(a, model_json(d->models[i], stats));
	pthread_mutex_unlock(&d->models_lock);
	return a;
}

static void on_list(struct pnd *d, struct pnd_conn *c, const struct pn_msg_hdr *h)
{
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddItemToObject(doc, "models", models_json(d, false));
	reply_json(c, h, doc);
}

static void on_stat(struct pnd *d, struct pnd_conn *c, const struct pn_msg_hdr *h)
{
	static const char *const cls[PN_SCHED_NCLASS] = { "realtime", "interactive", "batch" };
	cJSON *doc = cJSON_CreateObject(), *ten, *dm = cJSON_AddObjectToObject(doc, "daemon");
	uint32_t queued, running;

	pthread_mutex_lock(&d->sched_lock);
	pn_sched_depth(d->sched, &queued, &running);
	pthread_mutex_unlock(&d->sched_lock);
	cJSON_AddNumberToObject(dm, "pid", getpid());
	cJSON_AddNumberToObject(dm, "uptime_s", (double)(pnd_now_ns() - d->t_start_ns) / 1e9);
	cJSON_AddStringToObject(dm, "backend", pnd_backend_cpu.name);
	cJSON_AddNumberToObject(dm, "workers", d->nworkers);
	cJSON_AddNumberToObject(dm, "sessions", atomic_load(&d->n_sessions));
	cJSON_AddNumberToObject(dm, "connections", d->n_conns);
	cJSON_AddNumberToObject(dm, "queued", queued);
	cJSON_AddNumberToObject(dm, "running", running);
	cJSON_AddItemToObject(doc, "models", models_json(d, true));
	ten = cJSON_AddArrayToObject(doc, "tenants");
	for (uint32_t i = 0; i < d->n_tenants; i++) {
		struct pnd_tenant *t = &d->tenants[i];
		struct pn_sched_tenant_stat st = { 0 };
		cJSON *o = cJSON_CreateObject(), *q = cJSON_AddObjectToObject(o, "queued");

		pthread_mutex_lock(&d->sched_lock);
		pn_sched_tenant_stat(d->sched, t->uid, &st);
		pthread_mutex_unlock(&d->sched_lock);
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
		cJSON_AddNumberToObject(o, "arena_bytes", (double)st.arena_bytes);
		cJSON_AddItemToArray(ten, o);
	}
	reply_json(c, h, doc);
}

static void on_model_info(struct pnd *d, struct pnd_conn *c, const struct pn_msg_hdr *h,
			  const struct pn_model_ref *ref)
{
	struct pn_model_desc desc;
	struct pn_region *ro = NULL;
	struct pn_err e;
	struct pnd_model *m = pnd_model_find(d, ref, &e);
	int fd, r = 0;

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
		pn_proto_reply(c->fd, h->type, h->seq, 0, &desc, sizeof(desc), NULL, &fd, 1);
	}
	pn_region_close(ro);
	pnd_model_put(d, m);
}

static void on_open_session(struct pnd *d, struct pnd_conn *c, const struct pn_msg_hdr *h,
			    const struct pn_session_req *q)
{
	struct pnd_session *s;
	struct pn_session_rep rep = { 0 };
	struct pn_err e;
	int fds[3], r;

	r = pnd_session_open(d, c, q, &s, &e);
	if (r) {
		reply_err(c, h, r, &e);
		return;
	}
	s->conn_next = c->sessions;
	c->sessions = s;
	pnd_tenant(d, c->uid)->sessions++;
	pnd_loop_arm_doorbell(d, s);
	rep.session_id = s->id;
	rep.seg_size = s->seg_size;
	fds[0] = s->seg_fd;
	fds[1] = s->db_fd;
	fds[2] = s->cq_fd;
	pn_proto_reply(c->fd, h->type, h->seq, 0, &rep, sizeof(rep), NULL, fds, 3);
}

void pnd_control(struct pnd *d, struct pnd_conn *c, const void *buf, size_t n, int *fds,
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
	if (atomic_load(&d->stopping) && h->type != PN_MSG_STAT && h->type != PN_MSG_LIST) {
		pn_errf(&e, -ESHUTDOWN, "%s: polynetd is shutting down", pn_msg_name(h->type));
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		reply_err(c, h, -ESHUTDOWN, &e);
		return;
	}
	switch (h->type) {
	case PN_MSG_HELLO:
		on_hello(d, c, h, body);
		break;
	case PN_MSG_LOAD:
		r = pnd_load_start(d, c, h->seq, body, fds[0], &e);
		if (r) {
			close(fds[0]);
			reply_err(c, h, r, &e);
		}
		break;
	case PN_MSG_UNLOAD:
		r = pnd_unload(d, c->uid, body, &e);
		if (r)
			reply_err(c, h, r, &e);
		else
			pn_proto_reply(c->fd, h->type, h->seq, 0, NULL, 0, NULL, NULL, 0);
		break;
	case PN_MSG_LIST:
		on_list(d, c, h);
		break;
	case PN_MSG_STAT:
		on_stat(d, c, h);
		break;
	case PN_MSG_MODEL_INFO:
		on_model_info(d, c, h, body);
		break;
	case PN_MSG_OPEN_SESSION:
		on_open_session(d, c, h, body);
		break;
	}
}
