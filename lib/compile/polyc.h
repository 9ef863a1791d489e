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
#include "compile/rand.h"

/* ---- labelled text sets (textset.c) ---------------------------------------- */


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
	uint32_t layout;	/* PNB_LAYOUT_TOKENS or PNB_LAYOUT_SEQ */
	uint32_t n_rows;	/* rows in sample: n_sample (TOKENS) or texts kept (SEQ) */
	uint64_t seen;		/* rows the model produced (valid tokens only) */
	double min, max;	/* over every element of every valid row */
	float *sample;		/* [n_rows, width]: the reservoir rows, or one per text */
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
 * Runs the model at path on the texts, recording for each F32 value in
 * values[] (indices in that file) its range and a sample: for a TOKENS
 * value a reservoir of the same token rows (uniform over every valid
 * token, algorithm R); for a SEQ value the rows of the first `rows` texts.
 * -EINVAL for no texts, a value that is not F32 TOKENS or SEQ, or fewer
 * than 2 tokens in all.
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
const float *pn_rw_tensor_f32(const struct pn_rw *rw, uint32_t t);	/* NULL unless F32 */
const void *pn_rw_tensor_data(const struct pn_rw *rw, uint32_t t);
const struct pnb_value *pn_rw_value_info(const struct pn_rw *rw, uint32_t v);
const char *pn_rw_value_name(const struct pn_rw *rw, uint32_t v);
/* Adds an F32 tensor (data copied) / a value; PNB_NONE when out of memory. */
uint32_t pn_rw_tensor(struct pn_rw *rw, const char *name, uint32_t ndim,
		      const uint64_t *shape, const float *data);
uint32_t pn_rw_value(struct pn_rw *rw, const char *name, uint32_t dtype,
		     uint32_t layout, uint32_t width);
/* The same for any dtype: data holds the shape's elements of dtype (copied). */
uint32_t pn_rw_tensor_typed(struct pn_rw *rw, const char *name, uint32_t dtype, uint32_t ndim,
			    const uint64_t *shape, const void *data);
/* Node i's weights or attributes change in place (its out and inputs must not). */
void pn_rw_set_node(struct pn_rw *rw, uint32_t i, const struct pnb_node *n);
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

#include "compile/pass.h"

/* ---- the driver (polyc.c): calibrate, run the passes ------------------------ */

/* in: an exact .pnb; out: the rewritten one (atomically). report may be NULL. */
int pn_compile_poly(const char *in, const char *out, const struct pn_poly_opts *o,
		    struct pn_poly_report *report, struct pn_err *err);

/* ---- fitting (macro_fit.c) -------------------------------------------------- */

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
