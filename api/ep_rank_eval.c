/* ep_rank_eval.c: POST /v1/rank-eval (admin key): judged queries run through /v1/search under
 * one or more ranking profiles, scored by souk/eval.h (MAP, nDCG@k, P@k, Recall@k, MRR) per
 * profile, with the per-query deltas between the first two profiles sorted by impact
 * (docs/api.md, "Rank evaluation"). Also the analysts' shared helpers of analyst.h.
 *
 * Every judged query is searched by sk_ep_search itself with {"q", "filter", "per_page": k,
 * "profile"}, so a profile (or profile version) resolves exactly as on /v1/search. The run of a
 * query is the response's hits in their order (scored k, k - 1, ... for the evaluator, so its
 * order is the response's and no tie is re-broken).
 *
 * Budget: at most RE_MAX_QUERIES queries, RE_MAX_RATINGS ratings per query and RE_MAX_TOTAL
 * in all, RE_MAX_PROFILES profiles, k at most RE_MAX_K (and limits.max_per_page); each search
 * has its own limits.max_search_ms, and the whole request stops after RE_BUDGET_FACTOR times
 * that (503 rank_eval_timeout), checked between searches. */
#include "analyst.h"
#include "souk/eval.h"
#include "souk/document.h"
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RE_MAX_QUERIES 500
#define RE_MAX_RATINGS 1000
#define RE_MAX_TOTAL 20000
#define RE_MAX_PROFILES 5
#define RE_MAX_K 100
#define RE_BUDGET_FACTOR 20

/* ------------------------------------------------------------------ shared helpers */

int sk_subsearch(sk_ctx *c, const cJSON *params, cJSON **out)
{
    *out = NULL;
    char *body = cJSON_PrintUnformatted(params);
    if (!body)
        return 500;
    sk_request r;
    memset(&r, 0, sizeof r);
    r.method = HTTP_POST;
    r.body.p = body;
    r.body.len = strlen(body);
    r.json_body = 1;
    r.has_content_type = 1;
    r.keep_alive = 1;
    sk_buf ob = {0};
    ob.max = (size_t)64 << 20;
    sk_ctx s = {.w = c->w,
                .cfg = c->cfg,
                .req = &r,
                .path = "/v1/search",
                .out = &ob,
                .content_type = "application/json",
                .status = 200,
                .is_admin = c->is_admin,
                .nhits = -1,
                .t0_ns = sk_now_ns()};
    memcpy(s.request_id, c->request_id, sizeof s.request_id);
    int st = sk_ep_search(&s);
    cJSON_free(body);
    *out = ob.p ? cJSON_ParseWithLength(ob.p, ob.len) : NULL;
    sk_buf_free(&ob);
    return st;
}

int sk_fail_sub(sk_ctx *c, int status, const cJSON *resp, const char *where)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *field = cJSON_GetObjectItemCaseSensitive(e, "field");
    char f[160];
    if (cJSON_IsString(field) && strcmp(field->valuestring, "profile") != 0)
        snprintf(f, sizeof f, "%s.%s", where, field->valuestring);
    else
        snprintf(f, sizeof f, "%s", where);
    return sk_fail(c, status, cJSON_IsString(code) ? code->valuestring : "internal", f, "%s: %s",
                   where, cJSON_IsString(msg) ? msg->valuestring : "the search failed");
}

int sk_parse_body(sk_ctx *c, cJSON **root)
{
    const sk_request *r = c->req;
    *root = NULL;
    if (r->has_content_type && !r->json_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be JSON (Content-Type: application/json)");
    if (c->query_len)
        return sk_fail(c, 400, "bad_request", NULL,
                       "POST takes its parameters in the JSON body, not the query string");
    const char *body = r->body.p ? r->body.p : "", *end = NULL;
    if (souk_utf8_check(body, r->body.len) != r->body.len)
        return sk_fail(c, 400, "bad_request", NULL, "the body is not valid UTF-8");
    char why[160];
    cJSON *j = cJSON_ParseWithLengthOpts(body, r->body.len, &end, 0);
    int src = souk_json_strict(body, r->body.len, j, end, why, sizeof why);
    if (src) {
        cJSON_Delete(j);
        if (src == SOUK_ENOMEM)
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        return sk_fail(c, 400, "invalid_json", NULL, "the body is refused: %s", why);
    }
    if (!j)
        return sk_fail(c, 400, "bad_request", NULL, "the body is not valid JSON");
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sk_fail(c, 400, "bad_request", NULL, "the body must be a JSON object");
    }
    *root = j;
    return 0;
}

/* ------------------------------------------------------------------ the endpoint */

typedef struct re_query {
    char id[64];
    const cJSON *query, *filter, *ratings;
} re_query;

static int fail_field(sk_ctx *c, const char *field, const char *fmt, const char *arg)
{
    return sk_fail(c, 400, "invalid_parameter", field, fmt, field, arg);
}

/* Reads and checks "queries"; fills qs (RE_MAX_QUERIES entries) and *nq. */
static int parse_queries(sk_ctx *c, const cJSON *arr, re_query *qs, size_t *nq)
{
    if (!cJSON_IsArray(arr))
        return sk_fail(c, 400, "invalid_parameter", "queries",
                       "queries must be an array of judged queries");
    size_t n = (size_t)cJSON_GetArraySize(arr), total = 0, i = 0;
    if (n < 1 || n > RE_MAX_QUERIES)
        return sk_fail(c, 400, "invalid_parameter", "queries",
                       "queries must hold 1 to %d judged queries, not %zu", RE_MAX_QUERIES, n);
    const cJSON *q;
    cJSON_ArrayForEach(q, arr)
    {
        char f[96];
        snprintf(f, sizeof f, "queries[%zu]", i);
        if (!cJSON_IsObject(q))
            return fail_field(c, f, "%s must be an object {\"query\", \"ratings\"%s}",
                              ", \"id\", \"filter\"");
        re_query *r = &qs[i];
        memset(r, 0, sizeof *r);
        const cJSON *m;
        cJSON_ArrayForEach(m, q)
        {
            char g[160];
            snprintf(g, sizeof g, "%s.%s", f, m->string);
            if (strcmp(m->string, "query") == 0) {
                if (!cJSON_IsString(m))
                    return fail_field(c, g, "%s must be a string%s", "");
                r->query = m;
            } else if (strcmp(m->string, "filter") == 0) {
                if (!cJSON_IsString(m))
                    return fail_field(c, g, "%s must be a string (a filter as /v1/search takes)%s",
                                      "");
                r->filter = m;
            } else if (strcmp(m->string, "id") == 0) {
                if (!cJSON_IsString(m) || !m->valuestring[0] ||
                    strlen(m->valuestring) >= sizeof r->id || strpbrk(m->valuestring, " \t\r\n"))
                    return fail_field(c, g, "%s must be a non-empty string of at most 63 bytes%s",
                                      " without blanks");
                snprintf(r->id, sizeof r->id, "%s", m->valuestring);
            } else if (strcmp(m->string, "ratings") == 0) {
                r->ratings = m;
            } else {
                return sk_fail(c, 400, "unknown_parameter", g,
                               "unknown member \"%.40s\" of %s (query, filter, id, ratings)",
                               m->string, f);
            }
        }
        if (!r->query)
            return sk_fail(c, 400, "invalid_parameter", f, "%s has no \"query\"", f);
        if (!r->id[0])
            snprintf(r->id, sizeof r->id, "%zu", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(qs[j].id, r->id) == 0)
                return sk_fail(c, 400, "invalid_parameter", f,
                               "%s has the id \"%s\" of queries[%zu]: ids must differ", f, r->id,
                               j);
        char g[128];
        snprintf(g, sizeof g, "%s.ratings", f);
        size_t nr = cJSON_IsObject(r->ratings) ? (size_t)cJSON_GetArraySize(r->ratings) : 0;
        if (!cJSON_IsObject(r->ratings) || nr < 1 || nr > RE_MAX_RATINGS)
            return sk_fail(c, 400, "invalid_parameter", g,
                           "%s must be an object of 1 to %d item ids, each with an integer grade "
                           "(e.g. {\"vim\": 3, \"nano\": 1})",
                           g, RE_MAX_RATINGS);
        total += nr;
        if (total > RE_MAX_TOTAL)
            return sk_fail(c, 400, "invalid_parameter", "queries", "more than %d ratings in all",
                           RE_MAX_TOTAL);
        const cJSON *it;
        cJSON_ArrayForEach(it, r->ratings)
        {
            double v = it->valuedouble;
            if (!cJSON_IsNumber(it) || v != (double)(int)v || v < -100 || v > 100 || !it->string[0])
                return sk_fail(c, 400, "invalid_parameter", g,
                               "%s: the grade of \"%.64s\" must be an integer from -100 to 100 "
                               "(> 0: relevant, the gain of nDCG)",
                               g, it->string);
        }
        i++;
    }
    *nq = n;
    return 0;
}

static cJSON *scores_json(const souk_eval_scores *s, const cJSON *profile)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddItemToObject(o, "profile",
                          cJSON_IsString(profile) ? cJSON_CreateString(profile->valuestring)
                                                  : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "queries", (double)s->nqueries);
    cJSON_AddNumberToObject(o, "map", s->map);
    cJSON_AddNumberToObject(o, "ndcg", s->ndcg_k);
    cJSON_AddNumberToObject(o, "precision", s->p_k);
    cJSON_AddNumberToObject(o, "recall", s->recall_k);
    cJSON_AddNumberToObject(o, "mrr", s->mrr);
    return o;
}

int sk_ep_rank_eval(sk_ctx *c)
{
    cJSON *root = NULL, *resp = NULL, *sub = NULL;
    re_query *qs = NULL;
    souk_eval *ev[RE_MAX_PROFILES] = {0};
    const cJSON *profiles = NULL, *queries = NULL;
    size_t nq = 0, np = 0;
    unsigned k = 10;
    int rc = sk_parse_body(c, &root);
    if (rc)
        return rc;
    const cJSON *m;
    cJSON_ArrayForEach(m, root)
    {
        if (strcmp(m->string, "queries") == 0) {
            queries = m;
        } else if (strcmp(m->string, "profiles") == 0) {
            profiles = m;
        } else if (strcmp(m->string, "k") == 0) {
            uint32_t maxk =
                c->cfg->limits.max_per_page < RE_MAX_K ? c->cfg->limits.max_per_page : RE_MAX_K;
            if (!cJSON_IsNumber(m) || m->valuedouble != (double)(int)m->valuedouble ||
                m->valuedouble < 1 || m->valuedouble > maxk) {
                rc = sk_fail(c, 400, "invalid_parameter", "k", "k must be an integer from 1 to %u",
                             maxk);
                goto out;
            }
            k = (unsigned)m->valuedouble;
        } else {
            rc = sk_fail(c, 400, "unknown_parameter", m->string,
                         "unknown parameter \"%.40s\" (queries, profiles, k)", m->string);
            goto out;
        }
    }
    if (!queries) {
        rc = sk_fail(c, 400, "invalid_parameter", "queries", "queries is required");
        goto out;
    }
    if (!cJSON_IsArray(profiles) || cJSON_GetArraySize(profiles) < 1 ||
        cJSON_GetArraySize(profiles) > RE_MAX_PROFILES) {
        rc = sk_fail(c, 400, "invalid_parameter", "profiles",
                     "profiles must be an array of 1 to %d profile names (\"name\" or "
                     "\"name@version\"; null: the default ranking)",
                     RE_MAX_PROFILES);
        goto out;
    }
    np = (size_t)cJSON_GetArraySize(profiles);
    for (size_t i = 0; i < np; i++) {
        const cJSON *p = cJSON_GetArrayItem(profiles, (int)i);
        if (!cJSON_IsNull(p) && (!cJSON_IsString(p) || !p->valuestring[0])) {
            char f[32];
            snprintf(f, sizeof f, "profiles[%zu]", i);
            rc = sk_fail(c, 400, "invalid_parameter", f,
                         "%s must be a profile name or null (the default ranking)", f);
            goto out;
        }
    }
    qs = souk_calloc(RE_MAX_QUERIES, sizeof *qs);
    if (!qs) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    if ((rc = parse_queries(c, queries, qs, &nq)))
        goto out;

    uint64_t deadline =
        c->t0_ns + (uint64_t)c->cfg->limits.max_search_ms * RE_BUDGET_FACTOR * 1000000u;
    size_t searches = 0, timed_out[RE_MAX_PROFILES] = {0};
    for (size_t pi = 0; pi < np; pi++) {
        const cJSON *prof = cJSON_GetArrayItem(profiles, (int)pi);
        if (!(ev[pi] = souk_eval_new()) || souk_eval_set_k(ev[pi], k)) {
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
            goto out;
        }
        for (size_t qi = 0; qi < nq; qi++) {
            const cJSON *it;
            cJSON_ArrayForEach(it, qs[qi].ratings)
            {
                if (souk_eval_judge(ev[pi], qs[qi].id, it->string, (int)it->valuedouble)) {
                    char f[96];
                    snprintf(f, sizeof f, "queries[%zu].ratings", qi);
                    rc = sk_fail(c, 400, "invalid_parameter", f, "%s: \"%.64s\" is rated twice", f,
                                 it->string);
                    goto out;
                }
            }
            if (sk_now_ns() > deadline) {
                rc = sk_fail(c, 503, "rank_eval_timeout", NULL,
                             "the evaluation ran over its budget of %u ms after %zu of %zu "
                             "searches; send fewer queries or profiles",
                             c->cfg->limits.max_search_ms * RE_BUDGET_FACTOR, searches, nq * np);
                goto out;
            }
            cJSON *params = cJSON_CreateObject();
            if (!params || !cJSON_AddStringToObject(params, "q", qs[qi].query->valuestring) ||
                !cJSON_AddNumberToObject(params, "per_page", k) ||
                (qs[qi].filter &&
                 !cJSON_AddStringToObject(params, "filter", qs[qi].filter->valuestring)) ||
                (cJSON_IsString(prof) &&
                 !cJSON_AddStringToObject(params, "profile", prof->valuestring))) {
                cJSON_Delete(params);
                rc = sk_fail(c, 500, "internal", NULL, "out of memory");
                goto out;
            }
            int st = sk_subsearch(c, params, &sub);
            cJSON_Delete(params);
            searches++;
            if (!sub) {
                rc = sk_fail(c, 500, "internal", NULL, "out of memory");
                goto out;
            }
            if (st != 200) {
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(sub, "error");
                const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "field");
                char where[64];
                if (cJSON_IsString(f) && strcmp(f->valuestring, "profile") == 0)
                    snprintf(where, sizeof where, "profiles[%zu]", pi);
                else
                    snprintf(where, sizeof where, "queries[%zu]", qi);
                rc = sk_fail_sub(c, st, sub, where);
                goto out;
            }
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sub, "timed_out")))
                timed_out[pi]++;
            const cJSON *hits = cJSON_GetObjectItemCaseSensitive(sub, "hits"), *h;
            double rank = 0;
            cJSON_ArrayForEach(h, hits)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "id");
                if (!cJSON_IsString(id) || !id->valuestring[0])
                    continue;
                if (souk_eval_result(ev[pi], qs[qi].id, id->valuestring, (double)k - rank) ==
                    SOUK_ENOMEM) {
                    rc = sk_fail(c, 500, "internal", NULL, "out of memory");
                    goto out;
                }
                rank++;
            }
            cJSON_Delete(sub);
            sub = NULL;
        }
    }

    resp = cJSON_CreateObject();
    cJSON *arr = resp ? cJSON_AddArrayToObject(resp, "profiles") : NULL;
    if (!arr || !cJSON_AddNumberToObject(resp, "k", k) ||
        !cJSON_AddNumberToObject(resp, "queries", (double)nq)) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    for (size_t pi = 0; pi < np; pi++) {
        souk_eval_scores s;
        if (souk_eval_compute(ev[pi], &s)) {
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
            goto out;
        }
        cJSON *o = scores_json(&s, cJSON_GetArrayItem(profiles, (int)pi));
        if (!o) {
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
            goto out;
        }
        cJSON_AddItemToArray(arr, o);
        cJSON_AddNumberToObject(o, "timed_out_searches", (double)timed_out[pi]);
        cJSON *pq = cJSON_AddArrayToObject(o, "per_query");
        for (size_t qi = 0; pq && qi < nq; qi++) {
            souk_eval_query q;
            if (souk_eval_query_find(ev[pi], qs[qi].id, &q))
                continue;
            cJSON *x = cJSON_CreateObject();
            if (!x)
                break;
            cJSON_AddItemToArray(pq, x);
            cJSON_AddStringToObject(x, "id", qs[qi].id);
            cJSON_AddNumberToObject(x, "ap", q.ap);
            cJSON_AddNumberToObject(x, "ndcg", q.ndcg_k);
            cJSON_AddNumberToObject(x, "precision", q.p_k);
            cJSON_AddNumberToObject(x, "recall", q.recall_k);
            cJSON_AddNumberToObject(x, "rr", q.rr);
            cJSON_AddNumberToObject(x, "relevant", (double)q.nrel);
            cJSON_AddNumberToObject(x, "retrieved", (double)q.nret);
            cJSON_AddBoolToObject(x, "counted", q.counted);
        }
    }
    if (np >= 2) {
        souk_eval_delta *d = NULL;
        size_t nd = 0;
        if (souk_eval_deltas(ev[0], ev[1], &d, &nd)) {
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
            goto out;
        }
        cJSON *dl = cJSON_AddObjectToObject(resp, "deltas");
        cJSON *da = dl ? cJSON_AddArrayToObject(dl, "queries") : NULL;
        if (dl) {
            cJSON_AddItemToObject(dl, "baseline",
                                  cJSON_Duplicate(cJSON_GetArrayItem(profiles, 0), 0));
            cJSON_AddItemToObject(dl, "profile",
                                  cJSON_Duplicate(cJSON_GetArrayItem(profiles, 1), 0));
        }
        for (size_t i = 0; da && i < nd; i++) {
            cJSON *x = cJSON_CreateObject();
            if (!x)
                break;
            cJSON_AddItemToArray(da, x);
            cJSON_AddStringToObject(x, "id", d[i].qid);
            cJSON_AddNumberToObject(x, "ndcg", d[i].ndcg_k);
            cJSON_AddNumberToObject(x, "ap", d[i].ap);
            cJSON_AddNumberToObject(x, "precision", d[i].p_k);
            cJSON_AddNumberToObject(x, "recall", d[i].recall_k);
            cJSON_AddNumberToObject(x, "rr", d[i].rr);
        }
        souk_free(d);
    }
    char *txt = cJSON_PrintUnformatted(resp);
    if (!txt) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory building the response");
        goto out;
    }
    uint64_t us = (sk_now_ns() - c->t0_ns) / 1000;
    /* {"request_id":..., <the object's members>, "took_us":...} */
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",", c->request_id);
    sk_buf_add(c->out, txt + 1, strlen(txt) - 2);
    if (sk_buf_printf(c->out, ",\"took_us\":%llu}\n", (unsigned long long)us))
        rc = sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    else
        rc = 200;
    cJSON_free(txt);
out:
    cJSON_Delete(sub);
    cJSON_Delete(resp);
    cJSON_Delete(root);
    for (size_t i = 0; i < RE_MAX_PROFILES; i++)
        souk_eval_free(ev[i]);
    souk_free(qs);
    return rc;
}
