/* test_block.c: the postings block codec: round trips of random blocks (with and without
 * positions, every size up to the maximum, extreme values), exact header maxima, and rejection of
 * truncated or corrupted blocks; and the engine's byte-string hash, which the writer and the
 * analysis threads must compute alike. */
#include "check.h"
#include "souk/block.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <stdint.h>

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void roundtrip(uint32_t n, int with_pos, uint32_t maxgap, uint32_t maxwdf)
{
    uint32_t docids[SOUK_BLOCK_MAX], wdfs[SOUK_BLOCK_MAX], npos[SOUK_BLOCK_MAX];
    static uint32_t pos[SOUK_BLOCK_MAX * 64];
    size_t np = 0;
    uint32_t d = rnd() % 1000 + 1;
    for (uint32_t i = 0; i < n; i++) {
        docids[i] = d;
        d += 1 + rnd() % maxgap;
        wdfs[i] = maxwdf ? rnd() % maxwdf + 1 : 0;
        npos[i] = with_pos ? rnd() % 8 + 1 : 0;
        uint32_t p = 0;
        for (uint32_t k = 0; k < npos[i]; k++) {
            p += 1 + rnd() % 300;
            pos[np++] = p;
        }
    }
    souk_block_in in = {n, docids, wdfs, with_pos ? npos : NULL, pos, 7, 1.5f, NULL};
    uint8_t *buf = souk_malloc(souk_block_bound(n, np));
    size_t len = souk_block_encode(&in, buf);
    REQUIRE(len <= souk_block_bound(n, np));
    souk_block b;
    REQUIRE(souk_block_parse(buf, len, &b) == 0);
    CHECK_EQ_U64(b.count, n);
    CHECK_EQ_U64(b.first_docid, docids[0]);
    CHECK_EQ_U64(b.last_docid, docids[n - 1]);
    CHECK_EQ_U64(b.min_doclen, 7);
    CHECK(b.min_len_per_wdf == 1.5f);
    uint32_t mx = 0;
    for (uint32_t i = 0; i < n; i++)
        mx = wdfs[i] > mx ? wdfs[i] : mx;
    CHECK_EQ_U64(b.max_wdf, mx);
    uint32_t od[SOUK_BLOCK_MAX], ow[SOUK_BLOCK_MAX], onp[SOUK_BLOCK_MAX];
    static uint32_t opos[SOUK_BLOCK_MAX * 64];
    size_t total = 0;
    CHECK(souk_block_docids(&b, od) == 0);
    CHECK(souk_block_wdfs(&b, ow) == 0);
    CHECK(souk_block_positions(&b, onp, opos, sizeof opos / sizeof opos[0], &total) == 0);
    CHECK(memcmp(od, docids, n * 4) == 0);
    CHECK(memcmp(ow, wdfs, n * 4) == 0);
    CHECK_EQ_U64(total, np);
    if (with_pos) {
        CHECK(memcmp(onp, npos, n * 4) == 0);
        CHECK(memcmp(opos, pos, np * 4) == 0);
        /* Positions given per posting (the bulk writer's way) encode to the same bytes, even
         * where the postings' positions are not adjacent in memory. */
        static uint32_t spread[SOUK_BLOCK_MAX * 80];
        const uint32_t *each[SOUK_BLOCK_MAX];
        size_t at = 0, from = 0;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(spread + at, pos + from, npos[i] * 4);
            each[i] = spread + at;
            from += npos[i];
            at += npos[i] + 1 + i % 7;
        }
        souk_block_in in2 = in;
        in2.positions = NULL;
        in2.pos_each = each;
        uint8_t *buf2 = souk_malloc(souk_block_bound(n, np));
        REQUIRE(souk_block_encode(&in2, buf2) == len);
        CHECK(memcmp(buf2, buf, len) == 0);
        souk_free(buf2);
        /* Too small a buffer is reported, not overrun. */
        if (np > 1) {
            size_t need = 0;
            CHECK(souk_block_positions(&b, onp, opos, np - 1, &need) == SOUK_ETOOBIG);
            CHECK_EQ_U64(need, np);
        }
    }
    /* Every truncation is rejected by the header check. */
    for (size_t cut = 0; cut < len; cut++) {
        souk_block t;
        CHECK(souk_block_parse(buf, cut, &t) != 0);
    }
    souk_free(buf);
}

/* Every packed width, at counts around the groups of eight the SIMD decoder takes: wdfs with a
 * range of exactly `bits` bits (their minimum is the block's bias), and gaps of as many. */
static void widths(void)
{
    const uint32_t counts[] = {1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 120, 127, 128};
    for (unsigned bits = 1; bits <= 31; bits++) {
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            uint32_t n = counts[c], docids[SOUK_BLOCK_MAX], wdfs[SOUK_BLOCK_MAX];
            uint32_t top = (uint32_t)((1ull << bits) - 1), d = 1;
            for (uint32_t i = 0; i < n; i++) {
                docids[i] = d;
                uint32_t gap = bits <= 24 ? (i == n / 2 ? top : rnd() & top) : rnd() % 1000;
                d += 1 + gap;
                wdfs[i] = 1 + (i == n - 1 ? top : rnd() & top);
            }
            souk_block_in in = {n, docids, wdfs, NULL, NULL, 1, 1.0f, NULL};
            uint8_t *buf = souk_malloc(souk_block_bound(n, 0));
            size_t len = souk_block_encode(&in, buf);
            souk_block b;
            uint32_t od[SOUK_BLOCK_MAX], ow[SOUK_BLOCK_MAX];
            REQUIRE(souk_block_parse(buf, len, &b) == 0);
            CHECK(souk_block_docids(&b, od) == 0 && memcmp(od, docids, n * 4) == 0);
            CHECK(souk_block_wdfs(&b, ow) == 0 && memcmp(ow, wdfs, n * 4) == 0);
            souk_free(buf);
        }
    }
}

/* souk__hash as first written (the tail by a memcpy of variable length): the faster tail must
 * give the same values. */
static uint64_t hash_ref(const void *p, size_t n)
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
    uint64_t v = 0;
    memcpy(&v, s, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static void hashes(void)
{
    uint8_t buf[64];
    for (int t = 0; t < 2000; t++) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (uint8_t)rnd();
        for (size_t n = 0; n <= 40; n++)
            CHECK(souk__hash(buf + t % 8, n) == hash_ref(buf + t % 8, n));
    }
}

/* souk__bytes_eq against memcmp: every length to 40, equal, and one byte changed anywhere. */
static void bytes_eq(void)
{
    uint8_t a[48], b[48];
    for (int t = 0; t < 500; t++) {
        for (size_t i = 0; i < sizeof a; i++)
            a[i] = b[i] = (uint8_t)rnd();
        for (size_t n = 0; n <= 40; n++) {
            CHECK(souk__bytes_eq(a + t % 8, b + t % 8, n));
            for (size_t k = 0; k < n; k++) {
                b[t % 8 + k] ^= (uint8_t)(1u << (rnd() % 8));
                CHECK(!souk__bytes_eq(a + t % 8, b + t % 8, n));
                CHECK(souk__bytes_eq(a + t % 8, b + t % 8, k)); /* the bytes before it */
                b[t % 8 + k] = a[t % 8 + k];
            }
        }
    }
}

int main(void)
{
    hashes();
    bytes_eq();
    widths();
    printf("test_block: %s decoder\n", souk_block_simd() ? "SIMD" : "scalar");
    /* The decoder the run claims to test is the one that runs: scalar under SOUK_NO_SIMD
     * (test_block_scalar), SIMD wherever the CPU has AVX2 and SSSE3. */
    const char *no_simd = getenv("SOUK_NO_SIMD");
    if (no_simd && no_simd[0] == '1')
        CHECK(!souk_block_simd());
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("ssse3"))
        CHECK(souk_block_simd());
    for (uint32_t n = 1; n <= SOUK_BLOCK_MAX; n++) {
        roundtrip(n, 0, 5, 3);
        roundtrip(n, 1, 100, 40);
    }
    for (int i = 0; i < 200; i++) {
        roundtrip(rnd() % SOUK_BLOCK_MAX + 1, rnd() & 1, 1u << (rnd() % 24), rnd() % 100000);
        roundtrip(rnd() % SOUK_BLOCK_MAX + 1, 0, 3, 0); /* boolean terms: wdf 0 */
    }
    /* Large docids and wdfs near the 32-bit limit. */
    uint32_t docids[3] = {4000000000u, 4000000001u, 4294967294u}, wdfs[3] = {1, 4000000000u, 7};
    souk_block_in in = {3, docids, wdfs, NULL, NULL, 1, 0.25f, NULL};
    uint8_t buf[256];
    size_t len = souk_block_encode(&in, buf);
    souk_block b;
    uint32_t od[3], ow[3];
    REQUIRE(souk_block_parse(buf, len, &b) == 0);
    CHECK(souk_block_docids(&b, od) == 0 && od[2] == 4294967294u);
    CHECK(souk_block_wdfs(&b, ow) == 0 && ow[1] == 4000000000u);
    /* A corrupted flags byte and a count over the maximum are rejected. */
    buf[0] = 9;
    CHECK(souk_block_parse(buf, len, &b) == SOUK_ECORRUPT);
    return check_done("test_block");
}
