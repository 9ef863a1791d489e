/* SPDX-License-Identifier: MIT */
/*
 * model_buf.h - pn_model_open over bytes already in memory (a shared
 * region mapped by polynetd or its client) instead of a path. The buffer
 * is validated in place and must outlive the model; pn_model_close leaves
 * it alone. (A candidate for lib/model.h.)
 */
#ifndef PN_MODEL_BUF_H
#define PN_MODEL_BUF_H

#include <stddef.h>

#include "model.h"

int pn_model_open_buf(const void *buf, size_t size, const char *what, struct pn_model **out,
		      struct pn_err *err);
/* Rows of the first EMBED node's table: ids must be below it (0: none). */
uint32_t pn_model_vocab(const struct pn_model *m);

#endif /* PN_MODEL_BUF_H */
