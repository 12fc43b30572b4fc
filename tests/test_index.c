/* test_index.c: the LMDB index and the catalog ingest, on real Debian catalog records:
 * - an index updated in place (modified, deleted, re-added documents) equals one built fresh;
 * - so does one whose new documents had several versions inside one batch;
 * - deleting everything leaves an empty, consistent index;
 * - re-ingesting the same stream is idempotent, and a rerun resumes after the last commit;
 * - bad input is rejected with its line number and reason into the rejects file, good lines
 *   still land, and what was stored before is kept;
 * - a reader in another process sees each new commit without reopening. */
#include "check.h"
#include "kit/digest.h"
#include "kit/fixture.h"
#include "souk/ingest.h"
#include "souk/schema.h"
#include "souk/search.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[256];
static souk_schema *schema;

static void write_file(const char *path, char **lines, size_t n)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

/* Ingests file into dir with the Debian schema. */
static souk_ingest_stats ingest(const char *dir, const char *file, size_t batch, int threads,
                                int from_start, FILE *rejects)
{
    char err[512];
    souk_index *ix;
    souk_ingest_stats st;
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, sizeof err) == 0);
    int fd = open(file, O_RDONLY);
    REQUIRE(fd >= 0);
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_docs = batch;
    o.threads = threads;
    o.from_start = from_start;
    o.rejects = rejects;
    int rc = souk_ingest(ix, fd, file, &o, &st, err, sizeof err);
    if (rc)
        fprintf(stderr, "ingest: %s\n", err);
    REQUIRE(rc == 0);
    close(fd);
    souk_index_close(ix);
    return st;
}

static souk_stats stats_of(const char *dir)
{
    char err[512];
    souk_index *ix;
    souk_reader *r;
    souk_stats st;
    REQUIRE(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_reader_new(ix, &r) == 0);
    REQUIRE(souk_reader_stats(r, &st) == 0);
    souk_reader_free(r);
    souk_index_close(ix);
    return st;
}

/* Two indexes hold the same documents, terms, postings, positions and statistics. */
static void check_same_digest(const digest *x, const digest *y)
{
    CHECK_EQ_U64(x->docs, y->docs);
    CHECK_EQ_U64(x->terms, y->terms);
    CHECK_EQ_U64(x->postings, y->postings);
    CHECK_EQ_U64(x->positions, y->positions);
    CHECK_EQ_U64(x->total_len, y->total_len);
    CHECK_EQ_U64(x->sum, y->sum);
    CHECK_EQ_U64(x->xsum, y->xsum);
}

/* Replaces the title of a record line (a modified version of the same product). */
static char *modified(const char *line, int k)
{
    const char *t = json_string_value(line, "title");
    REQUIRE(t);
    size_t head = (size_t)(t - line);
    char *out = malloc(strlen(line) + 64);
    memcpy(out, line, head);
    sprintf(out + head, "Revised edition %d of ", k);
    strcat(out, t);
    return out;
}

static char *delete_line(const char *line)
{
    const char *id = json_string_value(line, "id");
    REQUIRE(id);
    const char *end = strchr(id, '"');
    char *out = malloc(64 + (size_t)(end - id));
    sprintf(out, "{\"op\":\"delete\",\"id\":\"%.*s\"}", (int)(end - id), id);
    return out;
}

static void test_update_equivalence(char **lines, size_t n)
{
    char a[512], b[512], f1[512], f2[512], f3[512];
    snprintf(a, sizeof a, "%s/upd-a", tmpdir);
    snprintf(b, sizeof b, "%s/upd-b", tmpdir);
    snprintf(f1, sizeof f1, "%s/upd1.ndjson", tmpdir);
    snprintf(f2, sizeof f2, "%s/upd2.ndjson", tmpdir);
    snprintf(f3, sizeof f3, "%s/upd3.ndjson", tmpdir);
    write_file(f1, lines, n);
    /* Updates: 500 modified, 300 deleted, 50 of those re-added, one delete of a missing id. */
    char **u = calloc(n + 1000, sizeof *u), **fin = calloc(n + 1000, sizeof *fin);
    size_t nu = 0, nf = 0;
    for (size_t i = 0; i < 500; i++)
        u[nu++] = modified(lines[i], (int)i);
    for (size_t i = 500; i < 800; i++)
        u[nu++] = delete_line(lines[i]);
    for (size_t i = 600; i < 650; i++)
        u[nu++] = lines[i];
    u[nu++] = "{\"op\":\"delete\",\"id\":\"no-such-package\"}";
    /* The final state, written fresh. */
    for (size_t i = 0; i < 500; i++)
        fin[nf++] = u[i];
    for (size_t i = 600; i < 650; i++)
        fin[nf++] = lines[i];
    for (size_t i = 800; i < n; i++)
        fin[nf++] = lines[i];
    write_file(f2, u, nu);
    write_file(f3, fin, nf);
    souk_ingest_stats s1 = ingest(a, f1, 700, 2, 0, NULL);
    CHECK_EQ_U64(s1.records, n);
    souk_ingest_stats s2 = ingest(a, f2, 128, 2, 0, NULL);
    CHECK_EQ_U64(s2.replaced, 500 + 0);
    CHECK_EQ_U64(s2.deleted, 300);
    CHECK_EQ_U64(s2.added, 50);
    CHECK_EQ_U64(s2.delete_missing, 1);
    ingest(b, f3, 100000, 0, 0, NULL);
    CHECK(index_check_dir(a) == 0);
    CHECK(index_check_dir(b) == 0);
    digest da, db;
    REQUIRE(index_digest(a, &da) == 0);
    REQUIRE(index_digest(b, &db) == 0);
    CHECK_EQ_U64(da.docs, nf);
    check_same_digest(&da, &db);
    /* Re-ingest from the start: idempotent, nothing changes. */
    souk_ingest_stats s3 = ingest(b, f3, 1000, 2, 1, NULL);
    CHECK_EQ_U64(s3.unchanged, nf);
    CHECK_EQ_U64(s3.added + s3.replaced + s3.deleted, 0);
    digest dc;
    REQUIRE(index_digest(b, &dc) == 0);
    CHECK_EQ_U64(dc.sum, db.sum);
    /* A rerun on the same file resumes after the last commit and reads nothing. */
    souk_ingest_stats s4 = ingest(b, f3, 1000, 2, 0, NULL);
    CHECK_EQ_U64(s4.lines, 0);
    CHECK(s4.resumed_at > 0);
    /* Delete everything: an empty, consistent index. */
    char **dl = calloc(nf, sizeof *dl);
    for (size_t i = 0; i < nf; i++)
        dl[i] = delete_line(fin[i]);
    write_file(f1, dl, nf);
    souk_ingest_stats s5 = ingest(b, f1, 333, 2, 0, NULL);
    CHECK_EQ_U64(s5.deleted, nf);
    souk_stats st = stats_of(b);
    CHECK_EQ_U64(st.docs, 0);
    CHECK_EQ_U64(st.terms, 0);
    CHECK_EQ_U64(st.total_len, 0);
    CHECK(index_check_dir(b) == 0);
    for (size_t i = 0; i < nf; i++)
        free(dl[i]);
    free(dl);
    for (size_t i = 0; i < 500; i++)
        free(u[i]);
    for (size_t i = 500; i < 800; i++)
        free(u[i]);
    free(u);
    free(fin);
}

/* Versions of new ids inside one batch: ids first seen in the batch, then modified (twice for
 * some), deleted, deleted and re-added, or deleted and re-added modified, before the batch
 * commits. The index must equal one built fresh from each id's last version, in one batch and
 * in small batches (where later versions meet ids an earlier batch already committed). */
static void test_batch_versions(char **lines)
{
    char a[512], b[512], c[512], f1[512], f2[512];
    snprintf(a, sizeof a, "%s/ver-a", tmpdir);
    snprintf(b, sizeof b, "%s/ver-b", tmpdir);
    snprintf(c, sizeof c, "%s/ver-c", tmpdir);
    snprintf(f1, sizeof f1, "%s/ver1.ndjson", tmpdir);
    snprintf(f2, sizeof f2, "%s/ver2.ndjson", tmpdir);
    char **u = calloc(4000, sizeof *u), **fin = calloc(2000, sizeof *fin);
    char **own = calloc(4000, sizeof *own);
    size_t nu = 0, nf = 0, nown = 0;
    for (size_t i = 0; i < 1000; i++)
        u[nu++] = lines[i];
    for (size_t i = 0; i < 200; i++) /* modified */
        u[nu++] = own[nown++] = modified(lines[i], (int)i);
    for (size_t i = 100; i < 120; i++) /* modified again */
        u[nu++] = own[nown++] = modified(lines[i], (int)i + 5000);
    for (size_t i = 200; i < 300; i++) /* deleted */
        u[nu++] = own[nown++] = delete_line(lines[i]);
    for (size_t i = 250; i < 270; i++) /* re-added as it was */
        u[nu++] = lines[i];
    for (size_t i = 270; i < 280; i++) /* re-added modified */
        u[nu++] = own[nown++] = modified(lines[i], (int)i);
    for (size_t i = 150; i < 160; i++) /* modified, then deleted */
        u[nu++] = own[nown++] = delete_line(lines[i]);
    for (size_t i = 0; i < 100; i++)
        fin[nf++] = u[1000 + i];
    for (size_t i = 100; i < 120; i++)
        fin[nf++] = u[1200 + (i - 100)];
    for (size_t i = 120; i < 150; i++)
        fin[nf++] = u[1000 + i];
    for (size_t i = 160; i < 200; i++)
        fin[nf++] = u[1000 + i];
    for (size_t i = 250; i < 270; i++)
        fin[nf++] = lines[i];
    for (size_t i = 270; i < 280; i++)
        fin[nf++] = u[1340 + (i - 270)];
    for (size_t i = 300; i < 1000; i++)
        fin[nf++] = lines[i];
    write_file(f1, u, nu);
    write_file(f2, fin, nf);
    souk_ingest_stats sa = ingest(a, f1, 100000, 2, 0, NULL);
    CHECK_EQ_U64(sa.commits, 1);
    ingest(b, f1, 97, 2, 0, NULL);
    ingest(c, f2, 100000, 0, 0, NULL);
    digest da, db, dc;
    CHECK(index_check_dir(a) == 0);
    CHECK(index_check_dir(b) == 0);
    REQUIRE(index_digest(a, &da) == 0);
    REQUIRE(index_digest(b, &db) == 0);
    REQUIRE(index_digest(c, &dc) == 0);
    CHECK_EQ_U64(dc.docs, nf);
    check_same_digest(&da, &dc);
    check_same_digest(&db, &dc);
    for (size_t i = 0; i < nown; i++)
        free(own[i]);
    free(own);
    free(u);
    free(fin);
}

static void test_bad_input(char **lines)
{
    char dir[512], good[512], bad[512], rej[512];
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    snprintf(good, sizeof good, "%s/good.ndjson", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ndjson", tmpdir);
    snprintf(rej, sizeof rej, "%s/rejects.ndjson", tmpdir);
    write_file(good, lines + 1000, 100);
    ingest(dir, good, 1000, 2, 0, NULL);
    digest before;
    REQUIRE(index_digest(dir, &before) == 0);
    FILE *f = fopen(bad, "w");
    REQUIRE(f);
    fprintf(f, "{\"id\":\"ok-1\",\"title\":\"first good record\"}\n"); /* 1 */
    fprintf(f, "{not json\n");                                         /* 2 */
    fprintf(f, "{\"id\":\"x2\",\"title\":5}\n");                       /* 3 */
    fprintf(f, "{\"id\":\"x3\",\"title\":\"caf\xe9\"}\n");             /* 4 */
    fprintf(f, "{\"id\":\"x4\",\"description\":\"");                   /* 5 */
    for (int i = 0; i < 300000; i++)
        fputc('a' + i % 26, f);
    fprintf(f, "\"}\n");
    fprintf(f, "{\"id\":\"x5\",\"colour\":\"red\"}\n");            /* 6 */
    fprintf(f, "{\"title\":\"no id\"}\n");                         /* 7 */
    fprintf(f, "\n");                                              /* 8 */
    fprintf(f, "{\"id\":\"ok-2\",\"title\":\"crlf record\"}\r\n"); /* 9 */
    fprintf(f, "[1,2]\n");                                         /* 10 */
    fprintf(f, "{\"op\":\"explode\",\"id\":\"x\"}\n");             /* 11 */
    fprintf(f, "{\"id\":\"x12\",\"description\":\"");              /* 12 */
    for (int i = 0; i < 2 * 1024 * 1024; i++)
        fputc('b', f);
    fprintf(f, "\"}\n");
    fprintf(f, "{\"id\":\"x13\",\"tags\":[1,2]}\n");                     /* 13 */
    fprintf(f, "{\"id\":\"x14\",\"installed_size_kb\":\"big\"}\n");      /* 14 */
    fprintf(f, "{\"id\":\"x15\",\"title\":\"a\"} trailing\n");           /* 15 */
    fprintf(f, "{\"id\":\"\",\"title\":\"empty id\"}\n");                /* 16 */
    fprintf(f, "{\"id\":\"x17\",\"section\":\"bad\\u0001control\"}\n");  /* 17 */
    fprintf(f, "{\"id\":\"ok-3\",\"title\":\"last line, no newline\"}"); /* 18 */
    fclose(f);
    FILE *rf = fopen(rej, "w");
    souk_ingest_stats st = ingest(dir, bad, 1000, 2, 0, rf);
    fclose(rf);
    CHECK_EQ_U64(st.lines, 18);
    CHECK_EQ_U64(st.records, 3);
    CHECK_EQ_U64(st.added, 3);
    CHECK_EQ_U64(st.rejected, 14);
    /* Every reject names its line and its reason. */
    struct {
        int line;
        const char *why;
    } expect[] = {{2, "malformed JSON"},
                  {3, "field 'title' must be a string"},
                  {4, "invalid UTF-8"},
                  {5, "field 'description' is 300000 bytes"},
                  {6, "unknown field 'colour'"},
                  {7, "field 'id' is missing"},
                  {10, "not a JSON object"},
                  {11, "field 'op' must be"},
                  {12, "longer than the limit"},
                  {13, "field 'tags' must be a string"},
                  {14, "field 'installed_size_kb' must be a finite number"},
                  {15, "trailing data"},
                  {16, "field 'id' must be 1 to 256 bytes"},
                  {17, "control character"}};
    rf = fopen(rej, "r");
    REQUIRE(rf);
    char *line = NULL;
    size_t cap = 0;
    size_t k = 0;
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
    CHECK_EQ_U64(k, 14);
    /* What was stored before is still there, plus the good lines. */
    souk_stats s = stats_of(dir);
    CHECK_EQ_U64(s.docs, 103);
    CHECK(index_check_dir(dir) == 0);
    /* Deleting the three good records gives back exactly the earlier index. */
    f = fopen(bad, "w");
    fprintf(f, "{\"op\":\"delete\",\"id\":\"ok-1\"}\n{\"op\":\"delete\",\"id\":\"ok-2\"}\n"
               "{\"op\":\"delete\",\"id\":\"ok-3\"}\n");
    fclose(f);
    ingest(dir, bad, 1000, 0, 1, NULL);
    digest after;
    REQUIRE(index_digest(dir, &after) == 0);
    CHECK_EQ_U64(after.sum, before.sum);
    CHECK_EQ_U64(after.xsum, before.xsum);
}

static void test_cross_process_reader(char **lines)
{
    char dir[512], f1[512], f2[512];
    snprintf(dir, sizeof dir, "%s/xproc", tmpdir);
    snprintf(f1, sizeof f1, "%s/xp1.ndjson", tmpdir);
    snprintf(f2, sizeof f2, "%s/xp2.ndjson", tmpdir);
    write_file(f1, lines, 50);
    write_file(f2, lines + 50, 70);
    ingest(dir, f1, 1000, 0, 0, NULL);
    int to_child[2], to_parent[2];
    REQUIRE(pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char err[512], c;
        souk_index *ix;
        souk_reader *r;
        souk_stats st;
        if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) ||
            souk_reader_new(ix, &r) || souk_reader_stats(r, &st))
            _exit(2);
        uint64_t before = st.docs;
        /* Record 100 is in the second commit: absent now, present after it. */
        cJSON *rec100 = cJSON_Parse(lines[99]);
        const char *id100 = cJSON_GetStringValue(cJSON_GetObjectItem(rec100, "id"));
        uint32_t docid;
        if (!id100 || souk_reader_docid(r, id100, strlen(id100), &docid) != SOUK_ENOTFOUND)
            _exit(9);
        souk_reader_release(r);
        /* A searcher that has looked up the terms of record 100's title (absent or with the
         * old statistics: its dictionary cache holds them) must, after the commit, rank as a
         * fresh searcher does. */
        cJSON *rec = cJSON_Parse(lines[99]);
        const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(rec, "title"));
        souk_searcher *s1, *s2;
        souk_hit h1[100], h2[100];
        size_t n1 = 0, n2 = 0;
        souk_search_opts o = {100, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
        if (!title || souk_searcher_new(ix, &s1) ||
            souk_search(s1, title, strlen(title), &o, h1, &n1, NULL, err, sizeof err))
            _exit(6);
        if (write(to_parent[1], "r", 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(3);
        if (souk_reader_refresh(r) || souk_reader_stats(r, &st))
            _exit(4);
        if (souk_searcher_refresh(s1) || souk_searcher_new(ix, &s2) ||
            souk_search(s1, title, strlen(title), &o, h1, &n1, NULL, err, sizeof err) ||
            souk_search(s2, title, strlen(title), &o, h2, &n2, NULL, err, sizeof err) || n1 != n2 ||
            n1 == 0)
            _exit(7);
        for (size_t i = 0; i < n1; i++)
            if (h1[i].docid != h2[i].docid || h1[i].score != h2[i].score)
                _exit(8);
        souk_searcher_free(s1);
        souk_searcher_free(s2);
        cJSON_Delete(rec);
        int found = souk_reader_docid(r, id100, strlen(id100), &docid) == 0;
        cJSON_Delete(rec100);
        _exit(before == 50 && st.docs == 120 && found ? 0 : 5);
    }
    char c;
    REQUIRE(read(to_parent[0], &c, 1) == 1);
    ingest(dir, f2, 1000, 0, 0, NULL);
    REQUIRE(write(to_child[1], "c", 1) == 1);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* An index opened with another schema is refused with a message naming it; the stored schema
 * is used when none is given. */
static void test_schema_mismatch(void)
{
    char dir[512], err[512], path[4096];
    snprintf(dir, sizeof dir, "%s/upd-b", tmpdir);
    snprintf(path, sizeof path, "%s/indexer/schemas/goodbooks.json", SOUK_SOURCE_DIR);
    souk_schema *other;
    souk_index *ix = NULL;
    REQUIRE(souk_schema_load(path, &other, err, sizeof err) == 0);
    CHECK(souk_index_open(dir, other, 0, &ix, err, sizeof err) == SOUK_ESCHEMA);
    CHECK(ix == NULL && strstr(err, "goodbooks") != NULL);
    souk_schema_free(other);
    REQUIRE(souk_index_open(dir, NULL, 0, &ix, err, sizeof err) == 0);
    CHECK(strcmp(souk_index_schema(ix)->name, "debian_packages") == 0);
    souk_index_close(ix);
    /* A directory that holds no index, opened read-only, is refused. */
    snprintf(dir, sizeof dir, "%s/nothing-here", tmpdir);
    CHECK(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) != 0);
    /* What a writer killed while creating an index leaves (a directory without a data file, or
     * with an empty one) holds no index yet: SOUK_ENOTFOUND, and a writer then creates it. */
    snprintf(dir, sizeof dir, "%s/half-made", tmpdir);
    REQUIRE(mkdir(dir, 0755) == 0);
    CHECK(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == SOUK_ENOTFOUND);
    CHECK(strstr(err, "holds no Souk index") != NULL);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fclose(f);
    CHECK(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == SOUK_ENOTFOUND);
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, sizeof err) == 0);
    souk_index_close(ix);
    CHECK(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    souk_index_close(ix);
}

int main(void)
{
    souk_alloc_init();
    char **lines = calloc(3000, sizeof *lines);
    size_t n = kit_debian_lines(lines, 0, 3000);
    if (n == 0)
        return TEST_SKIP;
    REQUIRE(n == 3000);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    REQUIRE(souk_schema_load(path, &schema, err, sizeof err) == 0);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/souk-test-index-XXXXXX");
    REQUIRE(mkdtemp(tmpdir));
    test_update_equivalence(lines, n);
    test_batch_versions(lines);
    test_schema_mismatch();
    test_bad_input(lines);
    test_cross_process_reader(lines);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    souk_schema_free(schema);
    return check_done("test_index");
}
