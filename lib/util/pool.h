/* SPDX-License-Identifier: MIT */
/*
 * pool.h - a persistent thread pool: threads are created once (pinned one
 * per core with libnuma when asked) and wait for work; running a job costs
 * no allocation and no thread creation.
 *
 * pn_pool_run(p, fn, ctx, n) calls fn(ctx, i) for every i in [0, n), spread
 * over the caller and the pool's threads, and returns when all are done.
 * A NULL pool, or a pool of one thread, runs everything on the caller.
 */
#ifndef PN_POOL_H
#define PN_POOL_H

#include <stdint.h>

struct pn_pool;
typedef void (*pn_task_fn)(void *ctx, uint32_t i);

/* nthreads counts the caller: 1 means no extra thread. */
struct pn_pool *pn_pool_new(uint32_t nthreads, int pin);
void pn_pool_free(struct pn_pool *p);
uint32_t pn_pool_size(const struct pn_pool *p);	/* 1 for NULL */
void pn_pool_run(struct pn_pool *p, pn_task_fn fn, void *ctx, uint32_t n);

#endif /* PN_POOL_H */
