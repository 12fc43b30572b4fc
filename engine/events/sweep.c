/* sweep.c: retention (P15): souk_events_sweep deletes the events, impressions and search history
 * past their periods at now, and keeps every derived table equal to a rebuild: pop, uev, sess
 * and qstat lose the expired events' rows and counts, and each user who lost an event has uset
 * (re-selected from the retained events, with its iuser rows), tags and usess
 * recomputed (souk__ev_user_refresh). */
#include "events/events_int.h"

#include <stdio.h>
#include <string.h>

typedef struct sweep_job {
    int64_t now;
    souk_sweep_stats st;
} sweep_job;

static int sweep_events(souk_events *s, MDB_txn *txn, sweep_job *j, souk__ev_delta *d, hmap *users)
{
    int64_t cut = INT64_MIN;
    const int64_t r[2] = {s->o.retention.events_s, s->o.retention.impressions_s};
    for (int i = 0; i < 2; i++)
        if (r[i] > 0 && j->now - r[i] * 1000 > cut)
            cut = j->now - r[i] * 1000;
    if (cut == INT64_MIN)
        return SOUK_OK;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->ev, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, v;
    int src = SOUK_OK;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        souk__evrec e;
        if ((src = souk__ev_decode(&k, &v, &e)) != SOUK_OK)
            break;
        if (e.ts > cut)
            break;
        if (!souk__ev_expired(s, e.type, e.ts, j->now)) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        if (e.item_len && (src = souk__ev_delta_pop(d, e.item, e.item_len, souk__ev_day(e.ts),
                                                    e.type, -1)) != SOUK_OK)
            break;
        uint8_t key[2 * SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN];
        if (e.spseudo) {
            memcpy(key, e.spseudo, SOUK_PSEUDO_LEN);
            memcpy(key + SOUK_PSEUDO_LEN, k.mv_data, 8 + SOUK_EID_LEN);
            MDB_val sk = {SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN, key};
            if ((rc = mdb_del(txn, s->sess, &sk, NULL)) != 0 && rc != MDB_NOTFOUND)
                break;
        }
        if (e.upseudo) {
            memcpy(key, e.upseudo, SOUK_PSEUDO_LEN);
            memcpy(key + SOUK_PSEUDO_LEN, k.mv_data, 8 + SOUK_EID_LEN);
            MDB_val uk = {SOUK_PSEUDO_LEN + 8 + SOUK_EID_LEN, key};
            if ((rc = mdb_del(txn, s->uev, &uk, NULL)) != 0 && rc != MDB_NOTFOUND)
                break;
            if (e.type == SOUK_EV_SEARCH && (src = souk__ev_delta_qstat(d, &e, -1)) != SOUK_OK)
                break;
            if (!hm_put(users, e.upseudo, SOUK_PSEUDO_LEN, NULL)) {
                src = SOUK_ENOMEM;
                break;
            }
        }
        if (e.type == SOUK_EV_IMPRESSION)
            j->st.impressions++;
        else
            j->st.events++;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (src)
        return src;
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

static int sweep_history(souk_events *s, MDB_txn *txn, sweep_job *j)
{
    if (s->o.retention.history_s <= 0)
        return SOUK_OK;
    int64_t cut = j->now - s->o.retention.history_s * 1000;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->shist, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size >= SOUK_PSEUDO_LEN + 8 &&
            (int64_t)souk__rd_be64((const uint8_t *)k.mv_data + SOUK_PSEUDO_LEN) <= cut) {
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            j->st.history++;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

static int sweep_txn(souk_events *s, MDB_txn *txn, void *arg)
{
    sweep_job *j = arg;
    memset(&j->st, 0, sizeof j->st);
    souk__ev_delta d;
    souk__ev_delta_init(&d);
    hmap users;
    hm_init(&users, 1);
    int rc = sweep_events(s, txn, j, &d, &users);
    for (size_t i = 0; i < users.cap && !rc; i++)
        if (users.e[i].kv)
            rc = souk__ev_user_refresh(s, txn, users.e[i].kv, &d);
    if (!rc)
        rc = souk__ev_delta_apply(s, txn, &d);
    if (!rc)
        rc = sweep_history(s, txn, j);
    j->st.items_touched = d.items_touched;
    hm_free(&users);
    souk__ev_delta_free(&d);
    return rc;
}

int souk_events_sweep(souk_events *s, int64_t now, souk_sweep_stats *st, char *err, size_t errlen)
{
    sweep_job j = {now, {0}};
    int rc = souk__ev_write(s, sweep_txn, &j);
    if (rc) {
        snprintf(err, errlen, "%s: sweeping: %s", s->dir, souk_strerror(rc));
        return rc;
    }
    if (st)
        *st = j.st;
    return SOUK_OK;
}
