// SPDX-License-Identifier: MIT
/*
 * calib.c - run an exact model on calibration text and record, for the
 * values the passes need, the range over every valid token and a reservoir
 * sample of token rows (algorithm R over the token stream: memory bounded
 * by rows x widths whatever the text's size). The same token rows are kept
 * for every value, so a pass can pair a run's input with its output.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "exec/exec.h"
#include "exec/model.h"

struct calib_run {
	struct pn_calib *c;
	uint32_t cap;		/* reservoir rows */
	uint64_t rng;
	int fresh;		/* the next tap call is a new run: draw its slots */
	int32_t *slot;		/* [batch * T]: reservoir row of each token, or -1 */
	uint32_t slot_cap;
	uint32_t text0;		/* index of the batch's first text */
	int oom;
};

/* Algorithm R over the batch's valid tokens, in order. */
static void draw_slots(struct calib_run *r, uint32_t B, uint32_t T, const uint32_t *lens)
{
	struct pn_calib *c = r->c;

	if ((size_t)B * T > r->slot_cap) {
		free(r->slot);
		r->slot_cap = B * T;
		r->slot = malloc(r->slot_cap * sizeof(*r->slot));
		if (!r->slot) {
			r->slot_cap = 0;
			r->oom = 1;
			return;
		}
	}
	for (uint32_t b = 0; b < B; b++) {
		c->lens[r->text0 + b] = lens[b];
		for (uint32_t t = 0; t < T; t++) {
			int32_t s = -1;

			if (t < lens[b]) {
				uint64_t k = c->tokens++;

				if (k < r->cap)
					s = (int32_t)k;
				else if ((k = pn_rand_u64(&r->rng) % (k + 1)) < r->cap)
					s = (int32_t)k;
			}
			r->slot[(size_t)b * T + t] = s;
		}
	}
	if (c->n_sample < r->cap)
		c->n_sample = c->tokens < r->cap ? (uint32_t)c->tokens : r->cap;
}

/* One row per text: range over all of them, the first cap kept in order. */
static void seq_rows(struct calib_run *r, struct pn_calib_value *v, const float *data,
		     uint32_t B)
{
	for (uint32_t b = 0; b < B; b++) {
		const float *row = data + (size_t)b * v->width;

		for (uint32_t j = 0; j < v->width; j++) {
			if (row[j] < v->min)
				v->min = row[j];
			if (row[j] > v->max)
				v->max = row[j];
		}
		v->seen++;
		if (v->n_rows < r->cap)
			memcpy(v->sample + (size_t)v->n_rows++ * v->width, row,
			       v->width * sizeof(float));
	}
}

static void tap(void *arg, uint32_t value, const float *data, uint32_t rows, uint32_t width,
		uint32_t B, uint32_t T, const uint32_t *lens)
{
	struct calib_run *r = arg;
	struct pn_calib_value *v = NULL;

	for (uint32_t i = 0; i < r->c->n_values; i++)
		if (r->c->v[i].value == value)
			v = &r->c->v[i];
	if (r->fresh) {	/* first value of this run: count tokens, draw slots */
		r->fresh = 0;
		draw_slots(r, B, T, lens);
	}
	if (!v || r->oom)
		return;
	if (v->layout == PNB_LAYOUT_SEQ) {
		seq_rows(r, v, data, B);
		return;
	}
	if (rows != B * T)
		return;
	for (uint32_t b = 0; b < B; b++)
		for (uint32_t t = 0; t < lens[b]; t++) {
			const float *row = data + ((size_t)b * T + t) * width;
			int32_t s = r->slot[(size_t)b * T + t];

			for (uint32_t j = 0; j < width; j++) {
				if (row[j] < v->min)
					v->min = row[j];
				if (row[j] > v->max)
					v->max = row[j];
			}
			v->seen++;
			if (s >= 0)
				memcpy(v->sample + (size_t)s * width, row, width * sizeof(float));
		}
}

static int setup(const struct pn_model *m, const struct pn_textset *texts,
		 const uint32_t *values, uint32_t n_values, uint32_t cap,
		 struct pn_calib *c, struct pn_err *err)
{
	const struct pnb_file *f = &m->file;

	if (!texts->n)
		return pn_errf(err, -EINVAL, "calibration: no texts, expected at least one");
	c->v = calloc(n_values ? n_values : 1, sizeof(*c->v));
	c->lens = calloc(texts->n, sizeof(*c->lens));
	if (!c->v || !c->lens)
		return pn_errf(err, -ENOMEM, "calibration: out of memory");
	c->texts = texts->n;
	for (uint32_t i = 0; i < n_values; i++) {
		const struct pnb_value *pv;

		if (values[i] >= f->n_values)
			return pn_errf(err, -EINVAL, "calibration: value %u outside the file's %u",
				       values[i], f->n_values);
		pv = &f->values[values[i]];
		if (pv->dtype != PNB_DTYPE_F32 ||
		    (pv->layout != PNB_LAYOUT_TOKENS && pv->layout != PNB_LAYOUT_SEQ))
			return pn_errf(err, -EINVAL, "%s: value %u '%s': calibration needs an "
				       "F32 value with one row per token or per text", f->path,
				       values[i], pnb_str(f, pv->name));
		c->v[i].value = values[i];
		c->v[i].layout = pv->layout;
		c->v[i].width = pv->width;
		c->v[i].min = INFINITY;
		c->v[i].max = -INFINITY;
		c->v[i].sample = malloc((size_t)cap * pv->width * sizeof(float));
		if (!c->v[i].sample)
			return pn_errf(err, -ENOMEM, "calibration: out of memory for %u rows of "
				       "'%s'", cap, pnb_str(f, pv->name));
		c->n_values++;
	}
	return 0;
}

int pn_calib_run(const char *path, const struct pn_textset *texts,
		 const uint32_t *values, uint32_t n_values,
		 const struct pn_calib_opts *o, struct pn_calib *out,
		 struct pn_err *err)
{
	struct pn_calib_opts d = { 0 };
	struct pn_model *m = NULL;
	struct pn_cpu_model *cm = NULL;
	struct pn_exec *x = NULL;
	struct calib_run run = { .c = out };
	uint32_t batch;
	float *emb = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!o)
		o = &d;
	run.cap = o->rows ? o->rows : 4096;
	run.rng = o->seed ^ 0x5eedca1b;
	batch = o->batch ? o->batch : 32;
	r = pn_model_open(path, &m, err);
	if (r)
		return r;
	r = setup(m, texts, values, n_values, run.cap, out, err);
	if (!r)
		r = pn_cpu_model_new(m, &cm, err);
	if (!r)
		r = pn_exec_new(cm, batch, m->max_tokens, NULL, &x, err);
	if (!r && !(emb = malloc((size_t)batch * m->out_width * sizeof(float))))
		r = pn_errf(err, -ENOMEM, "calibration: out of memory");
	if (!r)
		pn_exec_set_tap(x, tap, &run);
	for (uint32_t i = 0; !r && i < texts->n; i += batch) {
		uint32_t nb = texts->n - i < batch ? texts->n - i : batch;

		run.fresh = 1;
		run.text0 = i;
		r = pn_exec_texts(x, (const char *const *)texts->text + i, texts->len + i, nb,
				  emb, NULL, NULL, err);
		if (r) {
			char inner[sizeof(err->msg)];

			if (err) {
				memcpy(inner, err->msg, sizeof(inner));
				pn_errf(err, r, "calibration text %u: %s", i, inner);
			}
			break;
		}
		if (run.oom)
			r = pn_errf(err, -ENOMEM, "calibration: out of memory");
		if (o->progress)
			o->progress(o->progress_arg, i + nb, texts->n);
	}
	for (uint32_t i = 0; !r && i < out->n_values; i++)
		if (out->v[i].layout == PNB_LAYOUT_TOKENS)
			out->v[i].n_rows = out->n_sample;
	if (!r && out->tokens < 2)
		r = pn_errf(err, -EINVAL, "calibration: %llu token(s) in %u text(s), expected "
			    "at least 2 to fit anything", (unsigned long long)out->tokens,
			    texts->n);
	free(emb);
	free(run.slot);
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(m);
	if (r)
		pn_calib_free(out);
	return r;
}

const struct pn_calib_value *pn_calib_find(const struct pn_calib *c, uint32_t v)
{
	for (uint32_t i = 0; i < c->n_values; i++)
		if (c->v[i].value == v)
			return &c->v[i];
	return NULL;
}

void pn_calib_free(struct pn_calib *c)
{
	for (uint32_t i = 0; c->v && i < c->n_values; i++)
		free(c->v[i].sample);
	free(c->v);
	free(c->lens);
	memset(c, 0, sizeof(*c));
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

double pn_quantile(const float *x, size_t n, double q)
{
	float *s;
	double pos, v;
	size_t i;

	if (!n)
		return NAN;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, x, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_float);
	pos = q <= 0 ? 0 : q >= 1 ? (double)(n - 1) : q * (double)(n - 1);
	i = (size_t)pos;
	v = i + 1 < n ? s[i] + (pos - (double)i) * (s[i + 1] - s[i]) : s[i];
	free(s);
	return v;
}
