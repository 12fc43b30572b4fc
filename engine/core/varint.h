/* varint.h: LEB128 variable-length integers and big-endian keys, shared by the engine's codecs.
 * Internal to engine/. */
#ifndef SOUK_VARINT_H
#define SOUK_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes v at p; returns the number of bytes written (1..10). */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [*p, end). Returns 0 and advances *p, or -1 when truncated/overlong. */
static inline int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;
    const uint8_t *q = *p;
    while (q < end && shift < 64) {
        uint8_t b = *q++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *p = q;
            *v = r;
            return 0;
        }
        shift += 7;
    }
    return -1;
}

/* As varint_get for values that must fit 32 bits. */
static inline int varint_get32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    uint64_t x;
    if (varint_get(p, end, &x) || x > UINT32_MAX)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static inline void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8); /* the index format is little-endian; x86-64 and arm64 only */
}

static inline uint64_t le64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Hash of a short byte string, 8 bytes at a time: terms and ids in the engine's hash tables. The
 * same function everywhere, so a hash computed in an analysis thread serves the writer. */
static inline uint64_t souk__hash(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    /* The last n < 8 bytes, zero padded, as a little-endian number, assembled from (possibly
     * overlapping) loads rather than a memcpy of variable length, which is a library call. */
    uint64_t v = 0;
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        v = (uint64_t)a | ((uint64_t)b << ((n - 4) * 8));
    } else if (n) {
        v = (uint64_t)s[0] | ((uint64_t)s[n / 2] << (8 * (n / 2))) |
            ((uint64_t)s[n - 1] << (8 * (n - 1)));
    }
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

/* Fetches the cache line of p ahead of use (a hint: any address will do). GCC 12 dropped some
 * __builtin_prefetch calls in the writer's loops as dead code; the asm form stays. */
static inline void souk__prefetch(const void *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetcht0 (%0)" ::"r"(p));
#else
    __builtin_prefetch(p);
#endif
}

/* a[0, n) == b[0, n), with loads inside both ranges only (overlapping 8- or 4-byte loads for the
 * tail): the hash tables' check after a hash match, inlined where memcmp is a library call. */
static inline int souk__bytes_eq(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    uint64_t u, v;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&u, x + i, 8);
            memcpy(&v, y + i, 8);
            if (u != v)
                return 0;
        }
        memcpy(&u, x + n - 8, 8);
        memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        uint32_t p, q, r, s;
        memcpy(&p, x, 4);
        memcpy(&q, y, 4);
        memcpy(&r, x + n - 4, 4);
        memcpy(&s, y + n - 4, 4);
        return p == q && r == s;
    }
    return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

/* The first 8 bytes of a string as a big-endian number (zero padded): comparing these orders
 * strings like memcmp does, as far as they go. */
static inline uint64_t souk__prefix8(const char *t, size_t len)
{
    uint64_t p = 0;
    for (size_t i = 0; i < 8; i++)
        p = (p << 8) | (i < len ? (uint8_t)t[i] : 0);
    return p;
}

#endif
