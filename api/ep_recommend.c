/* ep_recommend.c: GET /v1/recommend (docs/api.md "Recommendations"): the recommenders of
 * engine/recs/ behind a search key. ?type=bought_together|viewed_together|similar (with
 * item=ID), trending|popular (optional category=PATH), for_you; n=1..100 (default 10);
 * filter=EXPR (the search filter language). With a valid X-User-Token the request may be personal
 * (the user's consent is checked by the engine on every request); without one, or without
 * consent, the answer is the anonymous one, byte for byte apart from request_id and took_us
 * (P4). Every item carries a reason from the closed set (P9). */
#include "api_int.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>

enum { P_TYPE, P_ITEM, P_CATEGORY, P_FILTER, P_N, P_MIN_SEQ, P_COUNT };
static const char *const names[P_COUNT] = {"type", "item", "category", "filter", "n", "min_seq"};

int sk_ep_recommend(sk_ctx *c)
{
    souk_events *ev = sk_events(c);
    if (!ev)
        return c->status;
    souk_recs *recs = c->w->st->recs;
    if (!recs)
        return sk_fail(c, 404, "events_disabled", NULL, "this server has no recommenders");
    sk_buf v[P_COUNT];
    memset(v, 0, sizeof v);
    int set[P_COUNT], rc;
    for (int i = 0; i < P_COUNT; i++)
        v[i].max = 4096;
    if ((rc = sk_params(c, names, P_COUNT, v, set)) != 0)
        goto done;
    /* min_seq: the event stream's sequence this replica must have applied (api/replication.c) */
    uint64_t min_seq = 0;
    if (set[P_MIN_SEQ] &&
        sk_min_seq_parse(v[P_MIN_SEQ].p ? v[P_MIN_SEQ].p : "", v[P_MIN_SEQ].len, &min_seq) != 0) {
        rc = sk_fail(c, 400, "invalid_parameter", "min_seq",
                     "min_seq must be a stream sequence (a whole number)");
        goto done;
    }
    if ((rc = sk_min_seq_check(c, SK_REPL_EVENTS, min_seq)) != 0)
        goto done;
    souk_rec_request q;
    memset(&q, 0, sizeof q);
    if (!set[P_TYPE] || !v[P_TYPE].p ||
        souk_rec_type_parse(v[P_TYPE].p, v[P_TYPE].len, &q.type) != SOUK_OK) {
        rc = sk_fail(c, 400, "invalid_parameter", "type",
                     "type must be one of bought_together, viewed_together, similar, trending, "
                     "popular, for_you");
        goto done;
    }
    q.n = 10;
    if (set[P_N]) {
        char *end;
        long n = v[P_N].p ? strtol(v[P_N].p, &end, 10) : 0;
        if (!v[P_N].p || *end || n < 1 || n > SOUK_REC_MAX) {
            rc = sk_fail(c, 400, "invalid_parameter", "n", "n must be an integer from 1 to %d",
                         SOUK_REC_MAX);
            goto done;
        }
        q.n = (uint32_t)n;
    }
    int item_type = q.type == SOUK_REC_BOUGHT_TOGETHER || q.type == SOUK_REC_VIEWED_TOGETHER ||
                    q.type == SOUK_REC_SIMILAR;
    if (item_type && (!set[P_ITEM] || !v[P_ITEM].len || v[P_ITEM].len > SOUK_ITEM_MAX ||
                      memchr(v[P_ITEM].p, 0, v[P_ITEM].len))) {
        rc = sk_fail(c, 400, "invalid_parameter", "item", "type %s needs item=ID",
                     souk_rec_type_name(q.type));
        goto done;
    }
    if (!item_type && set[P_ITEM]) {
        rc = sk_fail(c, 400, "invalid_parameter", "item", "type %s takes no item",
                     souk_rec_type_name(q.type));
        goto done;
    }
    if (set[P_CATEGORY] && q.type != SOUK_REC_TRENDING && q.type != SOUK_REC_POPULAR) {
        rc = sk_fail(c, 400, "invalid_parameter", "category",
                     "category goes with type trending or popular");
        goto done;
    }
    if (set[P_CATEGORY] && (!v[P_CATEGORY].len || memchr(v[P_CATEGORY].p, 0, v[P_CATEGORY].len))) {
        rc = sk_fail(c, 400, "invalid_parameter", "category", "an empty category");
        goto done;
    }
    q.item = item_type ? v[P_ITEM].p : NULL;
    q.category = set[P_CATEGORY] ? v[P_CATEGORY].p : NULL;
    q.filter = set[P_FILTER] ? v[P_FILTER].p : NULL;
    q.filter_len = set[P_FILTER] ? v[P_FILTER].len : 0;
    if (c->has_user) {
        q.user = c->user.user;
        q.user_len = c->user.user_len;
    }
    q.now_ms = sk_now_ms();
    souk_searcher *s = c->w->searcher;
    if (souk_searcher_refresh(s)) {
        rc = sk_fail(c, 500, "internal", NULL, "cannot read the index");
        goto done;
    }
    /* The similar type's search shares the search budget. */
    souk_budget bud = {.max_terms = c->cfg->limits.max_query_terms,
                       .deadline_ns = c->t0_ns + (uint64_t)c->cfg->limits.max_search_ms * 1000000u};
    souk_searcher_set_budget(s, &bud);
    souk_rec out[SOUK_REC_MAX];
    size_t n = 0;
    char err[512];
    int er = souk_recommend(recs, s, &q, out, &n, NULL, err, sizeof err);
    souk_searcher_set_budget(s, NULL);
    if (er == SOUK_EINVAL) {
        rc = sk_fail(c, 400, "invalid_parameter", strstr(err, "filter") ? "filter" : NULL, "%s",
                     err);
        goto done;
    }
    if (er == SOUK_ENOTFOUND) {
        rc = sk_fail(c, 404, "not_found", "item", "no item with this id");
        goto done;
    }
    if (er) {
        rc = sk_fail(c, 500, "internal", NULL, "%s", err);
        goto done;
    }
    sk_buf *b = c->out;
    sk_buf_printf(b, "{\"request_id\":\"%s\",\"type\":\"%s\",\"items\":[", c->request_id,
                  souk_rec_type_name(q.type));
    for (size_t i = 0; i < n; i++) {
        char why[SOUK_ITEM_MAX + 32];
        souk_rec_reason(&out[i], why, sizeof why);
        sk_buf_str(b, i ? ",{\"id\":" : "{\"id\":");
        sk_buf_json_str(b, out[i].item, strlen(out[i].item));
        sk_buf_printf(b, ",\"score\":%.17g,\"reason\":", out[i].score);
        sk_buf_json_str(b, why, strlen(why));
        sk_buf_printf(b, ",\"backfill\":%s,\"fields\":", out[i].backfill ? "true" : "false");
        const char *id, *json;
        size_t il, jl;
        if (souk_searcher_doc(s, out[i].docid, &id, &il, &json, &jl) || !jl)
            sk_buf_str(b, "{}");
        else
            sk_buf_add(b, json, jl);
        sk_buf_str(b, "}");
    }
    uint64_t us = (sk_now_ns() - c->t0_ns) / 1000;
    if (sk_buf_printf(b, "],\"took_us\":%llu}\n", (unsigned long long)us))
        rc = sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    else
        rc = 200;
done:
    for (int i = 0; i < P_COUNT; i++)
        sk_buf_free(&v[i]);
    return rc;
}
