// SPDX-License-Identifier: MIT
/*
 * logreg.c - the logistic-regression head of `polyctl eval` (Newton's
 * method with a backtracking line search: deterministic, a few dozen
 * iterations at most) and the Cholesky solver it shares with the ridge fits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compile/polyc.h"

int pn_cholesky_solve(double *A, double *b, uint32_t n, uint32_t nrhs)
{
	for (uint32_t j = 0; j < n; j++) {
		double s = A[(size_t)j * n + j];

		for (uint32_t k = 0; k < j; k++)
			s -= A[(size_t)j * n + k] * A[(size_t)j * n + k];
		if (!(s > 0))
			return -EDOM;
		s = sqrt(s);
		A[(size_t)j * n + j] = s;
		for (uint32_t i = j + 1; i < n; i++) {
			double t = A[(size_t)i * n + j];

			for (uint32_t k = 0; k < j; k++)
				t -= A[(size_t)i * n + k] * A[(size_t)j * n + k];
			A[(size_t)i * n + j] = t / s;
		}
	}
	for (uint32_t c = 0; c < nrhs; c++) {
		for (uint32_t i = 0; i < n; i++) {	/* L z = b */
			double t = b[(size_t)i * nrhs + c];

			for (uint32_t k = 0; k < i; k++)
				t -= A[(size_t)i * n + k] * b[(size_t)k * nrhs + c];
			b[(size_t)i * nrhs + c] = t / A[(size_t)i * n + i];
		}
		for (uint32_t i = n; i--;) {		/* L^T x = z */
			double t = b[(size_t)i * nrhs + c];

			for (uint32_t k = i + 1; k < n; k++)
				t -= A[(size_t)k * n + i] * b[(size_t)k * nrhs + c];
			b[(size_t)i * nrhs + c] = t / A[(size_t)i * n + i];
		}
	}
	return 0;
}

static double margin(const double *w, const float *x, uint32_t d)
{
	double z = w[d];

	for (uint32_t j = 0; j < d; j++)
		z += w[j] * x[j];
	return z;
}

double pn_logreg_prob(const double *w, const float *x, uint32_t d)
{
	return 1 / (1 + exp(-margin(w, x, d)));
}

/* mean log-loss + lambda/2 ||w||^2 (bias excluded), computed stably. */
static double objective(const float *X, const int8_t *y, uint32_t n, uint32_t d,
			double lambda, const double *w)
{
	double loss = 0, reg = 0;

	for (uint32_t i = 0; i < n; i++) {
		double z = margin(w, X + (size_t)i * d, d), s = y[i] ? -z : z;

		loss += s > 0 ? s + log1p(exp(-s)) : log1p(exp(s));
	}
	for (uint32_t j = 0; j < d; j++)
		reg += w[j] * w[j];
	return loss / n + lambda / 2 * reg;
}

int pn_logreg_fit(const float *X, const int8_t *y, uint32_t n, uint32_t d, double lambda,
		  uint32_t max_iter, double *w, struct pn_err *err)
{
	uint32_t d1 = d + 1, pos = 0;
	double *H, *g, *wt, f;
	int rc = 0;

	if (!n || !d)
		return pn_errf(err, -EINVAL, "logreg: %u examples of %u features, expected at "
			       "least one of each", n, d);
	for (uint32_t i = 0; i < n; i++) {
		if (y[i] != 0 && y[i] != 1)
			return pn_errf(err, -EINVAL, "logreg: example %u has label %d, expected "
				       "0 or 1", i, y[i]);
		pos += (uint32_t)y[i];
		for (uint32_t j = 0; j < d; j++)
			if (!isfinite(X[(size_t)i * d + j]))
				return pn_errf(err, -EINVAL, "logreg: example %u feature %u is "
					       "%g, expected a finite value", i, j,
					       X[(size_t)i * d + j]);
	}
	if (!pos || pos == n)
		return pn_errf(err, -EINVAL, "logreg: all %u examples are class %d, expected "
			       "both classes", n, pos ? 1 : 0);
	H = malloc((size_t)d1 * d1 * sizeof(*H));
	g = malloc(d1 * sizeof(*g));
	wt = malloc(d1 * sizeof(*wt));
	if (!H || !g || !wt) {
		rc = pn_errf(err, -ENOMEM, "logreg: out of memory");
		goto out;
	}
	memset(w, 0, d1 * sizeof(*w));
	f = objective(X, y, n, d, lambda, w);
	for (uint32_t it = 0; it < (max_iter ? max_iter : 50); it++) {
		double step = 1, maxd = 0, fn;

		memset(H, 0, (size_t)d1 * d1 * sizeof(*H));
		memset(g, 0, d1 * sizeof(*g));
		for (uint32_t i = 0; i < n; i++) {
			const float *x = X + (size_t)i * d;
			double p = pn_logreg_prob(w, x, d), r = (p - y[i]) / n;
			double s = p * (1 - p) / n;

			for (uint32_t a = 0; a < d1; a++) {
				double xa = a < d ? x[a] : 1;

				g[a] += r * xa;
				for (uint32_t b = a; b < d1; b++)
					H[(size_t)a * d1 + b] += s * xa * (b < d ? x[b] : 1);
			}
		}
		for (uint32_t a = 0; a < d1; a++) {
			for (uint32_t b = 0; b < a; b++)
				H[(size_t)a * d1 + b] = H[(size_t)b * d1 + a];
			if (a < d) {
				g[a] += lambda * w[a];
				H[(size_t)a * d1 + a] += lambda;
			}
			H[(size_t)a * d1 + a] += 1e-10;	/* the bias row when lambda is 0 */
		}
		if (pn_cholesky_solve(H, g, d1, 1)) {
			rc = pn_errf(err, -EDOM, "logreg: Hessian not positive definite at "
				     "iteration %u (lambda %g too small?)", it, lambda);
			goto out;
		}
		/* Backtracking: Newton's full step can overshoot far from the optimum. */
		for (;;) {
			for (uint32_t a = 0; a < d1; a++)
				wt[a] = w[a] - step * g[a];
			fn = objective(X, y, n, d, lambda, wt);
			if (fn <= f || step < 1e-6)
				break;
			step /= 2;
		}
		for (uint32_t a = 0; a < d1; a++) {
			maxd = fmax(maxd, fabs(wt[a] - w[a]));
			w[a] = wt[a];
		}
		f = fn;
		if (maxd < 1e-9)
			break;
	}
out:
	free(H);
	free(g);
	free(wt);
	return rc;
}
