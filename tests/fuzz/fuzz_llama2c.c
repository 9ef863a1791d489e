// SPDX-License-Identifier: MIT
/*
 * fuzz_llama2c: libFuzzer target for the llama2.c reader
 * (lib/import/llama2c.c) and, on what it accepts, the BPE tokenizer built
 * from the file's vocab (lib/text/tok_bpe.c): a fuzzed vocab is a fuzzed
 * tokenizer. Accepted weights are read end to end, so a reader that maps
 * a tensor past its buffer shows up as an ASan report.
 *
 *   make build/fuzz/fuzz_llama2c
 *   build/fuzz/fuzz_llama2c -max_total_time=60 WORKDIR tests/fuzz/corpus_llama2c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import/llama.h"
#include "text/tok_bpe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double sink;

static void tokenize(const struct pn_llama2c *m)
{
	static const char *const texts[] = { "Once upon a time", "caf\xc3\xa9 \xf0\x9f\x98\x80",
					     "", " a  b ", "\xff" };
	size_t bytes = 0, off = 0, n;
	struct pn_bpe *t;
	char *blob, byte;
	int32_t ids[64];
	const char *s;

	for (uint32_t i = 0; i < m->v.n; i++)
		bytes += strlen(m->v.piece[i]) + 1;
	blob = malloc(bytes + 1);
	if (!blob)
		return;
	for (uint32_t i = 0; i < m->v.n; i++) {
		size_t k = strlen(m->v.piece[i]) + 1;

		memcpy(blob + off, m->v.piece[i], k);
		off += k;
	}
	if (!pn_bpe_new(blob, bytes, m->v.score, m->v.n, &t, NULL)) {
		for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
			if (pn_bpe_encode(t, texts[k], strlen(texts[k]), ids, 64, &n, NULL))
				continue;
			for (size_t i = 1; i < n; i++)
				sink += (double)pn_bpe_piece(t, ids[i - 1], ids[i], &s, &byte);
		}
		pn_bpe_free(t);
	}
	free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pn_llama2c m;
	const struct pn_llama_config *c = &m.c;

	if (pn_llama2c_read(data, size, "fuzz", &m, NULL))
		return 0;
	sink += m.w.embed[(size_t)c->vocab * c->hidden - 1] + m.w.rms_final[c->hidden - 1] +
		m.w.w_down[(size_t)c->layers * c->hidden * c->ffn - 1];
	tokenize(&m);
	pn_llama2c_free(&m);
	return 0;
}
