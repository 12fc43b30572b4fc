/* buf.h (core layer): the engine's one growable byte buffer with a hard cap (souk_buf, after curl's
 * dynbuf) and its one array-growth helper (souk_grow). Every growable array or byte string of the
 * engine, the server and the programs grows through these: the doubling, the overflow checks and
 * the cap are written once. Neither truncates: passing the cap is an error (SOUK_ETOOBIG), and a
 * failed call leaves the buffer or array as it was. */
#ifndef SOUK_BUF_H
#define SOUK_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Makes room for need elements of elem_size bytes in the array *p of *cap elements: when need is
 * more than *cap, reallocates *p (souk_realloc) to the larger of need and twice *cap, at least
 * 16 elements, but at most max elements, and sets *cap. Returns SOUK_OK (also when there was
 * room), SOUK_ETOOBIG when need is more than max or its bytes do not fit in a size_t, or
 * SOUK_ENOMEM; on an error *p and *cap are unchanged. max is the array's hard cap in elements
 * (SIZE_MAX: only the size_t limit). *p must be NULL or from malloc/realloc (souk_malloc and
 * souk_realloc are the C library's: engine/core/alloc.c); p is passed as (void **)&array. Any
 * thread (on its own array). */
int souk_grow_slow(void **p, size_t *cap, size_t need, size_t elem_size, size_t max);
static inline int souk_grow(void **p, size_t *cap, size_t need, size_t elem_size, size_t max)
{
    return need <= *cap ? 0 : souk_grow_slow(p, cap, need, elem_size, max);
}

/* souk_grow, with a first allocation of at least first elements (but at most max): for an
 * array known to grow large, whose reallocations while it is small would only copy. */
static inline int souk_grow_first(void **p, size_t *cap, size_t need, size_t elem_size, size_t max,
                                  size_t first)
{
    if (need <= *cap)
        return 0;
    if (first > max)
        first = max;
    return souk_grow_slow(p, cap, need < first ? first : need, elem_size, max);
}

/* A byte buffer: p[0, len) is the content, followed by a 0 byte once anything was added (p is
 * NULL before), cap bytes allocated. max is the cap on len (0: only the size_t limit), set by
 * the owner before the first addition; a zeroed souk_buf is an empty, uncapped buffer. The owner
 * may read p and len, and may shorten len (writing the 0 byte again if it relies on it). */
typedef struct souk_buf {
    char *p;
    size_t len, cap, max;
} souk_buf;

/* Makes room for extra more bytes (and the 0 byte). SOUK_OK, SOUK_ETOOBIG past max, or
 * SOUK_ENOMEM; the content is unchanged either way. */
int souk_buf_grow_slow(souk_buf *b, size_t extra);
static inline int souk_buf_reserve(souk_buf *b, size_t extra)
{
    return extra < b->cap - b->len ? 0 : souk_buf_grow_slow(b, extra);
}

/* Appends p[0, n). SOUK_OK, SOUK_ETOOBIG (nothing appended: never a part) or SOUK_ENOMEM. */
int souk_buf_add(souk_buf *b, const void *p, size_t n);

/* Appends the string s. As souk_buf_add. */
int souk_buf_str(souk_buf *b, const char *s);

/* Appends printf's output (all of it, or nothing). As souk_buf_add, and SOUK_EINVAL when the
 * format fails. */
int souk_buf_printf(souk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int souk_buf_vprintf(souk_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Empties the buffer, keeping its memory and its cap. */
void souk_buf_reset(souk_buf *b);

/* Frees the memory; the buffer is empty and keeps its cap. */
void souk_buf_free(souk_buf *b);

#ifdef __cplusplus
}
#endif

#endif
