/* SPDX-License-Identifier: MIT */
/*
 * wake.h - the wake-up primitives of the rings (uapi/ring.h "Wakeups"),
 * shared by polynetd and the client library: io_uring futex SQEs (Linux
 * 6.7+), the probe that says whether this kernel has them, futex(2) wake
 * and eventfd signalling for the fallback.
 *
 * liburing 2.3 has no futex helpers: the SQEs are filled by hand after the
 * kernel's ABI (io_uring/futex.c, io_futex_prep): addr = the futex word,
 * addr2 = the value to wait for (FUTEX_WAIT) or the count to wake
 * (FUTEX_WAKE), addr3 = the bitset mask, fd = FUTEX2_* flags, futex_flags
 * (the rw_flags union) = 0, len = 0.
 *
 * Every function is safe from any thread. pn_wake_futex_supported probes
 * once (cold); the others are one syscall at most.
 */
#ifndef PN_WAKE_H
#define PN_WAKE_H

#include <stdbool.h>
#include <stdint.h>

struct io_uring_sqe;

/* include/uapi/linux/io_uring.h of 6.7: missing from liburing 2.3's copy */
#define PN_IORING_OP_FUTEX_WAIT	51
#define PN_IORING_OP_FUTEX_WAKE	52
/* include/uapi/linux/futex.h of 6.7 */
#define PN_FUTEX2_SIZE_U32	0x02u
#define PN_FUTEX2_PRIVATE	128u
#define PN_FUTEX_MATCH_ANY	0xffffffffu

/*
 * Does this kernel's io_uring have FUTEX_WAIT and FUTEX_WAKE
 * (IORING_REGISTER_PROBE)? $PN_WAKE=eventfd says no (tests, benchmarks).
 */
bool pn_wake_futex_supported(void);

/*
 * A FUTEX_WAIT on word while it holds val. shared: the word is in a
 * mapping shared with another process (a session segment); else it is
 * private to this process (FUTEX2_PRIVATE, cheaper hashing).
 */
void pn_wake_prep_wait(struct io_uring_sqe *sqe, uint32_t *word, uint32_t val, bool shared);
/* A FUTEX_WAKE of every waiter on the shared word. */
void pn_wake_prep_wake(struct io_uring_sqe *sqe, uint32_t *word);

/*
 * The producer's wake: increments word (release: pairs with the waiter's
 * acquire load in pn_ring_wake_value) and wakes every waiter on it with
 * futex(2) FUTEX_WAKE, shared or private like the waiters.
 */
void pn_wake_futex(uint32_t *word, bool shared);
/* Increments word only (the caller wakes through io_uring). */
void pn_wake_bump(uint32_t *word);

/* The fallback: write(2) 1 to an eventfd (never IORING_OP_WRITE: io-wq). */
int pn_wake_eventfd(int fd);
/* Empties a non-blocking eventfd (a spurious empty read is fine). */
void pn_wake_eventfd_drain(int fd);

#endif /* PN_WAKE_H */
