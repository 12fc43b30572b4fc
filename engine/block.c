/* block.c: the postings block codec (see souk/block.h). Stream VByte (Debian's
 * libstreamvbyte) decodes docid gaps and wdfs with SIMD; positions are rarer and use varints. */
#include "souk/block.h"
#include "souk/souk.h"
#include "varint.h"

#include <streamvbyte.h>
#include <streamvbytedelta.h>
#include <string.h>

size_t souk_block_bound(uint32_t count, uint64_t npositions)
{
    return 1 + 10 * 9 + 2 * streamvbyte_max_compressedbytes(count) +
           streamvbyte_max_compressedbytes(count) + (size_t)npositions * 5 + 16;
}

size_t souk_block_encode(const souk_block_in *in, uint8_t *out)
{
    uint32_t n = in->count;
    uint32_t max_wdf = 0, bias = UINT32_MAX;
    uint32_t tmp[SOUK_BLOCK_MAX] = {0};
    uint8_t docs[SOUK_BLOCK_MAX * 5], wdfs[SOUK_BLOCK_MAX * 5];
    for (uint32_t i = 0; i < n; i++) {
        if (in->wdfs[i] > max_wdf)
            max_wdf = in->wdfs[i];
        if (in->wdfs[i] < bias)
            bias = in->wdfs[i];
    }
    size_t docs_len =
        n > 1 ? streamvbyte_delta_encode(in->docids + 1, n - 1, docs, in->docids[0]) : 0;
    for (uint32_t i = 0; i < n; i++)
        tmp[i] = in->wdfs[i] - bias;
    size_t wdfs_len = streamvbyte_encode_0124(tmp, n, wdfs);
    uint8_t *p = out;
    *p++ = in->npos ? 1 : 0;
    p += varint_put(p, n);
    p += varint_put(p, in->docids[0]);
    p += varint_put(p, in->docids[n - 1]);
    p += varint_put(p, max_wdf);
    p += varint_put(p, in->min_doclen);
    p += varint_put(p, bias);
    p += varint_put(p, docs_len);
    p += varint_put(p, wdfs_len);
    size_t pos_len = 0;
    uint8_t *pos_len_at = NULL;
    if (in->npos) {
        /* The positions length is written after the fact; reserve 5 bytes, fixed-width. */
        pos_len_at = p;
        p += 5;
    }
    memcpy(p, docs, docs_len);
    p += docs_len;
    memcpy(p, wdfs, wdfs_len);
    p += wdfs_len;
    if (in->npos) {
        uint8_t *start = p;
        p += streamvbyte_encode_0124(in->npos, n, p);
        const uint32_t *pp = in->positions;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t prev = 0;
            for (uint32_t k = 0; k < in->npos[i]; k++) {
                p += varint_put(p, pp[k] - prev);
                prev = pp[k];
            }
            pp += in->npos[i];
        }
        pos_len = (size_t)(p - start);
        /* Five-byte padded varint so the header size does not depend on the value. */
        uint64_t v = pos_len;
        for (int k = 0; k < 5; k++) {
            pos_len_at[k] = (uint8_t)((v & 0x7f) | (k < 4 ? 0x80 : 0));
            v >>= 7;
        }
    }
    return (size_t)(p - out);
}

int souk_block_parse(const uint8_t *p, size_t len, souk_block *b)
{
    const uint8_t *end = p + len;
    uint32_t v[9];
    if (len < 1)
        return SOUK_ECORRUPT;
    uint8_t flags = *p++;
    if (flags > 1)
        return SOUK_ECORRUPT;
    for (int i = 0; i < 8; i++) {
        if (varint_get32(&p, end, &v[i]))
            return SOUK_ECORRUPT;
    }
    b->has_positions = flags & 1;
    uint64_t pos_len = 0;
    if (b->has_positions && varint_get(&p, end, &pos_len))
        return SOUK_ECORRUPT;
    b->count = v[0];
    b->first_docid = v[1];
    b->last_docid = v[2];
    b->max_wdf = v[3];
    b->min_doclen = v[4];
    b->wdf_bias = v[5];
    b->docs_len = v[6];
    b->wdfs_len = v[7];
    b->pos_len = (size_t)pos_len;
    if (b->count == 0 || b->count > SOUK_BLOCK_MAX || b->last_docid < b->first_docid)
        return SOUK_ECORRUPT;
    if ((size_t)(end - p) != b->docs_len + b->wdfs_len + b->pos_len)
        return SOUK_ECORRUPT;
    b->docs = p;
    b->wdfs = p + b->docs_len;
    b->pos = b->has_positions ? b->wdfs + b->wdfs_len : NULL;
    return SOUK_OK;
}

/* Stream VByte's SIMD decoder may load 16 bytes at a time; decode from a padded copy when the
 * section is the last thing in the buffer and fewer than 16 bytes follow it. */
static int decode_section(const uint8_t *p, size_t len, size_t after, uint32_t *out, uint32_t n,
                          int delta, uint32_t prev)
{
    uint8_t buf[SOUK_BLOCK_MAX * 5 + 32];
    if (after < 16) {
        if (len > sizeof buf - 16)
            return SOUK_ECORRUPT;
        memcpy(buf, p, len);
        memset(buf + len, 0, 16);
        p = buf;
    }
    size_t used =
        delta ? streamvbyte_delta_decode(p, out, n, prev) : streamvbyte_decode_0124(p, out, n);
    return used == len ? SOUK_OK : SOUK_ECORRUPT;
}

int souk_block_docids(const souk_block *b, uint32_t *out)
{
    out[0] = b->first_docid;
    if (b->count == 1)
        return b->docs_len == 0 ? SOUK_OK : SOUK_ECORRUPT;
    int rc = decode_section(b->docs, b->docs_len, b->wdfs_len + b->pos_len, out + 1, b->count - 1,
                            1, b->first_docid);
    if (rc == SOUK_OK && out[b->count - 1] != b->last_docid)
        return SOUK_ECORRUPT;
    return rc;
}

int souk_block_wdfs(const souk_block *b, uint32_t *out)
{
    int rc = decode_section(b->wdfs, b->wdfs_len, b->pos_len, out, b->count, 0, 0);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < b->count; i++)
        out[i] += b->wdf_bias;
    return SOUK_OK;
}

int souk_block_positions(const souk_block *b, uint32_t *npos, uint32_t *pos, size_t cap,
                         size_t *total)
{
    if (!b->has_positions) {
        memset(npos, 0, b->count * sizeof *npos);
        *total = 0;
        return SOUK_OK;
    }
    uint8_t buf[SOUK_BLOCK_MAX * 5 + 32];
    size_t cl = (b->count + 3) / 4;
    /* The counts section length is not stored: decode from a padded copy, then measure it. */
    size_t avail = b->pos_len < sizeof buf - 16 ? b->pos_len : sizeof buf - 16;
    memcpy(buf, b->pos, avail);
    memset(buf + avail, 0, 16);
    size_t used = streamvbyte_decode_0124(buf, npos, b->count);
    if (used > b->pos_len || used < cl)
        return SOUK_ECORRUPT;
    size_t need = 0;
    for (uint32_t i = 0; i < b->count; i++)
        need += npos[i];
    *total = need;
    if (need > cap)
        return SOUK_ETOOBIG;
    const uint8_t *p = b->pos + used, *end = b->pos + b->pos_len;
    size_t k = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        uint32_t prev = 0;
        for (uint32_t j = 0; j < npos[i]; j++) {
            uint32_t g;
            if (varint_get32(&p, end, &g) || (j > 0 && g == 0))
                return SOUK_ECORRUPT;
            prev += g;
            pos[k++] = prev;
        }
    }
    return p == end ? SOUK_OK : SOUK_ECORRUPT;
}
