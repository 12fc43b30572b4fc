/* test_ingest_hostile.c: hostile catalog input through the real `souk-index catalog` (issue 17).
 *
 * Records: an escaped NUL in an id or a text (cJSON and the fast parser cut the string there, so
 * `acct-1\u0000-A` and `acct-1\u0000-B` were one id), duplicate keys (first wins:
 * `{"id":"0ad","op":"upsert","op":"delete"}` emptied an item), a raw NUL byte, a byte order mark
 * and trailing data are each rejected with a named reason, on the fast parser's path and on the
 * cJSON fallback's (a number such as `01` sends a record there), and nothing stored changes.
 * The strictness function itself (souk/json_strict.h) is also checked directly: keys repeated
 * at depth, in large objects, and backslashes before `u0000`.
 */
#include "check.h"
#include "digest.h"
#include "souk/json_strict.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char g_dir[64];

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Runs souk-index catalog on file into data; extra are more options. Returns its exit code. */
static int catalog(const char *data, const char *file, const char *extra)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/procurement.json' catalog "
             "'%s' --quiet --no-spelling %s >'%s/out.json' 2>'%s/err.txt'",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, file, extra ? extra : "", g_dir, g_dir);
    return run(cmd);
}

static void write_file(const char *path, const char *mode, const char *text, size_t len)
{
    FILE *f = fopen(path, mode);
    REQUIRE(f);
    REQUIRE(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* The stored fields of id in the index in data, as JSON (malloc'd), or NULL when absent. */
static char *stored(const char *data, const char *id)
{
    char err[512];
    souk_index *ix;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    uint32_t docid;
    const char *idp, *json;
    size_t il, jl;
    char *out = NULL;
    if (souk_reader_docid(r, id, strlen(id), &docid) == 0 &&
        souk_reader_doc(r, docid, &idp, &il, &json, &jl) == 0) {
        out = malloc(jl + 1);
        memcpy(out, json, jl);
        out[jl] = 0;
    }
    souk_reader_free(r);
    souk_index_close(ix);
    return out;
}

static uint64_t docs_of(const char *data)
{
    digest d;
    REQUIRE(index_digest(data, &d) == 0);
    return d.docs;
}

/* ------------------------------------------------------------------ records */

static void check_strict(const char *text, size_t len, const char *want)
{
    char err[200] = "";
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int rc = souk_json_strict(text, len, root, end, err, sizeof err);
    cJSON_Delete(root);
    if (want == NULL ? rc != 0 : (rc != SOUK_EINVAL || !strstr(err, want))) {
        fprintf(stderr, "souk_json_strict(%.*s): rc %d '%s', want '%s'\n", (int)len, text, rc, err,
                want ? want : "ok");
        check_failures++;
    }
}

#define STRICT(lit, want) check_strict(lit, sizeof lit - 1, want)

static void test_strict_function(void)
{
    STRICT("{\"a\":1,\"b\":{\"c\":[{\"d\":1,\"d\":2}]}}", "duplicate key 'd'");
    STRICT("{\"a\":1,\"b\":{\"a\":2}}", NULL); /* same name in another object */
    STRICT("{\"\\u0061\":1,\"a\":2}", "duplicate key 'a'");
    STRICT("{\"a\":\"x\\\\u0000\"}", NULL);            /* an escaped backslash, then text */
    STRICT("{\"a\":\"x\\\\\\u0000\"}", "escaped NUL"); /* a backslash, then \u0000 */
    STRICT("{\"a\":\"x\\u0000\"}", "escaped NUL");
    STRICT("{\"a\":1}\n \t\r", NULL);
    STRICT("{\"a\":1}\f", "trailing data");
    STRICT("[1,2] 3", "trailing data");
    STRICT("\xEF\xBB\xBF{}", "byte order mark");
    STRICT("{\"a\":\"\0\"}", "NUL byte at byte 6");
    /* A large object: the hashed path. */
    char big[8192];
    size_t n = (size_t)sprintf(big, "{");
    for (int i = 0; i < 500; i++)
        n += (size_t)sprintf(big + n, "%s\"k%d\":%d", i ? "," : "", i, i);
    big[n++] = '}';
    check_strict(big, n, NULL);
    n--;
    n += (size_t)sprintf(big + n, ",\"k250\":0}");
    check_strict(big, n, "duplicate key 'k250'");
}

static void test_records(void)
{
    char data[128], feed[128], rej[128], extra[300];
    snprintf(data, sizeof data, "%s/records", g_dir);
    snprintf(feed, sizeof feed, "%s/records.ndjson", g_dir);
    snprintf(rej, sizeof rej, "%s/records.rejects", g_dir);
    const char good[] = "{\"id\":\"0ad\",\"title\":\"zero ad strategy game\"}\n"
                        "{\"id\":\"acct-1\",\"title\":\"plain account\"}\n";
    write_file(feed, "w", good, sizeof good - 1);
    REQUIRE(catalog(data, feed, NULL) == 0);
    /* `01` is not JSON's number syntax: json_fast leaves such a record to cJSON. */
    const char bad[] =
        "{\"id\":\"acct-1\\u0000-A\",\"title\":\"first\"}\n"                      /* 3 */
        "{\"id\":\"acct-1\\u0000-B\",\"title\":\"second\",\"price\":01}\n"        /* 4 */
        "{\"id\":\"t1\",\"title\":\"cut\\u0000 here\"}\n"                         /* 5 */
        "{\"id\":\"t2\",\"title\":\"cut\\u0000 here\",\"price\":01}\n"            /* 6 */
        "{\"id\":\"0ad\",\"op\":\"upsert\",\"op\":\"delete\"}\n"                  /* 7 */
        "{\"id\":\"0ad\",\"op\":\"upsert\",\"op\":\"delete\",\"price\":01}\n"     /* 8 */
        "{\"id\":\"n1\",\"title\":\"x\",\"brand\":\"a\",\"brand\":\"b\"}\n"       /* 9 */
        "\xEF\xBB\xBF{\"id\":\"n2\",\"title\":\"bom\"}\n"                         /* 10 */
        "{\"id\":\"n3\",\"title\":\"raw \0 nul\"}\n"                              /* 11 */
        "{\"id\":\"n4\",\"title\":\"nul after\"}\0junk\n"                         /* 12 */
        "{\"id\":\"n5\",\"title\":\"tail\"} x\n"                                  /* 13 */
        "{\"id\":\"lit\\\\u0000\",\"title\":\"an escaped backslash, no NUL\"}\n"; /* 14 */
    write_file(feed, "a", bad, sizeof bad - 1);
    snprintf(extra, sizeof extra, "--rejects '%s'", rej);
    CHECK(catalog(data, feed, extra) == 0);
    struct {
        int line;
        const char *why;
    } expect[] = {{3, "escaped NUL (\\\\u0000) at byte 13"},
                  {4, "escaped NUL (\\\\u0000) at byte 13"},
                  {5, "escaped NUL"},
                  {6, "escaped NUL"},
                  {7, "duplicate key 'op'"},
                  {8, "duplicate key 'op'"},
                  {9, "duplicate key 'brand'"},
                  {10, "byte order mark"},
                  {11, "NUL byte at byte"},
                  {12, "NUL byte at byte"},
                  {13, "trailing data after the JSON value"}};
    FILE *rf = fopen(rej, "r");
    REQUIRE(rf);
    char *line = NULL;
    size_t cap = 0, k = 0;
    while (getline(&line, &cap, rf) > 0 && k < sizeof expect / sizeof expect[0]) {
        char want[64];
        snprintf(want, sizeof want, "\"line\":%d,", expect[k].line);
        if (!strstr(line, want) || !strstr(line, expect[k].why)) {
            fprintf(stderr, "reject %zu: expected line %d '%s', got %.300s\n", k, expect[k].line,
                    expect[k].why, line);
            check_failures++;
        }
        k++;
    }
    free(line);
    fclose(rf);
    CHECK_EQ_U64(k, sizeof expect / sizeof expect[0]);
    /* Nothing stored changed; only the literal-backslash id was added. */
    CHECK_EQ_U64(docs_of(data), 3);
    char *s = stored(data, "0ad");
    CHECK(s && strstr(s, "zero ad strategy game"));
    free(s);
    s = stored(data, "acct-1");
    CHECK(s && strstr(s, "plain account"));
    free(s);
    s = stored(data, "lit\\u0000");
    CHECK(s != NULL);
    free(s);
    CHECK(index_check_dir(data) == 0);
}

int main(void)
{
    souk_alloc_init();
    snprintf(g_dir, sizeof g_dir, "/tmp/souk-test-hostile-XXXXXX");
    REQUIRE(mkdtemp(g_dir));
    test_strict_function();
    test_records();
    char cmd[200];
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (run(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    } else {
        fprintf(stderr, "kept %s\n", g_dir);
    }
    return check_done("test_ingest_hostile");
}
