/* record.c: the ev row's encoding (events_int.h), retention's predicate, query normalization, and
 * the per-transaction counter deltas of pop, cooc and qstat. */
#include "events/events_int.h"
#include "core/qsort_inline.h"

#include <string.h>

int souk__ev_decode(const MDB_val *k, const MDB_val *v, souk__evrec *r)
{
    if (k->mv_size != 8 + SOUK_EID_LEN || v->mv_size < 6)
        return SOUK_ECORRUPT;
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    memset(r, 0, sizeof *r);
    r->ts = (int64_t)souk__rd_be64(k->mv_data);
    r->eid = (const uint8_t *)k->mv_data + 8;
    r->type = p[0];
    r->flags = p[1];
    r->nhits = -1;
    p += 2;
    if (r->type >= SOUK_EV_NTYPES)
        return SOUK_ECORRUPT;
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if ((size_t)(end - p) < (size_t)(n))                                                       \
            return SOUK_ECORRUPT;                                                                  \
    } while (0)
    if (r->flags & EVF_USER) {
        NEED(SOUK_PSEUDO_LEN);
        r->upseudo = p;
        p += SOUK_PSEUDO_LEN;
    }
    if (r->flags & EVF_SESSION) {
        NEED(SOUK_PSEUDO_LEN);
        r->spseudo = p;
        p += SOUK_PSEUDO_LEN;
    }
    if (r->flags & EVF_LOC) {
        NEED(3);
        memcpy(r->country, p, 2);
        r->region_len = p[2];
        p += 3;
        NEED(r->region_len);
        r->region = (const char *)p;
        p += r->region_len;
    }
    if (r->flags & EVF_NHITS) {
        NEED(4);
        r->nhits = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        p += 4;
    }
    NEED(2);
    r->item_len = (size_t)p[0] | (size_t)p[1] << 8;
    p += 2;
    NEED(r->item_len);
    r->item = (const char *)p;
    p += r->item_len;
    NEED(2);
    r->query_len = (size_t)p[0] | (size_t)p[1] << 8;
    p += 2;
    NEED(r->query_len);
    r->query = (const char *)p;
    p += r->query_len;
#undef NEED
    return p == end ? SOUK_OK : SOUK_ECORRUPT;
}

size_t souk__ev_encode(const souk__evrec *r, uint8_t *buf)
{
    uint8_t *p = buf;
    int flags = (r->upseudo ? EVF_USER : 0) | (r->spseudo ? EVF_SESSION : 0) |
                (r->country[0] ? EVF_LOC : 0) | (r->nhits >= 0 ? EVF_NHITS : 0);
    *p++ = (uint8_t)r->type;
    *p++ = (uint8_t)flags;
    if (r->upseudo) {
        memcpy(p, r->upseudo, SOUK_PSEUDO_LEN);
        p += SOUK_PSEUDO_LEN;
    }
    if (r->spseudo) {
        memcpy(p, r->spseudo, SOUK_PSEUDO_LEN);
        p += SOUK_PSEUDO_LEN;
    }
    if (r->country[0]) {
        memcpy(p, r->country, 2);
        p[2] = (uint8_t)r->region_len;
        memcpy(p + 3, r->region, r->region_len);
        p += 3 + r->region_len;
    }
    if (r->nhits >= 0) {
        uint32_t n = (uint32_t)r->nhits;
        for (int i = 0; i < 4; i++)
            *p++ = (uint8_t)(n >> (8 * i));
    }
    *p++ = (uint8_t)r->item_len;
    *p++ = (uint8_t)(r->item_len >> 8);
    memcpy(p, r->item, r->item_len);
    p += r->item_len;
    *p++ = (uint8_t)r->query_len;
    *p++ = (uint8_t)(r->query_len >> 8);
    memcpy(p, r->query, r->query_len);
    p += r->query_len;
    return (size_t)(p - buf);
}

int souk__ev_expired(const souk_events *s, int type, int64_t ts, int64_t now)
{
    int64_t r = type == SOUK_EV_IMPRESSION ? s->o.retention.impressions_s : s->o.retention.events_s;
    return r > 0 && ts <= now - r * 1000;
}

size_t souk__ev_query_norm(const char *q, size_t n, char *out)
{
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < n && o < SOUK_EVQUERY_MAX; i++) {
        unsigned char c = (unsigned char)q[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space && o + 1 < SOUK_EVQUERY_MAX)
            out[o++] = ' ';
        space = 0;
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[o] = 0;
    return o;
}

/* ------------------------------------------------------------------ deltas */

void souk__ev_delta_init(souk__ev_delta *d)
{
    hm_init(&d->pop, sizeof(int64_t) * SOUK_EV_NTYPES);
    hm_init(&d->qstat, sizeof(int64_t) * 2);
    hm_init(&d->items, sizeof(uint32_t));
    d->iname = NULL;
    d->ilen = NULL;
    d->nitems = d->icap = 0;
    d->pt = NULL;
    d->pn = d->pcap = 0;
    d->items_touched = 0;
}

static void pairs_clear(souk__ev_delta *d)
{
    hm_clear(&d->items);
    d->nitems = 0;
    if (d->pt)
        memset(d->pt, 0, d->pcap * sizeof *d->pt);
    d->pn = 0;
}

void souk__ev_delta_free(souk__ev_delta *d)
{
    hm_free(&d->pop);
    hm_free(&d->qstat);
    hm_free(&d->items);
    souk_free(d->iname);
    souk_free(d->ilen);
    souk_free(d->pt);
}

int souk__ev_delta_pop(souk__ev_delta *d, const char *item, size_t len, uint32_t day, int type,
                       int64_t by)
{
    uint8_t k[SOUK_ITEM_MAX + 5];
    memcpy(k, item, len);
    k[len] = 0;
    souk__be32(k + len + 1, day);
    int64_t *v = hm_put(&d->pop, k, len + 5, NULL);
    if (!v)
        return SOUK_ENOMEM;
    v[type] += by;
    return SOUK_OK;
}

int souk__ev_delta_item(souk__ev_delta *d, const char *item, size_t len)
{
    if (len > SOUK_COOC_ITEM_MAX)
        return SOUK__EV_NO_ITEM;
    int created;
    uint32_t *id = hm_put(&d->items, item, len, &created);
    if (!id)
        return SOUK_ENOMEM;
    if (created) {
        if (d->nitems == d->icap) {
            size_t cap = d->icap ? 2 * d->icap : 1024;
            const uint8_t **n = souk_realloc(d->iname, cap * sizeof *n);
            if (n)
                d->iname = n;
            uint32_t *l = n ? souk_realloc(d->ilen, cap * sizeof *l) : NULL;
            if (!l)
                return SOUK_ENOMEM; /* NEVER in practice; the entry stays, unnamed: */
            d->ilen = l;
            d->icap = cap;
        }
        *id = (uint32_t)d->nitems;
        /* The map's own copy of the key: valid until the map is cleared. */
        d->iname[d->nitems] = (const uint8_t *)id - ((len + 7) & ~(size_t)7);
        d->ilen[d->nitems++] = (uint32_t)len;
    }
    return (int)*id;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 33);
}

static int pairs_grow(souk__ev_delta *d)
{
    size_t cap = d->pcap ? 2 * d->pcap : 1 << 14;
    souk__ev_pair *t = souk_calloc(cap, sizeof *t);
    if (!t)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < d->pcap; i++) {
        if (!d->pt[i].k)
            continue;
        size_t j = mix64(d->pt[i].k) & (cap - 1);
        while (t[j].k)
            j = (j + 1) & (cap - 1);
        t[j] = d->pt[i];
    }
    souk_free(d->pt);
    d->pt = t;
    d->pcap = cap;
    return SOUK_OK;
}

/* Adds by to the pair (kind, a, b) of item ids; the stored key is the pair's + 1 (0: empty). */
static int pair_add(souk__ev_delta *d, int kind, uint32_t a, uint32_t b, int64_t by)
{
    if ((d->pn + 1) * 4 > d->pcap * 3 && pairs_grow(d) != SOUK_OK)
        return SOUK_ENOMEM;
    uint64_t key = ((uint64_t)kind << 62 | (uint64_t)a << 31 | b) + 1;
    size_t i = mix64(key) & (d->pcap - 1);
    while (d->pt[i].k && d->pt[i].k != key)
        i = (i + 1) & (d->pcap - 1);
    if (!d->pt[i].k) {
        d->pt[i].k = key;
        d->pt[i].v = 0;
        d->pn++;
    }
    d->pt[i].v += by;
    return SOUK_OK;
}

int souk__ev_delta_pair_ids(souk__ev_delta *d, int kind, int a, int b, int64_t by)
{
    if (a < 0 || b < 0)
        return a == SOUK_ENOMEM || b == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_OK;
    /* One entry per unordered pair; both orders are written (apply_pairs, cooc_each). */
    return a < b ? pair_add(d, kind, (uint32_t)a, (uint32_t)b, by)
                 : pair_add(d, kind, (uint32_t)b, (uint32_t)a, by);
}

int souk__ev_delta_pair(souk__ev_delta *d, int kind, const char *a, size_t alen, const char *b,
                        size_t blen, int64_t by)
{
    int ia = souk__ev_delta_item(d, a, alen);
    int ib = ia >= 0 ? souk__ev_delta_item(d, b, blen) : ia;
    return souk__ev_delta_pair_ids(d, kind, ia, ib, by);
}

/* The cooc key of the stored pair key k (+1 form) into out; returns its length. */
static size_t pair_key(const souk__ev_delta *d, uint64_t k, uint8_t *out)
{
    k--;
    uint32_t a = (uint32_t)(k >> 31 & 0x7fffffffu), b = (uint32_t)(k & 0x7fffffffu);
    out[0] = (uint8_t)(k >> 62);
    memcpy(out + 1, d->iname[a], d->ilen[a]);
    out[1 + d->ilen[a]] = 0;
    memcpy(out + 2 + d->ilen[a], d->iname[b], d->ilen[b]);
    return 2 + d->ilen[a] + d->ilen[b];
}

/* The stored pair key k (+1 form) with its items swapped. */
static uint64_t pair_swap(uint64_t k)
{
    k--;
    uint64_t a = k >> 31 & 0x7fffffffu, b = k & 0x7fffffffu;
    return ((k >> 62) << 62 | b << 31 | a) + 1;
}

int souk__ev_delta_cooc_each(const souk__ev_delta *d,
                             int (*fn)(void *, const uint8_t *, size_t, int64_t), void *arg)
{
    uint8_t key[2 + 2 * SOUK_COOC_ITEM_MAX];
    for (size_t i = 0; i < d->pcap; i++) {
        if (!d->pt[i].k || !d->pt[i].v)
            continue;
        int rc = fn(arg, key, pair_key(d, d->pt[i].k, key), d->pt[i].v);
        if (!rc && pair_swap(d->pt[i].k) != d->pt[i].k) /* (a, a): one row (recfeatures.c) */
            rc = fn(arg, key, pair_key(d, pair_swap(d->pt[i].k), key), d->pt[i].v);
        if (rc)
            return rc;
    }
    return SOUK_OK;
}

typedef struct name_ref {
    const uint8_t *p;
    uint32_t len, id;
} name_ref;
static inline int name_less(void *ctx, name_ref a, name_ref b)
{
    (void)ctx;
    uint32_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.p, b.p, n);
    return c ? c < 0 : a.len < b.len;
}
SOUK_QSORT_DEFINE(sort_names, name_ref, void *, name_less)

typedef struct pair_ref {
    uint64_t order; /* kind, rank of a, rank of b: the order of the cooc keys */
    uint64_t key;
    int64_t by;
} pair_ref;
#define PAIR_LESS(ctx, a, b) ((a).order < (b).order)
SOUK_QSORT_DEFINE(sort_pairs, pair_ref, void *, PAIR_LESS)

/* Writes the pair deltas into cooc in key order (items ranked by name, so an integer sort gives
 * LMDB's order: an item id holds no NUL). */
static int apply_pairs(souk_events *s, MDB_txn *txn, souk__ev_delta *d)
{
    if (!d->pn)
        return SOUK_OK;
    name_ref *names = souk_malloc(d->nitems * sizeof *names);
    uint32_t *rank = souk_malloc(d->nitems * sizeof *rank);
    pair_ref *pairs = souk_malloc(2 * d->pn * sizeof *pairs);
    int rc = SOUK_ENOMEM;
    MDB_cursor *c = NULL;
    if (!names || !rank || !pairs)
        goto out;
    for (size_t i = 0; i < d->nitems; i++)
        names[i] = (name_ref){d->iname[i], d->ilen[i], (uint32_t)i};
    sort_names(NULL, names, d->nitems);
    for (size_t i = 0; i < d->nitems; i++)
        rank[names[i].id] = (uint32_t)i;
    size_t np = 0;
    for (size_t i = 0; i < d->pcap; i++) {
        if (!d->pt[i].k || !d->pt[i].v)
            continue;
        uint64_t k = d->pt[i].k - 1;
        uint32_t a = (uint32_t)(k >> 31 & 0x7fffffffu), b = (uint32_t)(k & 0x7fffffffu);
        uint64_t kind = (k >> 62) << 62;
        pairs[np++] = (pair_ref){kind | (uint64_t)rank[a] << 31 | rank[b], d->pt[i].k, d->pt[i].v};
        if (a != b) /* (a, a): one row (recfeatures.c) */
            pairs[np++] = (pair_ref){kind | (uint64_t)rank[b] << 31 | rank[a],
                                     pair_swap(d->pt[i].k), d->pt[i].v};
    }
    sort_pairs(NULL, pairs, np);
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->cooc, &c))) != SOUK_OK) {
        c = NULL;
        goto out;
    }
    uint8_t key[2 + 2 * SOUK_COOC_ITEM_MAX];
    int mrc = 0;
    for (size_t i = 0; i < np && !mrc; i++) {
        MDB_val k = {pair_key(d, pairs[i].key, key), key}, v;
        int64_t cur = 0;
        int found = mdb_cursor_get(c, &k, &v, MDB_SET_KEY) == 0;
        if (found && v.mv_size == 4) {
            const uint8_t *p = v.mv_data;
            cur = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                            (uint32_t)p[3] << 24);
        }
        int64_t x = cur + pairs[i].by;
        if (x <= 0) { /* below zero: NEVER (the table was already off) */
            if (found)
                mrc = mdb_cursor_del(c, 0);
            continue;
        }
        uint8_t out[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
        MDB_val nv = {4, out};
        mrc = mdb_cursor_put(c, &k, &nv, found ? MDB_CURRENT : 0);
    }
    rc = souk_kv_err(mrc);
out:
    if (c)
        mdb_cursor_close(c);
    souk_free(names);
    souk_free(rank);
    souk_free(pairs);
    return rc;
}

int souk__ev_delta_qstat(souk__ev_delta *d, const souk__evrec *r, int64_t by)
{
    uint8_t k[4 + SOUK_EVQUERY_MAX + 1 + SOUK_PSEUDO_LEN];
    souk__be32(k, souk__ev_day(r->ts));
    size_t n = souk__ev_query_norm(r->query, r->query_len, (char *)k + 4);
    memcpy(k + 5 + n, r->upseudo, SOUK_PSEUDO_LEN);
    int64_t *v = hm_put(&d->qstat, k, 5 + n + SOUK_PSEUDO_LEN, NULL);
    if (!v)
        return SOUK_ENOMEM;
    v[0] += by;
    if (r->nhits == 0)
        v[1] += by;
    return SOUK_OK;
}

/* Adds the deltas of m (n int64 each) to the little-endian counters of dbi (width 8 or 4 bytes);
 * rows that reach all zeros are deleted. */
static int apply_map(MDB_txn *txn, MDB_dbi dbi, const hmap *m, int n, int width, uint64_t *touched)
{
    size_t cnt;
    hm_ent *a = hm_sorted(m, &cnt);
    if (!a)
        return m->n ? SOUK_ENOMEM : SOUK_OK;
    int rc = SOUK_OK;
    MDB_cursor *c = NULL;
    int mrc = mdb_cursor_open(txn, dbi, &c);
    for (size_t i = 0; i < cnt && !mrc; i++) {
        const int64_t *dv = hm_val(m, &a[i]);
        int zero = 1;
        for (int t = 0; t < n; t++)
            zero &= dv[t] == 0;
        if (zero)
            continue;
        MDB_val k = {a[i].klen, a[i].kv}, v;
        int64_t cur[SOUK_EV_NTYPES] = {0};
        int found = mdb_cursor_get(c, &k, &v, MDB_SET_KEY) == 0;
        if (found && v.mv_size == (size_t)(n * width)) {
            const uint8_t *p = v.mv_data;
            for (int t = 0; t < n; t++) {
                uint64_t x = 0;
                for (int b = 0; b < width; b++)
                    x |= (uint64_t)p[t * width + b] << (8 * b);
                cur[t] = (int64_t)x;
            }
        }
        uint8_t out[8 * SOUK_EV_NTYPES];
        int any = 0;
        for (int t = 0; t < n; t++) {
            int64_t x = cur[t] + dv[t];
            if (x < 0)
                x = 0; /* NEVER: a decrement below zero means the table was already off */
            any |= x != 0;
            for (int b = 0; b < width; b++)
                out[t * width + b] = (uint8_t)((uint64_t)x >> (8 * b));
        }
        if (touched)
            (*touched)++;
        if (!any) {
            if (found)
                mrc = mdb_cursor_del(c, 0);
            continue;
        }
        MDB_val nv = {(size_t)(n * width), out};
        mrc = found ? mdb_cursor_put(c, &k, &nv, MDB_CURRENT) : mdb_cursor_put(c, &k, &nv, 0);
    }
    if (mrc)
        rc = souk_kv_err(mrc);
    if (c)
        mdb_cursor_close(c);
    souk_free(a);
    return rc;
}

int souk__ev_delta_apply(souk_events *s, MDB_txn *txn, souk__ev_delta *d)
{
    int rc = apply_map(txn, s->pop, &d->pop, SOUK_EV_NTYPES, 8, &d->items_touched);
    if (!rc)
        rc = apply_pairs(s, txn, d);
    if (!rc)
        rc = apply_map(txn, s->qstat, &d->qstat, 2, 4, NULL);
    if (!rc) {
        hm_clear(&d->pop);
        pairs_clear(d);
        hm_clear(&d->qstat);
    }
    return rc;
}
