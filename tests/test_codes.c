/* test_codes.c: the joined code terms of part numbers (engine/text/codes.c, docs/part-numbers.md):
 * the documented examples, documents against queries, and a code found wherever it sits in a
 * text (the scan that skips texts without a digit reads 16 bytes at a time). */
#include "check.h"
#include "text/codes.h"
#include "souk/souk.h"

typedef struct out {
    char terms[32][64];
    size_t n;
} out;

static void take(void *ctx, const char *term, size_t len)
{
    out *o = ctx;
    if (o->n < 32 && len < 64) {
        memcpy(o->terms[o->n], term, len);
        o->terms[o->n][len] = 0;
        o->n++;
    }
}

/* The code terms of text, joined by spaces, for comparing. */
static const char *codes_of(const char *text, int query)
{
    static char buf[2048];
    out o = {.n = 0};
    size_t n = souk__codes(text, strlen(text), query, take, &o, 256);
    CHECK_EQ_U64(n, o.n);
    buf[0] = 0;
    for (size_t i = 0; i < o.n; i++) {
        if (i)
            strcat(buf, " ");
        strcat(buf, o.terms[i]);
    }
    return buf;
}

static void expect(const char *text, int query, const char *want)
{
    const char *got = codes_of(text, query);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "codes of '%s' (%s): '%s', expected '%s'\n", text,
                query ? "query" : "document", got, want);
        check_failures++;
    }
}

int main(void)
{
    souk_alloc_init();
    /* Documents: each adjacent pair holding letters and digits. */
    expect("DIN 933 hex bolt", 0, "XCODE:din933 XCODE:933hex");
    expect("bearing 6204-2RS sealed", 0, "XCODE:bearing6204 XCODE:62042rs XCODE:2rssealed");
    expect("M8x40", 0, "");
    expect("M8 x 40", 0, "XCODE:m8x XCODE:x40");
    expect("ISO 4017 and RFC 2822", 0, "XCODE:iso4017 XCODE:4017and XCODE:rfc2822");
    /* "2.0" alone is a number, not a code. */
    expect("version 2.0 released", 0, "XCODE:version2 XCODE:0released");
    expect("release 2.0", 0, "XCODE:release2");
    expect("runs of words, a comma: m8, 40", 0, "");
    expect("no digits here at all, none whatsoever in this long text", 0, "");
    expect("", 0, "");
    expect("M8 x 40", 1, "XCODE:m8 XCODE:m8x XCODE:m8x40 XCODE:x40");
    /* The same code at every offset of a long text, digits nowhere else. */
    char text[200];
    for (size_t at = 0; at < 80; at++) {
        memset(text, 'a', at);
        for (size_t k = 0; k < at; k++)
            text[k] = (k % 7 == 6) ? ' ' : 'q';
        strcpy(text + at, at ? " DIN 933 end" : "DIN 933 end");
        expect(text, 0, "XCODE:din933 XCODE:933end");
        /* A digit alone far into the text still makes its pair a code. */
        strcpy(text + at, at ? " abc 9" : "abc 9");
        expect(text, 0, "XCODE:abc9");
    }
    return check_done("test_codes");
}
