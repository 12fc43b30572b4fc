/* stream_hash.h: the streaming hash behind a stream's identity (docs/index-format.md, "Stream
 * identity"): 8 bytes at a time through an invertible mix, so two streams that differ in one
 * word always differ, at several GB/s (verifying a resumed stream reads and hashes every byte
 * before the offset). The catalog stream (engine/catalog/ingest.c) and the event stream
 * (engine/events/ingest.c) both commit it with their resume position; a stored value must keep
 * meaning the same, so this function never changes. */
#ifndef SOUK_CORE_STREAM_HASH_H
#define SOUK_CORE_STREAM_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct souk_stream_hash {
    uint64_t h;
    uint64_t len;    /* bytes hashed */
    uint8_t tail[8]; /* the last len % 8 of them, not mixed yet */
} souk_stream_hash;

static inline uint64_t souk__sh_mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* Hashes n more bytes of the stream. */
static inline void souk__sh_update(souk_stream_hash *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t k = (size_t)(s->len & 7);
    uint64_t v;
    s->len += n;
    if (k) {
        size_t take = 8 - k < n ? 8 - k : n;
        memcpy(s->tail + k, p, take);
        p += take;
        n -= take;
        if (k + take < 8)
            return;
        memcpy(&v, s->tail, 8);
        s->h = souk__sh_mix(s->h, v);
    }
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&v, p, 8);
        s->h = souk__sh_mix(s->h, v);
    }
    memcpy(s->tail, p, n);
}

/* The hash of the bytes so far (s is unchanged). */
static inline uint64_t souk__sh_final(const souk_stream_hash *s)
{
    uint64_t v = 0;
    memcpy(&v, s->tail, (size_t)(s->len & 7));
    uint64_t h = souk__sh_mix(souk__sh_mix(s->h, v), s->len);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

#endif
