// SPDX-License-Identifier: MIT
/* rand.c - the compiler's random source: splitmix64 and Box-Muller normals. */
#include <math.h>

#include "compile/rand.h"

uint64_t pn_rand_u64(uint64_t *s)	/* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Standard normal by Box-Muller on two uniforms in (0, 1]. */
float pn_rand_gauss(uint64_t *s)
{
	double u1 = ((pn_rand_u64(s) >> 11) + 1.0) / 9007199254740992.0;
	double u2 = ((pn_rand_u64(s) >> 11) + 1.0) / 9007199254740992.0;

	return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}
