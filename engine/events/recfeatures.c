/* recfeatures.c: features for engine/recs/ that the other files do not give.
 *
 * Distinct users per item (the diagonal of co-occurrence), for recs/'s cosine and lift
 * normalizations: the number of the item's duplicates in iuser (the users whose uset of that
 * kind holds the item). iuser changes exactly where an item enters or leaves a uset (write.c,
 * user.c) and is rebuilt by souk_events_check like uset, so erasure, opt-out, item and tag
 * deletion and retention keep these counts equal to a rebuild. */
#include "events/events_int.h"
#include "souk/buf.h"

#include <math.h>
#include <string.h>

uint32_t souk_item_users(souk_events *s, souk_cooc_kind kind, const char *item)
{
    size_t n = strlen(item);
    if ((kind != SOUK_COOC_BOUGHT && kind != SOUK_COOC_VIEWED) || n == 0 || n > SOUK_COOC_ITEM_MAX)
        return 0;
    MDB_txn *txn;
    if (souk__ev_begin(s, MDB_RDONLY, &txn) != SOUK_OK)
        return 0;
    uint8_t k[1 + SOUK_COOC_ITEM_MAX];
    k[0] = (uint8_t)kind;
    memcpy(k + 1, item, n);
    MDB_val key = {n + 1, k}, v;
    MDB_cursor *c;
    size_t users = 0;
    if (mdb_cursor_open(txn, s->iuser, &c) == 0) {
        if (mdb_cursor_get(c, &key, &v, MDB_SET_KEY) == 0 && mdb_cursor_count(c, &users) != 0)
            users = 0;
        mdb_cursor_close(c);
    }
    souk__ev_abort(s, txn);
    return users > UINT32_MAX ? UINT32_MAX : (uint32_t)users;
}

int souk_item_users_each(souk_events *s, souk_cooc_kind kind, souk_cooc_fn fn, void *arg)
{
    if (kind != SOUK_COOC_BOUGHT && kind != SOUK_COOC_VIEWED)
        return SOUK_EINVAL;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->iuser, &c))) == SOUK_OK) {
        uint8_t p = (uint8_t)kind;
        MDB_val k = {1, &p}, v;
        int mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        char item[SOUK_COOC_ITEM_MAX + 1];
        while (mrc == 0 && k.mv_size >= 2 && k.mv_size <= 1 + SOUK_COOC_ITEM_MAX &&
               ((const uint8_t *)k.mv_data)[0] == p) {
            size_t il = k.mv_size - 1, users = 0;
            memcpy(item, (const char *)k.mv_data + 1, il);
            item[il] = 0;
            if ((mrc = mdb_cursor_count(c, &users)) != 0)
                break;
            if (fn(arg, item, users > UINT32_MAX ? UINT32_MAX : (uint32_t)users))
                break;
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
        }
        if (mrc && mrc != MDB_NOTFOUND)
            rc = souk_kv_err(mrc);
        mdb_cursor_close(c);
    }
    souk__ev_abort(s, txn);
    return rc;
}

/* ------------------------------------------------------------------ popularity of every item */

static const double pop_weight[SOUK_EV_NTYPES] = {0, 1, 0, 1, 3, 5, 2}; /* as features.c */

static double row_sum(const MDB_val *v)
{
    if (v->mv_size != 8 * SOUK_EV_NTYPES)
        return 0;
    const uint8_t *p = v->mv_data;
    double sum = 0;
    for (int t = 0; t < SOUK_EV_NTYPES; t++) {
        uint64_t c = 0;
        for (int b = 0; b < 8; b++)
            c |= (uint64_t)p[8 * t + b] << (8 * b);
        sum += pop_weight[t] * (double)c;
    }
    return sum;
}

int souk_popularity_each(souk_events *s, int64_t now, double trend_halflife_days, souk_pop_fn fn,
                         void *arg)
{
    (void)now; /* the sums are aged from the latest day: their order at any later now */
    if (!(trend_halflife_days > 0))
        return SOUK_EINVAL;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *c;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->pop, &c))) != SOUK_OK) {
        souk__ev_abort(s, txn);
        return rc;
    }
    /* The latest day with events: the trend's reference (its order does not depend on it). */
    uint32_t last = 0;
    MDB_val k, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        if (k.mv_size >= 5) {
            uint32_t day = souk__rd_be32((const uint8_t *)k.mv_data + k.mv_size - 4);
            if (day > last)
                last = day;
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    char item[SOUK_ITEM_MAX + 1];
    size_t il = 0;
    double pop = 0, trend = 0;
    int have = 0;
    mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0) {
        if (k.mv_size >= 6 && k.mv_size - 5 <= SOUK_ITEM_MAX) {
            size_t n = k.mv_size - 5;
            if (!have || n != il || memcmp(item, k.mv_data, n) != 0) {
                if (have && fn(arg, item, pop, trend))
                    break;
                memcpy(item, k.mv_data, n);
                item[n] = 0;
                il = n, have = 1, pop = 0, trend = 0;
            }
            uint32_t day = souk__rd_be32((const uint8_t *)k.mv_data + k.mv_size - 4);
            double sum = row_sum(&v);
            pop += sum * exp2(-(double)(last - day) / s->o.halflife_days);
            trend += sum * exp2(-(double)(last - day) / trend_halflife_days);
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (mrc == MDB_NOTFOUND && have)
        fn(arg, item, pop, trend);
    else if (mrc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    mdb_cursor_close(c);
    souk__ev_abort(s, txn);
    return rc;
}

/* ------------------------------------------------------------------ a user's personal history */

/* What the walk knows of one item: the time at or before which its events are withdrawn (its
 * idel time, or a deletion of one of its tags), and the event types already reported. */
typedef struct iseen {
    int64_t cutoff;
    uint32_t types;
} iseen;

/* Walks the user's events newest first (uev backwards) and reports each (type, item) once, at
 * its latest event that no deletion withdraws (P8: idel, and tagdel through the item's tags),
 * stopping before the (max + 1)th distinct item. */
int souk_user_history(souk_events *s, const char *user, size_t len, uint32_t max, souk_item_fn fn,
                      void *arg)
{
    if (!user || !len || len > SOUK_USER_MAX)
        return SOUK_EINVAL;
    uint8_t up[SOUK_PSEUDO_LEN];
    int rc = souk__ev_user(s, user, len, up);
    if (rc)
        return rc;
    MDB_txn *txn;
    if ((rc = souk__ev_begin(s, MDB_RDONLY, &txn)) != SOUK_OK)
        return rc;
    if (souk__ev_suppressed(s, txn, user, len)) {
        souk__ev_abort(s, txn);
        return SOUK_OK; /* being erased: nothing */
    }
    souk__ev_user_fix(s, up);
    int tagdel = s->o.item_tags && souk__ev_has_prefix(txn, s->tagdel, up, SOUK_PSEUDO_LEN);
    hmap seen;
    hm_init(&seen, sizeof(iseen));
    uint32_t distinct = 0;
    MDB_cursor *cur;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->uev, &cur))) != SOUK_OK)
        goto out;
    /* The last key of the user's range: the first key past it, then one back. */
    uint8_t next[SOUK_PSEUDO_LEN];
    memcpy(next, up, SOUK_PSEUDO_LEN);
    int i = SOUK_PSEUDO_LEN - 1;
    while (i >= 0 && ++next[i] == 0)
        i--;
    MDB_val k = {SOUK_PSEUDO_LEN, next}, v;
    int mrc =
        i < 0 ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (i >= 0)
        mrc = mrc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                       : mdb_cursor_get(cur, &k, &v, MDB_LAST);
    int stop = 0;
    while (mrc == 0 && !stop && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           !memcmp(k.mv_data, up, SOUK_PSEUDO_LEN)) {
        MDB_val ek = {8 + SOUK_EID_LEN, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN}, ev;
        int64_t ts = (int64_t)souk__rd_be64(ek.mv_data);
        souk__evrec r;
        if (mdb_get(txn, s->ev, &ek, &ev) == 0 && souk__ev_decode(&ek, &ev, &r) == SOUK_OK &&
            souk__ev_tagging(r.type) && r.item_len && r.item_len <= SOUK_ITEM_MAX) {
            int created;
            iseen *e = hm_get(&seen, r.item, r.item_len);
            if (!e) {
                if (max && distinct >= max)
                    break;
                if (!(e = hm_put(&seen, r.item, r.item_len, &created))) {
                    rc = SOUK_ENOMEM;
                    break;
                }
                e->cutoff = souk__ev_del_time(txn, s->idel, up, r.item, r.item_len);
                if (tagdel) {
                    char item[SOUK_ITEM_MAX + 1], tags[8][64];
                    memcpy(item, r.item, r.item_len);
                    item[r.item_len] = 0;
                    int nt = s->o.item_tags(s->o.item_tags_arg, item, tags, 8);
                    for (int t = 0; t < nt; t++) {
                        int64_t d = souk__ev_del_time(txn, s->tagdel, up, tags[t], strlen(tags[t]));
                        if (d > e->cutoff)
                            e->cutoff = d;
                    }
                }
                e->types = 0;
                distinct++;
            }
            if (ts > e->cutoff && !(e->types & (1u << r.type))) {
                e->types |= 1u << r.type;
                char item[SOUK_ITEM_MAX + 1];
                memcpy(item, r.item, r.item_len);
                item[r.item_len] = 0;
                if ((rc = fn(arg, (souk_ev_type)r.type, item, ts)) != 0)
                    stop = 1;
            }
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    mdb_cursor_close(cur);
out:
    hm_free(&seen);
    souk__ev_abort(s, txn);
    return rc;
}

/* ------------------------------------------------------------------ change stamp */

uint64_t souk_events_stamp(souk_events *s)
{
    MDB_txn *txn;
    if (souk__ev_begin(s, MDB_RDONLY, &txn) != SOUK_OK)
        return 0;
    uint64_t id = (uint64_t)mdb_txn_id(txn) ^ (s->gen << 48);
    souk__ev_abort(s, txn);
    return id;
}

/* ------------------------------------------------------------------ every user's sets */

static uint64_t cooc_stamp(const souk_events *s, MDB_txn *txn)
{
    MDB_val k = {7, "coocgen"}, v;
    uint64_t g = 0;
    if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size == 8)
        memcpy(&g, v.mv_data, 8);
    return g ^ (s->gen << 48);
}

uint64_t souk_cooc_stamp(souk_events *s)
{
    MDB_txn *txn;
    if (souk__ev_begin(s, MDB_RDONLY, &txn) != SOUK_OK)
        return 0;
    uint64_t g = cooc_stamp(s, txn);
    souk__ev_abort(s, txn);
    return g;
}

int souk_cooc_sets_each(souk_events *s, souk_cooc_set_fn fn, void *arg, uint64_t *stamp)
{
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    if (stamp)
        *stamp = cooc_stamp(s, txn);
    MDB_cursor *c;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->uset, &c))) != SOUK_OK) {
        souk__ev_abort(s, txn);
        return rc;
    }
    const char **items = NULL;
    size_t *lens = NULL, n = 0, cap = 0;
    uint8_t cur[SOUK_PSEUDO_LEN + 1]; /* the user and kind of the set being gathered */
    MDB_val k, v;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (;;) {
        const uint8_t *kp = mrc == 0 ? k.mv_data : NULL;
        int same = kp && k.mv_size > sizeof cur && n && memcmp(kp, cur, sizeof cur) == 0;
        if (n && !same) {
            if (cur[SOUK_PSEUDO_LEN] <= SOUK_COOC_VIEWED &&
                (rc = fn(arg, (souk_cooc_kind)cur[SOUK_PSEUDO_LEN], items, lens, n)) != 0)
                break;
            n = 0;
        }
        if (!kp)
            break;
        size_t il = k.mv_size - sizeof cur;
        if (k.mv_size > sizeof cur && il <= SOUK_COOC_ITEM_MAX) {
            if (n == cap) { /* two arrays of one capacity, each grown from it */
                size_t ci = cap, cl = cap;
                if ((rc = souk_grow_first((void **)&items, &ci, n + 1, sizeof *items, SIZE_MAX,
                                          512)) != SOUK_OK ||
                    (rc = souk_grow_first((void **)&lens, &cl, n + 1, sizeof *lens, SIZE_MAX,
                                          512)) != SOUK_OK)
                    break;
                cap = ci < cl ? ci : cl;
            }
            if (!n)
                memcpy(cur, kp, sizeof cur);
            items[n] = (const char *)kp + sizeof cur;
            lens[n++] = il;
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    mdb_cursor_close(c);
    souk__ev_abort(s, txn);
    souk_free(items);
    souk_free(lens);
    return rc;
}
