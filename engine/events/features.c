/* features.c: what recommenders read from the store: decayed item popularity, the most popular
 * items, co-occurrence neighbours and a session's items.
 *
 * Popularity of an item at now = sum over its pop rows (one per day and type) of
 * weight(type) * count * 2^(-age / halflife_days), where age is in days from the middle of the
 * row's day (day * 86400 s + 43200 s) to now, and 0 for a day whose middle is after now. Weights:
 * impression 0, view 1, search 0, click 1, cart 3, purchase 5, favorite 2. Day buckets make the
 * value exact for a rebuild (the check compares the counts) at a cost of at most half a day of
 * age per event. */
#include "core/qsort_inline.h"
#include "souk/buf.h"
#include "events/events_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double weight[SOUK_EV_NTYPES] = {0, 1, 0, 1, 3, 5, 2};

/* The decayed score of one pop row (key's day, value's counts); *best gets the type that gave
 * the most. */
static double row_score(const souk_events *s, const MDB_val *k, const MDB_val *v, int64_t now,
                        int *best, double *bestw)
{
    if (v->mv_size != 8 * SOUK_EV_NTYPES || k->mv_size < 5)
        return 0;
    uint32_t day = souk__rd_be32((const uint8_t *)k->mv_data + k->mv_size - 4);
    double age = ((double)now - ((double)day * SOUK_DAY_MS + SOUK_DAY_MS / 2)) / SOUK_DAY_MS;
    if (age < 0)
        age = 0;
    double decay = exp2(-age / s->o.halflife_days), sum = 0;
    const uint8_t *p = v->mv_data;
    for (int t = 0; t < SOUK_EV_NTYPES; t++) {
        uint64_t c = 0;
        for (int b = 0; b < 8; b++)
            c |= (uint64_t)p[8 * t + b] << (8 * b);
        double w = weight[t] * (double)c * decay;
        sum += w;
        if (best && w > *bestw) {
            *bestw = w;
            *best = t;
        }
    }
    return sum;
}

double souk_popularity(souk_events *s, const char *item, int64_t now)
{
    size_t n = strlen(item);
    if (n == 0 || n > SOUK_ITEM_MAX)
        return 0;
    MDB_txn *txn;
    if (souk__ev_begin(s, MDB_RDONLY, &txn) != SOUK_OK)
        return 0;
    MDB_cursor *c;
    double sum = 0;
    if (mdb_cursor_open(txn, s->pop, &c) == 0) {
        MDB_val k = {n + 1, (void *)item}, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size == n + 5 && memcmp(k.mv_data, item, n + 1) == 0) {
            sum += row_score(s, &k, &v, now, NULL, NULL);
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    souk__ev_abort(s, txn);
    return sum;
}

typedef struct scored {
    double score;
    int type;
    int64_t last;
    char *item;
} scored;

static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->item, y->item);
}

/* Calls fn for the n items of the highest score: each item's type is the one that gave it the
 * most, its time the end of its latest day with events. */
int souk_popular_items(souk_events *s, int64_t now, uint32_t n, souk_item_fn fn, void *arg)
{
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    scored *a = NULL;
    size_t na = 0, cap = 0;
    MDB_cursor *c;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->pop, &c))) != SOUK_OK) {
        souk__ev_abort(s, txn);
        return rc;
    }
    MDB_val k, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    double bestw[SOUK_EV_NTYPES];
    while (mrc == 0 && !rc) {
        size_t il = k.mv_size - 5;
        if (!na || strlen(a[na - 1].item) != il || memcmp(a[na - 1].item, k.mv_data, il) != 0) {
            if ((rc = souk_grow_first((void **)&a, &cap, na + 1, sizeof *a, SIZE_MAX, 1024)) !=
                SOUK_OK)
                break;
            a[na].item = souk_strndup(k.mv_data, il);
            if (!a[na].item) {
                rc = SOUK_ENOMEM;
                break;
            }
            a[na].score = 0;
            a[na].type = SOUK_EV_VIEW;
            memset(bestw, 0, sizeof bestw);
            na++;
        }
        scored *e = &a[na - 1];
        int best = -1;
        double bw = 0;
        e->score += row_score(s, &k, &v, now, &best, &bw);
        if (best >= 0) {
            bestw[best] += bw;
            if (bestw[best] >= bestw[e->type])
                e->type = best;
        }
        e->last = ((int64_t)souk__rd_be32((const uint8_t *)k.mv_data + il + 1) + 1) * SOUK_DAY_MS;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    souk__ev_abort(s, txn);
    if (!rc) {
        qsort(a, na, sizeof *a, by_score);
        for (size_t i = 0; i < na && i < n; i++)
            if (fn(arg, (souk_ev_type)a[i].type, a[i].item, a[i].last))
                break;
    }
    for (size_t i = 0; i < na; i++)
        souk_free(a[i].item);
    souk_free(a);
    return rc;
}

/* A neighbour as counted: its users and its name in the counting map (not NUL-terminated). */
typedef struct counted {
    uint32_t users, len;
    const uint8_t *item;
} counted;
static inline int counted_less(void *ctx, counted x, counted y)
{
    (void)ctx;
    if (x.users != y.users)
        return x.users > y.users;
    size_t n = x.len < y.len ? x.len : y.len;
    int c = memcmp(x.item, y.item, n);
    return c ? c < 0 : x.len < y.len;
}
SOUK_QSORT_DEFINE(sort_counted, counted, void *, counted_less)

int souk_cooc(souk_events *s, souk_cooc_kind kind, const char *item, uint32_t max, souk_cooc_fn fn,
              void *arg)
{
    size_t n = strlen(item);
    if ((kind != SOUK_COOC_BOUGHT && kind != SOUK_COOC_VIEWED) || n == 0 || n > SOUK_COOC_ITEM_MAX)
        return n > SOUK_COOC_ITEM_MAX ? SOUK_OK : SOUK_EINVAL;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    uint8_t p[1 + SOUK_COOC_ITEM_MAX];
    p[0] = (uint8_t)kind;
    memcpy(p + 1, item, n);
    hmap counts; /* item -> u32 users */
    hm_init(&counts, sizeof(uint32_t));
    hm_reserve(&counts, 4096); /* a popular item's neighbours, without regrowing */
    MDB_cursor *iu = NULL, *us = NULL;
    int mrc = mdb_cursor_open(txn, s->iuser, &iu);
    if (!mrc)
        mrc = mdb_cursor_open(txn, s->uset, &us);
    MDB_val k = {n + 1, p}, v;
    if (!mrc)
        mrc = mdb_cursor_get(iu, &k, &v, MDB_SET_KEY);
    while (mrc == 0 && !rc) {
        if (v.mv_size == SOUK_PSEUDO_LEN) {
            uint8_t up[SOUK_PSEUDO_LEN + 1];
            memcpy(up, v.mv_data, SOUK_PSEUDO_LEN);
            up[SOUK_PSEUDO_LEN] = (uint8_t)kind;
            MDB_val uk = {sizeof up, up}, uv;
            int urc = mdb_cursor_get(us, &uk, &uv, MDB_SET_RANGE);
            while (urc == 0 && uk.mv_size > sizeof up && memcmp(uk.mv_data, up, sizeof up) == 0) {
                const char *b = (const char *)uk.mv_data + sizeof up;
                size_t bl = uk.mv_size - sizeof up;
                if (bl <= SOUK_COOC_ITEM_MAX && (bl != n || memcmp(b, item, n) != 0)) {
                    uint32_t *c = hm_put(&counts, b, bl, NULL);
                    if (!c) {
                        rc = SOUK_ENOMEM;
                        break;
                    }
                    (*c)++;
                }
                urc = mdb_cursor_get(us, &uk, &uv, MDB_NEXT);
            }
            if (!rc && urc && urc != MDB_NOTFOUND)
                rc = souk_kv_err(urc);
        }
        mrc = mdb_cursor_get(iu, &k, &v, MDB_NEXT_DUP);
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    if (iu)
        mdb_cursor_close(iu);
    if (us)
        mdb_cursor_close(us);
    souk__ev_abort(s, txn);
    /* The names stay in the map's arena until it is freed; each is copied out to be called. */
    counted *a = NULL;
    size_t na = 0;
    if (!rc && counts.n && !(a = souk_malloc(counts.n * sizeof *a)))
        rc = SOUK_ENOMEM;
    for (size_t i = 0; a && i < counts.cap; i++) {
        const hm_ent *e = &counts.e[i];
        if (e->kv)
            a[na++] = (counted){*(const uint32_t *)hm_val(&counts, e), e->klen, e->kv};
    }
    if (na) {
        sort_counted(NULL, a, na);
        char name[SOUK_COOC_ITEM_MAX + 1];
        for (size_t i = 0; i < na && (max == 0 || i < max); i++) {
            memcpy(name, a[i].item, a[i].len);
            name[a[i].len] = 0;
            if (fn(arg, name, a[i].users))
                break;
        }
    }
    souk_free(a);
    hm_free(&counts);
    return rc;
}

/* The session's latest max items (0: all), oldest first; search events (no item) are left out. */
int souk_session_items(souk_events *s, const char *session, size_t len, uint32_t max,
                       souk_item_fn fn, void *arg)
{
    uint8_t sp[SOUK_PSEUDO_LEN];
    if (len == 0 || len > SOUK_USER_MAX ||
        souk_pseudonym(s->o.keys, s->kid, SOUK_PSEUDO_SESSION, session, len, sp) != SOUK_OK)
        return SOUK_EINVAL;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->sess, &c))) != SOUK_OK) {
        souk__ev_abort(s, txn);
        return rc;
    }
    /* Count back max rows from the end of the session's range, then walk forward. */
    MDB_val k = {SOUK_PSEUDO_LEN, sp}, v;
    size_t total = 0;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && k.mv_size > SOUK_PSEUDO_LEN && memcmp(k.mv_data, sp, SOUK_PSEUDO_LEN) == 0) {
        if (v.mv_size > 1)
            total++;
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    size_t skip = max && total > max ? total - max : 0;
    k.mv_size = SOUK_PSEUDO_LEN;
    k.mv_data = sp;
    mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    char item[SOUK_ITEM_MAX + 1];
    while (mrc == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           memcmp(k.mv_data, sp, SOUK_PSEUDO_LEN) == 0) {
        if (v.mv_size > 1 && v.mv_size <= 1 + SOUK_ITEM_MAX) {
            if (skip) {
                skip--;
            } else {
                memcpy(item, (const uint8_t *)v.mv_data + 1, v.mv_size - 1);
                item[v.mv_size - 1] = 0;
                int64_t ts = (int64_t)souk__rd_be64((const uint8_t *)k.mv_data + SOUK_PSEUDO_LEN);
                if (fn(arg, (souk_ev_type)((const uint8_t *)v.mv_data)[0], item, ts))
                    break;
            }
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    souk__ev_abort(s, txn);
    return SOUK_OK;
}
