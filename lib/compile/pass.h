/* SPDX-License-Identifier: MIT */
/*
 * pass.h - what the PolyNet passes (pass_*.c) share: their options and
 * report, the context polyc.c hands each pass, the FFN sites and node
 * builders of pass_common.c, and each pass's entry point. Included by
 * compile/polyc.h after the calibration and rewriter types it uses.
 */
#ifndef PN_COMPILE_PASS_H
#define PN_COMPILE_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/cheb.h"
#include "format/pnb.h"
#include "util/pn_err.h"

struct pn_rw;
struct pn_calib;

struct pn_poly_opts {
	const char *calib;	/* calibration text file (textset format) */
	uint32_t calib_rows;	/* reservoir rows (0: 4096) */
	uint32_t calib_max;	/* use at most this many texts (0: all) */
	uint64_t seed;		/* k-means, LSH planes, reservoir (0: 1) */

	int poly_ffn;		/* PackedPolyFFN */
	double poly_tol;	/* max |series - act| over the range (0: 0.01) */
	double poly_clip;	/* range: this quantile of |pre-activation| (0: 0.999) */
	uint32_t poly_max_degree;	/* 0: PNB_POLY_MAX_DEGREE */
	int poly_force;		/* apply the best fit even when tol is missed */
	uint32_t poly_layers;	/* bit mask of layers (0: all); so are the others */

	uint32_t vq;		/* VQ CacheNode codebook size K (0: off) */
	uint32_t vq_layers;
	int vq_codebook;	/* codebook mode: VQ codes -> POLY_FFN per present code */

	uint32_t cqa;		/* clusters per head (0: off) */
	uint32_t cqa_topk;	/* 0: plain; k: the improved top-k variant */
	uint32_t cqa_bits;	/* LSH planes (0: 32) */
	uint32_t cqa_layers;

	uint32_t macro;		/* experts E (0: off) */
	uint32_t macro_rank;	/* hidden width per expert (0: 128) */
	uint32_t macro_len;	/* layers in the replaced run (0: all) */
	uint32_t macro_topk;	/* 1 or 2 (0: 1) */
	uint32_t macro_degree;	/* series degree of the experts (0: 8) */
	double macro_ridge;	/* ridge lambda relative to trace/n (0: 1e-3) */
	uint32_t macro_first;	/* 1 + the run's first layer (0: the most alike run) */
	int macro_seed_ffn;	/* seed the expert from the run's own FFN (E 1 only) */
	int attn_mean;		/* mean mixing: uniform attention on attn_mean_layers */
	uint32_t attn_mean_layers;
	uint32_t ffn_keep;	/* FFN neuron selection: hidden neurons kept (0: off) */
	uint32_t ffn_keep_layers;
	uint32_t ffn_keep_per[32];	/* per layer K, from "--ffn-keep K0,K1" (0: ffn_keep) */
	double ffn_keep_ridge;	/* ridge lambda of the W2 refit (0: 1e-4) */
	uint32_t quant;		/* GEMM weights: PNB_DTYPE_I8 or PNB_DTYPE_BF16 (0: f32) */
	int quant_static;	/* int8: one calibrated input quantization per GEMM */
	double quant_clip;	/* static: quantile bounding the input range (0: 0.9999) */
	double quant_budget;	/* keep a GEMM f32 above this rel_err (0: quantize all) */
	uint32_t quant_layers;	/* layers quantized (0: all, and the nodes of no layer) */

	void (*progress)(void *arg, const char *stage, uint32_t done, uint32_t total);
	void *progress_arg;
};

/* A pass's report: a text block and a JSON object (cJSON, owned). */
struct pn_poly_report {
	char *text;		/* malloc'd, lines ending in '\n' */
	size_t len, cap;
	struct cJSON *json;	/* {"calibration":..., "poly_ffn":[...], ...} */
};

/* Appends printf-style text to r->text (silently truncated on ENOMEM). */
void pn_report_printf(struct pn_poly_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pn_report_free(struct pn_poly_report *r);

/* What a pass sees: the rewriter, the calibration and the options. */
struct pn_pass_ctx {
	struct pn_rw *rw;
	const struct pnb_file *f;
	const struct pn_calib *cal;
	const struct pn_poly_opts *o;
	struct pn_poly_report *rep;
};

/*
 * An FFN site: an FFN node, or the pool-folded form LINEAR(act) ->
 * POOL_MEAN -> LINEAR (docs/compile.md, "Exact rewrites"). Either computes
 * the per-token FFN(x) = act(x W1 + b1) W2 + b2; the folded one pools it.
 */
struct pn_ffn_site {
	uint32_t layer;		/* from the node name "lN.", or PNB_NONE */
	int folded;
	uint32_t node;		/* FFN node, or the down LINEAR (folded) */
	uint32_t in;		/* value: FFN input */
	uint32_t out;		/* value: FFN output (TOKENS) or the pooled one (SEQ) */
	uint32_t W1, b1, W2, b2;	/* tensor indices (b may be PNB_NONE) */
	uint32_t act;
	int gated;
	uint32_t D, ff;
};

/* The FFN sites of the rewriter's current graph, up to max. */
uint32_t pn_ffn_sites(const struct pn_rw *rw, struct pn_ffn_site *s, uint32_t max);
/*
 * Replaces a site by node n (which must compute the per-token FFN output
 * from the site's input into a value of its own: n->out is overwritten),
 * adding the pooling for a folded site. name names the new node.
 */
int pn_ffn_site_replace(struct pn_rw *rw, const struct pn_ffn_site *s,
			struct pnb_node *n, const char *name, struct pn_err *err);
/* The same with k nodes (n[k - 1] computes the FFN output; the others feed it). */
#define PN_SITE_MAX_NODES 4u
int pn_ffn_site_replace_n(struct pn_rw *rw, const struct pn_ffn_site *s,
			  struct pnb_node *n, const char *const *names, uint32_t k,
			  struct pn_err *err);
/* u = x W1[:, :ff] + b1[:ff] for the rows of x (the gate half when gated); malloc'd. */
float *pn_ffn_pre_activations(const struct pn_rw *rw, const struct pn_ffn_site *s,
			      const float *x, uint32_t rows);
/*
 * Node builders for the rewrites: pn_node1 any one-input op; pn_node_linear
 * y = act(x W + b) (b may be PNB_NONE); pn_node_add a + b (b SEQ under a
 * TOKENS value broadcasts over the tokens).
 */
void pn_node1(struct pnb_node *n, uint32_t op, uint32_t out, uint32_t in);
void pn_node_linear(struct pnb_node *n, uint32_t out, uint32_t in, uint32_t W, uint32_t b,
		    uint32_t act);
void pn_node_add(struct pnb_node *n, uint32_t out, uint32_t a, uint32_t b);
/* Adds the F32 tensor "<prefix><suffix>", [d0] (d1 0) or [d0, d1]; PNB_NONE on ENOMEM. */
uint32_t pn_rw_tensor_named(struct pn_rw *rw, const char *prefix, const char *suffix,
			    uint64_t d0, uint64_t d1, const float *data);
/* The layer number of a node named "lN....", or PNB_NONE. */
uint32_t pn_layer_of(const char *name);
static inline int pn_layer_on(uint32_t mask, uint32_t layer)
{
	return !mask || (layer < 32 && (mask >> layer & 1));
}

/* Per-token FFN(x) for rows of x into y (exact activation). */
void pn_ffn_site_eval(const struct pn_rw *rw, const struct pn_ffn_site *s,
		      const float *x, uint32_t rows, float *y);

struct cJSON;
/* Runs fn on each FFN site of the chosen layers (that ok accepts), then prunes. */
int pn_ffn_sites_rewrite(struct pn_pass_ctx *c, const char *title, const char *json_key,
			 uint32_t layers, int (*ok)(const struct pn_ffn_site *s),
			 int (*fn)(struct pn_pass_ctx *c, const struct pn_ffn_site *s,
				   struct cJSON *arr, struct pn_err *err),
			 struct pn_err *err);
int pn_pass_polyffn(struct pn_pass_ctx *c, struct pn_err *err);
int pn_pass_vq(struct pn_pass_ctx *c, struct pn_err *err);
int pn_pass_cqa(struct pn_pass_ctx *c, struct pn_err *err);
int pn_pass_macro(struct pn_pass_ctx *c, struct pn_err *err);
int pn_pass_ffn_keep(struct pn_pass_ctx *c, struct pn_err *err);
int pn_pass_attn_mean(struct pn_pass_ctx *c, struct pn_err *err);
/* Last: the LINEAR and FFN GEMM weights left, int8 or bf16 (pass_quant.c). */
int pn_pass_quant(struct pn_pass_ctx *c, struct pn_err *err);
/*
 * The FFN-seeded Macro-Operator (pass_macro_ffn.c): replaces the producer of
 * out by x + act(LN(x) W1[:, S] + b1[S]) W2' + b2' with x = in, the LayerNorm
 * node ln_node's and the site ffn's tensors, S its --macro-rank most
 * energetic neurons and [W2'; b2'] ridge-fitted to Y - X (rows [n, D]).
 */
int pn_macro_seeded(struct pn_pass_ctx *c, const struct pn_ffn_site *ffn, uint32_t ln_node,
		    const float *X, const float *Y, uint32_t n, uint32_t D, uint32_t in,
		    uint32_t out, const char *name, struct cJSON *obj, struct pn_err *err);
/*
 * Neuron selection for one FFN's hidden layer: hidden H [n, ff] of the
 * calibration rows and W2 [ff, D]; the keep indices of the k neurons with
 * the largest mean h_j^2 * ||W2_j||^2 (their share of the output energy),
 * ascending. Returns the share of that energy the kept neurons carry, or
 * -1 when out of memory (keep untouched).
 */
double pn_ffn_select(const float *H, uint32_t n, uint32_t ff, const float *W2, uint32_t D,
		     uint32_t k, uint32_t *keep);
/*
 * The kept neurons' features for a ridge fit: Hs [n, stride] gets columns
 * keep[0..k) of H [n, ff] first and a 1 in its last column (the caller may
 * fill the ones between); W1k [D, k] and b1k [k] (b1 may be NULL: zeros)
 * the kept columns of the first layer.
 */
void pn_ffn_gather(const float *H, uint32_t n, uint32_t ff, const uint32_t *keep, uint32_t k,
		   uint32_t stride, float *Hs);
void pn_ffn_gather_w1(const float *W1, const float *b1, uint32_t D, uint32_t ff,
		      const uint32_t *keep, uint32_t k, float *W1k, float *b1k);
/* The values the macro pass needs calibrated (layer inputs, attn.add, ln2). */
uint32_t pn_macro_calib_values(const struct pn_rw *rw, uint32_t *v, uint32_t max);

/*
 * Fits the PackedPolyFFN series of act to pre-activations u [n] (all
 * samples): symmetric range [-r, r], r the clip quantile of |u|, the lowest
 * even degree meeting tol (pn_cheb_choose). c holds
 * pn_cheb_ncoef(max_degree, 1) floats. Returns 0, -ERANGE (tol missed; p
 * holds the best fit) or -EINVAL (no samples, NaN/Inf, r == 0: a degenerate
 * range) with err.
 */
int pn_polyffn_fit(uint32_t act, const float *u, size_t n, double clip, double tol,
		   uint32_t max_degree, struct pn_cheb *p, float *c, double *fit_err,
		   struct pn_err *err);

#endif /* PN_COMPILE_PASS_H */
