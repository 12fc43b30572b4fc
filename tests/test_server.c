/* test_server.c: the real souk-server on 127.0.0.1 (ephemeral port) over an index of the first
 * 8,000 records of the Debian catalog, spoken to over plain sockets. It covers every endpoint
 * and every error status of docs/api.md, hits equal to the engine's own, pipelining, CORS,
 * hostile input, slowloris and idle timeouts, the connection cap, concurrent clients, a commit
 * made by souk-index while requests are in flight, SIGHUP reload, the access log, the queue
 * mode with its 429, a graceful SIGTERM with requests in flight, and that no snapshot outlives its
 * request (the data file does not grow with a server running). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <lmdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-server-XXXXXX";
static char data_dir[512], cfg_path[512], log_path[512];
static const char *SKEY = "test-search-key-0123", *AKEY = "test-admin-key-4567";

/* ------------------------------------------------------------------ HTTP (tests/kit/http.h) */

/* A connection to 127.0.0.1:port (REQUIREd). */
static kit_conn *dial(int port)
{
    kit_conn *c = kit_dial(port);
    REQUIRE(c);
    return c;
}

/* One request on a new connection: 0 when a response came, else -1. */
static int request(int port, const char *raw, size_t len, kit_resp *r)
{
    return kit_request(port, raw, len, r) < 0 ? -1 : 0;
}

static int get(int port, const char *target, const char *key, kit_resp *r)
{
    return kit_get(port, target, key, r) < 0 ? -1 : 0;
}

static int post(int port, const char *target, const char *body, const char *key, kit_resp *r)
{
    return kit_post(port, target, body, key, r) < 0 ? -1 : 0;
}

#define EXPECT_ERR(r, st, code)                                                                    \
    do {                                                                                           \
        char cb_[64];                                                                              \
        CHECK((r).status == (st));                                                                 \
        CHECK(strcmp(kit_err_code(&(r), cb_, sizeof cb_), (code)) == 0);                           \
        if ((r).status != (st) || strcmp(cb_, (code)) != 0)                                        \
            fprintf(stderr, "  got %d %s\n", (r).status, (r).body ? (r).body : "");                \
    } while (0)

/* ------------------------------------------------------------------ the server process */

/* with_log 2: no config file, --development instead (every endpoint open). */
static void start_server(kit_server *s, const char *mode, int with_log)
{
    if (with_log == 2)
        kit_start(s, (const char *[]){"--data", data_dir, "--development", "--threads", "2",
                                      "--mode", mode, NULL});
    else
        kit_start(s, (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "2",
                                      "--mode", mode, with_log ? "--access-log" : NULL, log_path,
                                      NULL});
}

static int stop_server(kit_server *s)
{
    return kit_stop(s);
}

static void write_config(const char *skey, const char *extra)
{
    char *sh = strdup(kit_hash_key(skey)), *ah = strdup(kit_hash_key(AKEY));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
            "\"cors_origins\":[\"https://shop.example\"],"
            "\"limits\":{\"max_body_bytes\":4096,\"max_header_bytes\":4096,\"max_url_bytes\":2048,"
            "\"max_per_page\":50,\"max_depth\":500,\"header_timeout_ms\":500,"
            "\"idle_timeout_ms\":1500,\"max_connections\":40%s}}\n",
            sh, ah, extra ? extra : "");
    fclose(f);
    free(sh);
    free(ah);
}

/* ------------------------------------------------------------------ helpers on results */

/* The ids of a search response's hits. */
static int hit_ids(const kit_resp *r, char ids[][128], int max, double *scores)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    int n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
    {
        if (n < max) {
            snprintf(ids[n], 128, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(h, "id")));
            if (scores)
                scores[n] = cJSON_GetObjectItem(h, "score")->valuedouble;
        }
        n++;
    }
    cJSON_Delete(j);
    return n;
}

/* The engine's own top k ids for q (the server must return the same). */
static int engine_ids(const char *q, unsigned flags, int k, char ids[][128])
{
    char err[256];
    souk_index *ix;
    REQUIRE(souk_index_open(data_dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    souk_searcher *s;
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    souk_hit hits[64];
    size_t n = 0;
    souk_search_opts o = {(uint32_t)k, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, NULL};
    REQUIRE(souk_search(s, q, strlen(q), &o, hits, &n, NULL, err, sizeof err) == 0);
    for (size_t i = 0; i < n; i++) {
        const char *id, *json;
        size_t il, jl;
        REQUIRE(souk_reader_doc(souk_searcher_reader(s), hits[i].docid, &id, &il, &json, &jl) == 0);
        snprintf(ids[i], 128, "%.*s", (int)il, id);
    }
    souk_searcher_free(s);
    souk_index_close(ix);
    return (int)n;
}

/* ------------------------------------------------------------------ load threads */

typedef struct load {
    int port;
    const char *target;
    atomic_int *stop;
    int ok, other, broken, done_ok;
    int per_conn;
    int overloaded; /* of `other`: 429 with code "overloaded" and Retry-After */
} load;

/* Sends keep-alive searches until *stop; counts 200s, other complete answers, and broken
 * responses (a connection closing between responses is not broken). */
static void *load_main(void *arg)
{
    load *l = arg;
    char raw[1024];
    int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n\r\n",
                     l->target, SKEY);
    while (!atomic_load(l->stop)) {
        kit_conn *fd = kit_dial(l->port);
        if (!fd)
            break;
        for (int i = 0; i < l->per_conn && !atomic_load(l->stop); i++) {
            kit_resp r;
            if (kit_send(fd, raw, (size_t)n) || kit_read(fd, &r)) {
                if (fd->len)
                    l->broken++;
                break;
            }
            if (r.status == 200) {
                l->ok++;
            } else {
                char code[64];
                l->other++;
                l->overloaded += r.status == 429 &&
                                 strcmp(kit_err_code(&r, code, sizeof code), "overloaded") == 0 &&
                                 strcasestr(r.head, "\r\nRetry-After: 1\r\n") != NULL;
            }
            int closing = strcasestr(r.head, "connection: close") != NULL;
            kit_resp_free(&r);
            if (closing)
                break;
        }
        kit_close(fd);
    }
    return NULL;
}

/* ------------------------------------------------------------------ the tests */

static void test_endpoints(int port)
{
    kit_resp r;
    char b[64];
    REQUIRE(get(port, "/healthz", NULL, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"status\":\"ok\"") && strstr(r.body, "\"docs\":"));
    kit_resp_free(&r);

    /* Credentials. */
    REQUIRE(get(port, "/v1/search?q=editor", NULL, &r) == 0);
    EXPECT_ERR(r, 401, "missing_credentials");
    CHECK(strcasestr(r.head, "WWW-Authenticate:"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=editor", "not-a-key", &r) == 0);
    EXPECT_ERR(r, 401, "invalid_credentials");
    kit_resp_free(&r);
    REQUIRE(get(port, "/metrics", SKEY, &r) == 0);
    EXPECT_ERR(r, 403, "forbidden");
    kit_resp_free(&r);

    /* Hits equal the engine's, on every page, by GET and by POST. */
    char want[20][128], got[20][128];
    int nw = engine_ids("text editor", 0, 20, want);
    CHECK(nw == 20);
    REQUIRE(get(port, "/v1/search?q=text+editor&per_page=20", SKEY, &r) == 0);
    CHECK(r.status == 200);
    CHECK(hit_ids(&r, got, 20, NULL) == nw);
    for (int i = 0; i < nw; i++)
        CHECK(strcmp(want[i], got[i]) == 0);
    CHECK(strstr(r.body, "\"request_id\":") && strstr(r.body, "\"took_us\":") &&
          strstr(r.body, "\"total\":") && strstr(r.body, "\"fields\":{"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=text%20editor&page=2&per_page=5", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 5, NULL) == 5);
    for (int i = 0; i < 5; i++)
        CHECK(strcmp(want[5 + i], got[i]) == 0);
    kit_resp_free(&r);
    nw = engine_ids("web server", SOUK_QP_DEFAULT_AND, 10, want);
    REQUIRE(post(port, "/v1/search", "{\"q\":\"web server\",\"operator\":\"and\",\"explain\":true}",
                 SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 10, NULL) == nw);
    for (int i = 0; i < nw; i++)
        CHECK(strcmp(want[i], got[i]) == 0);
    {
        /* The explanation's parts add up to each hit's score. */
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *h;
        int explained = 0;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
        {
            double sum = 0;
            const cJSON *t;
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(h, "explain")) sum +=
                cJSON_GetObjectItem(t, "score")->valuedouble;
            double score = cJSON_GetObjectItem(h, "score")->valuedouble;
            CHECK(sum > 0 && fabs(sum - score) < 1e-9 * score);
            explained++;
        }
        CHECK(explained == nw);
        cJSON_Delete(j);
    }
    kit_resp_free(&r);
    /* Browsing: an empty query matches the whole catalog. */
    REQUIRE(get(port, "/v1/search?q=&per_page=3", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 3, NULL) == 3 && strstr(r.body, "\"total\":8000"));
    kit_resp_free(&r);

    /* Storefront parameters: a filter, facets and a sort, through GET and POST. */
    REQUIRE(get(port,
                "/v1/search?q=&filter=section%20%3D%20games&sort=installed_size_kb:desc"
                "&facets=tags,installed_size_kb:0:1000:1e9&facet_size=5&per_page=20",
                SKEY, &r) == 0);
    CHECK(r.status == 200);
    {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *h, *hits = cJSON_GetObjectItem(j, "hits");
        double last = INFINITY;
        int n = 0, sorted = 1, games = 1;
        cJSON_ArrayForEach(h, hits)
        {
            const cJSON *f = cJSON_GetObjectItem(h, "fields");
            double v = cJSON_GetObjectItem(f, "installed_size_kb")->valuedouble;
            sorted &= v <= last;
            last = v;
            games &= strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(f, "section")), "games") == 0;
            n++;
        }
        CHECK(n == 20 && sorted && games);
        const cJSON *facets = cJSON_GetObjectItem(j, "facets");
        const cJSON *tags = cJSON_GetObjectItem(cJSON_GetObjectItem(facets, "tags"), "values");
        const cJSON *size =
            cJSON_GetObjectItem(cJSON_GetObjectItem(facets, "installed_size_kb"), "values");
        CHECK(cJSON_GetArraySize(tags) == 5 && cJSON_GetArraySize(size) == 2);
        double total = cJSON_GetObjectItem(j, "total")->valuedouble;
        double in_buckets = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, size) in_buckets += cJSON_GetObjectItem(b, "count")->valuedouble;
        CHECK(total > 20 && in_buckets == total && strstr(r.body, "\"total_relation\":\"eq\""));
        cJSON_Delete(j);
    }
    kit_resp_free(&r);
    REQUIRE(post(port, "/v1/search",
                 "{\"q\":\"editor\",\"filter\":\"section = editors OR section = text\","
                 "\"facets\":[\"section\"],\"boost\":\"installed_size_kb:0.01\"}",
                 SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"facets\":{\"section\":{\"values\":[{"));
    kit_resp_free(&r);

    /* Search as you type: the last word is a prefix ("edito" finds "editor"). */
    REQUIRE(get(port, "/v1/search?q=zqxedito", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"total\":0,"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=edito&prefix=true&per_page=5", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 5, NULL) == 5 && strcasestr(r.body, "editor"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=edito&per_page=5", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 5, NULL) == 0); /* no word "edito" */
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=e&prefix=true", SKEY, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=e&prefix=maybe", SKEY, &r) == 0);
    EXPECT_ERR(r, 400, "invalid_parameter");
    kit_resp_free(&r);

    /* Deep paging: following next_cursor page by page gives the same order as one big page,
     * by relevance and by a sort. */
    const char *bases[] = {"/v1/search?q=text+editor",
                           "/v1/search?q=&filter=section%3Dlibs&sort=installed_size_kb:desc"};
    for (int bi = 0; bi < 2; bi++) {
        char target[512], big[40][128], page[10][128], cursor[200] = "";
        snprintf(target, sizeof target, "%s&per_page=40", bases[bi]);
        REQUIRE(get(port, target, SKEY, &r) == 0);
        int nbig = hit_ids(&r, big, 40, NULL);
        kit_resp_free(&r);
        CHECK(nbig == 40);
        int at = 0, same = 1;
        for (int pg = 0; pg < 4; pg++) {
            snprintf(target, sizeof target, "%s&per_page=10%s%s", bases[bi],
                     cursor[0] ? "&cursor=" : "", cursor);
            REQUIRE(get(port, target, SKEY, &r) == 0);
            CHECK(r.status == 200);
            int np = hit_ids(&r, page, 10, NULL);
            for (int i = 0; i < np && at < 40; i++, at++)
                same &= strcmp(page[i], big[at]) == 0;
            const char *nc = strstr(r.body, "\"next_cursor\":\"");
            CHECK(nc != NULL);
            if (nc)
                snprintf(cursor, sizeof cursor, "%.*s", (int)strcspn(nc + 15, "\""), nc + 15);
            kit_resp_free(&r);
        }
        CHECK(same && at == 40);
    }

    /* Highlighting: matched words in <em>, in the stored text fields. */
    REQUIRE(get(port, "/v1/search?q=text+editor&highlight=true&per_page=3", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"highlight\":{\"title\":") &&
          strcasestr(r.body, "<em>editor</em>"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=&filter=section%3Deditors&highlight=true&per_page=1", SKEY,
                &r) == 0);
    CHECK(r.status == 200); /* browsing: nothing to mark */
    kit_resp_free(&r);

    /* Typo tolerance: "edtor" finds editors only with typo=true. */
    REQUIRE(get(port, "/v1/search?q=text+edtor&operator=and", SKEY, &r) == 0);
    CHECK(r.status == 200 && !strstr(r.body, "did_you_mean")); /* only when asked */
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=text+edtor&operator=and&suggest=true", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"hits\":[]") &&
          strstr(r.body, "\"did_you_mean\":\"text editor\""));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=edtor", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"total\":0,"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/search?q=edtor&typo=true&per_page=3", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 3, NULL) == 3 && strcasestr(r.body, "editor"));
    kit_resp_free(&r);

    /* Items. */
    char target[300], expect[300];
    snprintf(target, sizeof target, "/v1/items/%s", want[0]);
    snprintf(expect, sizeof expect, "{\"id\":\"%s\",\"fields\":{", want[0]);
    REQUIRE(get(port, target, SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, expect));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/items/no-such-package", SKEY, &r) == 0);
    EXPECT_ERR(r, 404, "not_found");
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/nothing-here", SKEY, &r) == 0);
    EXPECT_ERR(r, 404, "not_found");
    kit_resp_free(&r);
    REQUIRE(request(port, "DELETE /v1/search HTTP/1.1\r\nHost: t\r\n\r\n", 40, &r) == 0);
    EXPECT_ERR(r, 405, "method_not_allowed");
    CHECK(strstr(r.head, "Allow: GET, POST"));
    kit_resp_free(&r);

    /* Metrics with the admin key. */
    REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
    CHECK(r.status == 200);
    CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"search\",status=\"200\"}"));
    CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"search\",status=\"401\"} 2"));
    CHECK(strstr(r.body, "souk_http_request_duration_seconds_bucket{endpoint=\"search\","));
    CHECK(strstr(r.body, "souk_index_documents 8000"));
    CHECK(strstr(r.body, "souk_index_generation "));
    CHECK(strstr(r.body, "souk_index_size_bytes "));
    CHECK(strstr(r.body, "souk_http_open_connections "));
    kit_resp_free(&r);
    (void)b;
}

static void test_bad_input(int port)
{
    kit_resp r;
    struct {
        const char *target;
        const char *code;
    } bad[] = {
        {"/v1/search?q=a&per_page=0", "invalid_parameter"},
        {"/v1/search?q=a&per_page=51", "invalid_parameter"},
        {"/v1/search?q=a&per_page=99999999999999999999999", "invalid_parameter"},
        {"/v1/search?q=a&page=abc", "invalid_parameter"},
        {"/v1/search?q=a&page=11&per_page=50", "invalid_parameter"},
        {"/v1/search?q=%FF%FEabc", "invalid_parameter"},
        {"/v1/search?q=ab%00cd", "invalid_parameter"},
        {"/v1/search?q=%G1", "bad_request"},
        {"/v1/search?q=a&q=b", "invalid_parameter"},
        {"/v1/search?q=a&per_pgae=3", "unknown_parameter"},
        {"/v1/search?q=a&filter=price%3C10", "invalid_parameter"},
        {"/v1/search?q=a&filter=section%3Dgames%29%20OR%20%28", "invalid_parameter"},
        {"/v1/search?q=a&facets=version", "invalid_parameter"},
        {"/v1/search?q=a&sort=version:asc", "invalid_parameter"},
        {"/v1/search?q=a&sort=installed_size_kb:up", "invalid_parameter"},
        {"/v1/search?q=a&boost=installed_size_kb:abc", "invalid_parameter"},
        {"/v1/search?q=a&cursor=abc", "invalid_parameter"},
        {"/v1/search?q=a&cursor=c1.5.0000000000000000&page=2", "invalid_parameter"},
        {"/v1/search?q=a&sort=installed_size_kb:asc&cursor=c1.5.0000000000000000",
         "invalid_parameter"},
        {"/v1/search?q=a&profile=fast", "invalid_parameter"},
        {"/v1/search?q=a&highlight=yes", "invalid_parameter"},
        {"/v1/search?q=a&lang=klingon", "invalid_parameter"},
        {"/v1/search?q=a&operator=xor", "invalid_parameter"},
        {"/v1/search?q=a&explain=maybe", "invalid_parameter"},
        {"/v1/items/vim?x=1", "unknown_parameter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REQUIRE(get(port, bad[i].target, SKEY, &r) == 0);
        EXPECT_ERR(r, 400, bad[i].code);
        CHECK(strstr(r.body, "\"message\":"));
        kit_resp_free(&r);
    }
    /* A long q is refused. Query syntax follows Xapian's QueryParser: stray and unbalanced
     * brackets and an unterminated phrase are tolerated (a shopper's typing is searched), a
     * dangling operator or brackets nested past 64 levels are 400 query_syntax. */
    char big[1200] = "/v1/search?q=";
    memset(big + 13, 'a', 1100);
    big[1113] = 0;
    REQUIRE(get(port, big, SKEY, &r) == 0);
    EXPECT_ERR(r, 400, "invalid_parameter");
    kit_resp_free(&r);
    static const struct {
        const char *target;
        int status;
    } syn[] = {
        {"/v1/search?q=title%3A(a%20OR%20b))%20AND%20((", 200},
        {"/v1/search?q=(editor", 200},
        {"/v1/search?q=editor)", 200},
        {"/v1/search?q=%22unterminated%20phrase", 200},
        {"/v1/search?q=NEAR%20NEAR%20*", 200},
        {"/v1/search?q=a%20AND%20NOT%20OR%20b%20-", 400},
        {"/v1/search?q=editor%20AND", 400},
        {"/v1/search?q=OR%20editor", 400},
    };
    for (size_t i = 0; i < sizeof syn / sizeof syn[0]; i++) {
        REQUIRE(get(port, syn[i].target, SKEY, &r) == 0);
        if (syn[i].status == 200)
            CHECK(r.status == 200);
        else
            EXPECT_ERR(r, 400, "query_syntax");
        kit_resp_free(&r);
    }
    char deep[200] = "/v1/search?q=";
    for (int i = 0; i < 80; i++)
        strcat(deep, "(");
    REQUIRE(get(port, deep, SKEY, &r) == 0);
    EXPECT_ERR(r, 400, "query_syntax");
    kit_resp_free(&r);

    /* POST bodies. */
    struct {
        const char *body;
        const char *code;
    } bodies[] = {
        {"{\"q\":\"editor\",", "bad_request"},
        {"[1,2,3]", "bad_request"},
        {"{\"q\":42}", "invalid_parameter"},
        {"{\"q\":\"a\",\"per_page\":1e308}", "invalid_parameter"},
        {"{\"q\":\"a\",\"per_page\":2.5}", "invalid_parameter"},
        {"{\"q\":\"a\",\"explain\":\"yes\"}", "invalid_parameter"},
        {"{\"q\":\"a\",\"colour\":\"red\"}", "unknown_parameter"},
        {"{\"q\":\"a\",\"sort\":[\"price\"]}", "invalid_parameter"},
        {"{\"q\":\"a\",\"profile\":42}", "invalid_parameter"},
        {"{\"q\":\"\xff\xfe\"}", "bad_request"},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        REQUIRE(post(port, "/v1/search", bodies[i].body, SKEY, &r) == 0);
        EXPECT_ERR(r, 400, bodies[i].code);
        kit_resp_free(&r);
    }
    /* What cJSON accepts but Souk refuses (issue 17, souk/json_strict.h): a repeated key at
     * any depth, a NUL escaped or raw (it cut a filter short), a BOM, trailing data. */
    static const struct {
        const char *body;
        size_t len;
    } strict[] = {
#define BODY(s) {s, sizeof s - 1}
        BODY("{\"q\":\"a\",\"q\":\"b\"}"),
        BODY("{\"q\":\"a\",\"facets\":[{\"x\":1,\"x\":2}]}"),
        BODY("{\"q\":\"a\",\"filter\":\"section = games\\u0000 AND x\"}"),
        BODY("{\"q\":\"a\"}\0"),
        BODY("\xEF\xBB\xBF{\"q\":\"a\"}"),
        BODY("{\"q\":\"a\"} {}"),
#undef BODY
    };
    for (size_t i = 0; i < sizeof strict / sizeof strict[0]; i++) {
        char raw[512];
        int hl = snprintf(raw, sizeof raw,
                          "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                          "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                          SKEY, strict[i].len);
        memcpy(raw + hl, strict[i].body, strict[i].len);
        REQUIRE(request(port, raw, (size_t)hl + strict[i].len, &r) == 0);
        EXPECT_ERR(r, 400, "invalid_json");
        kit_resp_free(&r);
    }
    char nested[4000];
    size_t n = 0;
    n += (size_t)sprintf(nested, "{\"q\":");
    for (int i = 0; i < 1900; i++)
        nested[n++] = '[';
    nested[n] = 0;
    REQUIRE(post(port, "/v1/search", nested, SKEY, &r) == 0);
    EXPECT_ERR(r, 400, "bad_request");
    kit_resp_free(&r);
    REQUIRE(request(port,
                    "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: test-search-key-0123\r\n"
                    "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
                    118, &r) == 0);
    EXPECT_ERR(r, 415, "unsupported_media_type");
    kit_resp_free(&r);

    /* Size caps: body (413), target (414), headers (431). */
    REQUIRE(request(port,
                    "POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Content-Length: 100000\r\n\r\n{",
                    95, &r) == 0);
    EXPECT_ERR(r, 413, "body_too_large");
    kit_resp_free(&r);
    char longurl[3000] = "/v1/search?q=";
    memset(longurl + 13, 'b', 2500);
    longurl[2513] = 0;
    REQUIRE(get(port, longurl, SKEY, &r) == 0);
    EXPECT_ERR(r, 414, "uri_too_long");
    kit_resp_free(&r);
    char hdrs[6000];
    int hn = snprintf(hdrs, sizeof hdrs, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Junk: ");
    memset(hdrs + hn, 'j', 5000);
    hn += 5000;
    hn += snprintf(hdrs + hn, sizeof hdrs - (size_t)hn, "\r\n\r\n");
    REQUIRE(request(port, hdrs, (size_t)hn, &r) == 0);
    EXPECT_ERR(r, 431, "headers_too_large");
    kit_resp_free(&r);

    /* Malformed framing. */
    REQUIRE(request(port, "BLAH BLAH BLAH\r\n\r\n", 18, &r) == 0);
    EXPECT_ERR(r, 400, "bad_request");
    kit_resp_free(&r);
    REQUIRE(request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", 53,
                    &r) == 0);
    CHECK(r.status == 400);
    kit_resp_free(&r);
    /* A truncated body and a peer that vanishes mid-request. */
    kit_conn *fd = dial(port);
    const char *trunc = "POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100\r\n\r\n{\"q\":";
    kit_send(fd, trunc, strlen(trunc));
    kit_close(fd);
    for (int i = 0; i < 20; i++) {
        fd = dial(port);
        kit_send(fd, "GET /v1/search?q=a", 18);
        kit_close(fd);
    }
    REQUIRE(get(port, "/healthz", NULL, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
}

/* Reads what the server sends on fd until it closes (or 3 s pass); returns the bytes read and
 * whether it closed. */
static size_t read_until_close(int fd, char *buf, size_t cap, int *closed)
{
    size_t len = 0;
    *closed = 0;
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n == 0)
            *closed = 1;
        if (n <= 0 || len + (size_t)n >= cap - 1) {
            if (n > 0)
                len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = 0;
    return len;
}

/* HTTP as clients speak it: Expect: 100-continue, HTTP/1.0 (closed after the answer), HEAD
 * where documented (headers and no body) and 405 with Allow where not, a protocol upgrade
 * refused, CORS for an allowed and a foreign origin, and a framing error answered and closed. */
static void test_http_protocol(int port)
{
    char *buf = malloc(1 << 16), raw[1024];
    int closed;
    /* Expect: 100-continue: the interim answer comes before the body is sent. */
    const char *body = "{\"q\":\"editor\"}";
    kit_conn *fd = dial(port);
    REQUIRE(fd);
    int n = snprintf(raw, sizeof raw,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\nExpect: 100-continue\r\n"
                     "Connection: close\r\n\r\n",
                     SKEY, strlen(body));
    REQUIRE(kit_send(fd, raw, (size_t)n) == 0);
    ssize_t got = recv(fd->fd, buf, 64, 0);
    CHECK(got >= 25 && strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    REQUIRE(kit_send(fd, body, strlen(body)) == 0);
    read_until_close(fd->fd, buf, 1 << 16, &closed);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf, "\"hits\":[{") && closed);
    kit_close(fd);

    /* HTTP/1.0 without keep-alive: answered, then closed. */
    fd = dial(port);
    n = snprintf(raw, sizeof raw, "GET /v1/search?q=editor HTTP/1.0\r\nX-Api-Key: %s\r\n\r\n",
                 SKEY);
    REQUIRE(kit_send(fd, raw, (size_t)n) == 0);
    read_until_close(fd->fd, buf, 1 << 16, &closed);
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strcasestr(buf, "\r\nConnection: close\r\n") &&
          closed);
    kit_close(fd);

    /* HEAD: the headers of the GET, Content-Length included, no body. */
    fd = dial(port);
    n = snprintf(raw, sizeof raw,
                 "HEAD /v1/items/0ad HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nConnection: "
                 "close\r\n\r\n",
                 SKEY);
    REQUIRE(kit_send(fd, raw, (size_t)n) == 0);
    size_t len = read_until_close(fd->fd, buf, 1 << 16, &closed);
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl = strcasestr(buf, "\r\nContent-Length: ");
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && end && cl && atoi(cl + 18) > 0 &&
          (size_t)(end + 4 - buf) == len && closed);
    kit_close(fd);
    /* HEAD where it is not documented: 405 naming what is allowed, still without a body. */
    fd = dial(port);
    n = snprintf(raw, sizeof raw,
                 "HEAD /v1/search?q=editor HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nConnection: "
                 "close\r\n\r\n",
                 SKEY);
    REQUIRE(kit_send(fd, raw, (size_t)n) == 0);
    len = read_until_close(fd->fd, buf, 1 << 16, &closed);
    end = strstr(buf, "\r\n\r\n");
    CHECK(strncmp(buf, "HTTP/1.1 405 ", 13) == 0 &&
          strcasestr(buf, "\r\nAllow: GET, POST, OPTIONS\r\n") && end &&
          (size_t)(end + 4 - buf) == len);
    kit_close(fd);
    kit_resp r;

    /* Upgrade: refused, named. */
    n = snprintf(raw, sizeof raw,
                 "GET /v1/search?q=editor HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nConnection: "
                 "Upgrade\r\nUpgrade: websocket\r\n\r\n",
                 SKEY);
    REQUIRE(request(port, raw, (size_t)n, &r) == 0);
    EXPECT_ERR(r, 400, "bad_request");
    kit_resp_free(&r);

    /* CORS: an allowed origin is echoed with Vary: Origin, a foreign one gets no CORS header. */
    n = snprintf(raw, sizeof raw,
                 "GET /v1/search?q=editor HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nOrigin: "
                 "https://shop.example\r\n\r\n",
                 SKEY);
    REQUIRE(request(port, raw, (size_t)n, &r) == 0);
    CHECK(r.status == 200 &&
          strcasestr(r.head, "\r\nAccess-Control-Allow-Origin: https://shop.example\r\n") &&
          strcasestr(r.head, "\r\nVary: Origin\r\n"));
    kit_resp_free(&r);
    n = snprintf(raw, sizeof raw,
                 "GET /v1/search?q=editor HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nOrigin: "
                 "https://evil.example\r\n\r\n",
                 SKEY);
    REQUIRE(request(port, raw, (size_t)n, &r) == 0);
    CHECK(r.status == 200 && !strcasestr(r.head, "Access-Control-Allow-Origin"));
    kit_resp_free(&r);

    /* A framing error is answered and the connection closed: the request after it, on the same
     * connection, is never read. */
    fd = dial(port);
    const char *bad = "GARBAGE\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE(kit_send(fd, bad, strlen(bad)) == 0);
    read_until_close(fd->fd, buf, 1 << 16, &closed);
    CHECK(strncmp(buf, "HTTP/1.1 400 ", 13) == 0 && strstr(buf, "\"bad_request\"") && closed &&
          !strstr(buf + 13, "HTTP/1.1 200"));
    kit_close(fd);
    free(buf);
}

static void test_pipelining_and_cors(int port)
{
    kit_conn *fd = dial(port);
    REQUIRE(fd);
    char raw[2048];
    int n = snprintf(raw, sizeof raw,
                     "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "X-Request-Id: pipe-1\r\n\r\n"
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "X-Request-Id: pipe-2\r\nContent-Type: application/json\r\n"
                     "Content-Length: 11\r\n\r\n{\"q\":\"git\"}"
                     "GET /v1/items/nope HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                     "X-Request-Id: pipe-3\r\n\r\n",
                     SKEY, SKEY, SKEY);
    REQUIRE(kit_send(fd, raw, (size_t)n) == 0);
    kit_resp r;
    int want[] = {200, 200, 404};
    for (int i = 0; i < 3; i++) {
        REQUIRE(kit_read(fd, &r) == 0);
        CHECK(r.status == want[i]);
        char rid[32];
        snprintf(rid, sizeof rid, "X-Request-Id: pipe-%d", i + 1);
        CHECK(strstr(r.head, rid));
        kit_resp_free(&r);
    }
    kit_close(fd);

    /* CORS: an allowed origin is echoed; preflight answers 204; others get nothing. */
    n = snprintf(raw, sizeof raw,
                 "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nOrigin: "
                 "https://shop.example\r\n\r\n",
                 SKEY);
    REQUIRE(request(port, raw, (size_t)n, &r) == 0);
    CHECK(r.status == 200 && strstr(r.head, "Access-Control-Allow-Origin: https://shop.example"));
    kit_resp_free(&r);
    const char *pre = "OPTIONS /v1/search HTTP/1.1\r\nHost: t\r\nOrigin: https://shop.example\r\n"
                      "Access-Control-Request-Method: POST\r\n\r\n";
    REQUIRE(request(port, pre, strlen(pre), &r) == 0);
    CHECK(r.status == 204 && strstr(r.head, "Access-Control-Allow-Methods: GET, POST") &&
          strstr(r.head, "X-Api-Key"));
    kit_resp_free(&r);
    n = snprintf(raw, sizeof raw,
                 "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nOrigin: "
                 "https://evil.example\r\n\r\n",
                 SKEY);
    REQUIRE(request(port, raw, (size_t)n, &r) == 0);
    CHECK(r.status == 200 && !strstr(r.head, "Access-Control-Allow-Origin"));
    kit_resp_free(&r);
}

static void test_timeouts_and_cap(int port)
{
    /* Slowloris: a request that does not complete in time gets 408 and the connection ends. */
    kit_conn *fd = dial(port);
    kit_send(fd, "GET /healthz HTTP/1.1\r\nHo", 25);
    kit_resp r;
    REQUIRE(kit_read(fd, &r) == 0);
    EXPECT_ERR(r, 408, "request_timeout");
    kit_resp_free(&r);
    char c;
    CHECK(recv(fd->fd, &c, 1, 0) == 0);
    kit_close(fd);
    /* An idle keep-alive connection is closed. */
    fd = dial(port);
    CHECK(recv(fd->fd, &c, 1, 0) == 0);
    kit_close(fd);
    /* Past max_connections (40) a connection gets 503. First the connections above must be
     * gone (a closed connection lingers until the server has read the peer's FIN): a kept-alive
     * connection asks /metrics until it is the only one open, then 44 more are opened. */
    kit_conn *mfd = dial(port);
    char mreq[256];
    int mn = snprintf(mreq, sizeof mreq,
                      "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n\r\n", AKEY);
    int alone = 0;
    for (int i = 0; i < 50 && !alone; i++) {
        REQUIRE(kit_send(mfd, mreq, (size_t)mn) == 0 && kit_read(mfd, &r) == 0);
        alone = strstr(r.body, "souk_http_open_connections 1\n") != NULL;
        kit_resp_free(&r);
        if (!alone)
            usleep(100000);
    }
    CHECK(alone);
    kit_conn *fds[44];
    int over = 0;
    for (int i = 0; i < 44; i++)
        fds[i] = dial(port);
    for (int i = 0; i < 44; i++) {
        struct timeval tv = {0, 300000};
        setsockopt(fds[i]->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (kit_read(fds[i], &r) == 0) {
            char cb[64];
            over +=
                r.status == 503 && strcmp(kit_err_code(&r, cb, sizeof cb), "over_capacity") == 0;
            kit_resp_free(&r);
        }
    }
    if (over != 5)
        fprintf(stderr, "  connection cap: %d of 45 refused\n", over);
    CHECK(over == 5);
    for (int i = 0; i < 44; i++)
        kit_close(fds[i]);
    kit_close(mfd);
    usleep(100000);
}

/* Commits one catalog record into the served index with souk-index (its exit status). */
static int index_record(const char *json)
{
    char stream[600], cmd[2048];
    snprintf(stream, sizeof stream, "%s/record.ndjson", dir);
    FILE *f = fopen(stream, "w");
    REQUIRE(f);
    fprintf(f, "%s\n", json);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' >/dev/null 2>&1",
             SOUK_BIN_DIR, data_dir, stream);
    return system(cmd);
}

static void test_concurrency_and_commit(int port)
{
    /* 8 clients on keep-alive connections while souk-index commits a new document; the commit
     * is visible to the first request after souk-index returns. */
    atomic_int stop = 0;
    load l[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        l[i] = (load){port,  i % 2 ? "/v1/search?q=zqxcommitprobe" : "/v1/search?q=text+editor",
                      &stop, 0,
                      0,     0,
                      0,     50,
                      0};
        pthread_create(&th[i], NULL, load_main, &l[i]);
    }
    usleep(200000);
    CHECK(index_record("{\"op\":\"upsert\",\"id\":\"zqx-probe\",\"title\":\"zqxcommitprobe "
                       "packaging tool\",\"description\":\"added while the server answers\"}") ==
          0);
    kit_resp r;
    REQUIRE(get(port, "/v1/search?q=zqxcommitprobe", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"id\":\"zqx-probe\"") &&
          strstr(r.body, "\"total\":1,"));
    kit_resp_free(&r);
    REQUIRE(get(port, "/v1/items/zqx-probe", SKEY, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    usleep(200000);
    atomic_store(&stop, 1);
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
        CHECK(l[i].other == 0 && l[i].broken == 0);
    }
    fprintf(stderr, "  concurrent clients: %d searches answered during the commit\n", ok);
    CHECK(ok > 100);
}

/* A number after `name` in a /metrics body (0 when absent). */
static unsigned long long metric(const char *body, const char *name)
{
    const char *p = strstr(body, name);
    return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

/* The warmer: after a commit, the attribute columns and typo dictionary of the new generation
 * are built once, ahead of the requests, and concurrent filtered/faceted/typo requests then
 * build nothing. */
/* Highlighting of what is not a plain word: Chinese n-gram matches are marked as the whole
 * matched run of characters, and a part number typed joined is marked however the text spaces
 * it (both were left unmarked). */
static void test_highlight_runs(int port)
{
    CHECK(index_record("{\"op\":\"upsert\",\"id\":\"zqx-bolt\",\"title\":\"不锈钢六角螺栓 DIN 933 "
                       "M8x40\",\"description\":\"Hex bolt ISO-4017, 全螺纹。螺母 sold "
                       "apart.\",\"section\":\"utils\"}") == 0);
    static const struct {
        const char *q, *want, *not_want;
    } cases[] = {
        {"%E8%9E%BA%E6%A0%93", "不锈钢六角<em>螺栓</em> DIN 933", "<em>螺</em>"}, /* 螺栓 */
        {"%E8%9E%BA", "<em>螺</em>母", NULL}, /* 螺: a one-character query */
        {"%E5%85%AD%E8%A7%92%E8%9E%BA%E6%A0%93", "不锈钢<em>六角螺栓</em>", NULL}, /* 六角螺栓 */
        {"DIN933", "<em>DIN 933</em>", NULL},
        {"din-933", "<em>DIN 933</em>", NULL},
        {"ISO4017", "Hex bolt <em>ISO-4017</em>", NULL},
        {"M8x40", "<em>M8x40</em>", NULL},
        {"%E8%9E%BA%E6%A0%93+bolt", "Hex <em>bolt</em>", "<em>螺</em>母"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char target[512];
        snprintf(target, sizeof target,
                 "/v1/search?q=%s&highlight=true&filter=section%%3Dutils&per_page=50", cases[i].q);
        kit_resp r;
        REQUIRE(get(port, target, SKEY, &r) == 0);
        CHECK(r.status == 200);
        cJSON *j = cJSON_Parse(r.body ? r.body : "");
        const cJSON *hit, *found = NULL;
        cJSON_ArrayForEach(hit, cJSON_GetObjectItem(j, "hits"))
        {
            const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(hit, "id"));
            if (id && strcmp(id, "zqx-bolt") == 0)
                found = hit;
        }
        char *hl = found ? cJSON_PrintUnformatted(cJSON_GetObjectItem(found, "highlight")) : NULL;
        int ok = hl && strstr(hl, cases[i].want) &&
                 !(cases[i].not_want && strstr(hl, cases[i].not_want));
        if (!ok)
            fprintf(stderr, "  highlight for q=%s: want %s, got %s\n", cases[i].q, cases[i].want,
                    hl ? hl : "(no such hit)");
        CHECK(ok);
        free(hl);
        cJSON_Delete(j);
        kit_resp_free(&r);
    }
}

static void test_warmer(int port)
{
    kit_resp r;
    unsigned long long gen = 0, cols = 0, typo = 0;
    /* Let the warmer catch up with the commit of the test before (its counts settle). */
    for (int i = 0, same = 0; i < 100 && same < 4; i++) {
        usleep(50000);
        REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
        unsigned long long g = metric(r.body, "\nsouk_index_generation "),
                           c = metric(r.body, "souk_cache_builds_total{cache=\"columns\"} "),
                           t = metric(r.body, "souk_cache_builds_total{cache=\"typo\"} ");
        kit_resp_free(&r);
        same = g == gen && c == cols && t == typo ? same + 1 : 0;
        gen = g;
        cols = c;
        typo = t;
    }
    CHECK(cols >= 1 && typo >= 1); /* the generation at start was warmed */
    CHECK(index_record("{\"op\":\"upsert\",\"id\":\"zqx-warm\",\"title\":\"zqxwarmprobe "
                       "tool\",\"section\":\"utils\"}") == 0);
    unsigned long long c2 = 0, t2 = 0, g2 = 0;
    for (int i = 0; i < 100 && (g2 <= gen || c2 <= cols || t2 <= typo); i++) {
        usleep(50000);
        REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
        g2 = metric(r.body, "\nsouk_index_generation ");
        c2 = metric(r.body, "souk_cache_builds_total{cache=\"columns\"} ");
        t2 = metric(r.body, "souk_cache_builds_total{cache=\"typo\"} ");
        kit_resp_free(&r);
    }
    if (!(g2 == gen + 1 && c2 == cols + 1 && t2 == typo + 1))
        fprintf(
            stderr,
            "  warmer: generation %llu -> %llu, column builds %llu -> %llu, typo %llu -> %llu\n",
            gen, g2, cols, c2, typo, t2);
    CHECK(g2 == gen + 1 && c2 == cols + 1 && t2 == typo + 1);
    /* Requests of the new generation find both built. */
    const char *targets[] = {"/v1/search?q=&filter=section+%3D+utils&facets=section",
                             "/v1/search?q=zqxwarmprobe&sort=installed_size_kb:desc",
                             "/v1/search?q=zqxwarmprobr&typo=true", "/v1/search?facets=section"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        REQUIRE(get(port, targets[i], SKEY, &r) == 0);
        CHECK(r.status == 200);
        if (i == 2)
            CHECK(strstr(r.body, "\"id\":\"zqx-warm\""));
        kit_resp_free(&r);
    }
    REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
    CHECK(metric(r.body, "souk_cache_builds_total{cache=\"columns\"} ") == c2);
    CHECK(metric(r.body, "souk_cache_builds_total{cache=\"typo\"} ") == t2);
    kit_resp_free(&r);
}

/* The workers' caches of decoded documents (limits.doc_cache_mb): the same search again is
 * answered from them (souk_doc_cache_hits_total), and a document changed by a commit is served
 * as it stands after it, never as it was cached. */
static void test_doc_cache(int port)
{
    CHECK(index_record("{\"op\":\"upsert\",\"id\":\"zqx-cache\",\"title\":\"zqxcacheprobe "
                       "version one\"}") == 0);
    kit_resp r;
    REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
    long long h0 = kit_metric_value(r.body, "souk_doc_cache_hits_total"),
              m0 = kit_metric_value(r.body, "souk_doc_cache_misses_total");
    kit_resp_free(&r);
    for (int i = 0; i < 10; i++) {
        REQUIRE(get(port, "/v1/search?q=zqxcacheprobe", SKEY, &r) == 0);
        CHECK(r.status == 200 && strstr(r.body, "version one") && strstr(r.body, "\"total\":1,"));
        kit_resp_free(&r);
    }
    REQUIRE(get(port, "/metrics", AKEY, &r) == 0);
    long long h1 = kit_metric_value(r.body, "souk_doc_cache_hits_total"),
              m1 = kit_metric_value(r.body, "souk_doc_cache_misses_total"),
              bytes = kit_metric_value(r.body, "souk_doc_cache_bytes");
    kit_resp_free(&r);
    printf("  doc cache: 10 searches of one hit: %lld hits, %lld misses, %lld bytes held\n",
           h1 - h0, m1 - m0, bytes);
    CHECK(m1 - m0 >= 1 && m1 - m0 <= 2); /* once per worker that served it */
    CHECK(h1 - h0 == 10 - (m1 - m0));
    CHECK(bytes > 0 && bytes <= 2 * (32LL << 20));
    CHECK(index_record("{\"op\":\"upsert\",\"id\":\"zqx-cache\",\"title\":\"zqxcacheprobe "
                       "version two\"}") == 0);
    for (int i = 0; i < 4; i++) {
        REQUIRE(get(port, "/v1/search?q=zqxcacheprobe", SKEY, &r) == 0);
        CHECK(r.status == 200 && strstr(r.body, "version two") && !strstr(r.body, "version one"));
        kit_resp_free(&r);
        REQUIRE(get(port, "/v1/items/zqx-cache", SKEY, &r) == 0);
        CHECK(r.status == 200 && strstr(r.body, "version two") && !strstr(r.body, "version one"));
        kit_resp_free(&r);
    }
}

static void test_reload(kit_server *s)
{
    const char *newkey = "rotated-search-key-89";
    kit_resp r;
    write_config(newkey, NULL);
    kill(s->pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s->port, "/v1/search?q=vim", newkey, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    REQUIRE(get(s->port, "/v1/search?q=vim", SKEY, &r) == 0);
    EXPECT_ERR(r, 401, "invalid_credentials");
    kit_resp_free(&r);
    /* A broken file is refused and the running configuration stays. */
    FILE *f = fopen(cfg_path, "w");
    fputs("{\"search_keys\":[\"sha256:zz\"]}", f);
    fclose(f);
    kill(s->pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s->port, "/v1/search?q=vim", newkey, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    REQUIRE(get(s->port, "/metrics", AKEY, &r) == 0);
    CHECK(strstr(r.body, "souk_config_reloads_total 1\n"));
    kit_resp_free(&r);
    /* A config with a broken synonym group is refused too. */
    f = fopen(cfg_path, "w");
    fputs("{\"synonyms\":[[\"lonely\"]]}", f);
    fclose(f);
    kill(s->pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s->port, "/v1/search?q=vim", newkey, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    /* Synonyms and stop words change live with a reload. */
    REQUIRE(get(s->port, "/v1/search?q=zqxsynonym", AKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"total\":0,"));
    kit_resp_free(&r);
    write_config(SKEY, NULL);
    f = fopen(cfg_path, "r+");
    REQUIRE(f);
    fseek(f, -2, SEEK_END); /* before the closing "}\n" */
    fputs(",\"synonyms\":[[\"zqxsynonym\",\"text editor\"]],\"stop_words\":[\"the\"],"
          "\"profiles\":{\"biggest\":{\"sort\":\"installed_size_kb:desc\",\"typo\":true}}}\n",
          f);
    fclose(f);
    kill(s->pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s->port, "/v1/search?q=zqxsynonym", SKEY, &r) == 0);
    CHECK(r.status == 200 && !strstr(r.body, "\"total\":0,") && strcasestr(r.body, "editor"));
    kit_resp_free(&r);
    /* A ranking profile from the config: its sort and typo tolerance apply, and a request's
     * own sort wins over the profile's. */
    REQUIRE(get(s->port, "/v1/search?q=edtor&profile=biggest&per_page=5", SKEY, &r) == 0);
    CHECK(r.status == 200 && !strstr(r.body, "\"total\":0,"));
    {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *h;
        double last = INFINITY;
        int sorted = 1, n = 0;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
        {
            double v = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "fields"), "installed_size_kb")
                           ->valuedouble;
            sorted &= v <= last;
            last = v;
            n++;
        }
        CHECK(sorted && n == 5);
        cJSON_Delete(j);
    }
    kit_resp_free(&r);
    REQUIRE(get(s->port, "/v1/search?q=edtor&profile=biggest&sort=installed_size_kb:asc&per_page=5",
                SKEY, &r) == 0);
    {
        cJSON *j = cJSON_Parse(r.body);
        const cJSON *h;
        double last = -INFINITY;
        int sorted = 1;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
        {
            double v = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "fields"), "installed_size_kb")
                           ->valuedouble;
            sorted &= v >= last;
            last = v;
        }
        CHECK(r.status == 200 && sorted);
        cJSON_Delete(j);
    }
    kit_resp_free(&r);
    REQUIRE(get(s->port, "/v1/search?q=vim&profile=nosuch", SKEY, &r) == 0);
    EXPECT_ERR(r, 400, "invalid_parameter");
    kit_resp_free(&r);
    write_config(SKEY, NULL);
    kill(s->pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s->port, "/v1/search?q=zqxsynonym", SKEY, &r) == 0);
    CHECK(r.status == 200 && strstr(r.body, "\"total\":0,"));
    kit_resp_free(&r);
}

static void test_access_log(void)
{
    FILE *f = fopen(log_path, "r");
    REQUIRE(f);
    char line[1024];
    int lines = 0, search = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        search += strstr(line, " GET /v1/search 200 ") != NULL;
        CHECK(!strstr(line, SKEY) && !strstr(line, AKEY) && !strstr(line, "editor") &&
              !strstr(line, "zqx") && !strstr(line, "vim"));
    }
    fclose(f);
    CHECK(lines > 50 && search > 5);
}

static void test_graceful_shutdown(kit_server *s)
{
    atomic_int stop = 0;
    load l[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (load){
            s->port, "/v1/search?q=python+library&per_page=50", &stop, 0, 0, 0, 0, 1000000, 0};
        pthread_create(&th[i], NULL, load_main, &l[i]);
    }
    /* A request already sent when SIGTERM arrives still gets its whole answer. */
    kit_conn *fd = dial(s->port);
    char raw[512];
    int n = snprintf(raw, sizeof raw,
                     "GET /v1/search?q=library&per_page=50&explain=true HTTP/1.1\r\nHost: t\r\n"
                     "X-Api-Key: %s\r\n\r\n",
                     SKEY);
    /* A health check half sent before SIGTERM and finished after it fails (503). */
    kit_conn *hfd = dial(s->port);
    kit_send(hfd, "GET /healthz HTTP/1.1\r\n", 23);
    usleep(200000);
    kit_send(fd, raw, (size_t)n);
    kill(s->pid, SIGTERM);
    kit_resp r;
    int got = kit_read(fd, &r);
    CHECK(got == 0 && r.status == 200);
    if (got != 0 || r.status != 200)
        fprintf(stderr, "  in-flight request at SIGTERM: %s %d\n", got ? "no answer" : "status",
                got ? 0 : r.status);
    kit_resp_free(&r);
    kit_close(fd);
    usleep(100000);
    kit_send(hfd, "Host: t\r\n\r\n", 11);
    REQUIRE(kit_read(hfd, &r) == 0);
    EXPECT_ERR(r, 503, "shutting_down");
    kit_resp_free(&r);
    kit_close(hfd);
    int status = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(waitpid(s->pid, &status, 0) == s->pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(t1.tv_sec - t0.tv_sec < 8);
    atomic_store(&stop, 1);
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
        CHECK(l[i].broken == 0);
    }
    CHECK(ok > 0);
}

static void test_queue_mode(void)
{
    kit_server s;
    write_config(SKEY, NULL);
    start_server(&s, "queue", 0);
    char want[10][128], got[10][128];
    int nw = engine_ids("text editor", 0, 10, want);
    kit_resp r;
    REQUIRE(get(s.port, "/v1/search?q=text+editor", SKEY, &r) == 0);
    CHECK(r.status == 200 && hit_ids(&r, got, 10, NULL) == nw);
    for (int i = 0; i < nw; i++)
        CHECK(strcmp(want[i], got[i]) == 0);
    kit_resp_free(&r);
    test_pipelining_and_cors(s.port);
    /* A peer that leaves while its request runs on the pool. */
    for (int i = 0; i < 20; i++) {
        kit_conn *fd = dial(s.port);
        char raw[256];
        int n = snprintf(raw, sizeof raw,
                         "GET /v1/search?q=library&per_page=50 HTTP/1.1\r\nHost: t\r\n"
                         "X-Api-Key: %s\r\n\r\n",
                         SKEY);
        kit_send(fd, raw, (size_t)n);
        kit_close(fd);
    }
    CHECK(stop_server(&s) == 0);

    /* With room for one request at a time, a burst gets 429s and every answer is whole. */
    write_config(SKEY, ",\"max_queue\":1");
    start_server(&s, "queue", 0);
    atomic_int stop = 0;
    load l[16];
    pthread_t th[16];
    for (int i = 0; i < 16; i++) {
        l[i] = (load){
            s.port, "/v1/search?q=python+library+module&per_page=50", &stop, 0, 0, 0, 0, 1000, 0};
        pthread_create(&th[i], NULL, load_main, &l[i]);
    }
    usleep(500000);
    atomic_store(&stop, 1);
    int ok = 0, other = 0, overloaded = 0;
    for (int i = 0; i < 16; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
        other += l[i].other;
        overloaded += l[i].overloaded;
        CHECK(l[i].broken == 0);
    }
    fprintf(stderr, "  queue mode with max_queue 1: %d answered, %d refused with 429\n", ok, other);
    CHECK(ok > 0 && other > 0);
    CHECK(overloaded == other); /* every refusal is a 429 "overloaded" with Retry-After */
    REQUIRE(get(s.port, "/metrics", AKEY, &r) == 0);
    CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"other\",status=\"429\"}"));
    kit_resp_free(&r);
    CHECK(stop_server(&s) == 0);
}

/* ------------------------------------------------------------------ snapshots and file growth */

/* The reader slots of the index's lock table that hold a snapshot (a txnid, not "-"). */
static int reader_list_line(const char *msg, void *ctx)
{
    int *active = ctx;
    int pid;
    char thread[64], txn[64];
    if (sscanf(msg, "%d %63s %63s", &pid, thread, txn) == 3 && strcmp(txn, "-") != 0)
        (*active)++;
    return 0;
}

static int active_readers(const char *data)
{
    MDB_env *env;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 64) == 0);
    REQUIRE(mdb_env_open(env, data, MDB_RDONLY, 0644) == 0);
    int active = 0;
    REQUIRE(mdb_reader_list(env, reader_list_line, &active) >= 0);
    mdb_env_close(env);
    return active;
}

/* The snapshots still held after up to 2 s: the warmer may be building the last commit's
 * caches (a short, allowed hold); a snapshot kept by a request that ended stays. */
static int readers_left(const char *data)
{
    int held = 0;
    for (int i = 0; i < 40 && (held = active_readers(data)) != 0; i++)
        usleep(50000);
    return held;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Commits `commits` batches of 400 updated records (a new title each time) into the index at
 * `data` with souk-index; returns the size of its data.mdb afterwards. */
static long long update_commits(const char *data, char **records, int nrec, int commits)
{
    char stream[600], cmd[2048], path[600];
    for (int k = 0; k < commits; k++) {
        snprintf(stream, sizeof stream, "%s/updates-%d.ndjson", dir, k);
        FILE *f = fopen(stream, "w");
        REQUIRE(f);
        for (int i = 0; i < 400; i++) {
            cJSON *j = cJSON_Parse(records[(i * 17 + k * 400) % nrec]);
            REQUIRE(j);
            char title[512];
            snprintf(title, sizeof title, "%s rev%d",
                     cJSON_GetStringValue(cJSON_GetObjectItem(j, "title")), k);
            cJSON_ReplaceItemInObject(j, "title", cJSON_CreateString(title));
            char *out = cJSON_PrintUnformatted(j);
            fprintf(f, "%s\n", out);
            cJSON_free(out);
            cJSON_Delete(j);
        }
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "'%s/souk-index' --data '%s' catalog '%s' --no-spelling >/dev/null", SOUK_BIN_DIR,
                 data, stream);
        REQUIRE(system(cmd) == 0);
    }
    snprintf(path, sizeof path, "%s/data.mdb", data);
    return file_size(path);
}

/* No reader may hold a snapshot longer than a request: an open LMDB read transaction pins every
 * page freed after it, and the data file grows with every commit (in queue mode the loop's own
 * searcher kept its start-up snapshot for ever: 50 MB -> 868 MB over 40 commits). The same
 * commits into three copies of the index: with no server, with an idle server in queue mode,
 * and with a server under search load in reuseport mode. */
static void test_snapshots(void)
{
    char *records[8000];
    int nrec = 0;
    char cmd[4096], line[1 << 16];
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n 8000", debian_catalog());
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    while (nrec < 8000 && fgets(line, sizeof line, p))
        records[nrec++] = strdup(line);
    pclose(p);
    REQUIRE(nrec == 8000);

    char copy[3][480], saved[512];
    for (int i = 0; i < 3; i++) {
        snprintf(copy[i], sizeof copy[i], "%s/snap%d", dir, i);
        snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", data_dir, copy[i]);
        REQUIRE(system(cmd) == 0);
    }
    const int commits = 12;
    long long alone = update_commits(copy[0], records, nrec, commits);

    /* An idle server in queue mode, after one request. */
    memcpy(saved, data_dir, sizeof saved);
    snprintf(data_dir, sizeof data_dir, "%s", copy[1]);
    kit_server s;
    start_server(&s, "queue", 0);
    kit_resp r;
    REQUIRE(get(s.port, "/v1/search?q=editor", SKEY, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    long long idle = update_commits(copy[1], records, nrec, commits);
    int held = readers_left(copy[1]);
    CHECK(held == 0);
    CHECK(stop_server(&s) == 0);

    /* A server under load in reuseport mode. */
    snprintf(data_dir, sizeof data_dir, "%s", copy[2]);
    start_server(&s, "reuseport", 0);
    atomic_int stop = 0;
    load l[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (load){s.port, i % 2 ? "/v1/search?q=text+editor" : "/v1/search?q=&facets=section",
                      &stop,  0,
                      0,      0,
                      0,      50,
                      0};
        REQUIRE(pthread_create(&th[i], NULL, load_main, &l[i]) == 0);
    }
    long long busy = update_commits(copy[2], records, nrec, commits);
    atomic_store(&stop, 1);
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ok += l[i].ok;
    }
    CHECK(ok > 0);
    int held_after = readers_left(copy[2]); /* the load has stopped: nothing is held */
    CHECK(held_after == 0);
    CHECK(stop_server(&s) == 0);
    memcpy(data_dir, saved, sizeof saved);

    fprintf(stderr,
            "  data.mdb after %d commits: %lld bytes alone, %lld with an idle queue-mode server "
            "(%d snapshot(s) held), %lld with a loaded reuseport server (%d searches)\n",
            commits, alone, idle, held, busy, ok);
    CHECK(alone > 0 && idle > 0 && busy > 0);
    CHECK(idle <= alone + alone / 4 + (4 << 20));
    CHECK(busy <= alone + alone / 2 + (4 << 20));
    for (int i = 0; i < nrec; i++)
        free(records[i]);
}

/* The procurement schema as a storefront uses it: an item id with a slash and a space, category
 * paths filtered at every level, and part numbers typed the ways buyers type them. */
static void test_procurement(void)
{
    char saved[512], src[600], cmd[2048];
    memcpy(saved, data_dir, sizeof saved);
    snprintf(data_dir, sizeof data_dir, "%s/procurement", dir);
    snprintf(src, sizeof src, "%s/procurement.ndjson", dir);
    FILE *f = fopen(src, "w");
    REQUIRE(f);
    fputs("{\"id\":\"acme/bolt m8\",\"title\":\"Hex bolt M8x40 DIN 933 zinc plated\","
          "\"category\":\"Tools > Fasteners > Bolts\",\"brand\":\"Acme\","
          "\"part_number\":\"DIN933-M8x40\",\"price\":0.12}\n"
          "{\"id\":\"nut-m8\",\"title\":\"Hex nut M8 DIN 934\",\"category\":\"Tools > Fasteners > "
          "Nuts\",\"price\":0.03}\n"
          "{\"id\":\"drill-1\",\"title\":\"Cordless drill 18V\",\"category\":\"Tools > Power "
          "tools\",\"price\":89}\n"
          "{\"id\":\"gloves\",\"title\":\"Work gloves\",\"category\":\"Safety > Hand "
          "protection\",\"price\":4}\n"
          "{\"id\":\"bearing\",\"title\":\"Deep groove ball bearing 6204-2RS\",\"category\":"
          "\"Tools > Bearings\",\"price\":2.5}\n"
          /* As in a real catalog, M8 is common and M8x40 rare (docs/part-numbers.md: with both
           * as rare, BM25 alone does not put the code first). */
          "{\"id\":\"washer-m8\",\"title\":\"Flat washer M8\",\"category\":\"Tools > "
          "Fasteners > Washers\"}\n"
          "{\"id\":\"rod-m8\",\"title\":\"Threaded rod M8 1 m\",\"category\":\"Tools > "
          "Fasteners > Rods\"}\n"
          "{\"id\":\"anchor-m8\",\"title\":\"Wedge anchor M8\",\"category\":\"Tools > "
          "Fasteners > Anchors\"}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/procurement.json' catalog "
             "'%s' --quiet >/dev/null 2>&1",
             SOUK_BIN_DIR, data_dir, SOUK_SOURCE_DIR, src);
    REQUIRE(system(cmd) == 0);
    kit_server s;
    start_server(&s, "queue", 0);
    kit_resp r;
    char ids[8][128];

    /* Ids with a slash and a space, escaped or with the slash as it is. */
    const char *items[] = {"/v1/items/acme%2Fbolt%20m8", "/v1/items/acme/bolt%20m8"};
    for (int i = 0; i < 2; i++) {
        REQUIRE(get(s.port, items[i], SKEY, &r) == 0);
        CHECK(r.status == 200 && strstr(r.body, "\"id\":\"acme/bolt m8\""));
        kit_resp_free(&r);
    }

    /* A category path matches itself and every level below it, nothing beside it. */
    static const struct {
        const char *filter;
        int n;
    } paths[] = {
        {"category%20%3D%20%22Tools%20%3E%20Fasteners%22", 5},
        {"category%20%3D%20%22Tools%22", 7},
        {"category%20%3D%20%22Tools%20%3E%20Fasteners%20%3E%20Bolts%22", 1},
        {"category%20%3D%20%22Fasteners%22", 0}, /* not a top level */
        {"category%20%3D%20%22Safety%20%3E%20Hand%20protection%22", 1},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char target[512];
        snprintf(target, sizeof target, "/v1/search?q=&filter=%s&per_page=10", paths[i].filter);
        REQUIRE(get(s.port, target, SKEY, &r) == 0);
        int n = r.status == 200 ? hit_ids(&r, ids, 8, NULL) : -1;
        if (n != paths[i].n)
            fprintf(stderr, "  filter %s: %d hits, want %d\n", paths[i].filter, n, paths[i].n);
        CHECK(n == paths[i].n);
        kit_resp_free(&r);
    }

    /* Part numbers as buyers type them: the item that carries the code comes first. */
    static const struct {
        const char *q, *first;
    } codes[] = {
        {"M8-x-40", "acme/bolt m8"}, {"M8+x+40", "acme/bolt m8"}, {"m8x40", "acme/bolt m8"},
        {"DIN933", "acme/bolt m8"},  {"din+933", "acme/bolt m8"}, {"DIN-934", "nut-m8"},
        {"6204+2RS", "bearing"},     {"62042rs", "bearing"},      {"6204-2RS", "bearing"},
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char target[512];
        snprintf(target, sizeof target, "/v1/search?q=%s&per_page=5", codes[i].q);
        REQUIRE(get(s.port, target, SKEY, &r) == 0);
        int n = r.status == 200 ? hit_ids(&r, ids, 8, NULL) : -1;
        int ok = n > 0 && strcmp(ids[0], codes[i].first) == 0;
        if (!ok)
            fprintf(stderr, "  q=%s: %d hits, first %s, want %s\n", codes[i].q, n,
                    n > 0 ? ids[0] : "-", codes[i].first);
        CHECK(ok);
        kit_resp_free(&r);
    }
    /* A code typed as one word ("M8x40") is not added a second time as the catalog word its
     * join is: its term is counted once in the score. */
    static const char *const once[] = {"M8x40", "m8x40", "bolt+m8x40"};
    for (int i = 0; i < 3; i++) {
        char target[256];
        snprintf(target, sizeof target, "/v1/search?q=%s&explain=true&per_page=1", once[i]);
        REQUIRE(get(s.port, target, SKEY, &r) == 0);
        int count = 0;
        /* In the flat list ("explain"); the tree ("explanation") after it names it again. */
        const char *tree = r.body ? strstr(r.body, "\"explanation\"") : NULL;
        for (const char *p = r.body;
             p && (p = strstr(p, "\"term\":\"m8x40\"")) != NULL && (!tree || p < tree); p++)
            count++;
        if (count != 1)
            fprintf(stderr, "  q=%s: m8x40 %d times in the explanation\n", once[i], count);
        CHECK(r.status == 200 && count == 1);
        kit_resp_free(&r);
    }
    CHECK(stop_server(&s) == 0);
    memcpy(data_dir, saved, sizeof saved);
}

/* Runs souk-server with args and no wait for a port: its exit status and its stderr. */
static int server_refuses(const char *args, char *msg, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s/souk-server' --data '%s' --listen 127.0.0.1:0 %s 2>&1 >/dev/null", SOUK_BIN_DIR,
             data_dir, args);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(msg, 1, cap - 1, p);
    msg[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Development mode (every endpoint open) only on request: --development without a config, or
 * "development": true in one. A config without keys that does not say so is refused, at start
 * and on reload, so a reload can never silently open a server that had keys. */
static void test_development_mode(void)
{
    char msg[1024], args[700];
    CHECK(server_refuses("", msg, sizeof msg) == 2 && strstr(msg, "--development"));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fputs("{\"cors_origins\":[\"*\"]}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--config '%s'", cfg_path);
    CHECK(server_refuses(args, msg, sizeof msg) == 1 &&
          strstr(msg, "no search_keys or admin_keys"));
    snprintf(args, sizeof args, "--config '%s' --development", cfg_path);
    CHECK(server_refuses(args, msg, sizeof msg) == 2);

    kit_server s;
    kit_resp r;
    start_server(&s, "queue", 2); /* --development */
    REQUIRE(get(s.port, "/v1/search?q=editor", NULL, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    REQUIRE(get(s.port, "/metrics", NULL, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    CHECK(stop_server(&s) == 0);

    f = fopen(cfg_path, "w");
    REQUIRE(f);
    fputs("{\"development\":true}\n", f);
    fclose(f);
    start_server(&s, "queue", 0);
    REQUIRE(get(s.port, "/v1/search?q=editor", NULL, &r) == 0);
    CHECK(r.status == 200);
    kit_resp_free(&r);
    CHECK(stop_server(&s) == 0);

    /* A server with keys reloaded to a file that lost them keeps its keys. */
    write_config(SKEY, NULL);
    start_server(&s, "queue", 0);
    f = fopen(cfg_path, "w");
    REQUIRE(f);
    fputs("{\"cors_origins\":[\"*\"]}\n", f);
    fclose(f);
    kill(s.pid, SIGHUP);
    usleep(300000);
    REQUIRE(get(s.port, "/v1/search?q=editor", NULL, &r) == 0);
    EXPECT_ERR(r, 401, "missing_credentials");
    kit_resp_free(&r);
    CHECK(stop_server(&s) == 0);
    write_config(SKEY, NULL);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(log_path, sizeof log_path, "%s/access.log", dir);
    char cmd[8192];
    REQUIRE(kit_debian_index(data_dir, 8000, "") == 0);
    write_config(SKEY, NULL);

    kit_server s;
    start_server(&s, "reuseport", 1);
    test_endpoints(s.port);
    test_bad_input(s.port);
    test_pipelining_and_cors(s.port);
    test_http_protocol(s.port);
    test_timeouts_and_cap(s.port);
    test_concurrency_and_commit(s.port);
    test_warmer(s.port);
    test_highlight_runs(s.port);
    test_doc_cache(s.port);
    test_reload(&s);
    test_access_log();
    test_graceful_shutdown(&s);
    test_queue_mode();
    test_snapshots();
    test_development_mode();
    test_procurement();

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
