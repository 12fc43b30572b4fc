/* check.h: the always-on assertions of Souk's tests (they stay on in release builds) and the
 * helpers every test shares: where the shared data is, and skipping with a clear message. */
#ifndef SOUK_TEST_CHECK_H
#define SOUK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures;

/* Xapian 1.4.22's own QueryParser leaks a little on some syntax errors ("a AND NEAR/2",
 * "AND a 钢 b": 96 bytes allocated inside parse_query are never freed). That is not Souk's leak
 * and Souk cannot free it, so sanitizer builds tell LeakSanitizer to ignore allocations made
 * inside Xapian's parser; every other leak is still reported. */
#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:Xapian::QueryParser::Internal::parse_query\n";
}
#endif

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

/* ctest treats exit code 77 as "skipped" (SKIP_RETURN_CODE is set for every test). */
#define TEST_SKIP 77

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
        fprintf(stderr, "SKIP: shared data file '%s' is absent\n", rel);
        return NULL;
    }
    return buf;
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
