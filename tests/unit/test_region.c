// SPDX-License-Identifier: MIT
/*
 * test_region: the region API behaves the same on both backends.
 * The backend comes from POLYNET_REGION_TEST_BACKEND (memfd, the default on
 * hosts without the driver, or driver); tests/vm runs this file statically
 * linked against both inside the VM. Names carry the pid so runs in
 * parallel do not collide.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "transport/region.h"

static enum pn_region_backend backend = PN_REGION_MEMFD;

static void name_for(char *buf, size_t n, const char *tag)
{
	snprintf(buf, n, "t%d-%s", (int)getpid(), tag);
}

static struct pn_region *create(const char *name, uint64_t size, uint32_t flags, uint32_t mode)
{
	struct pn_region_opts o;
	struct pn_region *r = NULL;
	struct pn_err e = { "" };

	pn_region_opts_init(&o, size);
	o.backend = backend;
	o.flags = flags | PN_REGION_NOHUGE;
	o.mode = mode;
	if (pn_region_create(name, &o, &r, &e))
		fail_msg("create '%s': %s", name ? name : "", e.msg);
	return r;
}

static void *map(struct pn_region *r, int prot)
{
	struct pn_err e = { "" };
	void *p = NULL;

	if (pn_region_map(r, prot, &p, &e))
		fail_msg("map: %s", e.msg);
	return p;
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 31);
}

static int check(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed + i * 31))
			return 0;
	return 1;
}

/* Child exit status; -signal when killed. */
static int wait_child(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void test_two_attachments_see_one_memory(void **state)
{
	struct pn_region *a, *b = NULL;
	char name[PN_REGION_NAME_MAX];
	uint8_t *pa, *pb;
	size_t size;

	(void)state;
	name_for(name, sizeof(name), "share");
	a = create(name, 3 * 4096 + 1, 0, 0600);
	size = pn_region_size(a);
	/* sizes round up to whole pages */
	assert_int_equal(size, 4 * 4096);
	pa = map(a, PROT_READ | PROT_WRITE);
	fill(pa, size, 7);
	assert_int_equal(pn_region_attach(name, PN_REGION_RDWR, backend, &b, NULL), 0);
	assert_int_equal(pn_region_size(b), size);
	pb = map(b, PROT_READ | PROT_WRITE);
	assert_true(pa != pb);
	assert_true(check(pb, size, 7));
	pb[size - 1] = 0x5a;
	assert_int_equal(pa[size - 1], 0x5a);
	assert_int_equal(pn_region_unmap(b, pb, NULL), 0);
	assert_int_equal(pn_region_unmap(a, pa, NULL), 0);
	pn_region_close(b);
	pn_region_close(a);
}

static void test_fork_child_writes_parent_reads(void **state)
{
	char name[PN_REGION_NAME_MAX];
	struct pn_region *r;
	size_t size;
	uint8_t *p;
	pid_t pid;

	(void)state;
	name_for(name, sizeof(name), "fork");
	r = create(name, 1 << 20, 0, 0600);
	size = pn_region_size(r);
	p = map(r, PROT_READ | PROT_WRITE);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pn_region *c;
		void *q;

		/* a fresh attachment by name, as an unrelated process would */
		if (pn_region_attach(name, PN_REGION_RDWR, backend, &c, NULL) ||
		    pn_region_map(c, PROT_READ | PROT_WRITE, &q, NULL))
			_exit(2);
		fill(q, size, 42);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	assert_true(check(p, size, 42));
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);
}

static void test_readonly_attachment_cannot_write(void **state)
{
	struct pn_region *r, *ro = NULL;
	char name[PN_REGION_NAME_MAX];
	struct pn_err e = { "" };
	uint8_t *p, *q;
	void *w = NULL;
	size_t size;
	pid_t pid;

	(void)state;
	name_for(name, sizeof(name), "ro");
	r = create(name, 8192, 0, 0644);
	size = pn_region_size(r);
	p = map(r, PROT_READ | PROT_WRITE);
	fill(p, size, 3);
	assert_int_equal(pn_region_attach(name, 0, backend, &ro, NULL), 0);
	assert_int_equal(pn_region_map(ro, PROT_READ | PROT_WRITE, &w, &e), -EACCES);
	assert_true(strstr(e.msg, name) != NULL);
	q = map(ro, PROT_READ);
	assert_true(check(q, size, 3));
	/* the mapping cannot be upgraded */
	assert_int_equal(mprotect(q, size, PROT_READ | PROT_WRITE), -1);
	assert_int_equal(errno, EACCES);
	/* and a write through it faults */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);	/* ASan's handler would exit(1) instead */
		*(volatile uint8_t *)q = 1;
		_exit(0);
	}
	assert_int_equal(wait_child(pid), -SIGSEGV);
	assert_true(check(q, size, 3));
	pn_region_unmap(ro, q, NULL);
	pn_region_unmap(r, p, NULL);
	pn_region_close(ro);
	pn_region_close(r);
}

static void test_seal_makes_named_region_immutable(void **state)
{
	char name[PN_REGION_NAME_MAX];
	struct pn_region_info info;
	struct pn_region *r;
	void *w = NULL;
	uint8_t *p;
	size_t size;

	(void)state;
	name_for(name, sizeof(name), "seal");
	r = create(name, 16384, 0, 0644);
	size = pn_region_size(r);
	p = map(r, PROT_READ | PROT_WRITE);
	fill(p, size, 9);
	/* the driver refuses while a writable mapping exists; shm cannot tell */
	if (backend == PN_REGION_DRIVER)
		assert_int_equal(pn_region_seal(r, NULL), -EBUSY);
	pn_region_unmap(r, p, NULL);
	assert_int_equal(pn_region_seal(r, NULL), 0);
	assert_int_equal(pn_region_seal(r, NULL), 0);
	assert_int_equal(pn_region_map(r, PROT_READ | PROT_WRITE, &w, NULL), -EPERM);
	p = map(r, PROT_READ);
	assert_true(check(p, size, 9));
	assert_int_equal(pn_region_info(r, &info, NULL), 0);
	assert_true(info.sealed);
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);
}

static void test_seal_anonymous_refused_while_writable(void **state)
{
	struct pn_region_info info;
	struct pn_region *r;
	void *w = NULL;
	uint8_t *p;

	(void)state;
	r = create(NULL, 4096, 0, 0600);
	p = map(r, PROT_READ | PROT_WRITE);
	fill(p, 4096, 1);
	assert_int_equal(pn_region_seal(r, NULL), -EBUSY);
	pn_region_unmap(r, p, NULL);
	assert_int_equal(pn_region_seal(r, NULL), 0);
	assert_int_equal(pn_region_seal(r, NULL), 0);
	assert_int_equal(pn_region_map(r, PROT_READ | PROT_WRITE, &w, NULL), -EPERM);
	p = map(r, PROT_READ);
	assert_true(check(p, 4096, 1));
	assert_int_equal(pn_region_info(r, &info, NULL), 0);
	assert_true(info.sealed);
	assert_string_equal(info.name, "");
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);
}

static void test_persistent_outlives_users_until_destroyed(void **state)
{
	char name[PN_REGION_NAME_MAX];
	struct pn_region_info info;
	struct pn_region *r;
	uint8_t *p;
	pid_t pid;

	(void)state;
	name_for(name, sizeof(name), "persist");
	/* created by a child that exits: nobody holds it afterwards */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pn_region_opts o;
		struct pn_region *c;
		void *q;

		pn_region_opts_init(&o, 65536);
		o.backend = backend;
		o.flags = PN_REGION_PERSISTENT;
		if (pn_region_create(name, &o, &c, NULL) ||
		    pn_region_map(c, PROT_READ | PROT_WRITE, &q, NULL))
			_exit(2);
		fill(q, 65536, 77);
		_exit(0);
	}
	assert_int_equal(wait_child(pid), 0);
	assert_int_equal(pn_region_attach(name, 0, backend, &r, NULL), 0);
	p = map(r, PROT_READ);
	assert_true(check(p, 65536, 77));
	assert_int_equal(pn_region_info(r, &info, NULL), 0);
	assert_true(info.persistent);
	assert_int_equal(info.size, 65536);
	assert_int_equal(info.mode, 0600);
	assert_int_equal(info.uid, getuid());
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);
	assert_int_equal(pn_region_destroy(name, backend, NULL), 0);
	assert_int_equal(pn_region_attach(name, 0, backend, &r, NULL), -ENOENT);
	assert_int_equal(pn_region_destroy(name, backend, NULL), -ENOENT);
}

static void test_plain_region_goes_with_its_users(void **state)
{
	char name[PN_REGION_NAME_MAX];
	struct pn_region *r, *a = NULL;
	uint8_t *p;

	(void)state;
	name_for(name, sizeof(name), "plain");
	r = create(name, 4096, 0, 0600);
	p = map(r, PROT_READ | PROT_WRITE);
	pn_region_close(r);
	/* a mapping outlives the attachment that made it */
	fill(p, 4096, 5);
	assert_true(check(p, 4096, 5));
	munmap(p, 4096);
	assert_int_equal(pn_region_attach(name, 0, backend, &a, NULL), -ENOENT);
	assert_null(a);
}

static void test_send_recv_passes_the_region(void **state)
{
	struct pn_region *r, *got = NULL;
	struct pn_region_info info;
	int sv[2];
	uint8_t *p;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	r = create(NULL, 8192, 0, 0600);
	p = map(r, PROT_READ | PROT_WRITE);
	fill(p, 8192, 11);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		void *q;

		close(sv[0]);
		if (pn_region_recv(sv[1], &got, NULL) ||
		    pn_region_map(got, PROT_READ | PROT_WRITE, &q, NULL))
			_exit(2);
		if (!check(q, 8192, 11))
			_exit(3);
		fill(q, 8192, 12);
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(pn_region_send(sv[0], r, NULL), 0);
	assert_int_equal(wait_child(pid), 0);
	assert_true(check(p, 8192, 12));
	close(sv[0]);
	/* a message without an fd is refused, not trusted */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(write(sv[0], "junk", 4), 4);
	assert_int_equal(pn_region_recv(sv[1], &got, NULL), -EPROTO);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(pn_region_info(r, &info, NULL), 0);
	assert_true(info.writable);
	assert_int_equal(info.size, 8192);
	pn_region_unmap(r, p, NULL);
	pn_region_close(r);
}

static void test_bad_arguments_are_refused(void **state)
{
	char name[PN_REGION_NAME_MAX], longname[80];
	struct pn_region *r, *x = NULL;
	struct pn_region_opts o;
	struct pn_err e = { "" };

	(void)state;
	name_for(name, sizeof(name), "bad");
	pn_region_opts_init(&o, 4096);
	o.backend = backend;
	assert_int_equal(pn_region_create("a/b", &o, &x, &e), -EINVAL);
	assert_true(strstr(e.msg, "byte 1") != NULL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pn_region_create(longname, &o, &x, NULL), -EINVAL);
	assert_int_equal(pn_region_attach("", 0, backend, &x, NULL), -EINVAL);
	assert_int_equal(pn_region_attach(name, 0x10, backend, &x, NULL), -EINVAL);
	o.size = 0;
	assert_int_equal(pn_region_create(name, &o, &x, NULL), -EINVAL);
	o.size = 4096;
	o.mode = 01000;
	assert_int_equal(pn_region_create(name, &o, &x, NULL), -EINVAL);
	o.mode = 0600;
	o.flags = PN_REGION_PERSISTENT;
	assert_int_equal(pn_region_create(NULL, &o, &x, NULL), -EINVAL);
	o.flags = 0x80;
	assert_int_equal(pn_region_create(name, &o, &x, NULL), -EINVAL);
	assert_null(x);
	assert_int_equal(pn_region_attach(name, 0, backend, &x, &e), -ENOENT);
	assert_true(strstr(e.msg, name) != NULL);
	assert_int_equal(pn_region_destroy(name, backend, NULL), -ENOENT);
	r = create(name, 4096, 0, 0600);
	o.flags = 0;
	assert_int_equal(pn_region_create(name, &o, &x, NULL), -EEXIST);
	pn_region_close(r);
}

int main(void)
{
	const char *b = getenv("POLYNET_REGION_TEST_BACKEND");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_attachments_see_one_memory),
		cmocka_unit_test(test_fork_child_writes_parent_reads),
		cmocka_unit_test(test_readonly_attachment_cannot_write),
		cmocka_unit_test(test_seal_makes_named_region_immutable),
		cmocka_unit_test(test_seal_anonymous_refused_while_writable),
		cmocka_unit_test(test_persistent_outlives_users_until_destroyed),
		cmocka_unit_test(test_plain_region_goes_with_its_users),
		cmocka_unit_test(test_send_recv_passes_the_region),
		cmocka_unit_test(test_bad_arguments_are_refused),
	};

	if (b && !strcmp(b, "driver"))
		backend = PN_REGION_DRIVER;
	else if (b && strcmp(b, "memfd")) {
		fprintf(stderr, "POLYNET_REGION_TEST_BACKEND=%s: expected driver or memfd\n", b);
		return 1;
	}
	printf("test_region: backend %s\n", backend == PN_REGION_DRIVER ? "driver" : "memfd");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
