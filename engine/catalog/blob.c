/* blob.c: the stored-blob format (a codec byte, then raw or LZ4-compressed bytes) used for the
 * document store and per-document term lists, and the front coding of term lists. Compression
 * runs in the analysis threads, so the single writer thread writes fewer bytes. LZ4 rather than
 * zstd: these blobs are small (about 1 KB), and zstd's per-call set-up cost more CPU than the
 * whole rest of the analysis of a document (measured; see docs/index-format.md). */
#include "souk/buf.h"
#include "souk/index.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <string.h>
#include <lz4.h>

#define BLOB_RAW 0
#define BLOB_LZ4 1
#define BLOB_MIN_COMPRESS 96 /* shorter payloads are stored raw */

size_t souk_blob_pack(void *lz4state, const void *src, size_t len, uint8_t **out, size_t *cap)
{
    size_t bound = (size_t)LZ4_compressBound((int)len);
    if (len > (size_t)LZ4_MAX_INPUT_SIZE ||
        souk_grow_first((void **)out, cap, 16 + (bound > len ? bound : len), 1, SIZE_MAX, 4096))
        return 0;
    if (lz4state && len >= BLOB_MIN_COMPRESS) {
        /* codec byte, varint original length, compressed bytes */
        size_t h = 1 + varint_put(*out + 1, len);
        /* Each blob is an independent block: a fast reset instead of the 16 KB table clear
         * LZ4_compress_fast_extState does on every call (once a tenth of indexing's
         * instructions). */
        LZ4_resetStream_fast(lz4state);
        int z =
            LZ4_compress_fast_continue(lz4state, src, (char *)*out + h, (int)len, (int)bound, 1);
        if (z > 0 && (size_t)z + h + 8 < len + 1) {
            (*out)[0] = BLOB_LZ4;
            return (size_t)z + h;
        }
    }
    (*out)[0] = BLOB_RAW;
    memcpy(*out + 1, src, len);
    return len + 1;
}

void *souk_blob_state_new(void)
{
    void *m = souk_malloc(sizeof(LZ4_stream_t));
    return m ? LZ4_initStream(m, sizeof(LZ4_stream_t)) : NULL;
}

void souk_blob_state_free(void *state)
{
    souk_free(state);
}

long souk_blob_unpack(const uint8_t *blob, size_t len, uint8_t **out, size_t *cap)
{
    if (len < 1)
        return SOUK_ECORRUPT;
    if (blob[0] == BLOB_RAW) {
        if (souk_grow_first((void **)out, cap, len, 1, SIZE_MAX, 4096))
            return SOUK_ENOMEM;
        memcpy(*out, blob + 1, len - 1);
        return (long)(len - 1);
    }
    if (blob[0] != BLOB_LZ4)
        return SOUK_ECORRUPT;
    const uint8_t *p = blob + 1, *end = blob + len;
    uint64_t n;
    if (varint_get(&p, end, &n) || n > (64u << 20))
        return SOUK_ECORRUPT;
    if (souk_grow_first((void **)out, cap, (size_t)n + 1, 1, SIZE_MAX, 4096))
        return SOUK_ENOMEM;
    int r = LZ4_decompress_safe((const char *)p, (char *)*out, (int)(end - p), (int)n);
    if (r < 0 || (uint64_t)r != n)
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
        uint32_t s = 0, m = prev_len < terms[i].len ? prev_len : terms[i].len;
        /* The shared prefix eight bytes a step, then byte by byte. */
        while (s + 8 <= m) {
            uint64_t a, b;
            memcpy(&a, prev + s, 8);
            memcpy(&b, terms[i].term + s, 8);
            if (a != b) {
                s += (uint32_t)__builtin_ctzll(a ^ b) / 8; /* little-endian: the first byte */
                break;
            }
            s += 8;
        }
        while (s < m && prev[s] == terms[i].term[s])
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
