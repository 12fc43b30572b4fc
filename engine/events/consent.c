/* consent.c: consent records (P3, P5, P7, P11, P25): the record's layout, what a change does to
 * the user's data, and the one check the server makes on every request. The layout and the
 * purpose versions are documented in events_int.h ("control plane").
 *
 * A change takes effect in the transaction that records it: turning personalization off (or a
 * minor without a guardian's consent) withdraws the user's personal rows (the events stay as
 * rows under no user key, P5), so the very next request of any worker finds nothing to
 * personalize with; turning search_history off clears the search history (P11). */
#include "events/events_int.h"
#include "souk/buf.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* P25: the version of the platform policy in which each purpose first appeared. A new purpose
 * gets a line here with the policy version that introduces it; consent records given under an
 * earlier version have it off until the user grants it. */
static const struct purpose {
    const char *name;
    size_t off; /* offsetof the int in souk_consent */
    uint32_t since;
} purposes[] = {
    {"personalization", offsetof(souk_consent, personalization), 1},
    {"search_history", offsetof(souk_consent, search_history), 1},
    {"location", offsetof(souk_consent, location), 2},
};

void souk__ev_consent_policy(const souk_events *s, souk_consent *c)
{
    uint32_t cur = s->o.policy_version;
    if (cur == 0)
        return; /* the store is not told the policy's version: no purpose is versioned */
    uint32_t v = c->policy_version;
    if (v == 0 || v > cur)
        v = cur;
    for (size_t i = 0; i < sizeof purposes / sizeof purposes[0]; i++)
        if (purposes[i].since > v)
            *(int *)((char *)c + purposes[i].off) = 0;
}

int souk_consent_personalize(const souk_consent *c)
{
    return c->personalization && (!c->minor || c->guardian_consent);
}

static int user_ok(const char *user, size_t len)
{
    return user && len > 0 && len <= SOUK_USER_MAX && !memchr(user, 0, len);
}

int souk__ev_suppressed(souk_events *s, MDB_txn *txn, const char *user, size_t len)
{
    uint8_t h[SOUK_SUPPRESS_LEN];
    souk_suppress_hash(s->o.keys, user, len, h);
    MDB_val k = {sizeof h, h}, v;
    return mdb_get(txn, s->supp, &k, &v) == 0;
}

/* The consent of a user being erased: nothing personal (P12: serving stops at once). */
static void erased_consent(souk_consent *c)
{
    memset(c, 0, sizeof *c);
}

int souk_consent_get(souk_events *s, const char *user, size_t len, souk_consent *out)
{
    if (!user_ok(user, len))
        return SOUK_EINVAL;
    uint8_t up[SOUK_PSEUDO_LEN];
    int rc = souk__ev_user(s, user, len, up);
    if (rc)
        return rc;
    MDB_txn *txn;
    rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    souk_consent c;
    souk__ev_user_fix(s, up);
    if (souk__ev_suppressed(s, txn, user, len)) {
        erased_consent(&c);
    } else {
        rc = souk__ev_consent_read(s, txn, up, &c);
        if (rc == SOUK_OK)
            souk__ev_consent_policy(s, &c);
    }
    souk__ev_abort(s, txn);
    if (rc == SOUK_OK)
        *out = c;
    return rc;
}

/* A copy of the user's search history rows (kept across an opt-out of personalization while
 * search_history stays on: the settled questions keep the two apart). */
typedef struct rows {
    MDB_val *k, *v;
    size_t n, cap;
} rows;

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        souk_free(r->k[i].mv_data);
        souk_free(r->v[i].mv_data);
    }
    souk_free(r->k);
    souk_free(r->v);
    memset(r, 0, sizeof *r);
}

static int rows_push(rows *r, const MDB_val *k, const MDB_val *v)
{
    if (r->n == r->cap) { /* two arrays of one capacity, each grown from it */
        size_t ck = r->cap, cv = r->cap;
        int rc = souk_grow((void **)&r->k, &ck, r->n + 1, sizeof *r->k, SIZE_MAX);
        if (rc == SOUK_OK)
            rc = souk_grow((void **)&r->v, &cv, r->n + 1, sizeof *r->v, SIZE_MAX);
        if (rc)
            return rc;
        r->cap = ck < cv ? ck : cv;
    }
    void *kd = souk_malloc(k->mv_size ? k->mv_size : 1);
    void *vd = souk_malloc(v->mv_size ? v->mv_size : 1);
    if (!kd || !vd) {
        souk_free(kd);
        souk_free(vd);
        return SOUK_ENOMEM;
    }
    memcpy(kd, k->mv_data, k->mv_size);
    memcpy(vd, v->mv_data, v->mv_size);
    r->k[r->n] = (MDB_val){k->mv_size, kd};
    r->v[r->n] = (MDB_val){v->mv_size, vd};
    r->n++;
    return SOUK_OK;
}

static int rows_read(MDB_txn *txn, MDB_dbi db, const uint8_t *prefix, size_t plen, rows *r)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, db, &cur);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {plen, (void *)prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        int e = rows_push(r, &k, &v);
        if (e) {
            mdb_cursor_close(cur);
            return e;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

/* P6: the user's stored events lose their location (country, region) when location consent
 * is withdrawn: nothing location-derived stays with the user. */
static int strip_location(souk_events *s, MDB_txn *txn, const uint8_t *up)
{
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(txn, s->uev, &cur));
    if (rc)
        return rc;
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)up}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (r == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           !memcmp(k.mv_data, up, SOUK_PSEUDO_LEN)) {
        uint8_t key[8 + SOUK_EID_LEN];
        memcpy(key, (const uint8_t *)k.mv_data + SOUK_PSEUDO_LEN, sizeof key);
        MDB_val ek = {sizeof key, key}, ev;
        souk__evrec e;
        if (mdb_get(txn, s->ev, &ek, &ev) == 0 && souk__ev_decode(&ek, &ev, &e) == SOUK_OK &&
            e.country[0]) {
            uint8_t buf[SOUK_EV_REC_MAX];
            e.country[0] = 0;
            e.region_len = 0;
            MDB_val nv = {souk__ev_encode(&e, buf), buf};
            if ((rc = souk_kv_err(mdb_put(txn, s->ev, &ek, &nv, 0))) != SOUK_OK)
                break;
        }
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == SOUK_OK && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    return rc;
}

struct set_args {
    const char *user;
    size_t len;
    const uint8_t *up;
    const souk_consent *nc;
    int erased;
};

/* The change of consent_set in txn (repeatable: souk__ev_write runs it again after growing a
 * full map). */
static int consent_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct set_args *a = arg;
    const uint8_t *up = a->up;
    souk__ev_user_fix(s, (uint8_t *)up);
    int rc = SOUK_OK;
    if (souk__ev_suppressed(s, txn, a->user, a->len)) {
        a->erased = 1;
        return SOUK_EINVAL;
    }
    if (!souk_consent_personalize(a->nc)) {
        /* P5/P7: the profile goes now; the events stay under no user key. A search history
         * that stays on is kept (settled questions: it does not depend on personalization). */
        rows keep = {0};
        if (a->nc->search_history)
            rc = rows_read(txn, s->shist, up, SOUK_PSEUDO_LEN, &keep);
        if (rc == SOUK_OK)
            rc = souk__ev_forget_user(s, txn, up, 1);
        for (size_t i = 0; rc == SOUK_OK && i < keep.n; i++)
            rc = souk_kv_err(mdb_put(txn, s->shist, &keep.k[i], &keep.v[i], 0));
        rows_free(&keep);
    }
    if (rc == SOUK_OK && !a->nc->search_history)
        rc = souk__ev_del_prefix(txn, s->shist, up, SOUK_PSEUDO_LEN);
    if (rc == SOUK_OK && !a->nc->location)
        rc = strip_location(s, txn, up);
    if (rc == SOUK_OK) {
        uint8_t rec[SOUK_EV_CONSENT_LEN];
        souk__ev_consent_encode(a->nc, rec);
        MDB_val k = {SOUK_PSEUDO_LEN, (void *)up}, v = {sizeof rec, rec};
        rc = souk_kv_err(mdb_put(txn, s->consent, &k, &v, 0));
    }
    return rc;
}

static const char *onoff(int b)
{
    return b ? "1" : "0";
}

int souk_consent_set(souk_events *s, const char *user, size_t len, const souk_consent *c,
                     int64_t now, char *err, size_t errlen)
{
    if (!user_ok(user, len)) {
        snprintf(err, errlen, "consent: the user id must be 1..%d bytes without NUL",
                 SOUK_USER_MAX);
        return SOUK_EINVAL;
    }
    uint32_t pv = c->policy_version ? c->policy_version : s->o.policy_version;
    if (s->o.policy_version && pv > s->o.policy_version) {
        snprintf(err, errlen, "consent: policy version %u is newer than the current one (%u)",
                 (unsigned)pv, (unsigned)s->o.policy_version);
        return SOUK_EINVAL;
    }
    souk_consent nc = *c;
    nc.recorded = 1;
    nc.policy_version = pv;
    nc.updated_ms = now;
    /* What the record says is what the user chose under pv; a purpose pv does not have is not
     * granted by it (P25). */
    souk__ev_consent_policy(s, &nc);
    nc.personalization = !!nc.personalization;
    nc.location = !!nc.location;
    nc.search_history = !!nc.search_history;
    nc.minor = !!nc.minor;
    nc.guardian_consent = !!nc.guardian_consent;

    uint8_t up[SOUK_PSEUDO_LEN];
    int rc = souk__ev_user(s, user, len, up);
    if (rc)
        return rc;
    struct set_args a = {user, len, up, &nc, 0};
    rc = souk__ev_write(s, consent_write, &a);
    if (rc) {
        snprintf(err, errlen, "consent: %s", a.erased ? "the user is erased" : souk_strerror(rc));
        return rc;
    }
    char detail[160];
    snprintf(detail, sizeof detail,
             "personalization=%s location=%s search_history=%s minor=%s guardian_consent=%s "
             "policy_version=%u",
             onoff(nc.personalization), onoff(nc.location), onoff(nc.search_history),
             onoff(nc.minor), onoff(nc.guardian_consent), (unsigned)nc.policy_version);
    rc = souk_audit(s, "consent_change", user, len, detail, now);
    if (rc)
        snprintf(err, errlen, "consent: recorded, but the audit log failed: %s", souk_strerror(rc));
    return rc;
}
