/* codes.h: joined code terms for part numbers (codes.c), private to the engine. */
#ifndef SOUK_CODES_H
#define SOUK_CODES_H

#include <stddef.h>

#define SOUK_CODE_PREFIX "XCODE:"

typedef void (*souk_code_fn)(void *ctx, const char *term, size_t len);

/* Calls fn for each code term of text (at most max): documents (query 0) get mixed words and
 * pairs, queries (query 1) also triples. Returns the number emitted. */
size_t souk__codes(const char *text, size_t len, int query, souk_code_fn fn, void *ctx, size_t max);

#endif
