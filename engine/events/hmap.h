/* hmap.h: a byte-string hash map private to engine/events/: per-batch aggregation of counter
 * deltas (pop, cooc, qstat), the pseudonym cache, per-user state. Keys are copied into the map's
 * arena with a fixed-size value after each; a value is zeroed when its key is created. Not
 * thread-safe; each map belongs to one batch or one locked owner. */
#ifndef SOUK_EVENTS_HMAP_H
#define SOUK_EVENTS_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hm_ent {
    uint64_t hash;
    uint8_t *kv; /* key bytes, then (aligned to 8) the value; NULL: an empty slot */
    uint32_t klen;
} hm_ent;

typedef struct hmap {
    hm_ent *e;
    size_t cap, n, vsize;
    struct hm_chunk *chunks; /* arena */
    struct hm_chunk *spare;  /* the arena's chunks hm_clear kept, taken again as it fills */
    size_t used, room;
} hmap;

void hm_init(hmap *m, size_t vsize);
void hm_free(hmap *m);
/* Makes room for n entries without regrowing; -1 when out of memory (the map stays usable). */
int hm_reserve(hmap *m, size_t n);
/* Forgets every entry; keeps the memory of the table and of the arena (a map cleared and filled
 * again, as a writer's batch maps are, touches no fresh pages: on this machine the kernel's
 * zeroing of freshly faulted huge pages was about 30% of the ingest). */
void hm_clear(hmap *m);
/* The value of key, or NULL. */
void *hm_get(const hmap *m, const void *key, size_t klen);
/* The value of key, created (zeroed) when missing (*created = 1); NULL when out of memory. */
void *hm_put(hmap *m, const void *key, size_t klen, int *created);
static inline void *hm_val(const hmap *m, const hm_ent *e)
{
    (void)m;
    return e->kv + ((e->klen + 7) & ~(size_t)7);
}
/* The filled entries sorted by key as LMDB orders them (memcmp, then shorter first), in an
 * array allocated with souk_malloc (*n entries), or NULL when out of memory or empty. */
hm_ent *hm_sorted(const hmap *m, size_t *n);
/* The filled entries ordered by two 8-byte big-endian words of the key, its bytes [0, 8) and
 * [off, off + 8) (zeros past its end), ties in no particular order: LMDB's order where those
 * bytes decide it, and otherwise close to it. For writing rows through a cursor, which finds a
 * key next to the previous one without descending the tree: integer comparisons only, where
 * hm_sorted compares keys sharing their first 8 bytes (a user's rows) byte by byte. */
hm_ent *hm_sorted_near(const hmap *m, size_t *n, size_t off);

#endif
