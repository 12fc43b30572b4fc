/* souk.h: common definitions of the Souk engine library: error codes, their messages, and the
 * single allocation wrapper that every module (and cJSON, through souk_alloc_init) allocates
 * through. libuv keeps its own allocator (the system's, or jemalloc when linked).
 *
 * Conventions: functions return 0 or a negative SOUK_E* code. Out-parameters are written only on
 * success. New codes are added last and never renumbered. */
#ifndef SOUK_SOUK_H
#define SOUK_SOUK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOUK_OK 0
#define SOUK_ENOMEM (-1)    /* allocation failed */
#define SOUK_EIO (-2)       /* file or LMDB I/O error */
#define SOUK_EINVAL (-3)    /* invalid argument or input */
#define SOUK_ESCHEMA (-4)   /* schema file invalid, or does not match the index */
#define SOUK_EXAPIAN (-5)   /* Xapian raised an error */
#define SOUK_EQUERY (-6)    /* query syntax error */
#define SOUK_ENOTFOUND (-7) /* no such document or term */
#define SOUK_ECORRUPT (-8)  /* index data failed a consistency check */
#define SOUK_EFULL (-9)     /* map full even after growing */
#define SOUK_ETOOBIG (-10)  /* input over a configured cap */
#define SOUK_EFORMAT (-11)  /* index written by an incompatible version */
#define SOUK_ENOIDS (-12)   /* every document id (32 bits) has been handed out */

/* Returns a static, human-readable message for a SOUK_E* code. Thread-safe. */
const char *souk_strerror(int code);

/* Allocation wrapper in front of jemalloc (or the system malloc in sanitizer builds). Each
 * returns NULL on failure, which every caller reports (SOUK_ENOMEM). All are thread-safe. */
void *souk_malloc(size_t n);
void *souk_calloc(size_t n, size_t m);
void *souk_realloc(void *p, size_t n);
void souk_free(void *p);
char *souk_strndup(const char *s, size_t n);

/* Points cJSON's allocator at souk_malloc/souk_free. Call once at start-up, before threads. */
void souk_alloc_init(void);

#ifdef __cplusplus
}
#endif
#endif
