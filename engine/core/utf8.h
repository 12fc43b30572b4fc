/* utf8.h: decoding one UTF-8 character, private to the engine (collate.c, highlight.c). */
#ifndef SOUK_UTF8_H
#define SOUK_UTF8_H

#include <stddef.h>

/* Decodes the character at s[*i] (*i < n) and moves *i past it. A byte that does not start a
 * whole, well-formed sequence stands for itself (its value, below 0x100) and moves *i by one. */
static inline unsigned souk__utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    size_t len = c < 0x80             ? 1
                 : (c & 0xe0) == 0xc0 ? 2
                 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4
                                      : 0;
    if (len <= 1 || *i + len > n) {
        (*i)++;
        return c;
    }
    unsigned cp = c & (0x7fu >> len);
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            (*i)++;
            return c;
        }
        cp = cp << 6 | (s[*i + k] & 0x3fu);
    }
    *i += len;
    return cp;
}

#endif
