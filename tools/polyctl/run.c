// SPDX-License-Identifier: MIT
/*
 * polyctl run MODEL.pnb --text-file F [--json] [--batch N]
 *
 * Embeds each line of F (or '-' for stdin) in process. Lines are split on
 * '\n' only; the text is the line's bytes exactly (a '\r' stays). Output:
 *   --json  one JSON object per input line, in order:
 *           {"ids":[...],"embedding":[...]}   (ids: the full tokenization,
 *           the model sees at most its max_tokens of them), or, for a line
 *           that cannot be embedded, {"line":N,"error":"..."}
 *   default a readable line per input and a latency summary.
 * A bad line (empty, invalid UTF-8) is reported on stderr with its line
 * number; the other lines are still embedded; the exit status is then 1.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "polyctl.h"
#include "stats.h"

struct batch {
	char **text;
	size_t *len;
	uint64_t *lineno;
	uint32_t n;
	int32_t **ids;
	size_t *n_ids;
	float *out;
	const char **errmsg;	/* per text, NULL when embedded */
	struct pn_err *errs;
};

struct run_opts {
	const char *model, *file;
	int json;
	uint32_t batch;
};

static void print_json_string(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void emit(const struct run_opts *o, const struct batch *b, uint32_t i,
		 uint32_t width)
{
	const float *e = b->out + (size_t)i * width;

	if (b->errmsg[i]) {
		fprintf(stderr, "polyctl run: %s:%llu: %s\n", o->file,
			(unsigned long long)b->lineno[i], b->errmsg[i]);
		if (o->json) {
			printf("{\"line\":%llu,\"error\":",
			       (unsigned long long)b->lineno[i]);
			print_json_string(stdout, b->errmsg[i], strlen(b->errmsg[i]));
			printf("}\n");
		}
		return;
	}
	if (o->json) {
		printf("{\"ids\":[");
		for (size_t k = 0; k < b->n_ids[i]; k++)
			printf("%s%d", k ? "," : "", b->ids[i][k]);
		printf("],\"embedding\":[");
		for (uint32_t k = 0; k < width; k++)
			printf("%s%.9g", k ? "," : "", e[k]);
		printf("]}\n");
		return;
	}
	double norm = 0;

	for (uint32_t k = 0; k < width; k++)
		norm += (double)e[k] * e[k];
	printf("%6llu  %4zu tokens  |e| %.4f  [%+.4f %+.4f %+.4f %+.4f ...]  ",
	       (unsigned long long)b->lineno[i], b->n_ids[i], sqrt(norm),
	       e[0], e[1], e[2], e[3]);
	print_json_string(stdout, b->text[i], b->len[i] > 48 ? 48 : b->len[i]);
	printf("%s\n", b->len[i] > 48 ? "..." : "");
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Embeds the batch; when it fails as a whole, retries each text alone so
 * one bad line costs only itself. Returns the number of failed texts. */
static uint32_t embed_batch(struct pn_exec *x, struct batch *b, uint32_t width,
			    struct pn_stats *lat)
{
	struct pn_err err;
	uint32_t failed = 0;
	double t0 = now_us();
	int r;

	r = pn_exec_texts(x, (const char *const *)b->text, b->len, b->n, b->out,
			  b->ids, b->n_ids, &err);
	if (!r) {
		pn_stats_add(lat, now_us() - t0);
		for (uint32_t i = 0; i < b->n; i++)
			b->errmsg[i] = NULL;
		return 0;
	}
	for (uint32_t i = 0; i < b->n; i++) {
		r = pn_exec_texts(x, (const char *const *)&b->text[i], &b->len[i],
				  1, b->out + (size_t)i * width, &b->ids[i],
				  &b->n_ids[i], &b->errs[i]);
		b->errmsg[i] = NULL;
		if (r) {
			char *colon = strstr(b->errs[i].msg, ": ");

			/* "text 0: ..." -> the part after the index */
			b->errmsg[i] = colon && !strncmp(b->errs[i].msg, "text ", 5) ?
				       colon + 2 : b->errs[i].msg;
			b->ids[i] = NULL;
			failed++;
		}
	}
	return failed;
}

static int parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option lo[] = {
		{ "text-file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "batch", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->batch = 16;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:jb:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->file = optarg; break;
		case 'j': o->json = 1; break;
		case 'b': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v < 1 || v > 1024)
				return polyctl_fail("run", "--batch %s: expected "
						    "1..1024", optarg) + 1;
			o->batch = (uint32_t)v;
			break;
		}
		case 'h':
			printf("usage: polyctl run MODEL.pnb --text-file F [--json] "
			       "[--batch N]\n");
			exit(0);
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !o->file) {
		fprintf(stderr, "usage: polyctl run MODEL.pnb --text-file F "
			"[--json] [--batch N]\n");
		return 2;
	}
	o->model = argv[optind];
	return 0;
}

static void batch_free(struct batch *b, uint32_t cap)
{
	for (uint32_t i = 0; i < cap; i++) {
		if (b->text)
			free(b->text[i]);
		if (b->ids)
			free(b->ids[i]);
	}
	free(b->text); free(b->len); free(b->lineno); free(b->ids);
	free(b->n_ids); free(b->out); free(b->errmsg); free(b->errs);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct pn_model *m = NULL;
	struct pn_exec *x = NULL;
	struct pn_err err;
	struct pn_stats lat = { 0 };
	struct batch b = { 0 };
	FILE *in = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	uint64_t lineno = 0, failed = 0, done = 0;
	int r, rc = 1;

	if ((r = parse(argc, argv, &o)))
		return r;
	if (pn_model_open(o.model, &m, &err))
		return polyctl_fail("run", "%s", err.msg);
	if (m->out_layout != PNB_LAYOUT_SEQ) {
		polyctl_fail("run", "%s: output is per token, expected one row "
			     "per sequence", o.model);
		goto out;
	}
	if (pn_exec_new(m, o.batch, m->max_tokens, NULL, &x, &err)) {
		polyctl_fail("run", "%s", err.msg);
		goto out;
	}
	in = strcmp(o.file, "-") ? fopen(o.file, "rb") : stdin;
	if (!in) {
		polyctl_fail("run", "%s: %s", o.file, strerror(errno));
		goto out;
	}
	b.text = calloc(o.batch, sizeof(*b.text));
	b.len = calloc(o.batch, sizeof(*b.len));
	b.lineno = calloc(o.batch, sizeof(*b.lineno));
	b.ids = calloc(o.batch, sizeof(*b.ids));
	b.n_ids = calloc(o.batch, sizeof(*b.n_ids));
	b.errmsg = calloc(o.batch, sizeof(*b.errmsg));
	b.errs = calloc(o.batch, sizeof(*b.errs));
	b.out = calloc((size_t)o.batch * m->out_width, sizeof(float));
	if (!b.text || !b.len || !b.lineno || !b.ids || !b.n_ids || !b.errmsg ||
	    !b.errs || !b.out || pn_stats_init(&lat, 1024)) {
		polyctl_fail("run", "out of memory");
		goto out;
	}
	for (;;) {
		got = getline(&line, &cap, in);
		if (got >= 0) {
			if (got > 0 && line[got - 1] == '\n')
				line[--got] = '\0';
			lineno++;
			b.text[b.n] = line;
			b.len[b.n] = (size_t)got;
			b.lineno[b.n] = lineno;
			b.n++;
			line = NULL;
			cap = 0;
		}
		if (b.n == o.batch || (got < 0 && b.n)) {
			failed += embed_batch(x, &b, m->out_width, &lat);
			for (uint32_t i = 0; i < b.n; i++) {
				emit(&o, &b, i, m->out_width);
				free(b.text[i]);
				free(b.ids[i]);
				b.text[i] = NULL;
				b.ids[i] = NULL;
			}
			done += b.n;
			b.n = 0;
		}
		if (got < 0)
			break;
	}
	if (ferror(in)) {
		polyctl_fail("run", "%s: read error after line %llu", o.file,
			     (unsigned long long)lineno);
		goto out;
	}
	if (!o.json && lat.n) {
		printf("\n%llu lines, %llu failed; batch up to %u: latency per "
		       "batch p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n",
		       (unsigned long long)done, (unsigned long long)failed,
		       o.batch, pn_stats_pct(&lat, 50), pn_stats_pct(&lat, 99),
		       pn_stats_pct(&lat, 99.9));
	}
	rc = failed ? 1 : 0;
	if (!done)
		rc = polyctl_fail("run", "%s: no lines", o.file);
out:
	if (in && in != stdin)
		fclose(in);
	free(line);
	batch_free(&b, o.batch);
	pn_stats_free(&lat);
	pn_exec_free(x);
	pn_model_close(m);
	return rc;
}
