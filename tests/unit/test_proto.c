// SPDX-License-Identifier: MIT
/* test_proto.c - lib/proto.c: framing with SCM_RIGHTS and message checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/proto.h"

static uint8_t buf[PN_MSG_MAX];

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

/* Builds a raw request of type with body bytes. */
static size_t raw(uint16_t type, const void *body, size_t n)
{
	struct pn_msg_hdr h = { .magic = PN_PROTO_MAGIC, .version = PN_PROTO_VERSION,
				.type = type, .len = (uint32_t)(sizeof(h) + n), .seq = 7 };

	memcpy(buf, &h, sizeof(h));
	if (n)
		memcpy(buf + sizeof(h), body, n);
	return sizeof(h) + n;
}

static int check_req(size_t n, struct pn_err *e)
{
	const struct pn_msg_hdr *h;
	const void *b;
	size_t bl;

	return pn_proto_check(buf, n, 0, &h, &b, &bl, e);
}

static void test_send_recv_with_fd(void **state)
{
	struct pn_load_req q = { .flags = PN_LOAD_F_TRANSIENT };
	const struct pn_msg_hdr *h;
	const struct pn_load_req *got;
	const void *b;
	struct pn_err e;
	struct stat st;
	size_t bl;
	int sv[2], fd = dup(STDIN_FILENO), fds[4], nfd;
	ssize_t n;

	pair(sv);
	strcpy(q.path, "/x/model.pnb");
	assert_int_equal(pn_proto_send(sv[0], PN_MSG_LOAD, 42, &q, sizeof(q), &fd, 1, &e), 0);
	n = pn_proto_recv(sv[1], buf, sizeof(buf), fds, 4, &nfd, &e);
	assert_int_equal(n, sizeof(struct pn_msg_hdr) + sizeof(q));
	assert_int_equal(nfd, 1);
	assert_int_equal(fstat(fds[0], &st), 0);
	assert_int_equal(pn_proto_check(buf, (size_t)n, 0, &h, &b, &bl, &e), 0);
	got = b;
	assert_int_equal(h->seq, 42);
	assert_int_equal(h->type, PN_MSG_LOAD);
	assert_string_equal(got->path, "/x/model.pnb");
	close(fds[0]);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void test_error_reply_round_trip(void **state)
{
	const struct pn_msg_hdr *h;
	const struct pn_reply *r;
	const void *b;
	struct pn_err e;
	size_t bl;
	int sv[2], fds[4], nfd;
	ssize_t n;

	pair(sv);
	assert_int_equal(pn_proto_reply(sv[0], PN_MSG_UNLOAD, 9, -EPERM, NULL, 0,
					"model 3: not yours", NULL, 0), 0);
	n = pn_proto_recv(sv[1], buf, sizeof(buf), fds, 4, &nfd, &e);
	assert_true(n > 0);
	assert_int_equal(pn_proto_check(buf, (size_t)n, 1, &h, &b, &bl, &e), 0);
	r = b;
	assert_int_equal(h->type, PN_MSG_UNLOAD | PN_MSG_REPLY);
	assert_int_equal(r->status, -EPERM);
	assert_string_equal((const char *)(r + 1), "model 3: not yours");
	close(sv[0]);
	close(sv[1]);
}

static void test_header_checks(void **state)
{
	struct pn_hello_req hq = { .version = 1 };
	struct pn_err e;
	size_t n = raw(PN_MSG_HELLO, &hq, sizeof(hq));

	assert_int_equal(check_req(n, &e), 0);
	assert_int_equal(check_req(sizeof(struct pn_msg_hdr) - 1, &e), -EPROTO);
	((struct pn_msg_hdr *)buf)->magic ^= 1;
	assert_int_equal(check_req(n, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "magic"));
	n = raw(PN_MSG_HELLO, &hq, sizeof(hq));
	((struct pn_msg_hdr *)buf)->version = PN_PROTO_VERSION + 1;
	assert_int_equal(check_req(n, &e), -EPROTONOSUPPORT);
	n = raw(PN_MSG_HELLO, &hq, sizeof(hq));
	assert_int_equal(check_req(n - 1, &e), -EPROTO);	/* len says more than came */
	n = raw(PN_MSG_TYPE_COUNT, NULL, 0);
	assert_int_equal(check_req(n, &e), -EINVAL);
	n = raw(0, NULL, 0);
	assert_int_equal(check_req(n, &e), -EINVAL);
	n = raw(PN_MSG_LIST | PN_MSG_REPLY, NULL, 0);
	assert_int_equal(check_req(n, &e), -EINVAL);
}

static void test_body_checks(void **state)
{
	struct pn_hello_req hq = { .version = 1 };
	struct pn_load_req lq = { 0 };
	struct pn_model_ref mr = { 0 };
	struct pn_session_req sq = { .sq_entries = 8, .cq_entries = 8, .arena_size = 4096 };
	struct pn_err e;

	assert_int_equal(check_req(raw(PN_MSG_HELLO, &hq, sizeof(hq) - 1), &e), -EINVAL);
	assert_non_null(strstr(e.msg, "expected 40"));
	hq.flags = 1;
	assert_int_equal(check_req(raw(PN_MSG_HELLO, &hq, sizeof(hq)), &e), -EINVAL);
	hq.flags = 0;
	memset(hq.client, 'a', sizeof(hq.client));	/* no NUL */
	assert_int_equal(check_req(raw(PN_MSG_HELLO, &hq, sizeof(hq)), &e), -EINVAL);
	lq.flags = 0x10;
	assert_int_equal(check_req(raw(PN_MSG_LOAD, &lq, sizeof(lq)), &e), -EINVAL);
	lq.flags = 0;
	assert_int_equal(check_req(raw(PN_MSG_LOAD, &lq, sizeof(lq)), &e), 0);
	assert_int_equal(check_req(raw(PN_MSG_UNLOAD, &mr, sizeof(mr)), &e), -EINVAL);
	strcpy(mr.name, "use-lite");
	assert_int_equal(check_req(raw(PN_MSG_UNLOAD, &mr, sizeof(mr)), &e), 0);
	assert_int_equal(check_req(raw(PN_MSG_LIST, &mr, 1), &e), -EINVAL);
	assert_int_equal(check_req(raw(PN_MSG_OPEN_SESSION, &sq, sizeof(sq)), &e), 0);
	sq.pad = 1;
	assert_int_equal(check_req(raw(PN_MSG_OPEN_SESSION, &sq, sizeof(sq)), &e), -EINVAL);
}

static void test_reply_checks(void **state)
{
	struct { struct pn_reply r; char text[4]; } list = { { 0, 0 }, "{}" };
	struct pn_reply ok0 = { 0, 0 };
	const struct pn_msg_hdr *h;
	const void *b;
	struct pn_err e;
	size_t bl, n;

	n = raw(PN_MSG_LIST | PN_MSG_REPLY, &list, sizeof(list));
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), 0);
	list.text[3] = 'x';	/* not NUL-terminated */
	n = raw(PN_MSG_LIST | PN_MSG_REPLY, &list, sizeof(list));
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), -EPROTO);
	/* METRICS (version 2): an empty request; the reply is text, NUL-terminated too */
	n = raw(PN_MSG_METRICS, NULL, 0);
	assert_int_equal(pn_proto_check(buf, n, 0, &h, &b, &bl, &e), 0);
	n = raw(PN_MSG_METRICS, &ok0, sizeof(ok0));
	assert_int_equal(pn_proto_check(buf, n, 0, &h, &b, &bl, &e), -EINVAL);
	n = raw(PN_MSG_METRICS | PN_MSG_REPLY, &list, sizeof(list));
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), -EPROTO);
	list.text[3] = '\0';
	n = raw(PN_MSG_METRICS | PN_MSG_REPLY, &list, sizeof(list));
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), 0);
	list.text[3] = 'x';
	n = raw(PN_MSG_HELLO | PN_MSG_REPLY, &ok0, sizeof(ok0));	/* HELLO body missing */
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), -EPROTO);
	n = raw(PN_MSG_REPLY, &ok0, sizeof(ok0));	/* type 0 only for errors */
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), -EPROTO);
	ok0.status = 5;
	n = raw(PN_MSG_UNLOAD | PN_MSG_REPLY, &ok0, sizeof(ok0));
	assert_int_equal(pn_proto_check(buf, n, 1, &h, &b, &bl, &e), -EPROTO);
}

static void test_truncated_message_drops_fds(void **state)
{
	char big[512] = { 0 };
	struct pn_err e;
	int sv[2], fd = dup(STDIN_FILENO), fds[4], nfd;
	uint8_t small[64];

	pair(sv);
	assert_int_equal(pn_proto_send(sv[0], PN_MSG_LIST, 1, big, sizeof(big), &fd, 1, &e), 0);
	assert_int_equal(pn_proto_recv(sv[1], small, sizeof(small), fds, 4, &nfd, &e), -EMSGSIZE);
	assert_int_equal(nfd, 0);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_recv_with_fd),
		cmocka_unit_test(test_error_reply_round_trip),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_body_checks),
		cmocka_unit_test(test_reply_checks),
		cmocka_unit_test(test_truncated_message_drops_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
