/* SPDX-License-Identifier: MIT */
/* utf8.h - strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef PN_TEXT_UTF8_H
#define PN_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The offset of the first byte of the first bad sequence, or len. */
size_t pn_utf8_invalid_at(const unsigned char *s, size_t len);
/* Decodes one code point of already validated UTF-8; returns its length. */
size_t pn_utf8_decode(const unsigned char *s, uint32_t *cp);

#endif /* PN_TEXT_UTF8_H */
