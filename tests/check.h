/* check.h: the always-on assertions of Souk's tests (they stay on in release builds) and the
 * helpers every test shares: where the shared data is, and skipping with a clear message. Every
 * test links the test kit (tests/kit/), which defines the failure count. */
#ifndef SOUK_TEST_CHECK_H
#define SOUK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The count of failed CHECKs of the running test (defined in tests/kit/check.c, so the kit's
 * helpers count into the same total as the test). */
extern int check_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                         \
    do {                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);             \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* ctest treats exit code 77 as "skipped" (SKIP_RETURN_CODE is set for every test). Where every
 * data set must be present (CI sets SOUK_NO_SKIP=1, `.ci/run`), a skip is a failure instead: a
 * whole test that would skip exits 1, and a part that would skip counts a failed check. */
static inline int test_skip_code(void)
{
    const char *e = getenv("SOUK_NO_SKIP");
    return e && e[0] && strcmp(e, "0") != 0 ? 1 : 77;
}
#define TEST_SKIP test_skip_code()

/* Skips a part of a test: prints "SKIP: <why>" on stderr, and under SOUK_NO_SKIP counts a
 * failure. */
static inline void skip_part(const char *why)
{
    fprintf(stderr, "SKIP: %s\n", why);
    if (test_skip_code() != 77) {
        fprintf(stderr, "  (SOUK_NO_SKIP is set: a skip is a failure)\n");
        check_failures++;
    }
}

/* Returns the path of a file under the shared data folder (../shared/data/ from the project
 * root, or $SOUK_SHARED_DATA), or NULL with a clear message when it is absent. The result is a
 * static buffer. */
static inline const char *shared_data(const char *rel)
{
    static char buf[4096];
    const char *base = getenv("SOUK_SHARED_DATA");
    if (!base)
        base = SOUK_SOURCE_DIR "/../shared/data";
    snprintf(buf, sizeof buf, "%s/%s", base, rel);
    if (access(buf, R_OK) != 0) {
        char why[512];
        snprintf(why, sizeof why, "shared data file '%s' is absent", rel);
        skip_part(why);
        return NULL;
    }
    return buf;
}

/* The start of the string value of top-level-looking key `key` in a catalog line (after its
 * opening quote), whatever spacing the writer used (`"id": "x"` or `"id":"x"`); NULL when absent.
 * For tests that edit record lines as text. */
static inline const char *json_string_value(const char *line, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(line, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"')
            continue;
        const char *q = p + 2 + kl;
        while (*q == ' ')
            q++;
        if (*q++ != ':')
            continue;
        while (*q == ' ')
            q++;
        if (*q == '"')
            return q + 1;
    }
    return NULL;
}

/* The Debian package catalog (NDJSON, xz): the shared data's, or where that is absent the one
 * `scripts/test-data.sh` made from this machine's apt lists with souk-apt-catalog
 * (data/test-data/debian-packages.jsonl.xz), so a fresh clone's tests run on real data. Returns
 * NULL with a SKIP message when neither exists. A static buffer. */
static inline const char *debian_catalog(void)
{
    static char buf[4096];
    const char *base = getenv("SOUK_SHARED_DATA");
    if (!base)
        base = SOUK_SOURCE_DIR "/../shared/data";
    snprintf(buf, sizeof buf, "%s/catalog/debian-packages.jsonl.xz", base);
    if (access(buf, R_OK) == 0)
        return buf;
    snprintf(buf, sizeof buf, "%s/data/test-data/debian-packages.jsonl.xz", SOUK_SOURCE_DIR);
    if (access(buf, R_OK) == 0) {
        fprintf(stderr, "note: shared data absent; the Debian catalog is the one made from this "
                        "machine's apt lists (data/test-data)\n");
        return buf;
    }
    skip_part("the Debian catalog is absent: neither ../shared/data/catalog/"
              "debian-packages.jsonl.xz nor data/test-data/debian-packages.jsonl.xz (made by "
              "scripts/test-data.sh from apt's lists)");
    return NULL;
}

/* Ends a test: prints the count and returns the exit code. */
static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
