/* test_schema.c: schema validation: the shipped schemas and the embedded default parse, and
 * each kind of mistake is rejected with a message that names it. */
#include "check.h"
#include "souk/schema.h"
#include "souk/souk.h"

static void expect_error(const char *json, const char *needle)
{
    souk_schema *s = NULL;
    char err[512] = "";
    int rc = souk_schema_parse(json, strlen(json), &s, err, sizeof err);
    CHECK(rc == SOUK_ESCHEMA);
    CHECK(s == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "schema error '%s' does not mention '%s'\n", err, needle);
        check_failures++;
    }
}

int main(void)
{
    souk_alloc_init();
    const char *files[] = {"procurement.json", "debian-packages.json", "goodbooks.json"};
    for (size_t i = 0; i < 3; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/indexer/schemas/%s", SOUK_SOURCE_DIR, files[i]);
        souk_schema *s = NULL;
        int rc = souk_schema_load(path, &s, err, sizeof err);
        if (rc)
            fprintf(stderr, "%s: %s\n", files[i], err);
        CHECK(rc == 0);
        if (s) {
            CHECK(s->nfields >= 4);
            CHECK(souk_schema_field(s, "title", 5) != NULL);
            souk_schema_free(s);
        }
    }
    souk_schema *d = NULL;
    char err[512];
    REQUIRE(souk_schema_parse(souk_schema_default_json, strlen(souk_schema_default_json), &d, err,
                              sizeof err) == 0);
    /* The procurement schema has what the brief asks for. */
    const char *need[] = {"title", "description", "brand",    "category",    "supplier",
                          "price", "currency",    "in_stock", "part_number", "language"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        CHECK(souk_schema_field(d, need[i], strlen(need[i])) != NULL);
    const souk_field *pn = souk_schema_field(d, "part_number", 11);
    CHECK(pn && (pn->flags & SOUK_F_NOTYPO));
    CHECK(d->typo_words == 0); /* part_number is a keyword: text fields share the typo words */
    const souk_field *price = souk_schema_field(d, "price", 5);
    CHECK(price && price->type == SOUK_FIELD_NUMBER && (price->flags & SOUK_F_SORTABLE));
    const souk_field *cat = souk_schema_field(d, "category", 8);
    CHECK(cat && (cat->flags & SOUK_F_PATH) && strcmp(cat->prefix, "XC:") == 0);
    souk_schema_free(d);

    expect_error("[]", "not a JSON object");
    expect_error("{\"name\":\"x\",\"fields\":[]}", "non-empty array");
    expect_error("{\"name\":\"x y\",\"fields\":[{\"name\":\"t\",\"type\":\"text\"}]}", "'name'");
    expect_error("{\"name\":\"x\",\"colour\":1,\"fields\":[{\"name\":\"t\",\"type\":\"text\"}]}",
                 "unknown key 'colour'");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"blob\"}]}",
                 "unknown type 'blob'");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\"},"
                 "{\"name\":\"t\",\"type\":\"text\"}]}",
                 "declared twice");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"id\",\"type\":\"text\"}]}", "reserved");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"weight\":0}]}",
                 "'weight'");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"language\":"
                 "\"klingon\"}]}",
                 "unsupported language 'klingon'");
    expect_error(
        "{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"prefix\":\"Zt\"}]}",
        "'prefix'");
    expect_error(
        "{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"filterable\":true}]}",
        "text fields cannot be");
    expect_error(
        "{\"name\":\"x\",\"fields\":[{\"name\":\"n\",\"type\":\"number\",\"multi\":true}]}",
        "apply to keyword");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"stored\":1}]}",
                 "'stored' must be true or false");
    expect_error("{\"name\":\"x\",\"language_field\":\"t\",\"fields\":[{\"name\":\"t\",\"type\":"
                 "\"text\"}]}",
                 "must name a keyword field");
    expect_error("{\"name\":\"x\",\"unknown_fields\":\"maybe\",\"fields\":[{\"name\":\"t\","
                 "\"type\":\"text\"}]}",
                 "unknown_fields");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"k\",\"type\":\"keyword\",\"filterable\":"
                 "true,\"max_bytes\":1000}]}",
                 "245");
    /* Code and typo terms have prefixes of their own (a keyword field named "code" would take
     * "XCODE:" by default). */
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"code\",\"type\":\"keyword\"}]}",
                 "reserved");
    expect_error("{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\",\"prefix\":"
                 "\"XTYPO:\"}]}",
                 "reserved");
    /* A text field without typos: the other text fields' words become the typo words. */
    souk_schema *tw;
    const char *twj = "{\"name\":\"x\",\"fields\":[{\"name\":\"t\",\"type\":\"text\"},"
                      "{\"name\":\"m\",\"type\":\"text\",\"typo\":false}]}";
    REQUIRE(souk_schema_parse(twj, strlen(twj), &tw, err, sizeof err) == 0);
    CHECK(tw->typo_words == 1);
    souk_schema_free(tw);
    char err2[512];
    souk_schema *s2;
    CHECK(souk_schema_load("/nonexistent/schema.json", &s2, err2, sizeof err2) == SOUK_ESCHEMA);
    CHECK(strstr(err2, "cannot open") != NULL);
    return check_done("test_schema");
}
