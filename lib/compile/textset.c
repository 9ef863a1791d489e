// SPDX-License-Identifier: MIT
/*
 * textset.c - the labelled sentence files of `polyctl eval` and the
 * calibration text of `polyctl compile --calib`: a JSON list of
 * {"text", "class"} (the shape of sentiment@5.0.2's fixtures) or plain
 * lines. A set is read whole (JSON needs it), so its size is bounded:
 * PN_TEXTSET_MAX bytes, and a plain line at most PN_LINE_MAX_DEFAULT; past
 * either the load fails naming the file (and the line), never truncates.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"
#include "util/lines.h"

#define PN_TEXTSET_MAX	(256u << 20)

static int read_all(const char *path, char **buf, size_t *len, struct pn_err *err)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0, got;
	char *b = NULL, *nb;

	if (!fp)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		nb = realloc(b, cap + 1);
		if (!nb) {
			free(b);
			fclose(fp);
			return pn_errf(err, -ENOMEM, "%s: out of memory", path);
		}
		b = nb;
		got = fread(b + n, 1, cap - n, fp);
		n += got;
		if (n < cap)
			break;
		if (cap >= PN_TEXTSET_MAX) {
			free(b);
			fclose(fp);
			return pn_errf(err, -EFBIG, "%s: more than %u bytes, the most a text set "
				       "holds (is it text?)", path, PN_TEXTSET_MAX);
		}
		cap *= 2;
	}
	if (ferror(fp)) {
		free(b);
		fclose(fp);
		return pn_errf(err, -EIO, "%s: read error", path);
	}
	fclose(fp);
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

static int push(struct pn_textset *s, const char *text, size_t len, int label)
{
	char **nt = realloc(s->text, (s->n + 1) * sizeof(*nt));
	size_t *nl;
	int8_t *nlab;

	if (!nt)
		return -ENOMEM;
	s->text = nt;
	nl = realloc(s->len, (s->n + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	s->len = nl;
	nlab = realloc(s->label, (s->n + 1) * sizeof(*nlab));
	if (!nlab)
		return -ENOMEM;
	s->label = nlab;
	s->text[s->n] = strndup(text, len);
	if (!s->text[s->n])
		return -ENOMEM;
	s->len[s->n] = len;
	s->label[s->n++] = (int8_t)label;
	return 0;
}

static int load_json(const char *path, const char *buf, struct pn_textset *s,
		     struct pn_err *err)
{
	const char *end = NULL;
	cJSON *doc = cJSON_ParseWithOpts(buf, &end, 1), *e;
	uint32_t i = 0;
	int r = 0;

	if (!doc)
		return pn_errf(err, -EINVAL, "%s: invalid JSON at byte %td, expected a list of "
			       "{\"text\": ..., \"class\": 0|1}", path, end ? end - buf : 0);
	if (!cJSON_IsArray(doc)) {
		cJSON_Delete(doc);
		return pn_errf(err, -EINVAL, "%s: expected a JSON list of {\"text\": ..., "
			       "\"class\": 0|1}", path);
	}
	cJSON_ArrayForEach(e, doc) {
		cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "text");
		cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "class");
		int label = -1;

		if (!cJSON_IsObject(e) || !cJSON_IsString(t)) {
			r = pn_errf(err, -EINVAL, "%s: entry %u: expected an object with a "
				    "string \"text\"", path, i);
			break;
		}
		if (c && !cJSON_IsNull(c)) {
			if (!cJSON_IsNumber(c) || (c->valuedouble != 0 && c->valuedouble != 1)) {
				r = pn_errf(err, -EINVAL, "%s: entry %u: \"class\" must be 0 or 1",
					    path, i);
				break;
			}
			label = (int)c->valuedouble;
		}
		if (!*t->valuestring && label < 0) {
			i++;	/* {"text": "", "class": null}: an empty entry, skipped */
			continue;
		}
		if (!*t->valuestring) {
			r = pn_errf(err, -EINVAL, "%s: entry %u: empty \"text\", expected at "
				    "least one character", path, i);
			break;
		}
		if (push(s, t->valuestring, strlen(t->valuestring), label)) {
			r = pn_errf(err, -ENOMEM, "%s: out of memory", path);
			break;
		}
		i++;
	}
	cJSON_Delete(doc);
	return r;
}

static int load_lines(const char *path, const char *buf, struct pn_textset *s,
		      struct pn_err *err)
{
	unsigned long long lineno = 0;

	for (const char *p = buf; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (++lineno && len > PN_LINE_MAX_DEFAULT)
			return pn_errf(err, -E2BIG, "%s:%llu: line longer than %u bytes", path,
				       lineno, PN_LINE_MAX_DEFAULT);
		if (len && p[len - 1] == '\r')
			len--;
		if (len && push(s, p, len, -1))
			return pn_errf(err, -ENOMEM, "%s: out of memory", path);
		p += nl ? (size_t)(nl - p) + 1 : strlen(p);
	}
	return 0;
}

int pn_textset_load(const char *path, struct pn_textset *s, struct pn_err *err)
{
	char *buf = NULL;
	const char *p;
	size_t len = 0;
	int r;

	memset(s, 0, sizeof(*s));
	r = read_all(path, &buf, &len, err);
	if (r)
		return r;
	if (strlen(buf) != len) {
		free(buf);
		return pn_errf(err, -EINVAL, "%s: contains a NUL byte, expected text", path);
	}
	for (p = buf; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	/* '{': a JSON object where a list was meant, refused by load_json with a message */
	r = *p == '[' || *p == '{' ? load_json(path, buf, s, err) :
	    load_lines(path, buf, s, err);
	free(buf);
	if (!r && !s->n)
		r = pn_errf(err, -EINVAL, "%s: no texts, expected at least one", path);
	if (r)
		pn_textset_free(s);
	return r;
}

void pn_textset_free(struct pn_textset *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		free(s->text[i]);
	free(s->text);
	free(s->len);
	free(s->label);
	memset(s, 0, sizeof(*s));
}
