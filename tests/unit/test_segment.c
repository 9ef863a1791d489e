// SPDX-License-Identifier: MIT
/* test_segment.c - lib/transport/segment.c: the session segment's layout and header checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/segment.h"

static void *seg_new(uint32_t sq, uint32_t cq, uint64_t arena, struct pn_seg_layout *l)
{
	struct pn_err e;
	void *p;

	pn_seg_layout(sq, cq, arena, l);
	p = aligned_alloc(PN_RING_ALIGN, l->size);
	assert_non_null(p);
	memset(p, 0xa5, l->size);
	assert_int_equal(pn_seg_format(p, l, 7, &e), 0);
	return p;
}

static void test_layout(void **state)
{
	struct pn_seg_layout l;

	pn_seg_layout(64, 128, 5000, &l);
	assert_int_equal(l.sq_off, PN_RING_ALIGN);
	assert_true(l.cq_off >= l.sq_off + pn_ring_bytes(64, sizeof(struct pn_sqe)));
	assert_true(l.arena_off >= l.cq_off + pn_ring_bytes(128, sizeof(struct pn_cqe)));
	assert_int_equal(l.sq_off % PN_RING_ALIGN, 0);
	assert_int_equal(l.cq_off % PN_RING_ALIGN, 0);
	assert_int_equal(l.arena_off % PN_RING_ALIGN, 0);
	assert_int_equal(l.arena_size, 8192);	/* rounded up */
	assert_int_equal(l.size, l.arena_off + l.arena_size);
}

static void test_format_then_attach(void **state)
{
	struct pn_seg_layout l;
	struct pn_seg_map v;
	struct pn_err e;
	uint8_t *p = seg_new(64, 128, 1 << 16, &l);

	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), 0);
	assert_ptr_equal(v.hdr, (void *)p);
	assert_int_equal(v.hdr->session_id, 7);
	assert_int_equal(v.hdr->state, PN_SEG_LIVE);
	assert_ptr_equal(v.arena, p + l.arena_off);
	assert_int_equal(v.arena_size, 1 << 16);
	assert_int_equal(v.sq.entries, 64);
	assert_int_equal(v.cq.entries, 128);
	free(p);
}

static void test_bad_headers_are_eproto(void **state)
{
	struct pn_seg_layout l;
	struct pn_seg_map v;
	struct pn_err e;
	uint8_t *p = seg_new(8, 8, 4096, &l);
	struct pn_seg_hdr *h = (struct pn_seg_hdr *)p, good = *h;

	/* the size the client mapped must be the header's */
	assert_int_equal(pn_seg_attach(p, l.size - 4096, &v, &e), -EPROTO);
	assert_int_equal(pn_seg_attach(p, 16, &v, &e), -EPROTO);
	h->magic ^= 1;
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), -EPROTO);
	*h = good;
	h->version++;
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), -EPROTO);
	*h = good;
	h->cq_off = h->sq_off;
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), -EPROTO);
	*h = good;
	h->arena_size = h->size;	/* past the end */
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), -EPROTO);
	*h = good;
	h->sq_off += 64;		/* no ring header there */
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), -EPROTO);
	*h = good;
	assert_int_equal(pn_seg_attach(p, l.size, &v, &e), 0);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_format_then_attach),
		cmocka_unit_test(test_bad_headers_are_eproto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
