/* test_insights_http.c: POST /1/events, Algolia's Insights events (docs/algolia.md, "Insights"),
 * through the real souk-server on 127.0.0.1 (two reuseport workers) over an index of the first
 * 2,000 Debian records, with keys, both key rings and every consent off by default:
 *   - stored with consent: a click after a search (queryID, positions), a view and an addToCart
 *     and a purchase sent as search-insights sends them (credentials in the query string,
 *     Content-Type text/plain as navigator.sendBeacon posts) land in the user's history
 *     (GET /v1/me/history) with the mapped types, counted "stored";
 *   - the credential is the signed user token: the user's raw id, search-insights' own
 *     "anonymous-…" token, a token signed with another ring, an expired one, none at all, are each
 *     refused 401 in the Insights error shape, and a request holding one such event beside good
 *     ones stores nothing (the consenting user's history is unchanged); a forged token naming a
 *     consenting user writes nothing under that user;
 *   - opt-out: after PUT /v1/me/consent personalization false, the user's clicks come back
 *     "anonymous" and the history stays empty (P5, as POST /v1/events);
 *   - malformed payloads are refused naming the member (eventType, eventSubtype, eventName,
 *     objectIDs, positions, timestamp, filters, an unknown member, an unknown query parameter,
 *     bad JSON) and store nothing;
 *   - budgets: 1,001 events, more than 1,000 objectIDs, a body over max_events_body_bytes, and the
 *     per-user budget (limits.max_insights_events_per_minute, 60 here): 60 items pass, the 61st is
 *     429 and not stored, another user is not affected;
 *   - click-through: searches of three consenting users through /v1/search and two Insights
 *     clicks make low_ctr's row for the query: 3 searches, 2 clicks;
 *   - keys: none, an unknown one, an analyst key are refused; the search key as X-Api-Key works;
 *     a CORS preflight is answered; without a "storefront" config /storefront/ is 404
 *     storefront_disabled. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-insights-XXXXXX";
static char data_dir[512], cfg_path[512], pring[700], tring[700], wring[700];
static const char *SKEY = "ins-search-key-0123", *AKEY = "ins-admin-key-4567",
                  *NKEY = "ins-analyst-key-cdef";
static kit_server srv;
static char ids[8][300]; /* item ids of the catalog */

/* A token for user from ring (a file), issued at now, valid ttl seconds. A static buffer. */
static const char *mint(const char *ring, const char *user, int64_t now, int64_t ttl)
{
    static char tok[SOUK_TOKEN_MAX + 1];
    char err[256];
    souk_keyring *kr;
    REQUIRE(souk_keyring_load(ring, NULL, &kr, err, sizeof err) == 0);
    REQUIRE(souk_token_mint(kr, user, strlen(user), now, ttl, NULL, tok, sizeof tok) == 0);
    souk_keyring_free(kr);
    return tok;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* POST /1/events as search-insights sends it: the credentials in the query string (key NULL:
 * none), the JSON body as text/plain. The status, or -1. */
static int insights(const char *key, const char *body, kit_resp *r)
{
    char target[512];
    if (key)
        REQUIRE(snprintf(target, sizeof target,
                         "/1/events?X-Algolia-Application-Id=souk&X-Algolia-API-Key=%s&"
                         "X-Algolia-Agent=insights-js%%20(2.17.3)",
                         key) < (int)sizeof target);
    else
        REQUIRE(snprintf(target, sizeof target, "/1/events?X-Algolia-Application-Id=souk") <
                (int)sizeof target);
    return kit_call(srv.port, "POST", target, NULL, NULL, "text/plain;charset=UTF-8", body,
                    strlen(body), r);
}

/* The Insights error's "message" and Souk's "code" of a body; "" when absent. Static buffers. */
static const char *member(const kit_resp *r, const char *name)
{
    static char buf[2][700];
    static int k;
    char *b = buf[k++ & 1];
    b[0] = 0;
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    if (cJSON_IsString(v))
        snprintf(b, 700, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(b, 700, "%d", v->valueint);
    cJSON_Delete(j);
    return b;
}

/* The count `name` of a 200 answer's "counts", or -1. */
static long count_of(const kit_resp *r, const char *name)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "counts"), name);
    long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
    cJSON_Delete(j);
    return n;
}

/* A refusal: status, Insights' shape ({"status": status, "message"}), Souk's code, and the
 * message holding `names` (NULL: not checked). */
static int refused(int got, const kit_resp *r, int status, const char *code, const char *names)
{
    const char *st = member(r, "status");
    int ok = got == status && atoi(st) == status && strcmp(member(r, "code"), code) == 0 &&
             member(r, "message")[0] && (!names || strstr(member(r, "message"), names));
    if (!ok)
        fprintf(stderr, "  wanted %d %s naming %s, got %d %s\n", status, code, names ? names : "-",
                got, r->body ? r->body : "");
    return ok;
}

/* The user's history items (GET /v1/me/history), as "type:item" joined by spaces into out. The
 * number of items, or -1. */
static int history(const char *user, char *out, size_t cap)
{
    kit_resp r;
    out[0] = 0;
    int st = kit_call(srv.port, "GET", "/v1/me/history", NULL, mint(tring, user, now_s(), 600),
                      NULL, NULL, 0, &r);
    int n = -1;
    cJSON *j = st == 200 ? cJSON_Parse(r.body) : NULL;
    const cJSON *items = cJSON_GetObjectItem(j, "items"), *it;
    if (cJSON_IsArray(items)) {
        n = 0;
        size_t len = 0;
        cJSON_ArrayForEach(it, items)
        {
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s:%s", n ? " " : "",
                                    cJSON_GetStringValue(cJSON_GetObjectItem(it, "type")),
                                    cJSON_GetStringValue(cJSON_GetObjectItem(it, "item")));
            n++;
        }
    }
    cJSON_Delete(j);
    kit_resp_free(&r);
    return n;
}

static void consent(const char *user, const char *json)
{
    kit_resp r;
    CHECK(kit_call(srv.port, "PUT", "/v1/me/consent", NULL, mint(tring, user, now_s(), 600),
                   "application/json", json, strlen(json), &r) == 200);
    kit_resp_free(&r);
}

/* One event's JSON: type (with ",\"eventSubtype\":…" inside when wanted), the token member and
 * value, the item, and `extra` members (may be ""). */
static char *event(const char *type, const char *tok_member, const char *tok, const char *item,
                   const char *extra)
{
    static char buf[4][3000];
    static int k;
    char *b = buf[k++ & 3];
    REQUIRE(snprintf(b, sizeof buf[0],
                     "{\"eventType\":\"%s\",\"eventName\":\"Hit Clicked\",\"index\":\"debian\","
                     "\"%s\":\"%s\",\"objectIDs\":[\"%s\"]%s%s}",
                     type, tok_member, tok, item, *extra ? "," : "", extra) < (int)sizeof buf[0]);
    return b;
}

/* ------------------------------------------------------------------ stored with consent */

static void test_stored(void)
{
    char h[4096], body[8192];
    kit_resp r;
    consent("alice", "{\"personalization\":true}");
    const char *tok = mint(tring, "alice", now_s(), 600);
    /* A click after a search, as InstantSearch's insights middleware sends it: the Souk token as
     * authenticatedUserToken, search-insights' own anonymous token as userToken. */
    snprintf(
        body, sizeof body,
        "{\"events\":[{\"eventType\":\"click\",\"eventName\":\"Hit Clicked\","
        "\"index\":\"debian\",\"userToken\":\"anonymous-0b7e4c1a-2f6d-4c55-9a0e-1c2d3e4f5a6b\","
        "\"authenticatedUserToken\":\"%s\",\"objectIDs\":[\"%s\"],\"positions\":[3],"
        "\"queryID\":\"4f6a0c1b2d3e4f5a6b7c8d9e0f1a2b3c\",\"timestamp\":%lld}]}",
        tok, ids[0], (long long)now_s() * 1000);
    int st = insights(SKEY, body, &r);
    CHECK(st == 200 && strcmp(member(&r, "message"), "OK") == 0 &&
          strcmp(member(&r, "status"), "200") == 0 && count_of(&r, "stored") == 1);
    if (st != 200)
        fprintf(stderr, "  click: %d %s\n", st, r.body ? r.body : "");
    kit_resp_free(&r);
    CHECK(history("alice", h, sizeof h) == 1);
    char want[700];
    snprintf(want, sizeof want, "click:%s", ids[0]);
    CHECK(strcmp(h, want) == 0);

    /* A view of two hits, an add-to-cart and a purchase, the token as userToken. */
    snprintf(body, sizeof body,
             "{\"events\":[{\"eventType\":\"view\",\"eventName\":\"Hits Viewed\","
             "\"index\":\"debian\",\"userToken\":\"%s\",\"objectIDs\":[\"%s\",\"%s\"],"
             "\"algoliaSource\":[\"instantsearch\",\"instantsearch-internal\"]},"
             "%s,%s]}",
             tok, ids[1], ids[2],
             event("conversion\",\"eventSubtype\":\"addToCart", "userToken", tok, ids[3], ""),
             event("conversion\",\"eventSubtype\":\"purchase", "userToken", tok, ids[4],
                   "\"queryID\":\"4f6a0c1b2d3e4f5a6b7c8d9e0f1a2b3c\""));
    st = insights(SKEY, body, &r);
    CHECK(st == 200 && count_of(&r, "stored") == 4);
    if (st != 200)
        fprintf(stderr, "  conversions: %d %s\n", st, r.body ? r.body : "");
    kit_resp_free(&r);
    CHECK(history("alice", h, sizeof h) == 5);
    const char *kinds[] = {"view", "view", "cart", "purchase"};
    for (int i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "%s:%s", kinds[i], ids[i + 1]);
        CHECK(strstr(h, want) != NULL);
    }
    printf("test_insights_http: stored: %s\n", h);
}

/* ------------------------------------------------------------------ the token is the proof */

static void test_tokens(void)
{
    char h[4096], before[4096], body[8192];
    kit_resp r;
    REQUIRE(history("alice", before, sizeof before) >= 0);
    const char *good = mint(tring, "alice", now_s(), 600);
    char goodcopy[SOUK_TOKEN_MAX + 1];
    snprintf(goodcopy, sizeof goodcopy, "%s", good);
    struct {
        const char *what, *member, *tok, *code;
    } bad[] = {
        {"the raw user id", "userToken", "alice", "invalid_user_token"},
        {"search-insights' anonymous token", "userToken",
         "anonymous-0b7e4c1a-2f6d-4c55-9a0e-1c2d3e4f5a6b", "invalid_user_token"},
        {"a token of another ring", "authenticatedUserToken", NULL, "invalid_user_token"},
        {"an expired token", "userToken", NULL, "expired_user_token"},
        {"no token", "index2", "x", "missing_user_token"},
    };
    char wrongtok[SOUK_TOKEN_MAX + 1], oldtok[SOUK_TOKEN_MAX + 1];
    snprintf(wrongtok, sizeof wrongtok, "%s", mint(wring, "alice", now_s(), 600));
    snprintf(oldtok, sizeof oldtok, "%s", mint(tring, "alice", now_s() - 7200, 600));
    bad[2].tok = wrongtok;
    bad[3].tok = oldtok;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* Alone, then second in a request whose first event is good: nothing is stored. */
        const char *ev = i == 4 ? "{\"eventType\":\"click\",\"eventName\":\"Hit Clicked\","
                                  "\"index\":\"debian\",\"objectIDs\":[\"x\"]}"
                                : event("click", bad[i].member, bad[i].tok, ids[5], "");
        char evcopy[3000];
        snprintf(evcopy, sizeof evcopy, "%s", ev);
        snprintf(body, sizeof body, "{\"events\":[%s]}", evcopy);
        int st = insights(SKEY, body, &r);
        CHECK(refused(st, &r, 401, bad[i].code, "events[0]"));
        /* The message never echoes the token. */
        CHECK(!r.body || !bad[i].tok || strlen(bad[i].tok) < 8 || !strstr(r.body, bad[i].tok));
        kit_resp_free(&r);
        snprintf(body, sizeof body, "{\"events\":[%s,%s]}",
                 event("view", "userToken", goodcopy, ids[6], ""), evcopy);
        st = insights(SKEY, body, &r);
        CHECK(refused(st, &r, 401, bad[i].code, "events[1]"));
        kit_resp_free(&r);
        CHECK(history("alice", h, sizeof h) >= 0 && strcmp(h, before) == 0);
        printf("test_insights_http: %s refused\n", bad[i].what);
    }
}

/* ------------------------------------------------------------------ opt-out */

static void test_opt_out(void)
{
    char h[4096], body[8192];
    kit_resp r;
    consent("bob", "{\"personalization\":true}");
    const char *tok = mint(tring, "bob", now_s(), 600);
    snprintf(body, sizeof body, "{\"events\":[%s]}", event("click", "userToken", tok, ids[0], ""));
    CHECK(insights(SKEY, body, &r) == 200 && count_of(&r, "stored") == 1);
    kit_resp_free(&r);
    CHECK(history("bob", h, sizeof h) == 1);
    consent("bob", "{\"personalization\":false}");
    CHECK(history("bob", h, sizeof h) == 0);
    tok = mint(tring, "bob", now_s(), 600);
    snprintf(body, sizeof body, "{\"events\":[%s,%s]}",
             event("click", "userToken", tok, ids[1], ""),
             event("conversion\",\"eventSubtype\":\"purchase", "userToken", tok, ids[2], ""));
    CHECK(insights(SKEY, body, &r) == 200 && count_of(&r, "stored") == 0 &&
          count_of(&r, "anonymous") == 2);
    kit_resp_free(&r);
    CHECK(history("bob", h, sizeof h) == 0);
    /* And the export holds no event of bob's either. */
    CHECK(kit_call(srv.port, "GET", "/v1/me/export", NULL, mint(tring, "bob", now_s(), 600), NULL,
                   NULL, 0, &r) == 200 &&
          r.body && !strstr(r.body, ids[1]) && !strstr(r.body, ids[2]));
    kit_resp_free(&r);
    /* A user with no consent record (the default: off) is anonymous too. */
    tok = mint(tring, "carol", now_s(), 600);
    snprintf(body, sizeof body, "{\"events\":[%s]}", event("click", "userToken", tok, ids[3], ""));
    CHECK(insights(SKEY, body, &r) == 200 && count_of(&r, "anonymous") == 1);
    kit_resp_free(&r);
    CHECK(history("carol", h, sizeof h) == 0);
}

/* ------------------------------------------------------------------ malformed */

static void test_malformed(void)
{
    char h[4096], before[4096], body[8192];
    kit_resp r;
    REQUIRE(history("alice", before, sizeof before) >= 0);
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, "alice", now_s(), 600));
    struct {
        const char *ev; /* %s: the token */
        int status;
        const char *code, *names;
    } bad[] = {
        {"{\"eventType\":\"purchase\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"]}",
         422, "invalid_event", "events[0].eventType"},
        {"{\"eventType\":\"conversion\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"]}",
         422, "invalid_event", "events[0].eventSubtype"},
        {"{\"eventType\":\"click\",\"eventSubtype\":\"purchase\",\"eventName\":\"n\",\"index\":"
         "\"i\",\"userToken\":\"%s\",\"objectIDs\":[\"0ad\"]}",
         422, "invalid_event", "events[0].eventSubtype"},
        {"{\"eventType\":\"click\",\"index\":\"i\",\"userToken\":\"%s\",\"objectIDs\":[\"0ad\"]}",
         422, "invalid_event", "events[0].eventName"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"userToken\":\"%s\",\"objectIDs\":[\"0ad\"]"
         "}",
         422, "invalid_event", "events[0].index"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\"}", 422,
         "invalid_event", "events[0].objectIDs"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\","
         "\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]}",
         422, "invalid_event", "events[0].objectIDs"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\",7]}",
         422, "invalid_event", "events[0].objectIDs[1]"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"],\"queryID\":\"abc\"}",
         422, "invalid_event", "events[0].positions"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"],\"queryID\":\"abc\",\"positions\":[1,2]}",
         422, "invalid_event", "events[0].positions"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"],\"queryID\":\"a b\",\"positions\":[1]}",
         422, "invalid_event", "events[0].queryID"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"],\"timestamp\":1000}",
         422, "invalid_event", "events[0].timestamp"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"filters\":[\"section:games\"]}",
         422, "unsupported_member", "events[0].filters"},
        {"{\"eventType\":\"conversion\",\"eventSubtype\":\"purchase\",\"eventName\":\"n\","
         "\"index\":\"i\",\"userToken\":\"%s\",\"objectIDs\":[\"0ad\"],\"value\":12.5,"
         "\"currency\":\"EUR\"}",
         422, "unsupported_member", "events[0].value"},
        {"{\"eventType\":\"click\",\"eventName\":\"n\\u0001\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"]}",
         422, "invalid_event", "events[0].eventName"},
        {"\"%s\"", 422, "invalid_event", "events[0]"},
        /* InstantSearch's start-up signal, as 4.118.1 sends it */
        {"{\"eventType\":\"instantsearch\",\"eventName\":\"__start__\",\"sessionID\":\"9a06\","
         "\"userToken\":\"%s\"}",
         422, "invalid_event", "events[0].eventType"},
        {"{\"eventType\":\"view\",\"eventName\":\"n\",\"index\":\"i\",\"userToken\":\"%s\","
         "\"objectIDs\":[\"0ad\"],\"algoliaSource\":\"instantsearch\"}",
         422, "invalid_event", "events[0].algoliaSource"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char ev[3000];
        snprintf(ev, sizeof ev, bad[i].ev, tok);
        /* Second in the request: the good first event is not stored either. */
        snprintf(body, sizeof body, "{\"events\":[%s,%s]}",
                 event("view", "userToken", tok, ids[7], ""), ev);
        int st = insights(SKEY, body, &r);
        char names[64];
        snprintf(names, sizeof names, "events[1]%s", bad[i].names + strlen("events[0]"));
        CHECK(refused(st, &r, bad[i].status, bad[i].code, names));
        kit_resp_free(&r);
    }
    /* The body itself. */
    static const struct {
        const char *body;
        int status;
        const char *code, *names;
    } bodies[] = {
        {"{\"events\":[", 400, "invalid_json", NULL},
        {"[]", 400, "invalid_json", NULL},
        {"{\"events\":[],\"x\":1}", 422, "unsupported_member", "x"},
        {"{\"events\":[]}", 422, "invalid_event", "events"},
        {"{\"events\":{}}", 422, "invalid_event", "events"},
        {"{\"events\":[{\"eventType\":\"view\"}],\"events\":[]}", 400, "invalid_json", "events"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        int st = insights(SKEY, bodies[i].body, &r);
        CHECK(refused(st, &r, bodies[i].status, bodies[i].code, bodies[i].names));
        kit_resp_free(&r);
    }
    /* A query parameter Souk does not know is named. */
    snprintf(body, sizeof body, "{\"events\":[%s]}", event("view", "userToken", tok, ids[7], ""));
    int st = kit_call(srv.port, "POST", "/1/events?X-Algolia-API-Key=ins-search-key-0123&debug=1",
                      NULL, NULL, "text/plain", body, strlen(body), &r);
    CHECK(refused(st, &r, 400, "unknown_parameter", "debug"));
    kit_resp_free(&r);
    CHECK(history("alice", h, sizeof h) >= 0 && strcmp(h, before) == 0);
}

/* ------------------------------------------------------------------ budgets */

/* A request of nev view events of the user's token, each naming per items (cycling the ids). */
static char *views(const char *tok, int nev, int per)
{
    size_t cap = (size_t)nev * (size_t)(per * 12 + 1400) + 64, len = 0;
    char *b = malloc(cap);
    REQUIRE(b);
    len += (size_t)snprintf(b + len, cap - len, "{\"events\":[");
    for (int i = 0; i < nev; i++) {
        len += (size_t)snprintf(b + len, cap - len,
                                "%s{\"eventType\":\"view\",\"eventName\":\"Hits Viewed\","
                                "\"index\":\"debian\",\"userToken\":\"%s\",\"objectIDs\":[",
                                i ? "," : "", tok);
        for (int k = 0; k < per; k++)
            len += (size_t)snprintf(b + len, cap - len, "%s\"%s\"", k ? "," : "",
                                    ids[(i * per + k) % 8]);
        len += (size_t)snprintf(b + len, cap - len, "],\"timestamp\":%lld}",
                                (long long)now_s() * 1000 - i);
    }
    snprintf(b + len, cap - len, "]}");
    REQUIRE(len + 3 < cap);
    return b;
}

static void test_budgets(void)
{
    char h[8192];
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    consent("dave", "{\"personalization\":true}");
    snprintf(tok, sizeof tok, "%s", mint(tring, "dave", now_s(), 600));
    /* 1,001 events: refused whole. */
    char *b = views(tok, 1001, 1);
    CHECK(refused(insights(SKEY, b, &r), &r, 422, "batch_too_large", "1000"));
    kit_resp_free(&r);
    free(b);
    /* 51 events of 20 objectIDs: more than 1,000 items. */
    b = views(tok, 51, 20);
    CHECK(refused(insights(SKEY, b, &r), &r, 422, "too_many_objects", "1000"));
    kit_resp_free(&r);
    free(b);
    /* A body over limits.max_events_body_bytes (256 KiB here): 413 before any parsing. */
    b = views(tok, 1000, 1);
    size_t blen = strlen(b);
    REQUIRE(blen < 256 * 1024);
    char *big = malloc(300 * 1024);
    REQUIRE(big);
    memset(big, ' ', 300 * 1024 - 1);
    big[300 * 1024 - 1] = 0;
    memcpy(big, b, blen);
    CHECK(insights(SKEY, big, &r) == 413);
    kit_resp_free(&r);
    free(big);
    free(b);
    CHECK(history("dave", h, sizeof h) == 0);
    /* The per-user budget, 60 items a minute here: 3 events of 20 objectIDs pass... */
    b = views(tok, 3, 20);
    int st = insights(SKEY, b, &r);
    CHECK(st == 200 && count_of(&r, "stored") + count_of(&r, "duplicate") == 60);
    if (st != 200)
        fprintf(stderr, "  budget: %d %s\n", st, r.body ? r.body : "");
    kit_resp_free(&r);
    free(b);
    int had = history("dave", h, sizeof h);
    CHECK(had == 8); /* 60 views of the 8 items */
    /* ...and 20 more items within the minute are refused, stored nowhere (the bucket refills
     * one item a second: this request would need 20 s). */
    char body[4096];
    snprintf(body, sizeof body,
             "{\"events\":[{\"eventType\":\"conversion\",\"eventSubtype\":\"purchase\","
             "\"eventName\":\"Bought\",\"index\":\"debian\",\"userToken\":\"%s\",\"objectIDs\":["
             "\"a0\",\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\",\"a8\",\"a9\",\"b0\",\"b1\","
             "\"b2\",\"b3\",\"b4\",\"b5\",\"b6\",\"b7\",\"b8\",\"b9\"]}]}",
             tok);
    CHECK(refused(insights(SKEY, body, &r), &r, 429, "rate_limited", "60"));
    kit_resp_free(&r);
    CHECK(history("dave", h, sizeof h) == had && !strstr(h, "purchase"));
    /* Another user is not affected. */
    snprintf(body, sizeof body, "{\"events\":[%s]}",
             event("click", "userToken", mint(tring, "alice", now_s(), 600), ids[7], ""));
    CHECK(insights(SKEY, body, &r) == 200);
    kit_resp_free(&r);
}

/* ------------------------------------------------------------------ click-through */

/* Insights clicks feed click-through analytics like any click: three consenting users search
 * "editor" with their token (the server records the searches), two click a hit through
 * /1/events; kind=low_ctr (k = 3 here) links the clicks to the searches: 3 searches, 2 clicks. */
static void test_click_through(void)
{
    static const char *const users[] = {"frank", "gina", "hank"};
    kit_resp r;
    for (int i = 0; i < 3; i++) {
        consent(users[i], "{\"personalization\":true,\"search_history\":true}");
        CHECK(kit_call(srv.port, "GET", "/v1/search?q=editor&per_page=5", SKEY,
                       mint(tring, users[i], now_s(), 600), NULL, NULL, 0, &r) == 200);
        kit_resp_free(&r);
    }
    for (int i = 0; i < 2; i++) {
        char body[4096];
        snprintf(body, sizeof body, "{\"events\":[%s]}",
                 event("click", "authenticatedUserToken", mint(tring, users[i], now_s(), 600),
                       ids[i],
                       "\"queryID\":\"0123456789abcdef0123456789abcdef\",\"positions\":[1]"));
        CHECK(insights(SKEY, body, &r) == 200 && count_of(&r, "stored") == 1);
        kit_resp_free(&r);
    }
    cJSON *row = NULL, *j = NULL;
    for (int t = 0; t < 100 && !row; t++) { /* the inbox drains in the background */
        cJSON_Delete(j);
        j = NULL;
        if (kit_get(srv.port, "/v1/analytics/queries?kind=low_ctr", NKEY, &r) == 200)
            j = cJSON_Parse(r.body);
        kit_resp_free(&r);
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "rows"))
        {
            if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(it, "query")), "editor") == 0 &&
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "clicks")) == 2)
                row = (cJSON *)it;
        }
        if (!row)
            usleep(100000);
    }
    CHECK(row && cJSON_GetNumberValue(cJSON_GetObjectItem(row, "users")) == 3 &&
          cJSON_GetNumberValue(cJSON_GetObjectItem(row, "searches")) == 3 &&
          cJSON_GetNumberValue(cJSON_GetObjectItem(row, "clicks")) == 2);
    if (!row)
        fprintf(stderr, "  low_ctr: no row \"editor\" with 2 clicks\n");
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------ keys */

static void test_keys(void)
{
    char body[4096];
    kit_resp r;
    snprintf(body, sizeof body, "{\"events\":[%s]}",
             event("view", "userToken", mint(tring, "erin", now_s(), 600), ids[0], ""));
    CHECK(refused(insights(NULL, body, &r), &r, 401, "missing_credentials", "X-Algolia-API-Key"));
    kit_resp_free(&r);
    CHECK(refused(insights("not-a-key", body, &r), &r, 401, "invalid_credentials", NULL));
    kit_resp_free(&r);
    CHECK(refused(insights(NKEY, body, &r), &r, 403, "forbidden", NULL));
    kit_resp_free(&r);
    CHECK(insights(AKEY, body, &r) == 200);
    kit_resp_free(&r);
    /* The key as a header, and the body as application/json (search-insights' XHR fallback). */
    CHECK(kit_call(srv.port, "POST", "/1/events", SKEY, NULL, "application/json", body,
                   strlen(body), &r) == 200);
    kit_resp_free(&r);
    /* A server whose config names no storefront serves none. */
    char code[64];
    CHECK(kit_get(srv.port, "/storefront/", NULL, &r) == 404 &&
          strcmp(kit_err_code(&r, code, sizeof code), "storefront_disabled") == 0);
    kit_resp_free(&r);
    /* A CORS preflight from the shop's origin. */
    const char *pre = "OPTIONS /1/events HTTP/1.1\r\nHost: x\r\nOrigin: http://shop.test\r\n"
                      "Access-Control-Request-Method: POST\r\n\r\n";
    char hv[256];
    CHECK(kit_request(srv.port, pre, strlen(pre), &r) == 204 &&
          kit_header(&r, "Access-Control-Allow-Origin", hv, sizeof hv) &&
          strcmp(hv, "http://shop.test") == 0);
    kit_resp_free(&r);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    if (!debian_catalog())
        return TEST_SKIP;
    char *lines[64];
    REQUIRE(kit_debian_lines(lines, 0, 64) == 64);
    for (int i = 0, k = 0; i < 64; i++) {
        cJSON *j = cJSON_Parse(lines[i]);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
        if (id && i % 8 == 0 && k < 8)
            snprintf(ids[k++], sizeof ids[0], "%s", id);
        cJSON_Delete(j);
        free(lines[i]);
    }
    REQUIRE(mkdtemp(dir));
    char keys[600];
    REQUIRE(snprintf(keys, sizeof keys, "%s/keys", dir) < (int)sizeof keys);
    REQUIRE(mkdir(keys, 0700) == 0);
    REQUIRE(snprintf(data_dir, sizeof data_dir, "%s/index", dir) < (int)sizeof data_dir);
    REQUIRE(snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir) < (int)sizeof cfg_path);
    REQUIRE(snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys) < (int)sizeof pring);
    REQUIRE(snprintf(tring, sizeof tring, "%s/token.ring", keys) < (int)sizeof tring);
    REQUIRE(snprintf(wring, sizeof wring, "%s/wrong.ring", keys) < (int)sizeof wring);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    kit_write_ring(wring, 0600);
    REQUIRE(kit_debian_index(data_dir, 2000, "--quiet") == 0);
    char skey[80], akey[80], nkey[80];
    snprintf(skey, sizeof skey, "%s", kit_hash_key(SKEY));
    snprintf(akey, sizeof akey, "%s", kit_hash_key(AKEY));
    snprintf(nkey, sizeof nkey, "%s", kit_hash_key(NKEY));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],\"analyst_keys\":[\"%s\"],"
            "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
            "\"cors_origins\":[\"http://shop.test\"],\"analytics_k\":3,"
            "\"consent_default\":{\"personalization\":false,\"location\":false,"
            "\"search_history\":false},"
            "\"limits\":{\"max_insights_events_per_minute\":60,"
            "\"max_events_body_bytes\":262144}}\n",
            skey, akey, nkey, pring, tring);
    fclose(f);
    const char *args[] = {"--data", data_dir, "--config",  cfg_path, "--threads",
                          "2",      "--mode", "reuseport", NULL};
    kit_start(&srv, args);
    test_stored();
    test_tokens();
    test_opt_out();
    test_malformed();
    test_budgets();
    test_click_through();
    test_keys();
    CHECK(kit_stop(&srv) == 0);
    char cmd[1024];
    REQUIRE(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd);
    CHECK(system(cmd) == 0);
    return check_done("test_insights_http");
}
