/* write.c: souk_events_add: a batch of events in one transaction, with every derived table kept
 * up to date (events_int.h). Built for streams: pseudonyms are cached per raw id across batches
 * (the HMAC states are precomputed by the key ring), consent, suppression and deletion lookups
 * once per user per batch, pop/cooc/qstat/tags changes aggregated in memory and written in key
 * order at the end, and ev rows appended when they come in time order.
 *
 * The consent in effect decides what an event leaves (P5, P6, P11):
 *   - a user with personalization allowed (souk__ev_personalize): the row carries the user's
 *     pseudonym, and feeds uev, sess/usess, uset/cooc, tags and qstat;
 *   - a user with it off (or no record and the default off), and anonymous events: the row has
 *     no user key; it only counts in pop. An anonymous event keeps its session (sess) only when
 *     the default consent allows personalization;
 *   - location is kept only with location consent (the default's for anonymous events);
 *   - a search of a user with search_history consent goes to shist, whatever personalization
 *     says (docs/privacy.md's settled reading). */
#include "core/qsort_inline.h"
#include "events/events_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define IDS_MAX 1000000
#define SESS_KEY                                                                                   \
    (SOUK_PSEUDO_LEN + 8 +                                                                         \
     SOUK_EID_LEN) /* a sess row's key */ /* pseudonym cache entries before it is emptied */

typedef struct uslot {
    int64_t ts;
    uint8_t eid[SOUK_EID_LEN];
    size_t ilen;
    char *item;
} uslot;

/* A user's uset of one kind in the batch: the slots, with each item's hash in h (a scan of
 * cooc_items_max words finds an item), and the slot latest in (ts, eid) order (maxi, -1: not
 * known), the one a late, older event displaces from a full set. */
typedef struct ulist {
    uint32_t n;
    int32_t maxi;
    uint32_t *h;
    uslot v[];
} ulist;

static uint32_t item_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

typedef struct uinfo {
    uint8_t up[SOUK_PSEUDO_LEN];
    int suppressed, personalize;
    souk_consent c;
    souk__ev_model flags; /* only has_idel/has_tagdel are used */
    ulist *ul[2];
} uinfo;

typedef struct itags {
    int n;
    char t[SOUK_EV_TAGS_MAX][64];
} itags;

typedef struct batch {
    hmap users;    /* raw user -> uinfo */
    hmap sessions; /* raw session -> spseudo */
    hmap items;    /* item -> itags */
    hmap tagd;     /* upseudo + tag -> souk__ev_tagval (this batch's part) */
    /* Rows written at the end of the batch, in key order through one cursor each (LMDB finds a
     * key next to the previous one without descending the tree): value len(2) + bytes. */
    hmap uevk, sessk, usessk; /* sessk: the sess key then its value, as one map key */
    hmap usetw; /* upseudo kind item -> deleted(1) + ts(8) + eid(16): the batch's uset changes */
    MDB_cursor *evc;
    souk__ev_delta d;
    uint8_t last[8 + SOUK_EID_LEN]; /* the greatest ev key, for MDB_APPEND */
    int has_last;
} batch;

static void batch_init(batch *b)
{
    memset(b, 0, sizeof *b);
    hm_init(&b->users, sizeof(uinfo));
    hm_init(&b->sessions, SOUK_PSEUDO_LEN);
    hm_init(&b->items, sizeof(itags));
    hm_init(&b->tagd, sizeof(souk__ev_tagval));
    hm_init(&b->uevk, 0);
    hm_init(&b->sessk, 0);
    hm_init(&b->usessk, 0);
    hm_init(&b->usetw, 1 + 8 + SOUK_EID_LEN);
    souk__ev_delta_init(&b->d);
}

/* The users' set lists of the batch (allocated per user) freed. */
static void batch_free_lists(batch *b)
{
    for (size_t i = 0; b->users.n && i < b->users.cap; i++) {
        if (!b->users.e[i].kv)
            continue;
        uinfo *u = hm_val(&b->users, &b->users.e[i]);
        for (int k = 0; k < 2; k++) {
            if (!u->ul[k])
                continue;
            for (uint32_t j = 0; j < u->ul[k]->n; j++)
                souk_free(u->ul[k]->v[j].item);
            souk_free(u->ul[k]);
        }
    }
}

static void batch_free(batch *b)
{
    batch_free_lists(b);
    hm_free(&b->users);
    hm_free(&b->sessions);
    hm_free(&b->items);
    hm_free(&b->tagd);
    hm_free(&b->uevk);
    hm_free(&b->sessk);
    hm_free(&b->usessk);
    hm_free(&b->usetw);
    if (b->evc)
        mdb_cursor_close(b->evc);
    souk__ev_delta_free(&b->d);
}

/* Empties b for the next batch, keeping the memory of its maps (hm_clear): a batch's maps
 * reach the same sizes batch after batch, and pages already touched cost no fault. */
static void batch_reset(batch *b)
{
    batch_free_lists(b);
    hmap *maps[] = {&b->users,  &b->sessions, &b->items, &b->tagd,   &b->uevk,   &b->sessk,
                    &b->usessk, &b->usetw,    &b->d.pop, &b->d.memb, &b->d.qstat};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        hm_clear(maps[i]);
    b->d.items_touched = 0;
    if (b->evc)
        mdb_cursor_close(b->evc);
    b->evc = NULL;
    b->has_last = 0;
}

void souk__ev_batch_free(souk_events *s)
{
    if (!s->wbatch)
        return;
    batch_free(s->wbatch);
    souk_free(s->wbatch);
    s->wbatch = NULL;
}

const uint8_t *souk__ev_ids_get(hmap *cache, const souk_keyring *kr, uint8_t kid,
                                souk_pseudo_domain dom, const char *id, size_t len)
{
    if (cache->n >= IDS_MAX)
        hm_clear(cache);
    char k[SOUK_USER_MAX + 1];
    if (len > SOUK_USER_MAX)
        return NULL;
    k[0] = (char)dom;
    memcpy(k + 1, id, len);
    int created;
    uint8_t *v = hm_put(cache, k, len + 1, &created);
    if (!v)
        return NULL;
    if (created || v[0] != kid) { /* a cached value of another kid: the store was re-keyed */
        if (souk_pseudonym(kr, kid, dom, id, len, v) != SOUK_OK)
            return NULL;
        if (dom == SOUK_PSEUDO_USER)
            souk_suppress_hash(kr, id, len, v + SOUK_PSEUDO_LEN);
    }
    return v;
}

/* The store's own id cache (for souk_events_add called directly). */
static const uint8_t *cached_id(souk_events *s, souk_pseudo_domain dom, const char *id, size_t len)
{
    if (!s->ids) {
        s->ids = souk_malloc(sizeof *s->ids);
        if (!s->ids)
            return NULL;
        hm_init(s->ids, SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN);
    }
    return souk__ev_ids_get(s->ids, s->o.keys, s->kid, dom, id, len);
}

int souk__ev_precompute(const souk_events *s, hmap *cache, const souk_event *e, souk__ev_pre *out)
{
    souk__ev_id(s, e, out->eid);
    if (e->user[0]) {
        const uint8_t *id =
            souk__ev_ids_get(cache, s->o.keys, s->kid, SOUK_PSEUDO_USER, e->user, strlen(e->user));
        if (!id)
            return SOUK_ENOMEM;
        memcpy(out->up, id, sizeof out->up);
    }
    if (e->session[0]) {
        const uint8_t *id = souk__ev_ids_get(cache, s->o.keys, s->kid, SOUK_PSEUDO_SESSION,
                                             e->session, strlen(e->session));
        if (!id)
            return SOUK_ENOMEM;
        memcpy(out->sp, id, sizeof out->sp);
    }
    return SOUK_OK;
}

/* The batch's record of user; pre (may be NULL) holds its pseudonym and suppression hash. */
static int get_user(souk_events *s, MDB_txn *txn, batch *b, const char *user, const uint8_t *pre,
                    uinfo **out)
{
    size_t len = strlen(user);
    int created;
    uinfo *u = hm_put(&b->users, user, len, &created);
    if (!u)
        return SOUK_ENOMEM;
    if (created) {
        const uint8_t *id = pre ? pre : cached_id(s, SOUK_PSEUDO_USER, user, len);
        if (!id)
            return SOUK_ENOMEM;
        memcpy(u->up, id, SOUK_PSEUDO_LEN);
        /* A pseudonym computed before a re-keying swapped the generation in (a parser thread's,
         * or the inbox's) moves to the generation's kid. */
        if (u->up[0] != s->kid && souk_pseudonym_rekey(s->o.keys, id, s->kid, u->up) != SOUK_OK)
            return SOUK_EINVAL;
        MDB_val k = {SOUK_SUPPRESS_LEN, (void *)(id + SOUK_PSEUDO_LEN)}, v;
        int rc = mdb_get(txn, s->supp, &k, &v);
        if (rc && rc != MDB_NOTFOUND)
            return souk_kv_err(rc);
        u->suppressed = rc == 0;
        if ((rc = souk__ev_consent_read(s, txn, u->up, &u->c)) != SOUK_OK)
            return rc;
        u->personalize = souk__ev_personalize(&u->c);
        u->flags.has_idel = u->flags.has_tagdel = -1;
    }
    *out = u;
    return SOUK_OK;
}

static const itags *item_tags(souk_events *s, batch *b, const char *item, size_t len)
{
    int created;
    itags *t = hm_put(&b->items, item, len, &created);
    if (t && created) {
        int n = s->o.item_tags(s->o.item_tags_arg, item, t->t, SOUK_EV_TAGS_MAX);
        t->n = n < 0 ? 0 : n > SOUK_EV_TAGS_MAX ? SOUK_EV_TAGS_MAX : n;
        for (int i = 0; i < t->n; i++)
            t->t[i][63] = 0;
    }
    return t;
}

static int cmp_order(int64_t ts, const uint8_t *eid, const uslot *o)
{
    if (ts != o->ts)
        return ts < o->ts ? -1 : 1;
    return memcmp(eid, o->eid, SOUK_EID_LEN);
}

static int load_ulist(souk_events *s, MDB_txn *txn, const uinfo *u, int kind, ulist **out)
{
    size_t cap = s->o.cooc_items_max;
    ulist *l = souk_calloc(1, sizeof *l + cap * (sizeof(uslot) + sizeof(uint32_t)));
    if (!l)
        return SOUK_ENOMEM;
    l->h = (uint32_t *)(void *)(l->v + cap);
    l->maxi = -1;
    uint8_t p[SOUK_PSEUDO_LEN + 1];
    memcpy(p, u->up, SOUK_PSEUDO_LEN);
    p[SOUK_PSEUDO_LEN] = (uint8_t)kind;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->uset, &c);
    if (rc) {
        souk_free(l);
        return souk_kv_err(rc);
    }
    MDB_val k = {sizeof p, p}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > sizeof p && memcmp(k.mv_data, p, sizeof p) == 0 &&
           l->n < s->o.cooc_items_max) {
        uslot *e = &l->v[l->n];
        e->ilen = k.mv_size - sizeof p;
        e->item = souk_strndup((const char *)k.mv_data + sizeof p, e->ilen);
        if (!e->item || v.mv_size != 8 + SOUK_EID_LEN) {
            rc = e->item ? MDB_CORRUPTED : ENOMEM;
            break;
        }
        e->ts = (int64_t)souk__rd_be64(v.mv_data);
        memcpy(e->eid, (const uint8_t *)v.mv_data + 8, SOUK_EID_LEN);
        l->h[l->n] = item_hash(e->item, e->ilen);
        l->n++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    *out = l;
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

/* Notes the uset row of (u, kind, e's item) as written (e's time and id) or deleted; the
 * batch's last word on each row is written at its end (write_uset), in key order. */
static int put_uset(batch *b, const uinfo *u, int kind, const uslot *e, int del)
{
    uint8_t k[SOUK_PSEUDO_LEN + 1 + SOUK_ITEM_MAX];
    memcpy(k, u->up, SOUK_PSEUDO_LEN);
    k[SOUK_PSEUDO_LEN] = (uint8_t)kind;
    memcpy(k + SOUK_PSEUDO_LEN + 1, e->item, e->ilen);
    uint8_t *v = hm_put(&b->usetw, k, SOUK_PSEUDO_LEN + 1 + e->ilen, NULL);
    if (!v)
        return SOUK_ENOMEM;
    v[0] = (uint8_t)del;
    souk__be64(v + 1, (uint64_t)e->ts);
    memcpy(v + 9, e->eid, SOUK_EID_LEN);
    return SOUK_OK;
}

static int write_uset(souk_events *s, MDB_txn *txn, const hmap *m)
{
    size_t n;
    hm_ent *a = hm_sorted_near(m, &n, SOUK_PSEUDO_LEN);
    if (!a)
        return m->n ? SOUK_ENOMEM : SOUK_OK;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(txn, s->uset, &c);
    int opened = rc == 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const uint8_t *p = hm_val(m, &a[i]);
        MDB_val k = {a[i].klen, a[i].kv}, v = {8 + SOUK_EID_LEN, (void *)(p + 1)};
        if (!p[0]) {
            rc = mdb_cursor_put(c, &k, &v, 0);
        } else if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET)) == 0) {
            rc = mdb_cursor_del(c, 0);
        } else if (rc == MDB_NOTFOUND) {
            rc = 0; /* added and displaced within the batch */
        }
    }
    if (opened)
        mdb_cursor_close(c);
    souk_free(a);
    return souk_kv_err(rc);
}

/* The user's uset for the event's kind, kept to the first cooc_items_max distinct items in
 * (ts, eid) order whatever order events arrive in (a late, older event may displace the latest
 * selected item). Each item entering or leaving it is noted for iuser. */
static int note_uset(souk_events *s, MDB_txn *txn, batch *b, uinfo *u, int kind,
                     const souk__evrec *r)
{
    int rc;
    if (!u->ul[kind] && (rc = load_ulist(s, txn, u, kind, &u->ul[kind])) != SOUK_OK)
        return rc;
    ulist *l = u->ul[kind];
    uint32_t h = item_hash(r->item, r->item_len);
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->h[i] != h)
            continue;
        uslot *e = &l->v[i];
        if (e->ilen == r->item_len && memcmp(e->item, r->item, r->item_len) == 0) {
            if (cmp_order(r->ts, r->eid, e) < 0) {
                e->ts = r->ts;
                memcpy(e->eid, r->eid, SOUK_EID_LEN);
                l->maxi = -1;
                return put_uset(b, u, kind, e, 0);
            }
            return SOUK_OK;
        }
    }
    if (l->n >= s->o.cooc_items_max) {
        if (l->maxi < 0) {
            uint32_t m = 0;
            for (uint32_t i = 1; i < l->n; i++)
                if (cmp_order(l->v[i].ts, l->v[i].eid, &l->v[m]) > 0)
                    m = i;
            l->maxi = (int32_t)m;
        }
        uint32_t m = (uint32_t)l->maxi;
        if (cmp_order(r->ts, r->eid, &l->v[m]) > 0)
            return SOUK_OK;
        uslot *x = &l->v[m];
        if ((rc = souk__ev_delta_member(&b->d, kind, u->up, x->item, x->ilen, -1)) != SOUK_OK ||
            (rc = put_uset(b, u, kind, x, 1)) != SOUK_OK)
            return rc;
        souk_free(x->item);
        l->n--;
        l->v[m] = l->v[l->n];
        l->h[m] = l->h[l->n];
        l->maxi = -1;
    }
    uslot *e = &l->v[l->n];
    e->item = souk_strndup(r->item, r->item_len);
    if (!e->item)
        return SOUK_ENOMEM;
    e->ilen = r->item_len;
    e->ts = r->ts;
    memcpy(e->eid, r->eid, SOUK_EID_LEN);
    if ((rc = souk__ev_delta_member(&b->d, kind, u->up, e->item, e->ilen, 1)) != SOUK_OK)
        return rc;
    l->h[l->n] = h;
    if (l->maxi >= 0 && cmp_order(e->ts, e->eid, &l->v[l->maxi]) > 0)
        l->maxi = (int32_t)l->n;
    l->n++;
    return put_uset(b, u, kind, e, 0);
}

static int note_tags(souk_events *s, MDB_txn *txn, batch *b, uinfo *u, const souk__evrec *r)
{
    if (!s->o.item_tags)
        return SOUK_OK;
    const itags *t = item_tags(s, b, r->item, r->item_len);
    if (!t)
        return SOUK_ENOMEM;
    if (t->n && u->flags.has_tagdel < 0)
        u->flags.has_tagdel = souk__ev_has_prefix(txn, s->tagdel, u->up, SOUK_PSEUDO_LEN);
    for (int i = 0; i < t->n; i++) {
        size_t tl = strlen(t->t[i]);
        if (!tl)
            continue;
        if (u->flags.has_tagdel && r->ts < souk__ev_del_time(txn, s->tagdel, u->up, t->t[i], tl))
            continue;
        uint8_t k[SOUK_PSEUDO_LEN + 64];
        memcpy(k, u->up, SOUK_PSEUDO_LEN);
        memcpy(k + SOUK_PSEUDO_LEN, t->t[i], tl);
        souk__ev_tagval *tv = hm_put(&b->tagd, k, SOUK_PSEUDO_LEN + tl, NULL);
        if (!tv)
            return SOUK_ENOMEM;
        souk__ev_tag_note(tv, 1, r);
    }
    return SOUK_OK;
}

/* Merges this batch's tag notes into the tags rows. */
static int apply_tags(souk_events *s, MDB_txn *txn, batch *b)
{
    size_t n;
    hm_ent *a = hm_sorted(&b->tagd, &n);
    if (!a)
        return b->tagd.n ? SOUK_ENOMEM : SOUK_OK;
    int rc = SOUK_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        souk__ev_tagval *add = hm_val(&b->tagd, &a[i]), cur;
        uint8_t k[SOUK_PSEUDO_LEN + 65];
        memcpy(k, a[i].kv, a[i].klen);
        k[a[i].klen] = 0;
        MDB_val key = {a[i].klen + 1, k}, v;
        memset(&cur, 0, sizeof cur);
        if (mdb_get(txn, s->tags, &key, &v) == 0 && v.mv_size >= 12) {
            const uint8_t *p = v.mv_data;
            uint64_t last = 0;
            for (int j = 0; j < 4; j++)
                cur.count |= (uint32_t)p[j] << (8 * j);
            for (int j = 0; j < 8; j++)
                last |= (uint64_t)p[4 + j] << (8 * j);
            cur.last_ms = (int64_t)last;
            size_t wl = v.mv_size - 12 < sizeof cur.why - 1 ? v.mv_size - 12 : sizeof cur.why - 1;
            memcpy(cur.why, p + 12, wl);
            cur.why[wl] = 0;
        }
        if (cur.count == 0 || add->last_ms > cur.last_ms ||
            (add->last_ms == cur.last_ms && strcmp(add->why, cur.why) > 0)) {
            cur.last_ms = add->last_ms;
            memcpy(cur.why, add->why, sizeof cur.why);
        }
        cur.count += add->count;
        uint8_t val[12 + sizeof cur.why];
        MDB_val nv = {souk__ev_tag_encode(&cur, val), val};
        rc = souk_kv_err(mdb_put(txn, s->tags, &key, &nv, 0));
    }
    souk_free(a);
    return rc;
}

typedef struct add_job {
    const souk_event *ev;
    const souk__ev_pre *pre;
    size_t n;
    int64_t now;
    souk_ev_outcome *outcome;
    souk_ev_counts counts;
    const void *stream; /* meta "stream" to commit with the batch, or NULL */
    size_t stream_len;
} add_job;

void souk__ev_id(const souk_events *s, const souk_event *e, uint8_t eid[SOUK_EID_LEN])
{
    /* The canonical form: type, time, hit count, then each string with its length. */
    uint8_t buf[13 + 6 * 2 + 2 * SOUK_USER_MAX + SOUK_ITEM_MAX + SOUK_EVQUERY_MAX + 2 +
                SOUK_REGION_MAX];
    buf[0] = (uint8_t)e->type;
    souk__be64(buf + 1, (uint64_t)e->ts_ms);
    souk__be32(buf + 9, (uint32_t)e->nhits);
    size_t o = 13;
    const char *f[] = {e->user, e->session, e->item, e->query, e->country, e->region};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        size_t n = strlen(f[i]);
        buf[o++] = (uint8_t)n;
        buf[o++] = (uint8_t)(n >> 8);
        memcpy(buf + o, f[i], n);
        o += n;
    }
    crypto_generichash(eid, SOUK_EID_LEN, buf, o, s->eid_key, sizeof s->eid_key);
}

static int add_one(souk_events *s, MDB_txn *txn, batch *b, const souk_event *e,
                   const souk__ev_pre *pre, int64_t now, souk_ev_outcome *out)
{
    int rc;
    if (souk__ev_expired(s, e->type, e->ts_ms, now)) {
        *out = SOUK_EVO_EXPIRED;
        return SOUK_OK;
    }
    uinfo *u = NULL;
    if (e->user[0]) {
        if ((rc = get_user(s, txn, b, e->user, pre ? pre->up : NULL, &u)) != SOUK_OK)
            return rc;
        if (u->suppressed) {
            *out = SOUK_EVO_SUPPRESSED;
            return SOUK_OK;
        }
    }
    const souk_consent *c = u ? &u->c : &s->o.consent_default;
    int personal = u && u->personalize;
    int keep_session = u ? personal : souk__ev_personalize(&s->o.consent_default);
    uint8_t key[8 + SOUK_EID_LEN], sp_moved[SOUK_PSEUDO_LEN];
    souk__be64(key, (uint64_t)e->ts_ms);
    if (pre)
        memcpy(key + 8, pre->eid, SOUK_EID_LEN);
    else
        souk__ev_id(s, e, key + 8);
    souk__evrec r;
    memset(&r, 0, sizeof r);
    r.ts = e->ts_ms;
    r.eid = key + 8;
    r.type = e->type;
    r.upseudo = personal ? u->up : NULL;
    if (e->session[0] && keep_session) {
        size_t sl = strlen(e->session);
        uint8_t *sp = pre ? (uint8_t *)pre->sp : hm_get(&b->sessions, e->session, sl);
        if (sp && sp[0] != s->kid) { /* computed before a re-keying, as in get_user */
            if (souk_pseudonym_rekey(s->o.keys, sp, s->kid, sp_moved) != SOUK_OK)
                return SOUK_EINVAL;
            sp = sp_moved;
        }
        if (!sp) {
            const uint8_t *id = cached_id(s, SOUK_PSEUDO_SESSION, e->session, sl);
            if (!id || !(sp = hm_put(&b->sessions, e->session, sl, NULL)))
                return SOUK_ENOMEM;
            memcpy(sp, id, SOUK_PSEUDO_LEN);
        }
        r.spseudo = sp;
    }
    if (e->country[0] && c->location) {
        memcpy(r.country, e->country, 3);
        r.region = e->region;
        r.region_len = strlen(e->region);
    }
    r.nhits = e->type == SOUK_EV_SEARCH ? e->nhits : -1;
    r.item = e->item;
    r.item_len = strlen(e->item);
    r.query = e->query;
    r.query_len = strlen(e->query);
    uint8_t buf[SOUK_EV_REC_MAX];
    MDB_val k = {sizeof key, key}, v = {souk__ev_encode(&r, buf), buf};
    int append = !b->has_last || memcmp(key, b->last, sizeof key) > 0;
    int mrc = mdb_cursor_put(b->evc, &k, &v, append ? MDB_APPEND : MDB_NOOVERWRITE);
    if (mrc == MDB_KEYEXIST) {
        *out = SOUK_EVO_DUPLICATE;
        return SOUK_OK;
    }
    if (mrc)
        return souk_kv_err(mrc);
    if (append) {
        memcpy(b->last, key, sizeof key);
        b->has_last = 1;
    }
    *out = personal ? SOUK_EVO_STORED : SOUK_EVO_ANONYMOUS;
    if (r.item_len &&
        (rc = souk__ev_delta_pop(&b->d, r.item, r.item_len, souk__ev_day(r.ts), r.type, 1)))
        return rc;
    if (r.spseudo) {
        /* The row's key, then its value (type + item), as one map key: no fixed-size value
         * slot for the longest item id. */
        uint8_t sk[SESS_KEY + 1 + SOUK_ITEM_MAX];
        memcpy(sk, r.spseudo, SOUK_PSEUDO_LEN);
        memcpy(sk + SOUK_PSEUDO_LEN, key, sizeof key);
        sk[SESS_KEY] = (uint8_t)r.type;
        memcpy(sk + SESS_KEY + 1, r.item, r.item_len);
        if (!hm_put(&b->sessk, sk, SESS_KEY + 1 + r.item_len, NULL))
            return SOUK_ENOMEM;
    }
    if (u && e->type == SOUK_EV_SEARCH && c->search_history) {
        uint8_t hk[SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN];
        memcpy(hk, u->up, SOUK_PSEUDO_LEN);
        memcpy(hk + SOUK_PSEUDO_LEN, key, sizeof key);
        MDB_val a = {sizeof hk, hk}, q = {r.query_len, (void *)r.query};
        if ((mrc = mdb_put(txn, s->shist, &a, &q, 0)) != 0)
            return souk_kv_err(mrc);
    }
    if (!personal)
        return SOUK_OK;
    uint8_t uk[2 * SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN];
    memcpy(uk, u->up, SOUK_PSEUDO_LEN);
    memcpy(uk + SOUK_PSEUDO_LEN, key, sizeof key);
    if (!hm_put(&b->uevk, uk, SOUK_PSEUDO_LEN + sizeof key, NULL))
        return SOUK_ENOMEM;
    if (r.spseudo) {
        memcpy(uk + SOUK_PSEUDO_LEN, r.spseudo, SOUK_PSEUDO_LEN);
        if (!hm_put(&b->usessk, uk, 2 * SOUK_PSEUDO_LEN, NULL))
            return SOUK_ENOMEM;
    }
    if (r.type == SOUK_EV_SEARCH)
        return souk__ev_delta_qstat(&b->d, &r, 1);
    int kind = souk__ev_kind(r.type);
    if (kind == KIND_NONE || !r.item_len)
        return SOUK_OK;
    if (u->flags.has_idel < 0)
        u->flags.has_idel = souk__ev_has_prefix(txn, s->idel, u->up, SOUK_PSEUDO_LEN);
    if (u->flags.has_idel && r.ts < souk__ev_del_time(txn, s->idel, u->up, r.item, r.item_len))
        return SOUK_OK;
    if ((rc = note_uset(s, txn, b, u, kind, &r)) != SOUK_OK)
        return rc;
    return note_tags(s, txn, b, u, &r);
}

/* Writes the keys of m into dbi through one cursor, in the order of hm_sorted_near with the
 * key's second word at off: each map key is the row's key (its first klen bytes; 0: all of
 * it) then its value. */
static int write_sorted(MDB_txn *txn, MDB_dbi dbi, const hmap *m, size_t off, size_t klen)
{
    size_t n;
    hm_ent *a = hm_sorted_near(m, &n, off);
    if (!a)
        return m->n ? SOUK_ENOMEM : SOUK_OK;
    MDB_cursor *c = NULL;
    int rc = mdb_cursor_open(txn, dbi, &c);
    int opened = rc == 0;
    for (size_t i = 0; i < n && !rc; i++) {
        size_t kl = klen && klen < a[i].klen ? klen : a[i].klen;
        MDB_val k = {kl, a[i].kv}, v = {a[i].klen - kl, a[i].kv + kl};
        rc = mdb_cursor_put(c, &k, &v, 0);
    }
    if (opened)
        mdb_cursor_close(c);
    souk_free(a);
    return souk_kv_err(rc);
}

typedef struct ev_order {
    int64_t ts;
    size_t i;
} ev_order;
#define ORDER_LESS(ctx, a, b) ((a).ts != (b).ts ? (a).ts < (b).ts : (a).i < (b).i)
SOUK_QSORT_DEFINE(sort_order, ev_order, void *, ORDER_LESS)

static int add_txn(souk_events *s, MDB_txn *txn, void *arg)
{
    add_job *j = arg;
    /* The handle's batch, kept from one transaction to the next (one writer at a time: this
     * runs inside LMDB's write transaction). */
    if (!s->wbatch) {
        if (!(s->wbatch = souk_malloc(sizeof(batch))))
            return SOUK_ENOMEM;
        batch_init(s->wbatch);
    }
    batch *b = s->wbatch;
    batch_reset(b);
    /* Room for the batch's rows up front (growing the tables showed in profiles); a failure
     * here only means they grow as they fill. */
    hm_reserve(&b->uevk, j->n);
    hm_reserve(&b->sessk, j->n);
    hm_reserve(&b->usessk, j->n / 4);
    hm_reserve(&b->d.pop, j->n / 2);
    memset(&j->counts, 0, sizeof j->counts);
    int rc = souk_kv_err(mdb_cursor_open(txn, s->ev, &b->evc));
    if (!rc) {
        MDB_val k, v;
        if (mdb_cursor_get(b->evc, &k, &v, MDB_LAST) == 0 && k.mv_size == sizeof b->last) {
            memcpy(b->last, k.mv_data, sizeof b->last);
            b->has_last = 1;
        }
    }
    /* The events in time order: their ev rows then go in next to each other (a stream in
     * another order, MovieLens's by user, would put each one from the root of the tree). What
     * an event leaves does not depend on the order events are added in (events_int.h). */
    ev_order *ord = j->n ? souk_malloc(j->n * sizeof *ord) : NULL;
    if (ord) {
        for (size_t i = 0; i < j->n; i++)
            ord[i] = (ev_order){j->ev[i].ts_ms, i};
        sort_order(NULL, ord, j->n);
    }
    for (size_t k = 0; k < j->n && !rc; k++) {
        size_t i = ord ? ord[k].i : k;
        souk_ev_outcome o = SOUK_EVO_EXPIRED;
        rc = add_one(s, txn, b, &j->ev[i], j->pre ? &j->pre[i] : NULL, j->now, &o);
        if (j->outcome)
            j->outcome[i] = o;
        uint64_t *cnt[] = {&j->counts.stored, &j->counts.anonymous, &j->counts.duplicate,
                           &j->counts.suppressed, &j->counts.expired};
        (*cnt[o])++;
    }
    souk_free(ord);
    if (!rc)
        rc = write_sorted(txn, s->uev, &b->uevk, SOUK_PSEUDO_LEN, 0);
    if (!rc)
        rc = write_sorted(txn, s->sess, &b->sessk, SOUK_PSEUDO_LEN, SESS_KEY);
    if (!rc)
        rc = write_sorted(txn, s->usess, &b->usessk, SOUK_PSEUDO_LEN, 0);
    if (!rc)
        rc = write_uset(s, txn, &b->usetw);
    if (!rc)
        rc = apply_tags(s, txn, b);
    if (!rc && j->stream) {
        MDB_val k = {6, "stream"}, v = {j->stream_len, (void *)j->stream};
        rc = souk_kv_err(mdb_put(txn, s->meta, &k, &v, 0));
    }
    if (!rc)
        rc = souk__ev_delta_apply(s, txn, &b->d);
    batch_reset(b); /* the cursor closed, the lists freed, the maps' memory kept */
    return rc;
}

int souk_events_add(souk_events *s, const souk_event *ev, size_t n, int64_t now,
                    souk_ev_outcome *outcome, souk_ev_counts *counts, char *err, size_t errlen)
{
    return souk__ev_add(s, ev, NULL, n, now, outcome, counts, NULL, 0, err, errlen);
}

int souk__ev_add(souk_events *s, const souk_event *ev, const souk__ev_pre *pre, size_t n,
                 int64_t now, souk_ev_outcome *outcome, souk_ev_counts *counts, const void *stream,
                 size_t stream_len, char *err, size_t errlen)
{
    if (s->o.rdonly) {
        snprintf(err, errlen, "%s: opened read-only", s->dir);
        return SOUK_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned)ev[i].type >= SOUK_EV_NTYPES) {
            snprintf(err, errlen, "event %zu: bad type", i);
            return SOUK_EINVAL;
        }
    add_job j = {ev, pre, n, now, outcome, {0}, stream, stream_len};
    int rc = souk__ev_write(s, add_txn, &j);
    if (rc) {
        /* The id cache may hold entries made in the aborted transaction: they are pure
         * functions of the key and the id, so they stay valid. */
        snprintf(err, errlen, "%s: adding %zu events: %s", s->dir, n, souk_strerror(rc));
        return rc;
    }
    if (counts) {
        counts->stored += j.counts.stored;
        counts->anonymous += j.counts.anonymous;
        counts->duplicate += j.counts.duplicate;
        counts->suppressed += j.counts.suppressed;
        counts->expired += j.counts.expired;
    }
    return SOUK_OK;
}
