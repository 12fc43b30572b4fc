/* block.c: the postings block codec (see souk/block.h). Docid gaps and wdfs are bit-packed at
 * the width of the block's largest value (frame of reference, as Lucene and PISA do): decoding
 * is a tight shift-and-mask loop with no branches per value, which the compiler unrolls for each
 * width, and on x86-64 CPUs with AVX2 a SIMD loop (byte shuffles and per-lane shifts, eight
 * values at a time) for widths up to 25 bits, chosen at run time; docid prefix sums and wdf
 * biases are SIMD too. Positions are rarer (phrases only) and use varints.
 *
 * Why not Stream VByte: Debian's libstreamvbyte 0.4.1 is built without its SIMD decoder, and its
 * scalar decoder took a third of the query time (docs/benchmarks.md). */
#include "souk/block.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <stdlib.h>
#include <string.h>

/* Bits needed for v (0 for 0). */
static unsigned bits_for(uint32_t v)
{
    return v ? 32u - (unsigned)__builtin_clz(v) : 0u;
}

/* Packs n values of `bits` bits each, little-endian bit order, into out; returns bytes used. */
static size_t pack(const uint32_t *v, uint32_t n, unsigned bits, uint8_t *out)
{
    size_t bytes = ((size_t)n * bits + 7) / 8;
    if (bits == 0)
        return 0;
    memset(out, 0, bytes);
    uint64_t acc = 0;
    unsigned have = 0;
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc |= (uint64_t)v[i] << have;
        have += bits;
        while (have >= 8) {
            out[at++] = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    if (have)
        out[at++] = (uint8_t)acc;
    return bytes;
}

/* Reads 8 bytes at p (or fewer before end, zero-filled). */
static inline uint64_t load64(const uint8_t *p, const uint8_t *end)
{
    uint64_t v = 0;
    if (p + 8 <= end)
        memcpy(&v, p, 8);
    else if (p < end)
        memcpy(&v, p, (size_t)(end - p));
    return v;
}

/* Unpacks n values of `bits` bits from [p, p + len). The main loop reads whole 8-byte words and
 * is specialized per width by the compiler (bits is a constant in each instance). */
#define UNPACK_CASE(B)                                                                             \
    case B: {                                                                                      \
        const uint64_t mask = (B) == 32 ? 0xffffffffull : ((1ull << (B)) - 1);                     \
        /* Values whose 8-byte word lies wholly inside the section: i * B / 8 + 8 <= len. */       \
        uint32_t safe = len >= 8 ? (uint32_t)(((len - 8) * 8 + 7) / (B)) + 1 : 0;                  \
        if (safe > n)                                                                              \
            safe = n;                                                                              \
        UNPACK_GROUPS(B)                                                                           \
        for (; i < safe; i++) {                                                                    \
            size_t bit = (size_t)i * (B);                                                          \
            uint64_t w;                                                                            \
            memcpy(&w, p + bit / 8, 8);                                                            \
            out[i] = (uint32_t)((w >> (bit % 8)) & mask);                                          \
        }                                                                                          \
        for (; i < n; i++) {                                                                       \
            size_t bit = (size_t)i * (B);                                                          \
            out[i] = (uint32_t)((load64(p + bit / 8, p + len) >> (bit % 8)) & mask);               \
        }                                                                                          \
        break;                                                                                     \
    }

/* Eight values of B bits take exactly B bytes: for B <= 16 one 16-byte load holds a group, and
 * the shifts are constants, so the compiler unrolls each group into shift-and-mask. */
#define UNPACK_GROUPS(B)                                                                           \
    if ((B) <= 16) {                                                                               \
        const unsigned __int128 mask = ((unsigned __int128)1 << (B)) - 1;                          \
        while (i + 8 <= n && (size_t)(i / 8) * (B) + 16 <= len) {                                  \
            unsigned __int128 w;                                                                   \
            memcpy(&w, p + (size_t)(i / 8) * (B), 16);                                             \
            for (unsigned j = 0; j < 8; j++)                                                       \
                out[i + j] = (uint32_t)((w >> (j * (B))) & mask);                                  \
            i += 8;                                                                                \
        }                                                                                          \
    }

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <pthread.h>

/* SIMD unpacking (SSSE3 byte shuffles and AVX2 per-lane shifts, chosen at run time): eight
 * values of B bits start on a byte boundary and take B bytes, so each half of a group (four
 * values) is one 16-byte load, a shuffle that gathers the 4 bytes holding each value into its
 * 32-bit lane, a shift by the value's bit offset and a mask. A value of B <= 25 bits at a bit
 * offset <= 7 fits in 4 bytes. Masks and shifts per width and half are built once. */
#define SIMD_MAXB 25
static __m128i simd_shuf[SIMD_MAXB + 1][2], simd_shift[SIMD_MAXB + 1][2];
static int simd_ok;
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

static void simd_init(void)
{
    for (unsigned b = 1; b <= SIMD_MAXB; b++) {
        for (unsigned h = 0; h < 2; h++) {
            uint8_t sh[16];
            uint32_t by[4];
            unsigned o = (4 * b * h) % 8;
            for (unsigned k = 0; k < 4; k++) {
                unsigned bit = o + k * b;
                for (unsigned j = 0; j < 4; j++)
                    sh[4 * k + j] = (uint8_t)(bit / 8 + j);
                by[k] = bit % 8;
            }
            memcpy(&simd_shuf[b][h], sh, 16);
            simd_shift[b][h] = _mm_set_epi32((int)by[3], (int)by[2], (int)by[1], (int)by[0]);
        }
    }
    __builtin_cpu_init();
    /* SOUK_NO_SIMD=1 forces the scalar decoder (tests run the codec on both). */
    const char *off = getenv("SOUK_NO_SIMD");
    simd_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("ssse3") &&
              !(off && off[0] == '1');
}

static inline int simd_on(void)
{
    pthread_once(&simd_once, simd_init);
    return simd_ok;
}

/* Unpacks the whole groups of eight of n values of b bits (1..SIMD_MAXB) from p, which must be
 * readable 16 bytes past the packed data; returns how many values it wrote. */
__attribute__((target("avx2,ssse3"))) static uint32_t unpack_simd(const uint8_t *p, uint32_t n,
                                                                  unsigned b, uint32_t *out)
{
    const __m128i mask = _mm_set1_epi32((int)((1u << b) - 1));
    const __m128i s0 = simd_shuf[b][0], s1 = simd_shuf[b][1];
    const __m128i h0 = simd_shift[b][0], h1 = simd_shift[b][1];
    const size_t half = (size_t)(4 * b) / 8;
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint8_t *g = p + (size_t)(i / 8) * b;
        __m128i x = _mm_loadu_si128((const __m128i *)g);
        __m128i y = _mm_loadu_si128((const __m128i *)(g + half));
        x = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi8(x, s0), h0), mask);
        y = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi8(y, s1), h1), mask);
        _mm_storeu_si128((__m128i *)(out + i), x);
        _mm_storeu_si128((__m128i *)(out + i + 4), y);
    }
    return i;
}
/* Docids from gaps in place: out[i] = out[i - 1] + gap + 1, four lanes at a time (an in-lane
 * prefix sum by two shifted adds, plus the last docid so far). Returns the next index to do. */
__attribute__((target("avx2"))) static uint32_t prefix_simd(uint32_t *out, uint32_t n)
{
    const __m128i one = _mm_set1_epi32(1);
    __m128i run = _mm_set1_epi32((int)out[0]);
    uint32_t i = 1;
    for (; i + 4 <= n; i += 4) {
        __m128i x = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(out + i)), one);
        x = _mm_add_epi32(x, _mm_slli_si128(x, 4));
        x = _mm_add_epi32(x, _mm_slli_si128(x, 8));
        x = _mm_add_epi32(x, run);
        _mm_storeu_si128((__m128i *)(out + i), x);
        run = _mm_shuffle_epi32(x, 0xff);
    }
    return i;
}

/* wdfs from their stored differences in place (+ bias), and their maximum. */
__attribute__((target("avx2"))) static uint32_t bias_simd(uint32_t *out, uint32_t n, uint32_t bias)
{
    const __m128i b = _mm_set1_epi32((int)bias);
    __m128i mx = _mm_setzero_si128();
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128i x = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(out + i)), b);
        _mm_storeu_si128((__m128i *)(out + i), x);
        mx = _mm_max_epu32(mx, x);
    }
    mx = _mm_max_epu32(mx, _mm_shuffle_epi32(mx, 0x4e));
    mx = _mm_max_epu32(mx, _mm_shuffle_epi32(mx, 0xb1));
    uint32_t m = (uint32_t)_mm_cvtsi128_si32(mx);
    for (; i < n; i++) {
        out[i] += bias;
        if (out[i] > m)
            m = out[i];
    }
    return m;
}
#endif

int souk_block_simd(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return simd_on();
#else
    return 0;
#endif
}

static void unpack(const uint8_t *p, size_t len, uint32_t n, unsigned bits, uint32_t *out)
{
    uint32_t i = 0;
    /* A copy with 16 zero bytes after it lets every value take the wide loads: read in place,
     * the values in the section's last 8 (or 16) bytes would each need a bounded copy. */
    uint8_t padded[SOUK_BLOCK_MAX * 4 + 16];
    if (len + 16 <= sizeof padded) {
        memcpy(padded, p, len);
        memset(padded + len, 0, 16);
        p = padded;
        len += 16;
#if defined(__x86_64__) && defined(__GNUC__)
        if (bits >= 1 && bits <= SIMD_MAXB && simd_on()) {
            i = unpack_simd(p, n, bits, out);
            p += (size_t)(i / 8) * bits; /* the rest: the scalar code from the next group */
            len -= (size_t)(i / 8) * bits;
            n -= i;
            out += i;
            i = 0;
        }
#endif
    }
    switch (bits) {
    case 0:
        memset(out, 0, n * sizeof *out);
        break;
        UNPACK_CASE(1)
        UNPACK_CASE(2)
        UNPACK_CASE(3)
        UNPACK_CASE(4)
        UNPACK_CASE(5)
        UNPACK_CASE(6)
        UNPACK_CASE(7)
        UNPACK_CASE(8)
        UNPACK_CASE(9)
        UNPACK_CASE(10)
        UNPACK_CASE(11)
        UNPACK_CASE(12)
        UNPACK_CASE(13)
        UNPACK_CASE(14)
        UNPACK_CASE(15)
        UNPACK_CASE(16)
        UNPACK_CASE(17)
        UNPACK_CASE(18)
        UNPACK_CASE(19)
        UNPACK_CASE(20)
        UNPACK_CASE(21)
        UNPACK_CASE(22)
        UNPACK_CASE(23)
        UNPACK_CASE(24)
        UNPACK_CASE(25)
        UNPACK_CASE(26)
        UNPACK_CASE(27)
        UNPACK_CASE(28)
        UNPACK_CASE(29)
        UNPACK_CASE(30)
        UNPACK_CASE(31)
        UNPACK_CASE(32)
    }
}

size_t souk_block_bound(uint32_t count, uint64_t npositions)
{
    return 1 + 10 * 8 + 6 + 5 + 2 * (size_t)count * 4 + (size_t)count * 5 + (size_t)npositions * 5 +
           16;
}

size_t souk_block_encode(const souk_block_in *in, uint8_t *out)
{
    uint32_t n = in->count;
    uint32_t max_wdf = 0, bias = UINT32_MAX, maxgap = 0, maxw = 0;
    uint32_t gaps[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX];
    for (uint32_t i = 0; i < n; i++) {
        if (in->wdfs[i] > max_wdf)
            max_wdf = in->wdfs[i];
        if (in->wdfs[i] < bias)
            bias = in->wdfs[i];
    }
    for (uint32_t i = 1; i < n; i++) {
        gaps[i - 1] = in->docids[i] - in->docids[i - 1] - 1; /* docids ascend: gap >= 1 */
        if (gaps[i - 1] > maxgap)
            maxgap = gaps[i - 1];
    }
    for (uint32_t i = 0; i < n; i++) {
        w[i] = in->wdfs[i] - bias;
        if (w[i] > maxw)
            maxw = w[i];
    }
    unsigned bd = n > 1 ? bits_for(maxgap) : 0, bw = bits_for(maxw);
    uint8_t *p = out;
    *p++ = in->npos ? 1 : 0;
    p += varint_put(p, n);
    p += varint_put(p, in->docids[0]);
    p += varint_put(p, in->docids[n - 1]);
    p += varint_put(p, max_wdf);
    p += varint_put(p, in->min_doclen);
    p += varint_put(p, bias);
    *p++ = (uint8_t)bd;
    *p++ = (uint8_t)bw;
    memcpy(p, &in->min_len_per_wdf, 4);
    p += 4;
    uint8_t *pos_len_at = NULL;
    if (in->npos) {
        /* The positions length is written after the fact; reserve 5 bytes, fixed-width. */
        pos_len_at = p;
        p += 5;
    }
    p += pack(gaps, n > 1 ? n - 1 : 0, bd, p);
    p += pack(w, n, bw, p);
    if (in->npos) {
        uint8_t *start = p;
        const uint32_t *pp = in->positions;
        for (uint32_t i = 0; i < n; i++) {
            p += varint_put(p, in->npos[i]);
            if (in->pos_each && in->npos[i])
                souk__prefetch(in->pos_each[i]); /* scattered over the batch's position pool */
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t prev = 0;
            if (in->pos_each)
                pp = in->pos_each[i];
            for (uint32_t k = 0; k < in->npos[i]; k++) {
                p += varint_put(p, pp[k] - prev);
                prev = pp[k];
            }
            pp += in->npos[i];
        }
        /* Five-byte padded varint so the header size does not depend on the value. */
        uint64_t v = (uint64_t)(p - start);
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
    uint32_t v[6];
    if (len < 1)
        return SOUK_ECORRUPT;
    uint8_t flags = *p++;
    if (flags > 1)
        return SOUK_ECORRUPT;
    for (int i = 0; i < 6; i++) {
        if (varint_get32(&p, end, &v[i]))
            return SOUK_ECORRUPT;
    }
    if (end - p < 6)
        return SOUK_ECORRUPT;
    unsigned bd = *p++, bw = *p++;
    memcpy(&b->min_len_per_wdf, p, 4);
    p += 4;
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
    b->docid_bits = bd;
    b->wdf_bits = bw;
    if (b->count == 0 || b->count > SOUK_BLOCK_MAX || b->last_docid < b->first_docid || bd > 32 ||
        bw > 32 || (b->count == 1 && b->first_docid != b->last_docid))
        return SOUK_ECORRUPT;
    b->docs_len = ((size_t)(b->count - 1) * bd + 7) / 8;
    b->wdfs_len = ((size_t)b->count * bw + 7) / 8;
    b->pos_len = (size_t)pos_len;
    if ((size_t)(end - p) != b->docs_len + b->wdfs_len + b->pos_len)
        return SOUK_ECORRUPT;
    b->docs = p;
    b->wdfs = p + b->docs_len;
    b->pos = b->has_positions ? b->wdfs + b->wdfs_len : NULL;
    return SOUK_OK;
}

int souk_block_docids(const souk_block *b, uint32_t *out)
{
    uint32_t n = b->count;
    out[0] = b->first_docid;
    if (n == 1)
        return SOUK_OK;
    unpack(b->docs, b->docs_len, n - 1, b->docid_bits, out + 1);
    uint32_t i = 1;
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd_on())
        i = prefix_simd(out, n);
#endif
    uint32_t d = out[i - 1];
    for (; i < n; i++) {
        d += out[i] + 1;
        out[i] = d;
    }
    return out[n - 1] == b->last_docid ? SOUK_OK : SOUK_ECORRUPT;
}

int souk_block_wdfs(const souk_block *b, uint32_t *out)
{
    unpack(b->wdfs, b->wdfs_len, b->count, b->wdf_bits, out);
    uint32_t mx = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (simd_on()) {
        mx = bias_simd(out, b->count, b->wdf_bias);
    } else
#endif
    {
        for (uint32_t i = 0; i < b->count; i++) {
            out[i] += b->wdf_bias;
            if (out[i] > mx)
                mx = out[i];
        }
    }
    return mx == b->max_wdf ? SOUK_OK : SOUK_ECORRUPT;
}

int souk_block_positions(const souk_block *b, uint32_t *npos, uint32_t *pos, size_t cap,
                         size_t *total)
{
    if (!b->has_positions) {
        memset(npos, 0, b->count * sizeof *npos);
        *total = 0;
        return SOUK_OK;
    }
    const uint8_t *p = b->pos, *end = b->pos + b->pos_len;
    size_t need = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (varint_get32(&p, end, &npos[i]))
            return SOUK_ECORRUPT;
        need += npos[i];
    }
    *total = need;
    if (need > cap)
        return SOUK_ETOOBIG;
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
