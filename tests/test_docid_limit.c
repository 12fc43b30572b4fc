/* test_docid_limit.c: running out of document ids. Docids are 32 bits and never reused. An index
 * whose meta next_docid is set (through raw LMDB, as test_check damages an index) two below the
 * limit takes two more new documents; after that a new id is refused with SOUK_ENOIDS and a
 * message that says so, both where a new id first arrives (souk_writer_upsert) and where a batch
 * regrouped at its commit needs docids afresh (another writer committed meanwhile), while the
 * batch's other changes still commit and nothing committed is lost (every document is where it
 * was, with its terms). Issue 18: the writer reported this as LMDB's MDB_MAP_FULL,
 * so an upsert failed with SOUK_EFULL and left a document without a docid in the batch (the next
 * commit wrote it at docid 0), and a commit doubled the map eight times and said "index map
 * full". */
#include "check.h"
#include "souk/document.h"
#include "souk/index.h"
#include "souk/schema.h"
#include "souk/souk.h"

#include <lmdb.h>
#include <stdint.h>

static char dir[] = "/tmp/souk-test-docids-XXXXXX";
static souk_schema *schema;
static souk_docbuilder *builder;

/* Parses a record of the procurement schema into doc (valid until the next call). */
static void parse(const char *line, souk_doc *doc)
{
    char err[256];
    int del;
    REQUIRE(souk_docbuilder_parse(builder, line, strlen(line), &del, doc, err, sizeof err) == 0);
    REQUIRE(!del);
}

static int upsert(souk_writer *w, const char *line)
{
    souk_doc doc;
    parse(line, &doc);
    return souk_writer_upsert(w, &doc);
}

/* Writes meta next_docid (a little-endian u64) directly. */
static void set_next_docid(uint64_t v)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    REQUIRE(mdb_env_set_mapsize(env, (size_t)1 << 32) == 0);
    REQUIRE(mdb_env_open(env, dir, 0, 0640) == 0);
    REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    MDB_val k = {10, "next_docid"}, d = {8, b};
    REQUIRE(mdb_put(txn, meta, &k, &d, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

/* The docid of id, -1 when the index has no such document. */
static int64_t docid_of(souk_reader *r, const char *id)
{
    uint32_t d;
    int rc = souk_reader_docid(r, id, strlen(id), &d);
    if (rc == SOUK_ENOTFOUND)
        return -1;
    REQUIRE(rc == 0);
    return d;
}

/* The index holds n documents, each readable, and next_docid is next. (souk_index_check visits
 * every docid below next_docid: four billion here.) */
static void check_index(souk_index *ix, uint64_t n, uint64_t next)
{
    souk_reader *r;
    souk_stats st;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    REQUIRE(souk_reader_stats(r, &st) == 0);
    CHECK(st.docs == n);
    CHECK(st.next_docid == next);
    static const char *const ids[] = {"a1", "a2", "a3", "b1", "b2", "b3", "c1", "d1"};
    uint64_t found = 0;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int64_t d = docid_of(r, ids[i]);
        uint32_t len;
        const char *id, *stored;
        size_t id_len, stored_len;
        if (d < 0)
            continue;
        CHECK(d > 0 && d < UINT32_MAX);
        found++;
        CHECK(souk_reader_doc(r, (uint32_t)d, &id, &id_len, &stored, &stored_len) == 0);
        CHECK(id_len == strlen(ids[i]) && memcmp(id, ids[i], id_len) == 0);
        CHECK(souk_reader_doclen(r, (uint32_t)d, &len) == 0 && len > 0);
    }
    CHECK(found == n);
    souk_reader_free(r);
}

int main(void)
{
    char err[512];
    souk_index *ix;
    souk_writer *w, *w2;
    REQUIRE(mkdtemp(dir));
    REQUIRE(souk_schema_parse(souk_schema_default_json, strlen(souk_schema_default_json), &schema,
                              err, sizeof err) == 0);
    REQUIRE(souk_docbuilder_new(schema, &builder) == 0);

    /* Three documents, committed normally (docids 1, 2, 3). */
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, sizeof err) == 0);
    REQUIRE(souk_writer_new(ix, &w) == 0);
    REQUIRE(upsert(w, "{\"id\":\"a1\",\"title\":\"hex bolt m8\",\"price\":3}") == 0);
    REQUIRE(upsert(w, "{\"id\":\"a2\",\"title\":\"steel washer\",\"brand\":\"acme\"}") == 0);
    REQUIRE(upsert(w, "{\"id\":\"a3\",\"title\":\"nitrile glove\"}") == 0);
    REQUIRE(souk_writer_commit(w, NULL, NULL) == 0);
    souk_writer_free(w);
    souk_index_close(ix);

    /* Two ids left: UINT32_MAX - 2 and UINT32_MAX - 1 (UINT32_MAX itself is never handed out). */
    set_next_docid((uint64_t)UINT32_MAX - 2);
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, sizeof err) == 0);

    /* Writer A takes one new id and an update; then writer B takes the last two ids, is refused
     * a third at its upsert, and commits. */
    REQUIRE(souk_writer_new(ix, &w) == 0);
    REQUIRE(upsert(w, "{\"id\":\"c1\",\"title\":\"brass valve\"}") == 0);
    REQUIRE(upsert(w, "{\"id\":\"a3\",\"title\":\"latex glove\"}") == 0);
    REQUIRE(souk_writer_new(ix, &w2) == 0);
    REQUIRE(upsert(w2, "{\"id\":\"b1\",\"title\":\"gasket seal\"}") == 0);
    REQUIRE(upsert(w2, "{\"id\":\"b2\",\"title\":\"cable tie\",\"price\":1}") == 0);
    int rc = upsert(w2, "{\"id\":\"b3\",\"title\":\"drill bit hss\"}");
    fprintf(stderr, "upsert past the last docid: %d (%s), \"%s\"\n", rc, souk_strerror(rc),
            souk_writer_errmsg(w2));
    CHECK(rc == SOUK_ENOIDS);
    CHECK(strstr(souk_writer_errmsg(w2), "document ids exhausted") != NULL);
    /* Updates and deletes need no new id. */
    CHECK(upsert(w2, "{\"id\":\"a1\",\"title\":\"hex bolt m10\",\"price\":4}") == 0);
    CHECK(souk_writer_delete(w2, "a2", 2) == 0);
    rc = souk_writer_commit(w2, NULL, NULL);
    if (rc)
        fprintf(stderr, "commit: %s\n", souk_writer_errmsg(w2));
    CHECK(rc == 0);
    souk_writer_free(w2);
    check_index(ix, 4, UINT32_MAX);

    /* A's snapshot is stale: its commit regroups and needs a docid for c1, and there is none. */
    rc = souk_writer_commit(w, NULL, NULL);
    fprintf(stderr, "commit needing a docid past the last: %d (%s), \"%s\"\n", rc,
            souk_strerror(rc), souk_writer_errmsg(w));
    CHECK(rc == SOUK_ENOIDS);
    CHECK(strstr(souk_writer_errmsg(w), "document ids exhausted") != NULL);
    souk_writer_free(w);

    /* Nothing committed is lost, nothing refused landed. */
    check_index(ix, 4, UINT32_MAX);
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    CHECK(docid_of(r, "a1") == 1);
    CHECK(docid_of(r, "a2") == -1);
    CHECK(docid_of(r, "a3") == 3);
    CHECK(docid_of(r, "b1") == UINT32_MAX - 2);
    CHECK(docid_of(r, "b2") == UINT32_MAX - 1);
    CHECK(docid_of(r, "b3") == -1);
    CHECK(docid_of(r, "c1") == -1);
    souk_term_info ti;
    CHECK(souk_reader_term(r, "m10", 3, &ti) == 0 && ti.df == 1);
    CHECK(souk_reader_term(r, "glove", 5, &ti) == 0 && ti.df == 1);
    CHECK(souk_reader_term(r, "latex", 5, &ti) == SOUK_ENOTFOUND);
    CHECK(souk_reader_term(r, "gasket", 6, &ti) == 0 && ti.df == 1);
    souk_reader_free(r);

    /* A new writer is refused at once; an update still commits. */
    REQUIRE(souk_writer_new(ix, &w) == 0);
    CHECK(upsert(w, "{\"id\":\"d1\",\"title\":\"torx screw\"}") == SOUK_ENOIDS);
    CHECK(upsert(w, "{\"id\":\"b1\",\"title\":\"pump gasket\"}") == 0);
    CHECK(souk_writer_commit(w, NULL, NULL) == 0);
    souk_writer_free(w);
    check_index(ix, 4, UINT32_MAX);
    REQUIRE(souk_reader_new(ix, &r) == 0);
    CHECK(docid_of(r, "b1") == UINT32_MAX - 2);
    CHECK(docid_of(r, "d1") == -1);
    souk_reader_free(r);

    souk_index_close(ix);
    souk_docbuilder_free(builder);
    souk_schema_free(schema);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_docid_limit");
}
