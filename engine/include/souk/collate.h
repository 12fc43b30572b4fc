/* collate.h: collation keys of sortable text (engine/text/collate.c). */
#ifndef SOUK_COLLATE_H
#define SOUK_COLLATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Keyword and text sort keys compare as byte strings of at most this many bytes: a keyword's
 * value, a text field's collation key (souk_collation_key). */
#define SOUK_SORT_KEY_MAX 128

/* The collation key of a sortable text field's value (UTF-8, n bytes) into out; returns its
 * length (<= SOUK_SORT_KEY_MAX). Keys compare with memcmp, a key that is a prefix of another
 * first: case- and accent-insensitive (Latin letters), digit runs compared as numbers
 * ("file2" < "File10"). engine/text/collate.c documents the rule. */
size_t souk_collation_key(const char *value, size_t n, uint8_t out[SOUK_SORT_KEY_MAX]);

#ifdef __cplusplus
}
#endif
#endif
