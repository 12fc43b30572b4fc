/* test_buf.c: the engine's capped byte buffer and array-growth helper (souk/buf.h): content and
 * the 0 byte after every kind of append, growth from empty, the cap reached exactly and passed
 * (SOUK_ETOOBIG, the content unchanged, never a part appended), printf output longer than its
 * stack buffer, size_t overflow of an element count, and an array grown element by element to
 * a cap. */
#include "check.h"
#include "souk/buf.h"
#include "souk/souk.h"

#include <stdint.h>

static void byte_buffer(void)
{
    souk_buf b = {0};
    CHECK(souk_buf_add(&b, "", 0) == SOUK_OK);
    REQUIRE(b.p != NULL);
    CHECK(b.len == 0 && b.p[0] == 0);
    CHECK(souk_buf_str(&b, "abc") == SOUK_OK);
    CHECK(souk_buf_printf(&b, "-%d-%s", 42, "x") == SOUK_OK);
    CHECK(b.len == 8 && strcmp(b.p, "abc-42-x") == 0);
    /* Longer than souk_buf_printf's 512-byte stack buffer: printed into the buffer itself. */
    char big[2000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(souk_buf_printf(&b, "<%s>", big) == SOUK_OK);
    CHECK(b.len == 8 + 2 + 1999 && b.p[b.len] == 0 && b.p[9] == 'y' && b.p[b.len - 1] == '>');
    CHECK(b.cap > b.len);
    souk_buf_reset(&b);
    CHECK(b.len == 0 && b.p[0] == 0 && b.cap > 0);
    souk_buf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);

    /* A cap of 10 bytes: exactly 10 fit, the 11th is refused and nothing of it is kept. */
    souk_buf c = {0};
    c.max = 10;
    CHECK(souk_buf_add(&c, "0123456", 7) == SOUK_OK);
    CHECK(souk_buf_add(&c, "7890", 4) == SOUK_ETOOBIG);
    CHECK(c.len == 7 && strcmp(c.p, "0123456") == 0);
    CHECK(souk_buf_add(&c, "789", 3) == SOUK_OK);
    CHECK(c.len == 10 && strcmp(c.p, "0123456789") == 0 && c.cap == 11);
    CHECK(souk_buf_add(&c, "x", 1) == SOUK_ETOOBIG);
    CHECK(souk_buf_printf(&c, "%d", 1) == SOUK_ETOOBIG);
    CHECK(souk_buf_reserve(&c, 0) == SOUK_OK);
    CHECK(souk_buf_reserve(&c, 1) == SOUK_ETOOBIG);
    CHECK(c.len == 10 && strcmp(c.p, "0123456789") == 0);
    /* A request whose size wraps around size_t is refused, not wrapped. */
    CHECK(souk_buf_reserve(&c, SIZE_MAX) == SOUK_ETOOBIG);
    souk_buf_free(&c);
    souk_buf u = {0};
    CHECK(souk_buf_reserve(&u, SIZE_MAX) == SOUK_ETOOBIG);
    CHECK(u.p == NULL && u.cap == 0);
}

static void array_growth(void)
{
    uint32_t *a = NULL;
    size_t cap = 0, n = 0, grows = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        size_t before = cap;
        REQUIRE(souk_grow((void **)&a, &cap, n + 1, sizeof *a, SIZE_MAX) == SOUK_OK);
        grows += cap != before;
        a[n++] = i * 7;
    }
    CHECK(cap >= n && cap < 2 * n + 16);
    CHECK(grows < 20); /* doubling, not one element at a time */
    int same = 1;
    for (uint32_t i = 0; i < n; i++)
        same &= a[i] == i * 7;
    CHECK(same);
    /* Room already there: no change. */
    uint32_t *was = a;
    CHECK(souk_grow((void **)&a, &cap, 5, sizeof *a, 1) == SOUK_OK && a == was);
    souk_free(a);

    /* A cap in elements: reached, never passed, and the array unchanged on refusal. */
    uint64_t *c = NULL;
    size_t ccap = 0;
    CHECK(souk_grow((void **)&c, &ccap, 20, sizeof *c, 40) == SOUK_OK && ccap >= 20);
    CHECK(souk_grow((void **)&c, &ccap, 39, sizeof *c, 40) == SOUK_OK && ccap == 40);
    uint64_t *kept = c;
    CHECK(souk_grow((void **)&c, &ccap, 41, sizeof *c, 40) == SOUK_ETOOBIG);
    CHECK(c == kept && ccap == 40);
    souk_free(c);

    /* An element count whose bytes do not fit in a size_t. */
    char *o = NULL;
    size_t ocap = 0;
    CHECK(souk_grow((void **)&o, &ocap, SIZE_MAX / 8 + 1, 8, SIZE_MAX) == SOUK_ETOOBIG);
    CHECK(o == NULL && ocap == 0);
}

int main(void)
{
    byte_buffer();
    array_growth();
    return check_done("test_buf");
}
