// SPDX-License-Identifier: MIT
/* wake.c - futex and eventfd wake-ups of the rings (wake.h). */
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "transport/wake.h"

static bool futex_ok;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
	const char *env = getenv("PN_WAKE");
	struct io_uring_probe *p;

	if (env && !strcmp(env, "eventfd"))
		return;
	p = io_uring_get_probe();	/* IORING_REGISTER_PROBE on a throwaway ring */
	if (!p)
		return;
	futex_ok = p->last_op >= PN_IORING_OP_FUTEX_WAKE &&
		   io_uring_opcode_supported(p, PN_IORING_OP_FUTEX_WAIT) &&
		   io_uring_opcode_supported(p, PN_IORING_OP_FUTEX_WAKE);
	io_uring_free_probe(p);
}

bool pn_wake_futex_supported(void)
{
	pthread_once(&probe_once, probe);
	return futex_ok;
}

/* io_uring/futex.c io_futex_prep: the fields it reads, the others zero. */
static void prep_futex(struct io_uring_sqe *sqe, uint8_t op, uint32_t *word, uint64_t val,
		       uint32_t flags)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = (int32_t)flags;		/* FUTEX2_* */
	sqe->addr = (uint64_t)(uintptr_t)word;
	sqe->addr2 = val;			/* WAIT: expected value; WAKE: how many */
	sqe->addr3 = PN_FUTEX_MATCH_ANY;	/* the bitset */
	/* sqe->futex_flags (rw_flags) stays 0: the kernel refuses anything else */
}

void pn_wake_prep_wait(struct io_uring_sqe *sqe, uint32_t *word, uint32_t val, bool shared)
{
	prep_futex(sqe, PN_IORING_OP_FUTEX_WAIT, word, val,
		   PN_FUTEX2_SIZE_U32 | (shared ? 0 : PN_FUTEX2_PRIVATE));
}

void pn_wake_prep_wake(struct io_uring_sqe *sqe, uint32_t *word)
{
	prep_futex(sqe, PN_IORING_OP_FUTEX_WAKE, word, INT_MAX, PN_FUTEX2_SIZE_U32);
}

void pn_wake_bump(uint32_t *word)
{
	/* release: the ring's entries and tail are visible before the new value */
	__atomic_fetch_add(word, 1, __ATOMIC_RELEASE);
}

void pn_wake_futex(uint32_t *word, bool shared)
{
	pn_wake_bump(word);
	syscall(SYS_futex, word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL,
		0);
}

int pn_wake_eventfd(int fd)
{
	uint64_t one = 1;

	/* an eventfd write fails only on counter overflow: the reader is awake then */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void pn_wake_eventfd_drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: another reader emptied it first */
	}
}
