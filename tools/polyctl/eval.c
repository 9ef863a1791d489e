// SPDX-License-Identifier: MIT
/*
 * polyctl eval MODEL.pnb --train FILE --test FILE [--exact EXACT.pnb] [--json]
 *               [--lambda X] [--latency-n N]
 *
 * The accuracy of a compiled variant on real labelled text: a logistic
 * regression head is trained on EXACT's embeddings of the train set (MODEL's
 * without --exact), then applied to MODEL's embeddings of the test set.
 * Also: the cosine of MODEL's test embeddings to EXACT's (mean, worst),
 * neighbour agreement (recall@10: each test text's 10 nearest test texts
 * under MODEL against those under EXACT, lib/compile/knn.c), the exact
 * model's own test accuracy with the same head, and MODEL's p50/p90
 * latency at batch 1 (tokenize + run, one test text at a time).
 * FILE: a JSON list of {"text", "class": 0|1}; entries without a class are
 * skipped.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile/knn.h"
#include "compile/polyc.h"
#include "exec/exec.h"
#include "polyctl.h"

#define BATCH 32u
#define RECALL_K 10u	/* recall_at_10 */

static const char usage_text[] =
	"usage: polyctl eval MODEL.pnb --train FILE --test FILE [--exact EXACT.pnb] [--json]\n"
	"                    [--lambda X] [--latency-n N]\n"
	"  FILE          JSON list of {\"text\": ..., \"class\": 0|1} (no class: skipped)\n"
	"  --exact       the reference model: trains the head, and the cosines are against it\n"
	"  --lambda X    L2 strength of the logistic regression (1e-3)\n"
	"  --latency-n N test texts timed one at a time for p50 (200)\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "polyctl eval: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

/* Keeps only the labelled entries; an error when none is. */
static int labelled(const char *path, struct pn_textset *s, struct pn_err *err)
{
	uint32_t k = 0;
	int r = pn_textset_load(path, s, err);

	if (r)
		return r;
	for (uint32_t i = 0; i < s->n; i++) {
		if (s->label[i] < 0) {
			free(s->text[i]);
			continue;
		}
		s->text[k] = s->text[i];
		s->len[k] = s->len[i];
		s->label[k++] = s->label[i];
	}
	s->n = k;
	if (!k)
		return pn_errf(err, -EINVAL, "%s: no entry has a \"class\" (0 or 1), expected "
			       "labelled entries", path);
	return 0;
}

struct model {
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_exec *x, *x1;		/* batch 32, batch 1 */
};

static int model_open(const char *path, struct model *md, struct pn_err *err)
{
	int r = pn_model_open(path, &md->m, err);

	if (!r)
		r = pn_cpu_model_new(md->m, &md->cm, err);
	if (!r)
		r = pn_exec_new(md->cm, BATCH, md->m->max_tokens, NULL, &md->x, err);
	if (!r)
		r = pn_exec_new(md->cm, 1, md->m->max_tokens, NULL, &md->x1, err);
	if (!r && md->m->out_layout != PNB_LAYOUT_SEQ)
		r = pn_errf(err, -EINVAL, "%s: the output is per token, expected one "
			    "embedding per text", path);
	return r;
}

static void model_close(struct model *md)
{
	pn_exec_free(md->x);
	pn_exec_free(md->x1);
	pn_cpu_model_free(md->cm);
	pn_model_close(md->m);
}

static int embed(struct model *md, const struct pn_textset *s, float *out, const char *file,
		 struct pn_err *err)
{
	uint32_t w = md->m->out_width;

	for (uint32_t i = 0; i < s->n; i += BATCH) {
		uint32_t nb = s->n - i < BATCH ? s->n - i : BATCH;
		int r = pn_exec_texts(md->x, (const char *const *)s->text + i, s->len + i, nb,
				      out + (size_t)i * w, NULL, NULL, err);

		if (r) {
			char inner[sizeof(err->msg)];

			memcpy(inner, err->msg, sizeof(inner));
			return pn_errf(err, r, "%s: labelled entries %u..%u: %s", file, i,
				       i + nb - 1, inner);
		}
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p50 and p90 of batch-1 runs over the first n texts (after 10 warm-up runs). */
static int latency(struct model *md, const struct pn_textset *s, uint32_t n, double *p50,
		   double *p90, struct pn_err *err)
{
	double *t = malloc((n ? n : 1) * sizeof(*t));
	float *out = malloc(md->m->out_width * sizeof(float));
	int r = 0;

	if (!t || !out) {
		free(t);
		free(out);
		return pn_errf(err, -ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < 10 && !r; i++)
		r = pn_exec_texts(md->x1, (const char *const *)&s->text[i % s->n],
				  &s->len[i % s->n], 1, out, NULL, NULL, err);
	for (uint32_t i = 0; i < n && !r; i++) {
		double t0 = now_us();

		r = pn_exec_texts(md->x1, (const char *const *)&s->text[i % s->n],
				  &s->len[i % s->n], 1, out, NULL, NULL, err);
		t[i] = now_us() - t0;
	}
	if (!r) {
		qsort(t, n, sizeof(*t), cmp_double);
		*p50 = t[(n - 1) / 2];
		*p90 = t[(uint32_t)((n - 1) * 0.9)];
	}
	free(t);
	free(out);
	return r;
}

struct eval_out {
	double acc, exact_acc, mean_cos, min_cos, recall, p50, p90;
	uint32_t n_train, n_test, recall_k;
};

static double cosine(const float *a, const float *b, uint32_t d)
{
	double ab = 0, aa = 0, bb = 0;

	for (uint32_t j = 0; j < d; j++) {
		ab += (double)a[j] * b[j];
		aa += (double)a[j] * a[j];
		bb += (double)b[j] * b[j];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static double accuracy(const double *w, const float *E, const struct pn_textset *s, uint32_t d)
{
	uint32_t ok = 0;

	for (uint32_t i = 0; i < s->n; i++)
		ok += (pn_logreg_prob(w, E + (size_t)i * d, d) >= 0.5) == (s->label[i] == 1);
	return (double)ok / s->n;
}

static int run_eval(const char *model, const char *exact, const char *train, const char *test,
		    double lambda, uint32_t lat_n, struct eval_out *eo, struct pn_err *err)
{
	struct pn_textset tr = { 0 }, te = { 0 };
	struct model mm = { 0 }, me = { 0 };
	struct model *ref = exact ? &me : &mm;
	float *Etr = NULL, *Ete = NULL, *Eref = NULL;
	double *w = NULL;
	uint32_t d;
	int r;

	r = labelled(train, &tr, err);
	if (!r)
		r = labelled(test, &te, err);
	if (!r)
		r = model_open(model, &mm, err);
	if (!r && exact)
		r = model_open(exact, &me, err);
	if (r)
		goto out;
	d = mm.m->out_width;
	if (ref->m->out_width != d) {
		r = pn_errf(err, -EINVAL, "%s: embeddings of width %u, but %s's are %u", exact,
			    ref->m->out_width, model, d);
		goto out;
	}
	Etr = malloc((size_t)tr.n * d * sizeof(float));
	Ete = malloc((size_t)te.n * d * sizeof(float));
	Eref = malloc((size_t)te.n * d * sizeof(float));
	w = malloc((d + 1) * sizeof(*w));
	if (!Etr || !Ete || !Eref || !w) {
		r = pn_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = embed(ref, &tr, Etr, train, err);
	if (!r)
		r = embed(&mm, &te, Ete, test, err);
	if (!r)
		r = embed(ref, &te, Eref, test, err);
	if (!r)
		r = pn_logreg_fit(Etr, tr.label, tr.n, d, lambda, 0, w, err);
	if (r)
		goto out;
	eo->n_train = tr.n;
	eo->n_test = te.n;
	eo->acc = accuracy(w, Ete, &te, d);
	eo->exact_acc = accuracy(w, Eref, &te, d);
	eo->mean_cos = 0;
	eo->min_cos = 1;
	for (uint32_t i = 0; i < te.n; i++) {
		double c = cosine(Ete + (size_t)i * d, Eref + (size_t)i * d, d);

		eo->mean_cos += c / te.n;
		eo->min_cos = c < eo->min_cos ? c : eo->min_cos;
	}
	/* all test texts are each other's candidates: neighbours within the test set */
	r = pn_knn_recall(Eref, Ete, te.n, d, RECALL_K, &eo->recall, &eo->recall_k, err);
	if (!r)
		r = latency(&mm, &te, lat_n, &eo->p50, &eo->p90, err);
out:
	free(Etr);
	free(Ete);
	free(Eref);
	free(w);
	model_close(&mm);
	if (exact)
		model_close(&me);
	pn_textset_free(&tr);
	pn_textset_free(&te);
	return r;
}

int cmd_eval(int argc, char **argv)
{
	const char *model = NULL, *exact = NULL, *train = NULL, *test = NULL;
	const char *lam = NULL, *latn = NULL;
	struct pn_err err = { "" };
	struct eval_out eo = { 0 };
	double lambda = 1e-3;
	uint32_t lat_n = 200;
	int json = 0;
	char *end;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **val = !strcmp(a, "--train") ? &train : !strcmp(a, "--test") ? &test :
				   !strcmp(a, "--exact") ? &exact : !strcmp(a, "--lambda") ? &lam :
				   !strcmp(a, "--latency-n") ? &latn : NULL;

		if (val) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			*val = argv[++i];
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (model) {
			return usage_error("one model expected, got another: '%s'", a);
		} else {
			model = a;
		}
	}
	if (!model || !train || !test)
		return usage_error("%s", "MODEL.pnb, --train FILE and --test FILE are required");
	if (lam && (lambda = strtod(lam, &end), *end || end == lam || lambda < 0))
		return usage_error("bad --lambda '%s', expected a number >= 0", lam);
	if (latn && (lat_n = (uint32_t)strtoul(latn, &end, 10), *end || !lat_n))
		return usage_error("bad --latency-n '%s', expected a count >= 1", latn);
	if (run_eval(model, exact, train, test, lambda, lat_n, &eo, &err))
		return polyctl_fail("eval", "%s", err.msg);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *txt;

		cJSON_AddStringToObject(o, "model", model);
		cJSON_AddStringToObject(o, "exact", exact ? exact : model);
		cJSON_AddStringToObject(o, "train", train);
		cJSON_AddStringToObject(o, "test", test);
		cJSON_AddNumberToObject(o, "n_train", eo.n_train);
		cJSON_AddNumberToObject(o, "n_test", eo.n_test);
		cJSON_AddNumberToObject(o, "accuracy", eo.acc);
		cJSON_AddNumberToObject(o, "exact_accuracy", eo.exact_acc);
		cJSON_AddNumberToObject(o, "mean_cosine", eo.mean_cos);
		cJSON_AddNumberToObject(o, "min_cosine", eo.min_cos);
		cJSON_AddNumberToObject(o, "recall_at_10", eo.recall);
		cJSON_AddNumberToObject(o, "recall_k", eo.recall_k);
		cJSON_AddNumberToObject(o, "p50_us", eo.p50);
		cJSON_AddNumberToObject(o, "p90_us", eo.p90);
		txt = cJSON_PrintUnformatted(o);
		if (txt)
			puts(txt);
		free(txt);
		cJSON_Delete(o);
	}
	else
		printf("%s: accuracy %.4f on %u test texts (exact model %.4f; head trained on %u "
		       "%s embeddings); cosine to exact mean %.6f, min %.6f; recall@%u of "
		       "exact's nearest test texts %.4f; latency batch 1 p50 %.1f us, p90 %.1f us\n",
		       model, eo.acc, eo.n_test, eo.exact_acc, eo.n_train,
		       exact ? "exact" : "its own", eo.mean_cos, eo.min_cos, eo.recall_k, eo.recall,
		       eo.p50, eo.p90);
	return 0;
}
