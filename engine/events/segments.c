/* segments.c: released segment statistics (P16, issue 19): per country, region or item
 * category, the distinct users, their events or their purchases over a period, k-anonymous over
 * distinct users and optionally with discrete-Laplace noise fixed per report and period
 * (souk_segment_stats, souk/events.h).
 *
 * Only events stored under a pseudonym count (as for query statistics, analytics.c): a cell
 * counts distinct people, and nothing tells two anonymous events of one person apart. A region
 * or country cell needs the location, which is stored only with location consent (P6); a
 * category cell takes the item's "category:<name>" tags from the catalog (opts.item_tags), so
 * an item in several categories counts in each. Impressions (exposure, not the user's action)
 * count in no cell.
 *
 * The per-user state is built per report: one pass over the period's ev rows (keyed by time)
 * into a map (cell NUL upseudo) -> the user's count in the cell; its entries sorted by key are
 * grouped by cell, so each cell has its distinct users and its total. A cell under k distinct
 * users is left out, and nothing in the table (no total) recovers it: only the count of cells
 * left out. With noise, each user's count in a cell is capped at EVENTS_CAP (the sensitivity of
 * a value cell) and each published number gets two-sided geometric noise of scale
 * sensitivity / epsilon, drawn from a keyed hash of the report, the period, the cell and the
 * column (the same report asked twice is the same table).
 *
 * Budget: one pass over the period's events (a period spans at most 366 days: the endpoint's
 * rule) and at most SEG_PAIRS_MAX distinct (cell, user) pairs in memory (about 100 bytes each);
 * past that the report is refused with SOUK_ETOOBIG rather than grown. */
#include "events/events_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS_CAP 10
#define SEG_PAIRS_MAX ((size_t)4 << 20)
#define SEG_CELL_MAX 96 /* bytes of a cell's name: "CN/<region>" or a category */

typedef struct seg_cell {
    char name[SEG_CELL_MAX + 1];
    uint64_t users, value;
    double pub_users, pub_value;
} seg_cell;

static const char *by_name(souk_seg_by by)
{
    return by == SOUK_SEG_COUNTRY ? "country" : by == SOUK_SEG_REGION ? "region" : "category";
}

static const char *metric_name(souk_seg_metric m)
{
    return m == SOUK_SEG_USERS ? "users" : m == SOUK_SEG_EVENTS ? "events" : "purchases";
}

static double seg_noise(souk_events *s, const souk_segment_opts *o, const char *cell,
                        const char *column, double scale)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "souk-segment-noise\x1f%s\x1f%s\x1f%lld\x1f%lld\x1f%s\x1f%s",
                     by_name(o->by), metric_name(o->metric), (long long)o->from_ms,
                     (long long)o->to_ms, column, cell);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = (int)sizeof msg - 1;
    return souk__ev_noise(s, msg, (size_t)n, 1.0 / scale);
}

static int by_published(const void *a, const void *b)
{
    const seg_cell *x = a, *y = b;
    if (x->pub_users != y->pub_users)
        return x->pub_users < y->pub_users ? 1 : -1;
    if (x->pub_value != y->pub_value)
        return x->pub_value < y->pub_value ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The cells of an event: up to SOUK_EV_TAGS_MAX names into cells; their count. tagc caches the
 * item's tags (item -> count(1) + SOUK_EV_TAGS_MAX names of 64 bytes). */
static int event_cells(souk_events *s, const souk_segment_opts *o, const souk__evrec *r, hmap *tagc,
                       char (*cells)[SEG_CELL_MAX + 1])
{
    if (o->by == SOUK_SEG_COUNTRY || o->by == SOUK_SEG_REGION) {
        if (!(r->flags & EVF_LOC) || !r->country[0])
            return 0;
        if (o->by == SOUK_SEG_COUNTRY) {
            snprintf(cells[0], SEG_CELL_MAX + 1, "%s", r->country);
            return 1;
        }
        if (!r->region_len)
            return 0;
        snprintf(cells[0], SEG_CELL_MAX + 1, "%s/%.*s", r->country, (int)r->region_len, r->region);
        return 1;
    }
    if (!r->item_len || !s->o.item_tags)
        return 0;
    int created;
    uint8_t *t = hm_put(tagc, r->item, r->item_len, &created);
    if (!t)
        return -1;
    if (created) {
        char item[SOUK_ITEM_MAX + 1], tags[SOUK_EV_TAGS_MAX][64];
        memcpy(item, r->item, r->item_len);
        item[r->item_len] = 0;
        int n = s->o.item_tags(s->o.item_tags_arg, item, tags, SOUK_EV_TAGS_MAX);
        int m = 0;
        for (int i = 0; i < n && i < SOUK_EV_TAGS_MAX; i++) {
            tags[i][63] = 0;
            if (!strncmp(tags[i], "category:", 9) && tags[i][9])
                memcpy(t + 1 + 64 * m++, tags[i] + 9, 55);
        }
        t[0] = (uint8_t)m;
    }
    for (int i = 0; i < t[0]; i++)
        snprintf(cells[i], SEG_CELL_MAX + 1, "%s", (const char *)t + 1 + 64 * i);
    return t[0];
}

int souk_segment_stats(souk_events *s, const souk_segment_opts *o, char **json, size_t *json_len)
{
    if (!o || o->to_ms <= o->from_ms || o->from_ms < 0 || o->by > SOUK_SEG_CATEGORY ||
        o->metric > SOUK_SEG_PURCHASES)
        return SOUK_EINVAL;
    uint32_t k = o->k ? o->k : 50;
    double eps = o->epsilon > 0 ? o->epsilon : 1.0;
    hmap pairs, tagc;
    hm_init(&pairs, sizeof(uint64_t));
    hm_init(&tagc, 1 + 64 * SOUK_EV_TAGS_MAX);
    hm_ent *sorted = NULL;
    seg_cell *cells = NULL;
    size_t ncells = 0;
    cJSON *doc = NULL;

    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        goto out;
    MDB_cursor *cur;
    if ((rc = souk_kv_err(mdb_cursor_open(txn, s->ev, &cur))) != SOUK_OK) {
        souk__ev_abort(s, txn);
        goto out;
    }
    uint8_t start[8];
    souk__be64(start, (uint64_t)o->from_ms);
    MDB_val key = {8, start}, val;
    int r = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (r == 0 && rc == SOUK_OK) {
        souk__evrec ev;
        if (souk__ev_decode(&key, &val, &ev) != SOUK_OK) {
            rc = SOUK_ECORRUPT;
            break;
        }
        if (ev.ts >= o->to_ms)
            break;
        if (ev.upseudo && ev.type != SOUK_EV_IMPRESSION &&
            (o->metric != SOUK_SEG_PURCHASES || ev.type == SOUK_EV_PURCHASE)) {
            char names[SOUK_EV_TAGS_MAX][SEG_CELL_MAX + 1];
            int n = event_cells(s, o, &ev, &tagc, names);
            if (n < 0)
                rc = SOUK_ENOMEM;
            for (int i = 0; i < n && rc == SOUK_OK; i++) {
                uint8_t pk[SEG_CELL_MAX + 1 + SOUK_PSEUDO_LEN];
                size_t nl = strlen(names[i]);
                memcpy(pk, names[i], nl + 1);
                memcpy(pk + nl + 1, ev.upseudo, SOUK_PSEUDO_LEN);
                uint64_t *c = hm_put(&pairs, pk, nl + 1 + SOUK_PSEUDO_LEN, NULL);
                if (!c)
                    rc = SOUK_ENOMEM;
                else
                    ++*c;
                if (pairs.n > SEG_PAIRS_MAX)
                    rc = SOUK_ETOOBIG;
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

    /* Sorted by key: each cell's users are consecutive. */
    size_t np = 0;
    sorted = pairs.n ? hm_sorted(&pairs, &np) : NULL;
    if (pairs.n && !sorted) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    cells = souk_calloc(np ? np : 1, sizeof *cells);
    if (!cells) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    uint64_t suppressed = 0;
    for (size_t i = 0; i < np;) {
        const char *name = (const char *)sorted[i].kv;
        size_t j = i;
        uint64_t users = 0, value = 0;
        while (j < np && !strcmp((const char *)sorted[j].kv, name)) {
            uint64_t c = *(const uint64_t *)hm_val(&pairs, &sorted[j]);
            users++;
            value += o->noise && c > EVENTS_CAP ? EVENTS_CAP : c;
            j++;
        }
        if (users < k) {
            suppressed++;
        } else {
            seg_cell *c = &cells[ncells++];
            snprintf(c->name, sizeof c->name, "%s", name);
            c->users = users;
            c->value = o->metric == SOUK_SEG_USERS ? users : value;
            c->pub_users = (double)users;
            c->pub_value = (double)c->value;
            if (o->noise) {
                c->pub_users = fmax(0, c->pub_users + seg_noise(s, o, name, "users", 1 / eps));
                c->pub_value =
                    o->metric == SOUK_SEG_USERS
                        ? c->pub_users
                        : fmax(0, c->pub_value + seg_noise(s, o, name, "value", EVENTS_CAP / eps));
            }
        }
        i = j;
    }
    if (ncells > 1)
        qsort(cells, ncells, sizeof *cells, by_published);

    rc = SOUK_ENOMEM;
    doc = cJSON_CreateObject();
    if (!doc || !cJSON_AddStringToObject(doc, "by", by_name(o->by)) ||
        !cJSON_AddStringToObject(doc, "metric", metric_name(o->metric)) ||
        !cJSON_AddNumberToObject(doc, "from", (double)o->from_ms) ||
        !cJSON_AddNumberToObject(doc, "to", (double)o->to_ms) ||
        !cJSON_AddNumberToObject(doc, "k", k) || !cJSON_AddBoolToObject(doc, "thresholded", 1) ||
        !cJSON_AddBoolToObject(doc, "noise", o->noise != 0))
        goto out;
    if (o->noise &&
        (!cJSON_AddNumberToObject(doc, "epsilon", eps) ||
         (o->metric != SOUK_SEG_USERS && !cJSON_AddNumberToObject(doc, "events_cap", EVENTS_CAP))))
        goto out;
    cJSON *arr = cJSON_AddArrayToObject(doc, "rows");
    if (!arr)
        goto out;
    for (size_t i = 0; i < ncells && (!o->limit || i < o->limit); i++) {
        cJSON *row = cJSON_CreateObject();
        if (!row || !cJSON_AddItemToArray(arr, row) ||
            !cJSON_AddStringToObject(row, "segment", cells[i].name) ||
            !cJSON_AddNumberToObject(row, "users", cells[i].pub_users) ||
            (o->metric != SOUK_SEG_USERS &&
             !cJSON_AddNumberToObject(row, metric_name(o->metric), cells[i].pub_value)))
            goto out;
    }
    if (!cJSON_AddNumberToObject(doc, "suppressed_rows", (double)suppressed))
        goto out;
    rc = souk__ev_json_out(doc, json, json_len);
out:
    cJSON_Delete(doc);
    souk_free(cells);
    souk_free(sorted);
    hm_free(&pairs);
    hm_free(&tagc);
    return rc;
}
