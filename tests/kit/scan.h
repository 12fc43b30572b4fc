/* scan.h (test kit): the byte scan of the erasure and isolation tests. Every regular file under
 * a path (a file, or a directory and everything below it) is read and searched in one pass for
 * up to KIT_SCAN_MAX needles (raw ids, pseudonyms, words): what a test proves is gone must not
 * be found in any byte, and a control that must be there is. */
#ifndef SOUK_KIT_SCAN_H
#define SOUK_KIT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define KIT_SCAN_MAX 64
#define KIT_NEEDLE_MAX 64

typedef struct kit_needles {
    uint8_t b[KIT_SCAN_MAX][KIT_NEEDLE_MAX];
    size_t len[KIT_SCAN_MAX];
    size_t n;
    uint8_t first[65536 / 8]; /* bitmap of the 16-bit hash of each needle's first 4 bytes */
} kit_needles;

/* Empties nd. */
void kit_needles_init(kit_needles *nd);

/* Adds a needle of 4 to KIT_NEEDLE_MAX bytes (REQUIREd, as is room for it). */
void kit_needle_add(kit_needles *nd, const void *p, size_t n);

/* Flags of kit_scan. */
#define KIT_SCAN_QUIET 1 /* no line on stderr per finding */
#define KIT_SCAN_FOLD 2  /* the files' ASCII letters compared lower-cased (needles lower-case) */

/* How many times the needles occur in the files under path (0 when path does not exist); each
 * finding is named on stderr (file, offset, needle) unless KIT_SCAN_QUIET. */
int kit_scan(const char *path, const kit_needles *nd, int flags);

#endif
