/* SPDX-License-Identifier: MIT */
/*
 * polyc.h - the PolyNet compiler passes (issue 5; docs/compile.md,
 * "PolyNet passes"): calibration of an exact .pnb on text, a rewriter that
 * copies a .pnb while substituting nodes, the four passes, and the
 * logistic-regression head of `polyctl eval`.
 *
 * Everything here runs at compile time: it allocates freely, is
 * deterministic for a given seed, never prints, and reports -errno with a
 * line in struct pn_err naming the file, entry or layer at fault.
 */
#ifndef PN_COMPILE_POLYC_H
#define PN_COMPILE_POLYC_H

#include <stddef.h>
#include <stdint.h>

#include "util/pn_err.h"
#include "cpu/cheb.h"
#include "format/pnb.h"

/* ---- labelled text sets (textset.c) ---------------------------------------- */

/* The passes' deterministic random source (a seed in, a stream out). */
uint64_t pn_rand_u64(uint64_t *state);		/* splitmix64 */
float pn_rand_gauss(uint64_t *state);		/* N(0, 1), Box-Muller */

struct pn_textset {
	uint32_t n;
	char **text;		/* NUL-terminated, owned */
	size_t *len;
	int8_t *label;		/* 0, 1, or -1 where the entry had no "class" */
};

/*
 * path: a JSON list of {"text": string, "class": 0|1} (class optional; an
 * entry with "class" null or absent gets label -1; one with neither text nor
 * class is skipped, as sentiment's fixtures end with one), or, when the file
 * does not start with '[', one text per non-empty line (labels -1). Errors name
 * the file, the entry index and what was expected.
 */
int pn_textset_load(const char *path, struct pn_textset *s, struct pn_err *err);
void pn_textset_free(struct pn_textset *s);

/* ---- calibration (calib.c) -------------------------------------------------- */

struct pn_calib_opts {
	uint32_t rows;		/* reservoir size in token rows (0: 4096) */
	uint32_t batch;		/* texts per run (0: 32) */
	uint64_t seed;		/* reservoir sampling */
	/* Called after each batch with texts done / total; NULL: quiet. */
	void (*progress)(void *arg, uint32_t done, uint32_t total);
	void *progress_arg;
};

/* What calibration recorded for one value. */
struct pn_calib_value {
	uint32_t value, width;
	uint64_t seen;		/* rows the model produced (valid tokens only) */
	double min, max;	/* over every element of every valid row */
	float *sample;		/* [n_sample, width]: the reservoir rows */
};

struct pn_calib {
	uint32_t n_values;
	struct pn_calib_value *v;
	uint32_t n_sample;	/* rows kept (same token rows for every value) */
	uint64_t tokens;	/* valid tokens seen */
	uint32_t texts;
	uint32_t *lens;		/* [texts]: tokens per text after clipping */
};

/*
 * Runs the model at path on the texts, recording for each TOKENS F32 value
 * in values[] (indices in that file) its range and a reservoir of the same
 * token rows (uniform over every valid token, algorithm R). -EINVAL for no
 * texts, a value that is not TOKENS F32, or fewer than 2 tokens in all.
 */
int pn_calib_run(const char *path, const struct pn_textset *texts,
		 const uint32_t *values, uint32_t n_values,
		 const struct pn_calib_opts *o, struct pn_calib *out,
		 struct pn_err *err);
/* The record of value v, or NULL if it was not calibrated. */
const struct pn_calib_value *pn_calib_find(const struct pn_calib *c, uint32_t v);
void pn_calib_free(struct pn_calib *c);
/* The q-quantile (0..1) of n floats (copied and sorted; NaN-free input). */
double pn_quantile(const float *x, size_t n, double q);

/* ---- rewriter (rewrite.c) --------------------------------------------------- */

/*
 * Copies a validated file through the writer, letting passes replace nodes
 * and add tensors and values. Indices below the file's counts are the
 * file's own; new tensors and values get the next ones. finish() drops the
 * nodes, values and tensors nothing reaches from the output (dead code
 * after a substitution), renumbers, and writes the file atomically.
 */
struct pn_rw;

int pn_rw_new(const struct pnb_file *f, struct pn_rw **out, struct pn_err *err);
void pn_rw_free(struct pn_rw *rw);
uint32_t pn_rw_n_nodes(const struct pn_rw *rw);
const struct pnb_node *pn_rw_node(const struct pn_rw *rw, uint32_t i);
const char *pn_rw_node_name(const struct pn_rw *rw, uint32_t i);
/* Position of the node named name / producing value v, or PNB_NONE. */
uint32_t pn_rw_find_node(const struct pn_rw *rw, const char *name);
uint32_t pn_rw_producer(const struct pn_rw *rw, uint32_t v);
/* Nodes reading value v. */
uint32_t pn_rw_readers(const struct pn_rw *rw, uint32_t v);
/* Value / tensor named name in the original file, or PNB_NONE. */
uint32_t pn_rw_find_value(const struct pn_rw *rw, const char *name);
/* Shape and data of tensor t (original or added). */
const struct pnb_tensor *pn_rw_tensor_info(const struct pn_rw *rw, uint32_t t);
const float *pn_rw_tensor_f32(const struct pn_rw *rw, uint32_t t);
const struct pnb_value *pn_rw_value_info(const struct pn_rw *rw, uint32_t v);
const char *pn_rw_value_name(const struct pn_rw *rw, uint32_t v);
/* Adds an F32 tensor (data copied) / a value; PNB_NONE when out of memory. */
uint32_t pn_rw_tensor(struct pn_rw *rw, const char *name, uint32_t ndim,
		      const uint64_t *shape, const float *data);
uint32_t pn_rw_value(struct pn_rw *rw, const char *name, uint32_t dtype,
		     uint32_t layout, uint32_t width);
/*
 * Node i is replaced by n nodes (0 deletes it), each named names[k]
 * (n->name is ignored). Later nodes shift by n - 1. -ENOMEM or 0.
 */
int pn_rw_replace(struct pn_rw *rw, uint32_t i, const struct pnb_node *nodes,
		  const char *const *names, uint32_t n);
/* Drops the nodes nothing reaches from the output (after a substitution). */
int pn_rw_prune(struct pn_rw *rw);
/* Writes path; stats (may be NULL) as compile.h's. */
int pn_rw_finish(struct pn_rw *rw, const char *path, uint32_t *n_nodes,
		 uint64_t *file_bytes, struct pn_err *err);

/* ---- the passes (pass_*.c, driven by polyc.c) ------------------------------ */

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

/* in: an exact .pnb; out: the rewritten one (atomically). report may be NULL. */
int pn_compile_poly(const char *in, const char *out, const struct pn_poly_opts *o,
		    struct pn_poly_report *report, struct pn_err *err);

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

/*
 * Fits a Macro-Operator to y ≈ x + F(x) on n rows of X, Y [n, D]: router by
 * k-means (E centroids), per expert W1 = random Gaussian [D, r] scaled so
 * the pre-activations have unit RMS, series of act of the given degree on
 * [-4, 4] (even), [W2; b2] by ridge regression of Y - X on the expert's
 * rows. Outputs are malloc'd in m (free with pn_macro_fit_free). *resid:
 * ||fit - (Y - X)||^2 / ||Y - X||^2 on the rows.
 */
struct pn_macro;
struct pn_macro_fit {
	float *router, *W1, *b1, *coefs, *W2, *b2;
	uint32_t E, D, rank, degree, topk;
	uint32_t act;
	float range;		/* series on [-range, range]: the largest |pre-activation| */
	double resid;
};
/*
 * Ridge regression R ≈ [H] [W2; b2] by the normal equations (Cholesky in
 * double): H [n, r1] holds the features with a last column of ones, R [n, D]
 * the targets; W2 [r1 - 1, D], b2 [D]. lambda is relative to the mean
 * diagonal of H^T H, so one setting fits any scale. -EDOM when the system is
 * not positive definite, -ENOMEM.
 */
int pn_ridge_fit(const float *H, const float *R, uint32_t n, uint32_t r1, uint32_t D,
		 double lambda, float *W2, float *b2);
int pn_macro_fit(const float *X, const float *Y, uint32_t n, uint32_t D, uint32_t E,
		 uint32_t rank, uint32_t degree, uint32_t act, uint32_t topk, double ridge,
		 uint64_t seed, struct pn_macro_fit *m, struct pn_err *err);
void pn_macro_fit_free(struct pn_macro_fit *m);
/* m as the kernel's struct (pointers into fit, which must outlive it). */
void pn_macro_fit_view(const struct pn_macro_fit *fit, struct pn_macro *m);

/* ---- logistic regression (logreg.c) ----------------------------------------- */

/*
 * L2-regularised logistic regression on X [n, d] with labels y in {0,1}:
 * minimises mean log-loss + lambda/2 ||w||^2 (bias not penalised) by Newton's
 * method (Cholesky of the (d+1)^2 Hessian; deterministic). w [d + 1], the
 * bias last. -EINVAL for n == 0, d == 0, a label outside {0,1}, a single
 * class, or NaN/Inf in X.
 */
int pn_logreg_fit(const float *X, const int8_t *y, uint32_t n, uint32_t d, double lambda,
		  uint32_t max_iter, double *w, struct pn_err *err);
/* P(y = 1 | x). */
double pn_logreg_prob(const double *w, const float *x, uint32_t d);

/* Solves A x = b in place (b -> x) for SPD A [n, n] (destroyed): Cholesky. -EDOM if not SPD. */
int pn_cholesky_solve(double *A, double *b, uint32_t n, uint32_t nrhs);

#endif /* PN_COMPILE_POLYC_H */
