// SPDX-License-Identifier: MIT
/*
 * generate.c - polyctl generate M.pnb --prompt-file F [--max-tokens N]
 *              [--temperature T] [--top-p P] [--seed S] [--json]
 *
 * Continues each line of F (one prompt per line) with the decoder M,
 * in process, one session at a time. Text: each continuation on one line
 * of stdout as it is generated (newlines in it written \n, backslashes
 * \\), then a latency summary on stderr. --json: one object per prompt
 * and a last summary object, one per line (docs/generate.md). A prompt
 * that does not fit the context, or is not UTF-8, fails naming its line
 * and nothing of it is generated; the other prompts still run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "exec/exec.h"
#include "exec/model.h"
#include "gen/gen.h"
#include "gen/sample.h"
#include "text/tok_bpe.h"
#include "util/lines.h"
#include "generate.h"
#include "polyctl.h"

static const char usage_text[] =
	"usage: polyctl generate M.pnb --prompt-file F [--max-tokens N] [--temperature T]\n"
	"                        [--top-p P] [--seed S] [--json] [--socket PATH | --daemon]\n"
	"  --socket PATH     through polynetd there (--daemon: the default socket), the same\n"
	"                    output (its options: polyctl generate --daemon --help)\n"
	"  --prompt-file F   one prompt per line (- for stdin)\n"
	"  --max-tokens N    tokens to generate per prompt, 1..context-1 (default 64); fewer\n"
	"                    at EOS or where the context ends\n"
	"  --temperature T   0 greedy (default), else softmax(logits / T) sampling\n"
	"  --top-p P         keep the most probable tokens up to mass P, 0 < P <= 1 (default 1)\n"
	"  --seed S          the sampler's seed (default 0): a run repeats exactly\n"
	"  --json            one JSON object per prompt, then a summary object\n";

struct run {
	const struct gen_opts *o;
	struct pn_model *m;
	struct pn_cpu_model *cm;
	struct pn_gen *g;
	float *logits;
	void *scratch;
	int32_t *ids;			/* prompt then continuation, context long */
	struct gen_out out;
};

/* One prompt: prefill, then sample and step until EOS, N tokens or the context's end. */
static int generate(struct run *R, uint64_t lineno, const char *text, size_t len,
		    struct pn_sampler *smp, struct pn_err *err)
{
	uint32_t ctx = pn_gen_max_len(R->g), V = pn_gen_vocab(R->g), n_out = 0, slot = 0;
	const char *stop = "length";
	double t0 = gen_now_us(), t;
	size_t np;
	int32_t id;
	int r;

	r = gen_encode(R->m->bpe, R->o, lineno, text, len, R->ids, ctx, &np, err);
	if (r)
		return r;
	r = pn_gen_prefill(R->g, slot, R->ids, (uint32_t)np, R->logits, err);
	gen_begin(&R->out, lineno, text, R->ids, np);
	while (!r) {
		id = pn_sample(smp, R->logits, V, R->scratch);
		t = gen_now_us();
		gen_time(&R->out, t - t0);
		t0 = t;
		if (id == PN_BPE_EOS) {
			stop = "eos";
			break;
		}
		R->ids[np + n_out++] = id;
		if ((r = gen_token(&R->out, id, err)))
			break;
		if (n_out == (uint32_t)R->o->max_tokens)
			break;
		if (np + n_out >= ctx) {
			stop = "context";
			break;
		}
		r = pn_gen_step(R->g, 1, &slot, &id, R->logits, err);
	}
	gen_end(&R->out, stop, !r);
	return r;
}

static int open_run(struct run *R, struct pn_err *err)
{
	uint32_t ctx;
	int r;

	r = pn_model_open(R->o->model, &R->m, err);
	if (!r && !R->m->bpe)
		r = pn_errf(err, -EINVAL, "%s: no Llama tokenizer: not a decoder model",
			    R->o->model);
	if (!r)
		r = pn_cpu_model_new(R->m, &R->cm, err);
	if (!r)
		r = pn_gen_new(R->cm, 1, R->m->max_tokens, NULL, &R->g, err);
	if (r)
		return r;
	ctx = pn_gen_max_len(R->g);
	if (R->o->max_tokens < 1 || R->o->max_tokens >= ctx)
		return pn_errf(err, -EINVAL, "--max-tokens %ld: expected 1..%u (the model's "
			       "context of %u, less one prompt token)", R->o->max_tokens,
			       ctx - 1, ctx);
	R->logits = malloc((size_t)pn_gen_vocab(R->g) * sizeof(float));
	R->scratch = malloc(pn_sample_scratch(pn_gen_vocab(R->g)));
	R->ids = malloc((size_t)ctx * sizeof(int32_t));
	if (!R->logits || !R->scratch || !R->ids)
		return pn_errf(err, -ENOMEM, "out of memory");
	return gen_out_init(&R->out, R->o, R->m->bpe, err);
}

static void close_run(struct run *R)
{
	pn_gen_free(R->g);
	pn_cpu_model_free(R->cm);
	pn_model_close(R->m);
	free(R->logits);
	free(R->scratch);
	free(R->ids);
	gen_out_free(&R->out);
}

int cmd_generate(int argc, char **argv)
{
	struct gen_opts o;
	struct run R = { .o = &o };
	struct pn_err err = { "" };
	struct pn_sampler smp;
	struct pn_lines L;
	uint64_t prompts = 0, failed = 0;
	const char *line;
	size_t len;
	int r, status = 0;

	/* through the daemon: the same verb, generate_daemon.c */
	if (polyctl_generate_daemon_args(argc, argv))
		return cmd_generate_daemon(argc, argv);
	if ((r = gen_parse(argc, argv, &o, usage_text, 0)) >= 0)
		return r;
	if (pn_sampler_init(&smp, (float)o.temperature, (float)o.top_p, o.seed, &err))
		return gen_usage_error(usage_text, "%s", err.msg);
	if (open_run(&R, &err) || pn_lines_open(&L, o.prompts, PN_LINE_MAX_DEFAULT, &err)) {
		close_run(&R);
		return polyctl_fail("generate", "%s", err.msg);
	}
	while ((r = pn_lines_next(&L, &line, &len, &err)) != 1) {
		prompts++;
		/* each prompt samples from the seed afresh: its output does not
		 * depend on the prompts before it */
		pn_sampler_init(&smp, (float)o.temperature, (float)o.top_p, o.seed, &err);
		if (r == 0)
			r = generate(&R, L.lineno, line, len, &smp, &err);
		if (r) {
			failed++;
			status = 1;
			polyctl_fail("generate", "%s", err.msg);
			if (r != -E2BIG && r != -ENOSPC && r != -EILSEQ)
				break;	/* a read error: nothing more to read */
		}
	}
	pn_lines_close(&L);
	if (prompts)
		gen_summary(&R.out, prompts, failed);
	close_run(&R);
	return status;
}
