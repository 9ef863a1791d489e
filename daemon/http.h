/* SPDX-License-Identifier: MIT */
/*
 * http.h - the --metrics listener (http.c): GET /metrics over HTTP with
 * libmicrohttpd, in its own thread (MHD_USE_INTERNAL_POLLING_THREAD),
 * bound to the one address given, at most 16 connections at once, 10 s
 * idle timeout. The text is rendered on the loop thread (metrics.c reads
 * the loop's tables): the HTTP thread asks through io.notify and waits at
 * most 2 s for pnd_http_answer (503 if the loop is stopping). It shows
 * everything: it serves the scraper the admin configured (docs/daemon.md).
 */
#ifndef PND_HTTP_H
#define PND_HTTP_H

#include <stdint.h>

#include "util/pn_err.h"

struct pnd_control;
struct pnd_http;

/*
 * Listens on spec, "ADDR:PORT" ("127.0.0.1:9464", "[::1]:9464"; port 0: the
 * kernel picks one). *port gets the bound port. 0 or -errno, e says what.
 */
int pnd_http_start(const char *spec, struct pnd_control *ctl, struct pnd_http **out,
		   uint16_t *port, struct pn_err *e);
/* Loop thread, on each io.notify: renders the text a request waits for. NULL: nothing. */
void pnd_http_answer(struct pnd_http *h);
/* Stops the listener and its thread (main, after the loop). NULL: nothing. */
void pnd_http_stop(struct pnd_http *h);

#endif /* PND_HTTP_H */
