/* hmap.c: the byte-string hash map of engine/events/ (hmap.h): open addressing, linear probing,
 * keys and values in a chunked arena. */
#include "events/hmap.h"
#include "core/qsort_inline.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>

struct hm_chunk {
    struct hm_chunk *next;
    size_t size;
    uint8_t data[];
};

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 31;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

void hm_init(hmap *m, size_t vsize)
{
    memset(m, 0, sizeof *m);
    m->vsize = (vsize + 7) & ~(size_t)7;
}

static void free_list(struct hm_chunk *c)
{
    for (struct hm_chunk *n; c; c = n) {
        n = c->next;
        souk_free(c);
    }
}

static void free_chunks(hmap *m)
{
    free_list(m->chunks);
    free_list(m->spare);
    m->chunks = m->spare = NULL;
    m->used = m->room = 0;
}

void hm_free(hmap *m)
{
    free_chunks(m);
    souk_free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

void hm_clear(hmap *m)
{
    /* The chunks in use join the spare ones. */
    while (m->chunks) {
        struct hm_chunk *c = m->chunks;
        m->chunks = c->next;
        c->next = m->spare;
        m->spare = c;
    }
    m->used = m->room = 0;
    if (m->e)
        memset(m->e, 0, m->cap * sizeof *m->e);
    m->n = 0;
}

static uint8_t *arena(hmap *m, size_t n)
{
    if (m->used + n > m->room) {
        size_t size = n > 65536 ? n : 65536;
        struct hm_chunk *c = NULL;
        if (m->spare && m->spare->size >= n) {
            c = m->spare;
            m->spare = c->next;
            size = c->size;
        } else if (!(c = souk_malloc(sizeof *c + size))) {
            return NULL;
        }
        c->next = m->chunks;
        c->size = size;
        m->chunks = c;
        m->used = 0;
        m->room = size;
    }
    uint8_t *p = m->chunks->data + m->used;
    m->used += n;
    return p;
}

void *hm_get(const hmap *m, const void *key, size_t klen)
{
    if (!m->n)
        return NULL;
    uint64_t h = hash_bytes(key, klen);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const hm_ent *e = &m->e[i];
        if (!e->kv)
            return NULL;
        if (e->hash == h && e->klen == klen && memcmp(e->kv, key, klen) == 0)
            return hm_val(m, e);
    }
}

static int resize(hmap *m, size_t cap)
{
    hm_ent *e = souk_calloc(cap, sizeof *e);
    if (!e)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].kv)
            continue;
        size_t j = m->e[i].hash & (cap - 1);
        while (e[j].kv)
            j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    souk_free(m->e);
    m->e = e;
    m->cap = cap;
    return 0;
}

static int grow(hmap *m)
{
    return resize(m, m->cap ? m->cap * 2 : 64);
}

int hm_reserve(hmap *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    while (n * 4 > cap * 3)
        cap *= 2;
    return cap == m->cap ? 0 : resize(m, cap);
}

void *hm_put(hmap *m, const void *key, size_t klen, int *created)
{
    if ((m->n + 1) * 4 > m->cap * 3 && grow(m) != 0)
        return NULL;
    uint64_t h = hash_bytes(key, klen);
    size_t i = h & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        hm_ent *e = &m->e[i];
        if (!e->kv)
            break;
        if (e->hash == h && e->klen == klen && memcmp(e->kv, key, klen) == 0) {
            if (created)
                *created = 0;
            return hm_val(m, e);
        }
    }
    size_t kl = (klen + 7) & ~(size_t)7;
    uint8_t *kv = arena(m, kl + m->vsize);
    if (!kv)
        return NULL;
    memcpy(kv, key, klen);
    memset(kv + kl, 0, m->vsize);
    m->e[i].hash = h;
    m->e[i].kv = kv;
    m->e[i].klen = (uint32_t)klen;
    m->n++;
    if (created)
        *created = 1;
    return kv + kl;
}

/* Sorting copies of the entries: their hash field holds the key's first 8 bytes, big-endian, so
 * most comparisons are one integer comparison. */
static inline int ent_less(void *ctx, hm_ent a, hm_ent b)
{
    (void)ctx;
    if (a.hash != b.hash)
        return a.hash < b.hash;
    size_t n = a.klen < b.klen ? a.klen : b.klen;
    int c = memcmp(a.kv, b.kv, n);
    return c ? c < 0 : a.klen < b.klen;
}
SOUK_QSORT_DEFINE(sort_ents, hm_ent, void *, ent_less)

hm_ent *hm_sorted(const hmap *m, size_t *n)
{
    *n = 0;
    if (!m->n)
        return NULL;
    hm_ent *a = souk_malloc(m->n * sizeof *a);
    if (!a)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].kv)
            continue;
        hm_ent e = m->e[i];
        uint64_t p = 0;
        for (size_t b = 0; b < 8; b++)
            p = p << 8 | (b < e.klen ? e.kv[b] : 0);
        e.hash = p;
        a[k++] = e;
    }
    sort_ents(NULL, a, k);
    *n = k;
    return a;
}

typedef struct near_ent {
    uint64_t a, b;
    size_t i; /* slot in the table */
} near_ent;
#define NEAR_LESS(ctx, x, y) ((x).a != (y).a ? (x).a < (y).a : (x).b < (y).b)
SOUK_QSORT_DEFINE(sort_near, near_ent, void *, NEAR_LESS)

static uint64_t be_word(const uint8_t *kv, size_t klen, size_t off)
{
    uint64_t p = 0;
    for (size_t b = off; b < off + 8; b++)
        p = p << 8 | (b < klen ? kv[b] : 0);
    return p;
}

hm_ent *hm_sorted_near(const hmap *m, size_t *n, size_t off)
{
    *n = 0;
    if (!m->n)
        return NULL;
    near_ent *t = souk_malloc(m->n * sizeof *t);
    hm_ent *a = t ? souk_malloc(m->n * sizeof *a) : NULL;
    if (!a) {
        souk_free(t);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const hm_ent *e = &m->e[i];
        if (e->kv)
            t[k++] = (near_ent){be_word(e->kv, e->klen, 0), be_word(e->kv, e->klen, off), i};
    }
    sort_near(NULL, t, k);
    for (size_t i = 0; i < k; i++)
        a[i] = m->e[t[i].i];
    souk_free(t);
    *n = k;
    return a;
}
