/* block.h: the postings block codec. A block holds up to SOUK_BLOCK_MAX postings of one term:
 * docid gaps and wdfs bit-packed at the width of the block's largest value, and, optionally,
 * positions (counts, then varint gaps). The header carries the block maxima that dynamic pruning
 * needs: the largest wdf and the smallest document length.
 *
 * Layout (integers varint unless noted):
 *   u8 flags (bit0: positions present)
 *   count, first docid, last docid, max wdf, min doclen, wdf bias
 *   u8 docid bits, u8 wdf bits, 4-byte float smallest doclen / wdf (little-endian)
 *   [5-byte varint positions section length]        only with positions
 *   docid section: (docids[i] - docids[i-1] - 1) for i in 1..count, bit-packed, little-endian
 *   wdf section:   (wdf - bias) for each posting, bit-packed
 *   positions:     each posting's position count, then each posting's positions as varint
 *                  gaps (the first from 0), ascending. */
#ifndef SOUK_BLOCK_H
#define SOUK_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define SOUK_BLOCK_MAX 128

/* Postings to encode. positions is the concatenation of each posting's npos[i] positions. */
typedef struct souk_block_in {
    uint32_t count;
    const uint32_t *docids; /* strictly ascending, >= 1 */
    const uint32_t *wdfs;
    const uint32_t *npos;      /* NULL: no positions */
    const uint32_t *positions; /* ascending within each posting */
    uint32_t min_doclen;
    float min_len_per_wdf; /* smallest doclen / wdf of a posting with wdf > 0 (rounded down) */
    /* When set, posting i's positions are pos_each[i][0, npos[i]) and `positions` is unused:
     * the bulk writer encodes them where the analysis left them, without gathering a copy. */
    const uint32_t *const *pos_each;
} souk_block_in;

/* A parsed block header, pointing into the encoded bytes (borrowed). */
typedef struct souk_block {
    uint32_t count;
    uint32_t first_docid;
    uint32_t last_docid;
    uint32_t max_wdf;
    uint32_t min_doclen;
    float min_len_per_wdf; /* bounds BM25 tighter than max wdf and min doclen alone */
    uint32_t wdf_bias;
    unsigned docid_bits, wdf_bits;
    int has_positions;
    const uint8_t *docs;
    size_t docs_len;
    const uint8_t *wdfs;
    size_t wdfs_len;
    const uint8_t *pos;
    size_t pos_len;
} souk_block;

/* Upper bound of the encoded size of a block with count postings and npositions positions. */
size_t souk_block_bound(uint32_t count, uint64_t npositions);

/* Encodes in into out (at least souk_block_bound bytes). Returns the encoded length. */
size_t souk_block_encode(const souk_block_in *in, uint8_t *out);

/* Parses the header of an encoded block. Returns 0, or SOUK_ECORRUPT if it is malformed. */
int souk_block_parse(const uint8_t *p, size_t len, souk_block *b);

/* Decodes the docids (count of them) into out. Returns 0 or SOUK_ECORRUPT. */
int souk_block_docids(const souk_block *b, uint32_t *out);

/* 1 when blocks are decoded with SIMD (x86-64 with AVX2, unless the environment sets
 * SOUK_NO_SIMD=1), 0 when with the scalar decoder. */
int souk_block_simd(void);

/* Decodes the wdfs into out. Returns 0 or SOUK_ECORRUPT. */
int souk_block_wdfs(const souk_block *b, uint32_t *out);

/* Decodes position counts into npos (count entries) and all positions into pos (capacity cap).
 * *total receives the number of positions. Returns 0, SOUK_ETOOBIG if cap is too small (with
 * *total set to the needed size), or SOUK_ECORRUPT. A block without positions yields zeros. */
int souk_block_positions(const souk_block *b, uint32_t *npos, uint32_t *pos, size_t cap,
                         size_t *total);

#endif
