// SPDX-License-Identifier: MIT
/*
 * tfjs.c - read a TF.js graph model: model.json (modelTopology.node and
 * weightsManifest) and its weight shards.
 *
 * The shards of a manifest group are one little-endian buffer cut into
 * files; the group's tensors lie in it back to back in manifest order, so
 * a tensor's offset is the sum of the sizes of those before it. Groups are
 * placed one after the other in our buffer.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/tfjs.h"
#include "uapi/pnb.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the shards and .pnb are little-endian and copied as bytes");

#define MAX_FILE_BYTES (1ull << 34)	/* refuse absurd sizes before allocating */

static int read_file(const char *path, uint8_t *dst, uint64_t want, struct pn_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t got = 0;
	int ret = 0;

	if (fd < 0)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	while (got < want) {
		ssize_t r = read(fd, dst + got, want - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = pn_errf(err, r < 0 ? -errno : -EIO, "%s: read failed at byte %llu: %s",
				      path, (unsigned long long)got,
				      r < 0 ? strerror(errno) : "unexpected end of file");
			break;
		}
		got += (uint64_t)r;
	}
	close(fd);
	return ret;
}

static int parse_model_json(const char *path, cJSON **out, struct pn_err *err)
{
	struct stat st;
	const char *end = NULL;
	char *text;
	int ret;

	if (stat(path, &st) < 0)
		return pn_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE_BYTES)
		return pn_errf(err, -EINVAL, "%s: not a regular file of sane size", path);
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return pn_errf(err, -ENOMEM, "%s: out of memory", path);
	ret = read_file(path, (uint8_t *)text, (uint64_t)st.st_size, err);
	if (ret) {
		free(text);
		return ret;
	}
	text[st.st_size] = '\0';
	*out = cJSON_ParseWithLengthOpts(text, (size_t)st.st_size, &end, 0);
	if (!*out) {
		size_t off = end ? (size_t)(end - text) : 0;
		char near[25] = "";

		/* an excerpt on one line: the message is one line */
		for (size_t i = 0; end && i + 1 < sizeof(near) && end[i]; i++)
			near[i] = (unsigned char)end[i] < ' ' ? ' ' : end[i];
		ret = pn_errf(err, -EINVAL, "%s: invalid JSON at byte %zu of %lld (near \"%s\")",
			      path, off, (long long)st.st_size, near);
	}
	free(text);
	return ret;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct tfjs_node *)a)->name, ((const struct tfjs_node *)b)->name);
}

static int read_nodes(struct tfjs_model *m, struct pn_err *err)
{
	const cJSON *topo = cJSON_GetObjectItemCaseSensitive(m->json, "modelTopology");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(topo, "node");
	const cJSON *jn;
	uint32_t i = 0;

	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return pn_errf(err, -EINVAL, "%s: no modelTopology.node array: not a TF.js graph model",
			       m->json_path);
	m->n_nodes = (uint32_t)cJSON_GetArraySize(arr);
	m->nodes = calloc(m->n_nodes, sizeof(*m->nodes));
	if (!m->nodes)
		return pn_errf(err, -ENOMEM, "%s: out of memory", m->json_path);
	cJSON_ArrayForEach(jn, arr) {
		struct tfjs_node *n = &m->nodes[i];
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(jn, "name");
		const cJSON *op = cJSON_GetObjectItemCaseSensitive(jn, "op");
		const cJSON *ins = cJSON_GetObjectItemCaseSensitive(jn, "input");
		const cJSON *in;

		if (!cJSON_IsString(name) || !cJSON_IsString(op))
			return pn_errf(err, -EINVAL, "%s: modelTopology.node[%u]: expected string "
				       "\"name\" and \"op\"", m->json_path, i);
		n->name = name->valuestring;
		n->op = op->valuestring;
		n->attr = cJSON_GetObjectItemCaseSensitive(jn, "attr");
		if (ins && !cJSON_IsArray(ins))
			return pn_errf(err, -EINVAL, "%s: node '%s': \"input\" is not an array",
				       m->json_path, n->name);
		n->in = calloc((size_t)cJSON_GetArraySize(ins) + 1, sizeof(*n->in));
		if (!n->in)
			return pn_errf(err, -ENOMEM, "%s: out of memory", m->json_path);
		cJSON_ArrayForEach(in, ins) {
			if (!cJSON_IsString(in))
				return pn_errf(err, -EINVAL, "%s: node '%s': input %u is not a string",
					       m->json_path, n->name, n->n_in);
			if (in->valuestring[0] != '^')	/* control edges carry no data */
				n->in[n->n_in++] = in->valuestring;
		}
		i++;
	}
	qsort(m->nodes, m->n_nodes, sizeof(*m->nodes), cmp_node);
	for (i = 1; i < m->n_nodes; i++)
		if (!strcmp(m->nodes[i - 1].name, m->nodes[i].name))
			return pn_errf(err, -EINVAL, "%s: node '%s' is defined twice",
				       m->json_path, m->nodes[i].name);
	return 0;
}

/* Fills t from one weightsManifest "weights" entry; returns its byte size via *bytes. */
static int read_weight_entry(const struct tfjs_model *m, const cJSON *jw, uint32_t idx,
			     struct tfjs_tensor *t, struct pn_err *err)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(jw, "name");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(jw, "shape");
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(jw, "dtype");
	const cJSON *quant = cJSON_GetObjectItemCaseSensitive(jw, "quantization");
	const cJSON *d;

	if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype))
		return pn_errf(err, -EINVAL, "%s: weightsManifest weight %u: expected \"name\", "
			       "\"shape\" and \"dtype\"", m->json_path, idx);
	t->name = name->valuestring;
	if (quant) {
		const cJSON *qd = cJSON_GetObjectItemCaseSensitive(quant, "dtype");

		return pn_errf(err, -ENOTSUP, "%s: weight '%s' is quantized (%s): only float32 and "
			       "int32 weights are supported", m->json_path, t->name,
			       cJSON_IsString(qd) ? qd->valuestring : "unknown dtype");
	}
	if (!strcmp(dtype->valuestring, "float32"))
		t->dtype = PNB_DTYPE_F32;
	else if (!strcmp(dtype->valuestring, "int32"))
		t->dtype = PNB_DTYPE_I32;
	else
		return pn_errf(err, -ENOTSUP, "%s: weight '%s' has dtype '%s': expected float32 or "
			       "int32", m->json_path, t->name, dtype->valuestring);
	if ((uint32_t)cJSON_GetArraySize(shape) > TFJS_MAX_DIMS)
		return pn_errf(err, -ENOTSUP, "%s: weight '%s' has %d dimensions: at most %u",
			       m->json_path, t->name, cJSON_GetArraySize(shape), TFJS_MAX_DIMS);
	t->elems = 1;
	cJSON_ArrayForEach(d, shape) {
		if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12 ||
		    d->valuedouble != (double)(uint64_t)d->valuedouble)
			return pn_errf(err, -EINVAL, "%s: weight '%s': shape[%u] is not a "
				       "non-negative integer", m->json_path, t->name, t->ndim);
		t->shape[t->ndim++] = (uint64_t)d->valuedouble;
		t->elems *= (uint64_t)d->valuedouble;
		if (t->elems > MAX_FILE_BYTES)
			return pn_errf(err, -EINVAL, "%s: weight '%s': shape too large",
				       m->json_path, t->name);
	}
	return 0;
}

/* Size a shard of a group should have: TF.js cuts a group into shards of one
 * size, the last one holding the rest. The size is the largest non-last
 * shard, so one truncated shard is named as the culprit. */
/*
 * The size shard i should have. TF.js cuts a group into shards of one size
 * and a shorter last one, so that size is the one most of the first n - 1
 * shards have (the largest, not the first, would blame a good shard for a
 * long one elsewhere); the last holds the rest.
 */
static uint64_t expected_shard_bytes(const uint64_t *found, uint32_t n, uint32_t i,
				     uint64_t total)
{
	uint64_t s = 0;
	uint32_t best = 0;

	if (n == 1)
		return total;
	for (uint32_t k = 0; k + 1 < n; k++) {
		uint32_t c = 0;

		for (uint32_t j = 0; j + 1 < n; j++)
			c += found[j] == found[k];
		if (c > best || (c == best && found[k] > s)) {
			best = c;
			s = found[k];
		}
	}
	if (s * (n - 1) >= total)	/* the convention does not hold: blame by total */
		s = (total + n - 1) / n;
	return i + 1 < n ? s : total - s * (n - 1);
}

static int read_group(struct tfjs_model *m, const char *dir, const cJSON *group, uint32_t gi,
		      uint64_t group_off, uint64_t group_bytes, struct pn_err *err)
{
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(group, "paths");
	uint32_t n = (uint32_t)cJSON_GetArraySize(paths);
	uint64_t *found, sum = 0, off = group_off;
	char path[1200];
	const cJSON *p;
	uint32_t i;
	int ret = 0;

	if (!cJSON_IsArray(paths) || n == 0)
		return pn_errf(err, -EINVAL, "%s: weightsManifest[%u]: no \"paths\" array",
			       m->json_path, gi);
	found = calloc(n, sizeof(*found));
	if (!found)
		return pn_errf(err, -ENOMEM, "%s: out of memory", m->json_path);
	i = 0;
	cJSON_ArrayForEach(p, paths) {
		struct stat st;

		if (!cJSON_IsString(p) || p->valuestring[0] == '/' || strstr(p->valuestring, "..")) {
			ret = pn_errf(err, -EINVAL, "%s: weightsManifest[%u].paths[%u]: expected a "
				      "relative file name", m->json_path, gi, i);
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, p->valuestring);
		if (stat(path, &st) < 0) {
			ret = pn_errf(err, -errno, "%s: cannot open shard %u of %u: %s (the "
				      "manifest needs %llu bytes in its shards)", path, i + 1, n,
				      strerror(errno), (unsigned long long)group_bytes);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			ret = pn_errf(err, -EINVAL, "%s: shard %u of %u is %s, expected a regular "
				      "file", path, i + 1, n, S_ISDIR(st.st_mode) ? "a directory" :
				      "not a regular file");
			goto out;
		}
		found[i] = (uint64_t)st.st_size;
		sum += found[i];
		i++;
	}
	/* Check every size before reading, so a bad shard is named, not just a short total. */
	i = 0;
	cJSON_ArrayForEach(p, paths) {
		uint64_t want = expected_shard_bytes(found, n, i, group_bytes);

		snprintf(path, sizeof(path), "%s/%s", dir, p->valuestring);
		if (sum != group_bytes && found[i] != want) {
			ret = pn_errf(err, -EINVAL, "%s: shard %u of %u has %llu bytes, expected %llu "
				      "(the shards hold %llu bytes, the manifest's tensors need %llu)",
				      path, i + 1, n, (unsigned long long)found[i],
				      (unsigned long long)want, (unsigned long long)sum,
				      (unsigned long long)group_bytes);
			goto out;
		}
		i++;
	}
	if (sum != group_bytes) {
		ret = pn_errf(err, -EINVAL, "%s: weightsManifest[%u]: the %u shards hold %llu bytes, "
			      "the manifest's tensors need %llu", m->json_path, gi, n,
			      (unsigned long long)sum, (unsigned long long)group_bytes);
		goto out;
	}
	i = 0;
	cJSON_ArrayForEach(p, paths) {
		snprintf(path, sizeof(path), "%s/%s", dir, p->valuestring);
		ret = read_file(path, m->buf + off, found[i], err);
		if (ret)
			goto out;
		off += found[i++];
	}
out:
	free(found);
	return ret;
}

static const struct tfjs_model *sort_model;	/* qsort has no context argument */

static int cmp_weight(const void *a, const void *b)
{
	return strcmp(sort_model->w[*(const uint32_t *)a].name,
		      sort_model->w[*(const uint32_t *)b].name);
}

static int read_manifest(struct tfjs_model *m, const char *dir, struct pn_err *err)
{
	const cJSON *man = cJSON_GetObjectItemCaseSensitive(m->json, "weightsManifest");
	const cJSON *group, *jw;
	uint64_t total = 0, group_off = 0;
	uint32_t gi = 0, k = 0;
	int ret;

	if (!cJSON_IsArray(man) || cJSON_GetArraySize(man) == 0)
		return pn_errf(err, -EINVAL, "%s: no weightsManifest array", m->json_path);
	cJSON_ArrayForEach(group, man) {
		const cJSON *ws = cJSON_GetObjectItemCaseSensitive(group, "weights");

		if (!cJSON_IsArray(ws))
			return pn_errf(err, -EINVAL, "%s: weightsManifest[%u]: no \"weights\" array",
				       m->json_path, gi);
		m->n_w += (uint32_t)cJSON_GetArraySize(ws);
		gi++;
	}
	m->w = calloc(m->n_w + 1, sizeof(*m->w));
	m->w_by_name = calloc(m->n_w + 1, sizeof(*m->w_by_name));
	if (!m->w || !m->w_by_name)
		return pn_errf(err, -ENOMEM, "%s: out of memory", m->json_path);
	cJSON_ArrayForEach(group, man) {
		cJSON_ArrayForEach(jw, cJSON_GetObjectItemCaseSensitive(group, "weights")) {
			struct tfjs_tensor *t = &m->w[k];

			ret = read_weight_entry(m, jw, k, t, err);
			if (ret)
				return ret;
			t->offset = total;
			total += t->elems * 4;	/* float32 and int32 alike */
			if (total > MAX_FILE_BYTES)
				return pn_errf(err, -EINVAL, "%s: weights total more than %llu bytes",
					       m->json_path, MAX_FILE_BYTES);
			k++;
		}
	}
	m->buf_size = total;
	m->buf = malloc(total ? total : 1);
	if (!m->buf)
		return pn_errf(err, -ENOMEM, "%s: out of memory for %llu weight bytes",
			       m->json_path, (unsigned long long)total);
	gi = 0;
	k = 0;
	cJSON_ArrayForEach(group, man) {
		uint64_t bytes = 0;

		cJSON_ArrayForEach(jw, cJSON_GetObjectItemCaseSensitive(group, "weights"))
			bytes += m->w[k++].elems * 4;
		ret = read_group(m, dir, group, gi++, group_off, bytes, err);
		if (ret)
			return ret;
		group_off += bytes;
	}
	for (k = 0; k < m->n_w; k++) {
		m->w[k].data = m->buf + m->w[k].offset;
		m->w_by_name[k] = k;
	}
	sort_model = m;
	qsort(m->w_by_name, m->n_w, sizeof(*m->w_by_name), cmp_weight);
	sort_model = NULL;
	for (k = 1; k < m->n_w; k++)
		if (!strcmp(m->w[m->w_by_name[k - 1]].name, m->w[m->w_by_name[k]].name))
			return pn_errf(err, -EINVAL, "%s: weight '%s' is listed twice in "
				       "weightsManifest", m->json_path, m->w[m->w_by_name[k]].name);
	return 0;
}

int tfjs_load(const char *dir, struct tfjs_model *m, struct pn_err *err)
{
	int ret;

	memset(m, 0, sizeof(*m));
	if ((size_t)snprintf(m->json_path, sizeof(m->json_path), "%s/model.json", dir) >=
	    sizeof(m->json_path))
		return pn_errf(err, -ENAMETOOLONG, "%s: directory name too long", dir);
	ret = parse_model_json(m->json_path, &m->json, err);
	if (!ret)
		ret = read_nodes(m, err);
	if (!ret)
		ret = read_manifest(m, dir, err);
	if (ret)
		tfjs_free(m);
	return ret;
}

void tfjs_free(struct tfjs_model *m)
{
	for (uint32_t i = 0; m->nodes && i < m->n_nodes; i++)
		free(m->nodes[i].in);
	free(m->nodes);
	free(m->w);
	free(m->w_by_name);
	free(m->buf);
	cJSON_Delete(m->json);
	memset(m, 0, sizeof(*m));
}

const struct tfjs_node *tfjs_node(const struct tfjs_model *m, const char *name)
{
	char key[1024];
	const char *colon;
	size_t len;
	uint32_t lo = 0, hi = m->n_nodes;

	if (name[0] == '^')
		name++;
	colon = strrchr(name, ':');
	len = colon && colon[1] >= '0' && colon[1] <= '9' ? (size_t)(colon - name) : strlen(name);
	if (len >= sizeof(key))
		return NULL;
	memcpy(key, name, len);
	key[len] = '\0';
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, m->nodes[mid].name);

		if (!c)
			return &m->nodes[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct tfjs_tensor *tfjs_weight(const struct tfjs_model *m, const char *name)
{
	uint32_t lo = 0, hi = m->n_w;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, m->w[m->w_by_name[mid]].name);

		if (!c)
			return &m->w[m->w_by_name[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* A Const's values: in the weights buffer (the TF.js converter moves every
 * Const there) or, in other converters' output, inline in
 * attr.value.tensor.{floatVal,intVal}. Exactly n values are expected. */
static int const_values(const struct tfjs_model *m, const char *name, uint32_t dtype,
			double *v, uint32_t n, struct pn_err *err)
{
	const char *tname = dtype == PNB_DTYPE_F32 ? "float32" : "int32";
	const struct tfjs_node *node = tfjs_node(m, name);
	const struct tfjs_tensor *t;
	const cJSON *tensor, *vals, *x;
	uint32_t i = 0;

	if (!node)
		return pn_errf(err, -EINVAL, "%s: no node '%s'", m->json_path, name);
	if (strcmp(node->op, "Const"))
		return pn_errf(err, -EINVAL, "%s: node '%s' is a %s: expected a Const",
			       m->json_path, name, node->op);
	t = tfjs_weight(m, node->name);
	if (t) {
		if (t->elems != n || t->dtype != dtype)
			return pn_errf(err, -EINVAL, "%s: Const '%s': expected %u %s, found %llu %s",
				       m->json_path, name, n, tname, (unsigned long long)t->elems,
				       t->dtype == PNB_DTYPE_F32 ? "float32" : "int32");
		for (i = 0; i < n; i++) {
			float f;
			int32_t k;

			if (dtype == PNB_DTYPE_F32) {
				memcpy(&f, (const uint8_t *)t->data + 4 * i, 4);
				v[i] = f;
			} else {
				memcpy(&k, (const uint8_t *)t->data + 4 * i, 4);
				v[i] = k;
			}
		}
		return 0;
	}
	tensor = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node->attr,
						  "value"), "tensor");
	vals = cJSON_GetObjectItemCaseSensitive(tensor, dtype == PNB_DTYPE_F32 ? "floatVal" :
						"intVal");
	if ((uint32_t)cJSON_GetArraySize(vals) != n)
		return pn_errf(err, -EINVAL, "%s: Const '%s': expected %u %s in weightsManifest "
			       "or inline, found none", m->json_path, name, n, tname);
	cJSON_ArrayForEach(x, vals) {
		if (!cJSON_IsNumber(x))
			return pn_errf(err, -EINVAL, "%s: Const '%s': inline value %u is not a "
				       "number", m->json_path, name, i);
		v[i++] = x->valuedouble;
	}
	return 0;
}

int tfjs_const_i32_vec(const struct tfjs_model *m, const char *name, int32_t *v, uint32_t n,
		       struct pn_err *err)
{
	double d[16] = { 0 };
	int ret;

	PN_ASSERT(n <= 16);
	ret = const_values(m, name, PNB_DTYPE_I32, d, n, err);
	for (uint32_t i = 0; !ret && i < n; i++)
		v[i] = (int32_t)d[i];
	return ret;
}

int tfjs_const_f32(const struct tfjs_model *m, const char *name, float *v, struct pn_err *err)
{
	double d = 0;
	int ret = const_values(m, name, PNB_DTYPE_F32, &d, 1, err);

	if (!ret)
		*v = (float)d;
	return ret;
}

int tfjs_const_i32(const struct tfjs_model *m, const char *name, int32_t *v, struct pn_err *err)
{
	return tfjs_const_i32_vec(m, name, v, 1, err);
}

int64_t tfjs_attr_int(const struct tfjs_node *n, const char *attr, int64_t dflt)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(n->attr, attr);
	const cJSON *v;

	if (!a)
		return dflt;
	v = cJSON_GetObjectItemCaseSensitive(a, "b");
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(a, "i");
	if (cJSON_IsString(v))	/* protobuf JSON writes int64 as a string */
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return dflt;
}
