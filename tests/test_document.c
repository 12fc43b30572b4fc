/* test_document.c: souk_utf8_check against a plain definition, and the stored-fields JSON the
 * document builder prints is byte for byte what cJSON_PrintUnformatted prints for the same stored
 * fields (the builder prints it itself, for speed): on records made to exercise escapes, numbers
 * and arrays, and on the first records of the real Debian catalog when the shared data is present.
 */
#include "check.h"
#include "souk/document.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* A schema storing every kind of field. */
static const char *schema_json =
    "{\"name\":\"t\",\"default_language\":\"en\",\"unknown_fields\":\"ignore\",\"fields\":["
    "{\"name\":\"title\",\"type\":\"text\",\"prefix\":\"S\",\"stored\":true},"
    "{\"name\":\"note\",\"type\":\"text\"},"
    "{\"name\":\"tags\",\"type\":\"keyword\",\"prefix\":\"XT:\",\"multi\":true,\"stored\":true,"
    "\"filterable\":true},"
    "{\"name\":\"price\",\"type\":\"number\",\"stored\":true,\"sortable\":true},"
    "{\"name\":\"weight\",\"type\":\"number\",\"stored\":true},"
    "{\"name\":\"ok\",\"type\":\"bool\",\"prefix\":\"XOK:\",\"stored\":true,\"filterable\":true}"
    "]}";

/* The plain definition souk_utf8_check must agree with: the offset of the first byte that does
 * not start a well-formed UTF-8 sequence (no overlongs, surrogates or code points past U+10FFFF).
 */
static size_t utf8_ref(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        for (unsigned k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return n;
}

static void check_utf8(void)
{
    static const char *pieces[] = {"a",
                                   "0123456789abcdef",
                                   "\xc3\xa9",
                                   "\xe4\xb8\xad",
                                   "\xf0\x9f\x98\x80",
                                   "\xc0\xaf",
                                   "\xe0\x80\xaf",
                                   "\xed\xa0\x80",
                                   "\xf4\x90\x80\x80",
                                   "\xff",
                                   "\x80",
                                   "\xc3",
                                   "\xe4\xb8",
                                   "\x7f",
                                   " "};
    uint64_t r = 88172645463325252ull;
    unsigned char buf[512];
    for (int t = 0; t < 20000; t++) {
        size_t n = 0;
        int parts = 1 + (int)(r % 24);
        for (int k = 0; k < parts; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            const char *p = pieces[r % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(p);
            if (n + pl > sizeof buf)
                break;
            memcpy(buf + n, p, pl);
            n += pl;
        }
        size_t got = souk_utf8_check((const char *)buf, n), want = utf8_ref(buf, n);
        if (got != want) {
            fprintf(stderr, "souk_utf8_check: %zu, expected %zu, on %zu bytes\n", got, want, n);
            check_failures++;
            break;
        }
    }
}

/* What cJSON prints for the stored fields of record `line` under schema s. */
static char *expected(const souk_schema *s, const char *line)
{
    cJSON *root = cJSON_Parse(line);
    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < s->nfields; i++) {
        const souk_field *f = &s->fields[i];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(root, f->name);
        if (v && !cJSON_IsNull(v) && (f->flags & SOUK_F_STORED))
            cJSON_AddItemReferenceToObject(obj, f->name, v);
    }
    char *out = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    cJSON_Delete(root);
    return out;
}

static int compare(souk_docbuilder *b, const souk_schema *s, const char *line)
{
    souk_doc d;
    int del = 0;
    char err[256] = "";
    int rc = souk_docbuilder_parse(b, line, strlen(line), &del, &d, err, sizeof err);
    if (rc) {
        fprintf(stderr, "record rejected (%s): %s\n", err, line);
        check_failures++;
        return 0;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    long n = souk_blob_unpack((const uint8_t *)d.stored, d.stored_len, &buf, &cap);
    char *want = expected(s, line);
    int same = n >= 0 && want && strlen(want) == (size_t)n && memcmp(buf, want, (size_t)n) == 0;
    if (!same) {
        fprintf(stderr, "stored JSON differs for %s\n  got:  %.*s\n  want: %s\n", line,
                n > 0 ? (int)n : 0, buf ? (const char *)buf : "", want ? want : "(null)");
        check_failures++;
    }
    cJSON_free(want);
    souk_free(buf);
    return same;
}

/* souk_doc_tags: the one tag rule of the event store (P8): section, else category, cut on a
 * character boundary. */
static void check_doc_tags(void)
{
    char tags[2][64];
    const char *a = "{\"id\":\"x\",\"section\":\"editors\",\"category\":\"tools\"}";
    CHECK(souk_doc_tags(a, strlen(a), tags, 2) == 1 && strcmp(tags[0], "category:editors") == 0);
    const char *b = "{\"id\":\"x\",\"category\":\"fasteners\"}";
    CHECK(souk_doc_tags(b, strlen(b), tags, 2) == 1 && strcmp(tags[0], "category:fasteners") == 0);
    const char *c = "{\"id\":\"x\",\"section\":\"\",\"title\":\"no tag\"}";
    CHECK(souk_doc_tags(c, strlen(c), tags, 2) == 0);
    CHECK(souk_doc_tags("not json", 8, tags, 2) == 0);
    CHECK(souk_doc_tags(a, strlen(a), tags, 0) == 0);
    /* 30 three-byte characters (90 bytes) after "category:": cut to 54 bytes, 18 whole ones. */
    char d[256] = "{\"section\":\"";
    for (int i = 0; i < 30; i++)
        strcat(d, "\xe7\xb4\xa7");
    strcat(d, "\"}");
    CHECK(souk_doc_tags(d, strlen(d), tags, 2) == 1);
    CHECK(strlen(tags[0]) == 9 + 54 &&
          souk_utf8_check(tags[0], strlen(tags[0])) == strlen(tags[0]));
}

int main(void)
{
    souk_alloc_init();
    check_utf8();
    check_doc_tags();
    souk_schema *s = NULL;
    char err[512];
    REQUIRE(souk_schema_parse(schema_json, strlen(schema_json), &s, err, sizeof err) == 0);
    souk_docbuilder *b = NULL;
    REQUIRE(souk_docbuilder_new(s, &b) == 0);
    const char *records[] = {
        "{\"id\":\"1\",\"title\":\"plain\",\"price\":12,\"ok\":true}",
        "{\"id\":\"2\",\"title\":\"quote \\\" back \\\\ slash / solidus\",\"ok\":false}",
        "{\"id\":\"3\",\"title\":\"ctl \\b\\f\\n\\r\\t \\u0001\\u001f \\u007f end\"}",
        "{\"id\":\"4\",\"title\":\"\\u00e9t\\u00e9 \\u4e2d\\u6587 \\ud83d\\ude00 ümlaut\"}",
        "{\"id\":\"5\",\"price\":0.1,\"weight\":-0.0}",
        "{\"id\":\"6\",\"price\":1e300,\"weight\":1.5e-7}",
        "{\"id\":\"7\",\"price\":2147483647,\"weight\":2147483648}",
        "{\"id\":\"8\",\"price\":-2147483648,\"weight\":-2147483649}",
        "{\"id\":\"9\",\"price\":9007199254740993,\"weight\":123456789012345678901234567890}",
        "{\"id\":\"10\",\"price\":3.141592653589793,\"weight\":0.30000000000000004}",
        "{\"id\":\"11\",\"tags\":[\"a\",\"b \\\"c\\\"\",\"\"],\"title\":\"\"}",
        "{\"id\":\"12\",\"tags\":[],\"note\":\"not stored\",\"unknown\":[1,{\"x\":2}]}",
        "{\"id\":\"13\",\"ok\":true,\"tags\":\"single\",\"title\":null,\"price\":100.0}",
        "{\"id\":\"14\"}",
        /* Long runs, so escapes fall inside and across the 16-byte blocks of the fast scan. */
        "{\"id\":\"15\",\"title\":\"0123456789abcdef0123456789abcde\\\"0123456789abcdef\\u001f"
        "0123456789abcde\\n0123456789abcdef\\\\0123456789abcdef\\t\\u0001\\u007f\\u00e9\"}",
    };
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++)
        compare(b, s, records[i]);
    souk_docbuilder_free(b);
    souk_schema_free(s);

    /* The real catalog: its first 5,000 records. */
    const char *src = debian_catalog();
    if (!src) {
        fprintf(stderr, "test_document: shared data absent, Debian part skipped\n");
        return check_done("test_document");
    }
    char path[4096], cmd[8192];
    snprintf(path, sizeof path, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    REQUIRE(souk_schema_load(path, &s, err, sizeof err) == 0);
    REQUIRE(souk_docbuilder_new(s, &b) == 0);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -5000", src);
    FILE *f = popen(cmd, "r");
    REQUIRE(f != NULL);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    int n = 0, same = 0;
    while ((ll = getline(&line, &lcap, f)) > 0) {
        if (line[ll - 1] == '\n')
            line[ll - 1] = 0;
        same += compare(b, s, line);
        n++;
    }
    pclose(f);
    free(line);
    CHECK(n == 5000);
    fprintf(stderr, "test_document: %d of %d Debian records stored as cJSON prints them\n", same,
            n);
    souk_docbuilder_free(b);
    souk_schema_free(s);
    return check_done("test_document");
}
