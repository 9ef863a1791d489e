// SPDX-License-Identifier: MIT
/*
 * polyctl run MODEL.pnb|NAME --text-file F [--json] [--batch N] [--socket PATH]
 *
 * Embeds each line of F (or '-' for stdin) in process, or through polynetd
 * when MODEL is not an existing file (a loaded model's NAME or #ID) or when
 * --socket is given and a daemon answers there (a file is then loaded into
 * the daemon, shared by content hash). Through the daemon the text is
 * tokenized here with the model's own tokenizer (mapped read-only from the
 * daemon's region), batched exactly as in process, and run in the daemon:
 * the output is byte for byte the in-process output. Lines are split on
 * '\n' only; the text is the line's bytes exactly (a '\r' stays). Output:
 *   --json  one JSON object per input line, in order:
 *           {"ids":[...],"embedding":[...]}   (ids: the full tokenization,
 *           the model sees at most its max_tokens of them), or, for a line
 *           that cannot be embedded, {"line":N,"error":"..."}
 *   default a readable line per input and a latency summary: "N lines, N
 *           failed; batch up to B: latency per batch p50 X us, p99 X us,
 *           p99.9 X us, first X us" (first: the first batch's, which pays for
 *           whatever the runtime had not prepared).
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

#include <sys/stat.h>

#include "transport/client.h"
#include "exec/exec.h"
#include "polyctl.h"
#include "util/lines.h"
#include "transport/proto.h"
#include "util/stats.h"
#include "text/tokenizer.h"

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
	const char *model, *file, *socket;
	int json;
	uint32_t batch;
};

/* Through polynetd: the connection, the model, a session and its arena. */
struct remote {
	struct pn_client *c;
	struct pn_client_model *cm;
	struct pn_session *s;
	const struct pn_model *m;	/* the local view: tokenizer, header */
	uint32_t id;
	uint8_t *arena;
	uint64_t arena_size;
	uint64_t seq;
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

static void emit_error(const struct run_opts *o, const struct batch *b, uint32_t i,
		       const char *msg)
{
	fprintf(stderr, "polyctl run: %s:%llu: %s\n", o->file, (unsigned long long)b->lineno[i],
		msg);
	if (o->json) {
		printf("{\"line\":%llu,\"error\":", (unsigned long long)b->lineno[i]);
		print_json_string(stdout, msg, strlen(msg));
		printf("}\n");
	}
}

/*
 * Prints line i's result. Returns 1 when a result that was computed cannot
 * be given (a non-finite element: JSON has no word for it, and a NaN is no
 * embedding), so the caller counts the line as failed.
 */
static int emit(const struct run_opts *o, const struct batch *b, uint32_t i, uint32_t width)
{
	const float *e = b->out + (size_t)i * width;
	char msg[96];

	if (b->errmsg[i]) {
		emit_error(o, b, i, b->errmsg[i]);
		return 0;
	}
	for (uint32_t k = 0; k < width; k++) {
		if (!isfinite(e[k])) {
			snprintf(msg, sizeof(msg), "embedding element %u is %g, not a finite number",
				 k, e[k]);
			emit_error(o, b, i, msg);
			return 1;
		}
	}
	if (o->json) {
		printf("{\"ids\":[");
		for (size_t k = 0; k < b->n_ids[i]; k++)
			printf("%s%d", k ? "," : "", b->ids[i][k]);
		printf("],\"embedding\":[");
		for (uint32_t k = 0; k < width; k++)
			printf("%s%.9g", k ? "," : "", e[k]);
		printf("]}\n");
		return 0;
	}
	double norm = 0;

	for (uint32_t k = 0; k < width; k++)
		norm += (double)e[k] * e[k];
	printf("%6llu  %4zu tokens  |e| %.4f  [%+.4f %+.4f %+.4f %+.4f ...]  ",
	       (unsigned long long)b->lineno[i], b->n_ids[i], sqrt(norm),
	       e[0], e[1], e[2], e[3]);
	print_json_string(stdout, b->text[i], b->len[i] > 48 ? 48 : b->len[i]);
	printf("%s\n", b->len[i] > 48 ? "..." : "");
	return 0;
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

/* Tokenizes one text as pn_exec_texts does, with the message run prints. */
static int remote_encode(const struct pn_model *m, const char *text, size_t len,
			 int32_t **ids, size_t *n, struct pn_err *err)
{
	size_t cap = len + 2, need = 0;
	int r;

	for (;;) {
		*ids = malloc(cap * sizeof(int32_t));
		if (!*ids)
			return pn_errf(err, -ENOMEM, "out of memory");
		r = pn_tok_encode(m->tok, text, len, *ids, cap, &need, err);
		if (r != -ENOSPC)
			break;
		free(*ids);
		cap = need;
	}
	if (!r && !need)
		r = pn_errf(err, -EINVAL, "empty (no tokens), expected at least one character");
	if (r) {
		free(*ids);
		*ids = NULL;
		return r;
	}
	*n = need;
	return 0;
}

/* One job in the daemon: texts idx[0..n) of b, their rows into b->out. */
static int remote_job(struct remote *R, struct batch *b, const uint32_t *idx, uint32_t n,
		      uint32_t width, struct pn_err *err)
{
	uint32_t T = 0, maxt = R->m->max_tokens;
	uint64_t in_bytes, out_off, out_bytes = (uint64_t)n * width * sizeof(float);
	int32_t *ids = (int32_t *)R->arena;
	uint32_t *lens;
	struct pn_sqe q;
	struct pn_cqe cqe;
	int r;

	for (uint32_t k = 0; k < n; k++) {
		size_t l = b->n_ids[idx[k]] < maxt ? b->n_ids[idx[k]] : maxt;

		if (l > T)
			T = (uint32_t)l;
	}
	in_bytes = pn_run_in_bytes(n, T);
	out_off = (in_bytes + 63) & ~63ull;
	if (out_off + out_bytes > R->arena_size)
		return pn_errf(err, -ENOSPC, "batch of %u needs %llu arena bytes, the session "
			       "has %llu", n, (unsigned long long)(out_off + out_bytes),
			       (unsigned long long)R->arena_size);
	/* the input in the arena as the SQE describes it: ids [n, T] padded, lens [n] */
	memset(ids, 0, (size_t)n * T * sizeof(int32_t));
	lens = (uint32_t *)(ids + (size_t)n * T);
	for (uint32_t k = 0; k < n; k++) {
		lens[k] = b->n_ids[idx[k]] < maxt ? (uint32_t)b->n_ids[idx[k]] : maxt;
		memcpy(ids + (size_t)k * T, b->ids[idx[k]], lens[k] * sizeof(int32_t));
	}
	pn_sqe_run(&q, R->id, 0, n, T, out_off, (uint32_t)out_bytes, ++R->seq);
	r = pn_run(R->s, &q, PN_WAIT_SLEEP, &cqe);
	if (r)
		return pn_errf(err, r, "polynetd (%s): job of %u texts: %s",
			       pn_client_socket(R->c), n, pn_strerror(r));
	for (uint32_t k = 0; k < n; k++)
		memcpy(b->out + (size_t)idx[k] * width,
		       R->arena + out_off + (size_t)k * width * sizeof(float),
		       width * sizeof(float));
	return 0;
}

/*
 * embed_batch through the daemon, batched the same way: the whole batch as
 * one job when every text tokenizes, else each good text alone (so the
 * padding, and so every float, matches the in-process run). Returns the
 * number of failed texts, or -errno when the daemon failed.
 */
static int64_t remote_embed_batch(struct remote *R, struct batch *b, uint32_t width,
				  struct pn_stats *lat, struct pn_err *fatal)
{
	uint32_t idx[1024], n_ok = 0, failed = 0;
	double t0 = now_us();
	int r;

	for (uint32_t i = 0; i < b->n; i++) {
		b->errmsg[i] = NULL;
		if (remote_encode(R->m, b->text[i], b->len[i], &b->ids[i], &b->n_ids[i],
				  &b->errs[i])) {
			b->errmsg[i] = b->errs[i].msg;
			failed++;
		} else {
			idx[n_ok++] = i;
		}
	}
	if (!failed) {
		r = remote_job(R, b, idx, n_ok, width, fatal);
		if (!r)
			pn_stats_add(lat, now_us() - t0);
		return r ? r : 0;
	}
	for (uint32_t k = 0; k < n_ok; k++)
		if ((r = remote_job(R, b, &idx[k], 1, width, fatal)))
			return r;
	return failed;
}

/* Connects; a file is loaded (or found loaded by its hash), a name looked up. */
static int remote_open(const struct run_opts *o, bool is_file, struct remote *R,
		       struct pn_err *err)
{
	struct pn_model_desc d;
	char ref[16];
	int r;

	r = pn_connect(o->socket, &R->c, err);
	if (r)
		return r;
	if (is_file) {
		r = pn_client_load(R->c, o->model, 0, &d, err);
		if (r)
			return r;
		snprintf(ref, sizeof(ref), "#%u", d.id);
	}
	r = pn_client_model_open(R->c, is_file ? ref : o->model, &R->cm, err);
	if (r)
		return r;
	R->m = pn_client_model_local(R->cm);
	R->id = pn_client_model_desc(R->cm)->id;
	if (!R->m->tok)
		return pn_errf(err, -EINVAL, "%s: the model has no tokenizer", o->model);
	if (o->batch > pn_client_model_desc(R->cm)->max_batch)
		return pn_errf(err, -EINVAL, "--batch %u: polynetd runs at most %u texts per job",
			       o->batch, pn_client_model_desc(R->cm)->max_batch);
	r = pn_session_open(R->c, 4, 4, 4ull << 20, &R->s, err);
	if (r)
		return r;
	R->arena = pn_session_arena(R->s, &R->arena_size);
	return 0;
}

static void remote_close(struct remote *R)
{
	pn_session_close(R->s);
	pn_client_model_close(R->cm);
	pn_disconnect(R->c);
}

static int parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option lo[] = {
		{ "text-file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "batch", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->batch = 16;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:jb:s:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o->file = optarg; break;
		case 's': o->socket = optarg; break;
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
			printf("usage: polyctl run MODEL.pnb|NAME --text-file F [--json] "
			       "[--batch N] [--socket PATH]\n");
			exit(0);
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !o->file) {
		fprintf(stderr, "usage: polyctl run MODEL.pnb|NAME --text-file F "
			"[--json] [--batch N] [--socket PATH]\n");
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
	struct pn_model *own = NULL;
	const struct pn_model *m;
	struct pn_exec *x = NULL;
	struct pn_cpu_model *cm = NULL;
	struct remote R = { 0 };
	struct pn_err err;
	struct pn_stats lat = { 0 };
	struct batch b = { 0 };
	struct stat st;
	struct pn_lines in = { 0 };
	int got;
	uint64_t failed = 0, done = 0;
	bool is_file, remote;
	int r, rc = 1;

	if ((r = parse(argc, argv, &o)))
		return r;
	is_file = stat(o.model, &st) == 0 && S_ISREG(st.st_mode);
	/* a missing path (a '/' or .pnb in it) is an in-process error, not a name */
	remote = !is_file && !strchr(o.model, '/') &&
		 !(strlen(o.model) > 4 && !strcmp(o.model + strlen(o.model) - 4, ".pnb"));
	if (is_file && o.socket) {
		/* a file with --socket: through the daemon if one answers there */
		r = remote_open(&o, true, &R, &err);
		remote = r != -ENOENT && r != -ECONNREFUSED;
		if (!remote) {
			remote_close(&R);
			memset(&R, 0, sizeof(R));
		} else if (r) {
			polyctl_fail("run", "%s", err.msg);
			goto out;
		}
	} else if (remote && (r = remote_open(&o, false, &R, &err))) {
		polyctl_fail("run", "%s", err.msg);
		goto out;
	}
	if (remote) {
		m = R.m;
	} else {
		if (pn_model_open(o.model, &own, &err))
			return polyctl_fail("run", "%s", err.msg);
		m = own;
	}
	if (m->out_layout != PNB_LAYOUT_SEQ) {
		polyctl_fail("run", "%s: output is per token, expected one row "
			     "per sequence", o.model);
		goto out;
	}
	if (!remote && (pn_cpu_model_new(m, &cm, &err) ||
			pn_exec_new(cm, o.batch, m->max_tokens, NULL, &x, &err))) {
		polyctl_fail("run", "%s", err.msg);
		goto out;
	}
	if (pn_lines_open(&in, o.file, PN_LINE_MAX_DEFAULT, &err)) {
		polyctl_fail("run", "%s", err.msg);
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
		const char *text;
		char toolong[64];
		size_t len;

		got = pn_lines_next(&in, &text, &len, &err);
		if (got < 0 && got != -E2BIG) {
			/* a read error is never the end of the file: the lines after it are lost */
			polyctl_fail("run", "%s", err.msg);
			rc = 1;
			goto out;
		}
		if (!got) {
			b.text[b.n] = strndup(text, len);
			if (!b.text[b.n]) {
				polyctl_fail("run", "out of memory");
				goto out;
			}
			b.len[b.n] = len;
			b.lineno[b.n] = in.lineno;
			b.n++;
		}
		if (b.n == o.batch || (got && b.n)) {
			if (remote) {
				int64_t f = remote_embed_batch(&R, &b, m->out_width, &lat, &err);

				if (f < 0) {
					polyctl_fail("run", "%s", err.msg);
					goto out;
				}
				failed += (uint64_t)f;
			} else {
				failed += embed_batch(x, &b, m->out_width, &lat);
			}
			for (uint32_t i = 0; i < b.n; i++) {
				failed += (uint64_t)emit(&o, &b, i, m->out_width);
				free(b.text[i]);
				free(b.ids[i]);
				b.text[i] = NULL;
				b.ids[i] = NULL;
			}
			done += b.n;
			b.n = 0;
		}
		if (got == -E2BIG) {
			/* after the lines before it: the output stays in line order */
			b.lineno[0] = in.lineno;
			snprintf(toolong, sizeof(toolong), "line longer than %u bytes, skipped",
				 PN_LINE_MAX_DEFAULT);
			emit_error(&o, &b, 0, toolong);
			failed++;
			done++;
		} else if (got) {
			break;
		}
	}
	if (!o.json && lat.n) {
		double first = lat.v[0];	/* before pn_stats_pct sorts the samples */

		printf("\n%llu lines, %llu failed; batch up to %u: latency per "
		       "batch p50 %.0f us, p99 %.0f us, p99.9 %.0f us, first %.0f us\n",
		       (unsigned long long)done, (unsigned long long)failed,
		       o.batch, pn_stats_pct(&lat, 50), pn_stats_pct(&lat, 99),
		       pn_stats_pct(&lat, 99.9), first);
	}
	rc = failed ? 1 : 0;
	if (!done)
		rc = polyctl_fail("run", "%s: no lines", o.file);
out:
	pn_lines_close(&in);
	batch_free(&b, o.batch);
	pn_stats_free(&lat);
	pn_exec_free(x);
	pn_cpu_model_free(cm);
	pn_model_close(own);
	remote_close(&R);
	return rc;
}
