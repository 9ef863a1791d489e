// SPDX-License-Identifier: MIT
/*
 * test_daemon_generate_client - the client processes of
 * tests/integration/test_daemon_generate.sh: generation through polynetd
 * (PN_OP_GENERATE) with the client library's streaming API. The script
 * builds it (no Makefile rule: cc against build/rel/libpolynet.a).
 *
 *   ref SOCK MODEL REF.json FIRST COUNT EVERY spin|sleep [START_FILE]
 *        prompts FIRST..FIRST+COUNT-1 of ref.json (their BOS-first "ids"), greedy,
 *        a token CQE per EVERY tokens: the tokens (and EOS, where the model
 *        ended) must be the reference's "greedy". With START_FILE: connect, say
 *        "ready", wait for the file to exist, then go (the script starts many at
 *        once). Prints "ok PROMPTS TOKENS".
 *   cancel SOCK MODEL AFTER
 *        a 500-token generation on a CQ of 8 (so the daemon runs at most a few
 *        tokens ahead), cancelled once AFTER tokens came (0: at once, before
 *        any): it must end -ECANCELED with the tokens sent, fewer than asked.
 *        Prints "cancelled tokens=N".
 *   hold SOCK MODEL N
 *        N generations (N <= 3) on a CQ of 4: reads one token CQE of each, says
 *        "holding N", then never reads again: they stall, their cache slots held,
 *        until the script kills it (kill -9).
 *   errors SOCK DECODER OTHER
 *        every refusal of docs/daemon.md "Generation", and a full CQ that
 *        pauses a generation without losing a token. One line per check.
 *
 * Exit 0 when the checked behaviour holds, 1 with one line on stderr when not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "transport/client.h"
#include "transport/proto.h"

#define FAIL(...) do { fprintf(stderr, "gen_client: " __VA_ARGS__); \
		       fputc('\n', stderr); exit(1); } while (0)

#define TIMEOUT_MS 20000	/* any one wait: a stuck daemon fails the test, never hangs it */

struct gc {
	struct pn_client *c;
	struct pn_client_model *m;
	struct pn_session *s;
	const struct pn_model_desc *d;
	uint64_t arena_size;
};

static void gc_open(struct gc *k, const char *sock, const char *model, uint32_t sq, uint32_t cq)
{
	struct pn_err e;

	if (pn_connect(sock, &k->c, &e) || pn_client_model_open(k->c, model, &k->m, &e) ||
	    pn_session_open(k->c, sq, cq, 1 << 20, &k->s, &e))
		FAIL("%s", e.msg);
	k->d = pn_client_model_desc(k->m);
	pn_session_arena(k->s, &k->arena_size);
	if (pn_session_ring_version(k->s) != 3)
		FAIL("session of ring version %u, expected 3", pn_session_ring_version(k->s));
}

static void gc_close(struct gc *k)
{
	pn_session_close(k->s);
	pn_client_model_close(k->m);
	pn_disconnect(k->c);
}

static uint32_t ints(const cJSON *a, int32_t *out, uint32_t cap)
{
	uint32_t n = 0;
	const cJSON *v;

	cJSON_ArrayForEach(v, a) {
		if (n == cap)
			FAIL("reference array longer than %u", cap);
		out[n++] = (int32_t)v->valuedouble;
	}
	return n;
}

static cJSON *read_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cJSON *doc;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		FAIL("%s: cannot read", path);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		FAIL("%s: cannot read", path);
	buf[n] = 0;
	fclose(f);
	doc = cJSON_Parse(buf);
	free(buf);
	if (!doc)
		FAIL("%s: not JSON", path);
	return doc;
}

static void wait_file(const char *path)
{
	for (int i = 0; i < 20000 && access(path, F_OK); i++)
		usleep(1000);
	if (access(path, F_OK))
		FAIL("%s never appeared", path);
}

static void ref(const char *sock, const char *model, const char *refpath, uint32_t first,
		uint32_t count, uint32_t every, const char *mode, const char *start)
{
	enum pn_wait_mode wm = !strcmp(mode, "spin") ? PN_WAIT_SPIN : PN_WAIT_SLEEP;
	cJSON *doc = read_json(refpath), *p;
	uint32_t idx = 0, done = 0;
	uint64_t tokens = 0;
	struct gc k;

	gc_open(&k, sock, model, 4, 64);
	if (start) {
		printf("ready\n");
		fflush(stdout);
		wait_file(start);
	}
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "prompts")) {
		int32_t ids[1024], want[256], got[256];
		uint32_t np, nw, n = 0;
		struct pn_gen_stream g;
		struct pn_gen_args a;
		const int32_t *t;
		struct pn_err e;
		int r;

		if (idx++ < first || done == count)
			continue;
		np = ints(cJSON_GetObjectItem(p, "ids"), ids, 1024);
		nw = ints(cJSON_GetObjectItem(p, "greedy"), want, 256);
		pn_gen_args_default(&a, nw);
		a.stream_every = every;
		if (pn_gen_stream_start(&g, k.s, k.d->id, &a, ids, np, 0, 65536, idx, &e))
			FAIL("prompt %u: %s", idx - 1, e.msg);
		while ((r = pn_gen_stream_next(&g, &t, wm, TIMEOUT_MS)) > 0) {
			if (n + (uint32_t)r > nw)
				FAIL("prompt %u: %u tokens, more than the %u asked", idx - 1,
				     n + r, nw);
			memcpy(got + n, t, (size_t)r * 4);
			n += (uint32_t)r;
			if ((uint32_t)r > (every ? every : nw))
				FAIL("prompt %u: a CQE of %d tokens, expected at most %u", idx - 1, r,
				     every);
		}
		if (r < 0)
			FAIL("prompt %u: wait: %s", idx - 1, pn_strerror(r));
		if (g.res)
			FAIL("prompt %u: ended %s", idx - 1, pn_strerror(g.res));
		if (g.eos)
			got[n++] = 2;	/* the reference lists the EOS that ended it */
		if (g.tokens + g.eos != n || n != nw || memcmp(got, want, n * 4)) {
			uint32_t i = 0;

			while (i < n && i < nw && got[i] == want[i])
				i++;
			FAIL("prompt %u '%s': token %u is %d, the reference's %d (%u tokens, %u "
			     "expected)", idx - 1, cJSON_GetObjectItem(p, "prompt")->valuestring, i,
			     i < n ? got[i] : -1, i < nw ? want[i] : -1, n, nw);
		}
		tokens += g.tokens;
		done++;
	}
	if (done != count)
		FAIL("%u prompts in %s from %u, expected %u", done, refpath, first, count);
	printf("ok %u %llu\n", done, (unsigned long long)tokens);
	cJSON_Delete(doc);
	gc_close(&k);
}

static const int32_t prompt5[] = { 1, 403, 407, 261, 378 };	/* "Once upon a time" */

static void cancel(const char *sock, const char *model, uint32_t after)
{
	struct pn_gen_stream g;
	struct pn_gen_args a;
	const int32_t *t;
	struct pn_err e;
	uint32_t n = 0, asked = 500;
	struct gc k;
	int r;

	gc_open(&k, sock, model, 4, 8);
	pn_gen_args_default(&a, asked);
	if (pn_gen_stream_start(&g, k.s, k.d->id, &a, prompt5, 5, 0, 65536, 7, &e))
		FAIL("%s", e.msg);
	if (!after && pn_gen_stream_cancel(&g))
		FAIL("cancel: submit failed");
	while ((r = pn_gen_stream_next(&g, &t, PN_WAIT_SLEEP, TIMEOUT_MS)) > 0) {
		n += (uint32_t)r;
		if (after && n >= after && pn_gen_stream_cancel(&g))
			FAIL("cancel: submit failed");
	}
	if (r < 0)
		FAIL("wait: %s", pn_strerror(r));
	if (g.res != -ECANCELED)
		FAIL("ended %s after %u tokens, expected -ECANCELED", pn_strerror(g.res), n);
	if (g.tokens != n || n < after || n >= asked)
		FAIL("cancelled: the last CQE says %u tokens sent, %u came, asked at %u of %u",
		     g.tokens, n, after, asked);
	if (g.cancel_res)
		FAIL("the cancel's own CQE: %s, expected 0", pn_strerror(g.cancel_res));
	printf("cancelled tokens=%u\n", n);
	gc_close(&k);
}

static void hold(const char *sock, const char *model, uint32_t n)
{
	bool seen[3] = { false };
	uint32_t started = 0;
	struct gc k;

	if (n < 1 || n > 3)
		FAIL("hold: 1..3 generations");
	gc_open(&k, sock, model, 4, 4);
	for (uint32_t i = 0; i < n; i++) {
		struct pn_gen_args a;
		struct pn_sqe q;
		struct pn_err e;

		pn_gen_args_default(&a, 500);
		if (pn_gen_prep(k.s, &q, k.d->id, &a, prompt5, 5, i * 4096, 65536 + i * 4096, i,
				&e) || pn_submit(k.s, &q))
			FAIL("hold: submit %u", i);
	}
	while (started < n) {
		struct pn_cqe c;
		int r = pn_wait(k.s, &c, PN_WAIT_SLEEP, TIMEOUT_MS);

		if (r)
			FAIL("hold: wait: %s", pn_strerror(r));
		if (!pn_cqe_gen_more(&c) || c.user_data >= n)
			FAIL("hold: job %llu ended %s", (unsigned long long)c.user_data,
			     pn_strerror(c.res));
		if (!seen[c.user_data]) {
			seen[c.user_data] = true;
			started++;
		}
	}
	printf("holding %u\n", n);
	fflush(stdout);
	for (;;)
		pause();	/* never reaps again: the daemon stalls them until we die */
}

/* One generation's last CQE (token CQEs read and dropped). */
static struct pn_cqe run_one(struct gc *k, const struct pn_sqe *q)
{
	struct pn_cqe c;
	int r;

	if ((r = pn_submit(k->s, q)))
		FAIL("submit: %s", pn_strerror(r));
	do {
		if ((r = pn_wait(k->s, &c, PN_WAIT_SLEEP, TIMEOUT_MS)))
			FAIL("wait: %s", pn_strerror(r));
		if (c.user_data != q->user_data)
			FAIL("a CQE of job %llu, expected %llu", (unsigned long long)c.user_data,
			     (unsigned long long)q->user_data);
	} while (pn_cqe_gen_more(&c));
	return c;
}

static void expect(struct gc *k, const char *what, const struct pn_sqe *q, int want)
{
	struct pn_cqe c = run_one(k, q);

	if (c.res != want)
		FAIL("%s: %s, expected %s", what, pn_strerror(c.res), pn_strerror(want));
	if (!(c.flags & PN_CQE_F_GEN) || c.gen.tokens || c.gen.token != -1)
		FAIL("%s: the CQE does not say 0 tokens (flags 0x%x, tokens %u, token %d)", what,
		     c.flags, c.gen.tokens, c.gen.token);
	printf("%s: %s ok\n", what, pn_strerror(want));
}

/* A fresh request on the 5-token prompt; the caller changes one thing. */
static void prep(struct gc *k, struct pn_sqe *q, struct pn_gen_args *a, const int32_t *ids,
		 uint32_t T, uint64_t ud)
{
	struct pn_err e;

	if (pn_gen_prep(k->s, q, k->d->id, a, ids, T, 0, 65536, ud, &e))
		FAIL("%s", e.msg);
}

/* A full CQ pauses the job (back-pressure): every token still arrives, in order. */
static void full_cq(const char *sock, const char *model)
{
	struct gc k;
	struct pn_gen_args a;
	struct pn_sqe q;
	struct pn_cqe c;
	uint32_t n = 0, cqes = 0, N = 300;
	int32_t first[300];
	int r;

	gc_open(&k, sock, model, 4, 8);
	pn_gen_args_default(&a, N);
	prep(&k, &q, &a, prompt5, 5, 1);
	if (pn_submit(k.s, &q))
		FAIL("full CQ: submit");
	usleep(100000);		/* the daemon fills the CQ and stalls the job */
	for (;;) {
		uint32_t m;
		const int32_t *t;

		if ((r = pn_wait(k.s, &c, PN_WAIT_SLEEP, TIMEOUT_MS)))
			FAIL("full CQ: wait: %s", pn_strerror(r));
		if (!pn_cqe_gen_more(&c))
			break;
		t = pn_gen_cqe_ids(k.s, &c, 65536, &m);
		if (!t || m != 1 || c.gen.tokens != n + 1 || c.gen.token != t[0])
			FAIL("full CQ: token CQE %u says %u tokens, expected %u", cqes, c.gen.tokens,
			     n + 1);
		first[n++] = t[0];
		cqes++;
	}
	if (c.res || c.gen.tokens != N || n != N)
		FAIL("full CQ: ended %s with %u tokens (%u came), expected 0 and %u",
		     pn_strerror(c.res), c.gen.tokens, n, N);
	/* the same job unstalled gives the same tokens (greedy) */
	prep(&k, &q, &a, prompt5, 5, 2);
	c = run_one(&k, &q);
	if (c.res || memcmp(first, (int32_t *)((uint8_t *)pn_session_arena(k.s, NULL) + 65536),
			    sizeof(first)))
		FAIL("full CQ: the paused job's tokens differ from an unpaused run's");
	printf("full CQ: %u tokens in %u CQEs, none lost ok\n", n, cqes);
	gc_close(&k);
}

/* A session streams at most cq_entries - 1 generations: the next is -ENOBUFS. */
static void enobufs(const char *sock, const char *model)
{
	struct gc k;
	struct pn_gen_args a;
	struct pn_sqe q;
	struct pn_cqe c;
	uint32_t ended = 0;
	bool refused = false;
	int r;

	gc_open(&k, sock, model, 4, 4);
	pn_gen_args_default(&a, 500);
	for (uint32_t i = 0; i < 3; i++) {
		struct pn_err e;

		if (pn_gen_prep(k.s, &q, k.d->id, &a, prompt5, 5, i * 4096, 65536 + i * 4096,
				10 + i, &e) || pn_submit(k.s, &q))
			FAIL("ENOBUFS: submit %u", i);
	}
	prep(&k, &q, &a, prompt5, 5, 99);
	q.in_off = 3 * 4096;
	memcpy((uint8_t *)pn_session_arena(k.s, NULL) + q.in_off, &a, sizeof(a));
	memcpy((uint8_t *)pn_session_arena(k.s, NULL) + q.in_off + sizeof(a), prompt5,
	       sizeof(prompt5));
	while ((r = pn_submit(k.s, &q)) == -EAGAIN)
		usleep(100);	/* the SQ of 4 holds the three: the daemon drains them */
	if (r)
		FAIL("ENOBUFS: submit the fourth: %s", pn_strerror(r));
	/* the fourth's refusal, three cancels' CQEs and three -ECANCELED ends; the
	 * CQ is full of token CQEs, so the cancels go in as it is reaped */
	for (uint32_t cancels = 0; ended < 3 || !refused;) {
		while (cancels < 3 && !(r = pn_cancel(k.s, 10 + cancels, 20 + cancels)))
			cancels++;
		if (cancels < 3 && r != -EAGAIN)
			FAIL("ENOBUFS: cancel: %s", pn_strerror(r));
		if ((r = pn_wait(k.s, &c, PN_WAIT_SLEEP, TIMEOUT_MS)))
			FAIL("ENOBUFS: wait: %s", pn_strerror(r));
		if (c.user_data == 99) {
			if (c.res != -ENOBUFS)
				FAIL("ENOBUFS: the fourth generation: %s, expected %s",
				     pn_strerror(c.res), pn_strerror(-ENOBUFS));
			refused = true;
		} else if (c.user_data >= 10 && c.user_data < 13 && !pn_cqe_gen_more(&c)) {
			if (c.res != -ECANCELED)
				FAIL("ENOBUFS: generation %llu ended %s", (unsigned long long)c.user_data,
				     pn_strerror(c.res));
			ended++;
		}
	}
	printf("4th stream on a CQ of 4: %s ok\n", pn_strerror(-ENOBUFS));
	gc_close(&k);
}

static void errors(const char *sock, const char *decoder, const char *other)
{
	struct gc k, o;
	struct pn_gen_args a;
	struct pn_sqe q;
	int32_t *ids;
	uint32_t ctx;

	gc_open(&k, sock, decoder, 4, 16);
	ctx = k.d->max_tokens;
	if (!(k.d->flags & PN_MODEL_F_DECODER))
		FAIL("MODEL_INFO of %s: no PN_MODEL_F_DECODER", decoder);
	ids = calloc(ctx + 1, sizeof(int32_t));
	for (uint32_t i = 0; i <= ctx; i++)
		ids[i] = 1 + (int32_t)(i % 300);
	pn_gen_args_default(&a, 1);
	prep(&k, &q, &a, ids, ctx, 1);
	expect(&k, "prompt of the whole context", &q, -E2BIG);
	pn_gen_args_default(&a, 0);
	prep(&k, &q, &a, prompt5, 5, 2);
	expect(&k, "max_tokens 0", &q, -ERANGE);
	pn_gen_args_default(&a, ctx - 5 + 1);
	prep(&k, &q, &a, prompt5, 5, 3);
	expect(&k, "max_tokens past the context", &q, -ERANGE);
	pn_gen_args_default(&a, 4);
	prep(&k, &q, &a, prompt5, 5, 4);
	q.prio = PN_PRIO_REALTIME;
	expect(&k, "realtime class", &q, -EINVAL);
	a.temperature = -1;
	prep(&k, &q, &a, prompt5, 5, 5);
	expect(&k, "temperature -1", &q, -EINVAL);
	pn_gen_args_default(&a, 4);
	ids[0] = 1;
	ids[1] = (int32_t)k.d->vocab;
	prep(&k, &q, &a, ids, 2, 6);
	expect(&k, "prompt id past the vocabulary", &q, -EINVAL);
	prep(&k, &q, &a, prompt5, 5, 7);
	q.model = 99999;
	expect(&k, "no such model", &q, -ENOENT);
	gc_open(&o, sock, other, 4, 16);
	if (o.d->flags & PN_MODEL_F_DECODER)
		FAIL("MODEL_INFO of %s: PN_MODEL_F_DECODER on an encoder", other);
	prep(&k, &q, &a, prompt5, 5, 8);
	q.model = o.d->id;
	expect(&k, "not a decoder", &q, -ENOEXEC);
	gc_close(&o);
	gc_close(&k);
	free(ids);
	enobufs(sock, decoder);
	full_cq(sock, decoder);
}

int main(int argc, char **argv)
{
	if ((argc == 9 || argc == 10) && !strcmp(argv[1], "ref"))
		ref(argv[2], argv[3], argv[4], (uint32_t)atoi(argv[5]), (uint32_t)atoi(argv[6]),
		    (uint32_t)atoi(argv[7]), argv[8], argc == 10 ? argv[9] : NULL);
	else if (argc == 5 && !strcmp(argv[1], "cancel"))
		cancel(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 5 && !strcmp(argv[1], "hold"))
		hold(argv[2], argv[3], (uint32_t)atoi(argv[4]));
	else if (argc == 5 && !strcmp(argv[1], "errors"))
		errors(argv[2], argv[3], argv[4]);
	else
		FAIL("usage: see the top of tests/integration/test_daemon_generate_client.c");
	return 0;
}
