// SPDX-License-Identifier: MIT
/*
 * metrics.c - the Prometheus text of metrics.h. Each family is one HELP, one
 * TYPE and all its samples together (the format requires the grouping), so
 * the models and tenants are copied first, under their locks, then written
 * family by family. Label values are escaped (\\, \", \n): model names come
 * from the clients' files. Cold path: the loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "metrics.h"

/* A model, as copied under the models' lock. */
struct mrow {
	uint32_t id, holders;
	bool shared;
	uint64_t bytes, jobs, errors, batched;
	char name[PN_NAME_MAX];
	struct hsnap { uint64_t b[PND_HIST_MAX + 1], sum; uint32_t n; const uint64_t *le;
		       enum pnd_hist_kind kind; } lat, rows;
	bool gen;			/* a decoder with a generation context */
	struct pnd_gen_stat g;
	struct hsnap steps;		/* sessions per decode step */
};

/* A tenant, as copied from the table and the scheduler. */
struct trow {
	uint32_t uid, sessions;
	uint64_t session_bytes, loads;
	char name[40];
	struct pn_sched_tenant_stat st;
};

static void snap(struct hsnap *s, const struct pnd_hist *h)
{
	s->n = h->n;
	s->le = h->le;
	s->kind = h->kind;
	for (uint32_t i = 0; i <= h->n; i++)
		s->b[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	s->sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
}

/* The exposition's label value escaping: backslash, double quote, newline. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void mlabels(FILE *f, const struct mrow *m)
{
	fputs("model=\"", f);
	esc(f, m->name);
	fprintf(f, "\",id=\"%u\"", m->id);
}

static void tlabels(FILE *f, const struct trow *t)
{
	fprintf(f, "uid=\"%u\",tenant=\"", t->uid);
	esc(f, t->name);
	fputc('"', f);
}

static void hist(FILE *f, const char *name, const struct mrow *m, const struct hsnap *h)
{
	uint64_t cum = 0;
	double scale = h->kind == PND_HIST_LATENCY ? 1e-9 : 1;

	for (uint32_t i = 0; i <= h->n; i++) {
		cum += h->b[i];
		fprintf(f, "%s_bucket{", name);
		mlabels(f, m);
		if (i < h->n)
			fprintf(f, ",le=\"%.9g\"} %" PRIu64 "\n", (double)h->le[i] * scale, cum);
		else
			fprintf(f, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "%s_sum{", name);
	mlabels(f, m);
	fprintf(f, "} %.9g\n%s_count{", (double)h->sum * scale, name);
	mlabels(f, m);
	fprintf(f, "} %" PRIu64 "\n", cum);
}

static uint32_t copy_models(struct pnd_control *ctl, const struct pnd_caller *who,
			    struct mrow *out)
{
	uint32_t n = 0;

	pthread_mutex_lock(&ctl->models->lock);
	for (uint32_t i = 0; i < PND_MAX_MODELS; i++) {
		struct pnd_model *m = ctl->models->tab[i];
		struct pn_model_desc d;
		struct mrow *r = &out[n];

		if (!m || !pnd_model_visible_locked(m, who))
			continue;
		pnd_model_desc(m, &d);
		r->id = d.id;
		r->bytes = d.size;
		r->holders = m->n_holders;
		r->shared = m->n_holders > 1 || m->public;
		snprintf(r->name, sizeof(r->name), "%s", d.name);
		pthread_mutex_lock(&m->stat_lock);
		r->jobs = m->jobs;
		r->errors = m->errors;
		r->batched = m->batched;
		pthread_mutex_unlock(&m->stat_lock);
		snap(&r->lat, &m->lat_hist);
		snap(&r->rows, &m->rows_hist);
		r->gen = m->gen != NULL;
		if (r->gen) {
			pnd_gen_stat(m->gen, &r->g);
			snap(&r->steps, pnd_gen_step_hist(m->gen));
		}
		n++;
	}
	pthread_mutex_unlock(&ctl->models->lock);
	return n;
}

static uint32_t copy_tenants(struct pnd_control *ctl, const struct pnd_caller *who,
			     struct trow *out)
{
	uint32_t n = 0;

	pthread_mutex_lock(&ctl->work->lock);
	for (uint32_t i = 0; i < ctl->tenants->n; i++) {
		const struct pnd_tenant *t = &ctl->tenants->tab[i];
		struct trow *r = &out[n];

		/* another tenant's counters are its business, as in STAT */
		if (!who->admin && t->uid != who->uid)
			continue;
		*r = (struct trow){ .uid = t->uid, .sessions = t->sessions,
				    .session_bytes = t->session_bytes, .loads = t->loads };
		if (t->name[0])
			snprintf(r->name, sizeof(r->name), "%s", t->name);
		else
			snprintf(r->name, sizeof(r->name), "uid:%u", t->uid);
		pn_sched_tenant_stat(ctl->work->sched, t->uid, &r->st);
		n++;
	}
	pthread_mutex_unlock(&ctl->work->lock);
	return n;
}

static void daemon_part(FILE *f, struct pnd_control *ctl)
{
	uint32_t queued, running;

	pthread_mutex_lock(&ctl->work->lock);
	pn_sched_depth(ctl->work->sched, &queued, &running);
	pthread_mutex_unlock(&ctl->work->lock);
	family(f, "polynet_info", "gauge", "Always 1: the backend and the control protocol version.");
	fprintf(f, "polynet_info{backend=\"%s\",protocol=\"%u\"} 1\n", ctl->bops->name,
		PN_PROTO_VERSION);
	family(f, "polynet_uptime_seconds", "gauge", "Seconds since polynetd started.");
	fprintf(f, "polynet_uptime_seconds %.3f\n", (double)(pnd_now_ns() - ctl->t_start_ns) / 1e9);
	family(f, "polynet_workers", "gauge", "CPU worker threads (not counting realtime ones).");
	fprintf(f, "polynet_workers %u\n", ctl->nworkers);
	family(f, "polynet_sessions", "gauge", "Open sessions, all tenants.");
	fprintf(f, "polynet_sessions %u\n", atomic_load(&ctl->sessions->n));
	family(f, "polynet_connections", "gauge", "Open control connections, all tenants.");
	fprintf(f, "polynet_connections %u\n", ctl->n_conns);
	family(f, "polynet_queued_jobs", "gauge", "Jobs queued in the scheduler, all classes.");
	fprintf(f, "polynet_queued_jobs %u\n", queued);
	family(f, "polynet_running_jobs", "gauge", "Jobs running on a worker.");
	fprintf(f, "polynet_running_jobs %u\n", running);
}

/* One sample per row (a model or a tenant, labelled by labels) of a uint64 expression of r_. */
#define FAMILY(f, rows, n, labels, metric, type, help, expr)				\
	do {										\
		family(f, metric, type, help);						\
		for (uint32_t i_ = 0; i_ < (n); i_++) {					\
			const __typeof__(*(rows)) *r_ = &(rows)[i_];			\
			fputs(metric "{", f);						\
			labels(f, r_);							\
			fprintf(f, "} %" PRIu64 "\n", (uint64_t)(expr));		\
		}									\
	} while (0)
#define MODEL_FAMILY(f, rows, n, ...) FAMILY(f, rows, n, mlabels, __VA_ARGS__)
#define TENANT_FAMILY(f, rows, n, ...) FAMILY(f, rows, n, tlabels, __VA_ARGS__)

static void models_part(FILE *f, const struct mrow *r, uint32_t n, bool admin)
{
	uint64_t shared = 0;

	MODEL_FAMILY(f, r, n, "polynet_model_jobs_total", "counter",
		     "Jobs completed (answered), errors included.", r_->jobs);
	MODEL_FAMILY(f, r, n, "polynet_model_errors_total", "counter",
		     "Jobs answered with an error.", r_->errors);
	MODEL_FAMILY(f, r, n, "polynet_model_batched_jobs_total", "counter",
		     "Jobs that ran coalesced with others.", r_->batched);
	MODEL_FAMILY(f, r, n, "polynet_model_bytes", "gauge",
		     "Bytes of the model's shared-memory region (the .pnb).", r_->bytes);
	if (admin) {
		MODEL_FAMILY(f, r, n, "polynet_model_holders", "gauge",
			     "Tenants holding the model (admins only).", r_->holders);
		for (uint32_t i = 0; i < n; i++)
			shared += r[i].shared ? r[i].bytes : 0;
		family(f, "polynet_shared_model_bytes", "gauge",
		       "Bytes of models serving several tenants from one copy (public, or "
		       "held by more than one; admins only).");
		fprintf(f, "polynet_shared_model_bytes %" PRIu64 "\n", shared);
	}
	family(f, "polynet_model_latency_seconds", "histogram",
	       "Submit (SQE read) to completion, every job.");
	for (uint32_t i = 0; i < n; i++)
		hist(f, "polynet_model_latency_seconds", &r[i], &r[i].lat);
	family(f, "polynet_model_batch_rows", "histogram", "Sequences per executor call.");
	for (uint32_t i = 0; i < n; i++)
		hist(f, "polynet_model_batch_rows", &r[i], &r[i].rows);
}

/* The same for the models that generate (decoders) only. */
#define GEN_FAMILY(f, rows, n, metric, type, help, expr)				\
	do {										\
		family(f, metric, type, help);						\
		for (uint32_t i_ = 0; i_ < (n); i_++) {					\
			const struct mrow *r_ = &(rows)[i_];				\
			if (!r_->gen)							\
				continue;						\
			fputs(metric "{", f);						\
			mlabels(f, r_);							\
			fprintf(f, "} %" PRIu64 "\n", (uint64_t)(expr));		\
		}									\
	} while (0)

/* Generation (gen_sched.h): slots, tokens, and how many sessions each decode step batched. */
static void gen_part(FILE *f, const struct mrow *r, uint32_t n)
{
	static const char *const why[3] = { "cancelled", "dropped", "error" };

	GEN_FAMILY(f, r, n, "polynet_gen_slots", "gauge",
		   "KV cache slots: sessions a decoder generates for at once (--gen-slots).",
		   r_->g.slots);
	GEN_FAMILY(f, r, n, "polynet_gen_slots_used", "gauge",
		   "KV cache slots held by a generation now.", r_->g.slots_used);
	GEN_FAMILY(f, r, n, "polynet_gen_waiting_jobs", "gauge",
		   "Generations waiting for a free slot.", r_->g.waiting);
	GEN_FAMILY(f, r, n, "polynet_gen_jobs_total", "counter",
		   "Generations that took a slot.", r_->g.jobs);
	GEN_FAMILY(f, r, n, "polynet_gen_tokens_total", "counter",
		   "Tokens generated.", r_->g.tokens);
	GEN_FAMILY(f, r, n, "polynet_gen_prefills_total", "counter",
		   "Prompt prefills (one executor call each).", r_->g.prefills);
	GEN_FAMILY(f, r, n, "polynet_gen_stalls_total", "counter",
		   "Token CQEs that found their client's CQ full (the job paused).",
		   r_->g.stalls);
	family(f, "polynet_gen_ended_total", "counter",
	       "Generations ended early: cancelled, dropped (the session went away: its slot "
	       "freed) or by an error.");
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t v[3] = { r[i].g.cancelled, r[i].g.dropped, r[i].g.errors };

		for (uint32_t k = 0; r[i].gen && k < 3; k++) {
			fputs("polynet_gen_ended_total{", f);
			mlabels(f, &r[i]);
			fprintf(f, ",why=\"%s\"} %" PRIu64 "\n", why[k], v[k]);
		}
	}
	family(f, "polynet_gen_step_sessions", "histogram",
	       "Sessions batched in each decode step (one executor call); _count is the steps.");
	for (uint32_t i = 0; i < n; i++)
		if (r[i].gen)
			hist(f, "polynet_gen_step_sessions", &r[i], &r[i].steps);
}

static void tenants_part(FILE *f, const struct trow *r, uint32_t n)
{
	static const char *const cls[PN_SCHED_NCLASS] = { "realtime", "interactive", "batch" };

	TENANT_FAMILY(f, r, n, "polynet_tenant_jobs_submitted_total", "counter",
		      "Jobs the scheduler accepted.", r_->st.submitted);
	TENANT_FAMILY(f, r, n, "polynet_tenant_jobs_completed_total", "counter",
		      "Jobs that ran to completion.", r_->st.completed);
	TENANT_FAMILY(f, r, n, "polynet_tenant_jobs_cancelled_total", "counter",
		      "Jobs cancelled (PN_OP_CANCEL, or their session went away).",
		      r_->st.cancelled);
	family(f, "polynet_tenant_jobs_refused_total", "counter",
	       "Jobs refused at submit, by reason: deadline (-ETIME, -EINVAL horizon), "
	       "quota (-EDQUOT in-flight or arena), realtime (-EDQUOT budget).");
	for (uint32_t i = 0; i < n; i++) {
		const uint64_t v[3] = { r[i].st.refused_deadline, r[i].st.refused_quota,
					r[i].st.refused_rt };
		static const char *const why[3] = { "deadline", "quota", "realtime" };

		for (int k = 0; k < 3; k++) {
			fputs("polynet_tenant_jobs_refused_total{", f);
			tlabels(f, &r[i]);
			fprintf(f, ",reason=\"%s\"} %" PRIu64 "\n", why[k], v[k]);
		}
	}
	family(f, "polynet_tenant_queued_jobs", "gauge", "Jobs queued, by scheduling class.");
	for (uint32_t i = 0; i < n; i++)
		for (int k = 0; k < PN_SCHED_NCLASS; k++) {
			fputs("polynet_tenant_queued_jobs{", f);
			tlabels(f, &r[i]);
			fprintf(f, ",class=\"%s\"} %u\n", cls[k], r[i].st.queued[k]);
		}
	TENANT_FAMILY(f, r, n, "polynet_tenant_running_jobs", "gauge", "Jobs running.",
		      r_->st.running);
	TENANT_FAMILY(f, r, n, "polynet_tenant_sessions", "gauge", "Open sessions.",
		      r_->sessions);
	TENANT_FAMILY(f, r, n, "polynet_tenant_session_bytes", "gauge",
		      "Bytes of the tenant's session segments (rings and arenas, shared "
		      "memory mapped by the daemon and the client).", r_->session_bytes);
	TENANT_FAMILY(f, r, n, "polynet_tenant_arena_bytes", "gauge",
		      "Arena bytes of the tenant's queued and running jobs.", r_->st.arena_bytes);
	TENANT_FAMILY(f, r, n, "polynet_tenant_loads_total", "counter",
		      "LOADs that succeeded.", r_->loads);
}

char *pnd_metrics_render(struct pnd_control *ctl, const struct pnd_caller *who, size_t *len)
{
	static const struct pnd_caller all = { .admin = true };
	struct mrow *mr = calloc(PND_MAX_MODELS, sizeof(*mr));
	struct trow *tr = calloc(PND_MAX_TENANTS, sizeof(*tr));
	char *text = NULL;
	uint32_t nm, nt;
	FILE *f = NULL;

	if (!who)
		who = &all;
	if (mr && tr)
		f = open_memstream(&text, len);
	if (f) {
		nm = copy_models(ctl, who, mr);
		nt = copy_tenants(ctl, who, tr);
		daemon_part(f, ctl);
		models_part(f, mr, nm, who->admin);
		gen_part(f, mr, nm);
		tenants_part(f, tr, nt);
		if (fclose(f)) {
			free(text);
			text = NULL;
		}
	}
	free(mr);
	free(tr);
	return text;
}
