/* inbox.c: accepted events waiting to be added (souk_events_enqueue, souk_events_drain).
 *
 * Adding events keeps every derived table, and a small batch dirties pages all over the
 * co-occurrence table: a write of 100 MovieLens events costs ~20 ms, most of it writing pages
 * back (docs/benchmarks.md). The server's POST /v1/events therefore commits each request's
 * events to the inbox, one row in one short transaction, and answers; the background thread
 * drains the inbox into the store in one souk__ev_add per drain, so requests arriving together
 * share the cost of their pages.
 *
 * An inbox row holds no raw id (P1): each event with its user and session replaced by the hex of
 * their pseudonyms (unique per user, so the batch's per-user state is keyed the same), and what
 * souk__ev_precompute computed from the raw ids (event id, pseudonyms, suppression hash).
 * A drain adds the rows' events, then deletes the rows; a crash between the two adds them again
 * and every event is then a duplicate (event ids), so nothing is counted twice. Erasure drains
 * first (erase.c), so an erased user's inbox rows are gone before the compaction.
 *
 * inbox key: seq u64 BE. Value: per event: type(1), ts i64 LE, nhits i32 LE, has user(1),
 * has session(1), item, query, country, region as len(2 LE) + bytes, then the precomputed
 * souk__ev_pre. */
#include "events/events_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PRE_LEN sizeof(souk__ev_pre)

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    p[1] = (uint8_t)(n >> 8);
    memcpy(p + 2, s, n);
    return 2 + n;
}

static size_t enc_event(uint8_t *p, const souk_event *e, const souk__ev_pre *pre)
{
    size_t o = 0;
    p[o++] = (uint8_t)e->type;
    int64_t ts = e->ts_ms;
    int32_t nh = e->nhits;
    memcpy(p + o, &ts, 8);
    o += 8;
    memcpy(p + o, &nh, 4);
    o += 4;
    p[o++] = e->user[0] != 0;
    p[o++] = e->session[0] != 0;
    o += put_str(p + o, e->item);
    o += put_str(p + o, e->query);
    o += put_str(p + o, e->country);
    o += put_str(p + o, e->region);
    memcpy(p + o, pre, PRE_LEN);
    return o + PRE_LEN;
}

static int get_str(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    if (end - *p < 2)
        return -1;
    size_t n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
    if (n >= cap || (size_t)(end - *p - 2) < n)
        return -1;
    memcpy(out, *p + 2, n);
    out[n] = 0;
    *p += 2 + n;
    return 0;
}

/* Decodes one event at *p; its user and session become the hex of their pseudonyms. */
static int dec_event(const uint8_t **p, const uint8_t *end, souk_event *e, souk__ev_pre *pre)
{
    memset(e, 0, sizeof *e);
    if (end - *p < 15)
        return -1;
    const uint8_t *q = *p;
    e->type = (souk_ev_type)q[0];
    memcpy(&e->ts_ms, q + 1, 8);
    memcpy(&e->nhits, q + 9, 4);
    int has_user = q[13], has_session = q[14];
    *p = q + 15;
    if (get_str(p, end, e->item, sizeof e->item) || get_str(p, end, e->query, sizeof e->query) ||
        get_str(p, end, e->country, sizeof e->country) ||
        get_str(p, end, e->region, sizeof e->region) || (size_t)(end - *p) < PRE_LEN ||
        (unsigned)e->type >= SOUK_EV_NTYPES)
        return -1;
    memcpy(pre, *p, PRE_LEN);
    *p += PRE_LEN;
    if (has_user)
        sodium_bin2hex(e->user, sizeof e->user, pre->up, SOUK_PSEUDO_LEN);
    if (has_session)
        sodium_bin2hex(e->session, sizeof e->session, pre->sp, SOUK_PSEUDO_LEN);
    return 0;
}

typedef struct enq_job {
    const uint8_t *row;
    size_t len;
} enq_job;

static int enq_txn(souk_events *s, MDB_txn *txn, void *arg)
{
    enq_job *j = arg;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->inbox, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, v;
    uint64_t seq = 0;
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && k.mv_size == 8)
        seq = souk__rd_be64(k.mv_data) + 1;
    else if (rc && rc != MDB_NOTFOUND) {
        mdb_cursor_close(c);
        return souk_kv_err(rc);
    }
    uint8_t key[8];
    souk__be64(key, seq);
    k.mv_size = 8;
    k.mv_data = key;
    v.mv_size = j->len;
    v.mv_data = (void *)j->row;
    rc = mdb_cursor_put(c, &k, &v, MDB_APPEND);
    mdb_cursor_close(c);
    return souk_kv_err(rc);
}

/* What adding e would do now, as far as the store's state tells before the add: expired,
 * suppressed, duplicate (already stored), stored (personal) or anonymous; *loc: whether its
 * location may be kept (P6); *hist: whether the user keeps a search history. */
static souk_ev_outcome predict(souk_events *s, MDB_txn *txn, const souk_event *e,
                               const souk__ev_pre *pre, int64_t now, int *loc, int *hist)
{
    *loc = *hist = 0;
    if (souk__ev_expired(s, e->type, e->ts_ms, now))
        return SOUK_EVO_EXPIRED;
    souk_consent c = s->o.consent_default;
    if (e->user[0]) {
        MDB_val k = {SOUK_SUPPRESS_LEN, (void *)(pre->up + SOUK_PSEUDO_LEN)}, v;
        if (mdb_get(txn, s->supp, &k, &v) == 0)
            return SOUK_EVO_SUPPRESSED;
        if (souk__ev_consent_read(s, txn, pre->up, &c) != SOUK_OK)
            c = s->o.consent_default;
    }
    *loc = c.location;
    *hist = c.search_history;
    uint8_t key[8 + SOUK_EID_LEN];
    souk__be64(key, (uint64_t)e->ts_ms);
    memcpy(key + 8, pre->eid, SOUK_EID_LEN);
    MDB_val k = {sizeof key, key}, v;
    if (mdb_get(txn, s->ev, &k, &v) == 0)
        return SOUK_EVO_DUPLICATE;
    return e->user[0] && souk__ev_personalize(&c) ? SOUK_EVO_STORED : SOUK_EVO_ANONYMOUS;
}

int souk_events_enqueue(souk_events *s, const souk_event *ev, size_t n, int64_t now,
                        souk_ev_outcome *outcome, souk_ev_counts *counts, char *err, size_t errlen)
{
    err[0] = 0;
    if (s->o.rdonly) {
        snprintf(err, errlen, "%s: opened read-only", s->dir);
        return SOUK_EINVAL;
    }
    if (n == 0)
        return SOUK_OK;
    /* The longest encoding: 15 bytes, four strings with their lengths, the precomputed part. */
    size_t per =
        15 + 8 + SOUK_ITEM_MAX + SOUK_EVQUERY_MAX + SOUK_COUNTRY_LEN + SOUK_REGION_MAX + PRE_LEN;
    uint8_t *row = souk_malloc(n * per);
    souk__ev_pre *pre = souk_calloc(n, sizeof *pre);
    hmap cache;
    hm_init(&cache, SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN);
    int rc = row && pre ? SOUK_OK : SOUK_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((unsigned)ev[i].type >= SOUK_EV_NTYPES) {
            snprintf(err, errlen, "event %zu: bad type", i);
            rc = SOUK_EINVAL;
        } else
            rc = souk__ev_precompute(s, &cache, &ev[i], &pre[i]);
    }
    hm_free(&cache); /* raw ids */
    /* Only what the add would keep goes in, as it would keep it: nothing of a suppressed user
     * (erased: P13), an opted-out or anonymous user's event with no user or session (P5), no
     * location without its consent (P6). The add decides again when the inbox is drained. */
    MDB_txn *txn = NULL;
    if (!rc)
        rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    souk_event e;
    for (size_t i = 0; i < n && !rc; i++) {
        int loc, hist;
        souk_ev_outcome o = predict(s, txn, &ev[i], &pre[i], now, &loc, &hist);
        if (outcome)
            outcome[i] = o;
        if (counts) {
            uint64_t *f[] = {&counts->stored, &counts->anonymous, &counts->duplicate,
                             &counts->suppressed, &counts->expired};
            (*f[o])++;
        }
        if (o != SOUK_EVO_STORED && o != SOUK_EVO_ANONYMOUS)
            continue;
        e = ev[i];
        souk__ev_pre p = pre[i];
        if (o == SOUK_EVO_ANONYMOUS) {
            /* A search still joins the search history of a user who keeps it (PRIVACY.md's
             * settled questions): the user stays, the session does not. */
            if (!(e.type == SOUK_EV_SEARCH && hist)) {
                e.user[0] = 0;
                memset(p.up, 0, sizeof p.up);
            }
            e.session[0] = 0;
            memset(p.sp, 0, sizeof p.sp);
        }
        if (!loc)
            e.country[0] = e.region[0] = 0;
        len += enc_event(row + len, &e, &p);
    }
    if (txn)
        souk__ev_abort(s, txn);
    sodium_memzero(&e, sizeof e);
    if (!rc && len) {
        enq_job j = {row, len};
        rc = souk__ev_write(s, enq_txn, &j);
    }
    if (rc && !err[0])
        snprintf(err, errlen, "%s: queueing %zu events: %s", s->dir, n, souk_strerror(rc));
    if (row)
        sodium_memzero(row, n * per);
    souk_free(row);
    souk_free(pre);
    return rc;
}

/* Deletes the inbox rows up to *arg (the rows drained, and only those: a request may have
 * queued more since). */
static int del_txn(souk_events *s, MDB_txn *txn, void *arg)
{
    uint64_t last = *(const uint64_t *)arg;
    MDB_cursor *c;
    MDB_val k, v;
    int r = mdb_cursor_open(txn, s->inbox, &c);
    if (r)
        return souk_kv_err(r);
    for (r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
         r == 0 && k.mv_size == 8 && souk__rd_be64(k.mv_data) <= last;
         r = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((r = mdb_cursor_del(c, 0)) != 0)
            break;
    mdb_cursor_close(c);
    return r == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(r);
}

int souk_events_drain(souk_events *s, int64_t now, souk_ev_counts *counts, char *err, size_t errlen)
{
    err[0] = 0;
    if (s->o.rdonly)
        return SOUK_OK;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(err, errlen, "%s: reading the inbox: %s", s->dir, souk_strerror(rc));
        return rc;
    }
    MDB_cursor *c;
    int mrc = mdb_cursor_open(txn, s->inbox, &c);
    souk_event *evs = NULL;
    souk__ev_pre *pre = NULL;
    size_t n = 0, cap = 0;
    uint64_t last = 0;
    int any = 0;
    MDB_val k, v;
    for (mrc = mrc ? mrc : mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data, *end = p + v.mv_size;
        while (p < end) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 1024;
                souk_event *ne = souk_realloc(evs, nc * sizeof *ne);
                if (ne)
                    evs = ne;
                souk__ev_pre *np = ne ? souk_realloc(pre, nc * sizeof *np) : NULL;
                if (np)
                    pre = np;
                if (!ne || !np) {
                    rc = SOUK_ENOMEM;
                    break;
                }
                cap = nc;
            }
            if (dec_event(&p, end, &evs[n], &pre[n]) != 0) {
                rc = SOUK_ECORRUPT;
                break;
            }
            n++;
        }
        if (rc)
            break;
        last = souk__rd_be64(k.mv_data);
        any = 1;
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = souk_kv_err(mrc);
    mdb_cursor_close(c);
    souk__ev_abort(s, txn);
    if (!rc && n)
        rc = souk__ev_add(s, evs, pre, n, now, NULL, counts, NULL, 0, err, errlen);
    if (!rc && any)
        rc = souk__ev_write(s, del_txn, &last);
    if (rc && !err[0])
        snprintf(err, errlen, "%s: draining the inbox: %s", s->dir, souk_strerror(rc));
    if (evs)
        sodium_memzero(evs, cap * sizeof *evs);
    souk_free(evs);
    souk_free(pre);
    return rc;
}
