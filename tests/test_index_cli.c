/* test_index_cli.c: what test_programs leaves out of souk-index and souk-search, run as processes
 * on the first 300 Debian records:
 *   - `dump` without ids prints every document once, in docid order, with exactly the ids of the
 *     input stream (read with cJSON here) and each document's stored fields equal to its input
 *     record's; `dump --terms ID` gives each term with its positions; an unknown id exits 1;
 *   - failures exit 1 with a message naming the cause: a schema file that is absent, an input
 *     file that is absent, a --data that is a file, `check` and `dump` without an index; a
 *     rejects file that cannot be opened is a warning (the catalog is still indexed); --help 0;
 *   - an index damaged through raw LMDB (as a disk or another program could): a meta record of
 *     the wrong size makes `stats` and souk-search say "cannot read the index" (exit 1); a term
 *     dropped from the dictionary makes `stats --detail` report the failed check and
 *     `dump --terms` say the term list and postings disagree (exit 1);
 *   - souk-search --lang, and a query syntax error (exit 1, "query syntax"). */
#include "check.h"
#include "kit/fixture.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[] = "/tmp/souk-test-index-cli-XXXXXX";
static char data[600], stream[600];

/* Runs souk-index with args (shell words); exit status, output (both streams) in *out. */
static int idx(const char *args, char **out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/souk-index' %s", SOUK_BIN_DIR, args);
    int st;
    char *o = kit_run(cmd, 1, &st);
    if (out)
        *out = o;
    else
        free(o);
    return st;
}

static void test_dump_all(void)
{
    /* The input: id -> record (the last line of an id wins, as an upsert does). */
    FILE *f = fopen(stream, "r");
    REQUIRE(f);
    cJSON *want = cJSON_CreateObject();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *r = cJSON_Parse(line);
        REQUIRE(r);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(r, "id"));
        REQUIRE(id);
        char *key = strdup(id);
        cJSON_DeleteItemFromObjectCaseSensitive(r, "id");
        cJSON_DeleteItemFromObjectCaseSensitive(want, key);
        cJSON_AddItemToObject(want, key, r);
        free(key);
    }
    free(line);
    fclose(f);
    int nwant = cJSON_GetArraySize(want);
    REQUIRE(nwant > 100);

    char args[1400], *out;
    snprintf(args, sizeof args, "--data '%s' dump", data);
    int st = idx(args, &out);
    CHECK(st == 0);
    int n = 0, bad = 0;
    double last_docid = 0;
    for (char *p = out, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e)
            break;
        *e = 0;
        cJSON *d = cJSON_Parse(p);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(d, "id"));
        cJSON *docid = cJSON_GetObjectItem(d, "docid"), *dl = cJSON_GetObjectItem(d, "doclen");
        cJSON *in = id ? cJSON_GetObjectItemCaseSensitive(want, id) : NULL;
        if (!in || !cJSON_IsNumber(docid) || docid->valuedouble <= last_docid ||
            !cJSON_IsNumber(dl) || dl->valuedouble <= 0 ||
            !cJSON_Compare(cJSON_GetObjectItem(d, "fields"), in, 1)) {
            if (bad++ < 3)
                fprintf(stderr, "  dumped %.200s\n", p);
        } else {
            cJSON_AddTrueToObject(in, "\x01seen"); /* a second dump of the id would not compare */
        }
        if (cJSON_IsNumber(docid))
            last_docid = docid->valuedouble;
        cJSON_Delete(d);
        n++;
    }
    CHECK(bad == 0);
    CHECK_EQ_U64(n, nwant);
    free(out);

    /* One document with its terms: [term, wdf, [positions]]; a field's weight multiplies the
     * wdf and boolean terms have none, so: positions strictly increasing, no more of them than
     * the wdf. */
    const char *first = cJSON_GetArrayItem(want, 0)->string;
    snprintf(args, sizeof args, "--data '%s' dump --terms '%s'", data, first);
    st = idx(args, &out);
    CHECK(st == 0);
    cJSON *d = cJSON_Parse(out);
    cJSON *terms = cJSON_GetObjectItem(d, "terms");
    CHECK(cJSON_IsArray(terms) && cJSON_GetArraySize(terms) > 3);
    const cJSON *t;
    int tbad = 0, with_pos = 0;
    cJSON_ArrayForEach(t, terms)
    {
        cJSON *pos = cJSON_GetArrayItem(t, 2);
        double wdf = cJSON_GetArrayItem(t, 1) ? cJSON_GetArrayItem(t, 1)->valuedouble : -1;
        tbad += !cJSON_IsString(cJSON_GetArrayItem(t, 0)) || wdf < 0 || !cJSON_IsArray(pos) ||
                cJSON_GetArraySize(pos) > (int)wdf;
        double last = -1;
        const cJSON *q;
        cJSON_ArrayForEach(q, pos)
        {
            tbad += q->valuedouble <= last;
            last = q->valuedouble;
        }
        with_pos += cJSON_GetArraySize(pos) > 0;
    }
    CHECK(with_pos > 3);
    CHECK(tbad == 0);
    cJSON_Delete(d);
    free(out);
    snprintf(args, sizeof args, "--data '%s' dump '%s' no-such-id-zz", data, first);
    st = idx(args, &out);
    CHECK(st == 1 && strstr(out, "no document with id 'no-such-id-zz'"));
    free(out);
    cJSON_Delete(want);
}

static void test_failures(void)
{
    char args[2400], *out, other[700];
    CHECK(idx("--help", NULL) == 0);
    CHECK(idx("-h", NULL) == 0);
    snprintf(args, sizeof args, "--data '%s/new1' --schema '%s/absent-schema.json' catalog '%s'",
             dir, dir, stream);
    CHECK(idx(args, &out) == 1 && strstr(out, "absent-schema.json"));
    free(out);
    snprintf(args, sizeof args, "--data '%s/new2' catalog '%s/absent-input.jsonl'", dir, dir);
    CHECK(idx(args, &out) == 1 && strstr(out, "cannot open") && strstr(out, "absent-input.jsonl"));
    free(out);
    /* --data naming a file, not a directory. */
    snprintf(args, sizeof args, "--data '%s' catalog '%s'", stream, stream);
    CHECK(idx(args, &out) == 1 && strstr(out, "souk-index: "));
    free(out);
    snprintf(other, sizeof other, "%s/none", dir);
    REQUIRE(mkdir(other, 0755) == 0);
    snprintf(args, sizeof args, "--data '%s' check", other);
    CHECK(idx(args, &out) == 1 && strstr(out, "souk-index: "));
    free(out);
    snprintf(args, sizeof args, "--data '%s' dump", other);
    CHECK(idx(args, &out) == 1 && strstr(out, "souk-index: "));
    free(out);
    /* A rejects file that cannot be opened: a warning, and the catalog is indexed. */
    snprintf(args, sizeof args,
             "--data '%s/new3' catalog --quiet --rejects '%s/no/such/dir/rejects' '%s'", dir, dir,
             stream);
    CHECK(idx(args, &out) == 0 && strstr(out, "cannot open rejects file") &&
          strstr(out, "no/such/dir/rejects"));
    free(out);
    snprintf(args, sizeof args, "--data '%s/new3' stats", dir);
    CHECK(idx(args, &out) == 0 && strstr(out, "\"docs\":"));
    free(out);
}

/* Opens the index's LMDB environment for a raw write. */
static void raw_open(MDB_env **env, MDB_txn **txn)
{
    REQUIRE(mdb_env_create(env) == 0);
    REQUIRE(mdb_env_set_maxdbs(*env, 16) == 0);
    REQUIRE(mdb_env_open(*env, data, 0, 0640) == 0);
    REQUIRE(mdb_txn_begin(*env, NULL, 0, txn) == 0);
}

static void raw_close(MDB_env *env, MDB_txn *txn)
{
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static void test_damage(void)
{
    char args[1400], cmd[1600], *out;
    int st;
    /* souk-search works before. */
    snprintf(cmd, sizeof cmd, "'%s/souk-search' --data '%s' --lang de --k 3 'editor'", SOUK_BIN_DIR,
             data);
    out = kit_run(cmd, 1, &st);
    CHECK(st == 0 && strstr(out, "\"hits\":"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s/souk-search' --data '%s' 'editor AND'", SOUK_BIN_DIR, data);
    out = kit_run(cmd, 1, &st);
    CHECK(st == 1 && strstr(out, "query syntax"));
    free(out);

    /* The document count stored in 4 bytes instead of 8. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, terms;
    raw_open(&env, &txn);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k = {1, "N"}, v;
    REQUIRE(mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 8);
    uint8_t saved[8];
    memcpy(saved, v.mv_data, 8);
    MDB_val bad = {4, saved};
    REQUIRE(mdb_put(txn, meta, &k, &bad, 0) == 0);
    raw_close(env, txn);
    snprintf(args, sizeof args, "--data '%s' stats", data);
    CHECK(idx(args, &out) == 1 && strstr(out, "cannot read the index"));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s/souk-search' --data '%s' editor", SOUK_BIN_DIR, data);
    out = kit_run(cmd, 1, &st);
    CHECK(st == 1 && strstr(out, "souk-search: "));
    free(out);
    raw_open(&env, &txn);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val good = {8, saved};
    REQUIRE(mdb_put(txn, meta, &k, &good, 0) == 0);
    raw_close(env, txn);
    CHECK(idx(args, NULL) == 0);

    /* A term dropped from the dictionary: its postings can no longer be found from the term
     * lists that name it. */
    raw_open(&env, &txn);
    REQUIRE(mdb_dbi_open(txn, "terms", 0, &terms) == 0);
    MDB_cursor *c;
    REQUIRE(mdb_cursor_open(txn, terms, &c) == 0);
    MDB_val tk, tv;
    REQUIRE(mdb_cursor_get(c, &tk, &tv, MDB_LAST) == 0);
    REQUIRE(mdb_cursor_del(c, 0) == 0);
    mdb_cursor_close(c);
    raw_close(env, txn);
    snprintf(args, sizeof args, "--data '%s' stats --detail", data);
    CHECK(idx(args, &out) == 1 && strstr(out, "check failed"));
    free(out);
    snprintf(args, sizeof args, "--data '%s' dump --terms", data);
    CHECK(idx(args, &out) == 1 && strstr(out, "term list and postings disagree"));
    free(out);
    snprintf(args, sizeof args, "--data '%s' check", data);
    CHECK(idx(args, &out) == 1 && strstr(out, "check failed"));
    free(out);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/index", dir);
    snprintf(stream, sizeof stream, "%s/stream.jsonl", dir);
    char cmd[8192];
    REQUIRE(kit_debian_records(stream, 300) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog --quiet '%s' >/dev/null",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, stream);
    REQUIRE(system(cmd) == 0);

    test_dump_all();
    test_failures();
    test_damage();

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_index_cli");
}
