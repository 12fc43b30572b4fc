/* ep_insights.c: POST /1/events, the events of Algolia's Insights API (what InstantSearch's
 * insights middleware sends through search-insights), into the behaviour-event store exactly as
 * POST /v1/events stores them: the same allow-list types, pseudonymization, consent (P5: an
 * opted-out user's event keeps no user key) and inbox (souk_events_enqueue). docs/algolia.md,
 * "Insights", says what is mapped, refused and why.
 *
 * The credential is the user, not a key: a browser holds only the public search key, so every
 * event must carry a valid Souk user token (signed by the platform's backend, souk/keys.h) as its
 * authenticatedUserToken or userToken; the user of a stored event comes from that token alone.
 * What one token can write is bounded: at most INS_EVENTS_MAX events and INS_ITEMS_MAX items a
 * request, and limits.max_insights_events_per_minute items per user (a token bucket shared by
 * the server's threads). A request is stored whole or not at all, as the Insights API does, and
 * every refusal answers in the Insights error shape {"status","message"} (plus Souk's "code" and
 * "request_id"). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define INS_EVENTS_MAX 1000 /* events of a request (the Insights API's own limit) */
#define INS_OBJECTS_MAX 20  /* objectIDs of one event (the Insights API's own limit) */
#define INS_ITEMS_MAX 1000  /* Souk events one request makes: one per objectID */
#define INS_NAME_MAX 64     /* eventName */
#define INS_INDEX_MAX 256
#define INS_QUERYID_MAX 64
#define INS_PAST_MS (4LL * 86400000) /* an event's timestamp: at most 4 days old... */
#define INS_FUTURE_MS 3600000LL      /* ...and at most an hour ahead of the server's clock */

/* ------------------------------------------------------------------ answers */

/* The Insights error body {"status","message","code","request_id"} and status; returns status. */
static int ins_fail(sk_ctx *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ins_fail(sk_ctx *c, int status, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->out->len = 0;
    c->content_type = "application/json";
    sk_buf_printf(c->out, "{\"status\":%d,\"message\":", status);
    sk_buf_json_str(c->out, msg, strlen(msg));
    sk_buf_str(c->out, ",\"code\":");
    sk_buf_json_str(c->out, code, strlen(code));
    sk_buf_printf(c->out, ",\"request_id\":\"%s\"}\n", c->request_id);
    c->status = status;
    return status;
}

/* ------------------------------------------------------------------ the per-user budget */

/* A token bucket per user, direct-mapped by a keyed hash of the user id (the key random per
 * process, so nobody can aim two users at one slot); a user whose slot another took starts
 * again with a full bucket, which only ever loosens the budget. */
#define INS_SLOTS 8192
typedef struct ins_bucket {
    uint8_t who[16];
    double tokens;
    int64_t at_ms;
} ins_bucket;
static ins_bucket buckets[INS_SLOTS];
static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t bucket_key[crypto_generichash_KEYBYTES];
static pthread_once_t bucket_once = PTHREAD_ONCE_INIT;

static void bucket_init(void)
{
    randombytes_buf(bucket_key, sizeof bucket_key);
}

/* One user of a request and the items the request gives them. */
typedef struct ins_user {
    uint8_t who[16];
    uint32_t items;
} ins_user;

static void user_hash(const char *user, size_t len, uint8_t who[16])
{
    pthread_once(&bucket_once, bucket_init);
    crypto_generichash(who, 16, (const unsigned char *)user, len, bucket_key, sizeof bucket_key);
}

/* Takes u[i].items from each user's bucket (per_min a minute, refilled continuously) when every
 * one of them has enough, else takes nothing. 1 when taken. Any thread. */
static int budget_take(const ins_user *u, size_t n, uint32_t per_min, int64_t now)
{
    int ok = 1;
    pthread_mutex_lock(&bucket_lock);
    for (size_t pass = 0; pass < 2 && ok; pass++) {
        for (size_t i = 0; i < n; i++) {
            uint32_t slot =
                ((uint32_t)u[i].who[0] | (uint32_t)u[i].who[1] << 8 | (uint32_t)u[i].who[2] << 16) %
                INS_SLOTS;
            ins_bucket *b = &buckets[slot];
            if (memcmp(b->who, u[i].who, sizeof b->who) != 0) {
                memcpy(b->who, u[i].who, sizeof b->who);
                b->tokens = per_min;
                b->at_ms = now;
            }
            if (now > b->at_ms) {
                b->tokens += (double)(now - b->at_ms) * per_min / 60000.0;
                if (b->tokens > per_min)
                    b->tokens = per_min;
                b->at_ms = now;
            }
            if (pass == 0 && b->tokens < u[i].items)
                ok = 0;
            if (pass == 1)
                b->tokens -= u[i].items;
        }
    }
    pthread_mutex_unlock(&bucket_lock);
    return ok;
}

/* ------------------------------------------------------------------ credentials */

/* 1 when the key is one of keys (every one compared, in constant time). */
static int key_among(const uint8_t h[SK_KEY_HASH_LEN], uint8_t (*keys)[SK_KEY_HASH_LEN], size_t n)
{
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= sodium_memcmp(h, keys[i], SK_KEY_HASH_LEN) == 0;
    return found;
}

/* The query string: search-insights sends its credentials there (navigator.sendBeacon cannot set
 * headers): X-Algolia-Application-Id (ignored), X-Algolia-API-Key and X-Algolia-Agent
 * (ignored), names in any case. The key, decoded, goes to key (empty: none); anything else is
 * 400 naming it. 0 or the status. */
static int read_params(sk_ctx *c, sk_buf *key)
{
    const char *s = c->query_string, *end = s ? s + c->query_len : NULL;
    sk_buf name = {0};
    name.max = 256;
    int rc = 0;
    while (s && s < end && !rc) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *ne = eq ? eq : e;
        if (e > s) {
            name.len = 0;
            if (sk_url_decode(s, (size_t)(ne - s), 1, &name)) {
                rc = ins_fail(c, 400, "bad_request", "the query string has a malformed %%-escape");
                break;
            }
            if (name.len == 24 && strncasecmp(name.p, "x-algolia-application-id", 24) == 0) {
                /* Souk has no application: ignored, as the search protocol ignores it */
            } else if (name.len == 15 && strncasecmp(name.p, "x-algolia-agent", 15) == 0) {
                /* the client's name and version */
            } else if (name.len == 17 && strncasecmp(name.p, "x-algolia-api-key", 17) == 0) {
                if (key->len) {
                    rc = ins_fail(c, 400, "invalid_parameter", "X-Algolia-API-Key is given twice");
                } else if (eq && sk_url_decode(eq + 1, (size_t)(e - eq - 1), 1, key)) {
                    rc = ins_fail(c, 400, "bad_request",
                                  "the query string has a malformed %%-escape");
                }
            } else {
                char shown[48];
                size_t n = name.len < 40 ? name.len : 40;
                for (size_t i = 0; i < n; i++)
                    shown[i] = (unsigned char)name.p[i] < 0x20 || (unsigned char)name.p[i] >= 0x7f
                                   ? '?'
                                   : name.p[i];
                shown[n] = 0;
                rc = ins_fail(c, 400, "unknown_parameter",
                              "unknown parameter \"%s\" (POST /1/events takes only "
                              "X-Algolia-Application-Id, X-Algolia-API-Key and X-Algolia-Agent)",
                              shown);
            }
        }
        s = e + 1;
    }
    sk_buf_free(&name);
    return rc;
}

/* With keys configured, the request needs a search, ingest or admin key: in the query string
 * (search-insights) or in X-Api-Key / Authorization: Bearer. 0 or the status. */
static int check_key(sk_ctx *c, const sk_buf *qkey)
{
    const sk_config *cfg = c->cfg;
    if (sk_config_nkeys(cfg) == 0)
        return 0; /* development mode */
    const sk_request *r = c->req;
    const char *k = qkey->len ? qkey->p : r->api_key;
    size_t kl = qkey->len ? qkey->len : r->api_key_len;
    if (!kl)
        return ins_fail(c, 401, "missing_credentials",
                        "POST /1/events needs the search key (X-Algolia-API-Key)");
    if (!qkey->len && (r->api_key_over || r->auth_scheme_bad))
        return ins_fail(c, 401, "invalid_credentials", "the key is not valid");
    uint8_t h[SK_KEY_HASH_LEN];
    sk_key_hash(k, kl, h);
    int ok = key_among(h, cfg->search_keys, cfg->nsearch_keys) ||
             key_among(h, cfg->ingest_keys, cfg->ningest_keys) ||
             key_among(h, cfg->admin_keys, cfg->nadmin_keys);
    int analyst = key_among(h, cfg->analyst_keys, cfg->nanalyst_keys);
    sodium_memzero(h, sizeof h);
    if (!ok && analyst)
        return ins_fail(c, 403, "forbidden", "POST /1/events needs a search key");
    if (!ok)
        return ins_fail(c, 401, "invalid_credentials", "the key is not valid");
    return 0;
}

/* The last token verified, so that a batch of one user's events verifies it once. */
typedef struct tok_cache {
    const char *tok; /* a string of the parsed body */
    souk_token_claims claims;
} tok_cache;

/* The user of event i (ev): its authenticatedUserToken, else its userToken, must be a valid Souk
 * user token; its claims go to *out. 0 or the status. The token is never echoed. */
static int event_user(sk_ctx *c, const cJSON *ev, size_t i, tok_cache *tc,
                      const souk_token_claims **out)
{
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(ev, "authenticatedUserToken");
    const cJSON *anon = cJSON_GetObjectItemCaseSensitive(ev, "userToken");
    if (auth && !cJSON_IsString(auth))
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].authenticatedUserToken must be a string", i);
    if (anon && !cJSON_IsString(anon))
        return ins_fail(c, 422, "invalid_event", "events[%zu].userToken must be a string", i);
    const cJSON *t = auth ? auth : anon;
    const char *member = auth ? "authenticatedUserToken" : "userToken";
    if (!t)
        return ins_fail(c, 401, "missing_user_token",
                        "events[%zu] has no user token: Souk stores an event only with the "
                        "user's signed token as its authenticatedUserToken or userToken",
                        i);
    const souk_keyring *ring = c->cfg->ev.token_ring;
    if (!ring)
        return ins_fail(c, 401, "user_tokens_disabled",
                        "this server accepts no user tokens (no \"token_key_file\" configured), "
                        "so it stores no Insights event");
    const char *tok = t->valuestring;
    if (tc->tok && strcmp(tc->tok, tok) == 0) {
        *out = &tc->claims;
        return 0;
    }
    size_t len = strlen(tok);
    if (len > SOUK_TOKEN_MAX)
        return ins_fail(c, 401, "invalid_user_token",
                        "events[%zu].%s is not a valid user token: longer than %d bytes", i, member,
                        SOUK_TOKEN_MAX);
    char err[256];
    int rc = souk_token_verify(ring, tok, len, sk_now_ms() / 1000, &tc->claims, err, sizeof err);
    if (rc == SOUK_ENOTFOUND)
        return ins_fail(c, 401, "expired_user_token", "events[%zu].%s has expired: %s", i, member,
                        err);
    if (rc) {
        tc->tok = NULL;
        return ins_fail(c, 401, "invalid_user_token",
                        "events[%zu].%s is not a valid Souk user token (%s): an anonymous or "
                        "unsigned token is refused, and nothing of the request is stored",
                        i, member, err);
    }
    tc->tok = tok;
    *out = &tc->claims;
    return 0;
}

/* ------------------------------------------------------------------ events */

/* 1 when s (n bytes) is valid UTF-8 without control characters. */
static int clean_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x20 || b == 0x7f)
            return 0;
        size_t k = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

/* A string member of event i: required or not, 1..max bytes of clean text. *out NULL when absent
 * and not required. 0 or the status. */
static int str_member(sk_ctx *c, const cJSON *ev, size_t i, const char *name, int required,
                      size_t max, const char **out)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, name);
    *out = NULL;
    if (!m) {
        if (required)
            return ins_fail(c, 422, "invalid_event", "events[%zu].%s is required", i, name);
        return 0;
    }
    if (!cJSON_IsString(m))
        return ins_fail(c, 422, "invalid_event", "events[%zu].%s must be a string", i, name);
    size_t n = strlen(m->valuestring);
    if (n == 0 || n > max)
        return ins_fail(c, 422, "invalid_event", "events[%zu].%s must hold 1 to %zu bytes", i, name,
                        max);
    if (!clean_text(m->valuestring, n))
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].%s must be UTF-8 text without control characters", i, name);
    *out = m->valuestring;
    return 0;
}

/* The Souk type of event i from eventType and eventSubtype (P2: a name maps to a known type or is
 * refused). 0 or the status. */
static int event_type(sk_ctx *c, const cJSON *ev, size_t i, souk_ev_type *type)
{
    const char *t, *sub;
    int rc = str_member(c, ev, i, "eventType", 1, 32, &t);
    if (!rc)
        rc = str_member(c, ev, i, "eventSubtype", 0, 32, &sub);
    if (rc)
        return rc;
    if (strcmp(t, "click") == 0 || strcmp(t, "view") == 0) {
        if (sub)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].eventSubtype is only for a conversion", i);
        *type = t[0] == 'c' ? SOUK_EV_CLICK : SOUK_EV_VIEW;
        return 0;
    }
    if (strcmp(t, "conversion") != 0)
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].eventType must be \"click\", \"conversion\" or \"view\"", i);
    if (sub && strcmp(sub, "addToCart") == 0)
        *type = SOUK_EV_CART;
    else if (sub && strcmp(sub, "purchase") == 0)
        *type = SOUK_EV_PURCHASE;
    else
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].eventSubtype must be \"addToCart\" or \"purchase\" on a "
                        "conversion (Souk keeps carts and purchases; another conversion has no "
                        "event type to map to)",
                        i);
    return 0;
}

/* The members an event may have; the rest are refused by name (never silently ignored). */
static const char *const known_members[] = {
    "eventType", "eventSubtype",  "eventName",
    "index",     "userToken",     "authenticatedUserToken",
    "objectIDs", "positions",     "queryID",
    "timestamp", "algoliaSource",
};

/* Checks event i (every member) and appends one Souk event per objectID to ev[*n..] (at most
 * INS_ITEMS_MAX in all). 0 or the status. */
static int parse_event(sk_ctx *c, const cJSON *e, size_t i, int64_t now, tok_cache *tc,
                       souk_event *ev, size_t *n, ins_user *users, size_t *nusers)
{
    if (!cJSON_IsObject(e))
        return ins_fail(c, 422, "invalid_event", "events[%zu] must be an object", i);
    const char *et = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "eventType"));
    if (et && strcmp(et, "instantsearch") == 0)
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].eventType \"instantsearch\" is InstantSearch's own start-up "
                        "signal, not a shopper's event: Souk stores none",
                        i);
    const cJSON *m;
    cJSON_ArrayForEach(m, e)
    {
        size_t k = 0;
        while (k < sizeof known_members / sizeof known_members[0] &&
               strcmp(known_members[k], m->string) != 0)
            k++;
        if (k == sizeof known_members / sizeof known_members[0]) {
            int filters = strcmp(m->string, "filters") == 0;
            return ins_fail(c, 422, "unsupported_member", "events[%zu].%.40s is not supported%s", i,
                            m->string,
                            filters ? ": Souk keeps events on items; send objectIDs" : "");
        }
    }
    souk_ev_type type = SOUK_EV_CLICK;
    const char *name, *index, *qid;
    int rc = event_type(c, e, i, &type);
    if (!rc)
        rc = str_member(c, e, i, "eventName", 1, INS_NAME_MAX, &name);
    if (!rc)
        rc = str_member(c, e, i, "index", 1, INS_INDEX_MAX, &index);
    if (!rc)
        rc = str_member(c, e, i, "queryID", 0, INS_QUERYID_MAX, &qid);
    if (rc)
        return rc;
    for (const char *q = qid; q && *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
              *q == '-' || *q == '_'))
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].queryID must be letters, digits, '-' and '_'", i);
    /* InstantSearch marks its events' origin ("instantsearch", "instantsearch-internal"):
     * checked, dropped. */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(e, "algoliaSource");
    if (src) {
        int ok = cJSON_IsArray(src) && cJSON_GetArraySize(src) <= 8;
        cJSON_ArrayForEach(m, src) ok &= cJSON_IsString(m) && strlen(m->valuestring) <= 64;
        if (!ok)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].algoliaSource must be an array of at most 8 strings", i);
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(e, "objectIDs");
    if (!ids)
        return ins_fail(c, 422, "invalid_event", "events[%zu].objectIDs is required", i);
    int nids = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : -1;
    if (nids < 1 || nids > INS_OBJECTS_MAX)
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].objectIDs must be an array of 1 to %d item ids", i,
                        INS_OBJECTS_MAX);
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(e, "positions");
    if (pos) {
        if (type != SOUK_EV_CLICK || !qid)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].positions is only for a click after a search (with its "
                            "queryID)",
                            i);
        if (!cJSON_IsArray(pos) || cJSON_GetArraySize(pos) != nids)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].positions must be an array as long as objectIDs", i);
        int j = 0;
        cJSON_ArrayForEach(m, pos)
        {
            if (!cJSON_IsNumber(m) || m->valuedouble < 1 || m->valuedouble > 1e6 ||
                m->valuedouble != (double)(int)m->valuedouble)
                return ins_fail(c, 422, "invalid_event",
                                "events[%zu].positions[%d] must be an integer from 1 to 1000000", i,
                                j);
            j++;
        }
    } else if (type == SOUK_EV_CLICK && qid) {
        return ins_fail(c, 422, "invalid_event",
                        "events[%zu].positions is required on a click with a queryID", i);
    }
    int64_t ts = now;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "timestamp");
    if (t) {
        double d = cJSON_IsNumber(t) ? t->valuedouble : -1;
        if (d < 0 || d > 9e15 || d != (double)(int64_t)d)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].timestamp must be milliseconds since the epoch", i);
        ts = (int64_t)d;
        if (ts < now - INS_PAST_MS || ts > now + INS_FUTURE_MS)
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].timestamp must lie within the last 4 days (and at most "
                            "an hour ahead of the server's clock)",
                            i);
    }
    const souk_token_claims *who;
    rc = event_user(c, e, i, tc, &who);
    if (rc)
        return rc;
    if (*n + (size_t)nids > INS_ITEMS_MAX)
        return ins_fail(c, 422, "too_many_objects",
                        "a request names at most %d objectIDs in all; send more requests",
                        INS_ITEMS_MAX);
    uint8_t h[16];
    user_hash(who->user, who->user_len, h);
    size_t u = 0;
    while (u < *nusers && memcmp(users[u].who, h, sizeof h) != 0)
        u++;
    if (u == *nusers)
        memcpy(users[(*nusers)++].who, h, sizeof h);
    users[u].items += (uint32_t)nids;
    int j = 0;
    cJSON_ArrayForEach(m, ids)
    {
        size_t len = cJSON_IsString(m) ? strlen(m->valuestring) : 0;
        if (!len || len > SOUK_ITEM_MAX || !clean_text(m->valuestring, len))
            return ins_fail(c, 422, "invalid_event",
                            "events[%zu].objectIDs[%d] must be an item id of 1 to %d bytes of "
                            "text",
                            i, j, SOUK_ITEM_MAX);
        souk_event *x = &ev[(*n)++];
        memset(x, 0, sizeof *x);
        x->type = type;
        memcpy(x->user, who->user, who->user_len);
        memcpy(x->item, m->valuestring, len);
        x->ts_ms = ts;
        x->nhits = -1;
        j++;
    }
    return 0;
}

int sk_ep_insights(sk_ctx *c)
{
    const sk_request *r = c->req;
    sk_buf key = {0};
    key.max = SK_HDR_KEY_MAX + 1;
    int rc = read_params(c, &key);
    if (!rc)
        rc = check_key(c, &key);
    sk_buf_free(&key);
    if (rc)
        return rc;
    souk_events *s = c->w->st->events;
    if (!s)
        return ins_fail(c, 404, "events_disabled",
                        "this server keeps no behaviour events (no \"pseudonym_key_file\" "
                        "configured)");
    /* Any Content-Type: navigator.sendBeacon, which search-insights prefers, sends text/plain;
     * the body is JSON whatever the header says. */
    const char *b = r->body.p ? r->body.p : "";
    char err[512] = "";
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(b, r->body.len, &end, 0);
    if (souk_json_strict(b, r->body.len, j, end, err, sizeof err) || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return ins_fail(c, 400, "invalid_json",
                        "the body must be a JSON object {\"events\":[...]}%s%s", *err ? ": " : "",
                        err);
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        if (strcmp(m->string, "events") != 0) {
            ins_fail(c, 422, "unsupported_member",
                     "%.40s is not supported (the body holds "
                     "\"events\" only)",
                     m->string);
            cJSON_Delete(j);
            return c->status;
        }
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "events");
    int nev = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (nev < 1 || nev > INS_EVENTS_MAX) {
        ins_fail(c, 422, nev > INS_EVENTS_MAX ? "batch_too_large" : "invalid_event",
                 "events must be an array of 1 to %d events", INS_EVENTS_MAX);
        cJSON_Delete(j);
        return c->status;
    }
    tok_cache tc = {0};
    int64_t now = sk_now_ms();
    size_t n = 0, nusers = 0, i = 0;
    souk_event *ev = souk_calloc(INS_ITEMS_MAX, sizeof *ev);
    souk_ev_outcome *out = souk_calloc(INS_ITEMS_MAX, sizeof *out);
    ins_user *users = souk_calloc((size_t)nev, sizeof *users);
    if (!ev || !out || !users) {
        ins_fail(c, 500, "internal", "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(m, arr)
    {
        if (parse_event(c, m, i++, now, &tc, ev, &n, users, &nusers))
            goto done;
    }
    uint32_t per_min = c->cfg->limits.max_insights_events_per_minute;
    if (!budget_take(users, nusers, per_min, now)) {
        ins_fail(c, 429, "rate_limited",
                 "a user sends at most %u items' events a minute (limits."
                 "max_insights_events_per_minute); nothing of this request was stored",
                 per_min);
        goto done;
    }
    souk_ev_counts counts = {0};
    rc = souk_events_enqueue(s, ev, n, now, out, &counts, err, sizeof err);
    sk_bg_flush(c->w->st); /* the background thread adds them (inbox.c) */
    if (rc == SOUK_ETOOBIG) {
        ins_fail(c, 503, "events_backlog",
                 "the events were not accepted: %s (nothing of this request was kept)", err);
    } else if (rc) {
        ins_fail(c, 500, "internal", "the events were not stored: %s", err);
    } else {
        sk_buf_printf(c->out,
                      "{\"status\":200,\"message\":\"OK\",\"request_id\":\"%s\",\"events\":%d,"
                      "\"items\":%zu,\"counts\":{\"stored\":%llu,\"anonymous\":%llu,"
                      "\"duplicate\":%llu,\"suppressed\":%llu,\"expired\":%llu}}\n",
                      c->request_id, nev, n, (unsigned long long)counts.stored,
                      (unsigned long long)counts.anonymous, (unsigned long long)counts.duplicate,
                      (unsigned long long)counts.suppressed, (unsigned long long)counts.expired);
    }
done:
    if (ev)
        sodium_memzero(ev, INS_ITEMS_MAX * sizeof *ev); /* raw user ids */
    sodium_memzero(&tc, sizeof tc);
    souk_free(ev);
    souk_free(out);
    souk_free(users);
    cJSON_Delete(j);
    return c->status;
}
