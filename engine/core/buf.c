/* buf.c: the capped byte buffer and the array-growth helper (souk/buf.h). */
#include "souk/buf.h"
#include "souk/souk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int souk_grow_slow(void **p, size_t *cap, size_t need, size_t elem_size, size_t max)
{
    if (need <= *cap)
        return SOUK_OK;
    if (need > max || elem_size == 0 || need > SIZE_MAX / elem_size)
        return SOUK_ETOOBIG;
    size_t nc = *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (nc < 16)
        nc = 16;
    if (nc < need)
        nc = need;
    if (nc > max)
        nc = max;
    if (nc > SIZE_MAX / elem_size)
        nc = SIZE_MAX / elem_size;
    void *np = souk_realloc(*p, nc * elem_size);
    if (!np)
        return SOUK_ENOMEM;
    *p = np;
    *cap = nc;
    return SOUK_OK;
}

int souk_buf_grow_slow(souk_buf *b, size_t extra)
{
    size_t limit = b->max ? b->max : SIZE_MAX - 1;
    if (extra > limit || b->len > limit - extra)
        return SOUK_ETOOBIG;
    /* One byte more than the content for the 0 byte; the cap is on the content. The first
     * allocation is 256 bytes, then the size doubles up to the cap. */
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return SOUK_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > limit + 1)
        cap = limit + 1;
    char *p = souk_realloc(b->p, cap);
    if (!p)
        return SOUK_ENOMEM;
    b->p = p;
    b->cap = cap;
    return SOUK_OK;
}

int souk_buf_add(souk_buf *b, const void *p, size_t n)
{
    int rc = souk_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return SOUK_OK;
}

int souk_buf_str(souk_buf *b, const char *s)
{
    return souk_buf_add(b, s, strlen(s));
}

int souk_buf_vprintf(souk_buf *b, const char *fmt, va_list ap)
{
    char tmp[512];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    int rc = SOUK_EINVAL;
    if (n >= 0 && (size_t)n < sizeof tmp)
        rc = souk_buf_add(b, tmp, (size_t)n);
    else if (n >= 0 && (rc = souk_buf_reserve(b, (size_t)n)) == 0) {
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int souk_buf_printf(souk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = souk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void souk_buf_reset(souk_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

void souk_buf_free(souk_buf *b)
{
    souk_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
