// SPDX-License-Identifier: MIT
/*
 * hf_llama.c - a Hugging Face LlamaForCausalLM directory (config.json,
 * model.safetensors, tokenizer.json) as a Llama decoder (llama.h):
 * pn_compile_safetensors().
 *
 * config.json gives the sizes; every tensor the sizes imply must be in
 * model.safetensors as F32 under transformers' name and shape, and no
 * other (a rotary_emb.inv_freq buffer aside, which is recomputed).
 * transformers' convert_llama_weights_to_hf.py permutes the rows of
 * q_proj and k_proj for its rotate_half RoPE (pairs (i, i + hs/2) within a
 * head); this runtime turns pairs (2i, 2i + 1), as llama2.c does, so the
 * permutation is undone: row h*hs + 2i + j comes from row h*hs + j*hs/2 + i.
 * The layers are then stacked as pn_llama_weights wants them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/hf.h"
#include "import/llama.h"

/* --- config.json ------------------------------------------------------------ */

static int cfg_u32(const char *path, const cJSON *root, const char *key, uint32_t *out,
		   struct pn_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!v)
		return pn_errf(err, -EINVAL, "%s: no \"%s\", expected an integer", path, key);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > UINT32_MAX ||
	    v->valuedouble != (double)(uint32_t)v->valuedouble)
		return pn_errf(err, -EINVAL, "%s: \"%s\" is not an integer 0..%u, expected one",
			       path, key, UINT32_MAX);
	*out = (uint32_t)v->valuedouble;
	return 0;
}

static int cfg_float(const char *path, const cJSON *root, const char *key, float *out,
		     struct pn_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);

	if (!v)
		return pn_errf(err, -EINVAL, "%s: no \"%s\", expected a number", path, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return pn_errf(err, -EINVAL, "%s: \"%s\" is not a finite number, expected one",
			       path, key);
	*out = (float)v->valuedouble;
	return 0;
}

/* What this runtime's Llama is not: refused rather than approximated. */
static int cfg_refuse(const char *path, const cJSON *root, struct pn_err *err)
{
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
	const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(root, "architectures"), *e;
	static const char *const bias[] = { "attention_bias", "mlp_bias" };
	int llama = 0;

	if (rs && !cJSON_IsNull(rs))
		return pn_errf(err, -ENOTSUP, "%s: \"rope_scaling\" is set: not supported, "
			       "expected null or absent (plain RoPE)", path);
	if (act && !(cJSON_IsString(act) && !strcmp(act->valuestring, "silu")))
		return pn_errf(err, -ENOTSUP, "%s: \"hidden_act\" is not \"silu\": not supported, "
			       "expected \"silu\" (SwiGLU)", path);
	for (int k = 0; k < 2; k++)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, bias[k])))
			return pn_errf(err, -ENOTSUP, "%s: \"%s\" is true: biases are not "
				       "supported, expected false", path, bias[k]);
	if (mt && !(cJSON_IsString(mt) && !strcmp(mt->valuestring, "llama")))
		return pn_errf(err, -ENOTSUP, "%s: \"model_type\" is not \"llama\", expected "
			       "\"llama\"", path);
	if (cJSON_IsArray(ar))
		cJSON_ArrayForEach(e, ar)
			llama |= cJSON_IsString(e) && !strcmp(e->valuestring, "LlamaForCausalLM");
	if (ar && !llama)
		return pn_errf(err, -ENOTSUP, "%s: \"architectures\" lacks \"LlamaForCausalLM\", "
			       "expected it", path);
	return 0;
}

static int read_config(const char *path, struct pn_llama_config *c, struct pn_err *err)
{
	static const char *const names[] = { "hidden_size", "intermediate_size",
		"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size",
		"max_position_embeddings", "bos_token_id", "eos_token_id" };
	uint32_t *dst[] = { &c->hidden, &c->ffn, &c->layers, &c->q_heads, &c->kv_heads,
			    &c->vocab, &c->max_seq, &c->bos, &c->eos };
	const cJSON *tie, *hd;
	cJSON *root;
	uint32_t head_dim = 0;
	int ret;

	if ((ret = pn_hf_read_json(path, &root, err)))
		return ret;
	if (!cJSON_IsObject(root))
		ret = pn_errf(err, -EINVAL, "%s: expected a JSON object", path);
	for (size_t k = 0; !ret && k < sizeof(names) / sizeof(names[0]); k++)
		ret = cfg_u32(path, root, names[k], dst[k], err);
	if (!ret)
		ret = cfg_float(path, root, "rms_norm_eps", &c->norm_eps, err);
	if (!ret)
		ret = cfg_float(path, root, "rope_theta", &c->rope_theta, err);
	tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
	if (!ret && !tie)
		ret = pn_errf(err, -EINVAL, "%s: no \"tie_word_embeddings\", expected true or "
			      "false", path);
	else if (!ret && !cJSON_IsBool(tie))
		ret = pn_errf(err, -EINVAL, "%s: \"tie_word_embeddings\" is not a boolean, "
			      "expected true or false", path);
	if (!ret)
		ret = cfg_refuse(path, root, err);
	if (!ret && (c->bos != 1 || c->eos != 2))
		ret = pn_errf(err, -ENOTSUP, "%s: \"bos_token_id\" %u, \"eos_token_id\" %u, "
			      "expected 1 and 2 (the runtime's <s> and </s>)", path, c->bos, c->eos);
	if (!ret) {
		c->shared_output = cJSON_IsTrue(tie);
		ret = pn_llama_check(c, path, err);
	}
	hd = cJSON_GetObjectItemCaseSensitive(root, "head_dim");
	if (!ret && hd && !cJSON_IsNull(hd) &&
	    (cfg_u32(path, root, "head_dim", &head_dim, err) ||
	     head_dim != c->hidden / c->q_heads))
		ret = pn_errf(err, -ENOTSUP, "%s: \"head_dim\" is not hidden_size / "
			      "num_attention_heads = %u, expected that", path,
			      c->hidden / c->q_heads);
	cJSON_Delete(root);
	return ret;
}

/* --- the tensors ------------------------------------------------------------ */

struct want {
	char name[80];
	uint32_t ndim, perm_heads;	/* perm_heads: q/k rows to un-permute, 0: none */
	uint64_t shape[2];
	uint64_t off;			/* where in the weights buffer, in floats */
	const struct pn_st_tensor *t;
};

/* Where each array of pn_llama_weights lies in one buffer, in floats. */
struct layout {
	uint64_t embed, rms_att, wq, wk, wv, wo, rms_ffn, w_gate, w_up, w_down, rms_final, wcls;
	uint64_t total;
};

static void lay_out(const struct pn_llama_config *c, struct layout *o)
{
	uint64_t D = c->hidden, F = c->ffn, V = c->vocab, L = c->layers;
	uint64_t kv = c->kv_heads * (D / c->q_heads), f = 0;

#define PUT(field, count) (o->field = f, f += (count))
	PUT(embed, V * D);
	PUT(rms_att, L * D);
	PUT(wq, L * D * D);
	PUT(wk, L * kv * D);
	PUT(wv, L * kv * D);
	PUT(wo, L * D * D);
	PUT(rms_ffn, L * D);
	PUT(w_gate, L * F * D);
	PUT(w_up, L * F * D);
	PUT(w_down, L * D * F);
	PUT(rms_final, D);
	PUT(wcls, c->shared_output ? 0 : V * D);
#undef PUT
	o->total = f;
}

static void want(struct want *w, uint32_t *n, uint64_t off, uint32_t perm, uint64_t d0,
		 uint64_t d1, const char *fmt, uint32_t layer)
{
	struct want *x = &w[(*n)++];

	snprintf(x->name, sizeof(x->name), fmt, layer);
	x->ndim = d1 ? 2 : 1;
	x->shape[0] = d0;
	x->shape[1] = d1;
	x->perm_heads = perm;
	x->off = off;
}

/* Every tensor the config implies, and where pn_llama_weights has it. */
static uint32_t plan(const struct pn_llama_config *c, const struct layout *o, struct want *w)
{
	uint64_t D = c->hidden, F = c->ffn, V = c->vocab;
	uint64_t kv = c->kv_heads * (D / c->q_heads);
	uint32_t n = 0;

	want(w, &n, o->embed, 0, V, D, "model.embed_tokens.weight", 0);
	for (uint32_t l = 0; l < c->layers; l++) {
		want(w, &n, o->rms_att + l * D, 0, D, 0, "model.layers.%u.input_layernorm.weight", l);
		want(w, &n, o->wq + l * D * D, c->q_heads, D, D,
		     "model.layers.%u.self_attn.q_proj.weight", l);
		want(w, &n, o->wk + l * kv * D, c->kv_heads, kv, D,
		     "model.layers.%u.self_attn.k_proj.weight", l);
		want(w, &n, o->wv + l * kv * D, 0, kv, D, "model.layers.%u.self_attn.v_proj.weight", l);
		want(w, &n, o->wo + l * D * D, 0, D, D, "model.layers.%u.self_attn.o_proj.weight", l);
		want(w, &n, o->rms_ffn + l * D, 0, D, 0,
		     "model.layers.%u.post_attention_layernorm.weight", l);
		want(w, &n, o->w_gate + l * F * D, 0, F, D, "model.layers.%u.mlp.gate_proj.weight", l);
		want(w, &n, o->w_up + l * F * D, 0, F, D, "model.layers.%u.mlp.up_proj.weight", l);
		want(w, &n, o->w_down + l * D * F, 0, D, F, "model.layers.%u.mlp.down_proj.weight", l);
	}
	want(w, &n, o->rms_final, 0, D, 0, "model.norm.weight", 0);
	if (!c->shared_output)
		want(w, &n, o->wcls, 0, V, D, "lm_head.weight", 0);
	return n;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Finds the tensor w names and checks its dtype and shape. */
static int find(const struct pn_st *st, struct want *w, struct pn_err *err)
{
	const struct pn_st_tensor *t = pn_st_find(st, w->name);
	char got[160], exp[64], dt[16];

	if (!t)
		return pn_errf(err, -EINVAL, "%s: no tensor '%s', expected F32 %s (from "
			       "config.json)", st->path, w->name,
			       pn_st_shape_str(w->shape, w->ndim, exp, sizeof(exp)));
	if (strcmp(t->dtype, "F32"))
		return pn_errf(err, -ENOTSUP, "%s: offset %llu: tensor '%s': dtype %s, expected "
			       "F32 (only float32 checkpoints are read)", st->path,
			       (unsigned long long)pn_st_key_at(st, t->name), t->name,
			       pn_hf_shown(t->dtype, dt, sizeof(dt)));
	if (t->ndim != w->ndim || t->shape[0] != w->shape[0] ||
	    (w->ndim == 2 && t->shape[1] != w->shape[1]))
		return pn_errf(err, -EINVAL, "%s: offset %llu: tensor '%s': shape %s, expected %s "
			       "(from config.json)", st->path,
			       (unsigned long long)pn_st_key_at(st, t->name), t->name,
			       pn_st_shape_str(t->shape, t->ndim, got, sizeof(got)),
			       pn_st_shape_str(w->shape, w->ndim, exp, sizeof(exp)));
	w->t = t;
	return 0;
}

/* Checks a found tensor's values and copies it (un-permuted) to dst. */
static int take(const struct pn_st *st, const struct want *w, float *dst, struct pn_err *err)
{
	const struct pn_st_tensor *t = w->t;
	const uint8_t *src = st->b + t->begin;
	uint64_t rows = w->shape[0], cols = w->ndim == 2 ? w->shape[1] : 1, n = rows * cols;

	for (uint64_t i = 0; i < n; i++) {
		float f;

		memcpy(&f, src + 4 * i, 4);
		if (!isfinite(f))
			return pn_errf(err, -EINVAL, "%s: offset %llu: tensor '%s' element %llu is "
				       "%g, expected a finite number", st->path,
				       (unsigned long long)(t->begin + 4 * i), t->name,
				       (unsigned long long)i, (double)f);
	}
	if (!w->perm_heads) {
		memcpy(dst, src, n * 4);
		return 0;
	}
	for (uint64_t h = 0, hs = rows / w->perm_heads; h < w->perm_heads; h++)
		for (uint64_t i = 0; i < hs / 2; i++)
			for (uint64_t j = 0; j < 2; j++)
				memcpy(dst + (h * hs + 2 * i + j) * cols,
				       src + (h * hs + j * (hs / 2) + i) * cols * 4, cols * 4);
	return 0;
}

/*
 * All tensors found and their dtypes and shapes checked, and no other
 * tensor there, before the weights' buffer (*base, freed by the caller)
 * is allocated; then copied into it, p pointing into it.
 */
static int read_tensors(const struct pn_st *st, const struct pn_llama_config *c, float **base,
			struct pn_llama_weights *p, struct pn_err *err)
{
	struct want *w = calloc(9 * (size_t)c->layers + 3, sizeof(*w));
	uint8_t *used = calloc(st->n ? st->n : 1, 1);
	struct layout o;
	uint32_t n;
	int ret = 0;

	if (!w || !used) {
		free(w);
		free(used);
		return pn_errf(err, -ENOMEM, "%s: out of memory", st->path);
	}
	lay_out(c, &o);
	n = plan(c, &o, w);
	for (uint32_t k = 0; !ret && k < n; k++)
		if (!(ret = find(st, &w[k], err)))
			used[w[k].t - st->t] = 1;
	for (uint32_t i = 0; !ret && i < st->n; i++) {
		char nm[96];

		if (!used[i] && !ends_with(st->t[i].name, ".self_attn.rotary_emb.inv_freq"))
			ret = pn_errf(err, -EINVAL, "%s: offset %llu: tensor '%s' is not one of a "
				      "LlamaForCausalLM's with config.json's %u layers and "
				      "tie_word_embeddings %s, expected no other tensor", st->path,
				      (unsigned long long)pn_st_key_at(st, st->t[i].name),
				      pn_hf_shown(st->t[i].name, nm, sizeof(nm)), c->layers,
				      c->shared_output ? "true" : "false");
	}
	if (!ret && !(*base = malloc(o.total * sizeof(float))))
		ret = pn_errf(err, -ENOMEM, "%s: out of memory for %llu weights", st->path,
			      (unsigned long long)o.total);
	for (uint32_t k = 0; !ret && k < n; k++)
		ret = take(st, &w[k], *base + w[k].off, err);
	if (!ret) {
		float *b = *base;

		p->embed = b + o.embed;
		p->rms_att = b + o.rms_att;
		p->wq = b + o.wq;
		p->wk = b + o.wk;
		p->wv = b + o.wv;
		p->wo = b + o.wo;
		p->rms_ffn = b + o.rms_ffn;
		p->w_gate = b + o.w_gate;
		p->w_up = b + o.w_up;
		p->w_down = b + o.w_down;
		p->rms_final = b + o.rms_final;
		p->wcls = c->shared_output ? NULL : b + o.wcls;
	}
	free(w);
	free(used);
	return ret;
}

/* --- the directory ---------------------------------------------------------- */

static int map_file(const char *path, const char *dir, uint8_t **b, size_t *size,
		    struct pn_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char index[PATH_MAX];
	struct stat sb;

	*b = NULL;
	if (fd < 0) {
		int e = errno;

		snprintf(index, sizeof(index), "%s/model.safetensors.index.json", dir);
		if (e == ENOENT && access(index, F_OK) == 0)
			return pn_errf(err, -ENOTSUP, "%s: absent, and %s is there: sharded "
				       "checkpoints are not supported, expected one model.safetensors",
				       path, index);
		return pn_errf(err, -e, "%s: cannot open: %s", path, strerror(e));
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return pn_errf(err, -EINVAL, "%s: expected a regular file", path);
	}
	*size = (size_t)sb.st_size;
	if (*size) {
		void *m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			int e = errno;

			close(fd);
			return pn_errf(err, -e, "%s: cannot map %zu bytes: %s", path, *size,
				       strerror(e));
		}
		*b = m;
	}
	close(fd);
	return 0;
}

int pn_compile_safetensors(const char *dir, const char *out, const struct pn_compile_opts *o,
			   struct pn_err *err)
{
	struct pn_llama_config c = { 0 };
	struct pn_llama_weights w = { 0 };
	struct pn_hf_vocab v = { 0 };
	struct pn_st st = { 0 };
	char cfg[PATH_MAX], model[PATH_MAX], tok[PATH_MAX];
	uint8_t *b = NULL;
	float *base = NULL;
	size_t size = 0;
	int ret;

	if (snprintf(cfg, sizeof(cfg), "%s/config.json", dir) >= (int)sizeof(cfg) ||
	    snprintf(model, sizeof(model), "%s/model.safetensors", dir) >= (int)sizeof(model) ||
	    snprintf(tok, sizeof(tok), "%s/tokenizer.json", dir) >= (int)sizeof(tok))
		return pn_errf(err, -ENAMETOOLONG, "%s: path too long", dir);
	if (o && o->progress)
		o->progress(o->progress_arg, "reading config.json");
	ret = read_config(cfg, &c, err);
	if (!ret && o && o->progress)
		o->progress(o->progress_arg, "reading model.safetensors");
	if (!ret)
		ret = map_file(model, dir, &b, &size, err);
	if (!ret)
		ret = pn_st_parse(b, size, model, &st, err);
	if (!ret)
		ret = read_tensors(&st, &c, &base, &w, err);
	pn_st_free(&st);
	if (b)
		munmap(b, size);
	if (!ret && o && o->progress)
		o->progress(o->progress_arg, "reading tokenizer.json");
	if (!ret)
		ret = pn_hf_tokenizer_read(tok, c.vocab, &v, err);
	if (!ret) {
		struct pn_llama_vocab lv = { .n = v.n, .piece = (const char *const *)v.piece,
					     .score = v.score };

		ret = pn_llama_build(&c, &w, &lv, out, o, err);
	}
	pn_hf_vocab_free(&v);
	free(base);
	return ret;
}
