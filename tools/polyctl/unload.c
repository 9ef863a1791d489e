// SPDX-License-Identifier: MIT
/*
 * polyctl unload NAME|#ID [--socket PATH]
 *
 * Drops this tenant's hold on a loaded model; the model goes when no tenant
 * holds it. Only a tenant that loaded it (or the admin) may unload it.
 */
#include <getopt.h>
#include <stdio.h>

#include "transport/client.h"
#include "polyctl.h"

int cmd_unload(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *sock = NULL;
	struct pn_client *c;
	struct pn_err e;
	int o, r;

	optind = 1;
	while ((o = getopt_long(argc, argv, "s:h", lo, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'h': printf("usage: polyctl unload NAME|#ID [--socket PATH]\n"); return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: polyctl unload NAME|#ID [--socket PATH]\n");
		return 2;
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail("unload", "%s", e.msg);
	r = pn_client_unload(c, 0, argv[optind], &e);
	pn_disconnect(c);
	if (r)
		return polyctl_fail("unload", "%s", e.msg);
	printf("unloaded %s\n", argv[optind]);
	return 0;
}
