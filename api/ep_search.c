/* ep_search.c: GET and POST /v1/search.
 *
 * Parameters come from the query string (GET) or a JSON object body (POST), with the same
 * names and checks: every value is validated and an error names the parameter. An unknown
 * parameter is an error rather than ignored, so a misspelt "per_pgae" is noticed. The search
 * runs on the worker's searcher, refreshed first, so a commit acknowledged by the indexer is
 * visible to the very next request. Stored fields are copied into the response as stored (they
 * are JSON already). */
#include "api_int.h"
#include "souk/document.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

typedef struct sparams {
    sk_buf *q;
    int has_q;
    uint32_t page, per_page;
    int explain;
    char lang[16];
    int and_op;
    unsigned seen;
} sparams;

/* Parameters of the storefront features that a later version adds. */
static const char *const later[] = {"filter", "facets", "sort", "cursor", "highlight", "profile"};

enum { P_Q, P_PAGE, P_PER_PAGE, P_EXPLAIN, P_LANG, P_OPERATOR, P_COUNT };
static const char *const names[P_COUNT] = {"q", "page", "per_page", "explain", "lang", "operator"};

/* Parses a decimal integer in [min, max]. */
static int parse_uint(const char *s, size_t n, uint32_t min, uint32_t max, uint32_t *out)
{
    if (n == 0 || n > 9)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Sets parameter `id` from a string (GET) or from a JSON value (POST, jv != NULL). */
static int set_param(sk_ctx *c, sparams *p, int id, const char *s, size_t n, const cJSON *jv)
{
    const sk_limits *lim = &c->cfg->limits;
    const char *name = names[id];
    if (p->seen & (1u << id))
        return sk_fail(c, 400, "invalid_parameter", name, "%s is given more than once", name);
    p->seen |= 1u << id;
    if (jv) {
        if (id == P_PAGE || id == P_PER_PAGE) {
            if (!cJSON_IsNumber(jv))
                return sk_fail(c, 400, "invalid_parameter", name, "%s must be a number", name);
        } else if (id == P_EXPLAIN) {
            if (!cJSON_IsBool(jv))
                return sk_fail(c, 400, "invalid_parameter", name, "explain must be true or false");
            p->explain = cJSON_IsTrue(jv);
            return 0;
        } else {
            if (!cJSON_IsString(jv))
                return sk_fail(c, 400, "invalid_parameter", name, "%s must be a string", name);
            s = jv->valuestring;
            n = strlen(s);
        }
    }
    uint32_t v;
    switch (id) {
    case P_Q:
        if (n > lim->max_query_bytes)
            return sk_fail(c, 400, "invalid_parameter", name, "q is longer than %zu bytes",
                           lim->max_query_bytes);
        if (souk_utf8_check(s, n) != n)
            return sk_fail(c, 400, "invalid_parameter", name, "q is not valid UTF-8 (at byte %zu)",
                           souk_utf8_check(s, n));
        if (memchr(s, 0, n))
            return sk_fail(c, 400, "invalid_parameter", name, "q contains a NUL byte");
        p->q->len = 0;
        if (sk_buf_add(p->q, s, n))
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        p->has_q = 1;
        return 0;
    case P_PAGE:
    case P_PER_PAGE: {
        uint32_t max = id == P_PAGE ? lim->max_depth : lim->max_per_page;
        int bad;
        if (jv)
            bad = !(jv->valuedouble >= 1 && jv->valuedouble <= max &&
                    jv->valuedouble == (double)(uint32_t)jv->valuedouble);
        else
            bad = parse_uint(s, n, 1, max, &v) != 0;
        if (bad)
            return sk_fail(c, 400, "invalid_parameter", name, "%s must be an integer from 1 to %u",
                           name, max);
        if (jv)
            v = (uint32_t)jv->valuedouble;
        if (id == P_PAGE)
            p->page = v;
        else
            p->per_page = v;
        return 0;
    }
    case P_EXPLAIN:
        if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1'))
            p->explain = 1;
        else if ((n == 5 && memcmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0'))
            p->explain = 0;
        else
            return sk_fail(c, 400, "invalid_parameter", name, "explain must be true or false");
        return 0;
    case P_LANG:
        if (n == 0 || n >= sizeof p->lang || memchr(s, 0, n))
            return sk_fail(c, 400, "invalid_parameter", name, "lang must be a language code");
        memcpy(p->lang, s, n);
        p->lang[n] = 0;
        if (!souk_language_stemmer(p->lang))
            return sk_fail(c, 400, "invalid_parameter", name, "unsupported language");
        return 0;
    case P_OPERATOR:
        if (n == 2 && memcmp(s, "or", 2) == 0)
            p->and_op = 0;
        else if (n == 3 && memcmp(s, "and", 3) == 0)
            p->and_op = 1;
        else
            return sk_fail(c, 400, "invalid_parameter", name, "operator must be \"or\" or \"and\"");
        return 0;
    }
    return 0;
}

/* Finds a parameter name; returns its id, or fails the request. */
static int lookup(sk_ctx *c, const char *name, size_t n, int *id)
{
    for (int i = 0; i < P_COUNT; i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) {
            *id = i;
            return 0;
        }
    char shown[48];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 40 ? n : 40), name);
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++)
        if (strlen(later[i]) == n && memcmp(later[i], name, n) == 0)
            return sk_fail(c, 400, "unsupported_parameter", later[i],
                           "%s is not supported by this version of the server", later[i]);
    for (size_t i = 0; shown[i]; i++)
        if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] >= 0x7f)
            shown[i] = '?';
    return sk_fail(c, 400, "unknown_parameter", shown, "unknown parameter \"%s\"", shown);
}

static int parse_get(sk_ctx *c, sparams *p)
{
    if (!c->query_string)
        return 0;
    const char *s = c->query_string, *end = s + c->query_len;
    sk_buf name = {0}, val = {0};
    int rc = 0;
    while (s && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (e > s) {
            const char *ne = eq ? eq : e;
            int id;
            if (sk_url_decode(s, (size_t)(ne - s), 1, &name) ||
                (eq && sk_url_decode(eq + 1, (size_t)(e - eq - 1), 1, &val))) {
                rc = sk_fail(c, 400, "bad_request", NULL,
                             "the query string has a malformed %%-escape");
                break;
            }
            if (!eq)
                val.len = 0;
            if ((rc = lookup(c, name.p, name.len, &id)) ||
                (rc = set_param(c, p, id, val.p ? val.p : "", val.len, NULL)))
                break;
        }
        s = e + 1;
    }
    sk_buf_free(&name);
    sk_buf_free(&val);
    return rc;
}

static int parse_post(sk_ctx *c, sparams *p)
{
    const sk_request *r = c->req;
    if (r->has_content_type && !r->json_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be JSON (Content-Type: application/json)");
    if (c->query_len)
        return sk_fail(c, 400, "bad_request", NULL,
                       "POST takes its parameters in the JSON body, not the query string");
    if (souk_utf8_check(r->body.p ? r->body.p : "", r->body.len) != r->body.len)
        return sk_fail(c, 400, "bad_request", NULL, "the body is not valid UTF-8");
    cJSON *root = cJSON_ParseWithLength(r->body.p ? r->body.p : "", r->body.len);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long at = ep && r->body.p && ep >= r->body.p ? (long)(ep - r->body.p) : 0;
        return sk_fail(c, 400, "bad_request", NULL,
                       "the body is not valid JSON (error near byte %ld)", at);
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = sk_fail(c, 400, "bad_request", NULL, "the body must be a JSON object");
    } else {
        const cJSON *it;
        cJSON_ArrayForEach(it, root)
        {
            int id;
            if ((rc = lookup(c, it->string, strlen(it->string), &id)) ||
                (rc = set_param(c, p, id, NULL, 0, it)))
                break;
        }
    }
    cJSON_Delete(root);
    return rc;
}

typedef struct explain_out {
    sk_buf *b;
    int first;
} explain_out;

static void on_term(void *ctx, const char *term, size_t len, uint32_t wdf, uint32_t doclen,
                    double termweight, double part)
{
    explain_out *e = ctx;
    sk_buf_str(e->b, e->first ? "{\"term\":" : ",{\"term\":");
    e->first = 0;
    sk_buf_json_str(e->b, term, len);
    sk_buf_printf(e->b, ",\"wdf\":%u,\"doclen\":%u,\"termweight\":%.17g,\"score\":%.17g}", wdf,
                  doclen, termweight, part);
}

int sk_ep_search(sk_ctx *c)
{
    sk_worker *w = c->w;
    sparams p = {.q = &w->scratch, .page = 1, .per_page = 10};
    w->scratch.len = 0;
    int rc = c->req->method == HTTP_POST ? parse_post(c, &p) : parse_get(c, &p);
    if (rc)
        return rc;
    if ((uint64_t)p.page * p.per_page > c->cfg->limits.max_depth)
        return sk_fail(c, 400, "invalid_parameter", "page", "page * per_page must not exceed %u",
                       c->cfg->limits.max_depth);
    uint32_t k = p.page * p.per_page;
    if (w->hits_cap < k) {
        souk_hit *h = souk_realloc(w->hits, (size_t)k * sizeof *h);
        if (!h)
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        w->hits = h;
        w->hits_cap = k;
    }
    if (souk_searcher_refresh(w->searcher))
        return sk_fail(c, 500, "internal", NULL, "cannot read the index");
    souk_search_opts o = {k, SOUK_BM25_DEFAULT, 0, p.lang[0] ? p.lang : NULL,
                          p.and_op ? SOUK_QP_DEFAULT_AND : 0};
    souk_search_stats sst;
    size_t n = 0;
    char err[512];
    const char *lang = o.lang ? o.lang : souk_index_schema(w->st->ix)->default_language;
    /* An empty query browses the catalog: every document, in docid order. */
    souk_qnode all = {.op = SOUK_QOP_MATCH_ALL};
    souk_query browse = {.nodes = &all, .nnodes = 1};
    souk_query *pq = NULL;
    const char *qs = p.q->p ? p.q->p : "";
    size_t qn = p.q->len;
    while (qn && (qs[qn - 1] == ' ' || qs[qn - 1] == '\t'))
        qn--;
    if (qn == 0) {
        pq = &browse;
    } else {
        size_t nf;
        const souk_qp_field *fields = souk_searcher_fields(w->searcher, &nf);
        rc = souk_query_parse(qs, qn, lang, fields, nf, o.qp_flags, &pq, err, sizeof err);
        if (rc == SOUK_EQUERY || rc == SOUK_EINVAL)
            return sk_fail(c, 400, "query_syntax", "q", "%s", err);
        if (rc)
            return sk_fail(c, 500, "internal", NULL, "query parser: %s", err);
    }
    rc = souk_search_query(w->searcher, pq, &o, w->hits, &n, &sst, err, sizeof err);
    if (rc) {
        if (pq != &browse)
            souk_query_free(pq);
        return rc == SOUK_EQUERY ? sk_fail(c, 400, "query_syntax", "q", "%s", err)
                                 : sk_fail(c, 500, "internal", NULL, "%s", err);
    }
    sk_buf *b = c->out;
    uint32_t first = (p.page - 1) * p.per_page;
    sk_buf_printf(b,
                  "{\"request_id\":\"%s\",\"total\":%llu,\"total_relation\":\"%s\","
                  "\"page\":%u,\"per_page\":%u,\"hits\":[",
                  c->request_id, (unsigned long long)sst.matched, sst.pruned ? "gte" : "eq", p.page,
                  p.per_page);
    souk_reader *r = souk_searcher_reader(w->searcher);
    for (size_t i = first; i < n; i++) {
        const char *id, *json;
        size_t il, jl;
        if (souk_reader_doc(r, w->hits[i].docid, &id, &il, &json, &jl))
            continue;
        sk_buf_str(b, i > first ? ",{\"id\":" : "{\"id\":");
        sk_buf_json_str(b, id, il);
        sk_buf_printf(b, ",\"score\":%.17g,\"fields\":", w->hits[i].score);
        sk_buf_add(b, jl ? json : "{}", jl ? jl : 2);
        if (p.explain) {
            explain_out e = {b, 1};
            double total;
            sk_buf_str(b, ",\"explain\":[");
            souk_search_explain(w->searcher, pq, &o, w->hits[i].docid, on_term, &e, &total);
            sk_buf_str(b, "]");
        }
        sk_buf_str(b, "}");
    }
    if (pq != &browse)
        souk_query_free(pq);
    uint64_t us = (sk_now_ns() - c->t0_ns) / 1000;
    if (sk_buf_printf(b, "],\"took_us\":%llu}\n", (unsigned long long)us))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
