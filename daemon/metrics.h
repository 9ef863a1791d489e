/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - polynetd's counters, gauges and histograms as one Prometheus
 * text exposition (format 0.0.4), rendered in one place (metrics.c) for
 * both readers: METRICS on the control socket (polyctl stat --prometheus)
 * and the --metrics HTTP listener (http.c). docs/daemon.md lists every metric.
 * Threads: the loop thread only (it reads the tenant table, which is the
 * loop's); the HTTP thread asks the loop for a rendering (http.c). Cold.
 */
#ifndef PND_METRICS_H
#define PND_METRICS_H

#include <stddef.h>

struct pnd_control;
struct pnd_caller;

/*
 * The text for who, filtered like STAT: a non-admin sees the daemon's
 * gauges, the models it may see (pnd_model_visible_locked) and its own
 * tenant; an admin, or who NULL (the scraper the admin configured with
 * --metrics), sees everything. Returns malloc'd NUL-terminated text and its
 * length, or NULL when out of memory.
 */
char *pnd_metrics_render(struct pnd_control *ctl, const struct pnd_caller *who, size_t *len);

#endif /* PND_METRICS_H */
