/* blob.c: the stored-blob format (a codec byte, then raw or zstd-compressed bytes) used for the
 * document store and per-document term lists, and the front coding of term lists. Compression
 * runs in the analysis threads, so the single writer thread writes fewer bytes. */
#include "souk/index.h"
#include "souk/souk.h"
#include "varint.h"

#include <string.h>
#include <zstd.h>

#define BLOB_RAW 0
#define BLOB_ZSTD 1
#define BLOB_MIN_COMPRESS 96 /* shorter payloads are stored raw */

static int reserve(uint8_t **out, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need)
        nc *= 2;
    uint8_t *n = souk_realloc(*out, nc);
    if (!n)
        return -1;
    *out = n;
    *cap = nc;
    return 0;
}

size_t souk_blob_pack(void *zcctx, const void *src, size_t len, uint8_t **out, size_t *cap)
{
    size_t bound = ZSTD_compressBound(len);
    if (reserve(out, cap, 1 + (bound > len ? bound : len)))
        return 0;
    if (zcctx && len >= BLOB_MIN_COMPRESS) {
        size_t z = ZSTD_compressCCtx(zcctx, *out + 1, bound, src, len, 1);
        if (!ZSTD_isError(z) && z + 8 < len) {
            (*out)[0] = BLOB_ZSTD;
            return z + 1;
        }
    }
    (*out)[0] = BLOB_RAW;
    memcpy(*out + 1, src, len);
    return len + 1;
}

long souk_blob_unpack(void *zdctx, const uint8_t *blob, size_t len, uint8_t **out, size_t *cap)
{
    if (len < 1)
        return SOUK_ECORRUPT;
    if (blob[0] == BLOB_RAW) {
        if (reserve(out, cap, len))
            return SOUK_ENOMEM;
        memcpy(*out, blob + 1, len - 1);
        return (long)(len - 1);
    }
    if (blob[0] != BLOB_ZSTD)
        return SOUK_ECORRUPT;
    unsigned long long n = ZSTD_getFrameContentSize(blob + 1, len - 1);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (64u << 20))
        return SOUK_ECORRUPT;
    if (reserve(out, cap, (size_t)n + 1))
        return SOUK_ENOMEM;
    size_t r = zdctx ? ZSTD_decompressDCtx(zdctx, *out, (size_t)n + 1, blob + 1, len - 1)
                     : ZSTD_decompress(*out, (size_t)n + 1, blob + 1, len - 1);
    if (ZSTD_isError(r) || r != n)
        return SOUK_ECORRUPT;
    return (long)r;
}

size_t souk_termlist_bound(const souk_dterm *terms, uint32_t n)
{
    size_t need = 16;
    for (uint32_t i = 0; i < n; i++)
        need += terms[i].len + 10;
    return need;
}

size_t souk_termlist_encode(const souk_dterm *terms, uint32_t n, uint8_t *out)
{
    uint8_t *p = out;
    const char *prev = "";
    uint32_t prev_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = 0;
        while (s < prev_len && s < terms[i].len && prev[s] == terms[i].term[s])
            s++;
        p += varint_put(p, s);
        p += varint_put(p, terms[i].len - s);
        memcpy(p, terms[i].term + s, terms[i].len - s);
        p += terms[i].len - s;
        prev = terms[i].term;
        prev_len = terms[i].len;
    }
    return (size_t)(p - out);
}
