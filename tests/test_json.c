/* test_json.c: the fast record parser (engine/catalog/json_fast.c) against cJSON itself. Whatever
 * the fast path accepts, cJSON must accept too, with the same tree (types, strings byte for byte,
 * numbers bit for bit, keys, order, links) ending at the same byte; what it declines goes to
 * cJSON. Checked on hand-written cases, on real Debian records, and on a bounded run of random
 * mutations of both. */
#include "check.h"
#include "catalog/json_fast.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static int same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Deep equality of two trees, including the prev links cJSON keeps (first's prev = last). */
static int same_tree(const cJSON *a, const cJSON *b)
{
    if (a->type != b->type || !same_str(a->string, b->string) || a->valueint != b->valueint ||
        memcmp(&a->valuedouble, &b->valuedouble, sizeof(double)) != 0)
        return 0;
    if ((a->type & 0xff) == cJSON_String && !same_str(a->valuestring, b->valuestring))
        return 0;
    const cJSON *x = a->child, *y = b->child;
    if (!x != !y)
        return 0;
    if (x && (!x->prev != !y->prev))
        return 0;
    const cJSON *lx = NULL, *ly = NULL;
    for (; x && y; x = x->next, y = y->next) {
        if (!same_tree(x, y))
            return 0;
        lx = x;
        ly = y;
    }
    if (x || y)
        return 0;
    if (a->child && (a->child->prev != lx || b->child->prev != ly))
        return 0;
    return 1;
}

static long accepted, declined;

/* Compares the two parsers on s[0, len); returns 1 when they agree. */
static int agree(souk_json_arena *ar, const char *s, size_t len, int must_be_fast)
{
    cJSON *fast = NULL;
    const char *fend = NULL, *cend = NULL;
    int rc = souk__json_parse(ar, s, len, &fast, &fend);
    if (rc == SOUK_JSON_NOMEM) {
        fprintf(stderr, "out of memory\n");
        return 0;
    }
    if (rc != SOUK_JSON_OK) {
        declined++;
        if (must_be_fast)
            fprintf(stderr, "fast parser declined: %.*s\n", (int)len, s);
        return !must_be_fast;
    }
    accepted++;
    cJSON *ref = cJSON_ParseWithLengthOpts(s, len, &cend, 0);
    int ok = ref && fend == cend && same_tree(fast, ref);
    if (!ok)
        fprintf(stderr, "fast parser differs from cJSON (%s) on: %.*s\n",
                !ref           ? "cJSON rejects it"
                : fend != cend ? "end"
                               : "tree",
                (int)len, s);
    cJSON_Delete(ref);
    return ok;
}

static void check_case(souk_json_arena *ar, const char *s, int must_be_fast)
{
    CHECK(agree(ar, s, strlen(s), must_be_fast));
}

static const char alphabet[] = "\"\\{}[],:0123456789.eE+-ubtnfr/ \t\n\x01\x1f\xc3\xa9xyzDd";

static void mutate_and_check(souk_json_arena *ar, const char *src, size_t len, int rounds)
{
    char buf[8192];
    if (len > sizeof buf - 8)
        len = sizeof buf - 8;
    for (int r = 0; r < rounds; r++) {
        size_t n = len;
        memcpy(buf, src, n);
        int edits = 1 + (int)(rnd() % 3);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = rnd() % n;
            char ch = alphabet[rnd() % (sizeof alphabet - 1)];
            switch (rnd() % 3) {
            case 0:
                buf[at] = ch;
                break;
            case 1:
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = ch;
                n++;
                break;
            default:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
            }
        }
        CHECK(agree(ar, buf, n, 0));
    }
}

int main(void)
{
    souk_alloc_init();
    souk_json_arena *ar = souk__json_arena_new();
    REQUIRE(ar != NULL);
    /* Well-formed records the fast path must take. */
    const char *fast_cases[] = {
        "{\"id\":\"1\",\"title\":\"plain\"}",
        "  {\"a\" : 1 , \"b\" :\t[ 1 , 2 ,3 ] }  trailing",
        "{\"s\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"}",
        "{\"u\":\"\\u00e9\\u4e2d\\uD83D\\uDE00\\u0041\\u0000tail\"}",
        "{\"n\":[0,-0,1,-1,0.5,-0.25,1e3,1E-3,2.5e+10,123456789012345678901234567890]}",
        "{\"n\":[2147483647,2147483648,-2147483648,-2147483649,1e308,-1e308,4.9e-324]}",
        "{\"b\":[true,false,null],\"e\":{},\"f\":[],\"g\":[{}],\"h\":[[[[]]]]}",
        "{\"dup\":1,\"dup\":2}",
        "{\"ctl\":\"raw\x01\x1f bytes\",\"utf8\":\"\xc3\xa9t\xc3\xa9\"}",
        "\x01\x02{\"x\":1}",
        "[1,2]",
        "\"just a string\"",
        "3.25",
    };
    for (size_t i = 0; i < sizeof fast_cases / sizeof fast_cases[0]; i++)
        check_case(ar, fast_cases[i], 1);
    /* Input the fast path leaves to cJSON (valid or not); must never disagree. */
    const char *other_cases[] = {
        "{\"a\":01}",
        "{\"a\":+1}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":1e5e}",
        "{\"a\":--1}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\uZZZZ\"}",
        "{\"a\":\"\\uDC00\"}",
        "{\"a\":\"\\uD800\"}",
        "{\"a\":\"\\uD800\\u0041\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "[1,,2]",
        "{\"a\":nul}",
        "{\"a\":tru}",
        "\xEF\xBB\xBF{\"bom\":1}",
        "",
        "   ",
        "{\"a\":[1,2}",
        "{\"a\":1234567890123456789012345678901234567890123456789012345678901234567890}",
    };
    for (size_t i = 0; i < sizeof other_cases / sizeof other_cases[0]; i++)
        check_case(ar, other_cases[i], 0);
    /* Deep nesting goes to cJSON. */
    char deep[400];
    size_t dn = 0;
    for (int i = 0; i < 150; i++)
        deep[dn++] = '[';
    for (int i = 0; i < 150; i++)
        deep[dn++] = ']';
    deep[dn] = 0;
    check_case(ar, deep, 0);

    /* Random mutations of the cases above. */
    for (size_t i = 0; i < sizeof fast_cases / sizeof fast_cases[0]; i++)
        mutate_and_check(ar, fast_cases[i], strlen(fast_cases[i]), 3000);

    /* Real records: every one of the first 3,000 Debian records takes the fast path and agrees,
     * and mutations of 300 of them agree. */
    const char *src = debian_catalog();
    if (src) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -3000", src);
        FILE *f = popen(cmd, "r");
        REQUIRE(f != NULL);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int k = 0;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] == '\n')
                n--;
            CHECK(agree(ar, line, (size_t)n, 1));
            if (k++ % 10 == 0)
                mutate_and_check(ar, line, (size_t)n, 40);
        }
        pclose(f);
        free(line);
        CHECK(k == 3000);
    } else {
        fprintf(stderr, "test_json: shared data absent, Debian part skipped\n");
    }
    fprintf(stderr, "test_json: fast path took %ld inputs, left %ld to cJSON\n", accepted,
            declined);
    CHECK(accepted > 3000);
    CHECK(declined > 1000);
    souk__json_arena_free(ar);
    return check_done("test_json");
}
