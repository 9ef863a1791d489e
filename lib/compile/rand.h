/* SPDX-License-Identifier: MIT */
/* rand.h - the compiler's deterministic random source (a seed in, a stream out). */
#ifndef PN_COMPILE_RAND_H
#define PN_COMPILE_RAND_H

#include <stdint.h>

uint64_t pn_rand_u64(uint64_t *state);		/* splitmix64 */
float pn_rand_gauss(uint64_t *state);		/* N(0, 1), Box-Muller */

#endif /* PN_COMPILE_RAND_H */
