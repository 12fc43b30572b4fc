/* router.c: one request in, one complete HTTP response out.
 *
 * The route table (api/endpoints.h) maps a path to its endpoint (ep_*.c), the methods it allows and
 * the credential it needs. Around every endpoint this file does what all of them share: request
 * ids, credentials (hashed keys compared in constant time), CORS, the JSON error body, the
 * response head, metrics and the access log. It runs on whatever thread owns the worker. */
#include "algolia.h"
#include "api_int.h"
#include "souk/lexicon.h"
#include "souk/souk.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const int sk_status_codes[SK_NSTATUS] = {200, 204, 400, 401, 403, 404, 405, 408, 413,
                                         414, 415, 429, 431, 500, 503, 202, 422, 0};
const double sk_bucket_le_us[SK_NBUCKETS - 1] = {50,     100,    250,    500,     1000,
                                                 2500,   5000,   10000,  25000,   50000,
                                                 100000, 250000, 500000, 1000000, 5000000};

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 202:
        return "Accepted";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

void sk_metrics_record(sk_metrics *m, int ep, int status, uint64_t us)
{
    if (!m)
        return;
    int si = 0;
    while (si < SK_NSTATUS - 2 && sk_status_codes[si] != status)
        si++;
    if (sk_status_codes[si] != status)
        si = SK_NSTATUS - 2; /* the slot of every other status */
    int cl = status >= 100 && status < 600 ? status / 100 - 1 : SK_NCLASSES - 1;
    int b = 0;
    while (b < SK_NBUCKETS - 1 && (double)us > sk_bucket_le_us[b])
        b++;
        /* Only this thread writes these counters: a relaxed load and store is enough. */
#define BUMP(x, v)                                                                                 \
    atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (v),            \
                          memory_order_relaxed)
    BUMP(m->count[ep][si], 1);
    BUMP(m->bucket[ep][cl][b], 1);
    BUMP(m->sum_us[ep][cl], us);
#undef BUMP
}

sk_config *sk_state_config(sk_server_state *st)
{
    pthread_mutex_lock(st->metrics_lock);
    sk_config *c = atomic_load(&st->config);
    sk_config_ref(c);
    pthread_mutex_unlock(st->metrics_lock);
    return c;
}

void sk_state_set_config(sk_server_state *st, sk_config *c)
{
    pthread_mutex_lock(st->metrics_lock);
    sk_config *old = atomic_exchange(&st->config, c);
    pthread_mutex_unlock(st->metrics_lock);
    sk_config_unref(old);
}

int sk_worker_new(sk_server_state *st, sk_worker **out)
{
    sk_worker *w = souk_calloc(1, sizeof *w);
    if (!w)
        return SOUK_ENOMEM;
    w->st = st;
    w->conn_fd = -1;
    w->m = souk_calloc(1, sizeof *w->m);
    if (!w->m || souk_searcher_new(st->ix, &w->searcher)) {
        souk_free(w->m);
        souk_free(w);
        return SOUK_ENOMEM;
    }
    /* A worker holds a read snapshot only while it answers a request: an open LMDB read
     * transaction pins every page freed after it, and the data file then grows with each
     * commit (docs/architecture.md, "Snapshots"). */
    souk_reader_release(souk_searcher_reader(w->searcher));
    uint32_t r = randombytes_random();
    snprintf(w->rid_prefix, sizeof w->rid_prefix, "%08x", r);
    w->scratch.max = 1 << 20;
    pthread_mutex_lock(st->metrics_lock);
    w->m->next = st->metrics;
    st->metrics = w->m;
    pthread_mutex_unlock(st->metrics_lock);
    *out = w;
    return 0;
}

/* The metrics stay registered (they are summed until the server exits); the server frees the
 * list at exit. */
void sk_worker_free(sk_worker *w)
{
    if (!w)
        return;
    sk_worker_profiles_free(w);
    souk_searcher_free(w->searcher);
    souk_free(w->hits);
    sk_buf_free(&w->scratch);
    souk_free(w);
}

int sk_fail(sk_ctx *c, int status, const char *code, const char *field, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->out->len = 0;
    c->content_type = "application/json";
    sk_buf_str(c->out, "{\"error\":{\"code\":");
    sk_buf_json_str(c->out, code, strlen(code));
    sk_buf_str(c->out, ",\"message\":");
    sk_buf_json_str(c->out, msg, strlen(msg));
    if (field) {
        sk_buf_str(c->out, ",\"field\":");
        sk_buf_json_str(c->out, field, strlen(field));
    }
    sk_buf_printf(c->out, "},\"request_id\":\"%s\"}\n", c->request_id);
    c->status = status;
    return status;
}

static void head(sk_buf *out, int status, const char *ctype, size_t body_len, int close)
{
    sk_buf_printf(out,
                  "HTTP/1.1 %d %s\r\nServer: souk\r\nContent-Type: %s\r\nContent-Length: "
                  "%zu\r\nConnection: %s\r\n",
                  status, reason(status), ctype, body_len, close ? "close" : "keep-alive");
}

/* A new request id into out: the worker's random prefix and its count, or (without a worker, on
 * a thread that owns none) 16 random hex digits. */
static void new_request_id(sk_worker *w, char out[SK_HDR_RID_MAX + 1])
{
    if (w)
        snprintf(out, SK_HDR_RID_MAX + 1, "%s%08llx", w->rid_prefix,
                 (unsigned long long)++w->rid_seq);
    else
        snprintf(out, SK_HDR_RID_MAX + 1, "%08x%08x", randombytes_random(), randombytes_random());
}

void sk_error_response(sk_worker *w, const sk_request *req, int status, const char *code,
                       const char *message, int close, sk_buf *out)
{
    char rid[SK_HDR_RID_MAX + 1];
    if (req && req->request_id[0])
        memcpy(rid, req->request_id, sizeof rid);
    else
        new_request_id(w, rid);
    sk_buf body = {0};
    sk_buf_str(&body, "{\"error\":{\"code\":");
    sk_buf_json_str(&body, code, strlen(code));
    sk_buf_str(&body, ",\"message\":");
    sk_buf_json_str(&body, message, strlen(message));
    sk_buf_printf(&body, "},\"request_id\":\"%s\"}\n", rid);
    head(out, status, "application/json", body.len, close);
    sk_buf_printf(out, "X-Request-Id: %s\r\n", rid);
    if (status == 503 || status == 429)
        sk_buf_str(out, "Retry-After: 1\r\n");
    sk_buf_str(out, "\r\n");
    sk_buf_add(out, body.p, body.len);
    sk_buf_free(&body);
}

/* ------------------------------------------------------------------ credentials */

/* 1 when hash equals one of keys; every key is compared, in constant time. */
static int key_in(const uint8_t h[SK_KEY_HASH_LEN], uint8_t (*keys)[SK_KEY_HASH_LEN], size_t n)
{
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= sodium_memcmp(h, keys[i], SK_KEY_HASH_LEN) == 0;
    return found;
}

/* Verifies the request's X-User-Token into c->user. Returns 0 (also when there is none) or the
 * status. The token is never echoed. */
static int verify_user(sk_ctx *c)
{
    const sk_request *r = c->req;
    if (!r->user_token_len && !r->user_token_over)
        return 0;
    const souk_keyring *ring = c->cfg->ev.token_ring;
    if (!ring)
        return sk_fail(c, 401, "user_tokens_disabled", NULL,
                       "this server accepts no user tokens (no \"token_key_file\" configured)");
    if (r->user_token_over)
        return sk_fail(c, 401, "invalid_user_token", NULL,
                       "the X-User-Token is longer than %d bytes", SOUK_TOKEN_MAX);
    char err[256];
    int rc = souk_token_verify(ring, r->user_token, r->user_token_len, sk_now_ms() / 1000, &c->user,
                               err, sizeof err);
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 401, "expired_user_token", NULL, "the user token has expired: %s", err);
    if (rc)
        return sk_fail(c, 401, "invalid_user_token", NULL, "the user token is not valid: %s", err);
    /* A regional server serves its own region's users only (docs/scaling.md, "Regions"). */
    if (c->cfg->ev.region[0] && strcmp(c->user.region, c->cfg->ev.region) != 0)
        return sk_fail(c, 403, "wrong_region", NULL,
                       "this server serves the users of region \"%s\"; the token is for %s%s%s",
                       c->cfg->ev.region, c->user.region[0] ? "region \"" : "no region",
                       c->user.region, c->user.region[0] ? "\"" : "");
    c->has_user = 1;
    return 0;
}

/* Checks the request's credential for an endpoint needing `need`. Returns 0 or the status. */
static int authorize(sk_ctx *c, int need)
{
    const sk_config *cfg = c->cfg;
    if (need == SK_AUTH_NONE || need == SK_AUTH_EVENTS)
        return 0;
    /* A user's own data: the user token alone names the user, whatever key comes with it. */
    if (need == SK_AUTH_USER) {
        if (!cfg->ev.enabled || !cfg->ev.token_ring)
            return sk_fail(c, 404, "events_disabled", NULL,
                           "this server keeps no user data (no \"pseudonym_key_file\" or "
                           "\"token_key_file\" configured)");
        if (!c->req->user_token_len && !c->req->user_token_over)
            return sk_fail(c, 401, "missing_user_token", NULL,
                           "this endpoint needs the user's token in the X-User-Token header");
        return verify_user(c);
    }
    if (sk_config_nkeys(cfg) == 0) {
        c->is_admin = 1; /* no keys configured: development mode, documented */
        return need == SK_AUTH_SEARCH ? verify_user(c) : 0;
    }
    const sk_request *r = c->req;
    if (r->auth_scheme_bad)
        return sk_fail(c, 401, "unsupported_auth_scheme", NULL,
                       "Authorization must be \"Bearer KEY\" (or send the key in X-Api-Key)");
    const char *key = r->api_key;
    size_t key_len = r->api_key_len;
    int key_over = r->api_key_over;
    /* Algolia's browser client sends its key as the query parameter x-algolia-api-key. */
    char qkey[SK_HDR_KEY_MAX + 1];
    if (key_len == 0 && !key_over && sk_algolia_endpoint(c->ep) &&
        sk_algolia_query_key(c, qkey, &key_len, &key_over))
        key = qkey;
    if (key_len == 0)
        return sk_fail(c, 401, "missing_credentials", NULL,
                       "this endpoint needs a key in the X-Api-Key header");
    uint8_t h[SK_KEY_HASH_LEN];
    sk_key_hash(key, key_len, h);
    sodium_memzero(qkey, sizeof qkey);
    int ok = !key_over;
    int admin = ok && key_in(h, cfg->admin_keys, cfg->nadmin_keys);
    int search = ok && key_in(h, cfg->search_keys, cfg->nsearch_keys);
    int ingest = ok && key_in(h, cfg->ingest_keys, cfg->ningest_keys);
    int analyst = ok && key_in(h, cfg->analyst_keys, cfg->nanalyst_keys);
    sodium_memzero(h, sizeof h);
    if (!admin && !search && !ingest && !analyst)
        return sk_fail(c, 401, "invalid_credentials", NULL, "the key is not valid");
    /* Least privilege: each kind of key reaches its own endpoints; an admin key reaches all. */
    if (need == SK_AUTH_ADMIN && !admin)
        return sk_fail(c, 403, "forbidden", NULL, "this endpoint needs an admin key");
    if (need == SK_AUTH_SEARCH && !admin && !search)
        return sk_fail(c, 403, "forbidden", NULL, "this endpoint needs a search key");
    if (need == SK_AUTH_INGEST && !admin && !ingest)
        return sk_fail(c, 403, "forbidden", NULL, "this endpoint needs an ingest key");
    if (need == SK_AUTH_ANALYST && !admin && !analyst)
        return sk_fail(c, 403, "forbidden", NULL, "this endpoint needs an analyst key");
    c->is_admin = admin;
    /* A search with the user's token is that user's (history, personalization). */
    return need == SK_AUTH_SEARCH ? verify_user(c) : 0;
}

/* ------------------------------------------------------------------ routes */

#define SK_ENDPOINT(path, label, methods, auth, handler) {path, label, methods, auth, handler},
const sk_route sk_routes[EP_COUNT - 1] = {
#include "endpoints.h"
};
#undef SK_ENDPOINT

const char *sk_endpoint_label(int ep)
{
    return ep >= 0 && ep < EP_COUNT - 1 ? sk_routes[ep].label : "other";
}

/* Endpoints a browser calls with a key answer CORS preflights. */
static int allows_options(const sk_route *rt)
{
    return rt->auth == SK_AUTH_SEARCH || rt->auth == SK_AUTH_USER || rt->auth == SK_AUTH_EVENTS;
}

/* The Allow header of a route: its methods, and OPTIONS when it answers preflights. */
static void allow_header(const sk_route *rt, char *out, size_t cap)
{
    static const struct {
        unsigned bit;
        const char *name;
    } m[] = {{SK_GET, "GET"},
             {SK_HEAD, "HEAD"},
             {SK_POST, "POST"},
             {SK_PUT, "PUT"},
             {SK_DELETE, "DELETE"}};
    size_t n = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (rt->methods & m[i].bit)
            n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? ", " : "", m[i].name);
    if (allows_options(rt))
        snprintf(out + n, n < cap ? cap - n : 0, ", OPTIONS");
}

/* The route of a decoded path: an exact pattern, or a pattern ending in "{id}" whose prefix the
 * path extends (the rest, non-empty, is the argument). */
static int match(const char *path, size_t len, const char **arg, size_t *arg_len)
{
    for (int i = 0; i < EP_COUNT - 1; i++) {
        const char *pat = sk_routes[i].pattern;
        size_t pl = strlen(pat);
        if (pl > 4 && strcmp(pat + pl - 4, "{id}") == 0) {
            pl -= 4;
            if (len > pl && memcmp(path, pat, pl) == 0) {
                *arg = path + pl;
                *arg_len = len - pl;
                return i;
            }
        } else if (len == pl && memcmp(path, pat, pl) == 0) {
            *arg = NULL;
            *arg_len = 0;
            return i;
        }
    }
    return -1;
}

/* The CORS origin to allow for this request, or NULL. */
static const char *cors_origin(const sk_ctx *c)
{
    const char *o = c->req->origin;
    if (!o[0] || c->req->origin_over)
        return NULL;
    for (size_t i = 0; i < c->cfg->ncors; i++)
        if (strcmp(c->cfg->cors_origins[i], "*") == 0 || strcmp(c->cfg->cors_origins[i], o) == 0)
            return o;
    return NULL;
}

static void access_log(sk_ctx *c, int ep, size_t bytes, uint64_t us)
{
    FILE *f = c->w->st->access_log;
    if (!f)
        return;
    /* Only the route's template is logged: no query string, item id, key or token. */
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(c->w->st->log_lock);
    fprintf(f, "%s %s %s %d %zu %lluus %s\n", ts, http_method_str(c->req->method),
            ep < EP_COUNT - 1 ? sk_routes[ep].pattern : "other", c->status, bytes,
            (unsigned long long)us, c->request_id);
    fflush(f);
    pthread_mutex_unlock(c->w->st->log_lock);
}

int sk_handle(sk_worker *w, const sk_request *req, int keep_alive_ok, sk_buf *out)
{
    sk_buf body = {0};
    body.max = (size_t)64 << 20;
    sk_ctx c = {.w = w,
                .req = req,
                .out = &body,
                .status = 200,
                .nhits = -1,
                .ep = EP_OTHER,
                .content_type = "application/json",
                .t0_ns = sk_now_ns()};
    c.cfg = sk_state_config(w->st);
    souk_searcher_set_lexicon(w->searcher, c.cfg->lexicon); /* live: follows SIGHUP */
    souk_searcher_set_doc_cache(w->searcher, (size_t)c.cfg->limits.doc_cache_mb << 20);
    if (req->request_id[0])
        memcpy(c.request_id, req->request_id, sizeof c.request_id);
    else
        new_request_id(w, c.request_id);
    int ep = EP_OTHER;
    const sk_route *rt = NULL;
    char allow[64] = "GET";
    int close = !req->keep_alive || !keep_alive_ok;

    /* The request target: origin-form, or absolute-form with the authority skipped. */
    const char *u = req->url.p ? req->url.p : "";
    size_t ulen = req->url.len;
    if (ulen > 7 && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)) {
        const char *p = memchr(u + 8, '/', ulen - 8);
        ulen = p ? ulen - (size_t)(p - u) : 1;
        u = p ? p : "/";
    }
    const char *qm = memchr(u, '?', ulen);
    size_t plen = qm ? (size_t)(qm - u) : ulen;
    sk_buf path = {0};
    path.max = ulen + 1;
    if (sk_url_decode(u, plen, 0, &path)) {
        sk_fail(&c, 400, "bad_request", NULL, "the path has a malformed %%-escape");
        goto done;
    }
    if (qm) {
        c.query_string = qm + 1;
        c.query_len = ulen - plen - 1;
    }
    c.path = path.p;
    ep = match(path.p, path.len, &c.path_arg, &c.path_arg_len);
    if (ep < 0) {
        ep = EP_OTHER;
        sk_fail(&c, 404, "not_found", NULL, "no endpoint at this path");
        goto done;
    }
    rt = &sk_routes[ep];
    c.ep = ep;
    allow_header(rt, allow, sizeof allow);
    /* Draining: requests still arriving are answered, and their connections closed; health
     * checks fail so that load balancers stop sending. */
    if (atomic_load(&w->st->draining)) {
        close = 1;
        if (ep == SK_EP_sk_ep_healthz) {
            sk_fail(&c, 503, "shutting_down", NULL, "the server is shutting down");
            goto done;
        }
    }
    if (req->method == HTTP_OPTIONS && allows_options(rt)) {
        c.status = 204; /* CORS preflight: the headers are added below */
        goto done;
    }
    if (req->method >= 32 || !(rt->methods & (1u << req->method))) {
        sk_fail(&c, 405, "method_not_allowed", NULL, "%s is not allowed here; allowed: %s",
                http_method_str(req->method), allow);
        goto done;
    }
    if (authorize(&c, rt->auth))
        goto done;
    rt->handler(&c);
    souk_doc_cache_stats dc;
    souk_searcher_doc_cache_stats(w->searcher, &dc);
    atomic_store_explicit(&w->m->doc_cache_hits, dc.hits, memory_order_relaxed);
    atomic_store_explicit(&w->m->doc_cache_misses, dc.misses, memory_order_relaxed);
    atomic_store_explicit(&w->m->doc_cache_bytes, dc.bytes, memory_order_relaxed);

done:
    if (c.status >= 400 && sk_algolia_endpoint(ep)) /* errors in the shape its clients read */
        sk_algolia_error_shape(&c);
    if (body.len == 0 && c.status >= 400) /* out of memory while writing the error */
        sk_buf_str(&body, "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n");
    if (c.status == 204)
        body.len = 0;
    size_t start = out->len;
    head(out, c.status, c.content_type, body.len, close);
    sk_buf_printf(out, "X-Request-Id: %s\r\n", c.request_id);
    if (c.extra_headers && c.status < 300)
        sk_buf_str(out, c.extra_headers);
    if (c.status == 405 || c.status == 204)
        sk_buf_printf(out, "Allow: %s\r\n", allow);
    if (c.status == 401)
        sk_buf_str(out, "WWW-Authenticate: Bearer realm=\"souk\"\r\n");
    if (c.status == 503)
        sk_buf_str(out, "Retry-After: 1\r\n");
    const char *origin = rt ? cors_origin(&c) : NULL;
    if (origin) {
        sk_buf_printf(out, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
        if (req->method == HTTP_OPTIONS)
            sk_buf_printf(out,
                          "Access-Control-Allow-Methods: %s\r\nAccess-Control-Allow-Headers: "
                          "X-Api-Key, Authorization, Content-Type, X-Request-Id, "
                          "X-User-Token, X-Algolia-API-Key, X-Algolia-Application-Id\r\n"
                          "Access-Control-Max-Age: 600\r\n",
                          allow);
        else
            sk_buf_str(out, "Access-Control-Expose-Headers: X-Request-Id\r\n");
    }
    sk_buf_str(out, "\r\n");
    if (req->method != HTTP_HEAD)
        sk_buf_add(out, body.p, body.len);
    uint64_t us = (sk_now_ns() - c.t0_ns) / 1000;
    sk_metrics_record(w->m, ep, c.status, us);
    access_log(&c, ep, out->len - start, us);
    sk_buf_free(&path);
    sk_buf_free(&body);
    souk_reader_release(souk_searcher_reader(w->searcher)); /* no snapshot outlives its request */
    souk_searcher_set_lexicon(w->searcher, NULL);
    sk_config_unref(c.cfg);
    return c.status;
}
