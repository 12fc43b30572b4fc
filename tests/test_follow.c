/* test_follow.c: `souk-index catalog FILE --follow` on a growing file: records appended while
 * it runs become visible to a reader without reopening, a partial last line waits until its
 * newline arrives, a file rotated (renamed, a new one at the path) or truncated is read again
 * from its start, and SIGTERM makes it commit and exit 0. */
#include "check.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

/* Waits up to tries * 50 ms for the index in dir to hold want documents; returns what it
 * holds. */
static uint64_t wait_docs(const char *dir, uint64_t want, int tries)
{
    uint64_t docs = 0;
    for (int i = 0; i < tries; i++) {
        char err[512];
        souk_index *ix;
        if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0) {
            souk_reader *r;
            souk_stats st;
            if (souk_reader_new(ix, &r) == 0 && souk_reader_stats(r, &st) == 0)
                docs = st.docs;
            souk_reader_free(r);
            souk_index_close(ix);
        }
        if (docs == want)
            return docs;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return docs;
}

int main(void)
{
    souk_alloc_init();
    char dir[] = "/tmp/souk-test-follow-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char file[512], data[512], schema[4096];
    snprintf(file, sizeof file, "%s/stream.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/procurement.json", SOUK_SOURCE_DIR);
    append(file, "{\"id\":\"p1\",\"title\":\"Hex bolt M8x40 DIN 933\",\"price\":0.12}\n"
                 "{\"id\":\"p2\",\"title\":\"Deep groove ball bearing 6204-2RS\",\"price\":2.5}\n");
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execl(SOUK_BIN_DIR "/souk-index", "souk-index", "--data", data, "--schema", schema,
              "catalog", file, "--follow", "--quiet", (char *)NULL);
        _exit(127);
    }
    CHECK_EQ_U64(wait_docs(data, 2, 200), 2);
    /* A line written in two parts lands once it is whole. */
    append(file, "{\"id\":\"p3\",\"title\":\"Stainless ");
    CHECK_EQ_U64(wait_docs(data, 3, 20), 2); /* 1 s: the half line must not land */
    append(file, "steel washer\",\"price\":0.02}\n{\"op\":\"delete\",\"id\":\"p1\"}\n");
    CHECK_EQ_U64(wait_docs(data, 2, 200), 2);
    append(file, "{\"id\":\"p4\",\"title\":\"Cable tie\"}\n{\"id\":\"p5\",\"title\":\"Glove\"}\n");
    CHECK_EQ_U64(wait_docs(data, 4, 200), 4);
    /* Rotation: the file is renamed and a new one is created at the path; the new file is a new
     * stream, read from its start (issue 17: it was never read). */
    char old[600];
    snprintf(old, sizeof old, "%s.1", file);
    REQUIRE(rename(file, old) == 0);
    append(file, "{\"id\":\"p6\",\"title\":\"Torx screw\"}\n{\"id\":\"p7\",\"title\":\"Rivet\"}\n");
    CHECK_EQ_U64(wait_docs(data, 6, 200), 6);
    /* Truncation below what was read: the file is read again from its start. */
    FILE *t = fopen(file, "w");
    REQUIRE(t);
    fputs("{\"id\":\"p8\",\"title\":\"Nut\"}\n", t);
    fclose(t);
    CHECK_EQ_U64(wait_docs(data, 7, 200), 7);
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' check >/dev/null", SOUK_BIN_DIR, data);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_follow");
}
