// SPDX-License-Identifier: MIT
/*
 * fuzz_proto - libFuzzer target for the control-message checks polynetd
 * runs on every datagram (pn_proto_check), as a request and as a reply.
 * The Makefile's fuzz rule links only the parser sources it lists, so
 * proto.c is compiled in here (until lib/proto.c joins FUZZ_LIB_SRCS).
 */
#include <stdint.h>
#include <string.h>

#include "transport/proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pn_msg_hdr *h;
	const void *body;
	size_t n;
	struct pn_err e;
	/* aligned copy: the daemon receives into an aligned buffer */
	static uint64_t buf[PN_MSG_MAX / 8];

	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	if (!pn_proto_check(buf, size, 0, &h, &body, &n, &e) && n > sizeof(buf))
		__builtin_trap();
	if (!pn_proto_check(buf, size, 1, &h, &body, &n, &e) &&
	    (n < sizeof(struct pn_reply) ||
	     (const uint8_t *)body + n != (const uint8_t *)buf + size))
		__builtin_trap();
	return 0;
}
