// SPDX-License-Identifier: MIT
/*
 * polyctl load FILE.pnb [--transient | --public] [--json] [--socket PATH]
 *
 * Asks polynetd to load the model: the daemon reads the file through an fd
 * opened here (so it needs no access to the path) into a shared, sealed
 * region. Prints the model's name and id; a file already loaded (same
 * content hash) is shared, not loaded twice. The model is the caller's
 * (its name resolves for this uid only) unless an admin loads it --public.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "transport/client.h"
#include "polyctl.h"
#include "uapi/pnb.h"

int cmd_load(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "transient", no_argument, NULL, 't' },
		{ "public", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *sock = NULL;
	struct pn_model_desc m;
	struct pn_client *c;
	struct pn_err e;
	uint32_t flags = 0;
	int json = 0, o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "s:jtph", lo, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		case 't': flags |= PN_LOAD_F_TRANSIENT; break;
		case 'p': flags |= PN_LOAD_F_PUBLIC; break;
		case 'h':
			printf("usage: polyctl load FILE.pnb [--transient | --public] [--json] "
			       "[--socket PATH]\n");
			return 0;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: polyctl load FILE.pnb [--transient | --public] [--json] "
			"[--socket PATH]\n");
		return 2;
	}
	if (pn_connect(sock, &c, &e))
		return polyctl_fail("load", "%s", e.msg);
	if (pn_client_load(c, argv[optind], flags, &m, &e)) {
		pn_disconnect(c);
		return polyctl_fail("load", "%s", e.msg);
	}
	pn_disconnect(c);
	if (json)
		printf("{\"id\":%u,\"name\":\"%s\",\"hash\":\"%016llx\",\"bytes\":%llu,"
		       "\"shared\":%s,\"public\":%s,\"out_width\":%u,\"max_tokens\":%u}\n",
		       m.id, m.name, (unsigned long long)m.content_hash, (unsigned long long)m.size,
		       m.flags & PN_MODEL_F_SHARED ? "true" : "false",
		       m.flags & PN_MODEL_F_PUBLIC ? "true" : "false", m.out_width,
		       m.max_tokens);
	else
		printf("%s id %u  (hash %016llx, %llu bytes%s%s)\n", m.name, m.id,
		       (unsigned long long)m.content_hash, (unsigned long long)m.size,
		       m.flags & PN_MODEL_F_SHARED ? ", already loaded: shared" : "",
		       m.flags & PN_MODEL_F_PUBLIC ? ", public" : "");
	return 0;
}
