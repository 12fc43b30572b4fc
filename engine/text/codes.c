/* codes.c: part numbers and codes ("M8x40", "DIN 933", "6204-2RS", "ISO 4017", "RFC 2822",
 * "H.264") matched however they are spaced or hyphenated. The text analysis splits such codes
 * into words ("din", "933"), so a query typed "DIN933" would find nothing. Documents therefore
 * also get, for each text field, joined code terms (prefix XCODE:, lower case, no separators):
 * every pair of adjacent words joined by a space, hyphen, slash or dot when the pair holds both
 * letters and digits. Queries (SOUK_QP_CODES) generate the joins of 1 to 3 adjacent words and
 * add those the dictionary has, as code terms or as plain words ("M8 x 40" finds the word
 * "m8x40"). docs/part-numbers.md has the rules. */
#include "text/codes.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAXTOK 24
#define MAXCODE 32

typedef struct tok {
    const char *p;
    size_t len;
    char sep;       /* separator before it: 0 none (first), or the byte; 'X' another */
    unsigned kinds; /* K_DIGIT and K_ALPHA of its bytes */
} tok;

/* Byte classes: ASCII digits and letters (the only bytes of code words). */
#define K_DIGIT 1u
#define K_ALPHA 2u
static const unsigned char kind[256] = {
    ['0'] = K_DIGIT, ['1'] = K_DIGIT, ['2'] = K_DIGIT, ['3'] = K_DIGIT, ['4'] = K_DIGIT,
    ['5'] = K_DIGIT, ['6'] = K_DIGIT, ['7'] = K_DIGIT, ['8'] = K_DIGIT, ['9'] = K_DIGIT,
    ['a'] = K_ALPHA, ['b'] = K_ALPHA, ['c'] = K_ALPHA, ['d'] = K_ALPHA, ['e'] = K_ALPHA,
    ['f'] = K_ALPHA, ['g'] = K_ALPHA, ['h'] = K_ALPHA, ['i'] = K_ALPHA, ['j'] = K_ALPHA,
    ['k'] = K_ALPHA, ['l'] = K_ALPHA, ['m'] = K_ALPHA, ['n'] = K_ALPHA, ['o'] = K_ALPHA,
    ['p'] = K_ALPHA, ['q'] = K_ALPHA, ['r'] = K_ALPHA, ['s'] = K_ALPHA, ['t'] = K_ALPHA,
    ['u'] = K_ALPHA, ['v'] = K_ALPHA, ['w'] = K_ALPHA, ['x'] = K_ALPHA, ['y'] = K_ALPHA,
    ['z'] = K_ALPHA, ['A'] = K_ALPHA, ['B'] = K_ALPHA, ['C'] = K_ALPHA, ['D'] = K_ALPHA,
    ['E'] = K_ALPHA, ['F'] = K_ALPHA, ['G'] = K_ALPHA, ['H'] = K_ALPHA, ['I'] = K_ALPHA,
    ['J'] = K_ALPHA, ['K'] = K_ALPHA, ['L'] = K_ALPHA, ['M'] = K_ALPHA, ['N'] = K_ALPHA,
    ['O'] = K_ALPHA, ['P'] = K_ALPHA, ['Q'] = K_ALPHA, ['R'] = K_ALPHA, ['S'] = K_ALPHA,
    ['T'] = K_ALPHA, ['U'] = K_ALPHA, ['V'] = K_ALPHA, ['W'] = K_ALPHA, ['X'] = K_ALPHA,
    ['Y'] = K_ALPHA, ['Z'] = K_ALPHA};

/* Emits prefix + lower-case join of toks[i..i+n). */
static size_t join(const tok *t, size_t i, size_t n, char *out)
{
    size_t len = strlen(SOUK_CODE_PREFIX);
    memcpy(out, SOUK_CODE_PREFIX, len);
    for (size_t k = i; k < i + n; k++) {
        if (len + t[k].len > strlen(SOUK_CODE_PREFIX) + MAXCODE)
            return 0;
        for (size_t c = 0; c < t[k].len; c++) {
            char ch = t[k].p[c];
            out[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
    }
    return len;
}

static int joinable(char sep)
{
    return sep == ' ' || sep == '-' || sep == '/' || sep == '.';
}

/* Whether s[0, n) holds an ASCII digit (16 bytes at a time where SSE2 is there). */
static int has_digit(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    for (; i + 16 <= n; i += 16) {
        __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(s + i)), zero);
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d)))
            return 1;
    }
#endif
    for (; i < n; i++)
        if (s[i] >= '0' && s[i] <= '9')
            return 1;
    return 0;
}

size_t souk__codes(const char *text, size_t len, int query, souk_code_fn fn, void *ctx, size_t max)
{
    /* Every code holds a digit: most texts have none, and are done at once. */
    if (!has_digit(text, len))
        return 0;
    tok t[MAXTOK];
    size_t nt = 0, emitted = 0;
    char buf[64];
    size_t i = 0;
    while (i <= len && emitted < max) {
        /* Read one run of tokens joined by single separators. */
        nt = 0;
        char sep = 0;
        unsigned run_kinds = 0;
        while (i < len && nt < MAXTOK) {
            if (!kind[(unsigned char)text[i]]) {
                size_t b = i;
                while (i < len && !kind[(unsigned char)text[i]])
                    i++;
                sep = i - b == 1 && joinable(text[b]) ? text[b] : 'X';
                if (nt && sep == 'X')
                    break; /* the run ends */
                continue;
            }
            size_t b = i;
            unsigned k = 0, c;
            while (i < len && (c = kind[(unsigned char)text[i]]) != 0) {
                k |= c;
                i++;
            }
            t[nt].p = text + b;
            t[nt].len = i - b;
            t[nt].sep = nt ? sep : 0;
            t[nt].kinds = k;
            run_kinds |= k;
            nt++;
        }
        /* Codes mix letters and digits (DIN 933, 6204-2RS, M8x40); a run without a digit has
         * none, and pure numbers such as versions ("2.0") are not joined. */
        if (run_kinds != (K_DIGIT | K_ALPHA))
            nt = 0;
        for (size_t a = 0; a < nt && emitted < max; a++) {
            size_t span_max = query ? 3 : 2;
            /* A single word is a term already: documents join pairs only. */
            for (size_t n = query ? 1 : 2; n <= span_max && a + n <= nt && emitted < max; n++) {
                unsigned kinds = 0;
                int ok = 1;
                for (size_t k = a; k < a + n; k++) {
                    kinds |= t[k].kinds;
                    if (k > a && !joinable(t[k].sep))
                        ok = 0;
                }
                if (!ok || kinds != (K_DIGIT | K_ALPHA))
                    continue;
                size_t l = join(t, a, n, buf);
                if (l) {
                    fn(ctx, buf, l);
                    emitted++;
                }
            }
        }
        if (i >= len)
            break;
    }
    return emitted;
}
