/* hashtab.c: growing and emptying the index table (core/hashtab.h). */
#include "core/hashtab.h"
#include "souk/souk.h"

#include <string.h>

int souk_itab_grow(souk_itab *t, size_t n, size_t min_cap, souk_itab_hash_fn hash, const void *ctx)
{
    if (n >= UINT32_MAX - 1 || n + 1 > SIZE_MAX / 4)
        return SOUK_ETOOBIG;
    if ((n + 1) * 2 <= t->cap)
        return SOUK_OK;
    size_t cap = t->cap ? t->cap * 2 : min_cap ? min_cap : 16;
    while (cap < (n + 1) * 2)
        cap *= 2;
    uint32_t *slot = souk_calloc(cap, sizeof *slot);
    if (!slot)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)hash(ctx, i) & (cap - 1);
        while (slot[s])
            s = (s + 1) & (cap - 1);
        slot[s] = (uint32_t)i + 1;
    }
    souk_free(t->slot);
    t->slot = slot;
    t->cap = cap;
    return SOUK_OK;
}

void souk_itab_clear(souk_itab *t)
{
    if (t->cap)
        memset(t->slot, 0, t->cap * sizeof *t->slot);
}

void souk_itab_free(souk_itab *t)
{
    souk_free(t->slot);
    t->slot = NULL;
    t->cap = 0;
}
