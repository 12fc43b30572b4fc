/* analytics.c: released statistics of search queries (P16): popular queries and zero-result
 * queries over a period, k-anonymous over distinct users, optionally with discrete-Laplace
 * noise that is fixed per report and period.
 *
 * The per-user state behind the distinct-user counts is qstat (day + query NUL + upseudo ->
 * searches, zero-result searches), so one user sending 10,000 searches of a query counts as one
 * user of it, on one day or over many. A row whose distinct users are fewer than k is left out,
 * and the table publishes no total (of searches, of users, of rows' values) that would let a
 * left-out row be recovered by a difference: only the count of rows left out.
 *
 * Noise (opts.noise): each published number x becomes x + Z, Z two-sided geometric (discrete
 * Laplace) with P(Z = z) proportional to exp(-epsilon |z| / sensitivity), floored at 0. One user
 * moves a users cell by at most 1 (sensitivity 1); for the searches cell each user's searches
 * of the query count at most SEARCHES_CAP times when noise is on (sensitivity SEARCHES_CAP, and
 * the table says "searches_cap"). Epsilon is per cell: a user present in m cells of a table
 * spends m epsilon. Z is drawn from a keyed hash (the suppression-hash PRF of the key ring) of
 * the report kind, the period, the query and the column, so the same report asked twice is the
 * same table (averaging repeated asks does not remove the noise) and nobody without the key
 * can subtract it. Thresholding uses the true distinct-user count.
 *
 * Low click-through (SOUK_QSTAT_LOW_CTR) is computed from the events themselves (the ev table),
 * since a click names no search: events carry no query id. A user's search "showed results"
 * when the server recorded hits (nhits > 0), or, for a search event sent by a frontend (hit count
 * unknown), when an impression or a click of the same user follows it within CTR_WINDOW_MS and
 * before their next search; it "was clicked" when a click follows it that way. Zero-result
 * searches are the zero_results report's. Only events stored under a pseudonym count (as for
 * qstat), a row is released with at least k distinct users, and with noise each user's
 * searches and clicks of a query count at most SEARCHES_CAP times, like the searches cell.
 *
 * What thresholding alone does not stop: the difference of two reports over overlapping
 * periods (a day, and the same day plus the next) can reveal a cell suppressed in one of them.
 * Releases to partners should use aligned, non-overlapping periods, or the noise. */
#include "events/events_int.h"
#include "souk/buf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
/* With noise, each user's searches of a query in the period count at most this many times, so
 * that one user moves a searches cell by at most SEARCHES_CAP (the noise's scale). */
#define SEARCHES_CAP 10

/* A user's part of a query's cell: the popular and zero-result reports' rows are qstat's (n[0]
 * searches, n[1] zero-result searches, over a day); low click-through's are searches (n[0] 1,
 * n[1] 1 when clicked). */
typedef struct qrow {
    const char *query; /* shared by the query's rows */
    uint8_t up[SOUK_PSEUDO_LEN];
    uint32_t n[2];
} qrow;

typedef struct qcell {
    char *query;
    uint64_t users, searches;
    double pub_users, pub_searches;
} qcell;

static int by_query_user(const void *a, const void *b)
{
    const qrow *x = a, *y = b;
    int c = strcmp(x->query, y->query);
    return c ? c : memcmp(x->up, y->up, SOUK_PSEUDO_LEN);
}

/* The run of rows of the query at rows[i] (rows sorted by query, then user): returns its end;
 * *users gets its distinct users and sum[c] the sum of n[c], each user's part counted at most
 * SEARCHES_CAP times when capped (with noise: the cells' sensitivity). */
static size_t query_group(const qrow *rows, size_t nrows, size_t i, int capped, uint64_t *users,
                          uint64_t sum[2])
{
    uint64_t mine[2] = {0, 0};
    *users = 0;
    sum[0] = sum[1] = 0;
    size_t j = i;
    for (;; j++) {
        int end = j == nrows || strcmp(rows[j].query, rows[i].query) != 0;
        if (end || j == i || memcmp(rows[j].up, rows[j - 1].up, SOUK_PSEUDO_LEN)) {
            for (int c = 0; c < 2; c++) {
                sum[c] += capped && mine[c] > SEARCHES_CAP ? SEARCHES_CAP : mine[c];
                mine[c] = 0;
            }
            if (end)
                return j;
            (*users)++;
        }
        mine[0] += rows[j].n[0];
        mine[1] += rows[j].n[1];
    }
}

/* A report's head: kind, period, k, and how it was released (thresholded; noise with its epsilon
 * and the searches cap). NULL when out of memory. */
static cJSON *report_new(const char *kind, const souk_qstat_opts *o, uint32_t k, double eps)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc || !cJSON_AddStringToObject(doc, "kind", kind) ||
        !cJSON_AddNumberToObject(doc, "from", (double)o->from_ms) ||
        !cJSON_AddNumberToObject(doc, "to", (double)o->to_ms) ||
        !cJSON_AddNumberToObject(doc, "k", k) || !cJSON_AddBoolToObject(doc, "thresholded", 1) ||
        !cJSON_AddBoolToObject(doc, "noise", o->noise != 0) ||
        (o->noise && (!cJSON_AddNumberToObject(doc, "epsilon", eps) ||
                      !cJSON_AddNumberToObject(doc, "searches_cap", SEARCHES_CAP)))) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}

static int by_published(const void *a, const void *b)
{
    const qcell *x = a, *y = b;
    if (x->pub_users != y->pub_users)
        return x->pub_users < y->pub_users ? 1 : -1;
    if (x->pub_searches != y->pub_searches)
        return x->pub_searches < y->pub_searches ? 1 : -1;
    return strcmp(x->query, y->query);
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

double souk__ev_noise(souk_events *s, const char *msg, size_t n, double epsilon)
{
    uint8_t h[SOUK_SUPPRESS_LEN];
    souk_suppress_hash(s->o.keys, msg, n, h);
    uint64_t a = 0, b = 0;
    for (int i = 0; i < 8; i++) {
        a = a << 8 | h[i];
        b = b << 8 | h[8 + i];
    }
    /* Uniforms in (0, 1), then geometric counts with success 1 - alpha, alpha = e^-epsilon:
     * the difference of two is the discrete Laplace distribution. */
    double ua = ((double)(a >> 11) + 0.5) / 9007199254740992.0;
    double ub = ((double)(b >> 11) + 0.5) / 9007199254740992.0;
    double la = -epsilon; /* ln(alpha) */
    return floor(log(ua) / la) - floor(log(ub) / la);
}

int souk__ev_json_out(const cJSON *doc, char **json, size_t *json_len)
{
    char *p = cJSON_PrintUnformatted(doc);
    if (!p)
        return SOUK_ENOMEM;
    size_t n = strlen(p);
    char *res = souk_malloc(n + 1);
    if (res) {
        memcpy(res, p, n + 1);
        *json = res;
        *json_len = n;
    }
    cJSON_free(p);
    return res ? SOUK_OK : SOUK_ENOMEM;
}

/* The noise of one number of a query table. */
static double noise(souk_events *s, const souk_qstat_opts *o, const char *query, const char *column,
                    double epsilon)
{
    char msg[SOUK_EVQUERY_MAX + 128];
    int n = snprintf(msg, sizeof msg, "souk-qstat-noise\x1f%d\x1f%lld\x1f%lld\x1f%s\x1f%s",
                     (int)o->kind, (long long)o->from_ms, (long long)o->to_ms, column, query);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = (int)sizeof msg - 1;
    return souk__ev_noise(s, msg, (size_t)n, epsilon);
}

static int low_ctr_stats(souk_events *s, const souk_qstat_opts *o, char **json, size_t *json_len);

int souk_query_stats(souk_events *s, const souk_qstat_opts *o, char **json, size_t *json_len)
{
    if (!o || o->to_ms < o->from_ms || o->from_ms < 0)
        return SOUK_EINVAL;
    if (o->kind == SOUK_QSTAT_LOW_CTR)
        return low_ctr_stats(s, o, json, json_len);
    uint32_t k = o->k ? o->k : 50;
    double eps = o->epsilon > 0 ? o->epsilon : 1.0;
    uint32_t d0 = (uint32_t)(o->from_ms / DAY_MS);
    uint32_t d1 = (uint32_t)(o->to_ms > o->from_ms ? (o->to_ms - 1) / DAY_MS : o->to_ms / DAY_MS);

    qrow *rows = NULL;
    size_t nrows = 0, caprows = 0;
    char **qs = NULL; /* distinct query strings seen, owned */
    size_t nqs = 0, capqs = 0;
    qcell *cells = NULL;
    size_t ncells = 0;
    cJSON *doc = NULL;
    int rc;

    MDB_txn *txn;
    rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    rc = souk_kv_err(mdb_cursor_open(txn, s->qstat, &cur));
    if (rc) {
        souk__ev_abort(s, txn);
        return rc;
    }
    uint8_t start[4] = {(uint8_t)(d0 >> 24), (uint8_t)(d0 >> 16), (uint8_t)(d0 >> 8), (uint8_t)d0};
    MDB_val key = {4, start}, val;
    int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (r == 0) {
        const uint8_t *kp = key.mv_data;
        if (key.mv_size < 4 + 1 + SOUK_PSEUDO_LEN || val.mv_size < 8) {
            r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            continue;
        }
        uint32_t day = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
        if (day > d1)
            break;
        size_t ql = key.mv_size - 4 - 1 - SOUK_PSEUDO_LEN;
        uint32_t searches = get_u32le(val.mv_data);
        uint32_t zero = get_u32le((const uint8_t *)val.mv_data + 4);
        if (o->kind == SOUK_QSTAT_ZERO_RESULTS ? zero > 0 : searches > 0) {
            /* The query string, shared by its rows (the keys are sorted by day then query, so
             * the same query recurs on other days: a last-seen check keeps copies few). */
            const char *q = NULL;
            if (nqs && strlen(qs[nqs - 1]) == ql && !memcmp(qs[nqs - 1], kp + 4, ql))
                q = qs[nqs - 1];
            if (!q) {
                if ((rc = souk_grow_first((void **)&qs, &capqs, nqs + 1, sizeof *qs, SIZE_MAX,
                                          256)) != SOUK_OK)
                    break;
                qs[nqs] = souk_strndup((const char *)kp + 4, ql);
                if (!qs[nqs]) {
                    rc = SOUK_ENOMEM;
                    break;
                }
                q = qs[nqs++];
            }
            if ((rc = souk_grow_first((void **)&rows, &caprows, nrows + 1, sizeof *rows, SIZE_MAX,
                                      1024)) != SOUK_OK)
                break;
            qrow *w = &rows[nrows++];
            w->query = q;
            memcpy(w->up, kp + key.mv_size - SOUK_PSEUDO_LEN, SOUK_PSEUDO_LEN);
            w->n[0] = searches;
            w->n[1] = zero;
        }
        r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == SOUK_OK && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    souk__ev_abort(s, txn);
    if (rc)
        goto out;

    /* Distinct users per query: sort by (query, user) and count user changes. */
    if (nrows)
        qsort(rows, nrows, sizeof *rows, by_query_user);
    cells = souk_calloc(nrows ? nrows : 1, sizeof *cells);
    if (!cells) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    uint64_t suppressed = 0;
    for (size_t i = 0, j; i < nrows; i = j) {
        uint64_t users, sum[2];
        j = query_group(rows, nrows, i, o->noise != 0, &users, sum);
        uint64_t count = sum[o->kind == SOUK_QSTAT_ZERO_RESULTS];
        if (users < k) {
            suppressed++;
        } else {
            qcell *c = &cells[ncells++];
            c->query = (char *)rows[i].query;
            c->users = users;
            c->searches = count;
            c->pub_users = (double)users;
            c->pub_searches = (double)count;
            if (o->noise) {
                c->pub_users = fmax(0, c->pub_users + noise(s, o, c->query, "users", eps));
                c->pub_searches = fmax(0, c->pub_searches + noise(s, o, c->query, "searches", eps));
            }
        }
    }
    if (ncells > 1)
        qsort(cells, ncells, sizeof *cells, by_published);

    rc = SOUK_ENOMEM;
    doc = report_new(o->kind == SOUK_QSTAT_ZERO_RESULTS ? "zero_results" : "popular", o, k, eps);
    if (!doc)
        goto out;
    cJSON *arr = cJSON_AddArrayToObject(doc, "rows");
    if (!arr)
        goto out;
    for (size_t i = 0; i < ncells && (!o->limit || i < o->limit); i++) {
        cJSON *row = cJSON_CreateObject();
        if (!row || !cJSON_AddItemToArray(arr, row) ||
            !cJSON_AddStringToObject(row, "query", cells[i].query) ||
            !cJSON_AddNumberToObject(row, "users", cells[i].pub_users) ||
            !cJSON_AddNumberToObject(row, "searches", cells[i].pub_searches))
            goto out;
    }
    if (!cJSON_AddNumberToObject(doc, "suppressed_rows", (double)suppressed))
        goto out;
    rc = souk__ev_json_out(doc, json, json_len);
out:
    cJSON_Delete(doc);
    souk_free(cells);
    souk_free(rows);
    for (size_t i = 0; i < nqs; i++)
        souk_free(qs[i]);
    souk_free(qs);
    return rc;
}

/* ------------------------------------------------------------------ low click-through */

/* A click or impression counts for a search it follows within this time (and before the same
 * user's next search). */
#define CTR_WINDOW_MS (30LL * 60 * 1000)

typedef struct ctr_ev {
    uint8_t up[SOUK_PSEUDO_LEN];
    uint8_t type;
    int32_t nhits;
    int64_t ts;
    uint32_t qoff; /* searches: the normalized query's offset in the arena */
} ctr_ev;

typedef struct ctr_cell {
    const char *query;
    uint64_t users, searches, clicks;
    double pub_users, pub_searches, pub_clicks, ctr;
} ctr_cell;

static int by_user_time(const void *a, const void *b)
{
    const ctr_ev *x = a, *y = b;
    int c = memcmp(x->up, y->up, SOUK_PSEUDO_LEN);
    if (c)
        return c;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static int by_ctr(const void *a, const void *b)
{
    const ctr_cell *x = a, *y = b;
    if (x->ctr != y->ctr)
        return x->ctr < y->ctr ? -1 : 1;
    if (x->pub_users != y->pub_users)
        return x->pub_users < y->pub_users ? 1 : -1;
    return strcmp(x->query, y->query);
}

static int low_ctr_stats(souk_events *s, const souk_qstat_opts *o, char **json, size_t *json_len)
{
    uint32_t k = o->k ? o->k : 50;
    double eps = o->epsilon > 0 ? o->epsilon : 1.0;
    ctr_ev *evs = NULL;
    size_t nev = 0, capev = 0;
    char *arena = NULL;
    size_t alen = 0, acap = 0;
    qrow *ss = NULL;
    size_t nss = 0;
    ctr_cell *cells = NULL;
    size_t ncells = 0;
    cJSON *doc = NULL;
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    rc = souk_kv_err(mdb_cursor_open(txn, s->ev, &cur));
    if (rc) {
        souk__ev_abort(s, txn);
        return rc;
    }
    /* The period's events, and the window after it (a click may follow a search of the last
     * minute). */
    uint8_t start[8];
    souk__be64(start, (uint64_t)o->from_ms);
    int64_t end = o->to_ms + CTR_WINDOW_MS;
    MDB_val key = {sizeof start, start}, val;
    int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    char norm[SOUK_EVQUERY_MAX + 1];
    while (r == 0) {
        souk__evrec e;
        if (souk__ev_decode(&key, &val, &e) != SOUK_OK) {
            r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
            continue;
        }
        if (e.ts >= end)
            break;
        if (e.upseudo &&
            (e.type == SOUK_EV_SEARCH ? e.ts < o->to_ms
                                      : e.type == SOUK_EV_CLICK || e.type == SOUK_EV_IMPRESSION)) {
            if (nev == SOUK_QSTAT_CTR_MAX_EVENTS) {
                rc = SOUK_ETOOBIG;
                break;
            }
            if ((rc = souk_grow_first((void **)&evs, &capev, nev + 1, sizeof *evs, SIZE_MAX,
                                      4096)) != SOUK_OK)
                break;
            ctr_ev *w = &evs[nev++];
            memcpy(w->up, e.upseudo, SOUK_PSEUDO_LEN);
            w->type = (uint8_t)e.type;
            w->nhits = e.nhits;
            w->ts = e.ts;
            w->qoff = 0;
            if (e.type == SOUK_EV_SEARCH) {
                size_t n = souk__ev_query_norm(e.query, e.query_len, norm);
                if ((rc = souk_grow_first((void **)&arena, &acap, alen + n + 1, 1, UINT32_MAX,
                                          65536)) != SOUK_OK)
                    break; /* qoff is 32 bits: the arena stays under 4 GiB */
                w->qoff = (uint32_t)alen;
                memcpy(arena + alen, norm, n + 1);
                alen += n + 1;
            }
        }
        r = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == SOUK_OK && r != 0 && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    souk__ev_abort(s, txn);
    if (rc)
        goto out;

    /* Each user's events in time order; each search looks ahead to the user's next search. */
    if (nev)
        qsort(evs, nev, sizeof *evs, by_user_time);
    ss = souk_calloc(nev ? nev : 1, sizeof *ss);
    if (!ss) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nev; i++) {
        const ctr_ev *e = &evs[i];
        if (e->type != SOUK_EV_SEARCH || e->ts < o->from_ms || e->nhits == 0)
            continue;
        int shown = e->nhits > 0, clicked = 0;
        for (size_t j = i + 1; j < nev && !memcmp(evs[j].up, e->up, SOUK_PSEUDO_LEN) &&
                               evs[j].ts - e->ts <= CTR_WINDOW_MS && evs[j].type != SOUK_EV_SEARCH;
             j++) {
            shown = 1;
            clicked |= evs[j].type == SOUK_EV_CLICK;
        }
        if (shown) {
            qrow *w = &ss[nss++];
            w->query = arena + e->qoff;
            memcpy(w->up, e->up, SOUK_PSEUDO_LEN);
            w->n[0] = 1;
            w->n[1] = (uint32_t)clicked;
        }
    }
    if (nss > 1)
        qsort(ss, nss, sizeof *ss, by_query_user);
    cells = souk_calloc(nss ? nss : 1, sizeof *cells);
    if (!cells) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    uint64_t suppressed = 0;
    for (size_t i = 0, j; i < nss; i = j) {
        uint64_t users, sum[2];
        j = query_group(ss, nss, i, o->noise != 0, &users, sum);
        uint64_t searches = sum[0], clicks = sum[1];
        if (users < k) {
            suppressed++;
        } else {
            ctr_cell *c = &cells[ncells++];
            c->query = ss[i].query;
            c->users = users;
            c->searches = searches;
            c->clicks = clicks;
            c->pub_users = (double)users;
            c->pub_searches = (double)searches;
            c->pub_clicks = (double)clicks;
            if (o->noise) {
                c->pub_users = fmax(0, c->pub_users + noise(s, o, c->query, "users", eps));
                c->pub_searches = fmax(0, c->pub_searches + noise(s, o, c->query, "searches", eps));
                c->pub_clicks = fmax(0, c->pub_clicks + noise(s, o, c->query, "clicks", eps));
                if (c->pub_clicks > c->pub_searches)
                    c->pub_clicks = c->pub_searches;
            }
            c->ctr = c->pub_searches > 0 ? c->pub_clicks / c->pub_searches : 0;
        }
    }
    if (ncells)
        qsort(cells, ncells, sizeof *cells, by_ctr);

    rc = SOUK_ENOMEM;
    doc = report_new("low_ctr", o, k, eps);
    if (!doc || !cJSON_AddNumberToObject(doc, "window_ms", (double)CTR_WINDOW_MS))
        goto out;
    cJSON *arr = cJSON_AddArrayToObject(doc, "rows");
    if (!arr)
        goto out;
    for (size_t i = 0; i < ncells && (!o->limit || i < o->limit); i++) {
        cJSON *row = cJSON_CreateObject();
        if (!row || !cJSON_AddItemToArray(arr, row) ||
            !cJSON_AddStringToObject(row, "query", cells[i].query) ||
            !cJSON_AddNumberToObject(row, "users", cells[i].pub_users) ||
            !cJSON_AddNumberToObject(row, "searches", cells[i].pub_searches) ||
            !cJSON_AddNumberToObject(row, "clicks", cells[i].pub_clicks) ||
            !cJSON_AddNumberToObject(row, "ctr", cells[i].ctr))
            goto out;
    }
    if (!cJSON_AddNumberToObject(doc, "suppressed_rows", (double)suppressed))
        goto out;
    rc = souk__ev_json_out(doc, json, json_len);
out:
    cJSON_Delete(doc);
    souk_free(cells);
    souk_free(ss);
    souk_free(evs);
    souk_free(arena);
    return rc;
}
