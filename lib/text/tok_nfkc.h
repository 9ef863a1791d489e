/* SPDX-License-Identifier: MIT */
/*
 * tok_nfkc.h - private to the tokenizer: NFKC as the npm reference sees it
 * (String.prototype.normalize in node 20, ICU 78, Unicode 17), through
 * utf8proc (Unicode 15) plus the few Unicode 16/17 mappings it lacks.
 */
#ifndef PN_TOK_NFKC_H
#define PN_TOK_NFKC_H

#include <stddef.h>
#include <stdint.h>

/*
 * NFKC of len bytes of valid UTF-8 into buf (room for cap code points).
 * Returns the number of code points; when that is more than cap, buf holds
 * garbage: call again with that much room (a later call may ask for more).
 * -EINVAL when utf8proc fails (it cannot on valid UTF-8 below 2^28 bytes).
 */
ptrdiff_t pn_tok_nfkc(const unsigned char *s, size_t len, int32_t *buf, size_t cap);

#endif /* PN_TOK_NFKC_H */
