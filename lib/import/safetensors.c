// SPDX-License-Identifier: MIT
/* safetensors.c - placeholder until the Hugging Face importer lands (issue 15). */
#include <errno.h>

#include "import/import.h"

int pn_compile_safetensors(const char *dir, const char *out, const struct pn_compile_opts *o,
			   struct pn_err *err)
{
	(void)out;
	(void)o;
	return pn_errf(err, -ENOTSUP, "%s: --from safetensors is not built yet", dir);
}
