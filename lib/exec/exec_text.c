// SPDX-License-Identifier: MIT
/*
 * exec_text.c - texts in, embeddings out: tokenize, clip to the model's
 * max_tokens (as the USE graph's ClipToMaxLength does), pad, run.
 * A convenience for the CLI and tests; the daemon's hot path takes ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "exec/model.h"
#include "text/tok_bpe.h"
#include "text/tokenizer.h"

/* Tokenize one text into a fresh malloc'd array: the encoder's unigram,
 * or a decoder's BPE (BOS first). */
static int encode(const struct pn_model *m, const char *text, size_t len,
		  uint32_t index, int32_t **ids, size_t *n, struct pn_err *err)
{
	size_t cap = len + 2, need = 0;
	int r;

	for (;;) {
		*ids = malloc(cap * sizeof(int32_t));
		if (!*ids)
			return pn_errf(err, -ENOMEM, "out of memory");
		r = m->bpe ? pn_bpe_encode(m->bpe, text, len, *ids, cap, &need, err) :
			     pn_tok_encode(m->tok, text, len, *ids, cap, &need, err);
		if (r != -ENOSPC)
			break;
		free(*ids);
		cap = need;
	}
	if (r) {
		free(*ids);
		*ids = NULL;
		if (err) {
			char inner[sizeof(err->msg)];

			memcpy(inner, err->msg, sizeof(inner));
			pn_errf(err, r, "text %u: %s", index, inner);
		}
		return r;
	}
	if (need == 0) {
		free(*ids);
		*ids = NULL;
		return pn_errf(err, -EINVAL, "text %u: empty (no tokens), "
			       "expected at least one character", index);
	}
	*n = need;
	return 0;
}

int pn_exec_texts(struct pn_exec *x, const char *const *texts,
		  const size_t *text_lens, uint32_t n, float *out,
		  int32_t **ids_out, size_t *n_ids_out, struct pn_err *err)
{
	const struct pn_model *m = pn_exec_model(x);
	int32_t **ids;
	size_t *n_ids;
	int32_t *padded = NULL;
	uint32_t *lens = NULL, T = 0;
	int r = 0;

	if (!m->tok && !m->bpe)
		return pn_errf(err, -EINVAL, "%s: the model has no tokenizer",
			       m->file.path);
	ids = calloc(n ? n : 1, sizeof(*ids));
	n_ids = calloc(n ? n : 1, sizeof(*n_ids));
	lens = calloc(n ? n : 1, sizeof(*lens));
	if (!ids || !n_ids || !lens) {
		r = pn_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n && !r; i++) {
		r = encode(m, texts[i], text_lens[i], i, &ids[i], &n_ids[i],
			   err);
		if (r)
			break;
		lens[i] = n_ids[i] < m->max_tokens ? (uint32_t)n_ids[i] :
			  m->max_tokens;
		if (lens[i] > T)
			T = lens[i];
	}
	if (r)
		goto out;
	padded = calloc((size_t)n * T + 1, sizeof(int32_t));
	if (!padded) {
		r = pn_errf(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		memcpy(padded + (size_t)i * T, ids[i], lens[i] * sizeof(int32_t));
	r = pn_exec_run(x, padded, lens, n, T, out, err);
out:
	for (uint32_t i = 0; ids && i < n; i++) {
		if (!r && ids_out) {
			ids_out[i] = ids[i];
			n_ids_out[i] = n_ids[i];
		} else {
			free(ids[i]);
		}
	}
	free(ids);
	free(n_ids);
	free(lens);
	free(padded);
	return r;
}
