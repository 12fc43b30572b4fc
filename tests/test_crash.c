/* test_crash.c: crash safety of ingest. souk-index is killed with SIGKILL at random moments while
 * it ingests real catalog records, in small batches and then in batches large enough to write
 * their store records ahead of the commit (engine/catalog/writer.c). After every kill the index
 * must open, pass the full consistency check, and hold exactly the documents of the stream prefix
 * up to its committed position. Rerunning the stream (it resumes after the last commit) must
 * converge to the same index as one clean run. Store records a killed batch left past
 * next_docid (orphans) must be seen by no reader and be gone after the next batch; that is
 * also checked on orphans planted directly. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/digest.h"
#include "souk/document.h"
#include "souk/schema.h"

#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define NLINES 12000

static char *ids[NLINES];

/* Number of distinct ids among the first n lines. */
static uint64_t distinct_prefix(uint64_t n)
{
    uint64_t count = 0;
    for (uint64_t i = 0; i < n; i++) {
        int dup = 0;
        /* The catalog holds a handful of duplicate ids, always adjacent-ish; a short scan back
         * is exact for it (main checks it against an exact count of the whole stream: a
         * duplicate further back would be counted twice in every longer prefix). */
        for (uint64_t k = i > 64 ? i - 64 : 0; k < i && !dup; k++)
            dup = strcmp(ids[k], ids[i]) == 0;
        count += !dup;
    }
    return count;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Number of distinct ids among the first n lines, exactly (sorted copies). */
static uint64_t distinct_exact(uint64_t n)
{
    char **s = malloc(n * sizeof *s);
    REQUIRE(s);
    memcpy(s, ids, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_id);
    uint64_t count = n ? 1 : 0;
    for (uint64_t i = 1; i < n; i++)
        count += strcmp(s[i], s[i - 1]) != 0;
    free(s);
    return count;
}

static pid_t start_indexer(const char *data, const char *schema, const char *file, int batch)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char b[32];
        snprintf(b, sizeof b, "%d", batch);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execl(SOUK_BIN_DIR "/souk-index", "souk-index", "--data", data, "--schema", schema,
              "catalog", file, "--batch", b, "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Raw LMDB: the docs records at or past next_docid (orphans), or -1. With plant > 0, first
 * writes that many junk store records (docs and termlist) past next_docid. */
static long orphans(const char *dir, int plant)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, docs, tl;
    long n = -1;
    if (mdb_env_create(&env))
        return -1;
    mdb_env_set_maxdbs(env, 16);
    mdb_env_set_mapsize(env, (size_t)1 << 36);
    if (mdb_env_open(env, dir, plant ? 0 : MDB_RDONLY, 0640) ||
        mdb_txn_begin(env, NULL, plant ? 0 : MDB_RDONLY, &txn)) {
        mdb_env_close(env);
        return -1;
    }
    MDB_val k = {10, "next_docid"}, d;
    uint64_t next = 0;
    if (mdb_dbi_open(txn, "meta", 0, &meta) || mdb_dbi_open(txn, "docs", 0, &docs) ||
        mdb_dbi_open(txn, "termlist", 0, &tl))
        goto out;
    int mrc = mdb_get(txn, meta, &k, &d);
    if (mrc == 0 && d.mv_size == 8)
        memcpy(&next, d.mv_data, 8);
    else if (mrc != MDB_NOTFOUND)
        goto out;
    if (next == 0)
        next = 1; /* no commit yet */
    for (int i = 0; i < plant; i++) {
        uint32_t docid = (uint32_t)next + (uint32_t)(i * 37);
        uint8_t key[4] = {(uint8_t)(docid >> 24), (uint8_t)(docid >> 16), (uint8_t)(docid >> 8),
                          (uint8_t)docid};
        MDB_val kk = {4, key}, v = {9, "\x05junk!{}"};
        if (mdb_put(txn, docs, &kk, &v, 0) || mdb_put(txn, tl, &kk, &v, 0))
            goto out;
    }
    MDB_cursor *c;
    if (mdb_cursor_open(txn, docs, &c))
        goto out;
    n = 0;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        uint32_t docid =
            (uint32_t)kb[0] << 24 | (uint32_t)kb[1] << 16 | (uint32_t)kb[2] << 8 | kb[3];
        n += docid >= next;
    }
    mdb_cursor_close(c);
out:
    if (plant && n >= 0) {
        if (mdb_txn_commit(txn))
            n = -1;
    } else {
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return n;
}

/* Runs souk-index on file into data and kills it at random moments, up to `rounds` times,
 * checking the index after each kill: until the stream is done, or, with want_orphans, until
 * that many kills left orphans (starting the stream over whenever it finished). Returns the
 * kills; *orphan_kills counts those that left orphans.
 *
 * With want_orphans every run starts with nothing committed (a run whose batch committed is
 * started over too), and the delay aims at the window where orphans exist: between the store
 * thread's first transaction and the batch's commit. A kill before it (nothing committed, no
 * orphans) moves the aim later, one after it (the batch committed, or the run finished) moves
 * it earlier; each delay is the aim +-25%. So the kills find the window however fast the
 * machine runs at the moment, instead of hoping that delays drawn from one clean run's time
 * land in it. */
static int kill_rounds(const char *data, const char *schema, const char *file, int rounds,
                       int batch_min, int batch_span, int ms_min, int ms_span, int want_orphans,
                       int *orphan_kills)
{
    int kills = 0, finished = 0;
    double aim = ms_min + ms_span / 2.0, aim_max = 60000;
    *orphan_kills = 0;
    for (int round = 0; round < rounds && !(finished && !want_orphans); round++) {
        if (finished) {
            /* Hunting orphans: start the stream over in a fresh index. */
            char cmd[700];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", data);
            REQUIRE(system(cmd) == 0);
            finished = 0;
        }
        pid_t pid = start_indexer(data, schema, file, batch_min + rand() % batch_span);
        struct timespec ts = {0, 0};
        long ms = want_orphans ? (long)(aim * (0.75 + 0.5 * (rand() / (RAND_MAX + 1.0)))) + 1
                               : ms_min + rand() % ms_span;
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
        int status, late = 0, early = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            REQUIRE(WIFEXITED(status));
            late = 1;
        } else {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            kills++;
        }
        char err[512];
        souk_index *ix = NULL;
        int orc = SOUK_ENOTFOUND;
        /* Not created yet, or killed before its first commit: no index yet; the next run
         * creates it. */
        if (access(data, F_OK) == 0)
            orc = souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err);
        if (orc == SOUK_ENOTFOUND) {
            if (want_orphans && !late && aim < aim_max)
                aim *= 1.3;
            continue;
        }
        REQUIRE(orc == 0);
        souk_index_close(ix);
        long orph = orphans(data, 0);
        if (orph > 0)
            (*orphan_kills)++;
        /* The index opens, is consistent, and holds exactly the committed prefix. */
        CHECK(index_check_dir(data) == 0);
        REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
        uint64_t off, ln;
        REQUIRE(souk_index_stream_pos(ix, &off, &ln, NULL, 0) == 0);
        souk_reader *r;
        souk_stats st;
        REQUIRE(souk_reader_new(ix, &r) == 0 && souk_reader_stats(r, &st) == 0);
        CHECK_EQ_U64(st.docs, distinct_prefix(ln));
        /* The last committed record is in; the next one is not (unless it repeats an id). */
        uint32_t docid;
        if (ln > 0)
            CHECK(souk_reader_docid(r, ids[ln - 1], strlen(ids[ln - 1]), &docid) == 0);
        souk_reader_free(r);
        souk_index_close(ix);
        if (want_orphans && *orphan_kills >= want_orphans)
            break;
        if (want_orphans && orph <= 0) {
            early = !late && ln == 0;
            late = late || ln > 0;
            if (early && aim < aim_max)
                aim *= 1.3;
            else if (late && aim > 1)
                aim /= 1.3;
            if (ln > 0)
                finished = 1; /* the batch committed: the next run starts over */
        }
    }
    return kills;
}

/* Another writer commits while a batch of new documents has its store records out ahead: the
 * batch's docids are then assigned afresh at its commit, and its records ahead are orphans to
 * delete. Lines [0, 10000) of file go through the C API in one batch, lines [10000, 12000)
 * (part) through souk-index in another process in the middle of it; the result must hold
 * both, as one run over both would. */
static void other_writer(const char *dir, const char *schema_path, const char *file,
                         const char *part, const char *clean)
{
    char err[512];
    souk_schema *schema;
    REQUIRE(souk_schema_load(schema_path, &schema, err, sizeof err) == 0);
    souk_index *ix;
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, sizeof err) == 0);
    souk_docbuilder *b;
    souk_writer *w;
    REQUIRE(souk_docbuilder_new(souk_index_schema(ix), &b) == 0 && souk_writer_new(ix, &w) == 0);
    FILE *f = fopen(file, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (int i = 0; i < 10000 && (n = getline(&line, &cap, f)) > 0; i++) {
        souk_doc d;
        int del;
        REQUIRE(souk_docbuilder_parse(b, line, (size_t)n - 1, &del, &d, err, sizeof err) == 0);
        REQUIRE(souk_writer_upsert(w, &d) == 0);
    }
    free(line);
    fclose(f);
    /* The store thread commits what it holds within its time limit; then the other writer. */
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    CHECK(orphans(dir, 0) > 0);
    int status;
    pid_t pid = start_indexer(dir, schema_path, part, 100000);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    souk_commit_stats st = {0};
    CHECK(souk_writer_commit(w, NULL, &st) == 0);
    CHECK_EQ_U64(st.added, distinct_prefix(10000));
    souk_writer_free(w);
    souk_docbuilder_free(b);
    souk_index_close(ix);
    souk_schema_free(schema);
    CHECK(index_check_dir(dir) == 0);
    CHECK(orphans(dir, 0) == 0);
    digest a, c;
    REQUIRE(index_digest(dir, &a) == 0 && index_digest(clean, &c) == 0);
    CHECK_EQ_U64(a.docs, c.docs);
    CHECK_EQ_U64(a.sum, c.sum);
    CHECK_EQ_U64(a.xsum, c.xsum);
    printf("test_crash: a batch with records ahead, another writer in between: %llu + %llu "
           "documents, as one run\n",
           (unsigned long long)st.added, (unsigned long long)(a.docs - st.added));
}

/* Finishes the stream in data (resuming), and checks it equals the clean index. */
static void finish_and_compare(const char *data, const char *clean, const char *schema,
                               const char *file)
{
    int status;
    pid_t pid = start_indexer(data, schema, file, 500);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(index_check_dir(data) == 0);
    CHECK(orphans(data, 0) == 0);
    digest a, b;
    REQUIRE(index_digest(data, &a) == 0 && index_digest(clean, &b) == 0);
    CHECK_EQ_U64(a.docs, distinct_prefix(NLINES));
    CHECK_EQ_U64(a.docs, b.docs);
    CHECK_EQ_U64(a.postings, b.postings);
    CHECK_EQ_U64(a.positions, b.positions);
    CHECK_EQ_U64(a.sum, b.sum);
    CHECK_EQ_U64(a.xsum, b.xsum);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-crash-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char file[512], data[512], clean[512], schema[4096], cmd[8192];
    snprintf(file, sizeof file, "%s/stream.ndjson", dir);
    snprintf(data, sizeof data, "%s/crashed", dir);
    snprintf(clean, sizeof clean, "%s/clean", dir);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    REQUIRE(kit_debian_records(file, NLINES) == 0);
    /* The ids of the stream, in order. */
    FILE *f = fopen(file, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (n < NLINES && getline(&line, &cap, f) > 0) {
        char *p = (char *)json_string_value(line, "id");
        REQUIRE(p);
        *strchr(p, '"') = 0;
        ids[n++] = strdup(p);
    }
    free(line);
    fclose(f);
    REQUIRE(n == NLINES);
    CHECK_EQ_U64(distinct_prefix(NLINES), distinct_exact(NLINES));
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("SOUK_CRASH_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    srand(seed);
    printf("test_crash: seed %u (set SOUK_CRASH_SEED to repeat)\n", seed);
    int status, orphan_kills;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = start_indexer(clean, schema, file, 100000);
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int clean_ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    CHECK(orphans(clean, 0) == 0);

    /* Small batches (no store records ahead). */
    int kills = kill_rounds(data, schema, file, 40, 200, 400, 5, 150, 0, &orphan_kills);
    finish_and_compare(data, clean, schema, file);
    printf("test_crash: small batches: %d kills, consistent after each\n", kills);
    CHECK(kills >= 5);

    /* Batches of the whole stream, whose store records go out ahead in transactions of their
     * own: kills until two of them left orphans (a kill then lands after a store transaction
     * and before the batch's commit). */
    char big[600];
    snprintf(big, sizeof big, "%s/big", dir);
    int bkills = kill_rounds(big, schema, file, 80, 12000, 1, clean_ms / 5 + 1, clean_ms + 1, 2,
                             &orphan_kills);
    finish_and_compare(big, clean, schema, file);
    printf("test_crash: whole-stream batches (a clean run: %d ms): %d kills, %d left orphans, "
           "consistent after each\n",
           clean_ms, bkills, orphan_kills);
    CHECK(orphan_kills >= 1);

    /* Planted orphans: readers and the check ignore them, the next batch removes them. */
    char plant[600], part[600];
    snprintf(plant, sizeof plant, "%s/plant", dir);
    snprintf(part, sizeof part, "%s/part.ndjson", dir);
    snprintf(cmd, sizeof cmd, "head -n 3000 '%s' > '%s'", file, part);
    REQUIRE(system(cmd) == 0);
    pid = start_indexer(plant, schema, part, 100000);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    digest before, after;
    REQUIRE(index_digest(plant, &before) == 0);
    CHECK(orphans(plant, 5) == 5);
    CHECK(index_check_dir(plant) == 0);
    REQUIRE(index_digest(plant, &after) == 0);
    CHECK_EQ_U64(after.docs, before.docs);
    CHECK_EQ_U64(after.sum, before.sum);
    CHECK_EQ_U64(after.xsum, before.xsum);
    /* Appending the rest of the stream (new documents at those docids) in one large batch. */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", file, part);
    REQUIRE(system(cmd) == 0);
    finish_and_compare(plant, clean, schema, part);

    /* Two writers. The tail of the stream is distinct from its head (the catalog's duplicate
     * ids are close together), so the clean index of the whole stream holds the same
     * documents. */
    char two[600], tail[600];
    snprintf(two, sizeof two, "%s/two", dir);
    snprintf(tail, sizeof tail, "%s/tail.ndjson", dir);
    snprintf(cmd, sizeof cmd, "tail -n +10001 '%s' > '%s'", file, tail);
    REQUIRE(system(cmd) == 0);
    other_writer(two, schema, file, tail, clean);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_crash");
}
