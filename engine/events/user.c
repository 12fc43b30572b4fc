/* user.c: a user's derived personal rows as a function of the user's retained events (uset and
 * its iuser rows, tags, usess), recomputed for one user (souk__ev_user_refresh), computed
 * for every user by the check (souk__ev_user_model), and withdrawn (souk__ev_forget_user). */
#include "events/events_int.h"

#include <string.h>

int64_t souk__ev_del_time(MDB_txn *txn, MDB_dbi dbi, const uint8_t *upseudo, const char *name,
                          size_t len)
{
    uint8_t k[SOUK_PSEUDO_LEN + SOUK_ITEM_MAX + 1];
    if (len > SOUK_ITEM_MAX)
        return INT64_MIN;
    memcpy(k, upseudo, SOUK_PSEUDO_LEN);
    memcpy(k + SOUK_PSEUDO_LEN, name, len);
    k[SOUK_PSEUDO_LEN + len] = 0;
    MDB_val key = {SOUK_PSEUDO_LEN + len + 1, k}, v;
    if (mdb_get(txn, dbi, &key, &v) != 0 || v.mv_size < 8)
        return INT64_MIN;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)((const uint8_t *)v.mv_data)[i] << (8 * i);
    return (int64_t)x;
}

int souk__ev_has_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t n)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, dbi, &c) != 0)
        return 0;
    MDB_val k = {n, (void *)prefix}, v;
    int has = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size >= n &&
              memcmp(k.mv_data, prefix, n) == 0;
    mdb_cursor_close(c);
    return has;
}

int souk__ev_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t n)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {n, (void *)prefix}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= n && memcmp(k.mv_data, prefix, n) == 0) {
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next row */
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

/* ------------------------------------------------------------------ the model */

void souk__ev_model_init(souk__ev_model *m)
{
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 2; k++)
        hm_init(&m->uset[k], 24);
    hm_init(&m->tags, sizeof(souk__ev_tagval));
    hm_init(&m->sessions, 1);
}

void souk__ev_model_free(souk__ev_model *m)
{
    for (int k = 0; k < 2; k++)
        hm_free(&m->uset[k]);
    hm_free(&m->tags);
    hm_free(&m->sessions);
}

void souk__ev_model_clear(souk__ev_model *m)
{
    for (int k = 0; k < 2; k++)
        hm_clear(&m->uset[k]);
    hm_clear(&m->tags);
    hm_clear(&m->sessions);
    m->has_idel = m->has_tagdel = -1;
}

int souk__ev_model_add(souk_events *s, MDB_txn *txn, const uint8_t *upseudo, souk__ev_model *m,
                       const souk__evrec *r)
{
    if (r->spseudo && !hm_put(&m->sessions, r->spseudo, SOUK_PSEUDO_LEN, NULL))
        return SOUK_ENOMEM;
    int kind = souk__ev_kind(r->type);
    if (kind == KIND_NONE || !r->item_len)
        return SOUK_OK;
    if (m->has_idel < 0)
        m->has_idel = souk__ev_has_prefix(txn, s->idel, upseudo, SOUK_PSEUDO_LEN);
    if (m->has_idel && r->ts < souk__ev_del_time(txn, s->idel, upseudo, r->item, r->item_len))
        return SOUK_OK;
    /* uset: the first cooc_items_max distinct items, in (ts, eid) order (events come in it). */
    if (m->uset[kind].n < s->o.cooc_items_max) {
        int created;
        uint8_t *v = hm_put(&m->uset[kind], r->item, r->item_len, &created);
        if (!v)
            return SOUK_ENOMEM;
        if (created) {
            souk__be64(v, (uint64_t)r->ts);
            memcpy(v + 8, r->eid, SOUK_EID_LEN);
        }
    }
    if (!s->o.item_tags)
        return SOUK_OK;
    char tags[SOUK_EV_TAGS_MAX][64];
    char item[SOUK_ITEM_MAX + 1];
    memcpy(item, r->item, r->item_len);
    item[r->item_len] = 0;
    int nt = s->o.item_tags(s->o.item_tags_arg, item, tags, SOUK_EV_TAGS_MAX);
    if (nt > SOUK_EV_TAGS_MAX)
        nt = SOUK_EV_TAGS_MAX;
    if (nt > 0 && m->has_tagdel < 0)
        m->has_tagdel = souk__ev_has_prefix(txn, s->tagdel, upseudo, SOUK_PSEUDO_LEN);
    for (int t = 0; t < nt; t++) {
        tags[t][63] = 0;
        size_t tl = strlen(tags[t]);
        if (!tl)
            continue;
        if (m->has_tagdel && r->ts < souk__ev_del_time(txn, s->tagdel, upseudo, tags[t], tl))
            continue;
        souk__ev_tagval *tv = hm_put(&m->tags, tags[t], tl, NULL);
        if (!tv)
            return SOUK_ENOMEM;
        souk__ev_tag_note(tv, 1, r);
    }
    return SOUK_OK;
}

void souk__ev_tag_note(souk__ev_tagval *tv, uint32_t count, const souk__evrec *r)
{
    char why[sizeof tv->why];
    const char *tn = souk_ev_type_name((souk_ev_type)r->type);
    size_t n = strlen(tn), il = r->item_len;
    memcpy(why, tn, n);
    why[n++] = ':';
    if (il > sizeof why - 1 - n)
        il = sizeof why - 1 - n;
    memcpy(why + n, r->item, il);
    why[n + il] = 0;
    if (tv->count == 0 || r->ts > tv->last_ms ||
        (r->ts == tv->last_ms && strcmp(why, tv->why) > 0)) {
        tv->last_ms = r->ts;
        memcpy(tv->why, why, n + il + 1);
    }
    tv->count += count;
}

size_t souk__ev_tag_encode(const souk__ev_tagval *tv, uint8_t *out)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(tv->count >> (8 * i));
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)((uint64_t)tv->last_ms >> (8 * i));
    size_t n = strlen(tv->why);
    memcpy(out + 12, tv->why, n);
    return 12 + n;
}

/* Calls fn for each of the user's retained events, in (ts, eid) order. */
static int user_events(souk_events *s, MDB_txn *txn, const uint8_t *upseudo,
                       int (*fn)(void *, MDB_val *, MDB_val *, const souk__evrec *), void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->uev, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)upseudo}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int src = SOUK_OK;
    while (rc == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           memcmp(k.mv_data, upseudo, SOUK_PSEUDO_LEN) == 0) {
        MDB_val ek = {8 + SOUK_EID_LEN, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN}, ev;
        souk__evrec r;
        if (mdb_get(txn, s->ev, &ek, &ev) != 0 || souk__ev_decode(&ek, &ev, &r) != 0) {
            src = SOUK_ECORRUPT;
            break;
        }
        if ((src = fn(arg, &ek, &ev, &r)) != SOUK_OK)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (src)
        return src;
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

typedef struct model_ctx {
    souk_events *s;
    MDB_txn *txn;
    const uint8_t *upseudo;
    souk__ev_model *m;
} model_ctx;

static int model_one(void *arg, MDB_val *k, MDB_val *v, const souk__evrec *r)
{
    (void)k, (void)v;
    model_ctx *x = arg;
    return souk__ev_model_add(x->s, x->txn, x->upseudo, x->m, r);
}

/* Notes every item of the set (items of a uset of kind) as entering (by 1) or leaving (-1)
 * the user's uset: their iuser rows, through d. */
static int set_members(const hmap *set, int kind, const uint8_t *upseudo, souk__ev_delta *d,
                       int64_t by)
{
    for (size_t i = 0; i < set->cap; i++) {
        const hm_ent *a = &set->e[i];
        if (!a->kv)
            continue;
        int rc = souk__ev_delta_member(d, kind, upseudo, (const char *)a->kv, a->klen, by);
        if (rc)
            return rc;
    }
    return SOUK_OK;
}

/* Loads the stored uset rows of (upseudo, kind) into set. */
static int load_uset(souk_events *s, MDB_txn *txn, const uint8_t *upseudo, int kind, hmap *set)
{
    uint8_t p[SOUK_PSEUDO_LEN + 1];
    memcpy(p, upseudo, SOUK_PSEUDO_LEN);
    p[SOUK_PSEUDO_LEN] = (uint8_t)kind;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->uset, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {sizeof p, p}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= sizeof p && memcmp(k.mv_data, p, sizeof p) == 0) {
        uint8_t *val = hm_put(set, (uint8_t *)k.mv_data + sizeof p, k.mv_size - sizeof p, NULL);
        if (!val) {
            mdb_cursor_close(c);
            return SOUK_ENOMEM;
        }
        memcpy(val, v.mv_data, v.mv_size < 24 ? v.mv_size : 24);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

int souk__ev_user_refresh(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                          souk__ev_delta *d)
{
    souk__ev_model want;
    souk__ev_model_init(&want);
    want.has_idel = want.has_tagdel = -1;
    model_ctx x = {s, txn, upseudo, &want};
    int rc = user_events(s, txn, upseudo, model_one, &x);
    uint8_t key[SOUK_PSEUDO_LEN + 1 + SOUK_ITEM_MAX + 1];
    memcpy(key, upseudo, SOUK_PSEUDO_LEN);
    for (int kind = 0; kind < 2 && !rc; kind++) {
        hmap old;
        hm_init(&old, 24);
        if (!(rc = load_uset(s, txn, upseudo, kind, &old)) &&
            !(rc = set_members(&old, kind, upseudo, d, -1)) &&
            !(rc = set_members(&want.uset[kind], kind, upseudo, d, 1))) {
            key[SOUK_PSEUDO_LEN] = (uint8_t)kind;
            rc = souk__ev_del_prefix(txn, s->uset, key, SOUK_PSEUDO_LEN + 1);
            for (size_t i = 0; i < want.uset[kind].cap && !rc; i++) {
                const hm_ent *e = &want.uset[kind].e[i];
                if (!e->kv)
                    continue;
                memcpy(key + SOUK_PSEUDO_LEN + 1, e->kv, e->klen);
                MDB_val k = {SOUK_PSEUDO_LEN + 1 + e->klen, key},
                        v = {24, hm_val(&want.uset[kind], e)};
                rc = souk_kv_err(mdb_put(txn, s->uset, &k, &v, 0));
            }
        }
        hm_free(&old);
    }
    if (!rc)
        rc = souk__ev_del_prefix(txn, s->tags, upseudo, SOUK_PSEUDO_LEN);
    for (size_t i = 0; i < want.tags.cap && !rc; i++) {
        const hm_ent *e = &want.tags.e[i];
        if (!e->kv)
            continue;
        memcpy(key + SOUK_PSEUDO_LEN, e->kv, e->klen);
        key[SOUK_PSEUDO_LEN + e->klen] = 0;
        uint8_t val[12 + sizeof(((souk__ev_tagval *)0)->why)];
        MDB_val k = {SOUK_PSEUDO_LEN + e->klen + 1, key},
                v = {souk__ev_tag_encode(hm_val(&want.tags, e), val), val};
        rc = souk_kv_err(mdb_put(txn, s->tags, &k, &v, 0));
    }
    if (!rc)
        rc = souk__ev_del_prefix(txn, s->usess, upseudo, SOUK_PSEUDO_LEN);
    for (size_t i = 0; i < want.sessions.cap && !rc; i++) {
        const hm_ent *e = &want.sessions.e[i];
        if (!e->kv)
            continue;
        memcpy(key + SOUK_PSEUDO_LEN, e->kv, SOUK_PSEUDO_LEN);
        MDB_val k = {2 * SOUK_PSEUDO_LEN, key}, v = {0, ""};
        rc = souk_kv_err(mdb_put(txn, s->usess, &k, &v, 0));
    }
    souk__ev_model_free(&want);
    return rc;
}

/* ------------------------------------------------------------------ forgetting a user */

typedef struct forget_ctx {
    souk_events *s;
    MDB_txn *txn;
    souk__ev_delta *d;
    int keep;
} forget_ctx;

static int forget_one(void *arg, MDB_val *k, MDB_val *v, const souk__evrec *r)
{
    (void)v;
    forget_ctx *x = arg;
    int rc;
    if (r->spseudo) {
        uint8_t sk[SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN];
        memcpy(sk, r->spseudo, SOUK_PSEUDO_LEN);
        memcpy(sk + SOUK_PSEUDO_LEN, k->mv_data, 8 + SOUK_EID_LEN);
        MDB_val key = {sizeof sk, sk};
        rc = mdb_del(x->txn, x->s->sess, &key, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return souk_kv_err(rc);
    }
    if (r->type == SOUK_EV_SEARCH && (rc = souk__ev_delta_qstat(x->d, r, -1)) != 0)
        return rc;
    MDB_val key = {k->mv_size, k->mv_data};
    if (x->keep) {
        /* The row stays under no user key (P5): no user, no session, no location. */
        souk__evrec a = *r;
        a.upseudo = a.spseudo = NULL;
        a.country[0] = 0;
        a.region_len = 0;
        uint8_t buf[SOUK_EV_REC_MAX];
        MDB_val nv = {souk__ev_encode(&a, buf), buf};
        return souk_kv_err(mdb_put(x->txn, x->s->ev, &key, &nv, 0));
    }
    if (r->item_len &&
        (rc = souk__ev_delta_pop(x->d, r->item, r->item_len, souk__ev_day(r->ts), r->type, -1)))
        return rc;
    return souk_kv_err(mdb_del(x->txn, x->s->ev, &key, NULL));
}

/* Strips the session spseudo from the anonymous events of that session and deletes its sess rows
 * (P21: a session is erased with its user). */
static int forget_session(souk_events *s, MDB_txn *txn, const uint8_t *spseudo)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->sess, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)spseudo}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           memcmp(k.mv_data, spseudo, SOUK_PSEUDO_LEN) == 0) {
        MDB_val ek = {8 + SOUK_EID_LEN, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN}, ev;
        souk__evrec r;
        if (mdb_get(txn, s->ev, &ek, &ev) == 0 && souk__ev_decode(&ek, &ev, &r) == 0 && r.spseudo) {
            uint8_t ekey[8 + SOUK_EID_LEN];
            memcpy(ekey, ek.mv_data, sizeof ekey);
            r.spseudo = NULL;
            uint8_t buf[SOUK_EV_REC_MAX];
            MDB_val nk = {sizeof ekey, ekey}, nv = {souk__ev_encode(&r, buf), buf};
            if ((rc = mdb_put(txn, s->ev, &nk, &nv, 0)) != 0)
                break;
        }
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a delete: the next row */
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? SOUK_OK : souk_kv_err(rc);
}

int souk__ev_forget_user(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                         int keep_events)
{
    /* The id cache holds raw ids in memory only; forgetting a user empties it, so no raw id of
     * a forgotten user outlives the transaction in this process (it is only touched inside
     * write transactions, which LMDB serializes). */
    if (s->ids)
        hm_clear(s->ids);
    souk__ev_delta d;
    souk__ev_delta_init(&d);
    forget_ctx x = {s, txn, &d, keep_events};
    int rc = user_events(s, txn, upseudo, forget_one, &x);
    if (!rc)
        rc = souk__ev_del_prefix(txn, s->uev, upseudo, SOUK_PSEUDO_LEN);
    /* The user's sessions: their other (anonymous) rows lose the session too. */
    if (!rc) {
        MDB_cursor *c;
        int mrc = mdb_cursor_open(txn, s->usess, &c);
        if (mrc) {
            souk__ev_delta_free(&d);
            return souk_kv_err(mrc);
        }
        MDB_val k = {SOUK_PSEUDO_LEN, (void *)upseudo}, v;
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        uint8_t sp[SOUK_PSEUDO_LEN];
        while (!rc && mrc == 0 && k.mv_size == 2 * SOUK_PSEUDO_LEN &&
               memcmp(k.mv_data, upseudo, SOUK_PSEUDO_LEN) == 0) {
            memcpy(sp, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN, SOUK_PSEUDO_LEN);
            rc = forget_session(s, txn, sp);
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (!rc && mrc && mrc != MDB_NOTFOUND)
            rc = souk_kv_err(mrc);
        mdb_cursor_close(c);
    }
    for (int kind = 0; kind < 2 && !rc; kind++) {
        hmap old;
        hm_init(&old, 24);
        if (!(rc = load_uset(s, txn, upseudo, kind, &old)))
            rc = set_members(&old, kind, upseudo, &d, -1);
        hm_free(&old);
    }
    const MDB_dbi dbs[] = {s->usess, s->uset, s->tags, s->tagdel, s->idel, s->shist};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && !rc; i++)
        rc = souk__ev_del_prefix(txn, dbs[i], upseudo, SOUK_PSEUDO_LEN);
    if (!rc)
        rc = souk__ev_delta_apply(s, txn, &d);
    souk__ev_delta_free(&d);
    return rc;
}
