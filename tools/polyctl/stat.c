// SPDX-License-Identifier: MIT
/*
 * polyctl stat [--json | --prometheus] [--socket PATH]
 *
 * polynetd's counters: the daemon, each model (jobs, errors, latency
 * p50/p99/p99.9 from submit to completion) and each tenant (sessions,
 * queue depth per class, running, submitted, completed, refusals). A
 * table, or with --json the daemon's STAT document (docs/daemon.md), or
 * with --prometheus its METRICS text (the exposition format, docs/daemon.md).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "transport/client.h"
#include "polyctl.h"

static double num(const cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));

	return s ? s : "-";
}

/* The CUDA backend's devices: where they sit and what their memory holds. */
static void devices(const cJSON *doc)
{
	const cJSON *devs = cJSON_GetObjectItem(doc, "devices"), *v;

	if (!cJSON_GetArraySize(devs))
		return;
	printf("%3s  %-24s %5s %-13s %4s %10s %10s %10s %10s %6s\n", "DEV", "NAME", "CC",
	       "PCI", "NUMA", "TOTAL_MB", "WEIGHTS_MB", "ARENA_MB", "STAGE_MB", "RESETS");
	cJSON_ArrayForEach(v, devs)
		printf("%3.0f  %-24.24s %5s %-13s %4.0f %10.0f %10.1f %10.1f %10.1f %6.0f\n",
		       num(v, "ordinal"), str(v, "name"), str(v, "cc"), str(v, "pci_bus_id"),
		       num(v, "numa_node"), num(v, "total_mem") / 1048576.0,
		       num(v, "mem_weights") / 1048576.0, num(v, "mem_graphs") / 1048576.0,
		       num(v, "mem_staging") / 1048576.0, num(v, "resets"));
	printf("\n");
}

static void table(const cJSON *doc)
{
	const cJSON *d = cJSON_GetObjectItem(doc, "daemon"), *m, *t;
	const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(d, "backend_reason"));

	printf("polynetd pid %.0f, up %.0f s, %s backend%s%s%s, %.0f workers, %.0f sessions, "
	       "queued %.0f, running %.0f\n\n", num(d, "pid"), num(d, "uptime_s"),
	       str(d, "backend"), why ? " (" : "", why ? why : "", why ? ")" : "",
	       num(d, "workers"), num(d, "sessions"), num(d, "queued"), num(d, "running"));
	devices(doc);
	printf("%4s  %-24s %10s %8s %8s %10s %10s %10s\n", "ID", "MODEL", "JOBS", "ERRORS",
	       "BATCHED", "P50_US", "P99_US", "P99.9_US");
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(doc, "models"))
		printf("%4.0f  %-24s %10.0f %8.0f %8.0f %10.1f %10.1f %10.1f\n", num(m, "id"),
		       cJSON_GetStringValue(cJSON_GetObjectItem(m, "name")), num(m, "jobs"),
		       num(m, "errors"), num(m, "batched"), num(m, "p50_us"), num(m, "p99_us"),
		       num(m, "p999_us"));
	printf("\n%8s %8s %6s %6s %6s %6s %7s %10s %10s %8s %8s\n", "UID", "SESSIONS", "Q_RT",
	       "Q_INT", "Q_BAT", "RUN", "WEIGHT", "SUBMITTED", "COMPLETED", "REF_DL",
	       "REF_QUO");
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "tenants")) {
		const cJSON *q = cJSON_GetObjectItem(t, "queued");

		printf("%8.0f %8.0f %6.0f %6.0f %6.0f %6.0f %7.0f %10.0f %10.0f %8.0f %8.0f\n",
		       num(t, "uid"), num(t, "sessions"), num(q, "realtime"),
		       num(q, "interactive"), num(q, "batch"), num(t, "running"),
		       num(t, "weight"), num(t, "submitted"), num(t, "completed"),
		       num(t, "refused_deadline"), num(t, "refused_quota"));
	}
}

int cmd_stat(int argc, char **argv)
{
	return polyctl_daemon_json("stat", argc, argv, pn_client_stat, table,
				   pn_client_metrics);
}
