/* userdata.c: a user's own data (P8, P11, P19): search history (list, clear), the items and tags
 * that personalize (list, delete one), and the export of everything the inventory lists for
 * the user (docs/privacy.md), one JSON document.
 *
 * Every function takes the raw user id, keys it by its pseudonym (souk__ev_user) and never
 * writes either anywhere but the store. A user being erased (a suppression record exists) has
 * nothing to list or export: serving stopped when the erasure started (P12). */
#include "events/events_int.h"
#include "souk/buf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int user_ok(const char *user, size_t len)
{
    return user && len > 0 && len <= SOUK_USER_MAX && !memchr(user, 0, len);
}

static void put_i64le(uint8_t *p, int64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)x >> (8 * i));
}

static int64_t get_i64le(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return (int64_t)u;
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t get_i64be(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return (int64_t)u;
}

/* Begins a transaction on the user's data: the pseudonym, and SOUK_ENOTFOUND for a user being
 * erased. */
static int user_begin(souk_events *s, const char *user, size_t len, unsigned flags,
                      uint8_t up[SOUK_PSEUDO_LEN], MDB_txn **txn)
{
    if (!user_ok(user, len))
        return SOUK_EINVAL;
    int rc = souk__ev_user(s, user, len, up);
    if (rc)
        return rc;
    rc = souk__ev_begin(s, flags, txn);
    if (rc)
        return rc;
    if (souk__ev_suppressed(s, *txn, user, len)) {
        souk__ev_abort(s, *txn);
        return SOUK_ENOTFOUND;
    }
    souk__ev_user_fix(s, up);
    return SOUK_OK;
}

/* ------------------------------------------------------------------ search history */

/* Calls fn(arg, key, value) for each shist row of up, newest first, up to max (0: all). */
typedef int (*row_fn)(void *arg, const MDB_val *k, const MDB_val *v);

static int shist_walk(souk_events *s, MDB_txn *txn, const uint8_t up[SOUK_PSEUDO_LEN], uint32_t max,
                      row_fn fn, void *arg)
{
    /* Keys are up + ts(8) + eid(16): start past the user's last one and walk back. */
    uint8_t last[SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN];
    memcpy(last, up, SOUK_PSEUDO_LEN);
    memset(last + SOUK_PSEUDO_LEN, 0xff, sizeof last - SOUK_PSEUDO_LEN);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->shist, &cur);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {sizeof last, last}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    uint32_t n = 0;
    while (rc == 0 && k.mv_size >= SOUK_PSEUDO_LEN + 8 && !memcmp(k.mv_data, up, SOUK_PSEUDO_LEN) &&
           (!max || n < max)) {
        int e = fn(arg, &k, &v);
        if (e) {
            mdb_cursor_close(cur);
            return e;
        }
        n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

struct hist_cb {
    souk_history_fn fn;
    void *arg;
};

static int hist_row(void *arg, const MDB_val *k, const MDB_val *v)
{
    struct hist_cb *h = arg;
    const uint8_t *kp = k->mv_data;
    size_t n = v->mv_size;
    char q[SOUK_EVQUERY_MAX + 1];
    if (n > SOUK_EVQUERY_MAX)
        n = SOUK_EVQUERY_MAX;
    memcpy(q, v->mv_data, n);
    q[n] = 0;
    n = strnlen(q, n); /* a writer may have stored the NUL */
    return h->fn(h->arg, get_i64be(kp + SOUK_PSEUDO_LEN), q, n);
}

int souk_history_list(souk_events *s, const char *user, size_t len, uint32_t max,
                      souk_history_fn fn, void *arg)
{
    uint8_t up[SOUK_PSEUDO_LEN];
    MDB_txn *txn;
    int rc = user_begin(s, user, len, MDB_RDONLY, up, &txn);
    if (rc == SOUK_ENOTFOUND)
        return SOUK_OK; /* being erased: nothing to list */
    if (rc)
        return rc;
    struct hist_cb h = {fn, arg};
    rc = shist_walk(s, txn, up, max, hist_row, &h);
    souk__ev_abort(s, txn);
    return rc;
}

struct clear_args {
    const char *user;
    size_t len;
    const uint8_t *up;
};

static int clear_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct clear_args *a = arg;
    if (souk__ev_suppressed(s, txn, a->user, a->len))
        return SOUK_OK; /* being erased: nothing left to clear */
    souk__ev_user_fix(s, (uint8_t *)a->up);
    return souk__ev_del_prefix(txn, s->shist, a->up, SOUK_PSEUDO_LEN);
}

int souk_history_clear(souk_events *s, const char *user, size_t len, int64_t now)
{
    if (!user_ok(user, len))
        return SOUK_EINVAL;
    uint8_t up[SOUK_PSEUDO_LEN];
    int rc = souk__ev_user(s, user, len, up);
    if (rc)
        return rc;
    struct clear_args a = {user, len, up};
    if ((rc = souk__ev_write(s, clear_write, &a)) != 0)
        return rc;
    return souk_audit(s, "history_clear", user, len, "", now);
}

/* ------------------------------------------------------------------ items (P8) */

typedef struct uitem {
    int type;
    char *item;
    int64_t ts;
} uitem;

typedef struct uitems {
    uitem *v;
    size_t n, cap;
} uitems;

static void uitems_free(uitems *a)
{
    for (size_t i = 0; i < a->n; i++)
        souk_free(a->v[i].item);
    souk_free(a->v);
    memset(a, 0, sizeof *a);
}

static int uitems_push(uitems *a, int type, const uint8_t *item, size_t len, int64_t ts)
{
    int rc = souk_grow_first((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, SIZE_MAX, 64);
    if (rc)
        return rc;
    char *it = souk_strndup((const char *)item, len);
    if (!it)
        return SOUK_ENOMEM;
    a->v[a->n++] = (uitem){type, it, ts};
    return SOUK_OK;
}

static int by_type_item_ts(const void *a, const void *b)
{
    const uitem *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    int c = strcmp(x->item, y->item);
    if (c)
        return c;
    return x->ts < y->ts ? 1 : x->ts > y->ts ? -1 : 0; /* newest first */
}

static int by_ts_desc(const void *a, const void *b)
{
    const uitem *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? 1 : -1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return strcmp(x->item, y->item);
}

/* The deletion time of the user's item (idel), or INT64_MIN. */
static int64_t idel_time(souk_events *s, MDB_txn *txn, const uint8_t up[SOUK_PSEUDO_LEN],
                         const char *item, size_t len)
{
    return souk__ev_del_time(txn, s->idel, up, item, len);
}

/* The (type, item, latest time) of the user's personalizing events, newest first, one per
 * (type, item), leaving out what a deletion withdrew (idel). */
static int user_items_collect(souk_events *s, MDB_txn *txn, const uint8_t up[SOUK_PSEUDO_LEN],
                              uitems *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->uev, &cur);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)up}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           !memcmp(k.mv_data, up, SOUK_PSEUDO_LEN)) {
        MDB_val ek = {8 + SOUK_EID_LEN, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN}, ev;
        int64_t ts = get_i64be(ek.mv_data);
        if (mdb_get(txn, s->ev, &ek, &ev) == 0) {
            souk__evrec r;
            if (souk__ev_decode(&ek, &ev, &r) == SOUK_OK && souk__ev_tagging(r.type) &&
                r.item_len && idel_time(s, txn, up, r.item, r.item_len) < ts) {
                int e = uitems_push(out, r.type, (const uint8_t *)r.item, r.item_len, ts);
                if (e) {
                    mdb_cursor_close(cur);
                    return e;
                }
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND && rc != 0)
        return souk_kv_err(rc);
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof *out->v, by_type_item_ts);
        size_t w = 0;
        for (size_t i = 0; i < out->n; i++) {
            if (w && out->v[w - 1].type == out->v[i].type &&
                !strcmp(out->v[w - 1].item, out->v[i].item)) {
                souk_free(out->v[i].item);
                continue;
            }
            out->v[w++] = out->v[i];
        }
        out->n = w;
        qsort(out->v, out->n, sizeof *out->v, by_ts_desc);
    }
    return SOUK_OK;
}

int souk_user_items(souk_events *s, const char *user, size_t len, uint32_t max, souk_item_fn fn,
                    void *arg)
{
    uint8_t up[SOUK_PSEUDO_LEN];
    MDB_txn *txn;
    int rc = user_begin(s, user, len, MDB_RDONLY, up, &txn);
    if (rc == SOUK_ENOTFOUND)
        return SOUK_OK;
    if (rc)
        return rc;
    uitems a = {0};
    rc = user_items_collect(s, txn, up, &a);
    souk__ev_abort(s, txn);
    for (size_t i = 0; rc == SOUK_OK && i < a.n && (!max || i < max); i++)
        rc = fn(arg, (souk_ev_type)a.v[i].type, a.v[i].item, a.v[i].ts);
    uitems_free(&a);
    return rc;
}

/* Records a deletion (tagdel or idel: up + name NUL -> i64 ms), then brings the user's derived
 * rows to what a rebuild honouring it gives. */
struct del_args {
    const char *user;
    size_t len;
    MDB_dbi db;
    int is_tag;
    MDB_val k, v;
};

static int deletion_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct del_args *a = arg;
    if (souk__ev_suppressed(s, txn, a->user, a->len))
        return SOUK_ENOTFOUND;
    souk__ev_user_fix(s, a->k.mv_data);
    int rc = souk_kv_err(mdb_put(txn, a->db, &a->k, &a->v, 0));
    if (rc == SOUK_OK && a->is_tag) {
        int r = mdb_del(txn, s->tags, &a->k, NULL);
        rc = r == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(r);
    }
    if (rc == SOUK_OK) {
        souk__ev_delta d;
        souk__ev_delta_init(&d);
        rc = souk__ev_user_refresh(s, txn, a->k.mv_data, &d);
        if (rc == SOUK_OK)
            rc = souk__ev_delta_apply(s, txn, &d);
        souk__ev_delta_free(&d);
    }
    return rc;
}

static int record_deletion(souk_events *s, const char *user, size_t len, MDB_dbi which, int is_tag,
                           const char *name, int64_t now)
{
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0 || nl > (is_tag ? 63 : SOUK_ITEM_MAX) || !user_ok(user, len))
        return SOUK_EINVAL;
    uint8_t key[SOUK_PSEUDO_LEN + SOUK_ITEM_MAX + 1], val[8];
    int rc = souk__ev_user(s, user, len, key);
    if (rc)
        return rc;
    memcpy(key + SOUK_PSEUDO_LEN, name, nl);
    key[SOUK_PSEUDO_LEN + nl] = 0;
    put_i64le(val, now);
    struct del_args a = {user, len, which, is_tag, {SOUK_PSEUDO_LEN + nl + 1, key}, {8, val}};
    rc = souk__ev_write(s, deletion_write, &a);
    if (rc)
        return rc;
    return souk_audit(s, is_tag ? "tag_delete" : "item_delete", user, len, "", now);
}

int souk_user_item_delete(souk_events *s, const char *user, size_t len, const char *item,
                          int64_t now)
{
    return record_deletion(s, user, len, s->idel, 0, item, now);
}

/* ------------------------------------------------------------------ tags (P8) */

/* A tags row read in place: up + tag NUL -> u32 count + i64 last_ms + why. */
static int tag_row(const MDB_val *k, const MDB_val *v, const char **tag, uint32_t *count,
                   int64_t *last, char *why, size_t whylen)
{
    if (k->mv_size < SOUK_PSEUDO_LEN + 2 || v->mv_size < 12 ||
        ((const char *)k->mv_data)[k->mv_size - 1] != 0)
        return SOUK_ECORRUPT;
    *tag = (const char *)k->mv_data + SOUK_PSEUDO_LEN;
    *count = get_u32le(v->mv_data);
    *last = get_i64le((const uint8_t *)v->mv_data + 4);
    size_t n = v->mv_size - 12;
    if (n >= whylen)
        n = whylen - 1;
    memcpy(why, (const uint8_t *)v->mv_data + 12, n);
    why[n] = 0;
    return SOUK_OK;
}

int souk_tags_list(souk_events *s, const char *user, size_t len, souk_tag_fn fn, void *arg)
{
    uint8_t up[SOUK_PSEUDO_LEN];
    MDB_txn *txn;
    int rc = user_begin(s, user, len, MDB_RDONLY, up, &txn);
    if (rc == SOUK_ENOTFOUND)
        return SOUK_OK;
    if (rc)
        return rc;
    MDB_cursor *cur;
    rc = souk_kv_err(mdb_cursor_open(txn, s->tags, &cur));
    if (rc) {
        souk__ev_abort(s, txn);
        return rc;
    }
    MDB_val k = {sizeof up, up}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (r == 0 && k.mv_size > sizeof up && !memcmp(k.mv_data, up, sizeof up)) {
        const char *tag;
        uint32_t count;
        int64_t last;
        char why[512];
        rc = tag_row(&k, &v, &tag, &count, &last, why, sizeof why);
        if (rc == SOUK_OK)
            rc = fn(arg, tag, count, last, why);
        if (rc)
            break;
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == SOUK_OK && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    souk__ev_abort(s, txn);
    return rc;
}

int souk_tag_delete(souk_events *s, const char *user, size_t len, const char *tag, int64_t now)
{
    return record_deletion(s, user, len, s->tagdel, 1, tag, now);
}

/* ------------------------------------------------------------------ export (P19) */

/* The sessions of the export: a pseudonymized session id is never shown; the user sees
 * "session 1", "session 2", ... numbered by their first event. */
typedef struct sesslab {
    uint8_t sp[SOUK_PSEUDO_LEN];
    int64_t first, last;
    uint32_t events;
} sesslab;

typedef struct export_ctx {
    souk_events *s;
    MDB_txn *txn;
    const uint8_t *up;
    cJSON *doc;
    sesslab *sess;
    size_t nsess, capsess;
} export_ctx;

static int sess_label(export_ctx *x, const uint8_t *sp, int64_t ts)
{
    for (size_t i = 0; i < x->nsess; i++)
        if (!memcmp(x->sess[i].sp, sp, SOUK_PSEUDO_LEN)) {
            if (ts != INT64_MIN) {
                x->sess[i].events++;
                if (ts < x->sess[i].first)
                    x->sess[i].first = ts;
                if (ts > x->sess[i].last)
                    x->sess[i].last = ts;
            }
            return (int)i + 1;
        }
    if (x->nsess == x->capsess) {
        size_t cap = x->capsess ? 2 * x->capsess : 16;
        sesslab *n = souk_realloc(x->sess, cap * sizeof *n);
        if (!n)
            return SOUK_ENOMEM;
        x->sess = n;
        x->capsess = cap;
    }
    sesslab *l = &x->sess[x->nsess++];
    memcpy(l->sp, sp, SOUK_PSEUDO_LEN);
    l->first = l->last = ts;
    l->events = ts != INT64_MIN;
    return (int)x->nsess;
}

static cJSON *add_array(cJSON *doc, const char *name)
{
    cJSON *a = cJSON_CreateArray();
    if (a && !cJSON_AddItemToObject(doc, name, a)) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

static cJSON *push_object(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_str(cJSON *o, const char *name, const void *p, size_t n)
{
    char *t = souk_strndup(p, n);
    if (!t)
        return SOUK_ENOMEM;
    int ok = cJSON_AddStringToObject(o, name, t) != NULL;
    souk_free(t);
    return ok ? SOUK_OK : SOUK_ENOMEM;
}

static int add_num(cJSON *o, const char *name, double d)
{
    return cJSON_AddNumberToObject(o, name, d) ? SOUK_OK : SOUK_ENOMEM;
}

static int export_consent(export_ctx *x)
{
    souk_consent c;
    int rc = souk__ev_consent_read(x->s, x->txn, x->up, &c);
    if (rc)
        return rc;
    if (!c.recorded)
        return cJSON_AddNullToObject(x->doc, "consent") ? SOUK_OK : SOUK_ENOMEM;
    souk_consent eff = c;
    souk__ev_consent_policy(x->s, &eff);
    cJSON *o = cJSON_AddObjectToObject(x->doc, "consent");
    if (!o)
        return SOUK_ENOMEM;
    /* What the user chose, and what applies now (P25 turns off purposes the record predates). */
    if (!cJSON_AddBoolToObject(o, "personalization", eff.personalization) ||
        !cJSON_AddBoolToObject(o, "location", eff.location) ||
        !cJSON_AddBoolToObject(o, "search_history", eff.search_history) ||
        !cJSON_AddBoolToObject(o, "minor", c.minor) ||
        !cJSON_AddBoolToObject(o, "guardian_consent", c.guardian_consent) ||
        !cJSON_AddNumberToObject(o, "policy_version", c.policy_version) ||
        !cJSON_AddNumberToObject(o, "updated", (double)c.updated_ms) ||
        !cJSON_AddBoolToObject(o, "personalized", souk_consent_personalize(&eff)))
        return SOUK_ENOMEM;
    return SOUK_OK;
}

static int export_hist_row(void *arg, const MDB_val *k, const MDB_val *v)
{
    cJSON *o = push_object(arg);
    if (!o)
        return SOUK_ENOMEM;
    size_t n = strnlen(v->mv_data, v->mv_size);
    int rc = add_num(o, "ts", (double)get_i64be((const uint8_t *)k->mv_data + SOUK_PSEUDO_LEN));
    return rc ? rc : add_str(o, "query", v->mv_data, n);
}

static int export_events(export_ctx *x)
{
    cJSON *arr = add_array(x->doc, "events");
    if (!arr)
        return SOUK_ENOMEM;
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(x->txn, x->s->uev, &cur));
    if (rc)
        return rc;
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)x->up}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (r == 0 && k.mv_size == SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN &&
           !memcmp(k.mv_data, x->up, SOUK_PSEUDO_LEN)) {
        MDB_val ek = {8 + SOUK_EID_LEN, (uint8_t *)k.mv_data + SOUK_PSEUDO_LEN}, ev;
        int64_t ts = get_i64be(ek.mv_data);
        souk__evrec e;
        if (mdb_get(x->txn, x->s->ev, &ek, &ev) == 0 && souk__ev_decode(&ek, &ev, &e) == SOUK_OK) {
            cJSON *o = push_object(arr);
            const char *tn = souk_ev_type_name((souk_ev_type)e.type);
            rc = o ? SOUK_OK : SOUK_ENOMEM;
            if (!rc)
                rc = add_num(o, "ts", (double)ts);
            if (!rc)
                rc = add_str(o, "type", tn ? tn : "unknown", strlen(tn ? tn : "unknown"));
            if (!rc && e.item_len)
                rc = add_str(o, "item", e.item, e.item_len);
            if (!rc && e.query_len)
                rc = add_str(o, "query", e.query, e.query_len);
            if (!rc && e.spseudo) {
                int l = sess_label(x, e.spseudo, ts);
                char lab[32];
                snprintf(lab, sizeof lab, "session %d", l);
                rc = l < 0 ? l : add_str(o, "session", lab, strlen(lab));
            }
            if (!rc && (e.flags & EVF_LOC)) {
                rc = add_str(o, "country", e.country, strnlen(e.country, 2));
                if (!rc && e.region_len)
                    rc = add_str(o, "region", e.region, e.region_len);
            }
            if (!rc && idel_time(x->s, x->txn, x->up, e.item, e.item_len) >= ts)
                rc = cJSON_AddBoolToObject(o, "withdrawn", 1) ? SOUK_OK : SOUK_ENOMEM;
            if (rc)
                break;
        }
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!rc && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    return rc;
}

/* The user's sessions (usess) under their labels, with what the user's events say of them. */
static int export_sessions(export_ctx *x)
{
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(x->txn, x->s->usess, &cur));
    if (rc)
        return rc;
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)x->up}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (r == 0 && k.mv_size == 2 * SOUK_PSEUDO_LEN &&
           !memcmp(k.mv_data, x->up, SOUK_PSEUDO_LEN)) {
        int l = sess_label(x, (const uint8_t *)k.mv_data + SOUK_PSEUDO_LEN, INT64_MIN);
        if (l < 0) {
            rc = l;
            break;
        }
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    if (r != 0 && r != MDB_NOTFOUND)
        return souk_kv_err(r);
    cJSON *arr = add_array(x->doc, "sessions");
    if (!arr)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < x->nsess; i++) {
        cJSON *o = push_object(arr);
        char lab[32];
        snprintf(lab, sizeof lab, "session %zu", i + 1);
        if (!o || add_str(o, "session", lab, strlen(lab)) ||
            add_num(o, "events", x->sess[i].events))
            return SOUK_ENOMEM;
        if (x->sess[i].events && (add_num(o, "first", (double)x->sess[i].first) ||
                                  add_num(o, "last", (double)x->sess[i].last)))
            return SOUK_ENOMEM;
    }
    return SOUK_OK;
}

/* Rows of db keyed up + name NUL (tags, tagdel, idel, uset: the name after the kind byte). */
static int export_named(export_ctx *x, MDB_dbi db, const char *section, const char *field,
                        int skip_kind)
{
    cJSON *arr = add_array(x->doc, section);
    if (!arr)
        return SOUK_ENOMEM;
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(x->txn, db, &cur));
    if (rc)
        return rc;
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)x->up}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (r == 0 && k.mv_size > SOUK_PSEUDO_LEN + (size_t)skip_kind &&
           !memcmp(k.mv_data, x->up, SOUK_PSEUDO_LEN)) {
        const uint8_t *kp = k.mv_data;
        const uint8_t *name = kp + SOUK_PSEUDO_LEN + skip_kind;
        size_t nl = k.mv_size - SOUK_PSEUDO_LEN - skip_kind;
        nl = strnlen((const char *)name, nl);
        cJSON *o = push_object(arr);
        rc = o ? add_str(o, field, name, nl) : SOUK_ENOMEM;
        if (!rc && skip_kind)
            rc = add_str(o, "kind", kp[SOUK_PSEUDO_LEN] == SOUK_COOC_BOUGHT ? "bought" : "viewed",
                         6);
        if (!rc && db == x->s->tags) {
            const char *tag;
            uint32_t count;
            int64_t last;
            char why[512];
            rc = tag_row(&k, &v, &tag, &count, &last, why, sizeof why);
            if (!rc)
                rc = add_num(o, "count", count);
            if (!rc)
                rc = add_num(o, "last", (double)last);
            if (!rc)
                rc = add_str(o, "why", why, strlen(why));
        } else if (!rc && !skip_kind && v.mv_size >= 8) {
            rc = add_num(o, "deleted", (double)get_i64le(v.mv_data));
        }
        if (rc)
            break;
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!rc && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    return rc;
}

/* The user's rows behind analytics (qstat: day + query NUL + up), by a scan of the table. */
static int export_qstat(export_ctx *x)
{
    cJSON *arr = add_array(x->doc, "search_statistics");
    if (!arr)
        return SOUK_ENOMEM;
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(x->txn, x->s->qstat, &cur));
    if (rc)
        return rc;
    MDB_val k, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (r == 0) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size >= 4 + 1 + SOUK_PSEUDO_LEN &&
            !memcmp(kp + k.mv_size - SOUK_PSEUDO_LEN, x->up, SOUK_PSEUDO_LEN) && v.mv_size >= 8) {
            uint32_t day =
                (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
            time_t t = (time_t)day * 86400;
            struct tm tm;
            char ds[16];
            gmtime_r(&t, &tm);
            strftime(ds, sizeof ds, "%Y-%m-%d", &tm);
            size_t ql = k.mv_size - 4 - 1 - SOUK_PSEUDO_LEN;
            cJSON *o = push_object(arr);
            rc = o ? add_str(o, "day", ds, strlen(ds)) : SOUK_ENOMEM;
            if (!rc)
                rc = add_str(o, "query", kp + 4, ql);
            if (!rc)
                rc = add_num(o, "searches", get_u32le(v.mv_data));
            if (!rc)
                rc = add_num(o, "zero_result_searches", get_u32le((const uint8_t *)v.mv_data + 4));
            if (rc)
                break;
        }
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (!rc && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    return rc;
}

static int export_items(export_ctx *x)
{
    cJSON *arr = add_array(x->doc, "items");
    if (!arr)
        return SOUK_ENOMEM;
    uitems a = {0};
    int rc = user_items_collect(x->s, x->txn, x->up, &a);
    for (size_t i = 0; rc == SOUK_OK && i < a.n; i++) {
        cJSON *o = push_object(arr);
        const char *tn = souk_ev_type_name((souk_ev_type)a.v[i].type);
        rc = o ? add_str(o, "type", tn ? tn : "unknown", strlen(tn ? tn : "unknown")) : SOUK_ENOMEM;
        if (!rc)
            rc = add_str(o, "item", a.v[i].item, strlen(a.v[i].item));
        if (!rc)
            rc = add_num(o, "last", (double)a.v[i].ts);
    }
    uitems_free(&a);
    return rc;
}

/* The document (docs/privacy.md, "export"): one section per table that holds the user's rows:
 *   consent (consent), search_history (shist), events (uev and their ev rows; sess through
 *   "session N" labels), sessions (usess), items (what personalizes, from the events),
 *   cooccurrence_items (uset), tags (tags), deleted_tags (tagdel), deleted_items (idel),
 *   search_statistics (qstat).
 * Pseudonyms are never shown: the user would not recognize them, and they are keys. */
int souk_user_export(souk_events *s, const char *user, size_t len, int64_t now, char **json,
                     size_t *json_len)
{
    uint8_t up[SOUK_PSEUDO_LEN];
    MDB_txn *txn;
    int rc = user_begin(s, user, len, MDB_RDONLY, up, &txn);
    if (rc)
        return rc;
    export_ctx x = {s, txn, up, cJSON_CreateObject(), NULL, 0, 0};
    rc = x.doc ? SOUK_OK : SOUK_ENOMEM;
    if (!rc)
        rc = add_num(x.doc, "format", 1);
    if (!rc)
        rc = add_num(x.doc, "generated", (double)now);
    if (!rc)
        rc = export_consent(&x);
    if (!rc) {
        cJSON *arr = add_array(x.doc, "search_history");
        rc = arr ? shist_walk(s, txn, up, 0, export_hist_row, arr) : SOUK_ENOMEM;
    }
    if (!rc)
        rc = export_events(&x);
    if (!rc)
        rc = export_sessions(&x);
    if (!rc)
        rc = export_items(&x);
    if (!rc)
        rc = export_named(&x, s->uset, "cooccurrence_items", "item", 1);
    if (!rc)
        rc = export_named(&x, s->tags, "tags", "tag", 0);
    if (!rc)
        rc = export_named(&x, s->tagdel, "deleted_tags", "tag", 0);
    if (!rc)
        rc = export_named(&x, s->idel, "deleted_items", "item", 0);
    if (!rc)
        rc = export_qstat(&x);
    souk__ev_abort(s, txn);
    if (!rc) {
        rc = souk__ev_json_out(x.doc, json, json_len);
    }
    souk_free(x.sess);
    cJSON_Delete(x.doc);
    if (!rc) {
        rc = souk_audit(s, "export", user, len, "", now);
        if (rc) {
            souk_free(*json);
            *json = NULL;
        }
    }
    return rc;
}
