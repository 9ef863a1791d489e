/* SPDX-License-Identifier: MIT */
/*
 * waiter.h - where an idle worker sleeps (waiter.c): its own io_uring with
 * one wait armed per live session's doorbell and one on the daemon's kick,
 * so a client's doorbell wakes the worker itself, with no hop through the
 * loop thread (issue 11). A doorbell wait is
 *  - futex sessions (PN_WAKE_FUTEX): an IORING_OP_FUTEX_WAIT on the SQ's
 *    wake word (shared: the word is in the session's memfd), one-shot;
 *  - eventfd sessions: a multishot poll (IORING_POLL_ADD_MULTI) on the
 *    doorbell eventfd, armed until cancelled.
 * The kick (pnd_work_kick_locked) is a FUTEX_WAIT on the daemon-private
 * wake word, or a multishot poll on the kick eventfd where the kernel has
 * no io_uring futexes.
 *
 * Waits stay armed across sleeps: a wait armed with value v is woken by
 * any wake after it was armed, so a worker re-arms only the waits that
 * completed. Completions carry (session id, table slot), never a pointer:
 * a session may be gone when its wait completes. A slot whose session
 * changed is disarmed (IORING_OP_ASYNC_CANCEL) at the next arming.
 *
 * Threads: one waiter per worker, used by that worker only.
 */
#ifndef PND_WAITER_H
#define PND_WAITER_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"

struct pnd_waiter {
	struct io_uring ring;
	bool ready;
	bool kick_armed;
	uint32_t armed[PND_MAX_SESSIONS];	/* session id armed in each slot, 0: none */
	uint32_t fired[PND_MAX_SESSIONS];	/* doorbell completions not yet taken */
};

int pnd_waiter_init(struct pnd_waiter *wt, struct pn_err *e);
void pnd_waiter_fini(struct pnd_waiter *wt);

/* Arms slot's doorbell for session id unless it is armed (futex or eventfd). */
void pnd_waiter_arm_futex(struct pnd_waiter *wt, uint32_t slot, uint32_t id, uint32_t *word,
			  uint32_t val);
void pnd_waiter_arm_poll(struct pnd_waiter *wt, uint32_t slot, uint32_t id, int fd);
/* Cancels slot's doorbell wait, if one is armed. */
void pnd_waiter_disarm(struct pnd_waiter *wt, uint32_t slot);
/* Doorbell completions of session id in slot since the last call (and zeroes them). */
uint32_t pnd_waiter_take_fired(struct pnd_waiter *wt, uint32_t slot, uint32_t id);

/* Arms the kick: the private futex word at val, or the kick eventfd (fd >= 0). */
void pnd_waiter_arm_kick(struct pnd_waiter *wt, uint32_t *word, uint32_t val, int fd);

/* Takes the completions that arrived (no syscall when there are none). */
void pnd_waiter_reap(struct pnd_waiter *wt, int kick_fd);
/*
 * Submits what was armed and sleeps until a completion or deadline_ns
 * (CLOCK_MONOTONIC; PN_SCHED_NEVER: none), then reaps.
 */
void pnd_waiter_sleep(struct pnd_waiter *wt, uint64_t deadline_ns, int kick_fd);

#endif /* PND_WAITER_H */
