// SPDX-License-Identifier: MIT
/*
 * test_gpu_plan.c - lib/gpu/plan.c and its lowerings: a model's plan run
 * launch by launch in the PTX interpreter (tests/ptx/ptxi.h), as the CUDA
 * backend will run it on a device, against the CPU executor (pn_exec) on
 * the same model:
 *  - the fixture of tests/unit/fixture_model.h (the structure of USE lite),
 *    a second small model that holds every other standard op (rmsnorm,
 *    the gated FFN, act, pool_cls, add of a sequence row, softmax, a causal
 *    attention of head size 128, linear with an activation) and a third
 *    with every PolyNet op (vq in its 3 modes, poly_ffn plain and codebook,
 *    macro with both routers, cqa), each at several (B, T) with ragged
 *    lengths through ONE plan;
 *  - the launches' shape: the same count and kernels at every (B, T), grids
 *    and blocks >= 1, parameters exactly the kernel's .param list (parsed
 *    from the .entry text of its .ptx file), arena pointers 256-aligned;
 *  - the errors: -ENOTSUP naming an unlowered node and op (the causal
 *    decoder's ops with their own message), -EINVAL past
 *    the plan's batch or tokens and past a kernel's limit;
 *  - the real USE-lite model (POLYNET_USE_PNB, else build/use.pnb) on one
 *    batch of the reference sentences' ids, skipped where it is absent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/exec.h"
#include "exec/graph.h"
#include "exec/model.h"
#include "gpu/plan.h"
#include "tests/unit/fixture_model.h"
#include "tests/ptx/ptxi.h"

#define PTX_DIR "kernels/ptx/"

/*
 * Tolerance: 1e-4 (1 + |ref|), the project's bar for the GPU against the CPU
 * (test_ptx_gemm.c, test_ops.c): the kernels' sums run in another order
 * (tiles, warp trees) and their transcendentals are FMA polynomials within
 * a few 1e-7 of libm (the headers of kernels/ptx/), so outputs differ from
 * pn_exec's by ulps times the depth: ~1e-6 here. The bar is still what a
 * real error misses by far: one wrong row, mask or weight moves unit-norm
 * outputs by 1e-2 or more.
 */
#define TOL 1e-4

/* ---- one model opened with its CPU reference ------------------------------------ */

struct mdl {
	char path[64];
	int tmp;			/* unlink at the end */
	struct pn_model *m;
	struct pn_cpu_model *cm;
	const struct pn_graph *g;
};

static int mdl_open(struct mdl *d, const char *path, int tmp)
{
	struct pn_err err;

	snprintf(d->path, sizeof(d->path), "%s", path);
	d->tmp = tmp;
	if (pn_model_open(path, &d->m, &err) || pn_cpu_model_new(d->m, &d->cm, &err)) {
		fprintf(stderr, "%s: %s\n", path, err.msg);
		return -1;
	}
	d->g = pn_cpu_model_graph(d->cm);
	return 0;
}

static void mdl_close(struct mdl *d)
{
	pn_cpu_model_free(d->cm);
	pn_model_close(d->m);
	if (d->tmp)
		unlink(d->path);
	memset(d, 0, sizeof(*d));
}

static int tmp_path(char *path, const char *tag)
{
	int fd;

	snprintf(path, 64, "/tmp/test_gpu_plan_%s_XXXXXX", tag);
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- the second model: every standard op the fixture lacks ------------------------ */

enum { OM_V = 30, OM_D = 20, OM_FF = 12, OM_DA = 128, OM_MAXT = 10 };

/* Writes it with seeded random weights; 0 or the writer's error. */
static int ops_model_write(const char *path, struct pn_err *err)
{
	struct pnb_writer *wr = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint64_t sh[2];
	uint32_t seed = 77, x, v;
	float *buf = malloc(OM_DA * 3 * OM_DA * sizeof(float));
	int rc;

	if (!wr || !buf)
		return pn_errf(err, -ENOMEM, "out of memory");
#define RND(cnt, scale) (fx_fill(buf, (cnt), &seed, (scale)), buf)
#define T2(name, d0, d1, scale) (sh[0] = (d0), sh[1] = (d1), \
	pnb_w_tensor(wr, name, PNB_DTYPE_F32, 2, sh, RND((size_t)(d0) * (d1), scale)))
#define T1(name, d0, scale) (sh[0] = (d0), pnb_w_tensor(wr, name, PNB_DTYPE_F32, 1, sh, \
	RND((d0), scale)))
#define VAL(name, layout, width) pnb_w_value(wr, name, PNB_DTYPE_F32, layout, width)
#define NODE(op, name, outv) pnb_node_init(&n, op, pnb_w_string(wr, name), outv)
	uint32_t ids = pnb_w_value(wr, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);

	x = VAL("x", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_EMBED, "embed", x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 4;
	n.w[PNB_W_EMBED_TABLE] = T2("E", OM_V, OM_D, 2.0f);
	n.w[PNB_W_EMBED_POS] = T2("P", OM_MAXT, OM_D, 1.0f);
	n.w[PNB_W_EMBED_TYPE] = T1("type", OM_D, 1.0f);
	n.iattr[PNB_IA_EMBED_POS_KIND] = PNB_POS_LEARNED; n.fattr[PNB_FA_EMBED_SCALE] = 1.5f;
	pnb_w_node(wr, &n);
	v = VAL("rms", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_RMSNORM, "rms", v);
	n.n_in = 1; n.in[0] = x; n.n_w = 1; n.fattr[PNB_FA_NORM_EPS] = 1e-5f;
	n.w[PNB_W_NORM_GAMMA] = T1("rms.g", OM_D, 1.0f);
	pnb_w_node(wr, &n);
	x = VAL("glu", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_FFN, "glu", x);
	n.n_in = 1; n.in[0] = v; n.n_w = 4;
	n.iattr[PNB_IA_FFN_ACT] = PNB_ACT_SILU; n.iattr[PNB_IA_FFN_GATED] = 1;
	n.w[PNB_W_FFN_W1] = T2("glu.w1", OM_D, 2 * OM_FF, 0.8f);
	n.w[PNB_W_FFN_B1] = T1("glu.b1", 2 * OM_FF, 0.5f);
	n.w[PNB_W_FFN_W2] = T2("glu.w2", OM_FF, OM_D, 0.8f);
	n.w[PNB_W_FFN_B2] = T1("glu.b2", OM_D, 0.5f);
	pnb_w_node(wr, &n);
	v = VAL("gelu", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_ACT, "gelu", v);
	n.n_in = 1; n.in[0] = x; n.iattr[PNB_IA_ACT_ACT] = PNB_ACT_GELU;
	pnb_w_node(wr, &n);
	uint32_t cls = VAL("cls", PNB_LAYOUT_SEQ, OM_D);
	NODE(PNB_OP_POOL_CLS, "cls", cls);
	n.n_in = 1; n.in[0] = v;
	pnb_w_node(wr, &n);
	x = VAL("addrow", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_ADD, "addrow", x);
	n.n_in = 2; n.in[0] = v; n.in[1] = cls;
	pnb_w_node(wr, &n);
	v = VAL("soft", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_SOFTMAX, "soft", v);
	n.n_in = 1; n.in[0] = x;
	pnb_w_node(wr, &n);
	x = VAL("qkv", PNB_LAYOUT_TOKENS, 3 * OM_DA);
	NODE(PNB_OP_LINEAR, "qkv", x);
	n.n_in = 1; n.in[0] = v; n.n_w = 2; n.iattr[PNB_IA_LINEAR_ACT] = PNB_ACT_GELU_TANH;
	n.w[PNB_W_LINEAR_W] = T2("qkv.w", OM_D, 3 * OM_DA, 4.0f);
	n.w[PNB_W_LINEAR_B] = T1("qkv.b", 3 * OM_DA, 1.0f);
	pnb_w_node(wr, &n);
	v = VAL("att", PNB_LAYOUT_TOKENS, OM_DA);
	NODE(PNB_OP_ATTENTION, "att", v);	/* head size 128: attention_fwd */
	n.n_in = 1; n.in[0] = x; n.iattr[PNB_IA_ATTN_HEADS] = 1; n.iattr[PNB_IA_ATTN_CAUSAL] = 1;
	n.fattr[PNB_FA_ATTN_SCALE] = 0.3f;
	pnb_w_node(wr, &n);
	x = VAL("proj", PNB_LAYOUT_TOKENS, OM_D);
	NODE(PNB_OP_LINEAR, "proj", x);
	n.n_in = 1; n.in[0] = v; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("proj.w", OM_DA, OM_D, 0.3f);
	n.w[PNB_W_LINEAR_B] = T1("proj.b", OM_D, 0.3f);
	pnb_w_node(wr, &n);
	v = VAL("mean", PNB_LAYOUT_SEQ, OM_D);
	NODE(PNB_OP_POOL_MEAN, "mean", v);
	n.n_in = 1; n.in[0] = x;
	pnb_w_node(wr, &n);
	x = VAL("seqadd", PNB_LAYOUT_SEQ, OM_D);	/* SEQ + SEQ: add_f32 */
	NODE(PNB_OP_ADD, "seqadd", x);
	n.n_in = 2; n.in[0] = v; n.in[1] = cls;
	pnb_w_node(wr, &n);
	v = VAL("head", PNB_LAYOUT_SEQ, OM_D);
	NODE(PNB_OP_LINEAR, "head", v);
	n.n_in = 1; n.in[0] = x; n.n_w = 1; n.iattr[PNB_IA_LINEAR_ACT] = PNB_ACT_RELU;
	n.w[PNB_W_LINEAR_W] = T2("head.w", OM_D, OM_D, 1.0f);
	pnb_w_node(wr, &n);
	x = VAL("out", PNB_LAYOUT_SEQ, OM_D);
	NODE(PNB_OP_L2NORM, "out", x);
	n.n_in = 1; n.in[0] = v; n.fattr[PNB_FA_L2NORM_EPS] = 1e-12f;
	pnb_w_node(wr, &n);
#undef RND
#undef T2
#undef T1
#undef VAL
#undef NODE
	h.name = pnb_w_string(wr, "gpu_plan_ops");
	h.input = ids;
	h.output = x;
	h.max_tokens = OM_MAXT;
	h.tokenizer = PNB_TOKENIZER_NONE;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(wr, &h);
	rc = pnb_w_finish(wr, path, err);
	pnb_writer_free(wr);
	free(buf);
	return rc;
}

/* c_k *= 0.5^k (per block of the series' coefficients: a fresh start every 8 is harmless). */
static void decay(float *c, size_t n)
{
	for (size_t k = 0; k < n; k++)
		c[k] *= ldexpf(1.0f, -(int)(k % 8));
}

/* ---- the third model: the PolyNet ops -------------------------------------------- */

enum { PM_V = 16, PM_D = 8, PM_K = 4, PM_FF = 10, PM_MAXT = 9, PM_E = 3, PM_R = 4 };

/*
 * embed -> vq quantize -> poly_ffn (plain) -> add -> poly_ffn (codebook mode,
 * gated, even series, on vq codes) -> add -> vq cache -> add -> macro (linear
 * router, top-2) -> macro (centroid router, top-1) -> linear -> cqa (heads 2,
 * clusters >= T: every query its own cluster) -> add. The embedding rows are
 * codebook rows plus 1e-2 noise, so that every vq's nearest code is clear
 * (a code that flips between two engines is not an error of the plan);
 * the series coefficients decay (0.5^k), so that the series amplify an
 * input's rounding by less than 1 (cheb.ptx's Lipschitz bound sc sum k^2 |c_k|).
 */
static int poly_model_write(const char *path, struct pn_err *err)
{
	struct pnb_writer *wr = pnb_writer_new();
	struct pnb_header h = { 0 };
	struct pnb_node n;
	uint64_t sh[2];
	uint32_t seed = 99, x, q, v, s, c, cbt, t;
	float cb[PM_K * PM_D], norms[PM_K], E[PM_V * PM_D], coefs[PM_E * 8];
	float buf[PM_E * PM_D * 3 * PM_D];
	int rc;

	if (!wr)
		return pn_errf(err, -ENOMEM, "out of memory");
	fx_fill(cb, PM_K * PM_D, &seed, 2.0f);
	for (int k = 0; k < PM_K; k++) {
		double sq = 0;

		for (int i = 0; i < PM_D; i++)
			sq += (double)cb[k * PM_D + i] * cb[k * PM_D + i];
		norms[k] = (float)sq;
	}
	for (int r = 0; r < PM_V; r++)
		for (int i = 0; i < PM_D; i++)
			E[r * PM_D + i] = cb[(r % PM_K) * PM_D + i] + fx_rand(&seed, 0.02f);
#define RND(cnt, scale) (fx_fill(buf, (cnt), &seed, (scale)), buf)
#define T2(name, d0, d1, p) (sh[0] = (d0), sh[1] = (d1), \
	pnb_w_tensor(wr, name, PNB_DTYPE_F32, 2, sh, p))
#define T1(name, d0, p) (sh[0] = (d0), pnb_w_tensor(wr, name, PNB_DTYPE_F32, 1, sh, p))
#define VAL(name, width) pnb_w_value(wr, name, PNB_DTYPE_F32, PNB_LAYOUT_TOKENS, width)
#define NODE(op, name, outv) pnb_node_init(&n, op, pnb_w_string(wr, name), outv)
#define COEFS(cnt) (fx_fill(coefs, (cnt), &seed, 1.0f), decay(coefs, (cnt)), coefs)
	uint32_t ids = pnb_w_value(wr, "ids", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);

	x = VAL("x", PM_D);
	NODE(PNB_OP_EMBED, "embed", x);
	n.n_in = 1; n.in[0] = ids; n.n_w = 1; n.fattr[PNB_FA_EMBED_SCALE] = 1.0f;
	n.w[PNB_W_EMBED_TABLE] = T2("E", PM_V, PM_D, E);
	pnb_w_node(wr, &n);
	cbt = T2("cb", PM_K, PM_D, cb);
	uint32_t nt = T1("norms", PM_K, norms);
	q = VAL("quant", PM_D);
	NODE(PNB_OP_VQ, "quant", q);
	n.n_in = 1; n.in[0] = x; n.n_w = 2; n.iattr[PNB_IA_VQ_MODE] = 1;
	n.w[PNB_W_VQ_CODEBOOK] = cbt; n.w[PNB_W_VQ_NORMS] = nt;
	pnb_w_node(wr, &n);
	v = VAL("pffn", PM_D);
	NODE(PNB_OP_POLY_FFN, "pffn", v);
	n.n_in = 1; n.in[0] = q; n.n_w = 5;
	n.iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_GELU; n.iattr[PNB_IA_POLYFFN_DEGREE] = 6;
	n.fattr[PNB_FA_POLYFFN_A] = -3.0f; n.fattr[PNB_FA_POLYFFN_B] = 3.0f;
	n.w[PNB_W_FFN_W1] = T2("pffn.w1", PM_D, PM_FF, RND(PM_D * PM_FF, 1.0f));
	n.w[PNB_W_FFN_B1] = T1("pffn.b1", PM_FF, RND(PM_FF, 0.5f));
	n.w[PNB_W_FFN_W2] = T2("pffn.w2", PM_FF, PM_D, RND(PM_FF * PM_D, 1.0f));
	n.w[PNB_W_FFN_B2] = T1("pffn.b2", PM_D, RND(PM_D, 0.5f));
	n.w[PNB_W_POLYFFN_COEFS] = T1("pffn.c", 7, COEFS(7));
	pnb_w_node(wr, &n);
	s = VAL("add1", PM_D);
	NODE(PNB_OP_ADD, "add1", s);
	n.n_in = 2; n.in[0] = v; n.in[1] = x;
	pnb_w_node(wr, &n);
	c = pnb_w_value(wr, "codes", PNB_DTYPE_I32, PNB_LAYOUT_TOKENS, 1);
	NODE(PNB_OP_VQ, "codes", c);
	n.n_in = 1; n.in[0] = x; n.n_w = 2; n.iattr[PNB_IA_VQ_MODE] = 0;
	n.w[PNB_W_VQ_CODEBOOK] = cbt; n.w[PNB_W_VQ_NORMS] = nt;
	pnb_w_node(wr, &n);
	v = VAL("cbffn", PM_D);
	NODE(PNB_OP_POLY_FFN, "cbffn", v);
	n.n_in = 1; n.in[0] = c; n.n_w = 6;
	n.iattr[PNB_IA_POLYFFN_ACT] = PNB_ACT_SILU; n.iattr[PNB_IA_POLYFFN_DEGREE] = 6;
	n.iattr[PNB_IA_POLYFFN_GATED] = 1; n.iattr[PNB_IA_POLYFFN_EVEN] = 1;
	n.iattr[PNB_IA_POLYFFN_CODEBOOK] = 1;
	n.fattr[PNB_FA_POLYFFN_A] = -4.0f; n.fattr[PNB_FA_POLYFFN_B] = 4.0f;
	n.w[PNB_W_FFN_W1] = T2("cbffn.w1", PM_D, 2 * PM_FF, RND(PM_D * 2 * PM_FF, 1.0f));
	n.w[PNB_W_FFN_W2] = T2("cbffn.w2", PM_FF, PM_D, RND(PM_FF * PM_D, 1.0f));
	n.w[PNB_W_FFN_B2] = T1("cbffn.b2", PM_D, RND(PM_D, 0.5f));
	n.w[PNB_W_POLYFFN_COEFS] = T1("cbffn.c", 4, COEFS(4));
	n.w[PNB_W_POLYFFN_CODEBOOK] = cbt;
	pnb_w_node(wr, &n);
	t = VAL("add2", PM_D);
	NODE(PNB_OP_ADD, "add2", t);
	n.n_in = 2; n.in[0] = s; n.in[1] = v;
	pnb_w_node(wr, &n);
	v = VAL("cache", PM_D);
	NODE(PNB_OP_VQ, "cache", v);
	n.n_in = 1; n.in[0] = x; n.n_w = 3; n.iattr[PNB_IA_VQ_MODE] = 2;
	n.w[PNB_W_VQ_CODEBOOK] = cbt; n.w[PNB_W_VQ_NORMS] = nt;
	n.w[PNB_W_VQ_TABLE] = T2("cache.t", PM_K, PM_D, RND(PM_K * PM_D, 1.0f));
	pnb_w_node(wr, &n);
	s = VAL("add3", PM_D);
	NODE(PNB_OP_ADD, "add3", s);
	n.n_in = 2; n.in[0] = t; n.in[1] = v;
	pnb_w_node(wr, &n);
	for (int m = 0; m < 2; m++) {	/* linear router top-2, then centroids top-1 */
		v = VAL(m ? "macro1" : "macro0", PM_D);
		NODE(PNB_OP_MACRO, m ? "macro1" : "macro0", v);
		n.n_in = 1; n.in[0] = s; n.n_w = 7;
		n.iattr[PNB_IA_MACRO_EXPERTS] = PM_E; n.iattr[PNB_IA_MACRO_ROUTER] = !m;
		n.iattr[PNB_IA_MACRO_TOPK] = m ? 1 : 2; n.iattr[PNB_IA_MACRO_DEGREE] = 5;
		n.iattr[PNB_IA_MACRO_ACT] = PNB_ACT_RELU;
		n.fattr[PNB_FA_MACRO_A] = -3.0f; n.fattr[PNB_FA_MACRO_B] = 3.0f;
		n.fattr[PNB_FA_MACRO_TAU] = 0.7f;
		if (m)
			n.w[PNB_W_MACRO_ROUTER] = T2("m1.router", PM_E, PM_D,
						     RND(PM_E * PM_D, 4.0f));
		else {
			n.w[PNB_W_MACRO_ROUTER] = T2("m0.router", PM_D, PM_E,
						     RND(PM_E * PM_D, 2.0f));
			n.w[PNB_W_MACRO_ROUTER_B] = T1("m0.router_b", PM_E, RND(PM_E, 1.0f));
		}
		n.w[PNB_W_MACRO_W1] = T2(m ? "m1.w1" : "m0.w1", PM_E * PM_D, PM_R,
					 RND(PM_E * PM_D * PM_R, 1.0f));
		n.w[PNB_W_MACRO_B1] = T1(m ? "m1.b1" : "m0.b1", PM_E * PM_R,
					 RND(PM_E * PM_R, 0.5f));
		sh[0] = PM_E; sh[1] = 6;
		n.w[PNB_W_MACRO_COEFS] = pnb_w_tensor(wr, m ? "m1.c" : "m0.c", PNB_DTYPE_F32, 2, sh,
						      COEFS(PM_E * 6));
		n.w[PNB_W_MACRO_W2] = T2(m ? "m1.w2" : "m0.w2", PM_E * PM_R, PM_D,
					 RND(PM_E * PM_R * PM_D, 1.0f));
		n.w[PNB_W_MACRO_B2] = T1(m ? "m1.b2" : "m0.b2", PM_E * PM_D,
					 RND(PM_E * PM_D, 0.5f));
		pnb_w_node(wr, &n);
		s = v;
	}
	q = VAL("qkv", 3 * PM_D);
	NODE(PNB_OP_LINEAR, "qkv", q);
	n.n_in = 1; n.in[0] = s; n.n_w = 2;
	n.w[PNB_W_LINEAR_W] = T2("qkv.w", PM_D, 3 * PM_D, RND(PM_D * 3 * PM_D, 1.0f));
	n.w[PNB_W_LINEAR_B] = T1("qkv.b", 3 * PM_D, RND(3 * PM_D, 0.5f));
	pnb_w_node(wr, &n);
	v = VAL("cqa", PM_D);
	NODE(PNB_OP_CQA, "cqa", v);
	n.n_in = 1; n.in[0] = q; n.n_w = 1;
	n.iattr[PNB_IA_CQA_HEADS] = 2; n.iattr[PNB_IA_CQA_CLUSTERS] = PM_MAXT;
	n.iattr[PNB_IA_CQA_ITERS] = 3; n.fattr[PNB_FA_CQA_SCALE] = 0.5f;
	n.w[PNB_W_CQA_PLANES] = T2("planes", 8, PM_D / 2, RND(8 * PM_D / 2, 1.0f));
	pnb_w_node(wr, &n);
	t = VAL("out", PM_D);
	NODE(PNB_OP_ADD, "out", t);
	n.n_in = 2; n.in[0] = v; n.in[1] = s;
	pnb_w_node(wr, &n);
#undef RND
#undef T2
#undef T1
#undef VAL
#undef NODE
#undef COEFS
	h.name = pnb_w_string(wr, "gpu_plan_poly");
	h.input = ids;
	h.output = t;
	h.max_tokens = PM_MAXT;
	h.tokenizer = PNB_TOKENIZER_NONE;
	h.tok_pieces = h.tok_scores = PNB_NONE;
	pnb_w_header(wr, &h);
	rc = pnb_w_finish(wr, path, err);
	pnb_writer_free(wr);
	return rc;
}

/* ---- the kernels' declared parameters, from the .ptx text ------------------------- */

/* Byte sizes of entry's .param list in file; the count, or -1 when not found. */
static int declared_params(const char *file, const char *entry, uint16_t *size, int cap)
{
	char path[256], pat[96], *text, *p, *end;
	FILE *f;
	long len;
	int n = 0;

	snprintf(path, sizeof(path), PTX_DIR "%s", file);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	snprintf(pat, sizeof(pat), ".entry %s(", entry);
	p = strstr(text, pat);
	end = p ? strchr(p, ')') : NULL;
	while (p && end && (p = strstr(p, ".param .")) && p < end && n < cap) {
		p += strlen(".param .");
		size[n++] = (p[1] == '6' && p[2] == '4') ? 8 : (p[1] == '3' && p[2] == '2') ? 4 :
			    (p[1] == '1' && p[2] == '6') ? 2 : 1;
	}
	free(text);
	return end ? n : -1;
}

/* ---- running a plan in the interpreter ---------------------------------------------- */

struct rig {
	const struct mdl *d;
	struct pn_gpu_plan *p;
	uint32_t max_batch, max_tokens;
	struct ptxi_module *mod[32];	/* per pn_gpu_kernels entry (its file's module) */
	struct ptxi_dev *dev;
	struct pn_gpu_mem mem;
	struct pn_gpu_launch *l;
	uint32_t n_launches;
	uint32_t kseq[512];		/* the first run's kernels, compared with later runs' */
	int have_seq;
};

static void rig_open(struct rig *r, const struct mdl *d, uint32_t max_batch,
		     uint32_t max_tokens)
{
	struct pn_err err;
	uint8_t used[32];
	size_t cb, ab;
	void *host;

	memset(r, 0, sizeof(*r));
	r->d = d;
	r->max_batch = max_batch;
	r->max_tokens = max_tokens;
	if (pn_gpu_plan_new(d->g, max_batch, max_tokens, &r->p, &err))
		fail_msg("plan: %s", err.msg);
	assert_true(pn_gpu_n_kernels <= 32);
	pn_gpu_plan_kernels_used(r->p, used);
	for (uint32_t k = 0; k < pn_gpu_n_kernels; k++) {
		struct ptxi_err e;
		char path[256];

		if (!used[k])
			continue;
		for (uint32_t j = 0; j < k && !r->mod[k]; j++)	/* same file: same module */
			if (r->mod[j] && !strcmp(pn_gpu_kernels[j].file, pn_gpu_kernels[k].file))
				r->mod[k] = r->mod[j];
		if (r->mod[k])
			continue;
		snprintf(path, sizeof(path), PTX_DIR "%s", pn_gpu_kernels[k].file);
		if (ptxi_load(path, &r->mod[k], &e))
			fail_msg("%s", e.msg);
	}
	r->dev = ptxi_dev_new();
	assert_non_null(r->dev);
	/* the whole mapped file, so that weight pointers map by their offset in it */
	r->mem.file_host = d->m->file.base;
	r->mem.file_bytes = d->m->file.size;
	r->mem.file = ptxi_alloc(r->dev, d->m->file.size);
	assert_true(r->mem.file != 0);
	assert_int_equal(ptxi_write(r->dev, r->mem.file, d->m->file.base, d->m->file.size), 0);
	cb = pn_gpu_plan_consts_bytes(r->p);
	ab = pn_gpu_plan_arena_bytes(r->p);
	host = malloc(cb > ab ? cb + 1 : ab + 1);
	assert_non_null(host);
	r->mem.consts = ptxi_alloc(r->dev, cb ? cb : 1);
	assert_true(r->mem.consts != 0);
	pn_gpu_plan_fill_consts(r->p, host);
	assert_int_equal(ptxi_write(r->dev, r->mem.consts, host, cb), 0);
	/* NaN in every arena byte: a padded row that leaks into a valid one shows */
	r->mem.arena = ptxi_alloc(r->dev, ab);
	assert_true(r->mem.arena != 0);
	memset(host, 0xff, ab);
	assert_int_equal(ptxi_write(r->dev, r->mem.arena, host, ab), 0);
	free(host);
	r->mem.ids = ptxi_alloc(r->dev, (size_t)max_batch * max_tokens * sizeof(int32_t));
	r->mem.lens = ptxi_alloc(r->dev, max_batch * sizeof(uint32_t));
	assert_true(r->mem.ids && r->mem.lens);
	r->n_launches = pn_gpu_plan_n_launches(r->p);
	assert_true(r->n_launches >= 1 && r->n_launches <= 512);
	r->l = calloc(r->n_launches, sizeof(*r->l));
	assert_non_null(r->l);
}

static void rig_close(struct rig *r)
{
	for (uint32_t k = 0; k < 32; k++) {
		if (!r->mod[k])
			continue;
		for (uint32_t j = k + 1; j < 32; j++)	/* shared modules freed once */
			if (r->mod[j] == r->mod[k])
				r->mod[j] = NULL;
		ptxi_free(r->mod[k]);
	}
	ptxi_dev_free(r->dev);
	pn_gpu_plan_free(r->p);
	free(r->l);
}

/* Whether device address a lies in [base, base + n). */
static int within(uint64_t a, uint64_t base, size_t n)
{
	return a >= base && a < base + n;
}

/* The launches' shape: kernels, grids, parameters against the .ptx declarations. */
static void check_launches(struct rig *r, uint32_t B, uint32_t T)
{
	size_t ab = pn_gpu_plan_arena_bytes(r->p), cb = pn_gpu_plan_consts_bytes(r->p);
	uint8_t used[32], seen[32] = { 0 };

	pn_gpu_plan_kernels_used(r->p, used);
	for (uint32_t i = 0; i < r->n_launches; i++) {
		const struct pn_gpu_launch *l = &r->l[i];
		const struct pn_gpu_kernel *k;
		uint16_t want[PN_GPU_MAX_PARAMS];
		int n;

		assert_true(l->kernel < pn_gpu_n_kernels);
		k = &pn_gpu_kernels[l->kernel];
		seen[l->kernel] = 1;
		assert_true(l->node < r->d->g->n_nodes);
		if (r->have_seq && r->kseq[i] != l->kernel)
			fail_msg("B %u T %u: launch %u runs %s, the first run's was %s", B, T, i,
				 k->entry, pn_gpu_kernels[r->kseq[i]].entry);
		r->kseq[i] = l->kernel;
		for (int a = 0; a < 3; a++)
			if (l->grid[a] < 1 || l->block[a] < 1)
				fail_msg("launch %u (%s): grid %u %u %u block %u %u %u", i,
					 k->entry, l->grid[0], l->grid[1], l->grid[2], l->block[0],
					 l->block[1], l->block[2]);
		n = declared_params(k->file, k->entry, want, PN_GPU_MAX_PARAMS);
		if (n != (int)l->n_params)
			fail_msg("launch %u (%s): %u params, the .entry declares %d", i, k->entry,
				 l->n_params, n);
		for (uint32_t p = 0; p < l->n_params; p++) {
			uint64_t v = 0;

			assert_int_equal(l->param_size[p], want[p]);
			assert_int_equal(l->param_off[p] % l->param_size[p], 0);
			assert_true(l->param_off[p] + l->param_size[p] <= PN_GPU_PARAM_BYTES);
			if (p)
				assert_true(l->param_off[p] >= l->param_off[p - 1] +
					    l->param_size[p - 1]);
			if (l->param_size[p] != 8)
				continue;
			memcpy(&v, l->blob + l->param_off[p], 8);
			/* every pointer is 0 or inside one of the plan's buffers; the u64
			 * counts (act_f32's, add_f32's n) are small, below the interpreter's
			 * first device address (tests/ptx/ptxi_mem.c, 0x10000000) */
			assert_true(v == 0 || within(v, r->mem.file, r->mem.file_bytes) ||
				    within(v, r->mem.consts, cb ? cb : 1) ||
				    within(v, r->mem.arena, ab) || v == r->mem.ids ||
				    v == r->mem.lens || v < 0x10000000u);
			if (within(v, r->mem.arena, ab))
				assert_int_equal((v - r->mem.arena) % 256, 0);
		}
	}
	for (uint32_t k = 0; k < pn_gpu_n_kernels; k++)
		assert_int_equal(seen[k], used[k]);
	r->have_seq = 1;
}

/*
 * One run of B sequences of T tokens (lens, ids [B, T]) through the plan in
 * the interpreter, compared with pn_exec_run of the same model; returns the
 * largest error relative to the bar (< 1 passes).
 */
static double rig_run(struct rig *r, uint32_t B, uint32_t T, const uint32_t *lens,
		      const int32_t *ids_in)
{
	const struct pn_graph *g = r->d->g;
	uint32_t ow;
	size_t ooff, rows;
	int tokens;
	int32_t *ids = calloc((size_t)B * T, sizeof(*ids));
	float *got, *want;
	struct pn_exec *x;
	struct pn_err err;
	double worst = 0;

	assert_non_null(ids);
	for (uint32_t b = 0; b < B; b++)	/* padding: id 0, as pn_exec_run pads */
		for (uint32_t t = 0; t < lens[b]; t++)
			ids[(size_t)b * T + t] = ids_in[(size_t)b * T + t];
	if (pn_gpu_plan_launches(r->p, &r->mem, B, T, r->l, &err))
		fail_msg("launches B %u T %u: %s", B, T, err.msg);
	check_launches(r, B, T);
	assert_int_equal(ptxi_write(r->dev, r->mem.ids, ids, (size_t)B * T * 4), 0);
	assert_int_equal(ptxi_write(r->dev, r->mem.lens, lens, B * 4), 0);
	for (uint32_t i = 0; i < r->n_launches; i++) {
		const struct pn_gpu_launch *l = &r->l[i];
		void *params[PN_GPU_MAX_PARAMS];
		struct ptxi_launch pl = {
			.grid = { l->grid[0], l->grid[1], l->grid[2] },
			.block = { l->block[0], l->block[1], l->block[2] },
			.dyn_shared = l->shared, .params = params, .n_params = l->n_params,
		};
		struct ptxi_err e;

		for (uint32_t p = 0; p < l->n_params; p++)
			params[p] = (void *)(l->blob + l->param_off[p]);
		if (ptxi_run(r->mod[l->kernel], r->dev, pn_gpu_kernels[l->kernel].entry, &pl, &e))
			fail_msg("launch %u (node '%s', %s): %s", i, g->nodes[l->node].name,
				 pn_gpu_kernels[l->kernel].entry, e.msg);
	}
	pn_gpu_plan_output(r->p, &ooff, &ow, &tokens);
	assert_int_equal(ooff % 256, 0);
	assert_int_equal(ow, g->values[g->output].width);
	rows = tokens ? (size_t)B * T : B;
	got = malloc(rows * ow * sizeof(float));
	want = malloc(rows * ow * sizeof(float));
	assert_true(got && want);
	assert_int_equal(ptxi_read(r->dev, r->mem.arena + ooff, got, rows * ow * 4), 0);
	if (pn_exec_new(r->d->cm, r->max_batch, r->max_tokens, NULL, &x, &err) ||
	    pn_exec_run(x, ids, lens, B, T, want, &err))
		fail_msg("pn_exec: %s", err.msg);
	pn_exec_free(x);
	for (size_t row = 0; row < rows; row++) {
		if (tokens && row % T >= lens[row / T])
			continue;	/* padded rows are unspecified */
		for (uint32_t c = 0; c < ow; c++) {
			double a = got[row * ow + c], b = want[row * ow + c];
			double e = fabs(a - b) / (TOL * (1 + fabs(b)));

			if (!(e < 1))
				fail_msg("B %u T %u: out[%zu, %u] = %.9g, pn_exec %.9g", B, T, row,
					 c, a, b);
			if (e > worst)
				worst = e;
		}
	}
	free(got);
	free(want);
	free(ids);
	return worst;
}

static void rand_ids(int32_t *ids, size_t n, uint32_t vocab, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		ids[i] = (int32_t)((seed >> 16) % vocab);
	}
}

/* Several (B, T, lens) through one plan of max_batch x max_tokens. */
static void run_shapes(const struct mdl *d, uint32_t max_batch, uint32_t max_tokens)
{
	static const uint32_t lens_a[] = { 1 }, lens_c[] = { 5, 2, 4 };
	uint32_t lens_full[8], lens_max[8], lens_two[8];
	struct rig r;
	int32_t ids[8 * 16];
	uint32_t vocab = d->g->vocab_size;

	assert_true(max_batch <= 8 && max_tokens <= 16);
	for (uint32_t b = 0; b < max_batch; b++) {
		lens_full[b] = max_tokens;
		lens_max[b] = 1 + (b * 7 + 3) % max_tokens;	/* ragged, 1..max_tokens */
		lens_two[b] = 1 + b % 2;
	}
	lens_max[0] = max_tokens;
	rand_ids(ids, sizeof(ids) / sizeof(ids[0]), vocab, max_batch * 31 + max_tokens);
	rig_open(&r, d, max_batch, max_tokens);
	rig_run(&r, 1, 1, lens_a, ids);				/* smallest */
	rig_run(&r, 1, max_tokens, lens_full, ids);		/* one full sequence */
	if (max_batch >= 3 && max_tokens >= 5)
		rig_run(&r, 3, 5, lens_c, ids);			/* T < max_tokens, ragged */
	rig_run(&r, max_batch, max_tokens, lens_max, ids);	/* B = max_batch, ragged */
	if (max_tokens >= 2)
		rig_run(&r, max_batch, 2, lens_two, ids);	/* B = max_batch, short */
	rig_close(&r);
}

/* ---- the suites --------------------------------------------------------------------- */

static void open_fixture(struct mdl *d)
{
	struct fx_weights *w = malloc(sizeof(*w));
	char path[64];
	struct pn_err err;

	assert_non_null(w);
	assert_int_equal(tmp_path(path, "fx"), 0);
	fx_init(w, 4242);
	if (fx_write(w, path, &err))
		fail_msg("fixture: %s", err.msg);
	free(w);
	assert_int_equal(mdl_open(d, path, 1), 0);
}

static void test_fixture_matches_cpu(void **state)
{
	struct mdl d;

	(void)state;
	open_fixture(&d);
	run_shapes(&d, 4, FX_MAXT);	/* TOKENS GEMMs on gemm_f32, SEQ ones on _rows */
	run_shapes(&d, 2, 8);		/* 16 rows: every GEMM on gemm_f32_rows */
	mdl_close(&d);
}

static void test_every_std_op_matches_cpu(void **state)
{
	struct mdl d;
	char path[64];
	struct pn_err err;
	struct pn_gpu_plan *p;
	uint8_t used[32];

	(void)state;
	assert_int_equal(tmp_path(path, "ops"), 0);
	if (ops_model_write(path, &err))
		fail_msg("ops model: %s", err.msg);
	assert_int_equal(mdl_open(&d, path, 1), 0);
	/* the kernels it is meant to exercise */
	assert_int_equal(pn_gpu_plan_new(d.g, 3, OM_MAXT, &p, &err), 0);
	pn_gpu_plan_kernels_used(p, used);
	static const char *const want[] = { "embed_f32", "rmsnorm_f32", "gemm_f32", "glu_f32",
		"act_f32", "pool_cls_f32", "add_rows_f32", "softmax_f32", "attention_fwd",
		"pool_mean_f32", "add_f32", "gemm_f32_rows", "l2norm_f32" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!used[pn_gpu_kernel_find(want[i])])
			fail_msg("%s not used", want[i]);
	assert_false(used[pn_gpu_kernel_find("attention_tiled")]);
	pn_gpu_plan_free(p);
	run_shapes(&d, 3, OM_MAXT);
	mdl_close(&d);
}

static void test_every_poly_op_matches_cpu(void **state)
{
	struct mdl d;
	char path[64];
	struct pn_err err;
	struct pn_gpu_plan *p;
	uint8_t used[32];

	(void)state;
	assert_int_equal(tmp_path(path, "poly"), 0);
	if (poly_model_write(path, &err))
		fail_msg("poly model: %s", err.msg);
	assert_int_equal(mdl_open(&d, path, 1), 0);
	assert_int_equal(pn_gpu_plan_new(d.g, 3, PM_MAXT, &p, &err), 0);
	pn_gpu_plan_kernels_used(p, used);
	static const char *const want[] = { "vq_assign", "vq_gather", "cheb_series",
		"polyffn_code_table", "macro_route", "macro_expert_fwd", "cqa_hash", "cqa_attend" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!used[pn_gpu_kernel_find(want[i])])
			fail_msg("%s not used", want[i]);
	pn_gpu_plan_free(p);
	run_shapes(&d, 3, PM_MAXT);
	mdl_close(&d);
}

static void test_kernel_table(void **state)
{
	(void)state;
	assert_int_equal(pn_gpu_n_kernels, 24);
	for (uint32_t k = 0; k < pn_gpu_n_kernels; k++) {
		uint16_t sz[PN_GPU_MAX_PARAMS];

		assert_int_equal(pn_gpu_kernel_find(pn_gpu_kernels[k].entry), (int)k);
		/* every entry is declared in the file the table names */
		if (declared_params(pn_gpu_kernels[k].file, pn_gpu_kernels[k].entry, sz,
				    PN_GPU_MAX_PARAMS) < 1)
			fail_msg("%s not in %s", pn_gpu_kernels[k].entry, pn_gpu_kernels[k].file);
	}
	assert_int_equal(pn_gpu_kernel_find("no_such_kernel"), -1);
}

static void test_bad_shapes_rejected(void **state)
{
	struct mdl d;
	struct pn_gpu_plan *p;
	struct pn_gpu_launch *l;
	struct pn_gpu_mem mem = { 0 };
	struct pn_err err;

	(void)state;
	open_fixture(&d);
	assert_int_equal(pn_gpu_plan_new(d.g, 2, FX_MAXT + 1, &p, &err), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(err.msg, "model limit"));
	assert_int_equal(pn_gpu_plan_new(d.g, 0, 4, &p, &err), -EINVAL);
	assert_int_equal(pn_gpu_plan_new(d.g, 3, 6, &p, &err), 0);
	l = calloc(pn_gpu_plan_n_launches(p), sizeof(*l));
	assert_non_null(l);
	assert_int_equal(pn_gpu_plan_launches(p, &mem, 4, 6, l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1..3 sequences of 1..6 tokens"));
	assert_int_equal(pn_gpu_plan_launches(p, &mem, 3, 7, l, &err), -EINVAL);
	assert_int_equal(pn_gpu_plan_launches(p, &mem, 0, 6, l, &err), -EINVAL);
	assert_int_equal(pn_gpu_plan_launches(p, &mem, 3, 0, l, &err), -EINVAL);
	assert_int_equal(pn_gpu_plan_launches(p, &mem, 3, 6, l, &err), 0);
	free(l);
	pn_gpu_plan_free(p);
	mdl_close(&d);
}

/*
 * Every op a valid file can hold has a lowering, so the unlowered case is a
 * copy of the fixture's graph with one node's op turned into a reserved
 * PolyNet op (polyglu: named, no descriptor, no lowering).
 */
static void test_unlowered_op_named(void **state)
{
	struct mdl d;
	struct pn_graph g2;
	struct pn_gnode *nodes;
	struct pn_err err;
	struct pn_gpu_plan *p = (void *)1;
	uint32_t at = UINT32_MAX;

	(void)state;
	open_fixture(&d);
	g2 = *d.g;
	nodes = malloc(g2.n_nodes * sizeof(*nodes));
	assert_non_null(nodes);
	memcpy(nodes, d.g->nodes, g2.n_nodes * sizeof(*nodes));
	for (uint32_t i = 0; i < g2.n_nodes; i++)
		if (!strcmp(nodes[i].name, "l0.ffn"))
			at = i;
	assert_true(at < g2.n_nodes);
	nodes[at].op = PNB_OP_POLYGLU;
	g2.nodes = nodes;
	assert_int_equal(pn_gpu_plan_new(&g2, 2, 4, &p, &err), -ENOTSUP);
	assert_null(p);
	assert_string_equal(err.msg, "node 'l0.ffn' (polyglu): no GPU lowering yet");
	free(nodes);
	mdl_close(&d);
}

/*
 * The causal decoder's ops (rope, attn_cache, logits) are refused by name:
 * their kernels exist (decoder.ptx, test_ptx_decoder.c) but the plan has
 * no positions or KV cache to give them. The refusal comes before any
 * lowering looks at the node, so the fixture's node with its op replaced
 * is enough.
 */
static void test_decoder_ops_refused(void **state)
{
	static const uint32_t ops[] = { PNB_OP_ROPE, PNB_OP_ATTN_CACHE, PNB_OP_LOGITS };
	static const char *const names[] = { "rope", "attn_cache", "logits" };
	struct mdl d;
	struct pn_graph g2;
	struct pn_gnode *nodes;
	struct pn_err err;
	char want[256];
	uint32_t at = UINT32_MAX;

	(void)state;
	open_fixture(&d);
	g2 = *d.g;
	nodes = malloc(g2.n_nodes * sizeof(*nodes));
	assert_non_null(nodes);
	for (uint32_t i = 0; i < g2.n_nodes; i++)
		if (!strcmp(d.g->nodes[i].name, "l0.attn"))
			at = i;
	assert_true(at < g2.n_nodes);
	g2.nodes = nodes;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		struct pn_gpu_plan *p = (void *)1;

		memcpy(nodes, d.g->nodes, g2.n_nodes * sizeof(*nodes));
		nodes[at].op = ops[k];
		assert_int_equal(pn_gpu_plan_new(&g2, 2, 4, &p, &err), -ENOTSUP);
		assert_null(p);
		snprintf(want, sizeof(want), "node 'l0.attn' (%s): the CUDA backend does not "
			 "serve causal decoders (positions and a KV cache per run); run this "
			 "model on the CPU backend", names[k]);
		assert_string_equal(err.msg, want);
	}
	free(nodes);
	mdl_close(&d);
}

/* A kernel's limit, named: 400000 x 12 rows pass gemm_f32's 65535 row tiles of 64. */
static void test_kernel_limit_named(void **state)
{
	struct mdl d;
	struct pn_err err;
	struct pn_gpu_plan *p = (void *)1;

	(void)state;
	open_fixture(&d);
	assert_int_equal(pn_gpu_plan_new(d.g, 400000, FX_MAXT, &p, &err), -EINVAL);
	assert_null(p);
	assert_string_equal(err.msg, "node 'l0.qkv' (linear): 4800000 rows: gemm_f32 takes at "
			    "most 4194240 (grid y of 64-row tiles <= 65535)");
	mdl_close(&d);
}

/* Up to n rows of "ids":[...] of the reference file into ids [n, T]; lens; the max length. */
static uint32_t reference_ids(const char *path, uint32_t n, uint32_t T, int32_t *ids,
			      uint32_t *lens)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	uint32_t b = 0, maxlen = 0;

	if (!f)
		return 0;
	while (b < n && getline(&line, &cap, f) > 0) {
		char *p = strstr(line, "\"ids\":[");
		uint32_t t = 0;

		if (!p)
			continue;
		p += strlen("\"ids\":[");
		while (*p && *p != ']' && t < T) {
			ids[(size_t)b * T + t++] = (int32_t)strtol(p, &p, 10);
			while (*p == ',' || *p == ' ')
				p++;
		}
		lens[b++] = t;
		if (t > maxlen)
			maxlen = t;
	}
	free(line);
	fclose(f);
	return b == n ? maxlen : 0;
}

static void test_use_lite_matches_cpu(void **state)
{
	const char *path = getenv("POLYNET_USE_PNB");
	enum { NB = 2, CAP = 64 };
	int32_t raw[NB * CAP], ids[NB * CAP];
	uint32_t lens[NB], T;
	size_t arena;
	struct mdl d;
	struct rig r;
	struct timespec t0, t1;
	double worst;

	(void)state;
	if (!path)
		path = "build/use.pnb";
	if (access(path, R_OK)) {
		fprintf(stderr, "test_gpu_plan: %s absent (set POLYNET_USE_PNB): USE lite "
			"not run\n", path);
		skip();
	}
	T = reference_ids("tests/data/use_reference.jsonl", NB, CAP, raw, lens);
	assert_true(T >= 1);
	assert_int_equal(mdl_open(&d, path, 0), 0);
	assert_true(T <= d.m->max_tokens);
	for (uint32_t b = 0; b < NB; b++)	/* [NB, CAP] rows to [NB, T] */
		for (uint32_t t = 0; t < T; t++)
			ids[b * T + t] = t < lens[b] ? raw[b * CAP + t] : 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rig_open(&r, &d, NB, T);
	worst = rig_run(&r, NB, T, lens, ids);
	arena = pn_gpu_plan_arena_bytes(r.p);
	rig_close(&r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "test_gpu_plan: USE lite, %u sentences of <= %u tokens, %u launches, "
		"arena %zu bytes: %.1f s in the interpreter, worst error %.3g of the 1e-4 bar\n",
		NB, T, r.n_launches, arena,
		(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, worst);
	mdl_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_table),
		cmocka_unit_test(test_fixture_matches_cpu),
		cmocka_unit_test(test_every_std_op_matches_cpu),
		cmocka_unit_test(test_bad_shapes_rejected),
		cmocka_unit_test(test_unlowered_op_named),
		cmocka_unit_test(test_decoder_ops_refused),
		cmocka_unit_test(test_kernel_limit_named),
		cmocka_unit_test(test_every_poly_op_matches_cpu),
		cmocka_unit_test(test_use_lite_matches_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
