/* record.c: the ev row's encoding (events_int.h), retention's predicate, query normalization, and
 * the per-transaction counter deltas of pop, cooc and qstat. */
#include "events/events_int.h"

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
    hm_init(&d->memb, sizeof(int64_t));
    d->items_touched = 0;
}

void souk__ev_delta_free(souk__ev_delta *d)
{
    hm_free(&d->pop);
    hm_free(&d->qstat);
    hm_free(&d->memb);
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

int souk__ev_delta_member(souk__ev_delta *d, int kind, const uint8_t *upseudo, const char *item,
                          size_t len, int64_t by)
{
    if (len == 0 || len > SOUK_COOC_ITEM_MAX)
        return SOUK_OK; /* takes no part in co-occurrence */
    /* kind, item, NUL, user: sorted as bytes, the entries come in iuser's (key, value) order,
     * since an item id holds no NUL and LMDB puts a shorter key first. */
    uint8_t k[2 + SOUK_COOC_ITEM_MAX + SOUK_PSEUDO_LEN];
    k[0] = (uint8_t)kind;
    memcpy(k + 1, item, len);
    k[1 + len] = 0;
    memcpy(k + 2 + len, upseudo, SOUK_PSEUDO_LEN);
    int64_t *v = hm_put(&d->memb, k, 2 + len + SOUK_PSEUDO_LEN, NULL);
    if (!v)
        return SOUK_ENOMEM;
    *v += by;
    return SOUK_OK;
}

/* Writes the membership deltas into iuser through one cursor (hm_sorted_near order): a net
 * entry adds the (kind item, user) row, a net exit deletes it. */
static int apply_members(souk_events *s, MDB_txn *txn, souk__ev_delta *d)
{
    size_t n;
    hm_ent *a = hm_sorted_near(&d->memb, &n, 8);
    if (!a)
        return d->memb.n ? SOUK_ENOMEM : SOUK_OK;
    MDB_cursor *c = NULL;
    int mrc = mdb_cursor_open(txn, s->iuser, &c);
    size_t changed = 0;
    for (size_t i = 0; i < n && !mrc; i++) {
        int64_t by = *(const int64_t *)hm_val(&d->memb, &a[i]);
        if (!by)
            continue;
        changed++;
        MDB_val k = {a[i].klen - 1 - SOUK_PSEUDO_LEN, a[i].kv},
                v = {SOUK_PSEUDO_LEN, a[i].kv + a[i].klen - SOUK_PSEUDO_LEN};
        if (by > 0) {
            mrc = mdb_cursor_put(c, &k, &v, MDB_NODUPDATA);
            if (mrc == MDB_KEYEXIST) /* NEVER: the table was already off */
                mrc = 0;
        } else {
            mrc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
            mrc = mrc == 0 ? mdb_cursor_del(c, 0) : mrc == MDB_NOTFOUND ? 0 : mrc;
        }
    }
    if (c)
        mdb_cursor_close(c);
    souk_free(a);
    if (!mrc && changed)
        return souk__ev_cooc_bump(s, txn);
    return souk_kv_err(mrc);
}

int souk__ev_cooc_bump(souk_events *s, MDB_txn *txn)
{
    MDB_val k = {7, "coocgen"}, v;
    uint64_t g = 0;
    if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size == 8)
        memcpy(&g, v.mv_data, 8);
    g++;
    v.mv_size = 8;
    v.mv_data = &g;
    return souk_kv_err(mdb_put(txn, s->meta, &k, &v, 0));
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
    hm_ent *a = hm_sorted_near(m, &cnt, 8);
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
        rc = apply_members(s, txn, d);
    if (!rc)
        rc = apply_map(txn, s->qstat, &d->qstat, 2, 4, NULL);
    if (!rc) {
        hm_clear(&d->pop);
        hm_clear(&d->memb);
        hm_clear(&d->qstat);
    }
    return rc;
}
