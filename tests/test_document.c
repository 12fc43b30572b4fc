/* test_document.c: the stored-fields JSON the document builder prints is byte for byte what
 * cJSON_PrintUnformatted prints for the same stored fields (the builder prints it itself, for
 * speed): on records made to exercise escapes, numbers and arrays, and on the first records of
 * the real Debian catalog when the shared data is present. */
#include "check.h"
#include "souk/document.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>

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

int main(void)
{
    souk_alloc_init();
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
    };
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++)
        compare(b, s, records[i]);
    souk_docbuilder_free(b);
    souk_schema_free(s);

    /* The real catalog: its first 5,000 records. */
    const char *src = shared_data("catalog/debian-packages.jsonl.xz");
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
