/* test_ingest_hostile.c: hostile catalog input through the real `souk-index catalog` (issue 17).
 *
 * Records: an escaped NUL in an id or a text (cJSON and the fast parser cut the string there, so
 * `acct-1\u0000-A` and `acct-1\u0000-B` were one id), duplicate keys (first wins:
 * `{"id":"0ad","op":"upsert","op":"delete"}` emptied an item), a raw NUL byte, a byte order mark
 * and trailing data are each rejected with a named reason, on the fast parser's path and on the
 * cJSON fallback's (a number such as `01` sends a record there), and nothing stored changes.
 * The strictness function itself (souk/json_strict.h) is also checked directly: keys repeated
 * at depth, in large objects, and backslashes before `u0000`.
 *
 * Streams: a rerun resumes after the stored offset only when the file is the same stream
 * (docs/index-format.md, "Stream identity"), else it reads the file from the start. A re-export
 * rewritten in place whose first records are unchanged, one changed in the middle at the same
 * length, a file truncated and grown again past the offset, a rotated one (renamed, a new file
 * at the path with the same first records) and a last line completed after a run must each end
 * with the index equal to a fresh index of everything applied in order (the old file, then the
 * new one from its start); a plain append must still resume. On 4d59f7c, which compared a hash
 * of the first 4 KB, all but the append resumed at the old offset, inside a record. (Following
 * a file that is truncated or rotated: tests/test_follow.c.)
 */
#include "check.h"
#include "kit/digest.h"
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

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    REQUIRE(b);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
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

/* ------------------------------------------------------------------ streams */

/* Appends records from..to-1 (version ver) to path (mode "w" or "a"). */
static void records(const char *path, const char *mode, int from, int to, const char *ver)
{
    FILE *f = fopen(path, mode);
    REQUIRE(f);
    for (int i = from; i < to; i++)
        fprintf(f, "{\"id\":\"r%d\",\"title\":\"record %d in version %s\",\"price\":%d}\n", i, i,
                ver, i % 97);
    fclose(f);
}

static void append_file(const char *to, const char *from)
{
    char *t = read_file(from);
    REQUIRE(t);
    write_file(to, "a", t, strlen(t));
    free(t);
}

static int same_index(const char *a, const char *b)
{
    digest x, y;
    REQUIRE(index_digest(a, &x) == 0);
    REQUIRE(index_digest(b, &y) == 0);
    return x.docs == y.docs && x.terms == y.terms && x.postings == y.postings &&
           x.positions == y.positions && x.total_len == y.total_len && x.sum == y.sum &&
           x.xsum == y.xsum;
}

/* One stream case: first is ingested from path, then change() turns path into the second
 * stream, which is ingested again; the index must equal a fresh one of first then second. */
typedef void (*stream_change)(const char *path);

static void c_reexport(const char *p)
{
    records(p, "w", 0, 100, "one");     /* the same first 4 KB and more, then longer */
    records(p, "a", 100, 360, "two b"); /* records (the old offset falls inside one) */
}
static void c_same_length(const char *p)
{
    records(p, "w", 0, 200, "one");
    records(p, "a", 200, 201, "two"); /* one record changed, same length */
    records(p, "a", 201, 300, "one");
}
static void c_truncate(const char *p)
{
    records(p, "w", 0, 100, "one");
    records(p, "a", 1000, 1400, "three");
}
static void c_rotate(const char *p)
{
    char old[600];
    snprintf(old, sizeof old, "%s.1", p);
    REQUIRE(rename(p, old) == 0);
    records(p, "w", 0, 100, "one");
    records(p, "a", 2000, 2400, "four");
}
static void c_append(const char *p)
{
    records(p, "a", 300, 350, "one");
}
static void c_finish_line(const char *p)
{
    write_file(p, "a", "ial\"}\n", 6);
}

static void stream_case(const char *label, stream_change change, int partial_last, int resumes)
{
    char base[200], path[300], first[300], all[300], a[300], b[300];
    snprintf(base, sizeof base, "%s/%s", g_dir, label);
    REQUIRE(mkdir(base, 0700) == 0);
    snprintf(path, sizeof path, "%s/stream.ndjson", base);
    snprintf(first, sizeof first, "%s/first.ndjson", base);
    snprintf(all, sizeof all, "%s/all.ndjson", base);
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    records(path, "w", 0, 300, "one");
    if (partial_last)
        write_file(path, "a", "{\"id\":\"tail\",\"title\":\"part", 26);
    REQUIRE(catalog(a, path, NULL) == 0);
    struct stat st0;
    REQUIRE(stat(path, &st0) == 0);
    char *t = read_file(path);
    write_file(first, "w", t, strlen(t));
    free(t);
    change(path);
    CHECK(catalog(a, path, NULL) == 0);
    char out[300];
    snprintf(out, sizeof out, "%s/out.json", g_dir);
    char *summary = read_file(out);
    char *msg;
    snprintf(out, sizeof out, "%s/err.txt", g_dir);
    msg = read_file(out);
    REQUIRE(summary && msg);
    char want[64];
    snprintf(want, sizeof want, "\"resumed_at\":%lld,", resumes ? (long long)st0.st_size : 0LL);
    if (!strstr(summary, want) ||
        !strstr(summary, resumes ? "\"restarted\":false" : "\"restarted\":true") ||
        (!resumes && !strstr(msg, "reading it from the start"))) {
        fprintf(stderr, "%s: want %s and %s, got %s%s", label, want,
                resumes ? "no restart" : "a restart", summary, msg);
        check_failures++;
    }
    free(summary);
    free(msg);
    /* The oracle: the first stream, then the second from its start, in one fresh run. */
    write_file(all, "w", "", 0);
    append_file(all, first);
    if (partial_last)
        write_file(all, "a", "\n", 1); /* the first run read its partial line as a record */
    append_file(all, path);
    REQUIRE(catalog(b, all, NULL) == 0);
    if (!same_index(a, b)) {
        fprintf(stderr, "%s: the index differs from a fresh one of both streams in order\n", label);
        check_failures++;
    }
    CHECK(index_check_dir(a) == 0);
}

static void test_streams(void)
{
    stream_case("reexport", c_reexport, 0, 0);
    stream_case("same-length", c_same_length, 0, 0);
    stream_case("truncate", c_truncate, 0, 0);
    stream_case("rotate", c_rotate, 0, 0);
    stream_case("finish-line", c_finish_line, 1, 0);
    stream_case("append", c_append, 0, 1);
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
    test_streams();
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
