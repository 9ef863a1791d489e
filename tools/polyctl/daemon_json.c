// SPDX-License-Identifier: MIT
/*
 * daemon_json.c - the shape of the read-only verbs (list, stat): connect,
 * ask the daemon for one JSON document, print it (--json) or its table;
 * stat --prometheus prints the daemon's Prometheus text as it came.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "transport/client.h"
#include "polyctl.h"

int polyctl_daemon_json(const char *verb, int argc, char **argv,
			int (*fetch)(struct pn_client *, char **, struct pn_err *),
			void (*table)(const cJSON *),
			int (*fetch_text)(struct pn_client *, char **, struct pn_err *))
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *sock = NULL;
	struct pn_client *c;
	struct pn_err e;
	char *json = NULL;
	cJSON *doc;
	const char *usage = fetch_text ? "[--json | --prometheus] [--socket PATH]" :
					 "[--json] [--socket PATH]";
	int o, r, as_json = 0, as_text = 0;

	optind = 1;
	while ((o = getopt_long(argc, argv, "s:jh", lo, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'j': as_json = 1; break;
		case 'p':
			if (!fetch_text)
				return polyctl_fail(verb, "--prometheus is an option of stat only");
			as_text = 1;
			break;
		case 'h': printf("usage: polyctl %s %s\n", verb, usage); return 0;
		default: return 2;
		}
	}
	if (optind != argc || (as_json && as_text)) {
		fprintf(stderr, "usage: polyctl %s %s\n", verb, usage);
		return 2;
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail(verb, "%s", e.msg);
	r = (as_text ? fetch_text : fetch)(c, &json, &e);
	pn_disconnect(c);
	if (r)
		return polyctl_fail(verb, "%s", e.msg);
	if (as_text) {
		fputs(json, stdout);
	} else if (as_json) {
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
