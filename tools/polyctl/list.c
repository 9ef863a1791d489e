// SPDX-License-Identifier: MIT
/*
 * polyctl list [--json] [--socket PATH]
 *
 * The models polynetd holds: a table, or with --json the daemon's LIST
 * document as it is (docs/daemon.md).
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

	return s ? s : "?";
}

static void table(const cJSON *doc)
{
	const cJSON *m, *models = cJSON_GetObjectItem(doc, "models");

	printf("%4s  %-24s %-16s %10s %-6s %5s %5s  %s\n", "ID", "NAME", "HASH", "BYTES",
	       "LAYOUT", "WIDTH", "T", "FLAGS");
	cJSON_ArrayForEach(m, models) {
		printf("%4.0f  %-24s %-16s %10.0f %-6s %5.0f %5.0f  %s%s\n", num(m, "id"),
		       str(m, "name"), str(m, "hash"), num(m, "bytes"), str(m, "layout"),
		       num(m, "out_width"), num(m, "max_tokens"),
		       cJSON_IsTrue(cJSON_GetObjectItem(m, "persistent")) ? "persistent" :
		       "transient",
		       cJSON_IsTrue(cJSON_GetObjectItem(m, "reattached")) ? ",reattached" : "");
	}
	if (!cJSON_GetArraySize(models))
		printf("(no model loaded)\n");
}

int cmd_list(int argc, char **argv)
{
	return polyctl_daemon_json("list", argc, argv, pn_client_list, table, NULL);
}
