/* codes.c: part numbers and codes ("M8x40", "DIN 933", "6204-2RS", "ISO 4017", "RFC 2822",
 * "H.264") matched however they are spaced or hyphenated. The text analysis splits such codes
 * into words ("din", "933"), so a query typed "DIN933" would find nothing. Documents therefore
 * also get, for each text field, joined code terms (prefix XCODE:, lower case, no separators):
 * every pair of adjacent words joined by a space, hyphen, slash or dot when the pair holds both
 * letters and digits. Queries (SOUK_QP_CODES) generate the joins of 1 to 3 adjacent words and
 * add those the dictionary has, as code terms or as plain words ("M8 x 40" finds the word
 * "m8x40"). docs/part-numbers.md has the rules. */
#include "codes.h"

#include <string.h>

#define MAXTOK 24
#define MAXCODE 32

typedef struct tok {
    const char *p;
    size_t len;
    char sep; /* separator before it: 0 none (first), or the byte; 'X' another */
} tok;

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int has_digit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= '0' && p[i] <= '9')
            return 1;
    return 0;
}

static int has_alpha(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z')
            return 1;
    return 0;
}

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

size_t souk__codes(const char *text, size_t len, int query, souk_code_fn fn, void *ctx, size_t max)
{
    tok t[MAXTOK];
    size_t nt = 0, emitted = 0;
    char buf[64];
    size_t i = 0;
    while (i <= len && emitted < max) {
        /* Read one run of tokens joined by single separators. */
        nt = 0;
        char sep = 0;
        while (i < len && nt < MAXTOK) {
            if (!is_alnum((unsigned char)text[i])) {
                size_t b = i;
                while (i < len && !is_alnum((unsigned char)text[i]))
                    i++;
                sep = i - b == 1 && joinable(text[b]) ? text[b] : 'X';
                if (nt && sep == 'X')
                    break; /* the run ends */
                continue;
            }
            size_t b = i;
            while (i < len && is_alnum((unsigned char)text[i]))
                i++;
            t[nt].p = text + b;
            t[nt].len = i - b;
            t[nt].sep = nt ? sep : 0;
            nt++;
        }
        for (size_t a = 0; a < nt && emitted < max; a++) {
            size_t span_max = query ? 3 : 2;
            /* A single word is a term already: documents join pairs only. */
            for (size_t n = query ? 1 : 2; n <= span_max && a + n <= nt && emitted < max; n++) {
                int digit = 0, alpha = 0, ok = 1;
                for (size_t k = a; k < a + n; k++) {
                    digit |= has_digit(t[k].p, t[k].len);
                    alpha |= has_alpha(t[k].p, t[k].len);
                    if (k > a && !joinable(t[k].sep))
                        ok = 0;
                }
                /* Codes mix letters and digits (DIN 933, 6204-2RS, M8x40); pure numbers such as
                 * versions ("2.0") are not joined. */
                if (!ok || !digit || !alpha)
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
