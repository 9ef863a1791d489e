// SPDX-License-Identifier: MIT
/*
 * polyctl list [--json] [--socket PATH]
 *
 * The models polynetd holds: a table, or with --json the daemon's LIST
 * document as it is (docs/daemon.md).
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
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
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *sock = NULL;
	struct pn_client *c;
	struct pn_err e;
	char *json = NULL;
	cJSON *doc;
	int o, r, as_json = 0;

	optind = 1;
	while ((o = getopt_long(argc, argv, "s:jh", lo, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'j': as_json = 1; break;
		case 'h': printf("usage: polyctl list [--json] [--socket PATH]\n"); return 0;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: polyctl list [--json] [--socket PATH]\n");
		return 2;
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail("list", "%s", e.msg);
	r = pn_client_list(c, &json, &e);
	pn_disconnect(c);
	if (r)
		return polyctl_fail("list", "%s", e.msg);
	if (as_json) {
		printf("%s\n", json);
	} else if ((doc = cJSON_Parse(json))) {
		table(doc);
		cJSON_Delete(doc);
	} else {
		r = polyctl_fail("list", "the daemon's reply is not JSON");
	}
	free(json);
	return r ? 1 : 0;
}
