/* fixture.c (test kit): the index fixtures of fixture.h, built by souk-index and kept per build
 * under a file lock. */
#include "fixture.h"

#include "check.h"
#include "souk/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCHEMA SOUK_SOURCE_DIR "/indexer/schemas/debian-packages.json"
#define SOUK_INDEX SOUK_BIN_DIR "/souk-index"

int kit_debian_records(const char *path, size_t n)
{
    const char *src = debian_catalog();
    if (!src)
        return -1;
    char cmd[8192], head[64] = "";
    if (n)
        snprintf(head, sizeof head, " | head -n %zu", n);
    snprintf(cmd, sizeof cmd, "xz -dc '%s'%s > '%s'", src, head, path);
    REQUIRE(system(cmd) == 0);
    return 0;
}

size_t kit_debian_lines(char **lines, size_t from, size_t n)
{
    const char *path = debian_catalog();
    if (!path)
        return 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | tail -n +%zu | head -n %zu", path, from + 1, n);
    FILE *f = popen(cmd, "r");
    REQUIRE(f);
    size_t i = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while (i < n && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = 0;
        REQUIRE((lines[i++] = strdup(line)) != NULL);
    }
    free(line);
    pclose(f);
    return i;
}

char *kit_run(const char *cmd, int with_stderr, int *status)
{
    size_t cl = strlen(cmd) + 16;
    char *full = malloc(cl);
    REQUIRE(full);
    snprintf(full, cl, "%s %s", cmd, with_stderr ? "2>&1" : "2>/dev/null");
    FILE *p = popen(full, "r");
    free(full);
    REQUIRE(p);
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    REQUIRE(out);
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        REQUIRE(souk_grow((void **)&out, &cap, len + 2, 1, SIZE_MAX) == 0);
    }
    out[len] = 0;
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return out;
}

int kit_run_into(const char *cmd, char *out, size_t cap)
{
    int status;
    char *all = kit_run(cmd, 1, &status);
    snprintf(out, cap, "%s", all);
    free(all);
    return status;
}

/* Runs souk-index on the first n records into dir. */
static void build(const char *src, const char *dir, size_t n, const char *opts)
{
    char cmd[8192], head[64] = "";
    if (n)
        snprintf(head, sizeof head, " | head -n %zu", n);
    snprintf(cmd, sizeof cmd,
             "xz -dc '%s'%s | '%s' --data '%s' --schema '%s' catalog - %s >/dev/null", src, head,
             SOUK_INDEX, dir, SCHEMA, opts);
    REQUIRE(system(cmd) == 0);
}

/* Appends "path size mtime" of a file to a stamp. */
static void stamp_file(char *out, size_t cap, const char *path)
{
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s %lld %lld.%09ld\n", path, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/* Reads a whole small file into buf ("" when absent). */
static void read_small(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Copies the cached index `from` (its files and folders, with their modes) into dir, except
 * LMDB's lock file and the stamp. */
static void copy_index(const char *from, const char *dir)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp -Rp '%s/.' '%s/' && rm -f '%s/lock.mdb' '%s/kit-stamp'", dir,
             from, dir, dir, dir);
    REQUIRE(system(cmd) == 0);
}

int kit_debian_index(const char *dir, size_t n, const char *opts)
{
    const char *src = debian_catalog();
    if (!src)
        return -1;
    char catalog[4096];
    snprintf(catalog, sizeof catalog, "%s", src);
    const char *nc = getenv("SOUK_KIT_NO_CACHE");
    if (nc && nc[0] && strcmp(nc, "0") != 0) {
        build(catalog, dir, n, opts);
        return 0;
    }
    char stamp[16384];
    snprintf(stamp, sizeof stamp, "records %zu\noptions %s\n", n, opts);
    stamp_file(stamp, sizeof stamp, catalog);
    stamp_file(stamp, sizeof stamp, SOUK_INDEX);
    stamp_file(stamp, sizeof stamp, SCHEMA);

    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the options names the entry */
    for (const char *p = opts; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    const char *cache = SOUK_KIT_CACHE_DIR;
    char entry[4096], lock[4096], stamp_path[4200];
    REQUIRE(mkdir(cache, 0755) == 0 || errno == EEXIST);
    snprintf(entry, sizeof entry, "%s/debian-%zu-%016llx", cache, n, (unsigned long long)h);
    snprintf(lock, sizeof lock, "%s/lock", cache);
    snprintf(stamp_path, sizeof stamp_path, "%s/kit-stamp", entry);

    int lfd = open(lock, O_RDWR | O_CREAT, 0644);
    REQUIRE(lfd >= 0);
    REQUIRE(flock(lfd, LOCK_EX) == 0);
    char have[16384];
    read_small(stamp_path, have, sizeof have);
    if (strcmp(have, stamp) != 0) {
        char cmd[8300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", entry);
        REQUIRE(system(cmd) == 0);
        build(catalog, entry, n, opts);
        FILE *f = fopen(stamp_path, "w");
        REQUIRE(f && fputs(stamp, f) >= 0 && fclose(f) == 0);
    }
    copy_index(entry, dir);
    flock(lfd, LOCK_UN);
    close(lfd);
    return 0;
}
