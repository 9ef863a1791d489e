// SPDX-License-Identifier: MIT
/*
 * daemon_json.c - the shape of the read-only verbs (list, stat): connect,
 * ask the daemon for one JSON document, print it (--json) or its table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "transport/client.h"
#include "polyctl.h"

int polyctl_daemon_json(const char *verb, int argc, char **argv,
			int (*fetch)(struct pn_client *, char **, struct pn_err *),
			void (*table)(const cJSON *))
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
		case 'h': printf("usage: polyctl %s [--json] [--socket PATH]\n", verb); return 0;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: polyctl %s [--json] [--socket PATH]\n", verb);
		return 2;
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail(verb, "%s", e.msg);
	r = fetch(c, &json, &e);
	pn_disconnect(c);
	if (r)
		return polyctl_fail(verb, "%s", e.msg);
	if (as_json) {
		printf("%s\n", json);
	} else if ((doc = cJSON_Parse(json))) {
		table(doc);
		cJSON_Delete(doc);
	} else {
		r = polyctl_fail(verb, "the daemon's reply is not JSON");
	}
	free(json);
	return r ? 1 : 0;
}
