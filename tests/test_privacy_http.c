/* test_privacy_http.c: behaviour events and users' own data over HTTP (docs/api.md, "Behaviour
 * events and privacy"; docs/privacy.md), through the real souk-server on 127.0.0.1 with two
 * event loops (--mode reuseport, so requests land on both workers) over an index of the first
 * 2,000 Debian records, with real events (the Groceries purchase log, converted to NDJSON):
 *   - start-up refusals: a key file with mode 0644, a key file inside the data directory, one
 *     file for both rings, event settings without pseudonym_key_file: exit 1 naming the fault;
 *   - the credentials matrix (least privilege): a search key reaches neither /v1/me/..., analytics,
 *     erasure nor ingest; an analyst key cannot erase or ingest; an ingest key cannot read
 *     analytics; user tokens forged, expired, signed with another ring or garbage are 401 with a
 *     reason that never echoes the token; a user token cannot erase anyone (403 with a search
 *     key, 401 alone);
 *   - POST /v1/events: good and hostile batches (1,001 events, a body over the limit, bad UTF-8,
 *     unknown fields dropped, bad events named with their line and reason while the good ones
 *     of the batch are stored), and the Groceries log in batches of 1,000;
 *   - consent: a round trip, and an opt-out that acts on the very next request on every worker;
 *     P4: after the opt-out a search with the user's token is byte-identical to an anonymous one
 *     (request id and timing stripped);
 *   - search history (recorded with search_history consent, listed, cleared), items and tags
 *     (listed, one deleted), export;
 *   - erasure: 202 with a job, polled to "completed", then a byte scan of every file under the
 *     data directory and of the access log finds neither the raw user id nor its pseudonym;
 *   - analytics: k below the configured k is refused, cells under k are left out; searches
 *     through the server that find nothing make a zero-result row;
 *   - reloads: analytics_k follows one, a retention change is refused; an erasure cut by kill -9
 *     completes after the restart; the opt-out and P4 again in queue mode (pool workers). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "kit/scan.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-privacy-XXXXXX";
static char data_dir[512], cfg_path[512], pring[700], tring[700], wring[700], log_path[512];
static const char *SKEY = "priv-search-key-0123", *AKEY = "priv-admin-key-4567",
                  *IKEY = "priv-ingest-key-89ab", *NKEY = "priv-analyst-key-cdef";
static char skey_hash[80], akey_hash[80], ikey_hash[80], nkey_hash[80];
static kit_server srv;
/* The event fields of the server's config. */
static const char *const BASE_CFG =
    "\"consent_default\":{\"personalization\":false,\"location\":false,\"search_history\":false},"
    "\"policy_version\":2";

/* ------------------------------------------------------------------ helpers */

/* A key ring file with one random key, at mode. */

/* The config: every key kind, both rings, and `extra` (JSON members, may be ""). */
static void write_config(const char *path, const char *extra)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(
        f,
        "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],"
        "\"analyst_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\"%s%s}\n",
        skey_hash, akey_hash, ikey_hash, nkey_hash, pring, tring, *extra ? "," : "", extra);
    fclose(f);
}

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

/* One request on a new connection: method, target, optional key, user token, content type and
 * body. The status, or -1. */
static int call(const char *method, const char *target, const char *key, const char *token,
                const char *ctype, const char *body, size_t blen, kit_resp *r)
{
    return kit_call(srv.port, method, target, key, token, ctype, body, blen, r);
}

static int get(const char *target, const char *key, const char *token, kit_resp *r)
{
    return call("GET", target, key, token, NULL, NULL, 0, r);
}

/* POST /v1/events with an NDJSON body, ingest key. */
static int post_events(const char *body, size_t len, kit_resp *r)
{
    return call("POST", "/v1/events", IKEY, NULL, "application/x-ndjson", body, len, r);
}

/* PUT /v1/me/consent. */
static int put_consent(const char *token, const char *json, kit_resp *r)
{
    return call("PUT", "/v1/me/consent", SKEY, token, "application/json", json, strlen(json), r);
}

static const char *code_of(const kit_resp *r)
{
    static char buf[64];
    return kit_err_code(r, buf, sizeof buf);
}

/* A request whose answer must be status with error code (NULL: any); prints what came. */
static int expect(int status, const char *code, int got, const kit_resp *r, const char *what)
{
    int ok = got == status && (!code || strcmp(code_of(r), code) == 0);
    if (!ok)
        fprintf(stderr, "  %s: wanted %d %s, got %d %s\n", what, status, code ? code : "", got,
                r->body ? r->body : "");
    return ok;
}

/* The top-level number `name` of a JSON body, or -1. */
static double num(const kit_resp *r, const char *name)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(j);
    return d;
}

/* The size of the top-level array `name` of a JSON body, or -1. */
static int arr_len(const kit_resp *r, const char *name)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    cJSON_Delete(j);
    return n;
}

/* A search body without its request id and timing: from "total" to before "took_us". */
static char *stable_part(const kit_resp *r)
{
    const char *a = r->body ? strstr(r->body, "\"total\"") : NULL;
    const char *b = a ? strstr(a, ",\"took_us\"") : NULL;
    return a && b ? strndup(a, (size_t)(b - a)) : strdup("(none)");
}

/* Runs souk-server with `args` (shell words) until it exits; its exit status, stderr in msg. */
static int server_exit(const char *args, char *msg, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/souk-server' %s 2>&1 >/dev/null </dev/null", SOUK_BIN_DIR, args);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(msg, 1, cap - 1, p);
    msg[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ------------------------------------------------------------------ start-up refusals */

static void test_start_refusals(void)
{
    char path[600], loose[600], inside[600], args[2048], msg[4096];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    snprintf(args, sizeof args, "--data '%s' --config '%s'", data_dir, path);

    /* A pseudonymization key readable by others. */
    snprintf(loose, sizeof loose, "%s/keys/loose.ring", dir);
    kit_write_ring(loose, 0644);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\"}", akey_hash, loose);
    fclose(f);
    int st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "pseudonym_key_file") && strstr(msg, "0600"));
    if (st != 1)
        fprintf(stderr, "  mode 0644: exit %d: %s\n", st, msg);

    /* A token ring readable by others. */
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\"}",
            akey_hash, pring, loose);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "token_key_file") && strstr(msg, "0600"));

    /* A key file inside the data directory it protects. */
    snprintf(inside, sizeof inside, "%s/inside.ring", data_dir);
    kit_write_ring(inside, 0600);
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\"}", akey_hash, inside);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "pseudonym_key_file"));
    if (st != 1)
        fprintf(stderr, "  inside the data dir: exit %d: %s\n", st, msg);
    unlink(inside);

    /* One file for both rings. */
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\"}",
            akey_hash, pring, pring);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "same file"));

    /* Event settings without the store, and a bad retention. */
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"retention\":{\"events_days\":30}}", akey_hash);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "\"retention\" without \"pseudonym_key_file\""));
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\",\"retention\":{\"events\":30}}",
            akey_hash, pring);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "retention.events"));
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"pseudonym_key_file\":\"%s\",\"analytics_k\":1}",
            akey_hash, pring);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "analytics_k"));
    f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "{\"ingest_keys\":[\"sha256:12\"],\"pseudonym_key_file\":\"%s\"}", pring);
    fclose(f);
    st = server_exit(args, msg, sizeof msg);
    CHECK(st == 1 && strstr(msg, "ingest_keys"));
}

/* ------------------------------------------------------------------ credentials */

static void test_credentials(void)
{
    kit_resp r;
    int64_t now = (int64_t)time(NULL);
    const char *tok = mint(tring, "cred-user", now, 600);
    char good[SOUK_TOKEN_MAX + 1];
    snprintf(good, sizeof good, "%s", tok);

    /* A search key: search yes; users' data, analytics, erasure, ingest no. */
    CHECK(expect(200, NULL, get("/v1/search?q=editor", SKEY, NULL, &r), &r, "search key search"));
    kit_resp_free(&r);
    CHECK(expect(401, "missing_user_token", get("/v1/me/consent", SKEY, NULL, &r), &r,
                 "search key /v1/me/consent"));
    kit_resp_free(&r);
    CHECK(expect(401, "missing_user_token", get("/v1/me/export", AKEY, NULL, &r), &r,
                 "admin key /v1/me/export"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden", get("/v1/analytics/queries", SKEY, NULL, &r), &r,
                 "search key analytics"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("DELETE", "/v1/users/someone", SKEY, NULL, NULL, NULL, 0, &r), &r,
                 "search key erasure"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("POST", "/v1/events", SKEY, NULL, "application/x-ndjson", "{}\n", 3, &r), &r,
                 "search key ingest"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 get("/v1/erasures/00000000000000000000000000000000", SKEY, NULL, &r), &r,
                 "search key erasure state"));
    kit_resp_free(&r);

    /* An analyst key: analytics yes; erasure, ingest, search no. */
    CHECK(expect(200, NULL, get("/v1/analytics/queries", NKEY, NULL, &r), &r, "analyst analytics"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("DELETE", "/v1/users/someone", NKEY, NULL, NULL, NULL, 0, &r), &r,
                 "analyst erasure"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("POST", "/v1/events", NKEY, NULL, "application/x-ndjson", "{}\n", 3, &r), &r,
                 "analyst ingest"));
    kit_resp_free(&r);
    CHECK(
        expect(403, "forbidden", get("/v1/search?q=editor", NKEY, NULL, &r), &r, "analyst search"));
    kit_resp_free(&r);

    /* An ingest key: ingest yes; analytics, erasure, search no. */
    CHECK(expect(403, "forbidden", get("/v1/analytics/queries", IKEY, NULL, &r), &r,
                 "ingest analytics"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("DELETE", "/v1/users/someone", IKEY, NULL, NULL, NULL, 0, &r), &r,
                 "ingest erasure"));
    kit_resp_free(&r);
    CHECK(
        expect(403, "forbidden", get("/v1/search?q=editor", IKEY, NULL, &r), &r, "ingest search"));
    kit_resp_free(&r);
    CHECK(expect(401, "missing_credentials",
                 call("POST", "/v1/events", NULL, NULL, "application/x-ndjson", "{}\n", 3, &r), &r,
                 "no key ingest"));
    kit_resp_free(&r);
    CHECK(expect(401, "invalid_credentials", get("/v1/analytics/queries", "nope", NULL, &r), &r,
                 "unknown key analytics"));
    kit_resp_free(&r);

    /* The admin key reaches the privileged endpoints. */
    CHECK(expect(200, NULL, get("/v1/analytics/queries", AKEY, NULL, &r), &r, "admin analytics"));
    kit_resp_free(&r);
    CHECK(expect(404, "not_found",
                 get("/v1/erasures/00000000000000000000000000000000", AKEY, NULL, &r), &r,
                 "admin unknown job"));
    kit_resp_free(&r);

    /* User tokens. */
    CHECK(expect(200, NULL, get("/v1/me/consent", NULL, good, &r), &r, "good token"));
    kit_resp_free(&r);
    const char *expired = mint(tring, "cred-user", now - 7200, 60);
    char exp_copy[SOUK_TOKEN_MAX + 1];
    snprintf(exp_copy, sizeof exp_copy, "%s", expired);
    CHECK(expect(401, "expired_user_token", get("/v1/me/consent", NULL, exp_copy, &r), &r,
                 "expired token"));
    CHECK(!r.body || !strstr(r.body, exp_copy));
    kit_resp_free(&r);
    const char *wrong = mint(wring, "cred-user", now, 600);
    char wrong_copy[SOUK_TOKEN_MAX + 1];
    snprintf(wrong_copy, sizeof wrong_copy, "%s", wrong);
    CHECK(expect(401, "invalid_user_token", get("/v1/me/consent", NULL, wrong_copy, &r), &r,
                 "token of another ring"));
    CHECK(!r.body || !strstr(r.body, wrong_copy));
    kit_resp_free(&r);
    /* Forged: another user's payload under this token's mac. */
    const char *other = mint(tring, "victim-user", now, 600);
    char forged[2 * SOUK_TOKEN_MAX + 2];
    const char *gp = strchr(strchr(good, '.') + 1, '.'), *gm = strrchr(good, '.');
    const char *op = strchr(strchr(other, '.') + 1, '.'), *om = strrchr(other, '.');
    snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(gp - good), good, (int)(om - op), op, gm);
    CHECK(expect(401, "invalid_user_token", get("/v1/me/consent", NULL, forged, &r), &r,
                 "forged token"));
    CHECK(!r.body || !strstr(r.body, forged));
    kit_resp_free(&r);
    CHECK(expect(401, "invalid_user_token", get("/v1/me/consent", NULL, "garbage", &r), &r,
                 "garbage token"));
    kit_resp_free(&r);
    /* A bad token on a search is refused, not silently anonymous. */
    CHECK(expect(401, "invalid_user_token", get("/v1/search?q=editor", SKEY, forged, &r), &r,
                 "forged token on a search"));
    kit_resp_free(&r);
    /* A user token never erases anyone, not even with a search key; alone it is no key. */
    CHECK(expect(403, "forbidden",
                 call("DELETE", "/v1/users/victim-user", SKEY, good, NULL, NULL, 0, &r), &r,
                 "user token erasing another user"));
    kit_resp_free(&r);
    CHECK(expect(401, "missing_credentials",
                 call("DELETE", "/v1/users/victim-user", NULL, good, NULL, NULL, 0, &r), &r,
                 "user token alone erasing"));
    kit_resp_free(&r);
    CHECK(expect(401, "missing_credentials", get("/v1/analytics/queries", NULL, good, &r), &r,
                 "user token analytics"));
    kit_resp_free(&r);
    /* Two token headers are ambiguous. */
    char raw[4096];
    int n = snprintf(raw, sizeof raw,
                     "GET /v1/me/consent HTTP/1.1\r\nHost: t\r\nX-User-Token: %s\r\nX-User-Token: "
                     "%s\r\n\r\n",
                     good, wrong_copy);
    CHECK(kit_request(srv.port, raw, (size_t)n, &r) == 400);
    kit_resp_free(&r);
}

/* ------------------------------------------------------------------ POST /v1/events */

static void test_events_batches(void)
{
    kit_resp r;
    char ts[32];
    time_t t = time(NULL) - 3600;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    char body[8192];
    int n = snprintf(
        body, sizeof body,
        "{\"user\":\"batch-u1\",\"type\":\"view\",\"item\":\"vim\",\"ts\":\"%s\"}\n"
        "\n"
        "{\"user\":\"batch-u1\",\"type\":\"teleport\",\"item\":\"vim\",\"ts\":\"%s\"}\n"
        "{\"user\":\"batch-u2\",\"type\":\"view\",\"item\":\"emacs\",\"ts\":\"%s\","
        "\"email\":\"someone@example.com\"}\n"
        "{\"user\":\"batch-u3\",\"type\":\"view\",\"item\":\"nano\",\"ts\":\"%s\","
        "\"query\":\"free text\"}\n"
        "not json at all\n"
        "{\"user\":\"batch-u\xff\",\"type\":\"view\",\"item\":\"vim\",\"ts\":\"%s\"}\n"
        "{\"user\":\"batch-u4\",\"type\":\"search\",\"query\":\"text editor\",\"ts\":\"%s\"}",
        ts, ts, ts, ts, ts, ts);
    int st = post_events(body, (size_t)n, &r);
    CHECK(expect(200, NULL, st, &r, "mixed batch"));
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results");
    CHECK(cJSON_GetArraySize(res) == 7);
    CHECK(num(&r, "accepted") == 3 && num(&r, "rejected") == 4 && num(&r, "dropped_fields") == 1);
    /* Lines as in the body (the blank line 2 has none): 3, 5, 6 and 7 rejected, with reasons. */
    static const int lines[] = {1, 3, 4, 5, 6, 7, 8};
    static const int bad[] = {0, 1, 0, 1, 1, 1, 0};
    for (int i = 0; i < 7 && i < cJSON_GetArraySize(res); i++) {
        const cJSON *e = cJSON_GetArrayItem(res, i);
        const cJSON *ln = cJSON_GetObjectItemCaseSensitive(e, "line");
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "status"));
        const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
        CHECK(cJSON_IsNumber(ln) && ln->valueint == lines[i]);
        CHECK(s && (strcmp(s, "rejected") == 0) == bad[i]);
        CHECK(!bad[i] || (why && *why));
        if (i == 1)
            CHECK(why && strstr(why, "type"));
        if (i == 3)
            CHECK(why && strstr(why, "query"));
        if (i == 5)
            CHECK(why && strstr(why, "user"));
    }
    CHECK(!strstr(r.body ? r.body : "", "someone@example.com"));
    cJSON_Delete(j);
    kit_resp_free(&r);

    /* 1,001 events: refused whole. */
    size_t cap = 1100 * 128, len = 0;
    char *big = malloc(cap);
    REQUIRE(big);
    for (int i = 0; i < 1001; i++)
        len += (size_t)snprintf(
            big + len, cap - len,
            "{\"user\":\"bulk%d\",\"type\":\"view\",\"item\":\"vim\",\"ts\":\"%s\"}\n", i, ts);
    CHECK(expect(400, "batch_too_large", post_events(big, len, &r), &r, "1,001 events"));
    kit_resp_free(&r);
    /* 1,000 are taken. */
    char *cut = big;
    for (int i = 0; i < 1000; i++)
        cut = strchr(cut, '\n') + 1;
    CHECK(expect(200, NULL, post_events(big, (size_t)(cut - big), &r), &r, "1,000 events"));
    CHECK(num(&r, "accepted") == 1000);
    kit_resp_free(&r);
    free(big);

    /* A body over max_events_body_bytes (1 MiB by default). */
    size_t huge = (1u << 20) + 10;
    char *h = malloc(huge);
    REQUIRE(h);
    memset(h, ' ', huge);
    h[huge - 1] = '\n';
    CHECK(expect(413, NULL, post_events(h, huge, &r), &r, "huge body"));
    kit_resp_free(&r);
    free(h);

    CHECK(expect(415, "unsupported_media_type",
                 call("POST", "/v1/events", IKEY, NULL, "text/csv", "a,b\n", 4, &r), &r,
                 "CSV body"));
    kit_resp_free(&r);
    CHECK(expect(400, "empty_batch", post_events("\n\n", 2, &r), &r, "empty batch"));
    kit_resp_free(&r);
}

/* The Groceries purchase log (transaction_number,date,items) as NDJSON purchases, its dates
 * moved so that the last is yesterday (2014's half then lies past the 365-day retention:
 * "expired"), posted in batches of 1,000. */
static void test_groceries(void)
{
    char path[1024];
    const char *base = getenv("SOUK_SHARED_DATA");
    snprintf(path, sizeof path, "%s/behavior/groceries/Groceries_dataset.csv",
             base ? base : SOUK_SOURCE_DIR "/../shared/data");
    FILE *f = fopen(path, "r");
    if (!f) {
        skip_part("the Groceries log (../shared/data/behavior/groceries/Groceries_dataset.csv) "
                  "is absent: no real events");
        return;
    }
    enum { MAXL = 40000 };
    static char users[MAXL][32], items[MAXL][128];
    static int64_t days[MAXL];
    char line[512];
    size_t n = 0;
    int64_t last = 0;
    REQUIRE(fgets(line, sizeof line, f)); /* the header */
    while (n < MAXL && fgets(line, sizeof line, f)) {
        int d, m, y;
        char item[128];
        unsigned long txn;
        line[strcspn(line, "\r\n")] = 0;
        if (sscanf(line, "%lu,%d-%d-%d,%127[^\n]", &txn, &d, &m, &y, item) != 5)
            continue;
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = 12};
        days[n] = (int64_t)timegm(&tm) / 86400;
        if (days[n] > last)
            last = days[n];
        snprintf(users[n], sizeof users[n], "grocer-%lu", txn);
        snprintf(items[n], sizeof items[n], "%s", item);
        n++;
    }
    fclose(f);
    int64_t shift = (int64_t)time(NULL) / 86400 - 1 - last;
    size_t cap = 1000 * 256;
    char *body = malloc(cap);
    REQUIRE(body);
    uint64_t accepted = 0, stored = 0, expired = 0;
    for (size_t i = 0; i < n; i += 1000) {
        size_t len = 0;
        for (size_t k = i; k < n && k < i + 1000; k++) {
            time_t t = (time_t)((days[k] + shift) * 86400 + 12 * 3600);
            char ts[32];
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
            char item[300];
            /* The items are plain text: no quote or backslash to escape. */
            snprintf(item, sizeof item, "%s", items[k]);
            len += (size_t)snprintf(body + len, cap - len,
                                    "{\"user\":\"%s\",\"type\":\"purchase\",\"item\":\"%s\","
                                    "\"ts\":\"%s\"}\n",
                                    users[k], item, ts);
        }
        kit_resp r;
        CHECK(expect(200, NULL, post_events(body, len, &r), &r, "Groceries batch"));
        accepted += (uint64_t)num(&r, "accepted");
        CHECK(num(&r, "rejected") == 0);
        cJSON *j = cJSON_Parse(r.body ? r.body : "");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "counts");
        double sum = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, c) sum += it->valuedouble;
        CHECK(sum == num(&r, "accepted"));
        stored += (uint64_t)(cJSON_GetObjectItemCaseSensitive(c, "anonymous")
                                 ? cJSON_GetObjectItemCaseSensitive(c, "anonymous")->valuedouble
                                 : 0);
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(c, "expired");
        expired += cJSON_IsNumber(ex) ? (uint64_t)ex->valuedouble : 0;
        cJSON_Delete(j);
        kit_resp_free(&r);
    }
    free(body);
    CHECK(accepted == n);
    CHECK(expired > 0); /* 2014's purchases lie past the 365-day retention */
    CHECK(stored > 0);  /* users without consent: rows under no user key */
    fprintf(stderr, "  Groceries: %zu events posted, %llu stored anonymously, %llu expired\n", n,
            (unsigned long long)stored, (unsigned long long)expired);
}

/* ------------------------------------------------------------------ consent and P4 */

/* Views of the first items of the index by user, now - 60 s. */
static void views(const char *user, const char *const *ids, int nids)
{
    char body[8192], ts[32];
    time_t t = time(NULL) - 60;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    size_t len = 0;
    for (int i = 0; i < nids; i++)
        len += (size_t)snprintf(body + len, sizeof body - len,
                                "{\"user\":\"%s\",\"session\":\"s-%s\",\"type\":\"view\","
                                "\"item\":\"%s\",\"ts\":\"%s\"}\n",
                                user, user, ids[i], ts);
    kit_resp r;
    CHECK(expect(200, NULL, post_events(body, len, &r), &r, "views"));
    CHECK(num(&r, "rejected") == 0);
    kit_resp_free(&r);
}

/* The ids of the first hits of a search for q: into ids (at least max of them), out pointing at
 * them. */
static int item_ids(const char *q, char (*ids)[128], const char **out, int max)
{
    char target[256];
    snprintf(target, sizeof target, "/v1/search?q=%s&per_page=%d", q, max);
    kit_resp r;
    int n = 0;
    for (int i = 0; i < max; i++) { /* "" where the search found fewer */
        ids[i][0] = 0;
        out[i] = ids[i];
    }
    if (get(target, SKEY, NULL, &r) == 200) {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(j, "hits"))
        {
            if (n >= max)
                break;
            snprintf(ids[n], sizeof ids[n], "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "id")));
            out[n] = ids[n];
            n++;
        }
        cJSON_Delete(j);
    }
    kit_resp_free(&r);
    return n;
}

/* 1 when the JSON body's member path a.b is the boolean want. */
static int consent_is(const kit_resp *r, const char *field, int want)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "consent"), field);
    int ok = cJSON_IsBool(v) && cJSON_IsTrue(v) == want;
    cJSON_Delete(j);
    return ok;
}

/* P7: a minor's flags are the backend's (admin key), never the user's own token; a minor is not
 * personalized until a guardian's consent is recorded, whatever the user's own consent says. */
static int personalized_is(const kit_resp *r, int want)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "personalized");
    int ok = cJSON_IsBool(v) && cJSON_IsTrue(v) == want;
    cJSON_Delete(j);
    return ok;
}

static void test_minor(void)
{
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, "minor-user", time(NULL), 3600));
    const char *flags = "/v1/users/minor-user";
    CHECK(expect(403, "forbidden_field", put_consent(tok, "{\"minor\":false}", &r), &r,
                 "a user sets minor"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden_field", put_consent(tok, "{\"guardian_consent\":true}", &r), &r,
                 "a user sets guardian_consent"));
    kit_resp_free(&r);
    CHECK(expect(403, "forbidden",
                 call("PUT", flags, SKEY, NULL, "application/json", "{\"minor\":true}", 14, &r), &r,
                 "a search key sets minor"));
    kit_resp_free(&r);
    CHECK(expect(200, NULL,
                 call("PUT", flags, AKEY, NULL, "application/json", "{\"minor\":true}", 14, &r), &r,
                 "the backend sets minor"));
    CHECK(personalized_is(&r, 0));
    kit_resp_free(&r);
    CHECK(expect(200, NULL, put_consent(tok, "{\"personalization\":true}", &r), &r,
                 "a minor turns personalization on"));
    CHECK(consent_is(&r, "personalization", 1) && consent_is(&r, "minor", 1) &&
          personalized_is(&r, 0));
    kit_resp_free(&r);
    CHECK(expect(
        400, "unknown_field",
        call("PUT", flags, AKEY, NULL, "application/json", "{\"personalization\":true}", 24, &r),
        &r, "the backend sets the user's own consent"));
    kit_resp_free(&r);
    CHECK(expect(
        200, NULL,
        call("PUT", flags, AKEY, NULL, "application/json", "{\"guardian_consent\":true}", 25, &r),
        &r, "the backend records a guardian's consent"));
    CHECK(personalized_is(&r, 1));
    kit_resp_free(&r);
    CHECK(expect(200, NULL, get("/v1/me/consent", SKEY, tok, &r), &r, "minor's consent"));
    CHECK(consent_is(&r, "minor", 1) && consent_is(&r, "guardian_consent", 1) &&
          personalized_is(&r, 1));
    kit_resp_free(&r);
}

static void test_consent_and_identity(void)
{
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, "consent-user", time(NULL), 3600));

    CHECK(expect(200, NULL, get("/v1/me/consent", SKEY, tok, &r), &r, "consent defaults"));
    CHECK(consent_is(&r, "recorded", 0) && consent_is(&r, "personalization", 0));
    kit_resp_free(&r);
    CHECK(expect(400, "unknown_field", put_consent(tok, "{\"marketing\":true}", &r), &r,
                 "unknown consent field"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter", put_consent(tok, "{\"location\":1}", &r), &r,
                 "consent not a boolean"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_json",
                 put_consent(tok, "{\"location\":true,\"location\":false}", &r), &r,
                 "repeated consent field"));
    kit_resp_free(&r);
    CHECK(expect(200, NULL,
                 put_consent(tok, "{\"personalization\":true,\"search_history\":true}", &r), &r,
                 "consent on"));
    CHECK(consent_is(&r, "recorded", 1) && consent_is(&r, "personalization", 1) &&
          consent_is(&r, "search_history", 1) && consent_is(&r, "location", 0));
    kit_resp_free(&r);
    for (int i = 0; i < 6; i++) { /* every worker sees it */
        CHECK(get("/v1/me/consent", NULL, tok, &r) == 200 && consent_is(&r, "personalization", 1));
        kit_resp_free(&r);
    }

    /* History: items viewed, and searches. */
    const char *ids[4];
    char idbuf[4][128];
    int nids = item_ids("editor", idbuf, ids, 4);
    CHECK(nids == 4);
    views("consent-user", ids, nids);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == nids);
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=editor&per_page=5", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=zzqxnomatchzz", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history", NULL, tok, &r) == 200 && arr_len(&r, "entries") == 2 &&
          strstr(r.body, "zzqxnomatchzz"));
    kit_resp_free(&r);

    /* Opt-out: the very next request on every worker sees it. */
    CHECK(expect(200, NULL, put_consent(tok, "{\"personalization\":false}", &r), &r, "opt-out"));
    kit_resp_free(&r);
    for (int i = 0; i < 8; i++) {
        CHECK(get("/v1/me/consent", NULL, tok, &r) == 200 && consent_is(&r, "personalization", 0));
        kit_resp_free(&r);
        CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == 0);
        kit_resp_free(&r);
        CHECK(get("/v1/me/tags", NULL, tok, &r) == 200 && arr_len(&r, "tags") == 0);
        kit_resp_free(&r);
    }
    /* P4: the user's search equals an anonymous one, apart from request id and timing. */
    static const char *const qs[] = {"/v1/search?q=editor&per_page=10",
                                     "/v1/search?q=text+editor&per_page=5&explain=true",
                                     "/v1/search?q=&per_page=5&facets=section"};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        kit_resp a, u;
        CHECK(get(qs[i], SKEY, NULL, &a) == 200);
        CHECK(get(qs[i], SKEY, tok, &u) == 200);
        char *sa = stable_part(&a), *su = stable_part(&u);
        CHECK(strcmp(sa, "(none)") != 0 && strcmp(sa, su) == 0);
        free(sa);
        free(su);
        kit_resp_free(&a);
        kit_resp_free(&u);
    }
    /* Views while opted out are stored under no user key. */
    views("consent-user", ids, 1);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == 0);
    kit_resp_free(&r);

    /* search_history off clears it and records no more. */
    CHECK(expect(200, NULL, put_consent(tok, "{\"search_history\":false}", &r), &r, "history off"));
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=editor", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=editor", SKEY, tok, &r) == 200); /* the consent, as kept */
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history", NULL, tok, &r) == 200 && arr_len(&r, "entries") == 0);
    kit_resp_free(&r);
    /* The personal search keeps the consent it read with the user's affinities while the store
     * is unchanged: turning search history on again acts on the very next search. */
    CHECK(expect(200, NULL, put_consent(tok, "{\"search_history\":true}", &r), &r, "history on"));
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=editor", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history", NULL, tok, &r) == 200 && arr_len(&r, "entries") == 1);
    kit_resp_free(&r);
    CHECK(expect(200, NULL, put_consent(tok, "{\"search_history\":false}", &r), &r, "off again"));
    kit_resp_free(&r);
    CHECK(get("/v1/search?q=editor", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history", NULL, tok, &r) == 200 && arr_len(&r, "entries") == 0);
    kit_resp_free(&r);
}

/* ------------------------------------------------------------------ history, tags, export */

static void test_user_data(void)
{
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1], other[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, "data-user", time(NULL), 3600));
    snprintf(other, sizeof other, "%s", mint(tring, "data-other", time(NULL), 3600));
    CHECK(put_consent(tok, "{\"personalization\":true,\"search_history\":true}", &r) == 200);
    kit_resp_free(&r);
    CHECK(put_consent(other, "{\"personalization\":true,\"search_history\":true}", &r) == 200);
    kit_resp_free(&r);
    const char *ids[4];
    char idbuf[4][128], oidbuf[2][128];
    int nids = item_ids("library", idbuf, ids, 3);
    CHECK(nids == 3);
    views("data-user", ids, nids);
    const char *oids[2];
    CHECK(item_ids("game", oidbuf, oids, 1) == 1);
    views("data-other", oids, 1);

    /* Search history: listed, then cleared. */
    CHECK(get("/v1/search?q=library", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history?limit=10", NULL, tok, &r) == 200 &&
          arr_len(&r, "entries") == 1 && strstr(r.body, "\"library\""));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter", get("/v1/me/search-history?limit=0", NULL, tok, &r), &r,
                 "limit 0"));
    kit_resp_free(&r);
    CHECK(call("DELETE", "/v1/me/search-history", NULL, tok, NULL, NULL, 0, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/search-history", NULL, tok, &r) == 200 && arr_len(&r, "entries") == 0);
    kit_resp_free(&r);

    /* Items: only the user's own; one deleted. */
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == nids);
    CHECK(strcmp(oids[0], ids[0]) == 0 || !strstr(r.body, oids[0]));
    kit_resp_free(&r);
    char target[512], esc[400];
    kit_url_escape(ids[0], esc, sizeof esc);
    snprintf(target, sizeof target, "/v1/me/history/%s", esc);
    CHECK(
        expect(200, NULL, call("DELETE", target, NULL, tok, NULL, NULL, 0, &r), &r, "item delete"));
    kit_resp_free(&r);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == nids - 1);
    kit_resp_free(&r);
    CHECK(get("/v1/me/history", NULL, other, &r) == 200 && arr_len(&r, "items") == 1);
    kit_resp_free(&r);

    /* Tags: from the catalog's sections; one deleted. */
    CHECK(get("/v1/me/tags", NULL, tok, &r) == 200);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(j, "tags");
    int ntags = cJSON_GetArraySize(tags);
    CHECK(ntags >= 1);
    const char *tag = ntags ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                                  cJSON_GetArrayItem(tags, 0), "tag"))
                            : NULL;
    CHECK(tag && strncmp(tag, "category:", 9) == 0);
    if (tag) {
        kit_url_escape(tag, esc, sizeof esc);
        snprintf(target, sizeof target, "/v1/me/tags/%s", esc);
        kit_resp d;
        CHECK(expect(200, NULL, call("DELETE", target, NULL, tok, NULL, NULL, 0, &d), &d,
                     "tag delete"));
        kit_resp_free(&d);
        kit_resp t2;
        CHECK(get("/v1/me/tags", NULL, tok, &t2) == 200 && arr_len(&t2, "tags") == ntags - 1);
        kit_resp_free(&t2);
    }
    cJSON_Delete(j);
    kit_resp_free(&r);

    /* Export: the user's data, none of the other user's. */
    CHECK(expect(200, NULL, get("/v1/me/export", NULL, tok, &r), &r, "export"));
    j = cJSON_Parse(r.body ? r.body : "");
    CHECK(cJSON_IsObject(j));
    CHECK(strstr(r.body, ids[1]) != NULL);
    CHECK(strcmp(oids[0], ids[1]) == 0 || strcmp(oids[0], ids[2]) == 0 || !strstr(r.body, oids[0]));
    cJSON_Delete(j);
    kit_resp_free(&r);
}

/* ------------------------------------------------------------------ erasure and byte scan */

static void test_erasure(void)
{
    static const char *const user = "erase-marker-7Q3Z9";
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, user, time(NULL), 3600));
    CHECK(put_consent(tok, "{\"personalization\":true,\"search_history\":true}", &r) == 200);
    kit_resp_free(&r);
    const char *ids[3];
    char idbuf[3][128];
    int nids = item_ids("python", idbuf, ids, 3);
    views(user, ids, nids);
    CHECK(get("/v1/search?q=python", SKEY, tok, &r) == 200);
    kit_resp_free(&r);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == nids);
    kit_resp_free(&r);
    CHECK(get("/v1/me/export", NULL, tok, &r) == 200);
    kit_resp_free(&r);

    char target[256];
    snprintf(target, sizeof target, "/v1/users/%s", user);
    CHECK(expect(202, NULL, call("DELETE", target, AKEY, NULL, NULL, NULL, 0, &r), &r, "erase"));
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const char *job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "job"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "state"));
    char jobid[64] = "";
    if (job)
        snprintf(jobid, sizeof jobid, "%s", job);
    CHECK(strlen(jobid) == 32 && state);
    cJSON_Delete(j);
    kit_resp_free(&r);
    /* Serving stops using the user's data at once. */
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") <= 0);
    kit_resp_free(&r);
    /* Idempotent: the same job. */
    CHECK(call("DELETE", target, AKEY, NULL, NULL, NULL, 0, &r) == 202 && strstr(r.body, jobid));
    kit_resp_free(&r);
    char jt[128];
    snprintf(jt, sizeof jt, "/v1/erasures/%s", jobid);
    int done = 0;
    for (int i = 0; i < 600 && !done; i++) {
        CHECK(get(jt, AKEY, NULL, &r) == 200);
        done = r.body && strstr(r.body, "\"state\":\"completed\"");
        if (r.body && strstr(r.body, "\"state\":\"failed\""))
            break;
        kit_resp_free(&r);
        if (!done)
            usleep(50000);
    }
    if (done)
        kit_resp_free(&r);
    else
        kit_resp_free(&r);
    CHECK(done);
    /* Its events are refused from now on. */
    char body[512], ts[32];
    time_t t = time(NULL) - 30;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    int n =
        snprintf(body, sizeof body,
                 "{\"user\":\"%s\",\"type\":\"view\",\"item\":\"vim\",\"ts\":\"%s\"}\n", user, ts);
    CHECK(post_events(body, (size_t)n, &r) == 200 && strstr(r.body, "\"suppressed\""));
    kit_resp_free(&r);

    /* The byte scan: the raw id, and its pseudonym (binary and hex). */
    char err[256];
    souk_keyring *kr;
    REQUIRE(souk_keyring_load(pring, NULL, &kr, err, sizeof err) == 0);
    uint8_t ps[SOUK_PSEUDO_LEN];
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, user, strlen(user), ps) == 0);
    souk_keyring_free(kr);
    char hex[2 * SOUK_PSEUDO_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, ps + 1, SOUK_PSEUDO_LEN - 1);
    kit_needles nd;
    kit_needles_init(&nd);
    kit_needle_add(&nd, user, strlen(user));
    kit_needle_add(&nd, ps + 1, SOUK_PSEUDO_LEN - 1);
    kit_needle_add(&nd, hex, strlen(hex));
    CHECK(kit_scan(data_dir, &nd, 0) == 0);
    CHECK(kit_scan(log_path, &nd, 0) == 0);
}

/* ------------------------------------------------------------------ analytics */

static void test_analytics(void)
{
    kit_resp r;
    char ts[32];
    time_t t = time(NULL) - 120;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    /* 60 users search "kitten editor" (one of them 200 times: counts once), 5 "rare gadget". */
    size_t cap = 1000 * 160, len = 0;
    char *body = malloc(cap);
    REQUIRE(body);
    for (int u = 0; u < 65; u++) {
        char user[32];
        snprintf(user, sizeof user, "stat-user-%d", u);
        char tok[SOUK_TOKEN_MAX + 1];
        snprintf(tok, sizeof tok, "%s", mint(tring, user, time(NULL), 600));
        CHECK(put_consent(tok, "{\"personalization\":true,\"search_history\":true}", &r) == 200);
        kit_resp_free(&r);
        /* A search through the server that finds nothing: its event carries nhits 0. */
        if (u < 55) {
            CHECK(get("/v1/search?q=qqzzxnothing", SKEY, tok, &r) == 200 &&
                  strstr(r.body, "\"total\":0,"));
            kit_resp_free(&r);
        }
        int reps = u == 0 ? 200 : 1;
        for (int k = 0; k < reps; k++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "{\"user\":\"%s\",\"type\":\"search\",\"query\":\"%s\","
                                    "\"ts\":\"%s\",\"session\":\"q%d\"}\n",
                                    user, u < 60 ? "kitten editor" : "rare gadget", ts, k);
    }
    CHECK(expect(200, NULL, post_events(body, len, &r), &r, "search events"));
    kit_resp_free(&r);
    free(body);

    CHECK(expect(400, "k_too_small", get("/v1/analytics/queries?k=10", NKEY, NULL, &r), &r,
                 "k under the configured k"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter", get("/v1/analytics/queries?kind=secret", NKEY, NULL, &r),
                 &r, "bad kind"));
    kit_resp_free(&r);
    CHECK(expect(400, "unknown_parameter", get("/v1/analytics/queries?user=x", NKEY, NULL, &r), &r,
                 "unknown parameter"));
    kit_resp_free(&r);
    CHECK(expect(200, NULL, get("/v1/analytics/queries?kind=popular", NKEY, NULL, &r), &r,
                 "popular"));
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "thresholded")));
    CHECK(strstr(r.body, "kitten editor") && !strstr(r.body, "rare gadget"));
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(j, "rows"))
    {
        const cJSON *users = cJSON_GetObjectItemCaseSensitive(row, "users");
        CHECK(cJSON_IsNumber(users) && users->valuedouble >= 50);
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "query"));
        if (q && strcmp(q, "kitten editor") == 0)
            CHECK(users->valuedouble == 60);
    }
    cJSON_Delete(j);
    kit_resp_free(&r);
    CHECK(get("/v1/analytics/queries?kind=popular&k=61", NKEY, NULL, &r) == 200 &&
          !strstr(r.body, "kitten editor"));
    kit_resp_free(&r);
    CHECK(expect(200, NULL, get("/v1/analytics/queries?kind=zero_results", NKEY, NULL, &r), &r,
                 "zero results"));
    j = cJSON_Parse(r.body ? r.body : "");
    int seen = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(j, "rows"))
    {
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "query"));
        CHECK(!q || strcmp(q, "kitten editor") != 0); /* found things: not a zero-result row */
        if (q && strcmp(q, "qqzzxnothing") == 0)
            seen = cJSON_GetObjectItemCaseSensitive(row, "users")->valueint == 55;
    }
    CHECK(seen);
    cJSON_Delete(j);
    kit_resp_free(&r);
    CHECK(expect(200, NULL,
                 get("/v1/analytics/queries?kind=zero_results&noise=true", NKEY, NULL, &r), &r,
                 "zero results with noise"));
    CHECK(r.body && strstr(r.body, "\"noise\":true"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter",
                 get("/v1/analytics/queries?from=2020-01-01&to=2022-01-01", NKEY, NULL, &r), &r,
                 "a period over 366 days"));
    kit_resp_free(&r);
    /* The bound itself: 366 days (both ends included) are served, 367 are not. */
    CHECK(expect(200, NULL,
                 get("/v1/analytics/queries?from=2023-01-01&to=2024-01-01", NKEY, NULL, &r), &r,
                 "a period of 366 days"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter",
                 get("/v1/analytics/queries?from=2023-01-01&to=2024-01-02", NKEY, NULL, &r), &r,
                 "a period of 367 days"));
    kit_resp_free(&r);
    CHECK(expect(400, "invalid_parameter",
                 get("/v1/analytics/queries?from=2025-02-30", NKEY, NULL, &r), &r, "no such date"));
    kit_resp_free(&r);
}

/* ------------------------------------------------------------------ reload and restart */

/* The value of an unlabelled counter in /metrics, or -1. */
static long long metric(const char *name)
{
    kit_resp r;
    long long v = -1;
    if (get("/metrics", AKEY, NULL, &r) == 200) {
        char pat[128];
        snprintf(pat, sizeof pat, "\n%s ", name);
        const char *p = strstr(r.body, pat);
        if (p)
            v = strtoll(p + strlen(pat), NULL, 10);
    }
    kit_resp_free(&r);
    return v;
}

/* SIGHUP; 1 when souk_config_reloads_total reaches want within 3 s. */
static int reload_to(long long want)
{
    kill(srv.pid, SIGHUP);
    for (int i = 0; i < 60; i++) {
        if (metric("souk_config_reloads_total") >= want)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* analytics_k follows a reload; a change to what the store was opened with (retention) is
 * refused and the running configuration stays. */
static void test_reload(void)
{
    kit_resp r;
    write_config(cfg_path, "\"analytics_k\":70,\"policy_version\":2");
    CHECK(reload_to(1));
    CHECK(expect(400, "k_too_small", get("/v1/analytics/queries?k=60", NKEY, NULL, &r), &r,
                 "k under the reloaded k"));
    kit_resp_free(&r);
    write_config(cfg_path,
                 "\"analytics_k\":50,\"policy_version\":2,\"retention\":{\"events_days\":7}");
    CHECK(!reload_to(2));
    CHECK(expect(400, "k_too_small", get("/v1/analytics/queries?k=60", NKEY, NULL, &r), &r,
                 "k after a refused reload"));
    kit_resp_free(&r);
}

/* An erasure interrupted by kill -9 completes after a restart (the background thread resumes
 * pending and running jobs at start). */
static void test_erasure_resume(const char *const *args)
{
    static const char *const user = "resume-marker-4K8W";
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, user, time(NULL), 3600));
    CHECK(put_consent(tok, "{\"personalization\":true,\"search_history\":true}", &r) == 200);
    kit_resp_free(&r);
    const char *ids[2];
    char idbuf[2][128];
    views(user, ids, item_ids("perl", idbuf, ids, 2));
    CHECK(call("DELETE", "/v1/users/resume-marker-4K8W", AKEY, NULL, NULL, NULL, 0, &r) == 202);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    char jt[128];
    snprintf(jt, sizeof jt, "/v1/erasures/%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "job"))
                 ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "job"))
                 : "none");
    cJSON_Delete(j);
    kit_resp_free(&r);
    kill(srv.pid, SIGKILL);
    CHECK(kit_stop(&srv) == 128 + SIGKILL);
    write_config(cfg_path, BASE_CFG); /* as at the first start */
    kit_start(&srv, args);
    int done = 0;
    for (int i = 0; i < 600 && !done; i++) {
        CHECK(get(jt, AKEY, NULL, &r) == 200);
        done = r.body && strstr(r.body, "\"state\":\"completed\"") != NULL;
        kit_resp_free(&r);
        if (!done)
            usleep(50000);
    }
    CHECK(done);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") <= 0);
    kit_resp_free(&r);
}

/* The opt-out and P4 again with --mode queue: the requests run on the pool's workers. */
static void test_queue_mode(void)
{
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads",
                          "2",      "--mode", "queue",    NULL};
    kit_start(&srv, args);
    kit_resp r;
    char tok[SOUK_TOKEN_MAX + 1];
    snprintf(tok, sizeof tok, "%s", mint(tring, "queue-user", time(NULL), 3600));
    CHECK(put_consent(tok, "{\"personalization\":true}", &r) == 200);
    kit_resp_free(&r);
    const char *ids[3];
    char idbuf[3][128];
    int nids = item_ids("shell", idbuf, ids, 3);
    views("queue-user", ids, nids);
    CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == nids);
    kit_resp_free(&r);
    CHECK(put_consent(tok, "{\"personalization\":false}", &r) == 200);
    kit_resp_free(&r);
    for (int i = 0; i < 8; i++) {
        CHECK(get("/v1/me/history", NULL, tok, &r) == 200 && arr_len(&r, "items") == 0);
        kit_resp_free(&r);
        kit_resp a, u;
        CHECK(get("/v1/search?q=shell&per_page=5", SKEY, NULL, &a) == 200);
        CHECK(get("/v1/search?q=shell&per_page=5", SKEY, tok, &u) == 200);
        char *sa = stable_part(&a), *su = stable_part(&u);
        CHECK(strcmp(sa, "(none)") != 0 && strcmp(sa, su) == 0);
        free(sa);
        free(su);
        kit_resp_free(&a);
        kit_resp_free(&u);
    }
    CHECK(kit_stop(&srv) == 0);
}

/* souk-token: the token it prints is accepted; its errors name the fault. */
static void test_souk_token(void)
{
    char cmd[2048], out[2048];
    snprintf(cmd, sizeof cmd,
             "'%s/souk-token' --key '%s' --user cli-user --ttl 600 --region eu 2>&1", SOUK_BIN_DIR,
             tring);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    CHECK(pclose(p) == 0);
    out[strcspn(out, "\n")] = 0;
    kit_resp r;
    CHECK(expect(200, NULL, get("/v1/me/consent", NULL, out, &r), &r, "souk-token's token"));
    kit_resp_free(&r);
    static const struct {
        const char *args;
        int status;
        const char *msg;
    } bad[] = {{"--user u --ttl 60", 2, "--key"},
               {"--key %s --ttl 60", 2, "--user"},
               {"--key %s --user u", 2, "--ttl"},
               {"--key %s --user u --ttl 0", 2, "--ttl"},
               {"--key %s --user u --ttl 60 --color red", 2, "--color"},
               {"--key %s.missing --user u --ttl 60", 1, "--key"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char a[1024];
        snprintf(a, sizeof a, bad[i].args, tring);
        snprintf(cmd, sizeof cmd, "'%s/souk-token' %s 2>&1 >/dev/null", SOUK_BIN_DIR, a);
        p = popen(cmd, "r");
        REQUIRE(p);
        n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        int st = pclose(p);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == bad[i].status && strstr(out, bad[i].msg));
    }
    char loose[700];
    snprintf(loose, sizeof loose, "%s/keys/loose.ring", dir); /* mode 0644 */
    snprintf(cmd, sizeof cmd, "'%s/souk-token' --key '%s' --user u --ttl 60 2>&1 >/dev/null",
             SOUK_BIN_DIR, loose);
    p = popen(cmd, "r");
    REQUIRE(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(out, "0600"));
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE(mkdir(keys, 0700) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys);
    snprintf(tring, sizeof tring, "%s/token.ring", keys);
    snprintf(wring, sizeof wring, "%s/wrong.ring", keys);
    snprintf(log_path, sizeof log_path, "%s/access.log", dir);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    kit_write_ring(wring, 0600);
    snprintf(skey_hash, sizeof skey_hash, "%s", kit_hash_key(SKEY));
    snprintf(akey_hash, sizeof akey_hash, "%s", kit_hash_key(AKEY));
    snprintf(ikey_hash, sizeof ikey_hash, "%s", kit_hash_key(IKEY));
    snprintf(nkey_hash, sizeof nkey_hash, "%s", kit_hash_key(NKEY));
    REQUIRE(kit_debian_index(data_dir, 2000, "--quiet") == 0);

    test_start_refusals();

    write_config(cfg_path, BASE_CFG);
    const char *args[] = {"--data", data_dir,    "--config",     cfg_path, "--threads", "2",
                          "--mode", "reuseport", "--access-log", log_path, NULL};
    kit_start(&srv, args);
    test_credentials();
    test_souk_token();
    test_events_batches();
    test_consent_and_identity();
    test_minor();
    test_user_data();
    test_analytics();
    test_groceries();
    test_erasure();
    test_reload();
    test_erasure_resume(args);
    CHECK(kit_stop(&srv) == 0);
    test_queue_mode();

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_privacy_http");
}
