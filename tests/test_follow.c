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

/* Whether the index in dir holds exactly the documents of `want` (ids separated by spaces):
 * each of them, and no other (the count matches). */
static int holds(const char *dir, const char *want)
{
    char err[512];
    souk_index *ix;
    if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) != 0)
        return 0;
    souk_reader *r = NULL;
    souk_stats st;
    int ok = souk_reader_new(ix, &r) == 0 && souk_reader_stats(r, &st) == 0;
    uint64_t n = 0;
    for (const char *p = want; ok && *p;) {
        while (*p == ' ')
            p++;
        size_t l = strcspn(p, " ");
        uint32_t docid;
        if (l) {
            ok = souk_reader_docid(r, p, l, &docid) == 0;
            n++;
        }
        p += l;
    }
    ok = ok && st.docs == n;
    souk_reader_free(r);
    souk_index_close(ix);
    return ok;
}

/* Waits up to tries * 50 ms for the index in dir to hold exactly the ids of `want`; returns
 * whether it did (printing what was wanted when not). */
static int wait_ids(const char *dir, const char *want, int tries)
{
    for (int i = 0; i < tries; i++) {
        if (holds(dir, want))
            return 1;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "  the index does not hold exactly: %s\n", want);
    return 0;
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
    CHECK(wait_ids(data, "p1 p2", 200));
    /* A line written in two parts lands once it is whole: for 1 s the index must keep exactly
     * p1 and p2 (the half line neither lands nor is rejected). */
    append(file, "{\"id\":\"p3\",\"title\":\"Stainless ");
    for (int i = 0; i < 20; i++) {
        CHECK(holds(data, "p1 p2"));
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    append(file, "steel washer\",\"price\":0.02}\n{\"op\":\"delete\",\"id\":\"p1\"}\n");
    CHECK(wait_ids(data, "p2 p3", 200)); /* p3 landed and p1 is gone: same count as before */
    append(file, "{\"id\":\"p4\",\"title\":\"Cable tie\"}\n{\"id\":\"p5\",\"title\":\"Glove\"}\n");
    CHECK(wait_ids(data, "p2 p3 p4 p5", 200));
    /* Rotation: the file is renamed and a new one is created at the path; the new file is a new
     * stream, read from its start (issue 17: it was never read). */
    char old[600];
    snprintf(old, sizeof old, "%s.1", file);
    REQUIRE(rename(file, old) == 0);
    append(file, "{\"id\":\"p6\",\"title\":\"Torx screw\"}\n{\"id\":\"p7\",\"title\":\"Rivet\"}\n");
    CHECK(wait_ids(data, "p2 p3 p4 p5 p6 p7", 200));
    /* Truncation below what was read: the file is read again from its start. */
    FILE *t = fopen(file, "w");
    REQUIRE(t);
    fputs("{\"id\":\"p8\",\"title\":\"Nut\"}\n", t);
    fclose(t);
    CHECK(wait_ids(data, "p2 p3 p4 p5 p6 p7 p8", 200));
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(holds(data, "p2 p3 p4 p5 p6 p7 p8"));
    char cmd[600];
    REQUIRE(snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' check >/dev/null", SOUK_BIN_DIR,
                     data) < (int)sizeof cmd);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_follow");
}
