// SPDX-License-Identifier: MIT
/*
 * import.c - pn_compile_tfjs: read a TF.js graph model (tfjs.c), hand it to
 * the recogniser of the one architecture known so far (tfjs_use.c).
 */
#include <stddef.h>

#include "import/tfjs.h"

int pn_compile_tfjs(const char *dir, const char *out, const struct pn_compile_opts *o,
		    struct pn_err *err)
{
	struct tfjs_model m;
	int ret;

	if (o && o->progress)
		o->progress(o->progress_arg, "reading model.json and the weight shards");
	ret = tfjs_load(dir, &m, err);
	if (ret)
		return ret;
	/* USE lite is the one graph recognised so far; it refuses any other. */
	ret = tfjs_use_compile(&m, dir, out, o, err);
	tfjs_free(&m);
	return ret;
}
