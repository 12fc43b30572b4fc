/* check.c: souk_events_check: every derived table rebuilt in memory from the retained ev rows
 * (with idel, tagdel and opts.item_tags) and compared row by row with the stored one: pop, uev,
 * sess, usess, uset, iuser, tags, qstat. Counts compare exactly (no floating value is stored:
 * popularity is computed when read). */
#include "events/events_int.h"

#include <stdio.h>
#include <string.h>

#define VAL_MAX (2 + 12 + 96 + SOUK_ITEM_MAX) /* len(2) + the largest value compared */

typedef struct expect {
    const char *name;
    MDB_dbi dbi;
    hmap rows; /* key -> seen(1) + len(2) + value; a dup table (dup): key NUL value -> seen */
    int dup;
} expect;

static int want(expect *x, const void *k, size_t kl, const void *v, size_t vl)
{
    uint8_t *p = hm_put(&x->rows, k, kl, NULL);
    if (!p)
        return SOUK_ENOMEM;
    p[1] = (uint8_t)vl;
    p[2] = (uint8_t)(vl >> 8);
    memcpy(p + 3, v, vl);
    return SOUK_OK;
}

/* Adds by to the little-endian counter i (width bytes, n of them) of the expected row k. */
static int want_add(expect *x, const void *k, size_t kl, int n, int width, int i, uint64_t by)
{
    int created;
    uint8_t *p = hm_put(&x->rows, k, kl, &created);
    if (!p)
        return SOUK_ENOMEM;
    if (created) {
        p[1] = (uint8_t)(n * width);
        p[2] = 0;
    }
    uint8_t *c = p + 3 + i * width;
    uint64_t v = 0;
    for (int b = 0; b < width; b++)
        v |= (uint64_t)c[b] << (8 * b);
    v += by;
    for (int b = 0; b < width; b++)
        c[b] = (uint8_t)(v >> (8 * b));
    return SOUK_OK;
}

static void hexkey(const uint8_t *k, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    size_t m = n < 24 ? n : 24;
    for (size_t i = 0; i < m; i++) {
        out[2 * i] = hx[k[i] >> 4];
        out[2 * i + 1] = hx[k[i] & 15];
    }
    out[2 * m] = 0;
}

static int compare(MDB_txn *txn, expect *x, char *err, size_t errlen)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, x->dbi, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, v;
    size_t seen = 0;
    char hk[64];
    uint8_t dk[512 + SOUK_PSEUDO_LEN];
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    int out = SOUK_OK;
    while (rc == 0) {
        uint8_t *p = NULL;
        if (!x->dup) {
            p = hm_get(&x->rows, k.mv_data, k.mv_size);
        } else if (k.mv_size + 1 + v.mv_size <= sizeof dk) {
            /* (key, value) as one row, and an empty value */
            memcpy(dk, k.mv_data, k.mv_size);
            dk[k.mv_size] = 0;
            memcpy(dk + k.mv_size + 1, v.mv_data, v.mv_size);
            p = hm_get(&x->rows, dk, k.mv_size + 1 + v.mv_size);
            k.mv_data = dk;
            k.mv_size += 1 + v.mv_size;
            v.mv_size = 0;
        }
        if (!p) {
            hexkey(k.mv_data, k.mv_size, hk);
            snprintf(err, errlen, "%s: a row (key %s...) that a rebuild does not have", x->name,
                     hk);
            out = SOUK_ECORRUPT;
            break;
        }
        size_t vl = (size_t)p[1] | (size_t)p[2] << 8;
        if (vl != v.mv_size || memcmp(p + 3, v.mv_data, vl) != 0) {
            hexkey(k.mv_data, k.mv_size, hk);
            snprintf(err, errlen, "%s: the row (key %s...) differs from a rebuild", x->name, hk);
            out = SOUK_ECORRUPT;
            break;
        }
        p[0] = 1;
        seen++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (out)
        return out;
    if (rc != MDB_NOTFOUND)
        return souk_kv_err(rc);
    if (seen != x->rows.n) {
        for (size_t i = 0; i < x->rows.cap; i++) {
            const hm_ent *e = &x->rows.e[i];
            if (e->kv && !((uint8_t *)hm_val(&x->rows, e))[0]) {
                hexkey(e->kv, e->klen, hk);
                snprintf(err, errlen, "%s: a row (key %s...) of the rebuild is missing", x->name,
                         hk);
                break;
            }
        }
        return SOUK_ECORRUPT;
    }
    return SOUK_OK;
}

enum { X_POP, X_UEV, X_SESS, X_USESS, X_USET, X_IUSER, X_TAGS, X_QSTAT, X_N };

int souk_events_check(souk_events *s, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(err, errlen, "%s: %s", s->dir, souk_strerror(rc));
        return rc;
    }
    expect x[X_N] = {{"pop", s->pop, {0}, 0},   {"uev", s->uev, {0}, 0},
                     {"sess", s->sess, {0}, 0}, {"usess", s->usess, {0}, 0},
                     {"uset", s->uset, {0}, 0}, {"iuser", s->iuser, {0}, 1},
                     {"tags", s->tags, {0}, 0}, {"qstat", s->qstat, {0}, 0}};
    for (int i = 0; i < X_N; i++)
        hm_init(&x[i].rows, 3 + (i == X_SESS   ? 1 + SOUK_ITEM_MAX
                                 : i == X_TAGS ? 12 + 96
                                 : i == X_POP  ? 8 * SOUK_EV_NTYPES
                                               : 24));
    hmap users; /* upseudo -> souk__ev_model * */
    hm_init(&users, sizeof(souk__ev_model *));
    MDB_cursor *c;
    MDB_val k, v;
    uint8_t key[2 * SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN + SOUK_ITEM_MAX + SOUK_EVQUERY_MAX + 8];
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->ev, &c))) != SOUK_OK)
        goto out;
    int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (mrc == 0 && !rc) {
        souk__evrec e;
        if ((rc = souk__ev_decode(&k, &v, &e)) != SOUK_OK) {
            snprintf(err, errlen, "ev: a malformed row");
            break;
        }
        if (e.item_len) {
            memcpy(key, e.item, e.item_len);
            key[e.item_len] = 0;
            souk__be32(key + e.item_len + 1, souk__ev_day(e.ts));
            rc = want_add(&x[X_POP], key, e.item_len + 5, SOUK_EV_NTYPES, 8, e.type, 1);
        }
        if (!rc && e.spseudo) {
            uint8_t val[1 + SOUK_ITEM_MAX];
            memcpy(key, e.spseudo, SOUK_PSEUDO_LEN);
            memcpy(key + SOUK_PSEUDO_LEN, k.mv_data, 8 + SOUK_EID_LEN);
            val[0] = (uint8_t)e.type;
            memcpy(val + 1, e.item, e.item_len);
            rc = want(&x[X_SESS], key, SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN, val, 1 + e.item_len);
        }
        if (!rc && e.upseudo) {
            memcpy(key, e.upseudo, SOUK_PSEUDO_LEN);
            memcpy(key + SOUK_PSEUDO_LEN, k.mv_data, 8 + SOUK_EID_LEN);
            rc = want(&x[X_UEV], key, SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN, "", 0);
            if (!rc && e.type == SOUK_EV_SEARCH) {
                souk__be32(key, souk__ev_day(e.ts));
                size_t n = souk__ev_query_norm(e.query, e.query_len, (char *)key + 4);
                memcpy(key + 5 + n, e.upseudo, SOUK_PSEUDO_LEN);
                rc = want_add(&x[X_QSTAT], key, 5 + n + SOUK_PSEUDO_LEN, 2, 4, 0, 1);
                if (!rc && e.nhits == 0)
                    rc = want_add(&x[X_QSTAT], key, 5 + n + SOUK_PSEUDO_LEN, 2, 4, 1, 1);
            }
            int created;
            souk__ev_model **m = rc ? NULL : hm_put(&users, e.upseudo, SOUK_PSEUDO_LEN, &created);
            if (!rc && m && created && (*m = souk_malloc(sizeof **m)) != NULL) {
                souk__ev_model_init(*m);
                (*m)->has_idel = (*m)->has_tagdel = -1;
            }
            if (!rc && (!m || !*m))
                rc = SOUK_ENOMEM;
            if (!rc)
                rc = souk__ev_model_add(s, txn, e.upseudo, *m, &e);
        }
        mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!rc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    /* The users' models: uset and iuser, tags, usess. */
    for (size_t i = 0; i < users.cap && !rc; i++) {
        const hm_ent *ue = &users.e[i];
        if (!ue->kv)
            continue;
        souk__ev_model *m = *(souk__ev_model **)hm_val(&users, ue);
        memcpy(key, ue->kv, SOUK_PSEUDO_LEN);
        for (int kind = 0; kind < 2 && !rc; kind++) {
            const hmap *set = &m->uset[kind];
            key[SOUK_PSEUDO_LEN] = (uint8_t)kind;
            for (size_t a = 0; a < set->cap && !rc; a++) {
                const hm_ent *ea = &set->e[a];
                if (!ea->kv)
                    continue;
                memcpy(key + SOUK_PSEUDO_LEN + 1, ea->kv, ea->klen);
                rc = want(&x[X_USET], key, SOUK_PSEUDO_LEN + 1 + ea->klen, hm_val(set, ea), 24);
                if (!rc && ea->klen <= SOUK_COOC_ITEM_MAX) {
                    uint8_t ik[2 + SOUK_COOC_ITEM_MAX + SOUK_PSEUDO_LEN];
                    ik[0] = (uint8_t)kind;
                    memcpy(ik + 1, ea->kv, ea->klen);
                    ik[1 + ea->klen] = 0;
                    memcpy(ik + 2 + ea->klen, ue->kv, SOUK_PSEUDO_LEN);
                    rc = want(&x[X_IUSER], ik, 2 + ea->klen + SOUK_PSEUDO_LEN, "", 0);
                }
            }
        }
        for (size_t a = 0; a < m->tags.cap && !rc; a++) {
            const hm_ent *et = &m->tags.e[a];
            if (!et->kv)
                continue;
            uint8_t val[12 + 96];
            memcpy(key + SOUK_PSEUDO_LEN, et->kv, et->klen);
            key[SOUK_PSEUDO_LEN + et->klen] = 0;
            rc = want(&x[X_TAGS], key, SOUK_PSEUDO_LEN + et->klen + 1, val,
                      souk__ev_tag_encode(hm_val(&m->tags, et), val));
        }
        for (size_t a = 0; a < m->sessions.cap && !rc; a++) {
            if (!m->sessions.e[a].kv)
                continue;
            memcpy(key + SOUK_PSEUDO_LEN, m->sessions.e[a].kv, SOUK_PSEUDO_LEN);
            rc = want(&x[X_USESS], key, 2 * SOUK_PSEUDO_LEN, "", 0);
        }
    }
    if (rc && !err[0])
        snprintf(err, errlen, "%s: %s", s->dir, souk_strerror(rc));
    for (int i = 0; i < X_N && !rc; i++)
        rc = compare(txn, &x[i], err, errlen);
out:
    souk__ev_abort(s, txn);
    for (size_t i = 0; i < users.cap; i++)
        if (users.e[i].kv) {
            souk__ev_model *m = *(souk__ev_model **)hm_val(&users, &users.e[i]);
            if (m) {
                souk__ev_model_free(m);
                souk_free(m);
            }
        }
    hm_free(&users);
    for (int i = 0; i < X_N; i++)
        hm_free(&x[i].rows);
    return rc;
}
