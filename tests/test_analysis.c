/* test_analysis.c: proves that Souk's index terms are the ones Xapian produces. souk_analyze()
 * (the fast tokenizer) must emit exactly the same multiset of (term, position, wdf_inc) and
 * advance the term position exactly like souk_analyze_xapian() (the real TermGenerator with
 * STEM_SOME and FLAG_CJK_NGRAM), in every supported language:
 *   - the whole Debian catalog (English), indexed like a real document (title with prefix "S",
 *     then title and description unprefixed, one running term position per document);
 *   - Debian's translated package descriptions (de, fr, es, it, nl, pt, ru) from apt's lists;
 *   - real mixed Chinese/English product strings (which must take the Xapian fallback);
 *   - hand-written edge cases, in every language code, and a seeded random fuzz;
 *   - a stress run that overflows the fast path's bounded stem cache.
 * A few exact expected terms are asserted too, so the test fails if both paths broke the same
 * way, and the fast path must really be taken for text without CJK characters. */
#include <cjson/cJSON.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "souk/souk.h"
#include "souk/analysis.h"

/* A whole Debian catalog: 63,440 records in the shared data's, about as many from apt's lists. */
#define MIN_CATALOG_RECORDS 60000
#define MIN_TRANSLATED 200 /* documents required per translation file set */
#define FIELD_GAP 100      /* term positions added between fields, as an indexer does */
#define MAX_SHOWN 5        /* mismatching documents printed in detail per part */

/* Sanitizer builds compare every SAMPLE-th real document only: the normal build proves equality
 * on all of them, the sanitizer build looks for memory errors and must stay within time. */
#if defined(__SANITIZE_ADDRESS__)
#define SAMPLE 4
#else
#define SAMPLE 1
#endif

/* ---------------------------------------------------------------- term occurrence bags */

/* One emitted occurrence; the term bytes live in the bag's byte buffer at `off`. */
typedef struct occ {
    uint64_t key; /* the first 8 term bytes, big-endian, zero-padded: a fast sort key */
    uint32_t off;
    uint32_t len;
    uint32_t pos;
    uint32_t wdf;
} occ;

/* The multiset of occurrences one path produced for one document. */
typedef struct bag {
    occ *v;
    size_t n, cap;
    char *buf;
    size_t blen, bcap;
} bag;

static void bag_clear(bag *b)
{
    b->n = 0;
    b->blen = 0;
}

static void bag_release(bag *b)
{
    free(b->v);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* souk_term_fn: appends one occurrence. */
static void bag_add(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf_inc)
{
    bag *b = ctx;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        REQUIRE(b->v != NULL);
    }
    if (b->blen + len > b->bcap) {
        while (b->blen + len > b->bcap)
            b->bcap = b->bcap ? b->bcap * 2 : 4096;
        b->buf = realloc(b->buf, b->bcap);
        REQUIRE(b->buf != NULL);
    }
    if (len)
        memcpy(b->buf + b->blen, term, len);
    uint64_t key = 0;
    for (size_t k = 0; k < 8; k++)
        key = (key << 8) | (k < len ? (unsigned char)term[k] : 0u);
    b->v[b->n].key = key;
    b->v[b->n].off = (uint32_t)b->blen;
    b->v[b->n].len = (uint32_t)len;
    b->v[b->n].pos = pos;
    b->v[b->n].wdf = wdf_inc;
    b->n++;
    b->blen += len;
}

static const char *sort_buf; /* qsort has no context argument: the bag being sorted */

static int occ_cmp_in(const char *ba, const occ *x, const char *bb, const occ *y)
{
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = m ? memcmp(ba + x->off, bb + y->off, m) : 0;
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    if (x->wdf != y->wdf)
        return x->wdf < y->wdf ? -1 : 1;
    return 0;
}

static int occ_cmp(const void *a, const void *b)
{
    return occ_cmp_in(sort_buf, a, sort_buf, b);
}

static void bag_sort(bag *b)
{
    sort_buf = b->buf;
    qsort(b->v, b->n, sizeof *b->v, occ_cmp);
}

/* Sorts both bags and returns 1 when they hold the same multiset. */
static int bags_equal(bag *a, bag *b)
{
    bag_sort(a);
    bag_sort(b);
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (occ_cmp_in(a->buf, &a->v[i], b->buf, &b->v[i]) != 0)
            return 0;
    }
    return 1;
}

/* Returns 1 when the (sorted) bag holds term with this position (0: no position). */
static int bag_has(const bag *b, const char *term, uint32_t pos)
{
    size_t len = strlen(term);
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].len == len && b->v[i].pos == pos &&
            memcmp(b->buf + b->v[i].off, term, len) == 0)
            return 1;
    }
    return 0;
}

/* Returns how many occurrences of term (any position) the bag holds. */
static size_t bag_count(const bag *b, const char *term)
{
    size_t len = strlen(term), k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->v[i].len == len && memcmp(b->buf + b->v[i].off, term, len) == 0)
            k++;
    }
    return k;
}

/* Prints a bag, escaping control characters and backslashes. */
static void bag_print(const char *label, const bag *b)
{
    fprintf(stderr, "    %s (%zu occurrences):", label, b->n);
    for (size_t i = 0; i < b->n; i++) {
        fputs(" [", stderr);
        for (uint32_t k = 0; k < b->v[i].len; k++) {
            unsigned char c = (unsigned char)b->buf[b->v[i].off + k];
            if (c >= 0x20 && c != 0x7f && c != '\\')
                fputc(c, stderr);
            else
                fprintf(stderr, "\\x%02x", c);
        }
        fprintf(stderr, "]@%u/%u", b->v[i].pos, b->v[i].wdf);
    }
    fputc('\n', stderr);
}

/* Prints text with non-printable bytes escaped, cut at 300 bytes. */
static void text_print(const char *label, const char *t, size_t len)
{
    fprintf(stderr, "    %s (%zu bytes): \"", label, len);
    for (size_t k = 0; k < len && k < 300; k++) {
        unsigned char c = (unsigned char)t[k];
        if (c >= 0x20 && c != 0x7f && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputs(len > 300 ? "\"...\n" : "\"\n", stderr);
}

/* ---------------------------------------------------------------- analysis of documents */

/* One text field of a document. */
typedef struct field {
    const char *text;
    size_t len;
    const char *prefix;
    uint32_t wdf_inc;
} field;

/* The two analyzers: separate, so the fast analyzer's counters are not mixed with the direct
 * reference calls (souk_analyze_xapian counts itself as a fallback). */
static souk_analyzer *fast_an, *ref_an;
static double fast_secs, ref_secs; /* time spent in each path, for the docs/s figures */

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Returns 1 when souk_analyze must take its fast path: no byte >= 0xE1 means every character
 * is below U+1000 (invalid bytes count as ISO-8859-1 characters), far from any CJK block. */
static int surely_fast(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)t[i] >= 0xe1)
            return 0;
    }
    return 1;
}

static uint64_t fast_calls_expected, fast_calls_missed, fast_calls;

/* Analyzes the fields of one document through one path into b, sharing one term position
 * (starting at *termpos, FIELD_GAP added between fields). Returns the first error code. */
static int analyze_doc(int reference, const char *lang, const field *f, size_t nf, bag *b,
                       uint32_t *termpos)
{
    for (size_t i = 0; i < nf; i++) {
        if (i)
            *termpos += FIELD_GAP;
        double t0 = now_secs();
        int rc;
        if (reference) {
            rc = souk_analyze_xapian(ref_an, f[i].text, f[i].len, lang, f[i].prefix, f[i].wdf_inc,
                                     termpos, bag_add, b);
            ref_secs += now_secs() - t0;
        } else {
            uint64_t fast0, fb0, fast1, fb1;
            souk_analyzer_counts(fast_an, &fast0, &fb0);
            /* Every other call goes through souk_analyze_view (what the document builder
             * uses), so both ways of getting the terms are compared with Xapian. */
            if (fast_calls++ % 2) {
                souk_term_view v;
                rc = souk_analyze_view(fast_an, f[i].text, f[i].len, lang, f[i].prefix,
                                       f[i].wdf_inc, termpos, &v);
                for (size_t k = 0; rc == SOUK_OK && k < v.n; k++)
                    bag_add(b, v.bytes + v.occ[k].off, v.occ[k].len, v.occ[k].pos, f[i].wdf_inc);
            } else {
                rc = souk_analyze(fast_an, f[i].text, f[i].len, lang, f[i].prefix, f[i].wdf_inc,
                                  termpos, bag_add, b);
            }
            fast_secs += now_secs() - t0;
            souk_analyzer_counts(fast_an, &fast1, &fb1);
            CHECK_EQ_U64((fast1 - fast0) + (fb1 - fb0), 1);
            if (surely_fast(f[i].text, f[i].len)) {
                fast_calls_expected++;
                if (fast1 - fast0 != 1)
                    fast_calls_missed++;
            }
        }
        if (rc != SOUK_OK)
            return rc;
    }
    return SOUK_OK;
}

static bag fast_bag, ref_bag;

/* Analyzes one document through both paths and compares them. Returns 1 when they agree.
 * `what` names the document in messages; *shown counts the detailed reports printed. */
static int compare_doc(const char *what, const char *lang, const field *f, size_t nf, int *shown)
{
    uint32_t pos_fast = 0, pos_ref = 0;
    bag_clear(&fast_bag);
    bag_clear(&ref_bag);
    int rc_fast = analyze_doc(0, lang, f, nf, &fast_bag, &pos_fast);
    int rc_ref = analyze_doc(1, lang, f, nf, &ref_bag, &pos_ref);
    int same = rc_fast == SOUK_OK && rc_ref == SOUK_OK && pos_fast == pos_ref &&
               bags_equal(&fast_bag, &ref_bag);
    if (!same && (*shown)++ < MAX_SHOWN) {
        fprintf(stderr, "  mismatch in %s (lang %s): rc %d/%d, termpos %u/%u (fast/xapian)\n", what,
                lang, rc_fast, rc_ref, pos_fast, pos_ref);
        if (rc_fast != SOUK_OK)
            fprintf(stderr, "    fast error: %s\n", souk_analyzer_errmsg(fast_an));
        if (rc_ref != SOUK_OK)
            fprintf(stderr, "    xapian error: %s\n", souk_analyzer_errmsg(ref_an));
        for (size_t i = 0; i < nf; i++)
            text_print(f[i].prefix && *f[i].prefix ? f[i].prefix : "text", f[i].text, f[i].len);
        bag_print("fast", &fast_bag);
        bag_print("xapian", &ref_bag);
    }
    return same;
}

/* Compares one single-field text, with prefix "" and wdf_inc 1. */
static int compare_text(const char *lang, const char *text, int *shown)
{
    field f = {text, strlen(text), "", 1};
    return compare_doc("edge case", lang, &f, 1, shown);
}

/* ---------------------------------------------------------------- Debian catalog (English) */

static void test_catalog(void)
{
    const char *path = debian_catalog();
    if (!path)
        return; /* debian_catalog printed the SKIP */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "xz -dc '%s'", path);
    FILE *in = popen(cmd, "r");
    REQUIRE(in != NULL);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t records = 0, compared = 0, bad_json = 0, mismatches = 0;
    int shown = 0;
    double fast0 = fast_secs, ref0 = ref_secs;
    while ((n = getline(&line, &cap, in)) > 0) {
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)n);
        const cJSON *id = rec ? cJSON_GetObjectItemCaseSensitive(rec, "id") : NULL;
        const cJSON *title = rec ? cJSON_GetObjectItemCaseSensitive(rec, "title") : NULL;
        const cJSON *desc = rec ? cJSON_GetObjectItemCaseSensitive(rec, "description") : NULL;
        if (!cJSON_IsString(id) || !cJSON_IsString(title) || !cJSON_IsString(desc)) {
            bad_json++;
            cJSON_Delete(rec);
            continue;
        }
        records++;
        if ((records - 1) % SAMPLE != 0) {
            cJSON_Delete(rec);
            continue;
        }
        compared++;
        const char *t = title->valuestring, *d = desc->valuestring;
        field f[3] = {
            {t, strlen(t), "S", 2},
            {t, strlen(t), "", 2},
            {d, strlen(d), "", 1},
        };
        char what[300];
        snprintf(what, sizeof what, "catalog record '%.200s'", id->valuestring);
        if (!compare_doc(what, "en", f, 3, &shown))
            mismatches++;
        cJSON_Delete(rec);
    }
    free(line);
    int status = pclose(in);
    CHECK(status == 0);
    CHECK_EQ_U64(bad_json, 0);
    CHECK(records >= MIN_CATALOG_RECORDS);
    CHECK_EQ_U64(mismatches, 0);
    double fs = fast_secs - fast0, rs = ref_secs - ref0;
    printf("catalog: %zu records, %zu compared, %zu mismatches; souk_analyze %.0f docs/s "
           "(%.2f s), souk_analyze_xapian %.0f docs/s (%.2f s), speed-up x%.1f\n",
           records, compared, mismatches, fs > 0 ? (double)compared / fs : 0.0, fs,
           rs > 0 ? (double)compared / rs : 0.0, rs, fs > 0 ? rs / fs : 0.0);
}

/* ---------------------------------------------------------------- Debian translations */

static const char *const kTranslated[] = {"de", "fr", "es", "it", "nl", "pt", "ru"};

/* Returns 1 when path is an apt list of Translation-lang, plain or compressed. */
static int is_translation_file(const char *path, const char *lang)
{
    static const char *const exts[] = {"", ".lz4", ".gz", ".xz", ".bz2", ".zst", ".lzma"};
    char tail[64];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        snprintf(tail, sizeof tail, "_i18n_Translation-%s%s", lang, exts[i]);
        size_t pl = strlen(path), tl = strlen(tail);
        if (pl > tl && strcmp(path + pl - tl, tail) == 0)
            return 1;
    }
    return 0;
}

/* Growable text buffer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sbuf_add(sbuf *s, const char *p, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        while (s->n + n + 1 > s->cap)
            s->cap = s->cap ? s->cap * 2 : 4096;
        s->p = realloc(s->p, s->cap);
        REQUIRE(s->p != NULL);
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
}

/* Compares one translated description (title line, body). */
static int compare_translation(const char *lang, const char *pkg, const sbuf *title,
                               const sbuf *body, int *shown)
{
    field f[3] = {
        {title->p, title->n, "S", 2},
        {title->p, title->n, "", 2},
        {body->p ? body->p : "", body->n, "", 1},
    };
    char what[300];
    snprintf(what, sizeof what, "Translation-%s of '%.200s'", lang, pkg);
    return compare_doc(what, lang, f, 3, shown);
}

/* Reads every Description-<lang> paragraph of one apt list file. */
static void read_translation_file(const char *path, const char *lang, size_t *docs,
                                  size_t *mismatches, int *shown)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "/usr/lib/apt/apt-helper cat-file '%s'", path);
    FILE *in = popen(cmd, "r");
    REQUIRE(in != NULL);
    char key[32];
    snprintf(key, sizeof key, "Description-%s: ", lang);
    size_t keylen = strlen(key);

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    char pkg[256] = "";
    sbuf title = {0}, body = {0};
    int in_desc = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (in_desc && n > 0 && line[0] == ' ') {
            /* Continuation line: " ." is an empty line between paragraphs. */
            if (strcmp(line, " .") != 0)
                sbuf_add(&body, line + 1, (size_t)n - 1);
            sbuf_add(&body, "\n", 1);
            continue;
        }
        if (in_desc) {
            if ((*docs)++ % SAMPLE == 0 && !compare_translation(lang, pkg, &title, &body, shown))
                (*mismatches)++;
            in_desc = 0;
        }
        if (strncmp(line, "Package: ", 9) == 0) {
            snprintf(pkg, sizeof pkg, "%s", line + 9);
        } else if ((size_t)n >= keylen && strncmp(line, key, keylen) == 0) {
            title.n = body.n = 0;
            sbuf_add(&title, line + keylen, (size_t)n - keylen);
            sbuf_add(&body, "", 0);
            in_desc = 1;
        }
    }
    if (in_desc && (*docs)++ % SAMPLE == 0 && !compare_translation(lang, pkg, &title, &body, shown))
        (*mismatches)++;
    free(line);
    free(title.p);
    free(body.p);
    CHECK(pclose(in) == 0);
}

static void test_translations(void)
{
    for (size_t l = 0; l < sizeof kTranslated / sizeof kTranslated[0]; l++) {
        const char *lang = kTranslated[l];
        glob_t g;
        char pattern[128];
        snprintf(pattern, sizeof pattern, "/var/lib/apt/lists/*_i18n_Translation-%s*", lang);
        int grc = glob(pattern, 0, NULL, &g);
        size_t files = 0, docs = 0, mismatches = 0;
        int shown = 0;
        double fast0 = fast_secs, ref0 = ref_secs;
        if (grc == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                if (!is_translation_file(g.gl_pathv[i], lang))
                    continue;
                files++;
                read_translation_file(g.gl_pathv[i], lang, &docs, &mismatches, &shown);
            }
            globfree(&g);
        }
        if (files == 0) {
            char why[256];
            snprintf(why, sizeof why,
                     "no Translation-%s in /var/lib/apt/lists (apt-get update -o "
                     "Acquire::Languages=en,de,fr,es,it,nl,pt,ru fetches it)",
                     lang);
            skip_part(why);
            continue;
        }
        CHECK_EQ_U64(mismatches, 0);
        CHECK(docs >= MIN_TRANSLATED);
        if (docs < MIN_TRANSLATED)
            fprintf(stderr, "  Translation-%s: only %zu descriptions\n", lang, docs);
        double fs = fast_secs - fast0, rs = ref_secs - ref0;
        printf("translations %s: %zu file(s), %zu descriptions (1 in %d compared), %zu mismatches "
               "(fast %.2f s, xapian %.2f s)\n",
               lang, files, docs, SAMPLE, mismatches, fs, rs);
    }
}

/* ---------------------------------------------------------------- Chinese (CJK fallback) */

static const char *const kChinese[] = {
    "不锈钢六角螺栓 DIN 933 M8x40",
    "深沟球轴承 6204-2RS",
    "304不锈钢内六角圆柱头螺钉 ISO 4762 M6×20",
    "华为 HUAWEI Mate 60 Pro 智能手机 12GB+512GB 雅川青",
    "小米 Redmi Note 13 5G 手机，1亿像素超清相机",
    "联想ThinkPad X1 Carbon 笔记本电脑（i7-1365U/16GB/1TB）",
    "耐克 Nike Air Zoom Pegasus 40 男子跑步鞋",
    "《C++ Primer》中文版 第5版",
};

/* Returns the number of Han characters (CJK Unified Ideographs) in s. */
static size_t han_chars(const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i + 3 <= len; i++) {
        const unsigned char *p = (const unsigned char *)s + i;
        if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            unsigned cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            if (cp >= 0x4e00 && cp <= 0x9fff)
                k++;
        }
    }
    return k;
}

/* Returns 1 when s[0..len) is exactly `chars` Han characters of 3 UTF-8 bytes each. */
static int is_han_ngram(const char *s, size_t len, size_t chars)
{
    if (len != 3 * chars)
        return 0;
    return han_chars(s, len) == chars;
}

static void test_chinese(void)
{
    int shown = 0;
    for (size_t i = 0; i < sizeof kChinese / sizeof kChinese[0]; i++) {
        const char *s = kChinese[i];
        static const char *const langs[] = {"zh", "en"};
        for (size_t l = 0; l < 2; l++) {
            uint64_t fast0, fb0, fast1, fb1;
            souk_analyzer_counts(fast_an, &fast0, &fb0);
            CHECK(compare_text(langs[l], s, &shown));
            souk_analyzer_counts(fast_an, &fast1, &fb1);
            CHECK_EQ_U64(fast1 - fast0, 0); /* CJK text must fall back to TermGenerator */
            CHECK_EQ_U64(fb1 - fb0, 1);

            /* fast_bag is sorted now: count Han unigrams (positional) and bigrams. */
            size_t uni = 0, bi = 0;
            for (size_t k = 0; k < fast_bag.n; k++) {
                const occ *o = &fast_bag.v[k];
                const char *t = fast_bag.buf + o->off;
                if (is_han_ngram(t, o->len, 1) && o->pos > 0)
                    uni++;
                if (is_han_ngram(t, o->len, 2))
                    bi++;
            }
            CHECK(uni > 0);
            CHECK(bi > 0);
            CHECK(uni >= han_chars(s, strlen(s)));
        }
    }

    /* Exact n-grams of the first string (lang zh: no stemmer, so no Z terms). */
    field f = {kChinese[0], strlen(kChinese[0]), "", 1};
    uint32_t tp = 0;
    bag_clear(&fast_bag);
    CHECK(analyze_doc(0, "zh", &f, 1, &fast_bag, &tp) == SOUK_OK);
    bag_sort(&fast_bag);
    CHECK_EQ_U64(tp, 10); /* 7 Han unigrams + din + 933 + m8x40 */
    CHECK(bag_has(&fast_bag, "不", 1));
    CHECK(bag_has(&fast_bag, "锈", 2));
    CHECK(bag_has(&fast_bag, "栓", 7));
    CHECK(bag_has(&fast_bag, "不锈", 0));
    CHECK(bag_has(&fast_bag, "锈钢", 0));
    CHECK(bag_has(&fast_bag, "螺栓", 0));
    CHECK(bag_has(&fast_bag, "din", 8));
    CHECK(bag_has(&fast_bag, "933", 9));
    CHECK(bag_has(&fast_bag, "m8x40", 10));
    CHECK_EQ_U64(bag_count(&fast_bag, "Zdin"), 0);

    /* Mixed text with a prefix, wdf 3 and a running position, as in a title field. */
    field g = {kChinese[1], strlen(kChinese[1]), "S", 3};
    CHECK(compare_doc("Chinese title", "zh", &g, 1, &shown));
    CHECK(bag_has(&fast_bag, "S深沟", 0));
    CHECK(bag_has(&fast_bag, "S深", 1));
    CHECK(bag_has(&fast_bag, "S2rs", 7));
}

/* ---------------------------------------------------------------- edge cases */

/* Every language code the wrapper accepts (souk_language_stemmer), plus a name and "none". */
static const char *const kLangs[] = {
    "en", "de", "fr", "es", "it", "nl", "pt", "ru",   "sv", "da",      "nb",     "no",
    "fi", "hu", "ro", "tr", "zh", "ja", "ko", "none", "",   "english", "German", "RU",
};
#define NLANGS (sizeof kLangs / sizeof kLangs[0])

static const char *const kEdge[] = {
    "C++ C# AT&T U.S.A. don't 1,000.5 M8x40 6204-2RS DIN-933 ISO 4017",
    "C++",
    "C#",
    "c++ programming in C#, F# and J++",
    "C+++ C++++ fish+chips x+ y#",
    "AT&T M&S Q&A R&D",
    "U.S.A.",
    "U.S.A",
    "U.S.Army",
    "A.B.C.D.E.",
    "I.B.M.x",
    "U.S..A",
    "E.ON",
    "Ph.D. e.g. i.e.",
    "don't won't l'amour dell'arte aujourd'hui",
    "don’t l’été l‛été rock’n’roll it''s 'quoted' ‘single’ “double”",
    "1,000.5 1.000,50 3;4 1'2 1’2 12:30 10/20 1⁄2 ٣٬٤ ٣,٤ 1٫5",
    "M8x40 M10x1.25 6204-2RS 6204–2RS DIN-933 DIN 933 ISO 4017 EN-ISO 4762 A2-70",
    "emoji 😀 👍🏽 x😀y 🇩🇪 flag ❤️ heart ™ ® ©",
    "ZWJ a\u200db a\u200cb a\u200bb a\u2060b a\ufeffb 1\u200b2 👨\u200d👩\u200d👧 \u200d\u200d",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa short",
    "supercalifragilisticexpialidocious-supercalifragilisticexpialidocious",
    "ééééééééééééééééééééééééééééééééé ëëëëëëëëëëëëëëëëëëëëëëëëëëëëëëëë",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx "
    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
    "Schrauben Muttern Unterlegscheiben Kriegsführung STRASSE Straße ẞ Größe",
    "été Élève ÇA çà garçon Œuvre œuvre naïve coöperate",
    "Стратегия реального времени ЁЛКА ёлка Пётр",
    "İstanbul ıi IĞDIR ǅemal ǈ ǋ Σίσυφος ΟΔΟΣ",
    "snake_case _leading trailing_ __init__ a__b",
    "tab\tnew\nline\r\ncarriage\fform\vvertical",
    "x.y.z a-b-c a/b a\\b a|b a~b a@b.com https://example.org/a?b=c#d",
    "ﬁne ﬂow ﬃ Ⅻ ½ ² ³ ⅔ 10½ µm Ω Å K",
    "ʰ ª º ˘ ′ ″ ‴ § ¶ ·middle a·b a‧b a״b",
    "combining e\u0301 a\u0300b \u0301start",
    "   ",
    "",
    ".",
    "+",
    "#",
    "++",
    "a",
    "A",
    "AB",
    "A.",
    ".A.B.",
    "ABC DEF GHI JKL",
    "ALLCAPS WORDS HERE",
    "MixedCase camelCase PascalCase",
    "\xff\xfe invalid \xc3 bytes \xc0\xaf overlong \xe0\x80\x80 x\xed\xa0\x80y \xf4\x90\x80\x80",
    "truncated \xf0\x9f\x98",
    "\x80\x80\x80 stray",
    "caf\xe9 na\xefve",
    "end\xc3",
    "Zusammenarbeit zusammenarbeiten ZUSAMMENARBEIT",
    "running runs ran runner",
    "naïveté Ångström Øresund Łódź Dvořák Đorđe",
    "Aa Ä ä ß SS ss Ç ç Ñ ñ",
};
#define NEDGE (sizeof kEdge / sizeof kEdge[0])

static void test_edge_cases(void)
{
    int shown = 0;
    size_t mismatches = 0;
    static const char *const prefixes[] = {"", "S", "XSECTION:"};
    for (size_t l = 0; l < NLANGS; l++) {
        for (size_t i = 0; i < NEDGE; i++) {
            if (!compare_text(kLangs[l], kEdge[i], &shown))
                mismatches++;
            /* Again as a 3-field document with prefixes and wdf 1..3. */
            field f[3];
            for (int k = 0; k < 3; k++) {
                const char *t = kEdge[(i + (size_t)k * 7) % NEDGE];
                f[k] = (field){t, strlen(t), prefixes[k], (uint32_t)k + 1};
            }
            if (!compare_doc("edge document", kLangs[l], f, 3, &shown))
                mismatches++;
        }
        /* Edge strings with their NUL: analysis takes the length, not strlen. */
        static const char nul[] = "foo\0bar baz";
        field f = {nul, sizeof nul - 1, "", 1};
        if (!compare_doc("text with NUL", kLangs[l], &f, 1, &shown))
            mismatches++;
    }
    CHECK_EQ_U64(mismatches, 0);
    printf("edge cases: %zu strings x %zu language codes, %zu mismatches\n", (size_t)NEDGE,
           (size_t)NLANGS, mismatches);
}

/* ---------------------------------------------------------------- exact expectations */

/* Analyzes text through path `reference` into fast_bag (sorted), returning the termpos. */
static uint32_t analyze_into(int reference, const char *lang, const char *text, const char *prefix,
                             uint32_t wdf_inc)
{
    field f = {text, strlen(text), prefix, wdf_inc};
    uint32_t tp = 0;
    bag_clear(&fast_bag);
    CHECK(analyze_doc(reference, lang, &f, 1, &fast_bag, &tp) == SOUK_OK);
    bag_sort(&fast_bag);
    return tp;
}

static void test_expected_terms(void)
{
    for (int ref = 0; ref < 2; ref++) {
        CHECK_EQ_U64(analyze_into(ref, "en", "running shoes", "", 1), 2);
        CHECK_EQ_U64(fast_bag.n, 4);
        CHECK(bag_has(&fast_bag, "running", 1));
        CHECK(bag_has(&fast_bag, "shoes", 2));
        CHECK(bag_has(&fast_bag, "Zrun", 0));
        CHECK(bag_has(&fast_bag, "Zshoe", 0));

        analyze_into(ref, "en", "Running Shoes", "S", 2);
        CHECK(bag_has(&fast_bag, "Srunning", 1));
        CHECK(bag_has(&fast_bag, "ZSrun", 0));
        CHECK(bag_has(&fast_bag, "ZSshoe", 0));
        for (size_t k = 0; k < fast_bag.n; k++)
            CHECK_EQ_U64(fast_bag.v[k].wdf, 2);

        analyze_into(ref, "de", "Schrauben Schraube Kriegsführung", "", 1);
        CHECK(bag_has(&fast_bag, "schrauben", 1));
        CHECK(bag_has(&fast_bag, "schraube", 2));
        CHECK_EQ_U64(bag_count(&fast_bag, "Zschraub"), 2);
        CHECK(bag_has(&fast_bag, "kriegsführung", 3));
        CHECK(bag_has(&fast_bag, "Zkriegsfuhr", 0));

        analyze_into(ref, "fr", "l’été", "", 1);
        CHECK(bag_has(&fast_bag, "l'été", 1));

        analyze_into(ref, "ru", "Стратегия реального времени", "", 1);
        CHECK(bag_has(&fast_bag, "стратегия", 1));
        CHECK(bag_has(&fast_bag, "Zстратег", 0));

        CHECK_EQ_U64(analyze_into(ref, "en", "U.S.A. C++ C# AT&T don't 1,000.5", "", 1), 6);
        CHECK(bag_has(&fast_bag, "usa", 1));
        CHECK(bag_has(&fast_bag, "c++", 2));
        CHECK(bag_has(&fast_bag, "c#", 3));
        CHECK(bag_has(&fast_bag, "at&t", 4));
        CHECK(bag_has(&fast_bag, "don't", 5));
        CHECK(bag_has(&fast_bag, "1,000.5", 6));
        CHECK_EQ_U64(bag_count(&fast_bag, "Z1,000.5"), 0); /* digits are not stemmed */

        CHECK_EQ_U64(analyze_into(ref, "en", "M8x40 6204-2RS DIN-933", "", 1), 5);
        CHECK(bag_has(&fast_bag, "m8x40", 1));
        CHECK(bag_has(&fast_bag, "6204", 2));
        CHECK(bag_has(&fast_bag, "2rs", 3));
        CHECK(bag_has(&fast_bag, "din", 4));
        CHECK(bag_has(&fast_bag, "933", 5));

        /* A 70-letter word is dropped and takes no position. */
        CHECK_EQ_U64(analyze_into(ref, "en",
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                  "aaaaaaaaaaaaaaaa bolt",
                                  "", 1),
                     1);
        CHECK(bag_has(&fast_bag, "bolt", 1));
        CHECK_EQ_U64(fast_bag.n, 2);

        /* Zero-width joiner inside a word is dropped; no stemmer for "none". */
        CHECK_EQ_U64(analyze_into(ref, "none", "a\u200db", "", 1), 1);
        CHECK(bag_has(&fast_bag, "ab", 1));
        CHECK_EQ_U64(fast_bag.n, 1);
    }
}

/* ---------------------------------------------------------------- errors and arguments */

static void test_arguments(void)
{
    CHECK(strcmp(souk_language_stemmer("en"), "english") == 0);
    CHECK(strcmp(souk_language_stemmer("de"), "german") == 0);
    CHECK(strcmp(souk_language_stemmer("zh"), "none") == 0);
    CHECK(souk_language_stemmer("xx") == NULL);

    bag_clear(&fast_bag);
    uint32_t tp = 5;
    CHECK(souk_analyze(fast_an, "foo", 3, "xx", "", 1, &tp, bag_add, &fast_bag) == SOUK_EINVAL);
    CHECK(souk_analyze_xapian(ref_an, "foo", 3, "xx", "", 1, &tp, bag_add, &fast_bag) ==
          SOUK_EINVAL);
    CHECK(strlen(souk_analyzer_errmsg(fast_an)) > 0);
    CHECK_EQ_U64(tp, 5);
    CHECK_EQ_U64(fast_bag.n, 0);

    /* Empty text, NULL prefix: nothing emitted, position unchanged. */
    CHECK(souk_analyze(fast_an, "", 0, "en", NULL, 1, &tp, bag_add, &fast_bag) == SOUK_OK);
    CHECK(souk_analyze_xapian(ref_an, "", 0, "en", NULL, 1, &tp, bag_add, &fast_bag) == SOUK_OK);
    CHECK(souk_analyze(fast_an, NULL, 0, "en", "", 1, &tp, bag_add, &fast_bag) == SOUK_OK);
    CHECK_EQ_U64(tp, 5);
    CHECK_EQ_U64(fast_bag.n, 0);

    /* NULL prefix equals "". */
    int shown = 0;
    field f = {"bolts and nuts", 14, NULL, 1};
    CHECK(compare_doc("NULL prefix", "en", &f, 1, &shown));
    CHECK(bag_has(&fast_bag, "Zbolt", 0));
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Pieces random texts are made of: the characters where tokenizers disagree. */
static const char *const kAtoms[] = {
    "a",
    "b",
    "z",
    "Q",
    "U",
    "S",
    "A",
    "C",
    "x",
    "é",
    "É",
    "ß",
    "ẞ",
    "ж",
    "Ж",
    "İ",
    "ı",
    "ǅ",
    "ʰ",
    "ª",
    "µ",
    "ﬁ",
    "Σ",
    "ς",
    "0",
    "1",
    "9",
    "٣",
    "½",
    "Ⅻ",
    "²",
    "_",
    ".",
    ",",
    ";",
    ":",
    "'",
    "’",
    "‛",
    "‘",
    "&",
    "·",
    "‧",
    "״",
    "+",
    "#",
    "-",
    "/",
    "\\",
    "@",
    " ",
    " ",
    " ",
    "\t",
    "\n",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u037e",
    "\u0589",
    "\u2044",
    "\ufe10",
    "\u0301",
    "😀",
    "👍",
    "🇩",
    "\xff",
    "\x80",
    "\xc3",
    "\xc0\xaf",
    "\xe0\x80\x80",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "\xf0\x9f\x98",
    "\xf5",
    "U.S.A.",
    "C++",
    "c#",
    "AT&T",
    "don't",
    "1,000.5",
    "M8x40",
    "6204-2RS",
    "running",
    "Schrauben",
    "Kriegsführung",
    "стратегия",
    "garçon",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ",
    "中",
    "钢",
    "\xe3\x80\x80",
    "ア",
    "한",
    "\x01",
    "\x7f",
};
#define NATOMS (sizeof kAtoms / sizeof kAtoms[0])

static void test_fuzz(void)
{
    enum { CASES = 60000 };
    static const char *const prefixes[] = {"", "S", "XSECTION:", "XÉ"};
    char text[1024];
    size_t mismatches = 0;
    int shown = 0;
    for (int c = 0; c < CASES; c++) {
        field f[2];
        size_t nf = 1 + rng() % 2;
        char *at = text;
        for (size_t k = 0; k < nf; k++) {
            char *start = at;
            size_t atoms = rng() % 24;
            for (size_t a = 0; a < atoms; a++) {
                /* Mostly the first 60 atoms (letters and punctuation), sometimes the rest. */
                size_t pick = (rng() % 4) ? rng() % 60 : rng() % NATOMS;
                size_t len = strlen(kAtoms[pick]);
                if ((size_t)(at - text) + len + 1 >= sizeof text)
                    break;
                memcpy(at, kAtoms[pick], len);
                at += len;
            }
            f[k] = (field){start, (size_t)(at - start), prefixes[rng() % 4],
                           (uint32_t)(1 + rng() % 3)};
        }
        const char *lang = kLangs[rng() % NLANGS];
        if (!compare_doc("fuzz case", lang, f, nf, &shown))
            mismatches++;
    }
    CHECK_EQ_U64(mismatches, 0);
    printf("fuzz: %d random documents, %zu mismatches\n", (int)CASES, mismatches);
}

/* ---------------------------------------------------------------- stem cache stress */

/* Feeds more distinct words than the fast path's stem cache holds (2^17), so its growth, reset
 * and reuse after reset are all compared with Xapian. */
static void test_stem_cache(void)
{
    enum { CALLS = 400, WORDS = 1000 };
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzäöüß";
    char *text = malloc(WORDS * 40);
    REQUIRE(text != NULL);
    size_t mismatches = 0;
    int shown = 0;
    rng_state = 0x1234567887654321ull;
    for (int c = 0; c < CALLS; c++) {
        char *at = text;
        for (int w = 0; w < WORDS; w++) {
            /* A few words repeat across calls (cache hits), most are new. */
            uint64_t seed = (rng() % 8 == 0) ? rng() % 64 : rng();
            uint64_t s = seed | 1;
            size_t len = 4 + s % 9;
            for (size_t k = 0; k < len; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                size_t li = (size_t)(s >> 33) % 30;
                if (li < 26) {
                    *at++ = letters[li];
                } else { /* two-byte letters of the tail of `letters` */
                    size_t off = 26 + (li - 26) * 2;
                    *at++ = letters[off];
                    *at++ = letters[off + 1];
                }
            }
            *at++ = (w % 10 == 9) ? '.' : ' ';
            *at++ = ' ';
        }
        field f = {text, (size_t)(at - text), c % 2 ? "S" : "", 1};
        if (!compare_doc("stem cache stress", c % 3 ? "de" : "en", &f, 1, &shown))
            mismatches++;
    }
    free(text);
    CHECK_EQ_U64(mismatches, 0);
    printf("stem cache: %d texts of %d random words, %zu mismatches\n", (int)CALLS, (int)WORDS,
           mismatches);
}

int main(void)
{
    double t0 = now_secs();
    REQUIRE(souk_analyzer_new(&fast_an) == SOUK_OK);
    REQUIRE(souk_analyzer_new(&ref_an) == SOUK_OK);

    static const struct {
        const char *name;
        void (*fn)(void);
    } parts[] = {
        {"expected terms", test_expected_terms},
        {"arguments", test_arguments},
        {"edge cases", test_edge_cases},
        {"chinese", test_chinese},
        {"fuzz", test_fuzz},
        {"stem cache", test_stem_cache},
        {"translations", test_translations},
        {"catalog", test_catalog},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        double p0 = now_secs();
        parts[i].fn();
        printf("  (%s: %.2f s)\n", parts[i].name, now_secs() - p0);
        fflush(stdout);
    }

    /* Text whose characters are all below U+1000 must never leave the fast path. */
    CHECK_EQ_U64(fast_calls_missed, 0);
    uint64_t fast, fallback;
    souk_analyzer_counts(fast_an, &fast, &fallback);
    printf("souk_analyze calls: %llu fast, %llu fallback (%llu calls had no character >= "
           "U+1000, %llu of them fell back); %.1f s in all\n",
           (unsigned long long)fast, (unsigned long long)fallback,
           (unsigned long long)fast_calls_expected, (unsigned long long)fast_calls_missed,
           now_secs() - t0);

    souk_analyzer_free(fast_an);
    souk_analyzer_free(ref_an);
    bag_release(&fast_bag);
    bag_release(&ref_bag);
    return check_done("test_analysis");
}
