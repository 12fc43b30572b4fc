/* hashtab.h: the engine's one open-addressing hash table, an index table: power-of-two slots
 * holding an element's index + 1 (0: empty) into an array the caller owns, linear probing, a
 * load of at most one half. The table holds no keys: the caller hashes a key, walks the probe
 * sequence from souk_itab_first with souk_itab_next until an empty slot, comparing its own
 * element at each (so a lookup inlines the caller's equality and costs what a hand-written table
 * does), and puts a new element's index + 1 into the empty slot it stopped at. Growing, the one
 * part that used to be written out at every table, is souk_itab_reserve. Elements are not
 * removed one by one; souk_itab_clear empties the table. Used by the writer's id map and term
 * groups, the attribute columns' value dictionary and rank evaluation. */
#ifndef SOUK_CORE_HASHTAB_H
#define SOUK_CORE_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct souk_itab {
    uint32_t *slot; /* cap slots: 0, or an element's index + 1 */
    size_t cap;     /* 0, or a power of two */
} souk_itab;

/* The hash of element i, to place it again when the table grows. */
typedef uint64_t (*souk_itab_hash_fn)(const void *ctx, size_t i);

/* Makes room for element n (elements 0..n-1 are in the table; souk_itab_grow is the out-of-line
 * part): when n + 1 elements would fill it over half, a table of twice the slots (at least min_cap,
 * a power of two) replaces it, each element placed again at hash(ctx, i). SOUK_OK, SOUK_ETOOBIG
 * when n + 1 elements do not fit in 32-bit slots, or SOUK_ENOMEM (the table unchanged). */
int souk_itab_grow(souk_itab *t, size_t n, size_t min_cap, souk_itab_hash_fn hash, const void *ctx);
static inline int souk_itab_reserve(souk_itab *t, size_t n, size_t min_cap, souk_itab_hash_fn hash,
                                    const void *ctx)
{
    return (n + 1) * 2 <= t->cap ? 0 : souk_itab_grow(t, n, min_cap, hash, ctx);
}

/* The first slot of the probe sequence of hash h, and the one after slot s. The table must have
 * slots (souk_itab_reserve first). */
static inline size_t souk_itab_first(const souk_itab *t, uint64_t h)
{
    return (size_t)h & (t->cap - 1);
}
static inline size_t souk_itab_next(const souk_itab *t, size_t s)
{
    return (s + 1) & (t->cap - 1);
}

/* Empties the table, keeping its slots. */
void souk_itab_clear(souk_itab *t);

/* Frees the slots; the table is empty, with none. */
void souk_itab_free(souk_itab *t);

#endif
